"""Training engine: :func:`fit`, checkpoints, DDP helpers, and the RFD tasks.

The trainer names are imported eagerly; task-level helpers (which pull in the models,
losses and datasets) and the feature extractor are resolved on first access, so
``import reidlab.engine`` stays light and never fails because of a sibling module.
"""
from __future__ import annotations

import importlib
from typing import Any

from reidlab.engine.checkpoint import atomic_save, load_checkpoint, load_weights
from reidlab.engine.distributed import DistInfo, cleanup_distributed, dist_env, init_distributed
from reidlab.engine.runs import ConfigMismatchError, RunLock, RunLockedError, RunSpec
from reidlab.engine.trainer import (
    TrainSummary,
    deterministic_mode,
    fit,
    seed_everything,
)

_LAZY: dict[str, str] = {
    "train_bf": "reidlab.engine.tasks",
    "train_br": "reidlab.engine.tasks",
    "load_bf": "reidlab.engine.tasks",
    "load_br": "reidlab.engine.tasks",
    "extract_features": "reidlab.engine.extract",
    "train_or_load": "reidlab.engine.runner",
    "train_teacher": "reidlab.engine.pseudo_siamese",
    "train_student": "reidlab.engine.pseudo_siamese",
    "load_teacher": "reidlab.engine.pseudo_siamese",
    "load_student": "reidlab.engine.pseudo_siamese",
    "ps_input_size": "reidlab.engine.pseudo_siamese",
    "teacher_schedule": "reidlab.engine.pseudo_siamese",
    "student_schedule": "reidlab.engine.pseudo_siamese",
}

__all__ = [
    "ConfigMismatchError", "RunLock", "RunLockedError", "RunSpec", "DistInfo", "TrainSummary", "atomic_save", "cleanup_distributed", "deterministic_mode",
    "dist_env", "fit", "init_distributed", "load_checkpoint", "load_weights", "seed_everything",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    """Import task helpers and ``extract_features`` on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
