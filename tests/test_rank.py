"""evaluate_rank: hand-computed cases, single-shot mode, agreement with the argsort reference."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reidlab.metrics import rank as rank_module
from reidlab.metrics.rank import (average_precision, cmc_curve, evaluate_rank,
                                  evaluate_rank_reference, match_ranks, single_shot_draws)


def _ids(*cols: list[int]) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(c) for c in cols)


# ----------------------------------------------------------------------------- hand-computed


def test_market_hand_computed_with_junk_removed() -> None:
    # query: pid 1, cam 0. Gallery (pid, cam, distance):
    #   0: (1, 1, 0.5) match   1: (2, 1, 0.1)   2: (1, 0, 0.05) junk (same pid+cam)
    #   3: (1, 2, 0.3) match   4: (3, 0, 0.2)
    # kept ranking: g1 (r1), g4 (r2), g3 (r3, hit), g0 (r4, hit)
    dist = np.array([[0.5, 0.1, 0.05, 0.3, 0.2]])
    q_pids, q_cams = _ids([1], [0])
    g_pids, g_cams = _ids([1, 2, 1, 1, 3], [1, 1, 0, 2, 0])
    cmc, m_ap, ap = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, max_rank=5,
                                  return_ap=True)
    np.testing.assert_allclose(cmc, [0, 0, 1, 1, 1])
    assert m_ap == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert ap.shape == (1,) and ap[0] == pytest.approx(m_ap)
    mr = match_ranks(dist, q_pids, g_pids, q_cams, g_cams)
    assert mr.counts.tolist() == [2] and mr.ranks.tolist() == [3, 4]


@pytest.mark.parametrize("method", ["binned", "sort"])
def test_ties_are_broken_by_gallery_index(method: str) -> None:
    q_pids, q_cams = _ids([1], [0])
    dist = np.array([[0.5, 0.5, 0.2]])
    # g0 (distractor pid 2) and g1 (match) tie: the lower index, g0, ranks first.
    cmc, m_ap = evaluate_rank(dist, q_pids, np.array([2, 1, 1]), q_cams, np.array([1, 1, 1]),
                              max_rank=3, method=method)
    np.testing.assert_allclose(cmc, [1, 1, 1])
    assert m_ap == pytest.approx((1 / 1 + 2 / 3) / 2)
    # Swap the two tied images: now the match has the lower index and ranks second.
    cmc, m_ap = evaluate_rank(dist, q_pids, np.array([1, 2, 1]), q_cams, np.array([1, 1, 1]),
                              max_rank=3, method=method)
    assert m_ap == pytest.approx(1.0)
    # A tie between the first match and a distractor with a lower index: CMC@1 fails.
    cmc, _ = evaluate_rank(np.array([[0.2, 0.2]]), q_pids, np.array([5, 1]), q_cams,
                           np.array([1, 1]), max_rank=2, method=method)
    np.testing.assert_allclose(cmc, [0, 1])


def test_queries_without_true_match_are_skipped() -> None:
    dist = np.array([[0.1, 0.9, 0.4],     # pid 1: match g0 (rank 1)
                     [0.1, 0.2, 0.3],     # pid 7: not in the gallery -> skipped
                     [0.3, 0.2, 0.1],     # pid 2 cam 0: its only image is junk -> skipped
                     [0.9, 0.1, 0.5]])    # pid 1: g1 (rank 1 among kept: g1, g2, g0)
    q_pids, q_cams = _ids([1, 7, 2, 1], [0, 0, 0, 0])
    g_pids, g_cams = _ids([1, 3, 2], [1, 1, 0])
    cmc, m_ap, ap = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, max_rank=3,
                                  return_ap=True)
    # valid queries 0 and 3: ranks 1 and 3
    np.testing.assert_allclose(cmc, [0.5, 0.5, 1.0])
    assert m_ap == pytest.approx((1 + 1 / 3) / 2)
    assert np.isnan(ap[1]) and np.isnan(ap[2])
    np.testing.assert_allclose(ap[[0, 3]], [1, 1 / 3])


def test_no_valid_query_raises() -> None:
    with pytest.raises(ValueError, match="no valid query"):
        evaluate_rank(np.zeros((2, 2)), [1, 2], [1, 3], [0, 0], [0, 1])


def test_distractors_push_matches_down() -> None:
    # pid 0 (distractors) and -1 are ordinary non-matching gallery images.
    dist = np.array([[0.1, 0.2, 0.3, 0.4]])
    cmc, m_ap = evaluate_rank(dist, [5], [0, -1, 5, 5], [0], [1, 2, 1, 3], max_rank=4)
    np.testing.assert_allclose(cmc, [0, 0, 1, 1])
    assert m_ap == pytest.approx((1 / 3 + 2 / 4) / 2)


def test_max_rank_is_clamped_to_gallery_size() -> None:
    cmc, _ = evaluate_rank(np.array([[0.3, 0.1]]), [1], [1, 2], [0], [1, 1], max_rank=50)
    np.testing.assert_allclose(cmc, [0, 1])


def test_nan_is_refused() -> None:
    for method in ("binned", "sort"):
        with pytest.raises(ValueError, match="NaN"):
            evaluate_rank(np.array([[np.nan, 0.1]]), [1], [1, 2], [0], [1, 1], method=method)


def test_equations() -> None:
    ap = average_precision(np.array([1, 3, 2]), np.array([2, 0, 1]))
    np.testing.assert_allclose(ap, [(1 + 2 / 3) / 2, np.nan, 1 / 2])
    np.testing.assert_allclose(cmc_curve(np.array([1, 3]), 4), [0.5, 0.5, 1, 1])


# ----------------------------------------------------------------------------- single shot


def test_single_shot_hand_computed() -> None:
    # query pid 1 cam 0; gallery A=(1, cam1, 0.1), B=(1, cam1, 0.9), C=(2, cam1, 0.5),
    # J=(1, cam0, 0.0) junk. Drawn gallery {A, C}: rank 1; {B, C}: rank 2.
    dist = np.array([[0.1, 0.9, 0.5, 0.0]])
    q_pids, q_cams = _ids([1], [0])
    g_pids, g_cams = _ids([1, 1, 2, 1], [1, 1, 1, 0])
    repeats = 200
    draws = np.stack(list(single_shot_draws(q_pids, q_cams, g_pids, g_cams, repeats, seed=3)))
    assert draws.shape == (repeats, 1, 2)
    assert set(draws[:, 0, 0].tolist()) == {0, 1}        # junk J (index 3) never drawn
    assert set(draws[:, 0, 1].tolist()) == {2}
    frac_a = float(np.mean(draws[:, 0, 0] == 0))
    assert 0.3 < frac_a < 0.7
    cmc, m_ap = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, max_rank=3,
                              mode="single_shot", repeats=repeats, seed=3)
    np.testing.assert_allclose(cmc, [frac_a, 1, 1])
    # default AP = torchreid's eval_cuhk03: AP of the full kept gallery (A r1, C r2, B r3)
    assert m_ap == pytest.approx((1 + 2 / 3) / 2)
    _, m_ap_sampled = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, max_rank=3,
                                    mode="single_shot", repeats=repeats, seed=3,
                                    single_shot_ap="sampled")
    assert m_ap_sampled == pytest.approx(frac_a * 1 + (1 - frac_a) / 2)


def test_single_shot_is_seeded() -> None:
    rng = np.random.default_rng(0)
    dist = rng.random((20, 60))
    ids = (rng.integers(0, 6, 20), rng.integers(0, 6, 60), rng.integers(0, 3, 20),
           rng.integers(0, 3, 60))
    a = evaluate_rank(dist, *ids, mode="single_shot", seed=1)
    b = evaluate_rank(dist, *ids, mode="single_shot", seed=1)
    c = evaluate_rank(dist, *ids, mode="single_shot", seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


# ----------------------------------------------------------------------------- vs reference


def _random_problem(seed: int) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(seed)
    num_q, num_g = int(rng.integers(1, 25)), int(rng.integers(1, 70))
    n_ids, n_cams = int(rng.integers(1, 9)), int(rng.integers(1, 4))
    ids = (rng.integers(0, n_ids, num_q), rng.integers(0, n_ids, num_g),
           rng.integers(0, n_cams, num_q), rng.integers(0, n_cams, num_g))
    dist = rng.random((num_q, num_g))
    kind = seed % 5
    if kind == 1:
        dist = np.round(dist, 1)                                # many ties
    elif kind == 2:
        dist = (np.round(dist * 3) / 3 - 0.5).astype(np.float32)  # negative, heavy ties
    elif kind == 3:
        dist = np.round(dist, 1).astype(np.float32)
        dist[rng.random(dist.shape) < 0.15] = np.inf
        dist[rng.random(dist.shape) < 0.05] = -np.inf
    elif kind == 4:
        dist = np.round(dist, 1)
        dist[:, : num_g // 2] = 0.0                             # rows with equal minima
    # make most queries valid
    ids[0][: num_q // 2] = rng.choice(ids[1], num_q // 2)
    return dist, ids


def _assert_same(out: tuple, ref: tuple) -> None:
    np.testing.assert_allclose(out[0], ref[0], atol=1e-6, rtol=0)
    assert out[1] == pytest.approx(ref[1], abs=1e-6)
    np.testing.assert_allclose(out[2], ref[2], atol=1e-6, rtol=0, equal_nan=True)


@pytest.mark.parametrize("mode", ["market", "single_shot"])
def test_matches_reference_on_random_problems(mode: str) -> None:
    checked = 0
    for seed in range(150):
        dist, ids = _random_problem(seed)
        try:
            ref = evaluate_rank_reference(dist, *ids, max_rank=20, mode=mode, repeats=3,
                                          seed=seed, return_ap=True)
        except ValueError:
            with pytest.raises(ValueError):
                evaluate_rank(dist, *ids, max_rank=20, mode=mode)
            continue
        for method in ("binned", "sort"):
            out = evaluate_rank(dist, *ids, max_rank=20, mode=mode, repeats=3, seed=seed,
                                return_ap=True, method=method)
            _assert_same(out, ref)
        if mode == "single_shot":
            ref = evaluate_rank_reference(dist, *ids, max_rank=20, mode=mode, repeats=3,
                                          seed=seed, return_ap=True, single_shot_ap="sampled")
            out = evaluate_rank(dist, *ids, max_rank=20, mode=mode, repeats=3, seed=seed,
                                return_ap=True, single_shot_ap="sampled")
            _assert_same(out, ref)
        checked += 1
    assert checked > 100


def test_matches_reference_with_many_blocks_and_coarse_bins(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    rng = np.random.default_rng(7)
    num_q, num_g = 120, 900
    ids = (rng.integers(0, 40, num_q), rng.integers(0, 40, num_g), rng.integers(0, 5, num_q),
           rng.integers(0, 5, num_g))
    base = rng.random((num_q, num_g)).astype(np.float32)
    base -= 0.3 * (ids[0][:, None] == ids[1][None, :])
    for dist in (base, np.round(base, 2), np.round(base.astype(np.float64), 1)):
        ref = evaluate_rank_reference(dist, *ids, return_ap=True)
        _assert_same(evaluate_rank(dist, *ids, return_ap=True), ref)
        monkeypatch.setattr(rank_module, "_CHUNK_ELEMENTS", 3 * num_g + 5)  # ragged blocks
        for bins in (1, 3, 64):
            mr = rank_module._match_ranks_binned(dist, ids[0], ids[1], ids[2], ids[3],
                                                 bins=bins)
            ref_mr = match_ranks(dist, *ids, method="sort")
            np.testing.assert_array_equal(mr.counts, ref_mr.counts)
            np.testing.assert_array_equal(mr.ranks, ref_mr.ranks)
        monkeypatch.undo()


def test_all_equal_and_single_match_rows() -> None:
    # every distance equal: pure index order; and rows whose only match is the row minimum
    ids = (np.array([1, 2]), np.array([3, 1, 2, 1, 2]), np.array([0, 0]),
           np.array([1, 1, 1, 1, 1]))
    for dist in (np.zeros((2, 5)), np.array([[0.5, 0.0, 0.3, 0.9, 0.2],
                                              [0.1, 0.4, 0.1, 0.2, 0.1]])):
        _assert_same(evaluate_rank(dist, *ids, max_rank=5, return_ap=True),
                     evaluate_rank_reference(dist, *ids, max_rank=5, return_ap=True))


def test_torch_inputs_match_numpy() -> None:
    checked = 0
    for seed in range(40):
        dist, ids = _random_problem(seed)
        try:
            ref = evaluate_rank(dist, *ids, max_rank=10, return_ap=True)
        except ValueError:
            continue
        t_ids = [torch.as_tensor(i) for i in ids]
        _assert_same(evaluate_rank(torch.as_tensor(dist), *t_ids, max_rank=10, return_ap=True),
                     ref)
        _assert_same(evaluate_rank(torch.as_tensor(dist), *[i.tolist() for i in ids],
                                   max_rank=10, return_ap=True, method="sort"), ref)
        checked += 1
    assert checked > 20


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensor_runs_on_gpu_and_matches() -> None:
    for seed in range(30):
        dist, ids = _random_problem(seed)
        try:
            ref = evaluate_rank_reference(dist, *ids, max_rank=20, return_ap=True)
        except ValueError:
            continue
        out = evaluate_rank(torch.as_tensor(dist).cuda(), *ids, max_rank=20, return_ap=True)
        _assert_same(out, ref)
        out = evaluate_rank(torch.as_tensor(dist).cuda(), *ids, max_rank=20, mode="single_shot",
                            repeats=2, seed=seed, return_ap=True)
        ref = evaluate_rank_reference(dist, *ids, max_rank=20, mode="single_shot", repeats=2,
                                      seed=seed, return_ap=True)
        _assert_same(out, ref)


def test_single_shot_torch_expressions_match_numpy() -> None:
    # the CUDA code path of single-shot ranking, run on CPU tensors
    for seed in range(20):
        dist, ids = _random_problem(seed)
        mr = match_ranks(dist, *ids)
        valid = mr.counts > 0
        if not valid.any():
            continue
        args = (*ids, 3, seed, valid)
        np.testing.assert_array_equal(
            rank_module._single_shot_ranks(torch.as_tensor(dist), *args),
            rank_module._single_shot_ranks(dist, *args))
