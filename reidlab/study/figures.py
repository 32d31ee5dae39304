"""Figures and tables from stored data: what ``make figures`` re-renders in seconds (issue 24).

Every figure of the study is described by a :class:`FigureSource`: the name of a renderer
(:data:`RENDERERS`, the drawing functions of :mod:`reidlab.study.plots`) and the numbers and
pictures it draws (tables as CSV, images as a compressed ``.npz``, options as JSON). A notebook
calls :func:`publish`, which stores the source beside the figure
(``<folder>/data/<name>/``), renders it under the project's one matplotlib style
(:data:`STYLE`), writes ``<name>.png`` and ``<name>.pdf`` (vector) and shows the PNG in the
notebook. ``make figures`` (:func:`render_results`) renders every stored source again, with no
model and no dataset, into the same files: the same renderer, style and writer, so the same
bytes. Tables: :func:`write_table` writes CSV, Markdown and LaTeX (booktabs) and records the
Markdown number format, so :func:`render_results` rewrites ``.md`` and ``.tex`` from the CSV.
"""
from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["STYLE", "COLUMN_WIDTH", "TEXT_WIDTH", "FIGURE_FORMATS", "FigureSource", "RENDERERS", "renderer",
           "publish", "save_rendered", "store_source", "load_source", "render", "write_table", "to_latex",
           "render_results"]

#: the project's matplotlib style (fonts, sizes, grid), applied to every figure it renders
STYLE = Path(__file__).with_name("reidlab.mplstyle")
#: one-column and two-column figure widths of a two-column paper (inches)
COLUMN_WIDTH, TEXT_WIDTH = 3.5, 7.16
#: what every figure is written as: raster for READMEs and notebooks, vector for papers
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf")
DATA_FOLDER = "data"
SOURCE_FILE = "figure.json"
TABLE_FORMATS = "formats.json"

#: renderer name -> function(source) -> matplotlib Figure
RENDERERS: dict[str, Callable[["FigureSource"], Any]] = {}


def renderer(name: str) -> Callable[[Callable[["FigureSource"], Any]], Callable[["FigureSource"], Any]]:
    """Register a drawing function under ``name`` (decorator)."""
    def register(fn: Callable[["FigureSource"], Any]) -> Callable[["FigureSource"], Any]:
        RENDERERS[name] = fn
        return fn
    return register


@dataclass(frozen=True)
class FigureSource:
    """What one figure shows: its ``renderer`` (a key of :data:`RENDERERS`), tables of numbers
    (``frames``), images (``arrays``, uint8) and JSON ``options`` (titles, labels, sizes)."""

    renderer: str
    frames: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


def _data_folder(stem: Path) -> Path:
    return stem.parent / DATA_FOLDER / stem.name


def store_source(source: FigureSource, folder: str | os.PathLike[str]) -> Path:
    """Write ``source`` into ``folder`` (replacing what was there): ``figure.json`` (renderer,
    options, the names of its frames and arrays), ``<frame>.csv`` and ``arrays.npz``."""
    from reidlab.paths import atomic_write_bytes, atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    for name, frame in source.frames.items():
        atomic_write_text(folder / f"{name}.csv", frame.to_csv(index=False))
    if source.arrays:
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in source.arrays.items()})
        atomic_write_bytes(folder / "arrays.npz", buf.getvalue())
    meta = {"renderer": source.renderer, "options": dict(source.options), "frames": list(source.frames),
            "arrays": list(source.arrays)}
    atomic_write_text(folder / SOURCE_FILE, json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return folder


def load_source(folder: str | os.PathLike[str]) -> FigureSource:
    """The :class:`FigureSource` :func:`store_source` wrote into ``folder``."""
    folder = Path(folder)
    meta = json.loads((folder / SOURCE_FILE).read_text())
    frames = {name: pd.read_csv(folder / f"{name}.csv") for name in meta["frames"]}
    arrays: dict[str, np.ndarray] = {}
    if meta["arrays"]:
        with np.load(folder / "arrays.npz") as stored:
            arrays = {name: stored[name] for name in meta["arrays"]}
    return FigureSource(meta["renderer"], frames, arrays, meta["options"])


def render(source: FigureSource):
    """The matplotlib figure of ``source``, drawn under :data:`STYLE`."""
    import matplotlib.pyplot as plt

    import reidlab.study.plots  # noqa: F401  (registers the renderers)

    if source.renderer not in RENDERERS:
        raise ValueError(f"figure renderer {source.renderer!r} is unknown; known: {', '.join(sorted(RENDERERS))}")
    with plt.style.context(str(STYLE)):
        return RENDERERS[source.renderer](source)


def save_rendered(fig, stem: str | os.PathLike[str], *, dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``<stem>.png`` and ``<stem>.pdf``, atomically and byte-reproducibly (no
    creation date in the PDF), and close it."""
    import matplotlib.pyplot as plt

    from reidlab.paths import atomic_write_bytes

    out = []
    for fmt in FIGURE_FORMATS:
        buf = io.BytesIO()
        metadata = {"CreationDate": None} if fmt == "pdf" else None
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
        out.append(atomic_write_bytes(Path(stem).with_suffix("." + fmt), buf.getvalue()))
    plt.close(fig)
    return out


def publish(source: FigureSource, stem: str | os.PathLike[str]) -> list[Path]:
    """Store ``source`` beside the figure (``<folder>/data/<name>/``), render it and write
    ``<stem>.png`` and ``.pdf``."""
    stem = Path(stem)
    stored = load_source(store_source(source, _data_folder(stem)))   # render what make figures will read
    return save_rendered(render(stored), stem)


# --------------------------------------------------------------------------- tables


def _formats(folder: Path) -> dict[str, str]:
    path = folder / TABLE_FORMATS
    return json.loads(path.read_text()) if path.is_file() else {}


def write_table(df: pd.DataFrame, stem: str | os.PathLike[str], *, floatfmt: str = ".1f") -> tuple[Path, Path, Path]:
    """Write ``df`` as ``<stem>.csv``, ``<stem>.md`` (GitHub Markdown, numbers as ``floatfmt``) and
    ``<stem>.tex`` (booktabs), atomically; the format is recorded (``formats.json``) so that
    :func:`render_results` writes the same ``.md`` from the CSV."""
    from reidlab.paths import atomic_write_text
    from reidlab.study.io import to_markdown

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    formats = _formats(stem.parent)
    if formats.get(stem.name) != floatfmt:
        formats[stem.name] = floatfmt
        atomic_write_text(stem.parent / TABLE_FORMATS, json.dumps(formats, indent=1, sort_keys=True) + "\n")
    csv = atomic_write_text(stem.with_suffix(".csv"), df.to_csv(index=False))
    table = pd.read_csv(csv)          # what make figures will read: the same cells either way
    md = atomic_write_text(stem.with_suffix(".md"), to_markdown(table, floatfmt=floatfmt) + "\n")
    tex = atomic_write_text(stem.with_suffix(".tex"), to_latex(table, floatfmt=floatfmt))
    return csv, md, tex


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _latex_cell(value: Any, floatfmt: str) -> str:
    if isinstance(value, float):
        return "" if value != value else format(value, floatfmt)
    text = "" if value is None else str(value)
    text = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
    text = text.replace("±", r"$\pm$").replace("−", "-").replace("λ", r"$\lambda$")
    return re.sub(r"[^\x00-\x7f]", "", text)


def _is_published(row: pd.Series) -> bool:
    return any(isinstance(v, str) and "published" in v.lower() for v in row.values)


def to_latex(df: pd.DataFrame, *, floatfmt: str = ".1f") -> str:
    """``df`` as a LaTeX ``tabular`` with booktabs rules: numbers right-aligned, mean ± std as
    ``$\\pm$``, and the papers' published rows (a cell saying "published") set apart in italics
    below a rule of their own."""
    cols = [str(c) for c in df.columns]
    align = "".join("r" if pd.api.types.is_numeric_dtype(df[c]) else "l" for c in df.columns)
    lines = [f"\\begin{{tabular}}{{{align}}}", "\\toprule",
             " & ".join(_latex_cell(c, floatfmt) for c in cols) + " \\\\", "\\midrule"]
    ours = [row for _, row in df.iterrows() if not _is_published(row)]
    published = [row for _, row in df.iterrows() if _is_published(row)]
    for row in ours:
        lines.append(" & ".join(_latex_cell(v, floatfmt) for v in row.values) + " \\\\")
    if published:
        lines.append("\\midrule")
        for row in published:
            lines.append(" & ".join(f"\\textit{{{_latex_cell(v, floatfmt)}}}" if _latex_cell(v, floatfmt) else ""
                                    for v in row.values) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- make figures


def render_results(results: str | os.PathLike[str]) -> dict[str, int]:
    """Re-render every stored figure source and rewrite every table's ``.md`` and ``.tex`` from
    its CSV, in ``results`` and each dataset arm inside it; no model, no dataset. Returns the
    counts of figures and tables written."""
    from reidlab.paths import atomic_write_text
    from reidlab.study.io import to_markdown

    results = Path(results)
    studies = [results, *(sub for sub in sorted(results.iterdir()) if sub.is_dir() and (sub / "figures").is_dir()
                          and sub.name not in ("figures", "tables", "notebooks"))]
    counts = {"figures": 0, "tables": 0}
    for study in studies:
        data = study / "figures" / DATA_FOLDER
        for folder in sorted(data.iterdir()) if data.is_dir() else ():
            if (folder / SOURCE_FILE).is_file():
                save_rendered(render(load_source(folder)), study / "figures" / folder.name)
                counts["figures"] += 1
        tables = study / "tables"
        formats = _formats(tables)
        for csv in sorted(tables.glob("*.csv")) if tables.is_dir() else ():
            table = pd.read_csv(csv)
            floatfmt = formats.get(csv.stem, ".1f")
            if csv.stem in formats:   # tables written before formats were recorded keep their Markdown
                atomic_write_text(csv.with_suffix(".md"), to_markdown(table, floatfmt=floatfmt) + "\n")
            atomic_write_text(csv.with_suffix(".tex"), to_latex(table, floatfmt=floatfmt))
            counts["tables"] += 1
    return counts
