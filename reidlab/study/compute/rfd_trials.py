"""RFD's evaluation over trials: B-F alone and B-F + RFD (Eq. 8) on each protocol split.

The unit of replication is an independently trained model: on fixed-split datasets
(Market-like) a training seed (``EvalConfig.seeds``), on random-split datasets (VIPeR,
CAVIAR...) an identity split with its own B-F and B-R (``EvalConfig.splits``; RFD: 10).
The ``trials`` (factor draws and single-shot gallery picks) are spread over the units
round-robin (trial ``t`` belongs to unit ``t % units``), so each unit's metrics are the
mean over its trials, and statistics (:mod:`reidlab.study.compute.stats`) count units, never trials.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd
import torch
from reidlab.choices import RFD_READINGS
from reidlab.progress import tqdm

from reidlab.config import Profile, override, protocol_kwargs
from reidlab.data import build_protocol, degradation_kwargs
from reidlab.data.records import ProtocolSplit, ReidDataset
from reidlab.study import methods
from reidlab.study.compute import model_store, scoring

#: ``extra_models`` factories: (the unit's profile, the unit's training split, the unit) -> model
ModelFactory = Callable[[Profile, ProtocolSplit, int], torch.nn.Module]


def replication_units(prof: Profile, ds: ReidDataset) -> int:
    """Independently trained units: training seeds on fixed-split data, retrained identity
    splits on random-split data."""
    return prof.eval.seeds if ds.fixed_split else prof.eval.splits


def trains_attention_free_baseline(prof: Profile, train_baseline: bool | None) -> bool:
    """Notebook 01's ``train_baseline``: also train the paper's attention-free B-F, by default in the
    ``smoke`` profile only (it costs the ``quick`` profile's CPU budget)."""
    return train_baseline if train_baseline is not None else prof.name == "smoke"


def ps_hrnet_units(prof: Profile, ds: ReidDataset, ps_units: int | None) -> int:
    """Notebook 06's ``ps_units``: the independently trained units PS-HRNet (and B-F beside it) is trained
    on; by default every unit the study has (:func:`replication_units`), as B-F and RFD are judged on.
    Issue 33: at 3 units (the earlier default) PS-HRNet against B-F on MLR-VIPeR was -7.8 rank-1 points with
    a 95% interval of [-17.8, +2.3], since the t quantile with 2 degrees of freedom is 4.3 (2.8 with 4)."""
    return ps_units or replication_units(prof, ds)


def unit_kind(ds: ReidDataset) -> str:
    """What one unit of replication is on ``ds`` (for the verdicts' sentences)."""
    return "training seed" if ds.fixed_split else "retrained identity split"


def trials_for_units(prof: Profile, ds: ReidDataset, units: int) -> int:
    """The trials of the study that ``units`` independently trained units evaluate: their share of
    the profile's trials (spread over units as in :func:`run_trials`), at least one each."""
    return max(units, prof.eval.trials * units // replication_units(prof, ds))


def unit_profile(prof: Profile, ds: ReidDataset, unit: int) -> Profile:
    """The profile unit ``unit`` trains with: on fixed-split data the training seeds of B-F,
    B-R and PS-HRNet's teacher and student shifted by ``unit`` (unit 0 is ``prof`` itself);
    on random-split data ``prof`` (the unit is the identity split, see :func:`make_split`)."""
    if not ds.fixed_split or unit == 0:
        return prof
    return override(prof, bf={"seed": prof.bf.seed + unit}, br={"seed": prof.br.seed + unit},
                    ps={"teacher": {"seed": prof.ps.teacher.seed + unit},
                        "student": {"seed": prof.ps.student.seed + unit}})


def make_split(prof: Profile, ds: ReidDataset, protocol: str, trial: int, *, units: int | None = None
               ) -> ProtocolSplit:
    """Trial ``trial`` of ``protocol``: on random-split data its draws over the identity split
    of its unit (``trial % units``, default :func:`replication_units`)."""
    kwargs = protocol_kwargs(prof)
    if not ds.fixed_split:
        kwargs["partition_trial"] = trial % (units or replication_units(prof, ds))
    return build_protocol(protocol, ds, trial=trial, **kwargs)


def trial_units(prof: Profile, ds: ReidDataset, protocol: str, *, trials: int, units: int | None = None
                ) -> list[tuple[int, Profile, ProtocolSplit]]:
    """``(unit, unit profile, training split)`` of every unit :func:`run_trials` trains models for
    (without ``fixed_models``): the split of the unit's first trial, as it is handed to
    :func:`~reidlab.study.compute.model_store.bf_model` and :func:`~reidlab.study.compute.model_store.br_model`."""
    n_units = min(trials, units or replication_units(prof, ds))
    return [(unit, unit_profile(prof, ds, unit), make_split(prof, ds, protocol, unit, units=n_units))
            for unit in range(n_units)]


def validation_units(prof: Profile, ds: ReidDataset, protocol: str, units: int | None = None
                     ) -> list[tuple[int, Profile, ProtocolSplit]]:
    """``(unit, unit profile, split)`` of the first ``units`` units (default all) whose B-F and B-R
    :func:`validation_features` evaluates on their validation identities."""
    return [(unit, unit_profile(prof, ds, unit), make_split(prof, ds, protocol, unit))
            for unit in range(min(units or replication_units(prof, ds), replication_units(prof, ds)))]


@dataclass
class TrialResults:
    """Per-trial metrics plus the features behind them (for sweeps and figures)."""

    per_trial: pd.DataFrame
    features: list[scoring.SplitFeatures] = field(default_factory=list)
    runs: dict[str, str] = field(default_factory=dict)


def run_trials(prof: Profile, ds: ReidDataset, protocol: str, *, trials: int, runs_dir: str | Path,
               lam: float, reading: str, train_if_missing: bool = True, include_baseline: str = "if-exists",
               units: int | None = None, fixed_models: Mapping[str, torch.nn.Module] | None = None,
               extra_models: Mapping[str, ModelFactory] | None = None,
               sizes: Mapping[str, tuple[int, int]] | None = None,
               with_rfd: bool = True, progress: bool = True) -> TrialResults:
    """Evaluate ``methods.BASELINE`` (no attention), ``methods.BF`` and ``methods.BF_RFD`` on ``trials`` splits.

    ``units``: independently trained units (default :func:`replication_units`, at most
    ``trials``); each trains its own models (:func:`unit_profile`) and evaluates its share of
    the trials. ``fixed_models`` ({"bf": ..., "br": ...}) replaces the trained run of that name
    by a given model (then there is one unit). ``include_baseline``: "yes" trains it when
    missing, "if-exists" uses it only when a finished checkpoint exists, "no" skips it.
    ``with_rfd=False`` skips B-R and the "+RFD" rows. ``extra_models`` maps a row name to a
    :data:`ModelFactory` (e.g. PS-HRNet); each also gets a "+RFD" row. ``sizes`` gives a model its own
    input size (height, width), e.g. PS-HRNet's; the others use the profile's.
    """
    cache = Path(runs_dir) / "features"
    fixed = dict(fixed_models or {})
    # the units, their profiles and training splits as the planner lists them (reidlab/study/drive/units.py)
    trained_units = [(0, prof, make_split(prof, ds, protocol, 0, units=1))] if fixed else \
        trial_units(prof, ds, protocol, trials=trials, units=units)
    n_units = len(trained_units)
    splits = [make_split(prof, ds, protocol, t, units=n_units) for t in range(trials)]
    runs: dict[str, str] = {}
    per_trial_feats: dict[int, scoring.SplitFeatures] = {}
    for unit, unit_prof, train_split in tqdm(trained_units, desc=f"{protocol}: units",
                                             disable=not progress or n_units == 1):
        trials_of_unit = [t for t in range(trials) if t % n_units == unit]
        models = _models_for(unit_prof, train_split, runs_dir, runs, unit=unit, fixed=fixed,
                             with_rfd=with_rfd, include_baseline=include_baseline,
                             train_if_missing=train_if_missing, extra_models=extra_models, progress=progress)
        group_splits = [splits[t] for t in trials_of_unit]
        for t, feats in zip(trials_of_unit, _extract_once(prof, group_splits, models, cache, progress, sizes)):
            per_trial_feats[t] = feats
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
    per_trial.insert(1, "unit", per_trial["trial"] % n_units)
    per_trial["unit_kind"] = unit_kind(ds) if not fixed else "trained model"
    return TrialResults(per_trial=per_trial, features=feats_all, runs=runs)


def mlr_training_trials(prof: Profile, ds: ReidDataset, protocol: str, *, trials: int, runs_dir: str | Path,
                        progress: bool = True) -> TrialResults:
    """B-F (trained on the multi-resolution set, RFD Sec. 3.1) and :data:`methods.HR_ONLY_BF` (the same
    network trained on the HR images alone, as long) on ``trials`` splits of ``protocol``, each unit
    training both (:func:`run_trials` without B-R): the multi-resolution training gain over independent
    units is ``stats.paired_comparison(per_trial, methods.BF, methods.HR_ONLY_BF)``."""
    def hr_only(unit_prof: Profile, split: ProtocolSplit, unit: int) -> torch.nn.Module:
        return model_store.bf_model(unit_prof, split, runs_dir, train_on="hr", progress=progress)[0]

    return run_trials(prof, ds, protocol, trials=trials, runs_dir=runs_dir, lam=0.0, reading=prof.eval.rfd_reading,
                      include_baseline="no", with_rfd=False, extra_models={methods.HR_ONLY_BF: hr_only},
                      progress=progress)


def hr_query_units(prof: Profile, ds: ReidDataset, protocol: str, *, trials: int, runs_dir: str | Path
                   ) -> pd.DataFrame:
    """B-F and :data:`methods.HR_ONLY_BF` of every unit of :func:`mlr_training_trials` on HR queries
    against the HR gallery of the unit's first split: what multi-resolution training costs HR
    queries, paired over the units with ``stats.paired_comparison(frame, methods.BF, methods.HR_ONLY_BF)``.
    One row per unit and network (``unit``, ``trial``, ``method``, ``unit_kind`` and :func:`scoring.score`'s
    metrics)."""
    from reidlab.study.compute.inspection import hr_query_split

    rows, kind = [], unit_kind(ds)
    for unit, unit_prof, split in trial_units(prof, ds, protocol, trials=trials):
        hr_split = hr_query_split(split)
        for method, train_on in ((methods.BF, "mlr"), (methods.HR_ONLY_BF, "hr")):
            net = model_store.bf_model(unit_prof, split, runs_dir, train_on=train_on)[0]
            rows.append({"unit": unit, "trial": unit, "method": method, "unit_kind": kind,
                         **scoring.bf_score(unit_prof, hr_split, net, cache_dir=Path(runs_dir) / "features")})
    return pd.DataFrame(rows)


def fixed_models(bf_dir: str | None = None, br_dir: str | None = None) -> dict[str, torch.nn.Module]:
    """Explicit checkpoints (notebook 03's ``bf_dir`` / ``br_dir``, relative to the repository root)
    to evaluate instead of the study's trained runs, by role ("bf", "br")."""
    from reidlab.paths import resolve
    from reidlab.recipes.rfd_baselines import load_bf, load_br

    fixed = {}
    if bf_dir:
        fixed["bf"] = load_bf(resolve(bf_dir, name="bf_dir"))
    if br_dir:
        fixed["br"] = load_br(resolve(br_dir, name="br_dir"))
    return fixed


def ps_hrnet_trials(prof: Profile, ds: ReidDataset, protocols, *, trials: int, units: int, runs_dir: str | Path,
                    size: tuple[int, int]) -> tuple[pd.DataFrame, dict[str, TrialResults], dict[str, str]]:
    """B-F, B-F + RFD, PS-HRNet and PS-HRNet + RFD (:func:`run_trials`) on each protocol, PS-HRNet's
    student trained per unit (teacher first) and read at its own input ``size``. Returns the
    per-trial metrics of every protocol (``protocol`` column), the results by protocol and the
    PS-HRNet run folders by role (teacher, student)."""
    ps_runs: dict[str, str] = {}

    def student(unit_prof: Profile, split: ProtocolSplit, unit: int) -> torch.nn.Module:
        _, model, dirs = model_store.ps_hrnet_models(unit_prof, split, runs_dir)
        ps_runs.update({k: str(v) for k, v in dirs.items()})
        return model

    results = {protocol: run_trials(prof, ds, protocol, trials=trials, runs_dir=runs_dir, lam=prof.eval.lam,
                                    reading=prof.eval.rfd_reading, include_baseline="no", units=units,
                                    extra_models={methods.PS_HRNET: student}, sizes={methods.PS_HRNET: size})
               for protocol in protocols}
    per_trial = pd.concat([r.per_trial.assign(protocol=p) for p, r in results.items()], ignore_index=True)
    return per_trial, results, ps_runs


def _models_for(prof: Profile, train_split: ProtocolSplit, runs_dir, runs: dict[str, str], *, unit: int, fixed,
                with_rfd, include_baseline, train_if_missing, extra_models, progress) -> dict[str, torch.nn.Module]:
    """B-F, B-R, the optional attention-free baseline and extra models of one unit."""
    models: dict[str, torch.nn.Module] = {}
    key = lambda name: f"{name} (unit {unit})"  # noqa: E731
    if "bf" in fixed:
        models["bf"], runs[key("B-F")] = fixed["bf"], "given"
    else:
        models["bf"], out = model_store.bf_model(prof, train_split, runs_dir, train_if_missing=train_if_missing,
                                               progress=progress)
        runs[key("B-F")] = str(out)
    if with_rfd and "br" in fixed:
        models["br"], runs[key("B-R")] = fixed["br"], "given"
    elif with_rfd:
        models["br"], out = model_store.br_model(prof, train_split, runs_dir, train_if_missing=train_if_missing,
                                               progress=progress)
        runs[key("B-R")] = str(out)
    if include_baseline != "no":
        try:
            models["base"], out = model_store.bf_model(prof, train_split, runs_dir, attention=False, progress=progress,
                                                     train_if_missing=train_if_missing and include_baseline == "yes")
            runs[key("baseline")] = str(out)
        except FileNotFoundError:
            pass
    for name, factory in (extra_models or {}).items():
        models[name] = factory(prof, train_split, unit)
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
        flip=prof.eval.flip, **degradation_kwargs(prof.data), cache_dir=cache, progress=progress,
        gallery=False, amp=prof.eval.amp, sizes=sizes)
    out = []
    for split in splits:
        q = torch.tensor([index[(r.path, r.factor)] for r in split.query], dtype=torch.long)
        g = torch.tensor([index[(r.path, r.factor)] for r in split.gallery], dtype=torch.long)
        out.append(scoring.SplitFeatures(split=split, query={k: v[q] for k, v in feats.query.items()},
                                            gallery={k: v[g] for k, v in feats.query.items()}))
    return out


def checked_lambdas(values) -> list[float]:
    """Lambdas to sweep or choose from (notebook 04's ``lambdas``), each checked by Eq. 8's one sign
    rule (:func:`reidlab.config.check_lam`, named ``lambdas`` in its errors)."""
    from reidlab.config import check_lam

    return [check_lam(value, name="lambdas") for value in values]


def lambda_sweep(features: list[scoring.SplitFeatures], lams, readings=RFD_READINGS,
                 feature_model: str = "bf", max_rank: int = 50) -> pd.DataFrame:
    """R1/mAP for each lambda and Eq. 8 reading on already-extracted features (cheap).
    Every lambda must be >= 0 (:func:`checked_lambdas`): a sweep chooses Eq. 8's weight."""
    lams = checked_lambdas(lams)
    rows = []
    for trial, feats in enumerate(features):
        for reading in readings:
            for lam in lams:
                rows.append({"trial": trial, "reading": reading, "lam": float(lam),
                             **scoring.score(feats, feature_model=feature_model, resolution_model="br",
                                                lam=float(lam), reading=reading, max_rank=max_rank)})
    return pd.DataFrame(rows)


def validation_lambda_sweep(prof: Profile, ds: ReidDataset, protocol: str, lams, *, runs_dir: str | Path,
                            readings=RFD_READINGS, progress: bool = True) -> pd.DataFrame:
    """Eq. 8 for every lambda on the validation identities (``prof.data.val_ids``, carved from
    each unit's training set) with that unit's B-F and B-R, one row per (unit, reading,
    lambda): where lambda is chosen, never on test trials. On synthetic data with
    ``protocol="multi_res_gallery"`` the validation gallery is drawn at factors {1} +
    ``factors`` like the test gallery."""
    frames = []
    for unit, feats in enumerate(validation_features(prof, ds, protocol, runs_dir=runs_dir, progress=progress)):
        frames.append(lambda_sweep([feats], lams, readings=readings, max_rank=prof.eval.max_rank)
                      .drop(columns="trial").assign(unit=unit))
    return pd.concat(frames, ignore_index=True)


def validation_features(prof: Profile, ds: ReidDataset, protocol: str, *, runs_dir: str | Path,
                        units: int | None = None, progress: bool = True) -> list[scoring.SplitFeatures]:
    """B-F and B-R features of the validation identities of the first ``units`` units (default
    all, :func:`replication_units`), each with its own trained models."""
    from reidlab.data.protocols import multi_resolution_validation

    out = []
    for unit, uprof, split in validation_units(prof, ds, protocol, units):
        _, validation = model_store.training_split(prof, split)
        if validation is None:
            raise ValueError(f"profile {prof.name!r} holds out no validation identities (data.val_ids = 0): "
                             "lambda and pseudo-labels cannot be chosen on validation data; set val_ids > 0")
        synthetic = any(r.factor > 1 for r in split.train)
        if protocol == "multi_res_gallery" and synthetic:
            validation = multi_resolution_validation(validation, prof.data.factors, seed=prof.data.seed)
        models = {"bf": model_store.bf_model(uprof, split, runs_dir, progress=progress)[0],
                  "br": model_store.br_model(uprof, split, runs_dir, progress=progress)[0]}
        out.append(scoring.extract_split_features(
            validation, models, height=prof.model.height, width=prof.model.width, batch_size=prof.eval.batch_size,
            flip=prof.eval.flip, **degradation_kwargs(prof.data), cache_dir=Path(runs_dir) / "features",
            progress=progress, amp=prof.eval.amp))
    return out


def chosen_lambda(sweep: pd.DataFrame, reading: str, metric: str = "R1") -> float:
    """The lambda with the best mean ``metric`` (over units) under ``reading`` (the smallest on ties)."""
    mean = sweep[sweep.reading == reading].groupby("lam")[metric].mean()
    if mean.empty:
        raise ValueError(f"no {reading!r} rows in the sweep")
    return float(mean[mean == mean.max()].index.min())


def wins(per_trial: pd.DataFrame, a: str, b: str, metric: str = "R1") -> int:
    """Units (each the mean over its trials) on which method ``a`` scores strictly higher than ``b``."""
    wide = per_trial.pivot_table(index="unit", columns="method", values=metric, aggfunc="mean")
    return int((wide[a] > wide[b]).sum())
