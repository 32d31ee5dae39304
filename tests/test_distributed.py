"""DDP with 2 CPU processes (gloo) trains the same global batch as 1 process.

The model has no BatchNorm and no dropout: with BN each rank normalises its half batch
with its own statistics, so a 2-rank step is a *different* function of the global batch
than a 1-process step and only the rank-vs-rank comparison would be exact. Without BN,
DDP's gradient mean over ranks equals the full-batch mean gradient up to float
summation order, hence the 1e-5 tolerance against the single process (ranks match exactly).
"""
from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.multiprocessing as mp
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from reidlab.config import TrainConfig
from reidlab.engine.training_loop import fit, seed_everything

CFG = TrainConfig(iterations=6, p=4, k=2, lr=1e-2, checkpoint_every=3, seed=1, warmup_iterations=2,
                  amp="off")   # fp32 on every CPU (bf16 autocast where native would change the sums)


class PlainDataset(Dataset):
    """Fixed random 3x6x4 images of 8 classes, seeded flip augmentation."""

    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        self.labels = [i // 4 for i in range(32)]
        self.images = torch.randn(32, 3, 6, 4, generator=gen)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, int, int]:
        index, aug_seed = key
        image = self.images[index]
        if torch.rand((), generator=torch.Generator().manual_seed(aug_seed)) < 0.5:
            image = image.flip(-1)
        return image, self.labels[index], index


def make_model() -> nn.Module:
    seed_everything(CFG.seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 8))


def ce_loss(model: nn.Module, batch: Any) -> tuple[torch.Tensor, Mapping[str, Any]]:
    images, labels, _ = batch
    logits = model(images)
    return F.cross_entropy(logits, labels), {"acc": (logits.argmax(1) == labels).float().mean()}


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from reidlab.engine.distributed import cleanup_distributed

    model = make_model()
    data = PlainDataset()
    checkpointed: dict[str, int] = {}

    def after_checkpoint(iteration: int, metrics: Mapping[str, Any]) -> None:
        if iteration == CFG.checkpoint_every and rank == 0:   # the mid-run checkpoint, rank 0's file
            checkpointed["world_size"] = torch.load(Path(out) / "run" / "checkpoint.pt",
                                                    weights_only=True)["world_size"]

    try:
        summary = fit(model, data, data.labels, ce_loss, CFG, Path(out) / "run", progress=False,
                      device="cpu", on_iteration=after_checkpoint)
        torch.save({"state": model.state_dict(), "loss": summary.final_metrics["loss"], **checkpointed},
                   Path(out) / f"rank{rank}.pt")
    finally:
        cleanup_distributed()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gloo_ranks_match_single_process(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for name, tensor in rank0["state"].items():
        assert torch.equal(tensor, rank1["state"][name]), name
    assert rank0["loss"] == rank1["loss"]  # rank-averaged metrics

    single = make_model()
    data = PlainDataset()
    summary = fit(single, data, data.labels, ce_loss, CFG, tmp_path / "single", progress=False,
                  device="cpu")                                   # as the gloo ranks, also where CUDA is
    for name, tensor in single.state_dict().items():
        torch.testing.assert_close(rank0["state"][name], tensor, atol=1e-5, rtol=1e-5)
    assert abs(rank0["loss"] - summary.final_metrics["loss"]) < 1e-5
    ddp_rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(ddp_rows) == CFG.iterations + 1  # written once, by rank 0
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in rank0["state"].items())
    assert rank0["world_size"] == 2                             # the mid-run checkpoint records the ranks
    assert not (tmp_path / "run" / "checkpoint.pt").exists()   # finished: the resumable state is removed


def test_default_device_follows_set_device_outside_a_launcher(monkeypatch: Any) -> None:
    """train-units puts unit i on GPU i mod G with torch.cuda.set_device; fit's default device must
    be that one (it was cuda:0 for every unit), and cuda:LOCAL_RANK under torchrun."""
    from reidlab.engine.distributed import DistInfo, default_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 3)
    assert default_device(DistInfo()) == torch.device("cuda", 3)
    assert default_device(DistInfo(rank=5, local_rank=1, world_size=8)) == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_device(DistInfo()) == torch.device("cpu")
