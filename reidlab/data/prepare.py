"""``prepare_dataset(cfg)``: the :class:`ReidDataset` a :class:`DataConfig` names.

SynthPeople (``synth-market``, ``synth-caviar``) is generated under
``cfg.data_root/<synth_dataset_dirname(...)>`` unless that folder already holds it (the
generator checks its manifest and refuses a folder holding anything else), then read back
with the same reader as the real layout it imitates. Real datasets are read from
``cfg.data_root``; nothing can be downloaded (the project runs offline), so a missing
folder is an error that says which layout to put there.
"""
from __future__ import annotations

from pathlib import Path

from reidlab.config import DataConfig, validate
from reidlab.data.readers import LAYOUTS, load_dataset
from reidlab.data.records import ReidDataset
from reidlab.data.synth import make_synth_dataset, synth_dataset_dirname

__all__ = ["SYNTH_VARIANTS", "synth_root", "prepare_dataset"]

#: SynthPeople variant and camera count behind each synthetic dataset name
#: (``None``: the config's ``n_cameras``; CAVIAR4REID has two cameras).
SYNTH_VARIANTS: dict[str, tuple[str, int | None]] = {
    "synth-market": ("market", None),
    "synth-caviar": ("caviar", 2),
}


def _synth_args(cfg: DataConfig) -> dict:
    variant, cameras = SYNTH_VARIANTS[cfg.dataset]
    return {"variant": variant, "n_ids": cfg.n_ids, "images_per_id": cfg.images_per_id,
            "n_cameras": cfg.n_cameras if cameras is None else cameras,
            "hr_size": (cfg.hr_width, cfg.hr_height), "seed": cfg.seed}


def synth_root(cfg: DataConfig) -> Path:
    """Folder of the SynthPeople dataset ``cfg`` describes (it may not exist yet)."""
    if cfg.dataset not in SYNTH_VARIANTS:
        raise ValueError(f"{cfg.dataset!r} is not a SynthPeople dataset "
                         f"({', '.join(SYNTH_VARIANTS)})")
    return Path(cfg.data_root) / synth_dataset_dirname(**_synth_args(cfg))


def prepare_dataset(cfg: DataConfig, progress: bool = True) -> ReidDataset:
    """Generate (SynthPeople, if missing) and read the dataset ``cfg`` names."""
    validate(cfg)
    if cfg.dataset in SYNTH_VARIANTS:
        # Returns at once when the folder already holds this dataset (checked by manifest).
        root = make_synth_dataset(synth_root(cfg), progress=progress, **_synth_args(cfg))
        return load_dataset(cfg.dataset, root)
    root = Path(cfg.data_root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"{cfg.dataset}: data_root {root.resolve()} does not exist. Expected "
            f"{LAYOUTS[cfg.dataset].replace('<root>', str(root))}. This project runs "
            f"offline and cannot download {cfg.dataset}: obtain it under its licence, "
            "place it there, or set data_root to its folder.")
    return load_dataset(cfg.dataset, root)
