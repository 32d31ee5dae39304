"""ResNet-18 at a fraction of its width: a backbone for CPUs.

torchvision's basic-block ResNets are 64 channels wide after the stem (64-128-256-512 over the four
stages); this one keeps the depth and the strides and scales every width by ``width / 64``.
MGN copies ``layer3[1:]`` and ``layer4`` three times and runs its part branches at stride 1, so its
cost grows with the square of those widths: at half width it computes about a quarter of ResNet-18's
MGN (benchmarks/model_speed.py measures it). There are no ImageNet weights for it; it starts from the
pre-training stand-in (:mod:`reidlab.recipes.pretraining`) or from random weights.
"""
from __future__ import annotations

from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from reidlab.models.backbones import register_backbone


class NarrowResNet(ResNet):
    """A basic-block ResNet whose stages are ``width``, 2, 4 and 8 x ``width`` channels wide
    (torchvision's: ``width=64``), built and initialised as torchvision builds its own."""

    def __init__(self, layers: tuple[int, int, int, int] = (2, 2, 2, 2), width: int = 32,
                 num_classes: int = 1000) -> None:
        nn.Module.__init__(self)
        if width <= 0:
            raise ValueError(f"width must be > 0, got {width}")
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(BasicBlock, width, layers[0])
        self.layer2 = self._make_layer(BasicBlock, 2 * width, layers[1], stride=2)
        self.layer3 = self._make_layer(BasicBlock, 4 * width, layers[2], stride=2)
        self.layer4 = self._make_layer(BasicBlock, 8 * width, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width, num_classes)
        for m in self.modules():   # torchvision's ResNet initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


def resnet18_half() -> NarrowResNet:
    """ResNet-18 at half width (32-64-128-256 channels)."""
    return NarrowResNet((2, 2, 2, 2), width=32)


register_backbone("resnet18_half", resnet18_half)
