"""Unit tests of the notebook glue: parameters, run folders, statistics, atomic files, report."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from reidlab import paths
from reidlab.config import get_profile
from reidlab.data.records import ImageRecord, ProtocolSplit
from reidlab.engine.run_identity import RunSpec
from reidlab.recipes.rfd_baselines import bf_spec, br_spec
from reidlab.study.params import build_profile
from reidlab.study.compute import scoring, stats
from reidlab.study.compute.model_store import run_dir
from reidlab.study.show import figures


@pytest.fixture(scope="module")
def image_files(tmp_path_factory, write_image):
    folder = tmp_path_factory.mktemp("imgs")
    return [write_image(folder / f"{i}.jpg", size=(8, 16), seed=i) for i in range(8)]


@pytest.fixture
def make_split(image_files):
    def _split(res_label=0, factor=1):
        train = tuple(ImageRecord(str(p), pid=i // 2, camid=i % 2, width=8, height=16, factor=factor,
                                  res_label=res_label) for i, p in enumerate(image_files))
        return ProtocolSplit("lr_query", "synth-market", 0, train, (), (), 4)
    return _split


def test_build_profile_maps_flat_parameters_to_sections():
    prof = build_profile("smoke", task="br", iterations=3, backbone="resnet34", lam=0.5, dataset="synth-caviar")
    assert prof.br.iterations == 3 and prof.bf.iterations == get_profile("smoke").bf.iterations
    assert prof.model.backbone == "resnet34" and prof.eval.lam == 0.5 and prof.data.dataset == "synth-caviar"
    default = build_profile("smoke", task="bf")
    assert (default.data.interpolation, default.data.upsampling) == ("bicubic", "bilinear")   # RFD Sec. 3.1
    assert build_profile("smoke", task="bf", upsampling="bicubic").data.upsampling == "bicubic"


@pytest.mark.parametrize("kwargs, match", [
    ({"dataset": "imagenet"}, "dataset='imagenet' is not valid; choose one of: synth-market"),
    ({"trials": -1}, "trials must be a positive integer"),
    ({"rfd_reading": "both"}, "rfd_reading='both' is not valid"),
    ({"upsampling": "nearest"}, "upsampling='nearest' is not valid; choose one of: bicubic, bilinear"),
    ({"colour": 1}, "unknown parameter 'colour'"),
])
def test_build_profile_rejects_bad_values_with_the_valid_choices(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_profile("smoke", **kwargs)


def test_unknown_profile_lists_choices():
    with pytest.raises(ValueError, match="smoke, quick, paper"):
        build_profile("huge")


def test_run_dir_changes_with_config_but_bf_ignores_pseudo_labels(tmp_path, make_split):
    prof = get_profile("smoke")
    a = run_dir(prof, bf_spec(prof, make_split()), tmp_path)
    assert a == run_dir(prof, bf_spec(prof, make_split()), tmp_path)
    longer = build_profile("smoke", iterations=7)
    assert a != run_dir(longer, bf_spec(longer, make_split()), tmp_path)
    pseudo = build_profile("smoke", pseudo_bins=7)
    assert run_dir(pseudo, bf_spec(pseudo, make_split(res_label=3)), tmp_path) == a   # B-F never sees resolution labels
    assert run_dir(pseudo, br_spec(pseudo, make_split(res_label=3)), tmp_path) != \
        run_dir(prof, br_spec(prof, make_split()), tmp_path)


def test_the_iterations_parameter_is_what_trains_in_an_epoch_based_profile():
    """quick derives B-F's and B-R's lengths from the training set (epochs); a notebook's
    ``iterations`` used to be overridden by them, silently (issue 23's session)."""
    from reidlab.config import resolve_schedule

    quick = get_profile("quick")
    assert quick.br.epochs > 0 and resolve_schedule(quick.br, n_images=400, n_ids=5).iterations != 120
    asked = build_profile("quick", task="br", iterations=120)
    assert resolve_schedule(asked.br, n_images=400, n_ids=5).iterations == 120
    paper = build_profile("paper", task="bf", iterations=50)     # 500 x identities otherwise
    assert resolve_schedule(paper.bf, n_images=1000, n_ids=100).iterations == 50


def test_run_dir_ignores_result_neutral_settings(tmp_path, make_split):
    """Workers, checkpoint and log intervals (notebook parameters) never retrain: one identity."""
    prof = get_profile("smoke")
    other = build_profile("smoke", num_workers=3)
    assert run_dir(prof, bf_spec(prof, make_split()), tmp_path) == run_dir(other, bf_spec(other, make_split()), tmp_path)


def test_batched_heads_enter_the_run_identity_only_when_on(tmp_path, make_split):
    """Issue 23: runs trained before the option (per-head kernels) keep their identity; a batched-heads
    run (the same function, other float rounding) gets its own, and is built batched again when loaded."""
    from reidlab.config import override
    from reidlab.models.build import build_model

    prof = get_profile("smoke")
    spec = bf_spec(prof, make_split())
    assert "batched_heads" not in spec.config["model"]
    batched = override(prof, model={"batched_heads": True})
    batched_spec = bf_spec(batched, make_split())
    assert batched_spec.config["model"]["batched_heads"] is True
    assert run_dir(batched, batched_spec, tmp_path) != run_dir(prof, spec, tmp_path)
    assert build_model("mgn", batched_spec.config["model"], 4, pretrained=False).batched_heads
    assert not build_model("mgn", spec.config["model"], 4, pretrained=False).batched_heads


def test_train_or_load_names_the_notebook_when_training_is_not_allowed(tmp_path):
    from reidlab.engine.train_or_load import train_or_load
    from reidlab.study.compute.model_store import _missing_hint

    spec = RunSpec.of("bf", train={"lr": 1.0})
    built = []

    def run(spec, allow_training):
        outcome = train_or_load(spec, tmp_path, load=lambda p: 2, build=lambda _: built.append(1) or torch.nn.Identity(),
                                fit=lambda model, _: (1, None), seed=0, allow_training=allow_training,
                                missing_hint=_missing_hint(spec.task))
        return outcome.result, outcome.trained

    with pytest.raises(FileNotFoundError, match="01_train_bf.ipynb"):
        run(spec, allow_training=False)
    assert not tmp_path.joinpath("config.json").exists() and not built   # refused before touching the folder
    assert run(spec, allow_training=True) == (1, True) and built == [1]
    (tmp_path / "summary.json").write_text(json.dumps({"spec": dict(spec.config), "out_dir": str(tmp_path),
                                                       "iterations": 1}))
    (tmp_path / "model.pt").write_bytes(b"")
    assert run(spec, allow_training=False) == (2, False)
    other = RunSpec.of("bf", train={"lr": 2.0})    # a finished run of another identity is not this one
    with pytest.raises(FileNotFoundError):
        run(other, allow_training=False)


def _per_trial(diffs):
    rows = []
    for t, d in enumerate(diffs):
        rows.append({"trial": t, "method": "B-F", "R1": 50.0, "R5": 60, "R10": 70, "mAP": 40})
        rows.append({"trial": t, "method": "RFD", "R1": 50.0 + d, "R5": 60, "R10": 70, "mAP": 40})
    return pd.DataFrame(rows)


def test_paired_comparison_hand_computed():
    cmp = stats.paired_comparison(_per_trial([1.0, 2.0, 3.0, 2.0]), "RFD", "B-F", "R1")
    assert cmp.n == 4 and cmp.mean_diff == pytest.approx(2.0)
    assert cmp.std_diff == pytest.approx(np.std([1, 2, 3, 2], ddof=1))
    # Student-t interval: mean +- t(0.975, 3) * sd / sqrt(4), computed by hand
    half = 3.182446305284263 * np.std([1, 2, 3, 2], ddof=1) / 2
    assert (cmp.ci_low, cmp.ci_high) == pytest.approx((2.0 - half, 2.0 + half))
    assert cmp.significant and cmp.p_value < 0.05
    assert "reproduced" in stats.verdict(cmp, "RFD helps")


def test_paired_comparison_no_difference_is_not_significant():
    cmp = stats.paired_comparison(_per_trial([0.5, -0.5, 0.0, 0.25]), "RFD", "B-F", "R1")
    assert not cmp.significant and cmp.testable
    assert "not reproduced (no significant difference)" in stats.verdict(cmp, "RFD helps")
    worse = stats.paired_comparison(_per_trial([-2.0, -3.0, -2.5, -1.5]), "RFD", "B-F", "R1")
    assert "significantly worse" in stats.verdict(worse, "RFD helps")
    assert "not reproduced" in stats.verdict(worse, "RFD is comparable", kind="comparable", tolerance=1.4)
    assert ": reproduced" in stats.verdict(cmp, "RFD is comparable", kind="comparable", tolerance=1.4)
    with pytest.raises(ValueError, match="paper's own effect"):    # no arbitrary default threshold
        stats.verdict(cmp, "RFD is comparable", kind="comparable")


def test_constant_differences_are_not_testable():
    """Identical differences in every unit (e.g. one model copied) have no variance: no claim."""
    for diffs in ([2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 0.0]):
        cmp = stats.paired_comparison(_per_trial(diffs), "RFD", "B-F", "R1")
        assert not cmp.testable and not cmp.significant
        assert np.isnan(cmp.p_value) and np.isnan(cmp.ci_low)
        text = stats.verdict(cmp, "RFD helps")
        assert "not testable" in text and "significant" not in text and "no variance" in text


def test_fewer_than_three_units_are_not_testable():
    cmp = stats.paired_comparison(_per_trial([5.0, 6.0]), "RFD", "B-F", "R1")
    assert cmp.n == 2 and not cmp.testable
    assert "not testable" in stats.verdict(cmp, "RFD helps", kind="comparable", tolerance=1.4)
    assert "fewer than 3 independent units" in cmp.sentence()


def test_trials_of_one_unit_are_averaged_not_replicates():
    """Ten re-drawn trials of one trained model are one unit: n=1, not testable, however
    consistent the draws; units are paired and averaged inside."""
    one_model = _per_trial([1.0, 1.2, 0.9, 1.1, 1.0, 1.3, 0.8, 1.0, 1.1, 1.0]).assign(unit=0)
    cmp = stats.paired_comparison(one_model, "RFD", "B-F", "R1")
    assert cmp.n == 1 and cmp.draws == 10 and not cmp.testable
    assert cmp.mean_diff == pytest.approx(1.04)
    assert "n=1 trained model, 10 query/gallery draws averaged" in cmp.sentence()
    # three units of two draws each: the test runs on the three unit means (2, 3, 1)
    three = _per_trial([1.5, 2.5, 3.0, 3.0, 0.5, 1.5]).assign(unit=[0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    cmp = stats.paired_comparison(three, "RFD", "B-F", "R1")
    assert cmp.n == 3 and cmp.draws == 2 and cmp.testable
    assert cmp.mean_diff == pytest.approx(2.0) and cmp.std_diff == pytest.approx(1.0)
    from scipy import stats as sps
    assert cmp.p_value == pytest.approx(sps.ttest_1samp([2.0, 3.0, 1.0], 0.0).pvalue)
    assert "n=3 trained models, 2 query/gallery draws averaged in each" in cmp.sentence()
    assert "n=3 training seeds" in stats.paired_comparison(three, "RFD", "B-F", "R1", unit="training seed").sentence()


def test_summarise_mean_and_std_per_method_in_order():
    s = scoring.summarise(_per_trial([1.0, 3.0]))
    assert list(s["method"]) == ["B-F", "RFD"]
    assert s.loc[1, "R1 mean"] == pytest.approx(52.0) and s.loc[1, "R1 std"] == pytest.approx(np.sqrt(2))
    view = scoring.mean_pm_std(s)
    assert view.loc[1, "R1"] == "52.0 ± 1.4" and list(s["trials"]) == [2, 2]


def test_atomic_writers_leave_no_temporary_files(tmp_path):
    paths.write_json(tmp_path / "a" / "x.json", {"v": np.float32(1.5), "n": np.int64(2)})
    assert json.loads((tmp_path / "a" / "x.json").read_text()) == {"n": 2, "v": 1.5}
    csv, md, tex = figures.write_table(pd.DataFrame({"m": ["a"], "R1": [12.345]}), tmp_path / "t")
    assert md.read_text().splitlines()[2] == "| a | 12.3 |" and r"a & 12.3 \\" in tex.read_text()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "formats.json", "t.csv", "t.md", "t.tex", "x.json"]


def test_report_inlines_tables_and_links_figures(tmp_path):
    from reidlab.study.show.contract import FigureRef, NotebookResult, TableRef, write_result
    from reidlab.study.show.report import write_report

    figures.write_table(pd.DataFrame({"method": ["B-F"], "R1": [10.0]}), tmp_path / "tables" / "t")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "f.png").write_bytes(b"png")
    write_result(tmp_path, NotebookResult("03_rfd_eval", "RFD", conclusions=["RFD: not reproduced."],
                                          tables=[TableRef("tables/t.md", "Tab")],
                                          figures=[FigureRef("figures/f.png", "Fig")]))
    text = write_report(tmp_path).read_text()
    assert "| B-F | 10.0 |" in text and "![Fig](figures/f.png)" in text and "RFD: not reproduced." in text
    assert "## Claims" not in text


def test_report_collects_claims_in_column_order(tmp_path):
    from reidlab.study.show.contract import NotebookResult, write_result
    from reidlab.study.show.report import write_report

    cmp = stats.paired_comparison(_per_trial([1.0, 2.0, 1.5, 0.8]), "RFD", "B-F", "R1")
    row = stats.claim_row("RFD over B-F", "synth-market", 1.4, cmp)
    write_result(tmp_path, NotebookResult("07_controls", "Controls", data={"claims": [row]}))
    lines = write_report(tmp_path).read_text().splitlines()
    header = next(line for line in lines if line.startswith("| claim |"))
    assert header == "| " + " | ".join([*stats.CLAIM_COLUMNS, "notebook"]) + " |"
    body = lines[lines.index(header) + 2]
    assert body.startswith("| RFD over B-F | synth-market | +1.4 | +1.3 | [") and body.endswith("| 07_controls |")


# ---------------------------------------------------------------- issue 22: dataset arms

def test_a_dataset_arm_writes_its_own_folder_and_skips_what_does_not_apply():
    from reidlab.choices import DATASETS, NATIVELY_MULTI_RESOLUTION
    from reidlab.study.drive.pipeline import arm_skips, result_files, results_dir_for

    assert results_dir_for(None) == "results" and results_dir_for("viper") == "results/viper"
    assert arm_skips(None) == {}
    assert set(arm_skips("viper")) == {"04_ablations", "05_per_split_plot"}
    assert "natively multi-resolution" in arm_skips("viper")["05_per_split_plot"]
    assert set(arm_skips("grid")) == {"04_ablations"} and "grid" in NATIVELY_MULTI_RESOLUTION
    assert set(DATASETS) <= result_files()   # an arm's folder inside results/ is not a foreign file there


def test_multi_resolution_names_match_what_the_readers_say(fake_caviar_root, tmp_path, write_image):
    from reidlab.choices import NATIVELY_MULTI_RESOLUTION
    from reidlab.data.readers import load_dataset

    assert load_dataset("caviar", fake_caviar_root).multi_resolution == ("caviar" in NATIVELY_MULTI_RESOLUTION)
    for pid in range(4):
        for view in (1, 2):
            write_image(tmp_path / "viper" / f"{pid:03d}_0_{view}.bmp", size=(12, 32), seed=pid * 2 + view)
    assert load_dataset("viper", tmp_path / "viper").multi_resolution == ("viper" in NATIVELY_MULTI_RESOLUTION)


def test_report_links_dataset_arms_and_says_what_an_arm_skipped(tmp_path):
    from reidlab.study.show.contract import NotebookResult, write_result
    from reidlab.study.show.report import write_report

    arm = tmp_path / "viper"
    write_result(arm, NotebookResult("03_rfd_eval", "RFD on VIPeR"))
    (arm / "run_info.json").write_text(json.dumps({
        "profile": "quick", "seed": 0, "dataset": "viper", "wall_seconds": 60, "notebook_seconds": {"03_rfd_eval": 60},
        "machine": "x", "python": "3", "torch": "t", "torchvision": "v", "numpy": "n", "finished": "now",
        "skipped_notebooks": {"04_ablations": "Tables 4 and 5 are on their own datasets"}}))
    arm_text = write_report(arm).read_text()
    assert "- not run on this dataset: `04_ablations`: Tables 4 and 5 are on their own datasets" in arm_text
    write_result(tmp_path, NotebookResult("03_rfd_eval", "RFD"))
    assert "- [`viper/`](viper/README.md)" in write_report(tmp_path).read_text()


def test_report_puts_the_embedded_controls_beside_each_arm(tmp_path):
    """Issue 22: one table of the controls and the camera cue, embedded study and arms side by side."""
    from reidlab.study.show.contract import NotebookResult, write_result
    from reidlab.study.show.report import ACROSS_DATA_TABLE, across_data_table, write_report

    def study(folder, dataset, commit, camera_gain, kappa):
        write_result(folder, NotebookResult("00_data_synthesis", "Data", parameters={"dataset": dataset}))
        (folder / "run_info.json").write_text(json.dumps({
            "profile": "quick", "seed": 0, "dataset": dataset, "wall_seconds": 60, "notebook_seconds": {},
            "machine": "x", "python": "3", "torch": "t", "torchvision": "v", "numpy": "n", "finished": "now",
            "code": {"commit": commit, "tree": "clean"}}))
        (folder / "README.md").write_text("x")
        figures.write_table(pd.DataFrame([
            {"protocol": "lr_query", "control": "B-F + camera oracle", "R1 change": camera_gain,
             "95% interval": "[+1.0, +2.0]" if camera_gain else "not testable", "units": 3, "reading": "r"}]),
            folder / "tables" / "07_control_gains")
        figures.write_table(pd.DataFrame([{"dataset": dataset, "rows": "this study", "images": 10, "cameras": 2,
                                      "accuracy (all)": 50.0, "kappa (all)": kappa, "kappa (96 images)": kappa,
                                      "std": 0.01}]), folder / "tables" / "00_camera_cue")

    assert across_data_table(tmp_path) is None          # nothing yet
    study(tmp_path, "synth-market", "a" * 40, 15.03, 0.6)
    assert across_data_table(tmp_path) is None          # no arm yet
    study(tmp_path / "viper", "viper", "b" * 40, 0.0, 0.5)
    table = across_data_table(tmp_path)
    assert list(table.columns) == ["measure (R1 change against B-F alone, points)",
                                   "embedded (synth-market, aaaaaaa)", "viper (viper, bbbbbbb)"]
    rows = table.set_index(table.columns[0])
    assert rows.loc["lr_query: B-F + camera oracle"].tolist() == ["+15.0 [+1.0, +2.0] (3)", "+0.0 not testable (3)"]
    assert rows.loc["camera cue: kappa, all images"].tolist() == ["0.60", "0.50"]
    text = write_report(tmp_path).read_text()
    assert "### The embedded study beside the dataset arms" in text
    assert (tmp_path / "tables" / f"{ACROSS_DATA_TABLE}.md").is_file()


# ---------------------------------------------------------------- issue 11: ImageNet start, schedules

def test_pretrained_parameter_values():
    from reidlab.study.params import pretrained_setting

    assert pretrained_setting("scratch") is None and pretrained_setting("imagenet") == "imagenet"
    assert pretrained_setting("weights/r50.pth").endswith("weights/r50.pth")
    assert pretrained_setting("synthpeople") == "synthpeople"
    with pytest.raises(ValueError, match="imagenet, synthpeople, scratch, or a weights file"):
        pretrained_setting(3)
    assert build_profile("paper").model.pretrained == "imagenet"
    assert build_profile("paper", pretrained="scratch").model.pretrained is None


def test_start_is_labelled():
    from reidlab.study.compute.model_store import start_label

    assert start_label(build_profile("smoke")) == "SynthPeople pre-training (ImageNet stand-in)"
    assert start_label(build_profile("smoke", pretrained="scratch")) == "from scratch"
    assert start_label(build_profile("paper")) == "ImageNet"
    assert start_label(build_profile("smoke", pretrained="/w/r18.pth")) == "weights file r18.pth"


def test_missing_imagenet_weights_fail_at_once_naming_the_cache(tmp_path, monkeypatch):
    from reidlab.models.pretrained import PretrainedWeightsMissing
    from reidlab.study.compute.model_store import check_pretrained

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    with pytest.raises(PretrainedWeightsMissing, match=r"resnet50.*torch.*checkpoints"):
        check_pretrained(build_profile("paper"))
    with pytest.raises(PretrainedWeightsMissing, match="hrnet_w32"):
        check_pretrained(build_profile("paper"), mgn=False, hrnet=True)
    check_pretrained(build_profile("paper", pretrained="scratch"), hrnet=True)   # nothing to look up


def test_paper_notebook_fails_before_any_data_work_without_weights(tmp_path, monkeypatch):
    from reidlab.models.pretrained import PretrainedWeightsMissing
    from reidlab.study.drive.begin import begin
    from test_notebooks import notebook_namespace

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))   # an empty cache
    with pytest.raises(PretrainedWeightsMissing):
        begin("01_train_bf", notebook_namespace("01_train_bf", profile="paper", data_root=str(tmp_path / "absent")))
    assert not (tmp_path / "absent").exists()


def test_paper_schedules_derive_from_the_training_set():
    from reidlab.config import resolve_schedule

    paper = get_profile("paper")
    assert resolve_schedule(paper.bf, n_images=1000, n_ids=316).iterations == 500 * 316     # RFD: 500 x ids
    ps = resolve_schedule(paper.ps.student, n_images=12_936, n_ids=751)                    # 540 iterations an epoch
    assert (ps.iterations, ps.warmup_iterations) == (71 * 539, 5 * 539)
    smoke = get_profile("smoke")
    assert resolve_schedule(smoke.bf, n_images=10, n_ids=5) == smoke.bf                     # fixed lengths stay


def test_a_full_reproduce_removes_results_no_notebook_writes(tmp_path):
    import os
    import time

    from reidlab.study.drive.pipeline import remove_unwritten

    for rel in ("old.json", "tables/gone.md", "figures/gone.png", "tables/kept.md", "README.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
        os.utime(tmp_path / rel, (1, 1))
    since = time.time()
    (tmp_path / "tables" / "kept.md").write_text("new")
    removed = {p.relative_to(tmp_path).as_posix() for p in remove_unwritten(tmp_path, since)}
    assert removed == {"old.json", "tables/gone.md", "figures/gone.png"}
    assert (tmp_path / "tables" / "kept.md").exists() and (tmp_path / "README.md").exists()


def test_a_reproduce_writing_the_same_tables_again_keeps_their_format_record(tmp_path):
    """Found regenerating the VIPeR arm with unchanged numbers: write_table only rewrote formats.json when an
    entry changed, so a run writing the very same tables left it with its old time, and the full reproduce's
    clean-up deleted it as unwritten (make figures then had no formats or digests to check)."""
    import os
    import time

    from reidlab.study.drive.pipeline import remove_unwritten
    from reidlab.study.show.figures import TABLE_FORMATS, write_table

    table = pd.DataFrame({"method": ["B-F"], "R1": [50.0]})
    write_table(table, tmp_path / "tables" / "01_t")
    record = (tmp_path / "tables" / TABLE_FORMATS).read_bytes()
    for path in (tmp_path / "tables").iterdir():
        os.utime(path, (1, 1))            # an earlier run's files
    since = time.time()
    write_table(table, tmp_path / "tables" / "01_t")   # this run: the same table
    assert remove_unwritten(tmp_path, since) == []
    assert (tmp_path / "tables" / TABLE_FORMATS).read_bytes() == record


def test_claim_verdicts_are_framed_by_the_papers_effect():
    one = stats.paired_comparison(_per_trial([3.0] * 10).assign(unit=0), "RFD", "B-F", "R1")
    assert stats.claim_verdict(one, 1.4).startswith("not testable (n=1 trained model")
    near = stats.paired_comparison(_per_trial([1.0, 2.0, 1.5, 0.8, 1.9]), "RFD", "B-F", "R1")
    assert near.ci_low <= 1.4 <= near.ci_high
    assert stats.claim_verdict(near, 1.4).startswith("consistent with the paper")
    wide = stats.paired_comparison(_per_trial([6.0, -5.0, 3.0, -2.0]), "RFD", "B-F", "R1")
    assert wide.ci_low < 0 < 1.4 < wide.ci_high
    assert stats.claim_verdict(wide, 1.4).startswith("inconclusive: our interval contains both zero")
    worse = stats.paired_comparison(_per_trial([-2.0, -3.0, -2.5, -1.5]), "RFD", "B-F", "R1")
    assert stats.claim_verdict(worse, 1.4).startswith("opposite sign")
    none = stats.paired_comparison(_per_trial([0.5, -0.5, 0.1, -0.2]), "RFD", "B-F", "R1")
    assert stats.claim_verdict(none, 3.3).startswith("not reproduced: no effect detected")
    small = stats.paired_comparison(_per_trial([0.3, 0.4, 0.35, 0.45]), "RFD", "B-F", "R1")
    assert stats.claim_verdict(small, 3.3).startswith("smaller than the paper's effect")
    big = stats.paired_comparison(_per_trial([5.0, 6.0, 5.5, 6.5]), "RFD", "B-F", "R1")
    assert stats.claim_verdict(big, 1.4) == "larger than the paper's effect"
    row = stats.claim_row("RFD over B-F", "synth-market", 1.4, near)
    assert row["paper's effect (R1)"] == "+1.4" and row["units"] == "5 (trained models)"


def test_paper_effects_by_claim_and_dataset():
    from reidlab.study import published

    assert published.paper_effect(published.RFD_OVER_BF, "CAVIAR") == 3.3
    assert published.paper_effect(published.RFD_OVER_MULTI, "MLR-DukeMTMC-reID") == 1.5
    assert published.paper_dataset_for("synth-market") == "MLR-Market-1501"
    assert published.paper_dataset_for("viper") is None
    with pytest.raises(KeyError, match="no published effect"):
        published.paper_effect(published.RFD_OVER_BF, "MLR-VIPeR")


def test_summarise_spread_is_between_units_not_trials():
    """Trials of one trained model are averaged inside it: the std is between unit means."""
    per = _per_trial([1.0, 3.0, 5.0, 5.0]).assign(unit=[0, 0, 0, 0, 1, 1, 1, 1])  # unit 0: RFD 51, 53; unit 1: 55, 55
    s = scoring.summarise(per).set_index("method")
    assert s.loc["RFD", "R1 mean"] == pytest.approx(53.5)          # mean of unit means 52 and 55
    assert s.loc["RFD", "R1 std"] == pytest.approx(np.std([52.0, 55.0], ddof=1))
    assert s.loc["RFD", "units"] == 2 and s.loc["RFD", "trials"] == 4
    one = scoring.summarise(per.assign(unit=0))
    assert scoring.mean_pm_std(one).loc[1, "R1"] == "53.5"          # one unit: no spread to show


def test_gain_metrics_name_units_and_bounds_only_when_testable():
    three = _per_trial([1.0, 2.0, 4.0]).assign(unit=[0, 0, 1, 1, 2, 2])
    m = stats.gain_metrics(stats.paired_comparison(three, "RFD", "B-F"), "caviar_lr_query")
    assert m["rfd_gain_r1_caviar_lr_query"] == pytest.approx(7 / 3) and m["rfd_gain_units_caviar_lr_query"] == 3
    assert m["rfd_gain_r1_caviar_lr_query_ci_low"] < 7 / 3 < m["rfd_gain_r1_caviar_lr_query_ci_high"]
    two = stats.gain_metrics(stats.paired_comparison(three[three.unit < 2], "RFD", "B-F"), "x")
    assert set(two) == {"rfd_gain_r1_x", "rfd_gain_units_x"}


def test_unit_profile_shifts_every_training_seed_on_fixed_splits():
    from reidlab.data.records import ReidDataset
    from reidlab.study.compute import rfd_trials

    prof = get_profile("smoke")
    fixed = ReidDataset(name="synth-market", root="/x", images=(), fixed_split=True)
    p2 = rfd_trials.unit_profile(prof, fixed, 2)
    assert (p2.bf.seed, p2.br.seed, p2.ps.teacher.seed, p2.ps.student.seed) == (
        prof.bf.seed + 2, prof.br.seed + 2, prof.ps.teacher.seed + 2, prof.ps.student.seed + 2)
    assert p2.data == prof.data and rfd_trials.unit_profile(prof, fixed, 0) == prof
    assert rfd_trials.replication_units(prof, fixed) == prof.eval.seeds and rfd_trials.unit_kind(fixed) == "training seed"
    split_ds = ReidDataset(name="viper", root="/x", images=(), fixed_split=False)
    assert rfd_trials.unit_profile(prof, split_ds, 3) == prof            # there the unit is the identity split
    assert rfd_trials.replication_units(prof, split_ds) == prof.eval.splits


def test_ranking_without_same_camera_exclusion():
    """RFD's multi-resolution CAVIAR setting: a query may match a gallery image of its own camera."""
    import dataclasses

    import torch

    query = (ImageRecord("/q1.jpg", 1, 0, 8, 16, res_label=0),)
    gallery = (ImageRecord("/g1.jpg", 1, 0, 8, 16, res_label=0), ImageRecord("/g2.jpg", 2, 1, 8, 16, res_label=0))
    split = ProtocolSplit("multi_res_gallery", "toy", 0, (), query, gallery, 1)
    feats = scoring.SplitFeatures(split, {"bf": torch.tensor([[1.0, 0.0]])},
                                  {"bf": torch.tensor([[1.0, 0.0], [0.0, 1.0]])})
    with pytest.raises(ValueError, match="no valid query"):     # Market's rule: the only true match is junk
        scoring.score(feats, lam=0.0)
    open_split = dataclasses.replace(feats, split=dataclasses.replace(split, cross_camera=False))
    out = scoring.score(open_split, lam=0.0)
    assert out["R1"] == 100.0 and out["queries"] == 1 and out["queries_total"] == 1


def test_pseudo_setting_keeps_the_papers_bins_unless_another_wins_by_a_validation_query():
    from reidlab.study import methods
    from reidlab.study.compute import ablations

    def validation(scores, queries=20):   # one validation query weighs 100 / 20 = 5 points
        return pd.DataFrame([{"strategy": "equal-width", "bins": b, "unit": u, "method": m, "R1": r1, "mAP": mAP,
                              "val_ids": 5, "queries": queries}
                             for b, (r1, mAP) in scores.items() for u in (0, 1)
                             for m in (methods.BF, methods.BF_RFD)])

    saturated = validation({3: (100.0, 97.54), 5: (100.0, 97.98), 7: (100.0, 97.99)})
    assert ablations.chosen_pseudo_setting(saturated) == ("equal-width", 5)   # a 0.01-point mAP win is no win
    assert ablations.chosen_pseudo_setting(validation({3: (100.0, 80.0), 5: (96.0, 85.0)})) == ("equal-width", 5)
    assert ablations.chosen_pseudo_setting(validation({3: (100.0, 80.0), 5: (90.0, 85.0)})) == ("equal-width", 3)
    assert ablations.chosen_pseudo_setting(validation({5: (90.0, 80.0), 7: (90.0, 86.0)})) == ("equal-width", 7)
    # a 4-point mAP lead: less than one query of 20 (5 points), more than one of 50 (2 points)
    assert ablations.chosen_pseudo_setting(validation({5: (90.0, 80.0), 7: (90.0, 84.0)})) == ("equal-width", 5)
    assert ablations.chosen_pseudo_setting(validation({5: (90.0, 80.0), 7: (90.0, 84.0)}, queries=50)) == (
        "equal-width", 7)
    # without the paper's setting among the candidates: rank-1, then mAP, then the fewest bins
    assert ablations.chosen_pseudo_setting(validation({3: (100.0, 80.0), 7: (100.0, 85.0)})) == ("equal-width", 7)
    assert ablations.chosen_pseudo_setting(validation({3: (100.0, 80.0), 7: (100.0, 80.0)})) == ("equal-width", 3)
    table = ablations.pseudo_table(saturated)
    assert list(table["bins"]) == [3, 5, 7] and list(table["units"]) == [2, 2, 2]
    conclusion = ablations.pseudo_conclusion(saturated, ("equal-width", 5))
    assert "5 equal-width bins" in conclusion and "one validation query" in conclusion


def test_multi_reso_explanation_follows_the_measured_breakdown():
    from reidlab.study import methods
    from reidlab.study.compute import ablations

    def frame(near, far, same, cross):
        return pd.DataFrame([{"group": g, "method": methods.BF, "R1": r, "share": 50.0, "trial": 0}
                             for g, r in (("near-camera queries", near), ("far-camera queries", far),
                                          ("query and gallery image on one camera", same),
                                          ("query and gallery image on two cameras", cross))])
    per5 = pd.DataFrame([{"row": "Single-Reso", "R1": 40.0}, {"row": "Multi-Reso", "R1": 50.0}])
    text = ablations.multi_reso_explanation(frame(60, 40, 70, 30), per5)
    assert "(above it)" in text and "Its near-camera (HR) queries and its same-camera" in text
    level = pd.DataFrame([{"row": "Single-Reso", "R1": 40.0}, {"row": "Multi-Reso", "R1": 40.2}])
    assert "Neither is easier here" in ablations.multi_reso_explanation(frame(40, 40.5, 41, 40), level)


def test_fig4_shows_the_ranking_that_is_scored() -> None:
    """Fig. 4's first shown match is the scored rank-1 of each query: same distance order, same
    exclusion rule, with the cameras as the protocol scores them."""
    from reidlab.metrics import evaluate_rank
    from reidlab.study.show.plots import displayed_ranking

    rng = np.random.default_rng(0)
    n_q, n_g = 12, 40
    q_pids, q_cams = np.arange(n_q) % 6, np.zeros(n_q, dtype=int)
    g_pids, g_cams = np.arange(n_g) % 6, rng.integers(0, 3, n_g)
    g_cams[:6] = 1                                   # every identity has a match on another camera
    g_cams[6] = 0                                    # gallery image 6: identity 0 on the query's camera
    dist = rng.random((n_q, n_g))
    dist[0, 6] = -1.0                                # ... ranked first for query 0
    for i in range(n_q):
        cmc, _ = evaluate_rank(dist[i:i + 1], q_pids[i:i + 1], g_pids, q_cams[i:i + 1], g_cams, max_rank=1)
        first = displayed_ranking(dist[i], q_pids[i], q_cams[i], g_pids, g_cams, topk=10)[0]
        assert bool(cmc[0]) == (g_pids[first] == q_pids[i])
    # a protocol scored without the camera rule (SplitFeatures.ids: queries on 0, gallery on 1) keeps it
    assert displayed_ranking(dist[0], q_pids[0], 0, g_pids, np.ones(n_g, dtype=int), topk=10)[0] == 6
    assert displayed_ranking(dist[0], q_pids[0], 0, g_pids, g_cams, topk=10)[0] != 6


def test_table4_with_two_datasets_has_both_columns_and_verdicts() -> None:
    """Table 4's two-dataset layout (the paper profile's; smoke and quick run one set): both sets'
    columns beside their published columns, and a verdict per set."""
    from reidlab.study import methods
    from reidlab.study.compute import ablations

    rows = []
    for dataset, shift in (("Market-like", 0.0), ("Duke-like", -5.0)):
        for unit in range(3):
            for trial in range(2):
                base = 40.0 + shift + unit + trial
                for protocol, method, interp, r1 in (
                        ("Single-Reso", methods.BF, "bicubic", base),
                        ("Single-Reso", methods.BF, "bilinear", base - 2.0 - unit),
                        ("Single-Reso", methods.BF_RFD, "bicubic", base + 0.1),
                        ("Multi-Reso", methods.BF, "bicubic", base - 10.0),
                        ("Multi-Reso", methods.BF_RFD, "bicubic", base - 9.0 + 0.5 * unit)):
                    rows.append(dict(dataset=dataset, protocol=protocol, method=method, interpolation=interp,
                                     unit=unit, trial=trial, R1=r1, R5=r1 + 20.0))
    per4 = pd.DataFrame(rows)
    table = ablations.table4(per4, ["Market-like", "Duke-like"])
    assert list(table["Table 4 row"]) == list(ablations.TABLE4_ROWS)
    for name in ("Market-like R1", "Duke-like R5", "published MLR-Market-1501 R1", "published MLR-DukeMTMC-reID R1"):
        assert name in table.columns, name
    bicubic = table.set_index("Table 4 row").loc[ablations.BICUBIC]
    assert bicubic["Market-like R1"].startswith("41.5") and bicubic["Duke-like R1"].startswith("36.5")
    conclusions = ablations.table4_conclusions(per4, ["Market-like", "Duke-like"])
    assert len(conclusions) == 6
    assert [c.split(":")[0] for c in conclusions] == ["Market-like"] * 3 + ["Duke-like"] * 3


def test_figures_of_real_people_never_go_into_a_results_folder(tmp_path):
    """Real re-id images may not be republished (their licences; ../shared/data/README): a figure
    that shows people of a real dataset goes under runs/, and the result lists only what is there."""
    from reidlab.study.show.contract import FigureRef
    from reidlab.study.show.notebook_results import _written
    from reidlab.study.show.plots import people_figures_folder

    results, runs = tmp_path / "results", tmp_path / "runs"
    assert people_figures_folder(results, "synth-market", runs) == results / "figures"
    for real in ("viper", "market1501", "caviar"):
        folder = people_figures_folder(results, real, runs)
        assert results not in folder.parents and folder == runs / "people_figures" / real
    (results / "figures").mkdir(parents=True)
    (results / "figures" / "a.png").write_bytes(b"png")
    refs = [FigureRef("figures/a.png", "kept"), FigureRef("figures/b.png", "of real people, elsewhere")]
    assert _written(results, refs) == refs[:1]


def test_psnr_and_restoration_errors_hand_computed():
    from reidlab.study.compute.inspection import psnr, restoration_errors

    hr = np.zeros((2, 4, 4, 3))
    restored = hr + 0.1                     # MSE 0.01 -> 20 dB, MAE 0.1
    lr = hr + np.array([0.2, 0.0])[:, None, None, None]   # image 0: MSE 0.04 (14.0 dB); image 1: exact
    assert psnr(restored, hr) == pytest.approx(20.0)
    assert psnr(lr[:1], hr[:1]) == pytest.approx(10 * np.log10(25))
    errors = restoration_errors(lr, restored, hr, prefix="vdsr_warmup")
    assert errors["vdsr_warmup_mae"] == pytest.approx(0.1) and errors["interp_mae"] == pytest.approx(0.1)
    assert errors["vdsr_warmup_psnr"] == pytest.approx(20.0)


# ---------------------------------------------------------------- issue 24: figures and LaTeX tables

def test_latex_tables_set_published_rows_apart_in_italics_and_print_mean_pm_std():
    from reidlab.study.show.figures import to_latex

    df = pd.DataFrame({"source": ["ours (synth_market)", "published (RFD, Table 1)"], "method": ["B-F", "SING"],
                       "R1": ["22.5 ± 2.4", "74.4"], "units": [3, np.nan]})
    tex = to_latex(df).splitlines()
    assert tex[0] == r"\begin{tabular}{lllr}" and tex[1] == r"\toprule" and tex[-1] == r"\end{tabular}"
    assert r"ours (synth\_market) & B-F & 22.5 $\pm$ 2.4 & 3.0 \\" in tex
    published = tex.index(r"\textit{published (RFD, Table 1)} & \textit{SING} & \textit{74.4} &  \\")
    assert tex[published - 1] == r"\midrule" and tex[published + 1] == r"\bottomrule"


def test_a_figure_source_round_trips_and_renders_the_same_bytes(tmp_path):
    from reidlab.study.show import figures, plots

    source = plots.per_split_plot(pd.DataFrame({"trial": range(4), "unit": [0, 1] * 2, "method": ["B-F"] * 4,
                                                "R1": [10.0, 20.0, 30.0, 40.0]}), methods=["B-F"])
    paths = plots.savefig(source, tmp_path / "figures" / "fig5")
    assert [p.name for p in paths] == ["fig5.png", "fig5.pdf"]
    stored = figures.load_source(tmp_path / "figures" / "data" / "fig5")
    assert stored.renderer == "per_split" and stored.frames["per_trial"]["R1"].tolist() == [10.0, 20.0, 30.0, 40.0]
    first = [p.read_bytes() for p in paths]
    assert figures.render_results(tmp_path, plots.RENDERERS) == {"figures": 1, "tables": 0}
    assert [p.read_bytes() for p in paths] == first
    with pytest.raises(ValueError, match="renderer 'nope' is unknown"):
        figures.render(figures.FigureSource("nope"), plots.RENDERERS)


def test_pseudo_br_metrics_pool_the_splits_and_say_none_for_one() -> None:
    """The pooled balanced accuracy is that of the summed confusions, not the mean of the splits'; one
    split has no spread (None), never 0."""
    from reidlab.study.compute import ablations

    a = np.array([[1, 0], [2, 8]])    # recall 1.0 and 0.8: balanced 90
    b = np.array([[0, 1], [0, 10]])   # recall 0.0 and 1.0: balanced 50
    rows = [ablations._confusion_row(0, a), ablations._confusion_row(1, b), ablations._confusion_row("pooled", a + b)]
    frame = pd.DataFrame(rows)
    assert list(frame["smallest bin"]) == [1, 1, 2] and list(frame["images"]) == [11, 11, 22]
    m = ablations.pseudo_br_metrics(frame)
    assert m["br_pseudo_balanced_accuracy_pooled"] == pytest.approx(100 * (0.5 + 18 / 20) / 2, abs=0.05)
    assert m["br_pseudo_balanced_accuracy_unit_mean"] == pytest.approx(70.0)
    assert m["br_pseudo_balanced_accuracy_unit_std"] == pytest.approx(np.std([90, 50], ddof=1))
    assert m["br_pseudo_units"] == 2
    one = ablations.pseudo_br_metrics(pd.DataFrame(rows[:1] + rows[2:]))
    assert one["br_pseudo_units"] == 1 and one["br_pseudo_balanced_accuracy_unit_std"] is None
