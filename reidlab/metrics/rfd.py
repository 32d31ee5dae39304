"""RFD's resolution-based fusion at test time (Munir et al., Sec. 3.5, Eq. 7-8).

B-F (identity features ``f_f``) and B-R (resolution features ``f_r``) each describe every
image. Eq. (7) scores how alike two images are in resolution; Eq. (8) subtracts it, weighted
by ``lambda``, from the B-F score: ``D = D_f - lambda * D_r``.

The paper computes ``D_f`` "similar to Eq. 7" (a cosine similarity) yet also calls it a
Euclidean distance. The two readings rank in opposite directions with respect to ``D_r``:

* ``"similarity"`` (default): ``D_f`` is the cosine similarity of B-F features and pairs are
  ranked by *descending* ``D``. Subtracting ``lambda * D_r`` *penalises* pairs that merely
  share a resolution -- the "filtering out resolution features" the paper describes.
* ``"distance"``: ``D_f`` is the Euclidean distance of B-F features, ranked *ascending*; the
  same subtraction lowers the distance of same-resolution pairs, i.e. *rewards* them.

Both are returned as a matrix where LOWER = better, ready for
:func:`reidlab.metrics.rank.evaluate_rank`: ``-D`` for the similarity reading, ``D`` for
the distance reading. With ``lambda = 0`` both reduce to B-F alone (cosine, resp. Euclidean,
ranking).
"""
from __future__ import annotations

from typing import Any

import torch

from reidlab.choices import RFD_READINGS
from reidlab.config import check_lam
from reidlab.metrics.distance import (_features, cosine_similarity_matrix,
                                      euclidean_distance_matrix)

__all__ = ["READINGS", "resolution_similarity", "fused_distance"]

#: ``reading`` of :func:`fused_distance` (:data:`reidlab.choices.RFD_READINGS`).
READINGS: tuple[str, ...] = RFD_READINGS

ArrayLike = Any  # np.ndarray | torch.Tensor


def resolution_similarity(fr_q: ArrayLike, fr_g: ArrayLike) -> torch.Tensor:
    """Eq. (7) of RFD: ``D_r(q, g) = <f_r^q, f_r^g> / (||f_r^q|| ||f_r^g||)``.

    Cosine similarity of the B-R (resolution) features of every query and gallery image,
    (num_q, num_g), in [-1, 1]; high = the two images look alike in resolution.
    """
    return cosine_similarity_matrix(fr_q, fr_g)


def fused_distance(ff_q: ArrayLike, ff_g: ArrayLike, fr_q: ArrayLike, fr_g: ArrayLike,
                   lam: float = 0.1, reading: str = "similarity",
                   chunk_size: int = 4096, *, ensemble: bool = False) -> torch.Tensor:
    """Eq. (8) of RFD: ``D = D_f - lambda * D_r``, returned so that LOWER = better.

    ``D_r`` is Eq. (7) (:func:`resolution_similarity`). ``reading`` chooses ``D_f``:

    * ``"similarity"``: ``D_f`` = cosine similarity of the B-F features; ``D`` is a
      similarity (rank descending), so ``-D = -(S_f - lambda * S_r)`` is returned. A pair
      sharing the query's resolution is *penalised* (pushed down the ranking).
    * ``"distance"``: ``D_f`` = Euclidean distance of the B-F features; ``D`` is a distance
      (rank ascending) and is returned as is. A pair sharing the resolution is *rewarded*.

    With ``lam == 0`` the B-R features are not used: B-F alone, cosine- or
    Euclidean-ranked. Computed ``chunk_size`` query rows at a time; the result is on the
    device of ``ff_q``.

    Args:
        ff_q, ff_g: (num_q, d_f), (num_g, d_f) B-F features.
        fr_q, fr_g: (num_q, d_r), (num_g, d_r) B-R features.
        lam: the weight ``lambda`` (0.1 in the paper), >= 0 (:func:`reidlab.config.check_lam`).
        reading: "similarity" or "distance".
        ensemble: the controls' two-model ensemble: ``lam <= 0`` adds ``fr``'s similarity.
    """
    if reading not in READINGS:
        raise ValueError(f"reading={reading!r} is not valid; choose one of: {', '.join(READINGS)}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    lam = check_lam(lam, ensemble=ensemble)
    ff_q, ff_g = _features(ff_q, ff_g)
    if lam != 0.0:
        fr_q, fr_g = _features(fr_q, fr_g)
        fr_q, fr_g = fr_q.to(ff_q.device), fr_g.to(ff_q.device)
        if len(fr_q) != len(ff_q) or len(fr_g) != len(ff_g):
            raise ValueError(f"B-F and B-R features disagree in count: query {len(ff_q)} vs "
                             f"{len(fr_q)}, gallery {len(ff_g)} vs {len(fr_g)}")
    sign = -1.0 if reading == "similarity" else 1.0
    out = torch.empty(len(ff_q), len(ff_g), dtype=ff_q.dtype, device=ff_q.device)
    for start in range(0, len(ff_q), chunk_size):
        rows = slice(start, min(len(ff_q), start + chunk_size))
        if reading == "similarity":
            d_f = cosine_similarity_matrix(ff_q[rows], ff_g)
        else:
            d_f = euclidean_distance_matrix(ff_q[rows], ff_g)
        fused = d_f if lam == 0.0 else d_f - lam * resolution_similarity(fr_q[rows], fr_g)
        out[rows] = sign * fused
    return out
