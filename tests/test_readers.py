"""Readers: every layout on real images (../shared/data) and on small generated folders."""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from reidlab.config import DATASETS, DataConfig
from reidlab.data.prepare import prepare_dataset, synth_root
from reidlab.data.images import ImageReadError
from reidlab.data.readers import (
    DATASET_NAMES, PRID_CAM_B_ONLY_OFFSET, SkippedImagesWarning, load_dataset,
)
from reidlab.data.records import ReidDataset


def cameras_per_id(ds: ReidDataset) -> dict[int, set[int]]:
    cams: dict[int, set[int]] = defaultdict(set)
    for r in ds.images:
        cams[r.pid].add(r.camid)
    return cams


def test_dataset_names_match_config() -> None:
    assert set(DATASET_NAMES) == set(DATASETS)


# ------------------------------------------------------------------ real images
@pytest.mark.shared_data
def test_viper_flat(shared_data: Path) -> None:
    ds = load_dataset("viper", shared_data / "VIPeR")
    assert (len(ds.images), ds.num_ids) == (1264, 632)
    assert Counter(r.camid for r in ds.images) == {0: 632, 1: 632}
    assert all(cams == {0, 1} for cams in cameras_per_id(ds).values())
    assert {r.size for r in ds.images} == {(48, 128)}
    assert not ds.fixed_split and not ds.multi_resolution and ds.train == ()
    assert all(r.factor == 1 and r.res_label == -1 for r in ds.images)
    assert all(Path(r.path).is_absolute() and Path(r.path).is_file() for r in ds.images[:5])


@pytest.mark.shared_data
def test_prid_flat(shared_data: Path) -> None:
    ds = load_dataset("prid", shared_data / "PRID")
    assert (len(ds.images), ds.num_ids) == (1134, 934)
    cams = cameras_per_id(ds)
    two = sorted(pid for pid, c in cams.items() if c == {0, 1})
    assert two == list(range(1, 201))
    assert Counter(r.camid for r in ds.images) == {0: 385, 1: 749}
    b_only = [pid for pid, c in cams.items() if c == {1}]
    assert len(b_only) == 549
    # the shared copy already numbers the camera-b-only people 386-749 and 1201-1385
    assert min(b_only) == 386 and max(b_only) == 200 + PRID_CAM_B_ONLY_OFFSET + 185
    assert {r.size for r in ds.images} == {(64, 128)}


@pytest.mark.shared_data
def test_grid_flat(shared_data: Path) -> None:
    ds = load_dataset("grid", shared_data / "GRID")
    assert len(ds.images) == 1275 and ds.num_ids == 1025
    per_id = Counter(r.pid for r in ds.images)
    assert sum(n == 2 for n in per_id.values()) == 250
    assert sum(n == 1 for n in per_id.values()) == 775
    assert all(len(c) == 2 for pid, c in cameras_per_id(ds).items() if per_id[pid] == 2)
    assert ds.multi_resolution and not ds.fixed_split
    widths = {r.width for r in ds.images}
    heights = {r.height for r in ds.images}
    assert min(widths) >= 29 and max(widths) <= 181 and len(widths) > 50
    assert min(heights) >= 67 and max(heights) <= 384


@pytest.mark.shared_data
def test_mini_market(shared_data: Path) -> None:
    ds = load_dataset("market1501", shared_data / "mini_market1501")
    assert (len(ds.train), len(ds.query), len(ds.gallery)) == (32, 32, 32)
    assert len({r.pid for r in ds.train}) == 16
    assert len({r.pid for r in ds.query}) == 16
    assert ds.fixed_split and len(ds.images) == 96
    assert not {r.pid for r in ds.train} & {r.pid for r in ds.query}
    assert all(0 <= r.camid <= 5 for r in ds.images)
    assert {r.size for r in ds.images} == {(64, 128)}


# ------------------------------------------------------------ generated layouts
def test_market_junk_and_distractors(tmp_path: Path, write_image, market_name) -> None:
    for split, entries in {
        "bounding_box_train": [(1, 1), (1, 2), (3, 4)],
        "query": [(2, 1), (5, 3)],
        "bounding_box_test": [(2, 2), (5, 6), (0, 1), (0, 2), (-1, 3)],
    }.items():
        for i, (pid, cam) in enumerate(entries):
            write_image(tmp_path / split / market_name(pid, cam, 100 + i))
    (tmp_path / "bounding_box_test" / "Thumbs.db").write_bytes(b"x")
    ds = load_dataset("market1501", tmp_path)
    assert [r.pid for r in ds.train] == [1, 1, 3]
    assert [r.camid for r in ds.train] == [0, 1, 3]
    assert sorted(r.pid for r in ds.gallery) == [0, 0, 2, 5]     # junk dropped
    assert [r.pid for r in ds.query] == [2, 5]
    assert len(ds.images) == 9 and ds.fixed_split


def test_dukemtmc(tmp_path: Path, write_image) -> None:
    for split, names in {"bounding_box_train": ["0001_c1_f0000001.jpg", "0001_c8_f0000002.jpg"],
                         "query": ["0005_c2_f0000010.jpg"],
                         "bounding_box_test": ["0005_c3_f0000011.jpg", "0007_c3_f0000012.jpg"]}.items():
        for name in names:
            write_image(tmp_path / split / name)
    ds = load_dataset("dukemtmc", tmp_path)
    assert [(r.pid, r.camid) for r in ds.train] == [(1, 0), (1, 7)]
    assert [(r.pid, r.camid) for r in ds.gallery] == [(5, 2), (7, 2)]


@pytest.mark.parametrize("folders", [("train", "test"), ("mask_train_v2", "mask_test_v2")])
def test_msmt17(tmp_path: Path, write_image, folders: tuple[str, str]) -> None:
    train_dir, test_dir = folders
    lists = {
        "list_train.txt": (train_dir, [("0000/0000_000_01_0303morning_0015_0.jpg", 0),
                                       ("0001/0001_004_14_0303noon_0100_1.jpg", 1)]),
        "list_val.txt": (train_dir, [("0001/0001_005_02_0303noon_0101_0.jpg", 1)]),
        "list_query.txt": (test_dir, [("0000/0000_001_03_0113morning_0001_0.jpg", 0)]),
        "list_gallery.txt": (test_dir, [("0000/0000_002_15_0113noon_0005_0.jpg", 0),
                                        ("0002/0002_000_07_0113noon_0009_0.jpg", 2)]),
    }
    for list_name, (folder, entries) in lists.items():
        lines = []
        for rel, pid in entries:
            write_image(tmp_path / folder / rel)
            lines.append(f"{rel} {pid}")
        (tmp_path / list_name).write_text("\n".join(lines) + "\n")
    ds = load_dataset("msmt17", tmp_path)
    assert [(r.pid, r.camid) for r in ds.train] == [(0, 0), (1, 13)]     # val not trained on
    # test identities restart at 0 in MSMT17; shifted past the training ids
    assert [(r.pid, r.camid) for r in ds.query] == [(2, 2)]
    assert [(r.pid, r.camid) for r in ds.gallery] == [(2, 14), (4, 6)]
    assert ds.fixed_split and len(ds.images) == 5


def test_msmt17_bad_list_line(tmp_path: Path) -> None:
    for d in ("train", "test"):
        (tmp_path / d).mkdir()
    for name in ("list_train.txt", "list_query.txt", "list_gallery.txt"):
        (tmp_path / name).write_text("not-a-valid-line\n")
    with pytest.raises(ValueError, match=r"list_train.txt line 1"):
        load_dataset("msmt17", tmp_path)


def test_cuhk03_new_protocol(tmp_path: Path, write_image) -> None:
    for split, names in {"bounding_box_train": ["0001_c1_1.png", "0001_c2_6.png"],
                         "query": ["0010_c1_2.png"],
                         "bounding_box_test": ["0010_c2_7.png"]}.items():
        for name in names:
            write_image(tmp_path / split / name)
    ds = load_dataset("cuhk03", tmp_path)
    assert ds.fixed_split
    assert [(r.pid, r.camid) for r in ds.train] == [(1, 0), (1, 1)]


def test_cuhk03_flat(tmp_path: Path, write_image) -> None:
    for pid in (1, 2, 3):
        for n in (0, 4, 5, 9):
            write_image(tmp_path / f"{pid:04d}_{n:02d}.jpg")
    ds = load_dataset("cuhk03", tmp_path)
    assert not ds.fixed_split and ds.num_ids == 3 and len(ds.images) == 12
    assert [r.camid for r in ds.images if r.pid == 1] == [0, 0, 1, 1]


def test_viper_official_folders(tmp_path: Path, write_image) -> None:
    for pid in range(4):
        write_image(tmp_path / "cam_a" / f"{pid:03d}_45.bmp")
        write_image(tmp_path / "cam_b" / f"{pid:03d}_90.bmp")
    ds = load_dataset("viper", tmp_path)
    assert ds.num_ids == 4 and Counter(r.camid for r in ds.images) == {0: 4, 1: 4}


def test_prid_official_single_shot(tmp_path: Path, write_image) -> None:
    for n in (1, 2, 201):
        write_image(tmp_path / "single_shot" / "cam_a" / f"person_{n:04d}.png")
    for n in (1, 2, 201, 202):
        write_image(tmp_path / "single_shot" / "cam_b" / f"person_{n:04d}.png")
    ds = load_dataset("prid", tmp_path)
    cams = cameras_per_id(ds)
    assert cams[1] == cams[2] == {0, 1} and cams[202] == {1}
    assert cams[201] == {0}                                  # different people:
    assert cams[201 + PRID_CAM_B_ONLY_OFFSET] == {1}         # 201 in a, 201 in b
    assert ds.num_ids == 5


def test_grid_official_folders(tmp_path: Path, write_image) -> None:
    write_image(tmp_path / "probe" / "0001_1_25004_107_32_106_221.jpeg", size=(10, 20))
    write_image(tmp_path / "gallery" / "0001_2_25023_116_134_128_330.jpeg", size=(12, 30))
    write_image(tmp_path / "gallery" / "0000_5_30001_1_2_3_4.jpeg", size=(7, 14))
    write_image(tmp_path / "gallery" / "0000_3_30002_1_2_3_4.jpeg", size=(9, 19))
    ds = load_dataset("grid", tmp_path)
    assert ds.multi_resolution
    assert sorted((r.pid, r.camid) for r in ds.images) == [(0, 2), (0, 4), (1, 0), (1, 1)]
    assert {r.size for r in ds.images} == {(10, 20), (12, 30), (7, 14), (9, 19)}


def test_fake_caviar(fake_caviar_root: Path) -> None:
    ds = load_dataset("caviar", fake_caviar_root)
    assert len(ds.images) == 1220 and ds.num_ids == 72
    cams = cameras_per_id(ds)
    assert sum(c == {0, 1} for c in cams.values()) == 50
    assert sum(c == {0} for c in cams.values()) == 22
    assert ds.multi_resolution and not ds.fixed_split
    per_id_cam = Counter((r.pid, r.camid) for r in ds.images)
    assert set(per_id_cam.values()) == {10}


def test_caviar_underscore_names(tmp_path: Path, write_image) -> None:
    for index in (1, 10, 11, 20):
        write_image(tmp_path / f"0007_{index:03d}.jpg")
    ds = load_dataset("caviar", tmp_path)
    assert [r.camid for r in ds.images] == [0, 0, 1, 1]


# ------------------------------------------------------------------- bad input
def test_unknown_dataset_lists_valid_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'market'.*market1501.*viper"):
        load_dataset("market", tmp_path)


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"viper: dataset folder .*nowhere does not exist"):
        load_dataset("viper", tmp_path / "nowhere")


def test_missing_market_folder_names_layout(tmp_path: Path) -> None:
    (tmp_path / "bounding_box_train").mkdir()
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("market1501", tmp_path)
    message = str(info.value)
    assert "market1501: expected" in message and "Market-1501 layout" in message
    assert "bounding_box_test" in message and "query" in message


def test_msmt17_missing_lists(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    with pytest.raises(FileNotFoundError, match=r"msmt17: expected.*missing.*test.*list_train"):
        load_dataset("msmt17", tmp_path)


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"prid: .* holds no images"):
        load_dataset("prid", tmp_path)


def test_names_matching_no_layout(tmp_path: Path, write_image) -> None:
    write_image(tmp_path / "holiday_photo.jpg")
    write_image(tmp_path / "0001_a.png")
    with pytest.raises(ValueError, match=r"1 image name\(s\) .* match no known layout.*holiday_photo"):
        load_dataset("prid", tmp_path)


def test_market_names_matching_no_layout(tmp_path: Path, write_image) -> None:
    for split in ("bounding_box_train", "bounding_box_test", "query"):
        write_image(tmp_path / split / "0001_c1_f0000001.jpg")      # Duke name
    with pytest.raises(ValueError, match=r"PPPP_cCsS_FFFFFF_BB"):
        load_dataset("market1501", tmp_path)


def test_empty_and_header_truncated_images(tmp_path: Path, write_image) -> None:
    # strict=True refuses the dataset; the default leaves the file out and counts it
    # (tests/test_refusals_data.py)
    write_image(tmp_path / "0001_a.png")
    (tmp_path / "0001_b.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"0001_b.png: the file is empty"):
        load_dataset("prid", tmp_path, strict=True)
    with pytest.warns(SkippedImagesWarning, match=r"1 unreadable .*0001_b.png"):
        assert dict(load_dataset("prid", tmp_path).skipped) == {"unreadable": 1}
    data = write_image(tmp_path / "x" / "0001_b.png", size=(32, 64)).read_bytes()
    (tmp_path / "0001_b.png").write_bytes(data[:10])
    with pytest.raises(ImageReadError, match=r"0001_b.png"):
        load_dataset("prid", tmp_path, strict=True)


def test_verify_catches_data_truncation(tmp_path: Path, write_image) -> None:
    write_image(tmp_path / "0001_a.png", size=(32, 64))
    path = write_image(tmp_path / "0001_b.png", size=(32, 64))
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    assert len(load_dataset("prid", tmp_path).images) == 2         # header still readable
    with pytest.raises(ImageReadError, match=r"0001_b.png"):
        load_dataset("prid", tmp_path, verify=True, strict=True)
    with pytest.warns(SkippedImagesWarning, match=r"1 undecodable .*0001_b.png"):
        ds = load_dataset("prid", tmp_path, verify=True)
    assert [Path(r.path).name for r in ds.images] == ["0001_a.png"]


# --------------------------------------------------------------------- prepare
def test_prepare_real_dataset_missing(tmp_path: Path) -> None:
    cfg = DataConfig(dataset="dukemtmc", data_root=str(tmp_path / "DukeMTMC-reID"))
    with pytest.raises(FileNotFoundError) as info:
        prepare_dataset(cfg, progress=False)
    message = str(info.value)
    assert "DukeMTMC-reID" in message and "bounding_box_train" in message
    assert "offline" in message and "cannot download" in message


@pytest.mark.shared_data
def test_prepare_real_dataset(shared_data: Path, tmp_path: Path) -> None:
    cfg = DataConfig(dataset="viper", data_root=str(shared_data / "VIPeR"))
    ds = prepare_dataset(cfg, progress=False, cache_dir=tmp_path / "cache")
    assert len(ds.images) == 1264 and ds.skipped == ()


@pytest.mark.parametrize("dataset", ["synth-market", "synth-caviar"])
def test_prepare_synth(tmp_path: Path, dataset: str) -> None:
    cfg = DataConfig(dataset=dataset, data_root=str(tmp_path), n_ids=6, images_per_id=3,
                     n_cameras=3, hr_height=32, hr_width=16)
    ds = prepare_dataset(cfg, progress=False, cache_dir=tmp_path / "cache")
    assert Path(ds.root) == synth_root(cfg).resolve() and Path(ds.root).parent == tmp_path
    assert ds.skipped_problems == {}           # junk is counted; the manifest is expected
    assert set(dict(ds.skipped)) <= {"junk"}
    assert Path(ds.root).name.startswith(dataset)
    if dataset == "synth-market":
        assert ds.fixed_split and len({r.pid for r in ds.train}) == 3
        assert all(r.pid > 0 for r in ds.train + ds.query) and all(r.pid >= 0 for r in ds.gallery)
    else:
        assert ds.multi_resolution and {r.camid for r in ds.images} == {0, 1}
        assert len({r.size for r in ds.images}) > 1
    assert prepare_dataset(cfg, progress=False, cache_dir=tmp_path / "cache") == ds  # reused


def test_package_exports() -> None:
    import reidlab.data as data

    for name in ("make_synth_dataset", "load_dataset", "degrade", "pseudo_resolution_labels",
                 "apply_bins", "lr_query_protocol", "multi_res_gallery_protocol",
                 "caviar_protocol", "build_protocol", "relabel", "ReidImageDataset",
                 "PairedLRHRDataset", "build_transforms", "load_image", "prepare_dataset",
                 "ImageReadError", "ImageRecord", "ReidDataset", "ProtocolSplit",
                 "DATASET_NAMES"):
        assert name in data.__all__ and hasattr(data, name), name
