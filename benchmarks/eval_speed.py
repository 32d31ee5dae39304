"""Speed of :func:`reidlab.metrics.evaluate_rank` against a plain argsort evaluation.

Generates a seeded random problem at Market-1501 scale (3368 queries x 15913 gallery
images, 751 identities, 6 cameras, float32 distances), times our ``evaluate_rank`` and a
numpy implementation with torchreid's Python semantics (full ``argsort`` of every row, one
loop iteration per query; ``kind="stable"`` so that ties break by gallery index), checks
that CMC and mAP agree to 1e-6 and prints both times and their ratio.

    python benchmarks/eval_speed.py            # Market scale
    python benchmarks/eval_speed.py --small    # a quick run

``--signal`` lowers the distance of same-identity pairs (0: pure noise, the worst case for
the fast path; a trained model sits in between). Wall and CPU (process) times are both
printed, because the machine may be shared.
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from reidlab.metrics import evaluate_rank


def make_problem(num_q: int, num_g: int, n_ids: int, n_cams: int, signal: float,
                 seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random distances (float32) and ids; same-identity pairs are ``signal`` closer."""
    rng = np.random.default_rng(seed)
    g_pids = rng.integers(0, n_ids, num_g)
    q_pids = rng.choice(g_pids, num_q)
    q_cams, g_cams = rng.integers(0, n_cams, num_q), rng.integers(0, n_cams, num_g)
    dist = rng.random((num_q, num_g), dtype=np.float32)
    if signal:
        dist -= np.float32(signal) * (q_pids[:, None] == g_pids[None, :])
    return dist, q_pids, g_pids, q_cams, g_cams


def argsort_evaluate(distmat: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray,
                     q_camids: np.ndarray, g_camids: np.ndarray,
                     max_rank: int = 50) -> tuple[np.ndarray, float]:
    """torchreid's ``eval_market1501`` (Python version), with a stable argsort."""
    num_q, num_g = distmat.shape
    max_rank = min(max_rank, num_g)
    indices = np.argsort(distmat, axis=1, kind="stable")
    matches = (g_pids[indices] == q_pids[:, None]).astype(np.int32)
    all_cmc, all_ap = [], []
    for q in range(num_q):
        order = indices[q]
        keep = ~((g_pids[order] == q_pids[q]) & (g_camids[order] == q_camids[q]))
        raw_cmc = matches[q][keep]
        if not np.any(raw_cmc):
            continue
        cmc = raw_cmc.cumsum()
        cmc[cmc > 1] = 1
        all_cmc.append(cmc[:max_rank])
        tmp = raw_cmc.cumsum() / np.arange(1, len(raw_cmc) + 1) * raw_cmc
        all_ap.append(tmp.sum() / raw_cmc.sum())
    if not all_cmc:
        raise ValueError("no valid query")
    return np.asarray(all_cmc, dtype=np.float64).mean(0), float(np.mean(all_ap))


def timed(fn: Callable[[], Any], runs: int) -> tuple[Any, float, float]:
    """Result, best wall time and best CPU time over ``runs`` calls."""
    best_wall = best_cpu = float("inf")
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return out, best_wall, best_cpu


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="300 x 1500, 100 ids: seconds")
    parser.add_argument("--signal", type=float, default=0.3,
                        help="distance advantage of same-identity pairs (default 0.3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of evaluate_rank")
    args = parser.parse_args(argv)
    shape = (300, 1500, 100, 6) if args.small else (3368, 15913, 751, 6)
    problem = make_problem(*shape, signal=args.signal, seed=args.seed)
    print(f"problem: {shape[0]} queries x {shape[1]} gallery, {shape[2]} ids, {shape[3]} cams, "
          f"signal {args.signal}, seed {args.seed}; load average {os.getloadavg()[0]:.2f}, "
          f"{os.cpu_count()} CPUs")
    (cmc, m_ap), ours_wall, ours_cpu = timed(lambda: evaluate_rank(*problem), args.runs)
    (ref_cmc, ref_map), ref_wall, ref_cpu = timed(lambda: argsort_evaluate(*problem), 1)
    cmc_err = float(np.abs(cmc - ref_cmc).max())
    map_err = abs(m_ap - ref_map)
    print(f"evaluate_rank : {ours_wall:7.3f} s wall  {ours_cpu:7.3f} s CPU   "
          f"R1 {100 * cmc[0]:.2f}  mAP {100 * m_ap:.2f}")
    print(f"argsort (ref) : {ref_wall:7.3f} s wall  {ref_cpu:7.3f} s CPU   "
          f"R1 {100 * ref_cmc[0]:.2f}  mAP {100 * ref_map:.2f}")
    print(f"speed-up      : {ref_wall / ours_wall:7.1f} x wall  {ref_cpu / ours_cpu:7.1f} x CPU")
    print(f"agreement     : max |dCMC| = {cmc_err:.2e}, |dmAP| = {map_err:.2e}")
    if cmc_err > 1e-6 or map_err > 1e-6:
        raise SystemExit("evaluate_rank disagrees with the argsort reference")
    return {"ours_wall": ours_wall, "ours_cpu": ours_cpu, "ref_wall": ref_wall,
            "ref_cpu": ref_cpu, "cmc_err": cmc_err, "map_err": map_err}


if __name__ == "__main__":
    main()
