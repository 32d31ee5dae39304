"""CPU feature-extraction speed of MGN-ResNet-18 (the quick profile's B-F) by precision and layout.

Times eval-mode forward passes at the quick profile's input size (128x64, batch 128) in
fp32, bf16 autocast, and bf16 autocast with channels-last model and input (what
:func:`reidlab.engine.extract.extract_features` uses on the CPU with bf16), interleaved
round-robin so that other load affects every variant alike, and prints images/s and the
ratios to fp32 and to plain bf16, measured in this one run.

    .venv/bin/python benchmarks/extract_speed.py [--iters 4] [--threads 2]
"""
from __future__ import annotations

import argparse
import contextlib
import time

import torch

from reidlab.config import get_profile
from reidlab.models import build_mgn


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--iters", type=int, default=4, help="timed batches per variant (best of)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    quick = get_profile("quick")
    torch.manual_seed(0)
    model = build_mgn(100, quick.model.backbone, attention=True, reduction=quick.model.reduction,
                      feat_dim=quick.model.feat_dim).eval()
    x = torch.randn(args.batch, 3, quick.model.height, quick.model.width)
    nhwc_model = build_mgn(100, quick.model.backbone, attention=True, reduction=quick.model.reduction,
                           feat_dim=quick.model.feat_dim).eval().to(memory_format=torch.channels_last)
    nhwc_model.load_state_dict(model.state_dict())
    variants = {"fp32": (model, x, False), "bf16": (model, x, True),
                "bf16+channels_last": (nhwc_model, x.contiguous(memory_format=torch.channels_last), True)}
    best = {name: float("inf") for name in variants}
    with torch.inference_mode():
        for i in range(args.iters + 1):            # the first round warms up
            for name, (net, batch, bf16) in variants.items():
                ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
                t0 = time.perf_counter()
                with ctx:
                    net(batch)
                if i:
                    best[name] = min(best[name], time.perf_counter() - t0)
    speed = {name: args.batch / t for name, t in best.items()}
    for name, ips in speed.items():
        print(f"{name:20s} {ips:7.1f} images/s  {ips / speed['fp32']:4.2f}x fp32  {ips / speed['bf16']:4.2f}x bf16")
    return speed


if __name__ == "__main__":
    main()
