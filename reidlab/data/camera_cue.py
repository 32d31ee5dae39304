"""How strongly the camera shows in the pixels: a model-free check of a dataset (issue 22).

Re-identification models can match people by the look of the camera (background, colour
cast, noise) instead of the person; how much that is possible depends on the data. To
compare SynthPeople with real data on the same scale, :func:`camera_predictability` asks
how well a linear classifier on raw pixel statistics (an 8x4 colour thumbnail, HSV
histograms, per-channel contrast) predicts the camera of an image, trained and tested on
*disjoint identities* (so it cannot name the camera through the person), and reports
Cohen's kappa: 0 for chance, 1 for a camera named by every image. No network is trained.

Sample size matters (a classifier on few images learns less), so datasets are compared at
one number of images (:data:`MATCHED_IMAGES`, the size of the smallest real set at hand,
``mini_market1501``), averaged over several draws of identities.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from reidlab.data.records import ImageRecord

__all__ = ["MATCHED_IMAGES", "CameraCue", "pixel_statistics", "camera_predictability", "matched_predictability"]

#: images per draw when datasets are compared at one sample size
MATCHED_IMAGES = 96


@dataclass(frozen=True)
class CameraCue:
    """Camera predictability of a set of images: ``accuracy`` of the identity-disjoint
    classifier, the ``chance`` accuracy of its predictions' marginals, Cohen's ``kappa``
    (mean and standard deviation over ``draws``), ``images`` and ``cameras`` per draw."""

    accuracy: float
    chance: float
    kappa: float
    kappa_std: float
    images: int
    cameras: int
    draws: int


def pixel_statistics(records: Sequence[ImageRecord]) -> np.ndarray:
    """One row per image: an 8x4 RGB thumbnail, 8-bin H, S and V histograms and the
    per-channel standard deviation (every image resized to 64x32 first)."""
    rows = []
    for r in records:
        img = Image.open(r.path).convert("RGB").resize((32, 64), Image.Resampling.BILINEAR)
        rgb = np.asarray(img, dtype=np.float32) / 255.0
        thumb = np.asarray(img.resize((4, 8), Image.Resampling.BOX), dtype=np.float32).ravel() / 255.0
        hsv = np.asarray(img.convert("HSV"), dtype=np.float32) / 255.0
        hist = np.concatenate([np.histogram(hsv[..., c], bins=8, range=(0.0, 1.0))[0] / hsv[..., c].size
                               for c in range(3)])
        rows.append(np.concatenate([thumb, hist, rgb.std(axis=(0, 1))]))
    return np.asarray(rows, dtype=np.float64)


def _kappa_two_fold(features: np.ndarray, cams: np.ndarray, pids: np.ndarray, seed: int,
                    ridge: float = 10.0) -> tuple[float, float]:
    """(accuracy, chance) of a one-vs-rest ridge classifier over two identity-disjoint folds."""
    rng = np.random.default_rng(seed)
    ids = np.unique(pids)
    rng.shuffle(ids)
    fold = np.isin(pids, ids[: len(ids) // 2])
    classes = np.unique(cams)
    accs, chances = [], []
    for test in (fold, ~fold):
        train = ~test
        if not test.any() or len(np.unique(cams[train])) < 2:
            continue
        mu, sd = features[train].mean(0), features[train].std(0) + 1e-6
        a, b = (features[train] - mu) / sd, (features[test] - mu) / sd
        targets = np.where(cams[train][:, None] == classes[None], 1.0, -1.0)
        weights = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ targets)
        pred = classes[(b @ weights).argmax(1)]
        accs.append(float((pred == cams[test]).mean()))
        truth = np.array([(cams[test] == c).mean() for c in classes])
        said = np.array([(pred == c).mean() for c in classes])
        chances.append(float((truth * said).sum()))
    if not accs:
        raise ValueError("camera predictability needs at least two cameras on each side of the identity split")
    return float(np.mean(accs)), float(np.mean(chances))


def camera_predictability(records: Sequence[ImageRecord], *, seed: int = 0) -> CameraCue:
    """:class:`CameraCue` of all ``records`` (distractors, pid <= 0, left out)."""
    recs = [r for r in records if r.pid > 0]
    cams = np.array([r.camid for r in recs])
    if len(np.unique(cams)) < 2:
        raise ValueError(f"camera predictability needs images of >= 2 cameras; got {len(np.unique(cams))}")
    acc, chance = _kappa_two_fold(pixel_statistics(recs), cams, np.array([r.pid for r in recs]), seed)
    kappa = (acc - chance) / (1.0 - chance)
    return CameraCue(acc, chance, kappa, 0.0, len(recs), len(np.unique(cams)), 1)


def matched_predictability(records: Sequence[ImageRecord], *, images: int = MATCHED_IMAGES, draws: int = 5,
                           seed: int = 0) -> CameraCue:
    """:class:`CameraCue` at a fixed sample size: ``draws`` random sets of identities with
    ``images`` images in all (at most 3 per identity, the cameras they were seen by)."""
    recs = [r for r in records if r.pid > 0]
    by_pid: dict[int, list[ImageRecord]] = {}
    for r in recs:
        by_pid.setdefault(r.pid, []).append(r)
    rng = np.random.default_rng(seed)
    kappas, accs, chances, sizes = [], [], [], []
    for draw in range(draws):
        chosen: list[ImageRecord] = []
        for pid in rng.permutation(sorted(by_pid)):
            own = by_pid[int(pid)]
            chosen += [own[i] for i in rng.permutation(len(own))[:3]]
            if len(chosen) >= images:
                break
        chosen = chosen[:images]
        cue = camera_predictability(chosen, seed=seed + draw)
        kappas.append(cue.kappa); accs.append(cue.accuracy); chances.append(cue.chance); sizes.append(cue.images)
    return CameraCue(float(np.mean(accs)), float(np.mean(chances)), float(np.mean(kappas)),
                     float(np.std(kappas, ddof=1)) if draws > 1 else 0.0, int(np.mean(sizes)),
                     len({r.camid for r in recs}), draws)
