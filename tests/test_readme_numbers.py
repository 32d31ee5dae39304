"""README.md quotes no hand-typed result (issue 32): its headline numbers are one block rendered
from the committed ``results/`` (:mod:`reidlab.study.show.readme_numbers`), the block is current, and
the prose outside it holds no result-like number.

The prose check (:func:`result_like_numbers`) flags every decimal number (``28.5``, ``-4.0``,
``0.63``) and every percentage (``94%``) outside the generated block and outside fenced code
blocks, after removing the few kinds of number that are not results of this study. Each kind is
one entry of :data:`NOT_RESULTS`, with the reason it is not a result; a number that fits none of
them belongs in the generated block (add it to ``metrics.json`` and a row of
``readme_numbers.ROWS``) or in ``docs/history.md``, the dated record. Integers without a percent
sign (counts of seeds, splits, iterations, image sizes) are settings and are not flagged.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reidlab.study.show import readme_numbers as rn

#: (pattern, why such a number is not a result of the study). Matched on the prose with its
#: whitespace collapsed (so a phrase may wrap across lines), and removed before the scan.
NOT_RESULTS: tuple[tuple[str, str], ...] = (
    (r"\d+(?:\.\d+)?(?: to \d+(?:\.\d+)?)? ?(?:min|minutes|s|seconds|hours|GPU-hours)\b",
     "a wall time, measured by hand on a processor and at a commit the README names (*Time it takes*): "
     "a timing of make test / make reproduce, not a result; the committed run's own recorded time is in "
     "the generated block"),
    (r"arXiv[: ]\d{4}\.\d{4,5}", "an arXiv identifier of a paper"),
    (r"Sec\. \d+\.\d+(?:, \d+\.\d+)*", "a section number of a paper"),
    (r"95% (?:Student-t )?interval", "the confidence level of every interval, a setting of the statistics"),
    (r"lambda = 0\.1|lambda 0\.1", "RFD's published Eq. 8 weight, a setting the `paper` profile uses"),
    (r"L_triplet\(0\.3\)", "PS-HRNet's published triplet margin, part of its loss equation"),
    (r"1\.15 x label-smoothed CE|0\.5 x L1\(SR, HR\)|0\.5 x six L1",
     "PS-HRNet's published loss weights (the authors' recipe, *Known differences*)"),
)


def _prose(text: str) -> str:
    """``text`` without its generated block and fenced code blocks (commands, not prose), with
    its whitespace collapsed."""
    text = text.replace(rn.generated_block(text), " ")
    text = re.sub(r"^```.*?^```", " ", text, flags=re.S | re.M)
    return re.sub(r"\s+", " ", text)


#: a decimal number or a percentage, not inside a longer token (``v15.09.15``, ``x2``, a hash)
RESULT_LIKE = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)+%?(?![\w.]*\w)|(?<![\w.])\d+ ?%")


def result_like_numbers(text: str) -> list[str]:
    """Each result-like number of ``text``'s prose, with some context, after :data:`NOT_RESULTS`."""
    prose = _prose(text)
    for pattern, _ in NOT_RESULTS:
        prose = re.sub(pattern, " ", prose)
    return [prose[max(0, m.start() - 40):m.end() + 20] for m in RESULT_LIKE.finditer(prose)]


# ----------------------------------------------------------------------------- the README

def test_readme_block_is_rendered_from_the_committed_results() -> None:
    text = rn.README.read_text(encoding="utf-8")
    assert rn.generated_block(text, rn.README) == rn.render(rn.RESULTS), (
        "README.md's headline numbers are stale against results/: run `python -m reidlab.study.show.readme_numbers`")
    assert rn.main(["--check"]) == 0


def test_readme_prose_quotes_no_hand_typed_result() -> None:
    found = result_like_numbers(rn.README.read_text(encoding="utf-8"))
    assert not found, ("README.md quotes result-like numbers outside its generated block; render them from "
                       "results/ (reidlab/study/show/readme_numbers.py) or move them to docs/history.md:\n  "
                       + "\n  ".join(found))


def test_the_prose_check_catches_results_and_spares_settings() -> None:
    block = f"{rn.BEGIN}\n| B-F | 28.5 |\n{rn.END}"
    clean = (f"# x\n\n{block}\n\nRFD (arXiv:2109.07871, Sec. 3.1, 4.3) with lambda = 0.1 took 14.6 min "
             "(3 to 5.5 min install) on 2 cores, 3 seeds, 96x48, commit 4ce4818; a 95% interval.\n"
             "```bash\nmake reproduce DATA_ROOT=/data/Market-1501-v15.09.15   # 12.5\n```\n")
    assert result_like_numbers(clean) == []
    for planted in ("B-F reaches 28.5 rank-1", "RFD changes R1 by -4.0 points", "kappa 0.15 at 96 images",
                    "B-R scores 94% on the factor classes", "a balanced\n31.8"):
        found = result_like_numbers(clean + "\n" + planted + "\n")
        assert len(found) == 1, (planted, found)


# --------------------------------------------------------------------- render and update

def _study(folder: Path, metrics: dict, info: dict, claims: list[dict] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "run_info.json").write_text(json.dumps(info))
    if claims is not None:
        (folder / "04_ablations.json").write_text(json.dumps({"notebook": "04_ablations", "data": {"claims": claims}}))


@pytest.fixture
def fake_results(tmp_path: Path) -> Path:
    results = tmp_path / "results"
    _study(results, {"bf_hr_to_hr_r1": 32.1, "bf_lr_to_hr_r1": 28.5, "rfd_gain_r1_lr_query": -0.3,
                     "rfd_gain_r1_lr_query_ci_low": -0.8, "rfd_gain_r1_lr_query_ci_high": 0.2,
                     "rfd_gain_units_lr_query": 3.0, "camera_cue_kappa": 0.63, "camera_cue_kappa_matched": 0.15,
                     "br_accuracy": 94.0, "br_chance": 25.0, "reproduce_minutes": 12.6,
                     "rfd_gain_r1_caviar_lr_query": -5.8, "rfd_gain_r1_caviar_lr_query_ci_low": None,
                     "rfd_gain_r1_caviar_lr_query_ci_high": None, "rfd_gain_units_caviar_lr_query": 2.0},
           {"profile": "quick", "dataset": "profile default",
            "code": {"commit": "4ce4818e87bd2ac7251c6dc5716d29c2dac3febc", "tree": "clean"},
            "precision": {"cpu_model": "AMD EPYC", "precision": "bf16"},
            "notebooks": {"03_rfd_eval": {"commit": "4ce4818e87", "cpu_model": "AMD EPYC", "precision": "bf16"},
                          "04_ablations": {"commit": "4ce4818e87", "cpu_model": "AMD EPYC", "precision": "bf16"},
                          "06_ps_hrnet": {"code": {"commit": "eaf2968aa"}}, "07_controls": "not a record"}},
           [{"claim": "RFD over B-F", "data (ours)": "Market-like", "paper's effect (R1)": "+1.4",
             "our effect (R1)": "-4.0", "95% interval": "[-7.2, -0.8]", "units": "3 (training seeds)",
             "verdict": "opposite sign"}])
    _study(results / "grid", {"bf_lr_to_hr_r1": 7.3, "br_accuracy": None, "reproduce_minutes": None},
           {"profile": "quick", "dataset": "grid", "code": {"commit": "abcdef0123"}, "device": "cuda:0",
            "precision": {"cpu_model": "Intel Xeon", "precision": "fp32"},
            "reproduce_minutes_note": "not one complete run: 06_ps_hrnet not run by it"})
    (results / "figures").mkdir()                       # a folder without metrics.json: not a study
    return results


def test_render_on_a_fake_results_folder(fake_results: Path) -> None:
    block = rn.render(fake_results)
    lines = block.splitlines()
    assert lines[0] == rn.BEGIN and lines[-1] == rn.END
    assert [name for name, _ in rn.studies(fake_results)] == ["embedded", "grid"]
    for expected in (
        "| embedded (`results/`) | quick | profile default | `4ce4818` (clean tree) | AMD EPYC | bf16 | 12.6 |",
        "| grid (`results/grid/`) | quick | grid | `abcdef0` | Intel Xeon, cuda:0 | fp32 | n/a |",
        "| number | `metrics.json` key | embedded | grid |",
        "| B-F rank-1, HR / LR queries (%) | `bf_hr_to_hr_r1, bf_lr_to_hr_r1` | 32.1 / 28.5 | n/a / 7.3 |",
        "| RFD over B-F, LR queries (R1 points, 95% interval) | `rfd_gain_r1_lr_query` | -0.3 [-0.8, +0.2], 3 units | n/a |",
        "| RFD over B-F, CAVIAR-like single-resolution | `rfd_gain_r1_caviar_lr_query` | -5.8 not testable, 2 units | n/a |",
        "| B-R accuracy on the factor classes (%) | `br_accuracy` | 94.0 (chance 25.0) | n/a |",
        "| camera cue kappa, all images / matched sample | `camera_cue_kappa, camera_cue_kappa_matched` | 0.63 / 0.15 | n/a |",
        "| embedded | RFD over B-F | Market-like | +1.4 | -4.0 | [-7.2, -0.8] | 3 (training seeds) | opposite sign |",
    ):
        assert expected in lines, expected
    assert ("The embedded study's notebooks were made by different code or processors: "
            "`4ce4818`, AMD EPYC, bf16: 03_rfd_eval, 04_ablations; `eaf2968`: 06_ps_hrnet.") in lines
    assert "No wall time for the grid study: not one complete run: 06_ps_hrnet not run by it." in lines
    assert not any("PS-HRNet" in line for line in lines)        # no study has the number: no row
    assert rn.render(fake_results) == block                     # deterministic


def test_update_rewrites_the_block_in_place_and_names_a_readme_without_one(fake_results: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n\n{rn.BEGIN}\n| stale | 1.0 |\n{rn.END}\n\nafter\n")
    assert rn.main(["--check", "--readme", str(readme), "--results", str(fake_results)]) == 1
    assert rn.update(readme, fake_results) is True
    text = readme.read_text()
    assert text == f"# title\n\nbefore\n\n{rn.render(fake_results)}\n\nafter\n"
    assert rn.update(readme, fake_results) is False and readme.read_text() == text
    assert rn.main(["--check", "--readme", str(readme), "--results", str(fake_results)]) == 0
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]     # no temporary left
    bare = tmp_path / "BARE.md"
    bare.write_text(f"# no block\n{rn.END}\n")
    with pytest.raises(ValueError, match=r"BARE\.md: no generated headline-numbers block"):
        rn.update(bare, fake_results)
    assert rn.main(["--readme", str(bare), "--results", str(fake_results)]) == 1


def test_refresh_leaves_the_readme_alone_for_any_other_results_folder(fake_results: Path, monkeypatch) -> None:
    monkeypatch.setattr(rn, "update", lambda *a, **k: pytest.fail("README.md rewritten from a test's results"))
    assert rn.refresh(fake_results) is False
    assert rn.refresh(fake_results / "grid") is False
