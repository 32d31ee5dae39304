"""Where ``make reproduce``'s wall time went: the share of each notebook and of each stage.

Reads ``run_info.json`` of a results folder (default: the committed ``results/``), written by
the study pipeline: ``notebook_seconds`` (each notebook's wall time) and ``stage_seconds``
(per notebook, the seconds of data synthesis, pre-training, training, extraction and
ranking, timed by the code that does them, :mod:`reidlab.stages`; ``other`` is the rest:
kernel start, imports, data preparation, tables, plots). Prints both breakdowns with their
shares of the total, and the processor and precision the run had.

    .venv/bin/python benchmarks/time_shares.py [results/run_info.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reidlab.stages import STAGES

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_info", nargs="?", default=str(ROOT / "results" / "run_info.json"))
    args = parser.parse_args()
    path = Path(args.run_info)
    if not path.is_file():
        print(f"{path} does not exist: run `make reproduce` first (it writes run_info.json)", file=sys.stderr)
        return 2
    info = json.loads(path.read_text())
    notebooks: dict[str, float] = info.get("notebook_seconds", {})
    stages: dict[str, dict[str, float]] = info.get("stage_seconds", {})
    total = sum(notebooks.values()) or 1.0
    precision = info.get("precision", {})
    print(f"{path}: profile {info.get('profile')}, {total / 60:.1f} min in notebooks "
          f"(wall {(info.get('wall_seconds') or total) / 60:.1f} min), finished {info.get('finished', '?')}")
    if precision:
        print(f"CPU {precision.get('cpu_model')} (flags: {', '.join(precision.get('cpu_flags', [])) or 'none'}; "
              f"native bf16: {precision.get('native_bf16')}), device {precision.get('device')}, training "
              f"{precision.get('precision')}, channels-last {precision.get('channels_last')}, extraction "
              f"{precision.get('extraction_precision')}, {precision.get('torch_threads')} threads")
    else:
        print("(this run_info.json predates the precision record)")

    print(f"\n{'notebook':<20} {'seconds':>8} {'share':>6}")
    for name, seconds in notebooks.items():
        print(f"{name:<20} {seconds:>8.0f} {100 * seconds / total:>5.1f}%")
    if not stages:
        print("\n(no stage_seconds: this run_info.json predates the stage timing)")
        return 0
    order = [*STAGES, "other"]
    names = sorted(dict.fromkeys(k for per in stages.values() for k in per),
                   key=lambda k: order.index(k) if k in order else len(order))
    totals = {k: sum(per.get(k, 0.0) for per in stages.values()) for k in names}
    print(f"\n{'stage':<16} {'seconds':>8} {'share':>6}")
    for name in names:
        print(f"{name:<16} {totals[name]:>8.0f} {100 * totals[name] / total:>5.1f}%")
    width = max(len(n) for n in names)
    print("\nper notebook (seconds): " + " | ".join(f"{n:>{width}}" for n in names))
    for nb, per in stages.items():
        print(f"{nb:<22} " + " | ".join(f"{per.get(n, 0.0):>{width}.0f}" for n in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
