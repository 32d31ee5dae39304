"""The training-length sweep (notebook 09, reidlab/study/compute/length_sweep.py): lengths, profiles, summary, verdicts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reidlab.config import get_profile, override
from reidlab.study import methods
from reidlab.study.compute import controls, length_sweep
from reidlab.study.show.registry import notebooks, sweep_notebook

NOTEBOOKS, SWEEP_NOTEBOOK = notebooks(), sweep_notebook()
from reidlab.study.drive.pipeline import study_skips


def test_the_profile_length_is_the_study_itself_and_other_lengths_scale_br() -> None:
    quick = get_profile("quick")
    assert length_sweep.length_profile(quick, quick.bf.epochs) is quick     # the study's networks, reused
    short, long_ = length_sweep.length_profile(quick, 1), length_sweep.length_profile(quick, 30)
    assert (short.bf.epochs, long_.bf.epochs) == (1, 30)
    assert short.br.epochs == 1 and long_.br.epochs == round(quick.br.epochs * 30 / quick.bf.epochs)
    assert long_.br.min_iterations == round(quick.br.min_iterations * 30 / quick.bf.epochs)
    assert (short.model, short.eval) == (quick.model, quick.eval)
    # the pre-training stand-in trains the same fraction of its own length, warm-up included
    stand_in = quick.pretrain.schedule
    assert short.pretrain.schedule.iterations == round(stand_in.iterations / quick.bf.epochs)
    assert long_.pretrain.schedule.iterations == round(stand_in.iterations * 30 / quick.bf.epochs)
    assert long_.pretrain.schedule.warmup_iterations == round(stand_in.warmup_iterations * 30 / quick.bf.epochs)
    assert short.pretrain.hrnet_schedule == quick.pretrain.hrnet_schedule     # PS-HRNet is not swept
    assert [length_sweep.pretraining_iterations(p) for p in (short, quick, long_)] == [
        short.pretrain.schedule.iterations, stand_in.iterations, long_.pretrain.schedule.iterations]
    lengths = length_sweep.default_lengths(quick)
    assert len(lengths) >= 4 and max(lengths) / min(lengths) >= 30 and quick.bf.epochs in lengths


def test_a_profile_without_the_stand_in_keeps_its_start_at_every_length() -> None:
    scratch = override(get_profile("quick"), model={"pretrained": None})
    long_ = length_sweep.length_profile(scratch, 30)
    assert long_.pretrain == scratch.pretrain and length_sweep.pretraining_iterations(long_) == 0


def test_lengths_and_profiles_the_sweep_cannot_scale_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no default sweep lengths"):
        length_sweep.default_lengths(get_profile("paper"))
    for bad in ([], [0, 2], [2, 2], [1.5]):
        with pytest.raises(ValueError, match="lengths"):
            length_sweep._checked_lengths(bad)


def test_a_profile_with_lengths_in_iterations_trains_epochs_at_each_length() -> None:
    for name in ("smoke", "paper"):
        prof = get_profile(name)
        two = length_sweep.length_profile(prof, 2)
        assert (two.bf.epochs, two.bf.iterations_per_id, two.br.epochs, two.br.iterations_per_id) == (2, 0, 2, 0)
        assert two.model == prof.model and two.pretrain == prof.pretrain   # no length to scale the start from


def _frame(gains: dict[int, float], noise: float = 0.5) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for epochs, gain in gains.items():
        length = {"epochs": epochs, "iterations": 40 * epochs, "pretraining_iterations": 125 * epochs}
        for unit in range(3):
            for trial in (unit, unit + 3):
                bf = 20 + epochs + rng.normal(0, 2)
                at = {**length, "trial": trial, "unit": unit}
                for protocol in ("lr_query", "multi_res_gallery"):
                    rows.append({**at, "protocol": protocol, "method": controls.BF_COSINE, "R1": bf})
                    rows.append({**at, "protocol": protocol, "method": controls.RFD,
                                 "R1": bf + gain + rng.normal(0, noise)})
                rows.append({**at, "protocol": "lr_query", "method": methods.HR_ONLY_BF,
                             "R1": bf - 5 + rng.normal(0, noise)})
    return pd.DataFrame(rows)


def test_summary_reads_each_gain_over_units_at_each_length_and_the_verdict_against_the_paper() -> None:
    summary = length_sweep.sweep_summary(_frame({1: -3.0, 30: 1.5}), "similarity")
    assert set(summary.quantity) == {"RFD gain, LR queries", "RFD gain, multi-resolution gallery",
                                     "multi-resolution training gain"}     # no oracle rows in this frame
    rfd = summary[summary.quantity == "RFD gain, LR queries"].set_index("epochs")
    assert rfd.loc[1, "change"] == pytest.approx(-3.0, abs=1.0) and rfd.loc[30, "ci_low"] < 1.5 < rfd.loc[30, "ci_high"]
    assert (rfd.units == 3).all() and rfd.loc[30, "B-F LR rank-1"] > rfd.loc[1, "B-F LR rank-1"]
    mlr = summary[summary.quantity == "multi-resolution training gain"]
    assert (mlr.change > 3).all()
    text = " ".join(length_sweep.sweep_conclusions(summary, paper_effect=1.4))
    assert "the paper's +1.4 lies inside the longest length's interval" in text
    assert "(1 epochs, after 125 pre-training iterations)" in text and "(30 epochs, after 3750 pre-training" in text
    assert set(rfd["pre-training iterations"]) == {125, 3750}
    text = " ".join(length_sweep.sweep_conclusions(length_sweep.sweep_summary(_frame({1: -3.0, 30: -3.0}), "similarity"),
                                                   paper_effect=1.4))
    assert "the paper's +1.4 lies above the longest length's interval" in text


def test_make_reproduce_skips_the_sweep_and_make_sweep_runs_it_alone() -> None:
    assert SWEEP_NOTEBOOK in NOTEBOOKS
    assert SWEEP_NOTEBOOK in study_skips(None, sweep=False) and SWEEP_NOTEBOOK in study_skips("viper", sweep=False)
    assert set(study_skips(None, sweep=True)) == set(NOTEBOOKS) - {SWEEP_NOTEBOOK}
