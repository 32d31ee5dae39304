"""Progress bars: one home for tqdm.

In JupyterLab (with ``ipywidgets``) bars render as widgets; in headless notebook runs
(papermill, nbval: the environment variable ``REIDLAB_PLAIN_PROGRESS=1``, set by the study
pipeline and ``make test``) and in terminals they are plain text, so executed notebooks
hold no widget state and no "IProgress not found" warning.
"""
from __future__ import annotations

import os

__all__ = ["tqdm", "PLAIN_PROGRESS_ENV"]

PLAIN_PROGRESS_ENV = "REIDLAB_PLAIN_PROGRESS"

if os.environ.get(PLAIN_PROGRESS_ENV, "") not in ("", "0"):
    from tqdm.std import tqdm
else:
    from tqdm.auto import tqdm
