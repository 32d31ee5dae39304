"""Readers: one per on-disk layout, all returning the same :class:`ReidDataset`.

``load_dataset(name, root)`` lists the images of a dataset, parses identity and camera
from the file names (or list files), reads each size from the image header and returns
records with ``camid`` 0-based, ``factor=1`` and ``res_label=-1`` (protocols fill those).

Conventions (shared with :mod:`reidlab.data.protocols`):

* Fixed-split datasets (Market-1501, DukeMTMC-reID, MSMT17, CUHK03 new protocol,
  SynthPeople ``market``) fill ``train``/``query``/``gallery``: junk images (pid -1) are
  dropped; Market-1501 (and SynthPeople ``market``) distractors (pid 0) are kept in the
  gallery only, as torchreid does.
* Single-shot datasets (VIPeR, PRID, GRID, CAVIAR4REID, CUHK03 flat, SynthPeople
  ``caviar``) list everything in ``images``; the protocols draw identity splits per trial.
* ``multi_resolution`` is True where images keep their native sizes (GRID, CAVIAR4REID,
  SynthPeople ``caviar``): RFD Sec. 3.5 pseudo-labels them instead of synthesising factors.

Bad input raises ``FileNotFoundError`` (a missing folder, naming the expected layout),
``ValueError`` (no images, names matching no layout, unknown dataset) or
:class:`ImageReadError` (an unreadable image, naming the file).
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from reidlab.data.images import (
    IMAGE_EXTENSIONS, ImageReadError, is_image_file, load_image, read_image_size,
)
from reidlab.data.records import ImageRecord, ReidDataset

__all__ = [
    "DATASET_NAMES", "LAYOUTS", "ImageReadError", "load_dataset",
    "PRID_TWO_CAMERA_IDS", "PRID_CAM_B_ONLY_OFFSET", "CAVIAR_IMAGES_PER_CAMERA",
]

#: PRID 2011 single-shot: persons 1-200 are seen by both cameras; numbers above 200 name
#: different people in camera a (201-385) and camera b (201-749).
PRID_TWO_CAMERA_IDS = 200
#: Added to a camera-b person number above 200 that camera a also uses, so that two
#: people never share a pid (official ``cam_b/person_0201.png`` -> pid 1201).
PRID_CAM_B_ONLY_OFFSET = 1000
#: CAVIAR4REID: images 1-10 of an identity come from one camera, 11-20 from the other.
CAVIAR_IMAGES_PER_CAMERA = 10

_MARKET_FOLDERS = ("bounding_box_train", "bounding_box_test", "query")

#: What each reader expects under ``root`` (used in error messages and by ``prepare``).
LAYOUTS: dict[str, str] = {
    "market1501": "<root>/bounding_box_train, bounding_box_test, query "
                  "(Market-1501 layout, names PPPP_cCsS_FFFFFF_BB.jpg)",
    "synth-market": "<root>/bounding_box_train, bounding_box_test, query "
                    "(SynthPeople in Market-1501 layout, names PPPP_cCsS_FFFFFF_BB.jpg)",
    "dukemtmc": "<root>/bounding_box_train, bounding_box_test, query "
                "(DukeMTMC-reID layout, names PPPP_cC_fFFFFFFF.jpg)",
    "msmt17": "<root>/list_train.txt, list_query.txt, list_gallery.txt (lines "
              "'relative/path.jpg pid') with <root>/train and <root>/test "
              "(or mask_train_v2 and mask_test_v2) (MSMT17 layout)",
    "cuhk03": "<root>/bounding_box_train, bounding_box_test, query (CUHK03 new protocol, "
              "names PPPP_cC_NN.png) or flat PPPP_NN.jpg files (NN 00-04 camera a, "
              "05-09 camera b)",
    "viper": "<root>/cam_a and <root>/cam_b (official VIPeR) or flat PPP_ANGLE_V.bmp "
             "files (V in {1, 2} the camera)",
    "prid": "flat PPPP_a.png / PPPP_b.png files or <root>/single_shot/cam_a, cam_b with "
            "person_PPPP.png (PRID 2011 single-shot)",
    "grid": "flat PPPP_C_FRAME_X_Y_W_H.jpeg files or <root>/probe and <root>/gallery "
            "(QMUL GRID underground_reid; pid 0000 = distractor)",
    "caviar": "flat PPPPIII.jpg or PPPP_III.jpg files (CAVIAR4REID: images 1-10 from "
              "one camera, 11-20 from the other)",
    "synth-caviar": "flat PPPPIII.jpg files (SynthPeople in CAVIAR4REID layout: images "
                    "1-10 from one camera, 11-20 from the other)",
}

@dataclass(frozen=True)
class _NamePattern:
    """A file-name regex whose groups 1 and 2 are the identity and the 1-based camera."""

    regex: re.Pattern[str]
    description: str

    def parse(self, filename: str) -> tuple[int, int] | None:
        m = self.regex.match(filename)
        if m is None:
            return None
        return int(m.group(1)), int(m.group(2)) - 1


_MARKET = _NamePattern(re.compile(r"^(-1|\d+)_c(\d+)s\d+_\d+_\d+\.\w+$"),
                       "PPPP_cCsS_FFFFFF_BB.jpg")
_DUKE = _NamePattern(re.compile(r"^(-1|\d+)_c(\d+)_f\d+\.\w+$"), "PPPP_cC_fFFFFFFF.jpg")
_CUHK03_NP = _NamePattern(re.compile(r"^(-1|\d+)_c(\d+)(?:_\d+)*\.\w+$"), "PPPP_cC_NN.png")


# ----------------------------------------------------------------------------- helpers
def _image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name (hidden files ignored)."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and is_image_file(p))


def _require_dirs(name: str, root: Path, folders: Iterable[str]) -> None:
    missing = [f for f in folders if not (root / f).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{name}: expected {_layout(name, root)}; "
            f"missing: {', '.join(str(root / f) for f in missing)}")


def _no_images(name: str, folder: Path) -> ValueError:
    return ValueError(f"{name}: {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
                      f"expected {_layout(name, folder)}")


def _unmatched(name: str, folder: Path, bad: list[str], expected: str) -> ValueError:
    shown = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
    return ValueError(f"{name}: {len(bad)} image name(s) in {folder} match no known "
                      f"layout (expected {expected}), e.g. {shown}")


def _record(path: Path, pid: int, camid: int) -> ImageRecord:
    width, height = read_image_size(path)
    return ImageRecord(path=str(path), pid=pid, camid=camid, width=width, height=height)


def _parse_names(name: str, folder: Path, parse: Callable[[str], tuple[int, int] | None],
                 expected: str) -> list[tuple[Path, int, int]]:
    """``(path, pid, camid)`` for every image of ``folder``; every name must parse."""
    files = _image_files(folder)
    if not files:
        raise _no_images(name, folder)
    parsed, bad = [], []
    for path in files:
        ids = parse(path.name)
        if ids is None:
            bad.append(path.name)
        else:
            parsed.append((path, *ids))
    if bad:
        raise _unmatched(name, folder, bad, expected)
    return parsed


def _flat_records(name: str, folder: Path, parse: Callable[[str], tuple[int, int] | None],
                  expected: str) -> list[ImageRecord]:
    """Records of a folder whose image names ``parse`` maps to ``(pid, camid)``."""
    return [_record(*entry) for entry in _parse_names(name, folder, parse, expected)]


def _layout(name: str, root: Path) -> str:
    """The expected layout of ``name`` with ``<root>`` filled in."""
    return LAYOUTS[name].replace("<root>", str(root))


def _root(name: str, root: str | os.PathLike[str]) -> Path:
    path = Path(root).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(
            f"{name}: dataset folder {path} does not exist (or is not a folder); expected "
            f"{_layout(name, path)}")
    return path


def _flat_dataset(name: str, root: Path, records: list[ImageRecord], *,
                  multi_resolution: bool) -> ReidDataset:
    return ReidDataset(name=name, root=str(root), images=tuple(records),
                       fixed_split=False, multi_resolution=multi_resolution)


# ----------------------------------------------------------------- fixed-split layouts
def _market_layout(name: str, root: Path, pattern: _NamePattern,
                   distractor_pid: int | None) -> ReidDataset:
    """Market-1501-style folders: junk (-1) dropped, distractors in the gallery only."""
    _require_dirs(name, root, _MARKET_FOLDERS)
    splits: dict[str, list[ImageRecord]] = {}
    for split, folder in (("train", "bounding_box_train"), ("query", "query"),
                          ("gallery", "bounding_box_test")):
        keep = []
        entries = _parse_names(name, root / folder, pattern.parse, pattern.description)
        for path, pid, camid in entries:
            if pid == -1 or (pid == distractor_pid and split != "gallery"):
                continue
            keep.append(_record(path, pid, camid))
        splits[split] = keep
    images = tuple(splits["train"] + splits["query"] + splits["gallery"])
    return ReidDataset(name=name, root=str(root), images=images,
                       train=tuple(splits["train"]), query=tuple(splits["query"]),
                       gallery=tuple(splits["gallery"]), fixed_split=True,
                       multi_resolution=False)


def _read_market1501(root: Path) -> ReidDataset:
    return _market_layout("market1501", root, _MARKET, distractor_pid=0)


def _read_synth_market(root: Path) -> ReidDataset:
    return _market_layout("synth-market", root, _MARKET, distractor_pid=0)


def _read_dukemtmc(root: Path) -> ReidDataset:
    return _market_layout("dukemtmc", root, _DUKE, distractor_pid=None)


def _msmt17_list(name: str, list_path: Path, image_dir: Path,
                 pid_offset: int) -> list[ImageRecord]:
    """torchreid's MSMT17 reading: ``rel/path pid``, camera = 3rd '_' field - 1."""
    records = []
    for lineno, line in enumerate(list_path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        fields = Path(parts[0]).name.split("_") if parts else []
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit() or len(fields) < 3 \
                or not fields[2].isdigit():
            raise ValueError(
                f"{name}: {list_path} line {lineno} is {line!r}; expected "
                "'PPPP/PPPP_SSS_CC_....jpg pid' (MSMT17 list file)")
        records.append(_record(image_dir / parts[0], int(parts[1]) + pid_offset,
                               int(fields[2]) - 1))
    if not records:
        raise ValueError(f"{name}: {list_path} lists no images")
    return records


def _read_msmt17(root: Path) -> ReidDataset:
    """MSMT17 (V1 or V2). ``list_val.txt`` is not added to training (torchreid default).

    MSMT17 numbers test identities from 0 again; test pids are shifted by
    ``max(train pid) + 1`` so that one pid names one person across the dataset.
    """
    name = "msmt17"
    train_dir = next((root / d for d in ("train", "mask_train_v2") if (root / d).is_dir()), None)
    test_dir = next((root / d for d in ("test", "mask_test_v2") if (root / d).is_dir()), None)
    lists = ("list_train.txt", "list_query.txt", "list_gallery.txt")
    missing = ([] if train_dir else ["train (or mask_train_v2)"]) \
        + ([] if test_dir else ["test (or mask_test_v2)"]) \
        + [f for f in lists if not (root / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{name}: expected {_layout(name, root)}; "
            f"missing under {root}: {', '.join(missing)}")
    assert train_dir is not None and test_dir is not None
    train = _msmt17_list(name, root / "list_train.txt", train_dir, 0)
    offset = max(r.pid for r in train) + 1
    query = _msmt17_list(name, root / "list_query.txt", test_dir, offset)
    gallery = _msmt17_list(name, root / "list_gallery.txt", test_dir, offset)
    return ReidDataset(name=name, root=str(root), images=tuple(train + query + gallery),
                       train=tuple(train), query=tuple(query), gallery=tuple(gallery),
                       fixed_split=True, multi_resolution=False)


# ------------------------------------------------------------------ single-shot layouts
_CUHK03_FLAT = re.compile(r"^(\d+)_(\d{2})\.\w+$")


def _read_cuhk03(root: Path) -> ReidDataset:
    """CUHK03: new protocol (Market layout, fixed split) or flat ``PPPP_NN`` images."""
    name = "cuhk03"
    if (root / "bounding_box_train").is_dir():
        return _market_layout(name, root, _CUHK03_NP, distractor_pid=None)

    def parse(filename: str) -> tuple[int, int] | None:
        m = _CUHK03_FLAT.match(filename)
        if m is None or int(m.group(2)) > 9:
            return None
        return int(m.group(1)), 0 if int(m.group(2)) < 5 else 1

    records = _flat_records(name, root, parse, _layout(name, root))
    return _flat_dataset(name, root, records, multi_resolution=False)


_VIPER_FLAT = re.compile(r"^(\d+)_(\d+)_([12])\.\w+$")
_VIPER_CAM = re.compile(r"^(\d+)(?:_\d+)?\.\w+$")


def _read_viper(root: Path) -> ReidDataset:
    name = "viper"
    if (root / "cam_a").is_dir() and (root / "cam_b").is_dir():
        records = []
        for camid, folder in enumerate(("cam_a", "cam_b")):
            records += _flat_records(
                name, root / folder,
                lambda f, c=camid: (int(m.group(1)), c) if (m := _VIPER_CAM.match(f)) else None,
                "PPP_ANGLE.bmp")
    else:
        records = _flat_records(
            name, root,
            lambda f: (int(m.group(1)), int(m.group(3)) - 1) if (m := _VIPER_FLAT.match(f)) else None,
            _layout(name, root))
    return _flat_dataset(name, root, records, multi_resolution=False)


_PRID_FLAT = re.compile(r"^(\d+)_([ab])\.\w+$")
_PRID_OFFICIAL = re.compile(r"^person_(\d+)\.\w+$")


def _prid_disambiguate(records: list[ImageRecord]) -> list[ImageRecord]:
    """Give camera-b-only people a pid of their own.

    In the official release, numbers above 200 name different people in camera a
    (201-385) and camera b (201-749); a camera-b number that camera a also uses is shifted
    by :data:`PRID_CAM_B_ONLY_OFFSET` (``person_0201`` of cam_b -> pid 1201). Copies that
    are already disambiguated this way (``../shared/data/PRID``: ``1201_b.png``) are
    left as they are.
    """
    cam_a = {r.pid for r in records if r.camid == 0}
    return [dataclasses.replace(r, pid=r.pid + PRID_CAM_B_ONLY_OFFSET)
            if r.camid == 1 and r.pid > PRID_TWO_CAMERA_IDS and r.pid in cam_a else r
            for r in records]


def _read_prid(root: Path) -> ReidDataset:
    """PRID 2011 single-shot: 385 people in camera a, 749 in b, the first 200 in both."""
    name = "prid"
    base = root / "single_shot" if (root / "single_shot").is_dir() else root
    if (base / "cam_a").is_dir() and (base / "cam_b").is_dir():
        records = []
        for camid, folder in enumerate(("cam_a", "cam_b")):
            records += _flat_records(
                name, base / folder,
                lambda f, c=camid: (int(m.group(1)), c) if (m := _PRID_OFFICIAL.match(f)) else None,
                "person_PPPP.png")
    else:
        records = _flat_records(
            name, root,
            lambda f: (int(m.group(1)), "ab".index(m.group(2))) if (m := _PRID_FLAT.match(f)) else None,
            _layout(name, root))
    return _flat_dataset(name, root, _prid_disambiguate(records), multi_resolution=False)


_GRID = re.compile(r"^(\d+)_(\d+)_\d+_\d+_\d+_\d+_\d+\.\w+$")


def _read_grid(root: Path) -> ReidDataset:
    """QMUL GRID at native sizes; the camera is the second field of the name.

    In the official ``probe/``+``gallery/`` layout the 775 unpaired gallery images carry
    pid 0 (distractors); in the flat form (``../shared/data/GRID``) they carry their own
    numbers (251-1025), each seen once. Either way the protocols treat every image whose
    identity is not seen by two cameras as a gallery distractor.
    """
    name = "grid"

    def parse(filename: str) -> tuple[int, int] | None:
        m = _GRID.match(filename)
        return (int(m.group(1)), int(m.group(2)) - 1) if m else None

    expected = "PPPP_C_FRAME_X_Y_W_H.jpeg"
    if (root / "probe").is_dir() and (root / "gallery").is_dir():
        records = (_flat_records(name, root / "probe", parse, expected)
                   + _flat_records(name, root / "gallery", parse, expected))
    else:
        records = _flat_records(name, root, parse, _layout(name, root))
    return _flat_dataset(name, root, records, multi_resolution=True)


_CAVIAR = re.compile(r"^(\d{4})_?(\d{3})\.\w+$")


def _caviar_reader(name: str) -> Callable[[Path], ReidDataset]:
    def read(root: Path) -> ReidDataset:
        """CAVIAR4REID at native sizes: image 1-10 -> camera 0, 11-20 -> camera 1."""
        def parse(filename: str) -> tuple[int, int] | None:
            m = _CAVIAR.match(filename)
            if m is None or not 1 <= int(m.group(2)) <= 2 * CAVIAR_IMAGES_PER_CAMERA:
                return None
            return int(m.group(1)), (int(m.group(2)) - 1) // CAVIAR_IMAGES_PER_CAMERA

        records = _flat_records(name, root, parse, _layout(name, root))
        return _flat_dataset(name, root, records, multi_resolution=True)
    return read


_READERS: dict[str, Callable[[Path], ReidDataset]] = {
    "synth-market": _read_synth_market,
    "synth-caviar": _caviar_reader("synth-caviar"),
    "market1501": _read_market1501,
    "dukemtmc": _read_dukemtmc,
    "msmt17": _read_msmt17,
    "cuhk03": _read_cuhk03,
    "viper": _read_viper,
    "caviar": _caviar_reader("caviar"),
    "grid": _read_grid,
    "prid": _read_prid,
}

#: Every dataset name :func:`load_dataset` accepts (same set as ``config.DATASETS``).
DATASET_NAMES: tuple[str, ...] = tuple(_READERS)


def load_dataset(name: str, root: str | os.PathLike[str], *, verify: bool = False) -> ReidDataset:
    """Read dataset ``name`` from ``root`` (layouts: :data:`LAYOUTS`).

    Sizes come from image headers. With ``verify=True`` every image is also fully
    decoded, so a file truncated after its header raises :class:`ImageReadError` here
    rather than at training time (slow on large datasets).
    """
    if name not in _READERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASET_NAMES)}")
    dataset = _READERS[name](_root(name, root))
    if verify:
        for record in dataset.images:
            load_image(record.path)
    return dataset
