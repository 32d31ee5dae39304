"""The ranking explorer's headless numbers (reidlab/study/show/explorer.py, notebook 08) on small
constructed trials: which query's ranking lambda changes, the line the widget prints, and the
errors that name a bad ``trial`` or ``query`` parameter. No model, no data files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reidlab.data.records import ImageRecord
from reidlab.study.show import explorer

#: identities of the constructed gallery (two images of identity 1)
GALLERY_PIDS = (1, 1, 2, 3, 4)


def _trial(base: list[list[float]], delta: list[list[float]], q_pids: tuple[int, ...],
           g_pids: tuple[int, ...] = GALLERY_PIDS) -> explorer.TrialRanking:
    """A trial of ``len(q_pids)`` queries (camera 0) against ``g_pids`` (camera 1, so no gallery
    image is left out), ranked by ``base + lam * delta``."""
    query = tuple(ImageRecord(f"/q{i}.jpg", pid, 0, 8, 16) for i, pid in enumerate(q_pids))
    gallery = tuple(ImageRecord(f"/g{j}.jpg", pid, 1, 8, 16) for j, pid in enumerate(g_pids))
    return explorer.TrialRanking(0, 0, torch.tensor(base, dtype=torch.float64), torch.tensor(delta, dtype=torch.float64),
                                 query, gallery, np.array(q_pids), np.array(g_pids),
                                 np.zeros(len(q_pids), dtype=int), np.ones(len(g_pids), dtype=int))


#: B-F alone: every query ranks the gallery 0, 1, 2, 3, 4 (identities 1, 1, 2, 3, 4)
BASE = [[0.1, 0.2, 0.3, 0.4, 0.5]] * 3
NO_CHANGE = [[0.0] * 5] * 3


def _changed_for(query: int) -> list[list[float]]:
    """Eq. 8's lambda term that, at lambda 0.5, moves gallery image 4 (identity 4) to the top of
    ``query``'s ranking only."""
    delta = [row[:] for row in NO_CHANGE]
    delta[query][4] = -1.0
    return delta


@pytest.mark.parametrize("k", [0, 1, 2])
def test_the_query_whose_ranking_lambda_changes_is_found(k):
    trial = _trial(BASE, _changed_for(k), q_pids=(1, 2, 3))
    assert explorer.query_with_changed_ranking(trial, lams=(0.0, 0.5), topk=3) == k
    assert explorer.top_identities(trial, k, 0.0, 3) == (1, 1, 2)
    assert explorer.top_identities(trial, k, 0.5, 3) == (4, 1, 1)
    assert explorer.choose_query(trial, None, topk=3).query == k


def test_a_query_without_a_true_match_is_passed_over():
    delta = _changed_for(0)
    delta[2][4] = -1.0
    trial = _trial(BASE, delta, q_pids=(9, 2, 3))     # identity 9 is not in the gallery
    assert explorer.query_with_changed_ranking(trial) == 2


def test_no_query_is_found_when_lambda_changes_no_ranking():
    """A fusion that ignores lambda (Eq. 8's term D(1) - D(0) zero) changes no ranking: ``None``,
    and notebook 08 falls back to query 0 saying why."""
    trial = _trial(BASE, NO_CHANGE, q_pids=(1, 2, 3))
    assert explorer.query_with_changed_ranking(trial) is None
    choice = explorer.choose_query(trial, None)
    assert choice.query == 0 and choice.reason.startswith("query 0: no query of trial 0 with a true match")


def test_a_change_below_the_top_k_or_between_images_of_one_identity_is_no_change():
    below = [row[:] for row in NO_CHANGE]
    below[1][4], below[1][3] = -0.25, 0.25           # at 0.5: ... 2, 4, 3 instead of 2, 3, 4: below the top 3
    assert explorer.query_with_changed_ranking(_trial(BASE, below, q_pids=(1, 2, 3)), topk=3) is None
    assert explorer.query_with_changed_ranking(_trial(BASE, below, q_pids=(1, 2, 3)), topk=5) == 1
    same_person = [row[:] for row in NO_CHANGE]
    same_person[2][1] = -0.5                         # gallery images 0 and 1 (both identity 1) swap
    trial = _trial(BASE, same_person, q_pids=(1, 2, 3))
    assert explorer.query_ranking(trial, 2, 0.0).top != explorer.query_ranking(trial, 2, 0.5).top
    assert explorer.query_with_changed_ranking(trial) is None


def test_an_explicit_query_is_kept_and_a_bad_one_is_named():
    trial = _trial(BASE, _changed_for(2), q_pids=(1, 2, 3))
    assert explorer.choose_query(trial, 1) == explorer.QueryChoice(1, "query 1: as given (parameter query=1)")
    with pytest.raises(ValueError, match=r"query=3 is out of range: trial 0 has queries 0-2"):
        explorer.choose_query(trial, 3)
    with pytest.raises(ValueError, match=r"query=-1 is out of range"):
        explorer.choose_query(trial, -1)
    with pytest.raises(TypeError, match=r"query='1' is not valid"):
        explorer.choose_query(trial, "1")
    with pytest.raises(ValueError, match=r"topk=0 is not valid"):
        explorer.choose_query(trial, None, topk=0)
    with pytest.raises(ValueError, match=r"lams=\(0.5,\) is not valid"):
        explorer.query_with_changed_ranking(trial, lams=(0.5,))


def test_a_trial_that_is_not_stored_is_named():
    bundle = {"trials": [_trial(BASE, NO_CHANGE, q_pids=(1, 2, 3))]}
    assert explorer.trial_of(bundle, 0, source="synth / lr_query") is bundle["trials"][0]
    with pytest.raises(ValueError, match=r"trial=2 is out of range: synth / lr_query holds trials \[0\]"):
        explorer.trial_of(bundle, 2, source="synth / lr_query")
    # issue 35: -p trial -1 showed the last trial labelled "trial -1"; -p trial 99 an IndexError
    for bad in (-1, 99):
        with pytest.raises(ValueError, match=rf"trial={bad} is out of range"):
            explorer.trial_of(bundle, bad, source="synth / lr_query")
    with pytest.raises(TypeError, match=r"trial=None is not valid"):
        explorer.trial_of(bundle, None, source="synth / lr_query")


def test_the_printed_ranking_line_reads_back():
    trial = _trial(BASE, _changed_for(1), q_pids=(1, 2, 3))
    line = explorer.ranking_line(trial, 1, 0.5, topk=4)
    assert line == "lambda 0.50, trial 0, query 1 (identity 2): gallery identities in rank order: 4, 1, 1, 2"
    page = f"data synth\n{line}\n   method  lambda  rank of the true match\n0  B-F  0.0  3\n"
    assert explorer.read_ranking_line(page) == explorer.ShownRanking(0.5, 0, 1, (4, 1, 1, 2))
    assert explorer.read_ranking_line("no ranking here") is None
