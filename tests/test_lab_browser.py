"""JupyterLab in a real browser (issue 24): Playwright drives Debian's Chromium against a JupyterLab
started here on localhost with a token; it runs notebook 03 and the ranking explorer (notebook
08) with the smoke parameters of `make test`'s nbval run (its trained runs and explorer data), and
checks what a reader sees: a table, a figure, a progress bar drawn as a widget, and a ranking
that changes when the lambda slider moves. Screenshots go to ``build/lab-screenshots/``.

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
def lab_notebooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with notebooks 03 and 08 under smoke parameters, whose runs (trained models,
    explorer data) exist: `make test`'s nbval build, else a smoke run of 01-05 made here."""
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM}: `apt-get install chromium` (Debian) to run the "
                    "JupyterLab browser test; .ci/run installs it")
    pytest.importorskip("playwright.sync_api", reason="the Playwright package is not installed (pip install playwright)")
    from reidlab.study.pipeline import run_notebook, smoke_parameters

    given = os.environ.get("REIDLAB_SMOKE_BUILD")
    build = Path(given) if given else None
    if build is None or not (build / "runs" / "explorer").is_dir():
        build = tmp_path_factory.mktemp("lab-smoke")
        for name in ("00_data_synthesis", "01_train_bf", "02_train_br", "03_rfd_eval", "04_ablations",
                     "05_per_split_plot"):
            run_notebook(name, smoke_parameters(build), build / "executed", log_output=False)
    import papermill as pm

    from reidlab.study.pipeline import _params_for

    folder = tmp_path_factory.mktemp("lab")
    params = {**smoke_parameters(build), "results_dir": str(folder / "results")}
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


def test_notebook_03_shows_its_table_and_a_widget_progress_bar_in_lab(seen):
    nb = seen["03"]
    assert nb["finished"] and not nb["errors"], nb
    assert nb["tables"] >= 1, "no table rendered"
    assert nb["widgets"] >= 1, f"no progress bar shown as a widget: {nb}"   # tqdm's bars in Lab


def test_the_explorer_draws_a_ranking_and_the_lambda_slider_changes_it(seen):
    nb = seen["08"]
    assert nb["finished"] and not nb["errors"], nb
    assert nb["tables"] >= 1 and nb["images"] >= 1, f"no table or no figure displayed: {nb}"
    assert "widget_error" not in nb, nb.get("widget_error")
    assert nb["before_src"] != nb["after_src"] and nb["before_table"] != nb["after_table"]
