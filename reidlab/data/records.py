"""Record types shared by every reader, protocol and loader.

One record is one image file, plus the degradation a protocol asks to apply when it
is loaded (``factor``), so that multi-low-resolution (MLR) datasets never need to be
materialised on disk.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

#: Known down-sampling factors of the MLR protocols and their resolution classes
#: (RFD Sec. 3.1 / 3.4: HR=0, x2=1, x3=2, x4=3).
FACTOR_TO_RES_CLASS: dict[int, int] = {1: 0, 2: 1, 3: 2, 4: 3}
RES_CLASS_NAMES: tuple[str, ...] = ("HR", "x2", "x3", "x4")

#: Smallest stored image (width, height) a reader accepts. A crop below 4x8 pixels holds
#: no person (the smallest crops of the supported datasets are far larger: CAVIAR4REID
#: about 17x39, GRID 29x67, SynthPeople 8x16), and a single 1x1 file would move every
#: pseudo-label bin edge (RFD Sec. 3.5). Smaller files are skipped and counted
#: (``too_small``); the limit stays low so that small native crops are never dropped.
MIN_WIDTH = 4
MIN_HEIGHT = 8

#: Kinds of skipped files that point at a damaged dataset (readers warn about them):
#: ``dangling_symlink`` (a link to nothing), ``missing`` (listed by an MSMT17 list file but
#: absent), ``unreadable`` (the header cannot be read: empty, not an image), ``too_small``
#: (below :data:`MIN_WIDTH` x :data:`MIN_HEIGHT`), ``undecodable`` (the header reads but
#: the pixel data does not decode: truncated or corrupt; found by verification).
PROBLEM_SKIPS: tuple[str, ...] = ("dangling_symlink", "missing", "unreadable", "too_small",
                                  "undecodable")
#: Kinds skipped by convention, counted for information only: ``hidden`` (dot files),
#: ``not_image`` (no image extension, e.g. ``Thumbs.db``), ``junk`` (pid -1, and pid-0
#: distractors outside the gallery, of the Market-1501 layouts, dropped as torchreid does).
INFO_SKIPS: tuple[str, ...] = ("hidden", "not_image", "junk")
SKIP_KINDS: tuple[str, ...] = PROBLEM_SKIPS + INFO_SKIPS

_INT_FIELDS: tuple[str, ...] = ("pid", "camid", "width", "height", "factor", "res_label")


def _as_int(owner: str, name: str, value: object, where: str) -> int:
    """``value`` as a plain ``int``; anything else (str, float, bool) is refused by name."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    raise TypeError(f"{owner}.{name} must be an int, got {type(value).__name__} {value!r}"
                    f"{where}" + ("; identity labels are integers (parse '0001' with int())"
                                   if name == "pid" else ""))


@dataclass(frozen=True)
class ImageRecord:
    """One image of a re-id dataset.

    Attributes:
        path: absolute or root-relative path of the image file.
        pid: person identity as written in the dataset (-1 junk, 0 distractor in Market).
        camid: camera index, 0-based.
        width, height: size in pixels of the stored file.
        factor: down-sampling factor applied when the image is loaded (1 = as stored).
        res_label: resolution class (known factor class on synthetic MLR data,
            pseudo-label on real multi-resolution data); -1 when unknown.
    """

    path: str
    pid: int
    camid: int
    width: int
    height: int
    factor: int = 1
    res_label: int = -1

    def __post_init__(self) -> None:
        # Refuse what would fail far away (a numpy ufunc error when pids become arrays).
        path = self.path
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
            object.__setattr__(self, "path", path)
        if not isinstance(path, str):
            raise TypeError(f"ImageRecord.path must be a str or os.PathLike, got "
                            f"{type(path).__name__} {path!r}")
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if type(value) is not int:          # numpy integers become int, others refused
                object.__setattr__(self, name, _as_int("ImageRecord", name, value,
                                                       f" (record of {path})"))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the stored file."""
        return (self.width, self.height)

    @property
    def pixel_count(self) -> int:
        """Pixels of the image content after degradation (used for pseudo-labels)."""
        return (self.width // self.factor) * (self.height // self.factor)


@dataclass(frozen=True)
class ReidDataset:
    """A dataset as read from disk, before any protocol is applied.

    Datasets with a fixed split (Market-1501, DukeMTMC-reID, MSMT17, CUHK03-new,
    SynthPeople ``market``) fill ``train``/``query``/``gallery``. Single-shot datasets
    evaluated over random identity splits (VIPeR, PRID, GRID, CAVIAR4REID, CUHK03 flat,
    SynthPeople ``caviar``) leave them empty and list everything in ``images``.
    """

    name: str
    root: str
    images: tuple[ImageRecord, ...]
    train: tuple[ImageRecord, ...] = ()
    query: tuple[ImageRecord, ...] = ()
    gallery: tuple[ImageRecord, ...] = ()
    fixed_split: bool = False
    multi_resolution: bool = False
    #: Files the reader left out, as ``(kind, count)`` pairs in :data:`SKIP_KINDS` order
    #: (``dict(ds.skipped)`` for a mapping); kinds with no file are absent.
    skipped: tuple[tuple[str, int], ...] = ()
    #: Up to a few paths per kind, ``(kind, (path, ...))`` pairs, for messages and notebooks.
    skipped_examples: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def num_ids(self) -> int:
        return len({r.pid for r in self.images if r.pid >= 0})

    @property
    def skipped_problems(self) -> dict[str, int]:
        """The counts of :data:`PROBLEM_SKIPS` kinds (damaged files), empty when clean."""
        return {kind: n for kind, n in self.skipped if kind in PROBLEM_SKIPS}

    def describe_skipped(self, examples: int = 3,
                         kinds: Iterable[str] | None = None) -> str:
        """One line: ``"2 unreadable (e.g. /x/a.jpg), 1 too_small (e.g. ...)"``, or ``""``.

        ``kinds`` restricts it to those kinds (e.g. :data:`PROBLEM_SKIPS`).
        """
        wanted = None if kinds is None else set(kinds)
        shown = dict(self.skipped_examples)
        parts = []
        for kind, n in self.skipped:
            if wanted is not None and kind not in wanted:
                continue
            paths = shown.get(kind, ())[:examples]
            more = f" (e.g. {', '.join(paths)}{', ...' if n > len(paths) else ''})" if paths else ""
            parts.append(f"{n} {kind}{more}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ProtocolSplit:
    """What one trial of an evaluation protocol hands to training and evaluation.

    ``train`` records carry ``res_label`` (B-R's target) and ``factor``; B-F uses
    them with ``pid``. ``query`` and ``gallery`` records carry the factors to apply.
    ``cross_camera``: evaluation ignores gallery images of the query's identity *and camera*
    (Market-1501's rule, the default); ``False``: every gallery image counts (RFD's
    multi-resolution CAVIAR setting, where a query and its one gallery image may share a camera).
    ``query_view``: on identity-split protocols, the view the single-resolution queries come from
    for every test identity (0: the identity's lowest camera index, 1: its other cameras; on
    natively multi-resolution data the lower-resolution, far one); ``None`` on fixed splits.
    """

    protocol: str
    dataset: str
    trial: int
    train: tuple[ImageRecord, ...]
    query: tuple[ImageRecord, ...]
    gallery: tuple[ImageRecord, ...]
    n_res_classes: int
    res_bin_edges: tuple[float, ...] = field(default=())
    cross_camera: bool = True
    query_view: int | None = None

    @functools.cached_property
    def _lowest_camera(self) -> dict[int, int]:
        """Each test identity's lowest camera index (its view 0), over query and gallery."""
        lowest: dict[int, int] = {}
        for r in (*self.query, *self.gallery):
            lowest[r.pid] = min(r.camid, lowest.get(r.pid, r.camid))
        return lowest

    def in_query_view(self, record: ImageRecord) -> bool:
        """Whether ``record`` (a test image of this split) is in :attr:`query_view` of its identity:
        the single-resolution setting's query side (e.g. CAVIAR's far camera)."""
        if self.query_view is None:
            raise ValueError(f"{self.dataset} {self.protocol}: this split has no query view "
                             "(only identity-split protocols such as CAVIAR's record one)")
        return (record.camid != self._lowest_camera[record.pid]) == bool(self.query_view)
