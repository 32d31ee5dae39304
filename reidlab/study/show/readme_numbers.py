"""The result numbers ``README.md`` quotes, rendered from ``results/`` (``python -m reidlab.study.show.readme_numbers``).

``README.md`` quotes no hand-typed result: its headline numbers (rank-1s, RFD's gains with
their 95% intervals, accuracies, the camera cue's kappa, the claims' verdicts, the recorded
wall time) sit in one generated block between :data:`BEGIN` and :data:`END`, rendered here
from the committed ``results/``: ``metrics.json`` and ``run_info.json`` of the embedded study
and of every dataset arm (``results/<dataset>/``), and the claims the notebooks' results
record (``results/<notebook>.json``, ``data["claims"]``). ``run_info.json`` says which commit,
processor and precision made each study.

``python -m reidlab.study.show.readme_numbers`` rewrites that block in place (atomically);
``--check`` only compares it, exiting 1 and naming the stale block. The pipeline calls
:func:`refresh` after it rewrites ``results/`` (a no-op for any other results folder), and
``tests/test_readme_numbers.py`` fails while the committed ``README.md`` is stale.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

from reidlab.paths import atomic_write_text, read_json, repo_root
from reidlab.study.show import registry
from reidlab.study.show.contract import COMMITTED_RESULTS, SWEEP_RESULTS, is_committed_results

__all__ = ["BEGIN", "END", "README", "RESULTS", "studies", "render", "generated_block", "update", "is_current",
           "refresh", "main"]

BEGIN = "<!-- BEGIN GENERATED: headline numbers (python -m reidlab.study.show.readme_numbers) -->"
END = "<!-- END GENERATED -->"
#: the project's README and its committed results
README = repo_root() / "README.md"
RESULTS = repo_root() / COMMITTED_RESULTS

Metrics = Mapping[str, Any]


# ------------------------------------------------------------------------------ reading

def _json(path: Path) -> dict:
    """``path`` as a dict; ``{}`` when absent or not an object (a study may lack a file)."""
    if not path.is_file():
        return {}
    data = read_json(path)
    return data if isinstance(data, dict) else {}


def studies(results: Path) -> list[tuple[str, Path]]:
    """The embedded study (``results``) and every dataset arm under it (a sub-folder with a
    ``metrics.json``; not the training-length sweep's), as ``(name, folder)``, arms in name order."""
    results = Path(results)
    arms = [(sub.name, sub) for sub in sorted(results.iterdir())
            if sub.is_dir() and sub.name != SWEEP_RESULTS and (sub / "metrics.json").is_file()] if results.is_dir() else []
    return [("embedded", results), *arms]


# --------------------------------------------------------------------------- formatting

def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _num(v: Any, fmt: str = ".1f") -> str:
    return "n/a" if _missing(v) else format(float(v), fmt)


def _signed(v: Any) -> str:
    return _num(v, "+.1f")


def _int(v: Any) -> str:
    return "n/a" if _missing(v) else str(int(round(float(v))))


def _value(key: str, fmt: str = ".1f") -> Callable[[Metrics], str]:
    return lambda m: _num(m.get(key), fmt)


def _pair(first: str, second: str, fmt: str = ".1f", sign: bool = False) -> Callable[[Metrics], str]:
    def cell(m: Metrics) -> str:
        a, b = m.get(first), m.get(second)
        if _missing(a) and _missing(b):
            return "n/a"
        f = _signed if sign else (lambda v: _num(v, fmt))
        return f"{f(a)} / {f(b)}"
    return cell


def _with_chance(key: str, chance: str) -> Callable[[Metrics], str]:
    def cell(m: Metrics) -> str:
        if _missing(m.get(key)):
            return "n/a"
        return f"{_num(m.get(key))} (chance {_num(m.get(chance))})"
    return cell


def _gain(suffix: str, what: str = "rfd") -> Callable[[Metrics], str]:
    """A rank-1 gain (``<what>_gain_r1_<suffix>``: RFD's over B-F, or multi-resolution training's over
    HR-only training) with its 95% interval and units."""
    def cell(m: Metrics) -> str:
        mean = m.get(f"{what}_gain_r1_{suffix}")
        if _missing(mean):
            return "n/a"
        low, high = m.get(f"{what}_gain_r1_{suffix}_ci_low"), m.get(f"{what}_gain_r1_{suffix}_ci_high")
        units = _int(m.get(f"{what}_gain_units_{suffix}"))
        interval = "not testable" if _missing(low) or _missing(high) else f"[{_signed(low)}, {_signed(high)}]"
        return f"{_signed(mean)} {interval}, {units} units"
    return cell


#: lambda as ``metrics.json`` keeps it (0.05 is a value lambda sweeps take: one decimal would show 0.1)
LAMBDA_FORMAT = f".{registry.headline_decimals()['lambda_chosen']}f"

#: The headline rows: (what the row says, the ``metrics.json`` keys it reads, how the cell is
#: made). A row is shown when at least one study has a value for it.
ROWS: tuple[tuple[str, str, Callable[[Metrics], str]], ...] = (
    ("B-F rank-1, HR / LR queries (%)", "bf_hr_to_hr_r1, bf_lr_to_hr_r1", _pair("bf_hr_to_hr_r1", "bf_lr_to_hr_r1")),
    ("B-F rank-1 on LR queries, std between units (points)", "bf_lr_to_hr_r1_unit_std",
     _value("bf_lr_to_hr_r1_unit_std")),
    ("HR-only B-F rank-1, HR / LR queries (%)", "hr_only_bf_hr_to_hr_r1, hr_only_bf_lr_to_hr_r1",
     _pair("hr_only_bf_hr_to_hr_r1", "hr_only_bf_lr_to_hr_r1")),
    ("B-F / HR-only B-F rank-1 on LR queries, mean over units (%)", "bf_lr_to_hr_r1_mean, hr_only_bf_lr_to_hr_r1_mean",
     _pair("bf_lr_to_hr_r1_mean", "hr_only_bf_lr_to_hr_r1_mean")),
    ("multi-resolution training over HR-only, LR queries (R1 points, 95% interval)", "mlr_gain_r1_lr_query",
     _gain("lr_query", what="mlr")),
    ("B-F / HR-only B-F rank-1 on HR queries, mean over units (%)", "bf_hr_to_hr_r1_mean, hr_only_bf_hr_to_hr_r1_mean",
     _pair("bf_hr_to_hr_r1_mean", "hr_only_bf_hr_to_hr_r1_mean")),
    ("multi-resolution training over HR-only, HR queries (R1 points, 95% interval)", "mlr_gain_r1_hr_query",
     _gain("hr_query", what="mlr")),
    ("RFD over B-F, LR queries (R1 points, 95% interval)", "rfd_gain_r1_lr_query", _gain("lr_query")),
    ("RFD over B-F, multi-resolution gallery", "rfd_gain_r1_multi_res_gallery", _gain("multi_res_gallery")),
    ("RFD over B-F, CAVIAR-like single-resolution", "rfd_gain_r1_caviar_lr_query", _gain("caviar_lr_query")),
    ("RFD over B-F, CAVIAR-like multi-resolution", "rfd_gain_r1_caviar_multi_res_gallery",
     _gain("caviar_multi_res_gallery")),
    ("B-R accuracy on the factor classes (%)", "br_accuracy", _with_chance("br_accuracy", "br_chance")),
    ("pseudo-label B-R balanced accuracy (%)", "br_pseudo_balanced_accuracy",
     _with_chance("br_pseudo_balanced_accuracy", "br_pseudo_chance")),
    ("pseudo-label B-R balanced accuracy, every retrained split: pooled / mean of the splits (%)",
     "br_pseudo_balanced_accuracy_pooled, br_pseudo_balanced_accuracy_unit_mean",
     _pair("br_pseudo_balanced_accuracy_pooled", "br_pseudo_balanced_accuracy_unit_mean")),
    ("camera cue kappa, all images / matched sample", "camera_cue_kappa, camera_cue_kappa_matched",
     _pair("camera_cue_kappa", "camera_cue_kappa_matched", ".2f")),
    ("PS-HRNet rank-1 on LR queries (%)", "ps_hrnet_lr_to_hr_r1", _value("ps_hrnet_lr_to_hr_r1")),
    ("restoration error, VDSR-CA / interpolation (MAE, % of range)", "vdsr_mae, interp_mae",
     _pair("vdsr_mae", "interp_mae")),
    ("control, LR queries / multi-res. gallery (R1 points): camera oracle", "control_gain_r1_*_camera_oracle",
     _pair("control_gain_r1_lr_query_camera_oracle", "control_gain_r1_multi_res_gallery_camera_oracle", sign=True)),
    ("control: resolution oracle", "control_gain_r1_*_resolution_oracle",
     _pair("control_gain_r1_lr_query_resolution_oracle", "control_gain_r1_multi_res_gallery_resolution_oracle",
           sign=True)),
    ("control: B-R trained on shuffled labels", "control_gain_r1_*_shuffled_br",
     _pair("control_gain_r1_lr_query_shuffled_br", "control_gain_r1_multi_res_gallery_shuffled_br", sign=True)),
    ("control: a second B-F subtracted", "control_gain_r1_*_second_bf_subtracted",
     _pair("control_gain_r1_lr_query_second_bf_subtracted", "control_gain_r1_multi_res_gallery_second_bf_subtracted",
           sign=True)),
    ("chosen on validation identities: lambda / pseudo-label bins", "lambda_chosen, pseudo_bins_chosen",
     lambda m: "n/a" if _missing(m.get("lambda_chosen")) and _missing(m.get("pseudo_bins_chosen"))
     else f"{_num(m.get('lambda_chosen'), LAMBDA_FORMAT)} / {_int(m.get('pseudo_bins_chosen'))}"),
)


def _short(commit: Any) -> str:
    return str(commit)[:7] if commit else "?"


def _made_by(info: Mapping[str, Any]) -> tuple[str, str, str]:
    """(commit and tree, processor, precision) from ``run_info.json``, read defensively."""
    code = info.get("code") if isinstance(info.get("code"), dict) else {}
    prec = info.get("precision") if isinstance(info.get("precision"), dict) else {}
    commit = f"`{_short(code.get('commit'))}`" + (f" ({code['tree']} tree)" if code.get("tree") else "")
    processor = str(prec.get("cpu_model") or info.get("machine") or "?")
    if prec.get("cpu_flags"):   # "AMD EPYC" names three classes seen here: the flags tell them apart
        processor = f"{processor} ({prec.get('torch_cpu_capability') or ', '.join(prec['cpu_flags'])}" + \
                    (", AVX512-BF16" if "avx512_bf16" in prec["cpu_flags"] else "") + \
                    (", AMX" if any(f.startswith("amx") for f in prec["cpu_flags"]) else "") + ")"
    if str(info.get("device", prec.get("device", "cpu"))).startswith("cuda"):
        processor = f"{processor}, {info.get('device')}"
    return commit, processor, str(prec.get("precision") or "?")


def _notebook_groups(info: Mapping[str, Any]) -> dict[str, list[str]]:
    """"commit, processor, precision" -> the notebooks made so, from ``run_info.json``'s per-notebook
    records (``notebooks``: ``{name: {"commit", "cpu_model", "precision", ...}}``) where present."""
    record = info.get("notebooks")
    if not isinstance(record, dict):
        return {}
    groups: dict[str, list[str]] = {}
    for name, entry in record.items():
        if not isinstance(entry, dict):
            continue
        code = entry.get("code") if isinstance(entry.get("code"), dict) else {}
        made = [f"`{_short(entry.get('commit') or code.get('commit'))}`",
                *(str(entry[k]) for k in ("cpu_model", "precision") if entry.get(k))]
        groups.setdefault(", ".join(made), []).append(str(name))
    return groups


def _minutes(metrics: Metrics, info: Mapping[str, Any]) -> Any:
    """The study's recorded wall time: ``metrics.json``'s, else ``run_info.json``'s ``reproduce_minutes``."""
    value = metrics.get("reproduce_minutes")
    return info.get("reproduce_minutes") if _missing(value) else value


def _claims(folder: Path) -> list[dict]:
    """The claims rows the notebooks' results record, in notebook order."""
    rows = []
    for name in registry.notebooks():
        for row in (_json(folder / f"{name}.json").get("data") or {}).get("claims") or []:
            if isinstance(row, dict):
                rows.append({**row, "notebook": name})
    return rows


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# ------------------------------------------------------------------------------ render

def render(results: Path) -> str:
    """The generated block (markers included) for the studies in ``results``."""
    results = Path(results)
    found = studies(results)
    metrics = {name: _json(folder / "metrics.json") for name, folder in found}
    infos = {name: _json(folder / "run_info.json") for name, folder in found}
    label = {name: ("`results/`" if folder == results else f"`results/{name}/`") for name, folder in found}
    lines = [BEGIN,
             f"*Rendered from `{COMMITTED_RESULTS}/` (each study's `metrics.json`, `run_info.json` and claims) by "
             "`python -m reidlab.study.show.readme_numbers`; do not edit by hand. The wall time is the one the study "
             "recorded (`reproduce_minutes`).*", "",
             "| study | profile | dataset | made at commit | processor | precision | recorded wall time (min) |",
             "|---|---|---|---|---|---|---|"]
    for name, _ in found:
        info = infos[name]
        commit, processor, precision = _made_by(info)
        lines.append(f"| {name} ({label[name]}) | {_cell(info.get('profile', '?'))} | {_cell(info.get('dataset', '?'))} "
                     f"| {commit} | {_cell(processor)} | {_cell(precision)} | {_num(_minutes(metrics[name], info))} |")
    notes = []
    for name, _ in found:
        groups = _notebook_groups(infos[name])
        if len(groups) > 1:
            notes.append(f"The {name} study's notebooks were made by different code or processors: "
                         + "; ".join(f"{made}: {', '.join(nbs)}" for made, nbs in groups.items()) + ".")
        why = infos[name].get("reproduce_minutes_note")
        if _missing(_minutes(metrics[name], infos[name])) and why:
            notes.append(f"No wall time for the {name} study: {why}.")
    if notes:
        lines += ["", *notes]
    lines += ["", "| number | `metrics.json` key | " + " | ".join(name for name, _ in found) + " |",
              "|---|---|" + "---|" * len(found)]
    for text, keys, cell in ROWS:
        cells = [cell(metrics[name]) for name, _ in found]
        if all(c == "n/a" for c in cells):
            continue
        lines.append(f"| {text} | `{keys}` | " + " | ".join(cells) + " |")
    claims = [(name, row) for name, folder in found for row in _claims(folder)]
    if claims:
        lines += ["", "RFD's claims against the paper's own effect (the interval is over independently trained "
                  "units):", "",
                  "| study | claim | data | paper's effect (R1) | our effect (R1) | 95% interval | units | verdict |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, row in claims:
            lines.append("| " + " | ".join(_cell(v) for v in (
                name, row.get("claim", "?"), row.get("data (ours)", "?"), row.get("paper's effect (R1)", "?"),
                row.get("our effect (R1)", "?"), row.get("95% interval", "?"), row.get("units", "?"),
                row.get("verdict", "?"))) + " |")
    lines.append(END)
    return "\n".join(lines)


# ------------------------------------------------------------------------------ update

def generated_block(text: str, readme: Path | str = "README.md") -> str:
    """The block of ``text`` between :data:`BEGIN` and :data:`END` (markers included); a
    ``ValueError`` naming ``readme`` when the markers are missing or out of order."""
    start = text.find(BEGIN)
    end = text.find(END, start + len(BEGIN)) if start >= 0 else -1
    if start < 0 or end < 0:
        raise ValueError(f"{readme}: no generated headline-numbers block; it must hold the line {BEGIN!r} "
                         f"and, below it, {END!r} (python -m reidlab.study.show.readme_numbers writes between them)")
    return text[start:end + len(END)]


def is_current(readme: Path = README, results: Path = RESULTS) -> bool:
    """Whether ``readme``'s generated block equals :func:`render` of ``results``."""
    readme = Path(readme)
    return generated_block(readme.read_text(encoding="utf-8"), readme) == render(results)


def update(readme: Path = README, results: Path = RESULTS) -> bool:
    """Rewrite ``readme``'s generated block from ``results`` (atomically); ``True`` when it changed."""
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    new = text.replace(generated_block(text, readme), render(results), 1)
    if new != text:
        atomic_write_text(readme, new)
    return new != text


def refresh(results: Path) -> bool:
    """After the pipeline rewrote ``results`` (``reproduce``, ``report``, ``figures``): when it is
    the committed ``results/`` or a dataset arm inside it, rewrite ``README.md``'s block from the
    committed ``results/``; any other folder (tests, ``check-results``, ad-hoc runs) leaves the
    README alone. ``True`` when the README changed."""
    if not is_committed_results(results):
        return False
    changed = update(README, RESULTS)
    if changed:
        print(f"[reidlab] {README.name}: headline numbers regenerated from {COMMITTED_RESULTS}/", flush=True)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlab.study.show.readme_numbers", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare (exit 1 when the block is stale)")
    parser.add_argument("--readme", type=Path, default=README, help="the README to update (default: README.md)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results folder (default: results/)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            if not is_current(args.readme, args.results):
                print(f"{args.readme}: the generated headline-numbers block ({BEGIN}) is stale against "
                      f"{args.results}; run `python -m reidlab.study.show.readme_numbers`", file=sys.stderr)
                return 1
            print(f"{args.readme}: headline numbers up to date")
            return 0
        print(f"{args.readme}: {'updated' if update(args.readme, args.results) else 'up to date'}")
    except ValueError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
