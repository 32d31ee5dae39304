"""HRNet-ReID and the PS-HRNet student (Zhang et al., IEEE TIP 2021).

HRNet-ReID is an HRNet classification backbone (HRNet-W32-C in PS-HRNet) with a re-id
head:

* backbone: timm's ``hrnet_*`` classification model without its classifier. Its head
  fuses the four resolution branches of the last stage: every branch is widened by a
  bottleneck ("incre") block, the branches are summed from the highest resolution down
  with strided 3x3 convs, and a 1x1 conv gives a 2048-channel map at stride 32, which
  is average pooled: a 2048-d feature carrying all resolutions (:meth:`HRNetReID.pooled`);
* bottleneck: ``Linear(2048, embed_dim)`` (512 in PS-HRNet) followed by ``BatchNorm1d``;
* identity classifier on the batch-normalised feature.

BNNeck convention (Luo et al., "Bag of Tricks", CVPRW 2019): the triplet loss sees the
feature *before* the BN (``f_t``), the classifier and the test-time descriptor use the
feature *after* it (``f_i = BN(f_t)``); the BN's bias is frozen at zero.

HRNet fuses its branches by stride-2 convs and nearest up-sampling, so the input height
and width must be multiples of 32 (:func:`check_input_size`).

:class:`PSHRNetStudent` is the low-resolution branch of the pseudo-siamese framework:
VDSR-CA restores the image, HRNet-ReID describes the restored image.
"""
from __future__ import annotations

import socket
from urllib.parse import urlparse

import timm
import torch
from torch import nn

from reidlab.models.vdsr import VDSRCA

__all__ = ["HRNetReID", "PSHRNetStudent", "hrnet_backbones", "check_input_size",
           "create_hrnet_backbone", "HRNET_STRIDE", "ReidOutput"]

#: Train-mode output: ``{"logits": [...], "triplet": [...], "features": ...}`` (MGN layout).
ReidOutput = dict[str, torch.Tensor | list[torch.Tensor]]

#: Output stride of HRNet's classification head: input sizes must be multiples of it.
HRNET_STRIDE: int = 32


def hrnet_backbones() -> tuple[str, ...]:
    """Names of timm's HRNet models usable as the HRNet-ReID backbone."""
    return tuple(timm.list_models("hrnet_*"))


def check_input_size(height: int, width: int) -> None:
    """Raise ``ValueError`` unless ``height`` and ``width`` are multiples of 32.

    HRNet's multi-resolution fusion adds maps down-sampled by strided convs to maps
    up-sampled by powers of two; other sizes give mismatched shapes deep inside timm.
    """
    if height <= 0 or width <= 0 or height % HRNET_STRIDE or width % HRNET_STRIDE:
        raise ValueError(
            f"HRNet-ReID needs an input size whose height and width are positive multiples "
            f"of {HRNET_STRIDE}, got {height}x{width}; choose e.g. "
            f"{max(HRNET_STRIDE, round(height / HRNET_STRIDE) * HRNET_STRIDE)}x"
            f"{max(HRNET_STRIDE, round(width / HRNET_STRIDE) * HRNET_STRIDE)}")


def _hub_reachable(timeout: float) -> str | None:
    """``None`` when the Hugging Face Hub's host accepts a TCP connection, else the error."""
    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as err:
        return f"{host}: {err}"
    return None


def _cached_weights(hf_hub_id: str) -> str | None:
    """Path of the timm weights of ``hf_hub_id`` in the local Hugging Face cache, if any."""
    from huggingface_hub import try_to_load_from_cache

    for filename in ("model.safetensors", "pytorch_model.bin"):
        path = try_to_load_from_cache(hf_hub_id, filename)
        if isinstance(path, str):
            return path
    return None


def create_hrnet_backbone(name: str = "hrnet_w32", pretrained: str | None = None, *,
                          download_timeout: float = 10.0) -> nn.Module:
    """timm HRNet classification model without classifier: ``model(x)`` is the pooled
    (N, 2048) fused feature.

    Args:
        name: a timm HRNet (see :func:`hrnet_backbones`).
        pretrained: ``None`` (random init) or ``"imagenet"`` (timm's default ImageNet
            weights: from the local Hugging Face cache when there, else downloaded).
            Offline and uncached, a ``RuntimeError`` is raised within ``download_timeout``
            seconds.
    """
    valid = hrnet_backbones()
    if name not in valid:
        raise ValueError(f"hrnet={name!r} is not a timm HRNet; choose one of: {', '.join(valid)}")
    if pretrained not in (None, "imagenet"):
        raise ValueError(f"pretrained={pretrained!r} is not valid; choose None or 'imagenet'")
    if pretrained is None:
        return timm.create_model(name, pretrained=False, num_classes=0)
    hub_id = timm.models.get_pretrained_cfg(name).hf_hub_id
    cached = _cached_weights(hub_id) if hub_id else None
    if cached is not None:
        return timm.create_model(name, pretrained=True, num_classes=0,
                                 pretrained_cfg_overlay={"file": cached})
    unreachable = _hub_reachable(download_timeout)
    if unreachable is not None:
        raise RuntimeError(
            f"cannot download timm's ImageNet weights of {name} ({hub_id}): the Hugging Face "
            f"Hub is unreachable ({unreachable}). Offline, copy the weights into the Hugging "
            f"Face cache (e.g. `huggingface-cli download {hub_id}` on a connected machine), "
            f"or use pretrained=None")
    try:
        return timm.create_model(name, pretrained=True, num_classes=0)
    except Exception as err:  # noqa: BLE001 - re-raised with what to do
        raise RuntimeError(f"cannot load timm's ImageNet weights of {name} ({hub_id}): {err}; "
                           f"use pretrained=None to start from random weights") from err


class HRNetReID(nn.Module):
    """HRNet backbone + BNNeck re-id head (PS-HRNet's HRNet-ReID).

    Args:
        num_classes: training identities (classifier outputs).
        hrnet: timm HRNet name (``"hrnet_w32"`` = HRNet-W32-C of PS-HRNet;
            ``"hrnet_w18_small"`` for CPU runs).
        embed_dim: width of the bottleneck, i.e. of the descriptor (512 in PS-HRNet).
        pretrained: ``None`` or ``"imagenet"`` (see :func:`create_hrnet_backbone`).
    """

    def __init__(self, num_classes: int, hrnet: str = "hrnet_w32", embed_dim: int = 512,
                 pretrained: str | None = None, *, download_timeout: float = 10.0) -> None:
        super().__init__()
        if num_classes <= 0:
            raise ValueError(f"num_classes must be > 0, got {num_classes}")
        if embed_dim <= 0:
            raise ValueError(f"embed_dim must be > 0, got {embed_dim}")
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.hrnet = hrnet
        self.backbone = create_hrnet_backbone(hrnet, pretrained, download_timeout=download_timeout)
        in_dim = self.backbone.num_features
        self.bottleneck = nn.Linear(in_dim, embed_dim)
        self.bnneck = nn.BatchNorm1d(embed_dim)
        self.classifier = nn.Linear(embed_dim, num_classes, bias=False)
        self._init_head()

    def _init_head(self) -> None:
        nn.init.kaiming_normal_(self.bottleneck.weight, mode="fan_out")
        nn.init.zeros_(self.bottleneck.bias)
        nn.init.ones_(self.bnneck.weight)
        nn.init.zeros_(self.bnneck.bias)
        self.bnneck.bias.requires_grad_(False)      # BNNeck: no shift
        nn.init.normal_(self.classifier.weight, std=0.001)

    @property
    def out_dim(self) -> int:
        """Width of the test-time descriptor (``embed_dim``)."""
        return self.embed_dim

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Average-pooled (N, 2048) feature of the fused multi-resolution HRNet map."""
        check_input_size(x.shape[-2], x.shape[-1])
        return self.backbone(x)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """BNNeck: ``(f_t, f_i)`` with ``f_t = W x_pooled + b`` (triplet feature) and
        ``f_i = BN(f_t)`` (classifier input and descriptor)."""
        f_t = self.bottleneck(self.pooled(x))
        return f_t, self.bnneck(f_t)

    def forward(self, x: torch.Tensor) -> torch.Tensor | ReidOutput:
        """Eval: the (N, embed_dim) descriptor ``f_i``. Train: ``{"logits": [(N, classes)],
        "triplet": [f_t], "features": f_i}`` (the MGN output layout)."""
        f_t, f_i = self.embed(x)
        if not self.training:
            return f_i
        return {"logits": [self.classifier(f_i)], "triplet": [f_t], "features": f_i}


class PSHRNetStudent(nn.Module):
    """Low-resolution branch of PS-HRNet: ``HRNet-ReID(VDSR-CA(x))``.

    Eval: the descriptor of the restored image. Train: HRNet-ReID's train dict plus
    ``"restored"``, the VDSR-CA output (for the image L1 loss).
    """

    def __init__(self, vdsr: VDSRCA, reid: HRNetReID) -> None:
        super().__init__()
        self.vdsr = vdsr
        self.reid = reid

    @property
    def out_dim(self) -> int:
        return self.reid.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor | ReidOutput:
        restored = self.vdsr(x)
        out = self.reid(restored)
        if not self.training:
            return out
        return {**out, "restored": restored}
