"""What the data layer refuses, leaves out or guards against, and why.

Read this file as the list of what ``reidlab.data`` will not do silently. Each section
names the refusal; each test would fail on the code before it was added.
"""
from __future__ import annotations

import dataclasses
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFile

import reidlab.data.fingerprint as fingerprint
import reidlab.data.images as images
import reidlab.data.synth.writer as synth
from reidlab.config import DataConfig
from reidlab.data.filecache import clear_memory_cache, folder_cache_file
from reidlab.data.fingerprint import file_digest, records_fingerprint
from reidlab.data.images import ImageReadError, load_image
from reidlab.data.prepare import prepare_dataset, synth_root
from reidlab.data.protocols import build_protocol, relabel
from reidlab.data.readers import SkippedImagesWarning, load_dataset
from reidlab.data.records import MIN_HEIGHT, MIN_WIDTH, ImageRecord
from reidlab.data.synth import make_synth_dataset, synth_dataset_dirname
from reidlab.paths import pid_alive, repo_root

TINY_SYNTH = dict(variant="market", n_ids=4, images_per_id=3, n_cameras=2,
                  hr_size=(16, 32), seed=0, progress=False)


def _dead_pid() -> int:
    """A pid no process has (above the usual pid_max, checked with ``pid_alive``)."""
    return next(p for p in range(4_194_400, 4_200_000) if not pid_alive(p))


def _prid_folder(root: Path, write_image, ids: range = range(1, 4)) -> Path:
    """A flat PRID folder (``PPPP_a.png``, ``PPPP_b.png``) of noise images, 16x32."""
    for pid in ids:
        for cam in "ab":
            write_image(root / f"{pid:04d}_{cam}.png", size=(16, 32), seed=pid)
    return root


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


# ----------------------------------------------------------------------------------------
# Path parameters: ``data_root`` is a path, and a relative one is relative to the
# repository root, never to the current directory (a notebook kernel runs in notebooks/).

def test_relative_data_root_is_relative_to_the_repository(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = "no-such-folder/DukeMTMC-reID-refusal-test"
    with pytest.raises(FileNotFoundError) as info:
        prepare_dataset(DataConfig(dataset="dukemtmc", data_root=relative), progress=False)
    assert str(repo_root() / relative) in str(info.value)
    assert str(tmp_path) not in str(info.value)
    cfg = DataConfig(dataset="synth-market", data_root="data")
    assert synth_root(cfg).parent == repo_root() / "data"


@pytest.mark.parametrize("dataset", ["synth-market", "viper"])
def test_data_root_that_is_not_a_path(dataset: str) -> None:
    with pytest.raises(TypeError, match=r"data_root must be a path .*got int 5"):
        cfg = DataConfig(dataset=dataset, data_root=5)  # type: ignore[arg-type]
        prepare_dataset(cfg, progress=False)
    if dataset == "synth-market":
        with pytest.raises(TypeError, match=r"data_root must be a path"):
            synth_root(DataConfig(dataset=dataset, data_root=5))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------
# Aborted SynthPeople generation: temporary folders carry the writer's pid; a new
# generation deletes those of dead processes (and the pid-less ones of older versions),
# keeps a live writer's, and a temporary is never taken for a finished dataset.

def test_generation_removes_leftovers_of_dead_writers(tmp_path: Path) -> None:
    name = synth_dataset_dirname(**{k: v for k, v in TINY_SYNTH.items() if k != "progress"})
    dead = tmp_path / f".{name}.{_dead_pid()}.0123456789ab.tmp"
    live = tmp_path / f".{name}.{os.getpid()}.ba9876543210.tmp"
    old_scheme = tmp_path / f".{name}.tmp-k2j4h5g6"
    for leftover in (dead, live, old_scheme):
        (leftover / "query").mkdir(parents=True)
        (leftover / "query" / "0001_c1s1_000001_00.jpg").write_bytes(b"half a dataset")
    root = make_synth_dataset(tmp_path / name, **TINY_SYNTH)
    assert not dead.exists() and not old_scheme.exists()
    assert live.exists()                                   # another writer at work: kept
    assert (root / synth.MANIFEST_NAME).is_file()


def test_generation_writes_into_a_pid_named_temporary(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Path] = []
    render = synth._render_jobs

    def spy(jobs, cameras, folder, progress, desc, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(folder)
        return render(jobs, cameras, folder, progress, desc, **kwargs)

    monkeypatch.setattr(synth, "_render_jobs", spy)
    make_synth_dataset(tmp_path / "ds", **TINY_SYNTH)
    assert re.fullmatch(rf"\.ds\.{os.getpid()}\.[0-9a-f]{{12}}\.tmp", seen[0].name)


def test_a_leftover_is_not_a_dataset(tmp_path: Path) -> None:
    # a killed generation leaves only the temporary: the dataset folder does not exist
    name = "synth-market_n4_k3_c2_16x32_s0"
    (tmp_path / f".{name}.{_dead_pid()}.0123456789ab.tmp" / "query").mkdir(parents=True)
    with pytest.raises(FileNotFoundError):
        load_dataset("synth-market", tmp_path / name)


# ----------------------------------------------------------------------------------------
# 16-bit and float greyscale images are scaled to 8 bits, not clipped to white
# (``Image.convert("RGB")`` clips every value above 255).

@pytest.mark.parametrize("suffix, dtype", [(".png", np.uint16), (".tif", ">u2"),
                                           (".tif", np.int32)])
def test_sixteen_bit_greyscale_is_scaled(tmp_path: Path, suffix: str, dtype: str) -> None:
    gradient = np.linspace(0, 65535, 64 * 32).reshape(64, 32)
    path = tmp_path / f"grey16{suffix}"
    Image.fromarray(gradient.astype(dtype)).save(path)
    with Image.open(path) as stored:
        assert stored.mode in ("I;16", "I;16B", "I")
    a = np.asarray(load_image(path)).astype(float)
    assert a.shape == (64, 32, 3) and (a[..., 0] == a[..., 2]).all()
    assert abs(a.mean() - gradient.mean() / 257) < 1.0           # ~127.5, not ~255
    assert a.min() == 0 and a.max() == 255


def test_float_greyscale_is_scaled(tmp_path: Path) -> None:
    unit = np.linspace(0, 1, 64 * 32, dtype=np.float32).reshape(64, 32)
    Image.fromarray(unit).save(tmp_path / "unit.tif")
    assert abs(np.asarray(load_image(tmp_path / "unit.tif")).mean() - 127.5) < 1.0
    Image.fromarray(unit * 510).save(tmp_path / "wide.tif")       # 0..510: clipped at 255
    a = np.asarray(load_image(tmp_path / "wide.tif")).astype(float)
    assert a.max() == 255 and abs(a.mean() - (np.clip(unit * 510, 0, 255)).mean()) < 1.0


def test_32_bit_values_outside_16_bits_are_refused(tmp_path: Path) -> None:
    Image.fromarray(np.full((16, 8), 70_000, dtype=np.int32)).save(tmp_path / "big.tif")
    with pytest.raises(ImageReadError, match=r"big.tif: .*outside the 16-bit range"):
        load_image(tmp_path / "big.tif")


# ----------------------------------------------------------------------------------------
# Readers leave out damaged files and say so: dangling symlinks, unreadable files and
# images below MIN_WIDTH x MIN_HEIGHT (one 1x1 image moves every pseudo-label bin edge)
# are skipped, counted in ReidDataset.skipped (with example paths) and named in a
# SkippedImagesWarning; strict=True refuses the dataset instead.

def test_damaged_files_are_skipped_and_counted(tmp_path: Path, write_image) -> None:
    root = _prid_folder(tmp_path / "prid", write_image)
    (root / "0004_a.png").symlink_to(tmp_path / "gone.png")            # dangling symlink
    (root / "0005_a.png").write_bytes(b"\x89PNG garbage")             # corrupt
    write_image(root / "0006_a.png", size=(1, 1))                     # too small
    write_image(root / "0007_a.png", size=(MIN_WIDTH, MIN_HEIGHT))    # smallest accepted
    (root / "Thumbs.db").write_bytes(b"x")                            # not an image
    write_image(root / "._0001_a.png")                                # hidden (macOS)
    with pytest.warns(SkippedImagesWarning) as caught:
        ds = load_dataset("prid", root)
    message = str(caught[0].message)
    assert "left out 3 damaged file(s)" in message
    for name in ("0004_a.png", "0005_a.png", "0006_a.png"):
        assert name in message
    assert dict(ds.skipped) == {"dangling_symlink": 1, "unreadable": 1, "too_small": 1,
                                "hidden": 1, "not_image": 1}
    examples = dict(ds.skipped_examples)
    assert Path(examples["too_small"][0]).name == "0006_a.png"
    assert ds.skipped_problems == {"dangling_symlink": 1, "unreadable": 1, "too_small": 1}
    assert sorted(Path(r.path).name[:4] for r in ds.images) == ["0001"] * 2 + ["0002"] * 2 \
        + ["0003"] * 2 + ["0007"]


@pytest.mark.parametrize("damage", ["symlink", "corrupt", "tiny"])
def test_strict_refuses_damaged_files(tmp_path: Path, write_image, damage: str) -> None:
    root = _prid_folder(tmp_path / "prid", write_image)
    bad = root / "0009_b.png"
    if damage == "symlink":
        bad.symlink_to(tmp_path / "gone.png")
    elif damage == "corrupt":
        bad.write_bytes(b"not an image")
    else:
        write_image(bad, size=(MIN_WIDTH - 1, MIN_HEIGHT))
    with pytest.raises(ImageReadError, match=r"0009_b.png"):
        load_dataset("prid", root, strict=True)


def test_clean_datasets_warn_about_nothing(tmp_path: Path, write_image) -> None:
    root = _prid_folder(tmp_path / "prid", write_image)
    (root / "README.txt").write_text("counted for information, not a damaged file")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_dataset("prid", root, verify=True)
    assert dict(ds.skipped) == {"not_image": 1}


def test_market_junk_is_counted(tmp_path: Path, write_image, market_name) -> None:
    for split, pids in {"bounding_box_train": [1, 1], "query": [2],
                        "bounding_box_test": [2, -1, -1]}.items():
        for i, pid in enumerate(pids):
            write_image(tmp_path / split / market_name(pid, 1 + i % 2, 100 + i))
    assert dict(load_dataset("market1501", tmp_path).skipped) == {"junk": 2}


def test_a_dataset_left_with_nothing_is_refused(tmp_path: Path, write_image) -> None:
    write_image(tmp_path / "0001_a.png", size=(1, 1))
    write_image(tmp_path / "0001_b.png", size=(2, 2))
    with pytest.raises(ValueError, match=r"prid: no usable image .*2 too_small"):
        load_dataset("prid", tmp_path)


def test_msmt17_missing_listed_files_are_counted(tmp_path: Path, write_image) -> None:
    for folder, list_name, rels in (
            ("train", "list_train.txt", ["0000/0000_000_01_0303morning_0015_0.jpg",
                                         "0001/0001_004_14_0303noon_0100_1.jpg"]),
            ("test", "list_query.txt", ["0000/0000_001_03_0113morning_0001_0.jpg"]),
            ("test", "list_gallery.txt", ["0000/0000_002_15_0113noon_0005_0.jpg"])):
        lines = []
        for i, rel in enumerate(rels):
            if not (list_name == "list_train.txt" and i == 1):        # listed, never written
                write_image(tmp_path / folder / rel)
            lines.append(f"{rel} {i}")
        (tmp_path / list_name).write_text("\n".join(lines) + "\n")
    with pytest.warns(SkippedImagesWarning, match=r"1 missing .*0001_004_14"):
        ds = load_dataset("msmt17", tmp_path)
    assert len(ds.train) == 1 and dict(ds.skipped) == {"missing": 1}


# ----------------------------------------------------------------------------------------
# Images truncated after a readable header are found before training: prepare_dataset
# decodes every image once, leaves the bad ones out (counted as "undecodable", named in a
# warning) and caches the result per file, so the next call decodes nothing. Truncated
# images are never loaded silently (PIL's LOAD_TRUNCATED_IMAGES is refused).

def test_prepare_dataset_finds_truncated_images(tmp_path: Path, write_image,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = _prid_folder(tmp_path / "prid", write_image)
    cut = write_image(root / "0004_a.jpg", size=(32, 64))
    write_image(root / "0004_b.png", size=(32, 64))
    _truncate(cut)
    cfg = DataConfig(dataset="prid", data_root=str(root))
    cache = tmp_path / "cache"
    with pytest.warns(SkippedImagesWarning, match=r"1 undecodable .*0004_a.jpg"):
        ds = prepare_dataset(cfg, progress=False, cache_dir=cache)
    assert dict(ds.skipped) == {"undecodable": 1}
    assert str(cut) not in {r.path for r in ds.images} and len(ds.images) == 7

    decoded: list[str] = []
    real_load = images.load_image
    monkeypatch.setattr(images, "load_image",
                        lambda p: decoded.append(str(p)) or real_load(p))
    clear_memory_cache()                                   # a new process: disk cache only
    with pytest.warns(SkippedImagesWarning):
        again = prepare_dataset(cfg, progress=False, cache_dir=cache)
    assert again == ds and decoded == []                   # served from the cache

    write_image(cut, size=(32, 64))                        # repaired: checked again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repaired = prepare_dataset(cfg, progress=False, cache_dir=cache)
    assert decoded == [str(cut)] and len(repaired.images) == 8 and repaired.skipped == ()


def test_load_truncated_images_flag_is_refused(tmp_path: Path, write_image,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cut = _truncate(write_image(tmp_path / "cut.jpg", size=(32, 64)))
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match=r"LOAD_TRUNCATED_IMAGES"):
        load_image(cut)
    with pytest.raises(RuntimeError, match=r"LOAD_TRUNCATED_IMAGES"):
        images.verify_images([cut])


def test_no_module_enables_load_truncated_images() -> None:
    pattern = re.compile(r"LOAD_TRUNCATED_IMAGES\s*=\s*(True|1)")
    offenders = [str(p) for p in (repo_root() / "reidlab").rglob("*.py")
                 if pattern.search(p.read_text())]
    assert offenders == []


# ----------------------------------------------------------------------------------------
# Content fingerprints: content-keyed caches must notice an image replaced under the same
# name, and must not re-hash unchanged files (digests cached by size, mtime and ctime).

def test_fingerprint_follows_content(tmp_path: Path, write_image) -> None:
    paths = [write_image(tmp_path / f"{i}.png", size=(16, 32), seed=i) for i in range(3)]
    records = [ImageRecord(str(p), pid=i, camid=0, width=16, height=32)
               for i, p in enumerate(paths)]
    before = records_fingerprint(records)
    assert records_fingerprint(records) == before                    # unchanged data
    digest = file_digest(paths[1])
    stat = paths[1].stat()
    Image.new("RGB", (16, 32)).save(paths[1])                        # black, same name
    os.utime(paths[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert file_digest(paths[1]) != digest
    assert records_fingerprint(records) != before
    relabelled = [dataclasses.replace(records[0], res_label=2), *records[1:]]
    assert records_fingerprint(relabelled) != records_fingerprint(records)


def test_fingerprint_is_served_from_the_cache(tmp_path: Path, write_image,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [write_image(tmp_path / "img" / f"{i}.png", seed=i) for i in range(4)]
    records = [ImageRecord(str(p), pid=i, camid=0, width=8, height=16) for i, p in enumerate(paths)]
    records += [ImageRecord(str(paths[0]), pid=0, camid=0, width=8, height=16, factor=f)
                for f in (2, 3, 4)]                                   # MLR copies: one file
    hashed: list[str] = []
    real_hash = fingerprint.content_hash
    monkeypatch.setattr(fingerprint, "content_hash",
                        lambda p: hashed.append(str(p)) or real_hash(p))
    cache = tmp_path / "cache"
    clear_memory_cache()
    first = records_fingerprint(records, cache_dir=cache)
    assert len(hashed) == 4                                           # each file once
    assert records_fingerprint(records, cache_dir=cache) == first and len(hashed) == 4
    clear_memory_cache()                                              # a new process
    assert records_fingerprint(records, cache_dir=cache) == first and len(hashed) == 4
    (paths[2]).write_bytes(paths[3].read_bytes())                     # changed size/ctime
    assert records_fingerprint(records, cache_dir=cache) != first and len(hashed) == 5
    with pytest.raises(FileNotFoundError, match=r"missing.png"):
        file_digest(tmp_path / "missing.png")


def test_a_damaged_cache_file_is_not_trusted(tmp_path: Path, write_image) -> None:
    path = write_image(tmp_path / "img" / "0.png")
    cache = tmp_path / "cache"
    clear_memory_cache()
    digest = file_digest(path, cache_dir=cache)
    cache_file = folder_cache_file(cache, path.parent)
    assert digest in cache_file.read_text()
    cache_file.write_text('{"version": 1, "files": ')                 # cut mid-write
    clear_memory_cache()
    assert file_digest(path, cache_dir=cache) == digest
    assert digest in cache_file.read_text()                            # rewritten


# ----------------------------------------------------------------------------------------
# Identity labels are integers: a string pid is refused where the record is built, not
# met later as a numpy ufunc error.

def test_string_pids_are_refused() -> None:
    bad_pid: Any = "0001"
    with pytest.raises(TypeError, match=r"ImageRecord.pid must be an int, got str '0001'"):
        ImageRecord("/x/0001_a.png", pid=bad_pid, camid=0, width=8, height=16)
    with pytest.raises(TypeError, match=r"ImageRecord.camid must be an int, got float"):
        ImageRecord("/x/0001_a.png", pid=1, camid=0.0, width=8, height=16)  # type: ignore
    with pytest.raises(TypeError, match=r"relabel: pid must be an int, got str 'b' at "
                                        r"position 1"):
        relabel([3, "b"])  # type: ignore[list-item]
    path: Any = Path("/x/1.png")
    record = ImageRecord(path, pid=np.int64(1), camid=0, width=8, height=16)  # type: ignore
    assert type(record.pid) is int and record.path == "/x/1.png"


# ----------------------------------------------------------------------------------------
# Random identity splits need at least two identities seen by two cameras (1 train +
# 1 test); a smaller dataset is refused by name, with its folder.

def test_random_split_of_one_identity_is_refused(tmp_path: Path, write_image) -> None:
    write_image(tmp_path / "001_0_1.bmp")
    write_image(tmp_path / "001_90_2.bmp")
    ds = load_dataset("viper", tmp_path)
    with pytest.raises(ValueError, match=re.escape(
            f"viper: 1 identity seen by two cameras in {tmp_path.resolve()}; a random "
            "identity split needs at least 2 (1 train + 1 test)")):
        build_protocol("lr_query", ds)


# ========================================================================================
# Runs, parameters and results: what the engine and the study refuse.
# ========================================================================================

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

from reidlab.config import check_lam, get_profile  # noqa: E402
from reidlab.engine.checkpoint import atomic_save, load_checkpoint  # noqa: E402
from reidlab.engine.extract import extract_features  # noqa: E402
from reidlab.engine.run_identity import (  # noqa: E402
    ConfigMismatchError, RunLock, RunLockedError, RunSpec, split_identity,
)
from reidlab.metrics import fused_distance  # noqa: E402
from reidlab.paths import write_json  # noqa: E402
from reidlab.study.show.contract import REPRODUCE_ENV, results_location  # noqa: E402
from reidlab.study.params import refuse_unknown_parameters  # noqa: E402
from test_trainer import ToyDataset, ToyNet, make_cfg, toy_loss  # noqa: E402

from reidlab.engine.training_loop import fit, seed_everything  # noqa: E402


def _toy_fit(out: Path, spec: RunSpec | None = None, model: nn.Module | None = None, **cfg: Any):
    seed_everything(3)
    data = ToyDataset()
    return fit(model or ToyNet(), data, data.labels, toy_loss, make_cfg(**cfg), out, progress=False, spec=spec)


class _Interrupted(Exception):
    pass


def _interrupted_toy_fit(out: Path, stop_at: int, spec: RunSpec | None = None, **cfg: Any) -> None:
    """A toy run stopped after iteration ``stop_at``: an unfinished run with its checkpoint."""
    def stop(iteration: int, metrics: Any) -> None:
        if iteration == stop_at:
            raise _Interrupted

    seed_everything(3)
    data = ToyDataset()
    with pytest.raises(_Interrupted):
        fit(ToyNet(), data, data.labels, toy_loss, make_cfg(**cfg), out, progress=False, spec=spec,
            on_iteration=stop)
    assert (out / "checkpoint.pt").is_file() and not (out / "summary.json").exists()


class _MeanColour(nn.Module):
    """A 'feature extractor' that returns each image's mean colour."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) * self.scale


# ----------------------------------------------------------------------------------------
# 1. Caches are keyed on content: an image replaced under the same name re-extracts its
# features and retrains its models; unchanged data reuses both.

def test_feature_cache_follows_image_content(tmp_path: Path, write_image) -> None:
    paths = [write_image(tmp_path / "img" / f"{i}.png", size=(16, 32), seed=i) for i in range(3)]
    records = [ImageRecord(str(p), pid=i, camid=0, width=16, height=32) for i, p in enumerate(paths)]
    kw = dict(height=32, width=16, flip=False, cache_dir=tmp_path / "cache", progress=False)
    before = extract_features(_MeanColour(), records, **kw)
    assert torch.equal(before, extract_features(_MeanColour(), records, **kw))      # served from the cache
    Image.new("RGB", (16, 32)).save(paths[0])                                         # black, same name
    os.utime(paths[0], ns=(os.stat(paths[0]).st_atime_ns, os.stat(paths[0]).st_mtime_ns + 10**9))
    after = extract_features(_MeanColour(), records, **kw)
    assert not torch.equal(before[0], after[0]) and torch.equal(before[1:], after[1:])


def test_run_identity_follows_image_content(tmp_path: Path, write_image) -> None:
    from reidlab.data.records import ProtocolSplit

    paths = [write_image(tmp_path / f"{i}.png", size=(16, 32), seed=i) for i in range(2)]
    split = ProtocolSplit("lr_query", "viper", 0, tuple(ImageRecord(str(p), pid=i, camid=0, width=16, height=32)
                                                        for i, p in enumerate(paths)), (), (), 4)
    before = split_identity(split)
    assert split_identity(split) == before
    Image.new("RGB", (16, 32)).save(paths[1])
    os.utime(paths[1], ns=(os.stat(paths[1]).st_atime_ns, os.stat(paths[1]).st_mtime_ns + 10**9))
    assert split_identity(split)["train_sha256"] != before["train_sha256"]


# ----------------------------------------------------------------------------------------
# 2. Only `make reproduce` writes the committed results/: an ad-hoc notebook run writes
# under runs/results/<profile>/ and says so; naming results/ by hand is refused.

def test_ad_hoc_runs_never_write_the_committed_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REPRODUCE_ENV, raising=False)
    assert results_location(None, "quick") == repo_root() / "runs" / "results" / "quick"
    with pytest.raises(ValueError, match="only `make reproduce` writes"):
        results_location("results", "quick")
    monkeypatch.setenv(REPRODUCE_ENV, "1")
    assert results_location("results", "quick") == repo_root() / "results"


# ----------------------------------------------------------------------------------------
# 3. A notebook refuses a parameter it does not declare (papermill only warns), naming the
# closest valid one.

def test_unknown_notebook_parameter_is_refused_with_a_suggestion() -> None:
    pytest.importorskip("papermill")      # reads the notebook's declared parameters
    namespace = {"In": [], "Out": {}, "_": None, "lam": 0.1, "profile": "smoke", "lamda": 0.5}
    with pytest.raises(ValueError, match="no parameter 'lamda' \\(did you mean 'lam'\\?\\)"):
        refuse_unknown_parameters("03_rfd_eval", namespace)
    refuse_unknown_parameters("03_rfd_eval", {"lam": 0.5, "profile": "smoke", "_params": None})


@pytest.mark.slow
def test_papermill_run_with_a_typo_fails(tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError, match="did you mean 'lam'"):
        papermill.execute_notebook(str(repo_root() / "notebooks" / "03_rfd_eval.ipynb"), str(tmp_path / "o.ipynb"),
                                   parameters={"profile": "smoke", "lamda": 0.5}, kernel_name="python3",
                                   progress_bar=False)


# ----------------------------------------------------------------------------------------
# 4. Run folders: one writer at a time; every checkpoint carries the run's full identity;
# a failed start never blocks the corrected re-run.

def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from reidlab.engine.run_identity import RunLock
        with RunLock({str(tmp_path)!r}):
            print("locked", flush=True)
            time.sleep(30)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
            _toy_fit(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path), RunLock(tmp_path):   # re-entrant in one process, free once the holder died
        pass


def test_resume_checks_the_full_identity_not_only_the_schedule(tmp_path: Path) -> None:
    spec_a = RunSpec.of("toy", data={"seed": 0}, train=dict(make_cfg().__dict__))
    _interrupted_toy_fit(tmp_path, 9, spec_a, iterations=10)   # an unfinished run, config.json never written
    spec_b = RunSpec.of("toy", data={"seed": 1}, train=dict(make_cfg().__dict__))
    with pytest.raises(ConfigMismatchError, match="data.seed: 0 -> 1"):
        _toy_fit(tmp_path, spec_b, iterations=10)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["spec"]["data"] == {"seed": 0}


def test_a_failed_start_does_not_block_the_corrected_run(tmp_path: Path) -> None:
    RunSpec.of("bf", model={"backbone": "resnet-typo"}).prepare(tmp_path)   # then model building failed
    RunSpec.of("bf", model={"backbone": "resnet18"}).prepare(tmp_path)      # nothing to protect: accepted
    assert RunSpec.stored(tmp_path)["model"]["backbone"] == "resnet18"
    atomic_save({"x": torch.zeros(1)}, tmp_path / "checkpoint.pt")          # now there is a run's state
    with pytest.raises(ConfigMismatchError, match="model.backbone"):
        RunSpec.of("bf", model={"backbone": "resnet34"}).prepare(tmp_path)


def test_resuming_with_another_architecture_is_explained(tmp_path: Path) -> None:
    _interrupted_toy_fit(tmp_path, 9, iterations=10, checkpoint_every=4)
    wide = ToyNet()
    wide.fc = nn.Linear(8, 9)
    with pytest.raises(ConfigMismatchError, match="another architecture"):
        _toy_fit(tmp_path, model=wide, iterations=10, checkpoint_every=4)


# ----------------------------------------------------------------------------------------
# 6. Evaluation that shrinks says so: queries without a gallery match from another camera
# are counted (queries evaluated / total).

def test_queries_without_a_valid_match_are_counted() -> None:
    from reidlab.data.records import ProtocolSplit
    from reidlab.study.compute.scoring import SplitFeatures, describe_queries, rank_metrics

    rec = lambda pid, cam: ImageRecord(f"/x/{pid}_{cam}.jpg", pid=pid, camid=cam, width=8, height=16)  # noqa: E731
    query, gallery = (rec(1, 0), rec(2, 0), rec(3, 0)), (rec(1, 1), rec(2, 1), rec(3, 0))   # id 3: same camera only
    feats = SplitFeatures(ProtocolSplit("lr_query", "viper", 0, (), query, gallery, 4),
                          {"bf": torch.eye(3)}, {"bf": torch.eye(3)})
    metrics = rank_metrics(torch.cdist(torch.eye(3), torch.eye(3)), feats)
    assert (metrics["queries"], metrics["queries_total"]) == (2, 3)
    import pandas as pd
    assert "evaluated 2 of 3 queries (1 had no gallery match" in describe_queries(pd.DataFrame([metrics]))


# ----------------------------------------------------------------------------------------
# 7. lambda is finite everywhere, and result files are strict JSON.

@pytest.mark.parametrize("lam", [float("inf"), float("nan"), -0.1, "0.1", True])
def test_lam_must_be_a_finite_non_negative_number(lam: Any) -> None:
    with pytest.raises(ValueError, match=r"lam must be a finite number|lam=-0.1 is negative"):
        check_lam(lam)
    with pytest.raises(ValueError, match="lam"):
        get_profile("smoke", eval={"lam": lam})


@pytest.mark.parametrize("lam", [float("inf"), float("nan")])
def test_fused_distance_validates_lam_itself(lam: float) -> None:
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match="lam must be a finite number"):
        fused_distance(x, x, x, x, lam=lam)


def test_results_json_is_strict(tmp_path: Path) -> None:
    path = write_json(tmp_path / "r.json", {"a": float("nan"), "b": [np.float32("inf"), 1.5]})
    assert json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}")) == \
        {"a": None, "b": [None, 1.5]}


# ----------------------------------------------------------------------------------------
# 8. Bad schedule values and damaged checkpoints give clear errors.

@pytest.mark.parametrize("field", ["checkpoint_every", "log_every", "iterations"])
def test_zero_intervals_are_refused_up_front(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be a positive integer, got 0"):
        get_profile("smoke", bf={field: 0})


def test_corrupt_checkpoint_says_how_to_start_over(tmp_path: Path) -> None:
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(RuntimeError, match="corrupt.*start over") as info:
        load_checkpoint(tmp_path / "checkpoint.pt")
    assert "weights_only=False" not in str(info.value)


def test_disk_full_during_a_checkpoint_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno as errno_

    def full(obj, handle):
        raise OSError(errno_.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError, match="no space left on device while writing .*checkpoint.pt"):
        atomic_save({"x": 1}, tmp_path / "checkpoint.pt")
    assert list(tmp_path.iterdir()) == []


def test_interrupt_during_a_checkpoint_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(obj, handle):
        handle.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(OSError, match="interrupted while writing .*checkpoint.pt"):
        atomic_save({"x": 1}, tmp_path / "checkpoint.pt")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------
# 9. Temporaries of killed writers (hidden .tmp checkpoints, up to hundreds of MB) are
# removed when a run starts; those of live writers are kept.

def test_stale_checkpoint_temporaries_are_removed_on_start(tmp_path: Path) -> None:
    stale = tmp_path / f".checkpoint.pt.{_dead_pid()}.0123456789ab.tmp"
    live = tmp_path / f".model.pt.{os.getpid()}.0123456789ab.tmp"
    tmp_path.mkdir(exist_ok=True)
    stale.write_bytes(b"x" * 100)
    live.write_bytes(b"y")
    _toy_fit(tmp_path, iterations=2, checkpoint_every=1, warmup_iterations=0)
    assert not stale.exists() and live.exists()


# ----------------------------------------------------------------------------------------
# Review follow-ups: identity holes that would reuse the wrong weights.

def test_a_replaced_weights_file_changes_the_run_identity(tmp_path: Path) -> None:
    from reidlab.engine.run_identity import weights_identity

    weights = tmp_path / "r18.pth"
    torch.save({"w": torch.zeros(2)}, weights)
    before = weights_identity(str(weights))
    torch.save({"w": torch.ones(2)}, weights)
    os.utime(weights, ns=(os.stat(weights).st_atime_ns, os.stat(weights).st_mtime_ns + 10**9))
    assert weights_identity(str(weights)) != before
    assert weights_identity(None) is None and weights_identity("imagenet") == "imagenet"


def test_deleted_config_json_still_protects_the_finished_run(tmp_path: Path) -> None:
    spec_a = RunSpec.of("toy", data={"seed": 0}, train=dict(make_cfg().__dict__))
    _toy_fit(tmp_path, spec_a, iterations=4, checkpoint_every=2)
    (tmp_path / "config.json").unlink(missing_ok=True)
    assert RunSpec.stored(tmp_path)["data"] == {"seed": 0}            # read from the finished run
    spec_b = RunSpec.of("toy", data={"seed": 1}, train=dict(make_cfg().__dict__))
    with pytest.raises(ConfigMismatchError, match="data.seed: 0 -> 1"):
        spec_b.prepare(tmp_path)
    interrupted = tmp_path / "interrupted"
    _interrupted_toy_fit(interrupted, 3, spec_a, iterations=4, checkpoint_every=2)
    (interrupted / "config.json").unlink(missing_ok=True)             # only the checkpoint is left
    with pytest.raises(ConfigMismatchError, match="data.seed: 0 -> 1"):
        spec_b.prepare(interrupted)


def test_runs_written_before_an_option_existed_load_as_they_were_built() -> None:
    from reidlab.models.build import rfd_network
    from reidlab.recipes.ps_hrnet import _ps_from_config

    old_mgn = {"backbone": "resnet18", "attention": False, "pretrained": None, "reduction": 8, "feat_dim": 16,
               "dropout": 0.5}
    assert rfd_network(old_mgn, 3, pretrained=False).global_branch == "mgn"
    assert _ps_from_config({"hrnet": "hrnet_w18_small", "embed_dim": 64}).head == "bnneck"


def test_setup_cell_can_be_rerun_in_jupyterlab() -> None:
    pytest.importorskip("papermill")      # reads the notebook's declared parameters
    namespace = {"lam": 0.1, "profile": "smoke"}
    refuse_unknown_parameters("03_rfd_eval", namespace)
    namespace.update(prof=object(), ds=object())                      # the notebook's own names
    refuse_unknown_parameters("03_rfd_eval", namespace)


# ----------------------------------------------------------------------------------------
# 10. The last round of bad input (issue 20): nothing lost through a results folder, nothing
# silent in the data, and messages that name the file, parameter or expected value.

from reidlab.study.show import contract  # noqa: E402
from reidlab.study.drive import pipeline


def _dirty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline.provenance, "code_version",
                        lambda: {"commit": "0" * 40, "tree": "dirty", "changed": ["reidlab/config.py"]})


@pytest.mark.parametrize("folder", [".", "notebooks", "reidlab/study", ".."])
def test_results_folder_is_never_the_repository_or_a_source_folder(folder: str, monkeypatch, capsys) -> None:
    readme = (repo_root() / "README.md").read_bytes()
    with pytest.raises(ValueError, match=r"repository root|source folder"):
        results_location(folder, "smoke")
    assert pipeline.main(["reproduce", "--profile", "smoke", "--only", "00_data_synthesis",
                          "--results-dir", folder]) == 2
    assert re.search(r"repository root|source folder", capsys.readouterr().err)
    assert (repo_root() / "README.md").read_bytes() == readme
    assert not (repo_root() / "00_data_synthesis.json").exists()


def test_every_spelling_of_the_committed_results_is_guarded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(REPRODUCE_ENV, raising=False)
    link = tmp_path / "link"
    link.symlink_to(repo_root(), target_is_directory=True)
    for spelling in ("results/../results", str(link / "results"), "results/tables"):
        assert contract.is_committed_results(contract.resolve(spelling))
        with pytest.raises(ValueError, match="only `make reproduce` writes"):
            results_location(spelling, "smoke")
    _dirty(monkeypatch)                               # reproduce exits before running anything
    for spelling in ("results/../results", str(link / "results")):
        with pytest.raises(SystemExit, match="uncommitted changes"):
            pipeline.reproduce("smoke", 0, None, None, 60, only=["00_data_synthesis"], results_dir=spelling)


def test_reproduce_refuses_a_folder_holding_files_it_does_not_write(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("mine")
    with pytest.raises(SystemExit, match=r"holds files the study does not write \(thesis.tex\)"):
        pipeline.reproduce("smoke", 0, None, None, 60, only=["00_data_synthesis"], results_dir=str(tmp_path))
    assert (tmp_path / "thesis.tex").read_text() == "mine"


def test_ad_hoc_results_are_kept_per_notebook_and_parameters(tmp_path: Path) -> None:
    pytest.importorskip("papermill")
    from reidlab.study.params import declared_defaults

    base = {**declared_defaults("03_rfd_eval"), "profile": "smoke"}
    assert base["protocol"] == "lr_query"
    default = results_location(None, "smoke", notebook="03_rfd_eval", namespace=base)
    other = results_location(None, "smoke", notebook="03_rfd_eval",
                             namespace={**base, "protocol": "multi_res_gallery"})
    assert default == repo_root() / "runs" / "results" / "smoke" / "03_rfd_eval" / "defaults"
    assert other.name == "protocol-multi_res_gallery" and other.parent == default.parent

    # one folder shared by hand: a later run's JSON and tables agree (the earlier run's own tables go)
    (tmp_path / "tables").mkdir()
    old = tmp_path / "tables" / "03_rfd_lr_query.md"
    old.write_text("earlier run")
    os.utime(old, (1, 1))
    (tmp_path / "tables" / "03_rfd_multi_res_gallery.md").write_text("this run")
    (tmp_path / "tables" / "04_other_notebook.md").write_text("kept")
    os.utime(tmp_path / "tables" / "04_other_notebook.md", (1, 1))
    contract.write_result(tmp_path, contract.NotebookResult(
        notebook="03_rfd_eval", title="t",
        tables=[contract.TableRef("tables/03_rfd_multi_res_gallery.md", "x")]))
    assert not old.exists() and (tmp_path / "tables" / "04_other_notebook.md").exists()


def test_far_outlier_sizes_do_not_move_the_pseudo_label_edges() -> None:
    from reidlab.data.pseudo_labels import PseudoLabelOutlierWarning, pseudo_resolution_labels

    rng = np.random.default_rng(0)
    sizes = list(rng.integers(10_000, 40_000, size=30))
    names = [f"grid/{i:04d}.png" for i in range(30)]
    labels, edges = pseudo_resolution_labels(sizes, 5, names=names)
    with pytest.warns(PseudoLabelOutlierWarning, match=r"grid/tiny\.png \(32 pixels\)"):
        with_tiny, edges_tiny = pseudo_resolution_labels([*sizes, 32], 5, names=[*names, "grid/tiny.png"])
    np.testing.assert_allclose(edges_tiny, edges)                     # the same edges ...
    assert list(with_tiny[:30]) == list(labels) and with_tiny[30] == 4  # ... labels; the crop: lowest bin


def test_identities_shared_by_training_and_test_are_refused(tmp_path: Path) -> None:
    ds = load_dataset("synth-market", make_synth_dataset(tmp_path / "ds", **TINY_SYNTH))
    test_pid = ds.query[0].pid
    leaked = dataclasses.replace(ds.train[0], pid=test_pid, path=str(tmp_path / "renamed.jpg"))
    bad = dataclasses.replace(ds, train=(*ds.train, leaked))
    with pytest.raises(ValueError, match=rf"identity {test_pid} in training \(.*renamed\.jpg.*\) and in test"):
        build_protocol("lr_query", bad, trial=0)


def test_a_generated_dataset_missing_files_is_regenerated(tmp_path: Path, capsys) -> None:
    root = make_synth_dataset(tmp_path / "ds", **TINY_SYNTH)
    files = sorted((root / "query").glob("*.jpg"))
    for path in files[:2]:
        path.unlink()
    capsys.readouterr()
    make_synth_dataset(tmp_path / "ds", **TINY_SYNTH)
    out = capsys.readouterr().out
    assert "synth_manifest.json records" in out and "(missing: 2); regenerating it" in out
    assert sorted((root / "query").glob("*.jpg")) == files


def test_negative_lambda_only_for_the_named_ensemble() -> None:
    from reidlab.study.compute.rfd_trials import lambda_sweep

    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match="lam=-1.0 is negative"):
        fused_distance(x, x, x, x, lam=-1.0)
    with pytest.raises(ValueError, match="lambdas=-5.0 is negative"):
        lambda_sweep([], [-5.0, 0.0, 0.1])
    ensemble = fused_distance(x, x, x, x, lam=-0.1, ensemble=True)          # -(S_f + 0.1 S_r), S_r = S_f here
    torch.testing.assert_close(ensemble, 1.1 * fused_distance(x, x, x, x, lam=0.0))
    with pytest.raises(ValueError, match="lambda <= 0"):
        check_lam(0.1, ensemble=True)


def test_report_refuses_a_folder_without_results(tmp_path: Path, capsys) -> None:
    assert pipeline.main(["report", "--results-dir", str(tmp_path / "typo_dir")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert pipeline.main(["report", "--results-dir", str(tmp_path / "empty")]) == 2
    assert "holds no notebook results" in capsys.readouterr().err
    assert not (tmp_path / "typo_dir").exists() and not (tmp_path / "empty" / "README.md").exists()


def test_misspelt_pretrained_lists_the_choices() -> None:
    from reidlab.study.params import pretrained_setting

    with pytest.raises(ValueError, match=r"pretrained='imagnet' is neither a known choice.*imagenet, synthpeople, scratch"):
        pretrained_setting("imagnet")
    with pytest.raises(SystemExit):
        pipeline.main(["reproduce", "--pretrained", "imagnet"])


class _Payload:
    def __reduce__(self):
        return (eval, ("__import__('pathlib').Path('PWNED').touch()",))


@pytest.mark.parametrize("content", ["garbage", "hostile"])
def test_unreadable_pretrained_file_gives_no_unsafe_advice(content: str, tmp_path: Path, monkeypatch) -> None:
    from reidlab.models.pretrained import load_weights_file

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "weights.pth"
    if content == "garbage":
        path.write_bytes(b"\x00not a torch file" * 10)
    else:
        torch.save({"conv.weight": _Payload()}, path)
    with pytest.raises(RuntimeError) as info:
        load_weights_file(path)
    text = str(info.value)
    assert str(path) in text and "imagenet, synthpeople, scratch" in text
    assert "weights_only=False" not in text and "safe_globals" not in text and "allowlist" not in text.lower()
    assert not (tmp_path / "PWNED").exists()


def test_data_root_naming_a_file_says_so(tmp_path: Path) -> None:
    file = tmp_path / "data.txt"
    file.write_text("")
    with pytest.raises(NotADirectoryError, match=r"data_root .*data\.txt is a file, not a folder"):
        prepare_dataset(DataConfig(dataset="synth-market", data_root=str(file)))


def test_string_identities_are_named_as_such() -> None:
    from reidlab.metrics import evaluate_rank

    with pytest.raises(TypeError, match=r"q_pids must hold integer labels, got .* such as 'a'"):
        evaluate_rank(np.zeros((2, 2)), np.array(["a", "b"]), np.array([0, 1]), np.array([0, 0]), np.array([1, 1]))


def test_python_m_reidlab_names_the_entry_points() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "reidlab"], capture_output=True, text=True, cwd=repo_root(),
                          timeout=60)
    assert proc.returncode == 0
    assert "make reproduce" in proc.stderr and "python -m reidlab.train_cli" in proc.stderr
    assert "reidlab.study.drive.pipeline" in proc.stderr


def test_train_cli_refuses_out_file_and_missing_gpu_before_data_work(tmp_path: Path, monkeypatch, capsys) -> None:
    import reidlab.data.prepare as prepare
    from reidlab import train_cli

    monkeypatch.setattr(prepare, "prepare_dataset", lambda *a, **k: pytest.fail("data work before the check"))
    file = tmp_path / "run.pt"
    file.write_text("")
    with pytest.raises(SystemExit):
        train_cli.main(["--task", "bf", "--profile", "smoke", "--out", str(file)])
    assert "is a file; --out names the run's folder" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            train_cli.main(["--task", "bf", "--profile", "smoke", "--device", "cuda:0"])
        assert "no CUDA GPU" in capsys.readouterr().err


def test_reproduce_checks_its_dataset_up_front(capsys) -> None:
    with pytest.raises(SystemExit):
        pipeline.main(["reproduce", "--profile", "smoke", "--dataset", "foo"])
    assert "invalid choice: 'foo'" in capsys.readouterr().err
    assert not list((repo_root() / "results" / "notebooks").glob("*.failed.ipynb"))


def test_truncated_checkpoint_names_the_cli_flag(tmp_path: Path) -> None:
    _interrupted_toy_fit(tmp_path, 3, iterations=4, checkpoint_every=2)
    _truncate(tmp_path / "checkpoint.pt")
    with pytest.raises(RuntimeError, match=r"--no-resume on the command line .* resume=False from Python"):
        load_checkpoint(tmp_path / "checkpoint.pt")


def test_a_disk_filling_during_a_write_is_reported_as_full(tmp_path: Path, monkeypatch) -> None:
    import errno

    import reidlab.paths as paths

    def full_while_temporaries_exist(path: Path) -> bool:      # deleting the temporary frees the space
        return any(p.name.startswith(".") for p in path.parent.iterdir())

    monkeypatch.setattr(paths, "_disk_full", full_while_temporaries_exist)

    def write(handle) -> None:
        handle.write(b"x" * 1000)
        raise RuntimeError("[enforce fail at inline_container.cc] . unexpected pos 64 vs 0")

    with pytest.raises(OSError, match="no space left on device") as info:
        paths.atomic_write(tmp_path / "checkpoint.pt", write)
    assert info.value.errno == errno.ENOSPC
    assert not list(tmp_path.iterdir())                        # no temporary left behind

    def wrapped(handle) -> None:                               # torch.save re-raising the OSError
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("file write failed") from exc

    monkeypatch.setattr(paths, "_disk_full", lambda path: False)
    with pytest.raises(OSError, match="no space left on device"):
        paths.atomic_write(tmp_path / "model.pt", wrapped)


# ----------------------------------------------------------------------------------------
# 11. Nothing lost, nothing run, nothing silent (issue 35): no command deletes or overwrites
# what it did not create, a NaN never passes check-results, and every mistake on the command
# line of `python -m reidlab.study.drive.pipeline` is one line naming it, with exit status 2.

import errno  # noqa: E402

from reidlab.study.compute import check as study_check  # noqa: E402
from reidlab.study.drive import units as study_units  # noqa: E402


def _checkout_snapshot() -> dict[str, tuple[int, int]]:
    """Size and modification time of every tracked file of results/, and which tracked files
    of the checkout exist (a deleted checkout or results folder shows here; files the lead
    edits meanwhile do not)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=repo_root(), capture_output=True, check=True).stdout
    snapshot: dict[str, tuple[int, int]] = {}
    for name in listed.decode().split("\0"):
        path = repo_root() / name
        if name and path.is_file():
            stat = path.stat()
            snapshot[name] = (stat.st_size, stat.st_mtime_ns) if name.startswith("results/") else (0, 0)
    return snapshot


def _runs_entries() -> set[str]:
    runs = repo_root() / "runs"
    return {p.name for p in runs.iterdir()} if runs.is_dir() else set()


@pytest.fixture()
def no_deletion(monkeypatch: pytest.MonkeyPatch):
    """A refusal test must refuse before deleting anything: rmtree fails the test (so a broken
    refusal cannot delete the checkout), and the checkout and runs/ are compared afterwards."""
    monkeypatch.setattr(pipeline.shutil, "rmtree", lambda *a, **k: pytest.fail(f"rmtree{a} before the refusal"))
    before, runs = _checkout_snapshot(), _runs_entries()
    yield
    assert _checkout_snapshot() == before
    assert _runs_entries() >= runs


@pytest.mark.parametrize("command", ["prepare-nbval", "record-nbval"])
@pytest.mark.parametrize("out, why", [
    (".", "the repository root"), ("..", "a folder above the repository root"),
    ("results", "the committed results/"), ("results/../results", "the committed results/"),
    ("results/tables", "the committed results/"), ("runs", "the runs folder"),
    ("notebooks", "the source folder notebooks/"), ("reidlab/study", "the source folder reidlab/"),
])
def test_nbval_commands_never_replace_the_checkout_results_or_runs(command: str, out: str, why: str, no_deletion,
                                                                   capsys) -> None:
    assert pipeline.main([command, "--out", out]) == 2
    err = capsys.readouterr().err
    assert f"{command} --out {out}:" in err and why in err and "Traceback" not in err


def test_nbval_commands_refuse_a_link_to_the_committed_results(tmp_path: Path, no_deletion, capsys) -> None:
    link = tmp_path / "nbval"
    link.symlink_to(repo_root() / "results", target_is_directory=True)
    assert pipeline.main(["prepare-nbval", "--out", str(link)]) == 2
    assert "the committed results/" in capsys.readouterr().err


def test_nbval_commands_replace_only_a_folder_they_created(tmp_path: Path, no_deletion, capsys) -> None:
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("mine")
    for command in ("prepare-nbval", "record-nbval"):
        assert pipeline.main([command, "--out", str(foreign)]) == 2
        err = capsys.readouterr().err
        assert str(foreign) in err and "holds files" in err and "chapter1.tex" in err and pipeline.NBVAL_MARKER in err
    assert (foreign / "chapter1.tex").read_text() == "mine"
    (tmp_path / "file").write_text("mine")
    assert pipeline.main(["prepare-nbval", "--out", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "mine"


def test_nbval_folder_is_replaced_run_after_run(tmp_path: Path) -> None:
    """`make test` runs `prepare-nbval --out build/nbval` every time: the folder it made (marked),
    with what nbval's run then wrote in it, is replaced; so are an empty folder and one written by
    prepare-nbval before the marker existed."""
    from reidlab.study.show import registry

    build = tmp_path / "build" / "nbval"
    assert pipeline._fresh_folder(build, "build/nbval", "prepare-nbval") == build.resolve()
    assert (build / pipeline.NBVAL_MARKER).is_file()
    for sub in ("data", "runs", "results"):
        (build / sub).mkdir()
    (build / "image_outputs.json").write_text("{}")
    (build / "runs" / "model.pt").write_text("weights")
    pipeline._fresh_folder(build, "build/nbval", "prepare-nbval")
    assert sorted(p.name for p in build.iterdir()) == [pipeline.NBVAL_MARKER]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert pipeline.replaceable_folder(empty, "empty", "prepare-nbval") == empty.resolve()
    unmarked = tmp_path / "unmarked"
    (unmarked / "results").mkdir(parents=True)
    for name in registry.notebooks():
        (unmarked / f"{name}.ipynb").write_text("{}")
    assert pipeline.replaceable_folder(unmarked, "unmarked", "prepare-nbval") == unmarked.resolve()
    (unmarked / "notes.txt").write_text("mine")           # anything else: not prepare-nbval's
    with pytest.raises(SystemExit, match=r"holds files prepare-nbval did not write \(.*notes.txt"):
        pipeline.replaceable_folder(unmarked, "unmarked", "prepare-nbval")


def _results_with_metrics(folder: Path, metrics: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))   # allow_nan: NaN written as NaN
    return folder


CHECK_REFERENCE: dict[str, Any] = {"bf_lr_to_hr_r1_unit_std": 2.0, "bf_lr_to_hr_r1": 50.0, "lambda_chosen": 0.1,
                                   "pseudo_bins_chosen": 3.0, "reproduce_minutes": None}


@pytest.mark.parametrize("spelling", ["results", "results/../results", "results/tables", "link"])
def test_check_results_never_writes_into_the_committed_results(spelling: str, tmp_path: Path, no_deletion,
                                                               capsys) -> None:
    reference = _results_with_metrics(tmp_path / "reference", CHECK_REFERENCE)
    if spelling == "link":
        spelling = str(tmp_path / "link")
        Path(spelling).symlink_to(repo_root() / "results", target_is_directory=True)
    assert not (repo_root() / "results" / "check.md").exists()
    assert pipeline.main(["check-results", "--no-run", "--reference", str(reference), "--results-dir", spelling]) == 2
    err = capsys.readouterr().err
    assert f"--results-dir {spelling}:" in err and "committed results/" in err
    assert not [p for p in (repo_root() / "results", repo_root() / "results" / "tables") if (p / "check.md").exists()]


def test_check_results_never_writes_into_its_reference(tmp_path: Path, capsys) -> None:
    reference = _results_with_metrics(tmp_path / "reference", CHECK_REFERENCE)
    _results_with_metrics(reference / "inner", CHECK_REFERENCE)
    before = (reference / "metrics.json").read_bytes()
    for out, message in ((reference, "same folder"), (reference / "inner", "inside the reference")):
        assert pipeline.main(["check-results", "--no-run", "--reference", str(reference),
                              "--results-dir", str(out)]) == 2
        assert message in capsys.readouterr().err
    assert not (reference / "check.md").exists() and not (reference / "inner" / "check.md").exists()
    assert (reference / "metrics.json").read_bytes() == before


def test_a_failed_notebook_is_kept_under_runs_never_in_the_results(tmp_path: Path, monkeypatch, capsys) -> None:
    import papermill as pm

    from reidlab.progress import PLAIN_PROGRESS_ENV

    for env in (PLAIN_PROGRESS_ENV, "REIDLAB_STAGE_LOG", "REIDLAB_TRAINED_LOG"):
        monkeypatch.delenv(env, raising=False)             # run_notebook sets them: restored afterwards

    def fails_half_way(src: str, out: str, **kwargs: Any) -> None:
        Path(out).write_text("{}")                         # the partly executed notebook
        raise RuntimeError("cell 3 failed")

    monkeypatch.setattr(pm, "execute_notebook", fails_half_way)
    results, runs = tmp_path / "results" / "viper", tmp_path / "runs"
    params = {"results_dir": str(results), "runs_dir": str(runs)}
    with pytest.raises(RuntimeError, match="cell 3 failed"):
        pipeline.run_notebook("03_rfd_eval", params, results / "notebooks", log_output=False)
    kept = runs / "failed-notebooks" / "viper" / "03_rfd_eval.failed.ipynb"
    assert kept.is_file() and str(kept) in capsys.readouterr().err
    assert not [p for p in (results / "notebooks").iterdir()]          # nothing left in the results folder
    # the default runs folder, and a results folder of the checkout named by its path
    committed = repo_root() / "results" / "viper"
    assert pipeline.failed_notebook_path("03_rfd_eval", {"results_dir": str(committed)}, committed / "notebooks") == \
        repo_root() / "runs" / "failed-notebooks" / "results-viper" / "03_rfd_eval.failed.ipynb"


def test_a_nan_in_metrics_json_fails_check_results(tmp_path: Path, capsys) -> None:
    """Python's json reads NaN (a hand-edited or foreign metrics.json): a NaN chosen setting
    compared as neither equal nor different and passed; now it fails naming the key. null stays
    what it was (reported by neither run: agrees)."""
    for key, where in (("lambda_chosen", "candidate"), ("pseudo_bins_chosen", "reference"),
                       ("bf_lr_to_hr_r1_unit_std", "reference"), ("reproduce_minutes", "candidate")):
        reference = {**CHECK_REFERENCE, **({key: float("nan")} if where == "reference" else {})}
        candidate = {**CHECK_REFERENCE, **({key: float("nan")} if where == "candidate" else {})}
        failed = [c for c in study_check.compare_metrics(reference, candidate) if c.failed]
        assert [c.key for c in failed] == [key], (key, failed)
        assert "nan" in failed[0].note and "not a finite number" in failed[0].note
    nulls = {**CHECK_REFERENCE, "lambda_chosen": None}
    assert not [c for c in study_check.compare_metrics(nulls, nulls) if c.failed]
    reference = _results_with_metrics(tmp_path / "reference", CHECK_REFERENCE)
    candidate = _results_with_metrics(tmp_path / "candidate", {**CHECK_REFERENCE, "lambda_chosen": float("nan")})
    assert "NaN" in (candidate / "metrics.json").read_text()
    assert pipeline.check_results_command("smoke", 0, str(reference), str(candidate), run=False) == 1
    assert "lambda_chosen" in capsys.readouterr().out.splitlines()[-1]


@pytest.mark.parametrize("rates, named", [
    ("br=-400", "br=-400"), ("bf=400,br=0", "br=0"), ("br=abc", "br=abc"), ("br=nan", "br=nan"),
    ("br", "'br' is not KIND=RATE"), ("bff=400", "unknown unit kind 'bff'"), ("bf=1,bf=2", "bf is given twice"),
])
def test_plan_refuses_rates_that_are_not_positive_numbers(rates: str, named: str, monkeypatch, capsys) -> None:
    monkeypatch.setattr(study_units, "study_units", lambda *a, **k: pytest.fail("planned before the check"))
    assert pipeline.main(["plan", "--profile", "smoke", "--images-per-second", rates]) == 2
    err = capsys.readouterr().err
    assert named in err and "--images-per-second" in err and len(err.strip().splitlines()) == 1


def _no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("study_units", "train_units"):
        monkeypatch.setattr(study_units, name, lambda *a, **k: pytest.fail("work before the arguments were checked"))


def test_slurm_parameters_must_be_key_value(monkeypatch, capsys) -> None:
    _no_training(monkeypatch)
    assert pipeline.main(["train-units", "--executor", "slurm", "--slurm", "partition"]) == 2
    err = capsys.readouterr().err
    assert "--slurm 'partition'" in err and "KEY=VALUE" in err and "dictionary update" not in err
    assert pipeline.main(["train-units", "--slurm", "slurm_partition=gpu"]) == 2          # the local executor
    assert "need --executor slurm" in capsys.readouterr().err


@pytest.mark.parametrize("argv, named", [
    (["train-units", "--jobs", "0"], "jobs must be >= 1 (--jobs"),
    (["train-units", "--threads", "-1"], "threads must be >= 1 (--threads"),
    (["train-units", "--executor", "slurm"], "--executor slurm) needs SLURM"),
])
def test_train_units_checks_its_arguments_before_any_work(argv: list[str], named: str, monkeypatch, capsys) -> None:
    import shutil

    _no_training(monkeypatch)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)    # a machine without SLURM
    assert pipeline.main([*argv, "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert named in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    with pytest.raises(SystemExit) as info:                               # plan has no --jobs: argparse says so
        pipeline.main(["plan", "--jobs", "0"])
    assert info.value.code == 2


def test_check_results_names_a_missing_metrics_json(tmp_path: Path, capsys) -> None:
    reference = _results_with_metrics(tmp_path / "reference", CHECK_REFERENCE)
    (tmp_path / "candidate").mkdir()
    assert pipeline.main(["check-results", "--no-run", "--reference", str(tmp_path / "nowhere"),
                          "--results-dir", str(tmp_path / "candidate")]) == 2
    assert str(tmp_path / "nowhere" / "metrics.json") + " does not exist" in capsys.readouterr().err
    assert pipeline.main(["check-results", "--no-run", "--reference", str(reference),
                          "--results-dir", str(tmp_path / "candidate")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "candidate" / "metrics.json") + " does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "candidate" / "check.md").exists()


def test_report_names_a_file_given_as_results_dir(tmp_path: Path, capsys) -> None:
    file = tmp_path / "results.json"
    file.write_text("{}")
    assert pipeline.main(["report", "--results-dir", str(file)]) == 2
    assert f"{file} is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only"), (errno.EACCES, "read-only"),
                                         (errno.ENOSPC, "no space left")])
def test_read_only_folders_and_full_disks_are_named_in_one_line(code: int, words: str, tmp_path: Path, monkeypatch,
                                                                capsys) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "00_data_synthesis.json").write_text("{}")
    target = results / "README.md"

    def cannot_write(folder: Path) -> Path:
        raise OSError(code, os.strerror(code), str(target))

    monkeypatch.setattr(pipeline, "write_report", cannot_write)
    assert pipeline.main(["report", "--results-dir", str(results)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"[reidlab] {target}: {pipeline.USER_ERRNOS[code]}" and words in err
    assert pipeline.main(["--debug", "report", "--results-dir", str(results)]) == 2     # --debug: the traceback too
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.strip().endswith(f"{target}: {pipeline.USER_ERRNOS[code]}")
    monkeypatch.setattr(pipeline, "write_report", lambda folder: (_ for _ in ()).throw(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):                      # not a user's mistake: raised as it is
        pipeline.main(["report", "--results-dir", str(results)])


def test_refusals_exit_with_status_2_and_one_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "reidlab.study.drive.pipeline", "plan", "--images-per-second", "br=-400"],
                          capture_output=True, text=True, cwd=repo_root(), timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["[reidlab] --images-per-second br=-400: a rate must be a positive "
                                                "number of images per second"]


def test_an_arm_whose_data_cannot_be_split_is_refused_before_any_notebook(tmp_path: Path, write_image, capsys) -> None:
    """Issue 35: --mlr camera on a one-camera VIPeR copy passed the data check, then failed in a
    notebook with a message naming no dataset: now refused up front, naming the dataset and what
    it lacks, before any notebook runs."""
    one_camera = tmp_path / "viper"
    for pid in range(1, 13):
        write_image(one_camera / f"{pid:03d}_0_1.bmp", size=(12, 32), seed=pid)        # view 1 only: one camera
    out = tmp_path / "arm"
    code = pipeline.main(["reproduce", "--profile", "smoke", "--dataset", "viper", "--data-root", str(one_camera),
                          "--mlr", "camera", "--results-dir", str(out), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and "--dataset viper" in err and "seen by two cameras" in err and str(one_camera) in err
    assert not (out / "notebooks").exists()                              # no notebook ran
