"""MLR synthesis (RFD Sec. 3.1): degrade, seeded factor draws, materialised copies."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reidlab.data.images import load_image, read_image_size
from reidlab.data.mlr import assign_factors, degrade, materialise_degraded, stable_hash
from reidlab.data.records import ImageRecord


@pytest.fixture(scope="module")
def noise_image() -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 256, (96, 48, 3), dtype=np.uint8))


def high_frequency_energy(img: Image.Image) -> float:
    """Mean squared discrete Laplacian (a high-pass filter) of the grey image."""
    a = np.asarray(img.convert("L"), dtype=np.float64)
    lap = 4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    return float(np.mean(lap ** 2))


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
def test_degrade_keeps_size_and_mode(noise_image: Image.Image, factor: int,
                                     interpolation: str) -> None:
    out = degrade(noise_image, factor, interpolation)
    assert out.size == noise_image.size and out.mode == noise_image.mode


def test_factor_one_is_identity(noise_image: Image.Image) -> None:
    assert degrade(noise_image, 1) is noise_image
    assert degrade(noise_image, 1, "bilinear") is noise_image


def test_higher_factor_loses_more_detail(noise_image: Image.Image) -> None:
    energies = [high_frequency_energy(degrade(noise_image, f)) for f in (1, 2, 3, 4)]
    assert energies == sorted(energies, reverse=True)
    assert energies[3] < 0.2 * energies[0]


def test_bilinear_differs_from_bicubic(noise_image: Image.Image) -> None:
    a = np.asarray(degrade(noise_image, 3, "bicubic"), dtype=np.int16)
    b = np.asarray(degrade(noise_image, 3, "bilinear"), dtype=np.int16)
    assert np.abs(a - b).mean() > 1.0


def test_down_and_up_filters_are_separate(noise_image: Image.Image) -> None:
    """RFD Sec. 3.1: down-sample (bicubic by default), up-sample bilinearly (the default)."""
    width, height = noise_image.size
    small = noise_image.resize((width // 3, height // 3), Image.Resampling.BICUBIC)
    paper = small.resize((width, height), Image.Resampling.BILINEAR)
    assert np.array_equal(np.asarray(degrade(noise_image, 3)), np.asarray(paper))
    assert np.array_equal(np.asarray(degrade(noise_image, 3, "bicubic", "bilinear")), np.asarray(paper))
    both_bicubic = small.resize((width, height), Image.Resampling.BICUBIC)
    assert np.array_equal(np.asarray(degrade(noise_image, 3, upsampling="bicubic")), np.asarray(both_bicubic))
    assert not np.array_equal(np.asarray(both_bicubic), np.asarray(paper))


def test_degradation_kwargs_reads_the_data_config() -> None:
    from reidlab.config import DataConfig
    from reidlab.data import degradation_kwargs

    assert degradation_kwargs(DataConfig()) == {"interpolation": "bicubic", "upsampling": "bilinear"}
    assert degradation_kwargs(DataConfig(upsampling="bicubic"))["upsampling"] == "bicubic"


def test_degrade_tiny_image_does_not_vanish() -> None:
    img = Image.new("RGB", (3, 5), (10, 20, 30))
    assert degrade(img, 4).size == (3, 5)


@pytest.mark.parametrize("factor", [0, -2, 2.5, True, "2"])
def test_degrade_rejects_bad_factor(noise_image: Image.Image, factor: object) -> None:
    with pytest.raises(ValueError, match="factor must be an integer >= 1"):
        degrade(noise_image, factor)  # type: ignore[arg-type]


def test_degrade_rejects_bad_interpolation_and_input(noise_image: Image.Image) -> None:
    with pytest.raises(ValueError, match=r"interpolation='nearest'.*bicubic, bilinear"):
        degrade(noise_image, 2, "nearest")
    with pytest.raises(ValueError, match=r"upsampling='nearest'.*bicubic, bilinear"):
        degrade(noise_image, 2, upsampling="nearest")
    with pytest.raises(TypeError, match="PIL.Image.Image"):
        degrade(np.zeros((4, 4, 3)), 2)  # type: ignore[arg-type]


def test_assign_factors_seeded_and_reproducible() -> None:
    a = assign_factors(500, seed=1, trial=2, salt="viper:query")
    assert np.array_equal(a, assign_factors(500, seed=1, trial=2, salt="viper:query"))
    assert set(np.unique(a)) == {2, 3, 4}
    assert all(abs(int((a == f).sum()) - 500 / 3) < 60 for f in (2, 3, 4))
    assert not np.array_equal(a, assign_factors(500, seed=1, trial=3, salt="viper:query"))
    assert not np.array_equal(a, assign_factors(500, seed=2, trial=2, salt="viper:query"))
    assert not np.array_equal(a, assign_factors(500, seed=1, trial=2, salt="viper:gallery"))
    # the first draws do not depend on how many are asked for (no worker-count effect)
    assert np.array_equal(assign_factors(50, seed=1, trial=2, salt="viper:query"), a[:50])
    assert set(assign_factors(100, (1, 2, 3, 4))) == {1, 2, 3, 4}
    assert assign_factors(0).shape == (0,)


def test_stable_hash_is_stable() -> None:
    # pinned: a change would silently change every protocol split and factor draw
    assert stable_hash("market1501:query") == 8818546326284137805
    assert stable_hash("a") != stable_hash("b")
    assert 0 <= stable_hash("x") < 2**64


@pytest.mark.parametrize("kwargs, message", [
    ({"n": -1}, "n must be"), ({"n": 3, "seed": -1}, "seed must be"),
    ({"n": 3, "trial": 1.5}, "trial must be"), ({"n": 3, "factors": ()}, "must not be empty"),
    ({"n": 3, "factors": (0, 2)}, "factor must be"),
])
def test_assign_factors_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        assign_factors(**kwargs)


def _records(root: Path, write_image, factors: list[int]) -> list[ImageRecord]:
    records = []
    for i, factor in enumerate(factors):
        path = write_image(root / "query" / f"{i:04d}_c1s1_000001_01.jpg", size=(32, 64), seed=i)
        records.append(ImageRecord(str(path), i, 0, 32, 64, factor=factor))
    return records


def test_materialise_degraded_same_layout(tmp_path: Path, write_image) -> None:
    records = _records(tmp_path / "ds", write_image, [1, 2, 4])
    out = materialise_degraded(records, tmp_path / "out", root=tmp_path / "ds")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in out] == [
        "query/0000_c1s1_000001_01.jpg", "query/0001_c1s1_000001_01.jpg",
        "query/0002_c1s1_000001_01.jpg"]
    assert all(read_image_size(p) == (32, 64) for p in out)
    original = high_frequency_energy(load_image(records[2].path))
    assert high_frequency_energy(load_image(out[2])) < 0.5 * original
    # without root: paths relative to the folder common to all records
    out2 = materialise_degraded(records, tmp_path / "out2")
    assert out2[0] == tmp_path / "out2" / "0000_c1s1_000001_01.jpg"


def test_materialise_degraded_factor_conflict(tmp_path: Path, write_image) -> None:
    (record,) = _records(tmp_path / "ds", write_image, [1])
    records = [record, ImageRecord(record.path, 0, 0, 32, 64, factor=3)]
    with pytest.raises(ValueError, match="by_factor=True"):
        materialise_degraded(records, tmp_path / "out")
    out = materialise_degraded(records, tmp_path / "out", by_factor=True, root=tmp_path / "ds")
    assert [p.relative_to(tmp_path / "out").parts[0] for p in out] == ["x1", "x3"]
    assert all(p.is_file() for p in out)
