"""PKSampler: P x K batches that are pure functions of (seed, batch index)."""
from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from reidlab.data.samplers import AUG_SEED_LIMIT, PKSampler

LABELS = [i // 5 for i in range(60)] + [12, 12]  # 12 labels x 5 images, label 12 has 2


def test_batch_is_pure_function_of_seed_and_index() -> None:
    a = PKSampler(LABELS, p=4, k=3, seed=7)
    b = PKSampler(LABELS, p=4, k=3, seed=7)
    first = list(itertools.islice(iter(a), 6))
    assert [b.batch(i) for i in range(6)] == first
    assert list(itertools.islice(iter(b.start_at(3)), 3)) == first[3:]
    assert PKSampler(LABELS, p=4, k=3, seed=8).batch(0) != first[0]
    assert first[0] != first[1]


def test_p_distinct_labels_k_images_each() -> None:
    sampler = PKSampler(LABELS, p=6, k=4, seed=1)
    for batch in itertools.islice(iter(sampler), 20):
        assert len(batch) == 24
        labels = [LABELS[index] for index, _ in batch]
        counts = Counter(labels)
        assert len(counts) == 6 and set(counts.values()) == {4}
        assert labels == sorted(labels, key=labels.index)  # each label's images contiguous
        for label in counts:
            indices = [index for index, _ in batch if LABELS[index] == label]
            if label != 12:  # 5 images >= k: no repeats
                assert len(set(indices)) == 4


def test_replacement_only_for_small_labels() -> None:
    sampler = PKSampler([0, 0, 1, 1, 1, 1], p=2, k=4, seed=0)
    batch = sampler.batch(0)
    assert sorted(index for index, _ in batch if index >= 2) == [2, 3, 4, 5]
    assert Counter(index for index, _ in batch if index < 2).total() == 4


def test_aug_seeds_differ_and_fit_torch() -> None:
    sampler = PKSampler(LABELS, p=4, k=4, seed=0)
    seeds = [s for i in range(5) for _, s in sampler.batch(i)]
    assert len(set(seeds)) == len(seeds)
    assert all(isinstance(s, int) and 0 <= s < AUG_SEED_LIMIT for s in seeds)


def test_rank_slices_partition_the_global_batch() -> None:
    world = 4
    samplers = [PKSampler(LABELS, p=4, k=4, seed=3, rank=r, world_size=world) for r in range(world)]
    for index in range(5):
        slices = [s.batch(index) for s in samplers]
        assert all(len(part) == 4 for part in slices)
        assert sum(slices, []) == samplers[0].global_batch(index)


def test_resolution_class_batches_are_balanced() -> None:
    res_labels = [i % 4 for i in range(200)]
    sampler = PKSampler(res_labels, p=4, k=16, seed=0)
    for batch in itertools.islice(iter(sampler), 5):
        assert Counter(res_labels[i] for i, _ in batch) == {0: 16, 1: 16, 2: 16, 3: 16}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"p": 20, "k": 2}, "only 13"),
    ({"p": 3, "k": 3, "world_size": 2}, "not divisible by world_size=2"),
    ({"p": 0, "k": 2}, "positive"),
    ({"p": 2, "k": 2, "rank": 2, "world_size": 2}, "invalid rank"),
])
def test_invalid_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PKSampler(LABELS, **kwargs)


def test_negative_labels_rejected() -> None:
    with pytest.raises(ValueError, match="labels must be >= 0"):
        PKSampler([0, 1, -1], p=2, k=1)


def test_length_and_finite_iteration() -> None:
    sampler = PKSampler(LABELS, p=2, k=2, num_batches=5).start_at(2)
    assert len(sampler) == 3 and len(list(sampler)) == 3
    with pytest.raises(TypeError, match="infinite"):
        len(PKSampler(LABELS, p=2, k=2))
    with pytest.raises(ValueError, match="outside"):
        PKSampler(LABELS, p=2, k=2, num_batches=5).start_at(6)


class _KeyDataset(Dataset):
    def __len__(self) -> int:
        return len(LABELS)

    def __getitem__(self, key: tuple[int, int]) -> tuple[int, int]:
        index, aug_seed = key
        return LABELS[index], aug_seed


def test_works_as_dataloader_batch_sampler() -> None:
    sampler = PKSampler(LABELS, p=3, k=2, seed=5, num_batches=4)
    loader = DataLoader(_KeyDataset(), batch_sampler=sampler)
    batches = list(loader)
    assert len(batches) == 4
    labels, seeds = batches[1]
    assert labels.tolist() == [LABELS[i] for i, _ in sampler.batch(1)]
    assert torch.equal(seeds, torch.tensor([s for _, s in sampler.batch(1)]))
