"""Count tables of datasets and protocol splits (what notebook 00 shows)."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import pandas as pd

from reidlab.choices import PROTOCOLS
from reidlab.data.camera_cue import MATCHED_IMAGES
from reidlab.data.records import ImageRecord, ProtocolSplit, ReidDataset


def _parts(ds: ReidDataset) -> dict[str, Sequence[ImageRecord]]:
    if ds.fixed_split:
        return {"train": ds.train, "query": ds.query, "gallery": ds.gallery}
    return {"all": ds.images}


def dataset_counts(ds: ReidDataset) -> pd.DataFrame:
    """Images, identities and cameras per part of a dataset as read from disk."""
    rows = []
    for part, recs in _parts(ds).items():
        heights = [r.height for r in recs]
        rows.append({"part": part, "images": len(recs), "identities": len({r.pid for r in recs}),
                     "cameras": len({r.camid for r in recs}),
                     "min height": min(heights) if heights else 0, "max height": max(heights) if heights else 0})
    return pd.DataFrame(rows)


def camera_counts(ds: ReidDataset) -> pd.DataFrame:
    """Images per part and camera."""
    rows = []
    for part, recs in _parts(ds).items():
        c = Counter(r.camid for r in recs)
        rows.append({"part": part, **{f"cam {k}": v for k, v in sorted(c.items())}})
    return pd.DataFrame(rows).fillna(0).astype({k: int for k in []})


def protocol_counts(split: ProtocolSplit) -> pd.DataFrame:
    """Images, identities, and down-sampling factors (or pseudo-labels) per part of a split."""
    rows = []
    for part in ("train", "query", "gallery"):
        recs = getattr(split, part)
        factors = Counter(r.factor for r in recs)
        row = {"part": part, "images": len(recs), "identities": len({r.pid for r in recs})}
        row.update({("HR" if f == 1 else f"x{f}"): factors.get(f, 0) for f in (1, 2, 3, 4)})
        if part == "train":
            labels = Counter(r.res_label for r in recs)
            row["resolution classes"] = " ".join(f"{k}:{v}" for k, v in sorted(labels.items()))
        rows.append(row)
    return pd.DataFrame(rows)


def skipped_text(ds: ReidDataset) -> str:
    """One line saying what the reader left out of ``ds`` (nothing is dropped silently)."""
    skipped = dict(getattr(ds, "skipped", {}) or {})
    if not any(skipped.values()):
        return f"{ds.name}: every file in {ds.root} was read"
    return f"{ds.name}: skipped " + ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items()) if n)


def multires_companion(prof, ds: ReidDataset, multires_dataset: str | None = None,
                       multires_root: str | None = None) -> ReidDataset | None:
    """The natively multi-resolution dataset shown beside ``ds`` for RFD Sec. 3.5: the one
    named, else synth-caviar for synthetic data, ``ds`` itself when it is multi-resolution,
    else none."""
    import dataclasses

    from reidlab.data import prepare_dataset

    name = multires_dataset or ("synth-caviar" if prof.data.dataset.startswith("synth") else
                                (prof.data.dataset if ds.multi_resolution else None))
    if name is None:
        return None
    if name == prof.data.dataset and multires_root is None:
        return ds
    root = multires_root or (prof.data.data_root if name.startswith("synth") else None)
    if root is None:
        raise ValueError(f"multires_dataset={name!r} needs multires_root (its folder)")
    return prepare_dataset(dataclasses.replace(prof.data, dataset=name, data_root=root))


def pseudo_label_bins(ds: ReidDataset, data_cfg) -> tuple[list[int], list[int], list[float]]:
    """Pixel counts of every image of ``ds``, their pseudo-resolution labels and the bin
    edges (RFD Sec. 3.5) under ``data_cfg.pseudo_bins`` / ``pseudo_strategy``."""
    from reidlab.data import pseudo_resolution_labels

    sizes = [r.pixel_count for r in ds.images]
    labels, edges = pseudo_resolution_labels(sizes, n_bins=data_cfg.pseudo_bins, strategy=data_cfg.pseudo_strategy,
                                             names=[r.path for r in ds.images])
    return sizes, list(labels), [float(e) for e in edges]


def camera_resolution_table(ds: ReidDataset, edges) -> pd.DataFrame:
    """Per camera: images, median height and pixel count, and the share of its images in each
    pseudo-resolution bin (bin 0 = highest resolution). On natively multi-resolution data
    camera and resolution are confounded (CAVIAR4REID's far camera holds the small crops);
    this table measures by how much."""
    from reidlab.data import apply_bins

    rows = []
    for cam in sorted({r.camid for r in ds.images}):
        recs = [r for r in ds.images if r.camid == cam]
        bins = Counter(apply_bins([r.pixel_count for r in recs], edges))
        rows.append({"camera": cam, "images": len(recs),
                     "median height": float(pd.Series([r.height for r in recs]).median()),
                     "median pixels": float(pd.Series([r.pixel_count for r in recs]).median()),
                     **{f"bin {b} %": 100.0 * bins.get(b, 0) / len(recs) for b in range(len(edges) - 1)}})
    return pd.DataFrame(rows)


def confound_sentence(table: pd.DataFrame, dataset: str) -> str:
    """How far resolution tells the camera apart, from :func:`camera_resolution_table`."""
    bins = [c for c in table.columns if c.startswith("bin ")]
    low, high = table.loc[table["median pixels"].idxmin()], table.loc[table["median pixels"].idxmax()]
    half = len(bins) // 2
    low_share = float(low[bins[half:]].sum())
    high_share = float(high[bins[half:]].sum())
    return (f"{dataset}: camera and resolution are confounded: camera {int(low.camera)} has a median of "
            f"{low['median pixels']:.0f} pixels against {high['median pixels']:.0f} for camera {int(high.camera)}; "
            f"{low_share:.0f}% of its images fall in the lower-resolution bins ({', '.join(b.removesuffix(' %') for b in bins[half:])}) against "
            f"{high_share:.0f}% of camera {int(high.camera)}'s. A B-R trained on these pseudo-labels can partly "
            "recognise the camera instead of the resolution (as on CAVIAR4REID).")


def protocol_tables(prof, ds: ReidDataset, mr: ReidDataset | None = None) -> dict[str, pd.DataFrame]:
    """Trial 0's split counts of each protocol on ``ds`` (and the multi-resolution gallery
    protocol on the natively multi-resolution companion ``mr``), keyed by protocol."""
    from reidlab.config import protocol_kwargs
    from reidlab.data import build_protocol

    tables = {p: protocol_counts(build_protocol(p, ds, trial=0, **protocol_kwargs(prof)))
              for p in PROTOCOLS}
    if mr is not None:
        tables["multires_multi_res_gallery"] = protocol_counts(
            build_protocol("multi_res_gallery", mr, trial=0, **protocol_kwargs(prof)))
    return tables


#: :func:`camera_cue_table`'s column of kappa at the matched sample size
CAMERA_CUE_MATCHED = f"kappa ({MATCHED_IMAGES} images)"

#: real datasets read for the camera-cue comparison when found (folder name under the
#: reference root -> dataset reader)
CAMERA_CUE_REFERENCES: tuple[tuple[str, str], ...] = (
    ("mini_market1501", "market1501"), ("VIPeR", "viper"), ("PRID", "prid"))


def camera_cue_table(ds: ReidDataset, reference_root: str | None = None, *, seed: int = 0) -> pd.DataFrame:
    """How well the camera of an image can be told from its pixels
    (:mod:`reidlab.data.camera_cue`), for ``ds`` and, as reference rows, for the real
    datasets of :data:`CAMERA_CUE_REFERENCES` found under ``reference_root`` (absent ones
    are left out): Cohen's kappa on all images and at :data:`~reidlab.data.camera_cue.MATCHED_IMAGES`
    images (mean ± std over 5 identity draws)."""
    from pathlib import Path

    from reidlab.data.camera_cue import camera_predictability, matched_predictability
    from reidlab.data.readers import load_dataset
    from reidlab.paths import resolve

    sets = [(ds.name, "this study", ds.images)]
    if reference_root is not None:
        root = resolve(reference_root, name="camera_cue_references")
        for folder, reader in CAMERA_CUE_REFERENCES:
            if (Path(root) / folder).is_dir() and reader != ds.name:
                sets.append((reader, "real (reference)", load_dataset(reader, Path(root) / folder).images))
    rows = []
    for name, kind, images in sets:
        full, matched = camera_predictability(images, seed=seed), matched_predictability(images, seed=seed)
        rows.append({"dataset": name, "rows": kind, "images": full.images, "cameras": full.cameras,
                     "accuracy (all)": round(100 * full.accuracy, 1), "kappa (all)": round(full.kappa, 2),
                     CAMERA_CUE_MATCHED: round(matched.kappa, 2),
                     "std": round(matched.kappa_std, 2)})
    return pd.DataFrame(rows)


def camera_cue_sentence(table: pd.DataFrame) -> str:
    """One sentence on :func:`camera_cue_table`: this dataset's camera cue against the real
    reference sets at the matched sample size."""
    matched = CAMERA_CUE_MATCHED
    ours = table.iloc[0]
    text = (f"Camera cue ({ours['dataset']}): a pixel-statistics classifier names the camera with kappa "
            f"{ours['kappa (all)']:.2f} on all {ours['images']} images, {ours[matched]:.2f} at {matched[7:-1]}")
    refs = table.iloc[1:]
    if refs.empty:
        return text + " (no real reference set found)."
    return text + "; real data at the same size: " + ", ".join(
        f"{r.dataset} {r[matched]:.2f}" for _, r in refs.iterrows()) + "."
