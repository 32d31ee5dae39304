"""PS-HRNet training (Zhang et al., IEEE TIP 2021) on the project's engine.

The pseudo-siamese framework has two branches that share no weights:

1. :func:`train_teacher`: HRNet-ReID trained on the high-resolution training images (the
   records with ``factor == 1``).
2. :func:`train_student`: VDSR-CA + HRNet-ReID (:class:`PSHRNetStudent`) trained on
   (LR image, HR twin) pairs from :class:`~reidlab.data.dataset.PairedLRHRDataset`; the
   teacher is frozen (``requires_grad_(False)``, eval mode) and describes the HR twins
   under ``no_grad``.

Both go through :func:`reidlab.engine.training_loop.fit` (checkpoints, exact resume, AMP, DDP,
progress bar, metrics CSV) with the profile's ``ps.teacher`` / ``ps.student`` schedule,
made concrete on the training set by :func:`teacher_schedule` / :func:`student_schedule`
(``epochs`` -> iterations; see there for what an epoch counts).

Objective (``ps.objective``):

* ``"simple"`` (the CPU profiles): teacher ``L_ce + L_tri``
  (:func:`~reidlab.losses.ps_hrnet.reid_loss`); student ``L_ce + L_tri + w_f L_feat +
  w_i L_img`` (:func:`~reidlab.losses.ps_hrnet.pseudo_siamese_loss`, ``L_feat`` on the
  teacher's eval descriptor, ``w_f, w_i = ps.feature_l1_weight, ps.image_l1_weight``);
* ``"authors"`` (the ``paper`` profile; PS-HRNet authors' notebook, training cell): teacher
  :func:`~reidlab.losses.ps_hrnet.authors_teacher_loss` (``L_ce + mean_4`` branch
  triplets, their first-phase HRNet-ReID repository); student
  :func:`~reidlab.losses.ps_hrnet.authors_pseudo_siamese_loss` against the teacher's
  eval-mode :meth:`~reidlab.models.hrnet_reid.HRNetReID.outputs` of the HR twin
  (``1.15 L_ce + mean_5 L_tri + 0.5 L1(SR, HR) + 0.5 sum_6 L1`` distillations, the
  notebook's fixed weights: ``ps.feature_l1_weight`` / ``ps.image_l1_weight`` do not
  apply). It needs the branch features of ``head="authors"``; ``head="bnneck"`` is refused.

Training data, from ``split.train``:

* teacher: the ``factor == 1`` records (on synthetic MLR data every training image is
  there at x1 and at every factor, so these are all the HR originals);
* student (``ps.student_data``): ``"degraded"`` (the CPU profiles) the records with
  ``factor > 1``; ``"all"`` (authors: their loader pairs every MLR training image, HR ones
  included, with its HR original) every record. Each is paired with its own file as
  stored (a factor-1 record with itself). Natively multi-resolution data (CAVIAR, GRID,
  SynthPeople ``caviar``) have no degradation factor and no HR twin: every record is then
  paired *with itself*, so ``L_img`` only asks VDSR-CA to keep the image and ``L_feat``
  pulls the student towards the teacher's descriptor of the same low-resolution image.
  That is a limitation of these data, not a faithful PS-HRNet setting.

Augmentation: :func:`~reidlab.data.dataset.build_transforms` with the schedule's
``random_erasing`` and ``pad_crop`` (authors: flip + ``Pad(10)`` + random crop, no
erasing); the student's LR image and HR twin share every random draw.

Identity labels are :func:`~reidlab.data.protocols.relabel` over all of ``split.train``
(junk ``pid < 0`` dropped), so teacher and student share labels and classifier size.

Input size (:func:`ps_input_size`): ``ps.height x ps.width`` when set (authors: 256x128),
else ``profile.model.height x profile.model.width``; both must be multiples of 32 for HRNet
(:func:`~reidlab.models.hrnet_reid.check_input_size`); other sizes are refused with a
message proposing the nearest valid one (no padding, which would change what the network
sees between profiles). Features of PS-HRNet models must be extracted at this size.
``profile.model.pretrained`` (``None`` / ``"imagenet"``) initialises the teacher's HRNet
backbone (timm weights); VDSR-CA starts from scratch, with ``bias=ps.vdsr_bias`` and
``init=ps.vdsr_init`` (:class:`~reidlab.models.vdsr.VDSRCA`: ``"identity"`` ours, near
``y = x`` with open gates; ``bias=False, init="authors"`` the authors' network).

Student initialisation (our choice, ``init_from_teacher=True``): the student's HRNet-ReID
starts as a copy of the trained teacher (the weights are copied, never shared). Offline
there are no ImageNet weights, and a randomly initialised HRNet back-propagates gradients
up to ~100 times larger into VDSR-CA (which has no normalisation layer to absorb them)
than a trained one does: at PS-HRNet's lr 0.0085 the loss became NaN at iteration 7 on
SynthPeople. ``init_from_teacher=False`` gives the literal setting
(student backbone from ``profile.model.pretrained``), sensible with ImageNet weights.

VDSR-CA warm-up (``ps.vdsr_warmup_iterations > 0``; :func:`train_vdsr_warmup`): before the
student, VDSR-CA alone learns restoration, ``L1(VDSR-CA(LR), HR)`` on the student's pairs (the
authors' first phase trains VDSR-CA apart too); the student's VDSR-CA then starts from those
weights, whose digest is part of the student's identity.

VDSR-CA learning rate (our choice, ``vdsr_lr_scale=0.1``): VDSR-CA's parameters are
optimised at ``0.1 x`` the schedule's learning rate. The re-id losses reach VDSR-CA
through HRNet with gradients far larger than the image L1 loss's, and at the full rate
they pull the restored image away from any image (on SynthPeople, smoke data, 40
iterations: image L1 from 0.07 up to 12 before the lr decay; at 0.1 x it stays within
0.08-0.28). ``vdsr_lr_scale=1.0`` is the single-rate setting. Both knobs are recorded in
``config.json``.

Run directories hold the :func:`fit` files plus ``config.json`` (everything that
determines the weights: task, architecture (VDSR-CA's bias and initialisation included),
input size, the concrete schedule, objective and loss weights, student data, training
records and, for the student, a digest of the teacher's weights). A finished run with
the same ``config.json`` is reused; a different one is refused unless ``resume=False``.
:func:`load_teacher` / :func:`load_student` rebuild the models from a run directory.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reidlab.choices import PS_STUDENT_DATA
from reidlab.config import (
    PSHRNetConfig,
    Profile,
    TrainConfig,
    resolve_schedule,
    train_identity,
)
from reidlab.data.dataset import PairedLRHRDataset, ReidImageDataset, build_transforms
from reidlab.data.mlr import degradation_kwargs
from reidlab.data.protocols import relabel
from reidlab.data.records import ImageRecord, ProtocolSplit
from reidlab.engine.checkpoint import load_weights, unwrap_model
from reidlab.engine.distributed import default_device
from reidlab.engine.precision import resolve_precision
from reidlab.engine.run_identity import CONFIG_FILE, MODEL_FILE, RunSpec, SUMMARY_FILE, weights_identity
from reidlab.engine.train_or_load import train_or_load
from reidlab.engine.training_loop import TrainSummary, fit
from reidlab.losses.ps_hrnet import (
    AUTHORS_CE_WEIGHT,
    AUTHORS_DISTILL_WEIGHT,
    AUTHORS_IMAGE_WEIGHT,
    authors_pseudo_siamese_loss,
    authors_teacher_loss,
    image_l1_loss,
    pseudo_siamese_loss,
    reid_loss,
)
from reidlab.models.build import build_model
from reidlab.models.hrnet_reid import HRNetReID, PSHRNetStudent, check_input_size
from reidlab.models.vdsr import VDSRCA

__all__ = ["ps_input_size", "teacher_records", "student_records", "teacher_schedule",
           "student_schedule", "build_teacher", "build_student", "frozen", "teacher_spec",
           "student_spec", "train_teacher", "train_student", "load_teacher", "load_student",
           "vdsr_warmup_schedule", "vdsr_warmup_spec", "train_vdsr_warmup", "load_vdsr_warmup"]

# 2: objective, student data, VDSR-CA bias / init, PS-HRNet's own input size and the
# concrete (dataset-derived) schedule are part of the identity
_CONFIG_VERSION = 2


# ------------------------------------------------------------------------ training data

def _train_records(split: ProtocolSplit) -> tuple[ImageRecord, ...]:
    records = tuple(r for r in split.train if r.pid >= 0)
    if not records:
        raise ValueError(f"{split.dataset}/{split.protocol} trial {split.trial}: the split has "
                         "no labelled training images")
    return records


def _label_map(split: ProtocolSplit) -> dict[int, int]:
    """pid -> contiguous label over all labelled training records (teacher = student)."""
    pids = sorted({r.pid for r in _train_records(split)})
    return dict(zip(pids, relabel(pids)))


def teacher_records(split: ProtocolSplit) -> tuple[ImageRecord, ...]:
    """The HR training images: records of ``split.train`` with ``factor == 1``."""
    records = tuple(r for r in _train_records(split) if r.factor == 1)
    if not records:
        raise ValueError(f"{split.dataset}/{split.protocol} trial {split.trial}: no training "
                         "record at factor 1, the teacher has no HR image to learn from")
    return records


def student_records(split: ProtocolSplit, data: str = "degraded") -> tuple[ImageRecord, ...]:
    """The student's training records, each to be paired with its HR file (``ps.student_data``).

    ``"degraded"``: the records with ``factor > 1``; ``"all"``: every labelled training
    record, the HR ones (paired with themselves) included, as the PS-HRNet authors'
    ``ImageDatasettrain`` pairs every MLR training image with its HR original. On natively
    multi-resolution data (no factor anywhere) both give every record, paired with itself
    (see the module docstring).
    """
    if data not in PS_STUDENT_DATA:
        raise ValueError(f"student_data={data!r} is not valid; choose one of: "
                         f"{', '.join(PS_STUDENT_DATA)}")
    records = _train_records(split)
    if data == "all":
        return records
    degraded = tuple(r for r in records if r.factor > 1)
    return degraded or records


def _epoch_images(records: Sequence[ImageRecord]) -> int:
    """Images in one epoch: the distinct stored files of ``records``.

    The PS-HRNet authors' epoch is one pass over their MLR training set, where each image
    is there once (at one resolution: 12,936 Market images, ``dataset_sizes`` in their
    notebook, ~539 batches of 24). Our MLR training set holds each image at x1 *and* at
    every factor, so counting records would make a student epoch (``student_data="all"``:
    4 records per image) four times the authors'; counting files keeps the authors'
    number of iterations per epoch.
    """
    return len({r.path for r in records})


def teacher_schedule(profile: Profile, split: ProtocolSplit) -> TrainConfig:
    """``profile.ps.teacher`` made concrete on ``split``
    (:func:`~reidlab.config.resolve_schedule`: ``epochs`` -> iterations over
    :func:`teacher_records`, counted as in :func:`_epoch_images`)."""
    return resolve_precision(resolve_schedule(profile.ps.teacher, n_images=_epoch_images(teacher_records(split)),
                                              n_ids=len(_label_map(split))))


def student_schedule(profile: Profile, split: ProtocolSplit) -> TrainConfig:
    """``profile.ps.student`` made concrete on ``split`` (as :func:`teacher_schedule`, over
    :func:`student_records` with ``profile.ps.student_data``)."""
    records = student_records(split, profile.ps.student_data)
    return resolve_precision(resolve_schedule(profile.ps.student, n_images=_epoch_images(records),
                                              n_ids=len(_label_map(split))))


def vdsr_warmup_schedule(profile: Profile, split: ProtocolSplit) -> TrainConfig:
    """VDSR-CA's restoration-only warm-up: the student's batches (:func:`student_schedule`'s P x K,
    augmentation without erasing) for ``ps.vdsr_warmup_iterations`` iterations of Adam at
    ``ps.vdsr_warmup_lr`` (no weight decay; lr / 10 for the last fifth)."""
    ps = profile.ps
    if ps.vdsr_warmup_iterations < 1:
        raise ValueError("ps.vdsr_warmup_iterations is 0: this profile has no VDSR-CA warm-up")
    student = student_schedule(profile, split)
    return dataclasses.replace(
        student, iterations=ps.vdsr_warmup_iterations, epochs=0, iterations_per_id=0, warmup_epochs=0,
        warmup_iterations=0, warmup_lr=None, lr_milestones=(), optimizer="adam", lr=ps.vdsr_warmup_lr,
        weight_decay=0.0, lr_decay_at=0.8, random_erasing=False, validate_every=0, bn_recalibration=0,
        checkpoint_every=max(ps.vdsr_warmup_iterations // 2, 1))


def _records_digest(records: Sequence[ImageRecord]) -> str:
    """Digest of the training records *and their images' content* (a replaced image retrains)."""
    from reidlab.data.fingerprint import records_fingerprint

    return records_fingerprint(records, fields=("path", "pid", "factor"))[:16]


# ------------------------------------------------------------------------------ models

def build_teacher(num_classes: int, ps: PSHRNetConfig, pretrained: str | None = None) -> HRNetReID:
    """HRNet-ReID as configured by ``ps`` (``hrnet``, ``embed_dim``, ``head``): the factory's
    ``hrnet_reid`` (:func:`~reidlab.models.build.build_model`)."""
    return build_model("hrnet_reid", ps, num_classes, pretrained=pretrained)  # type: ignore[return-value]


def build_student(num_classes: int, ps: PSHRNetConfig, pretrained: str | None = None,
                  teacher: HRNetReID | None = None) -> PSHRNetStudent:
    """VDSR-CA (``vdsr_channels``, ``vdsr_blocks``, ``vdsr_bias``, ``vdsr_init``) followed
    by HRNet-ReID; the latter a copy of ``teacher``'s weights when given (else from
    ``pretrained``): the factory's ``ps_hrnet_student``."""
    state = unwrap_model(teacher).state_dict() if teacher is not None else None
    return build_model("ps_hrnet_student", ps, num_classes, pretrained=pretrained,  # type: ignore[return-value]
                       teacher_state=state)


def _training_dataset(dataset_cls: type, records: Sequence[ImageRecord], labels: Sequence[int],
                      profile: Profile, cfg: TrainConfig) -> Any:
    """``dataset_cls`` (:class:`~reidlab.data.dataset.ReidImageDataset` for the teacher,
    :class:`~reidlab.data.dataset.PairedLRHRDataset` for the VDSR-CA warm-up and the student) over
    ``records`` at :func:`ps_input_size`, with ``cfg``'s augmentation and the profile's degradation."""
    height, width = ps_input_size(profile)
    return dataset_cls(records, build_transforms(height, width, train=True, random_erasing=cfg.random_erasing,
                                                 pad_crop=cfg.pad_crop),
                       labels=labels, **degradation_kwargs(profile.data))


def _with_vdsr(student: PSHRNetStudent, vdsr: VDSRCA | None) -> PSHRNetStudent:
    """``student`` with its VDSR-CA weights copied from ``vdsr`` (when given)."""
    if vdsr is not None:
        student.vdsr.load_state_dict(unwrap_model(vdsr).state_dict())
    return student


def frozen(model: nn.Module) -> nn.Module:
    """``model`` in eval mode, every parameter's ``requires_grad`` off and leftover
    gradients dropped (in place)."""
    for param in model.parameters():
        param.grad = None
    return model.requires_grad_(False).eval()


def _weights_digest(model: nn.Module) -> str:
    """Short sha256 of the state dict (names, dtypes, shapes, bytes)."""
    h = hashlib.sha256()
    for name, tensor in unwrap_model(model).state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------- identity

def ps_input_size(profile: Profile) -> tuple[int, int]:
    """PS-HRNet's input ``(height, width)``: ``profile.ps.height x profile.ps.width`` when
    set (PS-HRNet authors' notebook: 256x128), else the model section's
    (``profile.model.height x profile.model.width``, the size of B-F / B-R).

    Training and feature extraction of the teacher and the student use this size.
    ``ValueError`` when only one of ``ps.height`` / ``ps.width`` is set, or when the size
    is not a multiple of 32 (:func:`~reidlab.models.hrnet_reid.check_input_size`).
    """
    ps = profile.ps
    if (ps.height == 0) != (ps.width == 0):
        raise ValueError(f"ps.height={ps.height} and ps.width={ps.width}: set both (PS-HRNet's "
                         "own input size) or neither (0: the model section's size)")
    if ps.height:
        height, width = ps.height, ps.width
    else:
        height, width = profile.model.height, profile.model.width
    check_input_size(height, width)
    return height, width


def _check_objective(ps: PSHRNetConfig) -> None:
    """Refuse ``objective="authors"`` with ``head="bnneck"``: the authors' losses average
    triplet losses over (and distil) the four branch features of the authors' head."""
    if ps.objective == "authors" and ps.head != "authors":
        raise ValueError(
            f"objective='authors' needs head='authors', got head={ps.head!r}: the authors' "
            "teacher loss averages the triplet loss over the four branch features and the "
            "student loss distils them, which the bnneck head does not have; use "
            "objective='simple' with head='bnneck'")


def _loss_section(ps: PSHRNetConfig) -> dict[str, Any]:
    """The student loss weights actually used (the notebook's fixed ones for "authors")."""
    if ps.objective == "authors":
        return {"ce_weight": AUTHORS_CE_WEIGHT, "image_l1_weight": AUTHORS_IMAGE_WEIGHT,
                "distill_l1_weight": AUTHORS_DISTILL_WEIGHT}
    return {"feature_l1_weight": ps.feature_l1_weight, "image_l1_weight": ps.image_l1_weight}


def _spec(task: str, profile: Profile, split: ProtocolSplit, cfg: TrainConfig,
          records: Sequence[ImageRecord], num_classes: int, **extra: Any) -> RunSpec:
    ps = profile.ps
    _check_objective(ps)
    height, width = ps_input_size(profile)
    model: dict[str, Any] = {"hrnet": ps.hrnet, "embed_dim": ps.embed_dim, "head": ps.head,
                             "num_classes": num_classes, "pretrained": profile.model.pretrained,
                             "pretrained_weights": weights_identity(profile.model.pretrained),
                             "height": height, "width": width}
    data: dict[str, Any] = {"dataset": split.dataset, "interpolation": profile.data.interpolation,
                            "upsampling": profile.data.upsampling, "n_train": len(records),
                            "train_sha": _records_digest(records)}
    if task == "student":
        model.update(vdsr_blocks=ps.vdsr_blocks, vdsr_channels=ps.vdsr_channels,
                     vdsr_bias=ps.vdsr_bias, vdsr_init=ps.vdsr_init)
        data["student_data"] = ps.student_data
        extra["loss"] = _loss_section(ps)
    return RunSpec.of(
        task, version=_CONFIG_VERSION, profile=profile.name, objective=ps.objective,
        model=model, train=train_identity(cfg), data=data, **extra)


def teacher_spec(profile: Profile, split: ProtocolSplit) -> RunSpec:
    """The identity of the teacher trained on ``split`` (see :mod:`reidlab.engine.run_identity`):
    ``train`` is the concrete :func:`teacher_schedule`."""
    return _spec("teacher", profile, split, teacher_schedule(profile, split),
                 teacher_records(split), len(_label_map(split)))


def vdsr_warmup_spec(profile: Profile, split: ProtocolSplit) -> RunSpec:
    """The identity of VDSR-CA's warm-up on ``split``: VDSR-CA's architecture, the student's
    training records and degradation, the concrete :func:`vdsr_warmup_schedule`."""
    ps = profile.ps
    records = student_records(split, ps.student_data)
    return RunSpec.of(
        "vdsr_warmup", version=_CONFIG_VERSION, profile=profile.name,
        model={"vdsr_blocks": ps.vdsr_blocks, "vdsr_channels": ps.vdsr_channels, "vdsr_bias": ps.vdsr_bias,
               "vdsr_init": ps.vdsr_init, "height": ps_input_size(profile)[0], "width": ps_input_size(profile)[1]},
        train=train_identity(vdsr_warmup_schedule(profile, split)),
        data={"dataset": split.dataset, "interpolation": profile.data.interpolation,
              "upsampling": profile.data.upsampling, "student_data": ps.student_data, "n_train": len(records),
              "train_sha": _records_digest(records)})


def student_spec(profile: Profile, split: ProtocolSplit, teacher: nn.Module, *,
                 init_from_teacher: bool | None = None,
                 vdsr_lr_scale: float | None = None, vdsr_start: nn.Module | None = None) -> RunSpec:
    """The identity of the student trained on ``split`` against ``teacher`` (its weights'
    digest is part of it: another teacher never reuses an old student) and, with a warm-up,
    from ``vdsr_start``'s VDSR-CA weights (their digest too); ``train`` is the concrete
    :func:`student_schedule`."""
    ps = profile.ps
    extra = {"vdsr_start_sha": _weights_digest(vdsr_start)} if vdsr_start is not None else {}
    return _spec("student", profile, split, student_schedule(profile, split),
                 student_records(split, ps.student_data), len(_label_map(split)),
                 teacher_sha=_weights_digest(teacher),
                 init_from_teacher=ps.init_from_teacher if init_from_teacher is None else init_from_teacher,
                 vdsr_lr_scale=ps.vdsr_lr_scale if vdsr_lr_scale is None else vdsr_lr_scale, **extra)


# ---------------------------------------------------------------------------- training

def train_teacher(profile: Profile, split: ProtocolSplit, out_dir: str | os.PathLike[str],
                  resume: bool = True, progress: bool = True, *,
                  device: str | torch.device | None = None, spec: RunSpec | None = None,
                  allow_training: bool = True, missing_hint: str | None = None
                  ) -> tuple[HRNetReID, TrainSummary]:
    """Train (or reuse) PS-HRNet's teacher: HRNet-ReID on the HR training images, at
    :func:`ps_input_size`, with :func:`teacher_schedule` (``cfg``).

    Loss (``profile.ps.objective``): ``"simple"`` :func:`~reidlab.losses.ps_hrnet.reid_loss`
    (``label_smoothed_ce(eps=cfg.label_smoothing) + triplet(margin=cfg.margin)``);
    ``"authors"`` :func:`~reidlab.losses.ps_hrnet.authors_teacher_loss` (same ``eps`` and
    ``margin``). Returns the model (train mode, on the training device; a finished run is
    reused: :func:`load_teacher`, eval mode, CPU) and the :class:`TrainSummary`. ``spec``:
    :func:`teacher_spec` when the caller has it already; ``allow_training``,
    ``missing_hint``: see :func:`~reidlab.engine.train_or_load.train_or_load`.
    """
    ps = profile.ps
    _check_objective(ps)
    labels_of = _label_map(split)
    records = teacher_records(split)
    labels = [labels_of[r.pid] for r in records]
    spec = spec or teacher_spec(profile, split)
    cfg = teacher_schedule(profile, split)
    objective = authors_teacher_loss if ps.objective == "authors" else reid_loss

    def loss_fn(net: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        images, targets, _ = batch
        return objective(net(images), targets, margin=cfg.margin, eps=cfg.label_smoothing)

    def fit_teacher(model: nn.Module, _: None) -> tuple[HRNetReID, TrainSummary]:
        dataset = _training_dataset(ReidImageDataset, records, labels, profile, cfg)
        summary = fit(model, dataset, labels, loss_fn, cfg, out_dir, resume=resume, progress=progress,
                      desc="PS-HRNet teacher", device=device, spec=spec)
        return model, summary   # type: ignore[return-value]

    outcome = train_or_load(
        spec, out_dir, load=load_teacher, seed=cfg.seed, fit=fit_teacher,
        build=lambda _: build_teacher(len(labels_of), ps, profile.model.pretrained),
        resume=resume, device=device, allow_training=allow_training, missing_hint=missing_hint)
    return outcome.result, outcome.summary   # type: ignore[return-value]


def train_vdsr_warmup(profile: Profile, split: ProtocolSplit, out_dir: str | os.PathLike[str],
                      resume: bool = True, progress: bool = True, *,
                      device: str | torch.device | None = None, spec: RunSpec | None = None,
                      allow_training: bool = True, missing_hint: str | None = None
                      ) -> tuple[VDSRCA, TrainSummary]:
    """Train (or reuse) VDSR-CA alone on restoration before the student: ``L1(VDSR-CA(LR), HR)``
    (:func:`~reidlab.losses.ps_hrnet.image_l1_loss`) on the student's (LR image, HR twin) pairs,
    with :func:`vdsr_warmup_schedule`. PS-HRNet's authors train VDSR-CA apart first; without it
    the student's VDSR-CA starts near the identity and the re-identification losses that reach it
    through HRNet never teach it to restore (quick profile, 200 held-out LR images: 3.06% mean
    absolute error to HR against 3.02% for the interpolated input; after 200 warm-up iterations
    2.60%). Returns VDSR-CA (a finished run is reused:
    :func:`load_vdsr_warmup`) and the :class:`TrainSummary`."""
    ps = profile.ps
    labels_of = _label_map(split)
    records = student_records(split, ps.student_data)
    labels = [labels_of[r.pid] for r in records]
    spec = spec or vdsr_warmup_spec(profile, split)
    cfg = vdsr_warmup_schedule(profile, split)

    def restoration_loss(net: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        lr_images, hr_images, _, _ = batch
        loss = image_l1_loss(net(lr_images), hr_images)
        return loss, {"img_l1": loss.detach()}

    def fit_vdsr(model: nn.Module, _: None) -> tuple[VDSRCA, TrainSummary]:
        dataset = _training_dataset(PairedLRHRDataset, records, labels, profile, cfg)   # no erasing: the schedule's
        summary = fit(model, dataset, labels, restoration_loss, cfg, out_dir, resume=resume, progress=progress,
                      desc="VDSR-CA warm-up", device=device, spec=spec)
        return model, summary   # type: ignore[return-value]

    outcome = train_or_load(
        spec, out_dir, load=load_vdsr_warmup, seed=cfg.seed, fit=fit_vdsr,
        build=lambda _: build_model("vdsr_ca", ps), resume=resume, device=device, allow_training=allow_training,
        missing_hint=missing_hint)
    return outcome.result, outcome.summary   # type: ignore[return-value]


def train_student(profile: Profile, split: ProtocolSplit, teacher: HRNetReID,
                  out_dir: str | os.PathLike[str], resume: bool = True, progress: bool = True,
                  *, init_from_teacher: bool | None = None, vdsr_lr_scale: float | None = None,
                  device: str | torch.device | None = None, spec: RunSpec | None = None,
                  allow_training: bool = True, missing_hint: str | None = None,
                  vdsr_start: VDSRCA | None = None) -> tuple[PSHRNetStudent, TrainSummary]:
    """Train (or reuse) PS-HRNet's student against a frozen ``teacher``; its VDSR-CA starts from
    ``vdsr_start``'s weights when given (:func:`train_vdsr_warmup`).

    Each batch holds (LR image, HR twin, label) from :func:`student_records` with
    ``profile.ps.student_data``, at :func:`ps_input_size`, with :func:`student_schedule`
    (``cfg``). The loss (``profile.ps.objective``): ``"simple"``
    :func:`~reidlab.losses.ps_hrnet.pseudo_siamese_loss` with the teacher's eval-mode
    descriptor of the HR twin and the profile's L1 weights; ``"authors"``
    :func:`~reidlab.losses.ps_hrnet.authors_pseudo_siamese_loss` with the teacher's
    eval-mode :meth:`~reidlab.models.hrnet_reid.HRNetReID.outputs` of the HR twin (PS-HRNet
    authors' notebook); the teacher's side is computed under ``no_grad`` in both.
    When training, ``teacher`` is frozen in place (eval mode, no grads) and
    moved to the training device; the run's config records a digest of its weights, so a
    different teacher never reuses an old student. ``init_from_teacher``: the student's
    HRNet-ReID starts as a copy of the teacher; ``vdsr_lr_scale``: VDSR-CA's learning rate
    relative to the schedule's (see the module docstring for both). A finished run is
    reused (:func:`load_student`). ``spec``: :func:`student_spec` with the same arguments
    when the caller has it already; ``allow_training``, ``missing_hint``: see
    :func:`~reidlab.engine.train_or_load.train_or_load`.
    """
    init_from_teacher = profile.ps.init_from_teacher if init_from_teacher is None else init_from_teacher
    vdsr_lr_scale = profile.ps.vdsr_lr_scale if vdsr_lr_scale is None else vdsr_lr_scale
    if vdsr_lr_scale <= 0:
        raise ValueError(f"vdsr_lr_scale must be > 0, got {vdsr_lr_scale}")
    ps = profile.ps
    _check_objective(ps)
    labels_of = _label_map(split)
    if (teacher.num_classes != len(labels_of) or teacher.embed_dim != ps.embed_dim
            or teacher.head != ps.head):
        raise ValueError(
            f"the teacher ({teacher.num_classes} classes, embed_dim {teacher.embed_dim}, head "
            f"{teacher.head!r}) does not match this split/profile ({len(labels_of)} classes, "
            f"embed_dim {ps.embed_dim}, head {ps.head!r}); train the teacher with the same "
            "profile and split")
    records = student_records(split, ps.student_data)
    labels = [labels_of[r.pid] for r in records]
    spec = spec or student_spec(profile, split, teacher, init_from_teacher=init_from_teacher,
                                vdsr_lr_scale=vdsr_lr_scale, vdsr_start=vdsr_start)
    cfg = student_schedule(profile, split)

    def simple_loss(net: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        lr_images, hr_images, targets, _ = batch
        with torch.no_grad():
            teacher_feat = teacher(hr_images)
        return pseudo_siamese_loss(net(lr_images), teacher_feat, hr_images, targets,
                                   margin=cfg.margin, eps=cfg.label_smoothing,
                                   feature_weight=ps.feature_l1_weight,
                                   image_weight=ps.image_l1_weight)

    def authors_loss(net: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        lr_images, hr_images, targets, _ = batch
        with torch.no_grad():
            teacher_out = teacher.outputs(hr_images)     # eval mode: the notebook's train(False)
        return authors_pseudo_siamese_loss(net(lr_images), teacher_out, hr_images, targets,
                                           margin=cfg.margin, eps=cfg.label_smoothing)

    def fit_student(model: nn.Module, _: None) -> tuple[PSHRNetStudent, TrainSummary]:
        dataset = _training_dataset(PairedLRHRDataset, records, labels, profile, cfg)
        run_device = torch.device(device) if device is not None else default_device()
        frozen(teacher).to(run_device)
        if cfg.channels_last:
            teacher.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        # HRNet-ReID first: the metrics log shows the first group's (the schedule's) lr
        groups = [{"params": [p for p in model.reid.parameters() if p.requires_grad]},
                  {"params": list(model.vdsr.parameters()), "lr": cfg.lr * vdsr_lr_scale}]
        summary = fit(model, dataset, labels, authors_loss if ps.objective == "authors" else simple_loss,
                      cfg, out_dir, resume=resume, progress=progress, desc="PS-HRNet student",
                      params=groups, device=run_device, spec=spec)
        return model, summary   # type: ignore[return-value]

    outcome = train_or_load(
        spec, out_dir, load=load_student, seed=cfg.seed, fit=fit_student,
        build=lambda _: _with_vdsr(build_student(len(labels_of), ps, profile.model.pretrained,
                                                 teacher=teacher if init_from_teacher else None), vdsr_start),
        resume=resume, device=device, allow_training=allow_training, missing_hint=missing_hint)
    return outcome.result, outcome.summary   # type: ignore[return-value]


# ----------------------------------------------------------------------------- loading

def _finished_config(out_dir: str | os.PathLike[str], task: str) -> tuple[Path, dict[str, Any]]:
    out = Path(out_dir)
    config = RunSpec.stored(out)
    producer = f"train_{task}"
    if config is None:
        raise FileNotFoundError(
            f"no PS-HRNet {task} run in {out} ({CONFIG_FILE} missing or unreadable): train it "
            f"with reidlab.recipes.ps_hrnet.{producer}(profile, split, ...) first")
    if config.get("task") != task:
        raise ValueError(f"{out} holds a PS-HRNet {config.get('task')!r} run, not a {task!r} "
                         f"one; use load_{config.get('task')}")
    if not (out / MODEL_FILE).is_file() or not (out / SUMMARY_FILE).is_file():
        raise FileNotFoundError(
            f"the PS-HRNet {task} run in {out} is not finished ({MODEL_FILE}/{SUMMARY_FILE} "
            f"missing): call {producer} again with the same profile to resume it")
    return out, config


def _ps_from_config(model: Mapping[str, Any]) -> PSHRNetConfig:
    """The architecture recorded in a run's ``config.json`` ``model`` section (keys absent
    from version-1 configs take the defaults those runs were built with)."""
    return PSHRNetConfig(hrnet=model["hrnet"], embed_dim=model["embed_dim"], head=model.get("head", "bnneck"),
                         vdsr_blocks=model.get("vdsr_blocks", PSHRNetConfig.vdsr_blocks),
                         vdsr_channels=model.get("vdsr_channels", PSHRNetConfig.vdsr_channels),
                         vdsr_bias=model.get("vdsr_bias", PSHRNetConfig.vdsr_bias),
                         vdsr_init=model.get("vdsr_init", PSHRNetConfig.vdsr_init))


def load_teacher(out_dir: str | os.PathLike[str]) -> HRNetReID:
    """The finished teacher of ``out_dir`` (eval mode, CPU)."""
    out, config = _finished_config(out_dir, "teacher")
    model = build_teacher(config["model"]["num_classes"], _ps_from_config(config["model"]))
    return load_weights(model, out / MODEL_FILE).eval()


def load_vdsr_warmup(out_dir: str | os.PathLike[str]) -> VDSRCA:
    """The finished VDSR-CA warm-up of ``out_dir`` (eval mode, CPU)."""
    out, config = _finished_config(out_dir, "vdsr_warmup")
    model = build_model("vdsr_ca", _ps_from_config({"hrnet": PSHRNetConfig.hrnet, "embed_dim": PSHRNetConfig.embed_dim,
                                                    **config["model"]}))
    return load_weights(model, out / MODEL_FILE).eval()   # type: ignore[return-value]


def load_student(out_dir: str | os.PathLike[str]) -> PSHRNetStudent:
    """The finished student of ``out_dir`` (eval mode, CPU)."""
    out, config = _finished_config(out_dir, "student")
    model = build_student(config["model"]["num_classes"], _ps_from_config(config["model"]))
    return load_weights(model, out / MODEL_FILE).eval()
