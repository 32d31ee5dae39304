"""Issue 23: augmentation on the training device from a decoded-image cache, and the compiled step.

The device batches must be the loader's bit for bit (same draws, same arithmetic), so a run
trained either way has the same weights; the compiled step (``compile_mode``) must train the
same function as the eager one.
"""
from __future__ import annotations

import contextlib

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import default_collate
from torchvision import transforms as T

from reidlab.config import TrainConfig, get_profile, to_dict, train_identity
from reidlab.data.dataset import PairedLRHRDataset, ReidImageDataset, build_transforms
from reidlab.data.device_augment import DeviceAugmentedBatches, augmentation_spec, draw_parameters
from reidlab.data.records import ImageRecord
from reidlab.engine.precision import resolve_precision
from reidlab.engine.training_loop import fit, seed_everything

HEIGHT, WIDTH = 24, 12


def _records(tmp_path: Path, write_image: Any, n_ids: int = 4, per_id: int = 4) -> list[ImageRecord]:
    """Noise images of two stored sizes (neither the network's), at factors 1-4."""
    records = []
    for pid in range(n_ids):
        for j in range(per_id):
            size = (20, 40) if (pid + j) % 2 else (15, 33)
            path = write_image(tmp_path / f"{pid:03d}_{j}.png", size=size, seed=10 * pid + j)
            records.append(ImageRecord(str(path), pid, j % 2, *size, factor=1 + (pid + j) % 4))
    return records


def _keys(n: int, count: int = 40) -> list[tuple[int, int]]:
    gen = torch.Generator().manual_seed(5)
    return [(int(torch.randint(0, n, (), generator=gen)), int(torch.randint(0, 2**40, (), generator=gen)))
            for _ in range(count)]


@pytest.mark.parametrize("pad_crop,erasing", [(0, True), (3, True), (10, False), (0, False)])
def test_device_batches_equal_the_loader_batches_bit_for_bit(tmp_path: Path, write_image: Any,
                                                             pad_crop: int, erasing: bool) -> None:
    records = _records(tmp_path, write_image)
    tf = build_transforms(HEIGHT, WIDTH, train=True, random_erasing=erasing, pad_crop=pad_crop)
    ds = ReidImageDataset(records, tf, labels=[r.pid for r in records])
    keys = _keys(len(ds))
    expected = default_collate([ds[k] for k in keys])
    got = DeviceAugmentedBatches(ds, "cpu").batch(keys)
    assert len(got) == 3
    for a, b in zip(got, expected):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert torch.equal(a, b)
    # the draws cover every branch: flipped and not, erased and not, crops off the centre
    draws = [draw_parameters(augmentation_spec(tf)[1], s) for _, s in keys]
    assert {d.flip for d in draws} == {True, False}
    if erasing:
        assert any(d.erase for d in draws) and not all(d.erase for d in draws)
    if pad_crop:
        assert len({(d.top, d.left) for d in draws}) > 5


def test_paired_device_batches_equal_the_loader_ones(tmp_path: Path, write_image: Any) -> None:
    """PS-HRNet's pairs: LR and HR share every draw, in the cache as in the loader."""
    records = [dataclasses.replace(r, width=20, height=40) for r in _records(tmp_path, write_image)
               if r.width == 20]
    tf = build_transforms(HEIGHT, WIDTH, train=True, random_erasing=True, pad_crop=4)
    ds = PairedLRHRDataset(records, tf)
    keys = _keys(len(ds), 24)
    expected = default_collate([ds[k] for k in keys])
    got = DeviceAugmentedBatches(ds, "cpu", num_workers=1).batch(keys)
    assert len(got) == 4
    for a, b in zip(got, expected):
        assert torch.equal(a, b)
    assert not torch.equal(got[0], got[1])   # the LR image is the degraded one


def test_unsupported_pipelines_are_refused_naming_the_step(tmp_path: Path, write_image: Any) -> None:
    with pytest.raises(ValueError, match="ColorJitter.*augment_on='loader'"):
        augmentation_spec(T.Compose([T.Resize((HEIGHT, WIDTH)), T.ColorJitter(0.2), T.ToTensor()]))
    with pytest.raises(ValueError, match="RandomErasing"):   # erasing before Normalize: not what the cache applies
        augmentation_spec(T.Compose([T.Resize((HEIGHT, WIDTH)), T.ToTensor(), T.RandomErasing(value=0),
                                     T.Normalize((0.5,) * 3, (0.2,) * 3)]))
    with pytest.raises(ValueError, match="starting with Resize"):
        augmentation_spec(T.Compose([T.ToTensor()]))
    with pytest.raises(ValueError, match="needs ToTensor"):
        augmentation_spec(T.Compose([T.Resize((HEIGHT, WIDTH)), T.RandomHorizontalFlip()]))
    with pytest.raises(TypeError, match="ReidImageDataset or PairedLRHRDataset"):
        DeviceAugmentedBatches(torch.utils.data.TensorDataset(torch.zeros(2)), "cpu")


# ------------------------------------------------------------------------------ through fit

class _Net(nn.Module):
    def __init__(self, classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


def _loss(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    images, labels = batch[0], batch[1]
    logits = model(images)
    return F.cross_entropy(logits, labels), {"acc": (logits.argmax(1) == labels).float().mean()}


def _fit(out: Path, records: list[ImageRecord], **changes: Any) -> dict[str, torch.Tensor]:
    cfg = TrainConfig(**{"iterations": 6, "p": 2, "k": 2, "lr": 1e-2, "checkpoint_every": 3, "seed": 1,
                         "amp": "off", "channels_last": False, **changes})
    seed_everything(0)
    model = _Net(4)
    ds = ReidImageDataset(records, build_transforms(HEIGHT, WIDTH, train=True, pad_crop=2))
    fit(model, ds, [r.pid for r in records], _loss, cfg, out, progress=False, device="cpu")
    return torch.load(out / "model.pt", weights_only=True)


def test_fit_with_device_augmentation_trains_the_same_weights(tmp_path: Path, write_image: Any,
                                                              one_thread: None) -> None:
    records = _records(tmp_path / "img", write_image)
    loader = _fit(tmp_path / "loader", records, augment_on="loader", num_workers=1)
    device = _fit(tmp_path / "device", records, augment_on="device", num_workers=1)
    assert loader.keys() == device.keys()
    for name in loader:
        assert torch.equal(loader[name], device[name]), name
    # and the same run identity: a run started one way resumes the other way
    assert train_identity(TrainConfig(augment_on="device")) == train_identity(TrainConfig(augment_on="loader"))


@pytest.mark.slow
def test_compiled_reduce_overhead_step_trains_the_same_function(tmp_path: Path, write_image: Any,
                                                                one_thread: None) -> None:
    """The whole step compiled (CUDA graphs where there is CUDA; on the CPU inductor alone): the
    same training to float rounding, its mode in the run's identity."""
    records = _records(tmp_path / "img", write_image)
    eager = _fit(tmp_path / "eager", records, optimizer="sgd")   # SGD: no division by tiny moments
    compiled = _fit(tmp_path / "compiled", records, compile=True, compile_mode="reduce-overhead", optimizer="sgd")
    for name in eager:
        torch.testing.assert_close(compiled[name], eager[name], rtol=1e-4, atol=1e-5)
    stored = json.loads((tmp_path / "compiled" / "summary.json").read_text())["spec"]["train"]
    assert stored["compile"] is True and stored["compile_mode"] == "reduce-overhead"


@pytest.mark.parametrize("fails_in", ["forward", "backward"])
def test_a_compiled_step_that_fails_to_capture_falls_back_to_the_eager_step(
        fails_in: str, tmp_path: Path, write_image: Any, one_thread: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 35: a compile or CUDA-graph capture failure (forced here on the CPU path, in the
    step's forward or in its backward) does not stop training: the run goes on with the eager
    step, warns naming the reason, and trains the eager step's weights."""
    import reidlab.engine.training_loop as trainer

    def broken_compile(fn, mode=None):
        def compiled(batch):
            if fails_in == "forward":
                raise RuntimeError("CUDA graph capture failed (forced by the test)")
            loss, metrics = fn(batch)

            class _Broken(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x.clone()

                @staticmethod
                def backward(ctx, grad):
                    raise RuntimeError("backward capture failed (forced by the test)")
            return _Broken.apply(loss), metrics
        return compiled

    records = _records(tmp_path / "img", write_image)
    eager = _fit(tmp_path / "eager", records, optimizer="sgd")
    monkeypatch.setattr(trainer.torch, "compile", broken_compile)
    monkeypatch.setattr(trainer.torch.compiler, "cudagraph_mark_step_begin", lambda: None)
    with pytest.warns(RuntimeWarning, match=r"compiled training step .*reduce-overhead.* failed, so training goes on "
                                            r"with the eager step: RuntimeError: .*capture failed \(forced"):
        fallen = _fit(tmp_path / "fallen", records, compile=True, compile_mode="reduce-overhead", optimizer="sgd")
    for name in eager:
        assert torch.equal(fallen[name], eager[name]), name


def test_an_error_of_the_step_itself_is_not_hidden_by_the_fallback() -> None:
    from reidlab.engine.training_loop import TrainingStep

    def bad(batch):
        raise ValueError("labels out of range")

    step = TrainingStep(bad, bad, "reduce-overhead")
    with pytest.warns(RuntimeWarning), pytest.raises(ValueError, match="labels out of range"):
        step.forward_backward(None, lambda loss: None, contextlib.nullcontext, lambda: None)
    with pytest.raises(ValueError, match="labels out of range"):    # eager only: no fallback, no warning
        TrainingStep(bad).forward_backward(None, lambda loss: None, contextlib.nullcontext, lambda: None)


def test_compile_and_augmentation_settings_resolve_and_validate() -> None:
    cpu = resolve_precision(TrainConfig(compile="auto", augment_on="auto"), "cpu")
    assert (cpu.compile, cpu.augment_on) == (False, "loader")
    cuda = resolve_precision(TrainConfig(compile="auto", augment_on="auto", amp="off", channels_last=False), "cuda")
    assert (cuda.compile, cuda.augment_on) == (True, "device")
    for bad in ({"compile": "yes"}, {"compile_mode": "fast"}, {"augment_on": "gpu"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            get_profile("smoke", bf=bad)
    # the identities of every run before these options are unchanged
    default = TrainConfig()
    legacy = {k: v for k, v in to_dict(default).items() if k not in ("compile_mode", "augment_on", "min_iterations")}
    assert train_identity(default) == legacy
    # the paper profile: the step compiled into CUDA graphs, heads batched, augmentation on the GPU
    paper = get_profile("paper")
    for schedule in (paper.bf, paper.br, paper.ps.teacher, paper.ps.student):
        assert (schedule.compile, schedule.compile_mode, schedule.augment_on) == ("auto", "reduce-overhead", "auto")
    assert paper.model.batched_heads
