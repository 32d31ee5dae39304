"""The two reproduced papers' own (published) numbers, as plain typed data.

References
----------
RFD
    A. Munir, C. Lyu, B. Goossens, W. Philips, C. Micheloni, "Resolution based Feature
    Distillation for Cross Resolution Person Re-Identification", arXiv:2109.07871, 2021.
PS-HRNet
    G. Zhang, Y. Ge, Z. Dong, H. Wang, Y. Zheng, S. Chen, "Deep High-Resolution Representation
    Learning for Cross-Resolution Person Re-identification", IEEE Transactions on Image
    Processing, 2021 (IEEE Xplore document 9591273); arXiv:2105.11722.

Status: only numbers read in the papers' own text are recorded here, never guessed or copied
from third-party re-prints. The result tables (RFD Tables 1-5, PS-HRNet Table I) could not be
read from the reference copies available when this module was written (only the title, author
list and abstract of each paper were reachable), so RFD's rows are still missing and
``published_table`` returns an empty frame (with the right columns) for them. To add a table,
append ``PublishedRow`` entries under its comment below, transcribed exactly as printed.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

REFERENCES: dict[str, str] = {
    "RFD": "RFD, Munir et al. 2021, arXiv:2109.07871",
    "PS-HRNet": "PS-HRNet, Zhang et al. 2021, IEEE TIP, arXiv:2105.11722",
}

# Tables of each paper, keyed as ``published_table`` expects them.
TABLES: dict[str, tuple[str, str]] = {
    "RFD-1": ("RFD", "1"), "RFD-2": ("RFD", "2"), "RFD-3": ("RFD", "3"),
    "RFD-4": ("RFD", "4"), "RFD-5": ("RFD", "5"),
    "PSHRNet-I": ("PS-HRNet", "I"),
}

COLUMNS: tuple[str, ...] = ("paper", "table", "dataset", "method", "R1", "R5", "R10", "mAP", "source")


@dataclass(frozen=True)
class PublishedRow:
    """One row of a paper's table; metrics in percent, ``None`` where the paper gives none."""

    paper: str    # "RFD" or "PS-HRNet"
    table: str    # the paper's own numbering: "1".."5" (RFD), "I" (PS-HRNet)
    dataset: str  # as printed, e.g. "MLR-CUHK03", "CAVIAR"
    method: str   # as printed, e.g. "Multi-Reso+RFD", "PS-HRNet"
    r1: float | None
    r5: float | None = None
    r10: float | None = None
    map_: float | None = None

    @property
    def source(self) -> str:
        return f"published ({REFERENCES[self.paper]}, Table {self.table})"


PUBLISHED_ROWS: tuple[PublishedRow, ...] = (
    # PS-HRNet Table I rank-1, as quoted in the project's issue #6 from the authors' public
    # description (R5/R10 not transcribed); CAVIAR is the paper's SR variant.
    PublishedRow("PS-HRNet", "I", "MLR-Market-1501", "PS-HRNet", 91.5),
    PublishedRow("PS-HRNet", "I", "MLR-CUHK03", "PS-HRNet", 92.6),
    PublishedRow("PS-HRNet", "I", "MLR-VIPeR", "PS-HRNet", 48.7),
    PublishedRow("PS-HRNet", "I", "MLR-DukeMTMC-reID", "PS-HRNet", 82.3),
    PublishedRow("PS-HRNet", "I", "CAVIAR", "PS-HRNet (SR variant)", 48.2),
    # RFD: none transcribed yet. The table contents named below come from the project brief; they
    # were not checked against the papers, whose tables could not be read here.
    # RFD Tables 1-3 (arXiv:2109.07871): comparison with other methods on MLR / CAVIAR data.
    # RFD Table 4 (arXiv:2109.07871): synthetic MLR ablation (Bicubic, Bilinear, Single-Reso,
    #   Multi-Reso, Multi-Reso+RFD; R1/R5).
    # RFD Table 5 (arXiv:2109.07871): CAVIAR (Single-Reso, Multi-Reso, Multi-Reso+RFD; R1/R5/R10).
    # PS-HRNet Table I (arXiv:2105.11722): rank-1/5/10 on MLR-Market-1501, MLR-CUHK03, MLR-VIPeR,
    #   MLR-DukeMTMC-reID and CAVIAR.
)

# PS-HRNet abstract (arXiv:2105.11722), verbatim: "our proposed PS-HRNet improves 3.4%, 6.2%,
# 2.5%,1.1% and 4.2% at Rank-1 on MLR-Market-1501, MLR-CUHK03, MLR-VIPeR, MLR-DukeMTMC-reID,
# and CAVIAR datasets, respectively" (gains over the best prior method, not Rank-1 values).
PSHRNET_ABSTRACT_RANK1_GAIN: dict[str, float] = {
    "MLR-Market-1501": 3.4, "MLR-CUHK03": 6.2, "MLR-VIPeR": 2.5,
    "MLR-DukeMTMC-reID": 1.1, "CAVIAR": 4.2,
}


#: our dataset name -> the paper's dataset it stands in for (synthetic stand-ins included)
PAPER_DATASET: dict[str, str] = {
    "market1501": "MLR-Market-1501", "synth-market": "MLR-Market-1501",
    "dukemtmc": "MLR-DukeMTMC-reID", "cuhk03": "MLR-CUHK03", "viper": "MLR-VIPeR",
    "caviar": "CAVIAR", "synth-caviar": "CAVIAR",
}


def reference_rows(dataset: str, tables: tuple[str, ...] = ("RFD-1", "RFD-2", "RFD-3", "PSHRNet-I")) -> pd.DataFrame:
    """Published rows of ``tables`` for the paper dataset that our ``dataset`` corresponds to."""
    paper_ds = PAPER_DATASET.get(dataset)
    frames = [published_table(t, paper_ds) for t in tables] if paper_ds else []
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))


def published_table(table: str, dataset: str | None = None) -> pd.DataFrame:
    """Rows of one published table (key from ``TABLES``, e.g. ``"RFD-4"``), optionally one dataset.

    Columns: ``paper, table, dataset, method, R1, R5, R10, mAP, source``. A table whose numbers
    have not been transcribed yet gives an empty frame with these columns.
    """
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; known: {sorted(TABLES)}")
    paper, number = TABLES[table]
    rows = [r for r in PUBLISHED_ROWS
            if r.paper == paper and r.table == number and (dataset is None or r.dataset == dataset)]
    records = [{"paper": r.paper, "table": r.table, "dataset": r.dataset, "method": r.method,
                "R1": r.r1, "R5": r.r5, "R10": r.r10, "mAP": r.map_, "source": r.source} for r in rows]
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def reference_view(dataset: str, tables: tuple[str, ...] = ("RFD-1", "RFD-2", "RFD-3", "PSHRNet-I"),
                   metrics: tuple[str, ...] = ("R1", "R5", "R10", "mAP"), **columns: str) -> pd.DataFrame:
    """Published rows for ``dataset`` formatted like our mean ± std tables: a ``source``
    column ("published (...) on <paper dataset>"), ``method``, one string column per metric
    (empty where the paper gives none), and any constant ``columns`` (e.g. ``protocol=...``).
    Empty when nothing is transcribed for ``dataset``."""
    ref = reference_rows(dataset, tables)
    view = pd.DataFrame({"source": [f"{s} on {d}" for s, d in zip(ref["source"], ref["dataset"])],
                         **{k: [v] * len(ref) for k, v in columns.items()},
                         "method": list(ref["method"])})
    for m in metrics:
        view[m] = ["" if v is None or v != v else f"{v:.1f}" for v in ref[m]]
    return view


def with_reference_rows(ours: pd.DataFrame, dataset: str, tables: tuple[str, ...] = ("RFD-1", "RFD-2", "RFD-3", "PSHRNet-I"),
                        **columns: str) -> pd.DataFrame:
    """``ours`` followed by the labelled published rows for ``dataset`` (if any)."""
    metrics = tuple(m for m in ("R1", "R5", "R10", "mAP") if m in ours.columns)
    ref = reference_view(dataset, tables, metrics, **columns)
    return ours if ref.empty else pd.concat([ours, ref], ignore_index=True)
