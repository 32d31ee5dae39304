"""Re-id networks: MGN with RFD channel attention (and, from their own modules, PS-HRNet's)."""
from reidlab.models.attention import ChannelAttention
from reidlab.models.mgn import (
    MGN,
    PART_STRIPES,
    MGNBranch,
    build_mgn,
    count_parameters,
    imagenet_state_dict,
    resnet_backbones,
)

__all__ = [
    "ChannelAttention",
    "MGN",
    "MGNBranch",
    "PART_STRIPES",
    "build_mgn",
    "count_parameters",
    "imagenet_state_dict",
    "resnet_backbones",
]
