"""The training loop every model of the study goes through: :func:`fit`.

One call trains ``cfg.iterations`` P x K batches with Adam or SGD, a warm-up + step
learning-rate schedule, optional mixed precision / ``channels_last`` / ``torch.compile``,
and DDP under ``torchrun``. It is resumable to the bit: batches and augmentation are
pure functions of ``(seed, iteration)`` (see :class:`~reidlab.data.samplers.PKSampler`),
and the checkpoint holds model, optimiser, scheduler, grad-scaler and every RNG state.

Files in ``out_dir`` (written by rank 0 only):
    ``checkpoint.pt``  everything needed to resume (atomic, every ``checkpoint_every`` iterations
                       before the last); removed once the run is finished
    ``model.pt``       the final weights (``state_dict`` of the unwrapped model)
    ``metrics.csv``    one row per logged iteration (iteration, lr, loss, metrics, images_per_s)
    ``summary.json``   the :class:`TrainSummary` and the config; marks the run finished
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from reidlab.progress import tqdm

from reidlab.config import TrainConfig, train_identity, validate
from reidlab.data.samplers import PKSampler
from reidlab.engine.checkpoint import (
    atomic_save,
    capture_rng_state,
    load_checkpoint,
    load_weights,
    model_state,
    restore_rng_state,
    unwrap_model,
)
from reidlab.engine.run_identity import (
    CHECKPOINT_FILE,
    METRICS_FILE,
    MODEL_FILE,
    SUMMARY_FILE,
    ConfigMismatchError,
    RunSpec,
    locked,
)
from reidlab.engine.precision import resolve_amp, resolve_precision
from reidlab.paths import atomic_write_text, read_json, remove_stale_temporaries, write_json
from reidlab.stages import stage
from reidlab.engine.distributed import (
    DistInfo,
    all_gather_objects,
    all_reduce_mean,
    barrier,
    default_device,
    init_distributed,
)

#: ``loss_fn(model, batch) -> (loss, {metric name: float or 0-d tensor})``.
LossFn = Callable[[nn.Module, Any], tuple[torch.Tensor, Mapping[str, Any]]]

@dataclass(frozen=True)
class TrainSummary:
    """What :func:`fit` reports (also stored in ``summary.json``).

    Attributes:
        out_dir: the run directory.
        iterations: iterations completed (= ``cfg.iterations``).
        final_metrics: loss and metrics of the last logged iteration (rank mean).
        checkpoint: path of ``checkpoint.pt`` (the resumable state; removed once the run is finished).
        model_path: path of ``model.pt``.
        wall_s: seconds spent in the last ``fit`` call that trained.
        resumed_from: iteration the last call resumed from (``None``: fresh start).
        images_per_s: steady-state training throughput (global images / s, after the
            first iteration of the call).
    """

    out_dir: str
    iterations: int
    final_metrics: dict[str, float] = field(default_factory=dict)
    checkpoint: str = ""
    model_path: str = ""
    wall_s: float = 0.0
    resumed_from: int | None = None
    images_per_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainSummary:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# --------------------------------------------------------------------------- seeding

def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and all CUDA devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic_mode(enabled: bool = True) -> Iterator[None]:
    """Prefer deterministic kernels inside the block; restores the previous settings.

    Sets ``cudnn.deterministic``, disables ``cudnn.benchmark`` and enables
    ``torch.use_deterministic_algorithms(True, warn_only=True)`` (ops without a
    deterministic implementation, e.g. some CUDA pooling backward kernels, only warn).
    On the CPU every op used here is deterministic for a fixed thread count.
    """
    if not enabled:
        yield
        return
    previous = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic,
                torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
                torch.utils.deterministic.fill_uninitialized_memory)  # type: ignore[attr-defined]
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)
    # NaN-filling every torch.empty() is a debugging aid, not needed for determinism
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = previous[:2]
        torch.use_deterministic_algorithms(previous[2], warn_only=previous[3])
        torch.utils.deterministic.fill_uninitialized_memory = previous[4]  # type: ignore[attr-defined]


# ------------------------------------------------------------------ optimisation parts

def build_optimizer(params: Iterable[Any], cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam(betas=(beta1, 0.999)) or SGD(momentum 0.9) with ``cfg.lr`` / ``cfg.weight_decay``.

    Fused kernels where every parameter is a float tensor on the CPU or a CUDA device (the
    same update, one kernel for all tensors: inside quick B-F training on a 2-core AVX2 EPYC an
    Adam step over MGN-ResNet-18 took 0.07 s instead of 0.14 s, 3% of the iteration).
    """
    params = list(params)
    tensors = [t for p in params for t in (p["params"] if isinstance(p, dict) else [p])]
    fused = bool(tensors) and all(t.is_floating_point() and t.device.type in ("cpu", "cuda") for t in tensors)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, 0.999),
                                weight_decay=cfg.weight_decay, fused=fused or None)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay, fused=fused or None)
    raise ValueError(f"optimizer={cfg.optimizer!r} is not valid; choose one of: adam, sgd")


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Multiplier of ``cfg.lr`` at 0-based iteration ``step``.

    Warm-up for the first ``warmup_iterations``: linear ``(step + 1) / warmup_iterations``, or
    the constant ``warmup_lr`` when set (PS-HRNet: 3e-4). Then ``lr_gamma`` once per milestone
    passed: ``lr_milestones`` (fractions of the run) when given, else ``lr_decay_at`` (no decay
    when outside ``(0, 1)``). RFD: 2e-4, divided by 10 at half the run.
    """
    if cfg.warmup_iterations > 0 and step < cfg.warmup_iterations:
        if cfg.warmup_lr is not None:
            return cfg.warmup_lr / cfg.lr
        factor = (step + 1) / cfg.warmup_iterations
    else:
        factor = 1.0
    milestones = cfg.lr_milestones or ((cfg.lr_decay_at,) if 0.0 < cfg.lr_decay_at < 1.0 else ())
    for milestone in milestones:
        if step >= round(milestone * cfg.iterations):
            factor *= cfg.lr_gamma
    return factor


def build_scheduler(optimizer: torch.optim.Optimizer,
                    cfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """:class:`~torch.optim.lr_scheduler.LambdaLR` over :func:`lr_factor`, stepped per iteration."""
    def schedule(step: int) -> float:
        return lr_factor(step, cfg)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def move_to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """Recursively move tensors to ``device`` (4-D float tensors to ``channels_last`` if asked)."""
    if isinstance(batch, torch.Tensor):
        tensor = batch.to(device, non_blocking=True)
        if channels_last and tensor.dim() == 4 and tensor.is_floating_point():
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor
    if isinstance(batch, Mapping):
        return {k: move_to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(v, device, channels_last) for v in batch)
    return batch


# ------------------------------------------------------------------------ metrics log

class MetricsLog:
    """``metrics.csv``: one row per logged iteration, kept consistent with the checkpoint."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path = path
        self.enabled = enabled
        self._fields: list[str] = []
        self._handle: Any = None

    def truncate(self, iteration: int) -> None:
        """Drop rows past ``iteration`` (rows a crashed run logged after its last checkpoint)."""
        if not self.enabled or not self.path.exists():
            return
        with self.path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fields = list(reader.fieldnames or [])
            rows = [r for r in reader if r.get("iteration") and int(r["iteration"]) <= iteration]
        if not rows:
            self.path.unlink()
            return
        self._fields = fields
        self._rewrite(rows)

    def write(self, row: Mapping[str, Any]) -> None:
        """Append ``row`` (a new metric name rewrites the file with an extended header)."""
        if not self.enabled:
            return
        if not self._fields and self.path.exists():
            with self.path.open(newline="", encoding="utf-8") as handle:
                self._fields = list(csv.DictReader(handle).fieldnames or [])
        new = [k for k in row if k not in self._fields]
        if new or not self.path.exists():
            old_rows = self._read_rows() if self.path.exists() else []
            self._fields += new
            self._rewrite(old_rows)
        if self._handle is None:
            self._handle = self.path.open("a", newline="", encoding="utf-8")
        csv.DictWriter(self._handle, fieldnames=self._fields, restval="").writerow(row)
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _read_rows(self) -> list[dict[str, str]]:
        self.close()
        with self.path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def _rewrite(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.close()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self._fields, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, buffer.getvalue())


VALIDATION_FILE = "validation.csv"

#: ``validator(model) -> {metric name: float}`` on held-out data (the model is put back as it was)
Validator = Callable[[nn.Module], Mapping[str, float]]


class PeriodicValidation:
    """``fit``'s ``on_iteration`` hook: every ``every`` iterations (and at the last one) run
    ``validator`` on the model and append ``iteration`` + its metrics to ``validation.csv``.

    Validation runs the model in eval mode without touching any random generator, so the
    trained weights are the same with or without it. On resume, rows past the first
    iteration validated again are dropped (they belong to the run that crashed).
    """

    def __init__(self, path: Path, model: nn.Module, validator: Validator, every: int,
                 iterations: int, enabled: bool = True) -> None:
        self.log = MetricsLog(path, enabled=enabled)
        self.model, self.validator = model, validator
        self.every, self.iterations = every, iterations
        self._first = True

    def __call__(self, iteration: int, metrics: Mapping[str, Any]) -> None:
        if iteration % self.every and iteration != self.iterations:
            return
        if self._first:
            self.log.truncate(iteration - 1)
            self._first = False
        with torch.random.fork_rng(devices=[]):
            values = dict(self.validator(unwrap_model(self.model)))
        self.log.write({"iteration": iteration, **{k: float(v) for k, v in values.items()}})
        self.log.close()


# ----------------------------------------------------------------------- checkpoints

def _finished_summary(out: Path, spec: RunSpec) -> TrainSummary | None:
    if not spec.is_finished(out):
        return None
    return TrainSummary.from_dict(read_json(out / SUMMARY_FILE))


def _save_checkpoint(path: Path, info: DistInfo, iteration: int, model: nn.Module,
                     optimizer: torch.optim.Optimizer, scheduler: Any,
                     scaler: torch.amp.GradScaler, spec: RunSpec) -> None:
    rng_states = all_gather_objects(capture_rng_state())  # collective: every rank calls
    if not info.is_main:
        return
    atomic_save({
        "iteration": iteration,
        "model": model_state(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": rng_states,
        "world_size": info.world_size,
        "spec": dict(spec.config),
    }, path)


def _resume(path: Path, info: DistInfo, spec: RunSpec, seed: int, model: nn.Module,
            optimizer: torch.optim.Optimizer, scheduler: Any,
            scaler: torch.amp.GradScaler) -> int:
    state = load_checkpoint(path)
    stored = state.get("spec") if isinstance(state, dict) else None
    if stored is None:
        raise ConfigMismatchError(
            f"{path} records no run identity (written by an older reidlab); delete it or pass "
            "resume=False (CLI: --no-resume) to start over")
    if diff := spec.differences(stored):
        raise ConfigMismatchError(
            f"{path} belongs to another run ({'; '.join(diff)}); resume with the same settings, "
            "or pass resume=False (CLI: --no-resume) to start over")
    try:
        unwrap_model(model).load_state_dict(state["model"])
    except RuntimeError as exc:
        raise ConfigMismatchError(
            f"{path} holds weights of another architecture than the model being trained "
            f"({str(exc).splitlines()[0]}); pass resume=False to start over") from exc
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if state["scaler"]:
        scaler.load_state_dict(state["scaler"])
    rng = state["rng"]
    if state["world_size"] == info.world_size:
        restore_rng_state(rng[info.rank])
    else:  # a different process count cannot replay per-rank RNG streams exactly
        seed_everything(seed + info.rank + int(state["iteration"]))
    return int(state["iteration"])


# ------------------------------------------------------------------------------- fit

def fit(model: nn.Module, dataset: Dataset, labels: Sequence[int], loss_fn: LossFn,
        cfg: TrainConfig, out_dir: str | os.PathLike[str], *, resume: bool = True,
        progress: bool = True, desc: str = "train", params: Iterable[Any] | None = None,
        device: str | torch.device | None = None, deterministic: bool = True,
        find_unused_parameters: bool = False,
        on_iteration: Callable[[int, Mapping[str, float]], None] | None = None,
        spec: RunSpec | None = None) -> TrainSummary:
    """Train ``model`` on P x K batches of ``dataset`` and write the run to ``out_dir``.

    Args:
        model: the network (built by the caller, e.g. after :func:`seed_everything`);
            trained in place and left on ``device`` in train mode.
        dataset: map-style dataset accepting ``(index, aug_seed)`` keys.
        labels: the sampler's label of every dataset index (identity or resolution class).
        loss_fn: ``loss_fn(model, batch) -> (loss, metrics)``; ``batch`` is the collated
            dataset output on the device; ``model`` may be DDP/compile-wrapped.
        cfg: the schedule (optimiser, lr, P, K, AMP, checkpoints, seed, workers).
        out_dir: run directory (see the module docstring for its files).
        resume: continue from ``checkpoint.pt`` / return a finished run with the same
            config; ``False`` starts over and overwrites.
        progress: tqdm bar with loss, accuracy (``acc`` metric) and lr (rank 0 only).
        desc: progress bar label.
        params: what the optimiser updates (parameters or param groups); default: every
            parameter of ``model`` that requires grad.
        device: default ``cuda:LOCAL_RANK`` when available, else CPU.
        deterministic: run inside :func:`deterministic_mode`.
        find_unused_parameters: passed to DDP (only for models with unused branches).
        on_iteration: called as ``on_iteration(iteration, metrics)`` after every
            iteration (and its checkpoint); ``metrics`` holds the raw values.
        spec: the run's identity (:class:`~reidlab.engine.run_identity.RunSpec`), stored in every
            checkpoint and in ``summary.json`` and checked on resume; default: the
            schedule alone (``RunSpec.of("fit", train=cfg)``).

    The folder is locked for the whole call (:class:`~reidlab.engine.run_identity.RunLock`): a
    second writer is refused with the holder's pid. Temporaries left by killed writers
    are removed on start.

    Returns:
        The :class:`TrainSummary` (metrics are rank means; timings are this rank's).
    """
    validate(cfg)
    if len(labels) != len(dataset):  # type: ignore[arg-type]
        raise ValueError(f"got {len(labels)} labels for a dataset of {len(dataset)} items")  # type: ignore[arg-type]
    started = time.perf_counter()
    out = Path(out_dir)
    info = init_distributed(torch.device(device) if device is not None else None)
    device = torch.device(device) if device is not None else default_device(info)
    cfg = resolve_precision(cfg, device)   # amp / channels_last "auto" -> what runs here
    spec = spec if spec is not None else RunSpec.of("fit", train=train_identity(cfg))
    with stage("pre-training" if spec.task == "pretrain" else "training"), locked(out, enabled=info.is_main):
        if info.is_main:
            remove_stale_temporaries(out)
        paths = {name: out / name for name in (CHECKPOINT_FILE, MODEL_FILE, METRICS_FILE, SUMMARY_FILE)}

        if resume and (finished := _finished_summary(out, spec)) is not None:
            load_weights(model, paths[MODEL_FILE])
            model.to(device)
            if cfg.channels_last:   # the layout a trained model is left in
                model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            return finished
        if info.is_main:
            out.mkdir(parents=True, exist_ok=True)
            if not resume:
                paths[CHECKPOINT_FILE].unlink(missing_ok=True)
        barrier()

        with deterministic_mode(deterministic):
            model.to(device)
            if cfg.channels_last:
                model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            optimizer = build_optimizer(
                params if params is not None else [p for p in model.parameters() if p.requires_grad],
                cfg)
            scheduler = build_scheduler(optimizer, cfg)
            amp_dtype, use_scaler = resolve_amp(cfg.amp, device)
            scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)

            start, resumed_from = 0, None
            if resume and paths[CHECKPOINT_FILE].is_file():
                start = resumed_from = _resume(paths[CHECKPOINT_FILE], info, spec, cfg.seed, model,
                                               optimizer, scheduler, scaler)
            else:
                seed_everything(cfg.seed + info.rank)  # training-time randomness (dropout, ...)
            if info.is_main:  # a summary / weights from another config are stale from here on
                paths[SUMMARY_FILE].unlink(missing_ok=True)
                paths[MODEL_FILE].unlink(missing_ok=True)

            net: nn.Module = model
            if info.is_distributed:
                net = DistributedDataParallel(
                    model, device_ids=[device.index] if device.type == "cuda" else None,
                    find_unused_parameters=find_unused_parameters)
            net.train()
            step_loss = compiled_step(loss_fn, net, cfg)

            sampler = PKSampler(labels, cfg.p, cfg.k, seed=cfg.seed, rank=info.rank,
                                world_size=info.world_size, num_batches=cfg.iterations).start_at(start)
            loader = training_batches(dataset, sampler, cfg, device, progress=progress and info.is_main)
            log = MetricsLog(paths[METRICS_FILE], enabled=info.is_main)
            log.truncate(start)
            bar = tqdm(total=cfg.iterations, initial=start, desc=desc, dynamic_ncols=True,
                       disable=not (progress and info.is_main))
            global_batch = cfg.p * cfg.k
            final_metrics: dict[str, float] = {}
            steady_from: tuple[int, float] | None = None
            last_log = (start, time.perf_counter())
            done = start
            try:
                for done, batch in enumerate(loader, start=start + 1):
                    batch = move_to_device(batch, device, cfg.channels_last)
                    lr = scheduler.get_last_lr()[0]
                    optimizer.zero_grad(set_to_none=True)
                    loss, metrics = step_loss.forward_backward(
                        batch, lambda l: scaler.scale(l).backward(),
                        lambda: torch.autocast(device.type, dtype=amp_dtype or torch.float32,
                                               enabled=amp_dtype is not None),
                        lambda: optimizer.zero_grad(set_to_none=True))
                    scaler.step(optimizer)
                    scaler.update()
                    scheduler.step()

                    if done % cfg.log_every == 0 or done == cfg.iterations:
                        final_metrics = _reduce_metrics(loss, metrics, device)
                        if not math.isfinite(final_metrics["loss"]):
                            raise FloatingPointError(
                                f"{desc}: loss is {final_metrics['loss']} at iteration {done} "
                                f"(lr {lr:.3g}); lower the learning rate or check the data")
                        now = time.perf_counter()
                        ips = global_batch * (done - last_log[0]) / max(now - last_log[1], 1e-9)
                        last_log = (done, now)
                        log.write({"iteration": done, "lr": lr, **final_metrics, "images_per_s": ips})
                        bar.set_postfix(_postfix(final_metrics, lr), refresh=False)
                    bar.update(1)
                    if done == cfg.iterations and cfg.bn_recalibration > 0:
                        recalibrate_batch_norm(model, dataset, labels, cfg, device, channels_last=cfg.channels_last,
                                               amp_dtype=amp_dtype, rank=info.rank, world_size=info.world_size)
                    if done % cfg.checkpoint_every == 0 and done < cfg.iterations:   # the end writes model.pt
                        _save_checkpoint(paths[CHECKPOINT_FILE], info, done, model, optimizer,
                                         scheduler, scaler, spec)
                    if steady_from is None:
                        steady_from = (done, time.perf_counter())
                    if on_iteration is not None:
                        on_iteration(done, metrics)
            finally:
                bar.close()
                log.close()
                del loader

            if done < cfg.iterations:  # pragma: no cover - the sampler always yields them all
                raise RuntimeError(f"{desc}: data ran out at iteration {done} of {cfg.iterations}")
            if start == cfg.iterations:  # checkpoint complete but summary missing
                final_metrics = _last_logged_metrics(paths[METRICS_FILE])
            end = time.perf_counter()
            images_per_s = 0.0
            if steady_from is not None and done > steady_from[0]:
                images_per_s = global_batch * (done - steady_from[0]) / (end - steady_from[1])
            elif steady_from is not None:
                images_per_s = global_batch * (done - start) / (end - started)
            summary = TrainSummary(
                out_dir=str(out), iterations=cfg.iterations, final_metrics=final_metrics,
                checkpoint=str(paths[CHECKPOINT_FILE]), model_path=str(paths[MODEL_FILE]),
                wall_s=end - started, resumed_from=resumed_from, images_per_s=images_per_s)
            if info.is_main:
                atomic_save(model_state(model), paths[MODEL_FILE])
                write_json(paths[SUMMARY_FILE], {**summary.to_dict(), "spec": dict(spec.config)})
                # finished: the resumable state is dead weight (optimiser moments: 2x the model's size)
                paths[CHECKPOINT_FILE].unlink(missing_ok=True)
            barrier()
        return summary


#: ``torch.compile`` modes that capture CUDA graphs (on a CUDA device)
CUDA_GRAPH_MODES: tuple[str, ...] = ("reduce-overhead", "max-autotune")


class TrainingStep:
    """One training step, ``batch -> loss_fn(net, batch)``, compiled or eager (:func:`compiled_step`).

    A compiled step that fails to compile or to capture (inductor, CUDA graphs: paths a device may
    not support) falls back to the eager step for the rest of the run, with a ``RuntimeWarning``
    that names the reason: :meth:`forward_backward` re-runs that step eagerly from zeroed
    gradients (and, until a compiled step has once succeeded, from the ``module``'s buffers as they
    were before it, such as batch-norm statistics a failed forward already updated), so the run
    goes on and trains the eager function. An error the eager step raises too is the step's own
    and propagates."""

    def __init__(self, eager: Callable[[Any], tuple[torch.Tensor, Any]],
                 compiled: Callable[[Any], tuple[torch.Tensor, Any]] | None = None, mode: str = "",
                 module: nn.Module | None = None) -> None:
        self.eager, self.compiled, self.mode, self.module = eager, compiled, mode, module
        self.fallback_reason: str | None = None
        self.proven = False                      # a compiled step has succeeded once

    @property
    def is_compiled(self) -> bool:
        return self.compiled is not None

    def __call__(self, batch: Any) -> tuple[torch.Tensor, Any]:
        return (self.compiled or self.eager)(batch)

    def fall_back(self, error: BaseException) -> None:
        """Use the eager step from now on, warning with ``error`` as the reason."""
        import warnings

        message = str(error).strip()
        self.fallback_reason = f"{type(error).__name__}: {message.splitlines()[0] if message else ''}"
        self.compiled = None
        warnings.warn(f"the compiled training step (torch.compile, mode {self.mode or 'default'}) failed, so training "
                      f"goes on with the eager step: {self.fallback_reason[:300]}", RuntimeWarning, stacklevel=3)

    def forward_backward(self, batch: Any, backward: Callable[[torch.Tensor], None],
                         autocast: Callable[[], Any], zero_grad: Callable[[], None]) -> tuple[torch.Tensor, Any]:
        """The step's forward (under ``autocast()``) and ``backward(loss)``; on a compiled step's
        failure in either, :meth:`fall_back` and the same step again, eagerly, after ``zero_grad()``."""
        saved = ({name: b.detach().clone() for name, b in self.module.named_buffers()}
                 if self.is_compiled and not self.proven and self.module is not None else None)
        try:
            with autocast():
                loss, metrics = self(batch)
            backward(loss)
            self.proven = self.proven or self.is_compiled
            return loss, metrics
        except Exception as error:  # noqa: BLE001 - compile / capture failures have many types
            if not self.is_compiled:
                raise
            self.fall_back(error)
        if saved is not None:
            with torch.no_grad():
                for name, buffer in self.module.named_buffers():
                    buffer.copy_(saved[name])
        zero_grad()
        with autocast():
            loss, metrics = self(batch)
        backward(loss)
        return loss, metrics


def compiled_step(loss_fn: LossFn, net: nn.Module, cfg: TrainConfig) -> TrainingStep:
    """``batch -> loss_fn(net, batch)`` as a :class:`TrainingStep`; with ``cfg.compile``, that whole
    function (forward and losses, and through AOTAutograd their backward) compiled by
    ``torch.compile`` in ``cfg.compile_mode``. Under ``"reduce-overhead"`` on CUDA the step replays
    as CUDA graphs: one launch for MGN's eight heads and their losses instead of hundreds of small
    kernels (the launch bound measured on an H100, benchmarks/README.md); each call then marks a
    new step first, as CUDA-graph trees need when the backward runs outside the compiled
    function. Its outputs are overwritten by the next call, so :func:`fit` reads them before the
    next step. A compile or capture failure falls back to the eager step, with a warning."""
    def step(batch: Any) -> tuple[torch.Tensor, Any]:
        return loss_fn(net, batch)

    if not cfg.compile:
        return TrainingStep(step)
    compiled = torch.compile(step, mode=None if cfg.compile_mode == "default" else cfg.compile_mode)
    if cfg.compile_mode not in CUDA_GRAPH_MODES:
        return TrainingStep(step, compiled, cfg.compile_mode, net)  # type: ignore[arg-type]

    def graphed(batch: Any) -> tuple[torch.Tensor, Any]:
        torch.compiler.cudagraph_mark_step_begin()
        return compiled(batch)
    return TrainingStep(step, graphed, cfg.compile_mode, net)


def training_batches(dataset: Dataset, sampler: PKSampler, cfg: TrainConfig, device: torch.device, *,
                     progress: bool = False) -> Iterable[Any]:
    """The batches of ``sampler``'s keys: a DataLoader over ``dataset`` (``augment_on="loader"``:
    ``cfg.num_workers`` processes decode and augment each item on the CPU), or batches built on
    ``device`` from a decoded-image cache (``"device"``: :class:`~reidlab.data.device_augment.
    DeviceAugmentedBatches`, the workers decode each record once). Both give the same tensors."""
    if cfg.augment_on == "device":
        from reidlab.data.device_augment import DeviceAugmentedBatches

        source = DeviceAugmentedBatches(dataset, device, num_workers=cfg.num_workers, progress=progress)
        return (source.batch(keys) for keys in sampler)
    if cfg.augment_on != "loader":
        raise ValueError(f"augment_on={cfg.augment_on!r} is not concrete here; resolve it with resolve_precision")
    return DataLoader(dataset, batch_sampler=sampler, num_workers=cfg.num_workers,
                      persistent_workers=cfg.num_workers > 0, pin_memory=device.type == "cuda",
                      # own generator: creating the iterator must not draw from the
                      # global RNG (that would shift dropout streams after a resume)
                      generator=torch.Generator().manual_seed(cfg.seed + sampler.start))


def recalibrate_batch_norm(model: nn.Module, dataset: Dataset, labels: Sequence[int], cfg: TrainConfig,
                           device: torch.device, *, channels_last: bool = False,
                           amp_dtype: torch.dtype | None = None, rank: int = 0, world_size: int = 1) -> None:
    """Re-estimate every BatchNorm layer's running statistics from ``cfg.bn_recalibration`` P x K
    training batches (train-mode forward passes without gradients, cumulative averages:
    :func:`torch.optim.swa_utils.update_bn`), as "precise BN" does (Wu & Johnson, arXiv 2105.07576).

    A network trained from random weights for a few dozen steps moves faster than BatchNorm's
    exponential running averages follow; in eval mode those stale statistics can send every
    image to one class. The batches are drawn by a sampler of their own (seed ``cfg.seed +
    1_000_003``) with the training augmentation, so the result is a pure function of the
    weights, and the global RNG streams are left as they were (a resumed run stays exact).
    Under DDP each rank averages its slice and the statistics are then averaged over ranks.
    """
    from torch.optim.swa_utils import update_bn

    sampler = PKSampler(labels, cfg.p, cfg.k, seed=cfg.seed + 1_000_003, rank=rank, world_size=world_size,
                        num_batches=cfg.bn_recalibration)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=0)
    images = (move_to_device(batch, device, channels_last)[0] for batch in loader)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), \
            torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        update_bn(images, model)
    if world_size > 1:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
                for buffer in (module.running_mean, module.running_var):
                    buffer.copy_(all_reduce_mean(buffer.detach().clone()))


def _reduce_metrics(loss: torch.Tensor, metrics: Mapping[str, Any],
                    device: torch.device) -> dict[str, float]:
    names = ["loss", *metrics]
    values = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=device).detach().reshape(())
                          for v in (loss, *metrics.values())])
    reduced = all_reduce_mean(values).tolist()
    return dict(zip(names, (float(v) for v in reduced)))


def _postfix(metrics: Mapping[str, float], lr: float) -> dict[str, str]:
    shown = {"loss": f"{metrics['loss']:.4f}"}
    if "acc" in metrics:
        shown["acc"] = f"{metrics['acc']:.3f}"
    shown["lr"] = f"{lr:.2e}"
    return shown


def _last_logged_metrics(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    skip = {"iteration", "lr", "images_per_s"}
    return {k: float(v) for k, v in rows[-1].items() if k not in skip and v not in ("", None)}
