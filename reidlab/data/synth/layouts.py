"""SynthPeople dataset layouts: which image of whom, from which camera, under which file name."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reidlab.data.synth._common import _S_ASSIGN, _S_CAVIAR, _S_DISTRACTOR, _S_JUNK, _S_VIEW, _rng
from reidlab.data.synth.identities import (
    IdentitySpec, _CAVIAR_MAX_PER_CAMERA, _CAVIAR_SINGLE_CAMERA_FRACTION, _MARKET_JPEG_QUALITY,
    _sample_population, sample_identities,
)
from reidlab.data.synth.cameras import CameraSpec

# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class _Job:
    """One file to write: who, where, seen by which camera, at which size."""

    relpath: str
    person: IdentitySpec | None
    camera: int
    view_key: tuple[int, ...]
    out_size: tuple[int, int]
    render_size: tuple[int, int]
    jpeg_quality: int
    junk: bool = False


def _assign_cameras(rng: np.random.Generator, k: int, n_cameras: int) -> list[int]:
    """Cameras of ``k`` images: at least two cameras, at least one seen twice (``k >= 3``)."""
    m = int(rng.integers(2, min(n_cameras, k - 1) + 1))
    chosen = rng.choice(n_cameras, size=m, replace=False)
    cams = list(chosen) + list(rng.choice(chosen, size=k - m))
    rng.shuffle(cams)
    return [int(c) for c in cams]


def _market_name(pid: int, cam: int, frame: int) -> str:
    pid_text = "-1" if pid < 0 else f"{pid:04d}"
    return f"{pid_text}_c{cam + 1}s1_{frame:06d}_00.jpg"


def _plan_market(n_ids: int, k: int, n_cameras: int, hr_size: tuple[int, int],
                 seed: int) -> tuple[list[_Job], dict[str, int]]:
    people = sample_identities(n_ids, seed)
    n_train = n_ids // 2
    frames: Counter[int] = Counter()  # per camera: increasing frame numbers, unique file names

    def frame(cam: int) -> int:
        frames[cam] += 1
        return 6 * frames[cam] + 1

    jobs: list[_Job] = []

    def add(folder: str, pid: int, person: IdentitySpec | None, cam: int,
            key: tuple[int, ...], junk: bool = False) -> None:
        jobs.append(_Job(f"{folder}/{_market_name(pid, cam, frame(cam))}", person, cam,
                         (seed, *key), hr_size, hr_size, _MARKET_JPEG_QUALITY, junk))

    for person in people:
        rng = _rng(seed, _S_ASSIGN, person.pid)
        cams = _assign_cameras(rng, k, n_cameras)
        if person.pid <= n_train:
            for i, cam in enumerate(cams):
                add("bounding_box_train", person.pid, person, cam, (_S_VIEW, person.pid, cam, i))
            continue
        query = set()
        for cam in sorted(set(cams)):
            shots = [i for i, c in enumerate(cams) if c == cam]
            if len(shots) >= 2:      # keep >= 1 gallery image in this camera too
                query.add(int(rng.choice(shots)))
        for i, cam in enumerate(cams):
            folder = "query" if i in query else "bounding_box_test"
            add(folder, person.pid, person, cam, (_S_VIEW, person.pid, cam, i))

    n_extra = max(2, n_ids // 10)
    for i, person in enumerate(_sample_population(n_extra, seed, _S_DISTRACTOR)):
        cam = int(_rng(seed, _S_DISTRACTOR, _S_ASSIGN, i).integers(n_cameras))
        add("bounding_box_test", 0, person, cam, (_S_DISTRACTOR, _S_VIEW, i))
    for i, person in enumerate(_sample_population(n_extra, seed, _S_JUNK)):
        rng = _rng(seed, _S_JUNK, _S_ASSIGN, i)
        cam = int(rng.integers(n_cameras))
        fragment = person if rng.random() < 0.6 else None   # else background only
        add("bounding_box_test", -1, fragment, cam, (_S_JUNK, _S_VIEW, i), junk=True)

    folders = Counter(job.relpath.split("/")[0] for job in jobs)
    counts = {
        "images": len(jobs), "train": folders["bounding_box_train"], "query": folders["query"],
        "gallery": folders["bounding_box_test"], "distractors": n_extra, "junk": n_extra,
        "train_ids": n_train, "test_ids": n_ids - n_train,
    }
    return jobs, counts


def _plan_caviar(n_ids: int, k: int, hr_size: tuple[int, int], seed: int,
                 cameras: Sequence[CameraSpec]) -> tuple[list[_Job], dict[str, Any]]:
    people = sample_identities(n_ids, seed)
    n_single = min(int(round(_CAVIAR_SINGLE_CAMERA_FRACTION * n_ids)), n_ids - 1)
    single = {int(i) + 1 for i in _rng(seed, _S_CAVIAR, _S_ASSIGN).choice(n_ids, n_single, replace=False)}
    hr_w, hr_h = hr_size
    jobs: list[_Job] = []
    for person in people:
        for cam in ((0,) if person.pid in single else (0, 1)):
            lo, hi = cameras[cam].distance
            for i in range(k):
                rng = _rng(seed, _S_CAVIAR, person.pid, cam, i)
                height_frac = math.exp(rng.uniform(math.log(lo), math.log(hi)))
                aspect = (hr_w / hr_h) * rng.uniform(0.82, 1.14)
                height = max(16, int(round(hr_h * height_frac)))
                width = max(8, int(round(height * aspect)))
                render_size = (max(8, int(round(hr_h * aspect))), hr_h)
                quality = int(rng.integers(*cameras[cam].jpeg_quality))
                name = f"{person.pid:04d}{cam * _CAVIAR_MAX_PER_CAMERA + i + 1:03d}.jpg"
                jobs.append(_Job(name, person, cam, (seed, _S_VIEW, person.pid, cam, i),
                                 (width, height), render_size, quality))
    heights = [job.out_size[1] for job in jobs]
    counts = {
        "images": len(jobs), "ids": n_ids, "ids_single_camera": n_single,
        "camera_images": [sum(job.camera == c for job in jobs) for c in (0, 1)],
        "min_height": min(heights), "max_height": max(heights),
    }
    return jobs, counts


