"""The ranking explorer (notebook 08, issue 24): how lambda changes one query's ranking.

Notebooks 03 and 05 save, for every trial they score, what Eq. 8 needs to rank again at any
lambda without a model: the B-F-alone distances ``D(0)`` and the change ``D(1) - D(0)`` (Eq. 8 is
linear in lambda, so ``D(lam) = D(0) + lam * (D(1) - D(0))``), the query and gallery records, the
identities and cameras as scored and each trial's unit (:func:`save_bundle`, an ``.npz`` of
plain arrays and JSON under ``<runs>/explorer/``, read with ``allow_pickle=False``: loading it
runs no code). The explorer reads only those files (:func:`load_bundle`: a missing one is an
error naming the notebook that writes it; an old-format ``.pt`` pickle is refused, never
unpickled), ranks (:func:`query_ranking`) and draws RFD's
Fig. 4 row for one query (:func:`ranking_row`); :func:`explorer_widget` puts it behind
ipywidgets in JupyterLab.

Notebook 08 shows by default the first query whose top-10 changes with lambda
(:func:`query_with_changed_ranking`, between the lambdas :data:`CHANGE_LAMS`;
:func:`choose_query`), and the widget prints that query's ranked gallery identities as one line of
text (:func:`ranking_line`, read back by :func:`read_ranking_line`), so a reader and the browser
test (tests/test_lab_browser.py) see the ranking change, not only a redrawn figure.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch

from reidlab.data.records import ImageRecord

__all__ = ["BUNDLE_WRITERS", "BUNDLE_SUFFIX", "BUNDLE_FORMAT", "OLD_BUNDLE_SUFFIX", "OldBundleError",
           "CHANGE_LAMS", "IDENTITIES_LABEL", "bundle_path", "save_bundle", "load_bundle",
           "TrialRanking", "QueryRanking", "query_ranking", "top_identities", "query_with_changed_ranking",
           "QueryChoice", "choose_query", "check_query", "trial_of", "ShownRanking", "ranking_line",
           "read_ranking_line", "trial_rank1", "rank1_table", "ranking_row", "rank_table", "save_trial_results",
           "explorer_widget", "interactive", "load_sources"]

#: which notebook writes the bundle of each protocol
BUNDLE_WRITERS = {"lr_query": "notebooks/03_rfd_eval.ipynb", "multi_res_gallery": "notebooks/05_per_split_plot.ipynb"}
#: the two lambdas between which notebook 08's default query (``query = None``) changes its top-k:
#: B-F alone, and B-F + RFD at the middle of the widget's lambda slider (0 to 1)
CHANGE_LAMS: tuple[float, float] = (0.0, 0.5)
#: how :func:`ranking_line` names the ranked identities (the text a reader and the browser test read)
IDENTITIES_LABEL = "gallery identities in rank order"
#: the explorer file: a NumPy ``.npz`` of plain arrays (read with ``allow_pickle=False``), its
#: metadata and records as a JSON text in the array ``meta``; nothing in it is unpickled
BUNDLE_SUFFIX = ".npz"
#: what the ``meta`` of a bundle says it is (a file without it is not loaded)
BUNDLE_FORMAT = "reidlab-explorer-bundle-v2"
#: the suffix of the explorer files written before issue 35 (``torch.save`` pickles): never loaded
OLD_BUNDLE_SUFFIX = ".pt"


class OldBundleError(FileNotFoundError):
    """Only an explorer file in the old format (a ``torch.save`` pickle, which loading could
    run code from) is there: it is not loaded; the notebook that writes the bundle must run again.
    A ``FileNotFoundError``: notebook 08 treats the source as missing and says why."""


def bundle_path(runs_dir: str | os.PathLike[str], profile: str, dataset: str, protocol: str) -> Path:
    """``<runs_dir>/explorer/<profile>/<dataset>/<protocol>.npz``."""
    from reidlab.paths import resolve

    return resolve(runs_dir, name="runs_dir") / "explorer" / profile / dataset / f"{protocol}{BUNDLE_SUFFIX}"


@dataclass(frozen=True)
class TrialRanking:
    """One trial as the explorer ranks it (see the module docstring)."""

    trial: int
    unit: int
    base: torch.Tensor          # D(0): B-F alone, lower = better
    delta: torch.Tensor         # D(1) - D(0): Eq. 8's lambda term
    query: tuple[ImageRecord, ...]
    gallery: tuple[ImageRecord, ...]
    q_pids: np.ndarray
    g_pids: np.ndarray
    q_cams: np.ndarray
    g_cams: np.ndarray

    def distances(self, lam: float) -> torch.Tensor:
        """Eq. 8 of RFD at ``lam`` (:func:`reidlab.metrics.fused_distance`, linear in lambda)."""
        return self.base + float(lam) * self.delta


#: the arrays stored per trial (``t<trial>_<name>``)
_ARRAYS = ("base", "delta", "q_pids", "g_pids", "q_cams", "g_cams")


def _writer(protocol: str) -> str:
    return BUNDLE_WRITERS.get(protocol, "notebooks 03 and 05")


def save_bundle(runs_dir: str | os.PathLike[str], profile: str, dataset: str, protocol: str, per_trial_features,
                units: Sequence[int], *, reading: str, lam: float) -> Path:
    """Write the explorer's file for ``protocol``: per trial (``per_trial_features``,
    :class:`~reidlab.study.compute.scoring.SplitFeatures` with "bf" and "br"), ``D(0)``, ``D(1) - D(0)``,
    records, identities and cameras as scored, and its unit; plus the Eq. 8 ``reading`` and the
    study's ``lam``. The file (``.npz``, :data:`BUNDLE_SUFFIX`) holds only numeric arrays and one
    JSON text (records as plain dicts), so reading it runs no code; an old-format file of the same
    bundle (``.pt``) is removed."""
    import json

    from reidlab.metrics import fused_distance
    from reidlab.paths import atomic_write

    arrays: dict[str, np.ndarray] = {}
    trials = []
    for trial, (feats, unit) in enumerate(zip(per_trial_features, units)):
        args = (feats.query["bf"], feats.gallery["bf"], feats.query["br"], feats.gallery["br"])
        base = fused_distance(*args, lam=0.0, reading=reading).cpu()
        delta = fused_distance(*args, lam=1.0, reading=reading).cpu() - base
        for key, value in zip(_ARRAYS, (base, delta, *feats.ids())):
            value = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            arrays[f"t{trial}_{key}"] = np.ascontiguousarray(value)
        trials.append({"trial": trial, "unit": int(unit),
                       "query": [dataclasses.asdict(r) for r in feats.split.query],
                       "gallery": [dataclasses.asdict(r) for r in feats.split.gallery]})
    meta = {"format": BUNDLE_FORMAT, "profile": profile, "dataset": dataset, "protocol": protocol,
            "reading": reading, "lam": float(lam), "trials": trials}
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    path = atomic_write(bundle_path(runs_dir, profile, dataset, protocol), lambda handle: np.savez(handle, **arrays))
    path.with_suffix(OLD_BUNDLE_SUFFIX).unlink(missing_ok=True)   # an old-format file is never read again
    return path


def _read_bundle(path: Path) -> dict[str, Any]:
    """The bundle at ``path`` as plain data (no object is unpickled: ``allow_pickle=False``)."""
    import json

    with np.load(path, allow_pickle=False) as stored:
        if stored["meta"].dtype != np.uint8 or stored["meta"].ndim != 1:
            raise ValueError("its metadata is not a JSON text (uint8 bytes)")
        meta = json.loads(stored["meta"].tobytes().decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
            raise ValueError(f"its metadata does not say format {BUNDLE_FORMAT!r}")
        trials = []
        for t in meta["trials"]:
            base, delta, *ids = (stored[f"t{t['trial']}_{key}"] for key in _ARRAYS)
            trials.append(TrialRanking(int(t["trial"]), int(t["unit"]), torch.from_numpy(base),
                                       torch.from_numpy(delta), tuple(ImageRecord(**r) for r in t["query"]),
                                       tuple(ImageRecord(**r) for r in t["gallery"]), *ids))
    return {**{k: v for k, v in meta.items() if k not in ("format", "trials")}, "lam": float(meta["lam"]),
            "trials": trials}


def load_bundle(runs_dir: str | os.PathLike[str], profile: str, dataset: str, protocol: str) -> dict[str, Any]:
    """The explorer file :func:`save_bundle` wrote: ``{"trials": [TrialRanking, ...], "lam",
    "reading", "profile", "dataset", "protocol"}``. A missing file is a ``FileNotFoundError``
    saying what writes it; a file of the old format only (``.pt``, a pickle) is never loaded
    (:class:`OldBundleError`, saying to run that notebook again); a damaged file is a
    ``ValueError`` naming it."""
    path = bundle_path(runs_dir, profile, dataset, protocol)
    old = path.with_suffix(OLD_BUNDLE_SUFFIX)
    if not path.is_file() and old.is_file():
        raise OldBundleError(
            f"the ranking explorer data for {dataset} / {protocol} ({profile} profile) at {old} is in the old format "
            f"(a torch pickle, which loading could run code from) and is not loaded: run {_writer(protocol)} again "
            f"with the same profile, dataset and runs_dir to write {path.name} (`make reproduce` runs it); the old "
            "file can be deleted")
    if not path.is_file():
        raise FileNotFoundError(
            f"no ranking explorer data for {dataset} / {protocol} ({profile} profile) at {path}: run "
            f"{_writer(protocol)} with the same profile, dataset and runs_dir "
            "first (`make reproduce` runs it); the explorer trains and extracts nothing itself")
    try:
        return _read_bundle(path)
    except Exception as exc:  # noqa: BLE001 - any damaged or foreign file, named
        raise ValueError(
            f"the ranking explorer data {path} is damaged or was not written by reidlab ({type(exc).__name__}: "
            f"{exc}); it is not used: run {_writer(protocol)} again with the same profile, dataset and runs_dir "
            "to write it anew") from exc


@dataclass(frozen=True)
class QueryRanking:
    """One query's ranking at one lambda: the top-``k`` gallery indices (as the protocol ranks,
    same-identity same-camera images left out), whether each is a true match, and the rank
    (1-based) of the first true match (``None`` when the gallery holds none)."""

    top: tuple[int, ...]
    matches: tuple[bool, ...]
    first_match: int | None


def query_ranking(trial: TrialRanking, query: int, lam: float, topk: int = 10) -> QueryRanking:
    """Rank ``trial``'s gallery for query ``query`` by Eq. 8 at ``lam``
    (:func:`reidlab.study.show.plots.displayed_ranking`'s rule)."""
    from reidlab.study.show.plots import displayed_ranking

    if not 0 <= query < len(trial.query):
        raise IndexError(f"query {query} is not in trial {trial.trial} (0-{len(trial.query) - 1})")
    dist = trial.distances(lam)[query].numpy()
    order = displayed_ranking(dist, trial.q_pids[query], trial.q_cams[query], trial.g_pids, trial.g_cams,
                              len(trial.gallery))
    true = [bool(trial.g_pids[j] == trial.q_pids[query]) for j in order]
    first = next((i + 1 for i, t in enumerate(true) if t), None)
    return QueryRanking(tuple(order[:topk]), tuple(true[:topk]), first)


def _check_topk(topk: int) -> int:
    """``topk`` as a positive integer, else a ``ValueError`` naming it."""
    if isinstance(topk, bool) or not isinstance(topk, (int, np.integer)) or topk < 1:
        raise ValueError(f"topk={topk!r} is not valid: a positive integer (how many gallery images a ranking shows)")
    return int(topk)


def check_query(trial: TrialRanking, query: int) -> int:
    """``query`` as an index of ``trial``'s queries, else an error naming the parameter and the
    valid range (``TypeError`` for a non-integer, ``ValueError`` out of range)."""
    if isinstance(query, bool) or not isinstance(query, (int, np.integer)):
        raise TypeError(f"query={query!r} is not valid: an integer query index, or None for the first query whose "
                        "top-k changes with lambda")
    if not 0 <= query < len(trial.query):
        raise ValueError(f"query={query!r} is out of range: trial {trial.trial} has queries 0-{len(trial.query) - 1} "
                         "(or query=None: the first whose top-k changes with lambda)")
    return int(query)


def trial_of(bundle: dict[str, Any], trial: int, *, source: str) -> TrialRanking:
    """The stored trial numbered ``trial`` in ``bundle`` (:func:`load_bundle`, named ``source``),
    else an error naming the parameter and the stored trials."""
    stored = [t.trial for t in bundle["trials"]]
    if isinstance(trial, bool) or not isinstance(trial, (int, np.integer)):
        raise TypeError(f"trial={trial!r} is not valid: an integer, one of the stored trials {stored} of {source}")
    for t in bundle["trials"]:
        if t.trial == trial:
            return t
    raise ValueError(f"trial={trial!r} is out of range: {source} holds trials {stored}")


def top_identities(trial: TrialRanking, query: int, lam: float, topk: int = 10) -> tuple[int, ...]:
    """The identities (as scored) of ``query``'s top-``topk`` gallery images at ``lam``, best first."""
    return tuple(int(trial.g_pids[j]) for j in query_ranking(trial, query, lam, _check_topk(topk)).top)


def query_with_changed_ranking(trial: TrialRanking, lams: Sequence[float] = CHANGE_LAMS, topk: int = 10) -> int | None:
    """The first query of ``trial`` that has a true match in the gallery (notebook 08 reports its
    rank) and whose top-``topk`` gallery identities, in rank order (:func:`top_identities`), are
    not the same at every lambda of ``lams``; ``None`` when there is none (lambda changes no such
    top-``topk``: Eq. 8's lambda term is zero or too small)."""
    lams = tuple(float(lam) for lam in lams)
    if len(lams) < 2:
        raise ValueError(f"lams={lams!r} is not valid: at least two lambdas to compare rankings between")
    topk = _check_topk(topk)
    for query in range(len(trial.query)):
        if query_ranking(trial, query, lams[0], topk).first_match is None:
            continue                                     # no true match to follow, at any lambda
        if len({top_identities(trial, query, lam, topk) for lam in lams}) > 1:
            return query
    return None


class QueryChoice(NamedTuple):
    """The query notebook 08 shows and why, in one sentence (the notebook prints it)."""

    query: int
    reason: str


def choose_query(trial: TrialRanking, query: int | None, *, lams: Sequence[float] = CHANGE_LAMS,
                 topk: int = 10) -> QueryChoice:
    """Notebook 08's ``query`` parameter resolved in ``trial``: an integer is checked
    (:func:`check_query`) and kept; ``None`` is the first query whose top-``topk`` changes between
    ``lams`` (:func:`query_with_changed_ranking`), or query 0, saying so, when none does."""
    topk = _check_topk(topk)
    between = " and ".join(f"{float(lam):g}" for lam in lams)
    if query is not None:
        return QueryChoice(check_query(trial, query), f"query {int(query)}: as given (parameter query={int(query)})")
    found = query_with_changed_ranking(trial, lams, topk)
    if found is None:
        return QueryChoice(0, f"query 0: no query of trial {trial.trial} with a true match in the gallery changes its "
                              f"top-{topk} gallery identities between lambda {between} (Eq. 8's lambda term, "
                              "D(1) - D(0), changes no such ranking)")
    return QueryChoice(found, f"query {found}: the first query of trial {trial.trial} whose top-{topk} gallery "
                              f"identities change between lambda {between}")


@dataclass(frozen=True)
class ShownRanking:
    """What one :func:`ranking_line` says: the lambda (as printed, 2 decimals), the trial, the
    query and its top-k gallery identities in rank order."""

    lam: float
    trial: int
    query: int
    identities: tuple[int, ...]


def ranking_line(trial: TrialRanking, query: int, lam: float, topk: int = 10) -> str:
    """One line of text with ``query``'s top-``topk`` gallery identities at ``lam``, best first,
    e.g. ``"lambda 0.50, trial 0, query 1 (identity 7): gallery identities in rank order: 7, 3, 7"``
    (the widget prints it above the figure; :func:`read_ranking_line` reads it back)."""
    ids = top_identities(trial, query, lam, topk)
    return (f"lambda {float(lam):.2f}, trial {trial.trial}, query {query} (identity {int(trial.q_pids[query])}): "
            f"{IDENTITIES_LABEL}: {', '.join(str(i) for i in ids)}")


_RANKING_LINE = re.compile(r"lambda (?P<lam>-?\d+(?:\.\d+)?), trial (?P<trial>\d+), query (?P<query>\d+) "
                           r"\(identity -?\d+\): " + re.escape(IDENTITIES_LABEL) + r": (?P<ids>-?\d+(?:, -?\d+)*)?[ \t\r]*$",
                           re.MULTILINE)


def read_ranking_line(text: str) -> ShownRanking | None:
    """The first :func:`ranking_line` in ``text`` (e.g. a page's text), or ``None`` when it holds none."""
    match = _RANKING_LINE.search(text)
    if match is None:
        return None
    ids = tuple(int(i) for i in match["ids"].split(", ")) if match["ids"] else ()
    return ShownRanking(float(match["lam"]), int(match["trial"]), int(match["query"]), ids)


def trial_rank1(trial: TrialRanking, lam: float) -> float:
    """Rank-1 (%) of every query of the trial that has a true match, at ``lam``
    (:func:`reidlab.metrics.evaluate_rank`, as the study scores)."""
    from reidlab.metrics import evaluate_rank

    cmc, _ = evaluate_rank(trial.distances(lam), trial.q_pids, trial.g_pids, trial.q_cams, trial.g_cams,
                           max_rank=1)
    return float(100 * np.asarray(cmc)[0])


def rank_table(trial: TrialRanking, query: int, lam: float):
    """The rank of the query's first true match for B-F alone and for B-F + RFD at ``lam``."""
    import pandas as pd

    from reidlab.study import methods

    rows = [{"method": methods.BF, "lambda": 0.0, "rank of the true match": query_ranking(trial, query, 0.0).first_match},
            {"method": methods.BF_RFD, "lambda": float(lam),
             "rank of the true match": query_ranking(trial, query, lam).first_match}]
    return pd.DataFrame(rows)


def ranking_row(trial: TrialRanking, query: int, lam: float, *, topk: int = 10, interpolation: str = "bicubic",
                title: str | None = None):
    """RFD's Fig. 4 row for one query at ``lam``: the query (blue) and its top-``topk`` gallery
    images at their own pixel size, true matches green, others red
    (:func:`reidlab.study.show.plots.ranking_figure`)."""
    from reidlab.study.show import plots

    ranked = query_ranking(trial, query, lam, topk)
    return plots.ranking_figure(trial.query, trial.gallery, trial.distances(lam).numpy(), query_indices=[query],
                                topk=topk, interpolation=interpolation, cameras=(trial.q_cams, trial.g_cams),
                                title=title or (f"trial {trial.trial} (unit {trial.unit}), query {query}, lambda "
                                                f"{lam:g}: true match at rank {ranked.first_match}"))


def save_trial_results(runs_dir: str | os.PathLike[str], profile: str, dataset: str, protocol: str, results, *,
                       reading: str, lam: float) -> Path:
    """:func:`save_bundle` for :func:`reidlab.study.compute.rfd_trials.run_trials`'s ``results`` (its
    features per trial and each trial's unit)."""
    per_trial = results.per_trial.drop_duplicates("trial").sort_values("trial")
    return save_bundle(runs_dir, profile, dataset, protocol, results.features, per_trial["unit"].tolist(),
                       reading=reading, lam=lam)


def explorer_widget(bundles: dict[str, dict[str, Any]], *, lam: float, topk: int = 10, interpolation: str = "bicubic",
                    source: str | None = None, trial: int = 0, query: int = 0):
    """ipywidgets for JupyterLab: pick a bundle (dataset / protocol), unit, trial and query; a
    lambda slider ranks again with Eq. 8 and redraws the ranked identities (:func:`ranking_line`),
    the rank table and the Fig. 4 row. It starts at ``source`` (default: the first bundle),
    ``trial``, ``query`` and ``lam``: notebook 08's headless selection."""
    import io

    import ipywidgets as widgets
    from IPython.display import Image, display

    from reidlab.study.show.figures import render
    from reidlab.study.show.plots import RENDERERS

    names = list(bundles)
    source = names[0] if source is None else source
    if source not in bundles:
        raise ValueError(f"source={source!r} is not an explorer source; choose one of: {', '.join(names)}")
    first = trial_of(bundles[source], trial, source=source)
    first_query = check_query(first, query)
    topk = _check_topk(topk)
    pick = widgets.Dropdown(options=names, value=source, description="data")
    unit = widgets.Dropdown(description="unit")
    trial_pick = widgets.Dropdown(description="trial")
    query_pick = widgets.IntSlider(min=0, description="query", continuous_update=False)
    lam_slider = widgets.FloatSlider(value=lam, min=0.0, max=1.0, step=0.05, description="lambda",
                                     continuous_update=False, readout_format=".2f")
    out = widgets.Output()

    def trials_of() -> list[TrialRanking]:
        return bundles[pick.value]["trials"]

    def current() -> TrialRanking:
        return next(t for t in trials_of() if t.trial == trial_pick.value)

    # the starting selection, set before any observer runs
    unit.options = sorted({t.unit for t in trials_of()})
    unit.value = first.unit
    trial_pick.options = [t.trial for t in trials_of() if t.unit == unit.value]
    trial_pick.value = first.trial
    query_pick.max, query_pick.value = len(first.query) - 1, first_query

    def on_pick(*_):
        units = sorted({t.unit for t in trials_of()})
        unit.options, unit.value = units, units[0]
        on_unit()

    def on_unit(*_):
        options = [t.trial for t in trials_of() if t.unit == unit.value]
        trial_pick.options, trial_pick.value = options, options[0]
        on_trial()

    def on_trial(*_):
        shown = current()
        query_pick.max, query_pick.value = len(shown.query) - 1, min(query_pick.value, len(shown.query) - 1)
        redraw()

    def redraw(*_):
        import matplotlib.pyplot as plt

        shown = current()
        with out:
            out.clear_output(wait=True)
            print(ranking_line(shown, query_pick.value, lam_slider.value, topk))
            display(rank_table(shown, query_pick.value, lam_slider.value))
            fig = render(ranking_row(shown, query_pick.value, lam_slider.value, topk=topk, interpolation=interpolation),
                         RENDERERS)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
            plt.close(fig)
            display(Image(data=buf.getvalue(), format="png"))

    pick.observe(on_pick, names="value")
    unit.observe(on_unit, names="value")
    trial_pick.observe(on_trial, names="value")
    query_pick.observe(redraw, names="value")
    lam_slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([pick, unit, trial_pick]), widgets.HBox([query_pick, lam_slider]), out])


def rank1_table(bundles: dict[str, dict[str, Any]]):
    """Rank-1 of every stored trial at lambda 0 and at the study's lambda, per source: what
    notebooks 03 and 05 scored as B-F and B-F + RFD, recomputed from the stored distances."""
    import pandas as pd

    rows = []
    for name, bundle in bundles.items():
        for t in bundle["trials"]:
            rows.append({"source": name, "protocol": bundle["protocol"], "trial": t.trial, "unit": t.unit,
                         "R1 at lambda 0": trial_rank1(t, 0.0), "lambda": bundle["lam"],
                         "R1 at the study's lambda": trial_rank1(t, bundle["lam"])})
    return pd.DataFrame(rows)


def load_sources(runs_dir: str | os.PathLike[str], profile: str, dataset: str, multires_dataset: str | None = None
                 ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Notebook 08's explorer data: ``dataset``'s LR-query trials (notebook 03) and the natively
    multi-resolution set's (notebook 05: ``multires_dataset``, default synth-caviar for synthetic
    data, else ``dataset`` itself), by "<dataset> / <protocol>"; and, by the same name, why a
    source is missing. Raises ``FileNotFoundError`` when none is there."""
    multires = multires_dataset or ("synth-caviar" if dataset.startswith("synth") else dataset)
    bundles, missing = {}, {}
    for data, protocol in ((dataset, "lr_query"), (multires, "multi_res_gallery")):
        try:
            bundles[f"{data} / {protocol}"] = load_bundle(runs_dir, profile, data, protocol)
        except FileNotFoundError as exc:
            missing[f"{data} / {protocol}"] = str(exc)
    if not bundles:
        raise FileNotFoundError("the ranking explorer has nothing to show: " + "; ".join(missing.values()))
    return bundles, missing


def interactive(widgets: bool | None = None) -> bool:
    """Whether notebook 08 shows its widgets: ``widgets`` when given; else in a Jupyter front end
    but not in headless runs (the pipeline's papermill and nbval runs set plain progress bars)."""
    from reidlab.progress import PLAIN_PROGRESS_ENV

    return bool(widgets) if widgets is not None else not os.environ.get(PLAIN_PROGRESS_ENV)
