"""The training machinery every method runs on: the loop (:func:`fit`), run identity, train-or-load,
checkpoints, precision, DDP helpers and feature extraction. What each method trains is written in
:mod:`reidlab.recipes`, on top of this package.

The loop's names are imported eagerly; the feature extractor (which pulls in the models and
datasets) is resolved on first access, so ``import reidlab.engine`` stays light.
"""
from __future__ import annotations

import importlib
from typing import Any

from reidlab.engine.checkpoint import atomic_save, load_checkpoint, load_weights
from reidlab.engine.distributed import DistInfo, cleanup_distributed, dist_env, init_distributed
from reidlab.engine.run_identity import ConfigMismatchError, RunLock, RunLockedError, RunSpec
from reidlab.engine.training_loop import (
    TrainSummary,
    deterministic_mode,
    fit,
    seed_everything,
)

_LAZY: dict[str, str] = {
    "extract_features": "reidlab.engine.extract",
}

__all__ = [
    "ConfigMismatchError", "RunLock", "RunLockedError", "RunSpec", "DistInfo", "TrainSummary", "atomic_save", "cleanup_distributed", "deterministic_mode",
    "dist_env", "fit", "init_distributed", "load_checkpoint", "load_weights", "seed_everything",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    """Import ``extract_features`` on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
