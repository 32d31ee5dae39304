"""The transcribed published tables (RFD Tables 1-5, PS-HRNet Table I) and derived numbers."""
from __future__ import annotations

import pandas as pd
import pytest

from reidlab.study import published
from reidlab.study.compute import ablations
from reidlab.study.published import (PUBLISHED_ROWS, TABLE4_ROW_OF, TABLE5_ROW_OF, TABLES,
                                     published_ablation, published_effects, published_table,
                                     reference_rows, reference_view, with_reference_rows)


def _row(table: str, dataset: str, method: str) -> published.PublishedRow:
    paper, number = TABLES[table]
    (row,) = [r for r in PUBLISHED_ROWS
              if (r.paper, r.table, r.dataset, r.method) == (paper, number, dataset, method)]
    return row


@pytest.mark.parametrize("table, dataset, method, expected", [
    ("RFD-1", "MLR-Market-1501", "SING", (74.4, 87.8, 91.6)),
    ("RFD-1", "MLR-Market-1501", "RIPR", (66.9, 84.7, None)),
    ("RFD-1", "MLR-Market-1501", "(B-F+RFD) Proposed", (86.9, 95.6, 97.4)),
    ("RFD-2", "MLR-DukeMTMC-reID", "MSA", (79.1, 90.0, None)),
    ("RFD-2", "MLR-DukeMTMC-reID", "baseline B-F", (82.0, 90.8, 92.7)),
    ("RFD-3", "CAVIAR", "PRI", (45.2, 84.1, 94.6)),
    ("RFD-3", "CAVIAR", "(B-F+RFD) Proposed", (47.6, 89.2, 96.0)),
    ("RFD-4", "MLR-Market-1501", "Bicubic", (83.1, 96.0, None)),
    ("RFD-4", "MLR-DukeMTMC-reID", "Multi-Reso+RFD", (83.0, 91.8, None)),
    ("RFD-4", "MLR-DukeMTMC-reID", "Bilinear", (82.2, 92.1, None)),
    ("RFD-5", "CAVIAR", "Multi-Reso", (55.5, 90.6, 91.5)),
    ("RFD-5", "CAVIAR", "multi-Reso+RFD", (56.4, 90.6, 92.2)),
    ("PSHRNet-I", "MLR-CUHK03", "CSR-GAN", (71.3, 92.1, 97.4)),
    ("PSHRNet-I", "MLR-VIPeR", "ID+SR+PS (PS-HRNet)", (48.7, 73.4, 81.7)),
    ("PSHRNet-I", "CAVIAR", "ID+SR", (48.2, 84.5, 96.3)),
])
def test_spot_checks(table, dataset, method, expected):
    r = _row(table, dataset, method)
    assert (r.r1, r.r5, r.r10) == expected
    assert r.map_ is None  # neither paper prints mAP in these tables


def test_row_counts():
    counts = {key: len(published_table(key)) for key in TABLES}
    assert counts == {"RFD-1": 12, "RFD-2": 11, "RFD-3": 11, "RFD-4": 10, "RFD-5": 3, "PSHRNet-I": 38}


def test_not_reported_cells_left_out():
    assert published_table("PSHRNet-I", "MLR-VIPeR").query("method == 'PRI'").empty
    assert published_table("PSHRNet-I", "CAVIAR").query("method == 'ID+SR+PS (PS-HRNet)'").empty


@pytest.mark.parametrize("row", PUBLISHED_ROWS, ids=lambda r: f"{r.table}-{r.dataset}-{r.method}")
def test_metrics_in_range_and_ordered(row):
    metrics = (row.r1, row.r5, row.r10, row.map_)
    assert all(v is None or 0.0 <= v <= 100.0 for v in metrics)
    assert row.r1 is not None
    given = [v for v in (row.r1, row.r5, row.r10) if v is not None]
    assert given == sorted(given)


def test_tables_non_empty_and_unique():
    for key in TABLES:
        assert not published_table(key).empty, key
    keys = [(r.paper, r.table, r.dataset, r.method) for r in PUBLISHED_ROWS]
    assert len(keys) == len(set(keys))


def test_effects_are_row_differences():
    effects = published_effects()
    assert len(effects) == 6
    for e in effects:
        diff = _row(e.table, e.dataset, e.method).r1 - _row(e.table, e.dataset, e.baseline).r1
        assert e.effect_r1 == pytest.approx(diff, abs=1e-9)
    got = {(e.table, e.dataset): e.effect_r1 for e in effects}
    # the project's notes: +1.4 / +0.9 / +3.3 (B-F+RFD over B-F), +1.4 / +1.5 / +0.9 (multi-res)
    assert got == {("RFD-1", "MLR-Market-1501"): 1.4, ("RFD-2", "MLR-DukeMTMC-reID"): 0.9,
                   ("RFD-3", "CAVIAR"): 3.3, ("RFD-4", "MLR-Market-1501"): 1.4,
                   ("RFD-4", "MLR-DukeMTMC-reID"): 1.5, ("RFD-5", "CAVIAR"): 0.9}


def test_pshrnet_abstract_gains_match_table():
    # the abstract's rank-1 gains are the best PS-HRNet row (ID+SR on CAVIAR) minus INTACT
    for ds, gain in published.PSHRNET_ABSTRACT_RANK1_GAIN.items():
        ours = "ID+SR" if ds == "CAVIAR" else "ID+SR+PS (PS-HRNet)"
        diff = _row("PSHRNet-I", ds, ours).r1 - _row("PSHRNet-I", ds, "INTACT").r1
        assert diff == pytest.approx(gain, abs=1e-9), ds


def test_single_reso_rows_are_tables_1_to_3_bf():
    for t4ds, table in (("MLR-Market-1501", "RFD-1"), ("MLR-DukeMTMC-reID", "RFD-2")):
        s, b = _row("RFD-4", t4ds, "Single-Reso"), _row(table, t4ds, "baseline B-F")
        assert (s.r1, s.r5) == (b.r1, b.r5)
    s, b = _row("RFD-5", "CAVIAR", "Single-Reso"), _row("RFD-3", "CAVIAR", "baseline B-F")
    assert (s.r1, s.r5, s.r10) == (b.r1, b.r5, b.r10)


def test_row_maps_cover_our_ablation_rows():
    assert tuple(TABLE4_ROW_OF) == ablations.TABLE4_ROWS
    assert tuple(TABLE5_ROW_OF) == ablations.TABLE5_ROWS
    for table, row_of in (("RFD-4", TABLE4_ROW_OF), ("RFD-5", TABLE5_ROW_OF)):
        printed = set(published_table(table)["method"])
        assert {v for v in row_of.values() if v is not None} <= printed


def test_published_ablation():
    t4 = published_ablation("RFD-4", "MLR-Market-1501")
    assert list(t4["row"]) == list(ablations.TABLE4_ROWS)
    assert t4.set_index("row").loc["Single-Reso+RFD", "R1"] == 86.9
    assert t4.set_index("row").loc["Multi-Reso", "R1"] == 84.2
    t5 = published_ablation("RFD-5", "CAVIAR")
    assert list(t5["row"]) == list(ablations.TABLE5_ROWS)
    assert t5.set_index("row").loc["Single-Reso+RFD", "paper table"] == "3"
    assert t5.set_index("row").loc["Multi-Reso+RFD", "R1"] == 56.4
    with pytest.raises(KeyError):
        published_ablation("RFD-1", "CAVIAR")


def test_reference_view_and_rows():
    view = reference_view("synth-market")
    assert not view.empty
    assert view["source"].str.startswith("published").all()
    assert "(B-F+RFD) Proposed" in set(view["method"])
    assert set(reference_rows("dukemtmc")["dataset"]) == {"MLR-DukeMTMC-reID"}
    assert reference_rows("grid").empty
    caviar = reference_rows("synth-caviar", tables=("RFD-5",))
    assert list(caviar["method"]) == ["Single-Reso", "Multi-Reso", "multi-Reso+RFD"]


def test_with_reference_rows_appends():
    ours = pd.DataFrame({"source": ["ours"], "protocol": ["lr_query"], "method": ["B-F"],
                         "R1": ["1.0 ± 0.1"], "R5": ["2.0 ± 0.1"]})
    out = with_reference_rows(ours, "synth-market", tables=("PSHRNet-I",), protocol="lr_query (paper)")
    assert len(out) == 1 + 8
    assert list(out.columns) == ["source", "protocol", "method", "R1", "R5"]
    assert out.iloc[-1]["R1"] == "91.5" and out.iloc[-1]["R5"] == "96.7"
    assert with_reference_rows(ours, "prid") is ours
