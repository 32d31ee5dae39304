"""B-F / B-R tasks and the reidlab-train CLI on a tiny SynthPeople set (smoke profile)."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from reidlab.config import Profile, get_profile, override
from reidlab.data.prepare import prepare_dataset
from reidlab.data.protocols import build_protocol
from reidlab.data.records import ProtocolSplit
from reidlab.models import MGN, ResolutionNet
from reidlab.recipes.rfd_baselines import load_bf, load_br, train_bf, train_br
from reidlab.train_cli import main, parse_overrides

TINY = {"iterations": 1, "checkpoint_every": 1}


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Profile:
    root = tmp_path_factory.mktemp("data")
    return get_profile("smoke", data={"data_root": str(root)}, model={"pretrained": None}, bf=TINY, br=TINY)


@pytest.fixture(scope="module")
def split(profile: Profile) -> ProtocolSplit:
    dataset = prepare_dataset(profile.data, progress=False)
    return build_protocol("lr_query", dataset, trial=0, seed=profile.data.seed,
                          factors=profile.data.factors)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def test_train_bf_reuse_load_and_cli_no_resume(profile: Profile, split: ProtocolSplit,
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    model, summary = train_bf(profile, split, tmp_path, progress=False)
    n_ids = len({r.pid for r in split.train})
    assert model.num_classes == n_ids and not model.training
    assert summary.iterations == 1 and {"loss", "ce", "triplet", "acc"} <= set(summary.final_metrics)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["task"] == "bf" and config["num_classes"] == n_ids
    assert config["split"]["dataset"] == split.dataset and config["split"]["n_train"] == len(split.train)
    assert config["train"]["p"] == profile.bf.p and config["model"]["attention"] is True

    stamp = (tmp_path / "model.pt").stat().st_mtime_ns
    again, summary2 = train_bf(profile, split, tmp_path, progress=False)  # finished: reused
    assert summary2 == summary and (tmp_path / "model.pt").stat().st_mtime_ns == stamp
    loaded = load_bf(tmp_path)
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name].cpu()), name
    with torch.no_grad():
        features = loaded(torch.zeros(2, 3, profile.model.height, profile.model.width))
    assert features.shape == (2, 8 * profile.model.feat_dim)

    # the same folder with another model config: refused, unless --no-resume
    argv = ["--task", "bf", "--profile", "smoke", "--data-root", profile.data.data_root,
            "--protocol", "lr_query", "--out", str(tmp_path), "--no-progress",
            "--set", "bf.iterations=1", "--set", "model.attention=false"]
    assert main(argv) == 1
    assert "model.attention: True -> False" in capsys.readouterr().err
    assert main([*argv, "--no-resume"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["iterations"] == 1 and printed["resumed_from"] is None
    assert (tmp_path / "model.pt").stat().st_mtime_ns != stamp
    assert json.loads((tmp_path / "config.json").read_text())["model"]["attention"] is False
    assert not load_bf(tmp_path).attention


@pytest.mark.parametrize("network", ["mgn", "light"])
def test_train_br_classifies_balanced_resolutions(profile: Profile, split: ProtocolSplit,
                                                  tmp_path: Path, network: str) -> None:
    profile = override(profile, model={"br_network": network})
    model, summary = train_br(profile, split, tmp_path, progress=False)
    assert isinstance(model, ResolutionNet if network == "light" else MGN)
    assert model.num_classes == split.n_res_classes
    model = model.cpu()                                           # trained on CUDA where there is one
    assert model(torch.zeros(2, 3, 64, 32)).shape == (2, model.out_dim)     # eval: B-R's feature for Eq. 7
    assert len(model.classify(torch.zeros(2, 3, 64, 32))) == (1 if network == "light" else 8)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["train"]["p"] == len({r.res_label for r in split.train}) == split.n_res_classes
    assert Counter(r.res_label for r in split.train).keys() == set(range(split.n_res_classes))
    assert type(load_br(tmp_path)) is type(model) and load_br(tmp_path).num_classes == split.n_res_classes
    with pytest.raises(ValueError, match="'br' run"):
        load_bf(tmp_path)


def test_loading_missing_runs_says_how_to_train_them(tmp_path: Path) -> None:
    # the engine knows no notebook names (the study's models module does)
    with pytest.raises(FileNotFoundError, match="no trained B-F model.*train_bf"):
        load_bf(tmp_path)
    with pytest.raises(FileNotFoundError, match="no trained B-R model.*train_br"):
        load_br(tmp_path)


@pytest.mark.parametrize(("argv", "message"), [
    (["--task", "xx"], "choose from 'bf', 'br'"),
    (["--task", "bf", "--protocol", "nope"], "choose from 'lr_query', 'multi_res_gallery'"),
    (["--task", "bf", "--set", "bf.nope=1"], "valid: amp, augment_on, beta1"),
    (["--task", "bf", "--set", "nope.lr=1"], "unknown section 'nope'"),
    (["--task", "bf", "--set", "bf.iterations=ten"], "not a valid int"),
    (["--task", "bf", "--set", "bf.amp=fp8"], "choose one of: auto, off, bf16, fp16"),
    (["--task", "bf", "--set", "bf"], "section.field=value"),
])
def test_cli_rejects_bad_arguments(argv: list[str], message: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_parse_overrides_uses_field_types() -> None:
    profile = get_profile("smoke")
    changes = parse_overrides(["bf.lr=1e-3", "model.attention=False", "model.pretrained=none",
                               "data.factors=2,4", "ps.teacher.iterations=3", "data.dataset=grid"],
                              profile)
    assert changes == {"bf": {"lr": 1e-3}, "model": {"attention": False, "pretrained": None},
                       "data": {"factors": (2, 4), "dataset": "grid"},
                       "ps": {"teacher": {"iterations": 3}}}
