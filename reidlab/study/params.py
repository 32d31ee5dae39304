"""From notebook parameters to a validated :class:`~reidlab.config.Profile`.

Notebook parameters are flat (``backbone``, ``iterations``, ``lam``...); this module
maps each to its section of the profile and refuses unknown names or values with a
message that lists the valid choices, before any work starts.
"""
from __future__ import annotations

from typing import Any

from reidlab.choices import check_choice
from reidlab.config import (
    DATASETS, PROFILE_NAMES, PROTOCOLS, RFD_READINGS, Profile, get_profile, override,
)

#: flat notebook parameter -> (section, field); ``{task}`` is the training section.
FLAT_PARAMETERS: dict[str, tuple[str, str]] = {
    "dataset": ("data", "dataset"),
    "data_root": ("data", "data_root"),
    "seed": ("data", "seed"),
    "interpolation": ("data", "interpolation"),
    "upsampling": ("data", "upsampling"),
    "pseudo_bins": ("data", "pseudo_bins"),
    "pseudo_strategy": ("data", "pseudo_strategy"),
    "n_ids": ("data", "n_ids"),
    "mlr": ("data", "mlr"),
    "backbone": ("model", "backbone"),
    "attention": ("model", "attention"),
    "pretrained": ("model", "pretrained"),
    "height": ("model", "height"),
    "width": ("model", "width"),
    "iterations": ("{task}", "iterations"),
    "lr": ("{task}", "lr"),
    "amp": ("{task}", "amp"),
    "num_workers": ("{task}", "num_workers"),
    "trials": ("eval", "trials"),
    "lam": ("eval", "lam"),
    "rfd_reading": ("eval", "rfd_reading"),
}


def build_profile(profile: str = "quick", *, task: str = "bf", **params: Any) -> Profile:
    """The named profile with the notebook's non-``None`` parameters applied.

    ``task`` ("bf", "br", "teacher"/"student" for PS-HRNet) picks which training
    schedule ``iterations``/``lr``/``amp`` refer to. ``iterations`` replaces a length the profile
    derives from the training set (``epochs``, ``iterations_per_id``), which would otherwise win
    (:func:`~reidlab.config.resolve_schedule`) and leave the parameter without effect.
    """
    if profile not in PROFILE_NAMES:
        raise ValueError(f"profile={profile!r} is not valid; choose one of: {', '.join(PROFILE_NAMES)}")
    changes: dict[str, dict[str, Any]] = {}
    for name, value in params.items():
        if name not in FLAT_PARAMETERS:
            raise ValueError(
                f"unknown parameter {name!r}; valid: {', '.join(sorted(FLAT_PARAMETERS))}")
        if value is None:
            continue
        if name == "pretrained":
            value = pretrained_setting(value)
        section, field = FLAT_PARAMETERS[name]
        section = section.format(task=task)
        changes.setdefault(section, {})[field] = value
        if name == "iterations":   # the count asked for is what trains: no length derived from the data
            changes[section].update(epochs=0, iterations_per_id=0)
    prof = get_profile(profile)
    ps_changes = {k: changes.pop(k) for k in ("teacher", "student") if k in changes}
    if ps_changes:
        changes["ps"] = ps_changes
    return override(prof, **changes) if changes else prof


#: the ``pretrained`` notebook parameter's value for random initialisation
FROM_SCRATCH = "scratch"


def pretrained_setting(value: Any) -> str | None:
    """``ModelConfig.pretrained`` from the notebook parameter: ``"imagenet"``, ``"synthpeople"``
    (the pre-training stand-in for ImageNet), ``"scratch"`` (random initialisation) or a local
    weights file (relative to the repository root)."""
    from reidlab.paths import resolve

    if value == FROM_SCRATCH:
        return None
    from reidlab.config import SYNTHETIC_PRETRAINING

    if value in ("imagenet", SYNTHETIC_PRETRAINING):
        return value
    choices = f"imagenet, {SYNTHETIC_PRETRAINING}, {FROM_SCRATCH}, or a weights file (its path)"
    if not isinstance(value, str):
        raise ValueError(f"pretrained={value!r} is not valid; choose {choices}")
    from reidlab.models.pretrained import looks_like_weights_file

    path = resolve(value, name="pretrained")
    if path.is_dir():
        raise ValueError(f"pretrained={value!r} is a folder ({path}), not a weights file; choose {choices}")
    if not looks_like_weights_file(value, path):   # a misspelt choice ("imagnet"), not a file name
        raise ValueError(f"pretrained={value!r} is neither a known choice nor an existing file; choose {choices}")
    return str(path)   # a missing file is named by check_pretrained, before any data work


def check_protocol(protocol: str) -> None:
    check_choice("protocol", protocol, PROTOCOLS)


def check_dataset(dataset: str) -> None:
    check_choice("dataset", dataset, DATASETS)


def check_reading(reading: str) -> None:
    check_choice("rfd_reading", reading, RFD_READINGS)


#: names every IPython namespace holds besides the notebook's own
_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


def declared_parameters(notebook: str) -> tuple[str, ...]:
    """The parameters ``notebooks/<notebook>.ipynb`` declares in its ``parameters`` cell."""
    import papermill as pm

    from reidlab.paths import repo_root

    path = repo_root() / "notebooks" / f"{notebook}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"no notebook {path}")
    return tuple(pm.inspect_notebook(str(path)).keys())


def declared_defaults(notebook: str) -> dict[str, Any]:
    """The default value of each parameter ``notebooks/<notebook>.ipynb`` declares (as written in
    its ``parameters`` cell; a default that is not a literal is left out)."""
    import ast

    import papermill as pm

    from reidlab.paths import repo_root

    out = {}
    for name, info in pm.inspect_notebook(str(repo_root() / "notebooks" / f"{notebook}.ipynb")).items():
        try:
            out[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError, TypeError):
            continue
    return out


def refuse_unknown_parameters(notebook: str, namespace: dict[str, Any]) -> None:
    """Fail when the kernel holds a variable the notebook does not declare.

    Called by :func:`reidlab.study.drive.begin.begin` right after the parameters cell and the
    imports: the namespace then holds the declared parameters, those papermill injected and
    imported modules and functions (never a parameter: papermill injects literals), so any
    other name is a parameter the notebook does not know (papermill itself only warns). The
    error names it and the closest valid name (``-p lamda 0.5`` -> "did you mean 'lam'?").
    """
    import difflib
    import inspect

    if namespace.get("_reidlab_parameters_checked"):
        return   # a re-run of the setup cell in JupyterLab: the namespace now holds the notebook's own names
    declared = set(declared_parameters(notebook))
    unknown = sorted(n for n, value in namespace.items()
                     if not n.startswith("_") and n not in declared and n not in _IPYTHON_NAMES
                     and not (inspect.ismodule(value) or inspect.isroutine(value) or inspect.isclass(value)))
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, sorted(declared), n=1, cutoff=0.5)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"notebooks/{notebook}.ipynb has no parameter {', '.join(hints)}; "
                         f"its parameters are: {', '.join(sorted(declared))}")
    namespace["_reidlab_parameters_checked"] = True
