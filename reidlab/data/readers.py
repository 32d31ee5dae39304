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

Bad input raises ``FileNotFoundError`` (a missing folder, naming the expected layout) or
``ValueError`` (no usable images, names matching no layout, unknown dataset).

Damaged files are *skipped and counted*, not fatal: dangling symlinks, files whose header
cannot be read, images below :data:`MIN_WIDTH` x :data:`MIN_HEIGHT` pixels, files an
MSMT17 list names but that are absent and, with ``verify=True``, files whose pixel data
does not decode (truncated or corrupt). Real datasets often hold a few such files, and one
1x1 image would move every pseudo-label bin edge. Each dataset records what was left out
(``ReidDataset.skipped``, ``skipped_examples``) and :func:`load_dataset` warns
(:class:`SkippedImagesWarning`) naming the files; ``strict=True`` raises
:class:`ImageReadError` on the first damaged file instead. Hidden files, files without an
image extension and Market-1501 junk are left out as well and counted for information.
"""
from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reidlab.choices import DATASETS
from reidlab.data.images import (
    IMAGE_EXTENSIONS, ImageReadError, is_image_file, read_image_size, verify_images,
)
from reidlab.data.records import (
    MIN_HEIGHT, MIN_WIDTH, PROBLEM_SKIPS, SKIP_KINDS, ImageRecord, ReidDataset,
)
from reidlab.data.synth import MANIFEST_NAME
from reidlab.paths import resolve

__all__ = [
    "DATASET_NAMES", "LAYOUTS", "ImageReadError", "SkippedImagesWarning", "load_dataset",
    "PRID_TWO_CAMERA_IDS", "PRID_CAM_B_ONLY_OFFSET", "CAVIAR_IMAGES_PER_CAMERA",
    "MIN_WIDTH", "MIN_HEIGHT", "MAX_SKIPPED_EXAMPLES",
]

#: PRID 2011 single-shot: persons 1-200 are seen by both cameras; numbers above 200 name
#: different people in camera a (201-385) and camera b (201-749).
PRID_TWO_CAMERA_IDS = 200
#: Added to a camera-b person number above 200 that camera a also uses, so that two
#: people never share a pid (official ``cam_b/person_0201.png`` -> pid 1201).
PRID_CAM_B_ONLY_OFFSET = 1000
#: CAVIAR4REID: images 1-10 of an identity come from one camera, 11-20 from the other.
CAVIAR_IMAGES_PER_CAMERA = 10
#: Paths kept per kind of skipped file in ``ReidDataset.skipped_examples``.
MAX_SKIPPED_EXAMPLES = 20

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


class SkippedImagesWarning(UserWarning):
    """A dataset was read with damaged files left out (see ``ReidDataset.skipped``)."""


class _Skips:
    """Files a reader leaves out, counted by kind; ``strict`` raises on damaged ones."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def add(self, kind: str, path: Path | str, reason: str = "") -> None:
        """Count ``path`` as skipped for ``kind`` (one of :data:`SKIP_KINDS`)."""
        assert kind in SKIP_KINDS, kind
        if self.strict and kind in PROBLEM_SKIPS:
            raise ImageReadError(path, reason or kind.replace("_", " "))
        self.counts[kind] += 1
        shown = self.examples.setdefault(kind, [])
        if len(shown) < MAX_SKIPPED_EXAMPLES:
            shown.append(str(path))

    def attach(self, dataset: ReidDataset) -> ReidDataset:
        """``dataset`` with these counts and examples (in :data:`SKIP_KINDS` order)."""
        kinds = [k for k in SKIP_KINDS if self.counts[k]]
        return dataclasses.replace(
            dataset, skipped=tuple((k, self.counts[k]) for k in kinds),
            skipped_examples=tuple((k, tuple(self.examples[k])) for k in kinds))

    def summary(self) -> str:
        return self.attach(ReidDataset(name="", root="", images=())).describe_skipped()


# ----------------------------------------------------------------------------- helpers
def _image_files(folder: Path, skips: _Skips) -> list[Path]:
    """Image files directly in ``folder``, sorted by name; what else is there is counted.

    Sub-folders are ignored; hidden files, files without an image extension and image
    names that are dangling symlinks are counted in ``skips`` (the SynthPeople manifest is
    expected, not counted).
    """
    files = []
    for p in sorted(folder.iterdir()):
        if p.is_dir():
            continue
        if p.name.startswith("."):
            skips.add("hidden", p)
        elif not is_image_file(p):
            if p.name != MANIFEST_NAME:
                skips.add("not_image", p)
        elif p.is_symlink() and not p.exists():
            skips.add("dangling_symlink", p, f"a symbolic link to {os.readlink(p)}, "
                                             "which does not exist")
        elif p.is_file():                               # not a fifo, socket or device
            files.append(p)
    return files


def _require_dirs(name: str, root: Path, folders: Iterable[str]) -> None:
    missing = [f for f in folders if not (root / f).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{name}: expected {_layout(name, root)}; "
            f"missing: {', '.join(str(root / f) for f in missing)}")


def _no_images(name: str, folder: Path, skips: _Skips) -> ValueError:
    skipped = skips.summary()
    return ValueError(f"{name}: {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
                      f"expected {_layout(name, folder)}"
                      + (f"; skipped: {skipped}" if skipped else ""))


def _unmatched(name: str, folder: Path, bad: list[str], expected: str) -> ValueError:
    shown = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
    return ValueError(f"{name}: {len(bad)} image name(s) in {folder} match no known "
                      f"layout (expected {expected}), e.g. {shown}")


def _size_problem(width: int, height: int) -> str:
    """Why a ``width`` x ``height`` image is refused, or ``""``."""
    if width >= MIN_WIDTH and height >= MIN_HEIGHT:
        return ""
    return (f"the image is {width}x{height} pixels, below the minimum "
            f"{MIN_WIDTH}x{MIN_HEIGHT} (MIN_WIDTH x MIN_HEIGHT) of a person crop")


def _record(path: Path, pid: int, camid: int, skips: _Skips) -> ImageRecord | None:
    """The record of ``path``, or ``None`` (counted in ``skips``) when it is unusable."""
    try:
        width, height = read_image_size(path)
    except ImageReadError as exc:
        skips.add("unreadable", path, exc.reason)
        return None
    if problem := _size_problem(width, height):
        skips.add("too_small", path, problem)
        return None
    return ImageRecord(path=str(path), pid=pid, camid=camid, width=width, height=height)


def _records(entries: Iterable[tuple[Path, int, int]], skips: _Skips) -> list[ImageRecord]:
    """Records of ``(path, pid, camid)`` entries, unusable files left out (and counted)."""
    return [rec for entry in entries if (rec := _record(*entry, skips)) is not None]


def _parse_names(name: str, folder: Path, parse: Callable[[str], tuple[int, int] | None],
                 expected: str, skips: _Skips) -> list[tuple[Path, int, int]]:
    """``(path, pid, camid)`` for every image of ``folder``; every name must parse."""
    files = _image_files(folder, skips)
    if not files:
        raise _no_images(name, folder, skips)
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
                  expected: str, skips: _Skips) -> list[ImageRecord]:
    """Records of a folder whose image names ``parse`` maps to ``(pid, camid)``."""
    return _records(_parse_names(name, folder, parse, expected, skips), skips)


def _layout(name: str, root: Path) -> str:
    """The expected layout of ``name`` with ``<root>`` filled in."""
    return LAYOUTS[name].replace("<root>", str(root))


def _root(name: str, root: str | os.PathLike[str]) -> Path:
    """``root`` resolved (relative: to the repository root, :func:`reidlab.paths.resolve`)."""
    path = resolve(root, name="root").resolve()
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
                   distractor_pid: int | None, skips: _Skips) -> ReidDataset:
    """Market-1501-style folders: junk (-1) dropped, distractors in the gallery only."""
    _require_dirs(name, root, _MARKET_FOLDERS)
    splits: dict[str, list[ImageRecord]] = {}
    for split, folder in (("train", "bounding_box_train"), ("query", "query"),
                          ("gallery", "bounding_box_test")):
        keep = []
        entries = _parse_names(name, root / folder, pattern.parse, pattern.description, skips)
        for path, pid, camid in entries:
            if pid == -1 or (pid == distractor_pid and split != "gallery"):
                skips.add("junk", path)
                continue
            keep.append((path, pid, camid))
        splits[split] = _records(keep, skips)
    images = tuple(splits["train"] + splits["query"] + splits["gallery"])
    return ReidDataset(name=name, root=str(root), images=images,
                       train=tuple(splits["train"]), query=tuple(splits["query"]),
                       gallery=tuple(splits["gallery"]), fixed_split=True,
                       multi_resolution=False)


def _read_market1501(root: Path, skips: _Skips) -> ReidDataset:
    return _market_layout("market1501", root, _MARKET, 0, skips)


def _read_synth_market(root: Path, skips: _Skips) -> ReidDataset:
    return _market_layout("synth-market", root, _MARKET, 0, skips)


def _read_dukemtmc(root: Path, skips: _Skips) -> ReidDataset:
    return _market_layout("dukemtmc", root, _DUKE, None, skips)


def _listed_file(path: Path, list_path: Path, lineno: int, skips: _Skips) -> bool:
    """Whether the file a list names is there (else counted: dangling link or missing)."""
    if path.is_file():
        return True
    if path.is_symlink():
        skips.add("dangling_symlink", path, f"a symbolic link to {os.readlink(path)}, which "
                                            f"does not exist ({list_path} line {lineno})")
    else:
        skips.add("missing", path, f"no such file ({list_path} line {lineno})")
    return False


def _msmt17_list(name: str, list_path: Path, image_dir: Path,
                 pid_offset: int, skips: _Skips) -> list[ImageRecord]:
    """torchreid's MSMT17 reading: ``rel/path pid``, camera = 3rd '_' field - 1."""
    entries = []
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
        if _listed_file(image_dir / parts[0], list_path, lineno, skips):
            entries.append((image_dir / parts[0], int(parts[1]) + pid_offset,
                            int(fields[2]) - 1))
    records = _records(entries, skips)
    if not records:
        skipped = skips.summary()
        raise ValueError(f"{name}: {list_path} lists no usable images"
                         + (f"; skipped: {skipped}" if skipped else ""))
    return records


def _read_msmt17(root: Path, skips: _Skips) -> ReidDataset:
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
    train = _msmt17_list(name, root / "list_train.txt", train_dir, 0, skips)
    offset = max(r.pid for r in train) + 1
    query = _msmt17_list(name, root / "list_query.txt", test_dir, offset, skips)
    gallery = _msmt17_list(name, root / "list_gallery.txt", test_dir, offset, skips)
    return ReidDataset(name=name, root=str(root), images=tuple(train + query + gallery),
                       train=tuple(train), query=tuple(query), gallery=tuple(gallery),
                       fixed_split=True, multi_resolution=False)


# ------------------------------------------------------------------ single-shot layouts
_CUHK03_FLAT = re.compile(r"^(\d+)_(\d{2})\.\w+$")


def _read_cuhk03(root: Path, skips: _Skips) -> ReidDataset:
    """CUHK03: new protocol (Market layout, fixed split) or flat ``PPPP_NN`` images."""
    name = "cuhk03"
    if (root / "bounding_box_train").is_dir():
        return _market_layout(name, root, _CUHK03_NP, None, skips)

    def parse(filename: str) -> tuple[int, int] | None:
        m = _CUHK03_FLAT.match(filename)
        if m is None or int(m.group(2)) > 9:
            return None
        return int(m.group(1)), 0 if int(m.group(2)) < 5 else 1

    records = _flat_records(name, root, parse, _layout(name, root), skips)
    return _flat_dataset(name, root, records, multi_resolution=False)


_VIPER_FLAT = re.compile(r"^(\d+)_(\d+)_([12])\.\w+$")
_VIPER_CAM = re.compile(r"^(\d+)(?:_\d+)?\.\w+$")


def _two_cameras(name: str, base: Path, root: Path, read: Callable[..., list[Any]], camera: re.Pattern[str],
                 expected: str, flat: Callable[[str], tuple[int, int] | None], skips: _Skips) -> list[Any]:
    """What ``read`` (:func:`_flat_records` or :func:`_parse_names`) gives for a two-camera
    dataset: the folders ``cam_a`` and ``cam_b`` of ``base`` (cameras 0 and 1, the pid the first
    group of ``camera``, names as ``expected``) when both exist, else the flat folder ``root``
    (``flat`` parses pid and camera of each name)."""
    if (base / "cam_a").is_dir() and (base / "cam_b").is_dir():
        found: list[Any] = []
        for camid, folder in enumerate(("cam_a", "cam_b")):
            found += read(name, base / folder,
                          lambda f, c=camid: (int(m.group(1)), c) if (m := camera.match(f)) else None,
                          expected, skips)
        return found
    return read(name, root, flat, _layout(name, root), skips)


def _read_viper(root: Path, skips: _Skips) -> ReidDataset:
    records = _two_cameras(
        "viper", root, root, _flat_records, _VIPER_CAM, "PPP_ANGLE.bmp",
        lambda f: (int(m.group(1)), int(m.group(3)) - 1) if (m := _VIPER_FLAT.match(f)) else None, skips)
    return _flat_dataset("viper", root, records, multi_resolution=False)


_PRID_FLAT = re.compile(r"^(\d+)_([ab])\.\w+$")
_PRID_OFFICIAL = re.compile(r"^person_(\d+)\.\w+$")


def _prid_disambiguate(entries: list[tuple[Path, int, int]]) -> list[tuple[Path, int, int]]:
    """Give camera-b-only people a pid of their own (on ``(path, pid, camid)`` entries).

    In the official release, numbers above 200 name different people in camera a
    (201-385) and camera b (201-749); a camera-b number that camera a also uses is shifted
    by :data:`PRID_CAM_B_ONLY_OFFSET` (``person_0201`` of cam_b -> pid 1201). Copies that
    are already disambiguated this way (``../shared/data/PRID``: ``1201_b.png``) are
    left as they are. Decided on file names, before damaged files are left out, so a
    person's pid never depends on whether another file is readable.
    """
    cam_a = {pid for _, pid, camid in entries if camid == 0}
    return [(path, pid + PRID_CAM_B_ONLY_OFFSET, camid)
            if camid == 1 and pid > PRID_TWO_CAMERA_IDS and pid in cam_a else (path, pid, camid)
            for path, pid, camid in entries]


def _read_prid(root: Path, skips: _Skips) -> ReidDataset:
    """PRID 2011 single-shot: 385 people in camera a, 749 in b, the first 200 in both."""
    name = "prid"
    base = root / "single_shot" if (root / "single_shot").is_dir() else root
    entries = _two_cameras(
        name, base, root, _parse_names, _PRID_OFFICIAL, "person_PPPP.png",
        lambda f: (int(m.group(1)), "ab".index(m.group(2))) if (m := _PRID_FLAT.match(f)) else None, skips)
    records = _records(_prid_disambiguate(entries), skips)
    return _flat_dataset(name, root, records, multi_resolution=False)


_GRID = re.compile(r"^(\d+)_(\d+)_\d+_\d+_\d+_\d+_\d+\.\w+$")


def _read_grid(root: Path, skips: _Skips) -> ReidDataset:
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
        records = (_flat_records(name, root / "probe", parse, expected, skips)
                   + _flat_records(name, root / "gallery", parse, expected, skips))
    else:
        records = _flat_records(name, root, parse, _layout(name, root), skips)
    return _flat_dataset(name, root, records, multi_resolution=True)


_CAVIAR = re.compile(r"^(\d{4})_?(\d{3})\.\w+$")


def _caviar_reader(name: str) -> Callable[[Path, _Skips], ReidDataset]:
    def read(root: Path, skips: _Skips) -> ReidDataset:
        """CAVIAR4REID at native sizes: image 1-10 -> camera 0, 11-20 -> camera 1."""
        def parse(filename: str) -> tuple[int, int] | None:
            m = _CAVIAR.match(filename)
            if m is None or not 1 <= int(m.group(2)) <= 2 * CAVIAR_IMAGES_PER_CAMERA:
                return None
            return int(m.group(1)), (int(m.group(2)) - 1) // CAVIAR_IMAGES_PER_CAMERA

        records = _flat_records(name, root, parse, _layout(name, root), skips)
        return _flat_dataset(name, root, records, multi_resolution=True)
    return read


_READERS: dict[str, Callable[[Path, _Skips], ReidDataset]] = {
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

#: Every dataset name :func:`load_dataset` accepts: :data:`reidlab.choices.DATASETS`, each of
#: which has its reader above (checked here, so a name is never valid without one).
DATASET_NAMES: tuple[str, ...] = DATASETS
if tuple(_READERS) != DATASETS:
    raise ImportError(f"readers {tuple(_READERS)} and reidlab.choices.DATASETS {DATASETS} disagree")


def _without(dataset: ReidDataset, paths: set[str]) -> ReidDataset:
    """``dataset`` with the records of ``paths`` (absolute) removed from every part."""
    def keep(records: tuple[ImageRecord, ...]) -> tuple[ImageRecord, ...]:
        return tuple(r for r in records if os.path.abspath(r.path) not in paths)
    return dataclasses.replace(dataset, images=keep(dataset.images), train=keep(dataset.train),
                               query=keep(dataset.query), gallery=keep(dataset.gallery))


def load_dataset(name: str, root: str | os.PathLike[str], *, verify: bool = False,
                 strict: bool = False, cache_dir: str | os.PathLike[str] | None = None,
                 progress: bool = False) -> ReidDataset:
    """Read dataset ``name`` from ``root`` (layouts: :data:`LAYOUTS`).

    Args:
        name: one of :data:`DATASET_NAMES`.
        root: the dataset folder (a relative path is relative to the repository root).
        verify: also decode every image fully, so a file truncated or corrupt after its
            header is found now rather than at training time; decode results are cached
            per file (``cache_dir``), so verifying an unchanged dataset again is fast.
        strict: raise :class:`ImageReadError` on the first damaged file (dangling link,
            unreadable, too small, missing, undecodable) instead of leaving it out.
        cache_dir: folder of the on-disk verification cache (``None``: this process only).
        progress: show a progress bar while verifying.

    Sizes come from image headers. Damaged files are left out and counted in
    ``ReidDataset.skipped`` (with a :class:`SkippedImagesWarning` naming them); a dataset
    left with no image at all is refused (``ValueError``).
    """
    if name not in _READERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASET_NAMES)}")
    skips = _Skips(strict)
    folder = _root(name, root)
    dataset = _READERS[name](folder, skips)
    if verify:
        bad = verify_images([r.path for r in dataset.images], cache_dir=cache_dir,
                            progress=progress)
        for path, reason in sorted(bad.items()):
            skips.add("undecodable", path, reason)
        dataset = _without(dataset, set(bad))
    dataset = skips.attach(dataset)
    if not dataset.images:
        raise ValueError(f"{name}: no usable image under {folder} (expected "
                         f"{_layout(name, folder)}); skipped: {dataset.describe_skipped()}")
    if problems := dataset.skipped_problems:
        listed = dataset.describe_skipped(examples=5, kinds=PROBLEM_SKIPS)
        warnings.warn(SkippedImagesWarning(
            f"{name}: left out {sum(problems.values())} damaged file(s) under {folder}: "
            f"{listed}. The dataset is read without them (see ReidDataset.skipped / "
            "skipped_examples); delete or re-extract these files to silence this warning, "
            "or pass strict=True to refuse the dataset instead."), stacklevel=2)
    return dataset
