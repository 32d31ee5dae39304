"""``prepare_dataset(cfg)``: the :class:`ReidDataset` a :class:`DataConfig` names.

SynthPeople (``synth-market``, ``synth-caviar``) is generated under
``cfg.data_root/<synth_dataset_dirname(...)>`` unless that folder already holds it (the
generator checks its manifest and refuses a folder holding anything else), then read back
with the same reader as the real layout it imitates. Real datasets are read from
``cfg.data_root``; nothing can be downloaded (the project runs offline), so a missing
folder is an error that says which layout to put there.

``cfg.data_root`` goes through :func:`reidlab.paths.resolve`: a relative path is relative
to the repository root, whatever the current directory (a notebook kernel runs in
``notebooks/``).

Every image is verified once (fully decoded) before anything trains: files that are
truncated or corrupt after a readable header, like every other damaged file, are left out
of the dataset, counted in ``ReidDataset.skipped`` and named in a
:class:`~reidlab.data.readers.SkippedImagesWarning` (real datasets often hold a few; one
bad file should not stop a study, and silently training on grey-filled images is not an
option). The decode results are cached per file under ``cache_dir`` (keyed by size, mtime
and ctime), so the next call only ``stat``-s the files.
"""
from __future__ import annotations

import os
from pathlib import Path

from reidlab.config import DataConfig, validate
from reidlab.data.readers import LAYOUTS, load_dataset
from reidlab.data.records import ReidDataset
from reidlab.data.synth import make_synth_dataset, synth_dataset_dirname
from reidlab.paths import resolve

__all__ = ["SYNTH_VARIANTS", "DEFAULT_CACHE_DIR", "data_root", "synth_root", "prepare_dataset"]

#: Where verification results are cached (relative to the repository root; git-ignored).
DEFAULT_CACHE_DIR = ".cache/data"

#: SynthPeople variant, camera count, identities and images per identity (and camera)
#: behind each synthetic dataset name; ``None``: the config's ``n_cameras`` / ``n_ids`` /
#: ``images_per_id``. ``synth-caviar`` keeps CAVIAR4REID's shape: 2 cameras, 72 identities
#: (50 seen by both cameras, 22 by one), 10 images per identity and camera.
SYNTH_VARIANTS: dict[str, tuple[str, int | None, int | None, int | None]] = {
    "synth-market": ("market", None, None, None),
    "synth-caviar": ("caviar", 2, 72, 10),
}


def _synth_args(cfg: DataConfig) -> dict:
    variant, cameras, n_ids, per_id = SYNTH_VARIANTS[cfg.dataset]
    return {"variant": variant, "n_ids": cfg.n_ids if n_ids is None else n_ids,
            "images_per_id": cfg.images_per_id if per_id is None else per_id,
            "n_cameras": cfg.n_cameras if cameras is None else cameras,
            "hr_size": (cfg.hr_width, cfg.hr_height), "seed": cfg.seed}


def synth_root(cfg: DataConfig) -> Path:
    """Folder of the SynthPeople dataset ``cfg`` describes (it may not exist yet)."""
    if cfg.dataset not in SYNTH_VARIANTS:
        raise ValueError(f"{cfg.dataset!r} is not a SynthPeople dataset "
                         f"({', '.join(SYNTH_VARIANTS)})")
    return data_root(cfg) / synth_dataset_dirname(**_synth_args(cfg))


def data_root(cfg: DataConfig) -> Path:
    """``cfg.data_root`` as an absolute path (relative: to the repository root).

    A value that is not a path (``data_root=5``) raises ``TypeError`` naming ``data_root``.
    """
    return resolve(cfg.data_root, name="data_root")


def prepare_dataset(cfg: DataConfig, progress: bool = True, *,
                    cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE_DIR) -> ReidDataset:
    """Generate (SynthPeople, if missing), read and verify the dataset ``cfg`` names.

    ``cache_dir`` holds the per-file verification results (relative: to the repository
    root); ``None`` keeps them in this process only.
    """
    root = data_root(cfg)              # before validate: a bad type is named as such
    validate(cfg)
    cache = None if cache_dir is None else resolve(cache_dir, name="cache_dir")
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(
            f"{cfg.dataset}: data_root {root} is a file, not a folder; set data_root to the folder "
            + ("the generated datasets go in" if cfg.dataset in SYNTH_VARIANTS else
               f"of the dataset (expected {LAYOUTS[cfg.dataset].replace('<root>', str(root))})"))
    if cfg.dataset in SYNTH_VARIANTS:
        # Returns at once when the folder already holds this dataset (checked by manifest).
        root = make_synth_dataset(synth_root(cfg), progress=progress, **_synth_args(cfg))
        return load_dataset(cfg.dataset, root, verify=True, cache_dir=cache, progress=progress)
    if not root.is_dir():
        raise FileNotFoundError(
            f"{cfg.dataset}: data_root {root} does not exist. Expected "
            f"{LAYOUTS[cfg.dataset].replace('<root>', str(root))}. This project runs "
            f"offline and cannot download {cfg.dataset}: obtain it under its licence, "
            "place it there, or set data_root to its folder (a relative data_root is "
            "relative to the repository root).")
    return load_dataset(cfg.dataset, root, verify=True, cache_dir=cache, progress=progress)
