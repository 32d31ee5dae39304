"""The study's trained models: find the run folder, reuse a finished run, or train it.

Run folders are named by :func:`reidlab.engine.run_identity.run_folder` from each task's
:class:`~reidlab.engine.run_identity.RunSpec` (the engine's one notion of run identity), so a
changed setting never reuses an old checkpoint and an unchanged one never retrains. Each
identity is computed once here and handed to the engine's recipe, which trains or loads it
through :func:`reidlab.engine.train_or_load.train_or_load` (``train_if_missing=False``: load only).
This module is the only place that knows which notebook trains which model.
"""
from __future__ import annotations

import dataclasses
from typing import Any
from pathlib import Path
import torch

from reidlab.config import Profile, override
from reidlab.data.mlr import degradation_kwargs
from reidlab.data.records import ProtocolSplit
from reidlab.engine.run_identity import RunSpec, run_folder

__all__ = ["PRODUCER_NOTEBOOK", "PRETRAIN_FOLDER", "pretraining_run", "pretraining_dir", "uses_pretraining", "with_pretraining", "with_start_weights", "TRAIN_ON", "training_split", "hr_only", "run_dir", "bf_model", "br_model", "untrained_br_model", "ps_hrnet_models", "restorers", "rfd_run", "ps_teacher_run",
           "check_pretrained", "start_label", "ps_start_label", "trained_iterations"]

#: which notebook produces each task's checkpoints
PRODUCER_NOTEBOOK = {
    "bf": "notebooks/01_train_bf.ipynb",
    "br": "notebooks/02_train_br.ipynb",
    "teacher": "notebooks/06_ps_hrnet.ipynb",
    "student": "notebooks/06_ps_hrnet.ipynb",
    "vdsr_warmup": "notebooks/06_ps_hrnet.ipynb",
    "pretrain": "notebooks/01_train_bf.ipynb (ResNet) or notebooks/06_ps_hrnet.ipynb (HRNet)",
}

#: run folder "dataset" of the pre-training stand-in's runs
PRETRAIN_FOLDER = "synthpeople-pretraining"


def _pretraining(prof: Profile, arch: str) -> tuple[Any, str, int, int, tuple[int, int]]:
    """``(spec, network name, height, width, hr_size)`` of the pre-training stand-in run of
    ``prof``'s ResNet (``arch="resnet"``) or HRNet (``"hrnet"``)."""
    from reidlab.recipes.pretraining import pretrain_spec
    from reidlab.recipes.ps_hrnet import ps_input_size

    name = prof.model.backbone if arch == "resnet" else prof.ps.hrnet
    height, width = (prof.model.height, prof.model.width) if arch == "resnet" else ps_input_size(prof)
    height, width = prof.pretrain.height or height, prof.pretrain.width or width   # a lower size of its own
    hr_size = (prof.data.hr_width, prof.data.hr_height)
    return pretrain_spec(prof.pretrain, arch, name, height=height, width=width, hr_size=hr_size), name, height, width, hr_size


def pretraining_dir(prof: Profile, runs_root: str | Path = "runs", *, arch: str = "resnet") -> Path:
    """The run folder :func:`pretraining_run` trains or loads, computed without training."""
    return run_folder(runs_root, prof.name, PRETRAIN_FOLDER, _pretraining(prof, arch)[0])


def pretraining_run(prof: Profile, runs_root: str | Path = "runs", *, arch: str = "resnet",
                    train_if_missing: bool = True, progress: bool = True) -> Path:
    """The run folder of the pre-training stand-in for ImageNet (:mod:`reidlab.recipes.pretraining`)
    of the profile's ResNet (``arch="resnet"``) or PS-HRNet's HRNet (``"hrnet"``), trained
    now when missing (``train_if_missing``)."""
    from reidlab.recipes.pretraining import is_pretrained, pretrain_backbone

    spec, name, height, width, hr_size = _pretraining(prof, arch)
    out = run_folder(runs_root, prof.name, PRETRAIN_FOLDER, spec)
    if not is_pretrained(out, spec):
        pretrain_backbone(prof.pretrain, arch, name, out, data_root=prof.data.data_root, height=height,
                          width=width, hr_size=hr_size, progress=progress, allow_training=train_if_missing,
                          missing_hint=_missing_hint("pretrain"))
    return out


def uses_pretraining(prof: Profile) -> bool:
    """Whether ``prof`` starts from the pre-training stand-in (``pretrained="synthpeople"``)."""
    from reidlab.config import SYNTHETIC_PRETRAINING

    return prof.model.pretrained == SYNTHETIC_PRETRAINING


def with_pretraining(prof: Profile, runs_root: str | Path = "runs", *, arch: str = "resnet",
                     train_if_missing: bool = True, progress: bool = True) -> Profile:
    """``prof`` itself, or, when it starts from the pre-training stand-in
    (``pretrained="synthpeople"``), ``prof`` starting from that run's backbone file (written
    relative to the repository root when it lies inside it, so run identities do not depend
    on where the clone is)."""
    from reidlab.paths import repo_root
    from reidlab.recipes.pretraining import BACKBONE_FILE

    if not uses_pretraining(prof):
        return prof
    weights = pretraining_run(prof, runs_root, arch=arch, train_if_missing=train_if_missing,
                              progress=progress) / BACKBONE_FILE
    try:
        weights = weights.resolve().relative_to(repo_root())
    except ValueError:
        pass
    return override(prof, model={"pretrained": str(weights)})


def run_dir(profile: Profile, spec: RunSpec, runs_root: str | Path = "runs") -> Path:
    """``<runs_root>/<profile>/<dataset>/<task>-<identity digest>``."""
    return run_folder(runs_root, profile.name, profile.data.dataset, spec)


def _missing_hint(task: str) -> str:
    """What to run when a run the study needs is missing and may not be trained here."""
    what = "the pre-training stand-in for ImageNet: " if task == "pretrain" else ""
    return (f"{what}run {PRODUCER_NOTEBOOK.get(task, 'the training notebook')} with the same parameters "
            "first (or pass train_if_missing=True)")


#: what B-F trains on: every training image in HR and at each factor (RFD Sec. 3.1), or HR only
TRAIN_ON: tuple[str, ...] = ("mlr", "hr")


def training_split(prof: Profile, split: ProtocolSplit) -> tuple[ProtocolSplit, ProtocolSplit | None]:
    """``(split without the validation identities, validation split)``: ``prof.data.val_ids``
    training identities held out (none when 0; then the validation split is ``None``).
    Every model of the study trains on the same remaining identities."""
    from reidlab.data.protocols import carve_validation

    if prof.data.val_ids <= 0:
        return split, None
    return carve_validation(split, prof.data.val_ids, seed=prof.data.seed, factors=prof.data.factors)


def hr_only(split: ProtocolSplit) -> ProtocolSplit:
    """``split`` whose training set keeps only the stored (HR) images: a B-F that never saw LR."""
    return dataclasses.replace(split, train=tuple(r for r in split.train if r.factor == 1))


def _bf_setup(prof: Profile, split: ProtocolSplit, runs_root: str | Path, *, attention: bool | None, train_on: str,
              train_if_missing: bool, progress: bool) -> tuple[Profile, ProtocolSplit, ProtocolSplit | None]:
    """B-F's profile (start weights resolved), training split and validation split."""
    from reidlab.choices import check_choice

    check_choice("train_on", train_on, TRAIN_ON)
    if attention is not None:
        prof = override(prof, model={"attention": attention})
    prof = with_start_weights(prof, "bf", runs_root, train_if_missing=train_if_missing, progress=progress)
    train_split, validation = training_split(prof, split)
    if train_on == "hr":
        # as many iterations as the MLR B-F (a length in epochs would halve them on half the images)
        prof = override(prof, bf={"iterations": trained_iterations(prof, split, "bf"), "epochs": 0,
                                  "iterations_per_id": 0})
        train_split = hr_only(train_split)
    return prof, train_split, validation


def bf_model(prof: Profile, split: ProtocolSplit, runs_root: str | Path = "runs", *, attention: bool | None = None,
             train_on: str = "mlr", train_if_missing: bool = True, progress: bool = True
             ) -> tuple[torch.nn.Module, Path]:
    """RFD's B-F (the attention-free "baseline" with ``attention=False``; trained on HR images
    only with ``train_on="hr"``), validated on the held-out training identities as it trains."""
    from reidlab.study.compute.scoring import RankValidator

    prof, train_split, validation = _bf_setup(prof, split, runs_root, attention=attention, train_on=train_on,
                                              train_if_missing=train_if_missing, progress=progress)
    validator = None if validation is None else RankValidator(
        validation, height=prof.model.height, width=prof.model.width, batch_size=prof.eval.batch_size,
        **degradation_kwargs(prof.data), amp=prof.eval.amp)
    return _rfd_model("bf", prof, train_split, validator, runs_root, train_if_missing=train_if_missing,
                      progress=progress)


def rfd_run(task: str, prof: Profile, split: ProtocolSplit, runs_root: str | Path = "runs", *,
            attention: bool | None = None, train_on: str = "mlr") -> Path:
    """The run folder :func:`bf_model` (``task="bf"``) or :func:`br_model` (``"br"``) would train
    or load for these arguments, computed without training anything; the start weights must
    exist (a ``FileNotFoundError`` names what trains them)."""
    from reidlab.choices import check_choice
    from reidlab.recipes import rfd_baselines

    check_choice("task", task, ("bf", "br"))
    if task == "bf":
        prof, train_split, _ = _bf_setup(prof, split, runs_root, attention=attention, train_on=train_on,
                                         train_if_missing=False, progress=False)
    else:
        prof = with_start_weights(prof, "br", runs_root, train_if_missing=False, progress=False)
        train_split, _ = training_split(prof, split)
    spec = {"bf": rfd_baselines.bf_spec, "br": rfd_baselines.br_spec}[task](prof, train_split)
    return run_dir(prof, spec, runs_root)


def br_model(prof: Profile, split: ProtocolSplit, runs_root: str | Path = "runs", *,
             train_if_missing: bool = True, progress: bool = True) -> tuple[torch.nn.Module, Path]:
    """RFD's B-R: the same network trained to classify resolutions, its held-out accuracy
    (validation identities) logged as it trains."""
    from reidlab.study.compute.inspection import ResolutionValidator, held_out_resolution_labels

    prof = with_start_weights(prof, "br", runs_root, train_if_missing=train_if_missing, progress=progress)
    train_split, validation = training_split(prof, split)
    validator = None
    if validation is not None:
        native = not any(r.factor > 1 for r in split.train)
        records, true, _ = held_out_resolution_labels(validation, native, prof.data.factors)
        validator = ResolutionValidator(records, true, height=prof.model.height, width=prof.model.width,
                                        **degradation_kwargs(prof.data), batch_size=prof.eval.batch_size)
    return _rfd_model("br", prof, train_split, validator, runs_root, train_if_missing=train_if_missing,
                      progress=progress)


def _rfd_model(task: str, prof: Profile, train_split: ProtocolSplit, validator: Any, runs_root: str | Path, *,
               train_if_missing: bool, progress: bool) -> tuple[torch.nn.Module, Path]:
    """B-F (``task="bf"``) or B-R (``"br"``) on ``train_split``: its identity computed once,
    its run folder, the engine's train-or-load."""
    from reidlab.recipes import rfd_baselines

    spec = {"bf": rfd_baselines.bf_spec, "br": rfd_baselines.br_spec}[task](prof, train_split)
    out = run_dir(prof, spec, runs_root)
    train = {"bf": rfd_baselines.train_bf, "br": rfd_baselines.train_br}[task]
    model, _ = train(prof, train_split, out, progress=progress, validator=validator, spec=spec,
                     allow_training=train_if_missing, missing_hint=_missing_hint(task))
    return model, out


def with_start_weights(prof: Profile, task: str, runs_root: str | Path = "runs", *,
                       train_if_missing: bool = True, progress: bool = True) -> Profile:
    """``prof`` with the weights ``task`` ("bf" or "br") starts from resolved
    (:func:`with_pretraining`); the light B-R starts from random weights and needs none."""
    from reidlab.choices import check_choice

    check_choice("task", task, ("bf", "br"))
    if task == "br" and prof.model.br_network == "light":
        return prof
    return with_pretraining(prof, runs_root, train_if_missing=train_if_missing, progress=progress)


def untrained_br_model(prof: Profile, split: ProtocolSplit, runs_root: str | Path = "runs") -> torch.nn.Module:
    """B-R's network as it starts training on ``split`` (seeded; no training): a control."""
    from reidlab.recipes.rfd_baselines import untrained_br

    prof = with_start_weights(prof, "br", runs_root)
    train_split, _ = training_split(prof, split)
    return untrained_br(prof, train_split)


def ps_hrnet_models(prof: Profile, split: ProtocolSplit, runs_root: str | Path = "runs", *,
                    train_if_missing: bool = True, progress: bool = True
                    ) -> tuple[torch.nn.Module, torch.nn.Module, dict[str, Path]]:
    """PS-HRNet's frozen HR teacher and its LR student (VDSR-CA + HRNet-ReID)."""
    from reidlab.recipes.ps_hrnet import (
        student_spec, teacher_spec, train_student, train_teacher, train_vdsr_warmup, vdsr_warmup_spec,
    )

    prof = _ps_profile(prof, runs_root, train_if_missing=train_if_missing, progress=progress)
    split, _ = training_split(prof, split)   # the same training identities as B-F and B-R
    t_spec = teacher_spec(prof, split)
    t_dir = run_dir(prof, t_spec, runs_root)
    teacher, _ = train_teacher(prof, split, t_dir, progress=progress, spec=t_spec, allow_training=train_if_missing,
                               missing_hint=_missing_hint("teacher"))
    dirs = {"teacher": t_dir}
    vdsr = None
    if prof.ps.vdsr_warmup_iterations:
        v_spec = vdsr_warmup_spec(prof, split)
        dirs["vdsr_warmup"] = run_dir(prof, v_spec, runs_root)
        vdsr, _ = train_vdsr_warmup(prof, split, dirs["vdsr_warmup"], progress=progress, spec=v_spec,
                                    allow_training=train_if_missing, missing_hint=_missing_hint("vdsr_warmup"))
    s_spec = student_spec(prof, split, teacher, vdsr_start=vdsr)
    dirs["student"] = run_dir(prof, s_spec, runs_root)
    student, _ = train_student(prof, split, teacher, dirs["student"], progress=progress, spec=s_spec,
                               allow_training=train_if_missing, missing_hint=_missing_hint("student"),
                               vdsr_start=vdsr)
    return teacher, student, dirs


def ps_teacher_run(prof: Profile, split: ProtocolSplit, runs_root: str | Path = "runs") -> Path:
    """The run folder of the teacher :func:`ps_hrnet_models` trains first for these arguments
    (the unit's identity before it is trained: the warm-up's and student's follow from it),
    computed without training; the HRNet's start weights must exist."""
    from reidlab.recipes.ps_hrnet import teacher_spec

    prof = _ps_profile(prof, runs_root, train_if_missing=False, progress=False)
    split, _ = training_split(prof, split)
    return run_dir(prof, teacher_spec(prof, split), runs_root)


def _ps_profile(prof: Profile, runs_root: str | Path, *, train_if_missing: bool, progress: bool) -> Profile:
    """PS-HRNet's profile with the HRNet's start weights resolved (random where the profile
    pre-trains only the ResNet)."""
    if uses_pretraining(prof) and not prof.pretrain.hrnet:
        prof = override(prof, model={"pretrained": None})   # the profile pre-trains only the ResNet
    return with_pretraining(prof, runs_root, arch="hrnet", train_if_missing=train_if_missing, progress=progress)


def restorers(student: torch.nn.Module, dirs: dict[str, Path]) -> dict[str, torch.nn.Module]:
    """The restoration networks of a PS-HRNet unit by name, for
    :func:`~reidlab.study.compute.inspection.restoration_table`: the trained student's VDSR-CA first, and
    VDSR-CA after its restoration-only warm-up where the profile has one (``dirs`` from
    :func:`ps_hrnet_models`)."""
    from reidlab.recipes.ps_hrnet import load_vdsr_warmup

    out = {"VDSR-CA in the trained student": student}
    if "vdsr_warmup" in dirs:
        out["VDSR-CA after its warm-up (before the student)"] = load_vdsr_warmup(dirs["vdsr_warmup"])
    return out


def check_pretrained(prof: Profile, *, mgn: bool = True, hrnet: bool = False) -> None:
    """Fail at once (before any data work) when the profile's ``pretrained`` weights are not
    on this machine: the error names the file, the cache folder it is looked up in and how to
    pre-download it (nothing is downloaded at run time)."""
    from reidlab.config import SYNTHETIC_PRETRAINING
    from reidlab.models.pretrained import hrnet_weights_file, resnet_weights_file

    if prof.model.pretrained == SYNTHETIC_PRETRAINING:
        return   # trained by the study itself when missing
    if mgn:
        resnet_weights_file(prof.model.backbone, prof.model.pretrained)
    if hrnet:
        hrnet_weights_file(prof.ps.hrnet, prof.model.pretrained)


def start_label(prof: Profile) -> str:
    """How the networks start: "ImageNet", "from scratch" or "weights file <name>"."""
    from reidlab.config import SYNTHETIC_PRETRAINING

    pretrained = prof.model.pretrained
    if pretrained is None:
        return "from scratch"
    if pretrained == SYNTHETIC_PRETRAINING:
        return "SynthPeople pre-training (ImageNet stand-in)"
    return "ImageNet" if pretrained == "imagenet" else f"weights file {Path(pretrained).name}"


def ps_start_label(prof: Profile) -> str:
    """How PS-HRNet's HRNet starts (:func:`start_label`, or random weights where the profile
    pre-trains only the ResNet)."""
    if uses_pretraining(prof) and not prof.pretrain.hrnet:
        return "from scratch (random weights)"
    return start_label(prof)


def trained_iterations(prof: Profile, split: ProtocolSplit, task: str) -> int:
    """Iterations B-F (``task="bf"``), B-R (``"br"``) or PS-HRNet's ``"teacher"`` or ``"student"``
    actually train on ``split`` (lengths derived from the training set where the profile says so)."""
    from reidlab.recipes.ps_hrnet import student_schedule, teacher_schedule
    from reidlab.recipes.rfd_baselines import bf_schedule, br_schedule

    schedules = {"bf": bf_schedule, "br": br_schedule, "teacher": teacher_schedule, "student": student_schedule}
    train_split, _ = training_split(prof, split)
    return schedules[task](prof, train_split).iterations
