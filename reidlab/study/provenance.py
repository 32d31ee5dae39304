"""Which code, machine and precision made each notebook's numbers in a results folder (issue 32).

``make reproduce`` records one provenance record per notebook in ``run_info.json``'s
``notebooks``: the commit and whether the tree was clean, a digest of the code that computes
numbers (:func:`code_digest`: the package and the notebooks), the machine, the processor and
the precision it trained in, the notebook's seconds, and the training units it trained and
reused (:func:`notebook_record`). ``reproduce --only`` replaces the records of the notebooks it
ran and leaves every other record as it was; the folder's own ``code`` is then what all records
share, or ``"mixed"`` (:func:`folder_code`). :func:`provenance_problems` lists every
disagreement (records against each other and against the folder's declared commit): the test
of the committed results fails on any. ``reproduce_minutes`` is the sum of one fresh, complete
run (every notebook run by it, no unit reused from outside it), else ``None`` with the reason
(:func:`reproduce_minutes`).
"""
from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reidlab.paths import repo_root

__all__ = ["CODE_DIGEST_COVERS", "code_digest", "code_version", "notebook_record", "merge_records", "folder_code",
           "reproduce_minutes", "provenance_problems", "AGREEING_FIELDS", "GENERATED_PATHS"]

#: what :func:`code_digest` hashes (relative to the repository root)
CODE_DIGEST_COVERS: tuple[str, ...] = ("reidlab/**/*.py", "reidlab/**/*.mplstyle", "notebooks/*.ipynb")
#: the fields of a notebook record that every record of one results folder must share
AGREEING_FIELDS: tuple[str, ...] = ("commit", "tree", "code_digest", "machine", "cpu_model", "precision")


def code_digest(root: Path | None = None) -> str:
    """SHA-256 (first 16 hex digits) over the path and bytes of every file :data:`CODE_DIGEST_COVERS`
    names, in sorted order: the same for the same code on any machine and checkout, whatever git
    says (so an uncommitted edit or a stale install is seen)."""
    root = Path(root or repo_root())
    files = sorted({p for pattern in CODE_DIGEST_COVERS for p in root.glob(pattern) if p.is_file()
                    and "__pycache__" not in p.parts})
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


#: tracked paths that hold what the pipeline writes, not code: a change there leaves the tree clean
#: (results of an earlier study, README.md's generated headline block), so one clone can run the
#: embedded study and then each dataset arm
GENERATED_PATHS: tuple[str, ...] = ("results/", "README.md")


def code_version() -> dict[str, Any]:
    """The commit the code is at, and whether the working tree differs from it (``"clean"`` /
    ``"dirty"`` with the changed paths; ``"unknown"`` outside a git checkout). Generated data,
    runs and caches are git-ignored, and the committed outputs (:data:`GENERATED_PATHS`) are not
    code, so none of them makes a tree dirty; the code digest (:func:`code_digest`) says exactly
    which code ran."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True,
                              check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = [path for path in (line[3:] for line in git("status", "--porcelain").splitlines() if line.strip())
                   if not path.startswith(GENERATED_PATHS)]
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "tree": "unknown", "changed": []}
    return {"commit": commit, "tree": "dirty" if changed else "clean", "changed": changed}


def notebook_record(*, version: Mapping[str, Any], digest: str, machine: str, precision: Mapping[str, Any],
                    seconds: float, trained: Iterable[str], reused: Iterable[str], reused_from_outside: Iterable[str],
                    finished: str) -> dict[str, Any]:
    """One notebook's provenance record (``run_info.json``'s ``notebooks[<name>]``): ``trained``
    and ``reused`` are run folders it trained (or resumed) and loaded finished;
    ``reused_from_outside`` those of the reused that this reproduce run did not train itself."""
    reused, outside = sorted(set(reused)), sorted(set(reused_from_outside))
    return {"commit": version.get("commit"), "tree": version.get("tree"), "code_digest": digest,
            "machine": machine, "cpu_model": precision.get("cpu_model"), "precision": precision.get("precision"),
            "seconds": round(float(seconds), 1), "trained_units": len(list(trained)), "reused_units": len(reused),
            "reused_from_outside_this_run": outside, "finished": finished}


def merge_records(previous: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]],
                  order: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``reproduce --only``: the records of the notebooks it ran (``new``) replace theirs in
    ``previous``; every other notebook keeps its own record, unchanged; in notebook ``order``."""
    merged = {**previous, **new}
    return {name: dict(merged[name]) for name in order if name in merged}


def folder_code(records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The folder's ``code``: the commit, tree and digest all its notebook records share, or
    ``"mixed"`` for a field they do not."""
    out: dict[str, Any] = {}
    for field in ("commit", "tree", "code_digest"):
        values = {rec.get(field) for rec in records.values()}
        out[field] = values.pop() if len(values) == 1 else "mixed"
    return out


def reproduce_minutes(records: Mapping[str, Mapping[str, Any]], ran: Iterable[str],
                      expected: Iterable[str]) -> tuple[float | None, str]:
    """The study's wall time in minutes when one run made every ``expected`` notebook (``ran``: the
    notebooks this run executed) reusing no unit trained outside it; else ``None`` and why."""
    ran, expected = set(ran), list(expected)
    missing = [name for name in expected if name not in ran]
    if missing:
        return None, (f"not one complete run: {', '.join(missing)} not run by the run that wrote this folder "
                      "(reproduce --only)")
    outside = {name: rec.get("reused_from_outside_this_run") or [] for name, rec in records.items() if name in ran}
    reused = [f"{name} ({len(runs)})" for name, runs in outside.items() if runs]
    if reused:
        return None, ("not a fresh run: units trained before it were reused by " + ", ".join(reused)
                      + "; the time of a fresh clone is not measured")
    return round(sum(float(records[name]["seconds"]) for name in expected) / 60, 1), "one fresh, complete run"


def provenance_problems(info: Mapping[str, Any]) -> list[str]:
    """Every way the notebook records of a ``run_info.json`` disagree with each other (on
    :data:`AGREEING_FIELDS`) or with the folder's declared ``code``; empty when they agree."""
    records = info.get("notebooks")
    if not isinstance(records, Mapping) or not records:
        return ["run_info.json has no per-notebook provenance records ('notebooks'): written by an older "
                "pipeline; regenerate the folder with make reproduce"]
    problems = []
    for field in AGREEING_FIELDS:
        values: dict[str, list[str]] = {}
        for name, rec in records.items():
            values.setdefault(str(rec.get(field)), []).append(name)
        if len(values) > 1:
            problems.append(f"notebooks disagree on {field}: "
                            + "; ".join(f"{value} ({', '.join(names)})" for value, names in values.items()))
    declared = info.get("code") or {}
    for field in ("commit", "code_digest"):
        for name, rec in records.items():
            if declared.get(field) != rec.get(field):
                problems.append(f"{name} was made at {field} {rec.get(field)}, the folder declares "
                                f"{declared.get(field)}")
    return problems
