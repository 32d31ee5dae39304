"""Drive JupyterLab in Debian's Chromium with Playwright and report what a reader sees (JSON on
stdout). Run by tests/test_lab_browser.py in a process of its own (Playwright's sync API started
inside the test process, after papermill and the Lab server fixtures, did not start its driver).

    python tests/lab_browser_driver.py URL TOKEN SCREENSHOT_FOLDER
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
NOTEBOOK_SECONDS = 180


def run_all(browser, url: str, token: str, name: str, shots: Path):
    """Open ``name`` in Lab, run every cell (Run > Run All Cells) and wait until each has run."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1")
               else route.abort())                                   # nothing beyond localhost
    page.goto(f"{url}/lab/workspaces/{name}/tree/{name}.ipynb?reset&token={token}")   # a workspace of its own
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_function("(path) => { const a = window.jupyterapp; const w = a && a.shell.currentWidget; "
                           "return !!(w && w.context && w.context.path === path && "
                           "a.commands.hasCommand('notebook:run-all-cells')); }", arg=f"{name}.ipynb", timeout=60_000)
    deadline = time.time() + 90
    while time.time() < deadline:          # Lab may ask which kernel to start (Select: the notebook's own)
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count():
            accept.first.click()
        elif page.evaluate(IDLE_JS):
            break
        time.sleep(1)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); return 1; }")
    deadline = time.time() + NOTEBOOK_SECONDS
    cells: list = []
    while time.time() < deadline:
        cells = page.evaluate(CELLS_JS)
        if cells and all(c["count"] is not None for c in cells) and page.evaluate(IDLE_JS):
            break
        time.sleep(1.0)
    time.sleep(2)                                                    # the last outputs render
    cells = page.evaluate(CELLS_JS)
    page.screenshot(path=str(shots / f"{name}.png"))
    return page, cells


#: the open notebook's code cells as Lab's model holds them: execution count, output types, errors
CELLS_JS = """() => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells; const out = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i); if (c.type !== 'code') continue;
    const kinds = []; let html = '';
    for (let j = 0; j < c.outputs.length; j++) {
      const o = c.outputs.get(j); kinds.push(o.type, ...Object.keys(o.data || {}));
      if (o.data && o.data['text/html']) html += String(o.data['text/html']);
    }
    out.push({count: c.executionCount, kinds: kinds, dataframe: html.includes('dataframe')});
  }
  return out; }"""
IDLE_JS = """() => { const w = window.jupyterapp.shell.currentWidget; const s = w && w.sessionContext &&
  w.sessionContext.session; return !!(s && s.kernel && s.kernel.status === 'idle'); }"""


def summary(cells: list) -> dict:
    """What the cells show: every cell run, errors, tables, images, widget views."""
    kinds = [k for c in cells for k in c["kinds"]]
    return {"finished": bool(cells) and all(c["count"] is not None for c in cells),
            "errors": kinds.count("error"), "tables": sum(c["dataframe"] for c in cells),
            "images": kinds.count("image/png"), "widgets": kinds.count("application/vnd.jupyter.widget-view+json")}


def main(url: str, token: str, shots: str) -> dict:
    from playwright.sync_api import sync_playwright

    shots_dir = Path(shots)
    shots_dir.mkdir(parents=True, exist_ok=True)
    seen: dict = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        page, cells = run_all(browser, url, token, "03_rfd_eval", shots_dir)
        seen["03"] = {**summary(cells), "progress_bars_drawn": page.locator(".widget-progress, progress").count()}
        page.close()
        page, cells = run_all(browser, url, token, "08_ranking_explorer", shots_dir)
        out = summary(cells)
        try:
            image = page.locator(".widget-output img").first
            image.wait_for(timeout=60_000)
            image.scroll_into_view_if_needed()
            out["before_src"] = image.get_attribute("src")
            out["before_table"] = page.locator(".widget-output table").first.inner_text()
            page.screenshot(path=str(shots_dir / "08_explorer_widgets.png"))
            handle = page.locator(".widget-slider .noUi-handle").last      # lambda: the last slider
            handle.focus()
            for _ in range(8):
                page.keyboard.press("ArrowRight")
            page.wait_for_function("(before) => { const img = document.querySelector('.widget-output img'); "
                                   "return img && img.getAttribute('src') !== before; }", arg=out["before_src"],
                                   timeout=60_000)
            time.sleep(1)
            out["after_src"] = page.locator(".widget-output img").first.get_attribute("src")
            out["after_table"] = page.locator(".widget-output table").first.inner_text()
            page.screenshot(path=str(shots_dir / "08_explorer_after_slider.png"))
        except Exception as exc:  # noqa: BLE001 - reported to the test
            out["widget_error"] = f"{type(exc).__name__}: {exc}"[:500]
            page.screenshot(path=str(shots_dir / "08_explorer_failed.png"))
        out["before_src"] = (out.get("before_src") or "")[-64:]
        out["after_src"] = (out.get("after_src") or "")[-64:]
        seen["08"] = out
        browser.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
