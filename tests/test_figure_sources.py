"""Issue 35, item 3: `make figures` verifies every figure and table source before using it.

A tiny results folder (two figures, one with images, and two tables in the study; a figure and a
table in a dataset arm) is written with the notebooks' writers (:func:`reidlab.study.show.figures.publish`
and :func:`~reidlab.study.show.figures.write_table`), which record each source file's SHA-256. Then one
source is damaged (a CSV cut short or edited, an unreadable ``figure.json`` or ``formats.json``, a
damaged ``.npz``, a missing file): :func:`~reidlab.study.show.figures.render_results` must raise a
``ValueError`` naming that file and what is wrong, and leave every file of the folder as it was
(bytes and modification times). An intact folder renders the same bytes again.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reidlab.study.show import figures, plots

PER_TRIAL = pd.DataFrame({"trial": range(4), "unit": [0, 1] * 2, "method": ["B-F"] * 4, "R1": [10.0, 20.0, 30.0, 40.0]})


def _canvas() -> figures.FigureSource:
    image = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    return figures.FigureSource("canvas", arrays={"canvas": image}, options={"title": "c", "pixels_per_inch": 20})


def _write_study(root: Path) -> None:
    plots.savefig(plots.per_split_plot(PER_TRIAL, methods=["B-F"]), root / "figures" / "fig5", show=False)
    figures.publish(_canvas(), root / "figures" / "canvas", plots.RENDERERS)
    figures.write_table(PER_TRIAL, root / "tables" / "per_trial", floatfmt=".2f")
    figures.write_table(pd.DataFrame({"method": ["B-F"], "R1": [25.0]}), root / "tables" / "summary")
    arm = root / "viper"
    plots.savefig(plots.per_split_plot(PER_TRIAL.assign(R1=PER_TRIAL["R1"] + 1), methods=["B-F"]),
                  arm / "figures" / "fig5", show=False)
    figures.write_table(PER_TRIAL, arm / "tables" / "per_trial")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("written") / "results"
    _write_study(root)
    return root


@pytest.fixture()
def results(written: Path, tmp_path: Path) -> Path:
    """A fresh copy of the written folder (times kept)."""
    return Path(shutil.copytree(written, tmp_path / "results"))


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))
            if p.is_file()}


def _outputs(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.suffix in (".png", ".pdf", ".md", ".tex")}


def _cut(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _edit_a_number(path: Path) -> None:
    text = path.read_text()
    assert "40.0" in text
    path.write_text(text.replace("40.0", "90.0"))     # still a well-formed CSV: only the digest tells


DAMAGES = {
    "truncated figure CSV": ("figures/data/fig5/per_trial.csv", _cut, "does not match the sha256"),
    "edited figure CSV": ("figures/data/fig5/per_trial.csv", _edit_a_number, "does not match the sha256"),
    "missing figure CSV": ("figures/data/fig5/per_trial.csv", Path.unlink, "is missing"),
    "damaged figure.json": ("figures/data/fig5/figure.json", _cut, "is not readable JSON"),
    "figure.json not a description": ("figures/data/fig5/figure.json", lambda p: p.write_text("[]\n"),
                                      "is not a figure source description"),
    "missing figure.json": ("figures/data/canvas/figure.json", Path.unlink, "is missing"),
    "damaged npz": ("figures/data/canvas/arrays.npz", _cut, "does not match the sha256"),
    "missing npz": ("figures/data/canvas/arrays.npz", Path.unlink, "is missing"),
    "truncated table CSV": ("tables/per_trial.csv", _cut, "does not match the sha256"),
    "emptied table CSV": ("tables/summary.csv", lambda p: p.write_bytes(b""), "does not match the sha256"),
    "damaged formats.json": ("tables/formats.json", _cut, "is not readable JSON"),
    "missing table CSV": ("tables/summary.csv", Path.unlink, "is missing"),
    "truncated CSV in a dataset arm": ("viper/tables/per_trial.csv", _cut, "does not match the sha256"),
    "truncated figure CSV in a dataset arm": ("viper/figures/data/fig5/per_trial.csv", _cut,
                                              "does not match the sha256"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_or_missing_source_is_named_and_nothing_is_rewritten(results: Path, damage: str):
    relative, spoil, what = DAMAGES[damage]
    spoil(results / relative)
    before = _snapshot(results)
    with pytest.raises(ValueError, match=what) as err:
        figures.render_results(results, plots.RENDERERS)
    assert str(results / relative) in str(err.value)
    assert "no figure or table" in str(err.value) and "was rewritten" in str(err.value)
    assert _snapshot(results) == before       # the same files, bytes and modification times


def _strip_digests(root: Path) -> None:
    """The folder as written before digests were recorded (figure.json without sha256,
    formats.json mapping a table to its float format only)."""
    for source in root.rglob("figure.json"):
        meta = json.loads(source.read_text())
        del meta["sha256"]
        source.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    for formats in root.rglob("formats.json"):
        entries = json.loads(formats.read_text())
        formats.write_text(json.dumps({k: v["floatfmt"] for k, v in entries.items()}, indent=1) + "\n")


@pytest.mark.parametrize("relative,spoil,what", [
    ("figures/data/fig5/per_trial.csv", _cut, "is truncated"),
    ("tables/summary.csv", lambda p: p.write_bytes(b""), "is an empty CSV"),
    ("figures/data/canvas/arrays.npz", _cut, "is not a readable .npz"),
    ("figures/data/fig5/figure.json", _cut, "is not readable JSON"),
    ("figures/data/fig5/per_trial.csv", Path.unlink, "is missing"),
])
def test_sources_written_before_digests_are_still_read_with_care(results: Path, relative, spoil, what):
    _strip_digests(results)
    spoil(results / relative)
    before = _snapshot(results)
    with pytest.raises(ValueError, match=what) as err:
        figures.render_results(results, plots.RENDERERS)
    assert str(results / relative) in str(err.value)
    assert _snapshot(results) == before


def test_sources_written_before_digests_render_with_a_one_line_note(results: Path, written: Path, capsys):
    _strip_digests(results)
    assert figures.render_results(results, plots.RENDERERS) == {"figures": 3, "tables": 3}
    note = [line for line in capsys.readouterr().out.splitlines() if "sha256" in line]
    assert len(note) == 1 and "6 figure/table sources" in note[0] and "unchecked" in note[0]
    assert _outputs(results) == _outputs(written)


def test_the_writers_record_each_source_files_digest(written: Path):
    meta = json.loads((written / "figures" / "data" / "canvas" / "figure.json").read_text())
    assert meta["sha256"] == {"arrays.npz": hashlib.sha256(
        (written / "figures" / "data" / "canvas" / "arrays.npz").read_bytes()).hexdigest()}
    formats = json.loads((written / "tables" / "formats.json").read_text())
    assert formats["per_trial"] == {"floatfmt": ".2f", "sha256": hashlib.sha256(
        (written / "tables" / "per_trial.csv").read_bytes()).hexdigest()}


def test_an_intact_folder_renders_the_same_bytes(results: Path, written: Path, capsys):
    before = _snapshot(results)
    assert figures.render_results(results, plots.RENDERERS) == {"figures": 3, "tables": 3}
    assert _snapshot(results) == before               # same bytes: nothing needed rewriting
    assert "sha256" not in capsys.readouterr().out    # no note: every source was checked
    for name in _outputs(results):
        (results / name).unlink()
    assert figures.render_results(results, plots.RENDERERS) == {"figures": 3, "tables": 3}
    assert _outputs(results) == _outputs(written)     # what the notebooks' writers wrote, byte for byte


def test_a_table_rewritten_by_its_notebook_records_its_new_digest(results: Path):
    figures.write_table(PER_TRIAL.assign(R1=PER_TRIAL["R1"] * 2), results / "tables" / "per_trial", floatfmt=".2f")
    assert figures.render_results(results, plots.RENDERERS)["tables"] == 3
    assert "80.00" in (results / "tables" / "per_trial.md").read_text()
