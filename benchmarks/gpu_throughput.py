"""GPU throughput of the ``paper`` profile: MGN-ResNet-50 B-F and the PS-HRNet student, in images/s.

Builds what the engine trains at the profile's sizes and P x K batches, on random tensors and
weights (no data loading, nothing downloaded): ``build_mgn`` + ``MGNObjective`` (``mgn_loss``) +
Adam for B-F; ``build_student`` / ``build_teacher`` + the ``ps.objective`` loss against the
frozen teacher + SGD (VDSR-CA's own group) for PS-HRNet; and times ``fit``'s step (zero_grad,
autocast forward + loss, backward, optimiser step) in ``fit``'s ``deterministic_mode``.
MGN-R50 (384x128, batch 32): fp32, bf16, bf16 + channels-last, + ``torch.compile`` (a failure
is printed, not fatal), bf16 + channels-last with ``cudnn.benchmark`` instead, and with the 8
heads and their losses batched (``batched_heads``), and the profile's step on a GPU (batched heads,
the whole step compiled with ``compile_mode="reduce-overhead"``: CUDA graphs); eval-mode
extraction (batch 256, inference mode, bf16 as ``extract_features`` on CUDA, and +
channels-last; ``flip`` doubles its cost); the PS-HRNet student (VDSR-CA + HRNet-W32, 256x128,
6 x 4; bf16, + channels-last, + the compiled step) and the teacher alone. Medians of ``--iters``
iterations after ``--warmup`` (synchronised); ratios and peak memory are measured in this one run.

Beyond the step: ``fit`` itself over image files (``--fit-iters``; noise PNGs at the profile's size and
factors 1-4), with augmentation on the device from the decoded cache and in 8 loader workers, so a
data pipeline that cannot feed the GPU shows as the gap to the step alone; and ``--pack`` units (one
process each, as ``pipeline train-units --jobs N`` packs them on one GPU), whose summed images/s is
the device's aggregate.

How far from the limit: each variant's FLOPs per image (forward + backward for a training step,
counted once by ``torch.utils.flop_counter.FlopCounterMode``: matrix products and convolutions),
the rate it reaches (images/s x FLOPs per image), and that rate as a fraction of this device's
measured dense matrix-product rate in the variant's precision (a square ``--matmul-size`` product,
median of repeats; fp32 without TF32, bf16). A launch-bound step shows as a small fraction.

    .venv/bin/python benchmarks/gpu_throughput.py [--iters 40] [--warmup 8] [--no-compile] [--fit-iters 60]
                                                  [--pack 2 4] [--json out.json]
    .venv/bin/python benchmarks/gpu_throughput.py --device cpu --tiny    # a few-second check of the script
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reidlab.config import Profile, TrainConfig, get_profile
from reidlab.data.dataset import ReidImageDataset, build_transforms
from reidlab.data.records import ImageRecord
from reidlab.engine.precision import resolve_precision
from reidlab.engine.training_loop import build_optimizer, compiled_step, deterministic_mode, fit, resolve_amp
from reidlab.recipes.ps_hrnet import build_student, build_teacher, frozen, ps_input_size
from reidlab.recipes.rfd_baselines import MGNObjective
from reidlab.losses import (authors_pseudo_siamese_loss, authors_teacher_loss, pseudo_siamese_loss,
                            reid_loss)
from reidlab.models import build_mgn

Step = Callable[[], None]
LossOf = Callable[[nn.Module], tuple[torch.Tensor, Any]]


@dataclass
class Result:
    name: str
    batch: int
    size: str
    ms: float = math.nan              # median per iteration
    images_per_s: float = math.nan    # batch / median
    peak_mib: float = math.nan        # torch.cuda.max_memory_allocated
    warmup_s: float = math.nan        # wall time of the warm-up (compilation included)
    gflop_per_image: float = math.nan  # matrix products and convolutions, forward (+ backward when training)
    tflop_per_s: float = math.nan     # images/s x FLOPs per image
    of_matmul_peak: float = math.nan  # tflop_per_s / the measured matrix-product rate in its precision
    error: str = ""


def matmul_rate(device: torch.device, dtype: torch.dtype, n: int, repeats: int = 10) -> float:
    """This device's dense matrix-product rate in TFLOP/s: an ``n x n`` by ``n x n`` product in
    ``dtype`` (2 n^3 FLOPs), median of ``repeats`` after one warm-up; fp32 without TF32."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        a @ b
        times = []
        for _ in range(repeats):
            sync()
            t0 = time.perf_counter()
            a @ b
            sync()
            times.append(time.perf_counter() - t0)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    return 2 * n**3 / statistics.median(times) / 1e12


def count_flops(step: Step) -> float:
    """FLOPs of one call of ``step`` (matrix products and convolutions, as ``FlopCounterMode`` counts them)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return float(counter.get_total_flops())


def tiny_profile() -> Profile:
    """The ``paper`` profile shrunk for a CPU check (authors' objective and heads kept)."""
    small = {"p": 2, "k": 4}
    return get_profile("paper", model={"backbone": "resnet18", "height": 64, "width": 32, "feat_dim": 64,
                                       "reduction": 8}, bf=small, eval={"batch_size": 8},
                       ps={"hrnet": "hrnet_w18_small", "vdsr_blocks": 2, "vdsr_channels": 16,
                           "embed_dim": 64, "height": 64, "width": 32, "student": small, "teacher": small})


def images(n: int, height: int, width: int, device: torch.device, channels_last: bool) -> torch.Tensor:
    x = torch.randn(n, 3, height, width, device=device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def train_step(net: nn.Module, optimizer: torch.optim.Optimizer, loss_of: LossOf,
               device: torch.device, amp: str, compile_mode: str = "") -> Step:
    """One iteration of ``fit`` (bf16 needs no GradScaler; scheduler and logging left out); with
    ``compile_mode``, the forward and losses compiled as ``fit`` compiles them
    (:func:`~reidlab.engine.training_loop.compiled_step`: ``"reduce-overhead"`` replays CUDA graphs)."""
    amp_dtype, _ = resolve_amp(amp, device)
    loss_step: Callable[[Any], tuple[torch.Tensor, Any]] = lambda _: loss_of(net)  # noqa: E731
    if compile_mode:
        loss_step = compiled_step(lambda n, _: loss_of(n), net, TrainConfig(compile=True, compile_mode=compile_mode))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            loss, _ = loss_step(None)
        loss.backward()
        optimizer.step()
    return step


def mgn(profile: Profile, num_classes: int, device: torch.device, channels_last: bool,
        batched_heads: bool = False) -> nn.Module:
    m = profile.model
    torch.manual_seed(0)
    model = build_mgn(num_classes, m.backbone, attention=m.attention, reduction=m.reduction,
                      feat_dim=m.feat_dim, dropout=m.dropout, global_branch=m.global_branch,
                      batched_heads=batched_heads)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return model.to(device, memory_format=fmt)  # type: ignore[call-overload]


def mgn_train(profile: Profile, device: torch.device, num_classes: int, *, amp: str,
              channels_last: bool, compile_mode: str = "", batched_heads: bool = False) -> Step:
    cfg, m = profile.bf, profile.model
    model = mgn(profile, num_classes, device, channels_last, batched_heads).train()
    optimizer = build_optimizer([p for p in model.parameters() if p.requires_grad], cfg)
    x = images(cfg.p * cfg.k, m.height, m.width, device, channels_last)
    y = torch.arange(cfg.p * cfg.k, device=device) // cfg.k
    objective = MGNObjective(cfg.margin, cfg.label_smoothing)
    return train_step(model, optimizer, lambda n: objective(n, (x, y)), device, amp,  # type: ignore[arg-type]
                      compile_mode)


def mgn_extract(profile: Profile, device: torch.device, num_classes: int, *, channels_last: bool) -> Step:
    model = mgn(profile, num_classes, device, channels_last).eval()
    x = images(profile.eval.batch_size, profile.model.height, profile.model.width, device, channels_last)
    amp_dtype, _ = resolve_amp("bf16", device)

    def step() -> None:
        with torch.inference_mode(), torch.autocast(device.type, dtype=amp_dtype):
            model(x).float()
    return step


def ps_train(profile: Profile, device: torch.device, num_classes: int, *, student: bool,
             channels_last: bool, compile_mode: str = "") -> Step:
    """The student step of ``_train_student`` (or the teacher's of ``_train_teacher``)."""
    ps = profile.ps
    height, width = ps_input_size(profile)
    cfg: TrainConfig = ps.student if student else ps.teacher
    authors = ps.objective == "authors"
    torch.manual_seed(0)
    n = cfg.p * cfg.k
    hr = images(n, height, width, device, channels_last)
    y = torch.arange(n, device=device) // cfg.k
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    loss_of: LossOf
    if student:
        teacher = frozen(build_teacher(num_classes, ps)).to(device, memory_format=fmt)
        net = build_student(num_classes, ps)
        params: Any = [{"params": [p for p in net.reid.parameters() if p.requires_grad]},
                       {"params": list(net.vdsr.parameters()), "lr": cfg.lr * ps.vdsr_lr_scale}]
        model: nn.Module = net.to(device, memory_format=fmt).train()
        lr_images = images(n, height, width, device, channels_last)

        def loss_of(net: nn.Module) -> tuple[torch.Tensor, Any]:
            with torch.no_grad():
                target = teacher.outputs(hr) if authors else teacher(hr)
            if authors:
                return authors_pseudo_siamese_loss(net(lr_images), target, hr, y, margin=cfg.margin,
                                                   eps=cfg.label_smoothing)
            return pseudo_siamese_loss(net(lr_images), target, hr, y, margin=cfg.margin, eps=cfg.label_smoothing,
                                       feature_weight=ps.feature_l1_weight, image_weight=ps.image_l1_weight)
    else:
        model = build_teacher(num_classes, ps).to(device, memory_format=fmt).train()
        params = [p for p in model.parameters() if p.requires_grad]
        objective = authors_teacher_loss if authors else reid_loss

        def loss_of(net: nn.Module) -> tuple[torch.Tensor, Any]:
            return objective(net(hr), y, margin=cfg.margin, eps=cfg.label_smoothing)
    return train_step(model, build_optimizer(params, cfg), loss_of, device, "bf16", compile_mode)


def fresh_memory(device: torch.device) -> None:
    """Before a variant: free what the previous one left and restart the peak-memory count."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def finish(result: Result, device: torch.device, note: str) -> Result:
    """After a variant: its peak memory, and one line with its rate (or failure) and ``note``."""
    if device.type == "cuda":
        result.peak_mib = torch.cuda.max_memory_allocated(device) / 2**20
    status = result.error or f"{result.images_per_s:9.1f} img/s {result.ms:8.1f} ms"
    print(f"  {result.name:28s} {status}  {note}", flush=True)
    return result


def fake_image_records(root: Path, n_ids: int, per_id: int, height: int, width: int) -> list[ImageRecord]:
    """``n_ids`` x ``per_id`` noise PNGs of ``height`` x ``width`` under ``root``, at factors 1-4 (an MLR
    training set's shape: decoded, degraded and resized as the real data are)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    records = []
    for pid in range(n_ids):
        for j in range(per_id):
            path = root / f"{pid:04d}_{j}.png"
            Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path, compress_level=1)
            records.append(ImageRecord(str(path), pid, j % 2, width, height, factor=1 + (pid + j) % 4))
    return records


def fit_rate(result: Result, profile: Profile, device: torch.device, num_classes: int, records: list[ImageRecord],
             *, augment_on: str, warmup: int, iters: int) -> Result:
    """Images/s of :func:`~reidlab.engine.training_loop.fit` itself on the profile's B-F schedule, resolved for
    ``device`` as a run resolves it (on CUDA: the compiled, graph-replayed step; bf16, channels-last),
    over image files: sampler, decoding or the decoded cache, augmentation (``augment_on``), step,
    logging every ``log_every``. Timed between iterations ``warmup`` and ``warmup + iters`` (synchronised)."""
    import tempfile

    m = profile.model
    cfg = dataclasses.replace(profile.bf, iterations=warmup + iters, iterations_per_id=0, epochs=0,
                              checkpoint_every=warmup + iters, validate_every=0, augment_on=augment_on,
                              num_workers=min(profile.bf.num_workers, os.cpu_count() or 1))
    cfg = resolve_precision(cfg, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    marks: dict[int, float] = {}

    def mark(iteration: int, _: Any) -> None:
        if iteration in (warmup, warmup + iters):
            sync()
            marks[iteration] = time.perf_counter()

    fresh_memory(device)
    try:
        torch.manual_seed(0)
        model = build_mgn(num_classes, m.backbone, attention=m.attention, reduction=m.reduction, feat_dim=m.feat_dim,
                          dropout=m.dropout, global_branch=m.global_branch, batched_heads=m.batched_heads)
        data = ReidImageDataset(records, build_transforms(m.height, m.width, train=True,
                                                          random_erasing=cfg.random_erasing, pad_crop=cfg.pad_crop))
        labels = [r.pid % num_classes for r in records]
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            fit(model, data, labels, MGNObjective(cfg.margin, cfg.label_smoothing), cfg, out, progress=False,
                device=device, on_iteration=mark)
        seconds = marks[warmup + iters] - marks[warmup]
        result.warmup_s = marks[warmup] - t0
        result.ms = 1000 * seconds / iters
        result.images_per_s = result.batch * iters / seconds
    except Exception as err:  # noqa: BLE001 - one failing variant must not lose the others
        result.error = f"FAILED {type(err).__name__}: {' '.join(str(err).split())[:300]}"
    return finish(result, device, f"(compile={cfg.compile} {cfg.compile_mode}, augment_on={cfg.augment_on}, "
                                  f"workers {cfg.num_workers})")


def _packed_worker(rank: int, tiny: bool, device: str, num_classes: int, compile_mode: str, warmup: int, iters: int,
                   threads: int, barrier: Any, queue: Any) -> None:
    """One of the packed units: the profile's B-F step (batched heads, bf16, channels-last,
    ``compile_mode``), warmed up, then timed from a barrier all units pass together."""
    torch.set_num_threads(threads)
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    profile = tiny_profile() if tiny else get_profile("paper")
    try:
        with deterministic_mode(True):
            step = mgn_train(profile, dev, num_classes, amp="bf16", channels_last=True, compile_mode=compile_mode,
                             batched_heads=True)
            for _ in range(warmup):
                step()
            sync()
            barrier.wait()
            t0 = time.perf_counter()
            for _ in range(iters):
                step()
            sync()
            queue.put((rank, profile.bf.p * profile.bf.k * iters / (time.perf_counter() - t0), ""))
    except Exception as err:  # noqa: BLE001 - reported by the parent
        barrier.abort()
        queue.put((rank, math.nan, f"{type(err).__name__}: {err}"))


def packed_rate(result: Result, units: int, *, tiny: bool, device: torch.device, num_classes: int, compile_mode: str,
                warmup: int, iters: int) -> Result:
    """Aggregate images/s of ``units`` B-F steps in as many processes on one device (several units
    packed on one GPU, as ``pipeline train-units --jobs N`` runs them): the sum of the units' rates
    over windows that start together."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(units), ctx.Queue()
    # the CPU's cores shared out (units that each take every core slow each other many times over on a CPU)
    threads = max(1, torch.get_num_threads() // units)
    procs = [ctx.Process(target=_packed_worker, args=(i, tiny, str(device), num_classes, compile_mode, warmup, iters,
                                                       threads, barrier, queue)) for i in range(units)]
    t0 = time.perf_counter()
    for proc in procs:
        proc.start()
    rates = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    result.warmup_s = time.perf_counter() - t0
    errors = [e for _, _, e in rates if e]
    if errors:
        result.error = f"FAILED {errors[0][:300]}"
    else:
        result.images_per_s = sum(r for _, r, _ in rates)
        result.ms = 1000 * result.batch / result.images_per_s
    status = result.error or (f"{result.images_per_s:9.1f} img/s aggregate (units: "
                              + ", ".join(f"{r:.0f}" for _, r, _ in sorted(rates)) + ")")
    print(f"  {result.name:28s} {status}", flush=True)
    return result


def measure(result: Result, build: Callable[[], Step], kernels: str, device: torch.device, *,
            warmup: int, iters: int, count: bool = True) -> Result:
    """Build one variant, count its FLOPs (``count``; not for a compiled one, whose count would
    trace it), warm it up, time ``iters`` iterations; errors are recorded, not raised.
    ``kernels``: ``"fit"`` (``fit``'s ``deterministic_mode``), ``"default"`` (torch's settings, as
    ``extract_features``) or ``"benchmark"`` (``cudnn.benchmark`` autotuning)."""
    fresh_memory(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = kernels == "benchmark"
    try:
        with deterministic_mode(kernels == "fit"):
            step = build()
            if count:
                result.gflop_per_image = count_flops(step) / result.batch / 1e9
            t0 = time.perf_counter()
            for _ in range(warmup):
                step()
            sync()
            result.warmup_s = time.perf_counter() - t0
            times = []
            for _ in range(iters):
                sync()
                t0 = time.perf_counter()
                step()
                sync()
                times.append(time.perf_counter() - t0)
        result.ms = 1000 * statistics.median(times)
        result.images_per_s = result.batch / statistics.median(times)
    except Exception as err:  # noqa: BLE001 - one failing variant must not lose the others
        result.error = f"FAILED {type(err).__name__}: {' '.join(str(err).split())[:300]}"
    finally:
        torch.backends.cudnn.benchmark = previous
    return finish(result, device, f"warm-up {result.warmup_s:5.1f} s")


def finite(value: Any) -> Any:
    """``value`` with every NaN replaced by ``None`` (strict JSON)."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes, 1+2 iterations, no compile (CPU check)")
    parser.add_argument("--iters", type=int, default=40, help="timed iterations per variant (median)")
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--num-classes", type=int, default=751, help="training identities (Market-1501: 751)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants")
    parser.add_argument("--fit-iters", type=int, default=60,
                        help="timed iterations of fit itself over image files, device and loader augmentation "
                             "(0: skip; --tiny: 4)")
    parser.add_argument("--pack", type=int, nargs="*", default=[2, 4],
                        help="units packed on the device, one process each (aggregate images/s); none: skip")
    parser.add_argument("--json", help="also write every result to this JSON file")
    parser.add_argument("--matmul-size", type=int, default=8192,
                        help="side of the square matrix product that measures the device's rate (--tiny: 256)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(f"--device {args.device}: CUDA is not available to torch {torch.__version__} (CUDA build "
                 f"{torch.version.cuda}); run on a GPU, or check the script with --device cpu --tiny")
    profile = tiny_profile() if args.tiny else get_profile("paper")
    warmup, iters = (1, 2) if args.tiny else (args.warmup, args.iters)
    if args.tiny:
        args.fit_iters, args.pack = min(args.fit_iters, 4), [min(u, 2) for u in args.pack[:1]]
    compile_steps = not (args.tiny or args.no_compile)
    m, ps = profile.model, profile.ps
    ps_h, ps_w = ps_input_size(profile)
    bf_n, st_n, te_n = (c.p * c.k for c in (profile.bf, ps.student, ps.teacher))
    size, ps_size = f"{m.height}x{m.width}", f"{ps_h}x{ps_w}"
    where = platform.processor() or platform.machine()
    if device.type == "cuda":
        where = (f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}, "
                 f"cuDNN {torch.backends.cudnn.version()}")
    print(f"torch {torch.__version__} on {where}; profile {profile.name}{' (tiny)' if args.tiny else ''}: "
          f"MGN-{m.backbone} {size} batch {bf_n}, PS-HRNet {ps.hrnet} + VDSR-CA ({ps.vdsr_blocks} x "
          f"{ps.vdsr_channels}) {ps_size} batch {st_n}, objective {ps.objective}; {args.num_classes} classes; "
          f"median of {iters} iterations after {warmup} warm-up")
    k, ext_n = args.num_classes, profile.eval.batch_size
    train, extract = partial(mgn_train, profile, device, k), partial(mgn_extract, profile, device, k)
    ps_step = partial(ps_train, profile, device, k)
    cases: list[tuple[str, int, str, Callable[[], Step], str]] = [   # name, batch, size, builder, kernels
        ("mgn fp32", bf_n, size, partial(train, amp="off", channels_last=False), "fit"),
        ("mgn bf16", bf_n, size, partial(train, amp="bf16", channels_last=False), "fit"),
        ("mgn bf16+cl", bf_n, size, partial(train, amp="bf16", channels_last=True), "fit"),
        ("mgn bf16+cl+compile", bf_n, size, partial(train, amp="bf16", channels_last=True, compile_mode="default"),
         "fit"),
        ("mgn bf16+cl cudnn.benchmark", bf_n, size, partial(train, amp="bf16", channels_last=True), "benchmark"),
        ("mgn bf16+cl batched heads", bf_n, size, partial(train, amp="bf16", channels_last=True, batched_heads=True),
         "fit"),
        # the paper profile's step on a GPU: batched heads, compiled whole, replayed as CUDA graphs
        ("mgn profile step compile", bf_n, size, partial(train, amp="bf16", channels_last=True, batched_heads=True,
                                                         compile_mode="reduce-overhead"), "fit"),
        ("mgn extract bf16", ext_n, size, partial(extract, channels_last=False), "default"),
        ("mgn extract bf16+cl", ext_n, size, partial(extract, channels_last=True), "default"),
        ("ps student bf16", st_n, ps_size, partial(ps_step, student=True, channels_last=False), "fit"),
        ("ps student bf16+cl", st_n, ps_size, partial(ps_step, student=True, channels_last=True), "fit"),
        ("ps teacher bf16+cl", te_n, ps_size, partial(ps_step, student=False, channels_last=True), "fit"),
        ("ps student profile compile", st_n, ps_size, partial(ps_step, student=True, channels_last=True,
                                                              compile_mode="reduce-overhead"), "fit"),
    ]
    n_matmul = 256 if args.tiny else args.matmul_size
    peaks = {"fp32": matmul_rate(device, torch.float32, n_matmul), "bf16": matmul_rate(device, torch.bfloat16, n_matmul)}
    print(f"matrix product {n_matmul}x{n_matmul}: fp32 {peaks['fp32']:.2f} TFLOP/s, bf16 {peaks['bf16']:.2f} TFLOP/s")
    results = [measure(Result(name, n, sz), build, kernels, device, warmup=warmup, iters=iters,
                       count="compile" not in name)
               for name, n, sz, build, kernels in cases if compile_steps or "compile" not in name]
    if args.fit_iters:   # fit itself, over image files: data, augmentation, step, logging
        import tempfile

        fit_warmup = 3 if args.tiny else 10
        with tempfile.TemporaryDirectory() as tmp:
            records = fake_image_records(Path(tmp), 8 if args.tiny else 128, 4, m.height, m.width)
            for augment_on in ("device", "loader"):
                results.append(fit_rate(Result(f"fit profile, {augment_on} aug", bf_n, size), profile, device, k,
                                        records, augment_on=augment_on, warmup=fit_warmup, iters=args.fit_iters))
    for units in args.pack:   # several units on one device, one process each
        mode = "" if args.tiny or args.no_compile else "reduce-overhead"
        results.append(packed_rate(Result(f"mgn profile step x{units}", bf_n * units, size), units, tiny=args.tiny,
                                   device=device, num_classes=k, compile_mode=mode, warmup=warmup, iters=iters))
    by_name = {r.name: r for r in results if not r.error}
    for r in results:   # a compiled, fit-driven or packed step runs the eager one's arithmetic
        base = "mgn bf16+cl batched heads" if ("profile" in r.name or "fit" in r.name) else "mgn bf16+cl"
        if r.name.startswith("ps student profile") and "ps student bf16+cl" in by_name:
            r.gflop_per_image = by_name["ps student bf16+cl"].gflop_per_image
        elif ("compile" in r.name or "profile" in r.name) and base in by_name:
            r.gflop_per_image = by_name[base].gflop_per_image
        r.tflop_per_s = r.images_per_s * r.gflop_per_image / 1e3
        r.of_matmul_peak = r.tflop_per_s / peaks["fp32" if "fp32" in r.name else "bf16"]
    print(f"\n{'variant':28s} {'size':>7} {'batch':>5} {'img/s':>9} {'ms/iter':>8} {'peak MiB':>9} {'warm-up s':>9} "
          f"{'GFLOP/img':>9} {'TFLOP/s':>8} {'of matmul':>9}")
    for r in results:
        peak = "-" if math.isnan(r.peak_mib) else f"{r.peak_mib:.0f}"
        print(f"{r.name:28s} {r.size:>7} {r.batch:>5} {r.images_per_s:>9.1f} {r.ms:>8.1f} {peak:>9} "
              f"{r.warmup_s:>9.1f} {r.gflop_per_image:>9.2f} {r.tflop_per_s:>8.3f} {r.of_matmul_peak:>9.1%}"
              + (f"  {r.error[:80]}" if r.error else ""))
    pairs = {"bf16 / fp32": ("mgn bf16", "mgn fp32"),
             "channels_last gain (bf16+cl / bf16)": ("mgn bf16+cl", "mgn bf16"),
             "compile gain (+compile / bf16+cl)": ("mgn bf16+cl+compile", "mgn bf16+cl"),
             "cudnn.benchmark / deterministic": ("mgn bf16+cl cudnn.benchmark", "mgn bf16+cl"),
             "batched heads gain": ("mgn bf16+cl batched heads", "mgn bf16+cl"),
             "profile step (batched + CUDA graphs) / bf16+cl": ("mgn profile step compile", "mgn bf16+cl"),
             "fit, device aug / loader aug": ("fit profile, device aug", "fit profile, loader aug"),
             "fit (device aug) / its step alone": ("fit profile, device aug", "mgn profile step compile"),
             "student compiled / bf16+cl": ("ps student profile compile", "ps student bf16+cl"),
             "extract channels_last gain": ("mgn extract bf16+cl", "mgn extract bf16"),
             "student channels_last gain": ("ps student bf16+cl", "ps student bf16")}
    ratios = {label: by_name[a].images_per_s / by_name[b].images_per_s if a in by_name and b in by_name
              else math.nan for label, (a, b) in pairs.items()}
    print("\nratios (images/s, this run):")
    for name, value in ratios.items():
        print(f"  {name:38s} " + ("n/a" if math.isnan(value) else f"{value:.2f}x"))
    if args.json:
        meta = {"torch": torch.__version__, "device": where, "profile": profile.name, "tiny": args.tiny,
                "warmup": warmup, "iters": iters, "num_classes": k, "matmul_size": n_matmul,
                "matmul_tflop_per_s": peaks}
        with open(args.json, "w") as fh:
            json.dump(finite({"meta": meta, "results": [asdict(r) for r in results], "ratios": ratios}), fh, indent=2)
    failed = [r.name for r in results if r.error and "compile" not in r.name]
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
