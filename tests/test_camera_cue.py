"""The camera-cue check (reidlab/data/camera_cue.py) and SynthPeople's shared scenes (issue 22)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reidlab.data.camera_cue import camera_predictability, matched_predictability
from reidlab.data.records import ImageRecord
from reidlab.data.synth import sample_camera, sample_view
from reidlab.data.synth._common import _rng
from reidlab.data.synth.cameras import MARKET_OWN_SCENE


def _images(folder: Path, *, cast_by_camera: bool, ids: int = 60, seed: int = 0) -> list[ImageRecord]:
    """Two images per identity, one per camera; with ``cast_by_camera`` camera 1's images are
    bluer than camera 0's, otherwise the camera leaves no trace."""
    rng = np.random.default_rng(seed)
    out = []
    for pid in range(1, ids + 1):
        person = rng.integers(70, 150, size=3)
        for cam in (0, 1):
            pixels = rng.normal(person, 25.0, size=(32, 16, 3))
            if cast_by_camera:
                pixels[..., 2] += 80.0 * cam
            path = folder / f"{pid:03d}_{cam}.png"
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
            out.append(ImageRecord(path=str(path), pid=pid, camid=cam, width=16, height=32))
    return out


def test_a_camera_colour_cast_is_found_and_no_cast_is_chance(tmp_path: Path) -> None:
    (tmp_path / "cast").mkdir(); (tmp_path / "none").mkdir()
    strong = camera_predictability(_images(tmp_path / "cast", cast_by_camera=True))
    none = camera_predictability(_images(tmp_path / "none", cast_by_camera=False))
    assert strong.kappa > 0.9 and strong.cameras == 2 and strong.images == 120
    assert abs(none.kappa) < 0.35
    assert 0.0 <= none.chance <= 1.0


def test_matched_predictability_draws_the_asked_number_of_images(tmp_path: Path) -> None:
    recs = _images(tmp_path, cast_by_camera=True, ids=40)
    cue = matched_predictability(recs, images=30, draws=3, seed=1)
    assert cue.images == 30 and cue.draws == 3 and cue.kappa_std >= 0.0
    assert cue == matched_predictability(recs, images=30, draws=3, seed=1)   # deterministic


def test_one_camera_is_refused(tmp_path: Path) -> None:
    recs = [r for r in _images(tmp_path, cast_by_camera=False) if r.camid == 0]
    with pytest.raises(ValueError, match=">= 2 cameras"):
        camera_predictability(recs)


def test_market_like_backgrounds_come_from_every_camera_and_caviar_keeps_its_own() -> None:
    cams = [sample_camera(0, c, "market") for c in range(4)]
    scenes = [sample_view(_rng(9, i), cams[1], n_scenes=4).scene for i in range(400)]
    share = np.bincount(scenes, minlength=4) / len(scenes)
    expected_own = MARKET_OWN_SCENE + (1 - MARKET_OWN_SCENE) / 4
    assert abs(share[1] - expected_own) < 0.08 and (share > 0.1).all()
    assert {sample_view(_rng(9, i), sample_camera(0, 1, "caviar")).scene for i in range(50)} == {1}
