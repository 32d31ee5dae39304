"""P x K batch sampler (RFD Sec. 4, Eq. 2): P labels x K images per batch.

Batch ``i`` is a pure function of ``(seed, i)``: nothing depends on how many batches
were drawn before, on the number of DataLoader workers or on the process count. That
is what makes resumed training bit-identical to an uninterrupted run, and what lets
``world_size`` DDP ranks train exactly the global batch a single process would: each
rank takes a disjoint, contiguous slice of the same global batch.

Every key is ``(dataset_index, aug_seed)``; the dataset seeds its random transforms
from ``aug_seed`` so augmentation is reproducible too.

B-F samples identities (``labels = pids``, paper P=8, K=4); B-R samples resolution
classes (``labels = res_label``, P = number of classes, K=16), which balances every
batch over the resolution classes.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

#: Augmentation seeds are drawn in ``[0, AUG_SEED_LIMIT)`` (fits ``torch.manual_seed``).
AUG_SEED_LIMIT: int = 2**31 - 1

Key = tuple[int, int]


class PKSampler:
    """Batch sampler yielding lists of ``(index, aug_seed)`` keys.

    Args:
        labels: one label per dataset index (identity or resolution class); >= 0.
        p: distinct labels per global batch.
        k: images per label (drawn with replacement only when a label has fewer).
        seed: base seed; batch ``i`` depends on ``(seed, i)`` only.
        rank, world_size: DDP position; rank ``r`` yields the ``r``-th contiguous
            slice of ``p * k / world_size`` keys of each global batch.
        num_batches: stop after this global batch index (exclusive); ``None`` = infinite.
    """

    def __init__(self, labels: Sequence[int], p: int, k: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1, num_batches: int | None = None) -> None:
        if p <= 0 or k <= 0:
            raise ValueError(f"p and k must be positive, got p={p}, k={k}")
        if world_size <= 0 or not 0 <= rank < world_size:
            raise ValueError(f"invalid rank={rank} for world_size={world_size}")
        if (p * k) % world_size:
            raise ValueError(
                f"global batch p*k={p}*{k}={p * k} is not divisible by world_size={world_size}; "
                f"choose p, k so that every rank gets the same number of images")
        if num_batches is not None and num_batches < 0:
            raise ValueError(f"num_batches must be >= 0 or None, got {num_batches}")
        label_array = np.asarray(labels, dtype=np.int64)
        if label_array.ndim != 1 or label_array.size == 0:
            raise ValueError("labels must be a non-empty 1-D sequence of ints")
        if (label_array < 0).any():
            bad = np.flatnonzero(label_array < 0)[:5].tolist()
            raise ValueError(f"labels must be >= 0 (negative = junk/unknown) at indices {bad}")
        classes, inverse = np.unique(label_array, return_inverse=True)
        if len(classes) < p:
            raise ValueError(
                f"PKSampler needs p={p} distinct labels per batch but the data has only "
                f"{len(classes)}; lower p to at most {len(classes)}")
        order = np.argsort(inverse, kind="stable")
        bounds = np.cumsum(np.bincount(inverse, minlength=len(classes)))[:-1]
        self._pools: list[np.ndarray] = np.split(order, bounds)
        self.classes: tuple[int, ...] = tuple(int(c) for c in classes)
        self.p, self.k, self.seed = p, k, seed
        self.rank, self.world_size = rank, world_size
        self.num_batches = num_batches
        self.start = 0

    @property
    def batch_size(self) -> int:
        """Keys per yielded (per-rank) batch."""
        return self.p * self.k // self.world_size

    def start_at(self, index: int) -> PKSampler:
        """Make iteration begin at global batch ``index`` (for resume); returns ``self``."""
        if index < 0 or (self.num_batches is not None and index > self.num_batches):
            raise ValueError(f"start index {index} outside [0, {self.num_batches}]")
        self.start = index
        return self

    def global_batch(self, index: int) -> list[Key]:
        """All ``p * k`` keys of global batch ``index`` (identical on every rank)."""
        rng = np.random.default_rng([self.seed, index])
        chosen = rng.choice(len(self._pools), size=self.p, replace=False)
        indices: list[int] = []
        for c in chosen:
            pool = self._pools[c]
            indices.extend(rng.choice(pool, size=self.k, replace=len(pool) < self.k).tolist())
        aug = rng.integers(0, AUG_SEED_LIMIT, size=len(indices)).tolist()
        return list(zip(indices, aug))

    def batch(self, index: int) -> list[Key]:
        """This rank's slice of global batch ``index``."""
        size = self.batch_size
        return self.global_batch(index)[self.rank * size:(self.rank + 1) * size]

    def __iter__(self) -> Iterator[list[Key]]:
        index = self.start
        while self.num_batches is None or index < self.num_batches:
            yield self.batch(index)
            index += 1

    def __len__(self) -> int:
        if self.num_batches is None:
            raise TypeError("an infinite PKSampler has no length; pass num_batches")
        return self.num_batches - self.start
