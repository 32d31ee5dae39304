"""Identity cross-entropy over the classification branches (RFD Eq. (1))."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["cross_entropy_over_branches", "top1_accuracy"]


def cross_entropy_over_branches(logits_list: Sequence[torch.Tensor], targets: torch.Tensor,
                                label_smoothing: float = 0.0,
                                reduction: str = "sum") -> torch.Tensor:
    """Eq. (1) of RFD: softmax cross-entropy of every classification branch, combined.

    ``L_ce = sum_b CE(logits_b, y)`` where each ``CE`` is averaged over the batch
    (``torch.nn.functional.cross_entropy`` with ``label_smoothing``).

    Args:
        logits_list: one (N, num_classes) tensor per classifier head (8 for MGN).
        targets: (N,) identity labels in ``[0, num_classes)``.
        label_smoothing: epsilon of label smoothing (0 = plain cross-entropy).
        reduction: ``"sum"`` over heads (Eq. (1), MGN paper) or ``"mean"``.
    """
    if len(logits_list) == 0:
        raise ValueError("logits_list is empty")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction={reduction!r} is not valid; choose 'sum' or 'mean'")
    losses = [F.cross_entropy(logits, targets, label_smoothing=label_smoothing)
              for logits in logits_list]
    total = torch.stack(losses).sum()
    return total / len(losses) if reduction == "mean" else total


def top1_accuracy(logits_list: Sequence[torch.Tensor], targets: torch.Tensor) -> float:
    """Top-1 training accuracy averaged over the classifier heads, in [0, 1]."""
    if len(logits_list) == 0:
        raise ValueError("logits_list is empty")
    with torch.no_grad():
        correct = torch.stack([(logits.argmax(dim=1) == targets).float().mean()
                               for logits in logits_list])
    return float(correct.mean())
