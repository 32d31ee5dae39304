"""The study's trained models: find the run folder, reuse a finished run, or train it.

Run folders are named by :func:`reidlab.engine.runs.run_folder` from each task's
:class:`~reidlab.engine.runs.RunSpec` (the engine's one notion of run identity), so a
changed setting never reuses an old checkpoint and an unchanged one never retrains. This
module is the only place that knows which notebook trains which model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from reidlab.config import Profile, override
from reidlab.data.records import ProtocolSplit
from reidlab.engine.runs import RunSpec, run_folder

__all__ = ["PRODUCER_NOTEBOOK", "run_dir", "get_or_train", "bf_model", "br_model", "ps_hrnet_models"]

#: which notebook produces each task's checkpoints
PRODUCER_NOTEBOOK = {
    "bf": "notebooks/01_train_bf.ipynb",
    "br": "notebooks/02_train_br.ipynb",
    "teacher": "notebooks/06_ps_hrnet.ipynb",
    "student": "notebooks/06_ps_hrnet.ipynb",
}


def run_dir(profile: Profile, spec: RunSpec, runs_root: str | Path = "runs") -> Path:
    """``<runs_root>/<profile>/<dataset>/<task>-<identity digest>``."""
    return run_folder(runs_root, profile.name, profile.data.dataset, spec)


def get_or_train(spec: RunSpec, out_dir: Path, *, train: Callable[[], Any], load: Callable[[Path], Any],
                 allow_training: bool) -> tuple[Any, bool]:
    """Load the finished run ``spec`` in ``out_dir``, or train it when ``allow_training``;
    else say which notebook trains it. Returns ``(result, trained_now)``."""
    if spec.is_finished(out_dir):
        return load(out_dir), False
    if not allow_training:
        raise FileNotFoundError(
            f"no finished {spec.task} checkpoint in {out_dir}: run "
            f"{PRODUCER_NOTEBOOK.get(spec.task, 'the training notebook')} with the same parameters "
            "first (or pass train_if_missing=True)")
    return train(), True


def bf_model(prof: Profile, split: ProtocolSplit, runs_root: str | Path = "runs", *, attention: bool | None = None,
             train_if_missing: bool = True, progress: bool = True) -> tuple[torch.nn.Module, Path]:
    """RFD's B-F (or the attention-free "baseline" with ``attention=False``)."""
    from reidlab.engine.tasks import bf_spec, load_bf, train_bf

    if attention is not None:
        prof = override(prof, model={"attention": attention})
    spec = bf_spec(prof, split)
    out = run_dir(prof, spec, runs_root)
    model, _ = get_or_train(spec, out, allow_training=train_if_missing, load=load_bf,
                            train=lambda: train_bf(prof, split, out, progress=progress)[0])
    return model, out


def br_model(prof: Profile, split: ProtocolSplit, runs_root: str | Path = "runs", *,
             train_if_missing: bool = True, progress: bool = True) -> tuple[torch.nn.Module, Path]:
    """RFD's B-R: the same network trained to classify resolutions."""
    from reidlab.engine.tasks import br_spec, load_br, train_br

    spec = br_spec(prof, split)
    out = run_dir(prof, spec, runs_root)
    model, _ = get_or_train(spec, out, allow_training=train_if_missing, load=load_br,
                            train=lambda: train_br(prof, split, out, progress=progress)[0])
    return model, out


def ps_hrnet_models(prof: Profile, split: ProtocolSplit, runs_root: str | Path = "runs", *,
                    train_if_missing: bool = True, progress: bool = True
                    ) -> tuple[torch.nn.Module, torch.nn.Module, dict[str, Path]]:
    """PS-HRNet's frozen HR teacher and its LR student (VDSR-CA + HRNet-ReID)."""
    from reidlab.engine.pseudo_siamese import (
        load_student, load_teacher, student_spec, teacher_spec, train_student, train_teacher,
    )

    t_spec = teacher_spec(prof, split)
    t_dir = run_dir(prof, t_spec, runs_root)
    teacher, _ = get_or_train(t_spec, t_dir, allow_training=train_if_missing, load=load_teacher,
                              train=lambda: train_teacher(prof, split, t_dir, progress=progress)[0])
    s_spec = student_spec(prof, split, teacher)
    s_dir = run_dir(prof, s_spec, runs_root)
    student, _ = get_or_train(s_spec, s_dir, allow_training=train_if_missing, load=load_student,
                              train=lambda: train_student(prof, split, teacher, s_dir, progress=progress)[0])
    return teacher, student, {"teacher": t_dir, "student": s_dir}
