"""The whole study from one command, and the notebooks as tests.

``python -m reidlab.study.drive.pipeline reproduce --profile quick``
    runs notebooks 00 -> 07 with papermill, keeps executed copies in
    ``results/notebooks/``, then regenerates ``results/README.md``.
``python -m reidlab.study.drive.pipeline prepare-nbval --out build/nbval``
    writes each notebook with ``smoke`` parameters injected (papermill
    ``--prepare-only``) and the recorded reference outputs of its
    ``# NBVAL_CHECK_OUTPUT`` cells, ready for ``pytest --nbval-lax``.
``python -m reidlab.study.drive.pipeline record-nbval``
    executes the prepared notebooks and records those reference outputs in
    ``tests/nbval_expected/`` (run after changing what such a cell prints).

A mistake on the command line (an argument, a file, a value; a read-only folder, a full disk)
is one line on stderr naming it, and exit status 2; ``--debug`` (before the command) adds the
traceback.
"""
from __future__ import annotations

import argparse
import errno
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from reidlab.engine.train_or_load import TRAINED_LOG_ENV, read_trained_log
from reidlab.paths import remove_stale_temporaries, repo_root, resolve, temporary_name
from reidlab.progress import PLAIN_PROGRESS_ENV
from reidlab.stages import STAGE_LOG_ENV, read_stage_log
from reidlab.study.show.contract import (
    COMMITTED_RESULTS, REPRODUCE_ENV, SMOKE_PARAMETERS, SWEEP_RESULTS, check_results_folder, checkout_part,
    is_committed_results,
)
from reidlab.study.show import registry
from reidlab.choices import MLR_CONSTRUCTIONS
from reidlab.config import DATASETS
from reidlab.paths import read_json, write_json
from reidlab.study import provenance
from reidlab.study.params import declared_parameters, pretrained_setting
from reidlab.study.show import readme_numbers
from reidlab.study.show.report import write_report
from reidlab.study.drive.units import EXECUTORS, UNIT_KINDS

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def _params_for(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` restricted to those the notebook at ``path`` declares."""
    declared = set(declared_parameters(path.stem))
    return {k: v for k, v in params.items() if k in declared}


#: Where a failed run's partly executed notebooks go, under the runs folder (:func:`failed_notebook_path`).
FAILED_NOTEBOOKS = "failed-notebooks"


def _folder_label(folder: Path) -> str:
    """``folder`` as one name: its path below the repository root joined with ``-``
    (``results/viper`` -> ``results-viper``), else its own name."""
    real, root = folder.resolve(), repo_root().resolve()
    parts = real.relative_to(root).parts if root in real.parents else (real.name,)
    return "-".join(parts) or "root"


def failed_notebook_path(name: str, params: dict[str, Any], out_dir: Path) -> Path:
    """Where the partly executed notebook of a failed run of ``name`` goes:
    ``<runs>/failed-notebooks/<results folder>/<name>.failed.ipynb``, with ``<runs>`` the run's
    ``runs_dir`` (default ``runs/``) and ``<results folder>`` its ``results_dir`` (else ``out_dir``)
    as one name (:func:`_folder_label`). Never beside the executed notebooks: a results folder
    holds only what finished runs wrote."""
    runs = resolve(params.get("runs_dir") or "runs", name="runs_dir")
    results = resolve(params["results_dir"], name="results_dir") if params.get("results_dir") else out_dir
    return runs / FAILED_NOTEBOOKS / _folder_label(results) / f"{name}.failed.ipynb"


def _keep_failed_notebook(name: str, tmp: Path, failed: Path) -> None:
    """Move a failed run's partial notebook ``tmp`` to ``failed`` and say where it is (if that
    cannot be done, say so: the error that stopped the run is the one raised)."""
    try:
        failed.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(tmp), failed)
    except OSError as exc:
        print(f"[reidlab] {name} failed; its partly executed notebook could not be kept at {failed} ({exc})",
              file=sys.stderr)
        tmp.unlink(missing_ok=True)
        return
    print(f"[reidlab] {name} failed; the partly executed notebook is {failed}", file=sys.stderr)


def run_notebook(name: str, params: dict[str, Any], out_dir: Path, *, cell_timeout: int = 3600,
                 log_output: bool = True, stage_log: Path | None = None, trained_log: Path | None = None) -> float:
    """Execute one notebook with papermill; the executed copy replaces ``out_dir/name.ipynb`` only on success.
    A failed run's partly executed notebook goes under the runs folder (:func:`failed_notebook_path`).
    With ``stage_log``, the kernel appends its stage timings there (:mod:`reidlab.stages`); with
    ``trained_log``, every run it trains (:func:`reidlab.engine.train_or_load.log_trained_run`)."""
    import papermill as pm

    src = repo_root() / "notebooks" / f"{name}.ipynb"
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{name}.ipynb"
    remove_stale_temporaries(out_dir)   # partial notebooks of killed runs
    tmp = str(temporary_name(final, suffix=".tmp.ipynb"))
    start = time.perf_counter()
    os.environ[PLAIN_PROGRESS_ENV] = "1"   # the kernel inherits it: text bars, no widget state
    if stage_log is not None:
        stage_log.unlink(missing_ok=True)
        os.environ[STAGE_LOG_ENV] = str(stage_log)
    else:
        os.environ.pop(STAGE_LOG_ENV, None)
    if trained_log is not None:
        trained_log.unlink(missing_ok=True)
        os.environ[TRAINED_LOG_ENV] = str(trained_log)
    else:
        os.environ.pop(TRAINED_LOG_ENV, None)
    try:
        pm.execute_notebook(str(src), tmp, parameters=_params_for(src, params), kernel_name="python3",
                            progress_bar=False, log_output=log_output, execution_timeout=cell_timeout,
                            cwd=str(repo_root() / "notebooks"))
        coalesce_streams(tmp)
        os.replace(tmp, final)
    except BaseException:
        if Path(tmp).exists():
            _keep_failed_notebook(name, Path(tmp), failed_notebook_path(name, params, out_dir))
        raise
    return time.perf_counter() - start


def coalesce_streams(path: str | Path) -> None:
    """Rewrite the executed notebook at ``path`` with each cell's consecutive stream outputs merged and only
    what a terminal would show of its progress bars (the text after a line's last carriage return), by
    nbconvert's ``CoalesceStreamsPreprocessor``: a headless run's bars otherwise leave one output per
    refresh (45,000 in the training-length sweep's executed copy, 6 MB). Other outputs are untouched."""
    import nbformat
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    nb = nbformat.read(str(path), as_version=nbformat.NO_CONVERT)
    CoalesceStreamsPreprocessor().preprocess(nb, {})
    nbformat.write(nb, str(path))


def results_dir_for(dataset: str | None) -> str:
    """Where ``reproduce`` writes by default: ``results/`` for the embedded study (each notebook's
    default dataset), ``results/<dataset>/`` for a dataset arm (``--dataset``), so an arm's
    results and ``run_info.json`` never mix with the embedded default's."""
    return COMMITTED_RESULTS if dataset is None else f"{COMMITTED_RESULTS}/{dataset}"


def study_skips(dataset: str | None, sweep: bool) -> dict[str, str]:
    """The notebooks one ``reproduce`` run does not run, with the reason: the sweep notebook in a study
    (``make sweep`` runs it alone, into its own folder), every other notebook in the sweep, and what a
    dataset arm skips (:func:`arm_skips`)."""
    if sweep:
        return {name: f"the training-length sweep ({SWEEP_RESULTS}/) runs {registry.sweep_notebook()} alone"
                for name in registry.notebooks() if name != registry.sweep_notebook()}
    return {**arm_skips(dataset), registry.sweep_notebook(): f"the training-length sweep runs apart: make sweep "
                                                  f"(into {COMMITTED_RESULTS}/{SWEEP_RESULTS}/)"}


def arm_skips(dataset: str | None) -> dict[str, str]:
    """The notebooks a dataset arm (``--dataset``) does not run, with the reason: 04's Tables 4 and 5
    are defined on their own datasets (MLR-Market/Duke, CAVIAR; its own parameters), and 05's
    multi-resolution protocol needs natively multi-resolution images."""
    from reidlab.choices import NATIVELY_MULTI_RESOLUTION

    if dataset is None:
        return {}
    skips = {"04_ablations": "RFD Tables 4 and 5 are defined on MLR-Market/Duke and CAVIAR (notebook 04's own "
                             "market_dataset / duke_dataset / caviar_dataset parameters), not on the arm's dataset"}
    if dataset not in NATIVELY_MULTI_RESOLUTION:
        skips["05_per_split_plot"] = (f"the multi-resolution protocol of Fig. 5 needs natively multi-resolution "
                                      f"images ({', '.join(sorted(NATIVELY_MULTI_RESOLUTION))}); {dataset} is not")
    return skips


def reproduce(profile: str, seed: int, dataset: str | None, data_root: str | None, cell_timeout: int,
              only: list[str] | None = None, results_dir: str | None = None,
              pretrained: str | None = None, allow_dirty: bool = False, mlr: str | None = None,
              runs_dir: str | None = None, notebook_params: dict[str, Any] | None = None,
              sweep: bool = False) -> dict[str, float]:
    """Run the notebooks in order into ``results_dir`` (default: results/, or results/<dataset>/)
    and write ``run_info.json``, ``metrics.json`` and the report. ``notebook_params``: further
    parameters for every notebook that declares them (tests: the smoke run's). ``sweep``: the
    training-length sweep alone (:func:`~reidlab.study.show.registry.sweep_notebook`), default into
    results/sweep/ (results/<dataset>/sweep/ for an arm)."""
    results_dir = results_dir or (f"{results_dir_for(dataset)}/{SWEEP_RESULTS}" if sweep else results_dir_for(dataset))
    skips = study_skips(dataset, sweep)
    params: dict[str, Any] = {**(notebook_params or {}), "results_dir": results_dir,
                              **study_parameters(profile, seed, dataset, data_root, mlr, pretrained, runs_dir)}
    try:
        results = check_results_folder(resolve(results_dir, name="results_dir"), results_dir, name="--results-dir")
    except ValueError as exc:
        raise SystemExit(f"[reidlab] {exc}") from None
    check_foreign_files(results)
    version = provenance.code_version()
    if is_committed_results(results) and version["tree"] == "dirty" and not allow_dirty:
        raise SystemExit(
            f"[reidlab] refusing to regenerate the committed {COMMITTED_RESULTS}/ from a working tree with "
            f"uncommitted changes ({', '.join(version['changed'][:5])}{' ...' if len(version['changed']) > 5 else ''}): "
            "commit them first so the results name the code that produced them, or pass --allow-dirty "
            "(make reproduce ALLOW_DIRTY=1); run_info.json then says the tree was dirty")
    if dataset is not None:
        check_arm_data(params, dataset, data_root, mlr)
    previous = read_json(results / "run_info.json") if (results / "run_info.json").is_file() else None
    if only and previous is not None:
        check_same_study(previous, profile, seed, dataset, mlr, results_dir)
    precision = _precision(profile)
    from reidlab.engine.precision import bf16_words

    print(f"[reidlab] {precision['cpu_model']} ({', '.join(precision['cpu_flags']) or 'no flags read'}; "
          f"{bf16_words(precision)}) on {precision['device']}: training in "
          f"{precision['precision']}, channels-last {'on' if precision['channels_last'] else 'off'}, extraction in "
          f"{precision['extraction_precision']}, {precision['torch_threads']} threads", flush=True)
    started_at = time.time()
    os.environ[REPRODUCE_ENV] = "1"   # the pipeline is the one writer of the committed results/
    for folder in (results, results / "tables", results / "figures"):
        remove_stale_temporaries(folder)
    timings: dict[str, float] = {}
    stages: dict[str, dict[str, float]] = {}
    records: dict[str, dict[str, Any]] = {}
    trained_here: set[str] = set()           # run folders this reproduce run trained (or resumed)
    digest = provenance.code_digest()
    machine = _machine()
    total_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reidlab-stages-") as stage_dir:
        for name in registry.notebooks():
            if only and name not in only:
                continue
            if name in skips:
                print(f"[reidlab] skipping notebooks/{name}.ipynb on {dataset}: {skips[name]}", flush=True)
                continue
            print(f"[reidlab] running notebooks/{name}.ipynb ({profile})", flush=True)
            log = Path(stage_dir) / f"{name}.jsonl"
            trained_log = Path(stage_dir) / f"{name}.trained.jsonl"
            timings[name] = run_notebook(name, {**params, **chosen_settings(name, results)}, results / "notebooks",
                                         cell_timeout=cell_timeout, stage_log=log, trained_log=trained_log)
            stages[name] = stage_seconds(read_stage_log(log), timings[name])
            trained = {entry["run"] for entry in read_trained_log(trained_log)}
            reused = {entry["run"] for entry in read_trained_log(trained_log, reused=True)} - trained
            records[name] = provenance.notebook_record(
                version=version, digest=digest, machine=machine, precision=precision, seconds=timings[name],
                trained=trained, reused=reused, reused_from_outside=reused - trained_here,
                finished=time.strftime("%Y-%m-%d %H:%M:%S"))
            trained_here |= trained
            print(f"[reidlab] {name} done in {timings[name]:.0f} s "
                  f"({', '.join(f'{k} {v:.0f} s' for k, v in stages[name].items() if v >= 0.5)})", flush=True)
        os.environ.pop(STAGE_LOG_ENV, None)
        os.environ.pop(TRAINED_LOG_ENV, None)
    info = run_info(profile, seed, dataset, data_root, timings, time.perf_counter() - total_start)
    info["mlr"] = mlr or "profile default"
    info["stage_seconds"] = stages
    if skips:
        info["skipped_notebooks"] = skips
    if only and previous is not None:
        # --only replaces the records of the notebooks it ran; every other notebook keeps its own
        kept = {k: v for k, v in (previous.get("notebooks") or {}).items() if k not in records}
        records = provenance.merge_records(kept, records, registry.notebooks())
        info["stage_seconds"] = {**{k: v for k, v in (previous.get("stage_seconds") or {}).items()
                                    if k in kept}, **stages}
        info["notebook_seconds"] = {name: rec["seconds"] for name, rec in records.items()}
    info["notebooks"] = records
    # runs each notebook trained (or resumed) itself: 0 everywhere after `train-units`
    info["trained_units"] = {name: rec["trained_units"] for name, rec in records.items()}
    info["code"] = provenance.folder_code(records)
    expected = [name for name in registry.notebooks() if name not in skips]
    minutes, why = provenance.reproduce_minutes(records, ran=timings, expected=expected)
    info["wall_seconds"] = None if minutes is None else round(sum(timings.values()), 1)
    info["reproduce_minutes"] = minutes
    info["reproduce_minutes_note"] = why
    write_json(results / "run_info.json", info)
    write_json(results / "metrics.json", registry.headline_metrics(results, None if minutes is None else minutes * 60))
    write_report(results)
    readme_numbers.refresh(results)   # README.md's generated headline block (committed results only)
    if not only:
        for path in remove_unwritten(results, started_at):
            print(f"[reidlab] removed {path}: no notebook writes it any more", flush=True)
    print(f"[reidlab] results/README.md regenerated; this run {sum(timings.values()) / 60:.1f} min; "
          f"reproduce_minutes: {minutes} ({why})", flush=True)
    return timings


def check_arm_data(params: dict[str, Any], dataset: str, data_root: str | None, mlr: str | None) -> None:
    """Before any notebook runs: the arm's data can be read and split as the study splits it (the
    identity split, and with ``mlr="camera"`` identities seen by two cameras). A dataset that
    cannot is refused naming the dataset, its folder and what it lacks, instead of failing in a
    notebook later (issue 35: a one-camera VIPeR copy passed, then failed in notebook 00)."""
    from reidlab.study.drive import units

    try:
        units.study_units(params, notebooks=["01_train_bf"])
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"[reidlab] --dataset {dataset} --data-root {data_root or '(the profile default)'}"
                         f"{f' --mlr {mlr}' if mlr else ''}: the data cannot be split as the study needs: "
                         f"{' '.join(str(exc).split())}") from None


def check_same_study(previous: dict[str, Any], profile: str, seed: int, dataset: str | None, mlr: str | None,
                     given: str) -> None:
    """Refuse ``reproduce --only`` into a folder of another study: its notebooks would sit beside
    ones of another profile, seed, dataset or MLR construction under one ``run_info.json``."""
    wanted = {"profile": profile, "seed": seed, "dataset": dataset or "profile default",
              "mlr": mlr or "profile default"}
    differ = [f"{key} {previous.get(key)!r} there, {value!r} asked" for key, value in wanted.items()
              if key in previous and previous.get(key) != value]
    if differ:
        raise SystemExit(f"[reidlab] --only into --results-dir {given}: that folder holds another study "
                         f"({'; '.join(differ)}); one folder holds one study: run every notebook into a folder of "
                         "its own, or match its settings")


def _machine() -> str:
    import torch

    return (f"{platform.machine()}, {os.cpu_count()} CPU cores, "
            f"{'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}")


def result_files() -> frozenset[str]:
    """What a results folder written by the pipeline holds (besides hidden temporaries); in the
    committed one also the dataset arms' folders (:func:`results_dir_for`)."""
    return frozenset({*(f"{n}.json" for n in registry.notebooks()), "metrics.json", "run_info.json", SWEEP_RESULTS,
                      "README.md", "check.md", "tables", "figures", "notebooks", *DATASETS})


def check_foreign_files(results: Path) -> None:
    """Refuse a results folder holding anything the pipeline does not write there: it would
    be mixed with (or, for names it writes, replaced by) the study's results."""
    if not results.is_dir():
        if results.exists():
            raise SystemExit(f"[reidlab] --results-dir {results} is a file, not a folder")
        return
    foreign = sorted(p.name for p in results.iterdir() if p.name not in result_files() and not p.name.startswith("."))
    if foreign:
        raise SystemExit(
            f"[reidlab] --results-dir {results} holds files the study does not write ({', '.join(foreign[:5])}"
            f"{' ...' if len(foreign) > 5 else ''}): results go to a folder of their own (new, or written by an "
            f"earlier reproduce: {', '.join(sorted(result_files()))})")


def require_results(results: Path, given: str) -> Path:
    """``results`` if it holds notebook results; else exit naming what is missing (``report``)."""
    if results.exists() and not results.is_dir():
        raise SystemExit(f"[reidlab] --results-dir {given}: {results} is a file, not a folder (name the results "
                         "folder, e.g. results)")
    if not results.is_dir():
        raise SystemExit(f"[reidlab] --results-dir {given}: {results} does not exist (make reproduce writes results/)")
    if not any((results / f"{n}.json").is_file() for n in registry.notebooks()):
        raise SystemExit(f"[reidlab] --results-dir {given}: {results} holds no notebook results (none of "
                         f"{registry.notebooks()[0]}.json ... {registry.notebooks()[-1]}.json); nothing to report")
    return results


def stage_seconds(measured: dict[str, float], wall: float) -> dict[str, float]:
    """A notebook's seconds per stage (:data:`reidlab.stages.STAGES`) and ``"other"``: the rest of
    its wall time (kernel start, imports, data preparation, tables, plots)."""
    return {**{k: round(v, 1) for k, v in measured.items()}, "other": round(max(wall - sum(measured.values()), 0.0), 1)}


def chosen_settings(notebook: str, results: Path) -> dict[str, Any]:
    """Settings an earlier notebook chose on validation identities that ``notebook`` must use:
    05 (Fig. 5 on the CAVIAR-like set) takes the pseudo-label bins 04 chose for Table 5."""
    from reidlab.study.show.contract import read_result

    source = results / "04_ablations.json"
    if notebook != "05_per_split_plot" or not source.is_file():
        return {}
    chosen = read_result(source).parameters.get("pseudo_bins (chosen)")
    return {} if chosen is None else {"pseudo_bins": int(chosen)}


def remove_unwritten(results: Path, since: float) -> list[Path]:
    """After a full run, delete the result files it did not write (older than ``since``): a
    table or figure no notebook produces any more must not stay behind as if it were current.
    Only inside the committed results folder layout: its top-level JSON, ``tables/``,
    ``figures/`` and ``notebooks/``."""
    stale = []
    candidates = [*results.glob("*.json"), *(p for sub in ("tables", "figures", "notebooks")
                                              for p in (results / sub).rglob("*"))]
    for path in candidates:
        if path.is_file() and path.stat().st_mtime < since:
            path.unlink()
            stale.append(path)
    return stale


def run_info(profile: str, seed: int, dataset: str | None, data_root: str | None,
             timings: dict[str, float], wall: float) -> dict[str, Any]:
    import numpy
    import torch
    import torchvision

    return {
        "profile": profile, "seed": seed, "dataset": dataset or "profile default",
        "data_root": data_root or "profile default",
        "notebook_seconds": {k: round(v, 1) for k, v in timings.items()},
        "wall_seconds": round(wall, 1),
        "python": platform.python_version(), "torch": torch.__version__,
        "torchvision": torchvision.__version__, "numpy": numpy.__version__,
        "machine": _machine(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "torch_threads": torch.get_num_threads(),
        # the processor and what amp="auto" / channels_last="auto" gave on it (engine/precision.py)
        "precision": _precision(profile),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _precision(profile: str) -> dict[str, Any]:
    """The processor, and the precision and layout the profile's training and extraction
    settings give on it (``run_info.json``'s ``precision``)."""
    from reidlab.config import get_profile
    from reidlab.engine.precision import precision_report

    prof = get_profile(profile)
    training = precision_report(amp=prof.bf.amp, channels_last=prof.bf.channels_last)
    extraction = precision_report(amp=prof.eval.amp)
    return {**training, "extraction_precision": extraction["precision"],
            "extraction_channels_last": extraction["channels_last"]}


def check_results_command(profile: str, seed: int, reference: str, results_dir: str | None, *, run: bool = True,
                          cell_timeout: int = 3600) -> int:
    """``check-results``: run the study into ``results_dir`` (unless ``run`` is false), compare it with
    ``reference`` (:func:`reidlab.study.compute.check.check_results`), print the table, keep it as
    ``check.md`` in ``results_dir``; 0 when everything agrees, 1 otherwise."""
    from reidlab.study.compute.check import check_results, format_checks

    ref = resolve(reference, name="reference")
    if not (ref / "metrics.json").is_file():
        raise SystemExit(f"[reidlab] --reference {reference}: {ref / 'metrics.json'} does not exist "
                         "(a results folder written by make reproduce holds it)")
    given = results_dir or f"runs/check-results/{profile}"
    out = resolve(given, name="results_dir")
    if out.resolve() == ref.resolve():
        raise SystemExit(f"[reidlab] --results-dir and --reference are the same folder ({out}): "
                         "this run must not overwrite what it is compared with")
    if ref.resolve() in out.resolve().parents:
        raise SystemExit(f"[reidlab] --results-dir {given}: {out.resolve()} is inside the reference {ref.resolve()}: "
                         "check-results never writes into the folder it compares with; name a folder of its own "
                         "(default: runs/check-results/<profile>)")
    if is_committed_results(out):
        raise SystemExit(f"[reidlab] --results-dir {given}: {out.resolve()} is the committed {COMMITTED_RESULTS}/ "
                         "folder or inside it, which check-results never writes (its check.md, and without --no-run "
                         "a whole study, would replace committed files); name a folder of its own "
                         "(default: runs/check-results/<profile>)")
    if out.exists() and not out.is_dir():
        raise SystemExit(f"[reidlab] --results-dir {given}: {out} is a file, not a folder")
    if not run and not (out / "metrics.json").is_file():
        raise SystemExit(f"[reidlab] --results-dir {given} --no-run: {out / 'metrics.json'} does not exist: --no-run "
                         "compares a results folder an earlier reproduce or check-results wrote")
    if run:
        reproduce(profile, seed, None, None, cell_timeout, results_dir=str(out))
    checks = check_results(ref, out)
    table = format_checks(checks)
    (out / "check.md").write_text(f"# check-results: {out} against {ref}\n\n{table}\n")
    print(table)
    failed = [c.key for c in checks if c.failed]
    if failed:
        print(f"[reidlab] check-results: {len(failed)} disagree with {reference}: {', '.join(failed)}", flush=True)
        return 1
    print(f"[reidlab] check-results: all {len(checks)} agree with {reference}", flush=True)
    return 0


def smoke_parameters(build: Path) -> dict[str, Any]:
    """Parameters of the smoke run with every generated file under ``build``."""
    build = build.resolve()
    return {**SMOKE_PARAMETERS, "data_root": str(build / "data"), "runs_dir": str(build / "runs"),
            "results_dir": str(build / "results")}


def _expected_path(name: str) -> Path:
    return repo_root() / "tests" / "nbval_expected" / f"{name}.json"


#: The file ``prepare-nbval`` and ``record-nbval`` write into the folder they create: they delete
#: and rewrite a folder holding it, and no other non-empty one (:func:`replaceable_folder`).
NBVAL_MARKER = ".reidlab-nbval"
#: What ``prepare-nbval`` and the nbval run of ``make test`` left in their folder before
#: :data:`NBVAL_MARKER` existed (``image_outputs.json``: tests.nbval_outputs)
_UNMARKED_NBVAL_ENTRIES = frozenset({"data", "runs", "results", "image_outputs.json", ".ipynb_checkpoints"})


def _never_replaced(real: Path) -> str | None:
    """Why the folder at ``real`` (links resolved) must never be deleted as a whole, or ``None``."""
    part = checkout_part(real)
    if part is not None:
        return f"{part} or inside it" if part.startswith("the source folder") else \
            f"{part} {repo_root().resolve()}: deleting it deletes the checkout"
    if is_committed_results(real):
        return f"the committed {COMMITTED_RESULTS}/ folder or inside it"
    runs = resolve("runs").resolve()
    if real == runs or real in runs.parents:
        return "the runs folder (runs/), which holds every trained run" if real == runs else \
            f"a folder holding the runs folder {runs}"
    return None


def _unmarked_nbval_folder(real: Path) -> bool:
    """Whether ``real`` holds exactly what ``prepare-nbval`` (and nbval's run of it) wrote before
    :data:`NBVAL_MARKER` existed: every numbered notebook, and only those and their smoke folders."""
    names = {p.name for p in real.iterdir()}
    notebooks = {f"{n}.ipynb" for n in registry.notebooks()}
    return notebooks <= names and names <= notebooks | _UNMARKED_NBVAL_ENTRIES


def replaceable_folder(out: Path, given: str, command: str) -> Path:
    """``out`` with links resolved, if ``command`` (which deletes and rewrites its whole folder) may
    replace it: a new or empty folder, or one it created (:data:`NBVAL_MARKER`). Refused, naming the
    folder and why (``SystemExit``): the repository root or a folder above it, the source folders,
    the committed ``results/`` and the runs folder by any spelling, a file, and any other folder
    holding files."""
    real = out.resolve()
    why = _never_replaced(real)
    if why is not None:
        raise SystemExit(f"[reidlab] {command} --out {given}: {real} is {why}; {command} deletes and rewrites its "
                         "whole folder, so it writes only a folder of its own, e.g. build/nbval")
    if real.exists() and not real.is_dir():
        raise SystemExit(f"[reidlab] {command} --out {given}: {real} is a file, not a folder")
    if real.is_dir() and not (real / NBVAL_MARKER).is_file() and not _unmarked_nbval_folder(real):
        names = {p.name for p in real.iterdir()}
        known = {f"{n}.ipynb" for n in registry.notebooks()} | _UNMARKED_NBVAL_ENTRIES
        entries = sorted(names - known) or sorted(names)      # what is surely not its own first
        if entries:
            raise SystemExit(
                f"[reidlab] {command} --out {given}: {real} holds files {command} did not write "
                f"({', '.join(entries[:5])}{' ...' if len(entries) > 5 else ''}; no {NBVAL_MARKER} marker); it "
                "deletes and rewrites its whole folder, so it reuses only one it created: name a new folder, e.g. "
                "build/nbval, or delete this one yourself")
    return real


def _fresh_folder(out: Path, given: str | None, command: str) -> Path:
    """``out`` emptied (if :func:`replaceable_folder` allows) and marked as ``command``'s."""
    real = replaceable_folder(out, str(out) if given is None else given, command)
    if real.exists():
        shutil.rmtree(real)
    real.mkdir(parents=True)
    (real / NBVAL_MARKER).write_text(f"written by `python -m reidlab.study.drive.pipeline {command}`, which deletes and "
                                     "rewrites this whole folder on its next run\n", encoding="utf-8")
    return real


def prepare_nbval(out: Path, given: str | None = None) -> list[Path]:
    """Notebooks with smoke parameters and recorded reference outputs, for ``pytest --nbval-lax``,
    in ``out`` (replaced as a whole: :func:`replaceable_folder`; ``given``: how the user named it)."""
    import nbformat
    import papermill as pm

    _fresh_folder(out, given, "prepare-nbval")
    params = smoke_parameters(out)
    written = []
    for name in registry.notebooks():
        src = repo_root() / "notebooks" / f"{name}.ipynb"
        dst = out / f"{name}.ipynb"
        pm.execute_notebook(str(src), str(dst), parameters=_params_for(src, params), prepare_only=True,
                            kernel_name="python3", progress_bar=False)
        nb = nbformat.read(dst, as_version=4)
        expected = json.loads(_expected_path(name).read_text()) if _expected_path(name).exists() else {}
        for cell in nb.cells:
            if cell.cell_type == "code" and CHECK_MARK in cell.source:
                if cell.id not in expected:
                    raise SystemExit(
                        f"{src}: cell {cell.id} is marked {CHECK_MARK} but has no recorded output in "
                        f"{_expected_path(name)}; run `python -m reidlab.study.drive.pipeline record-nbval`")
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=expected[cell.id])]
                cell.execution_count = 1  # nbval compares only cells marked as run
        nbformat.write(nb, dst)
        written.append(dst)
    return written


def record_nbval(out: Path, given: str | None = None) -> None:
    """Execute the smoke notebooks in ``out`` (replaced as a whole: :func:`replaceable_folder`) and
    record the stdout of every ``# NBVAL_CHECK_OUTPUT`` cell."""
    import nbformat
    import papermill as pm

    build = _fresh_folder(out, given, "record-nbval")
    params = smoke_parameters(build)
    for name in registry.notebooks():
        src = repo_root() / "notebooks" / f"{name}.ipynb"
        dst = build / f"{name}.ipynb"
        pm.execute_notebook(str(src), str(dst), parameters=_params_for(src, params), kernel_name="python3",
                            progress_bar=False, cwd=str(build))
        nb = nbformat.read(dst, as_version=4)
        expected = {}
        for cell in nb.cells:
            if cell.cell_type == "code" and CHECK_MARK in cell.source:
                text = "".join(o.get("text", "") for o in cell.outputs
                               if o.get("output_type") == "stream" and o.get("name") == "stdout")
                expected[cell.id] = text
        path = _expected_path(name)
        if expected:
            write_json(path, expected)
            print(f"recorded {len(expected)} reference output(s) for {name}")
        elif path.exists():
            path.unlink()


#: OS errors that are the user's to fix (a path that is missing, read-only, full, or of the wrong
#: kind), reported in one line naming the path (:func:`user_error_line`); any other is a bug.
USER_ERRNOS: dict[int, str] = {
    errno.EROFS: "read-only file system: nothing can be written there",
    errno.EACCES: "permission denied (read-only for this user)",
    errno.EPERM: "operation not permitted (read-only for this user)",
    errno.ENOSPC: "no space left on device: free some space and run again",
    errno.EDQUOT: "disk quota exceeded (no space left for this user): free some space and run again",
    errno.ENOENT: "does not exist",
    errno.ENOTDIR: "a file, not a folder, is on that path",
    errno.EISDIR: "is a folder, not a file",
}


def user_error_line(exc: BaseException) -> str | None:
    """The one line (``[reidlab] ...``) that reports ``exc`` as a user's mistake: a refusal
    (``SystemExit`` with a message), a ``ValueError`` (an argument or value), an ``OSError`` of
    :data:`USER_ERRNOS` naming its path, or a ``FileNotFoundError`` / ``PermissionError`` raised with
    a message of its own. ``None`` for anything else (a bug: its traceback is shown)."""
    if isinstance(exc, SystemExit):
        if not isinstance(exc.code, str):
            return None                       # argparse's own errors: already printed, status 2
        text = exc.code
    elif isinstance(exc, OSError) and exc.errno in USER_ERRNOS:
        path = exc.filename2 if exc.filename2 is not None else exc.filename   # a rename's: where it went
        if path is not None:
            text = f"{path}: {USER_ERRNOS[exc.errno]}"
        elif exc.strerror and exc.strerror[0].islower():   # the project's own sentence (reidlab.paths.atomic_write)
            text = exc.strerror
        else:
            text = f"{USER_ERRNOS[exc.errno]} ({exc.strerror or exc})"
    elif isinstance(exc, (FileNotFoundError, NotADirectoryError, PermissionError)) and exc.errno is None:
        text = str(exc)
    elif isinstance(exc, ValueError):
        text = str(exc)
    else:
        return None
    text = " ".join(text.split("\n")).strip()
    return text if text.startswith("[reidlab]") else f"[reidlab] {text}"


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser: its notebook choices are the registered notebooks
    (:func:`reidlab.study.show.registry.notebooks`)."""
    parser = argparse.ArgumentParser(prog="python -m reidlab.study.drive.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (by default a mistake is one line and exit status 2)")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="run the notebooks in order and regenerate results/")
    rep.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--dataset", default=None, choices=DATASETS, help="default: each notebook's")
    rep.add_argument("--data-root", default=None)
    rep.add_argument("--cell-timeout", type=int, default=3600)
    rep.add_argument("--results-dir", default=None,
                     help="default: results/ (the embedded study), results/<dataset>/ with --dataset")
    rep.add_argument("--pretrained", default=None,
                     help="imagenet | synthpeople | scratch | a weights file (default: the profile's: imagenet "
                          "in paper, synthpeople (the pre-training stand-in) in smoke/quick)")
    rep.add_argument("--mlr", default=None, choices=MLR_CONSTRUCTIONS,
                     help="how LR images enter the benchmark (default: the profile's: per-image in smoke/quick, "
                          "camera in paper; camera is SING's MLR-VIPeR/-Market/-CUHK03 construction)")
    rep.add_argument("--allow-dirty", action="store_true",
                     help="regenerate the committed results/ from a tree with uncommitted changes (recorded)")
    rep.add_argument("--sweep", action="store_true",
                     help=f"the training-length sweep ({registry.sweep_notebook()}) alone, into results/{SWEEP_RESULTS}/ (make sweep)")
    rep.add_argument("--only", nargs="*", choices=registry.notebooks(), default=None,
                     help="run only these notebooks (the report still covers all results)")
    prep = sub.add_parser("prepare-nbval", help="smoke-parameterised notebooks for pytest --nbval-lax")
    prep.add_argument("--out", default="build/nbval")
    rec = sub.add_parser("record-nbval", help="record reference outputs of NBVAL_CHECK_OUTPUT cells")
    rec.add_argument("--out", default="build/nbval-record")
    chk = sub.add_parser("check-results", help="run the study into a scratch folder and compare its metrics.json "
                                               "(and claims' verdicts) with the committed ones, within the study's "
                                               "own uncertainty (reidlab/study/compute/check.py); exit 1 on disagreement")
    chk.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    chk.add_argument("--seed", type=int, default=0)
    chk.add_argument("--cell-timeout", type=int, default=3600)
    chk.add_argument("--reference", default=COMMITTED_RESULTS, help="results folder to compare with (default: %(default)s)")
    chk.add_argument("--results-dir", default=None,
                     help="where this run's results go (default: runs/check-results/<profile>)")
    chk.add_argument("--no-run", action="store_true", help="compare an existing --results-dir without running the study")
    rep.add_argument("--runs-dir", default=None, help="trained runs and caches (default: runs/)")
    rpt = sub.add_parser("report", help="regenerate results/README.md from results/")
    rpt.add_argument("--results-dir", default="results")
    fig = sub.add_parser("figures", help="re-render every figure (PNG + PDF) and table (Markdown + LaTeX) of "
                                         "results/ and its dataset arms from the stored data, in seconds, no model")
    fig.add_argument("--results-dir", default="results")
    pln = sub.add_parser("plan", help="list every training unit `reproduce` needs (run folder, state, images, "
                                      "estimated hours), trained or not")
    trn = sub.add_parser("train-units", help="train every unit `reproduce` needs outside the notebooks, N at a "
                                             "time: local processes, or submitit (its local executor, or SLURM)")
    for sp in (pln, trn):
        sp.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--dataset", default=None, choices=DATASETS)
        sp.add_argument("--data-root", default=None)
        sp.add_argument("--mlr", default=None, choices=MLR_CONSTRUCTIONS)
        sp.add_argument("--pretrained", default=None)
        sp.add_argument("--runs-dir", default="runs")
        sp.add_argument("--only", nargs="*", choices=registry.notebooks(), default=None, help="the units of these notebooks")
        sp.add_argument("--sweep", action="store_true", help=f"the units of the training-length sweep ({registry.sweep_notebook()})")
    pln.add_argument("--images-per-second", default=MEASURED_RATES,
                     help="measured training rates per unit kind for the hours column (default: %(default)s, "
                          "MGN-ResNet-50 at 384x128 and the PS-HRNet student on one H100, benchmarks/README.md)")
    trn.add_argument("--jobs", type=int, default=1, help="units trained at once (processes; on CUDA spread over "
                                                         "the visible GPUs; on SLURM the array's parallelism)")
    trn.add_argument("--executor", default="local", choices=EXECUTORS)
    trn.add_argument("--threads", type=int, default=None,
                     help="CPU threads per job (default: torch's, as the notebooks train: results identical to the "
                          "sequential run; fewer, e.g. cores / jobs, run faster side by side, equal to float rounding)")
    trn.add_argument("--no-speculative", action="store_true",
                     help="leave the candidates of notebook 04's pseudo-label choice to the notebooks")
    trn.add_argument("--slurm", nargs="*", default=[], metavar="KEY=VALUE",
                     help="submitit SLURM parameters, e.g. slurm_partition=gpu gpus_per_node=1 cpus_per_task=16")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 on success, 1 where ``check-results`` finds a disagreement, 2 for a
    user's mistake (one line on stderr, :func:`user_error_line`; ``--debug`` adds the traceback)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run_command(args, parser)
    except (SystemExit, ValueError, OSError) as exc:
        line = user_error_line(exc)
        if line is None:
            raise
        if args.debug:
            traceback.print_exc()
        elif isinstance(exc, ValueError):   # raised deep in a run, it may be a bug: say how to see where
            line += " (python -m reidlab.study.drive.pipeline --debug ... shows the traceback)"
        print(line, file=sys.stderr)
        return 2


def _run_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the command ``args`` names (:func:`main` reports its errors)."""
    if args.command == "reproduce":
        if args.pretrained:
            try:
                pretrained_setting(args.pretrained)
            except ValueError as exc:
                parser.error(f"--pretrained: {exc}")
        if args.data_root and resolve(args.data_root, name="--data-root").is_file():
            parser.error(f"--data-root {args.data_root}: {resolve(args.data_root)} is a file, not a folder")
        reproduce(args.profile, args.seed, args.dataset, args.data_root, args.cell_timeout, args.only,
                  args.results_dir, args.pretrained, args.allow_dirty, args.mlr, args.runs_dir, sweep=args.sweep)
    elif args.command in ("plan", "train-units"):
        return units_command(args)
    elif args.command == "prepare-nbval":
        for p in prepare_nbval(resolve(args.out, name="--out"), args.out):
            print(p)
    elif args.command == "record-nbval":
        record_nbval(resolve(args.out, name="--out"), args.out)
    elif args.command == "check-results":
        return check_results_command(args.profile, args.seed, args.reference, args.results_dir,
                                     run=not args.no_run, cell_timeout=args.cell_timeout)
    elif args.command == "figures":
        from reidlab.study.show.figures import render_results
        from reidlab.study.show.plots import RENDERERS

        results = require_results(resolve(args.results_dir, name="--results-dir"), args.results_dir)
        start = time.perf_counter()
        counts = render_results(results, RENDERERS)
        write_report(results)
        for arm in (sub for sub in sorted(results.iterdir()) if (sub / "run_info.json").is_file()):
            write_report(arm)
        readme_numbers.refresh(results)
        print(f"[reidlab] {counts['figures']} figures and {counts['tables']} tables re-rendered from {results} "
              f"in {time.perf_counter() - start:.1f} s", flush=True)
    elif args.command == "report":
        out = write_report(require_results(resolve(args.results_dir, name="--results-dir"), args.results_dir))
        readme_numbers.refresh(out.parent)
        print(out)
    return 0


#: ``plan``'s default training rates (images/s) per unit kind: measured on one H100 at the
#: paper profile's sizes (benchmarks/README.md: MGN-ResNet-50 at 384x128, batch 32, 335-469 images/s
#: whatever the precision; the PS-HRNet student about 110 images/s)
MEASURED_RATES = "bf=400,br=400,pretrain=400,ps_hrnet=110"


def study_parameters(profile: str, seed: int, dataset: str | None, data_root: str | None, mlr: str | None,
                     pretrained: str | None, runs_dir: str | None) -> dict[str, Any]:
    """The parameters ``reproduce`` hands every notebook (``plan`` and ``train-units`` list the
    units of the same run)."""
    params: dict[str, Any] = {"profile": profile, "seed": seed}
    for key, value in (("dataset", dataset), ("data_root", data_root), ("mlr", mlr), ("pretrained", pretrained),
                       ("runs_dir", runs_dir)):
        if value:
            params[key] = value
    return params


def parse_rates(text: str) -> dict[str, float]:
    """``--images-per-second``'s ``kind=rate,...`` as {kind: images per second}; a ``SystemExit``
    naming the item for one that is not ``KIND=RATE`` (:func:`parse_key_values`), an unknown or
    repeated kind, or a rate that is not a positive finite number."""
    items = [part.strip() for part in text.split(",") if part.strip()]
    rates: dict[str, float] = {}
    for kind, value in parse_key_values(items, "--images-per-second", form="KIND=RATE", example=MEASURED_RATES).items():
        value = value.strip()
        if kind not in UNIT_KINDS:
            raise SystemExit(f"[reidlab] --images-per-second: unknown unit kind {kind!r} in {kind}={value}; the kinds "
                             f"are {', '.join(UNIT_KINDS)}")
        try:
            rate = float(value)
        except ValueError:
            raise SystemExit(f"[reidlab] --images-per-second {kind}={value}: the rate is not a number "
                             f"(images per second, e.g. {MEASURED_RATES})") from None
        if not math.isfinite(rate) or rate <= 0:
            raise SystemExit(f"[reidlab] --images-per-second {kind}={value}: a rate must be a positive number of "
                             "images per second")
        rates[kind] = rate
    return rates


def parse_key_values(items: list[str], option: str, *, form: str = "KEY=VALUE",
                     example: str = "slurm_partition=gpu") -> dict[str, str]:
    """``KEY=VALUE`` items (``option``'s) as a dict (keys stripped); a ``SystemExit``
    naming ``option`` and the item for one without ``=`` or without a key, and for a key given twice."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SystemExit(f"[reidlab] {option} {item!r} is not {form} (e.g. {example})")
        if key in out:
            raise SystemExit(f"[reidlab] {option}: {key} is given twice ({key}={out[key]}, {item})")
        out[key] = value
    return out


def units_command(args: argparse.Namespace) -> int:
    """``plan`` (print the units) and ``train-units`` (train them)."""
    from reidlab.study.drive import units

    if args.command == "train-units":       # every argument checked before any work
        slurm = parse_key_values(args.slurm, "--slurm")
        units.check_train_arguments(jobs=args.jobs, threads=args.threads, executor=args.executor)
        if slurm and args.executor != "slurm":
            raise SystemExit(f"[reidlab] --slurm {' '.join(args.slurm)}: SLURM parameters need --executor slurm "
                             f"(--executor is {args.executor})")
    else:
        rates = parse_rates(args.images_per_second)
    params = study_parameters(args.profile, args.seed, args.dataset, args.data_root, args.mlr, args.pretrained,
                              args.runs_dir)
    skips = tuple(study_skips(args.dataset, args.sweep))
    if args.command == "train-units":
        done = units.train_units(params, jobs=args.jobs, executor=args.executor, skips=skips, notebooks=args.only,
                                 include_speculative=not args.no_speculative, threads=args.threads, slurm=slurm)
        print(f"[reidlab] train-units: {len(done)} units trained; `make reproduce` with the same settings now "
              "trains none", flush=True)
        return 0
    runs = resolve(args.runs_dir, name="--runs-dir")
    planned = units.planned_units(units.study_units({**params, "runs_dir": str(runs)}, notebooks=args.only,
                                                    skips=skips), runs)
    table = units.plan_table(planned, images_per_second=rates)
    import pandas as pd

    with pd.option_context("display.max_rows", None, "display.max_colwidth", 80, "display.width", 200):
        print(table.to_string(index=False))
    todo = table[table.state != "finished"]
    waiting = int((table.run == "(after pre-training)").sum())
    print(f"\n[reidlab] {len(table)} units ({len(todo)} not finished, {int((table.state == 'speculative').sum())} "
          f"speculative); {waiting} get their run folder once pre-training is done"
          + (f"; {todo['hours'].sum():.1f} hours to train at --images-per-second" if "hours" in table else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
