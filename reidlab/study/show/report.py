"""Regenerate ``results/README.md``: every table inlined, every figure linked.

Each notebook writes ``results/<notebook>.json``, a :class:`~reidlab.study.show.contract.NotebookResult`
(title, tables, figures, conclusions computed from its numbers, key metrics, counts); this
module only assembles them, in notebook order, with the run's profile, seed, versions and time.
"""
from __future__ import annotations

from pathlib import Path

from reidlab.paths import atomic_write_text, read_json
from reidlab.study.show import registry
from reidlab.study.show.contract import read_result


def _precision_line(p: dict) -> str:
    """The processor and the precision it gave (``run_info.json``'s ``precision``)."""
    from reidlab.engine.precision import bf16_words

    return (f"- processor: {p.get('cpu_model')} (flags: {', '.join(p.get('cpu_flags', [])) or 'none read'}; "
            f"{bf16_words(p)}); training in {p.get('precision')}, "
            f"channels-last {'on' if p.get('channels_last') else 'off'}, extraction in "
            f"{p.get('extraction_precision')} (`amp={p.get('amp_setting')}`)")


def _notebooks_link(results: Path) -> str:
    """The repository's ``notebooks/`` relative to ``results`` (``..`` for ``results/``, ``../..`` for a
    dataset arm's ``results/<dataset>/``)."""
    import os

    from reidlab.paths import repo_root

    root = repo_root().resolve()
    real = results.resolve()
    if root not in real.parents:
        return "../notebooks"
    return Path(os.path.relpath(root / "notebooks", real)).as_posix()


def _stages_line(stages: dict) -> str:
    """Seconds per stage over all notebooks (``run_info.json``'s ``stage_seconds``)."""
    totals: dict[str, float] = {}
    for per in stages.values():
        for name, seconds in per.items():
            totals[name] = totals.get(name, 0.0) + seconds
    from reidlab.stages import STAGES

    order = [*STAGES, "other"]
    names = sorted(totals, key=lambda k: order.index(k) if k in order else len(order))
    return "- time per stage: " + ", ".join(f"{k} {totals[k] / 60:.1f} min" for k in names)


def _wall_time_line(info: dict) -> str:
    """The study's wall time: one fresh, complete run's (``reproduce_minutes``), or why there is none."""
    seconds = ", ".join(f"{k} {v:.0f} s" for k, v in info.get("notebook_seconds", {}).items())
    if "reproduce_minutes" not in info:                       # written before per-notebook provenance
        wall = info.get("wall_seconds")
        return f"- wall time: {'-' if wall is None else f'{wall / 60:.1f} min'} ({seconds})"
    minutes = info["reproduce_minutes"]
    return (f"- wall time of the study: {'not measured' if minutes is None else f'{minutes:.1f} min'} "
            f"({info.get('reproduce_minutes_note', '')}; per notebook: {seconds})")


def _provenance_lines(info: dict) -> list[str]:
    """A table of each notebook's provenance record (``run_info.json``'s ``notebooks``:
    :mod:`reidlab.study.provenance`), and every disagreement among them."""
    from reidlab.study.provenance import provenance_problems

    records = info.get("notebooks")
    if not isinstance(records, dict) or not records:
        return []
    lines = ["### Provenance per notebook", "",
             "| notebook | commit | tree | code digest | processor | precision | seconds | units trained | "
             "units reused | reused from outside this run | finished |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, rec in records.items():
        lines.append(f"| {name} | `{str(rec.get('commit'))[:10]}` | {rec.get('tree')} | `{rec.get('code_digest')}` | "
                     f"{rec.get('cpu_model')} | {rec.get('precision')} | {rec.get('seconds')} | "
                     f"{rec.get('trained_units')} | {rec.get('reused_units')} | "
                     f"{len(rec.get('reused_from_outside_this_run') or [])} | {rec.get('finished')} |")
    problems = provenance_problems(info)
    lines += ["", *(["The records agree: one commit, one code digest, one machine and precision."] if not problems
                    else ["**The records disagree** (this folder was stitched from several runs):", "",
                          *(f"- {p}" for p in problems)]), ""]
    return lines


#: the across-data table's file stem under ``results/tables/``
ACROSS_DATA_TABLE = "across_data_controls"


def _signed(value: float) -> str:
    return f"{value:+.1f}"


def across_data_table(results: Path) -> "pd.DataFrame | None":
    """The embedded study's controls and camera cue beside every dataset arm's (issue 22), from
    their stored tables (``tables/07_control_gains.csv``, ``tables/00_camera_cue.csv``): one
    row per measure, one column per study, "change [95% interval] (units)"; ``None`` when
    ``results`` has no dataset arm with controls. Each column names the commit its run was made
    at (an arm may be older than the embedded study)."""
    import pandas as pd

    studies = [results] + [sub for sub in sorted(results.iterdir()) if sub.is_dir()
                           and (sub / "tables" / "07_control_gains.csv").is_file()]
    if len(studies) < 2 or not (results / "tables" / "07_control_gains.csv").is_file():
        return None
    columns: dict[str, dict[str, str]] = {}
    order: list[str] = []
    for study in studies:
        info = read_json(study / "run_info.json") if (study / "run_info.json").is_file() else {}
        commit = str((info.get("code") or {}).get("commit", "?"))[:7]
        data = study / "00_data_synthesis.json"
        dataset = read_result(data).parameters.get("dataset") if data.is_file() else info.get("dataset", "?")
        name = f"{'embedded' if study == results else study.name} ({dataset}, {commit})"
        cells: dict[str, str] = {}
        cue = study / "tables" / "00_camera_cue.csv"
        if cue.is_file():
            from reidlab.study.compute.summaries import CAMERA_CUE_MATCHED as matched

            row = pd.read_csv(cue).iloc[0]
            cells["camera cue: kappa, all images"] = f"{row['kappa (all)']:.2f}"
            cells[f"camera cue: {matched}"] = f"{row[matched]:.2f} ± {row['std']:.2f}"
        gains = pd.read_csv(study / "tables" / "07_control_gains.csv")
        for _, g in gains.iterrows():
            interval = f" {g['95% interval']}"
            cells[f"{g['protocol']}: {g['control']}"] = f"{_signed(g['R1 change'])}{interval} ({g['units']})"
        columns[name] = cells
        order += [k for k in cells if k not in order]
    return pd.DataFrame({"measure (R1 change against B-F alone, points)": order,
                         **{name: [cells.get(k, "") for k in order] for name, cells in columns.items()}})


def write_report(results: Path) -> Path:
    results = Path(results)
    lines = ["# reidlab results", "",
             "Generated by `make reproduce` (`python -m reidlab.study.drive.pipeline reproduce`); do not edit by hand. "
             "Every number below is computed by the notebooks from data; rows marked *published* are the "
             "papers' own numbers, shown for reference only.", ""]
    info_path = results / "run_info.json"
    if info_path.exists():
        info = read_json(info_path)
        lines += ["## Run", "",
                  f"- profile: `{info['profile']}`, seed {info['seed']}, dataset: {info['dataset']}"
                  + (f", MLR construction: {info['mlr']}" if "mlr" in info else ""),
                  _wall_time_line(info),
                  f"- machine: {info['machine']}"
                  + (f", {info['torch_threads']} torch threads" if "torch_threads" in info else ""),
                  *([_precision_line(info["precision"])] if isinstance(info.get("precision"), dict) else []),
                  *([_stages_line(info["stage_seconds"])] if isinstance(info.get("stage_seconds"), dict) else []),
                  *([f"- code: commit `{info['code'].get('commit')}`, working tree {info['code'].get('tree')}"]
                    if isinstance(info.get("code"), dict) else []),
                  f"- versions: Python {info['python']}, torch {info['torch']}, torchvision {info['torchvision']}, "
                  f"numpy {info['numpy']}",
                  f"- finished: {info['finished']}",
                  *(f"- not run on this dataset: `{name}`: {why}" for name, why in info.get("skipped_notebooks", {}).items()),
                  "", *_provenance_lines(info)]
    metrics_path = results / "metrics.json"
    if metrics_path.exists():
        lines += ["## Headline numbers (`results/metrics.json`)", "",
                  "Percent, one decimal (`vdsr_mae`/`interp_mae`/`vdsr_warmup_mae`: mean absolute error to the HR image "
                  "in percent of the intensity range, `*_psnr` its PSNR in dB, on held-out LR images; `lambda_chosen`: Eq. 8's lambda chosen on validation identities; "
                  "`*_units`: independently trained models behind a gain; `*_ci_low`/`*_ci_high`: its 95% "
                  "interval over those units); `null` where the notebook has not run or, for an interval, "
                  "where fewer than 3 units make it not testable.", "",
                  "| name | value |", "|---|---|"]
        metrics = read_json(metrics_path)
        lines += [f"| `{k}` | {'null' if v is None else v} |" for k, v in metrics.items()]
        lines.append("")
        from reidlab.study.compute.check import regime_lines

        regime = regime_lines(metrics)
        if regime:
            lines += ["## The regime the conclusions rest on", "",
                      "What must hold before a verdict judges anything (`make check-results` checks each as a claim; "
                      "`reidlab/study/compute/check.py`):", "", *regime, ""]
    arms = [sub for sub in sorted(results.iterdir()) if sub.is_dir() and (sub / "run_info.json").is_file()
            and (sub / "README.md").is_file()]
    if arms:
        lines += ["## Dataset arms", "",
                  "The study run on other data (`make reproduce DATASET=<name> DATA_ROOT=<folder>`), each in a folder "
                  "of its own with its own `run_info.json`:", ""]
        lines += [f"- [`{arm.name}/`]({arm.name}/README.md)" for arm in arms]
        lines.append("")
        across = across_data_table(results)
        if across is not None:
            from reidlab.study.show.figures import to_markdown, write_table

            write_table(across, results / "tables" / ACROSS_DATA_TABLE)
            lines += ["### The embedded study beside the dataset arms", "",
                      "The controls of notebook 07 (rank-1 change against B-F alone, mean over independently "
                      "trained units, 95% interval, units) and how well the camera can be told from the pixels "
                      "(notebook 00) on each study's data; a column's header names the commit its run was made "
                      f"at (`tables/{ACROSS_DATA_TABLE}.md`).", "", to_markdown(across), ""]
    notebooks_link = _notebooks_link(results)
    conclusions = []
    sections = []
    claims: list[dict] = []
    for name in registry.notebooks():
        path = results / f"{name}.json"
        if not path.exists():
            continue
        result = read_result(path)
        claims += [{**row, "notebook": name} for row in result.data.get("claims", [])]
        sec = [f"## {result.title}", "",
               f"Notebook: [`notebooks/{name}.ipynb`]({notebooks_link}/{name}.ipynb) "
               f"(executed copy: [`results/notebooks/{name}.ipynb`](notebooks/{name}.ipynb))", ""]
        for c in result.conclusions:
            sec.append(f"- {c}")
            conclusions.append(f"- **{name}**: {c}")
        if result.conclusions:
            sec.append("")
        if result.counts:
            sec += ["Counts: " + "; ".join(f"{k}: {v}" for k, v in result.counts.items()), ""]
        for table in result.tables:
            md = results / table.file
            if md.exists():
                sec += [f"### {table.title}", "", md.read_text().rstrip(), ""]
                if table.note:
                    sec += [table.note, ""]
        for fig in result.figures:
            sec += [f"### {fig.title}", "", f"![{fig.title}]({fig.file})", ""]
        sections.append(sec)
    if claims:
        from reidlab.study.compute.stats import CLAIM_COLUMNS

        columns = [*CLAIM_COLUMNS, "notebook"]
        lines += ["## Claims against the papers' own effects", "",
                  "Each claim of RFD with the rank-1 effect its own tables give (computed from the transcribed "
                  "rows, `reidlab/study/published.py`), our effect on the stand-in data with its 95% interval "
                  "over independently trained models, and a verdict judged against the paper's effect size. "
                  "With fewer than 3 such units nothing is claimed (\"not testable\").", "",
                  "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in claims]
        lines.append("")
    if conclusions:
        lines += ["## Conclusions at a glance", ""] + conclusions + [""]
    for sec in sections:
        lines += sec
    out = results / "README.md"
    atomic_write_text(out, "\n".join(lines).rstrip() + "\n")
    return out
