"""Run identity: the one home for "which trained model is this folder?".

A *run* is a folder written by :func:`reidlab.engine.training_loop.fit` for one task (B-F, B-R,
the PS-HRNet teacher or student, or any caller of ``fit``). Its identity is a
:class:`RunSpec`: the task plus every setting that determines the trained weights (data,
model, schedule, training records and their content), as plain JSON data. Everything that
asks "is this the same run?" goes through it:

* :meth:`RunSpec.differences` / :meth:`RunSpec.matches`: compare with a stored identity
  (the profile's *name*, worker count, checkpoint and log intervals never count);
* :meth:`RunSpec.digest`: the short hash that names run folders (``study.trained.run_dir``);
* :meth:`RunSpec.is_finished`: the folder holds this run's final weights;
* :meth:`RunSpec.prepare`: claim a folder for this run (refusing one that holds another
  run's checkpoint or weights, and never blocked by a ``config.json`` whose start failed);
* :class:`RunLock`: one writer per folder; a second one is refused, naming the holder's pid.

The identity is also stored inside every checkpoint and ``summary.json``, so a resume or a
"finished" answer never pairs weights with another run's settings, even if ``config.json``
was deleted.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reidlab.paths import read_json, write_json

__all__ = [
    "CONFIG_FILE", "CHECKPOINT_FILE", "MODEL_FILE", "METRICS_FILE", "SUMMARY_FILE", "LOCK_FILE",
    "RESULT_NEUTRAL_FIELDS", "ConfigMismatchError", "RunLockedError", "RunSpec", "RunLock",
    "split_identity", "config_differences", "run_folder", "locked", "weights_identity",
]

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.pt"
MODEL_FILE = "model.pt"
METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "summary.json"
LOCK_FILE = ".lock"

#: TrainConfig fields that do not change the trained weights: a run may be resumed (or
#: recognised as finished) with different values.
RESULT_NEUTRAL_FIELDS: frozenset[str] = frozenset({"num_workers", "checkpoint_every", "log_every",
                                                   "validate_every"})
#: Top-level keys that only label a run (never compared, never hashed).
LABEL_KEYS: frozenset[str] = frozenset({"profile"})


class ConfigMismatchError(ValueError):
    """A run folder (or checkpoint) holds a run of another configuration."""


class RunLockedError(RuntimeError):
    """Another live process is writing the run folder."""


# ---------------------------------------------------------------------------- identity

def _plain(data: Any) -> Any:
    """JSON round trip: tuples -> lists, keys -> str, as read back from a file."""
    return json.loads(json.dumps(data, sort_keys=True, default=str))


def _comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` without label keys, and without result-neutral fields in any ``train`` section."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key in LABEL_KEYS:
            continue
        if key in ("train", "teacher_train", "student_train") and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k not in RESULT_NEUTRAL_FIELDS}
        out[key] = value
    return out


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any],
                       prefix: str = "") -> list[str]:
    """``["train.lr: 0.0002 -> 0.001", ...]``: the settings that differ between two run
    identities and change the weights (labels and result-neutral fields never do)."""
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


@dataclass(frozen=True)
class RunSpec:
    """The identity of one trained model: ``task`` and its ``config`` (plain JSON data).

    Build it with :meth:`of`; ``config`` always holds ``"task"``.
    """

    task: str
    config: Mapping[str, Any]

    @classmethod
    def of(cls, task: str, **sections: Any) -> RunSpec:
        """``RunSpec.of("bf", data={...}, model={...}, train={...}, split={...})``."""
        return cls(task=task, config=_plain({"task": task, **sections}))

    # -- comparing
    def differences(self, stored: Mapping[str, Any] | None) -> list[str]:
        """What differs between ``stored`` (a ``config.json`` / checkpoint identity) and this run."""
        if not isinstance(stored, Mapping):
            return ["<no stored run identity>"]
        return config_differences(stored, self.config)

    def matches(self, stored: Mapping[str, Any] | None) -> bool:
        return isinstance(stored, Mapping) and not self.differences(stored)

    def digest(self, length: int = 10) -> str:
        """Short sha256 of the comparable identity (names run folders)."""
        text = json.dumps(_comparable(self.config), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:length]

    # -- folders
    @staticmethod
    def stored(out: str | os.PathLike[str]) -> dict[str, Any] | None:
        """The identity of what ``out`` holds: the one recorded with its final weights
        (``summary.json``) when the run finished, else ``config.json`` (``None`` when neither
        is readable)."""
        out = Path(out)
        summary = read_json(out / SUMMARY_FILE, missing_ok=True)
        if isinstance(summary, dict) and isinstance(summary.get("spec"), dict) and (out / MODEL_FILE).is_file():
            return summary["spec"]
        data = read_json(out / CONFIG_FILE, missing_ok=True)
        return data if isinstance(data, dict) else None

    def is_finished(self, out: str | os.PathLike[str]) -> bool:
        """``out`` holds this run's final weights (``model.pt`` and a ``summary.json`` whose
        recorded identity matches)."""
        out = Path(out)
        summary = read_json(out / SUMMARY_FILE, missing_ok=True)
        if not isinstance(summary, dict) or not (out / MODEL_FILE).is_file():
            return False
        return self.matches(summary.get("spec", self.stored(out)))

    def prepare(self, out: str | os.PathLike[str], *, resume: bool = True,
                write: bool = True) -> None:
        """Claim ``out`` for this run and write ``config.json``.

        With ``resume``, a folder whose ``config.json`` names another run *and* which holds
        that run's checkpoint or weights is refused (:class:`ConfigMismatchError`); a stale
        ``config.json`` next to nothing (a start that failed before the first checkpoint)
        is simply replaced. ``write=False`` only checks (non-main DDP ranks).
        """
        out = Path(out)
        stored = self.stored(out)
        has_state = (out / CHECKPOINT_FILE).is_file() or (out / MODEL_FILE).is_file()
        if stored is None and (out / CHECKPOINT_FILE).is_file():   # config.json deleted mid-run
            from reidlab.engine.checkpoint import load_checkpoint

            state = load_checkpoint(out / CHECKPOINT_FILE)
            stored = state.get("spec") if isinstance(state, dict) else None
        if resume and stored is not None and has_state and (diff := self.differences(stored)):
            raise ConfigMismatchError(
                f"{out} holds a {stored.get('task', '?')} run of another configuration "
                f"({'; '.join(diff)}); use another output folder, or resume=False "
                "(CLI: --no-resume) to train this one from scratch there")
        if write:
            out.mkdir(parents=True, exist_ok=True)
            write_json(out / CONFIG_FILE, dict(self.config))


# ------------------------------------------------------------------------- the split

def split_identity(split: Any, *, with_res_labels: bool = True) -> dict[str, Any]:
    """Dataset, training size and a fingerprint of the training records *and their content*.

    Protocol and trial are not part of it: both protocols (and every trial of one identity
    partition) train on the same records. B-F never sees resolution labels, so its identity
    leaves them out (``with_res_labels=False``) and pseudo-label settings never retrain it.
    Image contents are hashed (cached by size and mtime), so replacing an image under the
    same name retrains, and unchanged data does not.
    """
    from reidlab.data.fingerprint import RECORD_FIELDS, records_fingerprint

    fields = RECORD_FIELDS if with_res_labels else tuple(f for f in RECORD_FIELDS if f != "res_label")
    out = {"dataset": split.dataset, "n_train": len(split.train),
           "train_sha256": records_fingerprint(split.train, fields=fields)[:16]}
    if with_res_labels:
        out["n_res_classes"] = split.n_res_classes
    return out


# ------------------------------------------------------------------------------ locks

_HELD: dict[str, tuple[int, int]] = {}   # resolved lock path -> (fd, depth), this process
_HELD_GUARD = threading.Lock()


class RunLock:
    """Exclusive, re-entrant (within a process) lock on a run folder (``out/.lock``).

    The lock is an ``flock`` on the file, released by the kernel when the holder dies,
    so a killed run never leaves a stale lock. The holder's pid is written into the file
    and named in the :class:`RunLockedError` a second writer gets.
    """

    def __init__(self, out: str | os.PathLike[str]):
        self.out = Path(out)
        self.path = self.out / LOCK_FILE

    def __enter__(self) -> RunLock:
        self.out.mkdir(parents=True, exist_ok=True)
        key = str(self.path.resolve())
        with _HELD_GUARD:
            if key in _HELD:
                fd, depth = _HELD[key]
                _HELD[key] = (fd, depth + 1)
                return self
            fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise RunLockedError(
                        f"{self.out} is being written by another process (pid {holder}); wait "
                        "for it to finish, or stop it, before training into this folder") from None
                raise
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            _HELD[key] = (fd, 1)
        return self

    def __exit__(self, *exc: Any) -> None:
        key = str(self.path.resolve())
        with _HELD_GUARD:
            fd, depth = _HELD[key]
            if depth > 1:
                _HELD[key] = (fd, depth - 1)
                return
            del _HELD[key]
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


@contextmanager
def locked(out: str | os.PathLike[str], enabled: bool = True) -> Iterator[None]:
    """``with locked(out):`` holds :class:`RunLock` (no-op when ``enabled`` is false,
    e.g. on non-main DDP ranks, which never write)."""
    if not enabled:
        yield
        return
    with RunLock(out):
        yield


def weights_identity(pretrained: str | None) -> str | None:
    """What a ``pretrained`` setting contributes to a run's identity: ``None`` (scratch),
    ``"imagenet"`` (the library's versioned weights), or a local file's content digest, so a
    weights file replaced under the same name retrains."""
    if pretrained is None or pretrained == "imagenet":
        return pretrained
    from reidlab.data.fingerprint import file_digest

    from reidlab.paths import resolve

    path = resolve(pretrained, name="pretrained")
    return f"file:{file_digest(path)}" if path.is_file() else f"missing:{pretrained}"


def run_folder(runs_root: str | os.PathLike[str], profile_name: str, dataset: str,
               spec: RunSpec) -> Path:
    """``<runs_root>/<profile>/<dataset>/<task>-<digest>``: where the run ``spec`` lives, so a
    changed setting never reuses an old checkpoint and an unchanged one never retrains."""
    from reidlab.paths import resolve

    return resolve(runs_root, name="runs_dir") / profile_name / dataset / f"{spec.task}-{spec.digest()}"
