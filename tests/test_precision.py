"""Precision and layout chosen by the hardware (engine/precision.py), stage timing (stages.py)
and the cross-machine results check (study/check.py)."""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
import torch

from reidlab.config import TrainConfig, get_profile, override
from reidlab.engine import precision
from reidlab.engine.precision import CpuInfo, resolve_amp, resolve_channels_last, resolve_precision
from reidlab.stages import STAGE_LOG_ENV, read_stage_log, stage
from reidlab.study.compute import check

AVX2 = CpuInfo(model="AMD EPYC (mocked)", flags=("avx2", "fma"), capability="AVX2", machine="x86_64")
AMX = CpuInfo(model="Intel Xeon (mocked)", flags=("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"),
              capability="AVX512", machine="x86_64")


@pytest.fixture
def cpu_without_bf16(monkeypatch: pytest.MonkeyPatch) -> CpuInfo:
    monkeypatch.setattr(precision, "cpu_info", lambda *a, **k: AVX2)
    return AVX2


@pytest.fixture
def cpu_with_amx(monkeypatch: pytest.MonkeyPatch) -> CpuInfo:
    monkeypatch.setattr(precision, "cpu_info", lambda *a, **k: AMX)
    return AMX


# ------------------------------------------------------------------ the processor's word

def test_cpuinfo_flags_are_read_from_the_first_processor(tmp_path: Path) -> None:
    text = ("processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu avx2 fma avx512f avx512_bf16\n\n"
            "processor\t: 1\nmodel name\t: other\nflags\t\t: fpu\n")
    (tmp_path / "cpuinfo").write_text(text)
    info = precision.cpu_info.__wrapped__(str(tmp_path / "cpuinfo"))
    assert info.model == "AMD EPYC 9R14"
    assert info.flags == ("avx2", "fma", "avx512f", "avx512_bf16") and info.native_bf16
    numbered = tmp_path / "numbered"     # "AMD EPYC" alone names several generations
    numbered.write_text("processor : 0\ncpu family : 25\nmodel : 17\nmodel name : AMD EPYC\nflags : fpu avx2\n")
    assert precision.cpu_info.__wrapped__(str(numbered)).model == "AMD EPYC (family 25, model 17)"
    plain = tmp_path / "plain"
    plain.write_text("model name : Some CPU\nflags : fpu avx2 fma\n")
    assert not precision.cpu_info.__wrapped__(str(plain)).native_bf16
    assert precision.cpu_info.__wrapped__(str(tmp_path / "missing")).flags == ()


def test_auto_picks_fp32_on_a_cpu_without_native_bf16(cpu_without_bf16: CpuInfo) -> None:
    assert resolve_amp("auto", "cpu") == (None, False)
    assert resolve_channels_last("auto", None, "cpu") is True   # channels-last was faster in fp32 too


def test_auto_picks_bf16_and_channels_last_on_a_cpu_with_native_bf16(cpu_with_amx: CpuInfo) -> None:
    assert resolve_amp("auto", "cpu") == (torch.bfloat16, False)
    assert resolve_channels_last("auto", torch.bfloat16, "cpu") is True


def test_explicit_choices_are_honoured_whatever_the_cpu(cpu_with_amx: CpuInfo) -> None:
    assert resolve_amp("off", "cpu") == (None, False)
    assert resolve_amp("fp16", "cpu") == (None, False)
    assert resolve_channels_last(False, torch.bfloat16, "cpu") is False
    assert resolve_channels_last(True, None, "cpu") is True
    with pytest.raises(ValueError, match="amp='int8'.*auto, off, bf16, fp16"):
        resolve_amp("int8", "cpu")


def test_forced_bf16_without_native_bf16_warns_with_the_expected_slowdown(cpu_without_bf16: CpuInfo) -> None:
    with pytest.warns(RuntimeWarning, match=r"without native bf16.*about 11.6x slower than fp32"):
        assert resolve_amp("bf16", "cpu") == (torch.bfloat16, False)


def test_cuda_keeps_bf16(monkeypatch: pytest.MonkeyPatch, cpu_without_bf16: CpuInfo) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_amp("auto", "cuda") == (torch.bfloat16, False)
    assert resolve_channels_last("auto", torch.bfloat16, "cuda") is True
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_amp("auto", "cuda") == (torch.float16, True)


def test_resolve_precision_makes_the_schedule_concrete(cpu_without_bf16: CpuInfo) -> None:
    cfg = resolve_precision(TrainConfig(), "cpu")
    assert (cfg.amp, cfg.channels_last) == ("off", True)
    explicit = TrainConfig(amp="bf16", channels_last=True)
    assert resolve_precision(explicit, "cpu") is explicit


def test_no_profile_forces_a_precision() -> None:
    for name in ("smoke", "quick", "paper"):
        prof = get_profile(name)
        for cfg in (prof.bf, prof.br, prof.ps.teacher, prof.ps.student, prof.pretrain.schedule,
                    prof.pretrain.hrnet_schedule):
            assert (cfg.amp, cfg.channels_last) == ("auto", "auto"), name
        assert prof.eval.amp == "auto", name


def test_channels_last_setting_is_validated() -> None:
    with pytest.raises(ValueError, match="channels_last=1 is not valid"):
        override(get_profile("smoke"), bf={"channels_last": 1})
    with pytest.raises(ValueError, match="channels_last='yes' is not valid"):
        override(get_profile("smoke"), bf={"channels_last": "yes"})


def test_the_precision_is_in_the_run_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run trained in fp32 is never reused as if it were bf16: the identity (and so the run
    folder's digest) names the precision and layout the machine gave."""
    from reidlab.engine.run_identity import RunSpec
    from reidlab.recipes.pretraining import pretrain_spec

    prof = get_profile("smoke")
    specs: dict[str, RunSpec] = {}
    for label, info in (("avx2", AVX2), ("amx", AMX)):
        monkeypatch.setattr(precision, "cpu_info", lambda *a, _info=info, **k: _info)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        specs[label] = pretrain_spec(prof.pretrain, "resnet", "resnet18", height=64, width=32, hr_size=(64, 32))
    assert specs["avx2"].config["train"]["amp"] == "off"
    assert specs["amx"].config["train"]["amp"] == "bf16"
    assert specs["avx2"].digest() != specs["amx"].digest()
    assert any(d.startswith("train.amp") for d in specs["amx"].differences(specs["avx2"].config))


def test_fit_trains_in_the_resolved_precision(tmp_path: Path, cpu_without_bf16: CpuInfo) -> None:
    from torch import nn

    from reidlab.engine import fit
    from reidlab.engine.run_identity import SUMMARY_FILE

    class Data(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 8

        def __getitem__(self, key):  # noqa: ANN001
            index = key[0] if isinstance(key, tuple) else key
            return torch.full((3, 4, 4), float(index)), index % 2

    seen: list[torch.dtype] = []

    def loss_fn(net: nn.Module, batch):  # noqa: ANN001
        x, y = batch
        out = net(x.flatten(1))
        seen.append(out.dtype)
        return nn.functional.cross_entropy(out.float(), y), {}

    cfg = TrainConfig(iterations=2, p=2, k=2, checkpoint_every=2)
    fit(nn.Linear(48, 2), Data(), [i % 2 for i in range(8)], loss_fn, cfg, tmp_path, progress=False, device="cpu")
    assert set(seen) == {torch.float32}
    stored = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert "'amp': 'off'" in json.dumps(stored) or '"amp": "off"' in json.dumps(stored)


def test_precision_report_names_the_cpu_and_the_choice(cpu_without_bf16: CpuInfo) -> None:
    report = precision.precision_report("cpu")
    assert report["cpu_model"] == AVX2.model and report["cpu_flags"] == ["avx2", "fma"]
    assert report["native_bf16"] is False and report["precision"] == "fp32" and report["channels_last"] is True


# ------------------------------------------------------------------------------- stages

def test_stages_count_exclusively_and_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "stages.jsonl"
    with stage("training"):            # no log configured: nothing written
        pass
    assert not log.exists()
    monkeypatch.setenv(STAGE_LOG_ENV, str(log))
    with stage("training"):
        time.sleep(0.05)
        with stage("extraction"):
            time.sleep(0.1)
    totals = read_stage_log(log)
    assert totals["extraction"] >= 0.1 - 1e-3
    assert 0.04 <= totals["training"] < 0.1      # the inner stage's time is not counted twice
    with log.open("a") as fh:
        fh.write('{"stage": "training", "sec')     # a line cut short by a killed kernel
    assert read_stage_log(log) == totals
    with pytest.raises(ValueError, match="stage 'training loop' is not one of"):
        with stage("training loop"):
            pass


# ------------------------------------------------------------------------ check-results

REFERENCE = {
    "bf_lr_to_hr_r1": 22.9, "bf_lr_to_hr_r1_unit_std": 4.0, "br_chance": 25.0, "lambda_chosen": 0.0,
    "rfd_gain_r1_lr_query": -0.5, "rfd_gain_r1_lr_query_ci_low": -3.4, "rfd_gain_r1_lr_query_ci_high": 2.3,
    "rfd_gain_units_lr_query": 3.0, "vdsr_mae": 3.2, "reproduce_minutes": 29.1,
}


def _failed(candidate: dict) -> list[str]:
    return [c.key for c in check.compare_metrics(REFERENCE, candidate) if c.failed]


def test_check_results_accepts_numbers_inside_the_study_uncertainty() -> None:
    moved = {**REFERENCE, "bf_lr_to_hr_r1": 22.9 + 11.9, "rfd_gain_r1_lr_query": 2.0,
             "rfd_gain_r1_lr_query_ci_low": -1.0, "rfd_gain_r1_lr_query_ci_high": 5.0, "lambda_chosen": 0.1,
             "vdsr_mae": 3.6, "reproduce_minutes": 61.0}
    assert _failed(REFERENCE) == []
    assert _failed(moved) == []


def test_check_results_fails_a_metric_moved_outside_its_tolerance() -> None:
    assert _failed({**REFERENCE, "bf_lr_to_hr_r1": 22.9 + 12.1}) == ["bf_lr_to_hr_r1"]  # 3 x 4.0
    assert _failed({**REFERENCE, "rfd_gain_r1_lr_query": 2.4}) == ["rfd_gain_r1_lr_query"]
    assert _failed({**REFERENCE, "vdsr_mae": 3.8}) == ["vdsr_mae"]
    assert _failed({**REFERENCE, "br_chance": 20.0}) == ["br_chance"]
    missing = dict(REFERENCE)
    del missing["bf_lr_to_hr_r1"]
    assert _failed(missing) == ["bf_lr_to_hr_r1"]


def test_check_results_fails_an_interval_that_changes_side_of_zero() -> None:
    flipped = {**REFERENCE, "rfd_gain_r1_lr_query": 1.0, "rfd_gain_r1_lr_query_ci_low": 0.2,
               "rfd_gain_r1_lr_query_ci_high": 1.8}
    checks = {c.key: c for c in check.compare_metrics(REFERENCE, flipped)}
    assert checks["rfd_gain_r1_lr_query"].failed and "above zero" in checks["rfd_gain_r1_lr_query"].note


def test_check_results_spread_falls_back_to_the_gain_interval() -> None:
    old = {k: v for k, v in REFERENCE.items() if k != "bf_lr_to_hr_r1_unit_std"}
    s, source = check.unit_spread(old)
    # half-width 2.85 x sqrt(3) / t(0.975, 2) = 2.85 x 1.732 / 4.303
    assert s == pytest.approx(2.85 * 3 ** 0.5 / 4.3027, rel=1e-3) and "interval over 3 units" in source
    with pytest.raises(ValueError, match="no between-unit spread"):
        check.unit_spread({"bf_lr_to_hr_r1": 1.0})


def _results_folder(root: Path, metrics: dict, verdict: str) -> Path:
    root.mkdir(parents=True)
    (root / "metrics.json").write_text(json.dumps(metrics))
    claims = [{"claim": "RFD over B-F", "data (ours)": "Market-like", "verdict": verdict}]
    (root / "07_controls.json").write_text(json.dumps({"data": {"claims": claims}}))
    return root


def test_check_results_command_flags_a_flipped_verdict(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from reidlab.study.drive.pipeline import check_results_command

    ref = _results_folder(tmp_path / "ref", REFERENCE, "inconclusive: our interval contains both zero and ...")
    same = _results_folder(tmp_path / "same", REFERENCE, "inconclusive: our interval contains both zero and ...")
    flipped = _results_folder(tmp_path / "flip", REFERENCE, "not reproduced: no effect detected, ...")
    assert check_results_command("smoke", 0, str(ref), str(same), run=False) == 0
    assert "agree with" in capsys.readouterr().out
    assert check_results_command("smoke", 0, str(ref), str(flipped), run=False) == 1
    out = capsys.readouterr().out
    assert "verdict flipped" in out and "claim: RFD over B-F (Market-like)" in out
    assert (flipped / "check.md").is_file()
    with pytest.raises(SystemExit, match="same folder"):
        check_results_command("smoke", 0, str(ref), str(ref), run=False)
    with pytest.raises(SystemExit, match="metrics.json does not exist"):
        check_results_command("smoke", 0, str(tmp_path / "nowhere"), str(same), run=False)


def test_rules_cover_every_headline_key() -> None:
    from reidlab.study.show.registry import headline_spec

    HEADLINE_METRICS = headline_spec()

    keys = {**dict.fromkeys(HEADLINE_METRICS, 1.0), "reproduce_minutes": 1.0}
    rules = {k: check.rule_of(k, keys) for k in keys}
    assert rules["reproduce_minutes"] == "ignored"
    assert rules["rfd_gain_r1_lr_query"] == "interval" and rules["rfd_gain_r1_caviar_multi_res_gallery"] == "interval"
    assert rules["rfd_gain_units_lr_query"] == "exact" and rules["br_pseudo_chance"] == "exact"
    assert rules["pseudo_bins_chosen"] == "choice" and rules["lambda_chosen"] == "choice"
    assert rules["bf_lr_to_hr_r1"] == "spread" and rules["control_gain_r1_lr_query_camera_oracle"] == "spread"
    assert rules["vdsr_mae"] == "absolute"
    assert dataclasses.is_dataclass(check.Check)


def test_check_results_uses_a_key_s_own_spread_where_the_reference_stores_one() -> None:
    """Issue 32: a key with ``<key>_unit_std`` beside it is judged within 3 x its own spread (at
    least MIN_TOLERANCE), not within B-F's."""
    ref = {**REFERENCE, "control_gain_r1_lr_query_shuffled_br": -1.6, "control_gain_r1_lr_query_shuffled_br_unit_std": 0.6}
    assert check.rule_of("control_gain_r1_lr_query_shuffled_br_unit_std", ref) == "bound"
    assert _failed_against(ref, {**ref, "control_gain_r1_lr_query_shuffled_br": -1.6 + 1.7}) == []
    moved = {**ref, "control_gain_r1_lr_query_shuffled_br": -1.6 + 1.9}           # 3 x 0.6 = 1.8, B-F's would allow 12
    assert _failed_against(ref, moved) == ["control_gain_r1_lr_query_shuffled_br"]
    tight = {**ref, "control_gain_r1_lr_query_shuffled_br_unit_std": 0.0}         # units all agreed: the floor
    assert _failed_against(tight, {**tight, "control_gain_r1_lr_query_shuffled_br": -1.6 + check.MIN_TOLERANCE}) == []
    assert _failed_against(tight, {**tight, "control_gain_r1_lr_query_shuffled_br": -1.6 + 1.1}) != []


#: the regime numbers of a reference run (the committed quick study's shape)
REGIME = {**REFERENCE, "hr_only_bf_hr_to_hr_r1": 61.4, "hr_only_bf_lr_to_hr_r1": 29.7, "bf_lr_to_hr_r1": 28.5,
          "br_accuracy": 94.0, "br_chance": 25.0, "br_pseudo_balanced_accuracy": 31.8, "br_pseudo_chance": 20.0,
          "vdsr_mae": 2.6, "interp_mae": 3.0}


def _broken_invariants(reference: dict, candidate: dict) -> list[str]:
    return [c.key for c in check.check_invariants(reference, candidate) if c.failed]


def test_check_results_fails_a_lost_regime_that_the_tolerances_would_pass() -> None:
    """Issue 32: the three moved-regime cases (pseudo-label B-R at chance, VDSR-CA behind
    interpolation, an HR-only B-F without an LR penalty) each fail check-results, although every
    number stays within B-F's spread; a faithful rerun passes."""
    assert _broken_invariants(REGIME, REGIME) == []
    faithful = {**REGIME, "br_pseudo_balanced_accuracy": 27.0, "hr_only_bf_lr_to_hr_r1": 33.0, "vdsr_mae": 2.8,
                "bf_lr_to_hr_r1": 27.0}
    assert _broken_invariants(REGIME, faithful) == [] and _failed(faithful) == []
    at_chance = {**REGIME, "br_pseudo_balanced_accuracy": 20.0}
    assert _failed_against(REGIME, at_chance) == []                                # within 3 x 4.0: the old check passed
    assert _broken_invariants(REGIME, at_chance) == ["regime: pseudo-label B-R balanced above chance"]
    behind = {**REGIME, "vdsr_mae": 3.05}                                          # within its +-0.5
    assert _failed_against(REGIME, behind) == []
    assert _broken_invariants(REGIME, behind) == ["regime: VDSR-CA restores better than interpolation"]
    no_penalty = {**REGIME, "hr_only_bf_lr_to_hr_r1": 55.0, "hr_only_bf_hr_to_hr_r1": 61.4}
    assert _broken_invariants(REGIME, no_penalty) == ["regime: HR-only B-F loses rank-1 on LR queries"]
    flipped = {**REGIME, "bf_lr_to_hr_r1": 31.0}                                  # MLR training now helps: sign flips
    assert _broken_invariants(REGIME, flipped) == ["regime: sign of the multi-resolution training gain"]
    assert _broken_invariants(REGIME, {**REGIME, "br_accuracy": 26.0}) == ["regime: B-R above chance on the factor classes"]
    unreported = {k: v for k, v in REGIME.items() if k != "vdsr_mae"}
    assert _broken_invariants(REGIME, unreported) == ["regime: VDSR-CA restores better than interpolation"]
    arm = {k: v for k, v in REGIME.items() if not k.startswith("br_pseudo")}    # no pseudo-labels on either side
    assert "regime: pseudo-label B-R balanced above chance" not in {c.key for c in check.check_invariants(arm, arm)}


def test_a_regime_the_reference_never_reached_cannot_be_lost() -> None:
    """A dataset arm whose B-F barely learned (real VIPeR: HR-only B-F at 5.7 on HR and LR queries
    alike) breaks the HR-only penalty in the reference itself: reported, not failed."""
    weak = {**REGIME, "hr_only_bf_hr_to_hr_r1": 5.7, "hr_only_bf_lr_to_hr_r1": 5.7}
    checks = {c.key: c for c in check.check_invariants(weak, weak)}
    penalty = checks["regime: HR-only B-F loses rank-1 on LR queries"]
    assert penalty.ok and "not held by the reference either" in penalty.note
    assert "**does not hold**" in "\n".join(check.regime_lines(weak))


def test_the_committed_results_hold_their_regime_and_agree_with_themselves() -> None:
    """A faithful rerun passes: the committed results (and each dataset arm) against themselves;
    the embedded study holds every invariant of its regime."""
    from reidlab.paths import read_json, repo_root

    from reidlab.study.show.contract import SWEEP_RESULTS

    results = repo_root() / "results"
    arms = [sub for sub in sorted(results.iterdir()) if (sub / "metrics.json").is_file() and sub.name != SWEEP_RESULTS]
    for folder in [results, *arms]:   # the training-length sweep (results/sweep/) is no study to check
        checks = check.check_results(folder, folder)
        assert [c.key for c in checks if c.failed] == [], folder
    regime = check.regime_lines(read_json(results / "metrics.json"))
    assert len(regime) == len(check.REGIME_INVARIANTS) and not any("does not hold" in line for line in regime), regime


def test_run_info_names_the_cpu_precision_and_stage_times(cpu_without_bf16: CpuInfo,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from reidlab.study.drive.pipeline import run_info, stage_seconds

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    info = run_info("quick", 0, None, None, {"01_train_bf": 100.0}, 100.0)
    assert info["precision"]["cpu_model"] == AVX2.model and info["precision"]["native_bf16"] is False
    assert info["precision"]["precision"] == "fp32" and info["precision"]["extraction_precision"] == "fp32"
    assert info["precision"]["torch_threads"] == torch.get_num_threads()
    assert stage_seconds({"training": 60.0, "extraction": 15.04}, 100.0) == {
        "training": 60.0, "extraction": 15.0, "other": 25.0}


def test_check_results_handles_a_gain_that_was_not_testable() -> None:
    """Fewer than 3 units: no interval (null bounds); the estimate is checked by the spread and the
    candidate must not turn testable."""
    ref = {**REFERENCE, "rfd_gain_r1_lr_query_ci_low": None, "rfd_gain_r1_lr_query_ci_high": None,
           "rfd_gain_units_lr_query": 2.0}
    assert _failed_against(ref, {**ref, "rfd_gain_r1_lr_query": 3.0}) == []
    assert _failed_against(ref, {**ref, "rfd_gain_r1_lr_query": 20.0}) == ["rfd_gain_r1_lr_query"]


def _failed_against(reference: dict, candidate: dict) -> list[str]:
    return [c.key for c in check.compare_metrics(reference, candidate) if c.failed]


def test_bf16_convolutions_that_fail_the_probe_fall_back_to_fp32() -> None:
    """An AMX Xeon whose oneDNN returned garbage for narrow stride-2 bf16 convolutions (torch 2.14.1):
    "auto" trains in fp32 there, an explicit "bf16" warns, and the report says why."""
    broken = dataclasses.replace(AMX, bf16_error=float("inf"))
    assert AMX.bf16_sound and not broken.bf16_sound
    assert precision.resolve_amp("auto", "cpu", info=AMX) == (torch.bfloat16, False)
    assert precision.resolve_amp("auto", "cpu", info=broken) == (None, False)
    with pytest.warns(RuntimeWarning, match="failed the probe"):
        assert precision.resolve_amp("bf16", "cpu", info=broken) == (torch.bfloat16, False)
    words = precision.bf16_words({"native_bf16": True, "bf16_sound": False, "bf16_convolution_error": "inf"})
    assert "failed the probe" in words and "fp32" in words
    assert precision.bf16_words({"native_bf16": True, "bf16_sound": True}) == "native bf16: yes"


def test_the_bf16_probe_measures_this_cpu_without_moving_the_global_rng() -> None:
    state = torch.get_rng_state()
    error = precision.bf16_convolution_error()
    assert torch.equal(state, torch.get_rng_state())
    assert error >= 0.0
    if precision.cpu_info().native_bf16 and precision.cpu_info().bf16_sound:
        assert error < precision.BF16_PROBE_TOLERANCE


def test_kernels_capped_below_bf16_make_a_bf16_processor_compute_in_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ATEN_CPU_CAPABILITY=avx2`` on a processor with bf16: torch's kernels cannot use it, so amp="auto"
    picks fp32 as on the AVX2-only class, and the report says why."""
    capped = dataclasses.replace(AMX, capability="AVX2")
    assert capped.bf16_instructions and capped.kernels_below_bf16 and not capped.native_bf16
    assert AMX.native_bf16 and not AMX.kernels_below_bf16
    monkeypatch.setattr(precision, "cpu_info", lambda *a, **k: capped)
    assert resolve_amp("auto", "cpu") == (None, False)
    with pytest.warns(RuntimeWarning, match="ATEN_CPU_CAPABILITY"):
        assert resolve_amp("bf16", "cpu") == (torch.bfloat16, False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    report = precision.precision_report("cpu")
    assert report["precision"] == "fp32" and report["onednn_max_cpu_isa"] == "AVX2"
    assert "runs its AVX2 kernels (ATEN_CPU_CAPABILITY)" in precision.bf16_words(report)
    assert precision.bf16_words({**report, "bf16_instructions": False}) == "native bf16: no"
