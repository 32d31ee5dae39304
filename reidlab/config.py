"""Typed, frozen configuration: a *profile* is data + model + schedules in one object.

Profiles:
    ``smoke``  tests and nbval: tiny data, a half-width ResNet-18 at a small size, a few iterations.
    ``quick``  the embedded default on a 2-core CPU: MGN on a half-width ResNet-18 (``resnet18_half``,
               reidlab/models/backbones/), the whole study within 30 minutes where bf16 is native.
    ``paper``  ResNet-50 at 384x128 with the paper's schedule: for GPUs and real data.

Every field can be overridden by name (``get_profile("quick", iterations=10)`` is
ambiguous and refused; use the section: ``get_profile("quick", bf={"iterations": 10})``
or :func:`override`).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

# The allowed values of each choice, defined once in reidlab.choices (a leaf: config imports no
# other part of the library) and re-exported here under the names notebooks and tests use.
from reidlab.choices import (
    BR_NETWORKS, DATASETS, HRNET_HEADS, INTERPOLATIONS, MLR_CONSTRUCTIONS, PROTOCOLS, PS_OBJECTIVES, PS_STUDENT_DATA,
    PSEUDO_STRATEGIES, RFD_READINGS, VDSR_INITS, check_choice,
)
from reidlab.choices import GLOBAL_BRANCHES as _GLOBAL_BRANCH_LAYOUTS, hrnet_backbones as hrnets

GLOBAL_BRANCHES: tuple[str, ...] = tuple(_GLOBAL_BRANCH_LAYOUTS)


@dataclass(frozen=True)
class DataConfig:
    """Which data, where, and how LR images are synthesised."""

    dataset: str = "synth-market"
    data_root: str = "data"
    n_ids: int = 200            # SynthPeople identities (train + test)
    images_per_id: int = 8      # SynthPeople images per identity (over all cameras)
    n_cameras: int = 4          # SynthPeople cameras (market variant; caviar uses 2)
    hr_height: int = 128        # SynthPeople HR image size
    hr_width: int = 64
    seed: int = 0
    interpolation: str = "bicubic"     # LR synthesis: down-sampling filter (RFD Sec. 4.3; Table 4's bicubic vs bilinear)
    upsampling: str = "bilinear"       # ... and the up-sampling filter back to the stored size (RFD Sec. 3.1)
    factors: tuple[int, ...] = (2, 3, 4)
    pseudo_bins: int = 5
    pseudo_strategy: str = "equal-width"
    val_ids: int = 0            # training identities held out for validation (learning curves, choices); 0: none
    lr_copies: int = 1          # MLR training set: LR copies per HR image, each at a random factor (RFD Sec. 3.1: 1)
    mlr: str = "per-image"      # MLR construction (choices.MLR_CONSTRUCTIONS): per-image | camera (SING's benchmarks)


@dataclass(frozen=True)
class ModelConfig:
    """MGN with channel attention (RFD Sec. 3.2-3.3)."""

    backbone: str = "resnet50"
    attention: bool = True
    reduction: int = 16
    feat_dim: int = 256
    dropout: float = 0.5
    pretrained: str | None = None   # None: random init; "imagenet": torchvision weights; or a weights file
    height: int = 384
    width: int = 128
    global_branch: str = "rfd"      # "rfd": stride 1 + average pooling (RFD Sec. 3.2); "mgn": MGN's original
    br_network: str = "mgn"         # B-R: "mgn" (RFD: the re-id network itself) or "light" (models/resolution_net.py)
    br_width: int = 16              # the light B-R's channels (first two convolutions; twice that after); in a light
                                    # B-R run's identity only (runs stored before the option: 24)
    mgn_height: int = 0             # > 0: MGN resizes its input to mgn_height x mgn_width inside the network
    mgn_width: int = 0              # (a cheaper B-F; the data, the light B-R and the caches keep height x width)
    batched_heads: bool = False     # the 8 classifier heads and their losses in batched kernels (fewer GPU launches;
                                    # the same numbers to 1e-6, tests/test_losses.py); in a run's identity only when on


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation schedule shared by B-F, B-R and the PS-HRNet branches."""

    iterations: int = 1000
    lr: float = 2e-4
    lr_decay_at: float = 0.5        # fraction of iterations where lr is divided by 10
    lr_gamma: float = 0.1
    warmup_iterations: int = 0
    weight_decay: float = 5e-4
    beta1: float = 0.9
    optimizer: str = "adam"         # "adam" | "sgd"
    p: int = 8                      # identities (or resolution classes) per batch
    k: int = 4                      # images per identity
    margin: float = 1.2             # triplet margin alpha (Eq. 2)
    label_smoothing: float = 0.0
    amp: str = "auto"               # "auto" (by the hardware: engine/precision.py) | "off" | "bf16" | "fp16"
    channels_last: bool | str = "auto"  # True | False | "auto" (channels-last where bf16 runs or on CUDA)
    compile: bool | str = False     # torch.compile of the whole step (forward + losses; backward through AOTAutograd):
                                    # True | False | "auto" (on CUDA only: compiling on a CPU cost more than it gained,
                                    # benchmarks/README.md)
    compile_mode: str = "default"   # torch.compile's mode: "reduce-overhead" captures the step in CUDA graphs (one
                                    # launch for MGN's many small kernels); in a run's identity only when not "default"
    augment_on: str = "loader"      # "loader": DataLoader workers decode and augment each item on the CPU; "device":
                                    # a decoded-image cache on the training device, augmented there in batched kernels
                                    # (data/device_augment.py, the same tensors bit for bit, so never in a run's
                                    # identity); "auto": "device" on CUDA
    checkpoint_every: int = 100
    log_every: int = 1
    seed: int = 0
    num_workers: int = 0
    random_erasing: bool = True
    nesterov: bool = False          # SGD only
    lr_milestones: tuple[float, ...] = ()  # fractions of the run where lr *= lr_gamma (replaces lr_decay_at)
    warmup_lr: float | None = None  # constant warm-up lr (PS-HRNet: 3e-4); None: linear warm-up to lr
    iterations_per_id: int = 0      # > 0: iterations = this x training identities (RFD: 500)
    epochs: int = 0                 # > 0: iterations = epochs x ceil(training images / (p x k)) (PS-HRNet: 71)
    min_iterations: int = 0         # with epochs: at least this many iterations (a small training set still gets
                                    # enough steps); in a run's identity only when > 0
    warmup_epochs: int = 0          # with epochs: warm-up length in epochs (PS-HRNet: 5)
    pad_crop: int = 0               # > 0: pad by this many pixels, then random crop (PS-HRNet: 10)
    validate_every: int = 0         # > 0: evaluate on the validation identities every this many iterations
    bn_recalibration: int = 0       # > 0: after the last step, re-estimate BatchNorm statistics on this many
                                    # training batches (engine/trainer.recalibrate_batch_norm)


@dataclass(frozen=True)
class EvalConfig:
    """Feature extraction, protocol trials and RFD fusion (Eq. 7-8)."""

    trials: int = 10
    batch_size: int = 128
    flip: bool = True
    lam: float = 0.1
    rfd_reading: str = "similarity"
    max_rank: int = 50
    amp: str = "auto"               # feature extraction: "auto" (bf16 on CUDA and native-bf16 CPUs), "off", "bf16"
    # The units of replication (study/trials.py): every unit trains its own B-F and B-R, and the
    # trials (query/gallery draws) are spread over the units round-robin, averaged inside each.
    seeds: int = 1                  # fixed-split datasets (Market-like): training seeds per model
    splits: int = 1                 # random-split datasets (CAVIAR, VIPeR...): identity splits, each retrained (RFD: 10)


def ps_hrnet_schedule(**changes: Any) -> TrainConfig:
    """PS-HRNet's optimisation (SGD, lr 0.0085, label smoothing 0.1, triplet margin 0.3,
    6 identities x 4 images), with ``changes`` applied: the one definition every profile
    derives its teacher and student schedules from."""
    base = TrainConfig(optimizer="sgd", lr=0.0085, label_smoothing=0.1, margin=0.3, p=6, k=4)
    return dataclasses.replace(base, **changes)


@dataclass(frozen=True)
class PSHRNetConfig:
    """PS-HRNet: VDSR-CA + HRNet-ReID teacher/student."""

    hrnet: str = "hrnet_w32"
    vdsr_blocks: int = 18
    vdsr_channels: int = 64
    embed_dim: int = 512
    head: str = "authors"           # "authors": per-branch grid pooling, 6144+512-d; "bnneck": timm head + BNNeck
    teacher: TrainConfig = field(default_factory=ps_hrnet_schedule)
    student: TrainConfig = field(default_factory=ps_hrnet_schedule)
    feature_l1_weight: float = 1.0
    image_l1_weight: float = 1.0
    init_from_teacher: bool = True   # student HRNet-ReID starts as a copy of the teacher (no ImageNet offline)
    vdsr_lr_scale: float = 0.1       # VDSR-CA learns at this fraction of the schedule's lr (stability)
    objective: str = "simple"        # "authors": 1.15 CE + mean of 5 triplets + 0.5 L1(SR) + 0.5 sum of 6 L1 distillations
    height: int = 0                  # PS-HRNet's own input size (0: the model section's); authors: 256x128
    width: int = 0
    student_data: str = "degraded"   # "all": every MLR training image (HR too) paired with its HR original (authors)
    vdsr_bias: bool = True           # authors: convolutions without bias
    vdsr_init: str = "identity"      # "authors": VDSR's initialisation
    # VDSR-CA's restoration-only warm-up before the student (the authors' first phase trains VDSR-CA
    # apart): this many iterations of L1(VDSR-CA(LR), HR) on the student's batches, Adam at this lr
    # (0: none, VDSR-CA starts from its initialisation)
    vdsr_warmup_iterations: int = 0
    vdsr_warmup_lr: float = 1e-3


def pretrain_schedule(**changes: Any) -> TrainConfig:
    """The pre-training stand-in's optimisation (Adam, cross entropy with label smoothing,
    16 identities x 4 images, linear warm-up, lr / 10 for the last fifth), with ``changes``."""
    base = TrainConfig(iterations=600, lr=1e-3, lr_decay_at=0.8, warmup_iterations=50, p=16, k=4,
                       label_smoothing=0.1, checkpoint_every=100, random_erasing=False)
    return dataclasses.replace(base, **changes)


#: Seed of the pre-training population; no study dataset uses it (theirs are 0 and 1).
PRETRAIN_SEED = 9173


@dataclass(frozen=True)
class PretrainConfig:
    """The pre-training stage standing in for ImageNet (see :mod:`reidlab.recipes.pretraining`):
    a SynthPeople population of its own (``seed``: no study dataset uses it), HR images only,
    on which each backbone is trained once as an identity + attribute classifier."""

    n_ids: int = 400
    images_per_id: int = 8
    n_cameras: int = 4
    seed: int = PRETRAIN_SEED
    schedule: TrainConfig = field(default_factory=pretrain_schedule)          # the ResNet (MGN's backbone)
    hrnet_schedule: TrainConfig = field(default_factory=pretrain_schedule)    # PS-HRNet's HRNet
    hrnet: bool = True              # pre-train PS-HRNet's HRNet too (False: it starts from random weights)
    height: int = 0                 # pre-training input size (0: the network's own fine-tuning size); a
    width: int = 0                  # lower one is cheaper, as ImageNet's 224x224 serves re-id at 384x128


#: ``ModelConfig.pretrained`` value naming the pre-training stand-in (resolved by the study to
#: the cached run's backbone file).
SYNTHETIC_PRETRAINING = "synthpeople"


@dataclass(frozen=True)
class Profile:
    name: str
    data: DataConfig
    model: ModelConfig
    bf: TrainConfig
    br: TrainConfig
    eval: EvalConfig
    ps: PSHRNetConfig
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)


def _smoke() -> Profile:
    # no checkpoint before the end (tests/test_trainer.py covers resuming): smoke MGNs are 8 M parameters
    train = TrainConfig(iterations=6, p=4, k=2, checkpoint_every=6, lr=3e-4, validate_every=3)
    ps_train = ps_hrnet_schedule(iterations=4, p=4, k=2, checkpoint_every=4)
    pretrain_smoke = pretrain_schedule(iterations=3, warmup_iterations=1, p=4, k=2)
    return Profile(
        name="smoke",
        data=DataConfig(n_ids=16, images_per_id=4, n_cameras=2, hr_height=64, hr_width=32, val_ids=2),
        model=ModelConfig(backbone="resnet18_half", height=64, width=32, reduction=8, feat_dim=64,
                          pretrained=SYNTHETIC_PRETRAINING, br_network="light"),
        bf=train,
        br=dataclasses.replace(train, p=4, k=2),
        eval=EvalConfig(trials=2, batch_size=64, seeds=2, splits=2),
        ps=PSHRNetConfig(
            hrnet="hrnet_w18_small", vdsr_blocks=2, vdsr_channels=16, embed_dim=64,
            teacher=ps_train, student=ps_train, vdsr_warmup_iterations=4,
        ),
        pretrain=PretrainConfig(n_ids=8, images_per_id=3, n_cameras=2, schedule=pretrain_smoke,
                                hrnet_schedule=pretrain_smoke),
    )


def _quick() -> Profile:
    # Precision and layout are the machine's, not the profile's (engine/precision.py): bf16 where the
    # CPU has native bf16 (1.2-1.4x fp32 on an AMX Xeon), fp32 elsewhere (bf16 is 11-25x *slower* on an
    # AVX2-only AMD EPYC); channels-last everywhere (1.09-1.27x in fp32 there; benchmarks/model_speed.py).
    # Every network starts from the pre-training stand-in for ImageNet (SynthPeople identities and
    # attributes; engine/pretrain.py). Measured on trial 0 (B-F, 120 iterations; SynthPeople v2): from scratch at
    # lr 2e-3, rank-1 LR->HR 10.8%; fine-tuned at 1e-3 from 300 iterations of identity-only
    # pre-training 19.7%, of identity+attribute pre-training 29.3% (26.1% with the paper's 1:1 MLR
    # set), of 600 iterations 37.3% (lr 2e-3: 27.3%; 240 fine-tuning iterations: +2.8 points).
    # Lengths in epochs of the training set. Issue 33: the quick B-F of earlier rounds trained 2 epochs (80
    # iterations on Market-like's 1280 MLR training images) of MGN on ResNet-18 after 500 pre-training iterations
    # and was far from trained (validation rank-1 still rising; its MLR training did not help LR queries). Measured
    # on Market-like unit 0 (LR / HR query rank-1; Zen 4 EPYC, bf16; seconds of B-F training): ResNet-18 80
    # iterations 28.5 / 32.1 (39 s), 240 39.0 / 42.2 (114 s), 480 52.6 / 54.6 (233 s); ResNet-18 at half width
    # (models/backbones/narrow_resnet.py: 3.5x faster per step in fp32 and in bf16) 320 45.0 / 53.0 (59 s; lr
    # 2e-3: 47.0 / 48.6), 480 51.0 / 55.4 (84 s), 960 61.0 / 63.5 (163 s); with 1000 pre-training iterations
    # instead of 500 (+35 s, once) 320 56.2 / 63.1 and 480 61.4 / 62.7; 2000 pre-training iterations added
    # nothing (320: 55.0 / 61.0). So: the half-width ResNet-18, pre-trained 1000 iterations, 8 epochs (320
    # iterations on Market-like), validated every 2 epochs.
    bf = TrainConfig(iterations=320, epochs=8, p=8, k=4, lr=1e-3, lr_decay_at=0.8, checkpoint_every=80,
                     validate_every=80)
    ps_train = ps_hrnet_schedule(iterations=80, p=8, k=4, checkpoint_every=40)
    return Profile(
        name="quick",
        data=DataConfig(n_ids=200, images_per_id=8, n_cameras=4, hr_height=128, hr_width=64, val_ids=20),
        # MGN (B-F) computes at 96x48: it resizes the 128x64 input inside the network, 1.75x faster in fp32
        # on the AVX2 EPYC (20.9 against 11.9 images/s), which brings the replicated study within the CPU
        # budget on a CPU without native bf16; its cost in accuracy is in docs/history.md (measured against
        # the same study at 128x64). SynthPeople v3 draws its fine cues (garment patterns, logos) large
        # enough to be resolved at 96x48 and lost at x3-x4, so the HR-only B-F still pays for LR queries
        # (v2's cues, sized for 128x64, were half lost at 96x48 already). The images, their LR synthesis and the light B-R (which needs the
        # full resolution: 70% on the factor classes at 96x48 against 96% at 128x64) keep 128x64.
        model=ModelConfig(backbone="resnet18_half", height=128, width=64, reduction=16, feat_dim=128,
                          pretrained=SYNTHETIC_PRETRAINING, br_network="light", br_width=16, mgn_height=96, mgn_width=48),
        bf=bf,
        # B-R: the light resolution network (models/resolution_net.py). Held-out factor-class accuracy
        # on trial 0: MGN B-R 34% from scratch (40 iterations), 61% fine-tuned from the pre-training
        # (60 at 1e-3; margin 0.3 or no erasing: 59%, 61%); light B-R 97% (160 at 1e-3), 98% (3e-3)
        # (3 epochs: 120 iterations on Market-like, 99% on the validation identities; 4 epochs: 100%).
        # The light B-R starts from random weights and trains for a few dozen steps on CAVIAR-like's pseudo-
        # labels, too few for BatchNorm's running statistics to follow its weights: in eval mode that B-R
        # named the majority bin for 274 of 275 held-out images (balanced accuracy 20.0% = chance); the same
        # weights with statistics re-estimated on 10 training batches scored 36% (bn_recalibration)
        # At least 200 iterations (issue 33): CAVIAR-like's 400 training images gave the pseudo-label B-R 30
        # steps, after which its balanced accuracy (chance 20) was 31.8 in bf16 and 32.7 in fp32 on unit 0
        # (Zen 4 EPYC); 100 steps 56.4 / 46.2, 200 steps 49.7 / 46.4, 300 steps 53.4 / 44.6. 200 is the
        # length whose two precisions agree within 5 points. Market-like's B-R goes from 120 to 200 steps.
        # Width 16 instead of 24 (ModelConfig.br_width; issue 33's budget): 2.3x faster per step in bf16, 1.8x in
        # fp32 (Zen 4 EPYC; 38 -> 25 s a Market-like B-R, 34 -> 16 s a CAVIAR-like one); held-out factor-class
        # accuracy 98.0 against 99.3 on trial 0; CAVIAR-like pseudo-label balanced accuracy over 3 units pooled
        # 57.2 against 62.9 (one image of the rarest bin moves it by several points). Stride 2 from the second
        # convolution on was 3x faster still but fell to 91-95% on the factor classes.
        br=dataclasses.replace(bf, iterations=200, epochs=3, min_iterations=200, p=4, k=8, lr=3e-3,
                               checkpoint_every=40, validate_every=40, bn_recalibration=20),
        # no flip keeps 10-trial evaluations within the CPU budget; replication:
        # 3 training seeds on Market-like, 5 retrained CAVIAR-like identity splits (2 draws each)
        eval=EvalConfig(trials=10, batch_size=128, flip=False, seeds=3, splits=5),
        # VDSR-CA learns restoration first (200 iterations, about 75 s on the AVX2 EPYC), and the student keeps
        # it with a 10x image L1 weight. Measured on Market-like unit 0, 200 held-out LR queries (MAE to HR in
        # percent, PSNR): interpolated input 3.02% (27.3 dB); student without warm-up 3.06% (27.2); after the
        # warm-up alone 2.60% (28.7); that warm-up then jointly trained at L1 weight 1: 3.16% (27.1: the
        # re-identification losses undo it), at L1 weight 10: 2.62% (28.6), at VDSR-CA lr x0.01: 2.62% (28.6)
        ps=PSHRNetConfig(
            hrnet="hrnet_w18_small", vdsr_blocks=4, vdsr_channels=16, embed_dim=256,
            teacher=ps_train, student=ps_train, vdsr_warmup_iterations=200, image_l1_weight=10.0,
        ),
        # The ResNet pre-trains 1000 iterations (issue 33: the half-width ResNet-18's 1000 cost what ResNet-18's
        # 500 did; see B-F above for what they bought) at 64x32, half the fine-tuning size (2.0x faster: 89 against 44 images/s in fp32 on the AVX2
        # EPYC), as ImageNet's 224x224 pre-training serves re-id networks at other sizes.
        # HRNet-W18-small pre-trains too (issue 22: PS-HRNet starts as the ResNet does), at 64x32 like the
        # ResNet: 300 iterations took 172 s on the AVX2 EPYC (fp32, 82-145 images/s); identity accuracy on its
        # training batches rose from 0% to 19-33% over the last iterations (ResNet-18, 500 iterations: 78%).
        # Earlier, at 128x64 (55 images/s), 100 iterations had left it at 0%.
        pretrain=PretrainConfig(schedule=pretrain_schedule(iterations=1000), height=64, width=32,
                                hrnet=True, hrnet_schedule=pretrain_schedule(iterations=300, warmup_iterations=30)),
    )


def _paper() -> Profile:
    # RFD Sec. 4.1: Adam, lr 2e-4 / 10 at half, 500 x (number of identities) iterations (751 Market
    # training ids -> 375,500; derived from the training set by resolve_schedule), 8 x 4 batches for
    # B-F and (number of resolutions) x 16 for B-R, ImageNet start.
    # On a GPU (issue 23): the whole step compiled and replayed as CUDA graphs, MGN's eight heads and their
    # losses batched (model section), augmentation on the GPU from a decoded-image cache, and the loss
    # read every 20 iterations (each read waits for the GPU; between reads the CPU queues steps ahead).
    # On a CPU "auto" leaves compilation off and augmentation in the loader.
    gpu_step: dict[str, Any] = {"compile": "auto", "compile_mode": "reduce-overhead", "augment_on": "auto",
                                "log_every": 20}
    bf = TrainConfig(iterations=375_500, iterations_per_id=500, p=8, k=4, lr=2e-4, checkpoint_every=5000,
                     num_workers=8, **gpu_step)
    # PS-HRNet (authors' notebook): SGD + Nesterov, 5 warm-up epochs at a constant 3e-4, then 0.0085
    # divided by 10 at epochs 30 and 60, 71 epochs, batch 6 x 4, flip + pad 10 + random crop.
    ps_train = ps_hrnet_schedule(iterations=71 * 540, epochs=71, warmup_epochs=5, warmup_lr=3e-4,
                                 lr_milestones=(30 / 71, 60 / 71), nesterov=True, pad_crop=10,
                                 random_erasing=False, num_workers=8,
                                 checkpoint_every=2000, **gpu_step)
    return Profile(
        name="paper",
        # the published MLR benchmarks' construction (SING; followed by RFD Sec. 4.2 and PS-HRNet): one
        # camera view per identity down-sampled (protocols.py, mlr="camera")
        data=DataConfig(dataset="market1501", data_root="data/Market-1501-v15.09.15",
                        hr_height=384, hr_width=128, mlr="camera"),
        model=ModelConfig(backbone="resnet50", height=384, width=128, pretrained="imagenet", batched_heads=True),
        bf=bf,
        # B-R: (number of resolutions) x 16 batches; 500 x (number of resolution classes)
        # iterations is our reading of "500 x (number of identities)" for a resolution classifier
        br=dataclasses.replace(bf, p=4, k=16, iterations=2000, iterations_per_id=500),
        eval=EvalConfig(trials=10, batch_size=256, seeds=3, splits=10),
        ps=PSHRNetConfig(
            teacher=ps_train, student=ps_train, objective="authors", height=256, width=128,
            # the notebook declares VDSR at lr 0.001, but its loop sets every group's lr to the
            # schedule's each epoch: VDSR-CA trained at the same rate, which is what we do (1.0)
            student_data="all", init_from_teacher=False, vdsr_lr_scale=1.0,
            vdsr_bias=False, vdsr_init="authors",
        ),
    )


_PROFILES = {"smoke": _smoke, "quick": _quick, "paper": _paper}
PROFILE_NAMES: tuple[str, ...] = tuple(_PROFILES)


def override(cfg: Any, **changes: Any) -> Any:
    """Return ``cfg`` with fields replaced; nested dataclasses take dicts.

    Unknown field names raise ``ValueError`` listing the valid ones.
    """
    valid = {f.name: f for f in dataclasses.fields(cfg)}
    updates: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in valid:
            raise ValueError(
                f"unknown parameter {key!r} for {type(cfg).__name__}; "
                f"valid: {', '.join(sorted(valid))}")
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = override(current, **value)
        updates[key] = value
    new = dataclasses.replace(cfg, **updates)
    validate(new)
    return new


AMP_MODES: tuple[str, ...] = ("auto", "off", "bf16", "fp16")
CHANNELS_LAST_MODES: tuple[bool | str, ...] = (True, False, "auto")
#: ``TrainConfig.compile_mode``: torch.compile's modes
COMPILE_MODES: tuple[str, ...] = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
#: ``TrainConfig.augment_on``
AUGMENT_ON: tuple[str, ...] = ("loader", "device", "auto")
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")


def validate(cfg: Any) -> None:
    """Raise ``ValueError`` on impossible values, naming the parameter and valid choices.

    Every section is checked: data, model, each schedule, evaluation and PS-HRNet.
    """
    if isinstance(cfg, DataConfig):
        check_choice("dataset", cfg.dataset, DATASETS)
        check_choice("interpolation", cfg.interpolation, INTERPOLATIONS)
        check_choice("upsampling", cfg.upsampling, INTERPOLATIONS)
        check_choice("pseudo_strategy", cfg.pseudo_strategy, PSEUDO_STRATEGIES)
        check_choice("mlr", cfg.mlr, MLR_CONSTRUCTIONS)
        if isinstance(cfg.data_root, bool) or not isinstance(cfg.data_root, (str, os.PathLike)):
            raise TypeError(f"data_root must be a path (str or os.PathLike), got "
                            f"{type(cfg.data_root).__name__} {cfg.data_root!r}")
        _each(_positive, cfg, "n_ids", "images_per_id", "n_cameras", "hr_height", "hr_width", "pseudo_bins")
        _each(_non_negative_int, cfg, "seed", "val_ids")
        _positive("lr_copies", cfg.lr_copies)
        if not cfg.factors or any(isinstance(f, bool) or not isinstance(f, int) or f < 2
                                  for f in cfg.factors):
            raise ValueError(f"factors must be down-sampling factors >= 2, got {cfg.factors!r}")
    elif isinstance(cfg, ModelConfig):
        if not isinstance(cfg.backbone, str) or not cfg.backbone:   # its registry (models/backbones) refuses
            raise ValueError(f"backbone must be a backbone's name, got {cfg.backbone!r}")   # unknown names
        _each(_positive, cfg, "reduction", "feat_dim", "height", "width", "br_width")
        _fraction("dropout", cfg.dropout)
        check_choice("global_branch", cfg.global_branch, GLOBAL_BRANCHES)
        check_choice("br_network", cfg.br_network, BR_NETWORKS)
        _each(_non_negative_int, cfg, "mgn_height", "mgn_width")
        if (cfg.mgn_height > 0) != (cfg.mgn_width > 0):
            raise ValueError(f"mgn_height and mgn_width are set together (both > 0) or not at all (both 0), "
                             f"got {cfg.mgn_height} x {cfg.mgn_width}")
        if not isinstance(cfg.attention, bool):
            raise ValueError(f"attention must be True or False, got {cfg.attention!r}")
    elif isinstance(cfg, TrainConfig):
        _each(_positive, cfg, "iterations", "p", "k", "checkpoint_every", "log_every")
        _each(_non_negative_int, cfg, "warmup_iterations", "iterations_per_id", "epochs", "min_iterations", "warmup_epochs",
              "pad_crop", "validate_every", "bn_recalibration")
        for m in cfg.lr_milestones:
            if _number("lr_milestones", m) <= 0 or m >= 1:
                raise ValueError(f"lr_milestones must be fractions in (0, 1), got {cfg.lr_milestones!r}")
        if cfg.warmup_lr is not None:
            _finite_positive("warmup_lr", cfg.warmup_lr)
        _each(_non_negative_int, cfg, "num_workers", "seed")
        check_choice("amp", cfg.amp, AMP_MODES)
        if not (isinstance(cfg.channels_last, bool) or cfg.channels_last == "auto"):
            raise ValueError(f"channels_last={cfg.channels_last!r} is not valid; choose one of: True, False, auto")
        if not (isinstance(cfg.compile, bool) or cfg.compile == "auto"):
            raise ValueError(f"compile={cfg.compile!r} is not valid; choose one of: True, False, auto")
        check_choice("compile_mode", cfg.compile_mode, COMPILE_MODES)
        check_choice("augment_on", cfg.augment_on, AUGMENT_ON)
        check_choice("optimizer", cfg.optimizer, OPTIMIZERS)
        _finite_positive("lr", cfg.lr)
        _each(_finite_non_negative, cfg, "weight_decay", "margin")
        _each(_fraction, cfg, "lr_gamma", "lr_decay_at", "beta1", "label_smoothing")
    elif isinstance(cfg, EvalConfig):
        _each(_positive, cfg, "trials", "seeds", "splits", "batch_size", "max_rank")
        check_choice("amp", cfg.amp, AMP_MODES)
        check_choice("rfd_reading", cfg.rfd_reading, RFD_READINGS)
        check_lam(cfg.lam)
    elif isinstance(cfg, PSHRNetConfig):
        check_choice("hrnet", cfg.hrnet, hrnets())
        check_choice("head", cfg.head, HRNET_HEADS)
        check_choice("objective", cfg.objective, PS_OBJECTIVES)
        check_choice("student_data", cfg.student_data, PS_STUDENT_DATA)
        check_choice("vdsr_init", cfg.vdsr_init, VDSR_INITS)
        _each(_non_negative_int, cfg, "height", "width", "vdsr_warmup_iterations")
        _finite_positive("vdsr_warmup_lr", cfg.vdsr_warmup_lr)
        _each(_positive, cfg, "vdsr_blocks", "vdsr_channels", "embed_dim")
        _each(_finite_non_negative, cfg, "feature_l1_weight", "image_l1_weight")
        _finite_positive("vdsr_lr_scale", cfg.vdsr_lr_scale)
        validate(cfg.teacher)
        validate(cfg.student)
    elif isinstance(cfg, PretrainConfig):
        _each(_positive, cfg, "n_ids", "images_per_id", "n_cameras")
        _each(_non_negative_int, cfg, "height", "width", "seed")
        validate(cfg.schedule)
        validate(cfg.hrnet_schedule)
    elif isinstance(cfg, Profile):
        for sub in (cfg.data, cfg.model, cfg.bf, cfg.br, cfg.eval, cfg.ps, cfg.pretrain):
            validate(sub)
    else:
        raise TypeError(f"cannot validate a {type(cfg).__name__}")


def check_lam(lam: Any, *, ensemble: bool = False, name: str = "lam") -> float:
    """RFD's lambda (Eq. 8) as a float, and the one home of its sign rule.

    Eq. 8 subtracts ``lambda * D_r`` with ``lambda >= 0``. A negative lambda *adds* the second
    model's similarity instead, i.e. a two-model ensemble: allowed only where a caller asks for
    that control by name (``ensemble=True``: the "B-F + second B-F" row of
    :mod:`reidlab.study.compute.controls`), which in turn refuses a positive lambda. Anything else is a
    ``ValueError`` naming ``name``.
    """
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not math.isfinite(lam):
        raise ValueError(f"{name} must be a finite number, got {lam!r}")
    if lam < 0 and not ensemble:
        raise ValueError(f"{name}={lam!r} is negative: Eq. 8 subtracts lambda * D_r with lambda >= 0 (RFD: 0.1); a "
                         "negative lambda adds the second model's similarity, the controls' named ensemble "
                         "(ensemble=True, reidlab/study/compute/controls.py), never a value to sweep or choose")
    if lam > 0 and ensemble:
        raise ValueError(f"{name}={lam!r}: the ensemble control adds the second model's similarity, i.e. lambda <= 0")
    return float(lam)


def _each(check: Callable[[str, Any], Any], cfg: Any, *names: str) -> None:
    """``check(name, cfg.<name>)`` for each of ``names``, in order."""
    for name in names:
        check(name, getattr(cfg, name))


def _non_negative_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _finite_positive(name: str, value: Any) -> None:
    if _number(name, value) <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def _finite_non_negative(name: str, value: Any) -> None:
    if _number(name, value) < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def _fraction(name: str, value: Any) -> None:
    if not 0.0 <= _number(name, value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")





def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def get_profile(name: str = "quick", **changes: Any) -> Profile:
    """The named profile with ``changes`` applied (sections take dicts)."""
    if name not in _PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILE_NAMES)}")
    profile = _PROFILES[name]()
    return override(profile, **changes) if changes else (validate(profile) or profile)


def resolve_schedule(cfg: TrainConfig, *, n_images: int, n_ids: int) -> TrainConfig:
    """``cfg`` with dataset-derived lengths made concrete (what is actually trained):
    ``iterations_per_id`` x ``n_ids`` (RFD Sec. 4.1: 500 x identities), or ``epochs`` (and
    ``warmup_epochs``) x iterations per epoch (``ceil(n_images / (p x k))``, PS-HRNet), at least
    ``min_iterations``."""
    if cfg.iterations_per_id > 0:
        cfg = dataclasses.replace(cfg, iterations=cfg.iterations_per_id * n_ids)
    if cfg.epochs > 0:
        per_epoch = max(1, math.ceil(n_images / (cfg.p * cfg.k)))
        cfg = dataclasses.replace(cfg, iterations=max(cfg.epochs * per_epoch, cfg.min_iterations),
                                  warmup_iterations=cfg.warmup_epochs * per_epoch)
    validate(cfg)
    return cfg


def train_identity(cfg: TrainConfig) -> dict[str, Any]:
    """The schedule as a run's identity holds it: :func:`to_dict` without what cannot change the
    trained function (``augment_on``: the same tensors either way, tests/test_device_augment.py)
    and without ``compile_mode`` and ``min_iterations`` at their defaults (the identities every run before
    these options had)."""
    identity = to_dict(cfg)
    identity.pop("augment_on")
    if identity.get("min_iterations") == 0:
        identity.pop("min_iterations")
    if identity["compile_mode"] == "default":
        identity.pop("compile_mode")
    return identity


def protocol_kwargs(profile: Profile) -> dict[str, Any]:
    """Keyword arguments of :func:`reidlab.data.build_protocol` from a profile (the one
    adapter, like torchreid's ``imagedata_kwargs``): seed, factors and pseudo-labels."""
    data = profile.data
    return {"seed": data.seed, "factors": data.factors, "pseudo_bins": data.pseudo_bins,
            "pseudo_strategy": data.pseudo_strategy, "lr_copies": data.lr_copies, "mlr": data.mlr}


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-dict view (for JSON summaries and cache keys)."""
    return dataclasses.asdict(cfg)
