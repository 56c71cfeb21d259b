"""utils.graph foundation: CSR graphs, the temporal split, heuristics (vs networkx), the
link-prediction evaluator and the shared encoder training loop."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import torch

from utils.graph import (
    CSRGraph,
    adamic_adar,
    common_neighbours,
    embedding_scorer,
    encoder_scorer,
    evaluate_link_prediction,
    jaccard,
    katz,
    link_prediction_ranks,
    pair_features,
    personalized_pagerank,
    resource_allocation,
    temporal_link_split,
    train_link_encoder,
)


@pytest.fixture(scope="module")
def karate():
    g = nx.karate_club_graph()
    e = np.array(g.edges())
    return g, CSRGraph.from_edges(e[:, 0], e[:, 1], g.number_of_nodes())


def test_csr_matches_networkx(karate):
    g, c = karate
    assert c.n_edges == g.number_of_edges()
    assert np.array_equal(c.degree(), [d for _, d in sorted(g.degree())])
    for u in g:
        assert list(c.neighbors(u)) == sorted(g[u])
    assert c.has_edge(0, 1) and not c.has_edge(0, 9)
    ei = c.edge_index()
    assert ei.shape == (2, 2 * g.number_of_edges())
    assert (c.to_scipy() != c.to_scipy().T).nnz == 0
    assert c.nbytes() == c.indptr.nbytes + c.indices.nbytes


def test_csr_merges_duplicates_and_rejects_bad_input():
    c = CSRGraph.from_edges([0, 0, 1], [1, 1, 0], 3)
    assert c.n_edges == 1 and list(c.neighbors(2)) == []
    with pytest.raises(ValueError, match="self-loops"):
        CSRGraph.from_edges([0], [0], 2)
    with pytest.raises(ValueError, match="src/dst"):
        CSRGraph.from_edges([0], [5], 3)
    with pytest.raises(ValueError, match="n_nodes"):
        CSRGraph.from_edges([], [], 0)
    with pytest.raises(TypeError, match="src"):
        CSRGraph.from_edges([0.5], [1.0], 3)
    with pytest.raises(ValueError, match="u: node id"):
        c.neighbors(7)
    d = CSRGraph.from_edges([0, 1], [1, 2], 3, symmetric=False)
    assert d.n_edges == 2 and not d.has_edge(1, 0)


def _pairs(g):
    return [(u, v) for u in g for v in g if u < v and not g.has_edge(u, v)]


@pytest.mark.parametrize(
    ("factory", "nx_fn"),
    [
        (adamic_adar, nx.adamic_adar_index),
        (resource_allocation, nx.resource_allocation_index),
        (jaccard, nx.jaccard_coefficient),
    ],
)
def test_heuristics_match_networkx(karate, factory, nx_fn):
    g, c = karate
    scores = factory(c)(np.arange(c.n_nodes))
    for u, v, p in nx_fn(g, _pairs(g)):
        assert scores[u, v] == pytest.approx(p, rel=1e-9, abs=1e-12)
        assert scores[v, u] == pytest.approx(p, rel=1e-9, abs=1e-12)


def test_common_neighbours_and_pair_features_match_networkx(karate):
    g, c = karate
    cn = common_neighbours(c)(np.arange(c.n_nodes))
    pairs = np.array(_pairs(g)[:200])
    feats = pair_features(c, pairs)
    aa = {(u, v): p for u, v, p in nx.adamic_adar_index(g, [tuple(map(int, q)) for q in pairs])}
    for (u, v), row in zip(pairs, feats.itertuples(), strict=True):
        n = len(list(nx.common_neighbors(g, u, v)))
        assert cn[u, v] == n == row.cn
        assert row.aa == pytest.approx(aa[(int(u), int(v))])
        assert row.pa == g.degree(u) * g.degree(v) and not row.tie
    assert pair_features(c, np.array([[0, 1]]))["tie"].item()
    with pytest.raises(ValueError, match="pairs"):
        pair_features(c, np.array([0, 1]))


def test_katz_counts_walks(karate):
    g, c = karate
    A = nx.to_numpy_array(g, nodelist=range(34), weight=None)
    beta = 0.01
    want = beta * A + beta**2 * A @ A + beta**3 * A @ A @ A
    assert np.allclose(katz(c, beta=beta, max_length=3)(np.arange(34)), want)
    with pytest.raises(ValueError, match="beta"):
        katz(c, beta=2.0)


def test_ppr_matches_networkx_pagerank(karate):
    g, c = karate
    scores = personalized_pagerank(c, alpha=0.15, iters=200)(np.array([0, 5]))
    for row, s in zip(scores, (0, 5), strict=True):
        want = nx.pagerank(g, alpha=0.85, personalization={s: 1.0}, tol=1e-12, weight=None)
        assert np.allclose(row, [want[i] for i in range(34)], atol=1e-5)
        assert row.sum() == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="sources"):
        personalized_pagerank(c)(np.array([99]))


def test_evaluator_on_a_hand_ranked_case():
    # Path 0-1-2-3-4; source 0 observes neighbour 1. Scores rank 4 > 3 > 2 for source 0.
    g = CSRGraph.from_edges([0, 1, 2, 3], [1, 2, 3, 4], 5)
    table = np.array([[0, 0, 1, 2, 3]] * 5, dtype=float)
    fn = lambda s: table[s]  # noqa: E731
    ranks = link_prediction_ranks(fn, g, np.array([[0, 2]]))
    r0 = ranks.set_index(["source", "target"]).loc[(0, 2), "rank"]
    assert r0 == 3.0  # behind 4 and 3; 0 and 1 are masked
    m = evaluate_link_prediction(fn, g, np.array([[0, 2], [0, 3]]), k=2)
    # source 0: targets 2 (rank 3) and 3 (rank 2); source 2: candidates 0 (score 0) and 4
    # (score 3), so target 0 ranks 2nd; source 3: candidates 0 and 1 tie at 0, rank 1.5.
    assert (m["n_sources"], m["n_targets"]) == (3, 4)
    assert m["mrr"] == pytest.approx(np.mean([1 / 2, 1 / 2, 1 / 1.5]))
    assert m["hits@2"] == 1.0
    assert m["recall@2"] == pytest.approx(np.mean([1 / 2, 1, 1]))


def test_evaluator_ties_get_the_mean_rank_and_constant_scores_are_not_flattered():
    g = CSRGraph.from_edges([0], [1], 12)
    fn = lambda s: np.zeros((len(s), 12))  # noqa: E731
    ranks = link_prediction_ranks(fn, g, np.array([[0, 5]]))
    # source 0 has 10 candidates (not itself, not 1): a constant score ranks its target 5.5th
    assert ranks.loc[ranks["source"] == 0, "rank"].item() == 5.5
    m = evaluate_link_prediction(fn, g, np.array([[0, 5]]), k=5)
    assert m["hits@5"] == 0.0


def test_evaluator_rejects_bad_input():
    g = CSRGraph.from_edges([0], [1], 4)
    ok = lambda s: np.zeros((len(s), 4))  # noqa: E731
    with pytest.raises(ValueError, match="targets"):
        evaluate_link_prediction(ok, g, np.array([[0, 9]]))
    with pytest.raises(ValueError, match="targets"):
        evaluate_link_prediction(ok, g, np.zeros((0, 2), dtype=int))
    with pytest.raises(ValueError, match="its own target"):
        evaluate_link_prediction(ok, g, np.array([[2, 2]]))
    with pytest.raises(ValueError, match="score_fn"):
        evaluate_link_prediction(lambda s: np.zeros((len(s), 3)), g, np.array([[0, 2]]))
    with pytest.raises(ValueError, match="NaN"):
        evaluate_link_prediction(lambda s: np.full((len(s), 4), np.nan), g, np.array([[0, 2]]))
    with pytest.raises(ValueError, match="k:"):
        evaluate_link_prediction(ok, g, np.array([[0, 2]]), k=50)
    with pytest.raises(ValueError, match="observed neighbour"):
        evaluate_link_prediction(ok, g, np.array([[0, 1]]))


def test_temporal_split_protocol():
    ties = pd.DataFrame(
        {
            "u": [0, 1, 2, 0, 3, 1, 5, 0],
            "v": [1, 2, 3, 2, 4, 3, 6, 4],
            "born": [2000, 2001, 2007, 2008, 2009, 2010, 2011, 2012],
        }
    )
    s = temporal_link_split(ties, 7)
    val, test = s.phase("val"), s.phase("test")
    assert val.graph.n_edges == 3 and test.graph.n_edges == 5
    # 2008 (0, 2) kept; 2009 (3, 4): node 4 has no tie before 2008, dropped
    assert val.targets.tolist() == [[0, 2]]
    # 2010 (1, 3) and 2012 (0, 4) kept; 2011 (5, 6) are unseen actors, dropped
    assert test.targets.tolist() == [[1, 3], [0, 4]]
    assert (val.feature_year, test.feature_year) == (2008, 2010)
    assert list(s.summary().index) == ["val", "test"]
    with pytest.raises(ValueError, match="name"):
        s.phase("train")
    with pytest.raises(ValueError, match="val_from"):
        temporal_link_split(ties, 7, val_from=2010)
    with pytest.raises(ValueError, match="ties"):
        temporal_link_split(ties.drop(columns="born"), 7)


def test_embedding_scorer_and_training_loop_learn_a_two_community_graph():
    # Two cliques joined by one edge; held-out within-community ties must outrank across.
    rng = np.random.default_rng(0)
    n = 40
    pairs = [(u, v) for u in range(n) for v in range(u + 1, n) if (u < 20) == (v < 20)]
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    held, train = pairs[:30], [*pairs[30:], (0, 20)]
    g = CSRGraph.from_edges(*np.array(train).T, n)

    class Emb(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.e = torch.nn.Embedding(n, 8)

        def forward(self, x, edge_index):
            return self.e.weight

    enc = train_link_encoder(Emb(), np.zeros((n, 1)), g, epochs=200, lr=0.05, seed=0)
    fn = encoder_scorer(enc, np.zeros((n, 1)), g)
    m = evaluate_link_prediction(fn, g, np.array(held), k=5)
    chance = evaluate_link_prediction(
        embedding_scorer(rng.normal(size=(n, 8))), g, np.array(held), k=5
    )
    assert m["mrr"] > 0.5 > chance["mrr"], (m, chance)
    with pytest.raises(ValueError, match="x:"):
        train_link_encoder(Emb(), np.zeros((n - 1, 1)), g, epochs=1, lr=0.1, seed=0)
    with pytest.raises(ValueError, match="Z"):
        embedding_scorer(np.zeros(3))
