"""RFD Eq. (1)-(2): hand-computed cases, gradients, label smoothing, edge cases."""
from __future__ import annotations

import math

import pytest
import torch

from reidlab.losses import (
    batch_hard_triplet_loss,
    cross_entropy_over_branches,
    mgn_loss,
    pairwise_euclidean,
    top1_accuracy,
    triplet_over_branches,
)


def _nll(logits: list[float], target: int) -> float:
    return -(logits[target] - math.log(sum(math.exp(v) for v in logits)))


# --------------------------------------------------------------------------- Eq. (1)


def test_cross_entropy_sums_heads_by_hand() -> None:
    a = [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    b = [[0.0, 0.0, 0.0], [0.0, 0.0, 3.0]]
    targets = torch.tensor([0, 1])
    expected_a = (_nll(a[0], 0) + _nll(a[1], 1)) / 2
    expected_b = (math.log(3.0) + _nll(b[1], 1)) / 2
    loss = cross_entropy_over_branches([torch.tensor(a), torch.tensor(b)], targets)
    assert loss.item() == pytest.approx(expected_a + expected_b, rel=1e-6)
    mean = cross_entropy_over_branches([torch.tensor(a), torch.tensor(b)], targets,
                                       reduction="mean")
    assert mean.item() == pytest.approx((expected_a + expected_b) / 2, rel=1e-6)


def test_label_smoothing_by_hand() -> None:
    logits = [4.0, 0.0, -1.0, 0.5]
    eps, c = 0.1, len(logits)
    nlls = [_nll(logits, k) for k in range(c)]
    # torch: (1 - eps) * NLL(target) + eps * mean_k NLL(k)
    expected = (1 - eps) * nlls[0] + eps * sum(nlls) / c
    loss = cross_entropy_over_branches([torch.tensor([logits])], torch.tensor([0]),
                                       label_smoothing=eps)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    plain = cross_entropy_over_branches([torch.tensor([logits])], torch.tensor([0]))
    assert loss.item() > plain.item()            # confident and correct: smoothing costs
    uniform = torch.zeros(1, c)                  # uniform prediction: smoothing is neutral
    assert cross_entropy_over_branches([uniform], torch.tensor([0]), label_smoothing=eps).item() \
        == pytest.approx(math.log(c), rel=1e-6)


def test_cross_entropy_gradients_reach_every_head() -> None:
    heads = [torch.randn(4, 5, requires_grad=True) for _ in range(3)]
    cross_entropy_over_branches(heads, torch.tensor([0, 1, 2, 3]), 0.1).backward()
    assert all(h.grad is not None and h.grad.abs().sum() > 0 for h in heads)


def test_top1_accuracy_by_hand() -> None:
    targets = torch.tensor([0, 1])
    right = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    half = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert top1_accuracy([right, half], targets) == pytest.approx(0.75)


# --------------------------------------------------------------------------- Eq. (2)


def test_pairwise_euclidean_matches_cdist() -> None:
    x = torch.randn(7, 5)
    off = ~torch.eye(7, dtype=torch.bool)   # the diagonal (self) is never used by Eq. (2)
    torch.testing.assert_close(pairwise_euclidean(x)[off], torch.cdist(x, x)[off],
                               atol=1e-4, rtol=1e-4)
    assert pairwise_euclidean(x).diagonal().abs().max() < 1e-2


def test_triplet_four_points_on_a_line() -> None:
    # ids: 0 at x=0 and x=1, 1 at x=3 and x=6; margin 1.
    # anchor 0: d+ = 1, d- = 3 -> max(0, 1 + 1 - 3) = 0
    # anchor 1: d+ = 1, d- = 2 -> max(0, 1 + 1 - 2) = 0
    # anchor 3: d+ = 3, d- = 2 -> max(0, 1 + 3 - 2) = 2
    # anchor 6: d+ = 3, d- = 5 -> max(0, 1 + 3 - 5) = 0      mean = 0.5
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0]], requires_grad=True)
    y = torch.tensor([0, 0, 1, 1])
    loss = batch_hard_triplet_loss(x, y, margin=1.0)
    assert loss.item() == pytest.approx(0.5, abs=1e-6)
    loss.backward()
    # only anchor 3 is active: d(3,6) pulls 3 and 6 together, d(3,1) pushes 3 and 1 apart.
    torch.testing.assert_close(x.grad, torch.tensor([[0.0], [0.25], [-0.5], [0.25]]))
    # a margin of 5 activates every anchor: (5+1-3) + (5+1-2) + (5+3-2) + (5+3-5) = 16
    assert batch_hard_triplet_loss(x, y, margin=5.0).item() == pytest.approx(4.0, abs=1e-5)


def test_triplet_2d_by_hand() -> None:
    # ids 0: (0,0), (3,4) [d+ = 5]; id 1: (0,1), (0,-2). margin 0.5.
    # a=(0,0): d+ 5, d- min(1, 2) = 1 -> 4.5;  a=(3,4): d+ 5, d- min(sqrt(18), sqrt(52)) -> 5.5 - sqrt(18)
    # a=(0,1): d+ 3, d- min(1, sqrt(18)) = 1 -> 2.5;  a=(0,-2): d+ 3, d- min(2, sqrt(52)) = 2 -> 1.5
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0], [0.0, -2.0]])
    y = torch.tensor([0, 0, 1, 1])
    expected = (4.5 + (5.5 - math.sqrt(18.0)) + 2.5 + 1.5) / 4
    assert batch_hard_triplet_loss(x, y, 0.5).item() == pytest.approx(expected, rel=1e-5)


def test_triplet_skips_anchors_without_positive() -> None:
    # ids 0 at 0 and 1, id 1 alone at 3 (no positive: left out); margin 2.5
    # anchor 0: 2.5 + 1 - 3 = 0.5; anchor 1: 2.5 + 1 - 2 = 1.5 -> mean over 2 anchors = 1.0
    x = torch.tensor([[0.0], [1.0], [3.0]])
    assert batch_hard_triplet_loss(x, torch.tensor([0, 0, 1]), 2.5).item() \
        == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [0, 1, 2, 3]])
def test_triplet_without_valid_anchor_is_zero_with_finite_grad(labels: list[int]) -> None:
    x = torch.randn(4, 8, requires_grad=True)
    loss = batch_hard_triplet_loss(x, torch.tensor(labels), 0.3)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() == 0


def test_triplet_matches_naive_loop() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 6, generator=g)
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 4, 4])
    margin = 1.2
    terms = []
    for a in range(len(y)):
        pos = [torch.dist(x[a], x[p]).item() for p in range(len(y)) if p != a and y[p] == y[a]]
        neg = [torch.dist(x[a], x[n]).item() for n in range(len(y)) if y[n] != y[a]]
        if pos and neg:
            terms.append(max(0.0, margin + max(pos) - min(neg)))
    expected = sum(terms) / len(terms)
    assert batch_hard_triplet_loss(x, y, margin).item() == pytest.approx(expected, rel=1e-5)


def test_triplet_under_bf16_autocast_is_float32() -> None:
    x = torch.randn(8, 16, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = batch_hard_triplet_loss(x.to(torch.bfloat16), y, 0.3)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_triplet_over_branches_sum_and_mean() -> None:
    y = torch.tensor([0, 0, 1, 1])
    feats = [torch.randn(4, 3) for _ in range(3)]
    single = [batch_hard_triplet_loss(f, y, 1.0).item() for f in feats]
    assert triplet_over_branches(feats, y, 1.0).item() == pytest.approx(sum(single), rel=1e-6)
    assert triplet_over_branches(feats, y, 1.0, reduction="mean").item() \
        == pytest.approx(sum(single) / 3, rel=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        triplet_over_branches(feats, y, 1.0, reduction="max")


# --------------------------------------------------------------------------- objective


def test_mgn_loss_combines_terms_and_backpropagates() -> None:
    y = torch.tensor([0, 0, 1, 1])
    logits = [torch.randn(4, 2, requires_grad=True) for _ in range(8)]
    trip = [torch.randn(4, 5, requires_grad=True) for _ in range(3)]
    loss, logs = mgn_loss({"logits": logits, "triplet": trip}, y, margin=1.2,
                          label_smoothing=0.1)
    ce = cross_entropy_over_branches(logits, y, 0.1).item()
    tri = triplet_over_branches(trip, y, 1.2).item()
    assert set(logs) == {"ce", "triplet", "acc"}
    # logged values stay on the device, detached (a float would wait for the device every step and
    # break a compiled step's graph)
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad for v in logs.values())
    assert logs["ce"] == pytest.approx(ce, rel=1e-6)
    assert logs["triplet"] == pytest.approx(tri, rel=1e-6)
    assert loss.item() == pytest.approx(ce + tri, rel=1e-6)
    assert logs["acc"] == pytest.approx(top1_accuracy(logits, y))
    loss.backward()
    assert all(t.grad is not None for t in logits + trip)


# ------------------------------------------------ issue 23: batched heads and losses (same function)

def test_batched_triplet_and_cross_entropy_equal_the_per_branch_ones() -> None:
    """One batched call over stacked branches gives each branch's loss, value and gradient, to 1e-6."""
    from reidlab.losses.cross_entropy import cross_entropy_over_branches, top1_accuracy
    from reidlab.losses.triplet import triplet_over_branches

    gen = torch.Generator().manual_seed(0)
    targets = torch.arange(12) // 3
    feats = torch.randn(3, 12, 16, generator=gen, requires_grad=True)
    logits = torch.randn(8, 12, 5, generator=gen, requires_grad=True)
    for reduction in ("sum", "mean"):
        per = triplet_over_branches(list(feats), targets, 0.3, reduction)
        batched = triplet_over_branches(feats, targets, 0.3, reduction)
        torch.testing.assert_close(batched, per, atol=1e-6, rtol=1e-6)
        g_per, = torch.autograd.grad(per, feats)
        g_batched, = torch.autograd.grad(batched, feats)
        torch.testing.assert_close(g_batched, g_per, atol=1e-6, rtol=1e-6)
        ce_per = cross_entropy_over_branches(list(logits), targets, 0.1, reduction)
        ce_batched = cross_entropy_over_branches(logits, targets, 0.1, reduction)
        torch.testing.assert_close(ce_batched, ce_per, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(torch.autograd.grad(ce_batched, logits)[0], torch.autograd.grad(ce_per, logits)[0],
                                   atol=1e-6, rtol=1e-6)
    assert top1_accuracy(logits, targets) == pytest.approx(top1_accuracy(list(logits), targets))


def test_mgn_with_batched_heads_is_the_same_network() -> None:
    """MGN's heads as one batched product (``batched_heads``): the same descriptor, logits, loss
    and parameter gradients as the per-head modules, to 1e-6 (dropout masks drawn alike on the CPU)."""
    from reidlab.losses.triplet import mgn_loss
    from reidlab.models import build_mgn

    torch.manual_seed(0)
    per_head = build_mgn(6, "resnet18", reduction=8, feat_dim=32)
    batched = build_mgn(6, "resnet18", reduction=8, feat_dim=32, batched_heads=True)
    batched.load_state_dict(per_head.state_dict())
    x = torch.randn(8, 3, 64, 32, generator=torch.Generator().manual_seed(1))
    y = torch.arange(8) // 2
    per_head.eval(), batched.eval()
    with torch.no_grad():
        torch.testing.assert_close(batched(x), per_head(x))
        for a, b in zip(batched.classify(x), per_head.classify(x)):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    losses = []
    for net in (per_head, batched):
        net.train()
        torch.manual_seed(5)   # the same dropout masks
        out = net(x)
        loss, logs = mgn_loss(out, y, margin=1.2, label_smoothing=0.1)
        net.zero_grad()
        loss.backward()
        losses.append((loss.detach(), logs, {k: p.grad.clone() for k, p in net.named_parameters() if p.grad is not None}))
    assert isinstance(batched(x)["logits"], torch.Tensor) and batched(x)["logits"].shape == (8, 8, 6)
    torch.testing.assert_close(losses[1][0], losses[0][0], atol=1e-6, rtol=1e-6)
    assert losses[1][1]["acc"] == pytest.approx(losses[0][1]["acc"])
    assert losses[1][2].keys() == losses[0][2].keys()
    for name, grad in losses[0][2].items():   # float rounding grows through the backbone: relative to each gradient
        rel = float((losses[1][2][name] - grad).norm() / grad.norm().clamp(min=1e-12))
        assert rel < (1e-6 if name.startswith("classifiers") else 1e-5), (name, rel)   # seen: 5e-8, 1.5e-6 (stem)
