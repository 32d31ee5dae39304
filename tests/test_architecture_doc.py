"""docs/architecture.md stays true: its generated part is current, and the names it documents exist."""
from __future__ import annotations

from reidlab import architecture


def test_generated_part_is_current_and_documented_names_exist() -> None:
    issues = architecture.problems(architecture.DOC.read_text(encoding="utf-8"))
    assert not issues, "docs/architecture.md is out of date (run `make docs`):\n" + "\n".join(issues)


def test_checks_catch_a_removed_name_a_removed_keyword_and_a_stale_part() -> None:
    text = architecture.DOC.read_text(encoding="utf-8")
    generated = architecture.generated_part(text)
    assert architecture.BEGIN in generated and architecture.END in generated
    broken = text.replace("## Layering", "`build_protocol(name, dataset, partition=0)` and `no_such_function(x)` "
                          "in reidlab/no_such_module.py\n\n## Layering")
    found = "\n".join(architecture.problems(broken))
    assert "no definition of build_protocol takes partition=" in found
    assert "no_such_function is not defined" in found
    assert "reidlab/no_such_module.py does not exist" in found
    stale = text.replace(generated, generated.replace("### Key signatures", "### Key signatures\n\n- `x`: `y()`"))
    assert any("stale" in issue for issue in architecture.problems(stale))


def test_config_sits_below_models_and_there_is_no_import_cycle() -> None:
    graph = architecture.part_imports()
    assert graph["config"]["load"] <= {"choices"} and not graph["config"]["use"]
    assert graph["choices"] == {"load": set(), "use": set()}
    layers = architecture._layers(graph)
    placed = [part for layer in layers for part in layer]
    assert sorted(placed) == sorted(p for p in graph if p != "notebooks")
