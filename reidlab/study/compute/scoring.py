"""Scoring feature extractors on protocol splits: features, rank metrics, Eq. 8 fusion, summaries.

Features of each split are extracted once per model (and cached on disk, keyed by the
model's weights and the images' content), then any number of fusions (lambda values,
Eq. 8 readings) are scored from them. Every score says how many queries it evaluated:
a query whose identity has no gallery image from another camera cannot be ranked, and
evaluation that shrinks must say so.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from reidlab.data.records import ProtocolSplit
from reidlab.engine.extract import extract_features
from reidlab.metrics import evaluate_rank, fused_distance

__all__ = ["METRICS", "SplitFeatures", "extract_split_features", "rank_metrics", "score",
           "summarise", "mean_pm_std", "chance_rank1", "sanity_table", "bf_score", "resolution_gap_table", "query_counts", "query_summary",
           "describe_queries", "RankValidator", "subset_queries"]

METRICS: tuple[str, ...] = ("R1", "R5", "R10", "mAP")


@dataclass(frozen=True)
class SplitFeatures:
    """Query and gallery features of one split, per model name."""

    split: ProtocolSplit
    query: Mapping[str, torch.Tensor]
    gallery: Mapping[str, torch.Tensor]

    def ids(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Identities and cameras as the ranking sees them: with ``split.cross_camera`` false
        every query is on camera 0 and every gallery image on camera 1, so no gallery image
        is discarded as a same-camera match."""
        q, g = self.split.query, self.split.gallery
        if not self.split.cross_camera:
            return (np.array([r.pid for r in q]), np.array([r.pid for r in g]),
                    np.zeros(len(q), dtype=int), np.ones(len(g), dtype=int))
        return (np.array([r.pid for r in q]), np.array([r.pid for r in g]),
                np.array([r.camid for r in q]), np.array([r.camid for r in g]))


def extract_split_features(split: ProtocolSplit, models: Mapping[str, torch.nn.Module], *, height: int,
                           width: int, batch_size: int = 128, flip: bool = True,
                           interpolation: str = "bicubic", upsampling: str = "bilinear",
                           cache_dir: str | Path | None = None, progress: bool = True,
                           sizes: Mapping[str, tuple[int, int]] | None = None, gallery: bool = True,
                           amp: str = "auto") -> SplitFeatures:
    """Extract query and gallery features of ``split`` with every model in ``models``.

    ``sizes`` optionally gives a per-model (height, width) input size; ``gallery=False``
    extracts the query side only.
    """
    with_gallery = gallery
    query, gallery_feats = {}, {}
    for name, model in models.items():
        h, w = (sizes or {}).get(name, (height, width))
        kw = dict(height=h, width=w, batch_size=batch_size, flip=flip, interpolation=interpolation,
                  upsampling=upsampling, cache_dir=cache_dir, progress=progress, amp=amp)
        query[name] = extract_features(model, split.query, **kw)
        if with_gallery:
            gallery_feats[name] = extract_features(model, split.gallery, **kw)
    return SplitFeatures(split=split, query=query, gallery=gallery_feats)


def subset_queries(feats: SplitFeatures, keep: Sequence[bool]) -> SplitFeatures:
    """``feats`` with only the queries where ``keep`` is true (gallery unchanged)."""
    keep = list(map(bool, keep))
    if len(keep) != len(feats.split.query):
        raise ValueError(f"keep has {len(keep)} entries for {len(feats.split.query)} queries")
    index = torch.tensor([i for i, k in enumerate(keep) if k], dtype=torch.long)
    split = dataclasses.replace(feats.split, query=tuple(r for r, k in zip(feats.split.query, keep) if k))
    return SplitFeatures(split=split, query={k: v[index] for k, v in feats.query.items()}, gallery=feats.gallery)


def query_counts(feats: SplitFeatures) -> dict[str, int]:
    """``{"queries": evaluated, "queries_total": all}``: a query is evaluated when its
    identity has a gallery image from another camera (Market-style evaluation)."""
    q_pids, g_pids, q_cams, g_cams = feats.ids()
    valid = ((q_pids[:, None] == g_pids[None, :]) & (q_cams[:, None] != g_cams[None, :])).any(axis=1)
    return {"queries": int(valid.sum()), "queries_total": int(len(q_pids))}


def rank_metrics(distmat: torch.Tensor | np.ndarray, feats: SplitFeatures, max_rank: int = 50
                 ) -> dict[str, float]:
    """R1/R5/R10 and mAP in percent (torchreid semantics, see :func:`evaluate_rank`), with
    the number of queries evaluated and in total."""
    q_pids, g_pids, q_cams, g_cams = feats.ids()
    max_rank = min(max_rank, len(g_pids))
    cmc, mAP = evaluate_rank(distmat, q_pids, g_pids, q_cams, g_cams, max_rank=max_rank)
    cmc = np.asarray(cmc)
    at = lambda k: float(100 * cmc[min(k, len(cmc)) - 1])  # noqa: E731
    return {"R1": at(1), "R5": at(5), "R10": at(10), "mAP": float(100 * mAP), **query_counts(feats)}


def score(feats: SplitFeatures, *, feature_model: str = "bf", resolution_model: str | None = "br",
          lam: float = 0.0, reading: str = "similarity", max_rank: int = 50,
          ensemble: bool = False) -> dict[str, float]:
    """Metrics of the Eq. 8 fusion D = D_f - lam * D_r (``lam=0``: the feature model alone;
    ``ensemble``: the controls' ``lam <= 0``, see :func:`reidlab.config.check_lam`)."""
    ff_q, ff_g = feats.query[feature_model], feats.gallery[feature_model]
    if resolution_model is None or lam == 0:
        fr_q, fr_g = ff_q[:, :1], ff_g[:, :1]  # unused when lam == 0
        lam = 0.0
    else:
        fr_q, fr_g = feats.query[resolution_model], feats.gallery[resolution_model]
    dist = fused_distance(ff_q, ff_g, fr_q, fr_g, lam=lam, reading=reading, ensemble=ensemble)
    return rank_metrics(dist, feats, max_rank=max_rank)


def summarise(per_trial: pd.DataFrame, by: Sequence[str] = ("method",),
              metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean and standard deviation, one row per group, in first-seen order. With a ``unit``
    column (independently trained models, :mod:`reidlab.study.compute.rfd_trials`) trials are averaged
    inside their unit first, so the std is between units; ``trials`` and ``units`` count them."""
    order = per_trial[list(by)].drop_duplicates()
    frame = per_trial if "unit" in per_trial.columns else per_trial.assign(unit=range(len(per_trial)))
    per_unit = frame.groupby([*by, "unit"], sort=False)[list(metrics)].mean().reset_index()
    agg = per_unit.groupby(list(by), sort=False)[list(metrics)].agg(["mean", "std"])
    agg.columns = [f"{m} {s}" for m, s in agg.columns]
    agg = agg.reset_index()
    agg["trials"] = per_trial.groupby(list(by), sort=False).size().values
    agg["units"] = per_unit.groupby(list(by), sort=False).size().values
    return order.merge(agg, on=list(by), how="left")


def mean_pm_std(summary: pd.DataFrame, metrics: Sequence[str] = METRICS, keep: Sequence[str] = ("method",)
                ) -> pd.DataFrame:
    """Paper-style view: one ``"mean ± std"`` string column per metric (the mean alone where
    there is no spread to show: a single unit)."""
    out = summary[list(keep)].copy()
    for m in metrics:
        mean, std = summary[f"{m} mean"], summary[f"{m} std"]
        out[m] = [f"{a:.1f}" if pd.isna(b) else f"{a:.1f} ± {b:.1f}" for a, b in zip(mean, std)]
    return out


def chance_rank1(split: ProtocolSplit) -> float:
    """Rank-1 of a random ranking, in percent: 1 / (gallery identities)."""
    return 100.0 / max(1, len({r.pid for r in split.gallery if r.pid > 0}))


def sanity_table(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"setting": k, **v} for k, v in rows.items()])


def bf_score(prof, split: ProtocolSplit, net: torch.nn.Module, *, cache_dir: str | Path) -> dict[str, float]:
    """:func:`score` of the B-F network ``net`` alone on ``split``, read with the profile's input size,
    LR synthesis and evaluation settings (features cached under ``cache_dir``)."""
    feats = extract_split_features(split, {"bf": net}, height=prof.model.height, width=prof.model.width,
                                   batch_size=prof.eval.batch_size, flip=prof.eval.flip,
                                   interpolation=prof.data.interpolation, upsampling=prof.data.upsampling,
                                   cache_dir=cache_dir, amp=prof.eval.amp)
    return score(feats, feature_model="bf", lam=0.0, reading=prof.eval.rfd_reading)


def resolution_gap_table(prof, split: ProtocolSplit, models: Mapping[str, torch.nn.Module], *,
                         cache_dir: str | Path) -> pd.DataFrame:
    """Rank-1/mAP of each B-F in ``models`` (by label) on HR queries and on ``split``'s LR queries,
    both against its HR gallery (the resolution gap), with chance rank-1: one row per model and
    query kind ("<label>: HR query -> HR gallery", "<label>: LR query -> HR gallery")."""
    from reidlab.study.compute.inspection import hr_query_split

    rows = {f"{name}: {label}": bf_score(prof, sp, net, cache_dir=cache_dir)
            for name, net in models.items()
            for label, sp in (("HR query -> HR gallery", hr_query_split(split)), ("LR query -> HR gallery", split))}
    table = sanity_table(rows)
    table["chance R1"] = chance_rank1(split)
    return table


def query_summary(per_trial: pd.DataFrame) -> dict[str, int]:
    """Queries evaluated and in total, summed over the trials of ``per_trial`` (each trial
    counted once, whatever the number of methods scored on it)."""
    if per_trial.empty or "queries" not in per_trial:
        return {"queries_evaluated": 0, "queries_total": 0}
    keys = [c for c in ("protocol", "dataset", "interpolation", "strategy", "bins", "trial") if c in per_trial]
    first = per_trial.drop_duplicates(subset=keys) if keys else per_trial  # no keys: one evaluation a row
    return {"queries_evaluated": int(first["queries"].sum()), "queries_total": int(first["queries_total"].sum())}


def describe_queries(per_trial: pd.DataFrame) -> str:
    """"evaluated 140 of 142 queries (2 had no gallery match from another camera)"."""
    c = query_summary(per_trial)
    left = c["queries_total"] - c["queries_evaluated"]
    return (f"evaluated {c['queries_evaluated']} of {c['queries_total']} queries"
            + (f" ({left} had no gallery match from another camera and were left out)" if left else ""))


class RankValidator:
    """``validator(model) -> {"R1", "mAP"}`` on a validation split (held-out *training*
    identities), for :class:`~reidlab.engine.training_loop.PeriodicValidation`: features without
    flip or cache, ranked by Euclidean distance like B-F alone."""

    def __init__(self, validation: ProtocolSplit, *, height: int, width: int, batch_size: int = 128,
                 interpolation: str = "bicubic", upsampling: str = "bilinear", amp: str = "auto") -> None:
        self.validation = validation
        self.kw = dict(height=height, width=width, batch_size=batch_size, flip=False, interpolation=interpolation,
                       upsampling=upsampling, progress=False, amp=amp)

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        feats = extract_split_features(self.validation, {"m": model}, **self.kw)
        metrics = score(feats, feature_model="m", lam=0.0)
        return {"R1": metrics["R1"], "mAP": metrics["mAP"]}
