"""RFD Eq. 7-8 (resolution similarity, fused distance) and the chunked distances they use."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reidlab.metrics import (cosine_similarity_matrix, evaluate_rank, fused_distance,
                             iter_distance_chunks, pairwise_distance, resolution_similarity)

# 2 queries x 3 gallery images, 2-d B-F and B-R features
FF_Q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
FF_G = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 2.0]])
FR_Q = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
FR_G = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
R2 = 1 / math.sqrt(2)


def test_resolution_similarity_eq7_by_hand() -> None:
    expected = torch.tensor([[1.0, 0.0, R2], [R2, R2, 1.0]])
    torch.testing.assert_close(resolution_similarity(FR_Q, FR_G), expected)


def test_fused_distance_similarity_reading_by_hand() -> None:
    # S_f = [[1, .6, 0], [0, .8, 1]];  returned: -(S_f - 0.5 * S_r)
    expected = torch.tensor([[-0.5, -0.6, 0.5 * R2], [0.5 * R2, -(0.8 - 0.5 * R2), -0.5]])
    out = fused_distance(FF_Q, FF_G, FR_Q, FR_G, lam=0.5, reading="similarity")
    torch.testing.assert_close(out, expected)


def test_fused_distance_distance_reading_by_hand() -> None:
    # D_f = [[0, sqrt(.8), sqrt(5)], [sqrt(2), sqrt(.4), 1]];  returned: D_f - 0.5 * S_r
    expected = torch.tensor([[-0.5, math.sqrt(0.8), math.sqrt(5) - 0.5 * R2],
                             [math.sqrt(2) - 0.5 * R2, math.sqrt(0.4) - 0.5 * R2, 0.5]])
    out = fused_distance(FF_Q, FF_G, FR_Q, FR_G, lam=0.5, reading="distance")
    torch.testing.assert_close(out, expected)


def test_lambda_zero_is_bf_alone() -> None:
    rng = torch.Generator().manual_seed(0)
    ff_q, ff_g = torch.randn(7, 5, generator=rng), torch.randn(11, 5, generator=rng)
    junk_q, junk_g = torch.randn(7, 1), torch.randn(11, 1)   # ignored when lam == 0
    sim = fused_distance(ff_q, ff_g, junk_q, junk_g, lam=0.0, reading="similarity")
    torch.testing.assert_close(sim, -torch.nn.functional.cosine_similarity(
        ff_q[:, None], ff_g[None], dim=2))
    dist = fused_distance(ff_q, ff_g, junk_q, junk_g, lam=0.0, reading="distance")
    torch.testing.assert_close(dist, torch.cdist(ff_q, ff_g), atol=1e-5, rtol=1e-5)
    # same rankings as cosine / Euclidean B-F alone
    assert torch.equal(sim.argsort(dim=1), (1 - cosine_similarity_matrix(ff_q, ff_g)).argsort(1))
    assert torch.equal(dist.argsort(dim=1), torch.cdist(ff_q, ff_g).argsort(dim=1))


def test_readings_penalise_or_reward_shared_resolution() -> None:
    # g0 and g1 are equally close to the query in B-F; only g0 shares its resolution.
    ff_q, ff_g = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.8, 0.6], [0.8, -0.6]])
    fr_q, fr_g = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    base_sim = fused_distance(ff_q, ff_g, fr_q, fr_g, lam=0.0, reading="similarity")
    base_dist = fused_distance(ff_q, ff_g, fr_q, fr_g, lam=0.0, reading="distance")
    torch.testing.assert_close(base_sim[0, 0], base_sim[0, 1])
    sim = fused_distance(ff_q, ff_g, fr_q, fr_g, lam=0.1, reading="similarity")
    dist = fused_distance(ff_q, ff_g, fr_q, fr_g, lam=0.1, reading="distance")
    # similarity reading: the shared-resolution pair gets a LARGER distance (penalised)
    assert sim[0, 0] - base_sim[0, 0] == pytest.approx(0.1)
    assert sim[0, 1] == pytest.approx(float(base_sim[0, 1]))
    assert sim[0, 0] > sim[0, 1]
    # distance reading: it gets a SMALLER distance (rewarded)
    assert dist[0, 0] - base_dist[0, 0] == pytest.approx(-0.1)
    assert dist[0, 0] < dist[0, 1]
    # ... which flips the rank-1 image between the two readings
    q, g = np.array([1]), np.array([1, 2])
    cams = (np.array([0]), np.array([1, 1]))
    assert evaluate_rank(sim, q, g, *cams)[0][0] == 0.0
    assert evaluate_rank(dist, q, g, *cams)[0][0] == 1.0


def test_fused_distance_validates() -> None:
    with pytest.raises(ValueError, match="reading"):
        fused_distance(FF_Q, FF_G, FR_Q, FR_G, reading="cosine")
    with pytest.raises(ValueError, match="disagree"):
        fused_distance(FF_Q, FF_G, FR_Q[:1], FR_G, lam=0.1)


def test_fused_distance_chunks_and_numpy_inputs() -> None:
    rng = np.random.default_rng(0)
    ff_q, ff_g = rng.normal(size=(9, 4)), rng.normal(size=(13, 4))
    fr_q, fr_g = rng.normal(size=(9, 3)), rng.normal(size=(13, 3))
    for reading in ("similarity", "distance"):
        whole = fused_distance(ff_q, ff_g, fr_q, fr_g, lam=0.3, reading=reading)
        chunked = fused_distance(ff_q, ff_g, fr_q, fr_g, lam=0.3, reading=reading, chunk_size=2)
        torch.testing.assert_close(whole, chunked)
        assert whole.dtype == torch.float64 and whole.shape == (9, 13)


# ----------------------------------------------------------------------------- distances


def test_pairwise_distance_metrics_and_chunks() -> None:
    rng = torch.Generator().manual_seed(1)
    a, b = torch.randn(10, 6, generator=rng) + 5, torch.randn(7, 6, generator=rng) + 5
    torch.testing.assert_close(pairwise_distance(a, b, chunk_size=3), torch.cdist(a, b),
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pairwise_distance(a, b, "sqeuclidean"), torch.cdist(a, b) ** 2,
                               atol=1e-4, rtol=1e-5)
    cos = torch.nn.functional.cosine_similarity(a[:, None], b[None], dim=2)
    torch.testing.assert_close(pairwise_distance(a, b, "cosine"), 1 - cos)
    blocks = list(iter_distance_chunks(a, b, chunk_size=4))
    assert [r for r, _ in blocks] == [slice(0, 4), slice(4, 8), slice(8, 10)]
    torch.testing.assert_close(torch.cat([blk for _, blk in blocks]), pairwise_distance(a, b))
    with pytest.raises(ValueError, match="metric"):
        pairwise_distance(a, b, "manhattan")


def test_euclidean_is_exact_zero_for_duplicates_and_never_nan() -> None:
    a = torch.full((3, 64), 1000.0) + torch.arange(3.0)[:, None]
    d = pairwise_distance(a, a)
    assert not torch.isnan(d).any()
    assert torch.all(d.diagonal() == 0)
    torch.testing.assert_close(d[0, 1], torch.tensor(8.0))   # sqrt(64 * 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_distances() -> None:
    a, b = torch.randn(50, 8), torch.randn(40, 8)
    out = fused_distance(a.cuda(), b.cuda(), a[:, :3].cuda(), b[:, :3].cuda(), lam=0.1)
    assert out.is_cuda
    torch.testing.assert_close(out.cpu(), fused_distance(a, b, a[:, :3], b[:, :3], lam=0.1),
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pairwise_distance(a.cuda(), b.cuda()).cpu(), torch.cdist(a, b),
                               atol=1e-4, rtol=1e-4)
