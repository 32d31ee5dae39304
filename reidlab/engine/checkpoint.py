"""Atomic checkpoint files and RNG state capture, all loadable with ``weights_only=True``.

Everything stored is a tensor or a primitive container (dict, list, tuple, str, int,
float, bool, None), so :func:`torch.load` never has to unpickle arbitrary objects.
Files are written to a temporary file in the destination directory, fsync'ed and
moved into place with :func:`os.replace`: a reader (or a resumed run after a crash)
sees either the previous complete file or the new complete file, never a torn one.
"""
from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from reidlab.paths import atomic_write


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj, path)`` atomically (temp file + fsync + ``os.replace``)."""
    return atomic_write(path, lambda handle: torch.save(obj, handle))


def load_checkpoint(path: str | os.PathLike[str],
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a file written by :func:`atomic_save` with ``weights_only=True``.

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        RuntimeError: the file exists but cannot be read as a checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file name
        # torch's text would suggest weights_only=False, i.e. running a file's code: never do that
        raise RuntimeError(
            f"checkpoint {path} is corrupt or was not written by reidlab ({type(exc).__name__}); "
            f"delete it (or its run folder) to start over, or train anew: --no-resume on the command line "
            f"(python -m reidlab.train_cli), resume=False from Python") from exc


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module under ``torch.compile`` and/or DDP wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod  # torch.compile's OptimizedModule
        elif isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


def model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The unwrapped model's ``state_dict`` with tensors detached onto the CPU."""
    return {k: v.detach().cpu().clone() for k, v in unwrap_model(model).state_dict().items()}


def load_weights(model: nn.Module, path: str | os.PathLike[str], strict: bool = True) -> nn.Module:
    """Load ``path`` (a ``model.pt`` state dict or a ``checkpoint.pt``) into ``model``.

    Raises a ``FileNotFoundError`` / ``RuntimeError`` naming the file when it is missing,
    corrupt or does not match the model's parameters.
    """
    state = load_checkpoint(path)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], Mapping):
        state = state["model"]
    target = unwrap_model(model)
    try:
        target.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        raise RuntimeError(f"weights in {path} do not fit {type(target).__name__}: {exc}") from exc
    return model


def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and every CUDA device) RNG states as tensors/lists."""
    version, mt_state, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": [version, list(mt_state), gauss],
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))
    np_state = state["numpy"]
    np.random.set_state({
        "bit_generator": np_state["bit_generator"],
        "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
        "has_gauss": np_state["has_gauss"],
        "gauss": np_state["gauss"],
    })
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        cuda_states = list(state["cuda"])[:torch.cuda.device_count()]
        for index, cuda_state in enumerate(cuda_states):
            torch.cuda.set_rng_state(cuda_state, index)
