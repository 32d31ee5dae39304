"""Figures and tables from stored data: what ``make figures`` re-renders in seconds (issue 24).

Every figure of the study is described by a :class:`FigureSource`: the name of a renderer
(a key of :data:`reidlab.study.show.plots.RENDERERS`, the drawing functions, handed to the renderers here) and the numbers and
pictures it draws (tables as CSV, images as a compressed ``.npz``, options as JSON). A notebook
calls :func:`publish`, which stores the source beside the figure
(``<folder>/data/<name>/``), renders it under the project's one matplotlib style
(:data:`STYLE`), writes ``<name>.png`` and ``<name>.pdf`` (vector) and shows the PNG in the
notebook. ``make figures`` (:func:`render_results`) renders every stored source again, with no
model and no dataset, into the same files: the same renderer, style and writer, so the same
bytes. Tables: :func:`write_table` writes CSV, Markdown and LaTeX (booktabs) and records the
Markdown number format, so :func:`render_results` rewrites ``.md`` and ``.tex`` from the CSV.

Sources are verified before use (issue 35): the SHA-256 of every source file is recorded when it
is written (``figure.json``'s ``sha256``; each table's entry in ``formats.json``), checked before
rendering, and arrays are read with ``allow_pickle=False``; :func:`render_results` renders every
figure and table in memory first and writes nothing when any source is damaged or missing (a
``ValueError`` naming the file and what is wrong).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["STYLE", "COLUMN_WIDTH", "TEXT_WIDTH", "FIGURE_FORMATS", "FigureSource", "Renderers",
           "publish", "save_rendered", "store_source", "load_source", "render", "write_table", "to_latex",
           "render_results", "to_markdown"]

#: the project's matplotlib style (fonts, sizes, grid), applied to every figure it renders
STYLE = Path(__file__).with_name("reidlab.mplstyle")
#: one-column and two-column figure widths of a two-column paper (inches)
COLUMN_WIDTH, TEXT_WIDTH = 3.5, 7.16
#: what every figure is written as: raster for READMEs and notebooks, vector for papers
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf")
DATA_FOLDER = "data"
SOURCE_FILE = "figure.json"
TABLE_FORMATS = "formats.json"
ARRAYS_FILE = "arrays.npz"
#: the key of ``figure.json`` (and of each table's entry in ``formats.json``) holding the SHA-256
#: of the source files as written; sources written before it existed carry none (used unchecked)
DIGEST = "sha256"

#: renderer name -> function(source) -> matplotlib Figure: the drawing functions a caller hands to
#: :func:`render`, :func:`publish` and :func:`render_results` (the study's: ``plots.RENDERERS``)
Renderers = Mapping[str, Callable[["FigureSource"], Any]]


@dataclass(frozen=True)
class FigureSource:
    """What one figure shows: its ``renderer`` (a key of the :data:`Renderers` it is drawn with), tables of numbers
    (``frames``), images (``arrays``, uint8) and JSON ``options`` (titles, labels, sizes)."""

    renderer: str
    frames: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


def _data_folder(stem: Path) -> Path:
    return stem.parent / DATA_FOLDER / stem.name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _plain_name(name: Any) -> bool:
    """Whether ``name`` names a file inside its folder (no separator, not hidden)."""
    return isinstance(name, str) and bool(name) and Path(name).name == name and not name.startswith(".")


def store_source(source: FigureSource, folder: str | os.PathLike[str]) -> Path:
    """Write ``source`` into ``folder`` (replacing what was there): ``<frame>.csv``,
    ``arrays.npz`` and ``figure.json`` (renderer, options, the names of its frames and arrays,
    and the SHA-256 of each file written, which :func:`load_source` checks)."""
    from reidlab.paths import atomic_write_bytes, atomic_write_text

    folder = Path(folder)
    for name in (*source.frames, *source.arrays):
        if not _plain_name(name):
            raise ValueError(f"figure source frame/array name {name!r} is not valid: a plain, non-hidden file name")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    digests: dict[str, str] = {}
    for name, frame in source.frames.items():
        data = frame.to_csv(index=False).encode("utf-8")
        atomic_write_bytes(folder / f"{name}.csv", data)
        digests[f"{name}.csv"] = _sha256(data)
    if source.arrays:
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in source.arrays.items()})
        atomic_write_bytes(folder / ARRAYS_FILE, buf.getvalue())
        digests[ARRAYS_FILE] = _sha256(buf.getvalue())
    meta = {"renderer": source.renderer, "options": dict(source.options), "frames": list(source.frames),
            "arrays": list(source.arrays), DIGEST: digests}
    atomic_write_text(folder / SOURCE_FILE, json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return folder


def _read(path: Path, listed_by: Path | None = None) -> bytes:
    """The bytes of a source file, else a ``ValueError`` naming it (missing or unreadable)."""
    by = f" (listed in {listed_by})" if listed_by else ""
    if not path.is_file():
        raise ValueError(f"{path} is missing{by}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path} cannot be read{by}: {exc}") from exc


def _check_digest(path: Path, data: bytes, recorded: Any, where: Path) -> None:
    """``ValueError`` naming ``path`` when its bytes do not have the SHA-256 recorded in ``where``."""
    if not isinstance(recorded, str):
        raise ValueError(f"{where} records no valid {DIGEST} digest for {path.name} (found {recorded!r}): the "
                         "source description is damaged")
    found = _sha256(data)
    if found != recorded:
        raise ValueError(f"{path} does not match the {DIGEST} digest recorded in {where} when it was written "
                         f"(recorded {recorded[:12]}..., found {found[:12]}...): it was changed, truncated or "
                         "damaged since")


def _read_csv(path: Path, data: bytes) -> pd.DataFrame:
    """The table in ``data`` (the bytes of ``path``), else a ``ValueError`` naming ``path``; a
    CSV that does not end with a line break (every written one does) is cut short."""
    if data and not data.endswith(b"\n"):
        raise ValueError(f"{path} is truncated: a CSV file as written ends with a line break, this one stops "
                         f"mid-line after {len(data)} bytes")
    try:
        return pd.read_csv(io.BytesIO(data))
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{path} is an empty CSV file (no columns to read)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable CSV file ({type(exc).__name__}: {exc})") from exc


def _read_arrays(path: Path, data: bytes, names: list[str]) -> dict[str, np.ndarray]:
    """The arrays ``names`` of the ``.npz`` in ``data``, read with ``allow_pickle=False`` (an
    object array, whose loading could run code, is refused), else a ``ValueError`` naming ``path``."""
    try:
        stored = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(stored, np.lib.npyio.NpzFile):
            raise ValueError("it holds one array, not an .npz archive of named arrays")
        with stored:
            absent = [name for name in names if name not in stored.files]
            if absent:
                raise ValueError(f"it lacks the arrays {absent}")
            return {name: stored[name] for name in names}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise ValueError(f"{path} is not a readable .npz of plain arrays ({type(exc).__name__}: {exc})") from exc


def _load_source(folder: Path) -> tuple[FigureSource, bool]:
    """:func:`load_source`, and whether the files were checked against recorded digests."""
    path = folder / SOURCE_FILE
    try:
        meta = json.loads(_read(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not readable JSON ({type(exc).__name__}: {exc})") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("renderer"), str) \
            or not isinstance(meta.get("options"), dict) \
            or not all(isinstance(meta.get(k), list) and all(_plain_name(n) for n in meta[k])
                       for k in ("frames", "arrays")) \
            or not isinstance(meta.get(DIGEST, {}), dict):
        raise ValueError(f"{path} is not a figure source description (renderer, options, frames, arrays"
                         f"{', ' + DIGEST if isinstance(meta, dict) and DIGEST in meta else ''}): it is damaged")
    digests = meta.get(DIGEST)
    files = [f"{name}.csv" for name in meta["frames"]] + ([ARRAYS_FILE] if meta["arrays"] else [])
    data = {name: _read(folder / name, path) for name in files}
    if digests is not None:
        for name in files:
            _check_digest(folder / name, data[name], digests.get(name), path)
    frames = {name: _read_csv(folder / f"{name}.csv", data[f"{name}.csv"]) for name in meta["frames"]}
    arrays = _read_arrays(folder / ARRAYS_FILE, data[ARRAYS_FILE], meta["arrays"]) if meta["arrays"] else {}
    return FigureSource(meta["renderer"], frames, arrays, meta["options"]), digests is not None


def load_source(folder: str | os.PathLike[str]) -> FigureSource:
    """The :class:`FigureSource` :func:`store_source` wrote into ``folder``, checked: each file
    must have the SHA-256 recorded in ``figure.json`` (a source written before digests were
    recorded is read unchecked), CSVs and the ``.npz`` must read (arrays with
    ``allow_pickle=False``). Anything else is a ``ValueError`` naming the file and what is wrong."""
    return _load_source(Path(folder))[0]


def render(source: FigureSource, renderers: Renderers):
    """The matplotlib figure of ``source``, drawn by ``renderers[source.renderer]`` under :data:`STYLE`."""
    import matplotlib.pyplot as plt

    if source.renderer not in renderers:
        raise ValueError(f"figure renderer {source.renderer!r} is unknown; known: {', '.join(sorted(renderers))}")
    with plt.style.context(str(STYLE)):
        return renderers[source.renderer](source)


def _figure_bytes(fig, *, dpi: int = 150) -> dict[str, bytes]:
    """``fig`` as the bytes of each :data:`FIGURE_FORMATS` (no creation date in the PDF); closes it."""
    import matplotlib.pyplot as plt

    out = {}
    try:
        for fmt in FIGURE_FORMATS:
            buf = io.BytesIO()
            metadata = {"CreationDate": None} if fmt == "pdf" else None
            fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
            out[fmt] = buf.getvalue()
    finally:
        plt.close(fig)
    return out


def save_rendered(fig, stem: str | os.PathLike[str], *, dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``<stem>.png`` and ``<stem>.pdf``, atomically and byte-reproducibly (no
    creation date in the PDF), and close it."""
    from reidlab.paths import atomic_write_bytes

    return [atomic_write_bytes(Path(stem).with_suffix("." + fmt), data)
            for fmt, data in _figure_bytes(fig, dpi=dpi).items()]


def publish(source: FigureSource, stem: str | os.PathLike[str], renderers: Renderers) -> list[Path]:
    """Store ``source`` beside the figure (``<folder>/data/<name>/``), render it with ``renderers`` and
    write ``<stem>.png`` and ``.pdf``."""
    stem = Path(stem)
    stored = load_source(store_source(source, _data_folder(stem)))   # render what make figures will read
    return save_rendered(render(stored, renderers), stem)


# --------------------------------------------------------------------------- tables


def _formats(folder: Path) -> dict[str, Any]:
    """``formats.json`` of a tables folder: table name -> ``{"floatfmt", "sha256"}`` (or, written
    before digests were recorded, the float format alone); ``{}`` when absent; a ``ValueError``
    naming the file when it is damaged."""
    path = folder / TABLE_FORMATS
    if not path.is_file():
        return {}
    try:
        formats = json.loads(_read(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not readable JSON ({type(exc).__name__}: {exc})") from exc
    if not isinstance(formats, dict) or not all(
            isinstance(v, str) or (isinstance(v, dict) and isinstance(v.get("floatfmt"), str)
                                   and isinstance(v.get(DIGEST), str)) for v in formats.values()):
        raise ValueError(f"{path} is not a table format record (table name -> {{floatfmt, {DIGEST}}}): it is damaged")
    return formats


def _table_entry(entry: Any) -> tuple[str | None, str | None]:
    """``(float format, digest)`` of a ``formats.json`` entry (``None`` where not recorded)."""
    if isinstance(entry, dict):
        return entry["floatfmt"], entry[DIGEST]
    return entry, None


def write_table(df: pd.DataFrame, stem: str | os.PathLike[str], *, floatfmt: str = ".1f") -> tuple[Path, Path, Path]:
    """Write ``df`` as ``<stem>.csv``, ``<stem>.md`` (GitHub Markdown, numbers as ``floatfmt``) and
    ``<stem>.tex`` (booktabs), atomically; the format and the CSV's SHA-256 are recorded
    (``formats.json``) so that :func:`render_results` checks the CSV and writes the same ``.md``
    from it."""
    from reidlab.paths import atomic_write_bytes, atomic_write_text

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    formats = _formats(stem.parent)
    data = df.to_csv(index=False).encode("utf-8")
    csv = atomic_write_bytes(stem.with_suffix(".csv"), data)
    formats[stem.name] = {"floatfmt": floatfmt, DIGEST: _sha256(data)}
    # written even when unchanged: a run that writes the same tables again has written its record too (a full
    # reproduce deletes every file of the results folder that it did not write, pipeline.remove_unwritten)
    atomic_write_text(stem.parent / TABLE_FORMATS, json.dumps(formats, indent=1, sort_keys=True) + "\n")
    table = _read_csv(csv, data)      # what make figures will read: the same cells either way
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


# --------------------------------------------------------------------------- make figures


def _render_study(study: Path, renderers: Renderers, outputs: dict[Path, bytes], unchecked: list[Path],
                  counts: dict[str, int]) -> None:
    """Render ``study``'s figures and tables into ``outputs`` (path -> bytes; nothing is written),
    checking every source; sources with no recorded digest are added to ``unchecked``."""
    data = study / "figures" / DATA_FOLDER
    for folder in sorted(data.iterdir()) if data.is_dir() else ():
        if not folder.is_dir():
            continue
        source, checked = _load_source(folder)
        if not checked:
            unchecked.append(folder)
        try:
            rendered = _figure_bytes(render(source, renderers))
        except Exception as exc:  # noqa: BLE001 - a source that does not draw, named
            raise ValueError(f"the figure source {folder} does not render ({type(exc).__name__}: {exc})") from exc
        for fmt, figure in rendered.items():
            outputs[study / "figures" / f"{folder.name}.{fmt}"] = figure
        counts["figures"] += 1
    tables = study / "tables"
    formats = _formats(tables)
    for csv in sorted(tables.glob("*.csv")) if tables.is_dir() else ():
        floatfmt, digest = _table_entry(formats.get(csv.stem))
        raw = _read(csv)
        if digest is None:
            unchecked.append(csv)
        else:
            _check_digest(csv, raw, digest, tables / TABLE_FORMATS)
        table = _read_csv(csv, raw)
        if floatfmt is not None:   # tables written before formats were recorded keep their Markdown
            outputs[csv.with_suffix(".md")] = (to_markdown(table, floatfmt=floatfmt) + "\n").encode("utf-8")
        outputs[csv.with_suffix(".tex")] = to_latex(table, floatfmt=floatfmt or ".1f").encode("utf-8")
        counts["tables"] += 1
    for name, entry in formats.items():   # a recorded table whose CSV is gone while its outputs are there
        csv = tables / f"{name}.csv"
        if _table_entry(entry)[1] is not None and not csv.exists() and \
                any(csv.with_suffix(s).exists() for s in (".md", ".tex")):
            raise ValueError(f"{csv} is missing (recorded in {tables / TABLE_FORMATS}, and its .md/.tex are there)")


def render_results(results: str | os.PathLike[str], renderers: Renderers) -> dict[str, int]:
    """Re-render every stored figure source and rewrite every table's ``.md`` and ``.tex`` from
    its CSV, in ``results`` and each dataset arm inside it; no model, no dataset. Returns the
    counts of figures and tables written.

    Every source is checked first (the SHA-256 recorded when it was written, then JSON, CSV and
    ``.npz`` reads) and everything is rendered in memory; only when all of them rendered are the
    files written (those whose bytes changed). A damaged or missing source is a ``ValueError``
    naming the file and what is wrong, and then no file is rewritten. Sources written before
    digests were recorded are used unchecked, with a one-line note."""
    from reidlab.paths import atomic_write_bytes

    results = Path(results)
    studies = [results, *(sub for sub in sorted(results.iterdir()) if sub.is_dir() and (sub / "figures").is_dir()
                          and sub.name not in ("figures", "tables", "notebooks"))]
    counts = {"figures": 0, "tables": 0}
    outputs: dict[Path, bytes] = {}
    unchecked: list[Path] = []
    try:
        for study in studies:
            _render_study(study, renderers, outputs, unchecked, counts)
    except ValueError as exc:
        raise ValueError(f"{exc}; no figure or table in {results} was rewritten (restore the file, or run the "
                         "notebook that writes it again)") from exc
    if unchecked:
        names = [str(p.relative_to(results)) for p in unchecked]
        print(f"[reidlab] note: {len(names)} figure/table sources in {results} were written before their {DIGEST} "
              f"digests were recorded and are used unchecked ({', '.join(names[:3])}"
              f"{f' and {len(names) - 3} more' if len(names) > 3 else ''}); running their notebooks again records them",
              flush=True)
    for path, data in outputs.items():
        if not (path.is_file() and path.read_bytes() == data):
            atomic_write_bytes(path, data)
    return counts
