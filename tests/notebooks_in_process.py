"""Run numbered notebooks in this one Python process, with their parameters injected as papermill
injects them (its ``parameterize_notebook``), each code cell executed in order in one namespace per
notebook: for tests that need a notebook's results many times over (one interpreter start and one
set of imports for all, no Jupyter kernel per notebook). The pipeline (``make reproduce``) and
nbval still run every notebook in a kernel of its own.

    python tests/notebooks_in_process.py JOBS.json

``JOBS.json``: a list of ``{"label": str, "notebooks": [name, ...], "parameters": {...}}``. Prints
one JSON line per notebook run: ``{"label", "notebook", "ok", "seconds", "error"}``; a job stops at
its first failing notebook (lines start with :data:`OUTCOME`; the notebooks print too). Exit status 0 even when a notebook fails (the caller reads the lines).
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path


#: what starts each outcome line on stdout (the notebooks print too)
OUTCOME = "@@notebook-outcome "


def run_notebook_in_process(name: str, parameters: dict) -> None:
    """Execute ``notebooks/<name>.ipynb`` here with ``parameters`` (those it declares)."""
    from IPython.display import display  # noqa: F401 - the notebooks' display(), printing outside a kernel
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from reidlab.paths import repo_root
    from reidlab.study.params import declared_parameters

    path = repo_root() / "notebooks" / f"{name}.ipynb"
    declared = set(declared_parameters(name))
    nb = parameterize_notebook(load_notebook_node(str(path)),
                               {k: v for k, v in parameters.items() if k in declared}, kernel_name="python3",
                               language="python")
    namespace: dict = {"__name__": "__main__", "display": display}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            exec(compile(cell.source, f"{path}[cell {index}]", "exec"), namespace)  # noqa: S102 - our notebooks


def main(jobs_file: str) -> int:
    import matplotlib

    matplotlib.use("Agg")
    jobs = json.loads(Path(jobs_file).read_text())
    for job in jobs:
        for name in job["notebooks"]:
            start = time.perf_counter()
            try:
                run_notebook_in_process(name, job["parameters"])
                line = {"ok": True, "error": ""}
            except BaseException:  # noqa: BLE001 - reported to the test, naming the notebook
                line = {"ok": False, "error": traceback.format_exc()[-4000:]}
            import matplotlib.pyplot as plt

            plt.close("all")
            print(OUTCOME + json.dumps({"label": job["label"], "notebook": name,
                              "seconds": round(time.perf_counter() - start, 1), **line}), flush=True)
            if not line["ok"]:
                break
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
