"""Controls of RFD's mechanism (notebook 07): how each is built, and what it can and cannot do."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch

from reidlab.data.records import ImageRecord, ProtocolSplit
from reidlab.study.compute import controls as ctl, scoring


def _split(protocol: str, seed: int = 0) -> ProtocolSplit:
    """12 identities; queries at factors 2-4 from camera 0, gallery from camera 1 (all HR on
    ``lr_query``, a mix of classes on ``multi_res_gallery``), plus camera-0 gallery distractors."""
    rng = np.random.default_rng(seed)
    query, gallery = [], []
    for pid in range(1, 13):
        f = int(rng.integers(2, 5))
        query.append(ImageRecord(f"/q/{pid}.jpg", pid, 0, 32, 64, factor=f, res_label=f - 1))
        g = 1 if protocol == "lr_query" else int(rng.integers(1, 5))
        gallery.append(ImageRecord(f"/g/{pid}.jpg", pid, 1, 32, 64, factor=g, res_label=g - 1))
        gallery.append(ImageRecord(f"/d/{pid}.jpg", 100 + pid, 0, 32, 64, factor=g, res_label=g - 1))
    train = tuple(ImageRecord(f"/t/{i}.jpg", 50 + i // 4, i % 2, 32, 64, factor=1 + i % 4, res_label=i % 4)
                  for i in range(40))
    return ProtocolSplit(protocol, "toy", 0, train, tuple(query), tuple(gallery), n_res_classes=4)


def _feats(split: ProtocolSplit, seed: int = 0) -> scoring.SplitFeatures:
    g = torch.Generator().manual_seed(seed)
    nq, ng = len(split.query), len(split.gallery)
    bf_q, bf_g = torch.randn(nq, 16, generator=g), torch.randn(ng, 16, generator=g)
    for i, r in enumerate(split.query):     # the true match is close, but not always the nearest
        j = next(k for k, x in enumerate(split.gallery) if x.pid == r.pid)
        bf_q[i] = bf_g[j] + 1.2 * torch.randn(16, generator=g)
    models = {"bf": (bf_q, bf_g), "br": (torch.randn(nq, 8, generator=g), torch.randn(ng, 8, generator=g)),
              "bf_seed2": (bf_q + 0.5 * torch.randn(nq, 16, generator=g), bf_g + 0.5 * torch.randn(ng, 16, generator=g))}
    return scoring.SplitFeatures(split, {k: v[0] for k, v in models.items()}, {k: v[1] for k, v in models.items()})


def test_one_hot_cosine_is_label_equality() -> None:
    f = ctl.one_hot([0, 2, 2, 1])
    sim = torch.nn.functional.cosine_similarity(f[:, None], f[None], dim=-1)
    assert torch.equal(sim, torch.tensor([[1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=torch.float))
    with pytest.raises(ValueError, match=">= 0"):
        ctl.one_hot([0, -1])


def test_oracles_follow_resolution_class_and_camera() -> None:
    split = _split("multi_res_gallery")
    feats = ctl.with_oracles(_feats(split))
    res_q, res_g = feats.query[ctl.RESOLUTION_ORACLE], feats.gallery[ctl.RESOLUTION_ORACLE]
    assert res_q.shape[1] == res_g.shape[1]
    assert res_q.argmax(1).tolist() == [r.res_label for r in split.query]
    assert res_g.argmax(1).tolist() == [r.res_label for r in split.gallery]
    assert feats.gallery[ctl.CAMERA_ORACLE].argmax(1).tolist() == [r.camid for r in split.gallery]
    unlabelled = split.__class__(**{**split.__dict__, "query": (ImageRecord("/x.jpg", 1, 0, 8, 16),)})
    with pytest.raises(ValueError, match="res_label"):
        ctl.with_oracles(_feats(unlabelled))


@pytest.mark.parametrize("lam", [0.1, 0.5, 3.0])
def test_resolution_oracle_leaves_lr_query_rankings_unchanged(lam: float) -> None:
    """Every gallery image is HR: D_r is the same for every gallery image of a query."""
    feats = ctl.with_oracles(_feats(_split("lr_query")))
    alone = scoring.score(feats, feature_model="bf", lam=0.0)
    for reading in ("similarity", "distance"):
        oracle = scoring.score(feats, feature_model="bf", resolution_model=ctl.RESOLUTION_ORACLE, lam=lam,
                               reading=reading)
        base = scoring.score(feats, feature_model="bf", lam=0.0, reading=reading)
        assert oracle == base
    assert alone["R1"] < 100      # the test is not vacuous: B-F alone makes mistakes


def test_resolution_oracle_can_change_multi_resolution_rankings() -> None:
    feats = ctl.with_oracles(_feats(_split("multi_res_gallery")))
    base = scoring.score(feats, feature_model="bf", lam=0.0)
    strong = scoring.score(feats, feature_model="bf", resolution_model=ctl.RESOLUTION_ORACLE, lam=5.0)
    assert strong != base


def test_shuffled_labels_keep_counts_and_break_the_link() -> None:
    split = _split("lr_query")
    shuffled = ctl.shuffled_resolution_labels(split, seed=3)
    assert Counter(r.res_label for r in shuffled.train) == Counter(r.res_label for r in split.train)
    assert [r.path for r in shuffled.train] == [r.path for r in split.train]
    assert [r.factor for r in shuffled.train] == [r.factor for r in split.train]
    agree = np.mean([a.res_label == b.res_label for a, b in zip(split.train, shuffled.train)])
    assert agree < 0.6
    assert ctl.shuffled_resolution_labels(split, seed=3) == shuffled


def test_control_rows_signs_and_ensemble() -> None:
    split = _split("multi_res_gallery")
    rows = ctl.controls(second_bf=True, untrained_br=False, shuffled_br=False)
    out = {r["method"]: r for r in ctl.control_rows(_feats(split), rows, lam=0.2, reading="similarity")}
    assert out["B-F (cosine)"]["lam"] == 0 and out["B-F+RFD"]["lam"] == pytest.approx(0.2)
    assert out["B-F + second B-F (lambda < 0, ensemble)"]["lam"] == pytest.approx(-0.2)
    feats = _feats(split)
    ensemble = scoring.score(feats, feature_model="bf", resolution_model="bf_seed2", lam=-0.2, ensemble=True)
    assert out["B-F + second B-F (lambda < 0, ensemble)"]["R1"] == ensemble["R1"]
    assert out["B-F (Euclidean)"] == {**scoring.score(feats, feature_model="bf", lam=0.0, reading="distance"),
                                      "method": "B-F (Euclidean)", "lam": 0.0}


def test_gains_and_paragraph() -> None:
    per = pd.DataFrame([
        {"protocol": p, "trial": t, "method": m, "R1": r}
        for p in ("lr_query", "multi_res_gallery") for t in range(2)
        for m, r in (("B-F (cosine)", 50.0), ("B-F+RFD", 52.0), ("B-F + resolution oracle", 50.0 if p == "lr_query" else 53.0),
                     ("B-F + untrained B-R", 52.0 if p == "lr_query" else 50.0))])
    gains = ctl.control_gains(per)
    assert gains.loc["B-F+RFD", "lr_query"] == pytest.approx(2.0)
    assert gains.loc["B-F + resolution oracle", "lr_query"] == 0.0
    text = ctl.controls_paragraph(gains)
    assert "On lr_query, RFD changes rank-1 by +2.0" in text
    assert "untrained B-R (+2.0)" in text and "need not come from resolution filtering" in text
    assert "only resolution-aware features" in text.split("On multi_res_gallery")[1]


def test_gains_average_inside_units_first() -> None:
    """A unit with many trials must not outweigh one with few: gains are the mean of unit means."""
    rows = []
    for unit, trials, gain in ((0, range(0, 3), 3.0), (1, range(3, 4), -1.0)):
        for t in trials:
            rows += [{"protocol": "lr_query", "unit": unit, "trial": t, "method": "B-F (cosine)", "R1": 50.0},
                     {"protocol": "lr_query", "unit": unit, "trial": t, "method": "B-F+RFD", "R1": 50.0 + gain}]
    gains = ctl.control_gains(pd.DataFrame(rows))
    assert gains.loc["B-F+RFD", "lr_query"] == pytest.approx(1.0)      # (3 + -1) / 2, not (3+3+3-1) / 4
    table = ctl.control_comparisons(pd.DataFrame(rows))
    row = table.set_index("control").loc["B-F+RFD"]
    assert row["units"] == 2 and row["95% interval"] == "not testable" and row["reading"] == "not testable"


def test_control_comparisons_over_three_units() -> None:
    rows = [{"protocol": p, "unit": u, "trial": u, "method": m, "R1": r}
            for p in ("lr_query", "multi_res_gallery") for u, d in enumerate((2.0, 3.0, 4.0))
            for m, r in (("B-F (cosine)", 40.0), ("B-F+RFD", 40.0 + d), ("B-F + camera oracle", 40.0))]
    table = ctl.control_comparisons(pd.DataFrame(rows)).set_index(["protocol", "control"])
    rfd = table.loc[("multi_res_gallery", "B-F+RFD")]
    assert rfd["units"] == 3 and rfd["R1 change"] == pytest.approx(3.0) and rfd["reading"] == "above zero"
    # no variance between units: not testable, whatever the mean
    assert table.loc[("lr_query", "B-F + camera oracle"), "reading"] == "not testable"
    # the paragraph reads the intervals: RFD is told from zero, the constant control is not testable
    per = pd.DataFrame(rows)
    text = ctl.controls_paragraph(ctl.control_gains(per), comparisons=ctl.control_comparisons(per))
    assert "Over 3 independent units, the 95% intervals tell from zero: B-F+RFD (+3.0, [" in text
    noisy = [dict(r, R1=r["R1"] + (0.5 - r["unit"] % 2) * 4) if r["method"] == "B-F + camera oracle" else r
             for r in rows]
    text = ctl.controls_paragraph(ctl.control_gains(pd.DataFrame(noisy)),
                                  comparisons=ctl.control_comparisons(pd.DataFrame(noisy)))
    assert "they do not for B-F + camera oracle" in text
    single = [r for r in rows if r["unit"] == 0]
    text = ctl.controls_paragraph(ctl.control_gains(pd.DataFrame(single)),
                                  comparisons=ctl.control_comparisons(pd.DataFrame(single)))
    assert "no change is testable" in text


def test_second_bf_is_the_next_units_model_on_fixed_splits() -> None:
    from reidlab.config import get_profile
    from reidlab.data.records import ReidDataset
    from reidlab.study.compute.rfd_trials import unit_profile

    prof = get_profile("smoke")
    fixed = ReidDataset(name="synth-market", root="/x", images=(), train=(), query=(), gallery=(), fixed_split=True)
    random_split = ReidDataset(name="viper", root="/x", images=(), train=(), query=(), gallery=(), fixed_split=False)
    assert ctl.second_bf_profile(prof, fixed, 0, 3) == unit_profile(prof, fixed, 1)
    assert ctl.second_bf_profile(prof, fixed, 2, 3) == unit_profile(prof, fixed, 0)       # wraps around
    # one unit, or random splits (the unit is the split): another seed on the same training set
    assert ctl.second_bf_profile(prof, fixed, 0, 1).bf.seed == prof.bf.seed + 1
    other = ctl.second_bf_profile(prof, random_split, 2, 5)
    assert other.bf.seed != prof.bf.seed and other.br == prof.br
