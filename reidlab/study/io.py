"""Atomic result files (strict JSON, Markdown/CSV tables, figures).

Nothing under ``results/`` is ever half-written: every writer goes through a
temporary file in the same folder followed by :func:`os.replace`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

# the project's one atomic writer and JSON reader/writer live in reidlab.paths; re-exported here
# (with resolve) for the notebooks and the study
from reidlab.paths import (  # noqa: F401
    atomic_write_bytes, atomic_write_text, read_json, repo_root, resolve, strict_json, write_json,
)


def write_table(df: pd.DataFrame, stem: str | os.PathLike, *, floatfmt: str = ".1f") -> tuple[Path, Path]:
    """Write ``df`` as ``<stem>.csv`` and ``<stem>.md`` (GitHub Markdown), atomically."""
    stem = Path(stem)
    csv = atomic_write_text(stem.with_suffix(".csv"), df.to_csv(index=False))
    md = atomic_write_text(stem.with_suffix(".md"), to_markdown(df, floatfmt=floatfmt) + "\n")
    return csv, md


def to_markdown(df: pd.DataFrame, *, floatfmt: str = ".1f") -> str:
    """A GitHub Markdown table (no ``tabulate`` dependency)."""
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "" if v != v else format(v, floatfmt)
        return "" if v is None else str(v)

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def save_figure(fig, stem: str | os.PathLike, *, formats: tuple[str, ...] = ("png", "svg"), dpi: int = 130) -> list[Path]:
    """Save a matplotlib figure atomically in each format (raster + vector)."""
    import io as _io

    out = []
    for fmt in formats:
        buf = _io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
        out.append(atomic_write_bytes(Path(stem).with_suffix("." + fmt), buf.getvalue()))
    return out
