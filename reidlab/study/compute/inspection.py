"""Looking inside trained models: B-R's predicted resolutions, confusion matrices, the
HR version of a split, and VDSR-CA's restored images."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from reidlab.data import ReidImageDataset, build_transforms
from reidlab.data.dataset import IMAGENET_MEAN, IMAGENET_STD
from reidlab.data.records import ProtocolSplit

__all__ = ["hr_query_split", "predict_resolution", "confusion_matrix", "restore_examples",
           "held_out_resolution_labels", "HeldOutConfusion", "held_out_confusion", "accuracy_and_majority", "ResolutionValidator",
           "restoration_errors", "restoration_table", "psnr", "restoration_held_out", "RestorationImages"]


def hr_query_split(split: ProtocolSplit) -> ProtocolSplit:
    """The same split with every query and gallery image at full resolution (HR -> HR)."""
    hr = lambda recs: tuple(dataclasses.replace(r, factor=1) for r in recs)  # noqa: E731
    return dataclasses.replace(split, query=hr(split.query), gallery=hr(split.gallery))


@torch.inference_mode()
def predict_resolution(model: torch.nn.Module, records, *, height: int, width: int, interpolation: str = "bicubic",
                       upsampling: str = "bilinear", batch_size: int = 128) -> np.ndarray:
    """B-R's predicted resolution class per image: mean softmax over MGN's classifier heads."""
    ds = ReidImageDataset(records, build_transforms(height, width, train=False), interpolation=interpolation,
                          upsampling=upsampling)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    preds = []
    try:
        for images, _, _ in loader:
            logits = model.classify(images.to(device))
            preds.append(torch.stack([l.softmax(-1) for l in logits]).mean(0).argmax(-1).cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(preds) if preds else np.zeros(0, dtype=int)


def balanced_accuracy(cm: np.ndarray) -> float:
    """Mean recall over the classes present (percent): unlike accuracy, a classifier that always
    names the most frequent class scores ``100 / classes present``."""
    cm = np.asarray(cm)
    present = cm.sum(axis=1) > 0
    if not present.any():
        return float("nan")
    return float(100 * np.mean(np.diag(cm)[present] / cm.sum(axis=1)[present]))


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``cm[i, j]``: images of true class ``i`` predicted as ``j``."""
    cm = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(cm, (np.asarray(true), np.asarray(pred)), 1)
    return cm


@torch.inference_mode()
def restore_examples(student: torch.nn.Module, records, *, height: int, width: int, interpolation: str = "bicubic",
                     upsampling: str = "bilinear"):
    """(LR input, VDSR-CA output, HR original) images, de-normalised to [0, 1] HxWx3 arrays;
    ``student`` is PS-HRNet's student (its ``vdsr``) or a VDSR-CA on its own."""
    tf = build_transforms(height, width, train=False)
    lr_ds = ReidImageDataset(records, tf, interpolation=interpolation, upsampling=upsampling)
    hr_ds = ReidImageDataset([dataclasses.replace(r, factor=1) for r in records], tf)
    lr = torch.stack([lr_ds[i][0] for i in range(len(records))])
    hr = torch.stack([hr_ds[i][0] for i in range(len(records))])
    vdsr = getattr(student, "vdsr", student)
    was_training = vdsr.training
    vdsr.eval()
    try:
        restored = vdsr(lr.to(next(vdsr.parameters()).device)).cpu()
    finally:
        vdsr.train(was_training)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    to_img = lambda t: (t * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()  # noqa: E731
    return to_img(lr), to_img(restored.float()), to_img(hr)


def held_out_resolution_labels(split: ProtocolSplit, multi_resolution: bool, factors=(2, 3, 4),
                               edges=None):
    """Held-out images for B-R's confusion matrix, their true resolution class and the class names.

    On synthetic MLR data: the test identities' gallery images, each at HR and every factor
    (true class from the factor). On natively multi-resolution data: every query and gallery
    image of the test identities, as stored (a single-shot gallery alone would hold only one,
    typically large, image per identity and miss the small resolution classes), labelled by
    the *training* bin edges (``edges``, default the split's) applied to their pixel counts.
    """
    from reidlab.data import apply_bins
    from reidlab.data.records import FACTOR_TO_RES_CLASS, RES_CLASS_NAMES

    held_out = [r for r in split.gallery if r.pid > 0]
    if multi_resolution:
        unique = {r.path: r for r in (*split.query, *split.gallery) if r.pid > 0}
        records = [dataclasses.replace(r, factor=1) for r in unique.values()]
        true = apply_bins([r.pixel_count for r in records], split.res_bin_edges if edges is None else edges)
        names = [f"bin {i}" for i in range(split.n_res_classes)]
    else:
        records = [dataclasses.replace(r, factor=f) for r in held_out for f in (1, *factors)]
        true = [FACTOR_TO_RES_CLASS[r.factor] for r in records]
        names = list(RES_CLASS_NAMES[: split.n_res_classes])
    return records, np.asarray(true), names


@dataclasses.dataclass(frozen=True)
class HeldOutConfusion:
    """B-R on held-out images: its confusion matrix, the class names, accuracy, chance and the
    score of always naming the most frequent held-out class (percent), and the dataset's name."""

    matrix: np.ndarray
    names: list[str]
    accuracy: float
    chance: float
    majority: float
    dataset: str


def held_out_confusion(model: torch.nn.Module, split: ProtocolSplit, *, multi_resolution: bool, dataset: str,
                       prof) -> HeldOutConfusion:
    """B-R's confusion on the held-out images of :func:`held_out_resolution_labels`, read with the
    profile's input size and LR synthesis."""
    records, true, names = held_out_resolution_labels(split, multi_resolution, prof.data.factors)
    pred = predict_resolution(model, records, height=prof.model.height, width=prof.model.width,
                              interpolation=prof.data.interpolation, upsampling=prof.data.upsampling,
                              batch_size=prof.eval.batch_size)
    cm = confusion_matrix(true, pred, split.n_res_classes)
    accuracy, majority = accuracy_and_majority(cm)
    return HeldOutConfusion(cm, names, accuracy, 100 / split.n_res_classes, majority, dataset)


def accuracy_and_majority(cm: np.ndarray) -> tuple[float, float]:
    """Accuracy of the confusion matrix ``cm`` and the score of always naming its most frequent true
    class (percent)."""
    cm = np.asarray(cm)
    return 100 * cm.trace() / max(1, cm.sum()), 100 * cm.sum(1).max() / max(1, cm.sum())


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Mean over images of the peak signal-to-noise ratio in dB, ``10 log10(1 / MSE)``, of
    ``image`` against ``reference`` ((N, H, W, 3) arrays in [0, 1])."""
    mse = ((np.asarray(image, dtype=np.float64) - reference) ** 2).reshape(len(image), -1).mean(axis=1)
    return float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-12))))


def restoration_errors(lr: np.ndarray, restored: np.ndarray, hr: np.ndarray, prefix: str = "vdsr") -> dict[str, float]:
    """Mean absolute error to the HR original of VDSR-CA's output (``<prefix>_mae``) and of the
    interpolated LR input it starts from (``interp_mae``), images in [0, 1], and their PSNR
    (``<prefix>_psnr``, ``interp_psnr``, dB)."""
    return {f"{prefix}_mae": float(abs(restored - hr).mean()), "interp_mae": float(abs(lr - hr).mean()),
            f"{prefix}_psnr": psnr(restored, hr), "interp_psnr": psnr(lr, hr)}


@dataclasses.dataclass(frozen=True)
class RestorationImages:
    """The held-out images VDSR-CA's restoration is measured on, and how their LR version was made
    (``degradation``: ``"the protocol's LR queries"``, or the synthetic degradation applied to a
    natively multi-resolution dataset's largest stored images)."""

    records: tuple
    degradation: str


def restoration_held_out(split: ProtocolSplit, factors, n: int, *, height: int | None = None) -> RestorationImages:
    """Held-out images whose restoration can be measured against an HR original.

    Synthetic MLR data: the split's LR queries (each an HR file degraded by its ``factor``), as
    scored. A natively multi-resolution dataset (GRID, CAVIAR4REID, the CAVIAR-like set) stores
    each image at the only resolution it has, so an LR query has no HR counterpart: there ``n``
    stored test images (query and gallery) are degraded synthetically by ``factors`` in turn and
    measured against themselves, never an image against itself undegraded (which would read as
    0 error). They are the images nearest above the network's input ``height`` (from the smallest
    at least that tall; all of them when too few are): a much larger image, down-sampled by 4,
    still holds more pixels than the input keeps, so its degradation would vanish in the resize."""
    if n < 1:
        raise ValueError(f"n_restore_eval={n}: at least one held-out image is needed")
    lr_queries = [r for r in split.query if r.factor > 1]
    if lr_queries:
        return RestorationImages(tuple(lr_queries[:n]), "the protocol's LR queries")
    factors = [int(f) for f in factors if int(f) > 1]
    if not factors:
        raise ValueError(f"factors={tuple(factors)}: restoration on natively multi-resolution data needs a "
                         "degradation factor above 1 (the profile's data.factors)")
    unique = sorted({r.path: r for r in (*split.query, *split.gallery) if r.pid > 0}.values(),
                    key=lambda r: (r.height, r.width, str(r.path)))
    tall = [r for r in unique if height is not None and r.height >= height]
    chosen = tall[:n] if len(tall) >= n else unique[::-1][:n]
    records = tuple(dataclasses.replace(r, factor=factors[i % len(factors)]) for i, r in enumerate(chosen))
    heights = f"{min(r.height for r in records)}-{max(r.height for r in records)} px tall"
    return RestorationImages(records, f"synthetic x{'/x'.join(map(str, factors))} of {len(records)} stored test images "
                                      f"{heights} (natively multi-resolution: no HR original for an LR query)")


def restoration_table(restorers: dict[str, torch.nn.Module], records, *, height: int, width: int,
                      interpolation: str = "bicubic", upsampling: str = "bilinear", degradation: str = ""):
    """MAE (percent of the intensity range) and PSNR (dB) to the HR originals of ``records`` (held-out
    LR images) for the interpolated input and for each of ``restorers`` (name -> student or VDSR-CA,
    the first one the student, a second one VDSR-CA after its warm-up: :func:`~reidlab.study.compute.model_store.restorers`).
    Returns the table and the numbers by name (``vdsr_*`` for the first, ``vdsr_warmup_*`` for the second);
    ``degradation`` (:class:`RestorationImages`) is shown in a column when given."""
    import pandas as pd

    rows, numbers = [], {}
    for i, (name, model) in enumerate(restorers.items()):
        lr, restored, hr = restore_examples(model, records, height=height, width=width,
                                            interpolation=interpolation, upsampling=upsampling)
        prefix = "vdsr" if i == 0 else "vdsr_warmup"
        errors = restoration_errors(lr, restored, hr, prefix=prefix)
        if i == 0:
            rows.append({"images": "interpolated LR input", "MAE %": 100 * errors["interp_mae"],
                         "PSNR dB": errors["interp_psnr"]})
        rows.append({"images": name, "MAE %": 100 * errors[f"{prefix}_mae"], "PSNR dB": errors[f"{prefix}_psnr"]})
        numbers.update(errors)
    table = pd.DataFrame(rows).assign(**{"held-out images": len(records)})
    if degradation:
        table = table.assign(**{"LR made by": degradation})
    return table, numbers


class ResolutionValidator:
    """``validator(model) -> {"accuracy", "balanced_accuracy"}``: B-R's resolution accuracy and its
    mean recall over the classes present (percent; see :func:`balanced_accuracy`) on held-out
    images, for :class:`~reidlab.engine.training_loop.PeriodicValidation`."""

    def __init__(self, records, true, *, height: int, width: int, interpolation: str = "bicubic",
                 upsampling: str = "bilinear", batch_size: int = 128) -> None:
        self.records, self.true = list(records), np.asarray(true)
        self.kw = dict(height=height, width=width, interpolation=interpolation, upsampling=upsampling,
                       batch_size=batch_size)

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        pred = predict_resolution(model, self.records, **self.kw)
        n_classes = int(max(self.true.max(initial=0), pred.max(initial=0))) + 1
        return {"accuracy": float(100 * np.mean(pred == self.true)),
                "balanced_accuracy": balanced_accuracy(confusion_matrix(self.true, pred, n_classes))}
