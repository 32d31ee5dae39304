"""VDSR-CA: the super-resolution branch of PS-HRNet (Zhang et al., IEEE TIP 2021).

PS-HRNet restores a low-resolution person image (already resized to the network's
input size) with a VDSR-style network (Kim et al., CVPR 2016) whose conv layers are
each followed by channel attention:

* head: ``3x3 conv (3 -> C) + ReLU``;
* body: ``blocks`` x ``[3x3 conv (C -> C) + channel attention + ReLU]``, the attention
  squeezing the ``C`` channels to ``squeezed = 4`` and back with a sigmoid gate;
* tail: ``3x3 conv (C -> 3)``;
* global residual learning (VDSR): ``y = x + tail(body(head(x)))``.

The channel attention is the project's :class:`~reidlab.models.attention.ChannelAttention`
(squeeze / excite / rescale, RFD Eq. (4)-(6)) parametrised by its hidden width
(:class:`ChannelGate`).

Initialisation (ours; the papers do not pin it down): the convs are He-initialised
(VDSR), the gate's last bias starts at ``gate_bias`` so that every gate starts mostly
open (``sigmoid(3) ~ 0.95``; a gate at ``~0.5`` in each of 18 blocks would attenuate
the signal ~2^18 times and starve the body of gradient), and the tail conv is
initialised with a small standard deviation so that the network starts close to the
identity ``y ~ x`` while every layer already receives gradient.
"""
from __future__ import annotations

import torch
from torch import nn

from reidlab.models.attention import ChannelAttention

__all__ = ["ChannelGate", "VDSRBlock", "VDSRCA"]


class ChannelGate(ChannelAttention):
    """Channel attention of VDSR-CA: ``C -> squeezed -> C`` with a sigmoid gate.

    The squeeze / excitation / rescaling equations are :class:`ChannelAttention`'s
    (RFD Eq. (4)-(6)); only the bottleneck is given by its width (PS-HRNet squeezes to
    4 channels) instead of a reduction ratio.

    Args:
        channels: channels ``C`` of the gated feature map; a multiple of ``squeezed``.
        squeezed: hidden width of the excitation bottleneck (4 in PS-HRNet).
        gate_bias: initial bias of the last excitation layer (``sigmoid(gate_bias)`` is
            the gate's value for a zero descriptor; see the module docstring).
    """

    def __init__(self, channels: int, squeezed: int = 4, gate_bias: float = 3.0) -> None:
        if squeezed <= 0 or channels <= 0 or channels % squeezed != 0:
            raise ValueError(
                f"ChannelGate needs channels to be a positive multiple of squeezed, got "
                f"channels={channels}, squeezed={squeezed}")
        super().__init__(channels, reduction=channels // squeezed)
        self.squeezed = squeezed
        nn.init.constant_(self.fc_up.bias, gate_bias)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, squeezed={self.squeezed}"


class VDSRBlock(nn.Sequential):
    """One body block of VDSR-CA: ``3x3 conv -> channel attention -> ReLU``."""

    def __init__(self, channels: int, squeezed: int = 4) -> None:
        super().__init__(
            nn.Conv2d(channels, channels, kernel_size=3, padding=1),
            ChannelGate(channels, squeezed),
            nn.ReLU(inplace=True),
        )


class VDSRCA(nn.Module):
    """VDSR with channel attention (PS-HRNet's restoration network).

    Maps an (N, 3, H, W) image to an image of the same size, for any ``H x W``.

    Args:
        channels: width ``C`` of the head and body convs (64 in PS-HRNet).
        blocks: number of body blocks (18 in PS-HRNet; with head and tail, 20 convs as
            in VDSR).
        ca_reduced: hidden width of every channel-attention bottleneck (4 in PS-HRNet).
        tail_std: standard deviation of the tail conv's initial weights (small: the
            network starts near the identity).
    """

    def __init__(self, channels: int = 64, blocks: int = 18, ca_reduced: int = 4,
                 tail_std: float = 1e-3) -> None:
        super().__init__()
        if blocks < 0:
            raise ValueError(f"blocks must be >= 0, got {blocks}")
        self.channels = channels
        self.blocks = blocks
        self.head = nn.Sequential(nn.Conv2d(3, channels, kernel_size=3, padding=1),
                                  nn.ReLU(inplace=True))
        self.body = nn.Sequential(*(VDSRBlock(channels, ca_reduced) for _ in range(blocks)))
        self.tail = nn.Conv2d(channels, 3, kernel_size=3, padding=1)
        self._init_weights(tail_std)

    def _init_weights(self, tail_std: float) -> None:
        for module in [*self.head.modules(), *self.body.modules()]:
            if isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.tail.weight, std=tail_std)
        nn.init.zeros_(self.tail.bias)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The learned residual ``tail(body(head(x)))`` (the missing high frequencies)."""
        return self.tail(self.body(self.head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Global residual learning (VDSR): restored image ``y = x + residual(x)``."""
        return x + self.residual(x)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, blocks={self.blocks}"
