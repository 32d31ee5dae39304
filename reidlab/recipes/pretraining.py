"""A pre-training stage standing in for ImageNet (a labelled deviation from both papers).

RFD and PS-HRNet start their backbones from ImageNet weights. Those cannot be downloaded
here, and training from random weights within a CPU budget leaves every model barely
trained. So the backbone (a torchvision ResNet for MGN, a timm HRNet for HRNet-ReID) is
first trained once as a plain identity classifier on a *separate* SynthPeople population:
its own seed (:data:`~reidlab.config.PRETRAIN_SEED`, used by no study dataset), every image
of every identity, HR images only (ImageNet holds no synthetic low-resolution copies
either). Its identities never appear in any training, validation or test set of the study.
Besides the identity, the network names each image's categorical attributes (garment colours,
styles, bag, pattern, logo, shoes, belt: :data:`PRETRAIN_ATTRIBUTES`), a dense signal that,
like ImageNet's thousand classes, teaches generic colour and texture features fast (measured
here: B-F fine-tuned for 120 iterations reached rank-1 LR->HR 29.3% from this pre-training,
19.7% from identity-only pre-training of the same length, 10.8% from scratch).

The run is cached like any other (:class:`~reidlab.engine.run_identity.RunSpec`, run folder keyed
by its identity, resumable, locked), and its backbone is written as a state dict with the
library's own parameter names (``backbone.pth``), so it loads through the same
``pretrained=<weights file>`` path as ImageNet weights would. Models fine-tuned from it
name the file's content digest in their own identity: a re-run pre-training that gives
other weights retrains them.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reidlab.config import PRETRAIN_SEED, PretrainConfig, TrainConfig, to_dict, train_identity, validate
from reidlab.data.dataset import ReidImageDataset, build_transforms
from reidlab.data.protocols import relabel
from reidlab.data.records import ImageRecord
from reidlab.engine.checkpoint import atomic_save, model_state
from reidlab.engine.precision import resolve_precision
from reidlab.engine.run_identity import RunSpec
from reidlab.engine.train_or_load import train_or_load
from reidlab.engine.training_loop import TrainSummary, fit
from reidlab.losses import top1_accuracy
from reidlab.models.build import build_model
from reidlab.models.classifier import BackboneClassifier, PRETRAIN_ARCHS, check_arch

__all__ = ["PRETRAIN_SEED", "PRETRAIN_ATTRIBUTES", "BACKBONE_FILE", "AttributeTable", "BackboneClassifier",
           "build_classifier", "backbone_state_dict", "pretrain_records", "pretrain_schedule_of", "pretrain_spec",
           "PRETRAIN_ARCHS", "is_pretrained", "pretrain_backbone"]

#: The pre-trained backbone's state dict (torchvision ResNet or timm HRNet names).
BACKBONE_FILE = "backbone.pth"


#: Attributes of a SynthPeople identity the pre-training network learns to name, besides the
#: identity itself (categorical ones: colours, styles, bag, garment pattern, logo, shoes, belt).
PRETRAIN_ATTRIBUTES: tuple[str, ...] = (
    "upper_color", "lower_color", "lower_style", "sleeves", "hair_color", "hair_long", "skin",
    "build_width", "build_height", "bag", "bag_color", "pattern", "logo", "logo_color", "shoe_color",
    "belt_color",
)


@dataclass(frozen=True)
class AttributeTable:
    """Per image, the class index of its identity and of each attribute (rows follow the
    dataset's records), and each head's class count."""

    targets: torch.Tensor          # (images, 1 + attributes), int64
    head_sizes: tuple[int, ...]

    @classmethod
    def of(cls, records: Sequence[ImageRecord], people: Mapping[int, Any]) -> AttributeTable:
        ids = relabel([r.pid for r in records])
        columns = [ids]
        sizes = [max(ids) + 1]
        for name in PRETRAIN_ATTRIBUTES:
            values = [str(getattr(people[r.pid], name)) for r in records]
            vocabulary = {v: i for i, v in enumerate(sorted(set(values)))}
            columns.append([vocabulary[v] for v in values])
            sizes.append(len(vocabulary))
        return cls(torch.tensor(list(zip(*columns)), dtype=torch.int64), tuple(sizes))


def build_classifier(arch: str, name: str, head_sizes: Sequence[int]) -> BackboneClassifier:
    """The pre-training network: ``arch`` ``"resnet"`` (torchvision) or ``"hrnet"`` (timm); the
    factory's ``backbone_classifier`` (:func:`~reidlab.models.build.build_model`)."""
    return build_model("backbone_classifier", arch, name, head_sizes)  # type: ignore[return-value]


def backbone_state_dict(model: BackboneClassifier, arch: str) -> dict[str, torch.Tensor]:
    """The backbone's parameters and buffers under the names its builder uses (ResNet: no
    ``fc``; HRNet: timm's, without the classifier), as CPU tensors."""
    state = model_state(model.backbone)
    if arch == "resnet":
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    return state


@dataclass(frozen=True)
class _PretrainObjective:
    """Identity cross entropy plus the mean cross entropy over the attributes."""

    table: AttributeTable
    label_smoothing: float

    def __call__(self, model: nn.Module, batch: Sequence[Any]) -> tuple[torch.Tensor, Mapping[str, Any]]:
        images, index = batch[0], batch[2]
        heads = model(images)
        targets = self.table.targets.to(images.device)[index]
        with torch.autocast(images.device.type, enabled=False):
            heads = [h.float() for h in heads]
            identity = F.cross_entropy(heads[0], targets[:, 0], label_smoothing=self.label_smoothing)
            attributes = torch.stack([F.cross_entropy(h, targets[:, i + 1], label_smoothing=self.label_smoothing)
                                      for i, h in enumerate(heads[1:])]).mean()
            acc = top1_accuracy(heads[:1], targets[:, 0])
            attr_acc = sum(top1_accuracy([h], targets[:, i + 1]) for i, h in enumerate(heads[1:])) / len(heads[1:])
        return identity + attributes, {"ce": identity.detach(), "attributes": attributes.detach(),
                                       "acc": acc, "attr_acc": attr_acc}


def pretrain_records(cfg: PretrainConfig, data_root: str | os.PathLike[str], *, hr_size: tuple[int, int],
                     progress: bool = True) -> tuple[list[ImageRecord], AttributeTable]:
    """Every identity image of the pre-training population (generated on first use) and
    its identity and attribute labels."""
    from reidlab.data.readers import load_dataset
    from reidlab.data.synth import make_synth_dataset, sample_identities, synth_dataset_dirname
    from reidlab.paths import resolve

    args = {"variant": "market", "n_ids": cfg.n_ids, "images_per_id": cfg.images_per_id,
            "n_cameras": cfg.n_cameras, "hr_size": hr_size, "seed": cfg.seed}
    root = resolve(data_root, name="data_root") / synth_dataset_dirname(**args)
    make_synth_dataset(root, progress=progress, **args)
    dataset = load_dataset("synth-market", root)
    records = [r for part in (dataset.train, dataset.query, dataset.gallery) for r in part if r.pid > 0]
    people = {p.pid: p for p in sample_identities(cfg.n_ids, cfg.seed)}
    return records, AttributeTable.of(records, people)


def pretrain_spec(cfg: PretrainConfig, arch: str, name: str, *, height: int, width: int,
                  hr_size: tuple[int, int]) -> RunSpec:
    """The identity of a pre-training run (population, network, input size, schedule)."""
    population = {k: v for k, v in to_dict(cfg).items() if k not in ("schedule", "hrnet_schedule", "hrnet")}
    return RunSpec.of("pretrain", arch=arch, backbone=name, height=height, width=width,
                      hr_size=list(hr_size), population=population, train=train_identity(pretrain_schedule_of(cfg, arch)),
                      targets=["identity", *PRETRAIN_ATTRIBUTES])


def pretrain_schedule_of(cfg: PretrainConfig, arch: str) -> TrainConfig:
    """The schedule that pre-trains ``arch`` (``"resnet"`` or ``"hrnet"``), its precision and
    layout made concrete for the training device (:func:`~reidlab.engine.precision.resolve_precision`)."""
    return resolve_precision(cfg.schedule if check_arch(arch) == "resnet" else cfg.hrnet_schedule)


def is_pretrained(out: str | os.PathLike[str], spec: RunSpec) -> bool:
    """``out`` holds the finished run ``spec`` and its backbone file."""
    return spec.is_finished(out) and (Path(out) / BACKBONE_FILE).is_file()


def pretrain_backbone(cfg: PretrainConfig, arch: str, name: str, out_dir: str | os.PathLike[str], *,
                      data_root: str | os.PathLike[str], height: int, width: int,
                      hr_size: tuple[int, int], progress: bool = True,
                      device: str | torch.device | None = None, allow_training: bool = True,
                      missing_hint: str | None = None) -> tuple[Path, TrainSummary | None]:
    """Pre-train (or reuse) the ``arch``/``name`` backbone; return ``(backbone.pth, summary)``.

    A finished run with the same identity in ``out_dir`` is reused (summary ``None``); an
    interrupted one resumes from its checkpoint. ``allow_training``, ``missing_hint``: see
    :func:`~reidlab.engine.train_or_load.train_or_load`.
    """
    validate(cfg)
    schedule = pretrain_schedule_of(cfg, arch)
    out = Path(out_dir)
    spec = pretrain_spec(cfg, arch, name, height=height, width=width, hr_size=hr_size)
    weights = out / BACKBONE_FILE

    def data() -> tuple[list[ImageRecord], AttributeTable]:
        return pretrain_records(cfg, data_root, hr_size=hr_size, progress=progress)

    def fit_backbone(model: nn.Module, prepared: tuple[list[ImageRecord], AttributeTable]
                     ) -> tuple[Path, TrainSummary]:
        records, table = prepared
        labels = table.targets[:, 0].tolist()
        dataset = ReidImageDataset(records, build_transforms(height, width, train=True,
                                                             random_erasing=schedule.random_erasing),
                                   labels=labels)
        summary = fit(model, dataset, labels, _PretrainObjective(table, schedule.label_smoothing),
                      schedule, out, progress=progress, desc=f"pre-train {name}", device=device,
                      spec=spec)
        atomic_save(backbone_state_dict(model, arch), weights)
        return weights, summary

    outcome = train_or_load(
        spec, out, data=data, seed=schedule.seed, fit=fit_backbone,
        build=lambda prepared: build_classifier(arch, name, prepared[1].head_sizes),
        load=lambda _: weights, finished=lambda folder: is_pretrained(folder, spec), device=device,
        allow_training=allow_training, missing_hint=missing_hint)
    return outcome.result, outcome.summary if outcome.trained else None
