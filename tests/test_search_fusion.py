"""utils.search.fusion: RRF and score fusion by hand, ties, missing documents, errors."""

from __future__ import annotations

import numpy as np
import pytest

from utils.search.fusion import reciprocal_rank_fusion, score_fusion


def test_rrf_by_hand():
    ids, s = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)
    want = {1: 1 / 61 + 1 / 62, 2: 1 / 62, 3: 1 / 63 + 1 / 61}
    assert ids.tolist() == [1, 3, 2]
    assert np.allclose(s, [want[i] for i in ids.tolist()])


def test_rrf_weights_ties_and_top():
    ids, _ = reciprocal_rank_fusion([[5], [7]])  # equal scores: smaller id first
    assert ids.tolist() == [5, 7]
    ids, _ = reciprocal_rank_fusion([[5], [7]], weights=[1, 2])
    assert ids.tolist() == [7, 5]
    ids, _ = reciprocal_rank_fusion([[1, 2, 3]], top=2)
    assert ids.tolist() == [1, 2]
    ids, s = reciprocal_rank_fusion([[], []])
    assert ids.size == 0 and s.size == 0


def test_score_fusion_minmax_and_missing_documents():
    ids, s = score_fusion([[1, 2], [2, 3]], [[10.0, 0.0], [0.9, 0.1]])
    # list 1: 1->1, 2->0; list 2: 2->1, 3->0; a missing document gets the list's floor 0
    assert dict(zip(ids.tolist(), s.tolist(), strict=True)) == {1: 1.0, 2: 1.0, 3: 0.0}
    ids, _ = score_fusion([[1, 2], [2, 3]], [[10.0, 0.0], [0.9, 0.1]], weights=[1, 3])
    assert ids.tolist()[0] == 2
    ids, _ = score_fusion([[1, 2]], [[3.0, 1.0]], normalization="zscore")
    assert ids.tolist() == [1, 2]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: reciprocal_rank_fusion([]), "non-empty"),
        (lambda: reciprocal_rank_fusion([[1, 1]]), "repeats"),
        (lambda: reciprocal_rank_fusion([[1.5]]), "integer ids"),
        (lambda: reciprocal_rank_fusion([[1]], k=-1), "k must"),
        (lambda: reciprocal_rank_fusion([[1]], weights=[0]), "weights"),
        (lambda: reciprocal_rank_fusion([[1]], top=0), "top"),
        (lambda: score_fusion([[1]], [[1.0], [2.0]]), "2 arrays for 1"),
        (lambda: score_fusion([[1]], [[np.nan]]), "finite"),
        (lambda: score_fusion([[1]], [[1.0]], normalization="rank"), "normalization"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
