"""GPU throughput of the ``paper`` profile: MGN-ResNet-50 B-F and the PS-HRNet student, in images/s.

Builds what the engine trains at the profile's sizes and P x K batches, on random tensors and
weights (no data loading, nothing downloaded): ``build_mgn`` + ``MGNObjective`` (``mgn_loss``) +
Adam for B-F; ``build_student`` / ``build_teacher`` + the ``ps.objective`` loss against the
frozen teacher + SGD (VDSR-CA's own group) for PS-HRNet; and times ``fit``'s step (zero_grad,
autocast forward + loss, backward, optimiser step) in ``fit``'s ``deterministic_mode``.
MGN-R50 (384x128, batch 32): fp32, bf16, bf16 + channels-last, + ``torch.compile`` (a failure
is printed, not fatal), bf16 + channels-last with ``cudnn.benchmark`` instead, and with the 8
heads and their losses batched (``batched_heads``); eval-mode
extraction (batch 256, inference mode, bf16 as ``extract_features`` on CUDA, and +
channels-last; ``flip`` doubles its cost); the PS-HRNet student (VDSR-CA + HRNet-W32, 256x128,
6 x 4; bf16, + channels-last) and the teacher alone. Medians of ``--iters`` iterations after
``--warmup`` (synchronised); ratios and peak memory are measured in this one run.

How far from the limit: each variant's FLOPs per image (forward + backward for a training step,
counted once by ``torch.utils.flop_counter.FlopCounterMode``: matrix products and convolutions),
the rate it reaches (images/s x FLOPs per image), and that rate as a fraction of this device's
measured dense matrix-product rate in the variant's precision (a square ``--matmul-size`` product,
median of repeats; fp32 without TF32, bf16). A launch-bound step shows as a small fraction.

    .venv/bin/python benchmarks/gpu_throughput.py [--iters 40] [--warmup 8] [--no-compile] [--json out.json]
    .venv/bin/python benchmarks/gpu_throughput.py --device cpu --tiny    # a few-second check of the script
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import torch
from torch import nn

from reidlab.config import Profile, TrainConfig, get_profile
from reidlab.engine.pseudo_siamese import build_student, build_teacher, frozen, ps_input_size
from reidlab.engine.tasks import MGNObjective
from reidlab.engine.trainer import build_optimizer, deterministic_mode, resolve_amp
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
               device: torch.device, amp: str) -> Step:
    """One iteration of ``fit`` (bf16 needs no GradScaler; scheduler and logging left out)."""
    amp_dtype, _ = resolve_amp(amp, device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            loss, _ = loss_of(net)
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
              channels_last: bool, compile_model: bool = False, batched_heads: bool = False) -> Step:
    cfg, m = profile.bf, profile.model
    model = mgn(profile, num_classes, device, channels_last, batched_heads).train()
    optimizer = build_optimizer([p for p in model.parameters() if p.requires_grad], cfg)
    x = images(cfg.p * cfg.k, m.height, m.width, device, channels_last)
    y = torch.arange(cfg.p * cfg.k, device=device) // cfg.k
    objective = MGNObjective(cfg.margin, cfg.label_smoothing)
    net = torch.compile(model) if compile_model else model
    return train_step(net, optimizer, lambda n: objective(n, (x, y)), device, amp)  # type: ignore[arg-type]


def mgn_extract(profile: Profile, device: torch.device, num_classes: int, *, channels_last: bool) -> Step:
    model = mgn(profile, num_classes, device, channels_last).eval()
    x = images(profile.eval.batch_size, profile.model.height, profile.model.width, device, channels_last)
    amp_dtype, _ = resolve_amp("bf16", device)

    def step() -> None:
        with torch.inference_mode(), torch.autocast(device.type, dtype=amp_dtype):
            model(x).float()
    return step


def ps_train(profile: Profile, device: torch.device, num_classes: int, *, student: bool,
             channels_last: bool) -> Step:
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
    return train_step(model, build_optimizer(params, cfg), loss_of, device, "bf16")


def measure(result: Result, build: Callable[[], Step], kernels: str, device: torch.device, *,
            warmup: int, iters: int, count: bool = True) -> Result:
    """Build one variant, count its FLOPs (``count``; not for a compiled one, whose count would
    trace it), warm it up, time ``iters`` iterations; errors are recorded, not raised.
    ``kernels``: ``"fit"`` (``fit``'s ``deterministic_mode``), ``"default"`` (torch's settings, as
    ``extract_features``) or ``"benchmark"`` (``cudnn.benchmark`` autotuning)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
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
    if device.type == "cuda":
        result.peak_mib = torch.cuda.max_memory_allocated(device) / 2**20
    status = result.error or f"{result.images_per_s:9.1f} img/s {result.ms:8.1f} ms"
    print(f"  {result.name:28s} {status}  warm-up {result.warmup_s:5.1f} s", flush=True)
    return result


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
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
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
    compile_model = not (args.tiny or args.no_compile)
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
        ("mgn bf16+cl+compile", bf_n, size, partial(train, amp="bf16", channels_last=True, compile_model=True), "fit"),
        ("mgn bf16+cl cudnn.benchmark", bf_n, size, partial(train, amp="bf16", channels_last=True), "benchmark"),
        ("mgn bf16+cl batched heads", bf_n, size, partial(train, amp="bf16", channels_last=True, batched_heads=True),
         "fit"),
        ("mgn extract bf16", ext_n, size, partial(extract, channels_last=False), "default"),
        ("mgn extract bf16+cl", ext_n, size, partial(extract, channels_last=True), "default"),
        ("ps student bf16", st_n, ps_size, partial(ps_step, student=True, channels_last=False), "fit"),
        ("ps student bf16+cl", st_n, ps_size, partial(ps_step, student=True, channels_last=True), "fit"),
        ("ps teacher bf16+cl", te_n, ps_size, partial(ps_step, student=False, channels_last=True), "fit"),
    ]
    n_matmul = 256 if args.tiny else args.matmul_size
    peaks = {"fp32": matmul_rate(device, torch.float32, n_matmul), "bf16": matmul_rate(device, torch.bfloat16, n_matmul)}
    print(f"matrix product {n_matmul}x{n_matmul}: fp32 {peaks['fp32']:.2f} TFLOP/s, bf16 {peaks['bf16']:.2f} TFLOP/s")
    results = [measure(Result(name, n, sz), build, kernels, device, warmup=warmup, iters=iters,
                       count="compile" not in name)
               for name, n, sz, build, kernels in cases if compile_model or "compile" not in name]
    by_name = {r.name: r for r in results if not r.error}
    for r in results:   # the compiled step runs the same arithmetic as the eager one
        if "compile" in r.name and "mgn bf16+cl" in by_name:
            r.gflop_per_image = by_name["mgn bf16+cl"].gflop_per_image
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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
