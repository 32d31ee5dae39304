"""Per-notebook provenance in run_info.json (issue 32 item 1): records, --only, the committed folders."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from reidlab.study import provenance
from reidlab.study.show.registry import notebooks

NOTEBOOKS = notebooks()
from reidlab.study.provenance import (
    code_digest, folder_code, merge_records, notebook_record, provenance_problems, reproduce_minutes,
)

from conftest import REPO_ROOT, stale_results_warning

PRECISION = {"cpu_model": "AMD EPYC", "precision": "bf16"}
VERSION = {"commit": "a" * 40, "tree": "clean"}


def _record(seconds: float = 60.0, *, version=VERSION, digest: str = "d" * 16, outside=()) -> dict:
    return notebook_record(version=version, digest=digest, machine="x86_64, 2 CPU cores, no GPU", precision=PRECISION,
                           seconds=seconds, trained=["runs/a"], reused=["runs/b", *outside], reused_from_outside=outside,
                           finished="2026-12-07 00:00:00")


def _info(records: dict) -> dict:
    return {"notebooks": records, "code": folder_code(records)}


def test_records_of_one_run_agree_and_a_stitched_folder_is_named():
    one = {name: _record() for name in NOTEBOOKS[:3]}
    assert provenance_problems(_info(one)) == []
    assert folder_code(one) == {"commit": "a" * 40, "tree": "clean", "code_digest": "d" * 16}
    # reproduce --only at a later commit: that notebook's record only changes, and the folder is "mixed"
    stitched = merge_records(one, {NOTEBOOKS[1]: _record(version={"commit": "b" * 40, "tree": "clean"},
                                                         digest="e" * 16)}, NOTEBOOKS)
    assert stitched[NOTEBOOKS[0]] == one[NOTEBOOKS[0]] and stitched[NOTEBOOKS[2]] == one[NOTEBOOKS[2]]
    assert list(stitched) == list(NOTEBOOKS[:3])
    info = _info(stitched)
    assert info["code"]["commit"] == "mixed"
    problems = provenance_problems(info)
    assert any("disagree on commit" in p and NOTEBOOKS[1] in p for p in problems), problems
    assert any("disagree on code_digest" in p for p in problems), problems
    # a folder that declares a commit its notebooks were not made at
    lying = {**_info(one), "code": {"commit": "c" * 40, "code_digest": "d" * 16}}
    assert any("the folder declares" in p for p in provenance_problems(lying))
    assert "no per-notebook provenance" in provenance_problems({"code": VERSION})[0]


def test_reproduce_minutes_only_for_one_fresh_complete_run():
    records = {name: _record(30.0) for name in NOTEBOOKS}
    minutes, why = reproduce_minutes(records, ran=NOTEBOOKS, expected=NOTEBOOKS)
    assert minutes == pytest.approx(30.0 * len(NOTEBOOKS) / 60, abs=0.05) and why == "one fresh, complete run"
    minutes, why = reproduce_minutes(records, ran=NOTEBOOKS[:2], expected=NOTEBOOKS)
    assert minutes is None and "not one complete run" in why and NOTEBOOKS[-1] in why
    records["06_ps_hrnet"] = _record(20.0, outside=["runs/ps_unit_1", "runs/ps_unit_2"])
    minutes, why = reproduce_minutes(records, ran=NOTEBOOKS, expected=NOTEBOOKS)
    assert minutes is None and "06_ps_hrnet (2)" in why


def test_the_code_digest_sees_any_change_to_the_package_or_the_notebooks(tmp_path: Path):
    for rel in ("reidlab/a.py", "reidlab/sub/b.py", "notebooks/01_x.ipynb", "README.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    before = code_digest(tmp_path)
    (tmp_path / "README.md").write_text("prose only")                 # not code that computes numbers
    assert code_digest(tmp_path) == before
    (tmp_path / "reidlab/sub/b.py").write_text("changed")
    assert code_digest(tmp_path) != before
    assert code_digest(REPO_ROOT) == code_digest()


def test_make_test_warns_when_results_were_made_by_other_code(tmp_path: Path):
    (tmp_path / "reidlab").mkdir()
    (tmp_path / "reidlab" / "m.py").write_text("x = 1")
    (tmp_path / "results").mkdir()
    info = tmp_path / "results" / "run_info.json"
    info.write_text(json.dumps({"code": {"code_digest": code_digest(tmp_path)}}))
    assert stale_results_warning(tmp_path) is None
    (tmp_path / "reidlab" / "m.py").write_text("x = 2")
    warning = stale_results_warning(tmp_path)
    assert warning and "make reproduce" in warning and "does not fail" in warning


def _committed_folders() -> list[Path]:
    results = REPO_ROOT / "results"
    return [results, *(sub for sub in sorted(results.iterdir()) if (sub / "run_info.json").is_file())]


@pytest.mark.parametrize("folder", _committed_folders(), ids=lambda p: p.name)
def test_each_committed_results_folder_was_made_by_one_run(folder: Path):
    """Every notebook record of results/ and of each dataset arm names one commit, one code
    digest, one machine and precision, and the folder's declared commit (no stitching)."""
    info = json.loads((folder / "run_info.json").read_text())
    assert provenance_problems(info) == [], f"{folder}/run_info.json"
    ran = set(info["notebooks"])
    expected = {n for n in NOTEBOOKS if n not in info.get("skipped_notebooks", {})}
    assert ran == expected, f"{folder}: notebooks without a record: {sorted(expected - ran)}"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["reproduce_minutes"] == info["reproduce_minutes"]
    if info["reproduce_minutes"] is None:
        assert info["reproduce_minutes_note"]


def test_only_refuses_a_folder_of_another_study(tmp_path: Path):
    from reidlab.study.drive.pipeline import check_same_study

    previous = {"profile": "quick", "seed": 0, "dataset": "profile default", "mlr": "profile default"}
    check_same_study(previous, "quick", 0, None, None, str(tmp_path))
    with pytest.raises(SystemExit, match=r"another study \(profile 'quick' there, 'smoke' asked\)"):
        check_same_study(previous, "smoke", 0, None, None, str(tmp_path))
    with pytest.raises(SystemExit, match="dataset"):
        check_same_study(previous, "quick", 0, "viper", None, str(tmp_path))


def test_a_reused_run_is_logged_apart_from_a_trained_one(tmp_path: Path, monkeypatch):
    from reidlab.engine.train_or_load import TRAINED_LOG_ENV, log_trained_run, read_trained_log

    log = tmp_path / "log.jsonl"
    monkeypatch.setenv(TRAINED_LOG_ENV, str(log))
    log_trained_run("bf", Path("runs/x"))
    log_trained_run("bf", Path("runs/y"), reused=True)
    assert [e["run"] for e in read_trained_log(log)] == ["runs/x"]
    assert [e["run"] for e in read_trained_log(log, reused=True)] == ["runs/y"]
    assert provenance.AGREEING_FIELDS[0] == "commit"


def test_an_executed_copy_keeps_what_a_terminal_shows_of_its_progress_bars(tmp_path: Path):
    """coalesce_streams: consecutive stream outputs merge, a progress bar keeps only its last refresh per line,
    and every other output (figures, results) is left as it was."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from reidlab.study.drive.pipeline import coalesce_streams

    bar = [new_output("stream", name="stderr", text=f"\rB-F: {i:3d}%|") for i in range(0, 101, 10)]
    figure = new_output("display_data", data={"text/plain": "<Figure>"})
    cell = new_code_cell("train()", outputs=[new_output("stream", name="stdout", text="start\n"), *bar,
                                             new_output("stream", name="stderr", text="\n"), figure,
                                             new_output("stream", name="stdout", text="done\n")])
    path = tmp_path / "executed.ipynb"
    nbformat.write(new_notebook(cells=[cell]), str(path))
    coalesce_streams(path)
    outputs = nbformat.read(str(path), as_version=4).cells[0].outputs
    assert [(o.output_type, o.get("name")) for o in outputs] == [
        ("stream", "stdout"), ("stream", "stderr"), ("display_data", None), ("stream", "stdout")]
    assert outputs[1].text == "B-F: 100%|\n" and outputs[2] == figure and outputs[3].text == "done\n"
