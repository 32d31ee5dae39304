"""Issue 35, item 2: nothing the project loads can run code.

A pickle whose loading calls a function (``__reduce__``) is planted in every cache the project
reads back: the ranking explorer's bundle (notebooks 03/05 write it, notebook 08 reads it), the
feature store of :func:`~reidlab.engine.extract.extract_features`, a checkpoint / ``model.pt``, a
pretrained weights file and a figure source's ``arrays.npz``. Each is read through the project's
own loader, which must refuse it with an error naming the file (or ignore it and rebuild), and the
payload must never have run: its marker file is never written. A control shows the payload does
run under a plain ``pickle.loads``, so the test would catch a loader that unpickles.
"""
from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from reidlab.data.records import ImageRecord, ProtocolSplit
from reidlab.study.compute.scoring import SplitFeatures
from reidlab.study.show import explorer, figures, plots


def _plant(marker: str) -> str:
    """What the payload runs when unpickled: writes ``marker``."""
    Path(marker).write_text("code from a cache file ran\n")
    return marker


class Payload:
    """Unpickling this object calls :func:`_plant` (any function could be called this way)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (_plant, (self.marker,))


@pytest.fixture()
def marker(tmp_path: Path) -> Path:
    """The marker file the payload writes; the control proves the payload is live."""
    path = tmp_path / "PAYLOAD_RAN"
    pickle.loads(pickle.dumps(Payload(path)))
    assert path.is_file(), "control: a plain unpickling runs the payload"
    path.unlink()
    return path


def _torch_file(path: Path, marker: Path, **plain) -> Path:
    """A ``torch.save`` file holding the payload next to ``plain`` data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**plain, "payload": Payload(marker)}, path)
    return path


def _object_npz(path: Path, marker: Path, name: str) -> Path:
    """An ``.npz`` whose array ``name`` is an object array holding the payload (stored pickled)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = np.empty(1, dtype=object)
    payload[0] = Payload(marker)
    np.savez(path, **{name: payload})
    return path


# ----------------------------------------------------------------------------- explorer bundle

def _records(n: int, offset: int = 0) -> tuple[ImageRecord, ...]:
    return tuple(ImageRecord(path=f"/data/img{offset + i}.png", pid=i % 3, camid=i % 2, width=8 + i, height=16 + i,
                             factor=1 + i % 2, res_label=i % 2) for i in range(n))


def _features(trial: int) -> SplitFeatures:
    gen = torch.Generator().manual_seed(trial)
    query, gallery = _records(3), _records(5, offset=10)
    split = ProtocolSplit(protocol="lr_query", dataset="synth-market", trial=trial, train=(), query=query,
                          gallery=gallery, n_res_classes=4)
    return SplitFeatures(split, {"bf": torch.randn(3, 6, generator=gen), "br": torch.randn(3, 4, generator=gen)},
                         {"bf": torch.randn(5, 6, generator=gen), "br": torch.randn(5, 4, generator=gen)})


def test_the_explorer_bundle_keeps_its_content_as_plain_arrays_and_json(tmp_path: Path):
    feats = [_features(0), _features(1)]
    path = explorer.save_bundle(tmp_path / "runs", "smoke", "synth-market", "lr_query", feats, [0, 1],
                                reading="similarity", lam=0.1)
    assert path == explorer.bundle_path(tmp_path / "runs", "smoke", "synth-market", "lr_query")
    assert path.suffix == ".npz"
    with np.load(path, allow_pickle=False) as stored:   # every array reads without unpickling
        assert all(stored[name].dtype != object for name in stored.files)
    bundle = explorer.load_bundle(tmp_path / "runs", "smoke", "synth-market", "lr_query")
    assert (bundle["lam"], bundle["reading"], bundle["protocol"], bundle["dataset"], bundle["profile"]) == \
        (0.1, "similarity", "lr_query", "synth-market", "smoke")
    from reidlab.metrics import fused_distance

    for t, f in zip(bundle["trials"], feats):
        args = (f.query["bf"], f.gallery["bf"], f.query["br"], f.gallery["br"])
        assert torch.equal(t.base, fused_distance(*args, lam=0.0, reading="similarity"))
        assert torch.equal(t.distances(1.0), t.base + t.delta)
        assert t.query == f.split.query and t.gallery == f.split.gallery
        assert all(type(r) is ImageRecord for r in t.query + t.gallery)
        for got, want in zip((t.q_pids, t.g_pids, t.q_cams, t.g_cams), f.ids()):
            assert np.array_equal(got, want)
    assert [(t.trial, t.unit) for t in bundle["trials"]] == [(0, 0), (1, 1)]


def test_an_old_pickled_explorer_bundle_is_refused_and_never_unpickled(tmp_path: Path, marker: Path):
    runs = tmp_path / "runs"
    old = explorer.bundle_path(runs, "smoke", "synth-market", "lr_query").with_suffix(".pt")
    _torch_file(old, marker, lam=0.1, reading="similarity", trials=[])
    with pytest.raises(explorer.OldBundleError, match=r"old format.*notebooks/03_rfd_eval\.ipynb again") as err:
        explorer.load_bundle(runs, "smoke", "synth-market", "lr_query")
    assert str(old) in str(err.value)
    assert isinstance(err.value, FileNotFoundError)     # notebook 08 lists the source as missing, saying why
    with pytest.raises(FileNotFoundError, match="nothing to show.*old format"):
        explorer.load_sources(runs, "smoke", "synth-market")
    assert not marker.exists()
    # notebook 03 writing the bundle again replaces the old file
    explorer.save_bundle(runs, "smoke", "synth-market", "lr_query", [_features(0)], [0], reading="similarity", lam=0.1)
    assert not old.exists() and len(explorer.load_bundle(runs, "smoke", "synth-market", "lr_query")["trials"]) == 1
    assert not marker.exists()


@pytest.mark.parametrize("plant", ["raw pickle", "torch.save", "object array"])
def test_a_planted_explorer_bundle_is_refused_by_name(tmp_path: Path, marker: Path, plant: str):
    runs = tmp_path / "runs"
    path = explorer.bundle_path(runs, "smoke", "synth-market", "multi_res_gallery")
    path.parent.mkdir(parents=True)
    if plant == "raw pickle":
        path.write_bytes(pickle.dumps({"trials": [Payload(marker)]}))
    elif plant == "torch.save":
        _torch_file(path, marker)
    else:
        _object_npz(path, marker, "meta")
    with pytest.raises(ValueError, match=r"damaged or was not written by reidlab.*05_per_split_plot") as err:
        explorer.load_bundle(runs, "smoke", "synth-market", "multi_res_gallery")
    assert str(path) in str(err.value)
    assert not marker.exists()


def test_a_missing_explorer_bundle_names_the_notebook_that_writes_it(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"no ranking explorer data.*notebooks/03_rfd_eval\.ipynb"):
        explorer.load_bundle(tmp_path / "runs", "smoke", "synth-market", "lr_query")


# ----------------------------------------------------------------------------- feature cache

class _Pool(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) * self.scale


def test_a_planted_feature_store_is_never_unpickled_and_is_rebuilt(tmp_path: Path, marker: Path, write_image):
    from reidlab.engine.extract import extract_features

    records = [ImageRecord(path=str(write_image(tmp_path / "img" / f"{i}.png", size=(8, 16), seed=i)), pid=i,
                           camid=0, width=8, height=16) for i in range(3)]
    cache = tmp_path / "cache"
    kwargs = dict(height=16, width=8, cache_dir=cache, progress=False, amp="off")
    first = extract_features(_Pool(), records, **kwargs)
    (store,) = cache.glob("*.pt")
    _torch_file(store, marker, keys=[], features=torch.zeros(0, 3))
    again = extract_features(_Pool(), records, **kwargs)
    assert torch.equal(first, again) and not marker.exists()
    assert set(torch.load(store, weights_only=True)) == {"keys", "features"}   # rebuilt as plain data


# ----------------------------------------------------------------------------- checkpoints, weights

def test_a_planted_checkpoint_or_model_file_is_refused_by_name(tmp_path: Path, marker: Path):
    from reidlab.engine.checkpoint import atomic_save, load_checkpoint, load_weights

    model = nn.Linear(2, 2)
    good = atomic_save({"model": model.state_dict(), "epoch": 3}, tmp_path / "run" / "checkpoint.pt")
    assert load_checkpoint(good)["epoch"] == 3
    planted = _torch_file(tmp_path / "run" / "model.pt", marker, **model.state_dict())
    with pytest.raises(RuntimeError, match="corrupt or was not written by reidlab") as err:
        load_checkpoint(planted)
    assert str(planted) in str(err.value)
    with pytest.raises(RuntimeError, match=str(planted)):
        load_weights(model, planted)
    raw = tmp_path / "run" / "raw.pt"
    raw.write_bytes(pickle.dumps(Payload(marker), protocol=2))
    with pytest.raises(RuntimeError, match=str(raw)):
        load_checkpoint(raw)
    assert not marker.exists()


def test_a_planted_pretrained_weights_file_is_refused_by_name(tmp_path: Path, marker: Path):
    from reidlab.models.pretrained import load_weights_file

    planted = _torch_file(tmp_path / "weights.pth", marker, **{"fc.weight": torch.zeros(2, 2)})
    with pytest.raises(RuntimeError, match="cannot read the weights file") as err:
        load_weights_file(planted)
    assert str(planted) in str(err.value)
    assert not marker.exists()


# ----------------------------------------------------------------------------- figure sources

def _source(tmp_path: Path) -> Path:
    return figures.store_source(figures.FigureSource("canvas", frames={"t": pd.DataFrame({"a": [1, 2]})},
                                                     arrays={"canvas": np.zeros((4, 4, 3), np.uint8)},
                                                     options={"title": "x"}), tmp_path / "figures" / "data" / "f")


@pytest.mark.parametrize("digest", ["recorded", "written before digests"])
@pytest.mark.parametrize("plant", ["object array", "raw pickle"])
def test_a_planted_figure_source_array_file_is_refused_by_name(tmp_path: Path, marker: Path, digest: str, plant: str):
    folder = _source(tmp_path)
    assert figures.load_source(folder).arrays["canvas"].shape == (4, 4, 3)
    if digest != "recorded":     # a legacy source: only allow_pickle=False stands between the file and its code
        meta = json.loads((folder / "figure.json").read_text())
        del meta["sha256"]
        (folder / "figure.json").write_text(json.dumps(meta))
    arrays = folder / "arrays.npz"
    if plant == "object array":
        buf = io.BytesIO()
        payload = np.empty(1, dtype=object)
        payload[0] = Payload(marker)
        np.savez(buf, canvas=payload)
        arrays.write_bytes(buf.getvalue())
    else:
        arrays.write_bytes(pickle.dumps({"canvas": Payload(marker)}))
    with pytest.raises(ValueError, match="arrays.npz") as err:
        figures.load_source(folder)
    assert str(arrays) in str(err.value)
    with pytest.raises(ValueError, match="nothing|no figure or table"):
        figures.render_results(tmp_path, plots.RENDERERS)
    assert not marker.exists()
