"""Loss functions: RFD Eq. (1)-(2) (and, from their own modules, PS-HRNet's)."""
from reidlab.losses.cross_entropy import cross_entropy_over_branches, top1_accuracy
from reidlab.losses.triplet import (
    batch_hard_triplet_loss,
    mgn_loss,
    pairwise_euclidean,
    triplet_over_branches,
)

__all__ = [
    "batch_hard_triplet_loss",
    "cross_entropy_over_branches",
    "mgn_loss",
    "pairwise_euclidean",
    "top1_accuracy",
    "triplet_over_branches",
]
