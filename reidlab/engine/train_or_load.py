"""Train or load: the one sequence every recipe of the engine runs its training through.

B-F and B-R (:mod:`reidlab.recipes.rfd_baselines`), the PS-HRNet teacher and student
(:mod:`reidlab.recipes.ps_hrnet`) and the pre-training stand-in
(:mod:`reidlab.recipes.pretraining`) each describe *what* to train (a
:class:`~reidlab.engine.run_identity.RunSpec`, a builder, a fit step, a loader);
:func:`train_or_load` is *how*, written once:

1. refuse at once, before any folder is touched, when training is not allowed and the run
   is not finished (the error says what trains it: ``missing_hint``);
2. start the process group (under ``torchrun``) and lock the run folder (main rank);
3. a finished run with the same identity is loaded (``load``), never retrained;
4. otherwise claim the folder (:meth:`RunSpec.prepare`, refusing another run's checkpoint
   or weights), wait for every rank, prepare the data (``data``), seed every generator
   (:func:`~reidlab.engine.training_loop.seed_everything`), build the network under that seed
   (``build``) and train it (``fit``, which resumes an interrupted run exactly).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch
from torch import nn

from reidlab.engine.distributed import barrier, init_distributed
from reidlab.engine.run_identity import SUMMARY_FILE, RunSpec, locked
from reidlab.engine.training_loop import TrainSummary, seed_everything
from reidlab.paths import append_json_line, read_json, read_json_lines

__all__ = ["Outcome", "train_or_load", "TRAINED_LOG_ENV", "log_trained_run", "read_trained_log"]

R = TypeVar("R")
D = TypeVar("D")


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What :func:`train_or_load` gives back: the recipe's ``result`` (a model, a weights
    file), the run's :class:`TrainSummary` (read back from ``summary.json`` for a reused run)
    and whether it was trained (or resumed) now."""

    result: R
    summary: TrainSummary | None
    trained: bool


def train_or_load(spec: RunSpec, out_dir: str | os.PathLike[str], *,
                  load: Callable[[Path], R],
                  build: Callable[[D], nn.Module],
                  fit: Callable[[nn.Module, D], tuple[R, TrainSummary]],
                  seed: int,
                  data: Callable[[], D] | None = None,
                  resume: bool = True,
                  device: str | torch.device | None = None,
                  allow_training: bool = True,
                  missing_hint: str | None = None,
                  finished: Callable[[Path], bool] | None = None) -> Outcome[R]:
    """Load the finished run ``spec`` in ``out_dir``, or train it (see the module docstring).

    Args:
        spec: the run's identity.
        out_dir: its run folder.
        load: ``load(out) -> result`` for a finished run.
        build: ``build(data) -> network``, called right after seeding with ``seed``.
        fit: ``fit(network, data) -> (result, summary)``: trains (or resumes) into ``out_dir``.
        seed: the schedule's seed.
        data: ``data() -> D`` prepared before seeding (default: ``None`` is passed on).
        resume: reuse a finished run / resume an unfinished one; ``False`` trains anew.
        device: the training device (starts the process group on its backend).
        allow_training: ``False``: only load; a missing run is a ``FileNotFoundError``.
        missing_hint: how to produce the run, appended to that error.
        finished: ``finished(out) -> bool`` when "finished" needs more than
            :meth:`RunSpec.is_finished` (a file the recipe writes after ``fit``).
    """
    out = Path(out_dir)
    done = finished if finished is not None else spec.is_finished
    if not allow_training and not (resume and done(out)):
        raise FileNotFoundError(f"no finished {spec.task} checkpoint in {out}"
                                + (f": {missing_hint}" if missing_hint else ""))
    info = init_distributed(torch.device(device) if device is not None else None)
    with locked(out, enabled=info.is_main):
        if resume and done(out):
            if info.is_main:
                log_trained_run(spec.task, out, reused=True)
            return Outcome(load(out), _stored_summary(out), trained=False)
        spec.prepare(out, resume=resume, write=info.is_main)
        barrier()  # every rank has checked the old config before rank 0 replaces it
        prepared: Any = data() if data is not None else None
        seed_everything(seed)
        model = build(prepared)
        result, summary = fit(model, prepared)
    if info.is_main:
        log_trained_run(spec.task, out)
    return Outcome(result, summary, trained=True)


#: names a file to which every run trained (or resumed) here is appended as one JSON line
#: (the study pipeline sets it per notebook: ``run_info.json``'s ``trained_units``)
TRAINED_LOG_ENV = "REIDLAB_TRAINED_LOG"


def log_trained_run(task: str, out: Path, *, reused: bool = False) -> None:
    """Append ``{"task", "run"}`` (with ``"reused": true`` for a finished run loaded, not trained)
    to the file :data:`TRAINED_LOG_ENV` names (nothing when unset)."""
    append_json_line(os.environ.get(TRAINED_LOG_ENV),
                     {"task": task, "run": str(out), **({"reused": True} if reused else {})})


def read_trained_log(path: str | os.PathLike[str], *, reused: bool = False) -> list[dict[str, str]]:
    """The runs a :func:`log_trained_run` file lists as trained (or resumed) there, or with
    ``reused=True`` those it lists as loaded finished (none for a missing file)."""
    return [entry for entry in read_json_lines(path)
            if isinstance(entry, dict) and bool(entry.get("reused")) == reused]


def _stored_summary(out: Path) -> TrainSummary | None:
    stored = read_json(out / SUMMARY_FILE, missing_ok=True)
    return TrainSummary.from_dict(stored) if isinstance(stored, dict) else None
