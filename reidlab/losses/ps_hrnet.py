"""PS-HRNet losses (Zhang et al., IEEE TIP 2021): the pseudo-siamese objective.

The student (VDSR-CA + HRNet-ReID on the low-resolution image ``x_L``) is trained with

``L = L_ce + L_tri + w_f * L_feat + w_i * L_img``

* ``L_ce``: label-smoothed identity cross-entropy (:func:`label_smoothed_ce`);
* ``L_tri``: batch-hard triplet loss with margin 0.3 on the pre-BN feature
  (:func:`reidlab.losses.triplet.batch_hard_triplet_loss`);
* ``L_feat``: L1 distance between the student's descriptor of ``x_L`` and the frozen
  teacher's descriptor of the high-resolution twin ``x_H`` (:func:`feature_l1_loss`);
* ``L_img``: L1 distance between the restored image and ``x_H`` (:func:`image_l1_loss`).

The teacher (HRNet-ReID on ``x_H``) is trained with ``L_ce + L_tri`` (:func:`reid_loss`).
Every term is averaged over the batch (and over feature / pixel elements for the L1
terms) and computed in float32, also under autocast.

The authors' weighting (their public notebook ``PS-HRNet.ipynb``, training cell), for
HRNet-ReID's ``head="authors"`` outputs:

``L = 1.15 L_ce + mean_{5} L_tri + 0.5 L_img + 0.5 sum_{6} L1(student, teacher)``

with the five triplet losses on the 6144-d feature and the four branch features, and
the six L1 distillation terms on those five features and the logits
(:func:`authors_reid_loss`, :func:`distillation_l1_loss`,
:func:`authors_pseudo_siamese_loss`). Their first-phase repository (HRNet-ReID alone,
NUISTGY/Person-re-identification-based-on-HRNet) trains HRNet-ReID with
``L_ce + mean_{4} L_tri`` over the four branch features (:func:`authors_teacher_loss`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from reidlab.losses.cross_entropy import top1_accuracy
from reidlab.losses.triplet import batch_hard_triplet_loss

__all__ = ["label_smoothed_ce", "feature_l1_loss", "image_l1_loss", "reid_loss",
           "pseudo_siamese_loss", "distillation_l1_loss", "authors_reid_loss",
           "authors_teacher_loss", "authors_pseudo_siamese_loss", "AUTHORS_CE_WEIGHT",
           "AUTHORS_IMAGE_WEIGHT", "AUTHORS_DISTILL_WEIGHT"]

#: Weight of the cross-entropy in the authors' student loss (notebook: ``1.15*loss1``).
AUTHORS_CE_WEIGHT: float = 1.15
#: Weight of the SR-HR image L1 in the authors' student loss (``0.5*loss8``).
AUTHORS_IMAGE_WEIGHT: float = 0.5
#: Weight of the summed L1 distillation terms in the authors' student loss (``0.5*loss7``).
AUTHORS_DISTILL_WEIGHT: float = 0.5

Outputs = Mapping[str, Sequence[torch.Tensor] | torch.Tensor]


def label_smoothed_ce(logits: torch.Tensor, targets: torch.Tensor,
                      eps: float = 0.1) -> torch.Tensor:
    """Label-smoothed cross-entropy (Szegedy et al., CVPR 2016), used by PS-HRNet.

    With ``K`` classes and ``p = softmax(logits)``, the target distribution is
    ``q_k = (1 - eps) * [k = y] + eps / K`` and the loss is
    ``mean_i sum_k -q_k log p_k`` (equal to ``F.cross_entropy(..., label_smoothing=eps)``).

    Args:
        logits: (N, K) class scores.
        targets: (N,) labels in ``[0, K)``.
        eps: smoothing ``epsilon`` in ``[0, 1]`` (0 = plain cross-entropy).
    """
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps must be in [0, 1], got {eps}")
    if logits.dim() != 2 or targets.dim() != 1 or logits.shape[0] != targets.shape[0]:
        raise ValueError(f"expected logits (N, K) and targets (N,), got {tuple(logits.shape)} "
                         f"and {tuple(targets.shape)}")
    log_p = F.log_softmax(logits.float(), dim=1)
    nll = -log_p.gather(1, targets.long().unsqueeze(1)).squeeze(1)
    uniform = -log_p.mean(dim=1)
    return ((1.0 - eps) * nll + eps * uniform).mean()


def feature_l1_loss(student_feat: torch.Tensor, teacher_feat: torch.Tensor) -> torch.Tensor:
    """PS-HRNet feature loss: ``mean |f_S(x_L) - f_T(x_H)|`` over batch and dimensions.

    The teacher's features are detached: only the student moves towards the teacher.
    """
    if student_feat.shape != teacher_feat.shape:
        raise ValueError(f"student and teacher features differ in shape: "
                         f"{tuple(student_feat.shape)} vs {tuple(teacher_feat.shape)}")
    return F.l1_loss(student_feat.float(), teacher_feat.detach().float())


def image_l1_loss(restored: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """PS-HRNet restoration loss: ``mean |VDSR-CA(x_L) - x_H|`` over batch and pixels.

    Both images live in the network's input space (after the ImageNet normalisation).
    """
    if restored.shape != hr.shape:
        raise ValueError(f"restored and HR images differ in shape: {tuple(restored.shape)} "
                         f"vs {tuple(hr.shape)}")
    return F.l1_loss(restored.float(), hr.detach().float())


def reid_loss(outputs: Mapping[str, Sequence[torch.Tensor] | torch.Tensor], targets: torch.Tensor,
              margin: float = 0.3, eps: float = 0.1) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """HRNet-ReID objective ``L_ce + L_tri`` (the teacher's loss, and part of the student's).

    ``L_ce`` sums :func:`label_smoothed_ce` over the ``"logits"`` heads and ``L_tri``
    averages the batch-hard triplet loss over the ``"triplet"`` features (one with the
    BNNeck head, five with the authors' head: the 6144-d feature and each branch), so the
    two terms keep a 1:1 weight whatever the head.

    Returns:
        ``(loss, {"ce", "triplet", "acc"})`` with ``acc`` the top-1 training accuracy.
    """
    logits, feats = outputs["logits"], outputs["triplet"]
    if len(logits) == 0 or len(feats) == 0:
        raise ValueError("outputs need at least one 'logits' and one 'triplet' tensor")
    ce = torch.stack([label_smoothed_ce(lg, targets, eps) for lg in logits]).sum()
    tri = torch.stack([batch_hard_triplet_loss(f, targets, margin) for f in feats]).mean()
    return ce + tri, {"ce": ce.detach(), "triplet": tri.detach(),
                      "acc": top1_accuracy(logits, targets)}


def pseudo_siamese_loss(student_out: Mapping[str, Sequence[torch.Tensor] | torch.Tensor],
                        teacher_feat: torch.Tensor, hr_images: torch.Tensor, targets: torch.Tensor,
                        margin: float = 0.3, eps: float = 0.1, feature_weight: float = 1.0,
                        image_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PS-HRNet student objective ``L_ce + L_tri + w_f L_feat + w_i L_img``.

    Args:
        student_out: train-mode :class:`~reidlab.models.hrnet_reid.PSHRNetStudent` output
            (``"logits"``, ``"triplet"``, ``"features"``, ``"restored"``); ``L_feat``
            compares ``"features"``, the descriptor used for retrieval (BNNeck output).
        teacher_feat: (N, D) frozen teacher descriptors of the HR twins (eval-mode output).
        hr_images: (N, 3, H, W) HR twins, target of the restoration.
        targets: (N,) identity labels.
        margin: triplet margin (0.3).
        eps: label smoothing (0.1).
        feature_weight: ``w_f``.
        image_weight: ``w_i``.

    Returns:
        ``(loss, {"ce", "triplet", "feat_l1", "img_l1", "acc"})``.
    """
    base, logs = reid_loss(student_out, targets, margin, eps)
    feat = feature_l1_loss(student_out["features"], teacher_feat)
    img = image_l1_loss(student_out["restored"], hr_images)
    loss = base + feature_weight * feat + image_weight * img
    return loss, {**logs, "feat_l1": feat.detach(), "img_l1": img.detach()}


# ---------------------------------------------------------------- the authors' weighting


def distillation_l1_loss(student: Sequence[torch.Tensor],
                         teacher: Sequence[torch.Tensor]) -> torch.Tensor:
    """PS-HRNet authors' notebook, training cell (``loss7``): the sum over paired tensors
    of :func:`feature_l1_loss`, ``sum_k mean |s_k - t_k|`` (teacher detached).

    Args:
        student: the student's tensors, e.g. its 6144-d feature, four branch features and
            logits (six terms).
        teacher: the frozen teacher's tensors, in the same order and shapes.
    """
    if len(student) == 0 or len(student) != len(teacher):
        raise ValueError(f"need as many (>= 1) teacher as student tensors, got "
                         f"{len(teacher)} and {len(student)}")
    return torch.stack([feature_l1_loss(s, t) for s, t in zip(student, teacher)]).sum()


def _distillation_terms(outputs: Outputs) -> list[torch.Tensor]:
    """The tensors the authors distil: every ``"triplet"`` feature, then the logits."""
    return [*outputs["triplet"], *outputs["logits"]]  # type: ignore[misc]


def authors_reid_loss(outputs: Outputs, targets: torch.Tensor, *,
                      ce_weight: float = AUTHORS_CE_WEIGHT, margin: float = 0.3,
                      eps: float = 0.1, global_triplet: bool = True
                      ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PS-HRNet authors' notebook, training cell (``1.15*loss1 + (loss2+...+loss6)/5``):
    ``ce_weight * L_ce + mean_k L_tri(f_k)``.

    ``L_ce`` is :func:`label_smoothed_ce` (their ``CrossEntropyLabelSmooth``, eps 0.1) of
    the ``"logits"`` head (summed if several); ``L_tri`` the batch-hard triplet loss
    (their ``TripletLoss(margin=0.3)``, mean over anchors) of each ``"triplet"`` feature:
    for HRNet-ReID's authors' head the 6144-d feature and the four branch features.

    Args:
        outputs: train-mode HRNet-ReID output (``"logits"``, ``"triplet"``).
        targets: (N,) identity labels.
        ce_weight: weight of ``L_ce`` (1.15).
        margin: triplet margin (0.3).
        eps: label smoothing (0.1).
        global_triplet: include the first ``"triplet"`` feature (the 6144-d one); ``False``
            averages over the branch features only (:func:`authors_teacher_loss`).

    Returns:
        ``(loss, {"ce", "triplet", "acc"})``: the unweighted ``L_ce``, the mean triplet loss
        and the top-1 training accuracy.
    """
    logits = list(outputs["logits"])
    feats = list(outputs["triplet"])[0 if global_triplet else 1:]
    if len(logits) == 0 or len(feats) == 0:
        raise ValueError("outputs need at least one 'logits' and one 'triplet' tensor "
                         "(two with global_triplet=False)")
    ce = torch.stack([label_smoothed_ce(lg, targets, eps) for lg in logits]).sum()
    tri = torch.stack([batch_hard_triplet_loss(f, targets, margin) for f in feats]).mean()
    return ce_weight * ce + tri, {"ce": ce.detach(), "triplet": tri.detach(),
                                  "acc": top1_accuracy(logits, targets)}


def authors_teacher_loss(outputs: Outputs, targets: torch.Tensor, *, margin: float = 0.3,
                         eps: float = 0.1) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """HRNet-ReID alone as the authors trained it (first-phase repository
    NUISTGY/Person-re-identification-based-on-HRNet, ``HRnet_reID.ipynb`` training cell:
    ``loss_cls + (loss3+loss4+loss5+loss6)/4``, the 6144-d triplet commented out):
    ``L_ce + mean_{4 branches} L_tri``.

    The PS-HRNet notebook loads a trained teacher without showing its loss; this is the
    loss of the repository its README points to for that phase.
    """
    return authors_reid_loss(outputs, targets, ce_weight=1.0, margin=margin, eps=eps,
                             global_triplet=False)


def authors_pseudo_siamese_loss(student_out: Outputs, teacher_out: Outputs,
                                hr_images: torch.Tensor, targets: torch.Tensor, *,
                                ce_weight: float = AUTHORS_CE_WEIGHT, margin: float = 0.3,
                                eps: float = 0.1, image_weight: float = AUTHORS_IMAGE_WEIGHT,
                                distill_weight: float = AUTHORS_DISTILL_WEIGHT
                                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PS-HRNet authors' notebook, training cell (``loss = 1.15*loss1 + (loss2+...+loss6)/5
    + 0.5*loss8 + 0.5*loss7``): the student's objective

    ``ce_weight L_ce + mean_5 L_tri + image_weight L1(SR, HR)
    + distill_weight sum_6 L1(student_k, teacher_k)``

    (:func:`authors_reid_loss`, :func:`image_l1_loss`, :func:`distillation_l1_loss`).

    Args:
        student_out: train-mode :class:`~reidlab.models.hrnet_reid.PSHRNetStudent` output
            (``"logits"``, ``"triplet"``, ``"restored"``).
        teacher_out: the frozen teacher's ``HRNetReID.outputs(hr_images)`` in eval mode
            (the authors call their teacher after ``train(False)``): ``"triplet"`` and
            ``"logits"`` in the student's layout, the distillation targets.
        hr_images: (N, 3, H, W) HR twins, target of the restoration.
        targets: (N,) identity labels.
        ce_weight, margin, eps: see :func:`authors_reid_loss` (1.15, 0.3, 0.1).
        image_weight: weight of the image L1 (0.5).
        distill_weight: weight of the summed distillation L1 terms (0.5).

    Returns:
        ``(loss, {"ce", "triplet", "feat_l1", "img_l1", "acc"})`` with ``feat_l1`` the
        unweighted sum of the distillation terms.
    """
    base, logs = authors_reid_loss(student_out, targets, ce_weight=ce_weight, margin=margin,
                                   eps=eps)
    feat = distillation_l1_loss(_distillation_terms(student_out), _distillation_terms(teacher_out))
    img = image_l1_loss(student_out["restored"], hr_images)  # type: ignore[arg-type]
    loss = base + image_weight * img + distill_weight * feat
    return loss, {**logs, "feat_l1": feat.detach(), "img_l1": img.detach()}
