"""The study's training units as jobs: list them (``plan``), train them outside the notebooks
(``train-units``), locally in parallel processes or on a cluster through submitit (issue 23).

A *training unit* is one call that trains a model of the study: the pre-training stand-in of a
backbone, one B-F or B-R (:func:`reidlab.study.compute.model_store.bf_model` / ``br_model``) or one PS-HRNet
unit (teacher, VDSR-CA warm-up and student, :func:`~reidlab.study.compute.model_store.ps_hrnet_models`).
:func:`study_units` lists every unit ``make reproduce`` needs, notebook by notebook, from the
plan each notebook reads its own settings from (:mod:`reidlab.study.compute.plans`, registered in
:mod:`reidlab.study.show.registry`): what a notebook trains is written once. A unit is identified
by the run folder it trains (:mod:`reidlab.engine.run_identity`), so one needed by several notebooks
is listed once, and a notebook run after :func:`train_units` finds every unit finished and trains
nothing (the pipeline records the runs each notebook trained in ``run_info.json``'s ``trained_units``).

Two kinds of dependency are resolved in stages:

* every B-F, B-R and PS-HRNet unit starts from a pre-trained backbone whose file is part of its
  identity: the pre-training units run first, then the rest is planned and run;
* notebook 04 chooses B-R's pseudo-label bins on validation identities, and notebook 05 uses
  that choice: the planner lists the CAVIAR-like B-R units for *every* candidate bin count
  (``speculative``: the unchosen ones are trained but not used; light B-R units are cheap).

Units run through :func:`train_unit` (pure in its picklable arguments), in processes of their
own: ``executor="local"`` (:class:`concurrent.futures.ProcessPoolExecutor`), or submitit's
executors (``"submitit-local"`` for tests, ``"slurm"`` on a cluster). A run folder is locked
while it trains (two launchers never write one folder) and an interrupted unit resumes from its
checkpoint when it is started again.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reidlab.study.compute.plans import UnitRequest

__all__ = ["UNIT_KINDS", "EXECUTORS", "UnitRequest", "study_units", "planned_units", "unit_run", "unit_finished",
           "train_unit", "check_train_arguments", "train_units", "plan_table"]

#: what a unit trains
UNIT_KINDS: tuple[str, ...] = ("pretrain", "bf", "br", "ps_hrnet")
#: how :func:`train_units` starts the units' processes
EXECUTORS: tuple[str, ...] = ("local", "submitit-local", "slurm")


@dataclass(frozen=True)
class PlannedUnit:
    """A :class:`UnitRequest` with its run folder (``None`` while its start weights are not
    trained yet), whether it is finished and its estimated training images."""

    request: UnitRequest
    run: Path | None
    finished: bool
    images: int
    notebooks: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- listing


def study_units(params: dict[str, Any], *, notebooks: Sequence[str] | None = None,
                skips: Sequence[str] = ()) -> list[UnitRequest]:
    """Every B-F, B-R and PS-HRNet unit the notebooks (default every registered one,
    :func:`~reidlab.study.show.registry.notebooks`, less ``skips``) train when run with the
    pipeline's ``params`` (``profile``, ``seed``, ``dataset``, ``data_root``, ``runs_dir``...): each
    notebook's registered plan (:mod:`reidlab.study.compute.plans`) lists its own, in notebook
    order, not yet deduplicated (:func:`planned_units` does)."""
    from reidlab.study.show import registry

    chosen = [n for n in (notebooks or registry.notebooks()) if n not in skips]
    listing = []
    for name in chosen:
        plan = registry.plan(name, params)
        if plan is not None:
            listing += plan.training_units()
    return listing


# --------------------------------------------------------------------------- identity and state


def _pretraining_requests(requests: Sequence[UnitRequest]) -> list[UnitRequest]:
    """The pre-training units the requests start from (the ResNet's for B-F and a non-light
    B-R, the HRNet's for PS-HRNet where the profile pre-trains it)."""
    from reidlab.study.compute import model_store

    out = []
    for req in requests:
        prof = req.profile
        if not model_store.uses_pretraining(prof):
            continue
        if req.kind == "bf" or (req.kind == "br" and prof.model.br_network != "light"):
            out.append(UnitRequest("pretrain", prof, None, (("arch", "resnet"),), req.notebooks,
                                   f"pre-training stand-in ({prof.model.backbone})"))
        elif req.kind == "ps_hrnet" and prof.pretrain.hrnet:
            out.append(UnitRequest("pretrain", prof, None, (("arch", "hrnet"),), req.notebooks,
                                   f"pre-training stand-in ({prof.ps.hrnet})"))
    return out


def unit_run(req: UnitRequest, runs_root: str | os.PathLike[str]) -> Path | None:
    """The run folder ``req`` trains (PS-HRNet: its teacher's), computed without training;
    ``None`` while the start weights it needs are not trained yet."""
    from reidlab.study.compute import model_store

    try:
        if req.kind == "pretrain":
            return model_store.pretraining_dir(req.profile, runs_root, arch=req.option["arch"])
        if req.kind == "ps_hrnet":
            return model_store.ps_teacher_run(req.profile, req.split, runs_root)
        return model_store.rfd_run(req.kind, req.profile, req.split, runs_root, **req.option)
    except FileNotFoundError:
        return None


def unit_finished(req: UnitRequest, run: Path | None, runs_root: str | os.PathLike[str]) -> bool:
    """Whether ``req``'s run is finished (PS-HRNet: its student, found by loading the unit)."""
    from reidlab.engine.run_identity import MODEL_FILE, SUMMARY_FILE
    from reidlab.study.compute import model_store

    if run is None or not ((run / SUMMARY_FILE).is_file() and (run / MODEL_FILE).is_file()):
        return False
    if req.kind != "ps_hrnet":
        return True
    try:
        model_store.ps_hrnet_models(req.profile, req.split, runs_root, train_if_missing=False, progress=False)
    except FileNotFoundError:
        return False
    return True


def _training_images(req: UnitRequest) -> int:
    """Images the unit's schedule draws (iterations x batch), for the plan's cost column."""
    from reidlab.recipes.ps_hrnet import student_schedule, teacher_schedule
    from reidlab.study.compute import model_store

    prof = req.profile
    if req.kind == "pretrain":
        sched = prof.pretrain.schedule if req.option["arch"] == "resnet" else prof.pretrain.hrnet_schedule
        return sched.iterations * sched.p * sched.k
    split, _ = model_store.training_split(prof, req.split)
    if req.kind == "ps_hrnet":
        teacher, student = teacher_schedule(prof, split), student_schedule(prof, split)
        return (teacher.iterations * teacher.p * teacher.k
                + (student.iterations + prof.ps.vdsr_warmup_iterations) * student.p * student.k)
    schedule = model_store.trained_iterations(prof, req.split, req.kind)
    section = prof.bf if req.kind == "bf" else prof.br
    return schedule * section.p * section.k


def planned_units(requests: Sequence[UnitRequest], runs_root: str | os.PathLike[str]) -> list[PlannedUnit]:
    """Pre-training units first, then the requests, each run folder once (the notebooks that need
    it merged; a unit speculative only when every request of it is), with its state."""
    merged: dict[Any, PlannedUnit] = {}
    for req in [*_pretraining_requests(requests), *requests]:
        run = unit_run(req, runs_root)
        key = run if run is not None else (req.kind, req.profile, req.split, req.options)
        if key in merged:
            old = merged[key]
            notebooks = tuple(dict.fromkeys((*old.notebooks, *req.notebooks)))
            spec = old.request.speculative and req.speculative
            merged[key] = dataclasses.replace(old, notebooks=notebooks,
                                              request=dataclasses.replace(old.request, speculative=spec))
            continue
        merged[key] = PlannedUnit(req, run, unit_finished(req, run, runs_root), _training_images(req), req.notebooks)
    return list(merged.values())


def plan_table(units: Sequence[PlannedUnit], *, images_per_second: dict[str, float] | None = None):
    """One row per unit: kind, label, notebooks, run folder (or "after pre-training"), state,
    training images and, with measured ``images_per_second`` per kind, estimated hours."""
    import pandas as pd

    rows = []
    for u in units:
        rate = (images_per_second or {}).get(u.request.kind)
        rows.append({"kind": u.request.kind, "unit": u.request.label, "notebooks": " ".join(u.notebooks),
                     "run": u.run.name if u.run is not None else "(after pre-training)",
                     "state": "finished" if u.finished else ("speculative" if u.request.speculative else "to train"),
                     "images": u.images, **({"hours": round(u.images / rate / 3600, 2)} if rate else {})})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- training


def train_unit(req: UnitRequest, runs_root: str, *, threads: int | None = None, device_index: int | None = None
               ) -> dict[str, Any]:
    """Train (or resume, or find finished) one unit in this process: the study function the
    notebooks call, with ``train_if_missing=True``. ``threads``: torch's CPU threads;
    ``device_index``: the CUDA device. Returns what ran and for how long."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    if device_index is not None and torch.cuda.is_available():
        torch.cuda.set_device(device_index % torch.cuda.device_count())   # a cluster node may have fewer
    from reidlab.engine.run_identity import RunLockedError

    start = time.perf_counter()
    waited = 0.0
    while True:
        try:
            out = _train_or_find(req, runs_root)
            break
        except RunLockedError:
            # another launcher (a second train-units, a notebook) is training this unit's run: wait for
            # it to finish, then find the run finished (or resume it, if that launcher stopped)
            if waited >= LOCK_WAIT_SECONDS:
                raise
            time.sleep(LOCK_POLL_SECONDS)
            waited += LOCK_POLL_SECONDS
    return {"kind": req.kind, "unit": req.label, "run": str(out), "seconds": round(time.perf_counter() - start, 1),
            **({"waited_for_another_launcher_s": round(waited, 2)} if waited else {})}


#: how often and how long (seconds) a unit whose run another launcher holds waits for it
LOCK_POLL_SECONDS = 5.0
LOCK_WAIT_SECONDS = 48 * 3600.0


def _train_or_find(req: UnitRequest, runs_root: str) -> Path:
    """Train (or resume, or find finished) ``req``'s run in this process; its run folder."""
    from reidlab.study.compute import model_store

    if req.kind == "pretrain":
        return model_store.pretraining_run(req.profile, runs_root, arch=req.option["arch"], progress=False)
    if req.kind == "ps_hrnet":
        return model_store.ps_hrnet_models(req.profile, req.split, runs_root, progress=False)[2]["student"]
    if req.kind == "bf":
        return model_store.bf_model(req.profile, req.split, runs_root, progress=False, **req.option)[1]
    return model_store.br_model(req.profile, req.split, runs_root, progress=False)[1]


def _cuda_devices() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _run_jobs(requests: Sequence[UnitRequest], runs_root: str, *, jobs: int, executor: str, threads: int,
              folder: Path, slurm: dict[str, Any] | None, log: Callable[[str], None],
              work: Callable[..., dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Run ``requests`` with ``jobs`` at a time, each with ``threads`` CPU threads; on CUDA the
    jobs spread over the visible devices. ``work``: what each job runs (default :func:`train_unit`;
    tests pass a module-level stand-in). A worker process that dies (killed, out of memory) stops
    the run with a message naming the units not finished and saying that a rerun resumes them."""
    work = work or train_unit
    if not requests:
        return []
    gpus = _cuda_devices() if executor == "local" else 0   # on SLURM each job has the node's devices to itself
    args = [(req, runs_root) for req in requests]
    kwargs = [{"threads": threads, "device_index": (i % gpus) if gpus else None} for i in range(len(requests))]
    if executor == "local":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from concurrent.futures.process import BrokenProcessPool

        done = []
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(work, *a, **k): a[0] for a, k in zip(args, kwargs)}
            try:
                for fut in as_completed(futures):
                    try:
                        res = fut.result()
                    except BrokenProcessPool:
                        raise
                    except Exception as exc:
                        exc.add_note(f"[reidlab] train-units: while training {_unit_words(futures[fut], runs_root)}")
                        raise
                    log(f"[reidlab] unit done in {res['seconds']:.0f} s: {res['unit']} -> {res['run']}")
                    done.append(res)
            except BrokenProcessPool as exc:
                unfinished = [req for fut, req in futures.items() if not (fut.done() and fut.exception() is None)]
                raise SystemExit(lost_worker_message(unfinished, runs_root, len(done), exc)) from None
        return done
    import submitit

    ex = submitit.AutoExecutor(folder=str(folder), cluster="local" if executor == "submitit-local" else "slurm")
    params: dict[str, Any] = {"timeout_min": 24 * 60}
    if executor == "slurm":
        params.update({"slurm_array_parallelism": jobs, **(slurm or {})})
    ex.update_parameters(**params)
    done = []
    with ex.batch():
        handles = [ex.submit(work, *a, **k) for a, k in zip(args, kwargs)]
    for handle in handles:
        res = handle.result()
        log(f"[reidlab] unit done in {res['seconds']:.0f} s: {res['unit']} -> {res['run']}")
        done.append(res)
    return done


def _unit_words(req: UnitRequest, runs_root: str) -> str:
    """``"<unit label> (run folder <path>)"``; the folder once its identity is known."""
    run = unit_run(req, runs_root)
    return f"{req.label} (run folder {run if run is not None else 'named once pre-training is done'})"


def lost_worker_message(unfinished: Sequence[UnitRequest], runs_root: str, finished: int, error: BaseException) -> str:
    """What train-units says when a worker process died (killed, out of memory): which units did not
    finish, where their runs are, and that the same command resumes them."""
    units = "; ".join(_unit_words(req, runs_root) for req in unfinished[:6]) + (
        f"; and {len(unfinished) - 6} more" if len(unfinished) > 6 else "")
    return (f"[reidlab] train-units: a worker process was lost ({type(error).__name__}: the process was killed or ran "
            f"out of memory) with {len(unfinished)} unit(s) not finished: {units}. {finished} unit(s) finished and are "
            "kept; rerun the same command to resume: finished units are found, an interrupted one continues from "
            "its last checkpoint")


def _whole_number_at_least_one(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_train_arguments(*, jobs: int, threads: int | None, executor: str) -> None:
    """Refuse, before any work, what :func:`train_units` cannot run with: a ``ValueError`` naming
    the argument (and its command-line flag) and the value, for ``jobs`` or ``threads`` below 1, an
    executor outside :data:`EXECUTORS`, a submitit executor without the submitit package, and
    ``"slurm"`` on a machine without SLURM (no ``sbatch`` on ``PATH``)."""
    import importlib.util
    import shutil

    from reidlab.choices import check_choice

    check_choice("executor", executor, EXECUTORS)
    if not _whole_number_at_least_one(jobs):
        raise ValueError(f"jobs must be >= 1 (--jobs: units trained at once), got {jobs!r}")
    if threads is not None and not _whole_number_at_least_one(threads):
        raise ValueError(f"threads must be >= 1 (--threads: CPU threads per job; leave it unset for torch's "
                         f"count), got {threads!r}")
    if executor != "local" and importlib.util.find_spec("submitit") is None:
        raise ValueError(f"executor={executor!r} (--executor {executor}) needs the submitit package, which is not "
                         "installed: pip install submitit, or use executor='local'")
    if executor == "slurm" and shutil.which("sbatch") is None:
        raise ValueError("executor='slurm' (--executor slurm) needs SLURM, and its sbatch command is not on PATH "
                         "on this machine: run train-units on a SLURM login node, or use --executor local "
                         "(processes here) or submitit-local")


def train_units(params: dict[str, Any], *, jobs: int = 1, executor: str = "local", skips: Sequence[str] = (),
                notebooks: Sequence[str] | None = None, include_speculative: bool = True, threads: int | None = None,
                slurm: dict[str, Any] | None = None, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Train every unit :func:`study_units` lists for ``params`` that is not finished: the
    pre-training units first, then (planned again, now with their identities) the rest, ``jobs``
    at a time through ``executor`` (:data:`EXECUTORS`; job files under
    ``<runs_dir>/jobs/``). ``include_speculative=False`` leaves the candidates of choices not
    made yet (notebook 04's pseudo-label bins) to the notebooks.

    ``threads``: each job's CPU threads; default this process's (torch's), the count the
    notebooks train with: a CPU result depends on the thread count (its sums are split
    differently), so only the same count gives the sequential run's weights bit for bit. Fewer
    (e.g. cores / jobs) run faster side by side and agree to float rounding."""
    import torch

    from reidlab.paths import resolve

    check_train_arguments(jobs=jobs, threads=threads, executor=executor)
    threads = threads or torch.get_num_threads()
    runs_root = str(resolve(params.get("runs_dir", "runs"), name="runs_dir"))
    folder = Path(runs_root) / "jobs"
    done: list[dict[str, Any]] = []
    for stage in ("pre-training", "training"):
        requests = study_units({**params, "runs_dir": runs_root}, notebooks=notebooks, skips=skips)
        planned = planned_units(requests, runs_root)
        todo = [u.request for u in planned if not u.finished
                and (u.request.kind == "pretrain") == (stage == "pre-training")
                and (include_speculative or not u.request.speculative)]
        log(f"[reidlab] train-units, {stage}: {len(todo)} of {len(planned)} units to train, {jobs} at a time ({executor})")
        done += _run_jobs(todo, runs_root, jobs=jobs, executor=executor, threads=threads, folder=folder, slurm=slurm,
                          log=log)
    return done
