"""SynthPeople generator: layouts, counts, determinism, confusable groups, LR ambiguity."""
from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from reidlab.data.synth import writer as synth
from reidlab.data.synth import (
    COARSE_ATTRIBUTES, MANIFEST_NAME, IdentitySpec, SynthManifestMismatchError,
    make_synth_dataset, render_image, sample_camera, sample_identities, sample_view,
    synth_dataset_dirname,
)

MARKET_RE = re.compile(r"^(-1|\d{4})_c(\d)s1_(\d{6})_00\.jpg$")
CAVIAR_RE = re.compile(r"^(\d{4})(\d{3})\.jpg$")

MARKET_KW: dict[str, Any] = dict(variant="market", n_ids=12, images_per_id=5, n_cameras=3,
                                 hr_size=(32, 64), seed=0)
CAVIAR_KW: dict[str, Any] = dict(variant="caviar", n_ids=20, images_per_id=6, n_cameras=2,
                                 hr_size=(32, 64), seed=0)
TINY: dict[str, Any] = dict(n_ids=4, images_per_id=3, n_cameras=2, hr_size=(32, 64), progress=False)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synth_dataset(tmp_path_factory.mktemp("m") / "ds", progress=False, **MARKET_KW)


@pytest.fixture(scope="module")
def caviar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synth_dataset(tmp_path_factory.mktemp("c") / "ds", progress=False, **CAVIAR_KW)


def _market_files(root: Path, folder: str) -> list[tuple[str, int, int]]:
    """(name, pid, 0-based camera) of every file in a Market folder."""
    out = []
    for path in sorted((root / folder).iterdir()):
        match = MARKET_RE.match(path.name)
        assert match, f"bad Market file name {path.name}"
        out.append((path.name, int(match.group(1)), int(match.group(2)) - 1))
    return out


# --------------------------------------------------------------------------- market


def test_market_layout_and_sizes(market: Path) -> None:
    assert sorted(p.name for p in market.iterdir()) == sorted(
        ["bounding_box_train", "bounding_box_test", "query", MANIFEST_NAME])
    for folder in ("bounding_box_train", "bounding_box_test", "query"):
        files = _market_files(market, folder)
        assert files
        for name, _, cam in files:
            assert 0 <= cam < MARKET_KW["n_cameras"]
            with Image.open(market / folder / name) as im:
                assert im.format == "JPEG" and im.mode == "RGB"
                assert im.size == MARKET_KW["hr_size"]


def test_market_ids_cameras_and_splits(market: Path) -> None:
    n_ids, k = MARKET_KW["n_ids"], MARKET_KW["images_per_id"]
    train = _market_files(market, "bounding_box_train")
    gallery = _market_files(market, "bounding_box_test")
    query = _market_files(market, "query")

    train_ids = {pid for _, pid, _ in train}
    test_ids = {pid for _, pid, _ in gallery + query if pid > 0}
    assert train_ids == set(range(1, n_ids // 2 + 1))
    assert test_ids == set(range(n_ids // 2 + 1, n_ids + 1))
    assert {pid for _, pid, _ in query} == test_ids           # no distractor/junk queries
    assert {0, -1} <= {pid for _, pid, _ in gallery}            # distractors and junk
    assert not {n for n, _, _ in query} & {n for n, _, _ in gallery}

    cams: dict[int, list[int]] = defaultdict(list)
    for _, pid, cam in train + gallery + query:
        if pid > 0:
            cams[pid].append(cam)
    for pid, seen in cams.items():
        assert len(seen) == k, f"pid {pid} has {len(seen)} images, want {k}"
        assert len(set(seen)) >= 2, f"pid {pid} is seen by one camera only"

    query_cams: dict[int, list[int]] = defaultdict(list)
    for _, pid, cam in query:
        query_cams[pid].append(cam)
    for pid in test_ids:
        assert query_cams[pid], f"test pid {pid} has no query"
        assert len(query_cams[pid]) == len(set(query_cams[pid])), "one query per camera at most"
        for cam in query_cams[pid]:
            assert any(p == pid and c != cam for _, p, c in gallery), \
                f"query of pid {pid} in camera {cam} has no cross-camera gallery match"

    counts = json.loads((market / MANIFEST_NAME).read_text())["counts"]
    assert counts["train"] == len(train) and counts["query"] == len(query)
    assert counts["gallery"] == len(gallery)


# --------------------------------------------------------------------------- caviar


def test_caviar_layout_counts_and_resolutions(caviar: Path) -> None:
    n_ids, k = CAVIAR_KW["n_ids"], CAVIAR_KW["images_per_id"]
    files = sorted(p for p in caviar.iterdir() if p.name != MANIFEST_NAME)
    assert all(p.is_file() for p in files)
    per_id: dict[int, list[int]] = defaultdict(list)
    heights: dict[int, list[int]] = {0: [], 1: []}
    aspects: list[float] = []
    for path in files:
        match = CAVIAR_RE.match(path.name)
        assert match, f"bad CAVIAR file name {path.name}"
        pid, index = int(match.group(1)), int(match.group(2))
        per_id[pid].append(index)
        with Image.open(path) as im:
            w, h = im.size
        heights[0 if index <= 10 else 1].append(h)
        aspects.append(w / h)
    assert set(per_id) == set(range(1, n_ids + 1))
    one_camera = 0
    for pid, indices in per_id.items():
        cam1 = sorted(i for i in indices if i <= 10)
        cam2 = sorted(i for i in indices if i > 10)
        assert cam1 == list(range(1, k + 1)), f"pid {pid}: camera-1 images {cam1}"
        assert cam2 in ([], list(range(11, 11 + k))), f"pid {pid}: camera-2 images {cam2}"
        one_camera += not cam2
    assert one_camera == round(22 / 72 * n_ids)

    all_heights = heights[0] + heights[1]
    assert max(all_heights) / min(all_heights) >= 3.0
    assert max(all_heights) <= CAVIAR_KW["hr_size"][1]
    assert np.mean(heights[1]) < np.mean(heights[0])          # camera 2 is farther
    assert max(heights[1]) > min(heights[0])                   # ... with overlap
    hr_h = CAVIAR_KW["hr_size"][1]
    assert max(heights[1]) <= 0.56 * hr_h and min(heights[0]) >= 0.44 * hr_h   # far 26-55%, near 45-100%
    assert min(aspects) > 0.35 and max(aspects) < 0.7


# --------------------------------------------------------------------------- determinism and manifest


def _file_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("variant", ["market", "caviar"])
def test_same_seed_byte_identical_other_seed_differs(tmp_path: Path, variant: str) -> None:
    kw: dict[str, Any] = dict(TINY, variant=variant)
    a = _file_bytes(make_synth_dataset(tmp_path / "a", seed=5, **kw))
    b = _file_bytes(make_synth_dataset(tmp_path / "b", seed=5, **kw))
    c = _file_bytes(make_synth_dataset(tmp_path / "c", seed=6, **kw))
    assert a == b
    images = [name for name in a if name.endswith(".jpg")]
    assert images
    assert any(a[name] != c.get(name) for name in images)


def test_manifest_reuse_and_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kw: dict[str, Any] = dict(TINY, variant="market")
    naming = {k: v for k, v in kw.items() if k != "progress"}
    root = tmp_path / "data" / synth_dataset_dirname(**naming, seed=1)
    assert make_synth_dataset(root, seed=1, **kw) == root.absolute()
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert manifest["variant"] == "market" and manifest["params"]["seed"] == 1
    assert manifest["version"] == synth.GENERATOR_VERSION
    assert not [p for p in root.parent.iterdir() if p != root], "temporary folder left behind"

    def must_not_render(*args: object, **kwargs: object) -> None:
        raise AssertionError("an existing dataset was regenerated")

    monkeypatch.setattr(synth, "_render_jobs", must_not_render)
    assert make_synth_dataset(root, seed=1, **kw) == root.absolute()
    with pytest.raises(SynthManifestMismatchError, match=re.escape(str(root))):
        make_synth_dataset(root, seed=2, **kw)
    with pytest.raises(FileExistsError, match="different root"):
        make_synth_dataset(root, seed=1, **{**kw, "n_ids": 6})


def test_failed_generation_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(synth, "render_image", boom)
    with pytest.raises(KeyboardInterrupt):
        make_synth_dataset(tmp_path / "ds", **TINY)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs, name", [
    ({"variant": "duke"}, "variant"),
    ({"n_ids": 1}, "n_ids"),
    ({"n_ids": 10_000}, "n_ids"),
    ({"images_per_id": 2}, "images_per_id"),
    ({"variant": "caviar", "images_per_id": 11}, "images_per_id"),
    ({"n_cameras": 1}, "n_cameras"),
    ({"n_cameras": 10}, "n_cameras"),
    ({"hr_size": (64,)}, "hr_size"),
    ({"hr_size": (128, 64)}, "hr_size"),
    ({"hr_size": (8, 16)}, "hr_size"),
    ({"seed": -1}, "seed"),
    ({"seed": 1.5}, "seed"),
])
def test_invalid_parameters_name_the_parameter(tmp_path: Path, kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        make_synth_dataset(tmp_path / "ds", progress=False, **kwargs)
    assert not (tmp_path / "ds").exists()


def test_dirname() -> None:
    assert synth_dataset_dirname("market", 200, 8, 4, (64, 128), 0) == "synth-market_n200_k8_c4_64x128_s0"
    assert synth_dataset_dirname("caviar", 72, 10, 4, (64, 128), 3) == "synth-caviar_n72_k10_c2_64x128_s3"


# --------------------------------------------------------------------------- identities


def test_sample_identities_is_pure_and_grouped() -> None:
    people = sample_identities(200, 0)
    assert people == sample_identities(200, 0)
    assert people != sample_identities(200, 1)
    assert [p.pid for p in people] == list(range(1, 201))
    assert all(isinstance(p, IdentitySpec) for p in people)
    with pytest.raises(dataclasses.FrozenInstanceError):
        people[0].upper_color = "red"  # type: ignore[misc]

    groups: dict[int, list[IdentitySpec]] = defaultdict(list)
    for p in people:
        groups[p.group].append(p)
    for members in groups.values():
        assert 2 <= len(members) <= 4
        pids = [m.pid for m in members]
        assert pids == list(range(pids[0], pids[0] + len(pids))), "groups are consecutive pids"
        assert (pids[0] <= 100) == (pids[-1] <= 100), "a group straddles the train/test boundary"
        assert len({m.coarse() for m in members}) == 1, "group members differ in a coarse attribute"
        assert len({m.pattern for m in members}) == len(members)
        assert len({m.logo for m in members}) == len(members)
    # across groups the coarse attributes do vary (the groups are not all alike)
    assert len({p.coarse() for p in people}) == len(groups)
    for name in COARSE_ATTRIBUTES:
        assert len({getattr(p, name) for p in people}) >= 2, f"{name} never varies"


def _lr(image: Image.Image, factor: int = 4) -> np.ndarray:
    w, h = image.size
    small = image.resize((w // factor, h // factor), Image.Resampling.BOX)
    return np.asarray(small.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)


def test_confusable_identities_become_ambiguous_at_low_resolution() -> None:
    """Confusable pairs differ at HR but nearly coincide after 4x down-up-sampling, while
    identities from different groups stay far apart at LR."""
    people = sample_identities(40, 11)
    camera = dataclasses.replace(sample_camera(0, 0), noise=0.0, blur=0.0)
    groups: dict[int, list[IdentitySpec]] = defaultdict(list)
    for p in people:
        groups[p.group].append(p)
    ratios, confusable_hr, confusable_lr, other_lr = [], [], [], []
    for g, members in enumerate(groups.values()):
        view = dataclasses.replace(sample_view(np.random.default_rng(g), camera), occluder=None)
        hr = {m.pid: render_image(m, camera, view, (64, 128)) for m in members}
        for a, b in itertools.combinations(members, 2):
            d_hr = np.abs(np.asarray(hr[a.pid], np.float32) - np.asarray(hr[b.pid], np.float32)).mean()
            d_lr = np.abs(_lr(hr[a.pid]) - _lr(hr[b.pid])).mean()
            ratios.append(d_lr / d_hr)
            confusable_hr.append(d_hr)
            confusable_lr.append(d_lr)
        stranger = next(p for p in people[(g * 7) % len(people):] + people if p.group != members[0].group)
        other = render_image(stranger, camera, view, (64, 128))
        other_lr.append(np.abs(_lr(hr[members[0].pid]) - _lr(other)).mean())
    # they differ at HR (least in side views and in back views behind a backpack) ...
    assert min(confusable_hr) > 0.3 and np.median(confusable_hr) > 2.0
    # ... far less once 4x down-sampled, while other identities remain far apart
    assert np.median(ratios) < 0.6
    assert np.median(other_lr) > 4 * np.median(confusable_lr)


def test_synth_caviar_has_caviar4reids_shape(tmp_path: Path) -> None:
    """prepare_dataset's synth-caviar: 72 ids, 50 seen by both cameras and 22 by one, 10
    images per id and camera, crops 39-150 px high at a 150-px largest crop (CAVIAR4REID)."""
    from reidlab.config import DataConfig
    from reidlab.data.prepare import prepare_dataset

    cfg = DataConfig(dataset="synth-caviar", data_root=str(tmp_path), n_ids=16, images_per_id=4,
                     hr_height=150, hr_width=64)
    ds = prepare_dataset(cfg, progress=False, cache_dir=tmp_path / "cache")
    by_pid: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for r in ds.images:
        by_pid[r.pid][r.camid].append(r.height)
    assert len(by_pid) == 72
    assert sorted(len(cams) for cams in by_pid.values()).count(2) == 50
    assert all(len(h) == 10 for cams in by_pid.values() for h in cams.values())
    heights = [r.height for r in ds.images]
    assert 39 <= min(heights) <= 45 and 140 <= max(heights) <= 150
    near, far = sorted({r.camid for r in ds.images})
    assert np.median([r.height for r in ds.images if r.camid == far]) < \
        np.median([r.height for r in ds.images if r.camid == near]) / 1.5


def test_an_older_generator_version_is_regenerated_not_refused(tmp_path: Path) -> None:
    """A folder SynthPeople wrote with an older version (same parameters) is stale generated
    data: it is replaced, while a folder with other parameters is still refused."""
    kw = dict(variant="market", n_ids=4, images_per_id=3, n_cameras=2, hr_size=(16, 32), seed=0, progress=False)
    root = make_synth_dataset(tmp_path / "ds", **kw)
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    manifest["version"] = synth.GENERATOR_VERSION - 1
    (root / MANIFEST_NAME).write_text(json.dumps(manifest))
    (root / "stale.txt").write_text("old")
    make_synth_dataset(root, **kw)
    assert json.loads((root / MANIFEST_NAME).read_text())["version"] == synth.GENERATOR_VERSION
    assert not (root / "stale.txt").exists()
    with pytest.raises(SynthManifestMismatchError):
        make_synth_dataset(root, **{**kw, "seed": 1})
