"""Tests for utils.pymk.serving: latency by group, 2-hop reads, hub cache, precomputed lists,
and the PYMK service."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from utils.graph import CSRGraph, adamic_adar, evaluate_link_prediction
from utils.pymk.candidates import fof_candidates, two_hop_work
from utils.pymk.serving import (
    FoFIndex,
    PrecomputedLists,
    PYMKService,
    latency_by_group,
    mutual_counts,
    mutual_reason,
    neighbourhood_cache_curve,
)
from utils.serving import Pipeline


@dataclass
class Cands:
    src: np.ndarray
    cand: np.ndarray
    score: np.ndarray
    cn: np.ndarray


def star_plus_path() -> CSRGraph:
    # hub 0 tied to 1..5; path 5-6-7; 1-2 tied
    src = [0, 0, 0, 0, 0, 5, 6, 1]
    dst = [1, 2, 3, 4, 5, 6, 7, 2]
    return CSRGraph.from_edges(src, dst, 8)


def brute_fof(graph: CSRGraph, sources: np.ndarray) -> Cands:
    """Friends of friends scored by common neighbours (a test oracle)."""
    rows = []
    for u in sources:
        nb = set(graph.neighbors(u).tolist())
        counts: dict[int, int] = {}
        for w in nb:
            for v in graph.neighbors(w).tolist():
                if v != u and v not in nb:
                    counts[v] = counts.get(v, 0) + 1
        rows += [(u, v, float(c), c) for v, c in counts.items()]
    a = np.array(rows, dtype=float).reshape(-1, 4)
    return Cands(a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2], a[:, 3].astype(int))


# ------------------------------------------------------------------------------------------
def test_latency_by_group_tail_share():
    total = np.r_[np.ones(95), np.full(5, 100.0)]
    table = pd.DataFrame({"a": total, "total": total})
    groups = ["small"] * 95 + ["hub"] * 5
    out = latency_by_group(table, groups)
    assert out.loc["hub", "p50"] == 100.0 and out.loc["small", "p99"] == 1.0
    assert out.loc["hub", "share_of_tail"] == 1.0 and out.loc["small", "n"] == 95
    with pytest.raises(ValueError, match="groups"):
        latency_by_group(table, groups[:3])
    with pytest.raises(ValueError, match="column"):
        latency_by_group(table, groups, column="nope")


def random_graph(n: int = 60, m: int = 240, seed: int = 0) -> CSRGraph:
    rng = np.random.default_rng(seed)
    # a few hubs: preferential endpoints
    w = 1.0 / (1 + np.arange(n)) ** 0.8
    u = rng.choice(n, size=m, p=w / w.sum())
    v = rng.integers(0, n, size=m)
    keep = u != v
    return CSRGraph.from_edges(u[keep], v[keep], n)


@pytest.mark.parametrize("hub_cap", [None, 3, 8])
@pytest.mark.parametrize("score", ["aa", "cn"])
def test_fof_index_equals_batch_fof_candidates(hub_cap, score):
    g = random_graph()
    sources = np.arange(g.n_nodes)
    ref = fof_candidates(g, sources, hub_cap=hub_cap, score=score)
    idx = FoFIndex(g, hub_cap=hub_cap, score=score)
    got = idx(sources)
    assert np.array_equal(got.sources, ref.sources) and np.array_equal(got.work, ref.work)
    key = lambda c: sorted(zip(c.src.tolist(), c.cand.tolist(), strict=True))  # noqa: E731
    assert key(got) == key(ref)
    o_ref = np.lexsort((ref.cand, ref.src))
    o_got = np.lexsort((got.cand, got.src))
    assert np.array_equal(got.cn[o_got], ref.cn[o_ref])
    assert np.allclose(got.aa[o_got], ref.aa[o_ref])
    assert np.allclose(got.score[o_got], ref.score[o_ref])
    # per request, top k: same rows as the batch function's top k (one source at a time)
    for u in [0, 1, 7, 33]:
        one, batch = FoFIndex(g, hub_cap=hub_cap, score=score, k=5)([u]), ref.top(5)
        sel = batch.src == u
        assert np.allclose(one.score, batch.score[sel])
        assert set(one.cand.tolist()) <= set(ref.cand[ref.src == u].tolist())
    assert idx.nbytes > 0


def test_fof_index_rejects_bad_input():
    g = star_plus_path()
    with pytest.raises(ValueError, match="score"):
        FoFIndex(g, score="pagerank")
    with pytest.raises(ValueError, match="hub_cap"):
        FoFIndex(g, hub_cap=0)
    with pytest.raises(ValueError, match="sources"):
        FoFIndex(g)([99])
    with pytest.raises(TypeError, match="graph"):
        FoFIndex(object())
    isolated = CSRGraph.from_edges([0], [1], 3)
    c = FoFIndex(isolated)([2])
    assert len(c) == 0 and c.work.tolist() == [0]


def test_mutual_counts_both_paths_match_brute_force():
    g = random_graph(seed=1)
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, g.n_nodes, size=(300, 2))
    brute = [len(set(g.neighbors(a)) & set(g.neighbors(b))) for a, b in pairs]
    assert mutual_counts(g, pairs).tolist() == brute  # many sources: edge-key path
    few = pairs[np.isin(pairs[:, 0], [3, 5])]
    assert mutual_counts(g, few).tolist() == [
        len(set(g.neighbors(a)) & set(g.neighbors(b))) for a, b in few
    ]
    with pytest.raises(ValueError, match="pairs"):
        mutual_counts(g, [1, 2])
    with pytest.raises(ValueError, match="pairs"):
        mutual_counts(g, [[0, 999]])


def test_cache_curve_counts_hub_reads():
    g = star_plus_path()
    srcs = np.array([1, 3, 3, 7])
    curve = neighbourhood_cache_curve(g, srcs, [1, 8])
    total = sum(two_hop_work(g, [u])[0] + g.degree()[u] for u in srcs)
    # only node 0 cached (the hub, degree 5): read as a neighbour by 1, 3, 3 -> 15 entries
    assert curve.loc[0, "hit_rate"] == pytest.approx(15 / total)
    assert curve.loc[0, "cache_bytes"] == 8 * 5
    assert curve.loc[1, "hit_rate"] == pytest.approx(1.0)
    assert curve["hit_rate"].is_monotonic_increasing
    capped = neighbourhood_cache_curve(g, srcs, [8], hub_cap=2)
    assert capped.loc[0, "hit_rate"] == 1.0 and capped.loc[0, "cache_bytes"] < 8 * 16
    with pytest.raises(ValueError, match="sizes"):
        neighbourhood_cache_curve(g, srcs, [])
    with pytest.raises(ValueError, match="hub_cap"):
        neighbourhood_cache_curve(g, srcs, [1], hub_cap=-1)


def test_precomputed_lists_top_k_lookup_and_bytes():
    c = Cands(
        np.array([0, 0, 0, 2]),
        np.array([3, 1, 2, 0]),
        np.array([0.5, 0.9, 0.5, 1.0]),
        np.array([1, 3, 1, 2]),
    )
    g = CSRGraph.from_edges([0, 1, 1, 3], [3, 2, 3, 2], 4)  # 0-3, 1-2, 1-3, 2-3
    lists = PrecomputedLists.from_candidates(c, g, k=2, as_of=2009)
    ids, _, mu = lists.lookup(0)
    assert ids.tolist() == [1, 2] and mu.tolist() == [1, 1]  # tie at 0.5: smaller id first
    assert lists.lookup(1)[0].size == 0 and lists.coverage == 0.5
    assert lists.lookup(0, exclude=[1])[0].tolist() == [2]
    assert lists.nbytes == 5 * 8 + 3 * (4 + 4 + 2)
    with pytest.raises(ValueError, match="member"):
        lists.lookup(9)
    with pytest.raises(TypeError, match="cands"):
        PrecomputedLists.from_candidates(object(), g)
    with pytest.raises(ValueError, match="cands"):
        PrecomputedLists.from_candidates(c, CSRGraph.from_edges([0], [1], 2))


def test_precomputed_score_fn_in_evaluator_matches_list_hits():
    g = star_plus_path()
    lists = PrecomputedLists.from_candidates(brute_fof(g, np.arange(8)), g, k=2)
    targets = np.array([[1, 3], [7, 4]])
    res = evaluate_link_prediction(lists.score_fn(), g, targets, k=2)
    by_hand = np.mean([3 in lists.lookup(1)[0], 4 in lists.lookup(7)[0]])
    assert res["hits@2"] == pytest.approx(by_hand)


def test_mutual_reason():
    assert mutual_reason(1) == "1 mutual connection"
    assert mutual_reason(3) == "3 mutual connections"
    assert "no mutual" in mutual_reason(0)
    assert mutual_reason(0, origin=4).startswith("worked together")
    assert mutual_reason(2, origin=4) == "2 mutual connections"
    with pytest.raises(ValueError, match="n_mutual"):
        mutual_reason(-1)


def test_service_on_request_matches_brute_force_and_names():
    g = star_plus_path()
    names = [f"actor{i}" for i in range(8)]
    svc = PYMKService(g, lambda s: brute_fof(g, s), names=names)
    rec = svc.recommend(1, k=3)
    assert rec["member"].tolist() == [3, 4, 5]  # cn 1 each (via hub 0); 1's ties 0, 2 excluded
    assert rec["name"].tolist() == ["actor3", "actor4", "actor5"]
    assert rec["reason"].tolist() == ["1 mutual connection"] * 3
    # 6: neighbours 5, 7; fof = 0 (via 5)
    assert svc.recommend(6)["member"].tolist() == [0]


def test_service_custom_score_and_features_are_used():
    g = star_plus_path()
    seen = {}

    def feats(c):
        seen["n"] = len(c.cand)
        return np.c_[c.cand.astype(float)]

    svc = PYMKService(g, lambda s: brute_fof(g, s), features=feats, score=lambda c, x: -x[:, 0])
    assert svc.recommend(1, k=2)["member"].tolist() == [3, 4]  # lowest id scores highest
    assert seen["n"] == 3


def test_service_precomputed_filters_new_ties_and_times_stages():
    g_old = star_plus_path()
    lists = PrecomputedLists.from_candidates(brute_fof(g_old, np.arange(8)), g_old, k=5)
    # since the batch ran, 1 connected with 3
    g_new = CSRGraph.from_edges([0, 0, 0, 0, 0, 5, 6, 1, 1], [1, 2, 3, 4, 5, 6, 7, 2, 3], 8)
    calls = []
    svc = PYMKService(
        g_new,
        lambda s: calls.append(s) or brute_fof(g_new, s),
        precomputed=lists,
        precomputed_for=[1],
    )
    rec = svc.recommend(1, k=5)
    assert 3 not in rec["member"].tolist() and len(rec) == 2 and not calls
    svc.recommend(7)  # not precomputed: on request
    assert len(calls) == 1
    ticks = iter(np.arange(0, 100, 0.001))
    pipe = svc.pipeline(clock=lambda: next(ticks))
    assert isinstance(pipe, Pipeline)
    outs, table = pipe.serve(PYMKService.requests([1, 7], k=3))
    assert [o["source"] for o in outs] == ["precomputed", "on_request"]
    assert table.shape == (2, 6) and np.allclose(table.drop(columns="total"), 1.0)


def test_service_rejects_bad_input():
    g = star_plus_path()
    fof = lambda s: brute_fof(g, s)  # noqa: E731
    with pytest.raises(TypeError, match="candidates"):
        PYMKService(g, None)
    with pytest.raises(TypeError, match="graph"):
        PYMKService(object(), fof)
    with pytest.raises(ValueError, match="names"):
        PYMKService(g, fof, names=["a"])
    with pytest.raises(ValueError, match="precomputed_for"):
        PYMKService(g, fof, precomputed_for=[1])
    svc = PYMKService(g, fof, score=lambda c, x: np.full(len(c.cand) + 1, 1.0))
    with pytest.raises(ValueError, match="score"):
        svc.recommend(1)
    with pytest.raises(ValueError, match="member"):
        svc.recommend(42)
    with pytest.raises(ValueError, match="k"):
        svc.recommend(1, k=0)


def test_precomputed_adamic_adar_lists_agree_with_heuristic_top_k():
    """Lists built from a full Adamic-Adar score agree with the heuristic's own top-k."""
    g = star_plus_path()
    aa = adamic_adar(g)(np.arange(8))
    rows = [
        (u, v, aa[u, v], 0)
        for u in range(8)
        for v in range(8)
        if aa[u, v] > 0 and v != u and not g.has_edge(u, v)
    ]
    a = np.array(rows)
    lists = PrecomputedLists.from_candidates(
        Cands(a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2], a[:, 3].astype(int)), g, k=1
    )
    for u in range(8):
        ids = lists.lookup(u)[0]
        if ids.size:
            assert aa[u, ids[0]] == pytest.approx(max(r[2] for r in rows if r[0] == u))


# ------------------------------------------------------------------------------------------
# ServingRanker: online == offline on the real graph, with a small ranker
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_ranker():
    from utils.data import collaboration_graph, load_films
    from utils.graph import temporal_link_split
    from utils.graph.linkpred import LinkHistory
    from utils.pymk.ranker import PYMKRanker

    films = load_films()
    collab = collaboration_graph(films)
    phase = temporal_link_split(collab.ties, len(collab.actors)).phase("test")
    history = LinkHistory.from_films(films, collab)
    ranker = PYMKRanker(
        0,
        candidate_params={"fof_k": 30, "emb_k": 10, "colleague_k": 10},
        n_estimators=10,
        neg_per_source=10,
    ).fit(history, 2010)
    return ranker, phase.graph


def test_serving_ranker_matches_batch_ranker(small_ranker):
    from utils.pymk.serving import ServingRanker

    ranker, g = small_ranker
    deg = g.degree()
    members = np.r_[np.flatnonzero(deg > 0)[:5], np.argsort(-deg)[:2]]
    sr = ServingRanker(ranker, g)
    ctx = ranker.history.context(ranker.year)
    for u in members:
        ref = ranker.candidates(g, [u], ctx)
        got = sr.candidates([u])
        assert np.array_equal(got.cand, ref.cand) and np.allclose(got.score, ref.score)
        x_ref = ranker.features(g, ref, ctx, ranker._crew_at(ranker.history, ranker.year))
        x = sr.features(got)
        assert np.allclose(x, x_ref, equal_nan=True)
        assert np.allclose(sr.score(got, x), ranker.predict(x_ref))
    rec = ranker.recommend(g, members, k=10)
    svc = sr.service()
    for u in members:
        assert svc.recommend(int(u))["member"].tolist() == rec[rec.src == u]["cand"].tolist()
        assert svc.recommend(int(u))["mutual"].tolist() == rec[rec.src == u]["mutual"].tolist()


def test_serving_ranker_hub_cap_and_bad_input(small_ranker):
    from utils.pymk.serving import ServingRanker

    ranker, g = small_ranker
    assert ServingRanker(ranker, g, hub_cap=20).fof.hub_cap == 20
    flat = ServingRanker(ranker, g, emb_index="Flat")
    exact = ServingRanker(ranker, g)
    u = int(np.flatnonzero(g.degree() > 3)[0])
    a, b = flat.candidates([u]), exact.candidates([u])
    assert len(np.intersect1d(a.cand, b.cand)) >= 0.9 * len(b.cand)
    with pytest.raises(TypeError, match="ranker"):
        ServingRanker(object(), g)
    with pytest.raises(ValueError, match="graph"):
        ServingRanker(ranker, CSRGraph.from_edges([0], [1], 3))
    with pytest.raises(TypeError, match="emb_index"):
        ServingRanker(ranker, g, emb_index=object())
