"""Image file I/O shared by the readers, the MLR tools and the torch datasets.

The first two raise :class:`ImageReadError` naming the file on failure:

* :func:`read_image_size` reads the size from the file header only (no pixel decode), so
  listing a dataset of tens of thousands of images stays cheap;
* :func:`load_image` decodes the whole file and returns an RGB ``PIL.Image`` (grey,
  palette, RGBA, ... are converted; 16-bit and float greyscale are scaled to 8 bits), so a
  truncated file fails here at the latest;
* :func:`verify_images` decodes every file of a dataset once (results cached per file by
  :mod:`reidlab.data.filecache`) and returns the bad ones with the reason.

Truncated files are never loaded silently: PIL's global ``ImageFile.LOAD_TRUNCATED_IMAGES``
(which fills a cut file with grey) is refused when some other code has switched it on.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageFile, UnidentifiedImageError

from reidlab.data.filecache import cached_facts

#: File extensions treated as images by every reader (compared in lower case).
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp")

_PIL_ERRORS = (OSError, SyntaxError, ValueError, UnidentifiedImageError,
               Image.DecompressionBombError)


class ImageReadError(OSError):
    """An image file that cannot be read (missing, empty, not an image, truncated).

    Attributes:
        path: the offending file.
        reason: what went wrong, in words.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")

    def __reduce__(self):  # keep the two-argument constructor picklable (DataLoader workers)
        return (type(self), (self.path, self.reason))


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has one of :data:`IMAGE_EXTENSIONS` (the file is not opened)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _describe(path: Path, exc: BaseException) -> str:
    if not path.exists():
        return "no such file"
    if path.is_file() and path.stat().st_size == 0:
        return "the file is empty"
    return f"{type(exc).__name__}: {exc}"


def read_image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of an image, read from its header without decoding pixels."""
    p = Path(path)
    try:
        with Image.open(p) as im:
            width, height = im.size
    except _PIL_ERRORS as exc:
        raise ImageReadError(p, _describe(p, exc)) from exc
    if width <= 0 or height <= 0:
        raise ImageReadError(p, f"header gives an empty size {width}x{height}")
    return int(width), int(height)


#: Greyscale modes with more than 8 bits per pixel (16-bit PNG, 32-bit int, float).
WIDE_GREY_MODES: tuple[str, ...] = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_UINT16_MAX = 65535


def _wide_grey_to_8bit(im: Image.Image, path: Path) -> Image.Image:
    """An ``L`` image from a 16-bit, 32-bit integer or float greyscale one.

    ``Image.convert`` clips these to 0..255, so a 16-bit file loads as white. Here:
    16-bit (``I;16*``) and ``I`` images whose values lie in 0..65535 map the full 16-bit
    range onto 0..255 (divide by 257); ``F`` images in 0..1 are scaled by 255, others
    clipped to 0..255 (NaN -> 0). ``I`` values outside 0..65535 are refused.
    """
    a = np.asarray(im)
    if im.mode == "F":
        a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        if a.size and a.min() >= 0.0 and a.max() <= 1.0:
            a = a * 255.0
        out = np.clip(np.rint(a), 0, 255)
    else:
        a = a.astype(np.int64)
        if a.size and (a.min() < 0 or a.max() > _UINT16_MAX):
            raise ImageReadError(path, f"{im.mode} greyscale values span {a.min()}..{a.max()}, "
                                       "outside the 16-bit range 0..65535 this loader maps "
                                       "to 8 bits")
        out = np.rint(a / 257.0)
    return Image.fromarray(out.astype(np.uint8))   # 2-D uint8 -> mode "L"


def _to_rgb(im: Image.Image, path: Path) -> Image.Image:
    if im.mode == "RGB":
        return im.copy()
    if im.mode in WIDE_GREY_MODES:
        return _wide_grey_to_8bit(im, path).convert("RGB")
    return im.convert("RGB")


def refuse_truncated_loading() -> None:
    """Raise ``RuntimeError`` when ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is on.

    With it, PIL fills a cut file with grey instead of failing, so a damaged dataset would
    train silently. The project never switches it on; this catches a library that does.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True (switched on by some imported "
            "code): truncated images would load as grey instead of failing. reidlab "
            "refuses to train on them; set PIL.ImageFile.LOAD_TRUNCATED_IMAGES = False")


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Decode ``path`` fully and return it as an RGB image.

    Grey (``L``, ``1``), palette (``P``), ``LA``/``RGBA`` and ``CMYK`` images are
    converted with ``Image.convert("RGB")``; an alpha channel is dropped (pixels keep
    their stored colour). 16-bit, 32-bit integer and float greyscale
    (:data:`WIDE_GREY_MODES`) are scaled to 8 bits first (see :func:`_wide_grey_to_8bit`).
    Missing, empty, undecodable or truncated files raise :class:`ImageReadError` naming
    the file. While ``ImageFile.LOAD_TRUNCATED_IMAGES`` is on, every call raises
    ``RuntimeError`` (:func:`refuse_truncated_loading`).
    """
    refuse_truncated_loading()
    p = Path(path)
    try:
        with Image.open(p) as im:
            im.load()
            return _to_rgb(im, p)
    except _PIL_ERRORS as exc:
        if isinstance(exc, ImageReadError):
            raise
        raise ImageReadError(p, _describe(p, exc)) from exc


#: Value of a decode check that passed (anything else is the reason it failed).
DECODES_OK = "ok"


def decode_problem(path: str | os.PathLike[str]) -> str:
    """``""`` when :func:`load_image` decodes ``path`` fully, else the reason in words."""
    try:
        load_image(path)
    except ImageReadError as exc:
        return exc.reason
    return ""


def _decode_fact(path: Path) -> str:
    return decode_problem(path) or DECODES_OK


def verify_images(paths: Iterable[str | os.PathLike[str]], *,
                  cache_dir: str | os.PathLike[str] | None = None,
                  progress: bool = False) -> dict[str, str]:
    """Fully decode every image once; return ``{absolute path: reason}`` of the bad ones.

    Results are cached per file (:mod:`reidlab.data.filecache`, keyed by the Pillow
    version too), so verifying an unchanged dataset again only ``stat``-s its files. A
    missing file is reported as bad, not raised.
    """
    refuse_truncated_loading()      # a cached "ok" must not hide the flag being on
    bad: dict[str, str] = {}
    present = []
    for p in dict.fromkeys(os.path.abspath(os.fspath(p)) for p in paths):
        if os.path.isfile(p):
            present.append(p)
        else:
            bad[p] = "no such file" if not os.path.lexists(p) else "not a readable file"
    fact = f"decodes-pillow-{PIL.__version__}"
    results = cached_facts(present, fact, _decode_fact, cache_dir=cache_dir,
                           progress=progress, desc="verifying images")
    bad.update((p, r) for p, r in zip(present, results) if r != DECODES_OK)
    return bad
