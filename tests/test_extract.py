"""extract_features: batching, flip augmentation, eval mode, and the on-disk feature cache."""
from __future__ import annotations

import collections
import dataclasses
import itertools
from pathlib import Path

import pytest
import torch
from torch import nn

from reidlab.data.dataset import ReidImageDataset, build_transforms
from reidlab.data.records import ImageRecord
from reidlab.engine.extract import extract_features, feature_cache_key, image_keys

H, W = 16, 8


_TAGS = itertools.count()
_CALLS: collections.Counter = collections.Counter()


class CountingNet(nn.Module):
    """Not flip-invariant, with BN and dropout so that train mode would change the output."""

    def __init__(self, dim: int = 5) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.bn = nn.BatchNorm2d(3)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(3 * H * W, dim)
        self.tag = next(_TAGS)   # copied with the model: extraction runs on a channels-last copy

    @property
    def calls(self) -> int:
        """Forward passes of this model and of its copies."""
        return _CALLS[self.tag]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _CALLS[self.tag] += 1
        return self.fc(self.drop(self.bn(x)).flatten(1))


@pytest.fixture()
def records(tmp_path: Path, write_image) -> tuple[ImageRecord, ...]:
    out = []
    for i in range(7):
        path = write_image(tmp_path / "img" / f"{i}.png", size=(W + 2 * (i % 3), H + i), seed=i)
        out.append(ImageRecord(path=str(path), pid=i // 2, camid=i % 2, width=W + 2 * (i % 3),
                               height=H + i, factor=1 + i % 3))
    return tuple(out)


def _manual(model: nn.Module, records: tuple[ImageRecord, ...], flip: bool) -> torch.Tensor:
    ds = ReidImageDataset(records, build_transforms(H, W, train=False))
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    model.eval()
    with torch.no_grad():
        out = model(x) + model(x.flip(3)) if flip else model(x)
    return out


def _extract(model: nn.Module, records, **kw) -> torch.Tensor:
    kw = {"height": H, "width": W, "batch_size": 3, "progress": False, "amp": "off", **kw}   # fp32 on every CPU
    return extract_features(model, records, **kw)


def test_shape_dtype_and_flip_sums_features(records) -> None:
    model = CountingNet()
    feats = _extract(model, records, flip=True)
    assert feats.shape == (7, 5) and feats.dtype == torch.float32 and feats.device.type == "cpu"
    assert model.calls == 2 * 3                      # 3 batches of <= 3 images, x2 for flip
    torch.testing.assert_close(feats, _manual(model, records, flip=True))
    plain = _extract(model, records, flip=False)
    torch.testing.assert_close(plain, _manual(model, records, flip=False))
    assert not torch.allclose(feats, 2 * plain)      # the mirror really differs
    assert not feats.is_inference()


def test_modes_are_restored(records) -> None:
    model = CountingNet()
    model.train()
    model.bn.eval()                                  # mixed modes survive
    _extract(model, records)
    assert model.training and model.drop.training and not model.bn.training
    model.eval()
    _extract(model, records)
    assert not model.training and not model.drop.training


def test_cache_hit_skips_the_model(records, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    model = CountingNet()
    first = _extract(model, records, cache_dir=cache, amp="off")   # fp32 on any CPU: the key below
    calls = model.calls
    key = feature_cache_key(model, height=H, width=W, flip=True,
                            interpolation="bicubic", upsampling="bilinear", channels_last=True)
    assert (cache / f"{key}.pt").is_file()
    assert list(cache.iterdir()) == [cache / f"{key}.pt"]        # no temp files left over
    second = _extract(model, records, cache_dir=cache, amp="off")
    assert model.calls == calls                                   # no forward pass
    torch.testing.assert_close(first, second)
    store = torch.load(cache / f"{key}.pt", weights_only=True)
    assert store["keys"] == image_keys(records)
    torch.testing.assert_close(store["features"], first)


def test_each_image_is_extracted_once_per_model(records, tmp_path: Path) -> None:
    """Another selection of the same images (a new query/gallery draw, another protocol) reuses
    the features already extracted: only images (content x factor) the store lacks are
    forwarded, and every row equals a fresh extraction."""
    cache = tmp_path / "cache"
    model = CountingNet()
    first = _extract(model, records[:3], cache_dir=cache, batch_size=1)
    calls = model.calls
    assert calls == 2 * 3                                         # 3 images, with flip
    mixed = (records[4], records[1], records[1], records[0], records[6])
    out = _extract(model, mixed, cache_dir=cache, batch_size=1)
    assert model.calls - calls == 2 * 2                           # records 4 and 6 only
    torch.testing.assert_close(out, _manual(model, mixed, flip=True))
    torch.testing.assert_close(out[3], first[0])
    calls = model.calls
    refactored = (dataclasses.replace(records[0], factor=4),)     # same file, another degradation
    _extract(model, refactored, cache_dir=cache, batch_size=1)
    assert model.calls - calls == 2
    copy = tmp_path / "copy.png"                                  # the same content elsewhere: a hit
    copy.write_bytes(Path(records[2].path).read_bytes())
    calls = model.calls
    _extract(model, (dataclasses.replace(records[2], path=str(copy)),), cache_dir=cache)
    assert model.calls == calls
    assert len(list(cache.glob("*.pt"))) == 1


def test_an_edited_image_is_extracted_anew(records, tmp_path: Path, write_image) -> None:
    cache = tmp_path / "cache"
    model = CountingNet()
    before = _extract(model, records, cache_dir=cache)
    write_image(Path(records[3].path), size=(records[3].width, records[3].height), seed=99)
    calls = model.calls
    after = _extract(model, records, cache_dir=cache, batch_size=7)
    assert model.calls - calls == 2                               # one batch: the edited image, with flip
    assert not torch.allclose(before[3], after[3])
    torch.testing.assert_close(after, _manual(model, records, flip=True))


def test_a_corrupt_store_is_rebuilt(records, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    model = CountingNet()
    first = _extract(model, records, cache_dir=cache)
    (store,) = cache.glob("*.pt")
    store.write_bytes(b"not a torch file")
    calls = model.calls
    torch.testing.assert_close(_extract(model, records, cache_dir=cache), first)
    assert model.calls > calls


def test_cache_key_changes_with_weights_and_settings(records, tmp_path: Path) -> None:
    model = CountingNet()
    kw = {"height": H, "width": W, "flip": True, "interpolation": "bicubic", "upsampling": "bilinear"}
    key = feature_cache_key(model, **kw)
    assert key == feature_cache_key(CountingNet(), **kw)   # same weights, same key
    assert key != feature_cache_key(model, **{**kw, "flip": False})
    assert key != feature_cache_key(model, **{**kw, "interpolation": "bilinear"})
    assert key != feature_cache_key(model, **{**kw, "upsampling": "bicubic"})
    assert key != feature_cache_key(model, **{**kw, "height": H + 1})
    assert key != feature_cache_key(model, **kw, amp_dtype=torch.bfloat16)
    other = CountingNet()
    with torch.no_grad():
        other.fc.weight[0, 0] += 1e-3
    assert key != feature_cache_key(other, **kw)
    other = CountingNet()
    other.bn.running_mean += 1                                    # buffers count too
    assert key != feature_cache_key(other, **kw)
    keys = image_keys(records)
    moved = (dataclasses.replace(records[0], factor=4),) + records[1:]
    assert image_keys(moved)[0] != keys[0] and image_keys(moved)[1:] == keys[1:]

    # end to end: changed weights or flip recompute, with a different result
    cache = tmp_path / "cache"
    first = _extract(model, records, cache_dir=cache)
    with torch.no_grad():
        model.fc.bias += 1.0
    calls = model.calls
    second = _extract(model, records, cache_dir=cache)
    assert model.calls > calls and not torch.allclose(first, second)
    calls = model.calls
    _extract(model, records, cache_dir=cache, flip=False)
    assert model.calls > calls
    assert len(list(cache.glob("*.pt"))) == 3


def test_model_must_return_a_feature_matrix(records) -> None:
    class DictNet(CountingNet):
        def forward(self, x: torch.Tensor) -> dict:  # type: ignore[override]
            return {"features": super().forward(x)}

    with pytest.raises(TypeError, match=r"\(N, D\)"):
        _extract(DictNet(), records)


def test_argument_validation(records) -> None:
    with pytest.raises(ValueError, match="no records"):
        _extract(CountingNet(), ())
    with pytest.raises(ValueError, match="amp"):
        _extract(CountingNet(), records, amp="int8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_extraction_restores_device(records) -> None:
    model = CountingNet()
    feats = _extract(model, records, device="cuda", amp="off")
    assert next(model.parameters()).device.type == "cpu"
    torch.testing.assert_close(feats, _manual(model, records, flip=True), atol=1e-4, rtol=1e-4)
    bf16 = _extract(model, records, device="cuda")      # auto: bf16 autocast, on a channels-last copy
    torch.testing.assert_close(bf16, feats, atol=0.2, rtol=0.05)
    assert next(model.parameters()).device.type == "cpu" and all(p.is_contiguous() for p in model.parameters())


def test_bf16_cpu_extraction_runs_channels_last_on_a_copy(records, tmp_path: Path) -> None:
    """bf16 on the CPU extracts with a channels-last copy (oneDNN's fast layout): the caller's
    model keeps its layout and mode, the features match the plain layout's within bf16, and the
    cache tells the two layouts apart."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten()).train()
    fast = _extract(model, records, amp="bf16", flip=False)
    assert all(p.is_contiguous() for p in model.parameters()) and model.training
    ref = _extract(model, records, amp="off", flip=False)
    torch.testing.assert_close(fast, ref, atol=0.05, rtol=0.05)
    kw = dict(height=H, width=W, flip=False, interpolation="bicubic", upsampling="bilinear",
              amp_dtype=torch.bfloat16)
    assert feature_cache_key(model, **kw, channels_last=True) != feature_cache_key(model, **kw)


def test_a_channels_last_model_is_extracted_without_a_copy(records, monkeypatch) -> None:
    """A model already stored channels-last (what training and loading a channels-last run leave)
    is extracted as it is: no deep copy (a 31 M-parameter MGN copy per extraction), the same
    features as from a plain-layout model, whose layout is left untouched."""
    import copy

    from reidlab.engine import extract as extract_module

    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    fast = copy.deepcopy(plain).to(memory_format=torch.channels_last)
    copies, deepcopy = [], copy.deepcopy
    monkeypatch.setattr(extract_module.copy, "deepcopy", lambda m: copies.append(m) or deepcopy(m))
    from_fast = _extract(fast, records, amp="off", flip=False)   # fp32 on the CPU: channels-last extraction
    assert copies == []
    from_plain = _extract(plain, records, amp="off", flip=False)
    assert len(copies) == 1 and all(p.is_contiguous() for p in plain.parameters())
    torch.testing.assert_close(from_fast, from_plain)
