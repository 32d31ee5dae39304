"""The one start-up of every notebook: parameters checked, profile, results location, dataset.

A notebook's first code cell is ``prof, ds, RESULTS, RUNS = begin("<notebook>", globals(), ...)``.
In order, before any data work: the kernel's names are checked against the notebook's declared
parameters (a misspelt ``-p`` fails with "did you mean"), protocols and ``lam`` are validated,
the flat parameters are mapped onto the profile (:func:`reidlab.study.params.build_profile`), the
profile's pre-trained weights are looked up, the results folder is chosen
(:func:`reidlab.study.show.contract.results_location`) and the dataset is prepared.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from reidlab.config import Profile, check_lam
from reidlab.data import ReidDataset, prepare_dataset
from reidlab.paths import resolve
from reidlab.study.params import check_protocol, refuse_unknown_parameters
from reidlab.study.compute import model_store
from reidlab.study.compute.plans import plan_profile
from reidlab.study.show import contract

__all__ = ["NotebookStart", "begin"]


class NotebookStart(NamedTuple):
    """What a notebook works with: unpack as ``prof, ds, RESULTS, RUNS``."""

    profile: Profile
    dataset: ReidDataset | None   # None where the notebook prepares its own datasets (04)
    results: Path
    runs: Path


def begin(notebook: str, namespace: dict[str, Any], *, task: str = "bf", dataset_default: str | None = None,
          load_dataset: bool = True, hrnet: bool = False, multi_resolution: bool = False) -> NotebookStart:
    """Check ``notebook``'s parameters (read from its kernel's ``namespace``) and set it up.

    ``task`` names the training schedule ``iterations`` refers to; ``dataset_default`` replaces a
    ``dataset=None`` parameter (05: the natively multi-resolution set); ``load_dataset=False`` for a
    notebook that prepares several datasets itself; ``hrnet`` also checks PS-HRNet's pre-trained
    weights; ``multi_resolution`` refuses a dataset that is not natively multi-resolution.
    """
    refuse_unknown_parameters(notebook, namespace)
    if "protocol" in namespace:
        check_protocol(namespace["protocol"])
    for protocol in namespace.get("protocols") or ():
        check_protocol(protocol)
    checked = dict(namespace)
    if checked.get("lam") is not None:
        checked["lam"] = check_lam(checked["lam"])
    prof = plan_profile(checked, task=task, dataset_default=dataset_default)   # as the notebook's plan builds it
    if "pretrained" in namespace:
        model_store.check_pretrained(prof, hrnet=hrnet)
    results = contract.results_location(namespace.get("results_dir"), prof.name, notebook=notebook,
                                        namespace=namespace)
    ds = prepare_dataset(prof.data) if load_dataset else None
    if multi_resolution and ds is not None and not ds.multi_resolution:
        raise ValueError(f"dataset={ds.name!r} is not natively multi-resolution; use caviar, grid or synth-caviar")
    return NotebookStart(prof, ds, results, resolve(namespace.get("runs_dir", "runs")))
