"""The notebooks' results, read after the smoke run: invariants and ranges, not only execution.

`make test` runs nbval over the smoke notebooks first (``build/nbval``, named by
``REIDLAB_SMOKE_BUILD``); these tests read the results that run wrote. Run alone, they
execute the smoke notebooks themselves (about two minutes).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from reidlab.config import get_profile
from reidlab.study.show.contract import NotebookResult, read_result
from reidlab.study.show.registry import notebooks

NOTEBOOKS = notebooks()

SMOKE = get_profile("smoke")
PERCENT_METRICS = {
    "01_train_bf": ("bf_hr_to_hr_r1", "bf_lr_to_hr_r1", "chance_r1", "bf_hr_to_hr_map", "bf_lr_to_hr_map"),
    "02_train_br": ("br_accuracy", "br_chance"),
    "03_rfd_eval": ("bf_r1", "bf_map", "rfd_r1", "rfd_map"),
    "05_per_split_plot": ("bf_r1", "rfd_r1"),
    "06_ps_hrnet": ("ps_hrnet_lr_query_r1", "ps_hrnet_multi_res_gallery_r1", "bf_lr_query_r1"),
}
def _fresh(build: Path) -> bool:
    """Every notebook's result was written after the smoke notebooks were prepared (by the
    nbval run that follows `prepare-nbval`), so none is left over from older code."""
    prepared = [build / f"{n}.ipynb" for n in NOTEBOOKS]
    files = [build / "results" / f"{n}.json" for n in NOTEBOOKS]
    if not all(p.is_file() for p in prepared + files):
        return False
    return min(f.stat().st_mtime for f in files) >= max(p.stat().st_mtime for p in prepared)


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose ``results/`` holds this session's smoke results (nbval's, or our own run)."""
    given = os.environ.get("REIDLAB_SMOKE_BUILD")
    if given:
        from reidlab.paths import resolve

        build = resolve(given)
        if _fresh(build):
            return build
    pytest.importorskip("papermill")
    from reidlab.study.drive.pipeline import run_notebook, smoke_parameters

    build = tmp_path_factory.mktemp("smoke")
    for name in NOTEBOOKS:
        run_notebook(name, smoke_parameters(build), build / "executed", log_output=False)
    return build


@pytest.fixture(scope="session")
def results(smoke_build: Path) -> dict[str, NotebookResult]:
    return {name: read_result(smoke_build / "results" / f"{name}.json") for name in NOTEBOOKS}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_wrote_a_typed_result(results, name):
    result = results[name]
    assert result.notebook == name and result.title
    assert result.parameters["profile"] == "smoke"


@pytest.mark.parametrize("name", [n for n in NOTEBOOKS if n in PERCENT_METRICS])
def test_percent_metrics_are_in_range(results, name):
    for key in PERCENT_METRICS[name]:
        assert 0.0 <= results[name].metrics[key] <= 100.0, (name, key, results[name].metrics[key])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_figure_is_a_readable_image(results, smoke_build, name):
    for fig in results[name].figures:
        for suffix in (".png", ".pdf"):
            path = smoke_build / "results" / Path(fig.file).with_suffix(suffix)
            assert path.is_file() and path.stat().st_size > 0, path
        with Image.open(smoke_build / "results" / fig.file) as img:
            img.verify()
            assert img.width > 10 and img.height > 10
    for table in results[name].tables:
        assert (smoke_build / "results" / table.file).is_file()


def _image_outputs(smoke_build: Path) -> dict[str, int]:
    """Image outputs per notebook of this session's smoke run: counted by the nbval plugin
    (``-p tests.nbval_outputs``) or read off the executed copies of our own run."""
    import json

    import nbformat

    from tests.nbval_outputs import IMAGE_OUTPUTS_FILE, image_output_count

    record = smoke_build / IMAGE_OUTPUTS_FILE
    if record.is_file():
        return {k: v for k, v in json.loads(record.read_text()).items() if not k.startswith("_")}
    executed = smoke_build / "executed"
    if not executed.is_dir():
        pytest.skip(f"neither {record} (nbval run without -p tests.nbval_outputs) nor executed notebooks")
    return {name: sum(image_output_count(c.get("outputs")) for c in nbformat.read(executed / f"{name}.ipynb", 4).cells)
            for name in NOTEBOOKS}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_listed_figure_is_shown_in_its_notebook(results, smoke_build, name):
    """Issue 24: a figure is displayed in the notebook that makes it, not only written to a file."""
    shown = _image_outputs(smoke_build).get(name, 0)
    assert shown == len(results[name].figures), (
        f"{name} shows {shown} images but its result lists {len(results[name].figures)} figures")


def _per_trial_tables(smoke_build: Path) -> list[Path]:
    found = sorted((smoke_build / "results" / "tables").glob("*per_trial.csv")) + \
        [smoke_build / "results" / "tables" / "05_fig5_per_split.csv"]
    assert len(found) >= 4, found
    return found


def test_per_trial_metrics_are_percentages_and_cmc_is_non_decreasing(smoke_build):
    for path in _per_trial_tables(smoke_build):
        df = pd.read_csv(path)
        for m in ("R1", "R5", "R10", "mAP"):
            assert df[m].between(0, 100).all(), (path.name, m)
        assert (df["R1"] <= df["R5"] + 1e-9).all() and (df["R5"] <= df["R10"] + 1e-9).all(), path.name
        assert (df["queries"] <= df["queries_total"]).all() and (df["queries"] > 0).all(), path.name


def test_trials_are_as_many_as_requested(results, smoke_build):
    for name in ("03_rfd_eval", "05_per_split_plot"):
        assert results[name].counts["trials"] == SMOKE.eval.trials, name
    # PS-HRNet on every unit the study has (here all training seeds), their share of the trials
    assert results["06_ps_hrnet"].counts["trials"] == max(SMOKE.eval.seeds, SMOKE.eval.trials)
    per_trial = pd.read_csv(smoke_build / "results" / "tables" / "05_fig5_per_split.csv")
    assert sorted(per_trial["trial"].unique()) == list(range(SMOKE.eval.trials))
    assert per_trial.groupby("method").size().eq(SMOKE.eval.trials).all()


def test_query_counts_are_reported(results):
    for name in ("01_train_bf", "03_rfd_eval", "05_per_split_plot", "06_ps_hrnet"):
        c = results[name].counts
        assert 0 < c["queries_evaluated"] <= c["queries_total"], name


def test_br_chance_is_one_over_the_classes(results):
    r = results["02_train_br"]
    assert r.metrics["br_chance"] == pytest.approx(100 / r.parameters["n_res_classes"])


def test_restoration_errors_are_non_negative(results):
    m = results["06_ps_hrnet"].metrics
    assert m["vdsr_mae"] >= 0 and m["interp_mae"] > 0


def test_ps_hrnet_verdicts_state_both_training_lengths(results):
    """Notebook 06 says how long B-F and PS-HRNet trained, beside the verdicts comparing them."""
    lengths = [c for c in results["06_ps_hrnet"].conclusions if c.startswith("Training lengths")]
    assert len(lengths) == 1
    assert (f"B-F {SMOKE.bf.iterations} iterations of {SMOKE.bf.p * SMOKE.bf.k} images" in lengths[0]
            and f"teacher {SMOKE.ps.teacher.iterations} and student {SMOKE.ps.student.iterations} iterations" in lengths[0]
            and f"after {SMOKE.ps.vdsr_warmup_iterations} restoration-only iterations" in lengths[0])


def test_controls_keep_their_invariants(results, smoke_build):
    """Notebook 07: the resolution oracle cannot change an HR-only gallery's ranking; RFD's row
    is 03's B-F+RFD on the same models and draws; every verdict names its unit of replication."""
    r = results["07_controls"]
    assert r.metrics["control_gain_r1_lr_query_resolution_oracle"] == 0
    per_trial = pd.read_csv(smoke_build / "results" / "tables" / "07_per_trial.csv")
    lr = per_trial[per_trial.protocol == "lr_query"].pivot_table(index="trial", columns="method", values="mAP")
    assert (lr["B-F + resolution oracle"] == lr["B-F (cosine)"]).all()
    # the same B-F, B-R and draws as notebook 03 (lr_query, similarity reading): the same numbers
    from reidlab.study import methods

    nb03 = pd.read_csv(smoke_build / "results" / "tables" / "03_rfd_synth-market_lr_query_per_trial.csv")
    nb03 = nb03.pivot_table(index="trial", columns="method", values="mAP")
    assert np.allclose(nb03[methods.BF], lr["B-F (cosine)"]) and np.allclose(nb03[methods.BF_RFD], lr["B-F+RFD"])
    # smoke: 2 training seeds, so every verdict names them and none is testable (fewer than 3 units)
    assert r.counts["units"] == SMOKE.eval.seeds == 2
    assert all(f"n={SMOKE.eval.seeds} training seeds" in c and "not testable" in c for c in r.conclusions[:2])
    assert r.metrics["rfd_gain_units_lr_query"] == 2 and "rfd_gain_r1_lr_query_ci_low" not in r.metrics
    # each unit evaluates its own trials with its own models: trial t belongs to unit t % seeds
    assert (per_trial["unit"] == per_trial["trial"] % SMOKE.eval.seeds).all()


def test_table5_replicates_over_retrained_identity_splits(results, smoke_build):
    """Notebook 04: the CAVIAR-like Table 5 and Fig. 5 count retrained identity splits as units, and
    the pseudo-label bins Table 5 uses were chosen on validation identities."""
    r = results["04_ablations"]
    assert r.counts["units (CAVIAR-like identity splits)"] == SMOKE.eval.splits
    assert r.parameters["pseudo_bins (chosen)"] in (3, 5, 7) and r.metrics["pseudo_bins_chosen"] == r.parameters["pseudo_bins (chosen)"]
    assert r.metrics["rfd_gain_units_caviar_multi_res_gallery"] == SMOKE.eval.splits
    per5 = pd.read_csv(smoke_build / "results" / "tables" / "05_fig5_per_split.csv")
    assert sorted(per5["unit"].unique()) == list(range(SMOKE.eval.splits))
    assert any("retrained identity splits" in c for c in results["05_per_split_plot"].conclusions)


def test_pseudo_label_br_is_read_on_every_split_and_pooled(results, smoke_build):
    """Notebook 04: the pseudo-label B-R of every retrained CAVIAR-like split, on its held-out images,
    one row per split and a pooled row whose confusion is the splits' summed."""
    r = results["04_ablations"]
    table = pd.read_csv(smoke_build / "results" / "tables" / "04_pseudo_br_units.csv")
    units, pooled = table[table["unit"] != "pooled"], table[table["unit"] == "pooled"].iloc[0]
    assert len(units) == SMOKE.eval.splits == r.metrics["br_pseudo_units"]
    assert pooled["images"] == units["images"].sum() and pooled["smallest bin"] >= units["smallest bin"].min()
    assert r.metrics["br_pseudo_balanced_accuracy_pooled"] == pooled["balanced accuracy"]
    assert r.metrics["br_pseudo_balanced_accuracy_unit_mean"] == pytest.approx(units["balanced accuracy"].mean())
    assert 0 <= pooled["balanced accuracy"] <= 100 and 0 <= pooled["majority"] <= 100


def test_hr_queries_pair_bf_with_the_hr_only_bf_over_units(results, smoke_build):
    """Notebook 01: B-F and the HR-only B-F on HR queries, one pair per unit, paired over units."""
    r = results["01_train_bf"]
    units = SMOKE.eval.seeds
    assert r.metrics["mlr_gain_units_hr_query"] == units
    table = pd.read_csv(smoke_build / "results" / "tables" / "01_hr_queries.csv")
    assert len(table) == 2   # B-F and the HR-only B-F, mean ± std over the units
    gain = r.metrics["bf_hr_to_hr_r1_mean"] - r.metrics["hr_only_bf_hr_to_hr_r1_mean"]
    assert r.metrics["mlr_gain_r1_hr_query"] == pytest.approx(gain, abs=1e-6)


def test_rfd_with_lambda_zero_is_bf_alone(smoke_build, tmp_path):
    """Notebook 03 with -p lam 0 (reusing the smoke run's models): B-F+RFD equals B-F."""
    from reidlab.study.drive.pipeline import run_notebook, smoke_parameters

    params = {**smoke_parameters(smoke_build), "lam": 0.0, "results_dir": str(tmp_path)}
    run_notebook("03_rfd_eval", params, tmp_path / "executed", log_output=False)
    m = read_result(tmp_path / "03_rfd_eval.json").metrics
    assert m["rfd_r1"] == m["bf_r1"] and m["rfd_map"] == m["bf_map"] and m["rfd_gain_r1"] == 0


def test_headline_metrics_json_has_every_key(smoke_build):
    from reidlab.study.show.registry import headline_metrics, headline_spec

    HEADLINE_METRICS = headline_spec()

    metrics = headline_metrics(smoke_build / "results", wall_seconds=90)
    assert set(HEADLINE_METRICS) | {"reproduce_minutes"} == set(metrics)
    assert metrics["reproduce_minutes"] == 1.5
    for key in ("bf_hr_to_hr_r1", "bf_lr_to_hr_r1", "hr_only_bf_hr_to_hr_r1", "hr_only_bf_lr_to_hr_r1", "br_accuracy",
                "br_chance", "br_pseudo_accuracy", "br_pseudo_chance", "ps_hrnet_lr_to_hr_r1", "vdsr_mae", "interp_mae"):
        assert metrics[key] is not None and 0 <= metrics[key] <= 100 and round(metrics[key], 1) == metrics[key], key


def test_check_results_on_the_smoke_study(smoke_build: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    """`make check-results` on the smoke profile: the smoke study agrees with itself, and a
    headline number moved outside the tolerance the study's own between-unit spread gives fails
    the check, naming the key."""
    import json
    import shutil

    from reidlab.study.compute.check import SPREAD_KEY, SPREAD_MULTIPLIER, unit_spread
    from reidlab.study.show.registry import headline_metrics
    from reidlab.study.drive.pipeline import check_results_command

    reference, candidate = tmp_path / "reference", tmp_path / "candidate"
    for folder in (reference, candidate):
        shutil.copytree(smoke_build / "results", folder)
        metrics = headline_metrics(folder, 60.0)
        if not (metrics.get(SPREAD_KEY) or 0) > 0:   # the 2 smoke seeds tied: no spread to derive from
            metrics[SPREAD_KEY] = 5.0
        (folder / "metrics.json").write_text(json.dumps(metrics))
    assert check_results_command("smoke", 0, str(reference), str(candidate), run=False) == 0
    metrics = json.loads((candidate / "metrics.json").read_text())
    spread, _ = unit_spread(metrics)
    metrics["bf_hr_to_hr_r1"] += 1.01 * SPREAD_MULTIPLIER * spread
    (candidate / "metrics.json").write_text(json.dumps(metrics))
    assert check_results_command("smoke", 0, str(reference), str(candidate), run=False) == 1
    assert "bf_hr_to_hr_r1" in capsys.readouterr().out.splitlines()[-1]


def test_make_figures_rewrites_the_notebooks_figures_and_tables_byte_for_byte(smoke_build, tmp_path):
    """Issue 24: `make figures` renders every figure again from its stored data (no model) into the
    same bytes the notebook wrote, and every table's Markdown and LaTeX from its CSV."""
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "results"
    shutil.copytree(smoke_build / "results", copy)
    written = {p.relative_to(copy): p.read_bytes() for sub in ("figures", "tables") for p in (copy / sub).glob("*.*")
               if p.suffix in (".png", ".pdf", ".md", ".tex")}
    assert any(p.suffix == ".pdf" for p in written) and any(p.suffix == ".tex" for p in written)
    for p in written:
        (copy / p).unlink()
    subprocess.run([sys.executable, "-m", "reidlab.study.drive.pipeline", "figures", "--results-dir", str(copy)],
                   check=True, capture_output=True)
    again = {p.relative_to(copy): p.read_bytes() for sub in ("figures", "tables") for p in (copy / sub).glob("*.*")
             if p.suffix in (".png", ".pdf", ".md", ".tex")}
    assert again.keys() == written.keys()
    assert [str(p) for p in written if again[p] != written[p]] == []


def test_the_explorer_ranks_as_notebooks_03_and_05_scored(results, smoke_build):
    """Issue 24: notebook 08 recomputes each trial's rank-1 from the distances 03 and 05 stored:
    B-F alone exactly, B-F + RFD at the study's lambda to float rounding (Eq. 8 rebuilt as
    D(0) + lambda * (D(1) - D(0)))."""
    from reidlab.study import methods

    rank1 = pd.read_csv(smoke_build / "results" / "tables" / "08_rank1_from_stored_distances.csv")
    assert set(rank1["protocol"]) == {"lr_query", "multi_res_gallery"}
    for protocol, table in (("lr_query", "03"), ("multi_res_gallery", "05")):
        ours = rank1[rank1.protocol == protocol].set_index("trial")
        theirs = (pd.read_csv(next((smoke_build / "results" / "tables").glob("03_rfd_*_per_trial.csv")))
                  if table == "03" else pd.read_csv(smoke_build / "results" / "tables" / "05_fig5_per_split.csv"))
        bf = theirs[theirs.method == methods.BF].set_index("trial")["R1"]
        rfd = theirs[theirs.method == methods.BF_RFD].set_index("trial")["R1"]
        assert np.allclose(ours.loc[bf.index, "R1 at lambda 0"], bf, atol=1e-6), protocol
        assert np.allclose(ours.loc[rfd.index, "R1 at the study's lambda"], rfd, atol=1.0), protocol
    m = results["08_ranking_explorer"].metrics
    assert m["selected_bf_rank"] >= 1 and m["selected_rfd_rank"] >= 1
