"""ImageNet starting weights for the backbones, found offline or refused at once.

``pretrained`` of :func:`~reidlab.models.mgn.build_mgn` (torchvision ResNet) and of
:class:`~reidlab.models.hrnet_reid.HRNetReID` (timm HRNet) is one of

* ``None``: random initialisation;
* ``"imagenet"``: the library's default ImageNet weights, read from the local cache only
  (torchvision: ``torch.hub.get_dir()/checkpoints``, honouring ``TORCH_HOME``; timm: the
  Hugging Face hub cache, honouring ``HF_HUB_CACHE`` / ``HF_HOME``). When they are not
  cached, :class:`PretrainedWeightsMissing` is raised before any network access, naming
  the file, the folder it was looked up in and a one-line command that fetches it on a
  machine with internet access;
* a path to a weights file (``.pth``, ``.pt``, ``.bin`` or ``.safetensors``) holding a
  state dict of the backbone (torchvision ResNet or timm HRNet parameter names; a dict
  nesting it under ``"state_dict"`` or ``"model"`` and ``"module."`` prefixes of
  ``DistributedDataParallel`` are accepted).

The one resolver (:func:`weights_file`; :func:`resnet_weights_file`, :func:`hrnet_weights_file`)
does no heavy work, so a training entry point can call it first and fail within milliseconds;
it is also the only code that may download (``download=True``, opt-in). ``"synthpeople"`` (the
pre-training stand-in for ImageNet) is resolved by the study to its run's weights file
(:func:`reidlab.study.compute.model_store.with_pretraining`) before a network is built.
"""
from __future__ import annotations

import os
import socket
import urllib.error
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

__all__ = ["PretrainedWeightsMissing", "Pretrained", "WEIGHT_SUFFIXES", "torch_hub_checkpoints",
           "hf_hub_cache", "looks_like_weights_file", "weights_file", "resnet_weights_file", "hrnet_weights_file",
           "imagenet_state_dict", "load_weights_file", "load_backbone_weights"]

#: ``pretrained`` argument: ``None``, ``"imagenet"`` or a weights file path.
Pretrained = str | os.PathLike[str] | None

#: File suffixes accepted as local weights files.
WEIGHT_SUFFIXES: tuple[str, ...] = (".pth", ".pt", ".bin", ".safetensors")

#: timm's weights files on the Hugging Face Hub, in the order timm tries them.
_HF_FILENAMES: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")


class PretrainedWeightsMissing(FileNotFoundError):
    """ImageNet weights requested but absent from the local cache (no download is tried),
    or a weights file path that does not exist."""


# ------------------------------------------------------------------------------ caches


def torch_hub_checkpoints() -> Path:
    """torchvision's weights folder, ``torch.hub.get_dir()/checkpoints`` (``TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache timm reads: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else
    ``huggingface_hub``'s default (environment read at call time)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


# --------------------------------------------------------------------------- resolving


def _is_imagenet(pretrained: Pretrained) -> bool:
    return isinstance(pretrained, str) and pretrained == "imagenet"


def looks_like_weights_file(pretrained: str | os.PathLike[str], path: Path) -> bool:
    """Whether the ``pretrained`` setting (resolved to ``path``) names a file rather than a
    misspelt choice: a path object, a weights suffix, a folder separator or an existing file."""
    return (isinstance(pretrained, os.PathLike) or path.suffix in WEIGHT_SUFFIXES
            or os.sep in str(pretrained) or "/" in str(pretrained) or path.exists())


def _local_file(pretrained: str | os.PathLike[str]) -> Path:
    """``pretrained`` as an existing weights file; ``ValueError`` when it is neither
    ``"imagenet"`` nor path-like, :class:`PretrainedWeightsMissing` when it is absent."""
    from reidlab.paths import resolve

    path = resolve(pretrained, name="pretrained")   # a relative path is relative to the repository root
    if not looks_like_weights_file(pretrained, path):
        raise ValueError(
            f"pretrained={str(pretrained)!r} is not valid; choose None (random init), "
            f"'imagenet', 'synthpeople' (the study resolves it to its pre-training run) or the path "
            f"of a weights file ({', '.join(WEIGHT_SUFFIXES)})")
    if not path.is_file():
        raise PretrainedWeightsMissing(f"pretrained weights file {path} does not exist")
    return path


def resnet_weights_file(backbone: str, pretrained: Pretrained, *, download: bool = False,
                        timeout: float = 10.0) -> Path | None:
    """The file :func:`~reidlab.models.mgn.build_mgn` loads for ``pretrained``: for
    ``"imagenet"`` torchvision's ``DEFAULT`` weights of ``backbone`` in
    :func:`torch_hub_checkpoints` (:func:`weights_file`)."""
    return weights_file("resnet", backbone, pretrained, download=download, timeout=timeout)


def hrnet_weights_file(name: str, pretrained: Pretrained, *, download: bool = False,
                       timeout: float = 10.0) -> Path | None:
    """The file :class:`~reidlab.models.hrnet_reid.HRNetReID` loads for ``pretrained``: for
    ``"imagenet"`` timm's default weights of ``name`` (``timm/<name>.<tag>`` on the Hugging
    Face Hub) in :func:`hf_hub_cache` (:func:`weights_file`)."""
    return weights_file("hrnet", name, pretrained, download=download, timeout=timeout)


def weights_file(family: str, name: str, pretrained: Pretrained, *, download: bool = False,
                 timeout: float = 10.0) -> Path | None:
    """The one lookup of a backbone's starting weights: ``None`` for random init, the given
    weights file (:func:`_local_file`), or the cached ImageNet weights of ``name``
    (``family`` ``"resnet"``: torchvision's; ``"hrnet"``: timm's).

    ``download=True`` (machines with internet access only) fetches missing ImageNet weights
    into the cache first (``timeout``: seconds); by default nothing is ever downloaded.

    Raises:
        PretrainedWeightsMissing: the cached file or the given file does not exist.
        ValueError: ``pretrained`` is not ``None``, ``"imagenet"`` or a path.
        RuntimeError: a requested download failed.
    """
    if family not in _IMAGENET:
        raise ValueError(f"family={family!r} is not valid; choose one of: {', '.join(_IMAGENET)}")
    if pretrained is None:
        return None
    if not _is_imagenet(pretrained):
        return _local_file(pretrained)
    cached, fetch = _IMAGENET[family]
    try:
        return cached(name)
    except PretrainedWeightsMissing:
        if not download:
            raise
    fetch(name, timeout)
    return cached(name)


def _torchvision_cached(backbone: str) -> Path:
    """torchvision's ImageNet weights of ``backbone`` in the torch hub cache (never downloaded)."""
    import torchvision

    weights = torchvision.models.get_model_weights(backbone).DEFAULT
    filename = os.path.basename(urlparse(weights.url).path)
    cached = torch_hub_checkpoints() / filename
    if cached.is_file():
        return cached
    raise PretrainedWeightsMissing(
        f"ImageNet weights of {backbone} ({weights}, file {filename}) are not in the torch hub "
        f"cache {torch_hub_checkpoints()} and are not downloaded (offline use). On a machine "
        f"with internet access run\n"
        f"    python -c \"import torchvision; torchvision.models.get_model('{backbone}', "
        f"weights='DEFAULT')\"\n"
        f"and copy {filename} from its torch hub cache (torch.hub.get_dir()/checkpoints) to "
        f"{cached} (or set TORCH_HOME), or pass pretrained='/path/to/{filename}'; "
        f"pretrained=None starts from random weights")


def _hf_cached(hub_id: str, cache_dir: Path) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    for filename in _HF_FILENAMES:
        path = try_to_load_from_cache(hub_id, filename, cache_dir=str(cache_dir))
        if isinstance(path, str):
            return Path(path)
    return None


def _timm_cached(name: str) -> Path:
    """timm's ImageNet weights of ``name`` in the Hugging Face hub cache (never downloaded)."""
    import timm

    cfg = timm.models.get_pretrained_cfg(name)
    hub_id = cfg.hf_hub_id if cfg is not None else None
    if not hub_id:
        raise PretrainedWeightsMissing(f"timm has no Hugging Face weights for {name}; pass "
                                       f"pretrained='/path/to/weights.pth' or None")
    cache = hf_hub_cache()
    cached = _hf_cached(hub_id, cache)
    if cached is not None:
        return cached
    raise PretrainedWeightsMissing(
        f"ImageNet weights of {name} (Hugging Face model {hub_id}, file {_HF_FILENAMES[0]}) "
        f"are not in the Hugging Face hub cache {cache} and are not downloaded (offline use). "
        f"On a machine with internet access run\n"
        f"    python -c \"from huggingface_hub import hf_hub_download; "
        f"print(hf_hub_download('{hub_id}', '{_HF_FILENAMES[0]}'))\"\n"
        f"and copy the folder models--{hub_id.replace('/', '--')} of its hub cache into {cache} "
        f"(or set HF_HOME / HF_HUB_CACHE), or pass pretrained='/path/to/{_HF_FILENAMES[0]}' "
        f"(the printed file); pretrained=None starts from random weights")


# ---------------------------------------------------------------------------- downloads
# Only with download=True (machines with internet access); the library never downloads otherwise.


def _download_torchvision(backbone: str, timeout: float) -> None:
    """Download torchvision's default weights of ``backbone`` into the torch hub cache
    (``timeout``: the socket timeout in seconds while it runs)."""
    import torchvision

    weights = torchvision.models.get_model_weights(backbone).DEFAULT
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        torch.hub.load_state_dict_from_url(
            weights.url, model_dir=str(torch_hub_checkpoints()), map_location="cpu",
            progress=False, check_hash=True, weights_only=True)
    except (urllib.error.URLError, OSError) as err:  # offline, DNS failure, timeout
        raise RuntimeError(
            f"cannot download the ImageNet weights of {backbone} ({weights}) from "
            f"{weights.url}: {err}; put the file into {torch_hub_checkpoints()}, or use "
            f"pretrained=None") from err
    finally:
        socket.setdefaulttimeout(previous)


def _hub_reachable(timeout: float) -> str | None:
    """``None`` when the Hugging Face Hub's host accepts a TCP connection, else the error."""
    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as err:
        return f"{host}: {err}"
    return None


def _download_timm(name: str, timeout: float) -> None:
    """Download timm's default weights of ``name`` into :func:`hf_hub_cache`."""
    import timm
    from huggingface_hub import hf_hub_download

    hub_id = timm.models.get_pretrained_cfg(name).hf_hub_id
    unreachable = _hub_reachable(timeout)
    if unreachable is not None:
        raise RuntimeError(f"cannot download timm's ImageNet weights of {name} ({hub_id}): the "
                           f"Hugging Face Hub is unreachable ({unreachable}); use pretrained=None")
    hf_hub_download(hub_id, _HF_FILENAMES[0], cache_dir=str(hf_hub_cache()), etag_timeout=timeout)


#: ImageNet weights of each backbone family: (cached file of a name, download of a name).
_IMAGENET: dict[str, tuple[Callable[[str], Path], Callable[[str, float], None]]] = {
    "resnet": (_torchvision_cached, _download_torchvision),
    "hrnet": (_timm_cached, _download_timm),
}


def imagenet_state_dict(backbone: str, timeout: float = 10.0, *,
                        download: bool = False) -> dict[str, torch.Tensor]:
    """torchvision's default ImageNet weights of ``backbone`` (``<Backbone>_Weights.DEFAULT``),
    read from the torch hub cache (``torch.hub.get_dir()/checkpoints``).

    Raises:
        PretrainedWeightsMissing: not cached and ``download`` is false (no network access).
        RuntimeError: the download failed, or the cached file cannot be read.
    """
    return load_weights_file(resnet_weights_file(backbone, "imagenet", download=download,  # type: ignore[arg-type]
                                                 timeout=timeout))


# ----------------------------------------------------------------------------- loading


def _unwrap_state_dict(obj: object, path: Path) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path} does not hold a state dict (name -> tensor)")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_weights_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """State dict stored in ``path`` (``.safetensors`` or a ``torch.save`` file), on the CPU.

    Raises ``RuntimeError`` naming the file when it cannot be read (corrupt, truncated).
    """
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: object = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file, re-raised with its name
        # not torch's text: it would advise weights_only=False or allow-listing globals, i.e. running
        # code stored in the file (which weights_only=True refused to do)
        kind = "safetensors file" if path.suffix == ".safetensors" else "torch.save state dict of tensors"
        raise RuntimeError(f"cannot read the weights file {path}: it is not a readable {kind} "
                           f"({type(err).__name__}; corrupt, truncated, or holding objects other than "
                           f"tensors, which are never loaded); replace it, or choose pretrained= one of "
                           f"imagenet, synthpeople, scratch") from err
    return _unwrap_state_dict(obj, path)


def load_backbone_weights(model: nn.Module, path: str | os.PathLike[str],
                          ignore_missing: tuple[str, ...] = ()) -> None:
    """Load the state dict in ``path`` into ``model``.

    Keys of the file that ``model`` lacks (an ImageNet classifier, heads the re-id model
    dropped) are ignored; every parameter and buffer of ``model`` must be in the file,
    except those starting with one of ``ignore_missing`` (``ValueError`` otherwise, as for
    shape mismatches).
    """
    state = load_weights_file(path)
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.startswith(ignore_missing)]
    wrong = [f"{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}"
             for k, v in own.items() if k in state and state[k].shape != v.shape]
    if missing or wrong:
        raise ValueError(
            f"{path} does not fit {type(model).__name__}: "
            + "; ".join(filter(None, [
                f"{len(missing)} missing (e.g. {', '.join(missing[:3])})" if missing else "",
                f"shape mismatch {', '.join(wrong[:3])}" if wrong else ""])))
    model.load_state_dict({k: state[k] for k in own if k in state}, strict=False)
