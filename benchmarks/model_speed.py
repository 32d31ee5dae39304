"""Training speed of every quick-profile network on this CPU, in each precision and layout.

For the pre-training ResNet (identity + attribute classifier), MGN B-F, the light B-R and
PS-HRNet's teacher (HRNet-ReID) and student (VDSR-CA + HRNet-ReID), prints the
forward+backward+step throughput (images/s) of one training iteration at the quick
profile's batch and input size in fp32 and bf16 autocast, each with channels-last off and
on, and marks the variant ``amp="auto"`` / ``channels_last="auto"`` picks on this machine
(:mod:`reidlab.engine.precision`). The variants of one network run round-robin, so load
from other processes affects them alike; the figure is the median of ``--iters`` timed
iterations after ``--warmup``. The processor, its bf16 flags and torch's CPU capability are
printed first: quote them with any figure.

    .venv/bin/python benchmarks/model_speed.py [--iters 4] [--networks pretrain,bf,br,teacher,student]
        [--pretrain-sizes 128x64,64x32] [--json out.json]

Without native bf16 (AVX2 only) a bf16 iteration takes about ten times an fp32 one, so the
bf16 rows dominate the run time there; ``--no-bf16`` leaves them out.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from reidlab.config import get_profile
from reidlab.engine.precision import cpu_info, resolve_amp, resolve_channels_last

NETWORKS: tuple[str, ...] = ("pretrain", "bf", "br", "teacher", "student")


@dataclass
class Result:
    network: str
    size: str
    batch: int
    precision: str
    channels_last: bool
    images_per_s: float
    step_ms: float
    auto: bool = False


def _scalar(out: object) -> torch.Tensor:
    """A differentiable scalar touching every floating output (the cost of a real loss is
    small beside the network's)."""
    if isinstance(out, torch.Tensor):
        return out.float().mean() if out.is_floating_point() else out.new_zeros((), dtype=torch.float32)
    if isinstance(out, dict):
        return sum((_scalar(v) for v in out.values()), torch.zeros(()))
    if isinstance(out, (list, tuple)):
        return sum((_scalar(v) for v in out), torch.zeros(()))
    return torch.zeros(())


def build_network(name: str, num_classes: int = 100) -> tuple[nn.Module, int, int, int]:
    """``(model, batch, height, width)`` of quick-profile network ``name``."""
    profile = get_profile("quick")
    h, w = profile.model.height, profile.model.width
    if name == "pretrain":
        from reidlab.recipes.pretraining import build_classifier
        sched = profile.pretrain.schedule
        return build_classifier("resnet", profile.model.backbone, (num_classes, 8, 8, 8)), sched.p * sched.k, h, w
    if name == "bf":
        from reidlab.models import build_mgn
        m = profile.model
        return (build_mgn(num_classes, m.backbone, attention=m.attention, reduction=m.reduction,
                          feat_dim=m.feat_dim, global_branch=m.global_branch,
                          input_size=(m.mgn_height, m.mgn_width) if m.mgn_height else None),
                profile.bf.p * profile.bf.k, h, w)
    if name == "br":
        from reidlab.models import ResolutionNet
        return ResolutionNet(4, width=profile.model.br_width), 4 * profile.br.k, h, w
    from reidlab.recipes.ps_hrnet import build_student, build_teacher
    ps = profile.ps
    ph, pw = ps.height or h, ps.width or w
    batch = ps.teacher.p * ps.teacher.k
    if name == "teacher":
        return build_teacher(num_classes, ps), batch, ph, pw
    if name == "student":
        return build_student(num_classes, ps), batch, ph, pw
    raise ValueError(f"unknown network {name!r}; choose from {', '.join(NETWORKS)}")


class Runner:
    """One variant: its own copy of the network, optimiser and batch."""

    def __init__(self, name: str, model_factory: Callable[[], tuple[nn.Module, int, int, int]],
                 *, bf16: bool, channels_last: bool, size: tuple[int, int] | None) -> None:
        torch.manual_seed(0)
        model, batch, h, w = model_factory()
        if size is not None:
            h, w = size
        self.name, self.size, self.batch = name, f"{h}x{w}", batch
        self.bf16, self.channels_last = bf16, channels_last
        self.model = model.train()
        self.x = torch.randn(batch, 3, h, w)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4)
        self.times: list[float] = []

    def step(self, record: bool) -> None:
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()
        t0 = time.perf_counter()
        with autocast:
            loss = _scalar(self.model(self.x))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if record:
            self.times.append(time.perf_counter() - t0)

    def result(self) -> Result:
        t = statistics.median(self.times)
        return Result(self.name, self.size, self.batch, "bf16" if self.bf16 else "fp32",
                      self.channels_last, self.batch / t, 1000 * t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--iters", type=int, default=4, help="timed iterations (median)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--pretrain-sizes", default="128x64,64x32",
                        help="input sizes of the pre-training ResNet (the first is the profile's)")
    parser.add_argument("--no-bf16", action="store_true", help="fp32 variants only")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    networks = [n.strip() for n in args.networks.split(",") if n.strip()]
    for n in networks:
        if n not in NETWORKS:
            parser.error(f"--networks: unknown network {n!r}; choose from {', '.join(NETWORKS)}")

    info = cpu_info()
    auto_dtype, _ = resolve_amp("auto", "cpu")
    auto_cl = resolve_channels_last("auto", auto_dtype, "cpu")
    auto_label = ("bf16" if auto_dtype is not None else "fp32", auto_cl)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; CPU: {info.model} "
          f"({info.machine}), flags: {' '.join(info.flags) or 'none reported'}, torch capability "
          f"{info.capability}, native bf16: {'yes' if info.native_bf16 else 'no'}")
    print(f"auto picks: {auto_label[0]}, channels-last {'on' if auto_cl else 'off'}; "
          f"median of {args.iters} iterations after {args.warmup} warm-up, variants round-robin\n")
    header = f"{'network':>9} {'size':>7} {'batch':>5} {'variant':>19} {'img/s':>7} {'ms/iter':>8}  vs fp32"
    print(header)
    print("-" * len(header))
    results: list[Result] = []
    precisions = (False,) if args.no_bf16 else (False, True)
    for name in networks:
        sizes: list[tuple[int, int] | None] = [None]
        if name == "pretrain":
            sizes = [tuple(int(v) for v in s.split("x")) for s in args.pretrain_sizes.split(",")]  # type: ignore[misc]
        for size in sizes:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                runners = [Runner(name, lambda n=name: build_network(n), bf16=bf, channels_last=cl, size=size)
                           for bf in precisions for cl in (False, True)]
                for i in range(args.warmup + args.iters):
                    for r in runners:
                        r.step(record=i >= args.warmup)
            rows = [r.result() for r in runners]
            base = rows[0].images_per_s
            for row in rows:
                row.auto = (row.precision, row.channels_last) == auto_label
                results.append(row)
                variant = f"{row.precision}{' + channels-last' if row.channels_last else ''}"
                print(f"{row.network:>9} {row.size:>7} {row.batch:>5} {variant:>19} {row.images_per_s:>7.1f} "
                      f"{row.step_ms:>8.0f}  x{row.images_per_s / base:.2f}{'  <- auto' if row.auto else ''}",
                      flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cpu": asdict(info), "auto": {"precision": auto_label[0], "channels_last": auto_cl},
                       "results": [asdict(r) for r in results]}, fh, indent=2)


if __name__ == "__main__":
    main()
