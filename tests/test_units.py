"""Training units as jobs (reidlab/study/drive/units.py, issue 23): `plan` lists every unit the smoke
study trains; jobs (2 local processes, or submitit's local executor) train the weights this
process trains; after `train-units` every run the notebooks train exists, finished, with the
sequential run's weights.

The end-to-end test compares with the smoke run of `make test` (nbval, sequential, in
``REIDLAB_SMOKE_BUILD``: its runs are not trained twice by running the notebooks again) or,
run alone, with a sequential smoke run of its own.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from reidlab.study.drive import units
from reidlab.study.drive.pipeline import smoke_parameters

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def smoke_params(tmp_path_factory: pytest.TempPathFactory) -> dict:
    build = tmp_path_factory.mktemp("units")
    return {k: v for k, v in smoke_parameters(build).items() if k != "results_dir"}


def test_every_notebook_that_trains_lists_units(smoke_params) -> None:
    requests = units.study_units(smoke_params)
    by_notebook = {n for r in requests for n in r.notebooks}
    assert by_notebook == {"01_train_bf", "02_train_br", "03_rfd_eval", "04_ablations", "05_per_split_plot",
                           "06_ps_hrnet", "07_controls", "09_training_length_sweep"}
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
@pytest.mark.parametrize("executor", ["local", "submitit-local"])
def test_jobs_train_the_same_weights_as_this_process(executor, smoke_params, tmp_path) -> None:
    """2 jobs side by side through ``executor`` (local processes, or submitit's local executor:
    the code path a SLURM job runs, a pickled :func:`train_unit` in a process of its own): the B-R
    units of notebook 02 (light B-R, no pre-training) trained there equal the same units trained
    in this process."""
    if executor.startswith("submitit"):
        pytest.importorskip("submitit")
    params = {**smoke_params, "runs_dir": str(tmp_path / "jobs")}
    done = units.train_units(params, jobs=2, executor=executor, notebooks=["02_train_br"], log=lambda _: None)
    assert len(done) == 2 and all(d["kind"] == "br" for d in done)
    for req in units.study_units(params, notebooks=["02_train_br"]):
        here = Path(units.train_unit(req, str(tmp_path / "here"))["run"])
        there = units.unit_run(req, params["runs_dir"])
        assert there is not None and there.name == here.name
        a, b = _weights(there), _weights(here)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    planned = units.planned_units(units.study_units(params, notebooks=["02_train_br"]), params["runs_dir"])
    assert all(u.finished for u in planned)


def _finished_runs(runs: Path) -> dict[str, Path]:
    """Every finished training run under ``runs`` (a folder with ``model.pt`` and ``summary.json``)
    by its identity (``config.json``) with the runs folder's own path taken out: a B-F names the
    pre-training stand-in it starts from by its file under ``runs``, so the same unit trained
    into another runs folder differs only there."""
    import json

    root = str(runs.resolve())
    found = {}
    for summary in runs.rglob("summary.json"):
        folder = summary.parent
        if (folder / "model.pt").is_file():
            identity = (folder / "config.json").read_text().replace(root, "<runs>").replace(str(runs), "<runs>")
            found[f"{folder.parent.relative_to(runs)}: {json.dumps(json.loads(identity), sort_keys=True)}"] = folder
    return found


@pytest.mark.slow
def test_after_train_units_the_notebooks_train_nothing_and_agree_with_the_sequential_run(tmp_path) -> None:
    """Every run the sequential smoke study's notebooks trained (`make test`'s nbval run, in
    ``REIDLAB_SMOKE_BUILD``; run alone, one of its own) is a unit `train-units` trains, under the
    same identity (so a notebook run after `train-units` finds it finished and trains nothing),
    with the very same weights (so it gives the sequential run's metrics). Units the notebooks did
    not need are only speculative ones (notebook 04's pseudo-bin candidates)."""
    from reidlab.study.drive.pipeline import run_notebook
    from reidlab.study.show.registry import notebooks

    NOTEBOOKS = notebooks()

    given = os.environ.get("REIDLAB_SMOKE_BUILD")
    sequential = Path(given) if given else None
    if sequential is None or not all((sequential / "results" / f"{n}.json").is_file() for n in NOTEBOOKS):
        sequential = tmp_path / "sequential"
        for name in NOTEBOOKS:
            run_notebook(name, smoke_parameters(sequential), sequential / "executed", log_output=False)
    build = tmp_path / "parallel"
    # the same generated data (a run's identity names its images by path), runs of its own
    params = {**{k: v for k, v in smoke_parameters(build).items() if k != "results_dir"},
              "data_root": smoke_parameters(sequential)["data_root"]}
    done = units.train_units(params, jobs=1, executor="local", log=lambda _: None)
    planned = units.planned_units(units.study_units(params), params["runs_dir"])
    assert all(u.finished or u.request.speculative for u in planned)

    notebooks_trained = _finished_runs(sequential / "runs")
    jobs_trained = _finished_runs(Path(params["runs_dir"]))
    assert notebooks_trained, f"no finished run under {sequential / 'runs'}"
    missing = sorted(str(notebooks_trained[k]) for k in set(notebooks_trained) - set(jobs_trained))
    assert not missing, f"runs the notebooks trained that train-units did not (a notebook would train them): {missing}"
    speculative = {u.run.resolve() for u in planned if u.request.speculative and u.run is not None}
    extra = sorted(str(jobs_trained[k]) for k in set(jobs_trained) - set(notebooks_trained)
                   if jobs_trained[k].resolve() not in speculative)
    assert not extra, f"units train-units trained that no notebook uses: {extra}"
    # a unit may train several runs (PS-HRNet: teacher, VDSR-CA warm-up, student); each names one of them
    assert done and {Path(d["run"]).resolve() for d in done} <= {p.resolve() for p in jobs_trained.values()}
    for name, run in notebooks_trained.items():
        a, b = _weights(run), _weights(jobs_trained[name])
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), f"{name}: weights differ"


def dying_worker(req, runs_root, **_):
    """A stand-in for train_unit whose process dies (as under kill -9) on the pseudo-label B-R."""
    if "pseudo-labels" in req.label:
        os._exit(9)
    return {"kind": req.kind, "unit": req.label, "run": str(Path(runs_root) / req.label), "seconds": 0.0}


def test_a_lost_worker_is_reported_by_unit_with_rerun_to_resume(smoke_params) -> None:
    """Issue 35: a `train-units --jobs 2` worker killed with kill -9 gave a bare BrokenProcessPool."""
    requests = [r for r in units.study_units(smoke_params, notebooks=["02_train_br"])]
    assert any("pseudo-labels" in r.label for r in requests)
    with pytest.raises(SystemExit) as stopped:
        units._run_jobs(requests, smoke_params["runs_dir"], jobs=2, executor="local", threads=1,
                        folder=Path(smoke_params["runs_dir"]) / "jobs", slurm=None, log=lambda _: None,
                        work=dying_worker)
    message = str(stopped.value)
    assert "a worker process was lost" in message and "rerun the same command to resume" in message
    lost = next(r for r in requests if "pseudo-labels" in r.label)
    assert lost.label in message and "run folder" in message


def test_a_unit_another_launcher_holds_is_waited_for(monkeypatch, smoke_params) -> None:
    """Issue 35: two launchers on one runs folder both failed with RunLockedError although every
    unit finished: the second waits for the run the first holds, then finds it finished."""
    from reidlab.engine.run_identity import RunLockedError

    calls = []

    def held_twice(req, runs_root):
        calls.append(req.label)
        if len(calls) <= 2:
            raise RunLockedError("runs/x is being written by another process (pid 1)")
        return Path(runs_root) / "finished-by-the-other"

    monkeypatch.setattr(units, "_train_or_find", held_twice)
    monkeypatch.setattr(units, "LOCK_POLL_SECONDS", 0.01)
    req = units.study_units(smoke_params, notebooks=["02_train_br"])[0]
    res = units.train_unit(req, smoke_params["runs_dir"])
    assert res["run"].endswith("finished-by-the-other") and len(calls) == 3
    assert res["waited_for_another_launcher_s"] > 0
    monkeypatch.setattr(units, "LOCK_WAIT_SECONDS", 0.0)          # a holder that never lets go: the error stays
    calls.clear()
    with pytest.raises(RunLockedError):
        units.train_unit(req, smoke_params["runs_dir"])


#: each default rule a notebook resolves from its parameters (its one home is a compute module)
DEFAULT_RULES = ("trains_attention_free_baseline", "with_second_table4_set", "pseudo_validation_units",
                 "ps_hrnet_units", "replication_units", "default_lengths", "multires_companion")


def _notebook_code(name: str) -> str:
    import json

    from reidlab.paths import repo_root

    cells = json.loads((repo_root() / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_each_notebook_reads_its_settings_from_its_registered_plan() -> None:
    """Issue 34: what a notebook trains is written once, in its plan (reidlab/study/compute/plans.py): the
    notebook calls the plan registered for it and reads its settings there, the planner only loops over the
    plans, and no default rule is applied by a notebook or by the planner itself."""
    import inspect

    from reidlab.study.compute import plans
    from reidlab.study.show import registry

    planned = [name for name in registry.notebooks() if registry.entry(name).plan is not None]
    assert planned == ["01_train_bf", "02_train_br", "03_rfd_eval", "04_ablations", "05_per_split_plot",
                       "06_ps_hrnet", "07_controls", "09_training_length_sweep"]
    for name in planned:
        code = _notebook_code(name)
        make = registry.entry(name).plan
        assert make.__module__ == plans.__name__, f"{name}'s plan is not in reidlab/study/compute/plans.py"
        if name != "05_per_split_plot":   # 05's one setting (the bins 04 chose) reaches it through its profile
            assert f"PLAN = plans.{make.__name__}(globals()" in code, f"{name} does not read its settings from its plan"
        for rule in DEFAULT_RULES:
            assert f"{rule}(" not in code, f"{name} applies the default rule {rule} itself instead of reading its plan"
    planner = inspect.getsource(units)
    for rule in (*DEFAULT_RULES, "trial_units", "validation_units"):
        assert f"{rule}(" not in planner, f"the planner lists units through {rule} instead of the notebooks' plans"
    for copied in ('prof.name == "smoke"', '== "paper"', '== "quick"', "min(3, "):
        assert copied not in planner and copied not in inspect.getsource(plans), f"a default rule is copied: {copied}"


@pytest.fixture(scope="module")
def small_dataset(smoke_params):
    """The smoke study's synthetic dataset: small enough to plan every profile on (planning only)."""
    from reidlab.config import get_profile, override
    from reidlab.data import prepare_dataset

    prof = get_profile("smoke")
    return prepare_dataset(override(prof, data={"data_root": smoke_params["data_root"]}).data, progress=False)


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_the_plans_resolve_their_defaults_in_every_profile(profile, small_dataset, smoke_params) -> None:
    """What each plan resolves its defaults to in each profile, and that its units follow its settings
    (planning only, nothing trained)."""
    from collections import Counter

    from reidlab.config import get_profile
    from reidlab.study.compute import plans

    prof = get_profile(profile)
    ds = small_dataset
    params = {"profile": profile, "runs_dir": smoke_params["runs_dir"]}
    n_units = prof.eval.seeds if ds.fixed_split else prof.eval.splits

    bf = plans.bf_training_plan(params, profile=prof, dataset=ds)
    assert bf.train_baseline is (profile == "smoke")
    assert plans.bf_training_plan({**params, "train_baseline": True}, profile=prof, dataset=ds).train_baseline
    labels = [u.label for u in bf.training_units()]
    assert ("baseline (no attention)" in labels) is bf.train_baseline
    assert sum(lab.startswith("B-F trained on HR only, ") for lab in labels) == min(prof.eval.trials, n_units)

    assert plans.rfd_eval_plan(params, profile=prof, dataset=ds).train_if_missing is (profile != "paper")
    assert not list(plans.rfd_eval_plan({**params, "bf_dir": "x"}, profile=prof, dataset=ds).training_units())

    ab = plans.ablations_plan(params, profile=prof)   # settings only: its units prepare Table 4's datasets
    assert list(ab.table4_sets) == (["Market-like", "Duke-like"] if profile == "paper" else ["Market-like"])
    assert ab.pseudo_val_units == (2 if profile == "quick" else None)
    assert plans.ablations_plan({**params, "pseudo_val_units": 3}, profile=prof).pseudo_val_units == 3
    assert ab.pseudo_candidates == (("equal-width", 3), ("equal-width", 5), ("equal-width", 7))

    ps = plans.ps_hrnet_plan(params, profile=prof, dataset=ds)
    assert ps.n_units == n_units and ps.trials >= ps.n_units   # every unit the study has
    assert plans.ps_hrnet_plan({**params, "ps_units": 1}, profile=prof, dataset=ds).n_units == 1
    kinds = Counter(u.kind for u in ps.training_units())
    assert kinds["ps_hrnet"] == len(ps.protocols) * min(ps.trials, ps.n_units)

    ctl = plans.controls_plan(params, profile=prof, dataset=ds)
    assert ctl.n_units == n_units and ctl.second_bf and ctl.shuffled_br
    off = plans.controls_plan({**params, "second_bf": False}, profile=prof, dataset=ds)
    assert not any(u.label.startswith("second B-F") for u in off.training_units())

    if profile == "paper":   # no default sweep lengths: the notebook asks for them
        with pytest.raises(ValueError, match="lengths"):
            plans.length_sweep_plan(params, profile=prof, dataset=ds)
    else:
        assert plans.length_sweep_plan(params, profile=prof, dataset=ds).lengths == (
            (1, 2) if profile == "smoke" else (1, 3, 8, 30))


def test_a_new_notebook_is_one_registration(tmp_path, smoke_params, monkeypatch) -> None:
    """Issue 34: registering one entry (builder, plan, headline keys) is all a new notebook needs besides its
    .ipynb: the study's notebook list, the pipeline's choices and files, the planner and metrics.json all
    follow from it."""
    from reidlab.study.compute.plans import NotebookPlan, UnitRequest
    from reidlab.study.drive import pipeline
    from reidlab.study.show import contract, registry

    class TenPlan(NotebookPlan):
        notebook = "10_new_study"

        def training_units(self):
            yield UnitRequest("bf", units_profile, None, notebooks=(self.notebook,), label="the new notebook's B-F")

    from reidlab.config import get_profile

    units_profile = get_profile("smoke")

    def build(results, value: float) -> contract.NotebookResult:
        result = contract.NotebookResult(notebook="10_new_study", title="10 · New", metrics={"new_metric": value})
        contract.write_result(results, result)
        return result

    entry = registry.NotebookEntry("10_new_study", build, lambda params: TenPlan(), headline={"new_headline": "new_metric"})
    assert "10_new_study" not in registry.notebooks()
    registry.register_notebook(entry)
    try:
        assert registry.notebooks()[-1] == "10_new_study"
        assert "10_new_study.json" in pipeline.result_files()
        assert registry.headline_spec()["new_headline"] == ("10_new_study", "new_metric", 1.0)
        assert [r.label for r in units.study_units(smoke_params, notebooks=["10_new_study"])] == [
            "the new notebook's B-F"]
        assert "10_new_study" in pipeline.build_parser().parse_args(["reproduce", "--only", "10_new_study"]).only
        build(tmp_path, 42.0)
        assert registry.headline_metrics(tmp_path)["new_headline"] == 42.0
        with pytest.raises(ValueError, match="registered already"):
            registry.register_notebook(entry)
        with pytest.raises(ValueError, match="belong to another notebook"):
            registry.register_notebook(registry.NotebookEntry("11_other", build, headline={"new_headline": "x"}))
    finally:
        registry.unregister_notebook("10_new_study")
    assert "10_new_study" not in registry.notebooks() and "new_headline" not in registry.headline_spec()
