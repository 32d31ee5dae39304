"""Drive JupyterLab in Debian's Chromium with Playwright and report what a reader sees (JSON on
stdout). Run by tests/test_lab_browser.py in a process of its own (Playwright's sync API started
inside the test process, after papermill and the Lab server fixtures, did not start its driver).

    python tests/lab_browser_driver.py URL TOKEN SCREENSHOT_FOLDER

Notebook 03: whether a progress bar was drawn as a widget while it ran (a page-wide watch counts
every ipywidgets progress element that appears, since bars that close when done leave none).
Notebook 08: the ranking explorer's line of gallery identities in rank order
(:func:`reidlab.study.show.explorer.ranking_line`), read from the page after the lambda slider was
moved with the keyboard to each lambda of :data:`reidlab.study.show.explorer.CHANGE_LAMS`.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from reidlab.study.show.explorer import CHANGE_LAMS, ShownRanking, read_ranking_line

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
NOTEBOOK_SECONDS = 180
#: how long one redraw of the explorer may take after a slider step
REDRAW_SECONDS = 60
#: most arrow-key steps to reach one lambda (the slider: 0 to 1 by 0.05)
MAX_STEPS = 40
#: ipywidgets' progress bar elements (tqdm's bars in Lab: a FloatProgress in an HBox)
PROGRESS_SELECTOR = ".widget-hprogress, .widget-vprogress"


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
    page.evaluate(WATCH_PROGRESS_JS, PROGRESS_SELECTOR)
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
#: count, in ``window.reidlabProgressSeen``, every element matching the selector that is ever in the
#: page from now on (added, or given the class later), each once
WATCH_PROGRESS_JS = """(selector) => {
  const seen = new WeakSet(); window.reidlabProgressSeen = 0;
  const note = (el) => { if (el.nodeType === 1 && el.matches(selector) && !seen.has(el)) {
    seen.add(el); window.reidlabProgressSeen += 1; } };
  const scan = (el) => { if (el.nodeType !== 1) return; note(el); el.querySelectorAll(selector).forEach(note); };
  new MutationObserver((records) => { for (const r of records) {
    if (r.type === 'attributes') note(r.target); else r.addedNodes.forEach(scan); } })
    .observe(document.body, {childList: true, subtree: true, attributes: true, attributeFilter: ['class']});
  scan(document.body); return 1; }"""


def summary(cells: list) -> dict:
    """What the cells show: every cell run, errors, tables, images, widget views."""
    kinds = [k for c in cells for k in c["kinds"]]
    return {"finished": bool(cells) and all(c["count"] is not None for c in cells),
            "errors": kinds.count("error"), "tables": sum(c["dataframe"] for c in cells),
            "images": kinds.count("image/png"), "widgets": kinds.count("application/vnd.jupyter.widget-view+json")}


def shown_ranking(page) -> ShownRanking | None:
    """The explorer's ranking line as the page shows it now (``None`` while none is shown)."""
    output = page.locator(".widget-output")
    return read_ranking_line(output.first.inner_text()) if output.count() else None


def wait_for_ranking(page, *, other_than: float | None = None) -> ShownRanking:
    """The explorer's ranking line, once it shows a lambda other than ``other_than``."""
    deadline = time.time() + REDRAW_SECONDS
    while time.time() < deadline:
        shown = shown_ranking(page)
        if shown is not None and shown.lam != other_than:
            return shown
        time.sleep(0.25)
    raise TimeoutError(f"the explorer showed no ranking line{'' if other_than is None else f' after lambda {other_than}'}"
                       f" within {REDRAW_SECONDS} s")


def slide_lambda_to(page, target: float) -> ShownRanking:
    """Move the lambda slider (the page's last slider) one arrow-key step at a time, each redraw
    awaited, until the explorer shows its ranking at ``target``; return that ranking."""
    handle = page.locator(".widget-slider .noUi-handle").last
    shown = wait_for_ranking(page)
    for _ in range(MAX_STEPS):
        if abs(shown.lam - target) < 1e-9:
            return shown
        handle.focus()
        page.keyboard.press("ArrowRight" if shown.lam < target else "ArrowLeft")
        shown = wait_for_ranking(page, other_than=shown.lam)
    raise RuntimeError(f"the lambda slider did not reach {target} in {MAX_STEPS} steps (last shown: {shown})")


def explore(page, shots_dir: Path) -> dict:
    """Notebook 08's explorer: its ranking at the start and at each lambda of ``CHANGE_LAMS``
    (the slider moved there), with the figure's ``src`` tail and the rank table's text at each."""
    image = page.locator(".widget-output img").first
    image.wait_for(timeout=60_000)
    image.scroll_into_view_if_needed()
    out: dict = {"start": dataclasses.asdict(wait_for_ranking(page)), "rankings": [], "srcs": [], "rank_tables": []}
    page.screenshot(path=str(shots_dir / "08_explorer_widgets.png"))
    for i, lam in enumerate(CHANGE_LAMS):
        shown = slide_lambda_to(page, lam)
        time.sleep(1)                                                   # the table and the figure follow the line
        out["rankings"].append(dataclasses.asdict(shown))
        out["srcs"].append((page.locator(".widget-output img").first.get_attribute("src") or "")[-64:])
        out["rank_tables"].append(page.locator(".widget-output table").first.inner_text())
        page.screenshot(path=str(shots_dir / f"08_explorer_lambda_{i}.png"))
    return out


def main(url: str, token: str, shots: str) -> dict:
    from playwright.sync_api import sync_playwright

    shots_dir = Path(shots)
    shots_dir.mkdir(parents=True, exist_ok=True)
    seen: dict = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        page, cells = run_all(browser, url, token, "03_rfd_eval", shots_dir)
        seen["03"] = {**summary(cells), "progress_bars_drawn": page.evaluate("() => window.reidlabProgressSeen"),
                      "progress_bars_at_end": page.locator(PROGRESS_SELECTOR).count()}
        page.close()
        page, cells = run_all(browser, url, token, "08_ranking_explorer", shots_dir)
        out = summary(cells)
        try:
            out.update(explore(page, shots_dir))
        except Exception as exc:  # noqa: BLE001 - reported to the test
            out["widget_error"] = f"{type(exc).__name__}: {exc}"[:500]
            page.screenshot(path=str(shots_dir / "08_explorer_failed.png"))
        seen["08"] = out
        browser.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
