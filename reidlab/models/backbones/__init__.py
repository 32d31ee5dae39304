"""MGN's backbones: one registry of ResNet-shaped trunks, one file per family.

A backbone is a module with torchvision ``ResNet``'s parts, which MGN (:mod:`reidlab.models.mgn`) and
the pre-training stand-in (:mod:`reidlab.models.classifier`) take apart: a stem (``conv1``, ``bn1``,
``relu``, ``maxpool``), four stages ``layer1``-``layer4`` (``layer3`` with at least two blocks, its
first shared by MGN's branches) whose output widths are 1/8, 1/4, 1/2 and 1 of ``fc.in_features``,
and ``fc``. Each family's file registers its builders with :func:`register_backbone`; a new backbone
is one file (imported at the end of this module) and one registration, and
``tests/test_models.py`` builds every registered one under MGN.

=======================  =====================================================================
file                     backbones
=======================  =====================================================================
``torchvision_resnet``   torchvision's ResNet family (``resnet18`` ... ``resnet152``; ImageNet weights)
``narrow_resnet``        ResNet-18 at a fraction of its width (``resnet18_half``: CPUs; no ImageNet weights)
=======================  =====================================================================
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

__all__ = ["Backbone", "BACKBONES", "register_backbone", "build_backbone", "backbone_names", "imagenet_backbones",
           "check_backbone"]


@dataclass(frozen=True)
class Backbone:
    """A registered backbone: its builder (random weights) and whether torchvision publishes
    ImageNet weights under its name (``pretrained="imagenet"``)."""

    name: str
    build: Callable[[], nn.Module]
    imagenet_weights: bool


#: name -> :class:`Backbone` (filled by :func:`register_backbone` as each family's file is imported).
BACKBONES: dict[str, Backbone] = {}


def register_backbone(name: str, build: Callable[[], nn.Module], *, imagenet_weights: bool = False) -> None:
    """Register ``build`` (no arguments; a randomly initialised ResNet-shaped module) as ``name``."""
    if name in BACKBONES:
        raise ValueError(f"a backbone named {name!r} is already registered")
    BACKBONES[name] = Backbone(name, build, imagenet_weights)


def backbone_names() -> tuple[str, ...]:
    """Every registered backbone's name."""
    return tuple(BACKBONES)


def imagenet_backbones() -> tuple[str, ...]:
    """The registered backbones with ImageNet weights (torchvision's)."""
    return tuple(name for name, b in BACKBONES.items() if b.imagenet_weights)


def check_backbone(name: str) -> Backbone:
    """The registered backbone ``name``, else a ``ValueError`` naming every registered one."""
    if name not in BACKBONES:
        raise ValueError(f"backbone={name!r} is not a registered backbone; choose one of: {', '.join(BACKBONES)} "
                         "(reidlab/models/backbones/)")
    return BACKBONES[name]


def build_backbone(name: str) -> nn.Module:
    """The backbone ``name`` from random weights (:func:`check_backbone` refuses an unknown name)."""
    return check_backbone(name).build()


# Each family registers its backbones when imported (one line per new file).
from reidlab.models.backbones import torchvision_resnet, narrow_resnet  # noqa: E402,F401
