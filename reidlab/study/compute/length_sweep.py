"""The verdicts against the baselines' strength (issue 33): B-F (trained on the multi-resolution set and on HR
images only) and B-R trained at several lengths, several independently trained units at each, and against
B-F's LR-query rank-1 at each length: RFD's gain on both protocols, the multi-resolution training gain and the
camera and resolution oracles, each over units with its 95% interval.

A length is a number of epochs of B-F's training set; B-R trains the same fraction of its own profile length,
and the pre-training stand-in for ImageNet the same fraction of its own (:func:`length_profile`): in ``quick``
the stand-in is trained within the study's budget, so it is part of the baseline's strength (500 more of its
iterations gave B-F more rank-1 than doubling B-F's length did, ``docs/history.md``), where ImageNet weights
would be a fixed start. At the profile's own length the networks are the study's (the same run identities),
so a sweep that includes it reuses them.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reidlab.choices import PROTOCOLS
from reidlab.config import Profile, override
from reidlab.data.records import ProtocolSplit, ReidDataset
from reidlab.study import methods
from reidlab.study.compute import controls, model_store, rfd_trials as trial_eval, scoring, stats

__all__ = ["DEFAULT_LENGTHS", "QUANTITIES", "sweep_protocols", "default_lengths", "length_profile", "pretraining_in_step",
           "pretraining_iterations", "sweep_trials", "sweep_summary", "sweep_conclusions"]

LR_QUERY, MULTI_RES_GALLERY = PROTOCOLS
#: The lengths (epochs of B-F's training set) each profile sweeps by default: four spanning 30x in ``quick``,
#: its own length (8) among them.
DEFAULT_LENGTHS: dict[str, tuple[int, ...]] = {"smoke": (1, 2), "quick": (1, 3, 8, 30)}
#: Rows of :func:`controls.controls` the sweep scores (B-F alone, RFD, the two oracles).
SWEEP_ROWS = controls.controls(second_bf=False, untrained_br=False, shuffled_br=False)
#: What the sweep reports at each length: ``name -> (protocol, method, compared with)``; ``None`` stands for B-F
#: alone under the study's reading (:func:`controls.baseline_for`).
QUANTITIES: dict[str, tuple[str, str | None, str | None]] = {
    "RFD gain, LR queries": (LR_QUERY, controls.RFD, None),
    "RFD gain, multi-resolution gallery": (MULTI_RES_GALLERY, controls.RFD, None),
    "multi-resolution training gain": (LR_QUERY, None, methods.HR_ONLY_BF),
    "camera oracle": (LR_QUERY, "B-F + camera oracle", None),
    "resolution oracle": (LR_QUERY, "B-F + resolution oracle", None),
}


def sweep_protocols() -> tuple[str, ...]:
    """The protocols the sweep evaluates (RFD's two: :data:`reidlab.choices.PROTOCOLS`)."""
    return PROTOCOLS


def default_lengths(prof: Profile) -> tuple[int, ...]:
    """The profile's sweep lengths (epochs); a profile without them (``paper``: 500 x identities iterations)
    must be given lengths."""
    if prof.name not in DEFAULT_LENGTHS:
        raise ValueError(f"profile {prof.name!r} has no default sweep lengths (epochs of B-F's training set; "
                         f"defaults for: {', '.join(DEFAULT_LENGTHS)}): pass lengths=[...]")
    return DEFAULT_LENGTHS[prof.name]


def _checked_lengths(lengths: Sequence[int]) -> list[int]:
    if not lengths or any(isinstance(e, bool) or not isinstance(e, (int, np.integer)) or e < 1 for e in lengths):
        raise ValueError(f"lengths must be whole numbers of epochs >= 1, got {list(lengths)!r}")
    if len(set(lengths)) != len(lengths):
        raise ValueError(f"lengths must not repeat, got {list(lengths)!r}")
    return sorted(int(e) for e in lengths)


def length_profile(prof: Profile, epochs: int) -> Profile:
    """``prof`` with B-F trained ``epochs`` epochs, and B-R and the pre-training stand-in the same fraction of
    their own lengths (B-R's epochs and its floor ``min_iterations``, at least one epoch; the stand-in's
    iterations and warm-up, :func:`pretraining_in_step`). At ``prof.bf.epochs`` it is ``prof`` itself (the
    study's networks); every other length leaves the rest of the profile as it is. A profile whose B-F or B-R
    length is given in iterations (``smoke``; ``paper``'s 500 x identities) has no length to scale from: it
    trains B-F ``epochs`` epochs, B-R as many epochs of its own set, and keeps its start weights."""
    if prof.bf.epochs == epochs:
        return prof
    if prof.bf.epochs > 0 and prof.br.epochs > 0:
        scale = epochs / prof.bf.epochs
        br = {"epochs": max(1, round(prof.br.epochs * scale)), "min_iterations": round(prof.br.min_iterations * scale)}
        return override(prof, bf={"epochs": epochs, "iterations_per_id": 0}, br=br,
                        pretrain={"schedule": pretraining_in_step(prof, scale)})
    br = {"epochs": epochs, "iterations_per_id": 0, "min_iterations": 0}
    return override(prof, bf={"epochs": epochs, "iterations_per_id": 0}, br=br)


def pretraining_in_step(prof: Profile, scale: float) -> dict[str, int]:
    """The pre-training stand-in's schedule changes that scale its length by ``scale`` (B-F's length over the
    profile's): its iterations (at least one) and its warm-up, so the warm-up keeps its share. A profile that
    starts from other weights (ImageNet, random, a file) trains no stand-in: no change."""
    if not model_store.uses_pretraining(prof):
        return {}
    schedule = prof.pretrain.schedule
    return {"iterations": max(1, round(schedule.iterations * scale)),
            "warmup_iterations": round(schedule.warmup_iterations * scale)}


def pretraining_iterations(prof: Profile) -> int:
    """How many iterations the stand-in that ``prof``'s B-F starts from trains (0: no stand-in)."""
    return prof.pretrain.schedule.iterations if model_store.uses_pretraining(prof) else 0


def _hr_only_factory(runs_dir: str | Path, progress: bool):
    def hr_only(unit_prof: Profile, split: ProtocolSplit, unit: int) -> torch.nn.Module:
        return model_store.bf_model(unit_prof, split, runs_dir, train_on="hr", progress=progress)[0]
    return hr_only


def sweep_trials(prof: Profile, ds: ReidDataset, lengths: Sequence[int], *, trials: int, runs_dir: str | Path,
                 lam: float, reading: str, protocols: Sequence[str] | None = None,
                 progress: bool = True) -> pd.DataFrame:
    """Every sweep row (:data:`SWEEP_ROWS`, and on ``lr_query`` the HR-only B-F) on every trial of each
    protocol at each length: one frame with ``epochs``, ``iterations`` (B-F's), ``pretraining_iterations``
    (the stand-in's B-F starts from), ``protocol``, ``trial``, ``unit`` and the metrics. Each unit trains its
    own B-F, B-R and HR-only B-F at each length."""
    frames = []
    for epochs in _checked_lengths(lengths):
        p = length_profile(prof, epochs)
        for protocol in protocols or sweep_protocols():
            extra = {methods.HR_ONLY_BF: _hr_only_factory(runs_dir, progress)} if protocol == LR_QUERY else {}
            res = trial_eval.run_trials(p, ds, protocol, trials=trials, runs_dir=runs_dir, lam=lam, reading=reading,
                                        include_baseline="no", extra_models=extra, progress=progress)
            unit = res.per_trial.drop_duplicates("trial").set_index("trial")["unit"]
            first = trial_eval.trial_units(p, ds, protocol, trials=trials)[0][2]
            iterations = model_store.trained_iterations(p, first, "bf")
            pretrain = pretraining_iterations(p)
            for trial, feats in enumerate(res.features):
                rows = controls.control_rows(feats, SWEEP_ROWS, lam=lam, reading=reading, max_rank=p.eval.max_rank)
                if methods.HR_ONLY_BF in feats.query:   # ranked as B-F alone is (controls.baseline_for)
                    rows.append({"method": methods.HR_ONLY_BF, "lam": 0.0,
                                 **scoring.score(feats, feature_model=methods.HR_ONLY_BF, resolution_model=None,
                                                 reading=reading, max_rank=p.eval.max_rank)})
                frames.append(pd.DataFrame(rows).assign(epochs=epochs, iterations=iterations,
                                                        pretraining_iterations=pretrain, protocol=protocol,
                                                        trial=trial, unit=int(unit[trial]),
                                                        unit_kind=trial_eval.unit_kind(ds)))
    return pd.concat(frames, ignore_index=True)


def sweep_summary(per_trial: pd.DataFrame, reading: str, metric: str = "R1") -> pd.DataFrame:
    """One row per length and :data:`QUANTITIES` entry: B-F's LR-query rank-1 at that length (mean over units),
    the quantity's mean change over units, its 95% interval (NaN when not testable) and the units."""
    baseline = controls.baseline_for(reading)
    rows = []
    lengths = ["epochs", "iterations", "pretraining_iterations"]
    for (epochs, iterations, pretrain), at_length in per_trial.groupby(lengths, sort=True):
        lr = at_length[at_length.protocol == LR_QUERY]
        bf_r1 = float(scoring.summarise(lr[lr.method == baseline], metrics=(metric,))[f"{metric} mean"].iloc[0])
        for name, (protocol, method, compared) in QUANTITIES.items():
            d = at_length[at_length.protocol == protocol]
            a, b = method or baseline, compared or baseline
            if a not in set(d.method) or b not in set(d.method):
                continue
            cmp = stats.paired_comparison(d, a, b, metric)
            rows.append({"epochs": int(epochs), "iterations": int(iterations),
                         "pre-training iterations": int(pretrain), "B-F LR rank-1": bf_r1,
                         "quantity": name, "change": cmp.mean_diff,
                         "ci_low": cmp.ci_low if cmp.testable else np.nan,
                         "ci_high": cmp.ci_high if cmp.testable else np.nan, "units": cmp.n})
    return pd.DataFrame(rows)


def _interval(row: pd.Series) -> str:
    if np.isnan(row["ci_low"]):
        return f"{row['change']:+.1f} (not testable, {int(row['units'])} units)"
    return f"{row['change']:+.1f} [{row['ci_low']:+.1f}, {row['ci_high']:+.1f}]"


def sweep_conclusions(summary: pd.DataFrame, paper_effect: float) -> list[str]:
    """What the sweep shows, computed from it: B-F's rank-1 over the lengths, and for each quantity its change
    and interval at the shortest and longest length; for RFD's gains, whether the longest length's interval
    holds the paper's own effect (no extrapolation beyond the lengths trained)."""
    if summary.empty:
        return ["The sweep has no results."]
    ends = summary.sort_values("epochs")
    shortest, longest = int(ends.epochs.iloc[0]), int(ends.epochs.iloc[-1])
    at_length = ends.drop_duplicates("epochs").set_index("epochs")
    r1, pretrain = at_length["B-F LR rank-1"], at_length["pre-training iterations"]
    started = (lambda e: f", after {int(pretrain[e])} pre-training iterations") if pretrain.any() else (lambda e: "")
    out = [f"B-F's rank-1 on LR queries goes from {r1[shortest]:.1f}% ({shortest} epochs{started(shortest)}) to "
           f"{r1[longest]:.1f}% ({longest} epochs{started(longest)}) over {len(r1)} lengths."]
    for name, rows in ends.groupby("quantity", sort=False):
        first, last = rows.iloc[0], rows.iloc[-1]
        text = (f"{name}: {_interval(first)} at {shortest} epochs (B-F {first['B-F LR rank-1']:.1f}%), "
                f"{_interval(last)} at {longest} epochs (B-F {last['B-F LR rank-1']:.1f}%)")
        if name.startswith("RFD gain") and not np.isnan(last["ci_low"]):
            where = ("inside" if last["ci_low"] <= paper_effect <= last["ci_high"] else
                     "above" if paper_effect > last["ci_high"] else "below")
            text += f"; the paper's {paper_effect:+.1f} lies {where} the longest length's interval"
        out.append(text + ".")
    return out
