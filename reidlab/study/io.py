"""Atomic result files (strict JSON, Markdown/CSV/LaTeX tables; figures: :mod:`reidlab.study.figures`).

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


def write_table(df: pd.DataFrame, stem: str | os.PathLike, *, floatfmt: str = ".1f") -> tuple[Path, ...]:
    """Write ``df`` as ``<stem>.csv``, ``.md`` and ``.tex``, atomically
    (:func:`reidlab.study.figures.write_table`, which ``make figures`` re-renders from)."""
    from reidlab.study.figures import write_table as write

    return write(df, stem, floatfmt=floatfmt)


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
