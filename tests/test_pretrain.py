"""The pre-training stand-in for ImageNet: its own population, a cached run, loadable weights."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from reidlab.config import PRETRAIN_SEED, PretrainConfig, get_profile, override, pretrain_schedule
from reidlab.data.synth import sample_identities
from reidlab.engine.run_identity import RunSpec
from reidlab.models.mgn import build_mgn
from reidlab.recipes import pretraining as pre
from reidlab.study.compute import model_store

TINY = PretrainConfig(n_ids=6, images_per_id=3, n_cameras=2,
                      schedule=pretrain_schedule(iterations=2, warmup_iterations=1, p=3, k=2, amp="off",
                                                 checkpoint_every=1),
                      hrnet_schedule=pretrain_schedule(iterations=1, warmup_iterations=0, p=3, k=2, amp="off"))
SIZE = dict(height=64, width=32, hr_size=(32, 64))


@pytest.fixture(scope="module")
def resnet_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pretrain")
    weights, summary = pre.pretrain_backbone(TINY, "resnet", "resnet18", root / "run", data_root=root / "data",
                                             progress=False, **SIZE)
    assert summary is not None and summary.iterations == 2
    return root, weights


def test_population_is_its_own(resnet_run: tuple[Path, Path]) -> None:
    """No pre-training identity is one of the study's (seeds 0 and 1: Market-, Duke-like, CAVIAR-like)."""
    assert PRETRAIN_SEED not in (0, 1)
    appearance = lambda p: (p.coarse(), p.fine())  # noqa: E731
    own = {appearance(p) for p in sample_identities(400, PRETRAIN_SEED)}
    for seed in (0, 1):
        study = {appearance(p) for p in sample_identities(200, seed)} | {appearance(p) for p in sample_identities(72, seed)}
        assert not own & study
    root, _ = resnet_run
    folders = [p.name for p in (root / "data").iterdir() if not p.name.startswith(".")]
    assert folders == [f"synth-market_n6_k3_c2_32x64_s{PRETRAIN_SEED}"]


def test_labels_cover_identity_and_attributes(resnet_run: tuple[Path, Path]) -> None:
    root, _ = resnet_run
    records, table = pre.pretrain_records(TINY, root / "data", hr_size=(32, 64), progress=False)
    assert len(records) == 6 * 3 and {r.pid for r in records} == set(range(1, 7))
    assert table.targets.shape == (18, 1 + len(pre.PRETRAIN_ATTRIBUTES))
    assert table.head_sizes[0] == 6
    for column, size in enumerate(table.head_sizes):
        assert int(table.targets[:, column].max()) < size
    # images of one identity share every label
    by_pid: dict[int, set] = {}
    for record, row in zip(records, table.targets.tolist()):
        by_pid.setdefault(record.pid, set()).add(tuple(row))
    assert all(len(rows) == 1 for rows in by_pid.values())


def test_finished_run_is_reused_not_retrained(resnet_run: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root, weights = resnet_run
    before = weights.stat().st_mtime_ns

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished pre-training run was retrained")

    monkeypatch.setattr(pre, "fit", must_not_train)
    again, summary = pre.pretrain_backbone(TINY, "resnet", "resnet18", root / "run", data_root=root / "data",
                                           progress=False, **SIZE)
    assert again == weights and summary is None and weights.stat().st_mtime_ns == before


def test_other_settings_are_another_run(resnet_run: tuple[Path, Path]) -> None:
    """The identity covers population, schedule and network; result-neutral fields do not count."""
    spec = pre.pretrain_spec(TINY, "resnet", "resnet18", **SIZE)
    longer = dataclasses.replace(TINY, schedule=dataclasses.replace(TINY.schedule, iterations=3))
    others = [pre.pretrain_spec(longer, "resnet", "resnet18", **SIZE),
              pre.pretrain_spec(dataclasses.replace(TINY, seed=PRETRAIN_SEED + 1), "resnet", "resnet18", **SIZE),
              pre.pretrain_spec(TINY, "resnet", "resnet34", **SIZE),
              pre.pretrain_spec(TINY, "hrnet", "hrnet_w18_small", **SIZE)]
    assert len({spec.digest(), *(o.digest() for o in others)}) == 5
    neutral = dataclasses.replace(TINY, schedule=dataclasses.replace(TINY.schedule, checkpoint_every=7))
    assert pre.pretrain_spec(neutral, "resnet", "resnet18", **SIZE).digest() == spec.digest()
    # the HRNet schedule does not touch the ResNet run
    hrnet_changed = dataclasses.replace(TINY, hrnet_schedule=dataclasses.replace(TINY.hrnet_schedule, iterations=9))
    assert pre.pretrain_spec(hrnet_changed, "resnet", "resnet18", **SIZE).digest() == spec.digest()
    stored = RunSpec.stored(resnet_run[0] / "run")
    assert stored is not None and stored.get("task") == "pretrain"


def test_backbone_file_initialises_mgn(resnet_run: tuple[Path, Path]) -> None:
    _, weights = resnet_run
    state = torch.load(weights, weights_only=True)
    assert not any(k.startswith("fc.") for k in state)
    model = build_mgn(5, backbone="resnet18", pretrained=str(weights), reduction=8, feat_dim=16)
    assert torch.equal(model.stem[0].weight, state["conv1.weight"])
    assert torch.equal(model.layer2[0].conv1.weight, state["layer2.0.conv1.weight"])
    assert torch.equal(model.branches[1].layer4[0].conv1.weight, state["layer4.0.conv1.weight"])


def test_study_resolves_synthpeople_to_the_run(tmp_path: Path) -> None:
    prof = override(get_profile("smoke"), data={"data_root": str(tmp_path / "data")})
    prof = dataclasses.replace(prof, pretrain=TINY)
    assert model_store.uses_pretraining(prof)
    resolved = model_store.with_pretraining(prof, tmp_path / "runs", progress=False)
    weights = Path(resolved.model.pretrained)
    assert weights.name == pre.BACKBONE_FILE and weights.is_file()
    assert weights.parent.parent.name == model_store.PRETRAIN_FOLDER
    config = json.loads((weights.parent / "config.json").read_text())
    assert config["task"] == "pretrain" and config["backbone"] == prof.model.backbone
    with pytest.raises(FileNotFoundError, match="pre-training"):
        model_store.pretraining_run(prof, tmp_path / "elsewhere", train_if_missing=False)
    scratch = override(prof, model={"pretrained": None})
    assert model_store.with_pretraining(scratch, tmp_path / "runs") is scratch


def test_light_br_does_not_need_the_pretraining(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The light B-R starts from random weights: its identity ignores `pretrained`, and training it
    never triggers the ResNet pre-training."""
    from reidlab.config import protocol_kwargs
    from reidlab.data import build_protocol, prepare_dataset
    from reidlab.recipes.rfd_baselines import br_spec

    prof = override(get_profile("smoke"), data={"data_root": str(tmp_path / "data")}, br={"iterations": 1})
    assert prof.model.br_network == "light"
    split = build_protocol("lr_query", prepare_dataset(prof.data, progress=False), **protocol_kwargs(prof))
    other = override(prof, model={"pretrained": None})
    assert br_spec(prof, split).digest() == br_spec(other, split).digest()

    def must_not_pretrain(*args, **kwargs):
        raise AssertionError("the light B-R triggered the pre-training")

    monkeypatch.setattr(model_store, "pretraining_run", must_not_pretrain)
    model, out = model_store.br_model(prof, split, tmp_path / "runs", progress=False)
    assert out.is_dir() and model.num_classes == split.n_res_classes


def test_light_br_width_is_in_its_identity_alone(tmp_path: Path) -> None:
    """The light B-R's width (``ModelConfig.br_width``) names its runs: another width retrains it,
    B-F never sees it, and a run stored before the option (no width in its model section) is built
    at the 24 channels it was trained with."""
    from reidlab.config import protocol_kwargs
    from reidlab.data import build_protocol, prepare_dataset
    from reidlab.models.build import rfd_network
    from reidlab.recipes.rfd_baselines import bf_spec, br_spec

    prof = override(get_profile("smoke"), data={"data_root": str(tmp_path / "data")})
    split = build_protocol("lr_query", prepare_dataset(prof.data, progress=False), **protocol_kwargs(prof))
    wider = override(prof, model={"br_width": prof.model.br_width + 8})
    assert br_spec(prof, split).digest() != br_spec(wider, split).digest()
    assert bf_spec(prof, split).digest() == bf_spec(wider, split).digest()
    assert br_spec(prof, split).config["model"] == {"br_network": "light", "br_width": prof.model.br_width}
    first_conv = lambda net: net.body[0][0].out_channels  # noqa: E731
    assert first_conv(rfd_network({"br_network": "light"}, 4)) == 24
    assert first_conv(rfd_network({"br_network": "light", "br_width": 16}, 4)) == 16
