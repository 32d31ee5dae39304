"""Image file I/O shared by the readers, the MLR tools and the torch datasets.

Two entry points, both raising :class:`ImageReadError` naming the file on failure:

* :func:`read_image_size` reads the size from the file header only (no pixel decode), so
  listing a dataset of tens of thousands of images stays cheap;
* :func:`load_image` decodes the whole file and returns an RGB ``PIL.Image`` (grey,
  palette, RGBA, ... are converted), so a truncated file fails here at the latest.
"""
from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

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


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Decode ``path`` fully and return it as an RGB image.

    Grey (``L``, ``I``, ``1``), palette (``P``), ``LA``/``RGBA`` and ``CMYK`` images are
    converted with ``Image.convert("RGB")``; an alpha channel is dropped (pixels keep
    their stored colour). Missing, empty, undecodable or truncated files raise
    :class:`ImageReadError` naming the file.
    """
    p = Path(path)
    try:
        with Image.open(p) as im:
            im.load()
            return im.convert("RGB") if im.mode != "RGB" else im.copy()
    except _PIL_ERRORS as exc:
        raise ImageReadError(p, _describe(p, exc)) from exc
