"""The study's contract: which notebooks exist, and the result record each one writes.

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

from reidlab.choices import PROTOCOLS
from reidlab.paths import read_json, repo_root, resolve, write_json

__all__ = [
    "NOTEBOOKS", "SWEEP_NOTEBOOK", "SWEEP_RESULTS", "SMOKE_PARAMETERS", "COMMITTED_RESULTS", "REPRODUCE_ENV", "TableRef", "FigureRef",
    "NotebookResult", "results_location", "write_result", "read_result", "HEADLINE_METRICS", "headline_metrics",
    "check_results_folder", "checkout_part", "is_committed_results", "parameter_slug", "SOURCE_FOLDERS",
]

#: The numbered notebooks, in order: ``make reproduce`` runs them all but :data:`SWEEP_NOTEBOOK`.
NOTEBOOKS: tuple[str, ...] = (
    "00_data_synthesis", "01_train_bf", "02_train_br", "03_rfd_eval",
    "04_ablations", "05_per_split_plot", "06_ps_hrnet", "07_controls", "08_ranking_explorer",
    "09_training_length_sweep",
)
#: The training-length sweep (issue 33): outside ``make reproduce``'s budget, run by ``make sweep`` into
#: :data:`SWEEP_RESULTS` (``reproduce --sweep``).
SWEEP_NOTEBOOK = "09_training_length_sweep"
#: Where ``make sweep`` writes, inside the committed results folder.
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
        notebook: its name (one of :data:`NOTEBOOKS`).
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
        if self.notebook not in NOTEBOOKS:
            raise ValueError(f"notebook={self.notebook!r} is not one of: {', '.join(NOTEBOOKS)}")
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


#: ``results/metrics.json``: headline name -> (notebook, metric in its result, scale). Names
#: are a contract with readers of the study: once added, a key is never renamed.
HEADLINE_METRICS: dict[str, tuple[str, str, float]] = {
    "bf_hr_to_hr_r1": ("01_train_bf", "bf_hr_to_hr_r1", 1.0),
    "bf_lr_to_hr_r1": ("01_train_bf", "bf_lr_to_hr_r1", 1.0),
    "hr_only_bf_hr_to_hr_r1": ("01_train_bf", "hr_only_bf_hr_to_hr_r1", 1.0),
    "hr_only_bf_lr_to_hr_r1": ("01_train_bf", "hr_only_bf_lr_to_hr_r1", 1.0),
    "bf_val_r1": ("01_train_bf", "bf_val_r1", 1.0),
    # B-F and the HR-only B-F on LR queries, mean over every trial and unit, and the multi-resolution training
    # gain (B-F minus HR-only B-F) over independent units with its 95% interval (notebook 01)
    "bf_lr_to_hr_r1_mean": ("01_train_bf", "bf_lr_to_hr_r1_mean", 1.0),
    "hr_only_bf_lr_to_hr_r1_mean": ("01_train_bf", "hr_only_bf_lr_to_hr_r1_mean", 1.0),
    **{f"mlr_gain_r1_lr_query{suffix}": ("01_train_bf", f"mlr_gain_r1_lr_query{suffix}", 1.0)
       for suffix in ("", "_ci_low", "_ci_high")},
    "mlr_gain_units_lr_query": ("01_train_bf", "mlr_gain_units_lr_query", 1.0),
    # the training-length sweep (notebook 09, make sweep: results/sweep/ only): lengths swept, and at the longest
    # B-F's LR-query rank-1, RFD's gain and the multi-resolution training gain with their 95% intervals
    "sweep_lengths": ("09_training_length_sweep", "sweep_lengths", 1.0),
    "sweep_bf_lr_to_hr_r1_longest": ("09_training_length_sweep", "sweep_bf_lr_to_hr_r1_longest", 1.0),
    **{f"sweep_{gain}_r1_lr_query_longest{suffix}": ("09_training_length_sweep",
                                                    f"sweep_{gain}_r1_lr_query_longest{suffix}", 1.0)
       for gain in ("rfd_gain", "mlr_gain") for suffix in ("", "_ci_low", "_ci_high")},
    # standard deviation of B-F's LR->HR rank-1 between independent units (notebook 03): the spread
    # `make check-results` derives its tolerances from (reidlab/study/compute/check.py)
    "bf_lr_to_hr_r1_unit_std": ("03_rfd_eval", "bf_r1_std", 1.0),
    "br_accuracy": ("02_train_br", "br_accuracy", 1.0),
    "br_chance": ("02_train_br", "br_chance", 1.0),
    "br_pseudo_accuracy": ("02_train_br", "br_pseudo_accuracy", 1.0),
    "br_pseudo_chance": ("02_train_br", "br_pseudo_chance", 1.0),
    # mean recall over the classes present, and the score of always naming the most frequent class
    "br_pseudo_balanced_accuracy": ("02_train_br", "br_pseudo_balanced_accuracy", 1.0),
    "br_pseudo_majority": ("02_train_br", "br_pseudo_majority", 1.0),
    "ps_hrnet_lr_to_hr_r1": ("06_ps_hrnet", "ps_hrnet_lr_query_r1", 1.0),
    # its standard deviation between independently trained units (null from one unit): check-results'
    # tolerance for it (reidlab/study/compute/check.py)
    "ps_hrnet_lr_to_hr_r1_unit_std": ("06_ps_hrnet", "ps_hrnet_lr_query_r1_unit_std", 1.0),
    # mean absolute error to the HR image, in percent of the intensity range
    "vdsr_mae": ("06_ps_hrnet", "vdsr_mae", 100.0),
    "interp_mae": ("06_ps_hrnet", "interp_mae", 100.0),
    "vdsr_psnr": ("06_ps_hrnet", "vdsr_psnr", 1.0),
    "interp_psnr": ("06_ps_hrnet", "interp_psnr", 1.0),
    "vdsr_warmup_mae": ("06_ps_hrnet", "vdsr_warmup_mae", 100.0),
    "vdsr_warmup_psnr": ("06_ps_hrnet", "vdsr_warmup_psnr", 1.0),
    # how well a pixel-statistics classifier names the camera of an image of the study's dataset,
    # identities disjoint (Cohen's kappa; notebook 00, reidlab/data/camera_cue.py): on all images
    # and at 96 images, the size the real reference sets are compared at
    "camera_cue_kappa": ("00_data_synthesis", "camera_cue_kappa", 1.0),
    "camera_cue_kappa_matched": ("00_data_synthesis", "camera_cue_kappa_matched", 1.0),
    # lambda chosen on validation identities for the study's Eq. 8 reading (notebook 04)
    "lambda_chosen": ("04_ablations", "lambda_chosen", 1.0),
    # RFD's gain over B-F on the profile's dataset (notebook 07): mean over independent units, the
    # 95% interval (null when not testable: fewer than 3 units or no variance) and the units
    **{f"rfd_gain_r1_{p}{suffix}": ("07_controls", f"rfd_gain_r1_{p}{suffix}", 1.0)
       for p in PROTOCOLS for suffix in ("", "_ci_low", "_ci_high")},
    **{f"rfd_gain_units_{p}": ("07_controls", f"rfd_gain_units_{p}", 1.0) for p in PROTOCOLS},
    # the same on the CAVIAR-like set over retrained identity splits (notebook 04, Table 5): Single-Reso
    # (lr_query) and Multi-Reso (multi_res_gallery), and the pseudo-label bins chosen on validation
    **{f"rfd_gain_r1_caviar_{p}{suffix}": ("04_ablations", f"rfd_gain_r1_caviar_{p}{suffix}", 1.0)
       for p in PROTOCOLS for suffix in ("", "_ci_low", "_ci_high")},
    **{f"rfd_gain_units_caviar_{p}": ("04_ablations", f"rfd_gain_units_caviar_{p}", 1.0)
       for p in PROTOCOLS},
    "pseudo_bins_chosen": ("04_ablations", "pseudo_bins_chosen", 1.0),
    # each control's rank-1 change against B-F alone (reidlab/study/compute/controls.py)
    **{f"control_gain_r1_{p}_{c}": ("07_controls", f"control_gain_r1_{p}_{c}", 1.0)
       for p in PROTOCOLS
       for c in ("euclidean", "resolution_oracle", "camera_oracle", "untrained_br", "shuffled_br",
                 "second_bf_subtracted", "second_bf_ensemble")},
    # ... and its standard deviation between the units (null from one unit): check-results' tolerance
    **{f"control_gain_r1_{p}_{c}_unit_std": ("07_controls", f"control_gain_r1_{p}_{c}_unit_std", 1.0)
       for p in PROTOCOLS
       for c in ("euclidean", "resolution_oracle", "camera_oracle", "untrained_br", "shuffled_br",
                 "second_bf_subtracted", "second_bf_ensemble")},
}


#: Headline numbers that are not percentages keep more decimals (lambda values such as 0.05).
HEADLINE_DECIMALS: dict[str, int] = {"lambda_chosen": 2, "pseudo_bins_chosen": 0, "camera_cue_kappa": 2,
                                     "camera_cue_kappa_matched": 2}


def headline_metrics(results: str | os.PathLike[str], wall_seconds: float | None = None) -> dict[str, float | None]:
    """The flat ``metrics.json`` object: every :data:`HEADLINE_METRICS` key (``None`` where its
    notebook has not written a result), one decimal (:data:`HEADLINE_DECIMALS` for the
    others), plus ``reproduce_minutes``."""
    results = Path(results)
    cache: dict[str, NotebookResult | None] = {}
    out: dict[str, float | None] = {}
    for key, (notebook, metric, scale) in HEADLINE_METRICS.items():
        if notebook not in cache:
            path = results / f"{notebook}.json"
            cache[notebook] = read_result(path) if path.is_file() else None
        value = cache[notebook].metrics.get(metric) if cache[notebook] is not None else None
        digits = HEADLINE_DECIMALS.get(key, 1)
        out[key] = None if value is None or not math.isfinite(value) else round(float(value) * scale, digits)
    out["reproduce_minutes"] = None if wall_seconds is None else round(wall_seconds / 60, 1)
    return out
