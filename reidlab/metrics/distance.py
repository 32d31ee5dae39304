"""Query x gallery distance matrices, computed by blocks of query rows.

:func:`iter_distance_chunks` yields one block of rows at a time, so that a 100k x 100k
problem never needs all of it in memory; :func:`pairwise_distance` assembles the blocks.
Inputs are numpy arrays or torch tensors (CPU or CUDA); the result lives on the device of
``a``, in float32 (float64 when either input is float64).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["METRICS", "pairwise_distance", "iter_distance_chunks", "cosine_similarity_matrix",
           "euclidean_distance_matrix"]

METRICS: tuple[str, ...] = ("euclidean", "sqeuclidean", "cosine")

ArrayLike = Any  # np.ndarray | torch.Tensor


def _features(a: ArrayLike, b: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    """Both inputs as 2-D float tensors on ``a``'s device, in a common float dtype."""
    a = a.detach() if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    b = b.detach() if isinstance(b, torch.Tensor) else torch.as_tensor(np.asarray(b))
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected features (n, d) and (m, d), got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    dtype = torch.float64 if torch.float64 in (a.dtype, b.dtype) else torch.float32
    return a.to(dtype), b.to(device=a.device, dtype=dtype)


def _check(metric: str, chunk_size: int) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is not valid; choose one of: {', '.join(METRICS)}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")


def cosine_similarity_matrix(a: ArrayLike, b: ArrayLike) -> torch.Tensor:
    """``S[i, j] = <a_i, b_j> / (||a_i|| ||b_j||)`` in [-1, 1] (0 for an all-zero row).

    The form of RFD Eq. (7); see :func:`reidlab.metrics.rfd.resolution_similarity`.
    """
    a, b = _features(a, b)
    with torch.autocast(device_type=a.device.type, enabled=False):
        return (F.normalize(a, dim=1) @ F.normalize(b, dim=1).T).clamp_(-1.0, 1.0)


def euclidean_distance_matrix(a: ArrayLike, b: ArrayLike, squared: bool = False) -> torch.Tensor:
    """``D[i, j] = ||a_i - b_j||_2`` (``squared``: its square).

    Expanded as ``||a_i||^2 + ||b_j||^2 - 2 <a_i, b_j>`` after subtracting the mean of ``b``
    from both sides (distances are translation invariant; centring shrinks the norms and so
    the cancellation error), clamped at 0 before the square root.
    """
    a, b = _features(a, b)
    with torch.autocast(device_type=a.device.type, enabled=False):
        center = b.mean(dim=0, keepdim=True) if len(b) else 0.0
        a, b = a - center, b - center
        d2 = (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1)[None, :]).addmm_(a, b.T, alpha=-2.0)
        d2.clamp_(min=0.0)
        return d2 if squared else d2.sqrt_()


def _block(a: torch.Tensor, b: torch.Tensor, metric: str) -> torch.Tensor:
    if metric == "cosine":
        return cosine_similarity_matrix(a, b).neg_().add_(1.0)
    return euclidean_distance_matrix(a, b, squared=metric == "sqeuclidean")


def iter_distance_chunks(a: ArrayLike, b: ArrayLike, metric: str = "euclidean",
                         chunk_size: int = 4096) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield ``(rows, block)``: ``block`` is the distance of ``a[rows]`` to all of ``b``.

    ``metric``: "euclidean", "sqeuclidean" or "cosine" (``1 - cosine similarity``).
    Blocks hold at most ``chunk_size`` rows. Euclidean blocks use the mean of the whole
    ``b`` for centring, so they equal the rows of :func:`pairwise_distance`.
    """
    _check(metric, chunk_size)
    a, b = _features(a, b)
    for start in range(0, len(a), chunk_size):
        rows = slice(start, min(len(a), start + chunk_size))
        yield rows, _block(a[rows], b, metric)


def pairwise_distance(a: ArrayLike, b: ArrayLike, metric: str = "euclidean",
                      chunk_size: int = 4096) -> torch.Tensor:
    """(len(a), len(b)) distance matrix, computed ``chunk_size`` rows of ``a`` at a time.

    See :func:`iter_distance_chunks` for the metrics; the temporary memory beyond the result
    is one block.
    """
    _check(metric, chunk_size)
    a, b = _features(a, b)
    out = torch.empty(len(a), len(b), dtype=a.dtype, device=a.device)
    for rows, block in iter_distance_chunks(a, b, metric, chunk_size):
        out[rows] = block
    return out
