"""docs/architecture.md stays true: its generated part is current, and the names it documents exist."""
from __future__ import annotations

import shutil

from reidlab import architecture_doc


def test_generated_part_is_current_and_documented_names_exist() -> None:
    issues = architecture_doc.problems(architecture_doc.DOC.read_text(encoding="utf-8"))
    assert not issues, "docs/architecture.md is out of date (run `make docs`):\n" + "\n".join(issues)


def test_checks_catch_a_removed_name_a_removed_keyword_and_a_stale_part() -> None:
    text = architecture_doc.DOC.read_text(encoding="utf-8")
    generated = architecture_doc.generated_part(text)
    assert architecture_doc.BEGIN in generated and architecture_doc.END in generated
    broken = text.replace("## Layering", "`build_protocol(name, dataset, partition=0)` and `no_such_function(x)` "
                          "in reidlab/no_such_module.py\n\n## Layering")
    found = "\n".join(architecture_doc.problems(broken))
    assert "no definition of build_protocol takes partition=" in found
    assert "no_such_function is not defined" in found
    assert "reidlab/no_such_module.py does not exist" in found
    stale = text.replace(generated, generated.replace("### Key signatures", "### Key signatures\n\n- `x`: `y()`"))
    assert any("stale" in issue for issue in architecture_doc.problems(stale))


def test_no_module_imports_one_that_imports_it_back_even_inside_a_function() -> None:
    assert architecture_doc.module_cycles(architecture_doc.module_imports()) == []


def test_a_cycle_closed_by_an_import_inside_a_function_is_caught(tmp_path) -> None:
    """Issue 34: a cycle closed by an import in a function body (config -> the pipeline -> config) is found."""
    copy = tmp_path / "reidlab"
    shutil.copytree(architecture_doc.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    config = copy / "config.py"
    config.write_text(config.read_text(encoding="utf-8")
                      + "\n\ndef _late():\n    from reidlab.study.drive import pipeline\n    return pipeline\n",
                      encoding="utf-8")
    cycles = architecture_doc.module_cycles(architecture_doc.module_imports(copy))
    assert any({"reidlab.config", "reidlab.study.drive.pipeline"} <= set(cycle) for cycle in cycles), cycles
    assert architecture_doc.module_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


#: the rooms that may only import rooms before them in this order (at load or inside a function)
ROOMS = ("engine", "recipes", "study", "study.compute", "study.show", "study.drive")


def test_the_rooms_import_downward_only() -> None:
    upward = []
    for module, targets in architecture_doc.module_imports().items():
        room = architecture_doc._part(module)
        for target in targets:
            to = architecture_doc._part(target)
            if room in ROOMS and to in ROOMS and ROOMS.index(to) > ROOMS.index(room):
                upward.append(f"{module} -> {target}")
    assert not upward, upward


def test_config_sits_below_models_and_there_is_no_import_cycle() -> None:
    graph = architecture_doc.part_imports()
    assert graph["config"]["load"] <= {"choices"} and not graph["config"]["use"]
    assert graph["choices"] == {"load": set(), "use": set()}
    layers = architecture_doc._layers(graph)
    placed = [part for layer in layers for part in layer]
    assert sorted(placed) == sorted(p for p in graph if p != "notebooks")


def test_the_layering_prose_names_the_rooms_in_the_order_the_code_keeps() -> None:
    """docs/architecture.md's *Layering* prose is checked against :data:`ROOMS` (which the test above holds
    the imports to): each room is named, in that order, and each of the study's base modules is named."""
    text = architecture_doc.DOC.read_text(encoding="utf-8")
    prose = text.split("## Layering", 1)[1].split("\n\n", 1)[1].split("\n\n", 1)[0]
    positions = [prose.find(f"`{room}`") for room in ROOMS]
    assert -1 not in positions, f"the Layering prose does not name every room of {ROOMS}"
    assert positions == sorted(positions), f"the Layering prose names the rooms out of the order {ROOMS}"
    base = {m.split(".")[2] for m in architecture_doc.module_imports()
            if m.count(".") == 2 and m.startswith("reidlab.study.") and m not in {f"reidlab.{r}" for r in ROOMS}}
    missing = sorted(m for m in base if f"`{m}`" not in prose)
    assert not missing, f"the Layering prose leaves out the study's base modules {missing}"
