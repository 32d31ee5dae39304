"""Where the wall time goes: each stage of the study timed by the code that does it.

``with stage("training"):`` around a unit of work counts its wall time toward that stage,
*exclusively*: a stage entered inside another (extraction during a training run's
validation) pauses the outer one, so the stages of a notebook add up to at most its wall
time and never count a second twice. The stages are :data:`STAGES`.

Timing is written only when the environment variable :data:`STAGE_LOG_ENV` names a file
(the study pipeline sets it for every notebook it runs): one JSON line per finished stage,
appended, so a notebook's kernel (another process) reports to the pipeline without any
shared state. :func:`read_stage_log` sums such a file per stage. Outside the pipeline
nothing is written and the cost is one environment look-up.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from reidlab.paths import append_json_line, read_json_lines

__all__ = ["STAGES", "STAGE_LOG_ENV", "stage", "read_stage_log"]

#: The stages of the study, in the order of the pipeline.
STAGES: tuple[str, ...] = ("data synthesis", "pre-training", "training", "extraction", "ranking")
STAGE_LOG_ENV = "REIDLAB_STAGE_LOG"

_open_stages = threading.local()   # per thread: the stack of [name, start, seconds spent in inner stages]


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Count the wall time of the ``with`` block toward stage ``name`` (one of :data:`STAGES`),
    minus the time of stages opened inside it."""
    if name not in STAGES:
        raise ValueError(f"stage {name!r} is not one of: {', '.join(STAGES)}")
    log = os.environ.get(STAGE_LOG_ENV)
    if not log:
        yield
        return
    stack = getattr(_open_stages, "stack", None)
    if stack is None:
        stack = _open_stages.stack = []
    frame = [name, time.perf_counter(), 0.0]
    stack.append(frame)
    try:
        yield
    finally:
        stack.pop()
        elapsed = time.perf_counter() - frame[1]
        if stack:
            stack[-1][2] += elapsed
        own = max(elapsed - frame[2], 0.0)
        append_json_line(log, {"stage": name, "seconds": round(own, 4)})   # informative: never fails the study


def read_stage_log(path: str | os.PathLike[str]) -> dict[str, float]:
    """Seconds per stage in a log written by :func:`stage` (stages absent from it: 0; a
    missing file: every stage 0; a line cut short by a killed kernel: skipped)."""
    totals = dict.fromkeys(STAGES, 0.0)
    for entry in read_json_lines(path):
        try:
            totals[entry["stage"]] += float(entry["seconds"])
        except (ValueError, KeyError, TypeError):
            continue
    return {k: round(v, 2) for k, v in totals.items()}
