"""Rank-based re-id metrics: CMC and mAP with torchreid / fast-reid semantics, fast and exact.

Semantics (torchreid ``eval_market1501`` / ``eval_cuhk03``):

* a lower distance ranks first; among equal distances the lower gallery index ranks first
  (``np.argsort(kind="stable")``);
* for each query, gallery images with the query's identity *and* camera are junk and removed;
* a query with no true match left is skipped: it counts neither in the CMC nor in the mAP;
* ``AP = (1 / m) * sum_k k / rank_k`` over the ``m`` true matches (ranks 1-based among the
  kept gallery), ``CMC[k] = fraction of valid queries whose first true match has rank <= k+1``.

Distractor identities (present in the gallery only, e.g. Market-1501's ``0000``) are simply
non-matching gallery images; identity ``-1`` gets no special treatment either (torchreid drops
those images when reading Market-1501; :mod:`reidlab.data.readers` does the same).

Speed: CMC and AP need only the rank of every true match, not a full sort of each row. The
CPU path (:func:`_match_ranks_binned`, numpy) bins each row with a monotone map of the
distance (``K`` equal-width bins between the row's nearest and farthest true match), counts
the kept images per bin with one ``bincount``, and orders exactly (by ``(distance, index)``)
only the few images that share a bin with a true match: a few passes over the matrix, about
0.25 s of one core at Market-1501 scale against ~6 s for an argsort of every row. On CUDA
the rows are sorted (:func:`_match_ranks_sorted`, ``torch.sort(stable=True)``), which is fast
there. Both give exactly the ranks a stable argsort gives; :func:`evaluate_rank_reference`
is the plain argsort loop they are tested against (``benchmarks/eval_speed.py`` times them).

NaN distances are refused (``ValueError``); ``+-inf`` are ranked like any value.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reidlab.stages import stage

__all__ = ["evaluate_rank", "evaluate_rank_reference", "match_ranks", "MatchRanks",
           "average_precision", "cmc_curve", "single_shot_draws", "MODES", "SINGLE_SHOT_AP"]

MODES: tuple[str, ...] = ("market", "single_shot")
#: How single-shot mode computes AP: "full" (torchreid's eval_cuhk03: AP over the whole
#: junk-removed gallery) or "sampled" (AP of the sampled gallery, averaged over repeats).
SINGLE_SHOT_AP: tuple[str, ...] = ("full", "sampled")
METHODS: tuple[str, ...] = ("auto", "binned", "sort")

_BINS = 4096                 # bins per row of the CPU path
_CHUNK_ELEMENTS = 1 << 18    # distances per block on the CPU (cache-sized scratch)
_CUDA_CHUNK_ELEMENTS = 1 << 25

ArrayLike = Any  # np.ndarray | torch.Tensor | Sequence[int]


@dataclass(frozen=True)
class MatchRanks:
    """Ranks of every query's true matches in its junk-removed ranking.

    Attributes:
        counts: (num_q,) number ``m`` of true matches of each query (0: query skipped).
        ranks: (sum(counts),) 1-based ranks, grouped by query (query 0 first) and
            ascending within a query.
    """

    counts: np.ndarray
    ranks: np.ndarray

    @property
    def offsets(self) -> np.ndarray:
        """Start of each query's ranks in :attr:`ranks`."""
        return np.cumsum(self.counts) - self.counts


# ----------------------------------------------------------------------------- inputs


def _ids(x: ArrayLike, name: str) -> np.ndarray:
    """Identity / camera labels as a 1-D int64 numpy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if arr.dtype.kind != "f":                     # strings, objects, booleans
            example = arr.reshape(-1)[0]
            example = example.item() if isinstance(example, np.generic) else example
            raise TypeError(f"{name} must hold integer labels, got {arr.dtype.name} values such as {example!r}; "
                            f"map them to integers first (e.g. {{label: i for i, label in enumerate(sorted(set("
                            f"{name})))}})")
        if not np.all(np.isfinite(arr)) or not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"{name} must hold integers")
    return arr.astype(np.int64, copy=False)


def _distances(distmat: ArrayLike) -> np.ndarray | torch.Tensor:
    """A 2-D float numpy array (CPU input) or float CUDA tensor; ints become float64."""
    if isinstance(distmat, torch.Tensor):
        distmat = distmat.detach()
        if distmat.dim() != 2:
            raise ValueError(f"distmat must be 2-D, got shape {tuple(distmat.shape)}")
        if not distmat.is_floating_point():
            distmat = distmat.double()
        elif distmat.dtype not in (torch.float32, torch.float64):
            distmat = distmat.float()
        return distmat if distmat.is_cuda else distmat.cpu().numpy()
    arr = np.asarray(distmat)
    if arr.ndim != 2:
        raise ValueError(f"distmat must be 2-D, got shape {arr.shape}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32 if arr.dtype == np.float16 else np.float64)
    return arr


def _check_shapes(shape: tuple[int, int], q_pids: np.ndarray, g_pids: np.ndarray,
                  q_camids: np.ndarray, g_camids: np.ndarray) -> None:
    num_q, num_g = shape
    for name, arr, n in (("q_pids", q_pids, num_q), ("q_camids", q_camids, num_q),
                         ("g_pids", g_pids, num_g), ("g_camids", g_camids, num_g)):
        if len(arr) != n:
            raise ValueError(f"{name} has {len(arr)} entries, distmat has shape {shape}")
    if num_q == 0 or num_g == 0:
        raise ValueError(f"distmat is empty (shape {shape})")


def _nan_error(rows: np.ndarray | slice) -> ValueError:
    return ValueError(f"distmat contains NaN (query rows {rows}); distances must be comparable")


# ----------------------------------------------------------------------------- equations


def average_precision(ranks: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Average precision of each query: ``AP = (1 / m) * sum_{k=1..m} k / rank_k``.

    The precision at the k-th true match is ``k / rank_k`` (``rank_k``: its 1-based rank in
    the junk-removed ranking); AP averages it over the ``m`` true matches (torchreid).

    Args:
        ranks: ascending ranks of the true matches, grouped by query (see :class:`MatchRanks`).
        counts: (num_q,) true matches per query.

    Returns:
        (num_q,) float64 AP, NaN for queries with no true match.
    """
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    k = np.arange(len(ranks)) - np.repeat(offsets, counts) + 1
    rows = np.repeat(np.arange(len(counts)), counts)
    sums = np.bincount(rows, weights=k / ranks, minlength=len(counts))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def cmc_curve(first_ranks: np.ndarray, max_rank: int) -> np.ndarray:
    """``CMC[k]`` = fraction of queries whose first true match has rank ``<= k + 1``.

    ``first_ranks`` is (num_valid,) or (repeats, num_valid); the second form averages the
    curve over repeats first (single-shot). Returns (max_rank,) float64.
    """
    first = np.asarray(first_ranks, dtype=np.int64).ravel()
    at_rank = np.bincount(np.minimum(first, max_rank + 1), minlength=max_rank + 2)
    return np.cumsum(at_rank[1:max_rank + 1]) / len(first)


# ----------------------------------------------------------------------------- identity pools


@dataclass(frozen=True)
class _GalleryPools:
    """Gallery images grouped by identity (ascending gallery index within an identity)."""

    pids: np.ndarray      # (P,) sorted distinct gallery identities
    members: np.ndarray   # gallery indices grouped by identity
    starts: np.ndarray    # (P,) start of each identity in ``members``
    sizes: np.ndarray     # (P,) images of each identity


def _gallery_pools(g_pids: np.ndarray) -> _GalleryPools:
    pids, inverse, sizes = np.unique(g_pids, return_inverse=True, return_counts=True)
    members = np.argsort(inverse.ravel(), kind="stable")
    return _GalleryPools(pids=pids, members=members, starts=np.cumsum(sizes) - sizes, sizes=sizes)


def _identity_column(pools: _GalleryPools, q_pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each query identity in ``pools.pids`` (0 when absent) and whether present."""
    col = np.minimum(np.searchsorted(pools.pids, q_pids), len(pools.pids) - 1)
    found = pools.pids[col] == q_pids
    return np.where(found, col, 0), found


def _same_identity_pairs(pools: _GalleryPools, q_pids: np.ndarray, q_camids: np.ndarray,
                         g_camids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (query, gallery) pairs sharing an identity, row-major: ``(rows, cols, junk)``.

    ``junk`` marks pairs that also share the camera (removed from the ranking); the others
    are the true matches.
    """
    col, found = _identity_column(pools, q_pids)
    sizes = np.where(found, pools.sizes[col], 0)
    rows = np.repeat(np.arange(len(q_pids)), sizes)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    cols = pools.members[np.repeat(pools.starts[col], sizes) + within]
    return rows, cols, g_camids[cols] == q_camids[rows]


def _row_ranks_stable(x: np.ndarray, true_cols: np.ndarray, junk_cols: np.ndarray) -> np.ndarray:
    """Ranks of one row's true matches by a stable argsort (exact fallback)."""
    order = np.argsort(x, kind="stable")
    junk = np.zeros(len(x), dtype=bool)
    junk[junk_cols] = True
    true = np.zeros(len(x), dtype=bool)
    true[true_cols] = True
    return np.cumsum(~junk[order])[true[order]]


# ----------------------------------------------------------------------------- CPU path


@dataclass
class _Buffers:
    """Scratch arrays reused across blocks (avoids a page-faulting allocation per block)."""

    values: np.ndarray
    bins: np.ndarray
    flags: np.ndarray


def _binned_chunk(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, junk: np.ndarray,
                  bins: int, buf: _Buffers) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of the true matches of a block of queries (rows of ``x``), exactly.

    Each row is mapped to integer bins by ``b(x) = floor(clip((x - lo) * s, -1, K + 1) + 1)``,
    with ``lo``/``hi`` the nearest/farthest true match of the row and ``s = K / (hi - lo)``
    (``hi`` := the row's largest finite distance when all true matches are equal). ``b`` is
    non-decreasing in ``x`` (rounded IEEE operations are monotone), so an image in a lower bin
    than a true match ranks before it and one in a higher bin after it; only the images that
    share a bin with a true match are ordered exactly, by ``(distance, gallery index)``.
    Bin 0 holds every image closer than the nearest true match, ``K + 2`` those well beyond
    the farthest; junk images go to an extra bin ``K + 3`` that is never counted. Rows with an
    infinite true-match distance are ranked by a stable argsort instead.

    Args:
        x: (B, num_g) distances of the block.
        rows, cols, junk: same-identity pairs of the block (see :func:`_same_identity_pairs`).

    Returns:
        ``(rows, ranks)``: block row of each true match and its rank, by row then rank.
    """
    x = np.ascontiguousarray(x)
    n_rows, num_g = x.shape
    tr, tj = rows[~junk], cols[~junk]
    if tr.size == 0:
        if np.isnan(x).any():
            raise _nan_error(np.flatnonzero(np.isnan(x).any(axis=1)))
        return tr, tr
    counts = np.bincount(tr, minlength=n_rows)
    has = counts > 0
    tv, starts = x[tr, tj], (np.cumsum(counts) - counts)[has]
    lo, hi = np.zeros(n_rows), np.zeros(n_rows)
    lo[has], hi[has] = np.minimum.reduceat(tv, starts), np.maximum.reduceat(tv, starts)
    finite = np.isfinite(lo) & np.isfinite(hi)
    # All true matches at one distance (e.g. a single one): spread the bins up to the row's
    # largest finite distance instead.
    equal = has & finite & (hi <= lo)
    if equal.any():
        xe = x[equal]
        hi[equal] = np.where(np.isfinite(xe), xe, -np.inf).max(axis=1)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        spread = hi - lo
        scale = np.where(spread > 0, bins / spread, 1.0).astype(x.dtype)
    binnable = finite & np.isfinite(scale) & (scale > 0)
    exact = has & ~binnable          # +-inf (or NaN) true matches: stable argsort
    lo[~binnable], scale[~binnable] = 0, 1
    stride = bins + 4
    n = x.size
    v = buf.values[:n].reshape(x.shape)
    b = buf.bins[:n]
    with np.errstate(invalid="ignore", over="ignore"):
        np.subtract(x, lo.astype(x.dtype)[:, None], out=v)
        v *= scale[:, None]
        np.maximum(v, -1, out=v)                # -inf -> bin 0; NaN propagates
        np.minimum(v, bins + 1, out=v)          # +inf -> bin K + 2; NaN propagates
        if np.isnan(v.sum()):
            raise _nan_error(np.flatnonzero(np.isnan(v).any(axis=1)))
        # Row offsets are folded into the float values (integers below 2**22, exact), which
        # keeps the map monotone within a row and the rows' bin ranges disjoint.
        v += (np.arange(n_rows) * stride + 1).astype(x.dtype)[:, None]
        np.copyto(b.reshape(x.shape), v, casting="unsafe")
    jr = rows[junk]
    b[jr * num_g + cols[junk]] = jr * stride + bins + 3
    hist = np.bincount(b, minlength=n_rows * stride).reshape(n_rows, stride)
    below = (np.cumsum(hist, axis=1) - hist).ravel()
    true_flat = tr * num_g + tj                 # ascending (row-major pairs)
    threshold_bin = np.zeros(n_rows * stride, dtype=bool)
    threshold_bin[b[true_flat[~exact[tr]]]] = True
    flags = buf.flags[:n]
    np.take(threshold_bin, b, out=flags, mode="clip")
    cand = np.flatnonzero(flags)
    cb = b[cand]
    order = np.lexsort((cand, x.ravel()[cand], cb))   # by (row, bin, distance, index)
    cand, cb = cand[order], cb[order]
    new_group = np.ones(len(cb), dtype=bool)
    new_group[1:] = cb[1:] != cb[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(cb)), 0))
    at = np.minimum(np.searchsorted(true_flat, cand), len(true_flat) - 1)
    is_true = true_flat[at] == cand
    ranks = (below[cb] + (np.arange(len(cb)) - group_start) + 1)[is_true]
    out_rows = cb[is_true] // stride
    if exact.any():
        parts_rows, parts_ranks = [out_rows], [ranks]
        for r in np.flatnonzero(exact):
            rr = _row_ranks_stable(x[r], tj[tr == r], cols[junk & (rows == r)])
            parts_rows.append(np.full(len(rr), r, dtype=out_rows.dtype))
            parts_ranks.append(rr)
        out_rows, ranks = np.concatenate(parts_rows), np.concatenate(parts_ranks)
        order = np.lexsort((ranks, out_rows))
        out_rows, ranks = out_rows[order], ranks[order]
    return out_rows, ranks


def _match_ranks_binned(distmat: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray,
                        q_camids: np.ndarray, g_camids: np.ndarray,
                        bins: int = _BINS) -> MatchRanks:
    """CPU path: exact ranks of every true match, block by block (see :func:`_binned_chunk`)."""
    num_q, num_g = distmat.shape
    bins = int(min(bins, max(64, num_g)))
    step = max(1, min(_CHUNK_ELEMENTS // num_g, (1 << 22) // (bins + 4)))
    size = min(step, num_q) * num_g
    buf = _Buffers(values=np.empty(size, dtype=distmat.dtype), bins=np.empty(size, dtype=np.intp),
                   flags=np.empty(size, dtype=bool))
    rows, cols, junk = _same_identity_pairs(_gallery_pools(g_pids), q_pids, q_camids, g_camids)
    bounds = np.searchsorted(rows, np.arange(0, num_q + step, step))
    counts = np.zeros(num_q, dtype=np.int64)
    parts = []
    for i, start in enumerate(range(0, num_q, step)):
        stop = min(num_q, start + step)
        sl = slice(bounds[i], bounds[i + 1])
        block_rows, ranks = _binned_chunk(distmat[start:stop], rows[sl] - start, cols[sl],
                                          junk[sl], bins, buf)
        counts[start:stop] = np.bincount(block_rows, minlength=stop - start)
        parts.append(ranks)
    return MatchRanks(counts=counts, ranks=np.concatenate(parts).astype(np.int64))


# ----------------------------------------------------------------------------- torch path


def _match_ranks_sorted(distmat: torch.Tensor, q_pids: np.ndarray, g_pids: np.ndarray,
                        q_camids: np.ndarray, g_camids: np.ndarray) -> MatchRanks:
    """Torch path (any device): stable sort of each row, ranks read off the kept positions."""
    device = distmat.device
    num_q, num_g = distmat.shape
    qp, qc = torch.as_tensor(q_pids, device=device), torch.as_tensor(q_camids, device=device)
    gp, gc = torch.as_tensor(g_pids, device=device), torch.as_tensor(g_camids, device=device)
    limit = _CUDA_CHUNK_ELEMENTS if device.type == "cuda" else _CHUNK_ELEMENTS
    step = max(1, limit // num_g)
    counts, parts = [], []
    for start in range(0, num_q, step):
        x = distmat[start:start + step]
        if torch.isnan(x).any():
            raise _nan_error(slice(start, start + len(x)))
        same = qp[start:start + step, None] == gp[None, :]
        junk = same & (qc[start:start + step, None] == gc[None, :])
        true = same & ~junk
        order = torch.sort(x, dim=1, stable=True).indices
        kept_pos = torch.cumsum(~junk.gather(1, order), dim=1)
        true_sorted = true.gather(1, order)
        counts.append(true_sorted.sum(dim=1).cpu())
        parts.append(kept_pos[true_sorted].cpu())
    return MatchRanks(counts=torch.cat(counts).numpy().astype(np.int64),
                      ranks=torch.cat(parts).numpy().astype(np.int64))


# ----------------------------------------------------------------------------- single shot


def single_shot_draws(q_pids: ArrayLike, q_camids: ArrayLike, g_pids: ArrayLike,
                      g_camids: ArrayLike, repeats: int, seed: int) -> Iterator[np.ndarray]:
    """The single-shot galleries: one image per gallery identity, drawn per query and repeat.

    For every query the pool of an identity is its gallery images left after junk removal
    (only the query's own identity loses images: those of the query's camera). Repeat ``r``
    yields a (num_q, P) int64 array whose column ``p`` is the gallery index drawn for the
    ``p``-th distinct gallery identity (sorted), uniformly from its pool (-1 for an empty
    pool). With ``u = rng.random((num_q, P))`` from ``np.random.default_rng(seed)`` (one
    call per repeat), the ``floor(u * pool size)``-th image of the pool (ascending gallery
    index) is drawn, so the draws are a pure function of the inputs and ``seed``.
    """
    q_pids, q_camids = _ids(q_pids, "q_pids"), _ids(q_camids, "q_camids")
    g_pids, g_camids = _ids(g_pids, "g_pids"), _ids(g_camids, "g_camids")
    pools = _gallery_pools(g_pids)
    num_q, n_ids = len(q_pids), len(pools.pids)
    own, found = _identity_column(pools, q_pids)
    # The query identity's kept pool is the query's true matches (ascending index).
    rows, cols, junk = _same_identity_pairs(pools, q_pids, q_camids, g_camids)
    kept_cols = cols[~junk]
    n_kept = np.bincount(rows[~junk], minlength=num_q)
    kept_start = np.cumsum(n_kept) - n_kept
    qf = np.flatnonzero(found)
    sizes = np.broadcast_to(pools.sizes, (num_q, n_ids)).copy()
    sizes[qf, own[qf]] = n_kept[qf]
    last = np.maximum(sizes - 1, 0)
    rng = np.random.default_rng(seed)
    for _ in range(repeats):
        k = np.minimum((rng.random((num_q, n_ids)) * sizes).astype(np.int64), last)
        drawn = pools.members[pools.starts[None, :] + np.minimum(k, pools.sizes - 1)]
        k_own = k[qf, own[qf]]
        picked = kept_cols[np.minimum(kept_start[qf] + k_own, max(len(kept_cols) - 1, 0))] \
            if len(kept_cols) else np.zeros(len(qf), dtype=np.int64)
        drawn[qf, own[qf]] = np.where(n_kept[qf] > 0, picked, -1)
        yield drawn


def _single_shot_ranks(distmat: np.ndarray | torch.Tensor, q_pids: np.ndarray,
                       g_pids: np.ndarray, q_camids: np.ndarray, g_camids: np.ndarray,
                       repeats: int, seed: int, valid: np.ndarray) -> np.ndarray:
    """(repeats, num_valid) rank of the drawn true match in each drawn gallery.

    Rank = 1 + number of drawn images ordered before it by ``(distance, gallery index)``.
    Runs in numpy on the CPU and in torch on the device of a CUDA tensor (same expressions).
    """
    on_torch = isinstance(distmat, torch.Tensor)

    def put(a: np.ndarray) -> np.ndarray | torch.Tensor:
        return torch.as_tensor(a, device=distmat.device) if on_torch else a

    take = torch.take if on_torch else np.take
    own, _ = _identity_column(_gallery_pools(g_pids), q_pids)
    col, rows = put(own[valid]), put(np.arange(int(valid.sum())))
    base = put(np.flatnonzero(valid)[:, None] * distmat.shape[1])
    out = []
    for drawn in single_shot_draws(q_pids, q_camids, g_pids, g_camids, repeats, seed):
        sel = put(drawn[valid])
        d = take(distmat, base + sel)
        d_own, sel_own = d[rows, col][:, None], sel[rows, col][:, None]
        before = (d < d_own) | ((d == d_own) & (sel < sel_own))
        ranks = 1 + before.sum(1)
        out.append(ranks.cpu().numpy() if on_torch else ranks)
    return np.stack(out)


def _as_tensor(distmat: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(distmat, torch.Tensor):
        return distmat
    with warnings.catch_warnings():      # read-only arrays: never written to
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(distmat)


# ----------------------------------------------------------------------------- API


def match_ranks(distmat: ArrayLike, q_pids: ArrayLike, g_pids: ArrayLike, q_camids: ArrayLike,
                g_camids: ArrayLike, method: str = "auto") -> MatchRanks:
    """Ranks of every query's true matches after junk removal (the input of CMC and AP).

    ``method``: "auto" (binned on CPU, sort on CUDA), "binned" (CPU) or "sort" (torch).
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not valid; choose one of: {', '.join(METHODS)}")
    x = _distances(distmat)
    ids = (_ids(q_pids, "q_pids"), _ids(g_pids, "g_pids"),
           _ids(q_camids, "q_camids"), _ids(g_camids, "g_camids"))
    _check_shapes(tuple(x.shape), *ids)
    if method == "sort" or (method == "auto" and isinstance(x, torch.Tensor)):
        return _match_ranks_sorted(_as_tensor(x), *ids)
    if isinstance(x, torch.Tensor):
        x = x.cpu().numpy()
    return _match_ranks_binned(x, *ids)


@stage("ranking")
def evaluate_rank(distmat: ArrayLike, q_pids: ArrayLike, g_pids: ArrayLike, q_camids: ArrayLike,
                  g_camids: ArrayLike, max_rank: int = 50, mode: str = "market",
                  repeats: int = 10, seed: int = 0, return_ap: bool = False, *,
                  single_shot_ap: str = "full", method: str = "auto",
                  ) -> tuple[np.ndarray, float] | tuple[np.ndarray, float, np.ndarray]:
    """CMC and mAP of a query x gallery distance matrix (torchreid / fast-reid semantics).

    Args:
        distmat: (num_q, num_g) distances, lower = more similar (numpy or torch; a CUDA
            tensor is evaluated on its GPU). NaN is refused; +-inf is allowed.
        q_pids, g_pids, q_camids, g_camids: identities and cameras (numpy, torch or lists).
        max_rank: length of the CMC curve (clamped to ``num_g``, as torchreid does).
        mode: "market": every gallery image counts (Market-1501, DukeMTMC, MSMT17,
            CUHK03-new). "single_shot" (torchreid's eval_cuhk03; VIPeR / PRID / CUHK03 flat):
            for each query and each of ``repeats`` repeats one image per gallery identity is
            drawn from its junk-removed pool (:func:`single_shot_draws`, seeded by ``seed``)
            and the CMC of that gallery is averaged over repeats.
        return_ap: also return the per-query AP, (num_q,) float64 with NaN for skipped queries.
        single_shot_ap: AP in single-shot mode. "full" (default, what torchreid's
            eval_cuhk03 does): the AP of the whole junk-removed gallery, as in market mode.
            "sampled": the AP of each drawn gallery (one true match, so ``1 / rank``),
            averaged over the repeats.
        method: "auto" | "binned" | "sort", see :func:`match_ranks` (same results).

    Returns:
        ``(cmc, mAP)`` or ``(cmc, mAP, ap)``: ``cmc`` (min(max_rank, num_g),) float64,
        ``mAP`` the mean AP over valid queries (queries whose identity has a gallery image
        from another camera).

    Raises:
        ValueError: on mismatched shapes, NaN distances, unknown mode, or when no query is valid.
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not valid; choose one of: {', '.join(MODES)}")
    if single_shot_ap not in SINGLE_SHOT_AP:
        raise ValueError(f"single_shot_ap={single_shot_ap!r} is not valid; choose one of: "
                         f"{', '.join(SINGLE_SHOT_AP)}")
    if isinstance(max_rank, bool) or not isinstance(max_rank, (int, np.integer)) or max_rank < 1:
        raise ValueError(f"max_rank must be a positive integer, got {max_rank!r}")
    if mode == "single_shot" and (not isinstance(repeats, (int, np.integer)) or repeats < 1):
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    x = _distances(distmat)
    ids = (_ids(q_pids, "q_pids"), _ids(g_pids, "g_pids"),
           _ids(q_camids, "q_camids"), _ids(g_camids, "g_camids"))
    _check_shapes(tuple(x.shape), *ids)
    mr = match_ranks(x, *ids, method=method)
    valid = mr.counts > 0
    if not valid.any():
        raise ValueError("no valid query: no query identity appears in the gallery under "
                         "another camera (all queries would be skipped)")
    max_rank = int(min(max_rank, x.shape[1]))
    ap = average_precision(mr.ranks, mr.counts)
    if mode == "market":
        cmc = cmc_curve(mr.ranks[mr.offsets[valid]], max_rank)
    else:
        sampled = _single_shot_ranks(x, *ids, repeats=repeats, seed=seed, valid=valid)
        cmc = cmc_curve(sampled, max_rank)
        if single_shot_ap == "sampled":
            ap[valid] = (1.0 / sampled).mean(axis=0)
    m_ap = float(np.mean(ap[valid]))
    return (cmc, m_ap, ap) if return_ap else (cmc, m_ap)


def evaluate_rank_reference(distmat: ArrayLike, q_pids: ArrayLike, g_pids: ArrayLike,
                            q_camids: ArrayLike, g_camids: ArrayLike, max_rank: int = 50,
                            mode: str = "market", repeats: int = 10, seed: int = 0,
                            return_ap: bool = False, *, single_shot_ap: str = "full",
                            ) -> tuple[np.ndarray, float] | tuple[np.ndarray, float, np.ndarray]:
    """Plain per-query stable-argsort loop with torchreid's semantics (slow; for tests).

    Same contract as :func:`evaluate_rank`; single-shot galleries come from the same
    :func:`single_shot_draws`.
    """
    x = _distances(distmat)
    if isinstance(x, torch.Tensor):
        x = x.cpu().numpy()
    q_pids, g_pids = _ids(q_pids, "q_pids"), _ids(g_pids, "g_pids")
    q_camids, g_camids = _ids(q_camids, "q_camids"), _ids(g_camids, "g_camids")
    num_q, num_g = x.shape
    max_rank = min(max_rank, num_g)
    draws: Sequence[np.ndarray] = ()
    if mode == "single_shot":
        draws = list(single_shot_draws(q_pids, q_camids, g_pids, g_camids, repeats, seed))
    all_cmc, ap = [], np.full(num_q, np.nan)
    for q in range(num_q):
        order = np.argsort(x[q], kind="stable")
        matches = g_pids[order] == q_pids[q]
        keep = ~(matches & (g_camids[order] == q_camids[q]))
        raw_cmc = matches[keep].astype(np.int64)
        if not raw_cmc.any():
            continue
        hits = np.cumsum(raw_cmc)
        ap[q] = (hits / np.arange(1, len(raw_cmc) + 1))[raw_cmc == 1].mean()
        if mode == "market":
            cmc = np.minimum(hits, 1).astype(np.float64)
        else:
            cmc, sampled_ap = np.zeros(num_g), 0.0
            for drawn in draws:
                in_draw = np.zeros(num_g, dtype=bool)
                in_draw[drawn[q]] = True
                sub = raw_cmc[in_draw[order][keep]]
                sub_hits = np.cumsum(sub)
                cmc[:len(sub)] += np.minimum(sub_hits, 1)
                cmc[len(sub):] += 1
                sampled_ap += (sub_hits / np.arange(1, len(sub) + 1))[sub == 1].mean()
            cmc /= len(draws)
            if single_shot_ap == "sampled":
                ap[q] = sampled_ap / len(draws)
        cmc = np.concatenate([cmc, np.ones(max(0, max_rank - len(cmc)))])[:max_rank]
        all_cmc.append(cmc)
    if not all_cmc:
        raise ValueError("no valid query")
    cmc = np.mean(all_cmc, axis=0)
    m_ap = float(np.nanmean(ap))
    return (cmc, m_ap, ap) if return_ap else (cmc, m_ap)
