"""Torch datasets over :class:`ImageRecord` lists (contract: docs/architecture.md).

A record is loaded as stored (RGB), degraded by its ``factor`` with
:func:`reidlab.data.mlr.degrade` (RFD Sec. 3.1: down by ``factor``, back up to the stored
size), then transformed. Keys are ``int`` or ``(int, aug_seed)``; with an ``aug_seed``
every random transform runs on torch's CPU generator forked and seeded by it (as
``torch.random.fork_rng()`` + ``torch.manual_seed``, see :func:`_cpu_rng_seeded`), so the
augmented tensor is a pure function of ``(index, aug_seed)``: independent of worker
count and of what was drawn before, as exact resume needs.

``cache_images=True`` keeps each decoded stored image (uint8 array, one per file even when
several records share it, as the x1..x4 MLR training copies do) so repeated epochs never
decode a file twice; each DataLoader worker process holds its own cache.
"""
from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms as T

from reidlab.data.images import ImageReadError, load_image
from reidlab.data.mlr import check_interpolation, degrade
from reidlab.data.records import ImageRecord

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "build_transforms", "load_image",
           "ImageReadError", "ReidImageDataset", "PairedLRHRDataset"]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

Transform = Callable[[Image.Image], Any]


def build_transforms(height: int, width: int, train: bool, random_erasing: bool = True,
                     pad_crop: int = 0) -> T.Compose:
    """Resize to ``(height, width)``, [flip], [pad + crop], ToTensor, ImageNet Normalize, [erasing].

    Training adds ``RandomHorizontalFlip(0.5)``; with ``pad_crop > 0``, ``Pad(pad_crop)``
    (zeros) and ``RandomCrop((height, width))`` after the flip, i.e. a random translation by
    up to ``pad_crop`` pixels each way (PS-HRNet authors' ``data_loader.py``,
    ``ImageDatasettrain``: resize to 256x128, flip, ``Pad(10)``, crop back to 256x128); and,
    if ``random_erasing``, ``RandomErasing(p=0.5, value=0)`` (0 = the ImageNet mean after
    normalisation). ``pad_crop`` is ignored when ``train`` is false.
    """
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(pad_crop, bool) or not isinstance(pad_crop, int) or pad_crop < 0:
        raise ValueError(f"pad_crop must be an integer >= 0, got {pad_crop!r}")
    steps: list[Any] = [T.Resize((height, width), interpolation=T.InterpolationMode.BILINEAR)]
    if train:
        steps.append(T.RandomHorizontalFlip(p=0.5))
        if pad_crop > 0:
            steps += [T.Pad(pad_crop), T.RandomCrop((height, width))]
    steps += [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if train and random_erasing:
        steps.append(T.RandomErasing(p=0.5, value=0))
    return T.Compose(steps)


def _parse_key(key: Any, length: int) -> tuple[int, int | None]:
    """``int`` or ``(int, aug_seed)`` -> ``(index, aug_seed or None)``."""
    if isinstance(key, (tuple, list)):
        if len(key) != 2:
            raise TypeError(f"a dataset key is an int or (index, aug_seed), got {key!r}")
        index, seed = operator.index(key[0]), operator.index(key[1])
        if seed < 0:
            raise ValueError(f"aug_seed must be >= 0, got {seed}")
    else:
        try:
            index, seed = operator.index(key), None
        except TypeError:
            raise TypeError(f"a dataset key is an int or (index, aug_seed), got {key!r}") from None
    if not 0 <= index < length:
        raise IndexError(f"index {index} out of range for a dataset of {length} records")
    return index, seed


@contextlib.contextmanager
def _cpu_rng_seeded(seed: int) -> Iterator[None]:
    """``torch.random.fork_rng(devices=[])`` + ``torch.manual_seed(seed)``, CPU only.

    torchvision's transforms draw from torch's default CPU generator, so seeding that one
    gives exactly the values of the contract's recipe while skipping ``manual_seed``'s
    accelerator bookkeeping (about 0.1 ms per call, a third of an item's cost on CPU).
    The generator's state is restored afterwards, as ``fork_rng`` does.
    """
    generator = torch.default_generator
    state = generator.get_state()
    generator.manual_seed(seed)
    try:
        yield
    finally:
        generator.set_state(state)


def _transform(transform: Transform | None, img: Image.Image, seed: int | None) -> Any:
    """Apply ``transform``, seeded by ``seed`` without touching the global RNG state."""
    if transform is None:
        return img
    if seed is None:
        return transform(img)
    with _cpu_rng_seeded(seed):
        return transform(img)


class _RecordImages(Dataset):
    """Shared loading: stored image (cached) -> degraded by the record's factor."""

    def __init__(self, records: Sequence[ImageRecord], transform: Transform | None,
                 labels: Sequence[int] | None, interpolation: str, upsampling: str,
                 cache_images: bool) -> None:
        check_interpolation(interpolation)
        check_interpolation(upsampling, "upsampling")
        self.records: tuple[ImageRecord, ...] = tuple(records)
        if labels is None:
            labels = [r.pid for r in self.records]
        if len(labels) != len(self.records):
            raise ValueError(f"labels has {len(labels)} entries for {len(self.records)} records")
        self.labels: tuple[int, ...] = tuple(int(x) for x in labels)
        self.transform = transform
        self.interpolation = interpolation
        self.upsampling = upsampling
        self.cache_images = cache_images
        self._cache: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.records)

    def stored_image(self, index: int) -> Image.Image:
        """The record's file as stored (RGB), from the cache when enabled."""
        path = self.records[index].path
        if not self.cache_images:
            return load_image(path)
        array = self._cache.get(path)
        if array is None:
            array = np.asarray(load_image(path), dtype=np.uint8)
            array.setflags(write=False)
            self._cache[path] = array
        return Image.fromarray(array)

    def degraded_image(self, index: int) -> Image.Image:
        """The stored image degraded by the record's ``factor`` (RFD Sec. 3.1)."""
        return degrade(self.stored_image(index), self.records[index].factor, self.interpolation,
                       self.upsampling)


class ReidImageDataset(_RecordImages):
    """``ds[i]`` or ``ds[(i, aug_seed)]`` -> ``(image, label, index)``.

    ``labels`` default to each record's ``pid`` (pass :func:`relabel`-ed ids for
    classification). ``transform=None`` returns the PIL image.
    """

    def __init__(self, records: Sequence[ImageRecord], transform: Transform | None,
                 labels: Sequence[int] | None = None, interpolation: str = "bicubic",
                 cache_images: bool = True, upsampling: str = "bilinear") -> None:
        super().__init__(records, transform, labels, interpolation, upsampling, cache_images)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Any, int, int]:
        index, seed = _parse_key(key, len(self))
        image = _transform(self.transform, self.degraded_image(index), seed)
        return image, self.labels[index], index


class PairedLRHRDataset(_RecordImages):
    """``ds[key]`` -> ``(lr_image, hr_image, label, index)`` for PS-HRNet.

    ``lr_image`` is the record degraded by its factor, ``hr_image`` the same file as
    stored (a factor-1 record gives two equal images). Both have the stored size
    (:func:`~reidlab.data.mlr.degrade` resizes back up) and go through ``transform``
    under the same seed (``aug_seed`` when given, else one drawn from torch's global
    generator), so every random draw of the transform (flip, pad + crop offset, erased
    region) is the same for both: the pair stays pixel-aligned, as the PS-HRNet authors'
    ``ImageDatasettrain`` does with its joint ``RandomHorizontalFlip2`` and
    ``Random2DTranslation.twoimages``.
    """

    def __init__(self, records: Sequence[ImageRecord], transform: Transform | None,
                 labels: Sequence[int] | None = None, interpolation: str = "bicubic",
                 cache_images: bool = True, upsampling: str = "bilinear") -> None:
        super().__init__(records, transform, labels, interpolation, upsampling, cache_images)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Any, Any, int, int]:
        index, seed = _parse_key(key, len(self))
        if seed is None:
            seed = int(torch.randint(0, 2**62, ()).item())
        hr = self.stored_image(index)
        lr = degrade(hr, self.records[index].factor, self.interpolation, self.upsampling)
        if lr.size != hr.size:      # the shared draws would then differ (crop, erasing)
            raise ValueError(f"{self.records[index].path}: the degraded image is {lr.size}, the "
                             f"stored one {hr.size}; a pair needs one size to share its "
                             "augmentation")
        return (_transform(self.transform, lr, seed), _transform(self.transform, hr, seed),
                self.labels[index], index)
