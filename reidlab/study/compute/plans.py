"""Each notebook's plan: its defaults resolved and the training units it needs, in one function.

A notebook that trains calls its plan function right after
:func:`~reidlab.study.drive.begin.begin` and reads its settings from the plan (how many
PS-HRNet units, whether the attention-free baseline trains, Table 4's datasets, the sweep's
lengths...). The planner (:func:`reidlab.study.drive.units.study_units`) calls the same
function with the pipeline's parameters and lists the plan's :meth:`~NotebookPlan.training_units`
without running the notebook, so what a notebook trains is written once. Every default rule a
plan applies has its home in the compute module of its concern
(:func:`~reidlab.study.compute.rfd_trials.ps_hrnet_units`,
:func:`~reidlab.study.compute.ablations.pseudo_validation_units`, ...).

Plans are registered with their notebook in :mod:`reidlab.study.show.registry`.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from reidlab.choices import INTERPOLATIONS, PROTOCOLS
from reidlab.config import Profile, protocol_kwargs
from reidlab.data import ReidDataset, build_protocol, prepare_dataset
from reidlab.data.records import ProtocolSplit
from reidlab.study.compute import ablations, length_sweep, rfd_trials, summaries
from reidlab.study.compute.controls import second_bf_profile, shuffled_resolution_labels
from reidlab.study.params import FLAT_PARAMETERS, build_profile, declared_defaults, declared_parameters

__all__ = ["UnitRequest", "NotebookPlan", "DatasetPlan", "notebook_namespace", "plan_profile", "bf_training_plan",
           "br_training_plan", "rfd_eval_plan", "ablations_plan", "per_split_plan", "ps_hrnet_plan", "controls_plan",
           "length_sweep_plan", "BFTrainingPlan", "BRTrainingPlan", "RFDEvalPlan", "AblationsPlan", "PerSplitPlan",
           "PSHRNetPlan", "ControlsPlan", "LengthSweepPlan"]


@dataclass(frozen=True)
class UnitRequest:
    """One training unit: what trains (``kind``: ``pretrain``, ``bf``, ``br`` or ``ps_hrnet``), the
    arguments of the study function that trains it (``profile``, ``split``, ``options``:
    ``attention``/``train_on`` for B-F, ``arch`` for pre-training), the notebooks that need it and
    why (``label``), and whether it is trained for a choice not made yet (``speculative``)."""

    kind: str
    profile: Profile
    split: ProtocolSplit | None
    options: tuple[tuple[str, Any], ...] = ()
    notebooks: tuple[str, ...] = ()
    label: str = ""
    speculative: bool = False

    @property
    def option(self) -> dict[str, Any]:
        return dict(self.options)


# --------------------------------------------------------------------------- parameters


def notebook_namespace(notebook: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's parameters as a run sets them: its declared defaults, overridden by those of
    ``params`` it declares (a pipeline's parameters, or the notebook's own ``globals()``)."""
    declared = set(declared_parameters(notebook))
    return {**declared_defaults(notebook), **{k: v for k, v in params.items() if k in declared}}


def plan_profile(ns: Mapping[str, Any], *, task: str = "bf", dataset_default: str | None = None) -> Profile:
    """The profile :func:`~reidlab.study.drive.begin.begin` builds from a notebook's namespace."""
    flat = {name: ns[name] for name in FLAT_PARAMETERS if name in ns}
    if dataset_default is not None and flat.get("dataset") is None:
        flat["dataset"] = dataset_default
    return build_profile(ns["profile"], task=task, **flat)


def _trial_units(notebook: str, prof: Profile, ds: ReidDataset, protocol: str, *, trials: int,
                 units: int | None = None, with_rfd: bool = True, label: str = "",
                 speculative: bool = False) -> Iterator[UnitRequest]:
    """B-F (and B-R) of every unit :func:`~reidlab.study.compute.rfd_trials.run_trials` trains."""
    for unit, uprof, split in rfd_trials.trial_units(prof, ds, protocol, trials=trials, units=units):
        where = f"{label}{ds.name} {protocol} unit {unit}"
        yield UnitRequest("bf", uprof, split, notebooks=(notebook,), label=f"B-F, {where}")
        if with_rfd:
            yield UnitRequest("br", uprof, split, notebooks=(notebook,), label=f"B-R, {where}", speculative=speculative)


def _hr_only_units(notebook: str, prof: Profile, ds: ReidDataset, protocol: str, *, trials: int,
                   label: str = "") -> Iterator[UnitRequest]:
    """The HR-only B-F of every unit (:func:`~reidlab.study.compute.rfd_trials.mlr_training_trials`)."""
    for unit, uprof, split in rfd_trials.trial_units(prof, ds, protocol, trials=trials):
        yield UnitRequest("bf", uprof, split, (("train_on", "hr"),), (notebook,),
                          f"B-F trained on HR only, {label}{ds.name} {protocol} unit {unit}")


def _validation_units(notebook: str, prof: Profile, ds: ReidDataset, protocol: str, units: int | None = None, *,
                      label: str = "", speculative: bool = False) -> Iterator[UnitRequest]:
    """B-F and B-R of every unit :func:`~reidlab.study.compute.rfd_trials.validation_features` evaluates."""
    for unit, uprof, split in rfd_trials.validation_units(prof, ds, protocol, units):
        where = f"{label}{ds.name} validation unit {unit}"
        yield UnitRequest("bf", uprof, split, notebooks=(notebook,), label=f"B-F, {where}")
        yield UnitRequest("br", uprof, split, notebooks=(notebook,), label=f"B-R, {where}", speculative=speculative)


def _started(params: Mapping[str, Any], notebook: str, profile: Profile | None, dataset: ReidDataset | None, *,
             task: str = "bf", dataset_default: str | None = None) -> tuple[dict[str, Any], Profile, ReidDataset]:
    """The namespace, profile and dataset of a plan: those the notebook's ``begin`` gave it, else
    built from ``params`` as ``begin`` would."""
    ns = notebook_namespace(notebook, params)
    prof = profile if profile is not None else plan_profile(ns, task=task, dataset_default=dataset_default)
    return ns, prof, dataset if dataset is not None else prepare_dataset(prof.data, progress=False)


# --------------------------------------------------------------------------- the plans


@dataclass(frozen=True)
class NotebookPlan:
    """What a notebook trains, its settings resolved. ``training_units`` lists its units, in the
    order the notebook trains them."""

    notebook: ClassVar[str] = ""

    def training_units(self) -> Iterator[UnitRequest]:
        return iter(())


@dataclass(frozen=True)
class DatasetPlan(NotebookPlan):
    """The plan of a notebook working on one dataset: its profile and dataset, as ``begin`` gave them."""

    profile: Profile
    dataset: ReidDataset


@dataclass(frozen=True)
class BFTrainingPlan(DatasetPlan):
    """Notebook 01: B-F and the HR-only B-F on trial 0's split, the attention-free baseline where
    ``train_baseline`` says so, and both B-Fs of every unit for the multi-resolution training gain."""

    notebook: ClassVar[str] = "01_train_bf"
    protocol: str
    split: ProtocolSplit
    train_baseline: bool

    def training_units(self) -> Iterator[UnitRequest]:
        nb, prof, split = self.notebook, self.profile, self.split
        yield UnitRequest("bf", prof, split, notebooks=(nb,), label="B-F, trial 0")
        yield UnitRequest("bf", prof, split, (("train_on", "hr"),), (nb,), "B-F trained on HR only")
        if self.train_baseline:
            yield UnitRequest("bf", prof, split, (("attention", False),), (nb,), "baseline (no attention)")
        yield from _trial_units(nb, prof, self.dataset, self.protocol, trials=prof.eval.trials, with_rfd=False)
        yield from _hr_only_units(nb, prof, self.dataset, self.protocol, trials=prof.eval.trials)


def bf_training_plan(params: Mapping[str, Any], *, profile: Profile | None = None,
                     dataset: ReidDataset | None = None) -> BFTrainingPlan:
    ns, prof, ds = _started(params, BFTrainingPlan.notebook, profile, dataset, task="bf")
    split = build_protocol(ns["protocol"], ds, trial=0, **protocol_kwargs(prof))
    return BFTrainingPlan(prof, ds, ns["protocol"], split,
                          rfd_trials.trains_attention_free_baseline(prof, ns.get("train_baseline")))


@dataclass(frozen=True)
class BRTrainingPlan(DatasetPlan):
    """Notebook 02: B-R on the factor classes of trial 0's split and, where a natively
    multi-resolution companion set is shown beside another dataset
    (:func:`~reidlab.study.compute.summaries.multires_companion`), B-R on its pixel-count pseudo-labels."""

    notebook: ClassVar[str] = "02_train_br"
    split: ProtocolSplit
    companion: ReidDataset | None            # the natively multi-resolution set shown (the dataset itself, or none)
    companion_profile: Profile | None        # ... with its profile and split where it is another set
    companion_split: ProtocolSplit | None

    @property
    def trains_pseudo_br(self) -> bool:
        """Whether a second B-R trains on the companion set's pseudo-labels."""
        return self.companion_split is not None

    def training_units(self) -> Iterator[UnitRequest]:
        yield UnitRequest("br", self.profile, self.split, notebooks=(self.notebook,), label="B-R, factor classes")
        if self.trains_pseudo_br:
            yield UnitRequest("br", self.companion_profile, self.companion_split, notebooks=(self.notebook,),
                              label=f"B-R, pseudo-labels ({self.companion.name})")


def br_training_plan(params: Mapping[str, Any], *, profile: Profile | None = None,
                     dataset: ReidDataset | None = None) -> BRTrainingPlan:
    ns, prof, ds = _started(params, BRTrainingPlan.notebook, profile, dataset, task="br")
    split = build_protocol(ns["protocol"], ds, trial=0, **protocol_kwargs(prof))
    mr = summaries.multires_companion(prof, ds, ns.get("multires_dataset"), ns.get("multires_root"))
    if mr is None or mr is ds:
        return BRTrainingPlan(prof, ds, split, mr, None, None)
    mr_prof = ablations.dataset_profile(prof, mr.name, ns.get("multires_root"))
    return BRTrainingPlan(prof, ds, split, mr, mr_prof,
                          build_protocol(ns["protocol"], mr, trial=0, **protocol_kwargs(mr_prof)))


@dataclass(frozen=True)
class RFDEvalPlan(DatasetPlan):
    """Notebook 03: B-F and B-R of every unit its trials evaluate; nothing with explicit checkpoints."""

    notebook: ClassVar[str] = "03_rfd_eval"
    protocol: str
    n_units: int                             # independently trained units the trials spread over
    explicit_checkpoints: bool
    train_if_missing: bool                   # None resolved: train in smoke/quick, refuse in paper

    def training_units(self) -> Iterator[UnitRequest]:
        if not self.explicit_checkpoints:
            yield from _trial_units(self.notebook, self.profile, self.dataset, self.protocol,
                                    trials=self.profile.eval.trials)


def rfd_eval_plan(params: Mapping[str, Any], *, profile: Profile | None = None,
                  dataset: ReidDataset | None = None) -> RFDEvalPlan:
    ns, prof, ds = _started(params, RFDEvalPlan.notebook, profile, dataset)
    given = ns.get("train_if_missing")
    return RFDEvalPlan(prof, ds, ns["protocol"], rfd_trials.replication_units(prof, ds),
                       bool(ns.get("bf_dir") or ns.get("br_dir")),
                       prof.name != "paper" if given is None else bool(given))


@dataclass(frozen=True)
class AblationsPlan(NotebookPlan):
    """Notebook 04: Table 4's B-Fs per dataset and interpolation (B-R with bicubic), lambda's
    validation units, and on the CAVIAR-like set the B-Rs of every candidate pseudo-label setting
    (the validation units that choose it, and Table 5's units for whichever is chosen)."""

    notebook: ClassVar[str] = "04_ablations"
    profile: Profile                         # the base profile
    table4_sets: Mapping[str, Profile]
    caviar: Profile
    pseudo_val_units: int | None             # None: every unit
    pseudo_candidates: tuple[tuple[str, int], ...]   # (strategy, bins)

    def training_units(self) -> Iterator[UnitRequest]:
        nb, trials = self.notebook, self.profile.eval.trials
        for set_name, prof in self.table4_sets.items():
            ds = prepare_dataset(prof.data, progress=False)
            for interp in INTERPOLATIONS:
                p = ablations.ablation_profile(prof, interpolation=interp)
                yield from _trial_units(nb, p, ds, "lr_query", trials=trials, with_rfd=interp == "bicubic",
                                        label=f"Table 4 ({set_name}, {interp}), ")
                if interp == "bicubic":
                    yield from _trial_units(nb, p, ds, "multi_res_gallery", trials=trials,
                                            label=f"Table 4 ({set_name}), ")
            if set_name == "Market-like":
                yield from _validation_units(nb, prof, ds, "multi_res_gallery", label="lambda on validation, ")
        cav_ds = prepare_dataset(self.caviar.data, progress=False)
        for strategy, bins in self.pseudo_candidates:
            p = ablations.ablation_profile(self.caviar, pseudo_bins=bins, pseudo_strategy=strategy)
            yield from _validation_units(nb, p, cav_ds, "multi_res_gallery", self.pseudo_val_units,
                                         label=f"pseudo-labels {strategy} {bins} bins, ")
            for protocol in PROTOCOLS:   # Table 5 with whichever setting is chosen
                yield from _trial_units(nb, p, cav_ds, protocol, trials=trials, speculative=True,
                                        label=f"Table 5 if {strategy} {bins} bins are chosen, ")


def _pseudo_candidates(ns04: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    return tuple((strategy, int(bins)) for strategy in ns04["pseudo_strategies"] for bins in ns04["pseudo_bin_counts"])


def ablations_plan(params: Mapping[str, Any], *, profile: Profile | None = None) -> AblationsPlan:
    ns = notebook_namespace(AblationsPlan.notebook, params)
    base = profile if profile is not None else plan_profile(ns)
    sets = ablations.table4_sets(base, ns["market_dataset"], ns.get("market_root"), ns["duke_dataset"],
                                 ns.get("duke_root"), with_duke=ablations.with_second_table4_set(base, ns.get("with_duke")))
    return AblationsPlan(base, sets, ablations.dataset_profile(base, ns["caviar_dataset"], ns.get("caviar_root")),
                         ablations.pseudo_validation_units(base, ns.get("pseudo_val_units")), _pseudo_candidates(ns))


@dataclass(frozen=True)
class PerSplitPlan(DatasetPlan):
    """Notebook 05: B-F and B-R of every unit of Fig. 5's trials on the CAVIAR-like set, for the
    pseudo-label bins given, or (speculatively) for every candidate notebook 04 may choose."""

    notebook: ClassVar[str] = "05_per_split_plot"
    bins_candidates: tuple[int, ...]
    speculative: bool

    def training_units(self) -> Iterator[UnitRequest]:
        for bins in self.bins_candidates:   # the bins notebook 04 chooses (pipeline: chosen_settings)
            p = ablations.ablation_profile(self.profile, pseudo_bins=bins)
            yield from _trial_units(self.notebook, p, self.dataset, "multi_res_gallery", trials=self.profile.eval.trials,
                                    speculative=self.speculative, label=f"Fig. 5 if {bins} bins are chosen, ")


def per_split_plan(params: Mapping[str, Any], *, profile: Profile | None = None,
                   dataset: ReidDataset | None = None) -> PerSplitPlan:
    ns, prof, ds = _started(params, PerSplitPlan.notebook, profile, dataset, dataset_default="synth-caviar")
    given = ns.get("pseudo_bins")
    if given is not None:
        return PerSplitPlan(prof, ds, (int(given),), False)
    ns04 = notebook_namespace(AblationsPlan.notebook, params)
    return PerSplitPlan(prof, ds, tuple(b for s, b in _pseudo_candidates(ns04) if s == prof.data.pseudo_strategy), True)


@dataclass(frozen=True)
class PSHRNetPlan(DatasetPlan):
    """Notebook 06: PS-HRNet (teacher, VDSR-CA warm-up, student) and B-F/B-R beside it on
    ``n_units`` independently trained units, evaluated on their share of the study's trials."""

    notebook: ClassVar[str] = "06_ps_hrnet"
    protocols: tuple[str, ...]
    n_units: int
    trials: int

    def training_units(self) -> Iterator[UnitRequest]:
        prof, ds = self.profile, self.dataset
        for protocol in self.protocols:
            yield from _trial_units(self.notebook, prof, ds, protocol, trials=self.trials, units=self.n_units)
            for unit, uprof, split in rfd_trials.trial_units(prof, ds, protocol, trials=self.trials, units=self.n_units):
                yield UnitRequest("ps_hrnet", uprof, split, notebooks=(self.notebook,),
                                  label=f"PS-HRNet (teacher, VDSR-CA warm-up, student), {ds.name} {protocol} unit {unit}")


def ps_hrnet_plan(params: Mapping[str, Any], *, profile: Profile | None = None,
                  dataset: ReidDataset | None = None) -> PSHRNetPlan:
    ns, prof, ds = _started(params, PSHRNetPlan.notebook, profile, dataset)
    n_units = rfd_trials.ps_hrnet_units(prof, ds, ns.get("ps_units"))
    return PSHRNetPlan(prof, ds, tuple(ns["protocols"]), n_units, rfd_trials.trials_for_units(prof, ds, n_units))


@dataclass(frozen=True)
class ControlsPlan(DatasetPlan):
    """Notebook 07: B-F and B-R of every unit, and per unit a B-R on shuffled resolution labels
    and a second B-F (the next training seed) where asked."""

    notebook: ClassVar[str] = "07_controls"
    protocols: tuple[str, ...]
    n_units: int
    second_bf: bool
    shuffled_br: bool

    def training_units(self) -> Iterator[UnitRequest]:
        nb, prof, ds = self.notebook, self.profile, self.dataset
        for protocol in self.protocols:
            yield from _trial_units(nb, prof, ds, protocol, trials=prof.eval.trials)
            for unit, uprof, split in rfd_trials.trial_units(prof, ds, protocol, trials=prof.eval.trials):
                if self.shuffled_br:
                    yield UnitRequest("br", uprof, shuffled_resolution_labels(split, prof.data.seed),
                                      notebooks=(nb,), label=f"B-R on shuffled labels, {protocol} unit {unit}")
                if self.second_bf:
                    yield UnitRequest("bf", second_bf_profile(prof, ds, unit, self.n_units), split, notebooks=(nb,),
                                      label=f"second B-F, {protocol} unit {unit}")


def controls_plan(params: Mapping[str, Any], *, profile: Profile | None = None,
                  dataset: ReidDataset | None = None) -> ControlsPlan:
    ns, prof, ds = _started(params, ControlsPlan.notebook, profile, dataset)
    return ControlsPlan(prof, ds, tuple(ns["protocols"]), rfd_trials.replication_units(prof, ds),
                        bool(ns.get("second_bf", True)), bool(ns.get("shuffled_br", True)))


@dataclass(frozen=True)
class LengthSweepPlan(DatasetPlan):
    """Notebook 09: at every training length, B-F and B-R of every unit on both protocols and the
    HR-only B-F of every unit on LR queries."""

    notebook: ClassVar[str] = "09_training_length_sweep"
    lengths: tuple[int, ...]                 # epochs of B-F's training set

    def training_units(self) -> Iterator[UnitRequest]:
        for epochs in self.lengths:
            p = length_sweep.length_profile(self.profile, epochs)
            label = f"{epochs} epochs, "
            for protocol in length_sweep.sweep_protocols():
                yield from _trial_units(self.notebook, p, self.dataset, protocol, trials=p.eval.trials, label=label)
                if protocol == length_sweep.LR_QUERY:
                    yield from _hr_only_units(self.notebook, p, self.dataset, protocol, trials=p.eval.trials,
                                              label=label)


def length_sweep_plan(params: Mapping[str, Any], *, profile: Profile | None = None,
                      dataset: ReidDataset | None = None) -> LengthSweepPlan:
    ns, prof, ds = _started(params, LengthSweepPlan.notebook, profile, dataset)
    lengths: Sequence[int] = ns["lengths"] if ns.get("lengths") is not None else length_sweep.default_lengths(prof)
    return LengthSweepPlan(prof, ds, tuple(int(n) for n in lengths))
