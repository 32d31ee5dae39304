"""Loss functions: RFD Eq. (1)-(2) and PS-HRNet's loss terms."""
from reidlab.losses.cross_entropy import cross_entropy_over_branches, top1_accuracy
from reidlab.losses.triplet import (
    batch_hard_triplet_loss,
    mgn_loss,
    pairwise_euclidean,
    triplet_over_branches,
)
from reidlab.losses.ps_hrnet import (
    authors_pseudo_siamese_loss,
    authors_reid_loss,
    authors_teacher_loss,
    distillation_l1_loss,
    feature_l1_loss,
    image_l1_loss,
    label_smoothed_ce,
    pseudo_siamese_loss,
    reid_loss,
)

__all__ = [
    "batch_hard_triplet_loss",
    "cross_entropy_over_branches",
    "mgn_loss",
    "pairwise_euclidean",
    "top1_accuracy",
    "triplet_over_branches",
    "feature_l1_loss", "image_l1_loss", "label_smoothed_ce", "pseudo_siamese_loss", "reid_loss",
    "authors_pseudo_siamese_loss", "authors_reid_loss", "authors_teacher_loss",
    "distillation_l1_loss",
]
