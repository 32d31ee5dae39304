"""Count tables of datasets and protocol splits (what notebook 00 shows)."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import pandas as pd

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
