"""JupyterLab in a real browser (issues 24 and 32): Playwright drives Debian's Chromium against a
JupyterLab started here on localhost with a token; it runs notebook 03 and the ranking explorer
(notebook 08) with the smoke parameters of `make test`'s nbval run (its trained runs and explorer
data), and checks what a reader sees: a table, a figure, a progress bar drawn as a widget while 03
runs, and a ranking that lambda changes. Notebook 08 shows by default the first query whose top-10
gallery identities differ between lambda 0 and 0.5 (:func:`reidlab.study.show.explorer.choose_query`);
the driver moves the lambda slider to 0 and then to 0.5 and reads the explorer's printed line of
gallery identities in rank order at each: they must be the headless selection's, and differ.
Screenshots go to ``build/lab-screenshots/``.

To see this test fail when the fusion ignores lambda, apply one of these edits temporarily and
run it again (`REIDLAB_SMOKE_BUILD=build/nbval .venv/bin/python -m pytest -q -p no:cacheprovider
tests/test_lab_browser.py`); both make the identities at lambda 0 and 0.5 equal, and the explorer
test fails with "lambda changed no ranking" (notebook 08 then prints "query 0: no query of
trial 0 with a true match in the gallery changes its top-10 ..."):

* the explorer's Eq. 8: in ``reidlab/study/show/explorer.py``, ``TrialRanking.distances`` returns
  ``self.base`` (lambda's term dropped);
* the library's Eq. 8: in ``reidlab/metrics/rfd.py``, ``fused_distance`` uses
  ``fused = d_f`` (B-R ignored). Notebook 03, run here in Lab, then stores a zero lambda term in
  the smoke build's explorer data; run the test once more after undoing the edit, which stores
  the real one again.

The browser runs in a process of its own (tests/lab_browser_driver.py). Skipped, saying why, where Chromium (``/usr/bin/chromium``: ``apt-get install chromium``) or the
Playwright package is absent; `.ci/run` installs both. Nothing beyond localhost is contacted:
Chromium runs with background networking, component updates and first-run tasks off.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reidlab.paths import repo_root

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = repo_root() / "build" / "lab-screenshots"

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def smoke_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smoke build whose runs (trained models, explorer data) exist: `make test`'s nbval build
    (``REIDLAB_SMOKE_BUILD``), else a smoke run of 00-05 made here."""
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM}: `apt-get install chromium` (Debian) to run the "
                    "JupyterLab browser test; .ci/run installs it")
    pytest.importorskip("playwright.sync_api", reason="the Playwright package is not installed (pip install playwright)")
    from reidlab.study.drive.pipeline import run_notebook, smoke_parameters

    given = os.environ.get("REIDLAB_SMOKE_BUILD")
    build = Path(given) if given else None
    if build is None or not (build / "runs" / "explorer").is_dir():
        build = tmp_path_factory.mktemp("lab-smoke")
        for name in ("00_data_synthesis", "01_train_bf", "02_train_br", "03_rfd_eval", "04_ablations",
                     "05_per_split_plot"):
            run_notebook(name, smoke_parameters(build), build / "executed", log_output=False)
    return build


@pytest.fixture(scope="module")
def lab_notebooks(smoke_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with notebooks 03 and 08 under smoke parameters, reading ``smoke_build``'s runs."""
    import papermill as pm

    from reidlab.study.drive.pipeline import _params_for, smoke_parameters

    folder = tmp_path_factory.mktemp("lab")
    params = {**smoke_parameters(smoke_build), "results_dir": str(folder / "results")}
    for name in ("03_rfd_eval", "08_ranking_explorer"):
        src = repo_root() / "notebooks" / f"{name}.ipynb"
        pm.execute_notebook(str(src), str(folder / f"{name}.ipynb"), parameters=_params_for(src, params),
                            prepare_only=True, kernel_name="python3", progress_bar=False)
    return folder


@pytest.fixture(scope="module")
def lab(lab_notebooks: Path):
    """JupyterLab on 127.0.0.1 with a random token, serving ``lab_notebooks``; widgets on (no
    plain-text progress bars, the kernel's default matplotlib backend)."""
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("REIDLAB_PLAIN_PROGRESS", "MPLBACKEND")}
    log = open(lab_notebooks / "lab.log", "w")
    # every cell in the page (no windowing), so offscreen outputs can be checked; settings of its own
    settings = lab_notebooks.parent / f"{lab_notebooks.name}-settings"
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text('{"windowingMode": "none"}')
    # the server contacts nothing either: no extension manager index, no news, no update check
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={lab_notebooks}",
               "--LabApp.extension_manager=readonly", "--LabApp.news_url=None", "--LabApp.expose_app_in_browser=True",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={settings / 'workspaces'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")   # CI containers run as root
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: {(lab_notebooks / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.terminate()
        raise RuntimeError("JupyterLab did not answer within 120 s")
    yield url, token
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def seen(lab) -> dict:
    """What Chromium showed (tests/lab_browser_driver.py, in a process of its own)."""
    import json

    url, token = lab
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("lab_browser_driver.py")), url, token,
                           str(SCREENSHOTS)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def headless_selection(seen, smoke_build: Path) -> tuple:
    """Notebook 08's default selection, computed here from the explorer data it read (notebook 03,
    run in Lab just before, rewrote them): the trial and its chosen query, and the top-k."""
    from reidlab.config import get_profile
    from reidlab.study.params import declared_defaults
    from reidlab.study.show import explorer

    defaults = declared_defaults("08_ranking_explorer")
    bundles, _ = explorer.load_sources(smoke_build / "runs", "smoke", get_profile("smoke").data.dataset)
    name = next(iter(bundles))
    chosen = explorer.trial_of(bundles[name], defaults["trial"], source=name)
    return chosen, explorer.choose_query(chosen, defaults["query"], topk=defaults["topk"]), defaults["topk"]


def test_notebook_03_shows_its_table_and_a_widget_progress_bar_in_lab(seen):
    nb = seen["03"]
    assert nb["finished"] and not nb["errors"], nb
    assert nb["tables"] >= 1, "no table rendered"
    assert nb["widgets"] >= 1, f"no progress bar output as a widget: {nb}"   # tqdm's bars in Lab
    assert nb["progress_bars_drawn"] >= 1, f"no progress bar drawn in the page while notebook 03 ran: {nb}"


def test_the_explorer_shows_a_ranking_that_the_lambda_slider_changes(seen, headless_selection):
    from reidlab.study.show import explorer

    nb = seen["08"]
    assert nb["finished"] and not nb["errors"], nb
    assert nb["tables"] >= 1 and nb["images"] >= 1, f"no table or no figure displayed: {nb}"
    assert "widget_error" not in nb, nb.get("widget_error")
    chosen, choice, topk = headless_selection
    start, rankings = nb["start"], nb["rankings"]
    assert (start["trial"], start["query"]) == (chosen.trial, choice.query), \
        f"the widget starts at trial {start['trial']}, query {start['query']}, not at notebook 08's ({choice.reason})"
    assert [r["lam"] for r in rankings] == list(explorer.CHANGE_LAMS), rankings
    assert all((r["trial"], r["query"]) == (chosen.trial, choice.query) for r in rankings), rankings
    for shown in rankings:     # the page shows the headless numbers
        assert tuple(shown["identities"]) == explorer.top_identities(chosen, choice.query, shown["lam"], topk), shown
    low, high = (tuple(r["identities"]) for r in rankings)
    assert low != high, (f"lambda changed no ranking: the same gallery identities in the same order at lambda "
                         f"{explorer.CHANGE_LAMS[0]} and {explorer.CHANGE_LAMS[1]} ({list(low)}); notebook 08: "
                         f"{choice.reason}")
    assert nb["srcs"][0] != nb["srcs"][1], "the figure was not redrawn"
