"""RFD's two baselines on a :class:`~reidlab.data.records.ProtocolSplit`.

* **B-F** (:func:`train_bf`): MGN with channel attention trained on identities: cross
  entropy over the 8 classifiers (Eq. 1) + batch-hard triplet over the 3 global features
  (Eq. 2), P identities x K images per batch (paper 8 x 4).
* **B-R** (:func:`train_br`): the same network trained to classify *resolutions*:
  labels are the training records' ``res_label``, every batch holds all resolution
  classes x K images (paper 4 x 16).

A run directory holds ``config.json`` (the run's :class:`~reidlab.engine.run_identity.RunSpec`:
task, data, model, schedule, split identity, class count) next to
:func:`~reidlab.engine.training_loop.fit`'s files. A finished run with the same identity is
loaded instead of retrained; an unfinished one is resumed; a folder holding a run of
another identity is refused (:class:`~reidlab.engine.run_identity.ConfigMismatchError`) unless
``resume=False``.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reidlab.config import Profile, TrainConfig, resolve_schedule, to_dict, train_identity
from reidlab.data.dataset import ReidImageDataset, build_transforms
from reidlab.data.mlr import degradation_kwargs
from reidlab.data.protocols import relabel
from reidlab.data.records import ProtocolSplit
from reidlab.engine.checkpoint import load_weights
from reidlab.engine.distributed import dist_env
from reidlab.engine.precision import resolve_precision
from reidlab.engine.run_identity import CONFIG_FILE, MODEL_FILE, RunSpec, split_identity, weights_identity
from reidlab.engine.train_or_load import train_or_load
from reidlab.engine.training_loop import (
    VALIDATION_FILE, PeriodicValidation, TrainSummary, Validator, fit, seed_everything,
)
from reidlab.losses import mgn_loss
from reidlab.models.build import rfd_network

__all__ = ["MGNObjective", "bf_schedule", "br_schedule", "bf_spec", "br_spec", "load_bf", "load_br", "task_spec",
           "train_bf", "train_br", "untrained_br"]

_TASK_NAMES: dict[str, str] = {"bf": "B-F", "br": "B-R"}


@dataclass(frozen=True)
class MGNObjective:
    """``loss_fn`` for :func:`fit`: ``mgn_loss`` on a ``(images, labels, index)`` batch.

    The network runs under the caller's autocast; the loss is computed in float32 with
    autocast disabled (batch-hard mining on bf16 distances would be needlessly coarse).
    """

    margin: float
    label_smoothing: float = 0.0

    def __call__(self, model: nn.Module, batch: Sequence[Any]) -> tuple[torch.Tensor, Mapping[str, Any]]:
        images, labels = batch[0], batch[1]
        outputs = model(images)
        as_float = lambda v: v.float() if isinstance(v, torch.Tensor) else [t.float() for t in v]  # noqa: E731
        with torch.autocast(images.device.type, enabled=False):
            outputs = {"logits": as_float(outputs["logits"]), "triplet": as_float(outputs["triplet"])}
            return mgn_loss(outputs, labels, self.margin, self.label_smoothing)


# ------------------------------------------------------------------------- identity

def task_spec(task: str, profile: Profile, train_cfg: TrainConfig, split: ProtocolSplit,
              num_classes: int) -> RunSpec:
    """Everything that determines a task's trained weights (see :mod:`reidlab.engine.run_identity`)."""
    identity_task = task == "bf"
    data = to_dict(profile.data)
    data.pop("data_root")   # where the data lie is not what they are: split_identity hashes their content
    data.pop("mlr")         # the MLR construction is in the training records' factors, which split_identity hashes
    if identity_task:  # B-F never sees resolution labels
        data.pop("pseudo_bins"), data.pop("pseudo_strategy")
    model = {**to_dict(profile.model), "pretrained_weights": weights_identity(profile.model.pretrained)}
    if not model["batched_heads"]:   # the per-head kernels every run before the option used
        model.pop("batched_heads")
    br_width = model.pop("br_width")   # the light B-R's alone
    if model.pop("br_network", "mgn") == "light" and not identity_task:
        # its own small network from random weights: nothing else of the model counts
        model = {"br_network": "light", "br_width": br_width}
    return RunSpec.of(task, profile=profile.name, num_classes=num_classes, data=data,
                      model=model, train=train_identity(train_cfg),
                      split=split_identity(split, with_res_labels=not identity_task))


def bf_schedule(profile: Profile, split: ProtocolSplit) -> TrainConfig:
    """B-F's schedule on ``split`` (lengths derived from the training set, RFD Sec. 4.1)."""
    labels = _identity_labels(split)
    return resolve_precision(resolve_schedule(profile.bf, n_images=len(labels), n_ids=max(labels) + 1))


def br_schedule(profile: Profile, split: ProtocolSplit) -> TrainConfig:
    """B-R's schedule: every resolution class in each batch (P = their number)."""
    labels = _resolution_labels(split)
    cfg = dataclasses.replace(profile.br, p=len(set(labels)))
    return resolve_precision(resolve_schedule(cfg, n_images=len(labels), n_ids=split.n_res_classes))


def bf_spec(profile: Profile, split: ProtocolSplit) -> RunSpec:
    """The identity of B-F trained on ``split`` (the attention-free baseline: a profile with
    ``model.attention=False``)."""
    labels = _identity_labels(split)
    return task_spec("bf", profile, bf_schedule(profile, split), split, max(labels) + 1)


def br_spec(profile: Profile, split: ProtocolSplit) -> RunSpec:
    """The identity of B-R trained on ``split``."""
    return task_spec("br", profile, br_schedule(profile, split), split, split.n_res_classes)


def _identity_labels(split: ProtocolSplit) -> list[int]:
    pids = [r.pid for r in split.train]
    if not pids:
        raise ValueError(f"split {split.dataset}/{split.protocol} trial {split.trial} has no "
                         "training images")
    return relabel(pids)


def _resolution_labels(split: ProtocolSplit) -> list[int]:
    labels = [r.res_label for r in split.train]
    if not labels:
        raise ValueError(f"split {split.dataset}/{split.protocol} trial {split.trial} has no "
                         "training images")
    bad = sorted({c for c in labels if not 0 <= c < split.n_res_classes})
    if bad:
        raise ValueError(f"B-R needs res_label in [0, {split.n_res_classes}) on every training "
                         f"record; found {bad[:5]} (build the split with build_protocol)")
    return labels


# ---------------------------------------------------------------------------- tasks

def train_bf(profile: Profile, split: ProtocolSplit, out_dir: str | os.PathLike[str], *,
             resume: bool = True, progress: bool = True,
             device: str | torch.device | None = None,
             validator: Validator | None = None, spec: RunSpec | None = None,
             allow_training: bool = True, missing_hint: str | None = None) -> tuple[nn.Module, TrainSummary]:
    """Train (or load, or resume) B-F on ``split.train`` identities.

    Args:
        profile: data, model (``model.attention=False``: the attention-free baseline) and
            the ``profile.bf`` schedule (P x K identity batches, triplet margin).
        split: the protocol trial; training pids are relabelled to ``0..C-1``.
        out_dir: run directory (``config.json`` + the trainer's files).
        resume: reuse a finished run / resume an unfinished one with the same config
            (another config in ``out_dir`` raises ``ConfigMismatchError``); ``False``
            retrains from scratch.
        progress: show the tqdm bar.
        device: training device (default: ``cuda:LOCAL_RANK`` if available, else CPU).
        validator: ``validator(model) -> metrics`` on held-out identities, run every
            ``validate_every`` iterations of the schedule; rows go to ``validation.csv``.
        spec: :func:`bf_spec` of ``profile`` and ``split`` when the caller has it already
            (e.g. to name ``out_dir``); computed here otherwise.
        allow_training, missing_hint: see :func:`~reidlab.engine.train_or_load.train_or_load`.

    Returns:
        ``(model in eval mode, summary)``: trained now, on the training device; a finished run
        reused, loaded on ``device`` (default: the CPU, as :func:`load_bf`).
    """
    return _run_task(spec or bf_spec(profile, split), profile, split, Path(out_dir), resume=resume,
                     progress=progress, device=device, validator=validator, allow_training=allow_training,
                     missing_hint=missing_hint)


def train_br(profile: Profile, split: ProtocolSplit, out_dir: str | os.PathLike[str], *,
             resume: bool = True, progress: bool = True,
             device: str | torch.device | None = None,
             validator: Validator | None = None, spec: RunSpec | None = None,
             allow_training: bool = True, missing_hint: str | None = None) -> tuple[nn.Module, TrainSummary]:
    """Train (or load, or resume) B-R: MGN classifying ``split.n_res_classes`` resolutions.

    Each batch holds every resolution class present in the training set (P = their
    number, whatever ``profile.br.p`` says) x ``profile.br.k`` images, so batches are
    balanced over resolutions (paper: 4 x 16). Arguments as :func:`train_bf`
    (``spec``: :func:`br_spec`).
    """
    return _run_task(spec or br_spec(profile, split), profile, split, Path(out_dir), resume=resume,
                     progress=progress, device=device, validator=validator, allow_training=allow_training,
                     missing_hint=missing_hint)


def untrained_br(profile: Profile, split: ProtocolSplit) -> nn.Module:
    """B-R's network as :func:`train_br` would start it on ``split`` (seeded, with the profile's
    starting weights for the MGN network), without any training: a control (eval mode)."""
    spec = br_spec(profile, split)
    seed_everything(profile.br.seed)
    return rfd_network(spec.config["model"], int(spec.config["num_classes"]), pretrained=True).eval()


def load_bf(out_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> nn.Module:
    """The finished B-F model of ``out_dir`` (eval mode) rebuilt from its ``config.json``."""
    return _load_task("bf", Path(out_dir), device)


def load_br(out_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> nn.Module:
    """The finished B-R model of ``out_dir`` (eval mode) rebuilt from its ``config.json``."""
    return _load_task("br", Path(out_dir), device)


# ------------------------------------------------------------------------ internals

#: per task: its schedule and its training labels on a split
_SCHEDULES = {"bf": bf_schedule, "br": br_schedule}
_LABELS = {"bf": _identity_labels, "br": _resolution_labels}


def _run_task(spec: RunSpec, profile: Profile, split: ProtocolSplit, out: Path, *, resume: bool,
              progress: bool, device: str | torch.device | None, validator: Validator | None = None,
              allow_training: bool = True, missing_hint: str | None = None) -> tuple[nn.Module, TrainSummary]:
    cfg = _SCHEDULES[spec.task](profile, split)
    labels = _LABELS[spec.task](split)

    def fit_task(model: nn.Module, _: None) -> tuple[nn.Module, TrainSummary]:
        dataset = ReidImageDataset(
            split.train,
            build_transforms(profile.model.height, profile.model.width, train=True,
                             random_erasing=cfg.random_erasing, pad_crop=cfg.pad_crop),
            labels=labels, **degradation_kwargs(profile.data))
        hook = None
        if validator is not None and cfg.validate_every > 0:
            hook = PeriodicValidation(out / VALIDATION_FILE, model, validator, cfg.validate_every,
                                      cfg.iterations, enabled=dist_env().is_main)
        summary = fit(model, dataset, labels, MGNObjective(cfg.margin, cfg.label_smoothing), cfg,
                      out, resume=resume, progress=progress, desc=_TASK_NAMES[spec.task],
                      device=device, spec=spec, on_iteration=hook)
        return model.eval(), summary

    def load(folder: Path) -> nn.Module:   # as load_bf / load_br: on the CPU unless told otherwise
        return _load_task(spec.task, folder, torch.device(device) if device is not None else "cpu")

    outcome = train_or_load(
        spec, out, load=load, seed=cfg.seed, fit=fit_task, resume=resume, device=device,
        build=lambda _: rfd_network(spec.config["model"], int(spec.config["num_classes"]), pretrained=True),
        allow_training=allow_training, missing_hint=missing_hint)
    return outcome.result, outcome.summary   # type: ignore[return-value]


def _load_task(task: str, out: Path, device: str | torch.device) -> nn.Module:
    config = RunSpec.stored(out)
    if not (out / MODEL_FILE).is_file() or config is None:
        missing = MODEL_FILE if config is not None else CONFIG_FILE
        raise FileNotFoundError(
            f"no trained {_TASK_NAMES[task]} model in {out} (missing {missing}): "
            f"train it first (reidlab.recipes.rfd_baselines.train_{task})")
    if config.get("task") != task:
        raise ValueError(f"{out} holds a {config.get('task')!r} run, not {task!r}")
    model = rfd_network(config["model"], int(config["num_classes"]), pretrained=False)
    load_weights(model, out / MODEL_FILE)
    return model.to(device).eval()
