"""HRNet-ReID and the PS-HRNet student (Zhang et al., IEEE TIP 2021).

HRNet-ReID is an HRNet classification backbone (HRNet-W32-C in PS-HRNet, timm's
``hrnet_*``) with a re-id head. Two heads (``head``):

``"authors"`` (default): the head of the authors' notebook (``PS-HRNet.ipynb``, HRNet
  cell). Each of the four stage-4 branches is widened by its own "increase" bottleneck
  block (HRNet's ``incre_modules``: 128, 256, 512, 1024 channels at strides 4, 8, 16, 32),
  then pooled on a grid as ``avg + w * max`` (:func:`grid_pool`): 4x4 with ``w = 0.5``
  for the highest resolution, 2x2, 2x2 and 1x1 with ``w = 0.2`` for the others
  (:data:`AUTHORS_POOL_GRIDS`, :data:`AUTHORS_MAX_WEIGHTS`). The flattened branch
  features are concatenated into ``f`` (2048 + 1024 + 2048 + 1024 = 6144-d), which feeds
  a :class:`ClassBlock` (``Linear(6144, 512)``, ``BatchNorm1d``, ``Dropout(0.5)``,
  classifier). The test descriptor is ``concat(f, e)`` with ``e`` the 512-d
  ``BN(Linear(f))``: 6656-d. HRNet's aggregation layers (``downsamp_modules``,
  ``final_layer``) are unused by the authors and dropped here.

``"bnneck"``: timm's classification head fuses the four branches (incre blocks, strided
  3x3 convs summing from the highest resolution down, 1x1 conv to 2048 channels at
  stride 32, average pooling: :meth:`HRNetReID.pooled`), then ``Linear(2048, embed_dim)``
  and a BNNeck (Luo et al., "Bag of Tricks", CVPRW 2019): the triplet loss sees the
  feature before the BN (``f_t``), the classifier and the descriptor the feature after
  it (``f_i = BN(f_t)``, BN bias frozen at zero). Descriptor: ``embed_dim``.

Train-mode outputs share one layout (what :func:`~reidlab.losses.ps_hrnet.reid_loss`,
:func:`~reidlab.losses.ps_hrnet.pseudo_siamese_loss` and the ``authors_*`` losses read):
``{"logits": [(N, classes)], "triplet": [...], "features": (N, out_dim)}``; for
``"authors"`` ``"triplet"`` is ``[f, f_1, f_2, f_3, f_4]`` (the 6144-d feature and each
branch's pooled feature, the triplet and distillation targets of the authors' loss) and
``"features"`` the train-mode descriptor ``concat(f, e)``. :meth:`HRNetReID.outputs`
gives the same dict in eval mode (the frozen teacher's targets).

At test time the authors add the descriptors of the image and of its horizontal mirror
and L2-normalise the sum (:func:`flip_descriptor`); the engine's ``extract(flip=True)``
followed by the cosine distance ranks identically.

HRNet fuses its branches by stride-2 convs and nearest up-sampling, so the input height
and width must be multiples of 32 (:func:`check_input_size`).

:class:`PSHRNetStudent` is the low-resolution branch of the pseudo-siamese framework:
VDSR-CA restores the image, HRNet-ReID describes the restored image.
"""
from __future__ import annotations

from collections.abc import Sequence

import timm
import torch
import torch.nn.functional as F
from torch import nn

from reidlab.choices import HRNET_HEADS, check_choice, hrnet_backbones
from reidlab.models.pretrained import Pretrained, hrnet_weights_file, load_backbone_weights
from reidlab.models.vdsr import VDSRCA

__all__ = ["HRNetReID", "PSHRNetStudent", "ClassBlock", "hrnet_backbones", "check_input_size",
           "create_hrnet_backbone", "grid_pool", "flip_descriptor", "HRNET_STRIDE", "HEADS",
           "AUTHORS_POOL_GRIDS", "AUTHORS_MAX_WEIGHTS", "ReidOutput"]

#: Train-mode output: ``{"logits": [...], "triplet": [...], "features": ...}`` (MGN layout).
ReidOutput = dict[str, torch.Tensor | list[torch.Tensor]]

#: Output stride of HRNet's classification head: input sizes must be multiples of it.
HRNET_STRIDE: int = 32

#: Re-id heads of :class:`HRNetReID` (:data:`reidlab.choices.HRNET_HEADS`).
HEADS: tuple[str, ...] = HRNET_HEADS

#: Pooling grid of each stage-4 branch, highest resolution first (authors' notebook).
AUTHORS_POOL_GRIDS: tuple[int, ...] = (4, 2, 2, 1)

#: Weight ``w`` of the max pooling in ``avg + w * max`` per branch (authors' notebook).
AUTHORS_MAX_WEIGHTS: tuple[float, ...] = (0.5, 0.2, 0.2, 0.2)


def check_input_size(height: int, width: int) -> None:
    """Raise ``ValueError`` unless ``height`` and ``width`` are multiples of 32.

    HRNet's multi-resolution fusion adds maps down-sampled by strided convs to maps
    up-sampled by powers of two; other sizes give mismatched shapes deep inside timm.
    """
    if height <= 0 or width <= 0 or height % HRNET_STRIDE or width % HRNET_STRIDE:
        raise ValueError(
            f"HRNet-ReID needs an input size whose height and width are positive multiples "
            f"of {HRNET_STRIDE}, got {height}x{width}; choose e.g. "
            f"{max(HRNET_STRIDE, round(height / HRNET_STRIDE) * HRNET_STRIDE)}x"
            f"{max(HRNET_STRIDE, round(width / HRNET_STRIDE) * HRNET_STRIDE)}")


# --------------------------------------------------------------------------- backbone


def create_hrnet_backbone(name: str = "hrnet_w32", pretrained: Pretrained = None, *,
                          download_timeout: float = 10.0, download: bool = False,
                          head: str = "classification") -> nn.Module:
    """timm HRNet without classifier.

    Args:
        name: a timm HRNet (see :func:`hrnet_backbones`).
        pretrained: ``None`` (random init), ``"imagenet"`` (timm's default ImageNet
            weights from the local Hugging Face cache; :class:`PretrainedWeightsMissing`
            at once when absent) or the path of an HRNet state dict file (timm names; see
            :mod:`reidlab.models.pretrained`).
        download_timeout: connection timeout (s) of the download (``download=True``).
        download: let ``"imagenet"`` download missing weights (default ``False``: never).
        head: timm head: ``"classification"`` (``model(x)`` is the pooled (N, 2048) fused
            feature) or ``"incre"`` (stage 4 and its increase blocks only:
            ``model.forward_features(x)`` is the list of the four stage-4 maps, to be passed
            through ``model.incre_modules``).
    """
    valid = hrnet_backbones()
    if name not in valid:
        raise ValueError(f"hrnet={name!r} is not a timm HRNet; choose one of: {', '.join(valid)}")
    if head not in ("classification", "incre"):
        raise ValueError(f"head={head!r} is not valid; choose 'classification' or 'incre'")
    weights_file = hrnet_weights_file(name, pretrained, download=download,   # fails fast
                                      timeout=download_timeout)
    model = timm.create_model(name, pretrained=False, num_classes=0, head=head)
    if head == "incre" and not hasattr(model, "downsamp_modules"):
        # timm 1.0.29 builds the "incre" head without this attribute, yet its forward_features
        # reads it (AttributeError; seen on a GPU machine's image); 1.0.31 sets it to None
        model.downsamp_modules = None
    if weights_file is not None:
        load_backbone_weights(model, weights_file)
    return model


# -------------------------------------------------------------------------------- heads


def grid_pool(fmap: torch.Tensor, grid: int, max_weight: float) -> torch.Tensor:
    """Authors' pooling of one branch map: ``avg_g(x) + w * max_g(x)`` on a ``g x g``
    grid (adaptive pooling), flattened channel-major to (N, C * g * g).

    PS-HRNet authors' notebook, HRNet cell (forward after the ``incre_modules``).
    """
    pooled = F.adaptive_avg_pool2d(fmap, grid) + max_weight * F.adaptive_max_pool2d(fmap, grid)
    return pooled.flatten(1)


class ClassBlock(nn.Module):
    """The authors' ClassBlock: ``Linear(in_dim, embed_dim) -> BatchNorm1d -> Dropout ->
    Linear(embed_dim, num_classes)`` (PS-HRNet notebook; from Person_reID_baseline_pytorch).

    Initialisation as there: the bottleneck ``Linear`` He-normal (fan_out) with zero
    bias, the BN weight ``N(1, 0.02)`` and zero bias, the classifier weight
    ``N(0, 0.001)`` (its bias keeps PyTorch's default).
    """

    def __init__(self, in_dim: int, num_classes: int, embed_dim: int = 512,
                 dropout: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.bottleneck = nn.Linear(in_dim, embed_dim)
        self.bn = nn.BatchNorm1d(embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embed_dim, num_classes)
        nn.init.kaiming_normal_(self.bottleneck.weight, a=0, mode="fan_out")
        nn.init.zeros_(self.bottleneck.bias)
        nn.init.normal_(self.bn.weight, 1.0, 0.02)
        nn.init.zeros_(self.bn.bias)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def embed(self, f: torch.Tensor) -> torch.Tensor:
        """``e = BN(W f + b)``: the 512-d part of the descriptor (before the dropout)."""
        return self.bn(self.bottleneck(f))

    def classify(self, e: torch.Tensor) -> torch.Tensor:
        """Identity logits of ``e`` (dropout in training mode)."""
        return self.classifier(self.dropout(e))


class HRNetReID(nn.Module):
    """HRNet backbone + re-id head (PS-HRNet's HRNet-ReID); see the module docstring.

    Args:
        num_classes: training identities (classifier outputs).
        hrnet: timm HRNet name (``"hrnet_w32"`` = HRNet-W32-C of PS-HRNet;
            ``"hrnet_w18_small"`` for CPU runs).
        embed_dim: width of the bottleneck (512 in PS-HRNet): the ClassBlock's ``e``
            (``"authors"``) or the descriptor (``"bnneck"``).
        pretrained: ``None``, ``"imagenet"`` or a weights file path (see
            :func:`create_hrnet_backbone`).
        download_timeout, download: see :func:`create_hrnet_backbone`.
        head: ``"authors"`` (default; pooled multi-branch head + ClassBlock, descriptor
            ``6144 + embed_dim``) or ``"bnneck"`` (timm head + BNNeck, descriptor
            ``embed_dim``).
        dropout: dropout of the authors' ClassBlock before its classifier (0.5).
        pool_grids, max_weights: the authors' head's per-branch pooling grid and max
            weight (:data:`AUTHORS_POOL_GRIDS`, :data:`AUTHORS_MAX_WEIGHTS`).
    """

    def __init__(self, num_classes: int, hrnet: str = "hrnet_w32", embed_dim: int = 512,
                 pretrained: Pretrained = None, *, download_timeout: float = 10.0,
                 download: bool = False, head: str = "authors", dropout: float = 0.5,
                 pool_grids: Sequence[int] = AUTHORS_POOL_GRIDS,
                 max_weights: Sequence[float] = AUTHORS_MAX_WEIGHTS) -> None:
        super().__init__()
        for name, value in (("num_classes", num_classes), ("embed_dim", embed_dim)):
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        check_choice("head", head, HEADS)
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.hrnet = hrnet
        self.head = head
        self.backbone = create_hrnet_backbone(
            hrnet, pretrained, download_timeout=download_timeout, download=download,
            head="incre" if head == "authors" else "classification")
        if head == "authors":
            self._build_authors_head(num_classes, embed_dim, dropout, pool_grids, max_weights)
        else:
            self._build_bnneck_head(num_classes, embed_dim)

    def _build_authors_head(self, num_classes: int, embed_dim: int, dropout: float,
                            pool_grids: Sequence[int], max_weights: Sequence[float]) -> None:
        channels = [info["num_chs"] for info in self.backbone.feature_info[1:]]
        if len(pool_grids) != len(channels) or len(max_weights) != len(channels):
            raise ValueError(f"pool_grids and max_weights need one entry per stage-4 branch "
                             f"({len(channels)}), got {pool_grids} and {max_weights}")
        self.pool_grids = tuple(int(g) for g in pool_grids)
        self.max_weights = tuple(float(w) for w in max_weights)
        self.branch_dims = tuple(c * g * g for c, g in zip(channels, self.pool_grids))
        self.pooled_dim = sum(self.branch_dims)
        self.class_block = ClassBlock(self.pooled_dim, num_classes, embed_dim, dropout)

    def _build_bnneck_head(self, num_classes: int, embed_dim: int) -> None:
        self.pooled_dim = self.backbone.num_features
        self.bottleneck = nn.Linear(self.pooled_dim, embed_dim)
        self.bnneck = nn.BatchNorm1d(embed_dim)
        self.classifier = nn.Linear(embed_dim, num_classes, bias=False)
        nn.init.kaiming_normal_(self.bottleneck.weight, mode="fan_out")
        nn.init.zeros_(self.bottleneck.bias)
        nn.init.ones_(self.bnneck.weight)
        nn.init.zeros_(self.bnneck.bias)
        self.bnneck.bias.requires_grad_(False)      # BNNeck: no shift
        nn.init.normal_(self.classifier.weight, std=0.001)

    @property
    def out_dim(self) -> int:
        """Width of the test-time descriptor: ``6144 + embed_dim`` (authors) or
        ``embed_dim`` (bnneck)."""
        return self.pooled_dim + self.embed_dim if self.head == "authors" else self.embed_dim

    # ------------------------------------------------------------------ features

    def branch_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Authors' head: the four stage-4 maps, each through its own increase block
        (128, 256, 512, 1024 channels at strides 4, 8, 16, 32)."""
        if self.head != "authors":
            raise RuntimeError("branch_maps needs head='authors'")
        check_input_size(x.shape[-2], x.shape[-1])
        maps = self.backbone.forward_features(x)
        return [incre(m) for incre, m in zip(self.backbone.incre_modules, maps)]

    def branch_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Authors' head: each branch map grid-pooled (:func:`grid_pool`) and flattened,
        highest resolution first (2048, 1024, 2048, 1024-d for 4x4, 2x2, 2x2, 1x1)."""
        return [grid_pool(m, g, w) for m, g, w
                in zip(self.branch_maps(x), self.pool_grids, self.max_weights)]

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled feature fed to the neck: the concatenated 6144-d branch features
        (authors) or timm's average-pooled (N, 2048) fused map (bnneck)."""
        if self.head == "authors":
            return torch.cat(self.branch_features(x), dim=1)
        check_input_size(x.shape[-2], x.shape[-1])
        return self.backbone(x)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f, e)``: the pooled feature and the neck's output. Authors: ``f`` the 6144-d
        feature, ``e = BN(W f + b)``. BNNeck: ``f = f_t = W x_pooled + b`` (triplet
        feature) and ``e = f_i = BN(f_t)`` (classifier input and descriptor)."""
        if self.head == "authors":
            f = self.pooled(x)
            return f, self.class_block.embed(f)
        f_t = self.bottleneck(self.pooled(x))
        return f_t, self.bnneck(f_t)

    def outputs(self, x: torch.Tensor) -> ReidOutput:
        """``{"logits", "triplet", "features"}`` in the current mode (eval mode: running BN
        statistics, no dropout; the teacher's distillation targets)."""
        if self.head == "bnneck":
            f_t, f_i = self.embed(x)
            return {"logits": [self.classifier(f_i)], "triplet": [f_t], "features": f_i}
        branches = self.branch_features(x)
        f = torch.cat(branches, dim=1)
        e = self.class_block.embed(f)
        return {"logits": [self.class_block.classify(e)], "triplet": [f, *branches],
                "features": torch.cat([f, e], dim=1)}

    def descriptor(self, x: torch.Tensor) -> torch.Tensor:
        """Test descriptor: ``concat(f, e)`` (authors, 6656-d) or ``f_i`` (bnneck)."""
        f, e = self.embed(x)
        return torch.cat([f, e], dim=1) if self.head == "authors" else e

    def forward(self, x: torch.Tensor) -> torch.Tensor | ReidOutput:
        """Eval: the (N, out_dim) descriptor. Train: :meth:`outputs`."""
        return self.outputs(x) if self.training else self.descriptor(x)


def flip_descriptor(model: nn.Module, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Authors' test descriptor: ``d(x) + d(flip(x))`` over the horizontal mirror,
    L2-normalised (PS-HRNet authors' notebook, feature-extraction cell).

    ``model`` is used as it is (put it in eval mode first). The engine's
    ``extract(..., flip=True)`` computes the same sum without the normalisation, which the
    cosine distance applies.
    """
    feats = model(images) + model(images.flip(3))
    return F.normalize(feats, p=2, dim=1) if normalize else feats


class PSHRNetStudent(nn.Module):
    """Low-resolution branch of PS-HRNet: ``HRNet-ReID(VDSR-CA(x))``.

    Eval: the descriptor of the restored image. Train: HRNet-ReID's train dict plus
    ``"restored"``, the VDSR-CA output (for the image L1 loss).
    """

    def __init__(self, vdsr: VDSRCA, reid: HRNetReID) -> None:
        super().__init__()
        self.vdsr = vdsr
        self.reid = reid

    @property
    def out_dim(self) -> int:
        return self.reid.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor | ReidOutput:
        restored = self.vdsr(x)
        out = self.reid(restored)
        if not self.training:
            return out
        return {**out, "restored": restored}
