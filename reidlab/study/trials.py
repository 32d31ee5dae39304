"""RFD's evaluation over trials: B-F alone and B-F + RFD (Eq. 8) on each protocol split.

Fixed-split datasets (Market-like) train once and vary the random factor draw per
trial. Random-split datasets (VIPeR, CAVIAR...) either retrain per identity split
(``retrain_per_split=True``, the paper's protocol) or train on trial 0's identity
partition and vary the query/gallery draw over it (the CPU profiles' shortcut).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd
import torch
from reidlab.progress import tqdm

from reidlab.config import Profile, protocol_kwargs
from reidlab.data import build_protocol
from reidlab.data.records import ProtocolSplit, ReidDataset
from reidlab.study import methods, scoring
from reidlab.study import models as trained


def make_split(prof: Profile, ds: ReidDataset, protocol: str, trial: int, *, retrain_per_split: bool) -> ProtocolSplit:
    """Trial ``trial`` of ``protocol``; identity partition of trial 0 unless retraining per split."""
    kwargs = protocol_kwargs(prof)
    if not ds.fixed_split and not retrain_per_split:
        kwargs["partition_trial"] = 0
    return build_protocol(protocol, ds, trial=trial, **kwargs)


@dataclass
class TrialResults:
    """Per-trial metrics plus the features behind them (for sweeps and figures)."""

    per_trial: pd.DataFrame
    features: list[scoring.SplitFeatures] = field(default_factory=list)
    runs: dict[str, str] = field(default_factory=dict)


def run_trials(prof: Profile, ds: ReidDataset, protocol: str, *, trials: int, runs_dir: str | Path,
               lam: float, reading: str, train_if_missing: bool = True, include_baseline: str = "if-exists",
               retrain_per_split: bool = False, fixed_models: Mapping[str, torch.nn.Module] | None = None,
               extra_models: Mapping[str, Callable[[ProtocolSplit], torch.nn.Module]] | None = None,
               sizes: Mapping[str, tuple[int, int]] | None = None,
               with_rfd: bool = True, progress: bool = True) -> TrialResults:
    """Evaluate ``methods.BASELINE`` (no attention), ``methods.BF`` and ``methods.BF_RFD`` on ``trials`` splits.

    ``fixed_models`` ({"bf": ..., "br": ...}) replaces the trained run of that name by a given model.
    ``include_baseline``: "yes" trains it when missing, "if-exists" uses it only when a finished
    checkpoint exists, "no" skips it. ``with_rfd=False`` skips B-R and the "+RFD" rows. ``extra_models`` maps a row name to a function returning a
    feature extractor for a split (e.g. PS-HRNet); each also gets a "+RFD" row. ``sizes`` gives a model its own
    input size (height, width), e.g. PS-HRNet's; the others use the profile's.
    """
    cache = Path(runs_dir) / "features"
    fixed = dict(fixed_models or {})
    splits = [make_split(prof, ds, protocol, t, retrain_per_split=retrain_per_split) for t in range(trials)]
    # trials that train on the same records share one set of models (and one extraction)
    groups: dict[str, list[int]] = {}
    for t, split in enumerate(splits):
        groups.setdefault(_train_key(split), []).append(t)
    runs: dict[str, str] = {}
    per_trial_feats: dict[int, scoring.SplitFeatures] = {}
    for trials_of_group in tqdm(groups.values(), desc=f"{protocol}: models", disable=not progress or len(groups) == 1):
        train_split = splits[trials_of_group[0]]
        models = _models_for(prof, train_split, runs_dir, runs, fixed=fixed, with_rfd=with_rfd,
                             include_baseline=include_baseline, train_if_missing=train_if_missing,
                             extra_models=extra_models, progress=progress)
        group_splits = [splits[t] for t in trials_of_group]
        for t, feats in zip(trials_of_group, _extract_once(prof, group_splits, models, cache, progress, sizes)):
            per_trial_feats[t] = feats
    # the unit of replication: trials training on the same records share the same trained models
    unit_of = {t: u for u, trials_of_group in enumerate(groups.values()) for t in trials_of_group}
    rows, feats_all = [], []
    for trial in range(trials):
        feats = per_trial_feats[trial]
        feats_all.append(feats)
        score = lambda fm, lam_: scoring.score(feats, feature_model=fm, resolution_model="br",  # noqa: E731
                                                  lam=lam_, reading=reading, max_rank=prof.eval.max_rank)
        if "base" in feats.query:
            rows.append({"trial": trial, "method": methods.BASELINE, **score("base", 0.0)})
        rows.append({"trial": trial, "method": methods.BF, **score("bf", 0.0)})
        if with_rfd:
            rows.append({"trial": trial, "method": methods.BF_RFD, **score("bf", lam)})
        for name in (extra_models or {}):
            rows.append({"trial": trial, "method": name, **score(name, 0.0)})
            if with_rfd:
                rows.append({"trial": trial, "method": methods.with_rfd(name), **score(name, lam)})
    per_trial = pd.DataFrame(rows)
    per_trial.insert(1, "unit", per_trial["trial"].map(unit_of))
    return TrialResults(per_trial=per_trial, features=feats_all, runs=runs)


def _train_key(split: ProtocolSplit) -> tuple:
    """Trials with equal keys train on the same records (and share models)."""
    return tuple((r.path, r.pid, r.camid, r.factor, r.res_label) for r in split.train)


def _models_for(prof: Profile, train_split: ProtocolSplit, runs_dir, runs: dict[str, str], *, fixed, with_rfd,
                include_baseline, train_if_missing, extra_models, progress) -> dict[str, torch.nn.Module]:
    """B-F, B-R, the optional attention-free baseline and extra models for one training set."""
    models: dict[str, torch.nn.Module] = {}
    if "bf" in fixed:
        models["bf"], runs["B-F"] = fixed["bf"], "given"
    else:
        models["bf"], out = trained.bf_model(prof, train_split, runs_dir, train_if_missing=train_if_missing,
                                               progress=progress)
        runs["B-F"] = str(out)
    if with_rfd and "br" in fixed:
        models["br"], runs["B-R"] = fixed["br"], "given"
    elif with_rfd:
        models["br"], out = trained.br_model(prof, train_split, runs_dir, train_if_missing=train_if_missing,
                                               progress=progress)
        runs["B-R"] = str(out)
    if include_baseline != "no":
        try:
            models["base"], out = trained.bf_model(prof, train_split, runs_dir, attention=False, progress=progress,
                                                     train_if_missing=train_if_missing and include_baseline == "yes")
            runs["baseline"] = str(out)
        except FileNotFoundError:
            pass
    for name, factory in (extra_models or {}).items():
        models[name] = factory(train_split)
    return models


def _extract_once(prof: Profile, splits: list[ProtocolSplit], models: Mapping[str, torch.nn.Module], cache: Path,
                  progress: bool, sizes: Mapping[str, tuple[int, int]] | None = None) -> list[scoring.SplitFeatures]:
    """Features of every (image, factor) met in ``splits``, extracted once per model, then per split.

    Trials only redraw factors among {1, 2, 3, 4}, so the union is far smaller than the sum.
    """
    index: dict[tuple[str, int], int] = {}
    union = []
    for split in splits:
        for r in (*split.query, *split.gallery):
            if (r.path, r.factor) not in index:
                index[(r.path, r.factor)] = len(union)
                union.append(r)
    union_split = dataclasses.replace(splits[0], query=tuple(union), gallery=())
    feats = scoring.extract_split_features(
        union_split, models, height=prof.model.height, width=prof.model.width, batch_size=prof.eval.batch_size,
        flip=prof.eval.flip, interpolation=prof.data.interpolation, cache_dir=cache, progress=progress,
        gallery=False, amp=prof.eval.amp, sizes=sizes)
    out = []
    for split in splits:
        q = torch.tensor([index[(r.path, r.factor)] for r in split.query], dtype=torch.long)
        g = torch.tensor([index[(r.path, r.factor)] for r in split.gallery], dtype=torch.long)
        out.append(scoring.SplitFeatures(split=split, query={k: v[q] for k, v in feats.query.items()},
                                            gallery={k: v[g] for k, v in feats.query.items()}))
    return out


def lambda_sweep(features: list[scoring.SplitFeatures], lams, readings=("similarity", "distance"),
                 feature_model: str = "bf", max_rank: int = 50) -> pd.DataFrame:
    """R1/mAP for each lambda and Eq. 8 reading on already-extracted features (cheap)."""
    rows = []
    for trial, feats in enumerate(features):
        for reading in readings:
            for lam in lams:
                rows.append({"trial": trial, "reading": reading, "lam": float(lam),
                             **scoring.score(feats, feature_model=feature_model, resolution_model="br",
                                                lam=float(lam), reading=reading, max_rank=max_rank)})
    return pd.DataFrame(rows)


def validation_lambda_sweep(prof: Profile, ds: ReidDataset, protocol: str, lams, *, runs_dir: str | Path,
                            readings=("similarity", "distance"), progress: bool = True) -> pd.DataFrame:
    """Eq. 8 for every lambda on the validation identities (carved from trial 0's training set,
    ``prof.data.val_ids``), with trial 0's B-F and B-R: where lambda is chosen, never on test
    trials. On synthetic data with ``protocol="multi_res_gallery"`` the validation gallery is
    drawn at factors {1} + ``factors`` like the test gallery."""
    from reidlab.data.protocols import multi_resolution_validation

    split = make_split(prof, ds, protocol, 0, retrain_per_split=prof.eval.retrain_per_split)
    _, validation = trained.training_split(prof, split)
    if validation is None:
        raise ValueError(f"profile {prof.name!r} holds out no validation identities (data.val_ids = 0): "
                         "lambda cannot be chosen on validation data; set val_ids > 0")
    synthetic = any(r.factor > 1 for r in split.train)
    if protocol == "multi_res_gallery" and synthetic:
        validation = multi_resolution_validation(validation, prof.data.factors, seed=prof.data.seed)
    models = {"bf": trained.bf_model(prof, split, runs_dir, progress=progress)[0],
              "br": trained.br_model(prof, split, runs_dir, progress=progress)[0]}
    feats = scoring.extract_split_features(
        validation, models, height=prof.model.height, width=prof.model.width, batch_size=prof.eval.batch_size,
        flip=prof.eval.flip, interpolation=prof.data.interpolation, cache_dir=Path(runs_dir) / "features",
        progress=progress, amp=prof.eval.amp)
    return lambda_sweep([feats], lams, readings=readings, max_rank=prof.eval.max_rank)


def chosen_lambda(sweep: pd.DataFrame, reading: str, metric: str = "R1") -> float:
    """The lambda with the best mean ``metric`` under ``reading`` (the smallest on ties)."""
    mean = sweep[sweep.reading == reading].groupby("lam")[metric].mean()
    if mean.empty:
        raise ValueError(f"no {reading!r} rows in the sweep")
    return float(mean[mean == mean.max()].index.min())


def wins(per_trial: pd.DataFrame, a: str, b: str, metric: str = "R1") -> int:
    """Trials on which method ``a`` scores strictly higher than ``b``."""
    wide = per_trial.pivot_table(index="trial", columns="method", values=metric)
    return int((wide[a] > wide[b]).sum())
