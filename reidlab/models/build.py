"""The model factory: every network the project trains is built here from its configuration.

A registry in the style of timm's ``@register_model`` and torchreid's ``__model_factory``:
each builder is a function registered under its own name, taking the configuration the
recipes hold (a model section as a mapping, :class:`~reidlab.config.PSHRNetConfig`, the
pre-training architecture) and returning the network, randomly initialised (under the
caller's seed) or from its starting weights (:mod:`reidlab.models.pretrained`, the one home of
weight lookup). :func:`build_model` ``(name, ...)`` is the one entry point; the engine's
recipes (B-F / B-R, the PS-HRNet teacher and student, the pre-training stand-in) and the
loaders of finished runs call it.

==========================  ======================================================
name                        network
==========================  ======================================================
``mgn``                     MGN with channel attention (RFD's B-F; B-R on ``"mgn"``)
``resolution_net``          the light B-R (:class:`~reidlab.models.resolution_net.ResolutionNet`)
``hrnet_reid``              HRNet-ReID (PS-HRNet's teacher, the student's re-id part)
``vdsr_ca``                 VDSR-CA (the student's restoration network)
``ps_hrnet_student``        VDSR-CA followed by HRNet-ReID (:class:`~reidlab.models.hrnet_reid.PSHRNetStudent`)
``backbone_classifier``     the pre-training network (:class:`~reidlab.models.classifier.BackboneClassifier`)
==========================  ======================================================
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch
from torch import nn

from reidlab.choices import BR_NETWORKS
from reidlab.models.classifier import BackboneClassifier, backbone_trunk
from reidlab.models.hrnet_reid import HRNetReID, PSHRNetStudent
from reidlab.models.mgn import MGN, build_mgn
from reidlab.models.pretrained import Pretrained
from reidlab.models.resolution_net import ResolutionNet
from reidlab.models.vdsr import VDSRCA

__all__ = ["MODELS", "BR_NETWORK_MODELS", "register_model", "build_model", "list_models", "rfd_network"]

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])

#: name -> builder (filled by :func:`register_model`).
MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(builder: Builder) -> Builder:
    """Register ``builder`` under its function name (a decorator)."""
    name = builder.__name__
    if name in MODELS:
        raise ValueError(f"a model named {name!r} is already registered")
    MODELS[name] = builder
    return builder


def list_models() -> tuple[str, ...]:
    """The registered model names."""
    return tuple(MODELS)


def build_model(name: str, /, *args: Any, **kwargs: Any) -> nn.Module:
    """The network ``name`` built by its registered builder from ``args`` / ``kwargs``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    return MODELS[name](*args, **kwargs)


# ------------------------------------------------------------------------------ RFD

@register_model
def mgn(model: Mapping[str, Any], num_classes: int, *, pretrained: bool = True) -> MGN:
    """MGN from a model section (:class:`~reidlab.config.ModelConfig` fields, as in a run's
    ``config.json``), from the section's starting weights (``pretrained=False``: random, for
    a finished run's weights to be loaded into). Runs written before ``global_branch`` and
    ``mgn_height`` existed load as they were built: MGN's global branch, no resize."""
    return build_mgn(num_classes, backbone=model["backbone"], attention=model["attention"],
                     pretrained=model["pretrained"] if pretrained else None,
                     reduction=model["reduction"], feat_dim=model["feat_dim"],
                     dropout=model["dropout"], global_branch=model.get("global_branch", "mgn"),
                     input_size=(model["mgn_height"], model["mgn_width"]) if model.get("mgn_height") else None,
                     batched_heads=model.get("batched_heads", False))


@register_model
def resolution_net(model: Mapping[str, Any], num_classes: int, *, pretrained: bool = True) -> ResolutionNet:
    """The light B-R of ``model["br_width"]`` channels (a run stored before the option: 24, the width it
    was trained at), always from random weights (``pretrained`` unused)."""
    return ResolutionNet(num_classes, width=int(model.get("br_width", 24)))


#: The registered model of each B-R network (:data:`reidlab.choices.BR_NETWORKS`).
BR_NETWORK_MODELS: dict[str, str] = {"mgn": "mgn", "light": "resolution_net"}
if tuple(BR_NETWORK_MODELS) != BR_NETWORKS:
    raise ImportError(f"BR_NETWORK_MODELS {tuple(BR_NETWORK_MODELS)} and reidlab.choices.BR_NETWORKS "
                      f"{BR_NETWORKS} disagree")


def rfd_network(model: Mapping[str, Any], num_classes: int, *, pretrained: bool = True) -> nn.Module:
    """B-F's or B-R's network of a run's model section: the one its ``br_network`` names
    (absent: MGN; B-F's identity never holds it)."""
    return build_model(BR_NETWORK_MODELS[model.get("br_network", "mgn")], model, num_classes,
                       pretrained=pretrained)


# ------------------------------------------------------------------------- PS-HRNet

@register_model
def hrnet_reid(ps: Any, num_classes: int, *, pretrained: Pretrained = None) -> HRNetReID:
    """HRNet-ReID as configured by ``ps`` (:class:`~reidlab.config.PSHRNetConfig`: ``hrnet``,
    ``embed_dim``, ``head``), its backbone from ``pretrained``."""
    return HRNetReID(num_classes, hrnet=ps.hrnet, embed_dim=ps.embed_dim, pretrained=pretrained, head=ps.head)


@register_model
def vdsr_ca(ps: Any) -> VDSRCA:
    """VDSR-CA as configured by ``ps`` (``vdsr_channels``, ``vdsr_blocks``, ``vdsr_bias``,
    ``vdsr_init``); always from scratch."""
    return VDSRCA(channels=ps.vdsr_channels, blocks=ps.vdsr_blocks, bias=ps.vdsr_bias, init=ps.vdsr_init)


@register_model
def ps_hrnet_student(ps: Any, num_classes: int, *, pretrained: Pretrained = None,
                     teacher_state: Mapping[str, torch.Tensor] | None = None) -> PSHRNetStudent:
    """VDSR-CA followed by HRNet-ReID; the latter a copy of ``teacher_state`` (a trained
    teacher's state dict: copied, never shared) when given, else from ``pretrained``."""
    vdsr = vdsr_ca(ps)
    reid = hrnet_reid(ps, num_classes, pretrained=None if teacher_state is not None else pretrained)
    if teacher_state is not None:
        reid.load_state_dict(teacher_state)
    return PSHRNetStudent(vdsr, reid)


# ------------------------------------------------------------------ pre-training

@register_model
def backbone_classifier(arch: str, name: str, head_sizes: Sequence[int]) -> BackboneClassifier:
    """The pre-training network: ``arch`` ``"resnet"`` (torchvision) or ``"hrnet"`` (timm)
    backbone ``name`` from random weights, one linear head of ``head_sizes`` classes."""
    trunk, channels = backbone_trunk(arch, name)
    return BackboneClassifier(trunk, channels, head_sizes)
