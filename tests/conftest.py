"""Shared test fixtures: the real-image folder beside the project and tiny fake datasets."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SHARED_DATA_MISSING = ("../shared/data not found: real-image tests need the shared re-id "
                       "images beside the project root")

#: Fake CAVIAR4REID: 50 two-camera ids x 20 images + 22 one-camera ids x 10 = 1220 images.
CAVIAR_TWO_CAMERA_IDS = 50
CAVIAR_ONE_CAMERA_IDS = 22

WriteImage = Callable[..., Path]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data``; the test is skipped when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(SHARED_DATA_MISSING)
    return SHARED_DATA


def _write_image(path: Path, size: tuple[int, int] = (8, 16), mode: str = "RGB",
                 seed: int = 0) -> Path:
    """Write a noise image of ``size`` (w, h) and ``mode`` to ``path`` (format from suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w, h = size
    rgb = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    if mode == "P":
        image = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    elif mode == "RGBA":
        image = rgb.copy()
        image.putalpha(Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)))
    else:
        image = rgb.convert(mode)
    image.save(path)
    return path


@pytest.fixture(scope="session")
def write_image() -> WriteImage:
    """``write_image(path, size=(w, h), mode="RGB", seed=0) -> path``: a noise image."""
    return _write_image


def _caviar_size(pid: int, index: int) -> tuple[int, int]:
    """Images 1-10 (camera 0) are the low-resolution view, 11-20 the high one."""
    w = 4 + (pid + index) % 4 if index <= 10 else 10 + (pid * 3 + index) % 7
    return w, 2 * w


@pytest.fixture(scope="session")
def fake_caviar_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CAVIAR4REID-shaped folder of tiny JPEGs: 72 ids, 1220 images, 50 two-camera ids."""
    root = tmp_path_factory.mktemp("caviar")
    rng = np.random.default_rng(0)
    n_ids = CAVIAR_TWO_CAMERA_IDS + CAVIAR_ONE_CAMERA_IDS
    one_camera = set(rng.choice(np.arange(1, n_ids + 1), CAVIAR_ONE_CAMERA_IDS, replace=False))
    for pid in range(1, n_ids + 1):
        for index in range(1, 11 if pid in one_camera else 21):
            w, h = _caviar_size(pid, index)
            pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"{pid:04d}{index:03d}.jpg")
    return root


def _market_name(pid: int, cam: int, frame: int, box: int = 1) -> str:
    return f"{pid:04d}_c{cam}s1_{frame:06d}_{box:02d}.jpg" if pid >= 0 else \
        f"-1_c{cam}s1_{frame:06d}_{box:02d}.jpg"


@pytest.fixture(scope="session")
def market_name() -> Callable[..., str]:
    """``market_name(pid, cam, frame, box=1)``: a Market-1501 file name (pid -1 = junk)."""
    return _market_name


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One intra-op thread: on a shared 2-core machine OpenMP spinning costs ~10x (HRNet tests)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def stale_results_warning(root: Path = REPO_ROOT) -> str | None:
    """A warning when the committed ``results/`` were made by other code than the checkout's
    (the code digest of ``reidlab/`` and ``notebooks/``, :func:`reidlab.study.provenance.code_digest`,
    against the one ``results/run_info.json`` declares); ``None`` when they match."""
    import json

    from reidlab.study.provenance import code_digest

    info_path = root / "results" / "run_info.json"
    if not info_path.is_file():
        return f"{info_path} is missing: run `make reproduce` to regenerate results/"
    declared = (json.loads(info_path.read_text()).get("code") or {}).get("code_digest")
    current = code_digest(root)
    if declared == current:
        return None
    return (f"results/ were made by code digest {declared}, but reidlab/ and notebooks/ now digest to {current}: "
            "the committed numbers may be stale; regenerate them with `make reproduce` (this does not fail the tests)")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001 - pytest hook
    """``make test`` warns (it does not fail) when results/ were made by other code (issue 32)."""
    warning = stale_results_warning()
    if warning:
        terminalreporter.write_sep("=", "stale results warning", yellow=True)
        terminalreporter.write_line(f"WARNING: {warning}", yellow=True)
