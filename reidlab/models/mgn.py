"""MGN with channel attention after every stage: the RFD re-id network (Sec. 3.2-3.3).

Multiple Granularity Network (Wang et al., ACM MM 2018) on a ResNet-shaped backbone (a registered one:
:mod:`reidlab.models.backbones`):

* shared part: stem (conv1, bn1, relu, maxpool), layer1, layer2 and the first block of
  layer3;
* three branches, each with its own copy of the rest of layer3 and of layer4: a global
  branch and two part branches (layer4 with stride 1, 24x8 maps at 384x128) cut into 2
  and 3 horizontal stripes;
* pooling of each branch map and of each stripe, each pooled vector reduced by a
  1x1 conv + BN + ReLU to ``feat_dim``, and one identity classifier per reduced
  feature: 3 global + 2 + 3 part features, 8 classifiers.

The global branch comes in two versions (``global_branch``):

* ``"rfd"`` (default), RFD Sec. 3.2: the last down-sampling block of the global module
  has stride 1 (24x8 maps at 384x128) and its map is global *average* pooled;
* ``"mgn"``, the original MGN: layer4 down-samples by 2 (12x4 maps) and is max pooled.

Both have the same parameters (a stride has none). The part branches are MGN's in both
(stride 1, max pooling).

RFD (Munir et al.) adds channel attention (:class:`ChannelAttention`, Eq. (4)-(6))
after every stage: after layer1 and layer2 (shared) and, in every branch, after the
rest of layer3 and after layer4. ``attention=False`` gives the plain MGN baseline.

The test-time descriptor concatenates the 8 reduced features (``8 * feat_dim``).
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from reidlab import choices
from reidlab.models.attention import ChannelAttention
from reidlab.models.backbones import backbone_names, build_backbone, check_backbone
from reidlab.models.pretrained import (
    Pretrained,
    imagenet_state_dict,
    load_backbone_weights,
    resnet_weights_file,
)

__all__ = ["MGN", "MGNBranch", "build_mgn", "count_parameters", "backbone_names",
           "imagenet_state_dict", "PART_STRIPES", "GLOBAL_BRANCHES"]

#: Number of horizontal stripes of the three branches (1 = global branch only).
PART_STRIPES: tuple[int, ...] = (1, 2, 3)

#: Global branch versions: ``name -> (layer4 stride, pooling)`` (:data:`reidlab.choices.GLOBAL_BRANCHES`).
GLOBAL_BRANCHES: dict[str, tuple[int, str]] = choices.GLOBAL_BRANCHES


def _check_global_branch(global_branch: str) -> None:
    if global_branch not in GLOBAL_BRANCHES:
        raise ValueError(f"global_branch={global_branch!r} is not valid; choose one of "
                         f"{', '.join(map(repr, GLOBAL_BRANCHES))}")


def _attention(channels: int, reduction: int, enabled: bool) -> nn.Module:
    return ChannelAttention(channels, reduction) if enabled else nn.Identity()


def _remove_downsampling(layer: nn.Sequential) -> None:
    """Give ``layer`` stride 1: the first block's strided conv and its downsample conv."""
    first = layer[0]
    for module in first.modules():
        if isinstance(module, nn.Conv2d) and module.stride != (1, 1):
            module.stride = (1, 1)
    if hasattr(first, "stride"):
        first.stride = 1


def _reduction_block(in_channels: int, feat_dim: int) -> nn.Sequential:
    """1x1 conv + BN + ReLU mapping a pooled vector to ``feat_dim``; MGN's initialisation."""
    block = nn.Sequential(
        nn.Conv2d(in_channels, feat_dim, kernel_size=1, bias=False),
        nn.BatchNorm2d(feat_dim),
        nn.ReLU(inplace=True),
    )
    nn.init.kaiming_normal_(block[0].weight, mode="fan_in")
    nn.init.ones_(block[1].weight)
    nn.init.zeros_(block[1].bias)
    return block


def _classifier(feat_dim: int, num_classes: int) -> nn.Linear:
    fc = nn.Linear(feat_dim, num_classes)
    nn.init.normal_(fc.weight, mean=0.0, std=0.001)
    nn.init.zeros_(fc.bias)
    return fc


class MGNBranch(nn.Module):
    """One MGN branch: rest of layer3 [+ CA], layer4 [+ CA], pooling, reductions.

    ``n_stripes == 1`` is the global branch; otherwise the branch map is pooled as a
    whole (branch-level global feature) and per horizontal stripe.

    Args:
        layer3_rest: layer3 without its first block (owned by this branch).
        layer4: layer4 (owned by this branch; its stride is set by the caller).
        n_stripes: horizontal stripes of the part branch (1 for the global branch).
        in_channels: channels of the layer4 output (2048 for ResNet-50, 512 for -18/34).
        attention: whether channel attention follows layer3 and layer4.
        reduction: channel attention reduction ratio.
        feat_dim: width of every reduced feature.
        pooling: ``"max"`` (MGN) or ``"avg"`` (RFD's global module) pooling of the map
            and of the stripes.
    """

    def __init__(self, layer3_rest: nn.Sequential, layer4: nn.Sequential, n_stripes: int,
                 in_channels: int, *, attention: bool, reduction: int, feat_dim: int,
                 pooling: str = "max") -> None:
        super().__init__()
        if n_stripes < 1:
            raise ValueError(f"n_stripes must be >= 1, got {n_stripes}")
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling={pooling!r} is not valid; choose 'max' or 'avg'")
        self.n_stripes = n_stripes
        self.pooling = pooling
        self.layer3 = layer3_rest
        self.att3 = _attention(in_channels // 2, reduction, attention)
        self.layer4 = layer4
        self.att4 = _attention(in_channels, reduction, attention)
        n_features = 1 if n_stripes == 1 else 1 + n_stripes
        self.reductions = nn.ModuleList(
            _reduction_block(in_channels, feat_dim) for _ in range(n_features))

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Branch map after layer3 rest [+ CA] and layer4 [+ CA]."""
        return self.att4(self.layer4(self.att3(self.layer3(x))))

    def pool(self, fmap: torch.Tensor) -> list[torch.Tensor]:
        """Pooled (N, C, 1, 1) vectors (max or average): the whole map, then each stripe
        top to bottom."""
        pool = F.adaptive_max_pool2d if self.pooling == "max" else F.adaptive_avg_pool2d
        pooled = [pool(fmap, 1)]
        if self.n_stripes > 1:
            stripes = pool(fmap, (self.n_stripes, 1))
            pooled.extend(stripes.split(1, dim=2))
        return pooled

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Reduced (N, feat_dim) features: branch-global first, then the stripes."""
        pooled = self.pool(self.feature_map(x))
        return [red(p).flatten(1) for red, p in zip(self.reductions, pooled)]


class MGN(nn.Module):
    """Multiple Granularity Network with RFD channel attention after every stage.

    The ResNet's shared modules (stem, layer1, layer2, layer3[0]) are reused, not
    copied; each branch gets deep copies of layer3[1:] and layer4.

    Args:
        resnet: a ResNet-shaped backbone (:mod:`reidlab.models.backbones`), random or pretrained.
        num_classes: number of training identities (classifier outputs).
        attention: channel attention after every stage (RFD) or none (MGN baseline).
        reduction: channel attention reduction ratio (Eq. (5)).
        feat_dim: width of every reduced feature (descriptor is ``8 * feat_dim``).
        dropout: dropout probability applied to the reduced features before the
            classifiers (training only; triplet features and descriptor are unaffected).
        global_branch: ``"rfd"`` (stride 1 + average pooling, RFD Sec. 3.2) or ``"mgn"``
            (stride 2 + max pooling, the original MGN); see :data:`GLOBAL_BRANCHES`.
        input_size: ``(height, width)`` the network resizes its input to first (bilinear with
            anti-aliasing; a cheaper network on the same images), or ``None``.
    """

    def __init__(self, resnet: nn.Module, num_classes: int, *, attention: bool = True,
                 reduction: int = 16, feat_dim: int = 256, dropout: float = 0.5,
                 global_branch: str = "rfd", input_size: tuple[int, int] | None = None,
                 batched_heads: bool = False) -> None:
        super().__init__()
        self.batched_heads = batched_heads
        if input_size is not None and (len(input_size) != 2 or min(input_size) <= 0):
            raise ValueError(f"input_size must be (height, width) > 0 or None, got {input_size!r}")
        self.input_size = tuple(input_size) if input_size is not None else None
        _check_global_branch(global_branch)
        if num_classes <= 0:
            raise ValueError(f"num_classes must be > 0, got {num_classes}")
        if feat_dim <= 0:
            raise ValueError(f"feat_dim must be > 0, got {feat_dim}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if len(resnet.layer3) < 2:
            raise ValueError("MGN needs a ResNet whose layer3 has at least two blocks")
        channels = resnet.fc.in_features          # layer4 output: 512 * block expansion
        self.num_classes = num_classes
        self.feat_dim = feat_dim
        self.attention = attention
        self.global_branch = global_branch

        # Shared part: stem, layer1 [+ CA], layer2 [+ CA], first block of layer3.
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.layer1 = resnet.layer1
        self.att1 = _attention(channels // 8, reduction, attention)
        self.layer2 = resnet.layer2
        self.att2 = _attention(channels // 4, reduction, attention)
        self.layer3_head = resnet.layer3[0]

        # Branches: own copies of layer3[1:] and layer4; part branches keep stride 1,
        # the global branch as ``global_branch`` says.
        layer3_rest = nn.Sequential(*resnet.layer3[1:])
        global_stride, global_pooling = GLOBAL_BRANCHES[global_branch]
        branches = []
        for n_stripes in PART_STRIPES:
            is_global = n_stripes == 1
            layer4 = copy.deepcopy(resnet.layer4)
            if not is_global or global_stride == 1:
                _remove_downsampling(layer4)
            branches.append(MGNBranch(copy.deepcopy(layer3_rest), layer4, n_stripes, channels,
                                      attention=attention, reduction=reduction,
                                      feat_dim=feat_dim,
                                      pooling=global_pooling if is_global else "max"))
        self.branches = nn.ModuleList(branches)

        self.dropout = nn.Dropout(dropout)
        self.classifiers = nn.ModuleList(
            _classifier(feat_dim, num_classes) for _ in range(self.num_features))

    @property
    def num_features(self) -> int:
        """Reduced features (= classifiers): 3 global + 2 + 3 part features = 8."""
        return sum(1 if n == 1 else 1 + n for n in PART_STRIPES)

    @property
    def out_dim(self) -> int:
        """Width of the test-time descriptor, ``8 * feat_dim``."""
        return self.num_features * self.feat_dim

    def shared(self, x: torch.Tensor) -> torch.Tensor:
        """Shared trunk: stem, layer1 [+ CA], layer2 [+ CA], layer3[0] (after the resize to
        ``input_size`` when set)."""
        if self.input_size is not None and tuple(x.shape[-2:]) != self.input_size:
            x = F.interpolate(x, size=self.input_size, mode="bilinear", align_corners=False, antialias=True)
        x = self.att1(self.layer1(self.stem(x)))
        x = self.att2(self.layer2(x))
        return self.layer3_head(x)

    def forward_feature_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The three branches' layer4 outputs (after channel attention when enabled)."""
        shared = self.shared(x)
        return tuple(branch.feature_map(shared) for branch in self.branches)

    def reduced_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The 8 reduced features in MGN order: the 3 branch-global ones, then the
        2 stripes of the 2-part branch and the 3 stripes of the 3-part branch."""
        shared = self.shared(x)
        per_branch = [branch(shared) for branch in self.branches]
        globals_ = [feats[0] for feats in per_branch]
        parts = [f for feats in per_branch for f in feats[1:]]
        return globals_ + parts

    def heads_logits(self, feats: list[torch.Tensor], dropout: bool) -> list[torch.Tensor] | torch.Tensor:
        """The classifier heads on ``feats`` (8 x (N, feat_dim)), after dropout when ``dropout``:
        a list of 8 (N, classes) logits, or with ``batched_heads`` one (8, N, classes) tensor from
        a single batched product of the stacked features and the heads' stacked weights (the
        same numbers; few kernels instead of 16 on a GPU)."""
        drop = self.dropout if dropout else (lambda t: t)
        if not self.batched_heads:
            return [fc(drop(f)) for fc, f in zip(self.classifiers, feats)]
        weight = torch.stack([fc.weight for fc in self.classifiers])        # (8, classes, feat_dim)
        bias = torch.stack([fc.bias for fc in self.classifiers]).unsqueeze(1)   # (8, 1, classes)
        return torch.baddbmm(bias, drop(torch.stack(feats)), weight.transpose(1, 2))

    def classify(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The 8 classifier heads' logits without dropout (e.g. B-R's resolution prediction)."""
        return list(self.heads_logits(self.reduced_features(x), dropout=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor | list[torch.Tensor]]:
        """Eval: the (N, 8*feat_dim) descriptor. Train: ``{"logits": [8 x (N, classes)],
        "triplet": [3 x (N, feat_dim)], "features": (N, 8*feat_dim)}``; with ``batched_heads``
        ``"logits"`` is one (8, N, classes) and ``"triplet"`` one (3, N, feat_dim) tensor, which the
        losses take in batched calls."""
        feats = self.reduced_features(x)
        descriptor = torch.cat(feats, dim=1)
        if not self.training:
            return descriptor
        triplet = feats[:len(PART_STRIPES)]
        return {"logits": self.heads_logits(feats, dropout=True),
                "triplet": torch.stack(triplet) if self.batched_heads else triplet, "features": descriptor}


# --------------------------------------------------------------------------- builders


def build_mgn(num_classes: int, backbone: str = "resnet50", attention: bool = True,
              pretrained: Pretrained = None, reduction: int = 16, feat_dim: int = 256,
              dropout: float = 0.5, *, download_timeout: float = 10.0, download: bool = False,
              global_branch: str = "rfd", input_size: tuple[int, int] | None = None,
              batched_heads: bool = False) -> MGN:
    """MGN on the registered ``backbone`` with RFD channel attention (``attention=True``).

    Args:
        num_classes: training identities.
        backbone: a registered backbone (:mod:`reidlab.models.backbones`; :func:`backbone_names`).
        attention: RFD channel attention after every stage; ``False`` = MGN baseline.
        pretrained: ``None`` (random init), ``"imagenet"`` (torchvision's default weights
            from the torch hub cache; :class:`PretrainedWeightsMissing` at once when absent)
            or the path of a ResNet state dict file (see :mod:`reidlab.models.pretrained`).
        reduction: channel attention reduction ratio.
        feat_dim: reduced feature width (descriptor ``8 * feat_dim``).
        dropout: dropout before the classifiers.
        download_timeout: socket timeout (s) for the weights download (``download=True``).
        download: let ``"imagenet"`` download missing weights (default ``False``: never).
        global_branch: ``"rfd"`` (default; stride 1 + average pooling, RFD Sec. 3.2) or
            ``"mgn"`` (stride 2 + max pooling).
        input_size: ``(height, width)`` MGN resizes its input to (``None``: as given).
        batched_heads: train-mode logits and triplet features as stacked tensors from batched
            kernels (:meth:`MGN.heads_logits`), which the losses take in batched calls.
    """
    spec = check_backbone(backbone)
    if pretrained == "imagenet" and not spec.imagenet_weights:
        raise ValueError(f"backbone {backbone!r} has no ImageNet weights (only torchvision's ResNets do); "
                         "pretrained='synthpeople' (the pre-training stand-in), a weights file or None")
    _check_global_branch(global_branch)
    weights_file = resnet_weights_file(backbone, pretrained, download=download,   # fails fast
                                       timeout=download_timeout)
    resnet = build_backbone(backbone)
    if weights_file is not None:
        load_backbone_weights(resnet, weights_file, ignore_missing=("fc.",))
    return MGN(resnet, num_classes, attention=attention, reduction=reduction,
               feat_dim=feat_dim, dropout=dropout, global_branch=global_branch, input_size=input_size,
               batched_heads=batched_heads)


def count_parameters(model: nn.Module, exclude_classifiers: bool = True) -> int:
    """Number of parameters of ``model``; with ``exclude_classifiers``, parameters under a
    module whose name starts with ``classifier`` (the identity classifiers, whose size
    depends on the number of training identities) are left out."""
    total = 0
    for name, param in model.named_parameters():
        if exclude_classifiers and any(part.startswith("classifier") for part in name.split(".")):
            continue
        total += param.numel()
    return total
