"""Atomic result files (strict JSON, Markdown/CSV tables, figures).

Nothing under ``results/`` is ever half-written: every writer goes through a
temporary file in the same folder followed by :func:`os.replace`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from reidlab.paths import atomic_write_bytes, repo_root, resolve  # noqa: F401  (re-exported for the notebooks)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def strict_json(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays and paths made plain, and every NaN or infinity
    replaced by ``None``, so that the result is strict JSON (RFC 8259 has no NaN)."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return strict_json(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Strict JSON (NaN and infinities become ``null``), written atomically."""
    text = json.dumps(strict_json(obj), indent=2, sort_keys=True, default=_jsonable, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


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


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
