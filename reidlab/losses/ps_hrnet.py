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
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from reidlab.losses.cross_entropy import top1_accuracy
from reidlab.losses.triplet import batch_hard_triplet_loss

__all__ = ["label_smoothed_ce", "feature_l1_loss", "image_l1_loss", "reid_loss",
           "pseudo_siamese_loss"]


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
              margin: float = 0.3, eps: float = 0.1) -> tuple[torch.Tensor, dict[str, float]]:
    """HRNet-ReID objective ``L_ce + L_tri`` (the teacher's loss, and part of the student's).

    ``L_ce`` sums :func:`label_smoothed_ce` over the ``"logits"`` heads and ``L_tri``
    sums the batch-hard triplet loss over the ``"triplet"`` features (one of each for
    HRNet-ReID; the MGN layout allows several).

    Returns:
        ``(loss, {"ce", "triplet", "acc"})`` with ``acc`` the top-1 training accuracy.
    """
    logits, feats = outputs["logits"], outputs["triplet"]
    if len(logits) == 0 or len(feats) == 0:
        raise ValueError("outputs need at least one 'logits' and one 'triplet' tensor")
    ce = torch.stack([label_smoothed_ce(lg, targets, eps) for lg in logits]).sum()
    tri = torch.stack([batch_hard_triplet_loss(f, targets, margin) for f in feats]).sum()
    return ce + tri, {"ce": float(ce.detach()), "triplet": float(tri.detach()),
                      "acc": top1_accuracy(logits, targets)}


def pseudo_siamese_loss(student_out: Mapping[str, Sequence[torch.Tensor] | torch.Tensor],
                        teacher_feat: torch.Tensor, hr_images: torch.Tensor, targets: torch.Tensor,
                        margin: float = 0.3, eps: float = 0.1, feature_weight: float = 1.0,
                        image_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
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
    return loss, {**logs, "feat_l1": float(feat.detach()), "img_l1": float(img.detach())}
