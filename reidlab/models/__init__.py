"""Re-id networks: MGN with RFD channel attention and PS-HRNet's VDSR-CA and HRNet-ReID.

:func:`build_model` (:mod:`reidlab.models.build`) builds every network the project trains;
:mod:`reidlab.models.pretrained` finds their starting weights.
"""
from reidlab.models.attention import ChannelAttention
from reidlab.models.pretrained import (
    Pretrained,
    PretrainedWeightsMissing,
    hrnet_weights_file,
    load_weights_file,
    resnet_weights_file,
    weights_file,
)
from reidlab.models.mgn import (
    GLOBAL_BRANCHES,
    MGN,
    PART_STRIPES,
    MGNBranch,
    build_mgn,
    count_parameters,
    imagenet_state_dict,
)
from reidlab.models.backbones import BACKBONES, backbone_names, build_backbone, register_backbone
from reidlab.models.vdsr import VDSR_INITS, VDSRCA, ChannelGate, VDSRBlock
from reidlab.models.resolution_net import ResolutionNet
from reidlab.models.classifier import BackboneClassifier
from reidlab.models.hrnet_reid import (
    AUTHORS_MAX_WEIGHTS,
    AUTHORS_POOL_GRIDS,
    HEADS,
    HRNET_STRIDE,
    ClassBlock,
    HRNetReID,
    PSHRNetStudent,
    check_input_size,
    create_hrnet_backbone,
    flip_descriptor,
    grid_pool,
    hrnet_backbones,
)
from reidlab.models.build import MODELS, build_model, list_models, register_model, rfd_network

__all__ = [
    "MODELS", "build_model", "list_models", "register_model", "rfd_network", "BackboneClassifier",
    "ResolutionNet", "weights_file",
    "Pretrained", "PretrainedWeightsMissing", "hrnet_weights_file", "load_weights_file",
    "resnet_weights_file",
    "GLOBAL_BRANCHES",
    "ChannelAttention",
    "MGN",
    "MGNBranch",
    "PART_STRIPES",
    "build_mgn",
    "count_parameters",
    "imagenet_state_dict",
    "BACKBONES", "backbone_names", "build_backbone", "register_backbone",
    "ChannelGate", "VDSRBlock", "VDSRCA", "VDSR_INITS",
    "AUTHORS_MAX_WEIGHTS", "AUTHORS_POOL_GRIDS", "HEADS", "ClassBlock", "flip_descriptor",
    "grid_pool",
    "HRNET_STRIDE", "HRNetReID", "PSHRNetStudent", "check_input_size", "create_hrnet_backbone",
    "hrnet_backbones",
]
