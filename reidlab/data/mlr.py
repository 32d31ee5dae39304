"""Multiple-low-resolution (MLR) synthesis, RFD Sec. 3.1.

An LR image is the HR image down-sampled by a factor ``r`` in {2, 3, 4} and up-sampled
back to its original size, so that every image keeps the same size and the network sees
the loss of detail, not a change of shape. The two filters are separate settings: RFD
down-samples bicubically (Sec. 4.3; Table 4 compares bicubic with bilinear) and up-samples
bilinearly (Sec. 3.1), which are the defaults here. Factors are drawn per image from a generator
seeded by ``(seed, trial, salt)``: the draw is a pure function of those, not of the number
of workers or of the order in which images are loaded.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from reidlab import choices
from reidlab.data.images import load_image
from reidlab.data.records import ImageRecord

if TYPE_CHECKING:
    from reidlab.config import DataConfig

__all__ = ["INTERPOLATIONS", "check_interpolation", "degrade", "degradation_kwargs", "assign_factors",
           "stable_hash", "materialise_degraded"]

#: Resampling filters accepted by :func:`degrade`: the PIL filter of each name in
#: :data:`reidlab.choices.INTERPOLATIONS`.
INTERPOLATIONS: dict[str, Image.Resampling] = {name: Image.Resampling[name.upper()]
                                               for name in choices.INTERPOLATIONS}


def _check_factor(factor: object) -> int:
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"factor must be an integer >= 1, got {factor!r}")
    return int(factor)


def check_interpolation(interpolation: str, name: str = "interpolation") -> Image.Resampling:
    """The PIL filter named ``interpolation``; a ``ValueError`` naming the parameter ``name`` and
    the valid choices otherwise."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"{name}={interpolation!r} is not valid; choose one of: "
                         f"{', '.join(INTERPOLATIONS)}")
    return INTERPOLATIONS[interpolation]


def degrade(img: Image.Image, factor: int, interpolation: str = "bicubic",
            upsampling: str = "bilinear") -> Image.Image:
    """Down-sample ``img`` by ``factor`` with ``interpolation`` and up-sample it back to its
    size with ``upsampling`` (RFD Sec. 3.1: bicubic down, bilinear up).

    The intermediate size is ``(max(1, w // factor), max(1, h // factor))``, matching
    :attr:`ImageRecord.pixel_count`. ``factor == 1`` returns ``img`` itself, unchanged.
    """
    if not isinstance(img, Image.Image):
        raise TypeError(f"degrade expects a PIL.Image.Image, got {type(img).__name__}")
    factor = _check_factor(factor)
    down = check_interpolation(interpolation)
    up = check_interpolation(upsampling, "upsampling")
    if factor == 1:
        return img
    width, height = img.size
    small = img.resize((max(1, width // factor), max(1, height // factor)), down)
    return small.resize((width, height), up)


def degradation_kwargs(data: DataConfig) -> dict[str, str]:
    """The degradation settings of a :class:`~reidlab.config.DataConfig` as keyword arguments
    (``interpolation``: the down-sampling filter, ``upsampling``), for every function that
    loads degraded images (datasets, extraction, plots)."""
    return {"interpolation": data.interpolation, "upsampling": data.upsampling}


def stable_hash(text: str) -> int:
    """A 64-bit hash of ``text`` that is the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _check_seed(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def assign_factors(n: int, factors: Sequence[int] = (2, 3, 4), seed: int = 0,
                   trial: int = 0, salt: str = "") -> np.ndarray:
    """``n`` factors drawn uniformly from ``factors``, reproducible from ``(seed, trial, salt)``.

    Uses ``np.random.default_rng([seed, trial, stable_hash(salt)])``; ``salt`` separates
    independent draws of one trial (e.g. query vs. gallery).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    choices = [_check_factor(f) for f in factors]
    if not choices:
        raise ValueError("factors must not be empty")
    rng = np.random.default_rng([_check_seed("seed", seed), _check_seed("trial", trial),
                                 stable_hash(salt)])
    return rng.choice(np.asarray(choices, dtype=np.int64), size=int(n))


def _relative_path(path: Path, root: Path | None, common: Path) -> Path:
    base = root if root is not None else common
    try:
        return path.relative_to(base)
    except ValueError as exc:
        raise ValueError(f"{path} is not under {base}; pass root= the dataset root") from exc


def materialise_degraded(records: Sequence[ImageRecord], out_root: str | os.PathLike[str],
                         interpolation: str = "bicubic", *, upsampling: str = "bilinear",
                         root: str | os.PathLike[str] | None = None,
                         by_factor: bool = False, jpeg_quality: int = 95) -> list[Path]:
    """Write each record degraded by its ``factor`` under ``out_root``, for inspection.

    Files keep their path relative to ``root`` (default: the deepest folder common to all
    records), so a materialised query folder has the dataset's own layout and names. A
    file that appears with several factors (the MLR training set lists every image at
    x1..x4) cannot share one name: pass ``by_factor=True`` to write under
    ``out_root/x<factor>/...`` instead. JPEG files are saved at ``jpeg_quality``.

    Returns the written paths, one per record, in order.
    """
    check_interpolation(interpolation)
    check_interpolation(upsampling, "upsampling")
    if not records:
        return []
    out = Path(out_root)
    paths = [Path(r.path).resolve() for r in records]
    base = Path(root).resolve() if root is not None else None
    common = Path(os.path.commonpath([str(p.parent) for p in paths]))
    written: list[Path] = []
    done: dict[Path, int] = {}
    for record, path in zip(records, paths):
        rel = _relative_path(path, base, common)
        target = out / f"x{record.factor}" / rel if by_factor else out / rel
        previous = done.get(target)
        if previous is not None and previous != record.factor:
            raise ValueError(f"{path} appears with factors {previous} and {record.factor}; "
                             "pass by_factor=True to write one folder per factor")
        if previous is None:
            image = degrade(load_image(path), record.factor, interpolation, upsampling)
            target.parent.mkdir(parents=True, exist_ok=True)
            options = {"quality": jpeg_quality} if target.suffix.lower() in (".jpg", ".jpeg") else {}
            image.save(target, **options)
            done[target] = record.factor
        written.append(target)
    return written
