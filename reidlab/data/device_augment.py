"""Training augmentation on the training device, from a cache of decoded images (issue 23).

The loader pipeline (:mod:`reidlab.data.dataset`) turns a key ``(index, aug_seed)`` into a
tensor in two parts:

* a **deterministic prefix**: the stored file, degraded by the record's factor (RFD Sec. 3.1),
  resized to the network's input size (:func:`~reidlab.data.dataset.build_transforms`' ``Resize``);
* a **random suffix**: horizontal flip, [pad + random crop], ``ToTensor``, ``Normalize``,
  [random erasing], each drawn from torch's CPU generator seeded by ``aug_seed``.

On a GPU fed by many CPU processes the suffix and the per-item decoding are what starve the
device. :class:`DeviceAugmentedBatches` runs the prefix once per record (DataLoader workers on the
CPU) into one ``uint8`` tensor kept on the device, and each batch's suffix in a few batched
kernels there. Every random parameter is drawn exactly as torchvision's transforms draw it
(their own ``get_params``, in their order, from a CPU generator seeded by the key's ``aug_seed``:
:func:`draw_parameters`), and the arithmetic is the same (``/ 255``, ``(x - mean) / std``, erased
pixels set to the value), so a batch equals the loader's collated batch bit for bit on the CPU
(``tests/test_device_augment.py``) and training is the same function of ``(seed, iteration)``:
``TrainConfig.augment_on`` is therefore not part of a run's identity.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from reidlab.data.dataset import PairedLRHRDataset, ReidImageDataset, _cpu_rng_seeded, _parse_key
from reidlab.progress import tqdm

__all__ = ["AugmentationSpec", "AugmentDraw", "augmentation_spec", "draw_parameters", "apply_augmentation",
           "DeviceAugmentedBatches"]


@dataclass(frozen=True)
class AugmentationSpec:
    """The random suffix of a training transform, as numbers (see :func:`augmentation_spec`)."""

    height: int
    width: int
    flip_p: float | None = None       # None: no flip step (a step with p=0 still draws, as torchvision's does)
    pad: int = 0                      # zero padding before the random crop back to height x width
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    erasing_p: float | None = None    # None: no erasing step
    erasing_scale: tuple[float, float] = (0.02, 0.33)
    erasing_ratio: tuple[float, float] = (0.3, 3.3)
    erasing_value: float = 0.0


@dataclass(frozen=True)
class AugmentDraw:
    """One item's random parameters: flip, crop offset in the padded image, erased box (or none)."""

    flip: bool
    top: int
    left: int
    erase: tuple[int, int, int, int] | None   # (row, column, height, width)


_SUPPORTED = ("Resize (first), RandomHorizontalFlip, Pad(n) + RandomCrop((height, width)), ToTensor, "
              "Normalize, RandomErasing(value=<number>) (last), in this order")


def augmentation_spec(transform: Any) -> tuple[T.Compose, AugmentationSpec]:
    """Split a :func:`~reidlab.data.dataset.build_transforms` pipeline into its deterministic
    prefix (a ``Compose`` of the leading ``Resize``, run once per record) and its random suffix as
    an :class:`AugmentationSpec`. Any other step raises ``ValueError`` naming it: such a
    pipeline trains with ``augment_on="loader"``."""
    steps = list(transform.transforms) if isinstance(transform, T.Compose) else [transform]
    if not steps or not isinstance(steps[0], T.Resize) or not isinstance(steps[0].size, (list, tuple)) \
            or len(steps[0].size) != 2:
        raise ValueError(f"device augmentation needs a pipeline starting with Resize((height, width)); got "
                         f"{steps[:1]!r}. Supported: {_SUPPORTED}; train with augment_on='loader' otherwise")
    resize = steps[0]
    height, width = (int(v) for v in resize.size)
    fields: dict[str, Any] = {"height": height, "width": width}
    seen_tensor = seen_norm = False
    rest = steps[1:]
    i = 0
    while i < len(rest):
        step = rest[i]
        if isinstance(step, T.RandomHorizontalFlip) and not seen_tensor and "pad" not in fields:
            fields["flip_p"] = float(step.p)
        elif isinstance(step, T.Pad) and not seen_tensor and i + 1 < len(rest) and isinstance(rest[i + 1], T.RandomCrop):
            crop = rest[i + 1]
            pad = step.padding
            if not isinstance(pad, int) or step.fill != 0 or step.padding_mode != "constant" \
                    or tuple(crop.size) != (height, width) or crop.padding is not None or crop.pad_if_needed:
                raise ValueError(f"device augmentation supports Pad(n) with zeros + RandomCrop((height, width)); got "
                                 f"{step!r}, {crop!r}")
            fields["pad"] = pad
            i += 1
        elif isinstance(step, T.ToTensor) and not seen_tensor:
            seen_tensor = True
        elif isinstance(step, T.Normalize) and seen_tensor and not seen_norm:
            fields["mean"], fields["std"] = tuple(map(float, step.mean)), tuple(map(float, step.std))
            seen_norm = True
        elif isinstance(step, T.RandomErasing) and seen_tensor and i == len(rest) - 1 \
                and isinstance(step.value, (int, float)) and not isinstance(step.value, bool):   # last, as applied
            fields.update(erasing_p=float(step.p), erasing_scale=tuple(map(float, step.scale)),
                          erasing_ratio=tuple(map(float, step.ratio)), erasing_value=float(step.value))
        else:
            raise ValueError(f"device augmentation cannot run the step {step!r} here. Supported: {_SUPPORTED}; "
                             "train with augment_on='loader'")
        i += 1
    if not seen_tensor:
        raise ValueError(f"device augmentation needs ToTensor in the pipeline; got {transform!r}")
    return T.Compose([resize]), AugmentationSpec(**fields)


def draw_parameters(spec: AugmentationSpec, seed: int) -> AugmentDraw:
    """The random parameters torchvision's transforms draw for one item under ``aug_seed=seed``:
    the same generator (torch's CPU default, seeded as the dataset seeds it), the same calls in
    the same order (``RandomHorizontalFlip``'s ``torch.rand(1) < p``, ``RandomCrop.get_params``
    on the padded size, ``RandomErasing``'s ``torch.rand(1) < p`` and ``get_params``)."""
    h, w, pad = spec.height, spec.width, spec.pad
    with _cpu_rng_seeded(seed):
        flip = bool(torch.rand(1) < spec.flip_p) if spec.flip_p is not None else False
        top = left = 0
        if pad > 0:
            top, left, _, _ = T.RandomCrop.get_params(torch.zeros(()).expand(3, h + 2 * pad, w + 2 * pad), (h, w))
        erase = None
        if spec.erasing_p is not None and bool(torch.rand(1) < spec.erasing_p):
            i, j, eh, ew, _ = T.RandomErasing.get_params(torch.zeros(()).expand(3, h, w), scale=spec.erasing_scale,
                                                         ratio=spec.erasing_ratio, value=[spec.erasing_value])
            if not (eh == h and ew == w and i == 0 and j == 0):   # get_params' "no box found": image unchanged
                erase = (int(i), int(j), int(eh), int(ew))
    return AugmentDraw(flip, int(top), int(left), erase)


def apply_augmentation(images: torch.Tensor, draws: Sequence[AugmentDraw], spec: AugmentationSpec) -> torch.Tensor:
    """The random suffix on a batch: ``images`` are ``(N, 3, height, width)`` ``uint8`` (the
    decoded prefix), on any device; returns normalised float32 ``(N, 3, height, width)``, the
    tensors torchvision's transforms give item by item with the same parameters."""
    n, _, h, w = images.shape
    device = images.device
    x = images
    if any(d.flip for d in draws):   # decided on the host: no device synchronisation per batch
        flips = torch.tensor([d.flip for d in draws], device=device)
        x = torch.where(flips[:, None, None, None], x.flip(-1), x)
    if spec.pad > 0:
        p = spec.pad
        padded = F.pad(x, (p, p, p, p)).permute(0, 2, 3, 1)            # zeros, as PIL's Pad(fill=0)
        rows = torch.tensor([d.top for d in draws], device=device)[:, None] + torch.arange(h, device=device)
        cols = torch.tensor([d.left for d in draws], device=device)[:, None] + torch.arange(w, device=device)
        batch = torch.arange(n, device=device)[:, None, None]
        x = padded[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    x = x.float().div(255)                                              # ToTensor
    mean = torch.tensor(spec.mean, dtype=x.dtype, device=device)[:, None, None]
    std = torch.tensor(spec.std, dtype=x.dtype, device=device)[:, None, None]
    x = (x - mean) / std                                                # Normalize
    boxes = [(k, d.erase) for k, d in enumerate(draws) if d.erase is not None]
    if boxes:
        box = torch.tensor([[k, *e] for k, e in boxes], device=device)
        r = torch.arange(h, device=device)
        c = torch.arange(w, device=device)
        inside_rows = (r >= box[:, 1:2]) & (r < box[:, 1:2] + box[:, 3:4])         # (boxes, h)
        inside_cols = (c >= box[:, 2:3]) & (c < box[:, 2:3] + box[:, 4:5])         # (boxes, w)
        mask = torch.zeros(n, h, w, dtype=torch.bool, device=device)
        mask[box[:, 0]] = inside_rows[:, :, None] & inside_cols[:, None, :]
        x = x.masked_fill(mask[:, None], spec.erasing_value)                  # RandomErasing's F.erase
    return x.contiguous()


class _Prefix(Dataset):
    """Record ``i`` -> its deterministic prefix as a ``uint8`` (3, height, width) tensor (and the
    stored image's too, for a pair): what the cache holds, decoded by DataLoader workers."""

    def __init__(self, dataset: ReidImageDataset | PairedLRHRDataset, prefix: T.Compose, paired: bool) -> None:
        self.dataset, self.prefix, self.paired = dataset, prefix, paired

    def __len__(self) -> int:
        return len(self.dataset)

    def _tensor(self, image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.array(self.prefix(image), dtype=np.uint8, copy=True)).permute(2, 0, 1).contiguous()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        degraded = self._tensor(self.dataset.degraded_image(index))
        if not self.paired:
            return (degraded,)
        return degraded, self._tensor(self.dataset.stored_image(index))


class DeviceAugmentedBatches:
    """Batches of a :class:`~reidlab.data.dataset.ReidImageDataset` (``(images, labels, index)``)
    or :class:`~reidlab.data.dataset.PairedLRHRDataset` (``(lr, hr, labels, index)``) built on
    ``device`` from a decoded cache: ``batches(keys)`` for a list of ``(index, aug_seed)`` keys
    equals the DataLoader's collated batch of the same keys.

    The cache (every record's degraded, resized image; a pair's stored one too) is decoded once
    at construction with ``num_workers`` DataLoader workers; its size is ``records x 3 x height x
    width`` bytes (twice for pairs): 1.9 GB for Market-1501's 12,936 training images at 384x128.
    On CUDA a cache larger than half the free device memory is refused with the figure.
    """

    def __init__(self, dataset: Dataset, device: torch.device | str, *, num_workers: int = 0,
                 progress: bool = False, desc: str = "decoding images") -> None:
        if not isinstance(dataset, (ReidImageDataset, PairedLRHRDataset)):
            raise TypeError(f"device augmentation needs a ReidImageDataset or PairedLRHRDataset, got "
                            f"{type(dataset).__name__}; train with augment_on='loader'")
        if dataset.transform is None:
            raise ValueError("device augmentation needs the dataset's training transform (got transform=None)")
        self.dataset = dataset
        self.device = torch.device(device)
        self.paired = isinstance(dataset, PairedLRHRDataset)
        prefix, self.spec = augmentation_spec(dataset.transform)
        n = len(dataset)
        nbytes = n * 3 * self.spec.height * self.spec.width * (2 if self.paired else 1)
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            if nbytes > free / 2:
                raise MemoryError(f"the decoded-image cache needs {nbytes / 2**30:.1f} GiB, more than half of the "
                                  f"{free / 2**30:.1f} GiB free on {self.device}; train with augment_on='loader'")
        caches = [torch.empty(n, 3, self.spec.height, self.spec.width, dtype=torch.uint8)
                  for _ in range(2 if self.paired else 1)]
        loader = DataLoader(_Prefix(dataset, prefix, self.paired), batch_size=64, num_workers=num_workers)
        start = 0
        for parts in tqdm(loader, desc=desc, total=math.ceil(n / 64), disable=not progress, leave=False):
            for cache, part in zip(caches, parts):
                cache[start:start + len(part)] = part
            start += len(parts[0])
        self.caches = [c.to(self.device) for c in caches]
        self.labels = torch.tensor(dataset.labels, dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.dataset)

    def batch(self, keys: Sequence[Any]) -> tuple[torch.Tensor, ...]:
        """The augmented batch of ``keys`` (``(index, aug_seed)`` pairs; a plain index draws its
        seed from torch's global generator, as the datasets do for a pair)."""
        indices, seeds = [], []
        for key in keys:
            index, seed = _parse_key(key, len(self))
            if seed is None:
                seed = int(torch.randint(0, 2**62, ()).item())
            indices.append(index)
            seeds.append(seed)
        draws = [draw_parameters(self.spec, s) for s in seeds]
        where = torch.tensor(indices, device=self.device)
        images = tuple(apply_augmentation(cache.index_select(0, where), draws, self.spec) for cache in self.caches)
        index = torch.tensor(indices, dtype=torch.int64)
        return (*images, self.labels[index].to(self.device), index.to(self.device))
