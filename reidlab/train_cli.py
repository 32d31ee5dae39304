"""Command line: train RFD's B-F or B-R on one protocol trial.

Example::

    python -m reidlab.train_cli --task bf --profile quick --dataset synth-market \\
        --data-root data --protocol lr_query --trial 0 --out runs/quick/bf \\
        --set bf.iterations=100 --set model.attention=false

Runs unchanged under ``torchrun --nproc_per_node=N -m reidlab.train_cli ...`` (DDP; rank 0
prepares the data first, writes the files and prints the summary). ``--set`` takes
``section.field=value`` (nested: ``ps.teacher.lr=0.01``), parsed with the field's type:
``true/false`` for booleans, ``none`` for optional fields, ``2,3,4`` for tuples.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from collections.abc import Sequence
from typing import Any

from reidlab.config import (
    DATASETS, PROFILE_NAMES, PROTOCOLS, Profile, get_profile, override, protocol_kwargs,
)

TASKS: tuple[str, ...] = ("bf", "br")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def parse_value(text: str, annotation: Any, name: str) -> Any:
    """Convert ``text`` to ``annotation`` (int, float, bool, str, optional, tuple[...])."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if type(None) in options and text.strip().lower() in ("none", "null"):
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return parse_value(text, option, name)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors))
    if origin is tuple:
        args = typing.get_args(annotation)
        item = args[0] if args else str
        parts = [p for p in text.replace(" ", "").split(",") if p]
        return tuple(parse_value(p, item, name) for p in parts)
    if annotation is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError(f"{name}={text!r} is not a boolean; use true or false")
    if annotation in (int, float):
        try:
            return annotation(text)
        except ValueError:
            raise ValueError(f"{name}={text!r} is not a valid {annotation.__name__}") from None
    return text


def parse_overrides(assignments: Sequence[str], profile: Profile) -> dict[str, Any]:
    """``["bf.iterations=100", ...]`` -> nested dict for :func:`reidlab.config.override`.

    Raises:
        ValueError: malformed assignment, unknown section/field (valid names listed),
            or a value of the wrong type.
    """
    changes: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        path = key.strip().split(".")
        if not sep or len(path) < 2 or not all(path):
            raise ValueError(f"--set {assignment!r}: expected section.field=value "
                             f"(e.g. bf.iterations=100)")
        cfg: Any = profile
        target = changes
        for depth, part in enumerate(path):
            fields = {f.name: f for f in dataclasses.fields(cfg)}
            if depth == 0:
                fields.pop("name", None)
            if part not in fields:
                what = (f"field {part!r} in {'.'.join(path[:depth])}" if depth
                        else f"section {part!r}")
                raise ValueError(f"--set {assignment!r}: unknown {what}; "
                                 f"valid: {', '.join(sorted(fields))}")
            value = getattr(cfg, part)
            if depth == len(path) - 1:
                if dataclasses.is_dataclass(value):
                    raise ValueError(f"--set {assignment!r}: {key} is a section; set one of its "
                                     f"fields: {', '.join(f.name for f in dataclasses.fields(value))}")
                hints = typing.get_type_hints(type(cfg))
                target[part] = parse_value(text.strip(), hints[part], key)
            else:
                if not dataclasses.is_dataclass(value):
                    raise ValueError(f"--set {assignment!r}: {'.'.join(path[:depth + 1])} is "
                                     "not a section")
                target = target.setdefault(part, {})
                cfg = value
    return changes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reidlab-train", description="Train RFD's B-F (identities) or B-R (resolutions).")
    parser.add_argument("--task", required=True, choices=TASKS, help="bf or br")
    parser.add_argument("--profile", default="quick", choices=PROFILE_NAMES)
    parser.add_argument("--dataset", choices=DATASETS, help="default: the profile's")
    parser.add_argument("--data-root", help="default: the profile's data.data_root")
    parser.add_argument("--protocol", default="lr_query", choices=PROTOCOLS)
    parser.add_argument("--trial", type=int, default=0)
    parser.add_argument("--out", help="run directory (default: the study's folder for this run, "
                                      "runs/<profile>/<dataset>/<task>-<hash of its identity>)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.FIELD=VALUE", help="override a profile field")
    parser.add_argument("--no-resume", action="store_true",
                        help="retrain from scratch even if out holds a run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--device", help="e.g. cpu, cuda:0 (default: cuda:LOCAL_RANK or cpu)")
    return parser


def resolve_profile(args: argparse.Namespace) -> Profile:
    """The profile named by ``args`` with ``--set``, ``--dataset`` and ``--data-root``."""
    profile = get_profile(args.profile)
    changes = parse_overrides(args.overrides, profile)
    data = changes.setdefault("data", {})
    if args.dataset:
        data["dataset"] = args.dataset
    if args.data_root:
        data["data_root"] = args.data_root
    return override(profile, **changes)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m reidlab.train_cli`` and the ``reidlab-train`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.trial < 0:
        parser.error(f"--trial must be >= 0, got {args.trial}")
    try:
        profile = resolve_profile(args)
    except ValueError as exc:
        parser.error(str(exc))
    from reidlab.paths import resolve

    if args.out and resolve(args.out, name="--out").exists() and not resolve(args.out).is_dir():
        parser.error(f"--out {args.out}: {resolve(args.out)} is a file; --out names the run's folder")
    if args.data_root and resolve(args.data_root, name="--data-root").is_file():
        parser.error(f"--data-root {args.data_root}: {resolve(args.data_root)} is a file, not a folder")

    # Heavy imports after argument checks, so --help and errors are instant.
    import torch

    if args.device:   # before any data work
        try:
            device = torch.device(args.device)
        except RuntimeError as exc:
            parser.error(f"--device {args.device!r} is not a device ({exc}); e.g. cpu, cuda, cuda:0")
        if device.type == "cuda" and not torch.cuda.is_available():
            parser.error(f"--device {args.device}: this machine has no CUDA GPU (torch.cuda.is_available() is "
                         "False); use --device cpu or leave --device out")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            parser.error(f"--device {args.device}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                         f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")

    from reidlab.data.prepare import prepare_dataset
    from reidlab.data.protocols import build_protocol
    from reidlab.engine.distributed import barrier, cleanup_distributed, init_distributed
    from reidlab.engine.precision import bf16_words, precision_report
    from reidlab.engine.run_identity import ConfigMismatchError, RunLockedError, run_folder
    from reidlab.recipes.rfd_baselines import bf_spec, br_spec, train_bf, train_br

    device = torch.device(args.device) if args.device else None
    info = init_distributed(device)
    try:
        if not info.is_main:
            barrier()  # rank 0 generates / reads the data first
        from reidlab.study.compute.model_store import training_split, with_start_weights

        dataset = prepare_dataset(profile.data, progress=info.is_main and not args.no_progress)
        if info.is_main:   # pretrained="synthpeople": the study's pre-training run (trained once, rank 0)
            profile = with_start_weights(profile, args.task, "runs", progress=not args.no_progress)
            barrier()
        else:
            profile = with_start_weights(profile, args.task, "runs", train_if_missing=False)

        split, _ = training_split(profile, build_protocol(args.protocol, dataset, trial=args.trial,
                                                          **protocol_kwargs(profile)))
        spec = bf_spec(profile, split) if args.task == "bf" else br_spec(profile, split)
        out = (resolve(args.out, name="--out") if args.out else
               run_folder("runs", profile.name, profile.data.dataset, spec))
        train = train_bf if args.task == "bf" else train_br
        if info.is_main:
            trained = spec.config["train"]
            cpu = precision_report(device)
            print(f"{parser.prog}: training {args.task} in {trained['amp'] if trained['amp'] != 'off' else 'fp32'}, "
                  f"channels-last {'on' if trained['channels_last'] else 'off'} on {cpu['device']} "
                  f"({cpu['cpu_model']}; {bf16_words(cpu)}) -> {out}",
                  file=sys.stderr)
        _, summary = train(profile, split, out, resume=not args.no_resume,
                           progress=not args.no_progress, device=device, spec=spec)
        if info.is_main:
            print(json.dumps(summary.to_dict(), indent=2))
    except (ConfigMismatchError, RunLockedError, FileNotFoundError) as exc:  # explained, no traceback needed
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        cleanup_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
