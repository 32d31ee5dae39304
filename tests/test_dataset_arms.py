"""Every dataset the readers accept runs as an arm (issue 32 item 0): the smoke arm's notebooks
00-03 on each real set in ``../shared/data`` (VIPeR, PRID, GRID, mini-Market-1501), end to end
through ``reproduce`` as ``make reproduce DATASET=<name> DATA_ROOT=<folder>`` runs them. Images of
different sizes (GRID keeps every image at its native size) must not break any figure source.
Skipped, saying why, where ``../shared/data`` or a dataset's folder is absent."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SHARED_DATA, SHARED_DATA_MISSING

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

#: dataset name -> its folder under ../shared/data, and the MLR construction its arm uses
ARMS = {"viper": ("VIPeR", "camera"), "prid": ("PRID", "per-image"), "grid": ("GRID", None),
        "market1501": ("mini_market1501", "per-image")}
FIRST_NOTEBOOKS = ["00_data_synthesis", "01_train_bf", "02_train_br", "03_rfd_eval"]
#: smaller than smoke where a parameter allows: a few training steps, one trial, no comparison with
#: the other real sets (the arms prove that every figure source and step runs on the data, not
#: what the models learn)
TINY = {"iterations": 4, "trials": 1, "camera_cue_references": None}


@pytest.fixture(scope="module")
def arm_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """Notebooks 00-03 of the smoke arm on every dataset of ../shared/data that is present, in one
    process of their own (tests/notebooks_in_process.py: one interpreter and one set of imports
    for all 16 notebooks), sharing one runs folder (the pre-training stand-in is trained once);
    each arm writes its own results folder. Returns each (dataset, notebook)'s outcome."""
    import subprocess
    import sys

    pytest.importorskip("papermill")
    if not SHARED_DATA.is_dir():
        pytest.skip(SHARED_DATA_MISSING)
    base = tmp_path_factory.mktemp("arms")
    jobs = []
    for dataset, (folder, mlr) in sorted(ARMS.items()):
        if (SHARED_DATA / folder).is_dir():
            jobs.append({"label": dataset, "notebooks": FIRST_NOTEBOOKS,
                         "parameters": {**TINY, "profile": "smoke", "seed": 0, "dataset": dataset,
                                        "data_root": str(SHARED_DATA / folder), "runs_dir": str(base / "runs"),
                                        "results_dir": str(base / dataset), **({"mlr": mlr} if mlr else {})}})
    (base / "jobs.json").write_text(json.dumps(jobs))
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("notebooks_in_process.py")),
                           str(base / "jobs.json")], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    (base / "stdout.log").write_text(done.stdout)
    outcomes = {}
    from notebooks_in_process import OUTCOME

    for line in done.stdout.splitlines():
        if line.startswith(OUTCOME):
            entry = json.loads(line[len(OUTCOME):])
            outcomes[(entry["label"], entry["notebook"])] = entry
    return outcomes, base


@pytest.mark.parametrize("dataset", sorted(ARMS))
def test_the_smoke_arm_runs_notebooks_00_to_03_on_each_real_dataset(dataset: str, arm_runs) -> None:
    """Each notebook of 00-03 runs on the arm's real images and writes every table and figure it
    names into the arm's own folder; figures of real people never go into a results folder."""
    folder, _ = ARMS[dataset]
    if not (SHARED_DATA / folder).is_dir():
        pytest.skip(f"{SHARED_DATA / folder} not found: the {dataset} arm needs it (see ../shared/data/README.md)")
    outcomes, base = arm_runs
    results = base / dataset
    for name in FIRST_NOTEBOOKS:
        outcome = outcomes.get((dataset, name))
        assert outcome is not None, f"{dataset}: {name} did not run (an earlier notebook failed)"
        assert outcome["ok"], f"{dataset}: {name} failed:\n{outcome['error']}"
        data = json.loads((results / f"{name}.json").read_text())
        assert data["parameters"].get("dataset", dataset) == dataset, name
        for ref in (*data["tables"], *data["figures"]):
            assert (results / ref["file"]).is_file(), f"{dataset}, {name}: {ref['file']}"
    assert not list((results / "figures").glob("*samples*")), "a figure of real people went into the results folder"
    rank1 = json.loads((results / "03_rfd_eval.json").read_text())["metrics"]
    assert rank1, f"{dataset}: notebook 03 reported no metrics"


def test_figure_sources_lay_images_of_different_sizes_on_one_canvas() -> None:
    """GRID's images are 29-181 x 67-384 px: a sample grid of them stacks into one array, each
    image at its own pixel size on a white canvas of the largest."""
    import numpy as np

    from reidlab.study.show.plots import _uint8, common_canvas

    small, large = np.zeros((10, 4, 3), np.uint8), np.full((30, 12, 3), 7, np.uint8)
    grid = _uint8([[small, large], [large, small]])
    assert grid.shape == (2, 2, 30, 12, 3)
    cell = grid[0, 0]
    assert (cell[-10:, 4:8] == 0).all() and (cell[:20] == 255).all()          # bottom-aligned, centred, white
    assert (grid[0, 1] == 7).all()
    same = [np.zeros((5, 5, 3))] * 2
    assert common_canvas(same) is same                                           # one size: untouched
    floats = _uint8([np.zeros((2, 2, 3)), np.zeros((4, 2, 3))])
    assert floats.shape == (2, 4, 2, 3) and floats[0, 0, 0, 0] == 255              # float canvas filled with 1.0
    with pytest.raises(ValueError, match="one channel count"):
        common_canvas([np.zeros((2, 2, 3)), np.zeros((4, 2, 1))])


def test_restoration_on_natively_multi_resolution_data_degrades_its_largest_images() -> None:
    """A natively multi-resolution set has no HR original for an LR query: restoration is measured
    on its largest stored test images degraded synthetically, never on an image against itself
    (which read as 0.00% error and 120 dB on a CAVIAR4REID copy)."""
    from reidlab.data.records import ImageRecord, ProtocolSplit
    from reidlab.study.compute.inspection import restoration_held_out

    def rec(i: int, w: int, factor: int = 1, pid: int | None = None) -> ImageRecord:
        return ImageRecord(path=f"/x/{i}.png", pid=pid if pid is not None else 1 + i % 3, camid=i % 2, width=w,
                           height=2 * w, factor=factor)

    native = ProtocolSplit("multi_res_gallery", "grid", 0, train=(), query=(rec(0, 10), rec(1, 40)),
                           gallery=(rec(2, 30), rec(3, 80), rec(4, 99, pid=0), rec(5, 200)), n_res_classes=5)
    held = restoration_held_out(native, factors=(1, 2, 3, 4), n=3)
    assert [r.width for r in held.records] == [200, 80, 40]                  # the largest, distractors left out
    assert [r.factor for r in held.records] == [2, 3, 4] and "synthetic" in held.degradation
    # the nearest above the network's input height (a 400 px image down-sampled by 4 still fills a 64 px input)
    held = restoration_held_out(native, factors=(2, 3, 4), n=2, height=64)
    assert [r.height for r in held.records] == [80, 160] and "80-160 px tall" in held.degradation
    held = restoration_held_out(native, factors=(2, 3, 4), n=4, height=150)   # too few that tall: the largest
    assert [r.height for r in held.records] == [400, 160, 80, 60]
    synthetic = ProtocolSplit("lr_query", "synth-market", 0, train=(), query=(rec(0, 48, factor=3), rec(1, 48)),
                              gallery=(rec(2, 48),), n_res_classes=4)
    held = restoration_held_out(synthetic, factors=(2, 3, 4), n=5)
    assert [r.factor for r in held.records] == [3] and held.degradation == "the protocol's LR queries"
    with pytest.raises(ValueError, match="degradation factor above 1"):
        restoration_held_out(native, factors=(1,), n=3)
