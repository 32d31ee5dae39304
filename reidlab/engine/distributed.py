"""Thin helpers over ``torch.distributed`` for runs launched with ``torchrun``.

``torchrun`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT``; :func:`init_distributed` reads them and starts the default process
group (NCCL on CUDA, gloo on CPU). A single process (no ``WORLD_SIZE`` or 1) never
touches ``torch.distributed`` at all.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes files and shows progress bars."""
        return self.rank == 0


def dist_env() -> DistInfo:
    """The job layout from the ``torchrun`` environment (or the live process group)."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), int(os.environ.get("LOCAL_RANK", 0)),
                        dist.get_world_size())
    world = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    return DistInfo(rank, int(os.environ.get("LOCAL_RANK", rank)), world)


def default_device(info: DistInfo | None = None) -> torch.device:
    """``cuda:LOCAL_RANK`` under a launcher (``torchrun``), this process's current CUDA device
    otherwise (what ``torch.cuda.set_device`` chose: ``train-units`` puts unit i on GPU i mod G),
    and the CPU without CUDA."""
    info = info or dist_env()
    if torch.cuda.is_available():
        if info.is_distributed:
            return torch.device("cuda", info.local_rank % max(torch.cuda.device_count(), 1))
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def init_distributed(device: torch.device | None = None) -> DistInfo:
    """Start the default process group when ``WORLD_SIZE > 1`` (idempotent).

    The backend is NCCL when ``device`` is CUDA and gloo otherwise.
    """
    info = dist_env()
    if not info.is_distributed or dist.is_initialized():
        return info
    device = device or default_device(info)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {"device_id": device} if device.type == "cuda" else {}
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size,
                            **kwargs)
    return dist_env()


def cleanup_distributed() -> None:
    """Destroy the default process group if one is running."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Synchronise all ranks (no-op for a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """Element-wise mean of ``values`` over ranks (returns ``values`` for one process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return values
    reduced = values.clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced / dist.get_world_size()


def all_gather_objects(obj: Any) -> list[Any]:
    """``[obj from rank 0, obj from rank 1, ...]`` (``[obj]`` for one process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered
