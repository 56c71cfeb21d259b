"""Unit tests for utils.pymk.impressions: negative samplers, the impression simulator and
candidate scoring."""

import numpy as np
import pytest

from utils.graph import CSRGraph, adamic_adar, evaluate_link_prediction
from utils.pymk.impressions import (
    CandidateScores,
    ImpressionLog,
    candidate_negatives,
    hard_negatives,
    labelled_pairs,
    positive_pairs,
    random_negatives,
    shown_lists,
    simulate_impressions,
)


def _graph() -> CSRGraph:
    # two triangles joined by a path, plus isolated nodes 8 and 9
    u = [0, 0, 1, 2, 3, 4, 4, 5, 6]
    v = [1, 2, 2, 3, 4, 5, 6, 6, 7]
    return CSRGraph.from_edges(u, v, 10)


def _neighbours(g: CSRGraph, u: int) -> set[int]:
    return set(g.indices[g.indptr[u] : g.indptr[u + 1]].tolist())


def test_positive_pairs_both_directions_and_filter():
    p = positive_pairs(np.array([[0, 3], [5, 1]]), 10)
    assert p.tolist() == [[0, 3], [1, 5], [3, 0], [5, 1]]
    assert positive_pairs(np.array([[0, 3], [5, 1]]), 10, sources=[0, 1]).tolist() == [
        [0, 3],
        [1, 5],
    ]


def test_positive_pairs_bad_input():
    with pytest.raises(ValueError, match="targets"):
        positive_pairs(np.array([0, 1]), 10)
    with pytest.raises(ValueError, match="targets"):
        positive_pairs(np.array([[0, 12]]), 10)
    with pytest.raises(TypeError, match="targets"):
        positive_pairs(np.array([[0.5, 1.0]]), 10)


def test_random_negatives_exclude_self_neighbours_and_targets():
    g = _graph()
    targets = np.array([[0, 3], [9, 0]])
    neg = random_negatives(g, [0, 4], 100, exclude=targets, seed=0)
    for u, v in neg.tolist():
        assert v != u and v not in _neighbours(g, u)
        assert (u, v) not in {(0, 3), (0, 9)}
    # the pool of 0 is {4, 5, 6, 7, 8}: 10 nodes minus itself, 2 neighbours, 2 targets
    assert sorted(neg[neg[:, 0] == 0, 1].tolist()) == [4, 5, 6, 7, 8]
    assert len(neg) == len(np.unique(neg, axis=0))


def test_random_negatives_seeded_and_uniform():
    g = _graph()
    a = random_negatives(g, [0], 2, seed=3)
    b = random_negatives(g, [0], 2, seed=3)
    assert np.array_equal(a, b)
    counts = np.zeros(10)
    for s in range(400):
        counts[random_negatives(g, [0], 1, seed=s)[:, 1]] += 1
    pool = [3, 4, 5, 6, 7, 8, 9]
    assert counts[[0, 1, 2]].sum() == 0
    assert counts[pool].min() > 30  # about 57 each under uniform sampling


def test_hard_negatives_are_two_hop_non_neighbours():
    g = _graph()
    neg = hard_negatives(g, [0, 3], 10, seed=0)
    assert sorted(neg[neg[:, 0] == 0, 1].tolist()) == [3]
    assert sorted(neg[neg[:, 0] == 3, 1].tolist()) == [0, 1, 5, 6]
    assert hard_negatives(g, [0], 10, exclude=np.array([[3, 0]])).shape == (0, 2)
    capped = hard_negatives(g, [3], 2, seed=0)
    assert len(capped) == 2 and set(capped[:, 1]) <= {0, 1, 5, 6}


def test_samplers_bad_input():
    g = _graph()
    with pytest.raises(ValueError, match="n_per_source"):
        random_negatives(g, [0], 0)
    with pytest.raises(ValueError, match="sources"):
        hard_negatives(g, [11], 2)
    with pytest.raises(TypeError, match="graph"):
        random_negatives("g", [0], 2)
    with pytest.raises(ValueError, match="exclude"):
        random_negatives(g, [0], 2, exclude=np.array([1, 2]))


def test_labelled_pairs_sorted_and_conflicts():
    pos = np.array([[2, 1], [0, 3]])
    neg = np.array([[0, 5], [2, 1]])
    with pytest.raises(ValueError, match="negatives"):
        labelled_pairs(pos, neg)
    pairs, y = labelled_pairs(pos, neg, on_conflict="positive")
    assert pairs.tolist() == [[0, 3], [0, 5], [2, 1]]
    assert y.tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="on_conflict"):
        labelled_pairs(pos, neg, on_conflict="drop")
    with pytest.raises(ValueError, match="at least one"):
        labelled_pairs(pos, np.empty((0, 2), np.int64))


def test_shown_lists_is_top_k_of_friends_of_friends():
    g = _graph()
    shown = shown_lists(adamic_adar(g), g, [3, 0, 8], k=3)
    assert shown.shape == (3, 3)
    # 0's only friend of friend is 3; 8 is isolated: padded with -1
    assert shown[1].tolist() == [3, -1, -1]
    assert shown[2].tolist() == [-1, -1, -1]
    assert set(shown[0].tolist()) <= {0, 1, 5, 6}
    scores = adamic_adar(g)(np.array([3]))[0]
    assert scores[shown[0][0]] == scores[[0, 1, 5, 6]].max()


def test_shown_lists_bad_input():
    g = _graph()
    with pytest.raises(ValueError, match="score_fn"):
        shown_lists(lambda s: np.zeros((len(s), 3)), g, [0])
    with pytest.raises(ValueError, match="score_fn"):
        shown_lists(lambda s: np.full((len(s), 10), np.nan), g, [0])
    with pytest.raises(ValueError, match="k"):
        shown_lists(adamic_adar(g), g, [0], k=0)


def test_simulator_follows_its_model():
    # 2,000 sources, each shown the same ten ids; the first five are real ties
    n_src, k = 2000, 10
    sources = np.arange(100, 100 + n_src)
    shown = np.tile(np.arange(k), (n_src, 1))
    targets = np.stack([np.repeat(sources, 5), np.tile(np.arange(5), n_src)], axis=1)
    log = simulate_impressions(shown, sources, targets, eta=1.0, p_tie=0.6, p_noise=0.05, seed=1)
    assert isinstance(log, ImpressionLog) and len(log) == n_src * k
    assert log.relevant.sum() == n_src * 5
    assert not (log.accepted & ~log.examined).any()
    bp = log.by_position()
    assert np.allclose(bp["p_examine"], 1.0 / np.arange(1, k + 1))
    # observed accept rate = P(examine) * P(accept | examined), within sampling error
    expected = bp["p_examine"] * np.where(bp.index < 5, 0.6, 0.05)
    assert np.all(np.abs(bp["accept_rate"] - expected) < 0.04)
    # seeded
    again = simulate_impressions(shown, sources, targets, eta=1.0, p_tie=0.6, p_noise=0.05, seed=1)
    assert np.array_equal(log.accepted, again.accepted)
    # no position bias with eta = 0
    flat = simulate_impressions(shown, sources, targets, eta=0.0, p_tie=0.6, p_noise=0.05)
    assert flat.examined.all()
    acc = flat.pairs(accepted=True)
    assert len(acc) + len(flat.pairs(accepted=False)) == len(flat)


def test_simulator_skips_empty_slots_and_bad_input():
    shown = np.array([[3, -1], [-1, -1]])
    log = simulate_impressions(shown, [0, 1], np.array([[0, 3]]), seed=0)
    assert len(log) == 1 and log.relevant.tolist() == [True]
    with pytest.raises(ValueError, match="sources"):
        simulate_impressions(shown, [0], np.array([[0, 3]]))
    with pytest.raises(ValueError, match="p_tie"):
        simulate_impressions(shown, [0, 1], np.array([[0, 3]]), p_tie=1.5)
    with pytest.raises(ValueError, match="eta"):
        simulate_impressions(shown, [0, 1], np.array([[0, 3]]), eta=-1.0)
    with pytest.raises(TypeError, match="shown"):
        simulate_impressions(np.array([[0.5]]), [0], np.array([[0, 3]]))
    with pytest.raises(ValueError, match="shown"):
        simulate_impressions(np.array([[-2]]), [0], np.array([[0, 3]]))


def test_candidate_scores_and_negatives_match_structural_ranker():
    g = _graph()
    sources = np.array([0, 3, 4])
    cs = CandidateScores(g, sources, n_katz=5, n_costar=0)
    assert len(cs) > 0
    # scoring by common neighbours (feature 0) reproduces the CN ranking on the candidates
    fn = cs.score_fn(lambda x: x[:, 0] - 0.5)
    out = fn(np.array([3]))
    assert out.shape == (1, g.n_nodes)
    cand3 = cs.cand[cs.src == 3]
    assert (out[0, cand3] > 0).all()
    others = np.setdiff1d(np.arange(g.n_nodes), cand3)
    assert (out[0, others] < 0).all()
    # 7 is three hops from 3: no common neighbour, so it ranks below the four friends of friends
    res = evaluate_link_prediction(fn, g, np.array([[3, 7]]), k=4, sources=np.array([3]))
    assert res["hits@4"] == 0.0
    res = evaluate_link_prediction(fn, g, np.array([[3, 0]]), k=4, sources=np.array([3]))
    assert res["hits@4"] == 1.0
    assert cs.recall(np.array([[3, 5], [0, 9]])) == 0.5
    with pytest.raises(ValueError, match="sources"):
        fn(np.array([1]))
    with pytest.raises(ValueError, match="predict"):
        cs.score_fn(lambda x: np.zeros(3))
    neg = candidate_negatives(g, sources, 2, exclude=np.array([[3, 5]]), n_katz=5, n_costar=0)
    keys = set(map(tuple, np.stack([cs.src, cs.cand], 1).tolist()))
    assert set(map(tuple, neg.tolist())) <= keys and (3, 5) not in set(map(tuple, neg.tolist()))


def test_candidate_scores_feature_graph_changes_features_only():
    g = _graph()
    later = CSRGraph.from_edges([0, 0, 1, 2, 3, 4, 4, 5, 6, 3], [1, 2, 2, 3, 4, 5, 6, 6, 7, 5], 10)
    honest = CandidateScores(g, [3], n_katz=0, n_costar=0)
    leaky = CandidateScores(g, [3], n_katz=0, n_costar=0, feature_graph=later)
    assert np.array_equal(honest.cand, leaky.cand)
    assert not np.array_equal(honest.features, leaky.features)
    with pytest.raises(ValueError, match="feature_graph"):
        CandidateScores(g, [3], feature_graph=CSRGraph.from_edges([0], [1], 3))
