"""Channel attention of RFD (Munir et al., Sec. 3.2, Eq. (4)-(6)).

The block models channel correlations of a feature map ``X`` (C x H x W) in the
squeeze-and-excitation way:

* Eq. (4), squeeze: ``z_c = 1 / (H W) * sum_{i,j} x_c(i, j)`` (global average pooling);
* Eq. (5), excitation: ``s = sigmoid(W_U * ReLU(W_D * z))`` with ``W_D`` reducing the
  channels by ``reduction`` and ``W_U`` restoring them (two FC layers, as 1x1 convs);
* Eq. (6), rescaling: ``x_hat_c = s_c * x_c``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ChannelAttention"]


class ChannelAttention(nn.Module):
    """Channel attention block, RFD Eq. (4)-(6).

    Args:
        channels: number of channels ``C`` of the input feature map.
        reduction: channel reduction ratio ``r`` of the bottleneck FC layer (hidden
            width ``max(C // r, 1)``).
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        if channels <= 0:
            raise ValueError(f"channels must be > 0, got {channels}")
        if reduction <= 0:
            raise ValueError(f"reduction must be > 0, got {reduction}")
        hidden = max(channels // reduction, 1)
        self.channels = channels
        self.reduction = reduction
        self.fc_down = nn.Conv2d(channels, hidden, kernel_size=1, bias=True)  # W_D
        self.fc_up = nn.Conv2d(hidden, channels, kernel_size=1, bias=True)    # W_U

    @staticmethod
    def squeeze(x: torch.Tensor) -> torch.Tensor:
        """Eq. (4) of RFD: channel descriptor ``z`` by global average pooling, (N, C, 1, 1)."""
        return F.adaptive_avg_pool2d(x, 1)

    def excite(self, z: torch.Tensor) -> torch.Tensor:
        """Eq. (5) of RFD: gate ``s = sigmoid(W_U ReLU(W_D z))`` in (0, 1), (N, C, 1, 1)."""
        return torch.sigmoid(self.fc_up(F.relu(self.fc_down(z))))

    @staticmethod
    def rescale(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Eq. (6) of RFD: channel-wise rescaling ``x_hat_c = s_c * x_c``."""
        return x * s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rescale(x, self.excite(self.squeeze(x)))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}"
