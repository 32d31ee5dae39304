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

Edges are computed without images far smaller than the rest (:func:`size_outliers`): with
equal-width bins the extremes *are* the edges, so a single 4x8 crop among 60 images of ~10,000
pixels would move every edge and relabel most images. Such images are named in a
:class:`PseudoLabelOutlierWarning` and labelled like any size below the training range (the
lowest-resolution bin). We leave them out rather than switch to robust quantiles because
quantile edges change what the paper's equal-width bins mean (equal intervals of pixel
count) for every dataset, outlier or not. Only a few images (at most
:data:`MAX_OUTLIER_SHARE` of them) can be left out: more are a part of the data, not crops
too small to carry a resolution class, and large images never are (a long upper tail is how
real multi-resolution data look).
"""
from __future__ import annotations

from collections.abc import Sequence

import warnings

import numpy as np

from reidlab import choices

__all__ = ["PSEUDO_STRATEGIES", "pseudo_resolution_labels", "apply_bins", "pixel_counts", "size_outliers",
           "PseudoLabelOutlierWarning", "OUTLIER_FENCE", "MAX_OUTLIER_SHARE"]

#: Tukey's "far out" fence, on the log pixel count: an image whose log size lies more than this
#: many interquartile ranges below the first quartile is an outlier.
OUTLIER_FENCE = 3.0
#: At most this share of the images is ever left out as outliers (else none is).
MAX_OUTLIER_SHARE = 0.05


class PseudoLabelOutlierWarning(UserWarning):
    """Images left out of the pseudo-label bin edges (see the module docstring)."""

#: Binning strategies (:data:`reidlab.choices.PSEUDO_STRATEGIES`).
PSEUDO_STRATEGIES: tuple[str, ...] = choices.PSEUDO_STRATEGIES


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


def size_outliers(sizes: Sequence[int] | Sequence[tuple[int, int]] | np.ndarray,
                  fence: float = OUTLIER_FENCE) -> np.ndarray:
    """Boolean mask of images far smaller than the rest: ``log(size)`` below ``Q1 - fence * IQR``
    (quartiles of the log sizes; scale-free, so a dataset of small images and one of large
    images are judged alike). When more than :data:`MAX_OUTLIER_SHARE` of the images would be
    flagged, none is (they are a part of the data, not stray crops)."""
    counts = np.log(pixel_counts(sizes))
    q1, q3 = np.quantile(counts, [0.25, 0.75])
    low = counts < q1 - fence * (q3 - q1)
    return low if low.sum() <= MAX_OUTLIER_SHARE * counts.size else np.zeros(counts.size, dtype=bool)


def pseudo_resolution_labels(sizes: Sequence[int] | Sequence[tuple[int, int]] | np.ndarray,
                             n_bins: int = 5, strategy: str = "equal-width",
                             names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-resolution classes of images of the given sizes (RFD Sec. 3.5).

    Args:
        sizes: pixel counts, or ``(width, height)`` pairs.
        n_bins: number of classes.
        strategy: ``"equal-width"`` (``n_bins`` intervals of equal length between the
            smallest and largest pixel count, as in the paper) or ``"equal-frequency"``
            (quantile bins holding about the same number of images; repeated values can
            leave a bin empty).
        names: the images' names (file paths), for the warning about far outliers; the
            edges are computed without them (:func:`size_outliers`).

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
    if names is not None and len(names) != counts.size:
        raise ValueError(f"got {len(names)} names for {counts.size} sizes")
    outliers = size_outliers(counts)
    if outliers.any():
        shown = [f"{names[i] if names is not None else f'image {i}'} ({counts[i]:.0f} pixels)"
                 for i in np.flatnonzero(outliers)[:10]]
        warnings.warn(
            f"{int(outliers.sum())} of {counts.size} images are far outside the others' sizes (median "
            f"{np.median(counts):.0f} pixels) and are left out of the pseudo-label bin edges, then labelled "
            f"as the lowest-resolution bin: {', '.join(shown)}{' ...' if outliers.sum() > 10 else ''}",
            PseudoLabelOutlierWarning, stacklevel=2)
    inliers = counts[~outliers]
    if strategy == "equal-width":
        edges = np.linspace(inliers.min(), inliers.max(), int(n_bins) + 1)
    else:
        edges = np.quantile(inliers, np.linspace(0.0, 1.0, int(n_bins) + 1))
    return apply_bins(counts, edges), edges
