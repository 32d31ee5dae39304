"""Notebook hygiene and fail-fast parameters (execution itself is tested by nbval in `make test`)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from reidlab.study.contract import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_clean_parameterised_and_python3(name):
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in code), "no parameters cell"
    assert not any(c.get("outputs") for c in code), "committed with outputs"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    params = "".join(next(c["source"] for c in code if "parameters" in c["metadata"].get("tags", [])))
    assert "profile" in params


@pytest.mark.slow
def test_rfd_eval_rejects_unknown_protocol_at_once(tmp_path):
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError, match="protocol='bogus' is not valid; choose one of: "
                                                                 "lr_query, multi_res_gallery"):
        papermill.execute_notebook(str(ROOT / "notebooks" / "03_rfd_eval.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"profile": "smoke", "protocol": "bogus", "results_dir": str(tmp_path)},
                                   kernel_name="python3", progress_bar=False)
    assert not (tmp_path / "03_rfd_eval.json").exists()
