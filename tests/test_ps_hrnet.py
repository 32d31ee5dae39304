"""PS-HRNet: VDSR-CA, HRNet-ReID, the pseudo-siamese losses and teacher/student training."""
from __future__ import annotations

import dataclasses
import json
import math
import socket
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

from reidlab.config import Profile, get_profile
from reidlab.data.records import ImageRecord, ProtocolSplit
from reidlab.recipes import ps_hrnet as ps_engine
from reidlab.recipes.ps_hrnet import (
    CONFIG_FILE,
    load_student,
    load_teacher,
    ps_input_size,
    student_records,
    student_spec,
    teacher_records,
    teacher_spec,
    train_student,
    train_teacher,
)
from reidlab.losses.ps_hrnet import (
    feature_l1_loss,
    image_l1_loss,
    label_smoothed_ce,
    pseudo_siamese_loss,
    reid_loss,
)
from reidlab.models import PretrainedWeightsMissing
from reidlab.models.hrnet_reid import HRNetReID, PSHRNetStudent, check_input_size
from reidlab.models.vdsr import VDSRCA, ChannelGate

HRNET = "hrnet_w18_small"
SIZE = 32            # HRNet input side in these tests (a multiple of 32)


#: one intra-op thread for every test here (see ``one_thread`` in conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------------- VDSR-CA

def test_channel_gate_squeezes_to_four_and_gates_in_unit_interval() -> None:
    for channels in (16, 32, 64):
        gate = ChannelGate(channels, squeezed=4)
        assert gate.fc_down.out_channels == 4 and gate.fc_up.in_channels == 4
        assert gate.fc_up.out_channels == channels
    torch.manual_seed(0)
    gate = ChannelGate(8, squeezed=4)
    x = 10 * torch.randn(3, 8, 5, 4)
    s = gate.excite(gate.squeeze(x))
    assert s.shape == (3, 8, 1, 1)
    assert bool((s > 0).all() and (s < 1).all())
    assert torch.allclose(gate(x), x * s)             # Eq. (6): channel-wise scaling


def test_channel_gate_hand_computed() -> None:
    gate = ChannelGate(4, squeezed=4, gate_bias=0.0)
    with torch.no_grad():
        gate.fc_down.weight.zero_()
        gate.fc_down.bias.zero_()
        gate.fc_up.weight.zero_()
        gate.fc_up.bias.copy_(torch.tensor([0.0, math.log(3.0), -math.log(3.0), 100.0]))
    x = torch.ones(1, 4, 2, 2)
    expected = torch.tensor([0.5, 0.75, 0.25, 1.0]).view(1, 4, 1, 1).expand(1, 4, 2, 2)
    assert torch.allclose(gate(x), expected, atol=1e-6)


def test_channel_gate_rejects_bad_widths() -> None:
    with pytest.raises(ValueError, match="multiple of squeezed"):
        ChannelGate(10, squeezed=4)


@pytest.mark.parametrize("size", [(17, 9), (32, 16), (8, 8)])
def test_vdsr_preserves_shape_and_starts_near_identity(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    vdsr = VDSRCA(channels=16, blocks=3)
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        y = vdsr(x)
    assert y.shape == x.shape
    assert float((y - x).norm() / x.norm()) < 0.05


def test_vdsr_paper_layout_and_trainable_at_init() -> None:
    vdsr = VDSRCA()                                   # PS-HRNet: 64 channels, 18 blocks
    convs = [m for m in vdsr.modules()
             if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) == 20                           # head + 18 body + tail, as VDSR
    gates = [m for m in vdsr.modules() if isinstance(m, ChannelGate)]
    assert len(gates) == 18 and all(g.fc_down.out_channels == 4 for g in gates)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 16, 8)
    with torch.no_grad():
        assert float((vdsr(x) - x).norm() / x.norm()) < 0.05
    # every layer gets gradient at initialisation (the gates start open)
    (vdsr(x) - 1.1 * x).abs().mean().backward()
    assert float(vdsr.head[0].weight.grad.abs().sum()) > 0
    assert float(vdsr.body[0][0].weight.grad.abs().sum()) > 0


# ---------------------------------------------------------------------- HRNet-ReID

@pytest.fixture(scope="module")
def reid() -> HRNetReID:
    torch.manual_seed(0)
    return HRNetReID(5, hrnet=HRNET, embed_dim=16)                  # head="authors"


@pytest.fixture(scope="module")
def reid_bnneck() -> HRNetReID:
    torch.manual_seed(0)
    return HRNetReID(5, hrnet=HRNET, embed_dim=16, head="bnneck")


def test_hrnet_reid_authors_train_and_eval_outputs(reid: HRNetReID) -> None:
    assert reid.head == "authors" and reid.out_dim == 6144 + 16
    x = torch.randn(4, 3, SIZE, SIZE)
    reid.train()
    with torch.no_grad():
        out = reid(x)
    assert set(out) == {"logits", "triplet", "features"}
    assert [t.shape for t in out["logits"]] == [(4, 5)]
    assert [t.shape[1] for t in out["triplet"]] == [6144, 2048, 1024, 2048, 1024]
    torch.testing.assert_close(out["triplet"][0], torch.cat(out["triplet"][1:], dim=1))
    assert out["features"].shape == (4, 6144 + 16)
    reid.eval()
    with torch.no_grad():
        desc = reid(x)
        f, e = reid.embed(x)
    assert desc.shape == (4, 6144 + 16)
    torch.testing.assert_close(desc, torch.cat([f, e], dim=1))


def test_hrnet_reid_bnneck_train_and_eval_outputs(reid_bnneck: HRNetReID) -> None:
    reid = reid_bnneck
    x = torch.randn(4, 3, SIZE, SIZE)
    reid.train()
    with torch.no_grad():
        out = reid(x)
    assert set(out) == {"logits", "triplet", "features"}
    assert [t.shape for t in out["logits"]] == [(4, 5)]
    assert [t.shape for t in out["triplet"]] == [(4, 16)]
    assert out["features"].shape == (4, 16)
    reid.eval()
    with torch.no_grad():
        feat = reid(x)
        f_t, f_i = reid.embed(x)
    assert feat.shape == (4, 16) and reid.out_dim == 16
    assert torch.allclose(feat, f_i) and torch.allclose(f_i, reid.bnneck(f_t))   # BNNeck
    assert not reid.bnneck.bias.requires_grad


def test_hrnet_reid_refuses_sizes_not_multiple_of_32(reid: HRNetReID) -> None:
    check_input_size(256, 128)
    with pytest.raises(ValueError, match="multiples of 32.*64x32"):
        check_input_size(60, 32)
    with pytest.raises(ValueError, match="multiples of 32"):
        reid.eval()(torch.randn(1, 3, 48, 32))
    with pytest.raises(ValueError, match="not a timm HRNet"):
        HRNetReID(3, hrnet="resnet50")
    with pytest.raises(ValueError, match="head="):
        HRNetReID(3, hrnet=HRNET, head="pcb")


def test_hrnet_reid_pretrained_missing_fails_at_once(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """HF cache pointed at an empty folder, network forbidden: PretrainedWeightsMissing
    at once, naming the model id, the cache folder and a download command."""
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network access was attempted")

    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setattr(socket, "create_connection", forbidden)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", forbidden)
    with pytest.raises(PretrainedWeightsMissing) as info:
        HRNetReID(3, hrnet=HRNET, embed_dim=8, pretrained="imagenet")
    msg = str(info.value)
    assert "timm/hrnet_w18_small" in msg and str(tmp_path / "hub") in msg
    assert "hf_hub_download(" in msg and "pretrained=None" in msg
    with pytest.raises(ValueError, match="pretrained"):
        HRNetReID(3, hrnet=HRNET, embed_dim=8, pretrained="in21k")
    with pytest.raises(PretrainedWeightsMissing, match="does not exist"):
        HRNetReID(3, hrnet=HRNET, embed_dim=8, pretrained=str(tmp_path / "none.safetensors"))


def _fake_hf_cache(cache: Path, hub_id: str, state: dict[str, torch.Tensor]) -> Path:
    """The Hugging Face cache layout of one downloaded ``model.safetensors``."""
    repo = cache / f"models--{hub_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(snapshot / "model.safetensors"))
    return snapshot / "model.safetensors"


@pytest.mark.parametrize("head", ["authors", "bnneck"])
def test_hrnet_reid_pretrained_from_cache_and_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   head: str) -> None:
    torch.manual_seed(3)
    reference = timm.create_model(HRNET, pretrained=False)            # with its classifier
    state = reference.state_dict()
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    cached = _fake_hf_cache(tmp_path / "hub", "timm/hrnet_w18_small.gluon_in1k", state)
    local = tmp_path / "backbone.pth"
    torch.save(state, local)
    for pretrained in ("imagenet", str(local)):
        model = HRNetReID(3, hrnet=HRNET, embed_dim=8, pretrained=pretrained, head=head)
        torch.testing.assert_close(model.backbone.conv1.weight, reference.conv1.weight)
        torch.testing.assert_close(model.backbone.incre_modules[3][0].conv3.weight,
                                   reference.incre_modules[3][0].conv3.weight)
    assert cached.is_file()


def test_student_forward(reid: HRNetReID) -> None:
    student = PSHRNetStudent(VDSRCA(channels=8, blocks=1), reid)
    x = torch.randn(2, 3, SIZE, SIZE)
    student.train()
    with torch.no_grad():
        out = student(x)
    assert set(out) == {"logits", "triplet", "features", "restored"}
    assert out["restored"].shape == x.shape
    student.eval()
    with torch.no_grad():
        assert student(x).shape == (2, 6144 + 16) and student.out_dim == 6144 + 16


def test_build_student_copies_the_teacher(reid: HRNetReID) -> None:
    profile = _profile()
    student = ps_engine.build_student(5, profile.ps, teacher=reid)
    assert student.vdsr.blocks == 1 and student.vdsr.channels == 8
    copied = student.reid.state_dict()
    assert all(torch.equal(v, copied[k]) for k, v in reid.state_dict().items())
    assert all(p is not q for p, q in zip(student.reid.parameters(), reid.parameters()))


# -------------------------------------------------------------------------- losses

def test_label_smoothed_ce_hand_computed() -> None:
    # p = (0.25, 0.75), y = 1, eps = 0.1: q = (0.05, 0.95)
    logits = torch.log(torch.tensor([[1.0, 3.0]]))
    expected = -(0.05 * math.log(0.25) + 0.95 * math.log(0.75))
    loss = label_smoothed_ce(logits, torch.tensor([1]), eps=0.1)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # uniform scores: log K whatever eps
    assert label_smoothed_ce(torch.zeros(3, 4), torch.tensor([0, 1, 3]), eps=0.3).item() == \
        pytest.approx(math.log(4), rel=1e-6)
    torch.manual_seed(0)
    logits, targets = torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 4, 0])
    assert torch.allclose(label_smoothed_ce(logits, targets, 0.1),
                          F.cross_entropy(logits, targets, label_smoothing=0.1))
    assert torch.allclose(label_smoothed_ce(logits, targets, 0.0), F.cross_entropy(logits, targets))


def test_feature_l1_hand_computed_and_teacher_detached() -> None:
    student = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    teacher = torch.tensor([[0.0, 2.0], [5.0, 4.0]], requires_grad=True)
    loss = feature_l1_loss(student, teacher)
    assert loss.item() == pytest.approx(0.75)                  # (1 + 0 + 2 + 0) / 4
    loss.backward()
    assert teacher.grad is None
    assert torch.equal(student.grad, torch.tensor([[0.25, 0.0], [-0.25, 0.0]]))


def test_image_l1_hand_computed() -> None:
    restored = torch.zeros(2, 3, 2, 2)
    restored[0] = 1.0
    hr = torch.full((2, 3, 2, 2), 0.5)
    assert image_l1_loss(restored, hr).item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="differ in shape"):
        image_l1_loss(restored, hr[:, :, :1])


def _hand_outputs() -> tuple[dict[str, object], torch.Tensor]:
    """Two classes, uniform logits (CE = ln 2, acc 0.5), 1-D triplet features with
    hardest-pair hinges 1.3, 1.3, 2.3, 1.3 at margin 0.3 (mean 1.55)."""
    targets = torch.tensor([0, 0, 1, 1])
    out = {"logits": [torch.zeros(4, 2)],
           "triplet": [torch.tensor([[0.0], [2.0], [1.0], [4.0]])],
           "features": torch.ones(4, 2),
           "restored": torch.ones(4, 3, 2, 2)}
    return out, targets


def test_reid_and_pseudo_siamese_loss_hand_computed() -> None:
    out, targets = _hand_outputs()
    loss, logs = reid_loss(out, targets, margin=0.3, eps=0.1)
    assert loss.item() == pytest.approx(math.log(2) + 1.55, rel=1e-5)
    assert logs["acc"] == pytest.approx(0.5)
    teacher_feat = torch.full((4, 2), 1.5)                      # L_feat = 0.5
    hr = torch.full((4, 3, 2, 2), 0.75)                         # L_img = 0.25
    loss, logs = pseudo_siamese_loss(out, teacher_feat, hr, targets, margin=0.3, eps=0.1,
                                     feature_weight=2.0, image_weight=3.0)
    assert set(logs) == {"ce", "triplet", "feat_l1", "img_l1", "acc"}
    assert logs["ce"] == pytest.approx(math.log(2), rel=1e-5)
    assert logs["triplet"] == pytest.approx(1.55, rel=1e-5)
    assert logs["feat_l1"] == pytest.approx(0.5) and logs["img_l1"] == pytest.approx(0.25)
    assert loss.item() == pytest.approx(math.log(2) + 1.55 + 2 * 0.5 + 3 * 0.25, rel=1e-5)


# ------------------------------------------------------------------------ training

def _split(root: Path, factors: tuple[int, ...] = (1, 2), n_ids: int = 4,
           per_id: int = 3) -> ProtocolSplit:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    records = []
    for pid in range(n_ids):
        for i in range(per_id):
            path = root / f"{pid:02d}_{i}.png"
            pixels = rng.integers(0, 256, (64, 32, 3), dtype=np.uint8)
            pixels[..., pid % 3] = 255 // (pid + 1)               # a little identity signal
            Image.fromarray(pixels).save(path)
            records += [ImageRecord(str(path), pid + 7, i % 2, 32, 64, factor=f) for f in factors]
    return ProtocolSplit("lr_query", "toy", 0, tuple(records), (), (), n_res_classes=4)


def _profile(**ps: object) -> Profile:
    schedule = {"iterations": 2, "checkpoint_every": 2}
    return get_profile("smoke", model={"height": SIZE, "width": SIZE, "pretrained": None},
                       ps={"teacher": schedule, "student": schedule, "embed_dim": 16,
                           "vdsr_blocks": 1, "vdsr_channels": 8, **ps})


def test_training_records_of_mlr_and_native_data(tmp_path: Path) -> None:
    mlr = _split(tmp_path, factors=(1, 2, 4), n_ids=2, per_id=1)
    assert {r.factor for r in teacher_records(mlr)} == {1} and len(teacher_records(mlr)) == 2
    assert {r.factor for r in student_records(mlr)} == {2, 4} and len(student_records(mlr)) == 4
    assert student_records(mlr, "all") == mlr.train             # authors: HR records too
    native = dataclasses.replace(mlr, train=tuple(r for r in mlr.train if r.factor == 1))
    assert student_records(native) == native.train              # paired with themselves
    assert student_records(native, "all") == native.train
    with pytest.raises(ValueError, match="student_data='hr'"):
        student_records(mlr, "hr")


def test_teacher_then_student_training(tmp_path: Path) -> None:
    split = _split(tmp_path / "images")
    profile = _profile()
    teacher, t_summary = train_teacher(profile, split, tmp_path / "teacher", progress=False)
    assert t_summary.iterations == 2 and {"ce", "triplet", "acc"} <= set(t_summary.final_metrics)
    config = json.loads((tmp_path / "teacher" / CONFIG_FILE).read_text())
    assert config["task"] == "teacher" and config["model"]["num_classes"] == 4
    assert config["data"]["n_train"] == 12                      # the factor-1 records only
    assert config["objective"] == "simple"
    assert (config["model"]["height"], config["model"]["width"]) == (SIZE, SIZE)
    before = {k: v.detach().cpu().clone() for k, v in teacher.state_dict().items()}   # trained on CUDA when there is one

    student, s_summary = train_student(profile, split, teacher, tmp_path / "student",
                                       progress=False)
    assert {"ce", "triplet", "feat_l1", "img_l1", "acc"} <= set(s_summary.final_metrics)
    s_config = json.loads((tmp_path / "student" / CONFIG_FILE).read_text())
    assert s_config["init_from_teacher"] is True and s_config["vdsr_lr_scale"] == 0.1
    assert s_config["data"]["n_train"] == 12                    # the factor-2 records
    assert s_config["data"]["student_data"] == "degraded" and s_config["objective"] == "simple"
    assert (s_config["model"]["vdsr_bias"], s_config["model"]["vdsr_init"]) == (True, "identity")
    assert s_config["loss"] == {"feature_l1_weight": 1.0, "image_l1_weight": 1.0}
    assert all(math.isfinite(v) for v in s_summary.final_metrics.values())
    # the teacher is frozen: eval mode, no grads, weights and BN statistics untouched
    assert not teacher.training
    assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())
    assert all(torch.equal(before[k], v.cpu()) for k, v in teacher.state_dict().items())
    # the student did train
    assert any(p.grad is not None for p in student.vdsr.parameters())

    # finished runs are reused, and load back with the same weights
    again, summary = train_teacher(profile, split, tmp_path / "teacher", progress=False)
    assert summary == t_summary
    loaded = load_teacher(tmp_path / "teacher")
    assert all(torch.equal(before[k], v.cpu()) for k, v in loaded.state_dict().items())
    loaded_student = load_student(tmp_path / "student")
    x = torch.randn(2, 3, SIZE, SIZE)
    student.eval()
    with torch.no_grad():
        assert torch.allclose(loaded_student(x), student.cpu()(x), atol=1e-5)

    # a different configuration in the same folder is refused
    with pytest.raises(ValueError, match="another configuration.*feature_l1_weight"):
        train_student(_profile(feature_l1_weight=0.5), split, loaded, tmp_path / "student",
                      progress=False)
    with pytest.raises(ValueError, match="not a 'student'"):
        load_student(tmp_path / "teacher")


def test_training_refuses_bad_input_and_missing_runs(tmp_path: Path) -> None:
    split = _split(tmp_path / "images", n_ids=2, per_id=1)
    bad = get_profile("smoke", model={"height": 60, "width": 32})
    with pytest.raises(ValueError, match="multiples of 32"):
        train_teacher(bad, split, tmp_path / "teacher", progress=False)
    assert not (tmp_path / "teacher").exists()
    with pytest.raises(FileNotFoundError, match="train_teacher"):
        load_teacher(tmp_path / "nothing")
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / CONFIG_FILE).write_text(json.dumps({"task": "student"}))
    with pytest.raises(FileNotFoundError, match="not finished"):
        load_student(tmp_path / "unfinished")
    assert ps_engine.frozen(torch.nn.Linear(2, 2).train()).training is False


# ----------------------------------------------------------- the authors' recipe

AUTHORS_H, AUTHORS_W = 64, 32    # PS-HRNet's own size here (the model section keeps SIZE x SIZE)


def _authors_profile(**ps: object) -> Profile:
    """The ``paper`` profile's PS-HRNet recipe on smoke scale: the authors' objective, every
    MLR image for the student, the authors' VDSR-CA, PS-HRNet's own input size, an
    epoch-based SGD + Nesterov schedule with a constant warm-up, milestones and pad + crop."""
    schedule = {"epochs": 2, "warmup_epochs": 1, "warmup_lr": 3e-4, "nesterov": True,
                "lr_milestones": (0.75,), "pad_crop": 2, "random_erasing": False,
                "checkpoint_every": 2}
    return get_profile("smoke", model={"height": SIZE, "width": SIZE, "pretrained": None},
                       ps={"teacher": schedule, "student": schedule, "embed_dim": 16,
                           "vdsr_blocks": 1, "vdsr_channels": 8, "objective": "authors",
                           "student_data": "all", "vdsr_bias": False, "vdsr_init": "authors",
                           "height": AUTHORS_H, "width": AUTHORS_W, **ps})


def test_ps_input_size() -> None:
    assert ps_input_size(_profile()) == (SIZE, SIZE)                # 0: the model section's
    assert ps_input_size(_authors_profile()) == (AUTHORS_H, AUTHORS_W)
    assert ps_input_size(get_profile("paper")) == (256, 128)        # authors' notebook
    with pytest.raises(ValueError, match="set both"):
        ps_input_size(_profile(height=64))
    with pytest.raises(ValueError, match="multiples of 32"):
        ps_input_size(_profile(height=48, width=32))


def test_authors_recipe_trains_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    split = _split(tmp_path / "images")                         # 4 ids x 3 images, at x1 and x2
    profile = _authors_profile()
    calls: dict[str, int] = {"teacher": 0, "student": 0}
    teacher_loss, student_loss = ps_engine.authors_teacher_loss, ps_engine.authors_pseudo_siamese_loss

    def counted_teacher_loss(outputs, targets, **kwargs):
        calls["teacher"] += 1
        assert len(outputs["triplet"]) == 5                    # 6144-d + the four branches
        assert kwargs == {"margin": 0.3, "eps": 0.1}
        return teacher_loss(outputs, targets, **kwargs)

    def counted_student_loss(student_out, teacher_out, hr, targets, **kwargs):
        calls["student"] += 1
        assert hr.shape[-2:] == (AUTHORS_H, AUTHORS_W)
        assert not teacher_out["features"].requires_grad       # frozen teacher, no_grad
        assert len(teacher_out["triplet"]) == 5 and len(teacher_out["logits"]) == 1
        assert not teacher.training                             # eval-mode targets
        return student_loss(student_out, teacher_out, hr, targets, **kwargs)

    monkeypatch.setattr(ps_engine, "authors_teacher_loss", counted_teacher_loss)
    monkeypatch.setattr(ps_engine, "authors_pseudo_siamese_loss", counted_student_loss)

    teacher, t_summary = train_teacher(profile, split, tmp_path / "teacher", progress=False)
    # epochs 2 x ceil(12 HR images / (4 x 2)) = 4 iterations, warm-up 1 epoch = 2
    assert t_summary.iterations == 4 and calls["teacher"] == 4
    config = json.loads((tmp_path / "teacher" / CONFIG_FILE).read_text())
    assert config["objective"] == "authors"
    assert (config["model"]["height"], config["model"]["width"]) == (AUTHORS_H, AUTHORS_W)
    assert config["train"]["iterations"] == 4 and config["train"]["warmup_iterations"] == 2
    assert config["train"]["nesterov"] is True and config["train"]["pad_crop"] == 2

    before = {k: v.detach().cpu().clone() for k, v in teacher.state_dict().items()}   # trained on CUDA when there is one
    student, s_summary = train_student(profile, split, teacher, tmp_path / "student",
                                       progress=False)
    assert s_summary.iterations == 4 and calls["student"] == 4
    assert {"ce", "triplet", "feat_l1", "img_l1", "acc"} <= set(s_summary.final_metrics)
    assert all(math.isfinite(v) for v in s_summary.final_metrics.values())
    s_config = json.loads((tmp_path / "student" / CONFIG_FILE).read_text())
    assert s_config["objective"] == "authors" and s_config["data"]["student_data"] == "all"
    assert s_config["data"]["n_train"] == 24                    # x1 and x2: HR records too
    # an epoch is one pass over the 12 images (the authors' MLR set holds each image once)
    assert s_config["train"]["iterations"] == 4
    assert (s_config["model"]["vdsr_bias"], s_config["model"]["vdsr_init"]) == (False, "authors")
    assert (s_config["model"]["height"], s_config["model"]["width"]) == (AUTHORS_H, AUTHORS_W)
    assert s_config["loss"] == {"ce_weight": 1.15, "image_l1_weight": 0.5, "distill_l1_weight": 0.5}
    assert student.vdsr.head[0].bias is None and student.vdsr.init == "authors"
    assert all(torch.equal(before[k], v.cpu()) for k, v in teacher.state_dict().items())
    assert teacher_spec(profile, split).matches(config)
    assert student_spec(profile, split, teacher).matches(s_config)

    # finished runs are reused (no loss evaluated), and load back as the same architecture
    _, again = train_teacher(profile, split, tmp_path / "teacher", progress=False)
    _, s_again = train_student(profile, split, teacher, tmp_path / "student", progress=False)
    assert (again, s_again) == (t_summary, s_summary) and calls == {"teacher": 4, "student": 4}
    loaded = load_student(tmp_path / "student")
    assert loaded.vdsr.head[0].bias is None and loaded.vdsr.init == "authors"
    x = torch.randn(2, 3, AUTHORS_H, AUTHORS_W)
    student.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(x), student.cpu()(x), atol=1e-5)

    with pytest.raises(ValueError, match="head 'bnneck'.*head 'authors'"):
        train_student(profile, split, HRNetReID(4, hrnet=HRNET, embed_dim=16, head="bnneck"),
                      tmp_path / "other", progress=False)
    # the simple objective is another run
    with pytest.raises(ValueError, match="another configuration.*objective"):
        train_teacher(_authors_profile(objective="simple"), split, tmp_path / "teacher",
                      progress=False)


def test_paper_profile_specs_follow_the_authors(tmp_path: Path) -> None:
    """The ``paper`` profile's identities on a tiny split: 71 epochs of ceil(12 / 24) = 1
    iteration, 5 warm-up epochs, 256x128, the authors' objective, VDSR-CA and data."""
    split = _split(tmp_path / "images")
    paper = get_profile("paper")
    teacher = teacher_spec(paper, split).config
    student = student_spec(paper, split, torch.nn.Linear(1, 1)).config
    for config in (teacher, student):
        assert config["objective"] == "authors" and config["model"]["head"] == "authors"
        assert (config["model"]["height"], config["model"]["width"]) == (256, 128)
        assert (config["train"]["iterations"], config["train"]["warmup_iterations"]) == (71, 5)
        assert config["train"]["pad_crop"] == 10 and config["train"]["nesterov"] is True
    assert student["data"]["student_data"] == "all" and student["data"]["n_train"] == 24
    assert (student["model"]["vdsr_bias"], student["model"]["vdsr_init"]) == (False, "authors")


def test_authors_objective_refuses_the_bnneck_head(tmp_path: Path) -> None:
    split = _split(tmp_path / "images", n_ids=2, per_id=1)
    profile = _authors_profile(head="bnneck")
    with pytest.raises(ValueError, match="objective='authors' needs head='authors'"):
        train_teacher(profile, split, tmp_path / "teacher", progress=False)
    with pytest.raises(ValueError, match="needs head='authors'"):
        teacher_spec(profile, split)
    teacher = HRNetReID(2, hrnet=HRNET, embed_dim=16, head="bnneck")
    with pytest.raises(ValueError, match="needs head='authors'"):
        train_student(profile, split, teacher, tmp_path / "student", progress=False)
    assert not (tmp_path / "teacher").exists() and not (tmp_path / "student").exists()


def test_vdsr_warmup_learns_to_restore_and_starts_the_student(tmp_path: Path) -> None:
    """VDSR-CA's restoration-only warm-up (issue 22): L1 to the HR twin falls while it trains, the run
    is reused and loads back, and the student built from it starts with its VDSR-CA weights, the
    warm-up's digest in the student's identity."""
    import pandas as pd

    from reidlab.recipes.ps_hrnet import load_vdsr_warmup, train_vdsr_warmup, vdsr_warmup_spec

    split = _split(tmp_path / "images", factors=(1, 4))
    profile = _profile(vdsr_warmup_iterations=40, vdsr_warmup_lr=3e-3)
    vdsr, summary = train_vdsr_warmup(profile, split, tmp_path / "warmup", progress=False)
    config = json.loads((tmp_path / "warmup" / CONFIG_FILE).read_text())
    assert config["task"] == "vdsr_warmup" and config["train"]["iterations"] == 40
    assert config["train"]["lr"] == 3e-3 and config["train"]["random_erasing"] is False
    assert vdsr_warmup_spec(profile, split).config == config
    l1 = pd.read_csv(tmp_path / "warmup" / "metrics.csv")["img_l1"]
    assert l1.tail(10).mean() < l1.head(10).mean()
    again, same = train_vdsr_warmup(profile, split, tmp_path / "warmup", progress=False)
    assert same == summary
    loaded = load_vdsr_warmup(tmp_path / "warmup")
    assert all(torch.equal(v, vdsr.state_dict()[k].cpu()) for k, v in loaded.state_dict().items())

    teacher, _ = train_teacher(profile, split, tmp_path / "teacher", progress=False)
    plain, warm = student_spec(profile, split, teacher), student_spec(profile, split, teacher, vdsr_start=loaded)
    assert "vdsr_start_sha" not in plain.config and warm.config["vdsr_start_sha"]
    started = ps_engine._with_vdsr(ps_engine.build_student(4, profile.ps, teacher=teacher), loaded)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in started.vdsr.state_dict().items())
    student, _ = train_student(profile, split, teacher, tmp_path / "student", progress=False, vdsr_start=loaded)
    assert json.loads((tmp_path / "student" / CONFIG_FILE).read_text())["vdsr_start_sha"] == warm.config["vdsr_start_sha"]
    with pytest.raises(ValueError, match="no VDSR-CA warm-up"):
        ps_engine.vdsr_warmup_schedule(_profile(vdsr_warmup_iterations=0), split)
