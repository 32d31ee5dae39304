"""Re-id metrics: CMC / mAP (:mod:`.rank`), distances (:mod:`.distance`), RFD Eq. 7-8
(:mod:`.rfd`)."""
from reidlab.metrics.distance import (
    METRICS,
    cosine_similarity_matrix,
    euclidean_distance_matrix,
    iter_distance_chunks,
    pairwise_distance,
)
from reidlab.metrics.rank import (
    MODES,
    SINGLE_SHOT_AP,
    MatchRanks,
    average_precision,
    cmc_curve,
    evaluate_rank,
    evaluate_rank_reference,
    match_ranks,
    single_shot_draws,
)
from reidlab.metrics.rfd import READINGS, fused_distance, resolution_similarity

__all__ = [
    "METRICS", "MODES", "READINGS", "SINGLE_SHOT_AP", "MatchRanks", "average_precision",
    "cmc_curve", "cosine_similarity_matrix", "euclidean_distance_matrix", "evaluate_rank",
    "evaluate_rank_reference", "fused_distance", "iter_distance_chunks", "match_ranks",
    "pairwise_distance", "resolution_similarity", "single_shot_draws",
]
