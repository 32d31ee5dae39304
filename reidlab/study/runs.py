"""Where trained models live, and getting them (reuse, or train when allowed).

A run folder is named by the task, the dataset and a short hash of everything that
determines the trained weights (data, model, schedule, split), so a changed parameter
never silently reuses an old checkpoint, and an unchanged one never retrains.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from reidlab.config import Profile, to_dict
from reidlab.data.records import ProtocolSplit
from reidlab.engine.tasks import split_identity
from reidlab.study.io import resolve

#: which notebook produces each task's checkpoints
PRODUCER_NOTEBOOK = {
    "bf": "notebooks/01_train_bf.ipynb",
    "br": "notebooks/02_train_br.ipynb",
    "teacher": "notebooks/06_ps_hrnet.ipynb",
    "student": "notebooks/06_ps_hrnet.ipynb",
}


#: tasks that never see resolution labels: pseudo-label settings must not retrain them
IDENTITY_TASKS = ("bf", "teacher", "student")


def run_dir(profile: Profile, task: str, split: ProtocolSplit, runs_root: str | Path = "runs",
            **extra: Any) -> Path:
    """``<runs_root>/<profile>/<dataset>/<task>[-tags]-<hash>``."""
    train_cfg = {"bf": profile.bf, "br": profile.br}.get(task)
    data = to_dict(profile.data)
    if task in IDENTITY_TASKS:
        data.pop("pseudo_bins"), data.pop("pseudo_strategy")
    key = {
        "task": task,
        "data": data,
        "model": to_dict(profile.model),
        "train": to_dict(train_cfg) if train_cfg is not None else to_dict(profile.ps),
        "split": split_identity(split, with_res_labels=task not in IDENTITY_TASKS),
        "extra": extra,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:10]
    tags = "".join(f"-{k}={v}" for k, v in sorted(extra.items()))
    return resolve(runs_root) / profile.name / profile.data.dataset / f"{task}{tags}-{digest}"


def is_finished(out_dir: Path) -> bool:
    return (out_dir / "summary.json").exists() and (out_dir / "model.pt").exists()


def get_or_train(task: str, out_dir: Path, *, train: Callable[[], Any], load: Callable[[Path], Any],
                 allow_training: bool) -> tuple[Any, bool]:
    """Load a finished run, or train it when ``allow_training``; else explain what to run.

    Returns ``(result, trained_now)``.
    """
    if is_finished(out_dir):
        return load(out_dir), False
    if not allow_training:
        raise FileNotFoundError(
            f"no finished {task} checkpoint in {out_dir}: run {PRODUCER_NOTEBOOK.get(task, 'the training notebook')} "
            f"with the same parameters first (or pass train_if_missing=True)")
    return train(), True


def ablation_profile(profile: Profile, **data_changes: Any) -> Profile:
    """``profile`` with data fields replaced (e.g. interpolation, seed) for an ablation run."""
    return dataclasses.replace(profile, data=dataclasses.replace(profile.data, **data_changes))
