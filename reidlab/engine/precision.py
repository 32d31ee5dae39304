"""Numeric precision and memory layout chosen by the hardware, never by the profile.

The one home for "which autocast dtype and which tensor layout does this run use?":

* :func:`cpu_info` reads what the processor offers (model name, the flags that matter for
  bf16: ``amx_bf16``, ``avx512_bf16``, ``avx512f``, ``avx2``; torch's CPU capability);
* :func:`native_bf16` says whether bf16 arithmetic is native on it (AMX or AVX512-BF16).
  Without it every bf16 operation converts to and from fp32: a ResNet-18 training step at
  128x64 ran **11.6x slower** under bf16 autocast than in fp32 on an AVX2-only AMD EPYC
  (3.3 against 38 images/s, ``benchmarks/model_speed.py``), while on an AMX machine bf16
  was 1.2-1.4x *faster*;
* :func:`resolve_amp` turns ``amp="auto" | "off" | "bf16" | "fp16"`` into an autocast dtype:
  ``auto`` is bf16 on CUDA (fp16 + GradScaler where CUDA lacks bf16) and on CPUs with native
  bf16, fp32 on every other CPU. An explicit ``"bf16"`` on a CPU without native bf16 is
  honoured with a warning naming the expected slowdown;
* :func:`resolve_channels_last` turns ``channels_last="auto"`` into a layout: channels-last, which
  was faster for every network and precision measured (bf16 on the AMX CPU: 1.1x training, 1.7x
  extraction; fp32 on the AVX2 EPYC: 1.09-1.27x training of the pre-training ResNet, MGN, the
  light B-R and PS-HRNet's parts; CUDA: 1.24x extraction on an H100). ``"auto"`` keeps the
  decision in this one place should a processor prove otherwise;
* :func:`resolve_precision` makes a schedule concrete (``amp`` and ``channels_last`` replaced
  by what will run), so a run's identity (:mod:`reidlab.engine.runs`) names the precision it
  was trained in: an fp32 run is never reused as if it were bf16;
* :func:`precision_report` is what ``results/run_info.json`` records.
"""
from __future__ import annotations

import dataclasses
import functools
import platform
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reidlab.config import AMP_MODES, TrainConfig

__all__ = [
    "BF16_FLAGS", "CpuInfo", "cpu_info", "native_bf16", "resolve_amp", "resolve_channels_last",
    "resolve_precision", "amp_name", "precision_report", "SLOW_BF16_FACTOR",
]

#: ``/proc/cpuinfo`` flags that make bf16 arithmetic native on x86 (AMX tiles, AVX512-BF16).
BF16_FLAGS: tuple[str, ...] = ("amx_bf16", "avx512_bf16")
#: Flags recorded in ``run_info.json`` (what decides the speed of the two precisions).
REPORTED_FLAGS: tuple[str, ...] = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
                                   "amx_tile", "amx_bf16", "amx_fp16")
#: bf16 autocast against fp32, ResNet-18 training at 128x64 on an AVX2-only AMD EPYC.
SLOW_BF16_FACTOR = 11.6


@dataclass(frozen=True)
class CpuInfo:
    """What the processor offers: ``model`` name, the :data:`REPORTED_FLAGS` it has, and
    torch's CPU capability (``"AVX2"``, ``"AVX512"``, ...)."""

    model: str
    flags: tuple[str, ...]
    capability: str
    machine: str

    @property
    def native_bf16(self) -> bool:
        return any(flag in self.flags for flag in BF16_FLAGS)


def _cpuinfo_fields(text: str) -> tuple[str, set[str]]:
    """``(model name, flags)`` of the first processor in a ``/proc/cpuinfo`` text."""
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return model, flags


@functools.lru_cache(maxsize=None)
def cpu_info(cpuinfo_path: str = "/proc/cpuinfo") -> CpuInfo:
    """The processor this process runs on (``/proc/cpuinfo`` on Linux; elsewhere only
    ``platform`` and torch's capability are known, and no flag is reported)."""
    try:
        model, flags = _cpuinfo_fields(Path(cpuinfo_path).read_text(errors="replace"))
    except OSError:
        model, flags = "", set()
    try:
        capability = str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # noqa: BLE001 - older torch: the capability is only informative
        capability = "unknown"
    return CpuInfo(model=model or platform.processor() or "unknown",
                   flags=tuple(f for f in REPORTED_FLAGS if f in flags),
                   capability=capability, machine=platform.machine())


def native_bf16(info: CpuInfo | None = None) -> bool:
    """Whether bf16 arithmetic is native on the CPU (AMX or AVX512-BF16)."""
    return (info or cpu_info()).native_bf16


def _check_amp(amp: str) -> None:
    if amp not in AMP_MODES:
        raise ValueError(f"amp={amp!r} is not valid; choose one of: {', '.join(AMP_MODES)}")


def resolve_amp(amp: str, device: torch.device | str, *,
                info: CpuInfo | None = None) -> tuple[torch.dtype | None, bool]:
    """``(autocast dtype or None, use GradScaler)`` for ``amp`` on ``device``.

    ``auto``: bf16 on CUDA (fp16 + GradScaler on GPUs without bf16) and on CPUs with native
    bf16, fp32 on other CPUs; ``bf16``: bf16 everywhere (with a warning on a CPU without
    native bf16); ``fp16``: fp16 with a GradScaler on CUDA (fp32 on the CPU, where fp16
    training is not worth it); ``off``: fp32.
    """
    _check_amp(amp)
    device = torch.device(device)
    if amp == "off":
        return None, False
    if device.type == "cuda":
        if amp == "fp16" or (amp == "auto" and not torch.cuda.is_bf16_supported()):
            return torch.float16, True
        return torch.bfloat16, False
    if device.type != "cpu":
        return (torch.bfloat16, False) if amp == "bf16" else (None, False)
    info = info or cpu_info()
    if amp == "auto":
        return (torch.bfloat16, False) if info.native_bf16 else (None, False)
    if amp == "bf16":
        if not info.native_bf16:
            warnings.warn(
                f"amp='bf16' on a CPU without native bf16 ({info.model}; no {' or '.join(BF16_FLAGS)}): "
                f"every operation converts to and from fp32, expect about {SLOW_BF16_FACTOR:g}x slower "
                f"than fp32 (measured on an AVX2-only AMD EPYC); amp='auto' picks fp32 here",
                RuntimeWarning, stacklevel=2)
        return torch.bfloat16, False
    return None, False   # fp16 on the CPU


def amp_name(dtype: torch.dtype | None) -> str:
    """The ``amp`` setting that reproduces ``dtype`` (``None`` -> ``"off"``)."""
    return {None: "off", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def resolve_channels_last(channels_last: bool | str, amp_dtype: torch.dtype | None,
                          device: torch.device | str) -> bool:
    """The layout for ``channels_last`` (``True``, ``False`` or ``"auto"``): ``auto`` is
    channels-last in every precision on the CPU and on CUDA (measured faster everywhere; see the
    module docstring). ``amp_dtype`` and ``device`` are what a later measurement may split on."""
    if isinstance(channels_last, bool):
        return channels_last
    if channels_last != "auto":
        raise ValueError(f"channels_last must be True, False or 'auto', got {channels_last!r}")
    del amp_dtype, device
    return True


def resolve_precision(cfg: TrainConfig, device: torch.device | str | None = None) -> TrainConfig:
    """``cfg`` with ``amp`` and ``channels_last`` made concrete for ``device`` (default: the
    training default, CUDA when available): what will run, and what a run's identity holds."""
    from reidlab.engine.distributed import default_device

    device = torch.device(device) if device is not None else default_device()
    if cfg.amp != "auto" and not isinstance(cfg.channels_last, str):
        return cfg
    with warnings.catch_warnings():   # the warning belongs to the run, not to naming it
        warnings.simplefilter("ignore", RuntimeWarning)
        dtype, _ = resolve_amp(cfg.amp, device)
    return dataclasses.replace(cfg, amp=amp_name(dtype) if cfg.amp == "auto" else cfg.amp,
                               channels_last=resolve_channels_last(cfg.channels_last, dtype, device))


def precision_report(device: torch.device | str | None = None, *, amp: str = "auto",
                     channels_last: bool | str = "auto") -> dict[str, Any]:
    """What ``run_info.json`` records: the processor, the flags that matter, whether bf16
    is native, and the precision and layout that ``amp``/``channels_last`` give on ``device``."""
    from reidlab.engine.distributed import default_device

    device = torch.device(device) if device is not None else default_device()
    info = cpu_info()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        dtype, _ = resolve_amp(amp, device)
    return {"cpu_model": info.model, "cpu_machine": info.machine, "cpu_flags": list(info.flags),
            "torch_cpu_capability": info.capability, "native_bf16": info.native_bf16,
            "device": str(device), "amp_setting": amp, "precision": "fp32" if dtype is None else amp_name(dtype),
            "channels_last": resolve_channels_last(channels_last, dtype, device),
            "torch_threads": torch.get_num_threads()}
