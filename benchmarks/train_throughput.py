"""Is the input pipeline ever the training bottleneck? Throughput of the full loop vs compute.

For each model size it measures, in one run and on the same machine:

* **pipeline**: steady-state images/s of :func:`reidlab.engine.training_loop.fit` itself, i.e.
  a DataLoader over :class:`~reidlab.data.dataset.ReidImageDataset` reading SynthPeople
  image files from disk (MLR degradation, flip, erasing), batched by
  :class:`~reidlab.data.samplers.PKSampler`, plus AMP/metrics/CSV bookkeeping, timed
  after the warm-up iterations;
* **compute**: a copy of the same model, objective and optimiser stepping on one batch
  of tensors already in memory (forward + backward + optimiser step).

The two are interleaved iteration by iteration (one compute step runs in ``fit``'s
``on_iteration`` hook), so load changes on a shared machine hit both sides alike.
The pipeline time of an iteration is the gap between two hook calls (data fetch, step,
metrics, CSV); the last iteration, which also writes the checkpoint, is not timed.

``ratio = pipeline / compute``; >= 0.9 means data loading costs at most 10 %. Also
printed: the median of the per-iteration ratios (robust to load bursts) and, for
``num_workers=0`` on the CPU, the ratio of process CPU times (what a quiet machine sees).

Workers: on the CPU the default is 0. Every core already runs the model's intra-op
threads, so worker processes can only take cycles from it; the per-batch input cost
(cached decode, MLR degradation, transforms: ~50 ms for 32 images at 384x128 on this
2-core machine, against seconds of compute) is small enough to pay inline. On CUDA the
profile's ``num_workers`` is used (``--num-workers`` overrides both).

    .venv/bin/python benchmarks/train_throughput.py            # quick: ResNet-18 MGN, 128x64
    .venv/bin/python benchmarks/train_throughput.py --paper    # + paper: ResNet-50 MGN, 384x128
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from reidlab.config import DataConfig, Profile, TrainConfig, get_profile
from reidlab.data.dataset import ReidImageDataset, build_transforms
from reidlab.data.prepare import prepare_dataset
from reidlab.data.protocols import build_protocol, relabel
from reidlab.engine.training_loop import build_optimizer, fit, resolve_amp, seed_everything
from reidlab.models.mgn import build_mgn
from reidlab.recipes.rfd_baselines import MGNObjective


@dataclass(frozen=True)
class Result:
    """One model size's measurement."""

    size: str
    backbone: str
    input_hw: tuple[int, int]
    batch: int
    num_workers: int
    pipeline_img_s: float
    compute_img_s: float
    median_ratio: float                 # median over iterations of compute_s / pipeline_s
    cpu_time_ratio: float | None = None  # the same from process CPU time (num_workers=0)

    @property
    def ratio(self) -> float:
        """Pipeline / compute images per second, from total wall time."""
        return self.pipeline_img_s / self.compute_img_s


class _ComputeStep:
    """One forward + backward + optimiser step of a model copy on in-memory tensors."""

    def __init__(self, model: nn.Module, objective: MGNObjective, cfg: TrainConfig,
                 images: torch.Tensor, labels: torch.Tensor, device: torch.device) -> None:
        self.model = model.to(device).train()
        self.optimizer = build_optimizer(self.model.parameters(), cfg)
        self.amp_dtype, _ = resolve_amp(cfg.amp, device)
        self.batch = (images.to(device), labels.to(device))
        self.objective = objective
        self.device = device

    def __call__(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                            enabled=self.amp_dtype is not None):
            loss, _ = self.objective(self.model, self.batch)
        loss.backward()
        self.optimizer.step()
        _sync(self.device)


class _Interleave:
    """``fit``'s ``on_iteration`` hook: after every training iteration, time one compute
    step; the training iteration's own time is the gap between two hook calls. Both wall
    and process CPU time are recorded (CPU time is what a quiet machine would see; it
    misses DataLoader worker processes, so it is only reported for ``num_workers=0``)."""

    def __init__(self, step: _ComputeStep, device: torch.device) -> None:
        self.step = step
        self.device = device
        self.fit: dict[int, tuple[float, float]] = {}
        self.compute: dict[int, tuple[float, float]] = {}
        self._resumed_at: tuple[float, float] | None = None

    def __call__(self, iteration: int, metrics: object) -> None:
        _sync(self.device)
        now = (time.perf_counter(), time.process_time())
        if self._resumed_at is not None:
            self.fit[iteration] = (now[0] - self._resumed_at[0], now[1] - self._resumed_at[1])
        self.step()
        self.compute[iteration] = (time.perf_counter() - now[0], time.process_time() - now[1])
        self._resumed_at = (time.perf_counter(), time.process_time())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(size: str, profile: Profile, workdir: Path, *, warmup: int, iterations: int,
            num_workers: int, n_ids: int, device: torch.device) -> Result:
    """Generate data for ``profile``'s image size and time both loops, interleaved."""
    model_cfg = profile.model
    data_cfg = DataConfig(dataset="synth-market", data_root=str(workdir / "data"), n_ids=n_ids,
                          images_per_id=8, n_cameras=4, hr_height=model_cfg.height,
                          hr_width=model_cfg.width)
    dataset = prepare_dataset(data_cfg, progress=False)
    split = build_protocol("lr_query", dataset, trial=0, seed=0, factors=data_cfg.factors)
    labels = relabel([r.pid for r in split.train])
    # +1: the last iteration also writes the final checkpoint, it is not timed
    cfg = dataclasses.replace(profile.bf, iterations=warmup + iterations + 1,
                              checkpoint_every=10**9, num_workers=num_workers, compile=False)
    train_set = ReidImageDataset(
        split.train, build_transforms(model_cfg.height, model_cfg.width, train=True,
                                      random_erasing=cfg.random_erasing),
        labels=labels, interpolation=data_cfg.interpolation)

    seed_everything(0)
    model = build_mgn(max(labels) + 1, model_cfg.backbone, attention=model_cfg.attention,
                      reduction=model_cfg.reduction, feat_dim=model_cfg.feat_dim,
                      dropout=model_cfg.dropout)
    objective = MGNObjective(cfg.margin, cfg.label_smoothing)
    batch = cfg.p * cfg.k
    images = torch.randn(batch, 3, model_cfg.height, model_cfg.width)
    if cfg.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    targets = torch.arange(cfg.p).repeat_interleave(cfg.k)
    compute_model = copy.deepcopy(model)
    if cfg.channels_last:
        compute_model = compute_model.to(memory_format=torch.channels_last)
    hook = _Interleave(_ComputeStep(compute_model, objective, cfg, images, targets, device),
                       device)
    fit(model, train_set, labels, objective, cfg, workdir / f"run-{size}", resume=False,
        progress=False, desc=size, device=device, on_iteration=hook)
    timed = range(warmup + 1, warmup + iterations + 1)
    fit_wall = [hook.fit[i][0] for i in timed]
    compute_wall = [hook.compute[i][0] for i in timed]
    cpu_ratio = None
    if num_workers == 0 and device.type == "cpu":
        cpu_ratio = sum(hook.compute[i][1] for i in timed) / sum(hook.fit[i][1] for i in timed)
    return Result(size, model_cfg.backbone, (model_cfg.height, model_cfg.width), batch,
                  num_workers, pipeline_img_s=batch * len(timed) / sum(fit_wall),
                  compute_img_s=batch * len(timed) / sum(compute_wall),
                  median_ratio=statistics.median(c / f for c, f in zip(compute_wall, fit_wall)),
                  cpu_time_ratio=cpu_ratio)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paper", action="store_true", help="also ResNet-50 MGN at 384x128")
    parser.add_argument("--iterations", type=int, default=10, help="timed iterations (quick)")
    parser.add_argument("--paper-iterations", type=int, default=3, help="timed iterations (paper)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    parser.add_argument("--num-workers", type=int, default=None,
                        help="DataLoader workers (default: the profile's value)")
    parser.add_argument("--n-ids", type=int, default=64, help="SynthPeople identities to generate")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    sizes = [("quick", get_profile("quick"), args.iterations)]
    if args.paper:
        sizes.append(("paper", get_profile("paper"), args.paper_iterations))
    print(f"device={device} torch threads={torch.get_num_threads()} "
          f"load average {os.getloadavg()[0]:.2f}")
    results = []
    with tempfile.TemporaryDirectory(prefix="reidlab-bench-") as tmp:
        for size, profile, iterations in sizes:
            workers = profile.bf.num_workers if args.num_workers is None else args.num_workers
            if device.type == "cpu" and args.num_workers is None:
                workers = 0  # see the module docstring
            result = measure(size, profile, Path(tmp), warmup=args.warmup, iterations=iterations,
                             num_workers=workers, n_ids=args.n_ids, device=device)
            results.append(result)
            cpu = "" if result.cpu_time_ratio is None else f", cpu-time {result.cpu_time_ratio:.3f}"
            print(f"{result.size:6s} {result.backbone} {result.input_hw[0]}x{result.input_hw[1]} "
                  f"batch {result.batch} workers {result.num_workers}: "
                  f"pipeline {result.pipeline_img_s:.2f} img/s, compute {result.compute_img_s:.2f} "
                  f"img/s, ratio {result.ratio:.3f} (median per iteration {result.median_ratio:.3f}"
                  f"{cpu}); load average {os.getloadavg()[0]:.2f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(
            [{**dataclasses.asdict(r), "ratio": r.ratio} for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
