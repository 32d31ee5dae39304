"""Record types shared by every reader, protocol and loader.

One record is one image file, plus the degradation a protocol asks to apply when it
is loaded (``factor``), so that multi-low-resolution (MLR) datasets never need to be
materialised on disk.
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: Known down-sampling factors of the MLR protocols and their resolution classes
#: (RFD Sec. 3.1 / 3.4: HR=0, x2=1, x3=2, x4=3).
FACTOR_TO_RES_CLASS: dict[int, int] = {1: 0, 2: 1, 3: 2, 4: 3}
RES_CLASS_NAMES: tuple[str, ...] = ("HR", "x2", "x3", "x4")


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

    @property
    def num_ids(self) -> int:
        return len({r.pid for r in self.images if r.pid >= 0})


@dataclass(frozen=True)
class ProtocolSplit:
    """What one trial of an evaluation protocol hands to training and evaluation.

    ``train`` records carry ``res_label`` (B-R's target) and ``factor``; B-F uses
    them with ``pid``. ``query`` and ``gallery`` records carry the factors to apply.
    """

    protocol: str
    dataset: str
    trial: int
    train: tuple[ImageRecord, ...]
    query: tuple[ImageRecord, ...]
    gallery: tuple[ImageRecord, ...]
    n_res_classes: int
    res_bin_edges: tuple[float, ...] = field(default=())
