"""Torch datasets: image loading, degradation, seeded augmentation, caching, LR/HR pairs."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms as T

import reidlab.data.dataset as dataset_module
from reidlab.data.dataset import (
    PairedLRHRDataset, ReidImageDataset, build_transforms, load_image,
)
from reidlab.data.images import ImageReadError
from reidlab.data.mlr import degrade
from reidlab.data.records import ImageRecord

H, W = 64, 32


@pytest.fixture()
def records(tmp_path: Path, write_image) -> list[ImageRecord]:
    out = []
    for i, factor in enumerate([1, 2, 3, 4]):
        path = write_image(tmp_path / f"{i:04d}_c1s1_000001_01.png", size=(W, H), seed=i)
        out.append(ImageRecord(str(path), pid=10 + i, camid=0, width=W, height=H, factor=factor))
    return out


# ----------------------------------------------------------------------- transforms
def test_build_transforms_steps() -> None:
    names = lambda t: [type(s).__name__ for s in t.transforms]  # noqa: E731
    assert names(build_transforms(H, W, train=True)) == [
        "Resize", "RandomHorizontalFlip", "ToTensor", "Normalize", "RandomErasing"]
    assert names(build_transforms(H, W, train=True, random_erasing=False)) == [
        "Resize", "RandomHorizontalFlip", "ToTensor", "Normalize"]
    assert names(build_transforms(H, W, train=False)) == ["Resize", "ToTensor", "Normalize"]
    # PS-HRNet authors: flip, Pad(10), random crop back to the size, no erasing
    padded = build_transforms(H, W, train=True, random_erasing=False, pad_crop=10)
    assert names(padded) == ["Resize", "RandomHorizontalFlip", "Pad", "RandomCrop", "ToTensor",
                             "Normalize"]
    assert padded.transforms[2].padding == 10 and padded.transforms[3].size == (H, W)
    assert names(build_transforms(H, W, train=False, pad_crop=10)) == [
        "Resize", "ToTensor", "Normalize"]                             # training only
    with pytest.raises(ValueError, match="pad_crop must be an integer >= 0"):
        build_transforms(H, W, train=True, pad_crop=-1)
    out = build_transforms(48, 16, train=False)(Image.new("RGB", (W, H), (124, 116, 104)))
    assert out.shape == (3, 48, 16) and out.abs().max() < 0.01      # ImageNet mean -> ~0
    with pytest.raises(ValueError, match="height must be a positive integer"):
        build_transforms(0, W, train=False)


# ----------------------------------------------------------------------- load_image
@pytest.mark.parametrize("mode, suffix", [("L", ".png"), ("P", ".png"), ("RGBA", ".png"),
                                          ("L", ".jpg"), ("RGB", ".bmp")])
def test_load_image_converts_to_rgb(tmp_path: Path, write_image, mode: str, suffix: str) -> None:
    path = write_image(tmp_path / f"img{suffix}", size=(6, 9), mode=mode)
    with Image.open(path) as stored:
        assert stored.mode == mode
        expected = np.asarray(stored.convert("RGB"))
    img = load_image(path)
    assert img.mode == "RGB" and img.size == (6, 9)
    np.testing.assert_array_equal(np.asarray(img), expected)
    if mode == "L":
        a = np.asarray(img)
        assert (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all()


def test_load_image_errors_name_the_file(tmp_path: Path, write_image) -> None:
    with pytest.raises(ImageReadError, match=r"missing.png: no such file"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"empty.jpg: the file is empty"):
        load_image(tmp_path / "empty.jpg")
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(ImageReadError, match=r"text.jpg"):
        load_image(tmp_path / "text.jpg")
    for suffix in (".jpg", ".png"):
        path = write_image(tmp_path / f"cut{suffix}", size=(40, 80))
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageReadError, match=rf"cut{suffix}") as info:
            load_image(path)
        assert info.value.path == str(path)


def test_image_read_error_pickles() -> None:
    err = pickle.loads(pickle.dumps(ImageReadError("/x/a.jpg", "the file is empty")))
    assert (err.path, err.reason) == ("/x/a.jpg", "the file is empty")
    assert "a.jpg" in str(err) and isinstance(err, OSError)


# -------------------------------------------------------------------- ReidImageDataset
def test_item_is_degraded_and_transformed(records: list[ImageRecord]) -> None:
    transform = build_transforms(H, W, train=False)
    ds = ReidImageDataset(records, transform)
    assert len(ds) == 4
    for i, record in enumerate(records):
        image, label, index = ds[i]
        assert image.shape == (3, H, W) and image.dtype == torch.float32
        assert (label, index) == (record.pid, i)
        expected = transform(degrade(load_image(record.path), record.factor, "bicubic", "bilinear"))
        torch.testing.assert_close(image, expected, rtol=0, atol=0)
    assert not torch.equal(ds[3][0], transform(load_image(records[3].path)))
    bilinear = ReidImageDataset(records, transform, interpolation="bilinear")
    assert not torch.equal(bilinear[3][0], ds[3][0])
    bicubic_up = ReidImageDataset(records, transform, upsampling="bicubic")
    assert not torch.equal(bicubic_up[3][0], ds[3][0])
    torch.testing.assert_close(bicubic_up[3][0], transform(degrade(load_image(records[3].path), records[3].factor,
                                                                   "bicubic", "bicubic")), rtol=0, atol=0)
    assert ReidImageDataset(records, transform, labels=[0, 1, 2, 3])[2][1] == 2


def test_seeded_augmentation_is_a_pure_function(records: list[ImageRecord]) -> None:
    ds = ReidImageDataset(records, build_transforms(H, W, train=True))
    a = ds[(1, 123)][0]
    torch.manual_seed(999)                     # global state must not matter
    assert torch.equal(ds[(1, 123)][0], a)
    assert torch.equal(ReidImageDataset(records, ds.transform, cache_images=False)[(1, 123)][0], a)
    others = [ds[(1, seed)][0] for seed in range(1, 9)]
    assert any(not torch.equal(o, a) for o in others)
    state = torch.get_rng_state()
    ds[(2, 7)]
    assert torch.equal(torch.get_rng_state(), state)   # forked: global RNG untouched
    # exactly the contract's recipe: fork_rng() + manual_seed(aug_seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        reference = ds.transform(ds.degraded_image(1))
    assert torch.equal(reference, a)


def test_cache_decodes_each_file_once(records: list[ImageRecord], monkeypatch) -> None:
    calls: list[str] = []
    real = dataset_module.load_image

    def counting(path):
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(dataset_module, "load_image", counting)
    shared = [records[0], ImageRecord(records[0].path, 10, 0, W, H, factor=3)]
    ds = ReidImageDataset(shared, build_transforms(H, W, train=False))
    for key in (0, 1, 0, (1, 5)):
        ds[key]
    assert calls == [records[0].path]
    uncached = ReidImageDataset(shared, ds.transform, cache_images=False)
    uncached[0], uncached[0]
    assert len(calls) == 3


def test_bad_keys_and_arguments(records: list[ImageRecord]) -> None:
    ds = ReidImageDataset(records, None)
    assert isinstance(ds[0][0], Image.Image)          # no transform: the PIL image
    assert ds[np.int64(2)][2] == 2 and ds[torch.tensor(3)][2] == 3
    with pytest.raises(IndexError, match="index 4 out of range"):
        ds[4]
    with pytest.raises(TypeError, match=r"int or \(index, aug_seed\)"):
        ds["0"]
    with pytest.raises(TypeError, match=r"int or \(index, aug_seed\)"):
        ds[(0, 1, 2)]
    with pytest.raises(ValueError, match="aug_seed must be >= 0"):
        ds[(0, -1)]
    with pytest.raises(ValueError, match="labels has 2 entries for 4 records"):
        ReidImageDataset(records, None, labels=[0, 1])
    with pytest.raises(ValueError, match="interpolation='area'"):
        ReidImageDataset(records, None, interpolation="area")
    with pytest.raises(ValueError, match="upsampling='area'"):
        ReidImageDataset(records, None, upsampling="area")


def test_unreadable_record_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    ds = ReidImageDataset([ImageRecord(str(tmp_path / "broken.jpg"), 1, 0, W, H)], None)
    with pytest.raises(ImageReadError, match="broken.jpg"):
        ds[0]


def test_dataloader_with_seeded_keys(records: list[ImageRecord]) -> None:
    ds = ReidImageDataset(records, build_transforms(H, W, train=True))
    loader = DataLoader(ds, batch_sampler=[[(0, 1), (3, 2)], [(1, 3), (2, 4)]], num_workers=0)
    images, labels, indices = next(iter(loader))
    assert images.shape == (2, 3, H, W)
    assert labels.tolist() == [10, 13] and indices.tolist() == [0, 3]
    assert torch.equal(images[1], ds[(3, 2)][0])


# ------------------------------------------------------------------ PairedLRHRDataset
def test_paired_dataset_alignment(records: list[ImageRecord]) -> None:
    transform = build_transforms(H, W, train=True)
    paired = PairedLRHRDataset(records, transform)
    single = ReidImageDataset(records, transform)
    hr_only = ReidImageDataset([ImageRecord(r.path, r.pid, r.camid, W, H) for r in records],
                               transform)
    for i in range(4):
        for seed in (0, 11, 12, 13):
            lr, hr, label, index = paired[(i, seed)]
            assert (label, index) == (records[i].pid, i)
            assert torch.equal(lr, single[(i, seed)][0])       # same flip / erasing as LR
            assert torch.equal(hr, hr_only[(i, seed)][0])      # ... and as HR
    lr, hr, _, _ = paired[(3, 5)]
    assert not torch.equal(lr, hr)                              # factor 4 differs
    for _ in range(5):                                          # unseeded: still aligned
        lr, hr, _, _ = paired[0]                                # factor 1
        assert torch.equal(lr, hr)


def test_paired_dataset_flip_is_shared(records: list[ImageRecord]) -> None:
    flip_only = T.Compose([T.RandomHorizontalFlip(0.5), T.PILToTensor()])
    paired = PairedLRHRDataset(records, flip_only)
    stored = torch.from_numpy(np.array(load_image(records[0].path))).permute(2, 0, 1)
    flipped = [not torch.equal(paired[(0, s)][1], stored) for s in range(12)]
    assert any(flipped) and not all(flipped)
    for s in range(12):
        lr, hr, _, _ = paired[(0, s)]
        assert torch.equal(lr, hr)


def _pad_mask(image: torch.Tensor) -> torch.Tensor:
    """Pixels of the zero padding (``Pad``'s black, normalised) in every channel."""
    black = torch.tensor([(0 - m) / s for m, s in zip(dataset_module.IMAGENET_MEAN,
                                                       dataset_module.IMAGENET_STD)])
    return (image - black.view(3, 1, 1)).abs().amax(0) < 1e-5


def test_paired_dataset_shares_pad_and_crop(tmp_path: Path) -> None:
    """The PS-HRNet authors' joint flip + pad + crop: LR and HR are cut at the same offset.

    Stored images avoid black, so the padded border visible in a crop locates its offset."""
    rng = np.random.default_rng(0)
    path = tmp_path / "0001_c1s1_000001_01.png"
    Image.fromarray(rng.integers(40, 216, (H, W, 3), dtype=np.uint8)).save(path)
    records = [ImageRecord(str(path), 1, 0, W, H, factor=f) for f in (1, 2, 4)]
    transform = build_transforms(H, W, train=True, random_erasing=False, pad_crop=6)
    paired = PairedLRHRDataset(records, transform)
    single = ReidImageDataset(records, transform)
    masks = set()
    for i in (1, 2):                                            # degraded: LR != HR
        for seed in range(16):
            lr, hr, _, _ = paired[(i, seed)]
            assert lr.shape == hr.shape == (3, H, W) and not torch.equal(lr, hr)
            lr_pad, hr_pad = _pad_mask(lr), _pad_mask(hr)
            assert torch.equal(lr_pad, hr_pad)                  # same crop offset
            torch.testing.assert_close(lr, single[(i, seed)][0], rtol=0, atol=0)
            masks.add((tuple(lr_pad.all(1).tolist()), tuple(lr_pad.all(0).tolist())))  # rows, cols
    assert len(masks) > 4                                       # offsets do vary with the seed
    lr, hr, _, _ = paired[(0, 3)]                               # factor 1: the same image twice
    assert torch.equal(lr, hr)
