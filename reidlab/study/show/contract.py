"""The study's contract: the result record each notebook writes, and where results may go.

Imported by the pipeline (which runs the notebooks), by the report (which assembles their
results) and by the tests (which read them), and importing neither of those.

Every notebook ends with one :func:`write_result` call: a typed :class:`NotebookResult`
(title, parameters, tables, figures, computed conclusions, key numbers by name, counts of
what evaluation left out, and free-form ``data``) saved as strict JSON in
``<results_dir>/<notebook>.json``. :func:`read_result` is its inverse.

Where results go: only ``make reproduce`` (the pipeline, which sets ``REIDLAB_REPRODUCE=1``)
may write the committed ``results/`` folder. A notebook run by hand, in JupyterLab or with
papermill, with ``results_dir=None`` writes under
``runs/results/<profile>/<notebook>/<parameters>/`` (``defaults``, or the parameters that
differ from the notebook's, e.g. ``protocol-multi_res_gallery``) and says so, so a run with
other parameters never hides an earlier one. Any spelling of the committed ``results/``
(links resolved, ``results/../results``) outside the pipeline, the repository root, a folder
above it and the source folders are refused (:func:`check_results_folder`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from reidlab.paths import read_json, repo_root, resolve, write_json

__all__ = [
    "NOTEBOOK_NAME", "SWEEP_RESULTS", "SMOKE_PARAMETERS", "COMMITTED_RESULTS", "REPRODUCE_ENV", "TableRef", "FigureRef",
    "NotebookResult", "results_location", "write_result", "read_result",
    "check_results_folder", "checkout_part", "is_committed_results", "parameter_slug", "SOURCE_FOLDERS",
]

#: A notebook's name: two digits, an underscore, lower-case words (the notebooks themselves are
#: registered in :mod:`reidlab.study.show.registry`).
NOTEBOOK_NAME = re.compile(r"\d\d_[a-z0-9_]+")
#: Where ``make sweep`` (the training-length sweep, issue 33) writes, inside the committed results folder.
SWEEP_RESULTS = "sweep"
#: Parameters of the smoke run (tests, nbval): each notebook gets those it declares.
SMOKE_PARAMETERS: dict[str, Any] = {"profile": "smoke", "pseudo_bin_counts": [3, 5]}
#: The committed results folder, relative to the repository root.
COMMITTED_RESULTS = "results"
#: Set to "1" by the pipeline: the only writer allowed to replace the committed results.
REPRODUCE_ENV = "REIDLAB_REPRODUCE"
#: Folders of the repository that hold its sources: never a results folder.
SOURCE_FOLDERS: tuple[str, ...] = ("notebooks", "reidlab", "tests", "benchmarks", "docs", ".ci", ".git")


@dataclass(frozen=True)
class TableRef:
    """A table written with :func:`reidlab.study.show.figures.write_table` (``file`` is its ``.md``)."""

    file: str
    title: str
    note: str = ""


@dataclass(frozen=True)
class FigureRef:
    """A figure written with :func:`reidlab.study.show.plots.savefig` (``file`` is its ``.png``)."""

    file: str
    title: str


@dataclass(frozen=True)
class NotebookResult:
    """What one notebook reports.

    Attributes:
        notebook: its name (registered in :mod:`reidlab.study.show.registry`).
        title: the section title in ``results/README.md``.
        parameters: the settings the numbers depend on (profile, dataset, lambda, trials...).
        tables, figures: files relative to the results folder.
        conclusions: sentences computed from the numbers.
        metrics: the key numbers by name (percent for accuracies), read by tests and the report.
        counts: what evaluation used and left out (queries evaluated / total, ...).
        data: anything else worth keeping (per-trial summaries, run folders).
    """

    notebook: str
    title: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    tables: Sequence[TableRef] = ()
    figures: Sequence[FigureRef] = ()
    conclusions: Sequence[str] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    counts: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not NOTEBOOK_NAME.fullmatch(self.notebook):
            raise ValueError(f"notebook={self.notebook!r} is not a notebook's name (two digits, an underscore, "
                             "lower-case words: e.g. 01_train_bf)")
        for name, value in self.metrics.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"metric {name!r} must be a number, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NotebookResult:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ValueError(f"unknown result fields {unknown}; expected {sorted(fields)}")
        values = dict(data)
        values["tables"] = tuple(TableRef(**t) for t in data.get("tables", ()))
        values["figures"] = tuple(FigureRef(**f) for f in data.get("figures", ()))
        values["conclusions"] = tuple(data.get("conclusions", ()))
        values["metrics"] = {k: (float("nan") if v is None else v) for k, v in data.get("metrics", {}).items()}
        return cls(**values)


def is_committed_results(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is, by any spelling (links resolved, ``..`` collapsed), the committed
    ``results/`` folder or a folder inside it."""
    real = Path(path).resolve()
    committed = (repo_root() / COMMITTED_RESULTS).resolve()
    return real == committed or committed in real.parents


def checkout_part(real: Path) -> str | None:
    """What part of the checkout the folder ``real`` (links resolved) is, where writing or
    replacing a folder would replace the project's own files: ``"the repository root"``, ``"a
    folder above the repository root"``, ``"the source folder <name>/"`` (it or a folder inside
    it, :data:`SOURCE_FOLDERS`); ``None`` for any other folder."""
    root = repo_root().resolve()
    if real == root:
        return "the repository root"
    if real in root.parents:
        return "a folder above the repository root"
    for folder in SOURCE_FOLDERS:
        source = (root / folder).resolve()
        if real == source or source in real.parents:
            return f"the source folder {folder}/"
    return None


def check_results_folder(path: str | os.PathLike[str], given: Any = None, *, name: str = "results_dir") -> Path:
    """``path`` if results may be written there; else a ``ValueError`` naming ``name``.

    Refused, whatever the spelling (links resolved): the repository root and any folder above
    it (results would replace ``README.md``, the notebooks, ...), and the source folders
    (:data:`SOURCE_FOLDERS`) and anything inside them (:func:`checkout_part`). The committed
    ``results/`` is checked by the callers (only the pipeline writes it).
    """
    path = Path(path)
    given = path if given is None else given
    real = path.resolve()
    part = checkout_part(real)
    if part is not None and part.startswith("the source folder"):
        raise ValueError(f"{name}={str(given)!r} is {real}, inside {part}: results must not mix with the sources; "
                         "name a folder of their own, e.g. runs/results/mine")
    if part is not None:
        raise ValueError(
            f"{name}={str(given)!r} is {real}, {part}: results written there would replace the project's own files "
            "(README.md, notebooks/); name a folder of their own, e.g. runs/results/mine (or leave it unset)")
    return path


def parameter_slug(notebook: str, values: Mapping[str, Any]) -> str:
    """A folder name for one parameter set of ``notebook``: ``"defaults"``, or the parameters
    whose values differ from the notebook's declared defaults (``profile`` and the output
    folders left out), e.g. ``"protocol-multi_res_gallery"``; long or unusual ones shortened
    and made unique by a hash of the values."""
    from reidlab.study.params import declared_defaults

    defaults = declared_defaults(notebook)
    missing = object()                       # no value equals it
    changed = {}
    for key in sorted(values):
        if key in ("profile", "results_dir"):
            continue
        if values[key] != defaults.get(key, missing):
            changed[key] = values[key]
    if not changed:
        return "defaults"
    text = "_".join(f"{k}-{v}" for k, v in changed.items())
    clean = re.sub(r"[^A-Za-z0-9._=,+-]+", "-", text.replace(" ", "")).strip("-")
    if clean == text and len(clean) <= 60:
        return clean
    digest = hashlib.blake2b(json.dumps(changed, sort_keys=True, default=str).encode(), digest_size=4).hexdigest()
    return f"{clean[:50]}-{digest}"


def results_location(results_dir: str | os.PathLike[str] | None, profile: str, *, notebook: str | None = None,
                     namespace: Mapping[str, Any] | None = None) -> Path:
    """Where a notebook writes its results.

    ``None``: ``runs/results/<profile>/``, and with ``notebook`` (and its kernel's
    ``namespace``, whose declared parameters are read) ``runs/results/<profile>/<notebook>/<slug>/``
    (:func:`parameter_slug`): an ad-hoc run never touches the committed results, and a run with
    other parameters never hides an earlier one. The committed ``results/`` folder only under
    the pipeline (``make reproduce``); anywhere else as given (absolute, or relative to the
    repository root) once :func:`check_results_folder` accepts it.
    """
    if results_dir is None:
        base = resolve("runs") / "results" / profile
        if notebook is None:
            return base
        from reidlab.study.params import declared_parameters

        values = {k: (namespace or {}).get(k) for k in declared_parameters(notebook)}
        return base / notebook / parameter_slug(notebook, values)
    path = check_results_folder(resolve(results_dir, name="results_dir"), results_dir)
    if is_committed_results(path) and os.environ.get(REPRODUCE_ENV) != "1":
        raise ValueError(
            f"results_dir={str(results_dir)!r} is the committed results folder ({path.resolve()}), which only "
            "`make reproduce` writes; leave results_dir=None (writes under runs/results/) or "
            "name another folder")
    return path


def write_result(results: str | os.PathLike[str], result: NotebookResult) -> Path:
    """Check ``result`` against the files in ``results`` and write ``<notebook>.json``.

    Every table and figure it names must exist; metrics must be finite or NaN (written as
    ``null``). Prints where the result went.
    """
    results = Path(results)
    missing = [ref.file for ref in (*result.tables, *result.figures) if not (results / ref.file).is_file()]
    if missing:
        raise FileNotFoundError(f"{result.notebook}: result names files that were not written in "
                                f"{results}: {', '.join(missing)}")
    for name, value in result.metrics.items():
        if math.isinf(value):
            raise ValueError(f"{result.notebook}: metric {name!r} is infinite")
    path = write_json(results / f"{result.notebook}.json", result.to_dict())
    for stale in _unnamed_files(results, result):
        stale.unlink()
        print(f"[reidlab] removed {stale}: an earlier run of {result.notebook} wrote it, this one does not")
    print(f"[reidlab] results of {result.notebook} written to {path}")
    return path


def _unnamed_files(results: Path, result: NotebookResult) -> list[Path]:
    """Tables and figures of ``result.notebook`` (named ``<number>_...``) in ``results`` that
    ``result`` does not name: left by an earlier run with other parameters, they would
    disagree with the JSON now written."""
    prefix = result.notebook.split("_", 1)[0] + "_"
    named = {str(Path(ref.file).with_suffix("")) for ref in (*result.tables, *result.figures)}
    try:   # files this process wrote are never stale, named or not
        import psutil

        started = psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - no psutil: the oldest file this result names
        started = min((os.stat(results / ref.file).st_mtime for ref in (*result.tables, *result.figures)),
                      default=0.0)
    out = []
    for sub in ("tables", "figures"):
        for file in sorted((results / sub).glob(f"{prefix}*")):
            if file.is_file() and f"{sub}/{file.stem}" not in named and file.stat().st_mtime < started - 1:
                out.append(file)
    return out


def read_result(path: str | os.PathLike[str]) -> NotebookResult:
    """The :class:`NotebookResult` stored at ``path``."""
    return NotebookResult.from_dict(read_json(path))
