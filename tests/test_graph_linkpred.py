"""Tests for utils.graph.linkpred: candidates, pair features, the learned ranker, fit_structural."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from utils.data import actor_profiles, collaboration_graph
from utils.graph import CSRGraph, evaluate_link_prediction, temporal_link_split
from utils.graph.linkpred import (
    FEATURE_GROUPS,
    LinkHistory,
    PairContext,
    StructuralRanker,
    candidate_pairs,
    candidate_recall,
    clear_feature_cache,
    feature_names,
    fit_structural,
    pair_feature_matrix,
)


def troupe_graph(seed: int = 0, n: int = 120, n_groups: int = 8, p_in: float = 0.35):
    """A planted-partition graph (dense within troupes, sparse across): future ties close
    triangles, so a structural scorer must beat random. Returns (full graph edges, n)."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) % n_groups
    iu, iv = np.triu_indices(n, k=1)
    p = np.where(group[iu] == group[iv], p_in, 0.004)
    keep = rng.random(len(iu)) < p
    return np.stack([iu[keep], iv[keep]], axis=1), n


def three_phases(seed: int = 0):
    """Edges split at random into three time slices: g0 | t0 (labels to learn from),
    g1 = g0 + t0 | t1 (labels to predict)."""
    edges, n = troupe_graph(seed)
    rng = np.random.default_rng(seed + 1)
    slot = rng.choice(3, size=len(edges), p=[0.6, 0.2, 0.2])
    g0 = CSRGraph.from_edges(edges[slot == 0, 0], edges[slot == 0, 1], n)
    g1 = CSRGraph.from_edges(edges[slot <= 1, 0], edges[slot <= 1, 1], n)
    return g0, edges[slot == 1], g1, edges[slot == 2], n


def test_feature_names_match_groups():
    assert feature_names(("structure",)) == list(FEATURE_GROUPS["structure"])
    assert len(feature_names()) == sum(len(v) for v in FEATURE_GROUPS.values())
    assert feature_names(("profile", "structure"))[0] == "cn"  # canonical order
    with pytest.raises(ValueError, match="feature_groups"):
        feature_names(("graph",))
    with pytest.raises(ValueError, match="feature_groups"):
        feature_names(())


def test_candidates_exclude_self_and_neighbours_and_are_sorted():
    g0, _, _, _, _ = three_phases()
    sources = np.array([5, 0, 17, 5])
    s, c, f = candidate_pairs(g0, sources, n_two_hop=30, n_katz=10)
    assert f.shape == (len(s), len(FEATURE_GROUPS["structure"]))
    assert f.dtype == np.float32
    assert set(np.unique(s)) <= {0, 5, 17}
    assert np.all(np.diff(s) >= 0)
    for u in (0, 5, 17):
        cu = c[s == u]
        assert u not in cu
        assert not np.isin(cu, g0.neighbors(u)).any()
        assert np.all(np.diff(cu) > 0)  # unique, sorted
        assert len(cu) <= 30 + 10


def test_two_hop_candidates_are_the_top_adamic_adar():
    g0, _, _, _, n = three_phases()
    G = nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from(zip(*np.nonzero(g0.to_scipy().toarray()), strict=True))
    u = 3
    _, c, _ = candidate_pairs(g0, np.array([u]), n_two_hop=5, n_katz=0, n_costar=0)
    two_hop = {w for v in G[u] for w in G[v]} - set(G[u]) - {u}
    aa = dict(((a, b), p) for a, b, p in nx.adamic_adar_index(G, [(u, w) for w in two_hop]))
    best = sorted(two_hop, key=lambda w: (-aa[(u, w)], w))[:5]
    assert sorted(best) == sorted(c.tolist())


def test_pair_features_match_networkx_and_matrix_powers():
    g0, _, _, _, n = three_phases()
    G = nx.Graph()
    G.add_nodes_from(range(n))
    A = g0.to_scipy().toarray().astype(np.int64)
    G.add_edges_from(zip(*np.nonzero(A), strict=True))
    rng = np.random.default_rng(0)
    pairs = rng.choice(n, size=(40, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    f = pair_feature_matrix(g0, pairs)
    col = {name: j for j, name in enumerate(feature_names(("structure",)))}
    A3 = A @ A @ A
    for row, (u, v) in zip(f, pairs, strict=True):
        assert row[col["cn"]] == len(list(nx.common_neighbors(G, u, v)))
        (_, _, aa), (_, _, ra), (_, _, jac) = (
            next(nx.adamic_adar_index(G, [(u, v)])),
            next(nx.resource_allocation_index(G, [(u, v)])),
            next(nx.jaccard_coefficient(G, [(u, v)])),
        )
        assert row[col["aa"]] == pytest.approx(aa, rel=1e-5)
        assert row[col["ra"]] == pytest.approx(ra, rel=1e-5)
        assert row[col["jaccard"]] == pytest.approx(jac, rel=1e-5)
        assert row[col["paths3"]] == A3[u, v]
        assert row[col["deg_u"]] == G.degree(u) and row[col["deg_v"]] == G.degree(v)


def test_bad_input_is_named():
    g0, _, _, _, n = three_phases()
    with pytest.raises(ValueError, match="sources"):
        candidate_pairs(g0, np.array([n]))
    with pytest.raises(TypeError, match="sources"):
        candidate_pairs(g0, np.array([0.5]))
    with pytest.raises(ValueError, match="sources"):
        candidate_pairs(g0, np.zeros((2, 2), dtype=int))
    with pytest.raises(TypeError, match="candidate parameter"):
        candidate_pairs(g0, np.array([0]), n_hops=3)
    with pytest.raises(ValueError, match="n_two_hop"):
        candidate_pairs(g0, np.array([0]), n_two_hop=-1)
    with pytest.raises(ValueError, match="at least one"):
        candidate_pairs(g0, np.array([0]), n_two_hop=0, n_katz=0, n_costar=0)
    with pytest.raises(ValueError, match="katz_beta"):
        candidate_pairs(g0, np.array([0]), katz_beta=1.5)
    with pytest.raises(ValueError, match="costar"):
        candidate_pairs(g0, np.array([0]), feature_groups=("structure", "costar"))
    with pytest.raises(ValueError, match=r"context\.node"):
        candidate_pairs(g0, np.array([0]), PairContext(2000, node=np.zeros((n + 1, 6))))
    with pytest.raises(ValueError, match="pairs"):
        pair_feature_matrix(g0, np.array([1, 2, 3]))
    with pytest.raises(TypeError, match="graph"):
        candidate_pairs("not a graph", np.array([0]))
    with pytest.raises(ValueError, match="targets"):
        StructuralRanker(0).fit(g0, np.array([1, 2]))
    with pytest.raises(ValueError, match="targets"):
        StructuralRanker(0).fit(g0, np.array([[0, n]]))
    with pytest.raises(RuntimeError, match="fit"):
        StructuralRanker(0).score_fn(g0)
    with pytest.raises(ValueError, match="objective"):
        StructuralRanker(0, objective="poisson")
    with pytest.raises(TypeError, match="model parameter"):
        StructuralRanker(0, trees=3)
    with pytest.raises(TypeError, match="seed"):
        StructuralRanker(1.5)
    with pytest.raises(TypeError, match="phase"):
        fit_structural(object(), seed=0)


@pytest.mark.parametrize("objective", ["lambdarank", "binary"])
def test_ranker_beats_random_and_is_deterministic(objective):
    clear_feature_cache()
    g0, t0, g1, t1, n = three_phases()
    params = {"objective": objective, "n_estimators": 30, "min_child_samples": 5}
    fn = StructuralRanker(3, feature_groups=("structure",), **params).fit(g0, t0).score_fn(g1)
    sources = np.unique(t1)
    scores = fn(sources)
    assert scores.shape == (len(sources), n)
    assert np.isfinite(scores).all()
    fn2 = StructuralRanker(3, feature_groups=("structure",), **params).fit(g0, t0).score_fn(g1)
    np.testing.assert_array_equal(scores, fn2(sources))
    learned = evaluate_link_prediction(fn, g1, t1, k=10)
    rng = np.random.default_rng(0)
    noise = rng.random((n, n))
    random = evaluate_link_prediction(lambda s: noise[s], g1, t1, k=10)
    # troupes of 15 nodes: a random ranking hits a troupe-mate in 10 of ~100 non-neighbours
    # about half the time, a structural one nearly always
    assert learned["hits@10"] > random["hits@10"] + 0.2, (learned, random)
    assert learned["mrr"] > 2 * random["mrr"], (learned, random)


def test_candidates_beat_their_scores_and_backfill_by_degree():
    g0, t0, g1, t1, n = three_phases()
    ranker = StructuralRanker(0, feature_groups=("structure",), n_estimators=10)
    ranker.fit(g0, t0, None)
    fn = ranker.score_fn(g1)
    _, c, _ = candidate_pairs(g1, np.array([2]), **ranker.candidate_params)
    row = fn(np.array([2]))[0]
    others = np.setdiff1d(np.arange(n), np.append(c, 2))
    assert row[c].min() > 0 > row[others].max()
    deg = g1.degree()
    order = np.argsort(-row[others], kind="stable")
    assert np.all(np.diff(deg[others][order]) <= 0)
    assert 0 < candidate_recall(g1, t1, **ranker.candidate_params) <= 1


# ---- fit_structural end to end on a small synthetic film table -------------------------------
def synthetic_films(seed: int = 0) -> pd.DataFrame:
    """Troupes of actors who keep casting each other, 1995-2014, with genres and countries."""
    rng = np.random.default_rng(seed)
    actors = [f"actor{i:03d}" for i in range(90)]
    troupes = [actors[i::9] for i in range(9)]
    genres = ("Comedy", "Drama", "Horror")
    rows = []
    k = 0
    for year in range(1995, 2015):
        for _ in range(12):
            t = rng.integers(9)
            cast = set(rng.choice(troupes[t], size=4, replace=False))
            cast.add(actors[rng.integers(90)])
            rows.append(
                {
                    "film_id": k,
                    "imdb_id": f"tt{k:07d}",
                    "title": f"film {k}",
                    "year": year,
                    "genres": (genres[t % 3],),
                    "directors": (f"director{t}",),
                    "writers": (),
                    "cast": tuple(sorted(cast)),
                    "languages": ("English",) if t % 2 else ("French",),
                    "countries": ("France", "Belgium") if t % 2 == 0 else ("United States",),
                    "runtime": 90.0,
                    "imdb_rating": np.nan,
                }
            )
            k += 1
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def history():
    films = synthetic_films()
    return LinkHistory.from_films(films, collaboration_graph(films))


def test_history_context_matches_actor_profiles_and_does_not_leak(history):
    prof = actor_profiles(history.films, history.actors, until_year=2008)
    ctx = history.context(2008)
    np.testing.assert_array_equal(ctx.node[:, 0], prof["n_films"].to_numpy())
    has = prof["n_films"].to_numpy() > 0
    np.testing.assert_array_equal(ctx.node[has, 5], prof["first_year"].to_numpy()[has])
    np.testing.assert_array_equal(2008 - ctx.node[has, 3], prof["last_year"].to_numpy()[has])
    for j, col in enumerate(("top_genre", "top_country", "top_language")):
        same_ours = ctx.cats[:, j][:, None] == ctx.cats[:, j][None, :]
        names = prof[col].to_numpy()
        np.testing.assert_array_equal(same_ours, names[:, None] == names[None, :], err_msg=col)
    # co-star counts: films shared before the cut-off, nothing after
    films = history.films[history.films["year"] < 2008]
    index = {a: i for i, a in enumerate(history.actors)}
    a, b = index["actor000"], index["actor009"]
    shared = sum(1 for c in films["cast"] if "actor000" in c and "actor009" in c)
    assert ctx.costar[a, b] == shared == ctx.costar[b, a]
    assert history.context(2008) is history.context(2008)  # cached
    with pytest.raises(TypeError, match="year"):
        history.context(2008.0)
    with pytest.raises(ValueError, match="x"):
        history.context(2008, x=np.zeros((3, 2)))


def test_phase_before_is_the_previous_window(history):
    tr = history.phase_before(2010, window=2)
    born = history.ties.set_index(["u", "v"])["born"]
    years = [born[(u, v)] for u, v in tr.targets]
    assert min(years) >= 2008 and max(years) < 2010
    assert tr.graph.n_edges == int((history.ties["born"] < 2008).sum())
    with pytest.raises(ValueError, match="window"):
        history.phase_before(2010, window=0)


def test_fit_structural_end_to_end(history):
    clear_feature_cache()
    split = temporal_link_split(history.ties, history.n_nodes, test_from=2010, val_from=2008)
    phase = split.phase("test")
    kw = {"history": history, "n_estimators": 30, "min_child_samples": 5}
    fn = fit_structural(phase, None, 0, **kw)
    sources = np.unique(phase.targets)[:7]
    scores = fn(sources)
    assert scores.shape == (7, history.n_nodes) and np.isfinite(scores).all()
    assert fn.fit_stats["train_rows"] > 0 and 0 < fn.fit_stats["candidate_recall"] <= 1
    np.testing.assert_array_equal(scores, fit_structural(phase, None, 0, **kw)(sources))
    learned = evaluate_link_prediction(fn, phase.graph, phase.targets, k=10)
    noise = np.random.default_rng(1).random((history.n_nodes, history.n_nodes))
    random = evaluate_link_prediction(lambda s: noise[s], phase.graph, phase.targets, k=10)
    assert learned["mrr"] > 1.5 * random["mrr"], (learned, random)
    x = history.context(2010).x
    fn_x = fit_structural(phase, x, 0, **kw)
    np.testing.assert_allclose(fn_x(sources), scores)
    with pytest.raises(ValueError, match="x"):
        fit_structural(phase, x[:, :0].reshape(-1)[:3], 0, **kw)
    with pytest.raises(ValueError, match="nodes"):
        small = CSRGraph.from_edges([0], [1], 2)
        fit_structural(phase._replace(graph=small), None, 0, **kw)
