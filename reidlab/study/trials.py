"""RFD's evaluation over trials: B-F alone and B-F + RFD (Eq. 8) on each protocol split.

Fixed-split datasets (Market-like) train once and vary the random factor draw per
trial. Random-split datasets (VIPeR, CAVIAR...) either retrain per identity split
(``retrain_per_split=True``, the paper's protocol) or train on trial 0's identity
partition and vary the query/gallery draw over it (the CPU profiles' shortcut).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd
import torch
from tqdm.auto import tqdm

from reidlab.config import Profile
from reidlab.data import build_protocol
from reidlab.data.records import ProtocolSplit, ReidDataset
from reidlab.study import baselines, evaluation


def make_split(prof: Profile, ds: ReidDataset, protocol: str, trial: int, *, retrain_per_split: bool) -> ProtocolSplit:
    """Trial ``trial`` of ``protocol``; identity partition of trial 0 unless retraining per split."""
    kwargs = dict(seed=prof.data.seed, factors=prof.data.factors, pseudo_bins=prof.data.pseudo_bins,
                  pseudo_strategy=prof.data.pseudo_strategy)
    if not ds.fixed_split and not retrain_per_split:
        kwargs["partition_trial"] = 0
    return build_protocol(protocol, ds, trial=trial, **kwargs)


@dataclass
class TrialResults:
    """Per-trial metrics plus the features behind them (for sweeps and figures)."""

    per_trial: pd.DataFrame
    features: list[evaluation.SplitFeatures] = field(default_factory=list)
    runs: dict[str, str] = field(default_factory=dict)


def run_trials(prof: Profile, ds: ReidDataset, protocol: str, *, trials: int, runs_dir: str | Path,
               lam: float, reading: str, train_if_missing: bool = True, include_baseline: str = "if-exists",
               retrain_per_split: bool = False, fixed_models: Mapping[str, torch.nn.Module] | None = None,
               extra_models: Mapping[str, Callable[[ProtocolSplit], torch.nn.Module]] | None = None,
               with_rfd: bool = True, progress: bool = True) -> TrialResults:
    """Evaluate "baseline" (no attention), "baseline B-F" and "B-F+RFD" on ``trials`` splits.

    ``fixed_models`` ({"bf": ..., "br": ...}) replaces the trained run of that name by a given model.
    ``include_baseline``: "yes" trains it when missing, "if-exists" uses it only when a finished
    checkpoint exists, "no" skips it. ``with_rfd=False`` skips B-R and the "+RFD" rows. ``extra_models`` maps a row name to a function returning a
    feature extractor for a split (e.g. PS-HRNet); each also gets a "+RFD" row.
    """
    cache = Path(runs_dir) / "features"
    rows, feats_all, runs = [], [], {}
    for trial in tqdm(range(trials), desc=f"{protocol} trials", disable=not progress):
        split = make_split(prof, ds, protocol, trial, retrain_per_split=retrain_per_split)
        train_split = split if (retrain_per_split or trial == 0 or not ds.fixed_split) else \
            make_split(prof, ds, protocol, 0, retrain_per_split=retrain_per_split)
        models: dict[str, torch.nn.Module] = {}
        fixed = dict(fixed_models or {})
        if "bf" in fixed:
            models["bf"], runs["B-F"] = fixed["bf"], "given"
        else:
            models["bf"], runs["B-F"] = baselines.bf_model(prof, train_split, runs_dir,
                                                           train_if_missing=train_if_missing, progress=progress)
        if not with_rfd:
            pass
        elif "br" in fixed:
            models["br"], runs["B-R"] = fixed["br"], "given"
        else:
            models["br"], runs["B-R"] = baselines.br_model(prof, train_split, runs_dir,
                                                           train_if_missing=train_if_missing, progress=progress)
        if include_baseline != "no":
            try:
                models["base"], runs["baseline"] = baselines.bf_model(
                    prof, train_split, runs_dir, attention=False,
                    train_if_missing=train_if_missing and include_baseline == "yes", progress=progress)
            except FileNotFoundError:
                pass
        for name, factory in (extra_models or {}).items():
            models[name] = factory(train_split)
        feats = evaluation.extract_split_features(
            split, models, height=prof.model.height, width=prof.model.width, batch_size=prof.eval.batch_size,
            flip=prof.eval.flip, interpolation=prof.data.interpolation, cache_dir=cache, progress=False)
        feats_all.append(feats)
        score = lambda fm, lam_: evaluation.score(feats, feature_model=fm, resolution_model="br",  # noqa: E731
                                                  lam=lam_, reading=reading, max_rank=prof.eval.max_rank)
        if "base" in models:
            rows.append({"trial": trial, "method": "baseline", **score("base", 0.0)})
        rows.append({"trial": trial, "method": "baseline B-F", **score("bf", 0.0)})
        if with_rfd:
            rows.append({"trial": trial, "method": "B-F+RFD", **score("bf", lam)})
        for name in (extra_models or {}):
            rows.append({"trial": trial, "method": name, **score(name, 0.0)})
            if with_rfd:
                rows.append({"trial": trial, "method": f"{name}+RFD", **score(name, lam)})
    return TrialResults(per_trial=pd.DataFrame(rows), features=feats_all, runs={k: str(v) for k, v in runs.items()})


def lambda_sweep(features: list[evaluation.SplitFeatures], lams, readings=("similarity", "distance"),
                 feature_model: str = "bf", max_rank: int = 50) -> pd.DataFrame:
    """R1/mAP for each lambda and Eq. 8 reading on already-extracted features (cheap)."""
    rows = []
    for trial, feats in enumerate(features):
        for reading in readings:
            for lam in lams:
                rows.append({"trial": trial, "reading": reading, "lam": float(lam),
                             **evaluation.score(feats, feature_model=feature_model, resolution_model="br",
                                                lam=float(lam), reading=reading, max_rank=max_rank)})
    return pd.DataFrame(rows)
