"""Data: readers for every layout, MLR synthesis (RFD Sec. 3.1), pseudo-resolution labels
(RFD Sec. 3.5), evaluation protocols, torch datasets and dataset preparation."""
from __future__ import annotations

from reidlab.data.dataset import (
    PairedLRHRDataset, ReidImageDataset, build_transforms, load_image,
)
from reidlab.data.fingerprint import file_digest, records_fingerprint
from reidlab.data.images import ImageReadError, verify_images
from reidlab.data.mlr import assign_factors, degradation_kwargs, degrade, materialise_degraded
from reidlab.data.prepare import prepare_dataset
from reidlab.data.protocols import (
    PROTOCOL_NAMES, build_protocol, caviar_protocol, lr_query_protocol,
    multi_res_gallery_protocol, relabel,
)
from reidlab.data.pseudo_labels import apply_bins, pseudo_resolution_labels
from reidlab.data.readers import DATASET_NAMES, SkippedImagesWarning, load_dataset
from reidlab.data.records import (
    FACTOR_TO_RES_CLASS, MIN_HEIGHT, MIN_WIDTH, RES_CLASS_NAMES, SKIP_KINDS, ImageRecord,
    ProtocolSplit, ReidDataset,
)
from reidlab.data.synth import make_synth_dataset, synth_dataset_dirname

__all__ = [
    "make_synth_dataset", "synth_dataset_dirname", "load_dataset", "DATASET_NAMES",
    "SkippedImagesWarning", "SKIP_KINDS", "MIN_WIDTH", "MIN_HEIGHT", "verify_images",
    "file_digest", "records_fingerprint",
    "degrade", "degradation_kwargs", "assign_factors", "materialise_degraded",
    "pseudo_resolution_labels", "apply_bins",
    "lr_query_protocol", "multi_res_gallery_protocol", "caviar_protocol", "build_protocol",
    "relabel", "PROTOCOL_NAMES",
    "ReidImageDataset", "PairedLRHRDataset", "build_transforms", "load_image",
    "prepare_dataset", "ImageReadError",
    "ImageRecord", "ReidDataset", "ProtocolSplit", "FACTOR_TO_RES_CLASS", "RES_CLASS_NAMES",
]

