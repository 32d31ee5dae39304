"""Getting the trained models of the study: RFD's B-F and B-R, and sanity metrics.

Thin wrappers around :mod:`reidlab.engine.tasks` that pick the run folder
(:func:`reidlab.study.runs.run_dir`) and either reuse a finished run or train it.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reidlab.config import Profile, override
from reidlab.data.records import ProtocolSplit
from reidlab.study.runs import get_or_train, run_dir


def bf_model(prof: Profile, split: ProtocolSplit, runs_root: str | Path = "runs", *, attention: bool | None = None,
             train_if_missing: bool = True, progress: bool = True) -> tuple[torch.nn.Module, Path]:
    """RFD's B-F (or the attention-free "baseline" with ``attention=False``)."""
    from reidlab.engine.tasks import load_bf, train_bf

    if attention is not None:
        prof = override(prof, model={"attention": attention})
    out = run_dir(prof, "bf", split, runs_root)
    model, _ = get_or_train("bf", out, allow_training=train_if_missing, load=load_bf,
                            train=lambda: train_bf(prof, split, out, progress=progress)[0])
    return model, out


def br_model(prof: Profile, split: ProtocolSplit, runs_root: str | Path = "runs", *,
             train_if_missing: bool = True, progress: bool = True) -> tuple[torch.nn.Module, Path]:
    """RFD's B-R: the same network trained to classify resolutions."""
    from reidlab.engine.tasks import load_br, train_br

    out = run_dir(prof, "br", split, runs_root)
    model, _ = get_or_train("br", out, allow_training=train_if_missing, load=load_br,
                            train=lambda: train_br(prof, split, out, progress=progress)[0])
    return model, out


def hr_query_split(split: ProtocolSplit) -> ProtocolSplit:
    """The same split with every query and gallery image at full resolution (HR -> HR)."""
    hr = lambda recs: tuple(dataclasses.replace(r, factor=1) for r in recs)  # noqa: E731
    return dataclasses.replace(split, query=hr(split.query), gallery=hr(split.gallery))


@torch.inference_mode()
def predict_resolution(model: torch.nn.Module, records, *, height: int, width: int, interpolation: str = "bicubic",
                       batch_size: int = 128) -> np.ndarray:
    """B-R's predicted resolution class per image: mean softmax over MGN's classifier heads."""
    from reidlab.data import ReidImageDataset, build_transforms

    ds = ReidImageDataset(records, build_transforms(height, width, train=False), interpolation=interpolation)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False)
    was_training = model.training
    model.eval()
    preds = []
    try:
        for images, _, _ in loader:
            logits = model.classify(images)
            preds.append(torch.stack([l.softmax(-1) for l in logits]).mean(0).argmax(-1).cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(preds) if preds else np.zeros(0, dtype=int)


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    cm = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(cm, (np.asarray(true), np.asarray(pred)), 1)
    return cm


def chance_rank1(split: ProtocolSplit) -> float:
    """Rank-1 of a random ranking, in percent: 1 / (gallery identities)."""
    return 100.0 / max(1, len({r.pid for r in split.gallery if r.pid > 0}))


def sanity_table(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"setting": k, **v} for k, v in rows.items()])


def ps_hrnet_models(prof: Profile, split: ProtocolSplit, runs_root: str | Path = "runs", *,
                    train_if_missing: bool = True, progress: bool = True
                    ) -> tuple[torch.nn.Module, torch.nn.Module, dict[str, Path]]:
    """PS-HRNet's frozen HR teacher and its LR student (VDSR-CA + HRNet-ReID)."""
    from reidlab.engine.pseudo_siamese import load_student, load_teacher, train_student, train_teacher

    t_dir = run_dir(prof, "teacher", split, runs_root)
    teacher, _ = get_or_train("teacher", t_dir, allow_training=train_if_missing, load=load_teacher,
                              train=lambda: train_teacher(prof, split, t_dir, progress=progress)[0])
    s_dir = run_dir(prof, "student", split, runs_root)
    student, _ = get_or_train("student", s_dir, allow_training=train_if_missing, load=load_student,
                              train=lambda: train_student(prof, split, teacher, s_dir, progress=progress)[0])
    return teacher, student, {"teacher": t_dir, "student": s_dir}


@torch.inference_mode()
def restore_examples(student: torch.nn.Module, records, *, height: int, width: int, interpolation: str = "bicubic"):
    """(LR input, VDSR-CA output, HR original) images, de-normalised to [0, 1] HxWx3 arrays."""
    from reidlab.data import ReidImageDataset, build_transforms

    tf = build_transforms(height, width, train=False)
    lr_ds = ReidImageDataset(records, tf, interpolation=interpolation)
    hr_ds = ReidImageDataset([dataclasses.replace(r, factor=1) for r in records], tf, interpolation=interpolation)
    lr = torch.stack([lr_ds[i][0] for i in range(len(records))])
    hr = torch.stack([hr_ds[i][0] for i in range(len(records))])
    was_training = student.training
    student.eval()
    try:
        restored = student.vdsr(lr)
    finally:
        student.train(was_training)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    to_img = lambda t: (t * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()  # noqa: E731
    return to_img(lr), to_img(restored.float()), to_img(hr)
