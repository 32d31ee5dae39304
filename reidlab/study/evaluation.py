"""Evaluating feature extractors on protocol splits: B-F, B-F+RFD, PS-HRNet (+RFD).

Features of each split are extracted once per model (and cached on disk), then any
number of fusions (lambda values, Eq. 8 readings) are scored from them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from reidlab.data.records import ProtocolSplit
from reidlab.engine.extract import extract_features
from reidlab.metrics import evaluate_rank, fused_distance

METRICS: tuple[str, ...] = ("R1", "R5", "R10", "mAP")


@dataclass(frozen=True)
class SplitFeatures:
    """Query and gallery features of one split, per model name."""

    split: ProtocolSplit
    query: Mapping[str, torch.Tensor]
    gallery: Mapping[str, torch.Tensor]

    def ids(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        q, g = self.split.query, self.split.gallery
        return (np.array([r.pid for r in q]), np.array([r.pid for r in g]),
                np.array([r.camid for r in q]), np.array([r.camid for r in g]))


def extract_split_features(split: ProtocolSplit, models: Mapping[str, torch.nn.Module], *, height: int,
                           width: int, batch_size: int = 128, flip: bool = True,
                           interpolation: str = "bicubic", cache_dir: str | Path | None = None,
                           progress: bool = True, sizes: Mapping[str, tuple[int, int]] | None = None,
                           gallery: bool = True, amp: str = "auto") -> SplitFeatures:
    """Extract query and gallery features of ``split`` with every model in ``models``.

    ``sizes`` optionally gives a per-model (height, width) input size; ``gallery=False``
    extracts the query side only.
    """
    with_gallery = gallery
    query, gallery_feats = {}, {}
    for name, model in models.items():
        h, w = (sizes or {}).get(name, (height, width))
        kw = dict(height=h, width=w, batch_size=batch_size, flip=flip, interpolation=interpolation,
                  cache_dir=cache_dir, progress=progress, amp=amp)
        query[name] = extract_features(model, split.query, **kw)
        if with_gallery:
            gallery_feats[name] = extract_features(model, split.gallery, **kw)
    return SplitFeatures(split=split, query=query, gallery=gallery_feats)


def rank_metrics(distmat: torch.Tensor | np.ndarray, feats: SplitFeatures, max_rank: int = 50) -> dict[str, float]:
    """R1/R5/R10 and mAP in percent (torchreid semantics, see :func:`evaluate_rank`)."""
    q_pids, g_pids, q_cams, g_cams = feats.ids()
    max_rank = min(max_rank, len(g_pids))
    cmc, mAP = evaluate_rank(distmat, q_pids, g_pids, q_cams, g_cams, max_rank=max_rank)
    cmc = np.asarray(cmc)
    at = lambda k: float(100 * cmc[min(k, len(cmc)) - 1])  # noqa: E731
    return {"R1": at(1), "R5": at(5), "R10": at(10), "mAP": float(100 * mAP)}


def score(feats: SplitFeatures, *, feature_model: str = "bf", resolution_model: str | None = "br",
          lam: float = 0.0, reading: str = "similarity", max_rank: int = 50) -> dict[str, float]:
    """Metrics of the Eq. 8 fusion D = D_f - lam * D_r (``lam=0``: the feature model alone)."""
    ff_q, ff_g = feats.query[feature_model], feats.gallery[feature_model]
    if resolution_model is None or lam == 0:
        fr_q, fr_g = ff_q[:, :1], ff_g[:, :1]  # unused when lam == 0
        lam = 0.0
    else:
        fr_q, fr_g = feats.query[resolution_model], feats.gallery[resolution_model]
    dist = fused_distance(ff_q, ff_g, fr_q, fr_g, lam=lam, reading=reading)
    return rank_metrics(dist, feats, max_rank=max_rank)


def summarise(per_trial: pd.DataFrame, by: Sequence[str] = ("method",),
              metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean and standard deviation over trials, one row per group, in first-seen order."""
    order = per_trial[list(by)].drop_duplicates()
    agg = per_trial.groupby(list(by), sort=False)[list(metrics)].agg(["mean", "std"])
    agg.columns = [f"{m} {s}" for m, s in agg.columns]
    agg = agg.reset_index()
    agg["trials"] = per_trial.groupby(list(by), sort=False).size().values
    return order.merge(agg, on=list(by), how="left")


def mean_pm_std(summary: pd.DataFrame, metrics: Sequence[str] = METRICS, keep: Sequence[str] = ("method",)
                ) -> pd.DataFrame:
    """Paper-style view: one ``"mean ± std"`` string column per metric."""
    out = summary[list(keep)].copy()
    for m in metrics:
        mean, std = summary[f"{m} mean"], summary[f"{m} std"].fillna(0.0)
        out[m] = [f"{a:.1f} ± {b:.1f}" for a, b in zip(mean, std)]
    return out


@dataclass(frozen=True)
class PairedComparison:
    """Statistics of ``a - b`` over paired trials."""

    a: str
    b: str
    metric: str
    n: int
    mean_diff: float
    std_diff: float
    ci_low: float
    ci_high: float
    p_value: float

    def sentence(self, label: str | None = None) -> str:
        label = label or f"{self.a} vs {self.b}"
        p = "n/a" if np.isnan(self.p_value) else f"{self.p_value:.3g}"
        return (f"{label} changes {self.metric} by {self.mean_diff:+.1f} ± {self.std_diff:.1f} points "
                f"(95% bootstrap CI [{self.ci_low:+.1f}, {self.ci_high:+.1f}], paired t-test p={p}, "
                f"n={self.n} trials)")

    @property
    def significant(self) -> bool:
        return bool(self.ci_low > 0 or self.ci_high < 0)


def paired_comparison(per_trial: pd.DataFrame, a: str, b: str, metric: str = "R1", *,
                      method_col: str = "method", trial_col: str = "trial", n_boot: int = 10_000,
                      seed: int = 0) -> PairedComparison:
    """Paired difference ``a - b`` of ``metric`` over trials: mean, std, bootstrap CI, t-test."""
    wide = per_trial.pivot_table(index=trial_col, columns=method_col, values=metric)
    for m in (a, b):
        if m not in wide.columns:
            raise KeyError(f"method {m!r} not in results; have {list(wide.columns)}")
    diff = (wide[a] - wide[b]).dropna().to_numpy(dtype=float)
    n = len(diff)
    rng = np.random.default_rng(seed)
    if n > 1:
        boots = diff[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
        lo, hi = np.percentile(boots, [2.5, 97.5])
        # a constant difference has no variance: the t-test is undefined (reported as n/a)
        p = float(stats.ttest_rel(wide.loc[:, a].dropna(), wide.loc[:, b].dropna()).pvalue) \
            if np.any(diff != diff[0]) else (float("nan") if diff[0] != 0 else 1.0)
        std = float(diff.std(ddof=1))
    else:
        lo = hi = float(diff.mean()) if n else float("nan")
        p, std = float("nan"), 0.0
    return PairedComparison(a=a, b=b, metric=metric, n=n, mean_diff=float(diff.mean()) if n else float("nan"),
                            std_diff=std, ci_low=float(lo), ci_high=float(hi), p_value=p)


def verdict(cmp: PairedComparison, claim: str, kind: str = "improvement", tolerance: float = 1.0) -> str:
    """One honest line: does the paper's ``claim`` hold here?

    ``kind="improvement"``: ``a`` beats ``b`` (bootstrap CI above 0). ``kind="comparable"``:
    ``a`` is within ``tolerance`` points of ``b`` (the CI lies inside +-tolerance).
    """
    if kind == "comparable":
        inside = -tolerance <= cmp.ci_low and cmp.ci_high <= tolerance
        status = ("reproduced" if inside else
                  f"not reproduced (the 95% CI leaves +-{tolerance:g} points)")
        return f"{claim}: {status}. {cmp.sentence()}."
    if kind != "improvement":
        raise ValueError(f"kind={kind!r} is not valid; choose one of: improvement, comparable")
    if cmp.significant and cmp.mean_diff > 0:
        status = "reproduced"
    elif cmp.significant and cmp.mean_diff < 0:
        status = "NOT reproduced (significantly worse)"
    else:
        status = "not reproduced (no significant difference)"
    return f"{claim}: {status}. {cmp.sentence()}."
