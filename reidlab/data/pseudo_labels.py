"""Pseudo-resolution labels for natively multi-resolution data, RFD Sec. 3.5.

Real cross-resolution sets (CAVIAR4REID, GRID) have no known down-sampling factor, so
the resolution branch (B-R) is trained on *pseudo* classes: the range of image pixel
counts of the training set is cut into ``n_bins`` intervals and each image is labelled by
the interval it falls in.

Label convention (the same as ``FACTOR_TO_RES_CLASS``, where HR=0 and x4=3): **label 0 is
the highest resolution** and ``n_bins - 1`` the lowest, i.e. labels grow as the pixel
count shrinks. ``edges`` are the ``n_bins + 1`` bin boundaries in *ascending* pixel count
(``edges[0]`` = smallest, ``edges[-1]`` = largest training image); a size equal to an
inner edge belongs to the upper (higher-resolution) bin, and sizes outside the training
range fall into the first or last bin.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["PSEUDO_STRATEGIES", "pseudo_resolution_labels", "apply_bins", "pixel_counts"]

PSEUDO_STRATEGIES: tuple[str, ...] = ("equal-width", "equal-frequency")


def pixel_counts(sizes: Sequence[int] | Sequence[tuple[int, int]] | np.ndarray) -> np.ndarray:
    """``sizes`` as a 1-D float array of pixel counts; ``(w, h)`` pairs become ``w * h``."""
    arr = np.asarray(sizes, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 2:
        arr = arr[:, 0] * arr[:, 1]
    elif arr.ndim != 1:
        raise ValueError("sizes must be a sequence of pixel counts or of (width, height) "
                         f"pairs, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("sizes is empty: pseudo-labels need at least one image")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError("sizes must be positive, finite pixel counts")
    return arr


def apply_bins(sizes: Sequence[int] | Sequence[tuple[int, int]] | np.ndarray,
               edges: Sequence[float] | np.ndarray) -> np.ndarray:
    """Label ``sizes`` with bins ``edges`` (e.g. from the training set); 0 = highest."""
    edges_arr = np.asarray(edges, dtype=np.float64)
    if edges_arr.ndim != 1 or edges_arr.size < 2:
        raise ValueError(f"edges must hold at least 2 values, got {edges_arr.size}")
    if np.any(np.diff(edges_arr) < 0):
        raise ValueError("edges must be in ascending order")
    n_bins = edges_arr.size - 1
    ascending = np.searchsorted(edges_arr[1:-1], pixel_counts(sizes), side="right")
    return (n_bins - 1 - ascending).astype(np.int64)


def pseudo_resolution_labels(sizes: Sequence[int] | Sequence[tuple[int, int]] | np.ndarray,
                             n_bins: int = 5, strategy: str = "equal-width"
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-resolution classes of images of the given sizes (RFD Sec. 3.5).

    Args:
        sizes: pixel counts, or ``(width, height)`` pairs.
        n_bins: number of classes.
        strategy: ``"equal-width"`` (``n_bins`` intervals of equal length between the
            smallest and largest pixel count, as in the paper) or ``"equal-frequency"``
            (quantile bins holding about the same number of images; repeated values can
            leave a bin empty).

    Returns:
        ``(labels, edges)``: ``labels[i]`` in ``0..n_bins-1`` with 0 the highest
        resolution; ``edges`` the ``n_bins + 1`` ascending boundaries (pass them to
        :func:`apply_bins` to label new images). If every size is equal all labels are 0.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    if strategy not in PSEUDO_STRATEGIES:
        raise ValueError(f"strategy={strategy!r} is not valid; choose one of: "
                         f"{', '.join(PSEUDO_STRATEGIES)}")
    counts = pixel_counts(sizes)
    if strategy == "equal-width":
        edges = np.linspace(counts.min(), counts.max(), int(n_bins) + 1)
    else:
        edges = np.quantile(counts, np.linspace(0.0, 1.0, int(n_bins) + 1))
    return apply_bins(counts, edges), edges
