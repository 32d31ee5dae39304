"""RFD's two baselines on a :class:`~reidlab.data.records.ProtocolSplit`.

* **B-F** (:func:`train_bf`): MGN with channel attention trained on identities: cross
  entropy over the 8 classifiers (Eq. 1) + batch-hard triplet over the 3 global features
  (Eq. 2), P identities x K images per batch (paper 8 x 4).
* **B-R** (:func:`train_br`): the same network trained to classify *resolutions*:
  labels are the training records' ``res_label``, every batch holds all resolution
  classes x K images (paper 4 x 16).

A run directory holds ``config.json`` (what determines the weights: task, data, model,
schedule, split identity, class count) next to :func:`~reidlab.engine.trainer.fit`'s
files. A finished run with the same config is loaded instead of retrained; an
unfinished one is resumed; a folder holding a run of another config is refused
(:class:`~reidlab.engine.trainer.ConfigMismatchError`) unless ``resume=False``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reidlab.config import Profile, TrainConfig, override, to_dict
from reidlab.data.dataset import ReidImageDataset, build_transforms
from reidlab.data.protocols import relabel
from reidlab.data.records import ProtocolSplit
from reidlab.engine.checkpoint import atomic_write_json, load_weights, read_json
from reidlab.engine.distributed import barrier, default_device, init_distributed
from reidlab.engine.trainer import (
    MODEL_FILE,
    ConfigMismatchError,
    RESULT_NEUTRAL_FIELDS,
    SUMMARY_FILE,
    TrainSummary,
    fit,
    seed_everything,
)
from reidlab.losses import mgn_loss
from reidlab.models.mgn import build_mgn

__all__ = ["MGNObjective", "PRODUCER_NOTEBOOK", "config_differences", "load_bf", "load_br",
           "same_config", "split_identity", "task_config", "train_bf", "train_br"]

CONFIG_FILE = "config.json"
#: The notebook that produces each task's runs (named in "not trained yet" errors).
PRODUCER_NOTEBOOK: dict[str, str] = {
    "bf": "notebooks/01_train_bf.ipynb",
    "br": "notebooks/02_train_br.ipynb",
}
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
        with torch.autocast(images.device.type, enabled=False):
            outputs = {"logits": [t.float() for t in outputs["logits"]],
                       "triplet": [t.float() for t in outputs["triplet"]]}
            return mgn_loss(outputs, labels, self.margin, self.label_smoothing)


# -------------------------------------------------------------------------- configs

def split_identity(split: ProtocolSplit, *, with_res_labels: bool = True) -> dict[str, Any]:
    """Dataset, training size and a hash of the training records.

    Protocol and trial are not part of it: both protocols (and every trial of one identity
    partition) train on the same records. B-F never sees resolution labels, so its identity
    leaves them out (``with_res_labels=False``) and pseudo-label settings never retrain it.
    """
    digest = hashlib.sha256()
    for r in split.train:
        label = r.res_label if with_res_labels else ""
        digest.update(f"{r.path}|{r.pid}|{r.camid}|{r.factor}|{label}\n".encode())
    out = {"dataset": split.dataset, "n_train": len(split.train), "train_sha256": digest.hexdigest()[:16]}
    if with_res_labels:
        out["n_res_classes"] = split.n_res_classes
    return out


def task_config(task: str, profile: Profile, train_cfg: TrainConfig, split: ProtocolSplit,
                num_classes: int) -> dict[str, Any]:
    """Everything that determines a task's trained weights, as plain JSON data."""
    identity_task = task == "bf"
    data = to_dict(profile.data)
    if identity_task:  # B-F never sees resolution labels
        data.pop("pseudo_bins"), data.pop("pseudo_strategy")
    config = {
        "task": task, "profile": profile.name, "num_classes": num_classes,
        "data": data, "model": to_dict(profile.model),
        "train": to_dict(train_cfg), "split": split_identity(split, with_res_labels=not identity_task),
    }
    return json.loads(json.dumps(config))  # tuples -> lists, as read back from the file


def _comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    trimmed = {k: v for k, v in config.items() if k != "profile"}
    trimmed["train"] = {k: v for k, v in config.get("train", {}).items()
                        if k not in RESULT_NEUTRAL_FIELDS}
    return trimmed


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any],
                       prefix: str = "") -> list[str]:
    """``["train.lr: 0.0002 -> 0.001", ...]``: what changes the weights between two configs
    (profile name, workers, checkpoint and log intervals do not)."""
    if not prefix:
        stored, current = _comparable(stored), _comparable(current)
    changes: list[str] = []
    for key in sorted(set(stored) | set(current)):
        a, b = stored.get(key), current.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            changes += config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            changes.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return changes


def same_config(stored: Mapping[str, Any] | None, current: Mapping[str, Any]) -> bool:
    """Whether two task configs train the same weights (see :func:`config_differences`)."""
    return isinstance(stored, Mapping) and not config_differences(stored, current)


# ---------------------------------------------------------------------------- tasks

def train_bf(profile: Profile, split: ProtocolSplit, out_dir: str | os.PathLike[str], *,
             attention: bool | None = None, resume: bool = True, progress: bool = True,
             device: str | torch.device | None = None) -> tuple[nn.Module, TrainSummary]:
    """Train (or load, or resume) B-F on ``split.train`` identities.

    Args:
        profile: data, model (``attention`` overrides ``profile.model.attention``) and
            the ``profile.bf`` schedule (P x K identity batches, triplet margin).
        split: the protocol trial; training pids are relabelled to ``0..C-1``.
        out_dir: run directory (``config.json`` + the trainer's files).
        resume: reuse a finished run / resume an unfinished one with the same config
            (another config in ``out_dir`` raises ``ConfigMismatchError``); ``False``
            retrains from scratch.
        progress: show the tqdm bar.
        device: training device (default: ``cuda:LOCAL_RANK`` if available, else CPU).

    Returns:
        ``(model in eval mode, summary)``.
    """
    if attention is not None:
        profile = override(profile, model={"attention": attention})
    pids = [r.pid for r in split.train]
    if not pids:
        raise ValueError(f"split {split.dataset}/{split.protocol} trial {split.trial} has no "
                         "training images")
    labels = relabel(pids)
    return _run_task("bf", profile, profile.bf, split, labels, max(labels) + 1, Path(out_dir),
                     resume=resume, progress=progress, device=device)


def train_br(profile: Profile, split: ProtocolSplit, out_dir: str | os.PathLike[str], *,
             resume: bool = True, progress: bool = True,
             device: str | torch.device | None = None) -> tuple[nn.Module, TrainSummary]:
    """Train (or load, or resume) B-R: MGN classifying ``split.n_res_classes`` resolutions.

    Each batch holds every resolution class present in the training set (P = their
    number, whatever ``profile.br.p`` says) x ``profile.br.k`` images, so batches are
    balanced over resolutions (paper: 4 x 16). Arguments as :func:`train_bf`.
    """
    labels = [r.res_label for r in split.train]
    if not labels:
        raise ValueError(f"split {split.dataset}/{split.protocol} trial {split.trial} has no "
                         "training images")
    bad = sorted({c for c in labels if not 0 <= c < split.n_res_classes})
    if bad:
        raise ValueError(f"B-R needs res_label in [0, {split.n_res_classes}) on every training "
                         f"record; found {bad[:5]} (build the split with build_protocol)")
    cfg = dataclasses.replace(profile.br, p=len(set(labels)))
    return _run_task("br", profile, cfg, split, labels, split.n_res_classes, Path(out_dir),
                     resume=resume, progress=progress, device=device)


def load_bf(out_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> nn.Module:
    """The finished B-F model of ``out_dir`` (eval mode) rebuilt from its ``config.json``."""
    return _load_task("bf", Path(out_dir), device)


def load_br(out_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> nn.Module:
    """The finished B-R model of ``out_dir`` (eval mode) rebuilt from its ``config.json``."""
    return _load_task("br", Path(out_dir), device)


# ------------------------------------------------------------------------ internals

def _build_model(model_cfg: Mapping[str, Any], num_classes: int, pretrained: bool) -> nn.Module:
    return build_mgn(num_classes, backbone=model_cfg["backbone"],
                     attention=model_cfg["attention"],
                     pretrained=model_cfg["pretrained"] if pretrained else None,
                     reduction=model_cfg["reduction"], feat_dim=model_cfg["feat_dim"],
                     dropout=model_cfg["dropout"])


def _is_finished(out: Path, config: Mapping[str, Any]) -> bool:
    summary = read_json(out / SUMMARY_FILE)
    return (same_config(read_json(out / CONFIG_FILE), config) and isinstance(summary, dict)
            and (out / MODEL_FILE).is_file())


def _run_task(task: str, profile: Profile, cfg: TrainConfig, split: ProtocolSplit,
              labels: list[int], num_classes: int, out: Path, *, resume: bool, progress: bool,
              device: str | torch.device | None) -> tuple[nn.Module, TrainSummary]:
    config = task_config(task, profile, cfg, split, num_classes)
    info = init_distributed(torch.device(device) if device is not None else None)
    if resume and _is_finished(out, config):
        summary = TrainSummary.from_dict(read_json(out / SUMMARY_FILE))
        target = torch.device(device) if device is not None else default_device(info)
        return _load_task(task, out, target), summary

    stored = read_json(out / CONFIG_FILE)
    if resume and isinstance(stored, dict) and (diff := config_differences(stored, config)):
        raise ConfigMismatchError(
            f"{out} holds a {stored.get('task', '?')} run of another configuration "
            f"({'; '.join(diff)}); use another output folder, or resume=False "
            "(CLI: --no-resume) to train this one from scratch there")
    barrier()  # every rank has checked the old config before rank 0 replaces it
    if info.is_main:
        atomic_write_json(out / CONFIG_FILE, config)

    seed_everything(cfg.seed)
    model = _build_model(config["model"], num_classes, pretrained=True)
    dataset = ReidImageDataset(
        split.train,
        build_transforms(profile.model.height, profile.model.width, train=True,
                         random_erasing=cfg.random_erasing),
        labels=labels, interpolation=profile.data.interpolation)
    summary = fit(model, dataset, labels, MGNObjective(cfg.margin, cfg.label_smoothing), cfg,
                  out, resume=resume, progress=progress, desc=_TASK_NAMES[task],
                  device=device)
    return model.eval(), summary


def _load_task(task: str, out: Path, device: str | torch.device) -> nn.Module:
    config = read_json(out / CONFIG_FILE)
    if not (out / MODEL_FILE).is_file() or not isinstance(config, dict):
        missing = MODEL_FILE if isinstance(config, dict) else CONFIG_FILE
        raise FileNotFoundError(
            f"no trained {_TASK_NAMES[task]} model in {out} (missing {missing}): "
            f"run {PRODUCER_NOTEBOOK[task]} first")
    if config.get("task") != task:
        raise ValueError(f"{out} holds a {config.get('task')!r} run, not {task!r}")
    model = _build_model(config["model"], int(config["num_classes"]), pretrained=False)
    load_weights(model, out / MODEL_FILE)
    return model.to(device).eval()
