"""torchvision's ResNet family (RFD's MGN runs on ``resnet50``; the CPU profiles on ``resnet18``):
every ResNet builder torchvision lists, with its ImageNet weights."""
from __future__ import annotations

import functools

import torchvision

from reidlab.models.backbones import register_backbone


def _torchvision_resnets() -> tuple[str, ...]:
    return tuple(name for name in torchvision.models.list_models(module=torchvision.models)
                 if torchvision.models.get_model_builder(name).__module__ == "torchvision.models.resnet")


for _name in _torchvision_resnets():
    register_backbone(_name, functools.partial(torchvision.models.get_model, _name, weights=None),
                      imagenet_weights=True)
