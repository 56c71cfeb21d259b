"""utils.pymk.candidates: friends of friends with hub caps, embedding neighbours, union, recall."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from utils.ann.libs import HnswlibIndex
from utils.graph.csr import CSRGraph
from utils.pymk.candidates import (
    ORIGIN_EMBEDDING,
    ORIGIN_FOF,
    Candidates,
    adjacency,
    candidate_recall,
    embedding_candidates,
    fof_candidates,
    two_hop_work,
    union_candidates,
)


@pytest.fixture(scope="module")
def nxg() -> nx.Graph:
    return nx.gnm_random_graph(120, 600, seed=3)


@pytest.fixture(scope="module")
def graph(nxg) -> CSRGraph:
    e = np.array(nxg.edges(), dtype=np.int64)
    return CSRGraph.from_edges(e[:, 0], e[:, 1], nxg.number_of_nodes())


def test_fof_matches_networkx_counts_and_adamic_adar(nxg, graph):
    c = fof_candidates(graph, np.arange(30))
    got = {
        (int(u), int(v)): (cn, aa) for u, v, cn, aa in zip(c.src, c.cand, c.cn, c.aa, strict=True)
    }
    want = {}
    for u in range(30):
        for v in nxg.nodes:
            if v == u or nxg.has_edge(u, v):
                continue
            common = list(nx.common_neighbors(nxg, u, v))
            if common:
                want[(u, v)] = (len(common), sum(1 / np.log(nxg.degree(w)) for w in common))
    assert set(got) == set(want)
    for key, (cn, aa) in want.items():
        assert got[key][0] == cn
        assert got[key][1] == pytest.approx(aa, rel=1e-12)


def test_fof_sorted_topk_and_batch_invariant(graph):
    c = fof_candidates(graph, np.arange(120), k=7, score="cn", hub_cap=9)
    assert c.per_source().max() <= 7
    for u in np.unique(c.src):
        s = c.score[c.src == u]
        assert np.all(np.diff(s) <= 0)
    d = fof_candidates(graph, np.arange(120)[::-1], k=7, score="cn", hub_cap=9, batch_size=5)
    assert np.array_equal(c.src, d.src) and np.array_equal(c.cand, d.cand)
    assert np.allclose(c.aa, d.aa, rtol=0, atol=0)


def test_hub_cap_bounds_rows_and_work(graph):
    deg = graph.degree()
    capped = adjacency(graph, hub_cap=5)
    assert np.array_equal(np.diff(capped.indptr), np.minimum(deg, 5))
    assert capped.multiply(adjacency(graph)).sum() == capped.sum()  # a subset of real ties
    w = two_hop_work(graph, np.arange(10), hub_cap=5)
    want = [
        sum(min(deg[x], 5) for x in graph.indices[graph.indptr[u] : graph.indptr[u + 1]])
        for u in range(10)
    ]
    assert w.tolist() == want
    full = fof_candidates(graph, np.arange(10))
    cap = fof_candidates(graph, np.arange(10), hub_cap=5)
    assert cap.work.sum() < full.work.sum()
    assert set(map(tuple, cap.pairs().tolist())) <= set(map(tuple, full.pairs().tolist()))


def test_embedding_candidates_exclude_self_and_ties_and_match_ann(graph):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(graph.n_nodes, 8)).astype(np.float32)
    exact = embedding_candidates(emb, graph, np.arange(20), k=5)
    assert np.all(exact.per_source() == 5)
    for u, v in exact.pairs():
        assert u != v and v not in graph.indices[graph.indptr[u] : graph.indptr[u + 1]]
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    u0 = exact.src == 0
    assert np.allclose(exact.score[u0], unit[exact.cand[u0]] @ unit[0], atol=1e-5)
    index = HnswlibIndex(8, metric="cosine", ef=400)
    index.add(emb)
    approx = embedding_candidates(emb, graph, np.arange(20), k=5, index=index)
    assert np.array_equal(approx.cand, exact.cand)
    assert np.allclose(approx.score, exact.score, atol=1e-5)


def test_union_dedups_and_ranks(graph):
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(graph.n_nodes, 4))
    f = fof_candidates(graph, np.arange(15), k=10)
    e = embedding_candidates(emb, graph, np.arange(15), k=10)
    u = union_candidates(f, e)
    keys = u.src * 1000 + u.cand
    assert len(np.unique(keys)) == len(u)
    both = set(map(tuple, f.pairs().tolist())) | set(map(tuple, e.pairs().tolist()))
    assert set(map(tuple, u.pairs().tolist())) == both
    first = u.score[np.r_[True, u.src[1:] != u.src[:-1]]]
    assert np.all(first == 1.0)  # each source's first candidate was first in some list
    in_f = np.isin(keys, f.src * 1000 + f.cand)
    assert np.all((u.origin[in_f] & ORIGIN_FOF) > 0) and np.all(~np.isnan(u.cn[in_f]))
    assert np.all(u.origin[~in_f] == ORIGIN_EMBEDDING)


def test_candidate_recall_counts_both_directions():
    g = CSRGraph.from_edges(np.array([0, 1]), np.array([1, 2]), 4)  # path 0-1-2, node 3 alone
    c = fof_candidates(g, [0, 2])
    assert set(map(tuple, c.pairs().tolist())) == {(0, 2), (2, 0)}
    assert candidate_recall(c, np.array([[0, 2]])) == 1.0
    assert candidate_recall(c, np.array([[0, 2], [0, 3]])) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda g: fof_candidates("g", [0]), "graph"),
        (lambda g: fof_candidates(g, [], k=3), "sources"),
        (lambda g: fof_candidates(g, [999]), "sources"),
        (lambda g: fof_candidates(g, [0], k=0), "k"),
        (lambda g: fof_candidates(g, [0], hub_cap=-1), "hub_cap"),
        (lambda g: fof_candidates(g, [0], score="pagerank"), "score"),
        (lambda g: embedding_candidates(np.zeros((3, 2)), g, [0], k=2), "emb"),
        (lambda g: embedding_candidates(np.full((120, 2), np.nan), g, [0], k=2), "emb"),
        (lambda g: embedding_candidates(np.ones((120, 2)), g, [0], k=120), "k"),
        (lambda g: union_candidates(), "cands"),
        (lambda g: union_candidates(fof_candidates(g, [0]), "x"), "cands"),
        (lambda g: candidate_recall(fof_candidates(g, [0]), np.zeros((0, 2), int)), "targets"),
        (lambda g: candidate_recall(fof_candidates(g, [0]), np.array([[5, 6]])), "targets"),
    ],
)
def test_bad_input_names_the_argument(graph, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(graph)


def test_candidates_container_helpers(graph):
    c = fof_candidates(graph, np.arange(5), k=3)
    assert isinstance(c, Candidates) and len(c) == len(c.pairs())
    assert c.top(1).per_source().max() == 1
    assert set(c.origin_names()) == {"fof"}
    assert list(itertools.islice(c.sources, 3)) == [0, 1, 2]


def test_candidate_score_fn_ranks_candidates_first_in_score_order(graph):
    from utils.pymk.candidates import candidate_score_fn

    c = fof_candidates(graph, [0, 1, 2], k=5)
    fn = candidate_score_fn(graph, c, c.score)
    rows = fn(np.array([2, 0, 50]))
    assert rows.shape == (3, graph.n_nodes)
    for i, u in enumerate((2, 0)):
        m = c.src == u
        assert np.all(rows[i, c.cand[m]] > 0)
        others = np.setdiff1d(np.arange(graph.n_nodes), c.cand[m])
        assert np.all(rows[i, others] < 0)
        assert np.array_equal(np.argsort(-rows[i, c.cand[m]], kind="stable"), np.arange(m.sum()))
    assert np.all(rows[2] < 0)  # not among cands.sources: backfill only
    with pytest.raises(ValueError, match="scores"):
        candidate_score_fn(graph, c, c.score[:-1])
