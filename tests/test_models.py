"""ChannelAttention (RFD Eq. (4)-(6)) and MGN: architecture, shapes, init, weights loading."""
from __future__ import annotations

import os
import socket
import time
import urllib.error

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn

from reidlab.losses import mgn_loss
from reidlab.models import (
    MGN,
    ChannelAttention,
    PretrainedWeightsMissing,
    backbone_names,
    build_mgn,
    count_parameters,
    imagenet_state_dict,
    resnet_weights_file,
)

#: MGN-R50 without channel attention, classifiers excluded (shared trunk + 3 branches
#: + 8 reductions 2048 -> 256): the ~68.8M of the MGN paper, exactly.
MGN_R50_PARAMS = 68_807_744


def _n_attention(model: nn.Module) -> int:
    return sum(isinstance(m, ChannelAttention) for m in model.modules())


@pytest.fixture(scope="module")
def r18() -> MGN:
    torch.manual_seed(0)
    return build_mgn(10, "resnet18", attention=True, reduction=8, feat_dim=32)


# --------------------------------------------------------------------------- attention


def test_channel_attention_equations_by_hand() -> None:
    ca = ChannelAttention(8, reduction=4)
    assert ca.fc_down.out_channels == 2 and ca.fc_up.out_channels == 8
    x = torch.arange(2 * 8 * 3 * 2, dtype=torch.float32).reshape(2, 8, 3, 2)
    torch.testing.assert_close(ca.squeeze(x), x.mean(dim=(2, 3), keepdim=True))   # Eq. (4)
    with torch.no_grad():                  # W_D = 0, W_U = 0, b_U = b: s = sigmoid(b)
        for p in ca.parameters():
            p.zero_()
        ca.fc_up.bias.copy_(torch.linspace(-2, 2, 8))
    s = ca.excite(ca.squeeze(x))                                                    # Eq. (5)
    torch.testing.assert_close(s.flatten(1), torch.sigmoid(torch.linspace(-2, 2, 8)).expand(2, 8))
    torch.testing.assert_close(ca(x), x * torch.sigmoid(torch.linspace(-2, 2, 8)).view(1, 8, 1, 1))


def test_channel_attention_gate_and_shape() -> None:
    ca = ChannelAttention(64, reduction=16)
    x = torch.randn(3, 64, 5, 4)
    s = ca.excite(ca.squeeze(x))
    assert s.shape == (3, 64, 1, 1) and bool((s > 0).all() and (s < 1).all())
    assert ca(x).shape == x.shape
    assert ChannelAttention(4, reduction=16).fc_down.out_channels == 1
    with pytest.raises(ValueError):
        ChannelAttention(8, reduction=0)


# --------------------------------------------------------------------------- architecture


@pytest.mark.parametrize("global_branch, global_hw", [("rfd", (24, 8)), ("mgn", (12, 4))])
def test_mgn_r50_parameters_and_feature_maps(global_branch: str,
                                             global_hw: tuple[int, int]) -> None:
    """RFD's global branch (stride 1) and MGN's (stride 2) have the same parameters."""
    model = build_mgn(751, "resnet50", attention=False, global_branch=global_branch)
    assert _n_attention(model) == 0
    assert count_parameters(model) == MGN_R50_PARAMS
    assert count_parameters(model, exclude_classifiers=False) \
        == MGN_R50_PARAMS + 8 * (256 * 751 + 751)
    model.eval()
    with torch.inference_mode():
        maps = model.forward_feature_maps(torch.randn(1, 3, 384, 128))
    assert [tuple(m.shape) for m in maps] == [(1, 2048, *global_hw), (1, 2048, 24, 8),
                                              (1, 2048, 24, 8)]


def test_attention_placement_and_parameters() -> None:
    plain = build_mgn(10, "resnet18", attention=False)
    att = build_mgn(10, "resnet18", attention=True, reduction=16)
    assert _n_attention(plain) == 0
    # after layer1 and layer2 (shared), after layer3-rest and layer4 in each of 3 branches
    assert _n_attention(att) == 2 + 3 * 2
    assert [m.channels for m in (att.att1, att.att2)] == [64, 128]
    assert all((b.att3.channels, b.att4.channels) == (256, 512) for b in att.branches)
    # CA(C, r) has C*(C/r) + C/r + (C/r)*C + C parameters
    extra = sum(2 * c * (c // 16) + c // 16 + c for c in (64, 128, 256, 512, 256, 512, 256, 512))
    assert count_parameters(att) - count_parameters(plain) == extra


@pytest.mark.parametrize("global_branch, stride, pooling",
                         [("rfd", (1, 1), "avg"), ("mgn", (2, 2), "max")])
def test_global_branch_stride_and_pooling(global_branch: str, stride: tuple[int, int],
                                          pooling: str) -> None:
    model = build_mgn(10, "resnet18", attention=False, feat_dim=8, global_branch=global_branch)
    assert model.global_branch == global_branch
    strides = [b.layer4[0].conv1.stride for b in model.branches]
    assert strides == [stride, (1, 1), (1, 1)]
    assert [b.layer4[0].downsample[0].stride for b in model.branches] == [stride, (1, 1), (1, 1)]
    assert [b.pooling for b in model.branches] == [pooling, "max", "max"]
    fmap = torch.randn(2, 512, 6, 2)
    expected = fmap.mean(dim=(2, 3)) if pooling == "avg" else fmap.amax(dim=(2, 3))
    torch.testing.assert_close(model.branches[0].pool(fmap)[0].flatten(1), expected)
    with pytest.raises(ValueError, match="global_branch"):
        build_mgn(10, "resnet18", global_branch="pcb")


def test_branch_strides_and_independent_copies(r18: MGN) -> None:
    strides = [b.layer4[0].conv1.stride for b in r18.branches]
    assert strides == [(1, 1), (1, 1), (1, 1)]          # RFD: the global branch too
    ptrs = {b.layer4[0].conv1.weight.data_ptr() for b in r18.branches}
    ptrs |= {b.layer3[0].conv1.weight.data_ptr() for b in r18.branches}
    assert len(ptrs) == 6
    assert len(r18.classifiers) == 8 and r18.out_dim == 8 * 32


@pytest.mark.parametrize("size, global_hw, part_hw", [
    ((128, 64), (8, 4), (8, 4)),
    ((64, 32), (4, 2), (4, 2)),
])
def test_r18_train_and_eval_outputs(r18: MGN, size: tuple[int, int], global_hw: tuple[int, int],
                                    part_hw: tuple[int, int]) -> None:
    x = torch.randn(4, 3, *size)
    r18.train()
    out = r18(x)
    assert set(out) == {"logits", "triplet", "features"}
    assert len(out["logits"]) == 8 and all(t.shape == (4, 10) for t in out["logits"])
    assert len(out["triplet"]) == 3 and all(t.shape == (4, 32) for t in out["triplet"])
    assert out["features"].shape == (4, 8 * 32)
    # descriptor layout: the three branch-global features first (also the triplet inputs)
    torch.testing.assert_close(out["features"][:, :96], torch.cat(out["triplet"], dim=1))
    r18.eval()
    with torch.inference_mode():
        desc = r18(x)
        maps = r18.forward_feature_maps(x)
    assert isinstance(desc, torch.Tensor) and desc.shape == (4, 8 * 32)
    assert [tuple(m.shape[-2:]) for m in maps] == [global_hw, part_hw, part_hw]
    assert bool((desc >= 0).all())     # reductions end with ReLU


@pytest.mark.parametrize("name", backbone_names())
def test_every_registered_backbone_builds_under_mgn(name: str) -> None:
    """A backbone is one file and one registration (reidlab/models/backbones/): each registered one
    builds MGN, gives its descriptor and trains (a gradient reaches the first convolution)."""
    torch.manual_seed(0)
    model = build_mgn(3, name, feat_dim=8, reduction=8)
    out = model(torch.randn(2, 3, 64, 32))
    sum(logits.sum() for logits in out["logits"]).backward()
    assert out["features"].shape == (2, 8 * 8)
    assert model.stem[0].weight.grad is not None and model.stem[0].weight.grad.abs().sum() > 0


def test_a_backbone_without_imagenet_weights_is_refused_by_name() -> None:
    assert "resnet18_half" in backbone_names()
    with pytest.raises(ValueError, match="resnet18_half.*no ImageNet weights"):
        build_mgn(5, "resnet18_half", pretrained="imagenet")
    with pytest.raises(ValueError, match="not a registered backbone.*resnet18_half"):
        build_mgn(5, "resnet18_quarter")


def test_other_depth_and_backbone_validation() -> None:
    model = build_mgn(5, "resnet34", attention=True, feat_dim=16).eval()
    with torch.inference_mode():
        assert model(torch.randn(2, 3, 64, 32)).shape == (2, 8 * 16)
    with pytest.raises(ValueError, match="resnet18"):
        build_mgn(5, "vgg16")
    with pytest.raises(ValueError, match="pretrained"):
        build_mgn(5, "resnet18", pretrained="places365")


def test_initialisation(r18: MGN) -> None:
    fresh = build_mgn(500, "resnet18", feat_dim=64)
    w = torch.cat([fc.weight.flatten() for fc in fresh.classifiers])
    assert 0.0008 < w.std().item() < 0.0012
    assert all(fc.bias.abs().sum() == 0 for fc in fresh.classifiers)
    for branch in fresh.branches:
        for red in branch.reductions:
            assert isinstance(red[0], nn.Conv2d) and red[0].bias is None
            assert bool((red[1].weight == 1).all() and (red[1].bias == 0).all())
            # kaiming normal, fan_in = 512: std sqrt(2 / 512)
            assert red[0].weight.std().item() == pytest.approx((2 / 512) ** 0.5, rel=0.1)


def test_training_step_updates_every_part() -> None:
    torch.manual_seed(0)
    model = build_mgn(4, "resnet18", attention=True, reduction=8, feat_dim=16).train()
    x, y = torch.randn(8, 3, 64, 32), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    loss, logs = mgn_loss(model(x), y, margin=1.2, label_smoothing=0.1)
    loss.backward()
    assert torch.isfinite(loss) and set(logs) == {"ce", "triplet", "acc"}
    for name, p in model.named_parameters():
        assert p.grad is not None, name
    assert model.att1.fc_down.weight.grad.abs().sum() > 0
    assert all(b.att4.fc_up.weight.grad.abs().sum() > 0 for b in model.branches)
    assert all(fc.weight.grad.abs().sum() > 0 for fc in model.classifiers)


def test_count_parameters_excludes_only_classifiers(r18: MGN) -> None:
    total = sum(p.numel() for p in r18.parameters())
    assert count_parameters(r18, exclude_classifiers=False) == total
    assert total - count_parameters(r18) == 8 * (32 * 10 + 10)


# --------------------------------------------------------------------------- weights


def _resnet18_cache_file(hub_dir: str) -> str:
    url = torchvision.models.ResNet18_Weights.DEFAULT.url
    return os.path.join(hub_dir, "checkpoints", os.path.basename(url))


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any download or connection attempt fails the test."""
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network access was attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", forbidden)
    monkeypatch.setattr(torch.hub, "download_url_to_file", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)


def test_pretrained_missing_fails_at_once_without_download(tmp_path, monkeypatch,
                                                           no_network) -> None:
    """Offline and not cached: PretrainedWeightsMissing at once, naming the file, the
    cache folder, a download command and the alternatives; no download is tried."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    start = time.monotonic()
    with pytest.raises(PretrainedWeightsMissing) as info:
        build_mgn(5, "resnet18", pretrained="imagenet")
    assert time.monotonic() - start < 5
    msg = str(info.value)
    filename = os.path.basename(_resnet18_cache_file(str(tmp_path / "hub")))
    assert filename in msg and str(tmp_path / "hub" / "checkpoints") in msg
    assert "python -c" in msg and "get_model('resnet18', weights='DEFAULT')" in msg
    assert "pretrained=None" in msg and "pretrained='/path/to/" in msg
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(PretrainedWeightsMissing):
        imagenet_state_dict("resnet18")


def test_pretrained_download_is_opt_in(tmp_path, monkeypatch) -> None:
    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", unreachable)
    with pytest.raises(RuntimeError, match="cannot download the ImageNet weights"):
        build_mgn(5, "resnet18", pretrained="imagenet", download=True)


def test_pretrained_loads_from_hub_cache(tmp_path, monkeypatch, no_network) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(123)
    reference = torchvision.models.resnet18()
    path = _resnet18_cache_file(str(tmp_path / "hub"))
    os.makedirs(os.path.dirname(path))
    torch.save(reference.state_dict(), path)
    assert str(resnet_weights_file("resnet18", "imagenet")) == path
    model = build_mgn(5, "resnet18", attention=True, pretrained="imagenet")
    torch.testing.assert_close(model.stem[0].weight, reference.conv1.weight)
    torch.testing.assert_close(model.layer3_head.conv1.weight, reference.layer3[0].conv1.weight)
    for branch in model.branches:   # every branch starts from the pretrained layer3/layer4
        torch.testing.assert_close(branch.layer3[0].conv2.weight, reference.layer3[1].conv2.weight)
        torch.testing.assert_close(branch.layer4[0].conv1.weight, reference.layer4[0].conv1.weight)
    with open(path, "wb") as fh:    # a corrupt cache file is reported, not silently used
        fh.write(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="cannot read the weights file"):
        build_mgn(5, "resnet18", pretrained="imagenet")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_pretrained_local_file(tmp_path, suffix: str) -> None:
    torch.manual_seed(7)
    reference = torchvision.models.resnet18()
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    path = tmp_path / f"r18{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    model = build_mgn(5, "resnet18", pretrained=str(path))
    torch.testing.assert_close(model.stem[0].weight, reference.conv1.weight)
    torch.testing.assert_close(model.branches[2].layer4[1].bn2.running_var,
                               reference.layer4[1].bn2.running_var)
    assert model.branches[0].layer4[0].conv1.stride == (1, 1)     # RFD stride after loading


def test_pretrained_local_file_errors(tmp_path) -> None:
    with pytest.raises(PretrainedWeightsMissing, match="does not exist"):
        build_mgn(5, "resnet18", pretrained=str(tmp_path / "missing.pth"))
    partial = tmp_path / "r18_no_layer4.pth"
    torch.save({k: v for k, v in torchvision.models.resnet18().state_dict().items()
                if not k.startswith("layer4.")}, partial)
    with pytest.raises(ValueError, match="does not fit ResNet.*missing.*layer4"):
        build_mgn(5, "resnet18", pretrained=partial)
    wrong = tmp_path / "r50.pt"
    torch.save(torchvision.models.resnet50().state_dict(), wrong)
    with pytest.raises(ValueError, match="does not fit ResNet.*shape mismatch"):
        build_mgn(5, "resnet18", pretrained=wrong)
    with pytest.raises(ValueError, match="pretrained='imagenet21k' is not valid"):
        build_mgn(5, "resnet18", pretrained="imagenet21k")


def test_mgn_input_size_resizes_inside_the_network() -> None:
    """``ModelConfig.mgn_height/mgn_width``: MGN computes at that size on any input size, its
    weights unchanged (the same state dict keys), and the option is part of B-F's identity."""
    from reidlab.config import get_profile, override
    from reidlab.models import build_mgn

    torch.manual_seed(0)
    small = build_mgn(5, "resnet18", reduction=8, feat_dim=16, input_size=(32, 16)).eval()
    plain = build_mgn(5, "resnet18", reduction=8, feat_dim=16).eval()
    plain.load_state_dict(small.state_dict())
    x = torch.rand(2, 3, 64, 32)
    resized = torch.nn.functional.interpolate(x, size=(32, 16), mode="bilinear", align_corners=False,
                                              antialias=True)
    with torch.no_grad():
        torch.testing.assert_close(small(x), plain(resized))
        torch.testing.assert_close(small(resized), plain(resized))
    with pytest.raises(ValueError, match="mgn_height and mgn_width are set together"):
        override(get_profile("smoke"), model={"mgn_height": 32})
    with pytest.raises(ValueError, match="input_size must be"):
        build_mgn(5, "resnet18", input_size=(0, 16))
