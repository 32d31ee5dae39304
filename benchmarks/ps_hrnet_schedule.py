"""What PS-HRNet needs on the CPU: its rank-1 against B-F's when teacher and student train longer.

Runs the quick profile's PS-HRNet (HRNet pre-trained on the stand-in, VDSR-CA warm-up) with the
teacher and the student trained for each given number of iterations (quick: 80), on the Market-like
unit 0 and the same lr_query draws as notebook 06, and prints rank-1/5/10 and mAP of B-F and PS-HRNet
with the seconds each setting took on this machine. Run after `make reproduce` (it reuses the
study's pre-training, B-F and B-R from runs/):

    .venv/bin/python benchmarks/ps_hrnet_schedule.py 240
"""
from __future__ import annotations

import argparse
import platform
import time

from reidlab.config import override
from reidlab.data import prepare_dataset
from reidlab.recipes.ps_hrnet import ps_input_size
from reidlab.study.params import build_profile
from reidlab.study.compute import rfd_trials, scoring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("iterations", type=int, nargs="+", help="teacher and student iterations (quick: 80)")
    parser.add_argument("--runs-dir", default="runs")
    args = parser.parse_args()
    for its in args.iterations:
        prof = override(build_profile("quick"), ps={"teacher": {"iterations": its, "checkpoint_every": its},
                                                    "student": {"iterations": its, "checkpoint_every": its}})
        ds = prepare_dataset(prof.data)
        n_trials = rfd_trials.trials_for_units(prof, ds, 1)
        start = time.perf_counter()
        per_trial, _, _ = rfd_trials.ps_hrnet_trials(prof, ds, ["lr_query"], trials=n_trials, units=1,
                                                 runs_dir=args.runs_dir, size=ps_input_size(prof))
        took = time.perf_counter() - start
        table = scoring.mean_pm_std(scoring.summarise(per_trial, by=("method",)), keep=("method",))
        print(f"teacher + student {its} iterations each: {took:.0f} s on {platform.processor() or platform.machine()} "
              f"({n_trials} lr_query draws, Market-like unit 0)\n{table.to_string(index=False)}\n", flush=True)


if __name__ == "__main__":
    main()
