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

Conv biases (``bias``) and initialisation (``init``) come in two versions:

* ``init="authors"`` (PS-HRNet authors' notebook, VDSR cell, which follows the VDSR
  reference code): every conv weight, the channel attention's 1x1 convs included, is
  drawn from ``N(0, 2 / (k * k * out_channels))`` (He normal, fan-out), biases keep
  PyTorch's default; with ``bias=False`` the 3x3 convs have no bias, as there;
* ``init="identity"`` (ours): the 3x3 head and body convs He normal (fan-in) with zero
  bias, every gate's last bias at ``gate_bias`` so that the gates start mostly open
  (``sigmoid(3) ~ 0.95``; gates at ``~0.5`` in each of 18 blocks attenuate the signal
  ~2^18 times and starve the head of gradient), and the tail conv drawn with a small
  standard deviation, so that the network starts close to the identity ``y ~ x`` while
  every layer already receives gradient.

The defaults are ours (``bias=True``, ``init="identity"``). With the authors' version
the 18 gates start near 0.5 and the residual of the 64-channel, 18-block network is
~5e-6 of the input, its head's gradient ~300 times smaller than with ours; pass
``bias=False, init="authors"`` for the authors' network.
"""
from __future__ import annotations

import torch
from torch import nn

from reidlab import choices
from reidlab.models.attention import ChannelAttention

__all__ = ["ChannelGate", "VDSRBlock", "VDSRCA", "VDSR_INITS"]

#: Initialisations of :class:`VDSRCA` (see the module docstring; :data:`reidlab.choices.VDSR_INITS`).
VDSR_INITS: tuple[str, ...] = choices.VDSR_INITS


#: Defaults of :class:`VDSRCA`'s ``bias`` and ``init``.
BIAS_DEFAULT: bool = True
INIT_DEFAULT: str = "identity"


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
    """One body block of VDSR-CA: ``3x3 conv -> channel attention -> ReLU`` (``bias``: of
    the 3x3 conv; the authors' has none)."""

    def __init__(self, channels: int, squeezed: int = 4, bias: bool = True) -> None:
        super().__init__(
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=bias),
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
        tail_std: standard deviation of the tail conv's initial weights with
            ``init="identity"`` (small: the network starts near the identity).
        bias: whether the 3x3 convs (head, body, tail) have a bias (default ``True``; the
            authors' have none).
        init: ``"identity"`` (default; ours: open gates, small tail, starts near
            ``y = x``) or ``"authors"`` (VDSR's He normal on every conv; see the module
            docstring).
    """

    def __init__(self, channels: int = 64, blocks: int = 18, ca_reduced: int = 4,
                 tail_std: float = 1e-3, *, bias: bool = BIAS_DEFAULT,
                 init: str = INIT_DEFAULT) -> None:
        super().__init__()
        if blocks < 0:
            raise ValueError(f"blocks must be >= 0, got {blocks}")
        choices.check_choice("init", init, VDSR_INITS)
        self.channels = channels
        self.blocks = blocks
        self.init = init
        self.head = nn.Sequential(nn.Conv2d(3, channels, kernel_size=3, padding=1, bias=bias),
                                  nn.ReLU(inplace=True))
        self.body = nn.Sequential(*(VDSRBlock(channels, ca_reduced, bias) for _ in range(blocks)))
        self.tail = nn.Conv2d(channels, 3, kernel_size=3, padding=1, bias=bias)
        if init == "authors":
            self._init_authors()
        else:
            self._init_identity(tail_std)

    def _init_authors(self) -> None:
        """VDSR's initialisation, as in the PS-HRNet authors' notebook (VDSR cell): every
        conv weight ``~ N(0, 2 / (k_h * k_w * out_channels))``, biases PyTorch's default."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                module.reset_parameters()          # PyTorch's default bias (gates too)
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, mean=0.0, std=(2.0 / fan_out) ** 0.5)

    def _init_identity(self, tail_std: float) -> None:
        """Ours: He normal (fan-in) 3x3 head/body convs with zero bias, gates open
        (:class:`ChannelGate`'s ``gate_bias``), tail ``N(0, tail_std^2)``."""
        for module in [*self.head.modules(), *self.body.modules()]:
            if isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.normal_(self.tail.weight, std=tail_std)
        if self.tail.bias is not None:
            nn.init.zeros_(self.tail.bias)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The learned residual ``tail(body(head(x)))`` (the missing high frequencies)."""
        return self.tail(self.body(self.head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Global residual learning (VDSR): restored image ``y = x + residual(x)``."""
        return x + self.residual(x)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, blocks={self.blocks}, init={self.init!r}"
