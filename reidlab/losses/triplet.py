"""Batch-hard triplet loss (RFD Eq. (2)) and the combined MGN objective."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from reidlab.losses.cross_entropy import cross_entropy_over_branches, top1_accuracy

__all__ = ["pairwise_euclidean", "batch_hard_triplet_loss", "triplet_over_branches", "mgn_loss"]


def pairwise_euclidean(features: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """(N, N) Euclidean distances ``||f_i - f_j||_2`` in float32, also under autocast
    (clamped at ``sqrt(eps)``, which keeps the gradient finite at zero distance); (B, N, D)
    features give (B, N, N), one matrix per branch in one batched product."""
    with torch.autocast(device_type=features.device.type, enabled=False):
        features = features.float()
        sq = features.pow(2).sum(dim=-1)
        d2 = sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2.0 * features @ features.transpose(-1, -2)
        return d2.clamp(min=eps).sqrt()


def batch_hard_triplet_loss(features: torch.Tensor, targets: torch.Tensor,
                            margin: float) -> torch.Tensor:
    """Eq. (2) of RFD: batch-hard triplet loss (Hermans et al. 2017).

    For every anchor ``a``: hardest positive ``max_{p: y_p = y_a, p != a} d(a, p)``, hardest
    negative ``min_{n: y_n != y_a} d(a, n)``, Euclidean ``d``; the loss is the mean over
    anchors of ``max(0, alpha + d(a, p*) - d(a, n*))``.

    Anchors without a positive (their identity occurs once in the batch) or without a
    negative (a single identity in the batch) are left out of the mean; when no anchor
    is valid the loss is 0 (still connected to ``features`` for autograd).

    Args:
        features: (N, D) embeddings (distances are computed in float32), or (B, N, D): B
            branches' embeddings of the same N images, one loss each (a (B,) tensor) from
            batched kernels.
        targets: (N,) identity labels.
        margin: hinge margin ``alpha``.
    """
    if features.dim() not in (2, 3) or targets.dim() != 1 or features.shape[-2] != targets.shape[0]:
        raise ValueError(f"expected features (N, D) or (B, N, D) and targets (N,), got "
                         f"{tuple(features.shape)} and {tuple(targets.shape)}")
    dist = pairwise_euclidean(features)
    same = targets.unsqueeze(0) == targets.unsqueeze(1)
    eye = torch.eye(len(targets), dtype=torch.bool, device=targets.device)
    positive = same & ~eye
    negative = ~same
    valid = positive.any(dim=1) & negative.any(dim=1)
    hardest_pos = dist.masked_fill(~positive, 0.0).amax(dim=-1)
    hardest_neg = dist.masked_fill(~negative, float("inf")).amin(dim=-1)
    hinge = F.relu(margin + hardest_pos - hardest_neg)
    hinge = torch.where(valid, hinge, torch.zeros_like(hinge))  # no host sync
    return hinge.sum(dim=-1) / valid.sum().clamp(min=1)


def triplet_over_branches(features_list: Sequence[torch.Tensor] | torch.Tensor, targets: torch.Tensor,
                          margin: float, reduction: str = "sum") -> torch.Tensor:
    """Eq. (2) applied to every branch-global feature (3 for MGN) and summed (MGN paper;
    ``reduction="mean"`` averages, as the common MGN-pytorch code does). A (B, N, D) tensor
    (MGN with ``batched_heads``) is taken in one batched call."""
    if len(features_list) == 0:
        raise ValueError("features_list is empty")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction={reduction!r} is not valid; choose 'sum' or 'mean'")
    if isinstance(features_list, torch.Tensor):
        losses = batch_hard_triplet_loss(features_list, targets, margin)
    else:
        losses = torch.stack([batch_hard_triplet_loss(f, targets, margin) for f in features_list])
    return losses.mean() if reduction == "mean" else losses.sum()


def mgn_loss(outputs: Mapping[str, Sequence[torch.Tensor] | torch.Tensor], targets: torch.Tensor,
             margin: float, label_smoothing: float = 0.0,
             reduction: str = "sum") -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """B-F / B-R objective: Eq. (1) over the 8 classifiers + Eq. (2) over the 3 global
    features, ``L = L_ce + L_triplet``.

    Args:
        outputs: train-mode MGN output with ``"logits"`` and ``"triplet"`` lists.
        targets: (N,) labels (identities for B-F, resolution classes for B-R).
        margin: triplet margin alpha.
        label_smoothing: cross-entropy label smoothing.
        reduction: how each term combines its branches, ``"sum"`` or ``"mean"``.

    Returns:
        ``(loss, {"ce", "triplet", "acc"})``, each a detached 0-d tensor, where ``acc`` is the
        top-1 accuracy averaged over the classifier heads.
    """
    logits = outputs["logits"]
    ce = cross_entropy_over_branches(logits, targets, label_smoothing, reduction)
    tri = triplet_over_branches(outputs["triplet"], targets, margin, reduction)
    loss = ce + tri
    return loss, {"ce": ce.detach(), "triplet": tri.detach(),
                  "acc": top1_accuracy(logits, targets)}
