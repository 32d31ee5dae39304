"""Wall time of the ``paper`` profile on real data, end to end through the study's own code.

Trains RFD's B-F and B-R with the ``paper`` profile (MGN-ResNet-50 at 384x128, the paper's
batches, bf16 + channels-last on CUDA) on trial 0 of ``--dataset`` for ``--iterations`` each
instead of the paper's length, extracts features and scores B-F and RFD (Eq. 8) on that
trial's LR queries, and prints the measured training throughput, the paper schedule's length
on this training set and the wall time it implies. The rank-1 after a few hundred iterations
from random weights (no ImageNet offline) only proves the path; it is not a result.

    .venv/bin/python benchmarks/paper_run.py --dataset viper --data-root ../shared/data/VIPeR \\
        [--iterations 300] [--runs /tmp/reidlab_paper_run] [--json out.json]
    .venv/bin/python benchmarks/paper_run.py --profile smoke --iterations 2 --data-root ../shared/data/VIPeR  # a check
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from reidlab.config import DATASETS, get_profile, override
from reidlab.data import degradation_kwargs, prepare_dataset
from reidlab.engine.run_identity import SUMMARY_FILE
from reidlab.paths import read_json
from reidlab.study.compute import model_store, scoring
from reidlab.study.compute.rfd_trials import make_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="viper", choices=DATASETS)
    parser.add_argument("--data-root", required=True, help="the dataset's folder")
    parser.add_argument("--iterations", type=int, default=300, help="iterations of B-F and of B-R each")
    parser.add_argument("--runs", default="/tmp/reidlab_paper_run", help="runs folder (trained models)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--profile", default="paper", help="another profile only to check the script (smoke)")
    args = parser.parse_args()

    prof = get_profile(args.profile, data={"dataset": args.dataset, "data_root": args.data_root},
                       model={"pretrained": None})
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine()
    print(f"torch {torch.__version__} on {name}; profile {prof.name}, {args.dataset}, MGN-{prof.model.backbone} at "
          f"{prof.model.height}x{prof.model.width}, random start (no ImageNet offline)", flush=True)
    ds = prepare_dataset(prof.data, progress=False)
    split = make_split(prof, ds, "lr_query", 0)
    full = {task: model_store.trained_iterations(prof, split, task) for task in ("bf", "br")}
    short = override(prof, bf={"iterations": args.iterations, "iterations_per_id": 0, "epochs": 0},
                     br={"iterations": args.iterations, "iterations_per_id": 0, "epochs": 0})
    print(f"trial 0: {len(split.train)} training records, {len(split.query)} queries, "
          f"{len(split.gallery)} gallery images; paper lengths B-F {full['bf']}, B-R {full['br']} iterations",
          flush=True)

    out: dict[str, object] = {"device": name, "torch": torch.__version__, "dataset": args.dataset,
                              "iterations": args.iterations, "paper_iterations": full}
    trained = {}
    for task, build in (("bf", model_store.bf_model), ("br", model_store.br_model)):
        start = time.perf_counter()
        trained[task], run = build(short, split, args.runs, progress=False)
        summary = read_json(run / SUMMARY_FILE)
        cfg = getattr(short, task)
        images_per_s = float(summary["images_per_s"])
        per_iteration = cfg.p * cfg.k / images_per_s
        out[task] = {"wall_s": time.perf_counter() - start, "images_per_s": images_per_s,
                     "batch": cfg.p * cfg.k, "paper_hours": full[task] * per_iteration / 3600}
        print(f"{task}: {args.iterations} iterations in {out[task]['wall_s']:.0f} s, {images_per_s:.0f} images/s "
              f"(batch {cfg.p * cfg.k}); the paper's {full[task]} iterations: "
              f"{out[task]['paper_hours']:.2f} h", flush=True)

    start = time.perf_counter()
    feats = scoring.extract_split_features(split, trained, height=prof.model.height, width=prof.model.width,
                                           batch_size=prof.eval.batch_size, flip=prof.eval.flip,
                                           **degradation_kwargs(prof.data), progress=False, amp=prof.eval.amp)
    extract_s = time.perf_counter() - start
    n_images = len(split.query) + len(split.gallery)
    bf = scoring.score(feats, lam=0.0, reading=prof.eval.rfd_reading)
    rfd = scoring.score(feats, lam=prof.eval.lam, reading=prof.eval.rfd_reading)
    out["extract"] = {"seconds": extract_s, "images": n_images, "flip": prof.eval.flip}
    out["rank1"] = {"B-F": bf["R1"], "B-F + RFD": rfd["R1"]}
    print(f"extraction of {n_images} images x 2 models (flip={prof.eval.flip}): {extract_s:.1f} s; "
          f"rank-1 LR->HR after {args.iterations} iterations: B-F {bf['R1']:.1f}%, RFD {rfd['R1']:.1f}% "
          "(a path check, not a result)")
    total = sum(out[t]["paper_hours"] for t in ("bf", "br"))  # type: ignore[index]
    print(f"one trial of the paper schedule (B-F + B-R) on {args.dataset}: about {total:.1f} GPU-hours "
          f"on this device; x {prof.eval.splits} retrained identity splits on random-split data")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
