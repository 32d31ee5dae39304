"""Re-id networks: MGN with RFD channel attention and PS-HRNet's VDSR-CA and HRNet-ReID."""
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
from reidlab.models.vdsr import VDSRCA, ChannelGate, VDSRBlock
from reidlab.models.hrnet_reid import (
    HRNET_STRIDE,
    HRNetReID,
    PSHRNetStudent,
    check_input_size,
    create_hrnet_backbone,
    hrnet_backbones,
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
    "ChannelGate", "VDSRBlock", "VDSRCA",
    "HRNET_STRIDE", "HRNetReID", "PSHRNetStudent", "check_input_size", "create_hrnet_backbone",
    "hrnet_backbones",
]
