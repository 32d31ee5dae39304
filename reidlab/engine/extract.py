"""Batched, cached feature extraction: records -> (N, D) float32 descriptors.

Images are loaded through the data layer (:class:`~reidlab.data.dataset.ReidImageDataset`,
which applies each record's degradation ``factor``), resized and normalised by the test
transform, and fed to the model in eval mode under :func:`torch.inference_mode`. With
``flip`` the descriptor is the sum of the features of the image and of its horizontal
mirror (the usual re-id test-time augmentation).

With a ``cache_dir`` every image is extracted once per model: ``<cache_dir>/<key>.pt`` holds
the features of every (image content, factor) that model has described so far, where
``key`` (:func:`feature_cache_key`) hashes the model's weights and buffers, the input size,
``flip``, the down- and up-sampling filters, the autocast precision actually used and the
memory layout. A call extracts only the images its store lacks (an image is named by the
digest of its file's content, :func:`~reidlab.data.fingerprint.file_digest`, so an edited
file is extracted anew), adds them and rewrites the store atomically; the store is reloaded
with ``torch.load(weights_only=True)``. Notebooks that score the same trained model on
overlapping images (query/gallery draws, protocols, controls) share its features.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from reidlab.progress import tqdm

from reidlab.config import AMP_MODES
from reidlab.data.fingerprint import file_digests
from reidlab.data.records import ImageRecord
from reidlab.engine.checkpoint import atomic_save
from reidlab.engine.precision import resolve_amp, resolve_channels_last
from reidlab.paths import remove_stale_temporaries
from reidlab.stages import stage

__all__ = ["extract_features", "feature_cache_key", "image_keys", "AMP_MODES"]

_CACHE_VERSION = "reidlab-extract-v3"   # v3: one store per model, entries per image


def _model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def _hash_state(digest: "hashlib._Hash", model: nn.Module) -> None:
    """Feed every state_dict entry (name, dtype, shape, raw bytes) to ``digest``."""
    for name, value in model.state_dict().items():
        if not isinstance(value, torch.Tensor):
            digest.update(f"{name}={value!r};".encode())
            continue
        tensor = value.detach()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        flat = tensor.cpu().contiguous().reshape(-1)
        if flat.numel():
            digest.update(flat.view(torch.uint8).numpy().tobytes())


def feature_cache_key(model: nn.Module, *, height: int, width: int, flip: bool, interpolation: str,
                      upsampling: str, amp_dtype: torch.dtype | None = None, channels_last: bool = False) -> str:
    """Hex SHA-256 naming one model's feature store (see the module docstring for what it covers)."""
    digest = hashlib.sha256()
    header = {"version": _CACHE_VERSION, "model": type(model).__qualname__, "height": height,
              "width": width, "flip": bool(flip), "interpolation": interpolation,
              "upsampling": upsampling, "amp": str(amp_dtype), "channels_last": bool(channels_last)}
    digest.update(json.dumps(header, sort_keys=True).encode())
    _hash_state(digest, model)
    return digest.hexdigest()


def image_keys(records: Sequence[ImageRecord]) -> list[str]:
    """The store entry of each record: its file's content digest and its degradation factor."""
    return [f"{digest}x{r.factor}" for r, digest in zip(records, file_digests([r.path for r in records]))]


@contextmanager
def _eval_on(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """``model`` in eval mode on ``device``; every module's mode and the device are restored."""
    modes = [(module, module.training) for module in model.modules()]
    original = _model_device(model)
    try:
        if original != device:
            model.to(device)
        model.eval()
        yield model
    finally:
        for module, training in modes:
            module.training = training
        if original != device:
            model.to(original)


def _load_store(path: Path) -> dict[str, torch.Tensor]:
    """The entries of the feature store at ``path`` (empty when absent, corrupt or foreign)."""
    if not path.is_file():
        return {}
    try:
        store = torch.load(path, map_location="cpu", weights_only=True)
        keys, features = store["keys"], store["features"]
    except Exception:  # a corrupt or foreign file: recompute and overwrite
        return {}
    if (not isinstance(features, torch.Tensor) or features.dim() != 2 or not isinstance(keys, list)
            or len(keys) != features.shape[0]):
        return {}
    features = features.float()
    return {key: features[i] for i, key in enumerate(keys)}


def _save_store(path: Path, entries: dict[str, torch.Tensor]) -> None:
    keys = list(entries)
    atomic_save({"keys": keys, "features": torch.stack([entries[k] for k in keys])}, path)


def _forward(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    out = model(images)
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != images.shape[0]:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise TypeError(f"in eval mode the model must map (N, 3, H, W) images to an (N, D) "
                        f"feature tensor; got {got} for a batch of {images.shape[0]}")
    return out


@stage("extraction")
def extract_features(model: nn.Module, records: Sequence[ImageRecord], *, height: int, width: int,
                     batch_size: int = 128, flip: bool = True, interpolation: str = "bicubic",
                     upsampling: str = "bilinear", device: str | torch.device | None = None,
                     cache_dir: str | os.PathLike[str] | None = None, progress: bool = True,
                     num_workers: int = 0, amp: str = "auto") -> torch.Tensor:
    """Features of ``records`` with ``model``: (N, D) float32 on the CPU, in record order.

    Args:
        model: maps (B, 3, height, width) images to (B, D) features in eval mode. It is put
            in eval mode (and on ``device``) for the extraction; every submodule's mode and
            the model's device are restored afterwards.
        records: images to describe; each is degraded by its ``factor`` when loaded.
        height, width: network input size.
        batch_size: images per forward pass.
        flip: add the features of the horizontally flipped image.
        interpolation: down-sampling filter of the degradation ("bicubic" | "bilinear").
        upsampling: its up-sampling filter (RFD Sec. 3.1: "bilinear").
        device: where to run; ``None``: the model's device.
        cache_dir: folder of the per-model feature stores (``<key>.pt``); ``None`` disables caching.
        progress: show a tqdm bar.
        num_workers: DataLoader worker processes.
        amp: "auto" (bf16 autocast on CUDA and on CPUs with native bf16, fp32 on others),
            "off", "bf16" or "fp16" (see :func:`reidlab.engine.precision.resolve_amp`).
    """
    if amp not in AMP_MODES:
        raise ValueError(f"amp={amp!r} is not valid; choose one of: {', '.join(AMP_MODES)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    records = tuple(records)
    if not records:
        raise ValueError("no records to extract features from")
    device = torch.device(device) if device is not None else _model_device(model)
    amp_dtype, _ = resolve_amp(amp, device)
    # reduced-precision convolutions run faster on channels-last tensors: oneDNN's bf16 (AMX) about
    # 1.7x (benchmarks/extract_speed.py), cuDNN's on an H100 1.24x (MGN-R50, benchmarks/gpu_throughput.py);
    # fp32 extraction too (engine/precision.py). Extract with a channels-last copy; the caller's
    # model keeps its layout (a validator must not change a training model's layout mid-run)
    channels_last = resolve_channels_last("auto", amp_dtype, device)
    settings = dict(height=height, width=width, batch_size=batch_size, flip=flip, interpolation=interpolation,
                    upsampling=upsampling, device=device, progress=progress, num_workers=num_workers,
                    amp_dtype=amp_dtype, channels_last=channels_last)
    if cache_dir is None:
        return _extract(model, records, **settings)
    store_path = Path(cache_dir) / (feature_cache_key(
        model, height=height, width=width, flip=flip, interpolation=interpolation, upsampling=upsampling,
        amp_dtype=amp_dtype, channels_last=channels_last) + ".pt")
    keys = image_keys(records)
    entries = _load_store(store_path)
    missing: dict[str, ImageRecord] = {}
    for key, record in zip(keys, records):
        if key not in entries:
            missing.setdefault(key, record)
    if missing:
        remove_stale_temporaries(store_path.parent)   # left by killed extractions; this one writes anew
        new = _extract(model, tuple(missing.values()), **settings)
        entries.update(zip(missing, new))
        _save_store(store_path, entries)
    return torch.stack([entries[key] for key in keys]).clone()


def _in_channels_last(model: nn.Module) -> bool:
    """Whether every 4-d weight of ``model`` is already stored channels-last (a trained or loaded
    model of a channels-last schedule), so extraction needs no converted copy."""
    return all(p.is_contiguous(memory_format=torch.channels_last) for p in model.parameters() if p.dim() == 4)


def _extract(model: nn.Module, records: tuple[ImageRecord, ...], *, height: int, width: int, batch_size: int,
             flip: bool, interpolation: str, upsampling: str, device: torch.device, progress: bool,
             num_workers: int, amp_dtype: torch.dtype | None, channels_last: bool) -> torch.Tensor:
    """Features of ``records`` (no cache): see :func:`extract_features`."""
    from reidlab.data.dataset import ReidImageDataset, build_transforms

    dataset = ReidImageDataset(records, build_transforms(height, width, train=False),
                               interpolation=interpolation, upsampling=upsampling)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=device.type == "cuda")
    net = model if not channels_last or _in_channels_last(model) else \
        copy.deepcopy(model).to(memory_format=torch.channels_last)   # the caller's model keeps its layout
    chunks: list[torch.Tensor] = []
    with _eval_on(net, device), torch.inference_mode(), \
            tqdm(total=len(records), desc="extract", unit="img", disable=not progress,
                 leave=False) as bar:
        for images, _, _ in loader:
            images = images.to(device, non_blocking=True)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32,
                                enabled=amp_dtype is not None):
                features = _forward(net, images)
                if flip:
                    features = features + _forward(net, images.flip(3))
            chunks.append(features.float().cpu())
            bar.update(len(images))
    return torch.cat(chunks).clone()   # a normal (not inference) tensor
