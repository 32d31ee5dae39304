"""The study's notebooks, each registered once: its result builder, its plan and its headline keys.

One :class:`NotebookEntry` per numbered notebook, declared together in :data:`_ENTRIES` (or added
with :func:`register_notebook`, as torchreid registers a dataset). Everything else is derived
from the registry when it is read, never copied:

* :func:`notebooks` (the order ``make reproduce`` runs them, the pipeline's ``--only`` choices,
  the report's sections, the nbval and notebook tests);
* :func:`headline_spec` (the keys of ``results/metrics.json``) and :func:`headline_metrics`;
* :func:`sweep_notebook` (the notebook ``make sweep`` runs apart);
* the training units the planner lists (:func:`reidlab.study.drive.units.study_units` calls each
  entry's ``plan``).

Adding a notebook is its ``.ipynb`` and one :class:`NotebookEntry` (its builder in
:mod:`~reidlab.study.show.notebook_results`, its plan in :mod:`~reidlab.study.compute.plans`).
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reidlab.choices import PROTOCOLS
from reidlab.study.compute import plans
from reidlab.study.show import notebook_results as built
from reidlab.study.show.contract import NotebookResult, read_result

__all__ = ["NotebookEntry", "register_notebook", "unregister_notebook", "notebooks", "entry", "sweep_notebook",
           "headline_spec", "headline_decimals", "headline_metrics", "plan"]


@dataclass(frozen=True)
class NotebookEntry:
    """One notebook of the study.

    Attributes:
        name: ``notebooks/<name>.ipynb`` and ``results/<name>.json``.
        builder: the :mod:`~reidlab.study.show.notebook_results` function that writes its result.
        plan: its plan function (:mod:`~reidlab.study.compute.plans`), called with a run's
            parameters; ``None`` for a notebook that trains nothing.
        headline: ``results/metrics.json`` keys it supplies: key -> metric name in its result, or
            (metric name, scale). Keys are a contract with readers: once added, never renamed.
        decimals: headline keys kept with other than one decimal.
        sweep: run apart by ``make sweep`` (outside ``make reproduce``'s budget).
    """

    name: str
    builder: Callable[..., NotebookResult]
    plan: Callable[..., plans.NotebookPlan] | None = None
    headline: Mapping[str, str | tuple[str, float]] = field(default_factory=dict)
    decimals: Mapping[str, int] = field(default_factory=dict)
    sweep: bool = False


def _controls_keys(suffix: str = "") -> dict[str, str]:
    return {f"control_gain_r1_{p}_{c}{suffix}": f"control_gain_r1_{p}_{c}{suffix}" for p in PROTOCOLS
            for c in ("euclidean", "resolution_oracle", "camera_oracle", "untrained_br", "shuffled_br",
                      "second_bf_subtracted", "second_bf_ensemble")}


def _same(*names: str) -> dict[str, str]:
    """Headline keys named as the notebook's metrics."""
    return {name: name for name in names}


_CI = ("", "_ci_low", "_ci_high")

_ENTRIES: dict[str, NotebookEntry] = {e.name: e for e in (
    NotebookEntry(
        "00_data_synthesis", built.data_synthesis_result,
        # how well a pixel-statistics classifier names the camera of an image of the study's dataset, identities
        # disjoint (Cohen's kappa; reidlab/data/camera_cue.py): on all images and at 96 images, the size the real
        # reference sets are compared at
        headline=_same("camera_cue_kappa", "camera_cue_kappa_matched"),
        decimals={"camera_cue_kappa": 2, "camera_cue_kappa_matched": 2}),
    NotebookEntry(
        "01_train_bf", built.bf_training_result, plans.bf_training_plan,
        # B-F and the HR-only B-F on LR queries, mean over every trial and unit, and the multi-resolution training
        # gain (B-F minus HR-only B-F) over independent units with its 95% interval
        headline=_same("bf_hr_to_hr_r1", "bf_lr_to_hr_r1", "hr_only_bf_hr_to_hr_r1", "hr_only_bf_lr_to_hr_r1",
                       "bf_val_r1", "bf_lr_to_hr_r1_mean", "hr_only_bf_lr_to_hr_r1_mean",
                       *(f"mlr_gain_r1_lr_query{s}" for s in _CI), "mlr_gain_units_lr_query",
                       # ... and on HR queries (each unit's first split): what multi-resolution training costs them
                       "bf_hr_to_hr_r1_mean", "hr_only_bf_hr_to_hr_r1_mean",
                       *(f"mlr_gain_r1_hr_query{s}" for s in _CI), "mlr_gain_units_hr_query")),
    NotebookEntry(
        "02_train_br", built.br_training_result, plans.br_training_plan,
        # balanced: mean recall over the classes present; majority: the score of always naming the most
        # frequent class
        headline=_same("br_accuracy", "br_chance", "br_pseudo_accuracy", "br_pseudo_chance",
                       "br_pseudo_balanced_accuracy", "br_pseudo_majority")),
    NotebookEntry(
        "03_rfd_eval", built.rfd_eval_result, plans.rfd_eval_plan,
        # standard deviation of B-F's LR->HR rank-1 between independent units: the spread `make check-results`
        # derives its tolerances from (reidlab/study/compute/check.py)
        headline={"bf_lr_to_hr_r1_unit_std": "bf_r1_std"}),
    NotebookEntry(
        "04_ablations", built.ablations_result, plans.ablations_plan,
        # lambda chosen on validation identities for the study's Eq. 8 reading; RFD's gain on the CAVIAR-like set
        # over retrained identity splits (Table 5): Single-Reso (lr_query) and Multi-Reso (multi_res_gallery),
        # and the pseudo-label bins chosen on validation; the pseudo-label B-R of every retrained split on its
        # held-out images, their confusions pooled, and the mean and spread over the splits (issue 33: one B-R's
        # balanced accuracy rests on 1 to 5 images of its rarest bins)
        headline={**_same("lambda_chosen", "pseudo_bins_chosen"),
                  **_same("br_pseudo_balanced_accuracy_pooled", "br_pseudo_balanced_accuracy_unit_mean",
                          "br_pseudo_balanced_accuracy_unit_std", "br_pseudo_units"),
                  **_same(*(f"rfd_gain_r1_caviar_{p}{s}" for p in PROTOCOLS for s in _CI)),
                  **_same(*(f"rfd_gain_units_caviar_{p}" for p in PROTOCOLS))},
        decimals={"lambda_chosen": 2, "pseudo_bins_chosen": 0, "br_pseudo_units": 0}),
    NotebookEntry("05_per_split_plot", built.per_split_result, plans.per_split_plan),
    NotebookEntry(
        "06_ps_hrnet", built.ps_hrnet_result, plans.ps_hrnet_plan,
        # its standard deviation between independently trained units (null from one unit) is check-results'
        # tolerance for it; MAE: mean absolute error to the HR image, in percent of the intensity range
        headline={"ps_hrnet_lr_to_hr_r1": "ps_hrnet_lr_query_r1",
                  "ps_hrnet_lr_to_hr_r1_unit_std": "ps_hrnet_lr_query_r1_unit_std",
                  "vdsr_mae": ("vdsr_mae", 100.0), "interp_mae": ("interp_mae", 100.0),
                  "vdsr_warmup_mae": ("vdsr_warmup_mae", 100.0),
                  **_same("vdsr_psnr", "interp_psnr", "vdsr_warmup_psnr")}),
    NotebookEntry(
        "07_controls", built.controls_result, plans.controls_plan,
        # RFD's gain over B-F on the profile's dataset: mean over independent units, the 95% interval (null when
        # not testable: fewer than 3 units or no variance) and the units; each control's rank-1 change against
        # B-F alone (reidlab/study/compute/controls.py) and its standard deviation between the units
        headline={**_same(*(f"rfd_gain_r1_{p}{s}" for p in PROTOCOLS for s in _CI)),
                  **_same(*(f"rfd_gain_units_{p}" for p in PROTOCOLS)),
                  **_controls_keys(), **_controls_keys("_unit_std")}),
    NotebookEntry("08_ranking_explorer", built.explorer_result),
    NotebookEntry(
        "09_training_length_sweep", built.length_sweep_result, plans.length_sweep_plan,
        # make sweep: results/sweep/ only. Lengths swept, and at the longest B-F's LR-query rank-1, RFD's gain
        # and the multi-resolution training gain with their 95% intervals
        headline=_same("sweep_lengths", "sweep_bf_lr_to_hr_r1_longest",
                       *(f"sweep_{g}_r1_lr_query_longest{s}" for g in ("rfd_gain", "mlr_gain") for s in _CI)),
        sweep=True),
)}


def register_notebook(new: NotebookEntry) -> NotebookEntry:
    """Add a notebook to the study (after the registered ones); its name and headline keys must be new."""
    if new.name in _ENTRIES:
        raise ValueError(f"notebook {new.name!r} is registered already")
    taken = set(headline_spec())
    clash = sorted(taken & set(new.headline))
    if clash:
        raise ValueError(f"notebook {new.name!r}: headline keys {clash} belong to another notebook")
    _ENTRIES[new.name] = new
    return new


def unregister_notebook(name: str) -> None:
    """Remove a registered notebook (tests that register one of their own)."""
    del _ENTRIES[name]


def notebooks() -> tuple[str, ...]:
    """The numbered notebooks, in order: ``make reproduce`` runs them all but :func:`sweep_notebook`."""
    return tuple(sorted(_ENTRIES))


def entry(name: str) -> NotebookEntry:
    """The registered notebook ``name``; a ``ValueError`` listing them otherwise."""
    try:
        return _ENTRIES[name]
    except KeyError:
        raise ValueError(f"notebook={name!r} is not one of: {', '.join(notebooks())}") from None


def sweep_notebook() -> str:
    """The training-length sweep (issue 33), run apart by ``make sweep``."""
    (name,) = [e.name for e in _ENTRIES.values() if e.sweep]
    return name


def plan(name: str, params: Mapping[str, Any]) -> plans.NotebookPlan | None:
    """The plan of notebook ``name`` for a run's ``params``; ``None`` if it trains nothing."""
    make = entry(name).plan
    return None if make is None else make(params)


def headline_spec() -> dict[str, tuple[str, str, float]]:
    """``results/metrics.json``'s keys: key -> (notebook, metric in its result, scale)."""
    out: dict[str, tuple[str, str, float]] = {}
    for e in _ENTRIES.values():
        for key, source in e.headline.items():
            metric, scale = (source, 1.0) if isinstance(source, str) else source
            out[key] = (e.name, metric, float(scale))
    return out


def headline_decimals() -> dict[str, int]:
    """Headline keys that are not percentages keep more (or fewer) decimals than one."""
    return {k: v for e in _ENTRIES.values() for k, v in e.decimals.items()}


def headline_metrics(results: str | os.PathLike[str], wall_seconds: float | None = None) -> dict[str, float | None]:
    """The flat ``metrics.json`` object: every :func:`headline_spec` key (``None`` where its notebook
    has not written a result), one decimal (:func:`headline_decimals` for the others), plus
    ``reproduce_minutes``."""
    results = Path(results)
    cache: dict[str, NotebookResult | None] = {}
    decimals = headline_decimals()
    out: dict[str, float | None] = {}
    for key, (notebook, metric, scale) in headline_spec().items():
        if notebook not in cache:
            path = results / f"{notebook}.json"
            cache[notebook] = read_result(path) if path.is_file() else None
        value = cache[notebook].metrics.get(metric) if cache[notebook] is not None else None
        digits = decimals.get(key, 1)
        out[key] = None if value is None or not math.isfinite(value) else round(float(value) * scale, digits)
    out["reproduce_minutes"] = None if wall_seconds is None else round(wall_seconds / 60, 1)
    return out
