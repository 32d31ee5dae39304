"""Training units as jobs (reidlab/study/units.py, issue 23): `plan` lists every unit the smoke
study trains; after `train-units` (2 local processes, or submitit's local executor) the
notebooks train nothing and give the sequential run's metrics.

The end-to-end test compares with the smoke run of `make test` (nbval, sequential, in
``REIDLAB_SMOKE_BUILD``) or, run alone, with a sequential smoke run of its own.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from reidlab.study import units
from reidlab.study.pipeline import smoke_parameters

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def smoke_params(tmp_path_factory: pytest.TempPathFactory) -> dict:
    build = tmp_path_factory.mktemp("units")
    return {k: v for k, v in smoke_parameters(build).items() if k != "results_dir"}


def test_every_notebook_that_trains_lists_units(smoke_params) -> None:
    requests = units.study_units(smoke_params)
    by_notebook = {n for r in requests for n in r.notebooks}
    assert by_notebook == {"01_train_bf", "02_train_br", "03_rfd_eval", "04_ablations", "05_per_split_plot",
                           "06_ps_hrnet", "07_controls"}
    kinds = {r.kind for r in requests}
    assert kinds == {"bf", "br", "ps_hrnet"}
    labels = [r.label for r in requests]
    assert "B-F trained on HR only" in labels and any("shuffled labels" in x for x in labels)


def test_plan_puts_pre_training_first_and_waits_for_it(smoke_params) -> None:
    planned = units.planned_units(units.study_units(smoke_params, notebooks=["01_train_bf"]),
                                  smoke_params["runs_dir"])
    assert planned[0].request.kind == "pretrain" and planned[0].run is not None and not planned[0].finished
    assert all(u.run is None for u in planned if u.request.kind == "bf")   # identity needs the backbone file
    table = units.plan_table(planned, images_per_second={"bf": 100.0, "pretrain": 100.0})
    assert list(table["state"]) == ["to train"] * len(planned) and (table["images"] > 0).all()
    assert table["hours"].ge(0).all()


def test_unknown_executor_and_jobs_are_refused(smoke_params) -> None:
    with pytest.raises(ValueError, match="executor"):
        units.train_units(smoke_params, executor="kubernetes")
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        units.train_units(smoke_params, jobs=0)


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "model.pt", map_location="cpu", weights_only=True)


@pytest.mark.slow
def test_submitit_local_executor_trains_the_same_weights_as_this_process(smoke_params, tmp_path) -> None:
    """submitit's local executor runs the same code path a SLURM job runs (a pickled
    :func:`train_unit` in a process of its own): B-R units of notebook 02 (light B-R, no
    pre-training) trained there equal the same units trained in this process."""
    pytest.importorskip("submitit")
    params = {**smoke_params, "runs_dir": str(tmp_path / "jobs")}
    done = units.train_units(params, jobs=2, executor="submitit-local", notebooks=["02_train_br"], log=lambda _: None)
    assert len(done) == 2 and all(d["kind"] == "br" for d in done)
    for req in units.study_units(params, notebooks=["02_train_br"]):
        here = Path(units.train_unit(req, str(tmp_path / "here"))["run"])
        there = units.unit_run(req, params["runs_dir"])
        assert there is not None and there.name == here.name
        a, b = _weights(there), _weights(here)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    planned = units.planned_units(units.study_units(params, notebooks=["02_train_br"]), params["runs_dir"])
    assert all(u.finished for u in planned)


@pytest.mark.slow
def test_after_train_units_the_notebooks_train_nothing_and_agree_with_the_sequential_run(tmp_path) -> None:
    from reidlab.paths import read_json
    from reidlab.study.contract import NOTEBOOKS, headline_metrics
    from reidlab.study.pipeline import reproduce, run_notebook

    given = os.environ.get("REIDLAB_SMOKE_BUILD")
    sequential = Path(given) if given else None
    if sequential is None or not all((sequential / "results" / f"{n}.json").is_file() for n in NOTEBOOKS):
        sequential = tmp_path / "sequential"
        for name in NOTEBOOKS:
            run_notebook(name, smoke_parameters(sequential), sequential / "executed", log_output=False)
    build = tmp_path / "parallel"
    params = {k: v for k, v in smoke_parameters(build).items() if k != "results_dir"}
    units.train_units(params, jobs=2, executor="local", log=lambda _: None)
    assert all(u.finished or u.request.speculative
               for u in units.planned_units(units.study_units(params), params["runs_dir"]))

    extra = {k: v for k, v in params.items() if k not in ("profile", "seed", "data_root", "runs_dir")}
    reproduce("smoke", 0, None, params["data_root"], 600, results_dir=str(build / "results"),
              allow_dirty=True, runs_dir=params["runs_dir"], notebook_params=extra)
    info = read_json(build / "results" / "run_info.json")
    assert info["trained_units"] == {n: 0 for n in NOTEBOOKS}, info["trained_units"]
    ours = read_json(build / "results" / "metrics.json")
    theirs = headline_metrics(sequential / "results")
    ours.pop("reproduce_minutes"); theirs.pop("reproduce_minutes")
    assert ours == theirs
