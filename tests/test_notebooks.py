"""Notebook hygiene and fail-fast parameters (execution itself is tested by nbval in `make test`)."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from reidlab.study.show.registry import notebooks

NOTEBOOKS = notebooks()

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


def notebook_namespace(name: str, **parameters) -> dict:
    """What a notebook's kernel holds after papermill injected ``parameters``: its parameters cell
    run, then the injected values (the first code cell's ``begin(...)`` reads this namespace). One
    papermill run (tests/test_refusals.py) shows a ``begin`` failure stops the notebook."""
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    namespace: dict = {}
    exec("".join(cell["source"]), namespace)   # noqa: S102 - the project's own parameters cell
    namespace.pop("__builtins__")
    return {**namespace, **parameters}


def test_rfd_eval_rejects_unknown_protocol_at_once(tmp_path):
    from reidlab.study.drive.begin import begin

    with pytest.raises(ValueError, match="protocol='bogus' is not valid; choose one of: lr_query, multi_res_gallery"):
        begin("03_rfd_eval", notebook_namespace("03_rfd_eval", profile="smoke", protocol="bogus",
                                                results_dir=str(tmp_path)))
    assert not list(tmp_path.iterdir())


def _code_cells(name: str) -> list[str]:
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"]
            if c["cell_type"] == "code" and "parameters" not in c.get("metadata", {}).get("tags", [])]


_DISPLAY_CALLS = {"print", "display"}
_RESULT_WRITERS = {"write_result", "write_table", "NotebookResult", "TableRef", "FigureRef"}


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_code_is_parameters_calls_and_displays(name):
    """Issue 21: a notebook starts with one ``begin(...)`` call and holds no function, no loop that
    builds results (a loop may only print or display) and no result writing beyond one call of
    its builder in ``reidlab.study.show.notebook_results``."""
    cells = _code_cells(name)
    assert f'begin("{name}", globals()' in cells[0], "the first code cell must start the notebook with begin()"
    builders = 0
    for source in cells:
        tree = ast.parse(source)
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)), \
                f"{name}: defines a function or class (line {node.lineno}); it belongs in reidlab/study/"
            if isinstance(node, (ast.For, ast.While)):
                for inner in node.body:
                    calls = [n for n in ast.walk(inner) if isinstance(n, ast.Call)]
                    assert isinstance(inner, ast.Expr) and calls and _call_name(inner.value) in _DISPLAY_CALLS, \
                        f"{name}: a loop that does more than print or display (line {node.lineno})"
            if isinstance(node, ast.Call):
                assert _call_name(node) not in _RESULT_WRITERS, \
                    f"{name}: calls {_call_name(node)} (line {node.lineno}); results are written by notebook_results"
                assert not any(k.arg == "metrics" and isinstance(k.value, (ast.Dict, ast.DictComp)) for k in node.keywords), \
                    f"{name}: builds a metrics dictionary (line {node.lineno})"
                if isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "notebook_results":
                    builders += 1
    assert builders == 1, f"{name}: {builders} calls of a notebook_results builder (one expected)"
