"""Numeric precision and memory layout chosen by the hardware, never by the profile.

The one home for "which autocast dtype and which tensor layout does this run use?":

* :func:`cpu_info` reads what the processor offers (model name, the flags that matter for
  bf16: ``amx_bf16``, ``avx512_bf16``, ``avx512f``, ``avx2``; torch's CPU capability);
* :func:`native_bf16` says whether bf16 arithmetic is native on it (AMX or AVX512-BF16, with torch
  dispatching to kernels that use them: ``ATEN_CPU_CAPABILITY=avx2`` with ``ONEDNN_MAX_CPU_ISA=AVX2`` makes
  a newer processor compute as the AVX2-only class does, kernels and precision, e.g. for
  ``make check-results``).
  Without it every bf16 operation converts to and from fp32: a ResNet-18 training step at
  128x64 ran **11.6x slower** under bf16 autocast than in fp32 on an AVX2-only AMD EPYC
  (3.3 against 38 images/s, ``benchmarks/model_speed.py``), while on an AMX machine bf16
  was 1.2-1.4x *faster*;
* :func:`bf16_convolution_error` checks that the CPU's bf16 convolutions compute what they should:
  on an Intel Xeon with AMX, torch 2.14.1's oneDNN 3.12 kernel ``brg_conv_fwd:avx10_1_512_amx``
  returned garbage (relative error about 1, sometimes NaN or inf) for 3x3 stride-2 convolutions over
  feature maps one or two pixels wide with 64 or more channels: the deepest stage of a ResNet or an
  HRNet at 64x32 input, as the quick profile pre-trains (PS-HRNet's student loss went NaN at its
  first step). The probe runs such convolutions (and ordinary ones) once per process against fp32
  on the same bf16 operands;
* :func:`resolve_amp` turns ``amp="auto" | "off" | "bf16" | "fp16"`` into an autocast dtype:
  ``auto`` is bf16 on CUDA (fp16 + GradScaler where CUDA lacks bf16) and on CPUs with native
  bf16 whose bf16 convolutions pass the probe, fp32 on every other CPU. An explicit ``"bf16"`` on a
  CPU without native bf16, or failing the probe, is honoured with a warning;
* :func:`resolve_channels_last` turns ``channels_last="auto"`` into a layout: channels-last, which
  was faster for every network and precision measured (bf16 on the AMX CPU: 1.1x training, 1.7x
  extraction; fp32 on the AVX2 EPYC: 1.09-1.27x training of the pre-training ResNet, MGN, the
  light B-R and PS-HRNet's parts; CUDA: 1.24x extraction on an H100). ``"auto"`` keeps the
  decision in this one place should a processor prove otherwise;
* :func:`resolve_precision` makes a schedule concrete (``amp`` and ``channels_last`` replaced
  by what will run), so a run's identity (:mod:`reidlab.engine.run_identity`) names the precision it
  was trained in: an fp32 run is never reused as if it were bf16;
* :func:`precision_report` is what ``results/run_info.json`` records.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import platform
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reidlab.config import AMP_MODES, TrainConfig

__all__ = [
    "BF16_FLAGS", "BF16_PROBE_TOLERANCE", "CpuInfo", "bf16_convolution_error", "cpu_info", "native_bf16",
    "resolve_amp", "resolve_channels_last", "resolve_precision", "amp_name", "precision_report", "bf16_words",
    "SLOW_BF16_FACTOR",
]

#: ``/proc/cpuinfo`` flags that make bf16 arithmetic native on x86 (AMX tiles, AVX512-BF16).
BF16_FLAGS: tuple[str, ...] = ("amx_bf16", "avx512_bf16")
#: Flags recorded in ``run_info.json`` (what decides the speed of the two precisions).
REPORTED_FLAGS: tuple[str, ...] = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
                                   "amx_tile", "amx_bf16", "amx_fp16")
#: torch CPU capabilities whose kernels cannot use bf16 instructions: ``ATEN_CPU_CAPABILITY`` set to one of
#: them on a processor with bf16 makes torch (and ``amp="auto"``) compute as a processor without it does.
CAPABILITIES_WITHOUT_BF16: tuple[str, ...] = ("DEFAULT", "NO AVX", "AVX", "AVX2")
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
    bf16_error: float = 0.0     # bf16_convolution_error() where bf16 is native, else 0

    @property
    def bf16_instructions(self) -> bool:
        """Whether the processor has bf16 instructions (AMX or AVX512-BF16)."""
        return any(flag in self.flags for flag in BF16_FLAGS)

    @property
    def kernels_below_bf16(self) -> bool:
        """Whether torch was told to dispatch to kernels that cannot use them
        (``ATEN_CPU_CAPABILITY=avx2`` or lower, e.g. to compute as an AVX2-only processor does)."""
        return self.capability.upper() in CAPABILITIES_WITHOUT_BF16

    @property
    def native_bf16(self) -> bool:
        """Whether bf16 arithmetic is native: the instructions, and kernels that use them."""
        return self.bf16_instructions and not self.kernels_below_bf16

    @property
    def bf16_sound(self) -> bool:
        """Whether bf16 convolutions passed :func:`bf16_convolution_error`'s probe."""
        return self.bf16_error <= BF16_PROBE_TOLERANCE


#: Relative error (Frobenius, against fp32 on the same bf16-rounded operands) above which a bf16
#: convolution is wrong rather than rounded: rounding gives about 0.002 at these sizes.
BF16_PROBE_TOLERANCE = 0.02
#: The probe's convolutions, ``(in channels, height, width, stride)``, each 3x3 to twice the channels:
#: the narrow stride-2 class the AMX kernel got wrong, and ordinary ones.
BF16_PROBE_SHAPES: tuple[tuple[int, int, int, int], ...] = (
    (64, 4, 2, 2), (256, 4, 2, 2), (72, 8, 1, 2), (128, 6, 2, 2), (64, 16, 8, 2), (64, 8, 4, 1))


def bf16_convolution_error() -> float:
    """The largest relative error of bf16 convolutions on this CPU (:data:`BF16_PROBE_SHAPES`,
    contiguous and channels-last) against fp32 on the same bf16-rounded operands; ``inf`` when one
    gives NaN or inf. Draws from a generator of its own (no global RNG state moves)."""
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    worst = 0.0
    with torch.inference_mode():
        for channels, height, width, stride in BF16_PROBE_SHAPES:
            x = torch.randn(8, channels, height, width, generator=gen).mul(10).bfloat16()
            weight = torch.randn(2 * channels, channels, 3, 3, generator=gen).mul(0.05).bfloat16()
            reference = F.conv2d(x.float(), weight.float(), stride=stride, padding=1)
            for layout in (torch.contiguous_format, torch.channels_last):
                out = F.conv2d(x.contiguous(memory_format=layout), weight, stride=stride, padding=1).float()
                error = float((out - reference).norm() / reference.norm())
                worst = max(worst, error if math.isfinite(error) else math.inf)
    return worst


def _cpuinfo_fields(text: str) -> tuple[str, set[str]]:
    """``(model name, flags)`` of the first processor in a ``/proc/cpuinfo`` text."""
    model, flags, numbers = "", set(), {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
        elif key in ("cpu family", "model") and key not in numbers and value.strip():
            numbers[key] = value.strip()
    if model and len(numbers) == 2:   # "AMD EPYC" alone names several generations: Zen 3/4 are family 25, Zen 5 26
        model = f"{model} (family {numbers['cpu family']}, model {numbers['model']})"
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
    info = CpuInfo(model=model or platform.processor() or "unknown",
                   flags=tuple(f for f in REPORTED_FLAGS if f in flags),
                   capability=capability, machine=platform.machine())
    return dataclasses.replace(info, bf16_error=bf16_convolution_error()) if info.native_bf16 else info


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
        return (torch.bfloat16, False) if info.native_bf16 and info.bf16_sound else (None, False)
    if amp == "bf16":
        if info.kernels_below_bf16 and info.bf16_instructions:
            warnings.warn(
                f"amp='bf16' on {info.model} with torch's {info.capability} kernels (ATEN_CPU_CAPABILITY): they "
                "do not use its bf16 instructions, so every operation converts to and from fp32; amp='auto' "
                "picks fp32 here", RuntimeWarning, stacklevel=2)
        elif not info.native_bf16:
            warnings.warn(
                f"amp='bf16' on a CPU without native bf16 ({info.model}; no {' or '.join(BF16_FLAGS)}): "
                f"every operation converts to and from fp32, expect about {SLOW_BF16_FACTOR:g}x slower "
                f"than fp32 (measured on an AVX2-only AMD EPYC); amp='auto' picks fp32 here",
                RuntimeWarning, stacklevel=2)
        elif not info.bf16_sound:
            warnings.warn(
                f"amp='bf16' on {info.model}: its bf16 convolutions failed the probe (relative error "
                f"{info.bf16_error:.3g} against fp32; see reidlab.engine.precision.bf16_convolution_error), so "
                "narrow stride-2 layers may compute garbage or NaN; amp='auto' picks fp32 here",
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
    """``cfg`` with ``amp``, ``channels_last``, ``compile`` and ``augment_on`` made concrete for
    ``device`` (default: the training default, CUDA when available): what will run, and what a
    run's identity holds. ``compile="auto"`` compiles on CUDA only; ``augment_on="auto"`` augments
    on a CUDA device, in the loader elsewhere."""
    from reidlab.engine.distributed import default_device

    device = torch.device(device) if device is not None else default_device()
    on_cuda = device.type == "cuda"
    if cfg.compile == "auto" or cfg.augment_on == "auto":
        cfg = dataclasses.replace(cfg, compile=on_cuda if cfg.compile == "auto" else cfg.compile,
                                  augment_on=("device" if on_cuda else "loader") if cfg.augment_on == "auto"
                                  else cfg.augment_on)
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
            "torch_cpu_capability": info.capability,
            "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),   # oneDNN's kernels capped, if set
            "native_bf16": info.native_bf16, "bf16_instructions": info.bf16_instructions,
            "bf16_convolution_error": info.bf16_error if math.isfinite(info.bf16_error) else "inf",
            "bf16_sound": info.bf16_sound,
            "device": str(device), "amp_setting": amp, "precision": "fp32" if dtype is None else amp_name(dtype),
            "channels_last": resolve_channels_last(channels_last, dtype, device),
            "torch_threads": torch.get_num_threads()}


def bf16_words(report: dict[str, Any]) -> str:
    """``"native bf16: yes"`` / ``"no"``, or why a native bf16 is not used, from a
    :func:`precision_report` (the words the pipeline, the CLI and the results' README print)."""
    if not report.get("native_bf16"):
        if report.get("bf16_instructions"):   # the CPU has them: torch's kernels were capped below them
            return (f"native bf16: no, the processor has it but torch runs its "
                    f"{report.get('torch_cpu_capability')} kernels (ATEN_CPU_CAPABILITY)")
        return "native bf16: no"
    if report.get("bf16_sound", True):
        return "native bf16: yes"
    return (f"native bf16: yes, but its bf16 convolutions failed the probe (relative error "
            f"{report.get('bf16_convolution_error')}), so fp32")

