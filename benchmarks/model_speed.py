"""CPU training speed of MGN-ResNet-18 (RFD network) for choosing the ``quick`` profile.

For each input size and with / without channel attention, prints the forward+backward
throughput (images/s) and the milliseconds of one full training iteration (forward,
``mgn_loss``, backward, Adam step) at batch 32; then the same with channels_last memory
format and with bf16 CPU autocast, to tell whether either is faster on this machine.
Times are the best of ``--iters`` iterations, the variants of one size run round-robin
(robust to other processes sharing the cores); the median training iteration is
printed too.

    .venv/bin/python benchmarks/model_speed.py [--iters 3] [--threads 2] [--json out.json]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass

import torch

from reidlab.config import get_profile
from reidlab.losses import mgn_loss
from reidlab.models import build_mgn, count_parameters

SIZES: tuple[tuple[int, int], ...] = ((128, 64), (96, 48), (64, 32))


@dataclass
class Result:
    height: int
    width: int
    attention: bool
    channels_last: bool
    bf16: bool
    fwd_bwd_ms: float        # best of the timed iterations
    step_ms: float           # best of the timed iterations
    step_median_ms: float
    images_per_s: float      # batch / best forward+backward time

    @property
    def label(self) -> str:
        opts = [name for name, on in (("channels_last", self.channels_last),
                                      ("bf16", self.bf16)) if on]
        return "+".join(opts) or "fp32"


class Runner:
    """One configuration: its own model, optimizer and batch; :meth:`step` times one
    training iteration (forward, ``mgn_loss``, backward | Adam step)."""

    def __init__(self, height: int, width: int, *, attention: bool, channels_last: bool,
                 bf16: bool, batch: int, num_classes: int, feat_dim: int, reduction: int,
                 p: int) -> None:
        torch.manual_seed(0)
        self.key = (height, width, attention, channels_last, bf16)
        self.batch = batch
        self.model = build_mgn(num_classes, "resnet18", attention=attention,
                               reduction=reduction, feat_dim=feat_dim).train()
        self.x = torch.randn(batch, 3, height, width)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.y = torch.arange(batch) // (batch // p)          # P identities x K images
        self.bf16 = bf16
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=3.5e-4)
        self.fwd_bwd: list[float] = []
        self.step_s: list[float] = []

    def step(self, record: bool) -> None:
        autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16
                    else contextlib.nullcontext())
        t0 = time.perf_counter()
        with autocast:
            loss, _ = mgn_loss(self.model(self.x), self.y, margin=1.2, label_smoothing=0.0)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t1 = time.perf_counter()
        self.optimizer.step()
        t2 = time.perf_counter()
        if record:
            self.fwd_bwd.append(t1 - t0)
            self.step_s.append(t2 - t0)

    def result(self) -> Result:
        fb = min(self.fwd_bwd)
        return Result(*self.key, fwd_bwd_ms=1000 * fb, step_ms=1000 * min(self.step_s),
                      step_median_ms=1000 * statistics.median(self.step_s),
                      images_per_s=self.batch / fb)


def measure_interleaved(height: int, width: int, variants: list[tuple[bool, bool, bool]], *,
                        iters: int, warmup: int, **kwargs: int) -> list[Result]:
    """Time every ``(attention, channels_last, bf16)`` variant at one size, round-robin,
    so that load from other processes affects all variants alike."""
    runners = [Runner(height, width, attention=a, channels_last=cl, bf16=bf, **kwargs)
               for a, cl, bf in variants]
    for i in range(warmup + iters):
        for runner in runners:
            runner.step(record=i >= warmup)
    return [runner.result() for runner in runners]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--iters", type=int, default=5, help="timed iterations (best of)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--num-classes", type=int, default=100)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    quick = get_profile("quick")
    common = dict(batch=args.batch, num_classes=args.num_classes,
                  feat_dim=quick.model.feat_dim, reduction=quick.model.reduction, p=quick.bf.p)
    print(f"torch {torch.__version__} on {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads; MGN-ResNet-18, batch {args.batch}, "
          f"feat_dim {quick.model.feat_dim}, reduction {quick.model.reduction}, "
          f"{args.num_classes} classes; best of {args.iters} iterations after "
          f"{args.warmup} warm-up")
    for attention in (False, True):
        n = count_parameters(build_mgn(args.num_classes, "resnet18", attention=attention,
                                       reduction=quick.model.reduction,
                                       feat_dim=quick.model.feat_dim))
        print(f"  parameters (no classifiers), attention={attention}: {n / 1e6:.2f} M")

    results: list[Result] = []
    variants = [(False, False, False), (True, False, False),      # (attention, cl, bf16)
                (True, True, False), (True, False, True), (True, True, True)]
    header = f"{'size':>7} {'attention':>9} {'variant':>18} {'fwd+bwd ms':>11} " \
             f"{'img/s':>7} {'iter ms':>8} {'median':>7}"
    print(header)
    print("-" * len(header))
    for height, width in SIZES:
        for r in measure_interleaved(height, width, variants, iters=args.iters,
                                     warmup=args.warmup, **common):
            results.append(r)
            print(f"{height:>3}x{width:<3} {str(r.attention):>9} {r.label:>18} "
                  f"{r.fwd_bwd_ms:>11.0f} {r.images_per_s:>7.1f} {r.step_ms:>8.0f} "
                  f"{r.step_median_ms:>7.0f}",
                  flush=True)

    print("\nspeed-up over fp32 (attention on, fwd+bwd):")
    for height, width in SIZES:
        same = [r for r in results if (r.height, r.width) == (height, width) and r.attention]
        base = next(r for r in same if not (r.channels_last or r.bf16))
        gains = ", ".join(f"{r.label} x{base.fwd_bwd_ms / r.fwd_bwd_ms:.2f}"
                          for r in same if r is not base)
        print(f"  {height}x{width}: {gains}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(r) for r in results], fh, indent=2)


if __name__ == "__main__":
    main()
