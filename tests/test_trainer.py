"""fit(): schedule, files, finished-run reuse, determinism and bit-exact resume."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from reidlab.config import TrainConfig
from reidlab.engine.checkpoint import atomic_save, load_checkpoint, load_weights
from reidlab.engine.training_loop import (
    MetricsLog,
    TrainSummary,
    build_optimizer,
    fit,
    lr_factor,
    resolve_amp,
    seed_everything,
)

N_CLASSES = 6
PER_CLASS = 6


class ToyDataset(Dataset):
    """Fixed random 3x8x4 images; random flip + noise seeded by the key's aug_seed."""

    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        self.labels = [i // PER_CLASS for i in range(N_CLASSES * PER_CLASS)]
        self.images = torch.randn(len(self.labels), 3, 8, 4, generator=gen)
        self.images += torch.tensor(self.labels, dtype=torch.float32).view(-1, 1, 1, 1) * 0.3

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int, int]:
        index, aug_seed = key if isinstance(key, tuple) else (key, None)
        image = self.images[index]
        if aug_seed is not None:
            gen = torch.Generator().manual_seed(aug_seed)
            if torch.rand((), generator=gen) < 0.5:
                image = image.flip(-1)
            image = image + 0.1 * torch.randn(image.shape, generator=gen)
        return image, self.labels[index], index


class ToyNet(nn.Module):
    """Conv + BN + dropout: exercises buffers and the RNG state on resume."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(8, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.conv(x))).mean(dim=(2, 3))
        return self.fc(self.drop(x))


def toy_loss(model: nn.Module, batch: Any) -> tuple[torch.Tensor, Mapping[str, Any]]:
    images, labels, _ = batch
    logits = model(images)
    loss = F.cross_entropy(logits.float(), labels)
    return loss, {"acc": (logits.argmax(1) == labels).float().mean()}


def make_cfg(**changes: Any) -> TrainConfig:
    base = dict(iterations=10, p=3, k=2, lr=1e-2, checkpoint_every=4, warmup_iterations=2,
                lr_decay_at=0.5, seed=3, amp="off")   # fp32 on every CPU: exactness tests
    return TrainConfig(**{**base, **changes})


def train(out: Path, cfg: TrainConfig | None = None, **kwargs: Any) -> tuple[ToyNet, TrainSummary]:
    cfg = cfg or make_cfg()
    seed_everything(cfg.seed)
    model = ToyNet()
    data = ToyDataset()
    summary = fit(model, data, data.labels, toy_loss, cfg, out, progress=False, **kwargs)
    return model, summary


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def test_lr_schedule() -> None:
    cfg = make_cfg(iterations=10, warmup_iterations=2, lr_decay_at=0.5, lr_gamma=0.1)
    assert [lr_factor(s, cfg) for s in range(7)] == pytest.approx(
        [0.5, 1.0, 1.0, 1.0, 1.0, 0.1, 0.1])
    assert lr_factor(9, make_cfg(lr_decay_at=1.0, warmup_iterations=0)) == 1.0


def test_fit_writes_run_files(tmp_path: Path) -> None:
    model, summary = train(tmp_path)
    assert summary.iterations == 10 and summary.resumed_from is None
    assert summary.images_per_s > 0 and summary.wall_s > 0
    assert set(summary.final_metrics) == {"loss", "acc"}
    for name in ("model.pt", "summary.json", "metrics.csv"):
        assert (tmp_path / name).is_file(), name
    assert not (tmp_path / "checkpoint.pt").exists()   # a finished run keeps its weights, not its resumable state
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    rows = read_rows(tmp_path / "metrics.csv")
    assert [int(r["iteration"]) for r in rows] == list(range(1, 11))
    assert list(rows[0]) == ["iteration", "lr", "loss", "acc", "images_per_s"]
    lrs = [float(r["lr"]) for r in rows]
    assert lrs[:2] == pytest.approx([5e-3, 1e-2]) and lrs[-1] == pytest.approx(1e-3)
    assert json.loads((tmp_path / "summary.json").read_text())["spec"]["train"]["seed"] == 3
    assert all(torch.equal(v, model.state_dict()[k].cpu()) for k, v in weights(tmp_path / "model.pt").items())


def test_same_seed_same_weights_and_finished_run_is_reused(tmp_path: Path) -> None:
    _, first = train(tmp_path / "a")
    train(tmp_path / "b")
    assert_same_weights(tmp_path / "a" / "model.pt", tmp_path / "b" / "model.pt")
    stamp = (tmp_path / "a" / "model.pt").stat().st_mtime_ns
    # checkpoint_every / num_workers / log_every do not change results: still "finished"
    model, again = train(tmp_path / "a", make_cfg(checkpoint_every=5))
    assert again == first
    assert (tmp_path / "a" / "model.pt").stat().st_mtime_ns == stamp
    assert all(torch.equal(v, model.state_dict()[k].cpu())
               for k, v in weights(tmp_path / "a" / "model.pt").items())
    train(tmp_path / "c", make_cfg(seed=4))
    assert not torch.equal(weights(tmp_path / "c" / "model.pt")["fc.weight"],
                           weights(tmp_path / "a" / "model.pt")["fc.weight"])


CRASH_SCRIPT = """
import os, sys
sys.path.insert(0, {tests!r})
from test_trainer import make_cfg, train

def crash(iteration, metrics):
    if iteration == {crash_at}:
        os._exit(17)  # hard exit, no cleanup: like a kill

train({out!r}, make_cfg(), on_iteration=crash)
"""


def test_resume_after_hard_kill_is_bit_identical(tmp_path: Path) -> None:
    script = CRASH_SCRIPT.format(tests=str(Path(__file__).parent), crash_at=6,
                                 out=str(tmp_path / "resumed"))
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 17, proc.stderr
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["iteration"] == 4
    assert len(read_rows(tmp_path / "resumed" / "metrics.csv")) == 6  # 2 rows past the checkpoint
    assert not (tmp_path / "resumed" / "model.pt").exists()

    _, summary = train(tmp_path / "resumed")
    assert summary.resumed_from == 4
    train(tmp_path / "straight")
    assert_same_weights(tmp_path / "resumed" / "model.pt", tmp_path / "straight" / "model.pt")
    resumed_rows = read_rows(tmp_path / "resumed" / "metrics.csv")
    straight_rows = read_rows(tmp_path / "straight" / "metrics.csv")
    assert [r["iteration"] for r in resumed_rows] == [str(i) for i in range(1, 11)]
    assert [r["loss"] for r in resumed_rows] == [r["loss"] for r in straight_rows]


def test_resume_in_process_with_workers_matches(tmp_path: Path) -> None:
    """Stop after 5 iterations (checkpoint at 4), resume with 2 workers: same weights."""
    class Stop(Exception):
        pass

    def stop(iteration: int, metrics: Mapping[str, Any]) -> None:
        if iteration == 5:
            raise Stop

    with pytest.raises(Stop):
        train(tmp_path / "a", on_iteration=stop)
    train(tmp_path / "a", make_cfg(num_workers=2))
    train(tmp_path / "b")
    assert_same_weights(tmp_path / "a" / "model.pt", tmp_path / "b" / "model.pt")


def test_changed_config_refuses_resume_and_no_resume_restarts(tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    def stop(iteration: int, metrics: Mapping[str, Any]) -> None:
        if iteration == 4:
            raise Stop

    with pytest.raises(Stop):
        train(tmp_path, on_iteration=stop)
    with pytest.raises(ValueError, match=r"lr: 0.01 -> 0.02"):
        train(tmp_path, make_cfg(lr=2e-2))
    _, summary = train(tmp_path, make_cfg(lr=2e-2), resume=False)
    assert summary.resumed_from is None
    assert len(read_rows(tmp_path / "metrics.csv")) == 10


def test_bf16_autocast_on_cpu(tmp_path: Path) -> None:
    _, summary = train(tmp_path, make_cfg(amp="bf16", iterations=3, channels_last=True))
    assert summary.final_metrics["loss"] > 0


def test_non_finite_loss_is_reported(tmp_path: Path) -> None:
    def nan_loss(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict]:
        loss, _ = toy_loss(model, batch)
        return loss * float("nan"), {}

    data = ToyDataset()
    with pytest.raises(FloatingPointError, match="iteration 1"):
        fit(ToyNet(), data, data.labels, nan_loss, make_cfg(), tmp_path, progress=False)


def test_label_count_must_match_dataset(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="labels for a dataset"):
        fit(ToyNet(), ToyDataset(), [0, 1], toy_loss, make_cfg(), tmp_path, progress=False)


def test_load_weights_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_weights(ToyNet(), tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="bad.pt"):
        load_weights(ToyNet(), tmp_path / "bad.pt")
    atomic_save({"w": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(RuntimeError, match="other.pt"):
        load_weights(ToyNet(), tmp_path / "other.pt")
    model = ToyNet()
    atomic_save(model.state_dict(), tmp_path / "ok.pt")
    load_weights(ToyNet(), tmp_path / "ok.pt")


def test_optimizers_and_amp_resolution() -> None:
    params = [nn.Parameter(torch.zeros(2))]
    adam = build_optimizer(params, make_cfg(beta1=0.5, weight_decay=1e-3))
    assert isinstance(adam, torch.optim.Adam)
    assert adam.defaults["betas"] == (0.5, 0.999) and adam.defaults["weight_decay"] == 1e-3
    sgd = build_optimizer(params, make_cfg(optimizer="sgd"))
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.defaults["momentum"] == 0.9 and not sgd.defaults["nesterov"]
    assert adam.defaults["fused"] and sgd.defaults["fused"]       # fused kernels on the CPU
    for name in ("adam", "sgd"):                                  # ... with the for-loop update's result
        fused, plain = nn.Parameter(torch.arange(4.0)), nn.Parameter(torch.arange(4.0))
        opts = [build_optimizer([fused], make_cfg(optimizer=name)),
                getattr(torch.optim, {"adam": "Adam", "sgd": "SGD"}[name])(
                    [plain], lr=1e-2, weight_decay=5e-4, **({"momentum": 0.9} if name == "sgd" else {}))]
        for _ in range(3):
            for p, opt in zip((fused, plain), opts):
                p.grad = torch.tensor([0.5, -1.0, 2.0, 0.0])
                opt.step()
        torch.testing.assert_close(fused, plain)
    cpu = torch.device("cpu")   # "auto" on the CPU depends on the processor: tests/test_precision.py
    assert resolve_amp("off", cpu) == (None, False)
    assert resolve_amp("fp16", cpu) == (None, False)
    assert resolve_amp("off", torch.device("cuda")) == (None, False)
    assert resolve_amp("fp16", torch.device("cuda")) == (torch.float16, True)


def test_metrics_log_truncates_and_extends_header(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "m.csv")
    for i in range(1, 4):
        log.write({"iteration": i, "loss": 1.0 / i})
    log.write({"iteration": 4, "loss": 0.2, "acc": 0.5})  # new metric: header extended
    log.close()
    rows = read_rows(tmp_path / "m.csv")
    assert list(rows[0]) == ["iteration", "loss", "acc"] and rows[3]["acc"] == "0.5"
    assert rows[0]["acc"] == ""
    MetricsLog(tmp_path / "m.csv").truncate(2)
    assert [r["iteration"] for r in read_rows(tmp_path / "m.csv")] == ["1", "2"]
    MetricsLog(tmp_path / "m.csv").truncate(0)
    assert not (tmp_path / "m.csv").exists()


def test_constant_warmup_and_milestones_follow_ps_hrnet():
    """PS-HRNet: constant 3e-4 for the warm-up, then 0.0085 / 10 at each milestone."""
    cfg = TrainConfig(iterations=710, lr=0.0085, warmup_iterations=50, warmup_lr=3e-4,
                      lr_milestones=(30 / 71, 60 / 71), optimizer="sgd", nesterov=True)
    lrs = [cfg.lr * lr_factor(s, cfg) for s in (0, 49, 50, 299, 300, 599, 600, 709)]
    assert lrs == pytest.approx([3e-4, 3e-4, 0.0085, 0.0085, 0.00085, 0.00085, 0.000085, 0.000085])
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))], cfg)
    assert opt.defaults["nesterov"] is True


def test_bn_recalibration_re_estimates_the_statistics_of_the_final_weights(tmp_path: Path) -> None:
    """With ``bn_recalibration`` the saved running statistics are the plain average of the batch
    statistics of the final weights over that many P x K training batches (drawn by a sampler
    of their own): the same weights as without it, other BatchNorm buffers; deterministic and
    resumable like any run."""
    from reidlab.data.samplers import PKSampler

    plain, _ = train(tmp_path / "plain")
    cfg = make_cfg(bn_recalibration=3)
    model, _ = train(tmp_path / "recal", cfg)
    a, b = weights(tmp_path / "plain" / "model.pt"), weights(tmp_path / "recal" / "model.pt")
    for name in a:
        if name.startswith("bn.running") or name == "bn.num_batches_tracked":
            continue
        assert torch.equal(a[name], b[name]), name              # the training itself is unchanged
    assert not torch.allclose(a["bn.running_mean"], b["bn.running_mean"])

    data = ToyDataset()
    sampler = PKSampler(data.labels, cfg.p, cfg.k, seed=cfg.seed + 1_000_003, num_batches=3)
    means, variances = [], []
    with torch.no_grad():
        for keys in sampler:
            x = torch.stack([data[key][0] for key in keys])
            h = model.conv(x)
            means.append(h.mean(dim=(0, 2, 3)))
            variances.append(h.var(dim=(0, 2, 3), unbiased=True))
    torch.testing.assert_close(b["bn.running_mean"], torch.stack(means).mean(0))
    torch.testing.assert_close(b["bn.running_var"], torch.stack(variances).mean(0))
    assert model.bn.momentum == 0.1                             # the layer's own momentum is restored

    train(tmp_path / "again", cfg)
    assert_same_weights(tmp_path / "recal" / "model.pt", tmp_path / "again" / "model.pt")

    class Stop(Exception):
        pass

    def stop(iteration: int, metrics: Mapping[str, Any]) -> None:
        if iteration == 9:
            raise Stop

    with pytest.raises(Stop):
        train(tmp_path / "resumed", cfg, on_iteration=stop)
    train(tmp_path / "resumed", cfg)
    assert_same_weights(tmp_path / "recal" / "model.pt", tmp_path / "resumed" / "model.pt")
