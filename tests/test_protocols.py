"""Protocols (counts, cameras, seeding) and pseudo-resolution labels (RFD Sec. 3.5)."""
from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from reidlab.data.protocols import (
    build_protocol, caviar_protocol, lr_query_protocol, multi_res_gallery_protocol, relabel,
)
from reidlab.data.pseudo_labels import apply_bins, pseudo_resolution_labels
from reidlab.data.readers import load_dataset
from reidlab.data.records import FACTOR_TO_RES_CLASS, ProtocolSplit, ReidDataset


def ids(records) -> set[int]:
    return {r.pid for r in records}


# ------------------------------------------------------------------ pseudo-labels
@pytest.mark.parametrize("sizes, n_bins, strategy, labels, edges", [
    ([100, 200, 300, 400, 500], 2, "equal-width", [1, 1, 0, 0, 0], [100, 300, 500]),
    ([10, 20, 30, 40, 50], 4, "equal-width", [3, 2, 1, 0, 0], [10, 20, 30, 40, 50]),
    ([1, 2, 3, 4, 5, 6, 7, 8], 4, "equal-frequency", [3, 3, 2, 2, 1, 1, 0, 0],
     [1, 2.75, 4.5, 6.25, 8]),
    ([(10, 20), (20, 40), (40, 80)], 3, "equal-width", [2, 2, 0], [200, 1200, 2200, 3200]),
    ([1, 1, 1, 1, 100], 2, "equal-width", [1, 1, 1, 1, 0], [1, 50.5, 100]),
    ([7, 7, 7], 3, "equal-width", [0, 0, 0], [7, 7, 7, 7]),
])
def test_pseudo_labels_hand_computed(sizes, n_bins, strategy, labels, edges) -> None:
    got_labels, got_edges = pseudo_resolution_labels(sizes, n_bins, strategy)
    assert got_labels.tolist() == labels
    np.testing.assert_allclose(got_edges, edges)
    assert got_labels.dtype == np.int64


def test_equal_frequency_balances_skewed_sizes() -> None:
    sizes = np.r_[np.arange(100, 190), np.arange(1000, 10000, 900)]   # 90 small, 10 large
    width, _ = pseudo_resolution_labels(sizes, 4, "equal-width")
    freq, _ = pseudo_resolution_labels(sizes, 4, "equal-frequency")
    assert Counter(width.tolist())[3] == 92      # 90 small + 1000 and 1900 < 2350
    assert sorted(Counter(freq.tolist()).values()) == [25, 25, 25, 25]


def test_apply_bins_uses_training_edges() -> None:
    _, edges = pseudo_resolution_labels([100, 200, 300, 400, 500], 4)
    assert apply_bins([50, 100, 199, 200, 450, 10**6], edges).tolist() == [3, 3, 3, 2, 0, 0]
    assert apply_bins([(10, 10), (20, 25)], edges).tolist() == [3, 0]


@pytest.mark.parametrize("call, message", [
    (lambda: pseudo_resolution_labels([1, 2], 0), "n_bins must be a positive integer"),
    (lambda: pseudo_resolution_labels([1, 2], 2, "kmeans"), "equal-width, equal-frequency"),
    (lambda: pseudo_resolution_labels([], 2), "sizes is empty"),
    (lambda: pseudo_resolution_labels([4, -1], 2), "positive"),
    (lambda: pseudo_resolution_labels([[1, 2, 3]], 2), "shape"),
    (lambda: apply_bins([1], [3]), "at least 2"),
    (lambda: apply_bins([1], [3, 1]), "ascending"),
])
def test_pseudo_label_errors(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_relabel() -> None:
    assert relabel([5, 3, 5, 9]) == [1, 0, 1, 2]
    assert relabel([]) == []


# ------------------------------------------------------------------------- VIPeR
@pytest.fixture(scope="module")
def viper(shared_data: Path) -> ReidDataset:
    return load_dataset("viper", shared_data / "VIPeR")


@pytest.mark.shared_data
def test_viper_lr_query(viper: ReidDataset) -> None:
    split = lr_query_protocol(viper, trial=0, seed=0)
    assert (split.protocol, split.dataset, split.trial) == ("lr_query", "viper", 0)
    assert len(split.query) == len(split.gallery) == 316
    assert ids(split.query) == ids(split.gallery) and len(ids(split.query)) == 316
    assert {r.camid for r in split.query} == {0} and {r.camid for r in split.gallery} == {1}
    assert {r.factor for r in split.query} == {2, 3, 4}
    assert {(r.factor, r.res_label) for r in split.gallery} == {(1, 0)}
    assert all(r.res_label == FACTOR_TO_RES_CLASS[r.factor] for r in split.query)
    assert len(ids(split.train)) == 316 and not ids(split.train) & ids(split.query)
    assert len(split.train) == 316 * 2 * 2 and split.n_res_classes == 4
    counts = Counter((r.factor, r.res_label) for r in split.train)
    assert counts[(1, 0)] == 632 and sum(counts.values()) == 2 * 632      # HR:LR = 1:1 (RFD Sec. 3.1)
    assert set(counts) == {(1, 0), (2, 1), (3, 2), (4, 3)} and all(150 < counts[k] < 270 for k in counts if k[0] > 1)


@pytest.mark.shared_data
def test_viper_seeding(viper: ReidDataset) -> None:
    a = lr_query_protocol(viper, trial=0, seed=0)
    assert lr_query_protocol(viper, trial=0, seed=0) == a
    b = lr_query_protocol(viper, trial=1, seed=0)
    c = lr_query_protocol(viper, trial=0, seed=1)
    assert ids(b.query) != ids(a.query) and ids(c.query) != ids(a.query)
    assert build_protocol("lr_query", viper, 0, 0) == a
    # partition_trial: the identity split of trial 0, the factor draws of trial 1
    d = lr_query_protocol(viper, trial=1, seed=0, partition_trial=0)
    assert d.trial == 1 and d.train == a.train
    assert [r.path for r in d.query] == [r.path for r in a.query]
    assert [r.factor for r in d.query] != [r.factor for r in a.query]


@pytest.mark.shared_data
def test_viper_multi_res_gallery_shares_the_split(viper: ReidDataset) -> None:
    lr = lr_query_protocol(viper, trial=3, seed=0)
    mr = multi_res_gallery_protocol(viper, trial=3, seed=0)
    assert mr.protocol == "multi_res_gallery"
    assert mr.query == lr.query and mr.train == lr.train
    assert [r.path for r in mr.gallery] == [r.path for r in lr.gallery]
    assert {r.factor for r in mr.gallery} == {1, 2, 3, 4}
    assert all(r.res_label == FACTOR_TO_RES_CLASS[r.factor] for r in mr.gallery)


# -------------------------------------------------------------------- PRID, GRID
@pytest.mark.shared_data
def test_prid_lr_query(shared_data: Path) -> None:
    prid = load_dataset("prid", shared_data / "PRID")
    split = lr_query_protocol(prid, trial=2, seed=0)
    assert len(split.query) == 100 and {r.camid for r in split.query} == {0}
    assert len(split.gallery) == 100 + 549 and {r.camid for r in split.gallery} == {1}
    assert ids(split.query) <= ids(split.gallery)
    assert len(ids(split.train)) == 100 and len(split.train) == 100 * 2 * 2
    assert not ids(split.train) & ids(split.gallery)
    assert max(ids(split.train) | ids(split.query)) <= 200


@pytest.mark.shared_data
def test_grid_native_resolution(shared_data: Path) -> None:
    grid = load_dataset("grid", shared_data / "GRID")
    split = lr_query_protocol(grid, trial=0, seed=0, pseudo_bins=5)
    assert len(split.query) == 125 and len(split.gallery) == 125 + 775
    assert len(ids(split.train)) == 125 and len(split.train) == 250
    assert not ids(split.train) & ids(split.query)
    assert all(r.factor == 1 for r in split.train + split.query + split.gallery)
    assert split.n_res_classes == 5 and len(split.res_bin_edges) == 6
    assert {r.res_label for r in split.train} <= set(range(5))
    # the query view is the lower-resolution one
    q = np.median([r.pixel_count for r in split.query])
    g = np.median([r.pixel_count for r in split.gallery if r.pid in ids(split.query)])
    assert q < g
    for r in split.query:       # pairs: query and gallery image of an id from different cameras
        (match,) = [g for g in split.gallery if g.pid == r.pid]
        assert match.camid != r.camid
    mr = multi_res_gallery_protocol(grid, trial=0, seed=0)
    assert len(mr.gallery) == 900 and mr.query == split.query


# -------------------------------------------------------------------- fixed split
@pytest.mark.shared_data
def test_mini_market_fixed_split(shared_data: Path) -> None:
    market = load_dataset("market1501", shared_data / "mini_market1501")
    a = lr_query_protocol(market, trial=0, seed=0)
    b = lr_query_protocol(market, trial=1, seed=0)
    assert [r.path for r in a.query] == [r.path for r in market.query]
    assert [r.path for r in a.gallery] == [r.path for r in market.gallery]
    assert [r.factor for r in a.query] != [r.factor for r in b.query]
    assert [r.path for r in a.query] == [r.path for r in b.query]
    assert {r.factor for r in a.gallery} == {1} and len(a.train) == 32 * 2
    mr = multi_res_gallery_protocol(market, trial=0, seed=0)
    assert len(mr.gallery) == 32 and {r.factor for r in mr.gallery} <= {1, 2, 3, 4}
    assert len({r.factor for r in mr.gallery}) > 1


# ------------------------------------------------------------------------ CAVIAR
@pytest.fixture(scope="module")
def caviar(fake_caviar_root: Path) -> ReidDataset:
    return load_dataset("caviar", fake_caviar_root)


def test_caviar_lr_query(caviar: ReidDataset) -> None:
    split = caviar_protocol(caviar, trial=0, seed=0, multi_res=False)
    assert split.protocol == "lr_query" and split.n_res_classes == 5
    assert len(ids(split.query)) == 25 and len(ids(split.train)) == 25
    assert not ids(split.query) & ids(split.train)
    assert len(split.query) == 25 * 10 and len(split.train) == 25 * 20
    # the fixture's first camera (images 1-10) is the low-resolution one
    assert {r.camid for r in split.query} == {0} and {r.camid for r in split.gallery} == {1}
    assert len(split.gallery) == 25 and ids(split.gallery) == ids(split.query)
    # single-shot: one image of camera b per identity, drawn at random per trial (RFD: not the best one)
    picks = {t: [r.path for r in caviar_protocol(caviar, trial=t, seed=0, partition_trial=0).gallery] for t in (0, 1)}
    assert picks[0] != picks[1]
    assert split.cross_camera
    # identities seen by one camera are dropped
    single = {pid for pid in ids(caviar.images)
              if {r.camid for r in caviar.images if r.pid == pid} == {0}}
    assert len(single) == 22
    assert not single & (ids(split.train) | ids(split.query) | ids(split.gallery))
    # pseudo-labels from training pixel counts
    edges = np.asarray(split.res_bin_edges)
    assert len(edges) == 6 and np.all(np.diff(edges) >= 0)
    assert edges[0] == min(r.pixel_count for r in split.train)
    assert edges[-1] == max(r.pixel_count for r in split.train)
    assert {r.res_label for r in split.train} == set(range(5))
    assert all(r.factor == 1 for r in split.train + split.query + split.gallery)


def test_caviar_splits_and_seeding(caviar: ReidDataset) -> None:
    splits = [caviar_protocol(caviar, trial=t, seed=0) for t in range(10)]
    assert len({frozenset(ids(s.query)) for s in splits}) == 10
    assert caviar_protocol(caviar, trial=4, seed=0) == splits[4]
    assert lr_query_protocol(caviar, trial=4) == splits[4]          # dispatch
    assert build_protocol("lr_query", caviar, trial=4) == splits[4]
    fixed = build_protocol("lr_query", caviar, trial=4, partition_trial=0)
    assert fixed.train == splits[0].train and fixed.query == splits[0].query


def test_caviar_multi_res_gallery(caviar: ReidDataset) -> None:
    """RFD Sec. 4.4: one gallery image per identity drawn from all its images; every other image
    of the test identities is a query (HR, near-camera ones too); no same-camera exclusion."""
    lr = caviar_protocol(caviar, trial=0, seed=0, multi_res=False)
    mr = caviar_protocol(caviar, trial=0, seed=0, multi_res=True)
    assert mr == multi_res_gallery_protocol(caviar, trial=0, seed=0)
    assert mr.protocol == "multi_res_gallery" and mr.train == lr.train
    assert len(mr.gallery) == 25 and ids(mr.gallery) == ids(lr.gallery) == ids(mr.query)
    test_images = {r.path for r in caviar.images if r.pid in ids(lr.query)}
    assert {r.path for r in mr.query} | {r.path for r in mr.gallery} == test_images
    assert not {r.path for r in mr.query} & {r.path for r in mr.gallery}
    assert {r.camid for r in mr.query} == {0, 1}                    # near-camera (HR) queries too
    assert not mr.cross_camera and lr.cross_camera
    assert len({r.pixel_count for r in mr.gallery}) > 1
    # both settings record the far camera the single-resolution queries come from
    assert lr.query_view == mr.query_view == 0 and all(lr.in_query_view(r) for r in lr.query)
    far = {r.path for r in mr.query if mr.in_query_view(r)}
    assert far == {r.path for r in mr.query if r.camid == 0} and 0 < len(far) < len(mr.query)
    with pytest.raises(ValueError, match="no query view"):
        dataclasses.replace(mr, query_view=None).in_query_view(mr.query[0])


def test_caviar_pseudo_strategy(caviar: ReidDataset) -> None:
    split = caviar_protocol(caviar, pseudo_bins=4, pseudo_strategy="equal-frequency")
    counts = Counter(r.res_label for r in split.train)
    assert split.n_res_classes == 4 and len(split.res_bin_edges) == 5
    assert max(counts.values()) < 2.5 * min(counts.values())


def test_caviar_protocol_rejects_other_layouts(tmp_path: Path, write_image) -> None:
    for pid in range(4):
        write_image(tmp_path / f"{pid:03d}_0_1.bmp")
        write_image(tmp_path / f"{pid:03d}_90_2.bmp")
    viper = load_dataset("viper", tmp_path)
    with pytest.raises(ValueError, match="CAVIAR4REID-layout"):
        caviar_protocol(viper)


# ------------------------------------------------------------------- CUHK03 flat
@pytest.fixture(scope="module")
def cuhk03_flat(tmp_path_factory: pytest.TempPathFactory, write_image) -> ReidDataset:
    root = tmp_path_factory.mktemp("cuhk03")
    for pid in range(1, 13):
        for n in (0, 1, 2, 5, 6, 7, 8):
            write_image(root / f"{pid:04d}_{n:02d}.jpg", size=(4, 8))
    return load_dataset("cuhk03", root)


def test_cuhk03_flat_single_shot(cuhk03_flat: ReidDataset) -> None:
    split = lr_query_protocol(cuhk03_flat, trial=0, seed=0, n_test=4)
    assert len(split.query) == 4 * 3 and {r.camid for r in split.query} == {0}
    assert len(split.gallery) == 4 and {r.camid for r in split.gallery} == {1}
    assert ids(split.gallery) == ids(split.query)
    assert len(split.train) == 8 * 7 * 2
    picks = {tuple(r.path for r in lr_query_protocol(cuhk03_flat, trial=t, n_test=4).gallery)
             for t in range(6)}
    assert len(picks) > 1
    with pytest.raises(ValueError, match=r"cuhk03: 100 test identities .* found 12; pass n_test="):
        lr_query_protocol(cuhk03_flat)


def test_mlr_training_set_hr_lr_ratio(cuhk03_flat: ReidDataset) -> None:
    """RFD Sec. 3.1: one LR copy per HR training image (HR:LR = 1:1) at a drawn factor; more
    copies take other factors; as many as factors: each factor once."""
    one = lr_query_protocol(cuhk03_flat, trial=0, n_test=4)
    hr = [r for r in one.train if r.factor == 1]
    lr = [r for r in one.train if r.factor > 1]
    assert len(hr) == len(lr) == 8 * 7
    assert Counter(r.path for r in lr) == Counter(r.path for r in hr)   # one copy of each image
    assert {r.factor for r in lr} == {2, 3, 4}                          # drawn, not constant
    assert {r.res_label for r in lr} == {FACTOR_TO_RES_CLASS[f] for f in (2, 3, 4)}
    again = lr_query_protocol(cuhk03_flat, trial=0, n_test=4)
    assert [(r.path, r.factor) for r in again.train] == [(r.path, r.factor) for r in one.train]
    two = lr_query_protocol(cuhk03_flat, trial=0, n_test=4, lr_copies=2)
    per_image = Counter(r.path for r in two.train if r.factor > 1)
    assert set(per_image.values()) == {2}
    assert all(len({r.factor for r in two.train if r.path == p and r.factor > 1}) == 2 for p in per_image)
    every = lr_query_protocol(cuhk03_flat, trial=0, n_test=4, lr_copies=3)
    assert len(every.train) == 8 * 7 * 4
    with pytest.raises(ValueError, match="lr_copies"):
        lr_query_protocol(cuhk03_flat, trial=0, n_test=4, lr_copies=0)


# ------------------------------------------------------------------------ errors
def test_build_protocol_errors(cuhk03_flat: ReidDataset) -> None:
    with pytest.raises(ValueError, match=r"unknown protocol 'lr'.*lr_query, multi_res_gallery"):
        build_protocol("lr", cuhk03_flat)
    with pytest.raises(ValueError, match=r"factors must be distinct values among \[2, 3, 4\]"):
        build_protocol("lr_query", cuhk03_flat, factors=(2, 8), n_test=4)
    with pytest.raises(ValueError, match="trial must be an integer >= 0"):
        build_protocol("lr_query", cuhk03_flat, trial=-1, n_test=4)
    with pytest.raises(ValueError, match="pseudo_strategy"):
        build_protocol("lr_query", cuhk03_flat, pseudo_strategy="kmeans", n_test=4)
    split = build_protocol("multi_res_gallery", cuhk03_flat, factors=(4,), n_test=4)
    assert isinstance(split, ProtocolSplit)
    assert {r.factor for r in split.query} == {4}
    assert {r.factor for r in split.train} == {1, 4}


def test_multi_resolution_validation_gallery(cuhk03_flat: ReidDataset) -> None:
    from reidlab.data.protocols import carve_validation, multi_resolution_validation

    split = lr_query_protocol(cuhk03_flat, trial=0, n_test=4)
    _, validation = carve_validation(split, 2, seed=0)
    multi = multi_resolution_validation(validation, (2, 3, 4), seed=0)
    assert [r.path for r in multi.gallery] == [r.path for r in validation.gallery]
    assert multi.query == validation.query
    assert {r.factor for r in multi.gallery} <= {1, 2, 3, 4} and len({r.factor for r in multi.gallery}) > 1
    assert all(r.res_label == FACTOR_TO_RES_CLASS[r.factor] for r in multi.gallery)
    assert multi_resolution_validation(validation, (2, 3, 4), seed=0) == multi


def test_units_spread_trials_over_retrained_identity_splits(caviar: ReidDataset) -> None:
    """Trial t evaluates the identity split of unit t % splits, with its own gallery draw."""
    from reidlab.config import get_profile, override
    from reidlab.study.compute import rfd_trials

    prof = override(get_profile("smoke"), data={"dataset": "caviar"}, eval={"splits": 3, "trials": 7})
    assert rfd_trials.replication_units(prof, caviar) == 3 and rfd_trials.unit_kind(caviar) == "retrained identity split"
    splits = [rfd_trials.make_split(prof, caviar, "lr_query", t) for t in range(7)]
    for t, split in enumerate(splits):
        assert split.train == splits[t % 3].train and split.query == splits[t % 3].query
    assert len({frozenset(ids(s.query)) for s in splits}) == 3
    assert [r.path for r in splits[0].gallery] != [r.path for r in splits[3].gallery]   # another draw, same split


# ------------------------------------------------- the camera construction (SING's MLR benchmarks)
@pytest.fixture(scope="module")
def fake_market(tmp_path_factory: pytest.TempPathFactory, write_image, market_name) -> ReidDataset:
    """A Market-1501 layout: 12 training and 12 test identities over 3 cameras, 2 images per
    camera; distractors (0000) and junk (-1) in the gallery."""
    root = tmp_path_factory.mktemp("market")
    for pid in range(1, 25):
        folder = "bounding_box_train" if pid <= 12 else "bounding_box_test"
        for cam in (1, 2, 3):
            for frame in (1, 2):
                if pid > 12 and cam == 1 and frame == 1:
                    folder_ = "query"
                else:
                    folder_ = folder
                write_image(root / folder_ / market_name(pid, cam, frame), size=(8, 16))
    write_image(root / "bounding_box_test" / market_name(0, 2, 9), size=(8, 16))
    write_image(root / "bounding_box_test" / market_name(-1, 3, 9), size=(8, 16))
    return load_dataset("market1501", root)


def _camera_checks(split: ProtocolSplit, test_records, factors=(2, 3, 4)) -> None:
    """Per query identity exactly one camera view is LR (all its query images, none of its
    gallery images), the gallery is HR, and the query and gallery re-divide the test images."""
    assert {r.path for r in (*split.query, *split.gallery)} == {r.path for r in test_records}
    assert {r.factor for r in split.query} <= set(factors) and {r.factor for r in split.gallery} == {1}
    for pid in ids(split.query):
        q_cams = {r.camid for r in split.query if r.pid == pid}
        g_cams = {r.camid for r in split.gallery if r.pid == pid}
        assert len(q_cams) == 1 and g_cams and not q_cams & g_cams, pid


def test_camera_construction_on_a_fixed_split(fake_market: ReidDataset) -> None:
    split = lr_query_protocol(fake_market, trial=0, seed=0, mlr="camera")
    _camera_checks(split, (*fake_market.query, *fake_market.gallery))
    assert len(ids(split.query)) == 12 and 0 not in ids(split.query) and -1 not in ids(split.query)
    assert {r.factor for r in split.query} == {2, 3, 4}
    # deterministic per seed and trial; other trials draw other views and factors
    assert lr_query_protocol(fake_market, trial=0, seed=0, mlr="camera") == split
    other = {tuple((r.path, r.factor) for r in lr_query_protocol(fake_market, trial=t, mlr="camera").query)
             for t in range(4)}
    assert len(other) == 4
    # training: per identity one view LR only (each image once), the other views at x1 plus one LR copy
    for pid in ids(split.train):
        lr_only = {r.camid for r in split.train if r.pid == pid} - {r.camid for r in split.train
                                                                    if r.pid == pid and r.factor == 1}
        assert len(lr_only) == 1, pid
        for r in (r for r in split.train if r.pid == pid and r.camid in lr_only):
            assert r.factor in (2, 3, 4) and Counter(x.path for x in split.train)[r.path] == 1
        hr = [r for r in split.train if r.pid == pid and r.camid not in lr_only]
        assert Counter(r.factor == 1 for r in hr) == {True: 4, False: 4}
    assert lr_query_protocol(fake_market, trial=3, seed=0, mlr="camera").train == split.train
    assert lr_query_protocol(fake_market, trial=0, seed=1, mlr="camera").train != split.train
    # the multi-resolution gallery draws the same views' gallery at {1} + factors
    mr = multi_res_gallery_protocol(fake_market, trial=0, seed=0, mlr="camera")
    assert mr.query == split.query and [r.path for r in mr.gallery] == [r.path for r in split.gallery]
    assert {r.factor for r in mr.gallery} > {1}
    # today's construction is untouched and stays the default
    assert build_protocol("lr_query", fake_market) == lr_query_protocol(fake_market, mlr="per-image")
    assert [r.path for r in lr_query_protocol(fake_market).query] == [r.path for r in fake_market.query]


def test_camera_construction_on_identity_splits(cuhk03_flat: ReidDataset) -> None:
    """Two-camera single-shot sets: the test identities' query camera is their LR view (as per-image),
    and each training identity's query-camera images are LR only."""
    per_image = lr_query_protocol(cuhk03_flat, trial=0, n_test=4)
    camera = lr_query_protocol(cuhk03_flat, trial=0, n_test=4, mlr="camera")
    assert camera.query == per_image.query and camera.gallery == per_image.gallery
    lr_only = [r for r in camera.train if r.camid == 0]
    assert lr_only and all(r.factor in (2, 3, 4) for r in lr_only)
    assert Counter(r.factor == 1 for r in camera.train if r.camid == 1) == {True: 8 * 4, False: 8 * 4}


def test_camera_construction_is_refused_by_name(cuhk03_flat: ReidDataset) -> None:
    with pytest.raises(ValueError, match="mlr='sing' is not valid; choose one of: per-image, camera"):
        lr_query_protocol(cuhk03_flat, n_test=4, mlr="sing")


@pytest.mark.shared_data
def test_viper_camera_construction(viper: ReidDataset) -> None:
    """MLR-VIPeR (SING): 316/316 identities, camera a down-sampled (queries), camera b HR (gallery)."""
    split = lr_query_protocol(viper, trial=0, seed=0, mlr="camera")
    assert len(ids(split.query)) == len(ids(split.gallery)) == 316 and len(ids(split.train)) == 316
    assert {r.camid for r in split.query} == {0} and {r.factor for r in split.query} == {2, 3, 4}
    assert {r.camid for r in split.gallery} == {1} and {r.factor for r in split.gallery} == {1}
    assert len(split.train) == 316 * 3
    assert all(r.factor > 1 for r in split.train if r.camid == 0)


def test_paper_profile_uses_the_camera_construction() -> None:
    from reidlab.config import get_profile, protocol_kwargs

    assert protocol_kwargs(get_profile("paper"))["mlr"] == "camera"
    assert protocol_kwargs(get_profile("quick"))["mlr"] == "per-image"


def test_camera_construction_validation_queries_the_lr_view(cuhk03_flat: ReidDataset) -> None:
    """Validation identities carved from a camera-construction training set (one view LR only, as on
    VIPeR): their LR view queries their HR view, as on the test identities; per-image is unchanged."""
    from reidlab.data.protocols import carve_validation

    camera = lr_query_protocol(cuhk03_flat, trial=0, n_test=4, mlr="camera")
    train, validation = carve_validation(camera, 2, seed=0)
    held = {r.pid for r in validation.gallery}
    assert len(held) == 2 and not held & {r.pid for r in train.train}
    assert {r.camid for r in validation.query} == {0} and all(r.factor in (2, 3, 4) for r in validation.query)
    assert {r.camid for r in validation.gallery} == {1} and all(r.factor == 1 for r in validation.gallery)
    assert {r.pid for r in validation.query} == held
    per_image = lr_query_protocol(cuhk03_flat, trial=0, n_test=4)
    _, plain = carve_validation(per_image, 2, seed=0)
    assert [r.path for r in plain.query] == [r.path for r in plain.gallery]   # the same images, down-sampled
