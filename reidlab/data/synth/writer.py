"""SynthPeople writer: the manifest, atomic generation into a pid-named temporary, reuse."""
from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reidlab.paths import remove_stale_temporaries, temporary_name
from reidlab.progress import tqdm
from reidlab.data.synth._common import GENERATOR_VERSION, MANIFEST_NAME, VARIANTS, _rng
from reidlab.data.synth.identities import _CAVIAR_MAX_PER_CAMERA, _MAX_IMAGES
from reidlab.data.synth.cameras import CameraSpec, sample_camera, sample_view
from reidlab.data.synth.drawing import render_image
from reidlab.data.synth.layouts import _Job, _plan_caviar, _plan_market
from reidlab.stages import stage

# --------------------------------------------------------------------------- public entry points


class SynthManifestMismatchError(FileExistsError):
    """The target folder exists but holds something other than the requested dataset."""


def _validate(variant: str, n_ids: int, images_per_id: int, n_cameras: int,
              hr_size: Sequence[int], seed: int) -> dict[str, Any]:
    """Check the parameters; return them normalised (caviar always has 2 cameras)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r} is not valid; choose one of: {', '.join(VARIANTS)}")

    def integer(name: str, value: Any, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
            raise ValueError(f"{name} must be an integer in [{lo}, {hi}] for variant "
                             f"{variant!r}, got {value!r}")
        return int(value)

    n_ids = integer("n_ids", n_ids, 2, 9999)
    if variant == "market":
        images_per_id = integer("images_per_id", images_per_id, 3, 1000)
        n_cameras = integer("n_cameras", n_cameras, 2, 9)
    else:
        images_per_id = integer("images_per_id", images_per_id, 1, _CAVIAR_MAX_PER_CAMERA)
        n_cameras = 2
    seed = integer("seed", seed, 0, 2**32 - 1)
    if (isinstance(hr_size, (str, bytes)) or not isinstance(hr_size, Sequence) or len(hr_size) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in hr_size)):
        raise ValueError(f"hr_size must be a (width, height) pair of integers, got {hr_size!r}")
    width, height = int(hr_size[0]), int(hr_size[1])
    if width < 16 or height < 32 or width > height or height > 1024:
        raise ValueError(f"hr_size=(width, height) needs 16 <= width <= height and "
                         f"32 <= height <= 1024, got {(width, height)}")
    total = n_ids * images_per_id * (2 if variant == "caviar" else 1)
    if total > _MAX_IMAGES:
        raise ValueError(f"n_ids * images_per_id asks for {total} images; at most {_MAX_IMAGES} "
                         f"are supported")
    return {"n_ids": n_ids, "images_per_id": images_per_id, "n_cameras": n_cameras,
            "hr_size": [width, height], "seed": seed}


def synth_dataset_dirname(variant: str, n_ids: int, images_per_id: int, n_cameras: int,
                          hr_size: Sequence[int], seed: int) -> str:
    """Canonical folder name of a SynthPeople dataset under a data root.

    >>> synth_dataset_dirname("market", 200, 8, 4, (64, 128), 0)
    'synth-market_n200_k8_c4_64x128_s0'

    The caviar variant always has 2 cameras, whatever ``n_cameras`` says.
    """
    p = _validate(variant, n_ids, images_per_id, n_cameras, hr_size, seed)
    w, h = p["hr_size"]
    return f"synth-{variant}_n{p['n_ids']}_k{p['images_per_id']}_c{p['n_cameras']}_{w}x{h}_s{p['seed']}"


_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None


def _identity_of(manifest: dict[str, Any]) -> dict[str, Any]:
    return {key: manifest.get(key) for key in ("generator", "version", "variant", "params")}


def _is_older_version_of(found: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """``found`` is a SynthPeople manifest of the same variant and parameters as ``wanted``
    from an older generator version."""
    return (found.get("generator") == wanted["generator"] and found.get("variant") == wanted["variant"]
            and found.get("params") == wanted["params"]
            and isinstance(found.get("version"), int) and found["version"] < wanted["version"])


def _existing(root: Path, wanted: dict[str, Any]) -> bool:
    """True when ``root`` already holds the wanted dataset; raise when it holds another."""
    if not root.exists():
        return False
    if root.is_dir() and not any(root.iterdir()):
        return False            # an empty folder is replaced
    found = _read_manifest(root) if root.is_dir() else None
    if found is not None and _identity_of(found) == _identity_of(wanted):
        expected = (found.get("counts") or {}).get("images")
        present = sum(1 for p in root.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())
        if expected is None or present == expected:
            return True
        # our own output, damaged since (files deleted or added): regenerated, never read short
        print(f"[reidlab] {root} holds {present} images where its {MANIFEST_NAME} records {expected} "
              f"({'missing' if present < expected else 'extra'}: {abs(present - expected)}); regenerating it",
              flush=True)
        shutil.rmtree(root)
        return False
    if found is not None and _is_older_version_of(found, wanted):
        # our own output from an older generator: stale, regenerated (never a user's data)
        print(f"[reidlab] {root} was written by SynthPeople version {found.get('version')}; "
              f"regenerating it with version {wanted['version']}", flush=True)
        shutil.rmtree(root)
        return False
    what = ("a SynthPeople dataset with different parameters "
            f"({json.dumps(_identity_of(found), sort_keys=True)})" if found is not None
            else f"something without a readable {MANIFEST_NAME}")
    raise SynthManifestMismatchError(
        f"{root} already exists and holds {what}, not the requested "
        f"{json.dumps(_identity_of(wanted), sort_keys=True)}; use a different root "
        f"(see synth_dataset_dirname) or delete {root}")


#: Temporary folders of generator versions before pid-named temporaries
#: (``tempfile.mkdtemp(prefix=".<dirname>.tmp-")``): no pid, so always leftovers.
_OLD_TEMPORARY = re.compile(r"^\.synth-(?:market|caviar)_.+\.tmp-[A-Za-z0-9_]+$")


def remove_generation_leftovers(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete what aborted generations left in ``folder`` (a data root); return it.

    Temporary folders are named with :func:`reidlab.paths.temporary_name` (they carry the
    writer's pid): those of dead processes are removed, those of a live generator (another
    process at work) kept. Temporaries of older generator versions (``.synth-*.tmp-*``,
    no pid) are always removed. A temporary folder is never read as a dataset: only a
    folder renamed into place with its manifest counts.
    """
    folder = Path(folder)
    removed = remove_stale_temporaries(folder)
    if folder.is_dir():
        for entry in folder.iterdir():
            if _OLD_TEMPORARY.match(entry.name) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed


def _render_jobs(jobs: Sequence[_Job], cameras: Sequence[CameraSpec], folder: Path,
                 progress: bool, desc: str, *, shared_scenes: bool) -> None:
    """Render and write every job; ``shared_scenes``: backgrounds may be other cameras' scenes
    (Market-like, :data:`~reidlab.data.synth.cameras.MARKET_OWN_SCENE`)."""
    for sub in sorted({Path(job.relpath).parent for job in jobs}):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for job in tqdm(jobs, desc=desc, unit="img", disable=not progress):
        camera = cameras[job.camera]
        view = sample_view(_rng(*job.view_key), camera, junk=job.junk,
                           n_scenes=len(cameras) if shared_scenes else 1)
        image = render_image(job.person, camera, view, job.out_size, render_size=job.render_size,
                             scene=cameras[view.scene])
        image.save(folder / job.relpath, format="JPEG", quality=job.jpeg_quality)


@stage("data synthesis")
def make_synth_dataset(root: str | os.PathLike[str], variant: str = "market", n_ids: int = 200,
                       images_per_id: int = 8, n_cameras: int = 4,
                       hr_size: tuple[int, int] = (64, 128), seed: int = 0,
                       progress: bool = True) -> Path:
    """Write a SynthPeople dataset into the folder ``root`` and return it (absolute).

    Args:
        root: the dataset folder itself (typically ``data_root / synth_dataset_dirname(...)``).
        variant: ``"market"`` (Market-1501 layout) or ``"caviar"`` (CAVIAR4REID layout).
        n_ids: identities (market: first half train, second half test).
        images_per_id: market: images per identity over all cameras (>= 3);
            caviar: images per identity *per camera* (1-10).
        n_cameras: market cameras (2-9); caviar always uses 2.
        hr_size: (width, height) of the HR images (market: every image; caviar: the
            largest crops, with heights down to about a quarter of it).
        seed: in ``[0, 2**32)``; every file is a pure function of the parameters and it.
        progress: show a tqdm progress bar.

    The dataset is written into a temporary sibling folder (named with the pid, see
    :func:`remove_generation_leftovers`, which runs first and deletes the leftovers of
    killed generations) and moved into place at the end, with a ``synth_manifest.json``.
    If ``root`` already holds a dataset with the same manifest it is returned as is; if it
    holds anything else, :class:`SynthManifestMismatchError` (a ``FileExistsError``) is
    raised.
    """
    params = _validate(variant, n_ids, images_per_id, n_cameras, hr_size, seed)
    root = Path(root).absolute()
    remove_generation_leftovers(root.parent)
    manifest: dict[str, Any] = {"generator": "SynthPeople", "version": GENERATOR_VERSION,
                                "variant": variant, "params": params}
    if _existing(root, manifest):
        return root

    size = (params["hr_size"][0], params["hr_size"][1])
    cameras = [sample_camera(params["seed"], c, variant) for c in range(params["n_cameras"])]
    if variant == "market":
        jobs, counts = _plan_market(params["n_ids"], params["images_per_id"], params["n_cameras"],
                                    size, params["seed"])
    else:
        jobs, counts = _plan_caviar(params["n_ids"], params["images_per_id"], size,
                                    params["seed"], cameras)
    manifest["counts"] = counts

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(root)
    tmp.mkdir()
    try:
        os.chmod(tmp, 0o755)                # a normal folder once renamed, whatever the umask
        _render_jobs(jobs, cameras, tmp, progress, f"SynthPeople {variant}", shared_scenes=variant == "market")
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        try:
            os.replace(tmp, root)
        except OSError:
            # another process finished the same dataset first: keep theirs if it matches
            if _existing(root, manifest):
                shutil.rmtree(tmp, ignore_errors=True)
                return root
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
