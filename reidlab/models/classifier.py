"""The pre-training network: a backbone (torchvision ResNet or timm HRNet) and one linear head.

:mod:`reidlab.recipes.pretraining` trains it as an identity + attribute classifier standing in for
ImageNet; its backbone's state dict then starts MGN or HRNet-ReID like ImageNet weights would.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reidlab.choices import PRETRAIN_ARCHS

__all__ = ["PRETRAIN_ARCHS", "BackboneClassifier", "check_arch", "backbone_trunk"]


class BackboneClassifier(nn.Module):
    """``backbone`` -> pooled feature -> dropout -> one linear head: identity logits followed by
    each attribute's logits (``head_sizes``: identity classes first)."""

    def __init__(self, backbone: nn.Module, channels: int, head_sizes: Sequence[int], dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = backbone
        self.head_sizes = tuple(int(n) for n in head_sizes)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, sum(self.head_sizes))

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.split(self.classifier(self.dropout(self.backbone(images))), self.head_sizes, dim=1))


def check_arch(arch: str) -> str:
    """``arch`` when it is one of :data:`PRETRAIN_ARCHS`, else a ``ValueError`` naming them."""
    if arch not in PRETRAIN_ARCHS:
        raise ValueError(f"arch={arch!r} is not valid; choose one of: {', '.join(PRETRAIN_ARCHS)}")
    return arch


def _resnet_trunk(name: str) -> tuple[nn.Module, int]:
    from reidlab.models.backbones import build_backbone

    resnet = build_backbone(name)
    channels = resnet.fc.in_features
    resnet.fc = nn.Identity()
    return resnet, channels


def _hrnet_trunk(name: str) -> tuple[nn.Module, int]:
    from reidlab.models.hrnet_reid import create_hrnet_backbone

    hrnet = create_hrnet_backbone(name, None)
    return hrnet, hrnet.num_features


def backbone_trunk(arch: str, name: str) -> tuple[nn.Module, int]:
    """The randomly initialised ``arch`` backbone ``name`` without classifier, and the width of
    its pooled feature."""
    return (_resnet_trunk if check_arch(arch) == "resnet" else _hrnet_trunk)(name)
