"""The allowed values of every setting that names a choice: each list defined here, once.

A leaf module (no torch, nothing else of ``reidlab``): :mod:`reidlab.config` validates
profiles against these lists (and re-exports them under its own names, ``config.DATASETS``
etc.), and the module that implements each choice imports its list from here, so a new
value is added in one place and is at once valid in a profile and known to its owner:

=====================  ===========================================================
list                   implemented by
=====================  ===========================================================
``DATASETS``           :mod:`reidlab.data.readers` (one reader per name)
``PROTOCOLS``          :mod:`reidlab.data.protocols` (``build_protocol``)
``MLR_CONSTRUCTIONS``  :mod:`reidlab.data.protocols` (``build_protocol``'s ``mlr``)
``INTERPOLATIONS``     :mod:`reidlab.data.mlr` (the PIL filter of each name)
``PSEUDO_STRATEGIES``  :mod:`reidlab.data.pseudo_labels`
``RFD_READINGS``       :mod:`reidlab.metrics.rfd` (``fused_distance``'s ``reading``)
``GLOBAL_BRANCHES``    :mod:`reidlab.models.mgn` (layer4 stride and pooling of each)
``BR_NETWORKS``        :mod:`reidlab.models.build` (MGN or the light ResolutionNet)
``HRNET_HEADS``        :mod:`reidlab.models.hrnet_reid`
``VDSR_INITS``         :mod:`reidlab.models.vdsr`
``PRETRAIN_ARCHS``     :mod:`reidlab.models.classifier` (the pre-training network)
``PS_OBJECTIVES``      :mod:`reidlab.recipes.ps_hrnet`
``PS_STUDENT_DATA``    :mod:`reidlab.recipes.ps_hrnet` (``student_records``)
``hrnet_backbones()``  timm's HRNets (HRNet-ReID's backbone)
=====================  ===========================================================

The HRNet list is asked of the installed timm on first use (imported then, cached). MGN's
backbones are a registry of their own (:mod:`reidlab.models.backbones`: one file per family), which
refuses an unknown name when a network is built.
"""
from __future__ import annotations

import functools

__all__ = ["DATASETS", "NATIVELY_MULTI_RESOLUTION", "PROTOCOLS", "MLR_CONSTRUCTIONS", "INTERPOLATIONS", "PSEUDO_STRATEGIES", "RFD_READINGS",
           "GLOBAL_BRANCHES", "BR_NETWORKS", "HRNET_HEADS", "VDSR_INITS", "PRETRAIN_ARCHS",
           "PS_OBJECTIVES", "PS_STUDENT_DATA", "hrnet_backbones", "check_choice"]

#: Dataset names (:func:`reidlab.data.readers.load_dataset`).
DATASETS: tuple[str, ...] = (
    "synth-market", "synth-caviar", "market1501", "dukemtmc", "msmt17", "cuhk03",
    "viper", "caviar", "grid", "prid",
)
#: Datasets whose own images come at several resolutions (no synthetic degradation): CAVIAR's
#: multi-resolution protocol (RFD Table 5, notebook 05) needs one of them.
NATIVELY_MULTI_RESOLUTION: frozenset[str] = frozenset({"synth-caviar", "caviar", "grid"})
#: Evaluation protocols: LR queries against an HR gallery, or CAVIAR's multi-resolution gallery.
PROTOCOLS: tuple[str, ...] = ("lr_query", "multi_res_gallery")
#: How synthetic LR images enter an MLR benchmark: ``per-image`` (every query image at its own random
#: factor, the whole gallery HR: RFD Sec. 4.2's wording, the embedded study's default) or ``camera`` (one
#: camera view per identity down-sampled, its images the LR queries, the other views the HR gallery:
#: the construction of SING's MLR benchmarks, which RFD and PS-HRNet follow).
MLR_CONSTRUCTIONS: tuple[str, ...] = ("per-image", "camera")
#: Resampling filters of the LR synthesis (down-sampling and up-sampling).
INTERPOLATIONS: tuple[str, ...] = ("bicubic", "bilinear")
#: Pseudo resolution label binning of natively multi-resolution data.
PSEUDO_STRATEGIES: tuple[str, ...] = ("equal-width", "equal-frequency")
#: RFD's two readings of ``D_f`` in Eq. 8.
RFD_READINGS: tuple[str, ...] = ("similarity", "distance")
#: MGN's global branch: ``name -> (layer4 stride, pooling)`` (RFD Sec. 3.2, or MGN's original).
GLOBAL_BRANCHES: dict[str, tuple[int, str]] = {"rfd": (1, "avg"), "mgn": (2, "max")}
#: B-R's network: the re-id network itself (RFD), or the light resolution network.
BR_NETWORKS: tuple[str, ...] = ("mgn", "light")
#: HRNet-ReID's re-id heads.
HRNET_HEADS: tuple[str, ...] = ("authors", "bnneck")
#: VDSR-CA's initialisations (ours first: the default).
VDSR_INITS: tuple[str, ...] = ("identity", "authors")
#: The backbone families the pre-training stand-in trains.
PRETRAIN_ARCHS: tuple[str, ...] = ("resnet", "hrnet")
#: PS-HRNet's objectives.
PS_OBJECTIVES: tuple[str, ...] = ("simple", "authors")
#: PS-HRNet student's training records.
PS_STUDENT_DATA: tuple[str, ...] = ("degraded", "all")


def check_choice(name: str, value: object, valid: object) -> None:
    """The one refusal of a value outside its list: ``ValueError`` naming the parameter
    ``name`` and every valid choice (``valid``: one of the lists above, or a mapping's keys)."""
    if value not in valid:  # type: ignore[operator]
        raise ValueError(f"{name}={value!r} is not valid; choose one of: {', '.join(map(str, valid))}")  # type: ignore[call-overload]


@functools.lru_cache(maxsize=None)
def hrnet_backbones() -> tuple[str, ...]:
    """Names of timm's HRNet models usable as the HRNet-ReID backbone."""
    import timm

    return tuple(timm.list_models("hrnet_*"))
