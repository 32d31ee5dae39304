"""The whole study from one command, and the notebooks as tests.

``python -m reidlab.study.pipeline reproduce --profile quick``
    runs notebooks 00 -> 07 with papermill, keeps executed copies in
    ``results/notebooks/``, then regenerates ``results/README.md``.
``python -m reidlab.study.pipeline prepare-nbval --out build/nbval``
    writes each notebook with ``smoke`` parameters injected (papermill
    ``--prepare-only``) and the recorded reference outputs of its
    ``# NBVAL_CHECK_OUTPUT`` cells, ready for ``pytest --nbval-lax``.
``python -m reidlab.study.pipeline record-nbval``
    executes the prepared notebooks and records those reference outputs in
    ``tests/nbval_expected/`` (run after changing what such a cell prints).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from reidlab.paths import remove_stale_temporaries, repo_root, resolve, temporary_name
from reidlab.progress import PLAIN_PROGRESS_ENV
from reidlab.engine.runner import TRAINED_LOG_ENV, read_trained_log
from reidlab.stages import STAGE_LOG_ENV, read_stage_log
from reidlab.study.contract import (
    COMMITTED_RESULTS, NOTEBOOKS, REPRODUCE_ENV, SMOKE_PARAMETERS, check_results_folder, headline_metrics,
    is_committed_results,
)
from reidlab.study.io import read_json, write_json
from reidlab.config import DATASETS
from reidlab.choices import MLR_CONSTRUCTIONS
from reidlab.study.params import declared_parameters, pretrained_setting
from reidlab.study import provenance, readme_numbers
from reidlab.study.report import write_report
from reidlab.study.units import EXECUTORS

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def _params_for(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` restricted to those the notebook at ``path`` declares."""
    declared = set(declared_parameters(path.stem))
    return {k: v for k, v in params.items() if k in declared}


def run_notebook(name: str, params: dict[str, Any], out_dir: Path, *, cell_timeout: int = 3600,
                 log_output: bool = True, stage_log: Path | None = None, trained_log: Path | None = None) -> float:
    """Execute one notebook with papermill; the executed copy replaces ``out_dir/name.ipynb`` only on success.
    With ``stage_log``, the kernel appends its stage timings there (:mod:`reidlab.stages`); with
    ``trained_log``, every run it trains (:func:`reidlab.engine.runner.log_trained_run`)."""
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
        os.replace(tmp, final)
    except BaseException:
        failed = out_dir / f"{name}.failed.ipynb"
        if Path(tmp).exists():
            os.replace(tmp, failed)
            print(f"[reidlab] {name} failed; the partly executed notebook is {failed}", file=sys.stderr)
        raise
    return time.perf_counter() - start


def results_dir_for(dataset: str | None) -> str:
    """Where ``reproduce`` writes by default: ``results/`` for the embedded study (each notebook's
    default dataset), ``results/<dataset>/`` for a dataset arm (``--dataset``), so an arm's
    results and ``run_info.json`` never mix with the embedded default's."""
    return COMMITTED_RESULTS if dataset is None else f"{COMMITTED_RESULTS}/{dataset}"


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
              runs_dir: str | None = None, notebook_params: dict[str, Any] | None = None) -> dict[str, float]:
    """Run the notebooks in order into ``results_dir`` (default: results/, or results/<dataset>/)
    and write ``run_info.json``, ``metrics.json`` and the report. ``notebook_params``: further
    parameters for every notebook that declares them (tests: the smoke run's)."""
    results_dir = results_dir or results_dir_for(dataset)
    skips = arm_skips(dataset)
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
        for name in NOTEBOOKS:
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
        records = provenance.merge_records(kept, records, NOTEBOOKS)
        info["stage_seconds"] = {**{k: v for k, v in (previous.get("stage_seconds") or {}).items()
                                    if k in kept}, **stages}
        info["notebook_seconds"] = {name: rec["seconds"] for name, rec in records.items()}
    info["notebooks"] = records
    # runs each notebook trained (or resumed) itself: 0 everywhere after `train-units`
    info["trained_units"] = {name: rec["trained_units"] for name, rec in records.items()}
    info["code"] = provenance.folder_code(records)
    expected = [name for name in NOTEBOOKS if name not in skips]
    minutes, why = provenance.reproduce_minutes(records, ran=timings, expected=expected)
    info["wall_seconds"] = None if minutes is None else round(sum(timings.values()), 1)
    info["reproduce_minutes"] = minutes
    info["reproduce_minutes_note"] = why
    write_json(results / "run_info.json", info)
    write_json(results / "metrics.json", headline_metrics(results, None if minutes is None else minutes * 60))
    write_report(results)
    readme_numbers.refresh(results)   # README.md's generated headline block (committed results only)
    if not only:
        for path in remove_unwritten(results, started_at):
            print(f"[reidlab] removed {path}: no notebook writes it any more", flush=True)
    print(f"[reidlab] results/README.md regenerated; this run {sum(timings.values()) / 60:.1f} min; "
          f"reproduce_minutes: {minutes} ({why})", flush=True)
    return timings


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


#: What a results folder written by the pipeline holds (besides hidden temporaries); in the
#: committed one also the dataset arms' folders (:func:`results_dir_for`).
RESULT_FILES: frozenset[str] = frozenset({*(f"{n}.json" for n in NOTEBOOKS), "metrics.json", "run_info.json",
                                          "README.md", "check.md", "tables", "figures", "notebooks", *DATASETS})


def check_foreign_files(results: Path) -> None:
    """Refuse a results folder holding anything the pipeline does not write there: it would
    be mixed with (or, for names it writes, replaced by) the study's results."""
    if not results.is_dir():
        if results.exists():
            raise SystemExit(f"[reidlab] --results-dir {results} is a file, not a folder")
        return
    foreign = sorted(p.name for p in results.iterdir() if p.name not in RESULT_FILES and not p.name.startswith("."))
    if foreign:
        raise SystemExit(
            f"[reidlab] --results-dir {results} holds files the study does not write ({', '.join(foreign[:5])}"
            f"{' ...' if len(foreign) > 5 else ''}): results go to a folder of their own (new, or written by an "
            f"earlier reproduce: {', '.join(sorted(RESULT_FILES))})")


def require_results(results: Path, given: str) -> Path:
    """``results`` if it holds notebook results; else exit naming what is missing (``report``)."""
    if not results.is_dir():
        raise SystemExit(f"[reidlab] --results-dir {given}: {results} does not exist (make reproduce writes results/)")
    if not any((results / f"{n}.json").is_file() for n in NOTEBOOKS):
        raise SystemExit(f"[reidlab] --results-dir {given}: {results} holds no notebook results (none of "
                         f"{NOTEBOOKS[0]}.json ... {NOTEBOOKS[-1]}.json); nothing to report")
    return results


def stage_seconds(measured: dict[str, float], wall: float) -> dict[str, float]:
    """A notebook's seconds per stage (:data:`reidlab.stages.STAGES`) and ``"other"``: the rest of
    its wall time (kernel start, imports, data preparation, tables, plots)."""
    return {**{k: round(v, 1) for k, v in measured.items()}, "other": round(max(wall - sum(measured.values()), 0.0), 1)}


def chosen_settings(notebook: str, results: Path) -> dict[str, Any]:
    """Settings an earlier notebook chose on validation identities that ``notebook`` must use:
    05 (Fig. 5 on the CAVIAR-like set) takes the pseudo-label bins 04 chose for Table 5."""
    from reidlab.study.contract import read_result

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
    ``reference`` (:func:`reidlab.study.check.check_results`), print the table, keep it as
    ``check.md`` in ``results_dir``; 0 when everything agrees, 1 otherwise."""
    from reidlab.study.check import check_results, format_checks

    ref = resolve(reference, name="reference")
    if not (ref / "metrics.json").is_file():
        raise SystemExit(f"[reidlab] --reference {reference}: {ref / 'metrics.json'} does not exist "
                         "(a results folder written by make reproduce holds it)")
    out = resolve(results_dir or f"runs/check-results/{profile}", name="results_dir")
    if out.resolve() == ref.resolve():
        raise SystemExit(f"[reidlab] --results-dir and --reference are the same folder ({out}): "
                         "this run must not overwrite what it is compared with")
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


def prepare_nbval(out: Path) -> list[Path]:
    """Notebooks with smoke parameters and recorded reference outputs, for ``pytest --nbval-lax``."""
    import nbformat
    import papermill as pm

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    params = smoke_parameters(out)
    written = []
    for name in NOTEBOOKS:
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
                        f"{_expected_path(name)}; run `python -m reidlab.study.pipeline record-nbval`")
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=expected[cell.id])]
                cell.execution_count = 1  # nbval compares only cells marked as run
        nbformat.write(nb, dst)
        written.append(dst)
    return written


def record_nbval(out: Path) -> None:
    """Execute the smoke notebooks and record the stdout of every ``# NBVAL_CHECK_OUTPUT`` cell."""
    import nbformat
    import papermill as pm

    build = out.resolve()
    if build.exists():
        shutil.rmtree(build)
    build.mkdir(parents=True)
    params = smoke_parameters(build)
    for name in NOTEBOOKS:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlab.study.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
    rep.add_argument("--only", nargs="*", choices=NOTEBOOKS, default=None,
                     help="run only these notebooks (the report still covers all results)")
    prep = sub.add_parser("prepare-nbval", help="smoke-parameterised notebooks for pytest --nbval-lax")
    prep.add_argument("--out", default="build/nbval")
    rec = sub.add_parser("record-nbval", help="record reference outputs of NBVAL_CHECK_OUTPUT cells")
    rec.add_argument("--out", default="build/nbval-record")
    chk = sub.add_parser("check-results", help="run the study into a scratch folder and compare its metrics.json "
                                               "(and claims' verdicts) with the committed ones, within the study's "
                                               "own uncertainty (reidlab/study/check.py); exit 1 on disagreement")
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
        sp.add_argument("--only", nargs="*", choices=NOTEBOOKS, default=None, help="the units of these notebooks")
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
    args = parser.parse_args(argv)
    if args.command == "reproduce":
        if args.pretrained:
            try:
                pretrained_setting(args.pretrained)
            except ValueError as exc:
                parser.error(f"--pretrained: {exc}")
        if args.data_root and resolve(args.data_root, name="--data-root").is_file():
            parser.error(f"--data-root {args.data_root}: {resolve(args.data_root)} is a file, not a folder")
        reproduce(args.profile, args.seed, args.dataset, args.data_root, args.cell_timeout, args.only,
                  args.results_dir, args.pretrained, args.allow_dirty, args.mlr, args.runs_dir)
    elif args.command in ("plan", "train-units"):
        return units_command(args)
    elif args.command == "prepare-nbval":
        for p in prepare_nbval(resolve(args.out)):
            print(p)
    elif args.command == "record-nbval":
        record_nbval(resolve(args.out))
    elif args.command == "check-results":
        return check_results_command(args.profile, args.seed, args.reference, args.results_dir,
                                     run=not args.no_run, cell_timeout=args.cell_timeout)
    elif args.command == "figures":
        from reidlab.study.figures import render_results

        results = require_results(resolve(args.results_dir, name="--results-dir"), args.results_dir)
        start = time.perf_counter()
        counts = render_results(results)
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


def _rates(text: str) -> dict[str, float]:
    try:
        return {k.strip(): float(v) for k, v in (item.split("=") for item in text.split(",") if item.strip())}
    except ValueError:
        raise SystemExit(f"[reidlab] --images-per-second {text!r}: expected kind=rate,... e.g. {MEASURED_RATES}") from None


def units_command(args: argparse.Namespace) -> int:
    """``plan`` (print the units) and ``train-units`` (train them)."""
    from reidlab.study import units

    params = study_parameters(args.profile, args.seed, args.dataset, args.data_root, args.mlr, args.pretrained,
                              args.runs_dir)
    skips = tuple(arm_skips(args.dataset))
    if args.command == "train-units":
        slurm = dict(item.split("=", 1) for item in args.slurm)
        done = units.train_units(params, jobs=args.jobs, executor=args.executor, skips=skips, notebooks=args.only,
                                 include_speculative=not args.no_speculative, threads=args.threads, slurm=slurm)
        print(f"[reidlab] train-units: {len(done)} units trained; `make reproduce` with the same settings now "
              "trains none", flush=True)
        return 0
    runs = resolve(args.runs_dir, name="--runs-dir")
    planned = units.planned_units(units.study_units({**params, "runs_dir": str(runs)}, notebooks=args.only,
                                                    skips=skips), runs)
    table = units.plan_table(planned, images_per_second=_rates(args.images_per_second))
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
