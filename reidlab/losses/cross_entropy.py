"""Identity cross-entropy over the classification branches (RFD Eq. (1))."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["cross_entropy_over_branches", "top1_accuracy"]


def cross_entropy_over_branches(logits_list: Sequence[torch.Tensor] | torch.Tensor, targets: torch.Tensor,
                                label_smoothing: float = 0.0,
                                reduction: str = "sum") -> torch.Tensor:
    """Eq. (1) of RFD: softmax cross-entropy of every classification branch, combined.

    ``L_ce = sum_b CE(logits_b, y)`` where each ``CE`` is averaged over the batch
    (``torch.nn.functional.cross_entropy`` with ``label_smoothing``).

    Args:
        logits_list: one (N, num_classes) tensor per classifier head (8 for MGN), or one
            (heads, N, num_classes) tensor (MGN with ``batched_heads``).
        targets: (N,) identity labels in ``[0, num_classes)``.
        label_smoothing: epsilon of label smoothing (0 = plain cross-entropy).
        reduction: ``"sum"`` over heads (Eq. (1), MGN paper) or ``"mean"``.
    """
    if len(logits_list) == 0:
        raise ValueError("logits_list is empty")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction={reduction!r} is not valid; choose 'sum' or 'mean'")
    if isinstance(logits_list, torch.Tensor):   # (heads, N, classes): every head in one call
        heads, n = logits_list.shape[:2]
        per_head = F.cross_entropy(logits_list.flatten(0, 1), targets.repeat(heads), label_smoothing=label_smoothing,
                                   reduction="none").view(heads, n).mean(dim=1)
    else:
        per_head = torch.stack([F.cross_entropy(logits, targets, label_smoothing=label_smoothing)
                                for logits in logits_list])
    total = per_head.sum()
    return total / len(per_head) if reduction == "mean" else total


def top1_accuracy(logits_list: Sequence[torch.Tensor] | torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Top-1 training accuracy averaged over the classifier heads, in [0, 1], as a 0-d tensor on the
    logits' device (a logged metric: reading it as a number waits for the device, which ``fit``
    does every ``log_every`` iterations only, and which a compiled step could not trace)."""
    if len(logits_list) == 0:
        raise ValueError("logits_list is empty")
    with torch.no_grad():
        if isinstance(logits_list, torch.Tensor):   # (heads, N, classes)
            correct = (logits_list.argmax(dim=-1) == targets).float().mean(dim=-1)
        else:
            correct = torch.stack([(logits.argmax(dim=1) == targets).float().mean()
                                   for logits in logits_list])
    return correct.mean()
