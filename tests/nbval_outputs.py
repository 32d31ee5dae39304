"""A pytest plugin for ``make test``: count the image outputs nbval's run of each notebook made.

nbval executes the prepared smoke notebooks (``build/nbval``) but keeps no executed copy.
Loaded with ``-p tests.nbval_outputs``, this plugin writes, after every notebook cell
nbval ran, ``<notebook folder>/image_outputs.json``: notebook name -> number of image outputs
(``image/png``) so far. ``tests/test_notebook_results.py`` compares those counts with the
figures each notebook's result lists (every figure a notebook makes is shown in it).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

IMAGE_OUTPUTS_FILE = "image_outputs.json"


def image_output_count(outputs) -> int:
    """Image outputs (``image/png``) among a cell's outputs (nbformat output dicts)."""
    return sum(1 for out in outputs or () if "image/png" in (out.get("data") or {}))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    yield
    outputs = getattr(item, "test_outputs", None)
    if call.when != "call" or outputs is None or not str(item.fspath).endswith(".ipynb"):
        return
    notebook = Path(str(item.fspath))
    record = notebook.parent / IMAGE_OUTPUTS_FILE
    counts = json.loads(record.read_text()) if record.is_file() else {}
    seen = counts.setdefault("_cells", {})
    key = f"{notebook.stem}:{item.name}"
    if key not in seen:   # a re-run cell is counted once
        seen[key] = image_output_count(outputs)
        counts[notebook.stem] = sum(v for k, v in seen.items() if k.split(":", 1)[0] == notebook.stem)
        record.write_text(json.dumps(counts, indent=1, sort_keys=True))
