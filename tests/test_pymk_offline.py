"""Tests for utils.pymk.offline: nDCG from ranks, candidate nDCG, group importance, snapshot
contexts."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score

from utils.data import collaboration_graph
from utils.graph import CSRGraph, evaluate_link_prediction
from utils.graph.heuristics import adamic_adar
from utils.graph.linkpred import LinkHistory
from utils.metrics import ndcg_at_k
from utils.pymk.offline import (
    candidate_ndcg,
    candidate_ranks,
    group_gain_importance,
    group_permutation_importance,
    ndcg_from_ranks,
    ranking_metrics,
    snapshot_context,
    snapshot_history,
)


# ------------------------------------------------------------------------------ nDCG from ranks
def test_ndcg_from_ranks_matches_sklearn_and_utils_metrics_without_ties():
    rng = np.random.default_rng(0)
    n_items, k = 30, 10
    rows, ranked, relevant, y_true, y_score = [], [], [], [], []
    for q in range(25):
        order = rng.permutation(n_items)  # order[p] = item at position p
        rel = set(rng.choice(n_items, size=int(rng.integers(1, 6)), replace=False).tolist())
        for p, item in enumerate(order):
            if item in rel:
                rows.append({"source": q, "rank": float(p + 1)})
        ranked.append(order.tolist())
        relevant.append(rel)
        y_true.append([1.0 if i in rel else 0.0 for i in range(n_items)])
        score = np.empty(n_items)
        score[order] = -np.arange(n_items)
        y_score.append(score)
    ours = ndcg_from_ranks(pd.DataFrame(rows), k)
    assert ours.mean() == pytest.approx(ndcg_at_k(ranked, relevant, k))
    assert ours.mean() == pytest.approx(ndcg_score(np.array(y_true), np.array(y_score), k=k))


def test_ndcg_from_ranks_perfect_miss_and_fractional():
    ranks = pd.DataFrame(
        {"source": [0, 0, 1, 2], "rank": [1.0, 2.0, 11.0, 1.5]}  # perfect, miss, tied 1-2
    )
    nd = ndcg_from_ranks(ranks, k=10)
    assert nd[0] == pytest.approx(1.0)
    assert nd[1] == 0.0
    assert nd[2] == pytest.approx(1.0 / np.log2(2.5))
    # more targets than k: the ideal DCG stops at k
    many = pd.DataFrame({"source": [0] * 5, "rank": [1.0, 2.0, 3.0, 4.0, 5.0]})
    assert ndcg_from_ranks(many, k=3)[0] == pytest.approx(1.0)


def test_ndcg_from_ranks_bad_input():
    good = pd.DataFrame({"source": [0], "rank": [1.0]})
    with pytest.raises(ValueError, match="k"):
        ndcg_from_ranks(good, k=0)
    with pytest.raises(TypeError, match="ranks"):
        ndcg_from_ranks({"source": [0], "rank": [1.0]})
    with pytest.raises(ValueError, match="missing"):
        ndcg_from_ranks(pd.DataFrame({"source": [0]}))
    with pytest.raises(ValueError, match=">= 1"):
        ndcg_from_ranks(pd.DataFrame({"source": [0], "rank": [0.5]}))
    with pytest.raises(ValueError, match="empty"):
        ndcg_from_ranks(good.iloc[:0])


def _small_graph(seed: int = 0) -> tuple[CSRGraph, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 60
    group = np.arange(n) % 5
    iu, iv = np.triu_indices(n, k=1)
    p = np.where(group[iu] == group[iv], 0.4, 0.02)
    edges = np.stack([iu, iv], axis=1)[rng.random(len(iu)) < p]
    hold = rng.random(len(edges)) < 0.2
    kept = edges[~hold]
    return CSRGraph.from_edges(kept[:, 0], kept[:, 1], n), edges[hold]


def test_ranking_metrics_agrees_with_the_evaluator():
    graph, targets = _small_graph()
    fn = adamic_adar(graph)
    ours = ranking_metrics(fn, graph, targets, k=5)
    ref = evaluate_link_prediction(fn, graph, targets, k=5)
    for key in ("hits@5", "recall@5", "mrr", "n_sources"):
        assert ours[key] == pytest.approx(ref[key])
    assert 0.0 < ours["ndcg@5"] <= 1.0
    with pytest.raises(ValueError, match="k"):
        ranking_metrics(fn, graph, targets, k=-1)


# ------------------------------------------------------------------------------ candidate nDCG
def test_candidate_ndcg_matches_utils_metrics():
    rng = np.random.default_rng(1)
    src = np.repeat(np.arange(12), 15)
    scores = rng.normal(size=len(src))
    labels = rng.random(len(src)) < 0.15
    labels[::15] = True  # every source has a positive
    ranked, relevant = [], []
    for s in range(12):
        rows = np.flatnonzero(src == s)
        ranked.append(rows[np.argsort(-scores[rows])].tolist())
        relevant.append(set(rows[labels[rows]].tolist()))
    assert candidate_ndcg(scores, src, labels, 5) == pytest.approx(ndcg_at_k(ranked, relevant, 5))


def test_candidate_ndcg_skips_sources_without_positives_and_checks_input():
    src = np.array([0, 0, 1, 1])
    assert candidate_ndcg([2.0, 1.0, 5.0, 4.0], src, [1, 0, 0, 0], k=2) == 1.0
    with pytest.raises(ValueError, match="one length"):
        candidate_ndcg([1.0], src, [1, 0, 0, 0])
    with pytest.raises(ValueError, match="NaN"):
        candidate_ndcg([np.nan, 1, 1, 1], src, [1, 0, 0, 0])
    with pytest.raises(ValueError, match="labels"):
        candidate_ndcg([1.0, 1, 1, 1], src, [2, 0, 0, 0])
    with pytest.raises(ValueError, match="no source"):
        candidate_ndcg([1.0, 1, 1, 1], src, [0, 0, 0, 0])


# ------------------------------------------------------------------------------ importance
@pytest.fixture(scope="module")
def ranked_rows():
    """Rows where only feature 'signal' predicts the label; 'noise_a', 'noise_b' do not."""
    rng = np.random.default_rng(0)
    n_src, per = 200, 20
    src = np.repeat(np.arange(n_src), per)
    signal = rng.normal(size=len(src))
    X = np.stack([signal, rng.normal(size=len(src)), rng.normal(size=len(src))], axis=1)
    y = (signal + 0.3 * rng.normal(size=len(src)) > 1.2).astype(int)
    names = ["signal", "noise_a", "noise_b"]
    model = lgb.LGBMClassifier(
        n_estimators=30, num_leaves=7, random_state=0, n_jobs=1, verbose=-1, deterministic=True
    ).fit(pd.DataFrame(X, columns=names), y)
    return model, X, src, y, names


GROUPS = {"useful": ["signal"], "useless": ["noise_a", "noise_b"]}


def test_group_gain_importance_finds_the_signal(ranked_rows):
    model, _, _, _, names = ranked_rows
    share = group_gain_importance(model, names, GROUPS)
    assert share.sum() == pytest.approx(1.0)
    assert share["useful"] > 0.8
    with pytest.raises(ValueError, match="feature_names"):
        group_gain_importance(model, names[:2], GROUPS)
    with pytest.raises(ValueError, match="unknown"):
        group_gain_importance(model, names, {"x": ["nope"]})
    with pytest.raises(TypeError, match="model"):
        group_gain_importance(object(), names, GROUPS)


def test_group_permutation_importance_ranks_the_signal_first(ranked_rows):
    model, X, src, y, names = ranked_rows

    def predict(f):
        return model.predict_proba(pd.DataFrame(f, columns=names))[:, 1]

    imp = group_permutation_importance(predict, X, src, y, names, GROUPS, k=5, n_repeats=2)
    assert list(imp["group"]) == ["useful", "useless"]
    assert imp.loc[0, "drop"] > 0.3
    assert abs(imp.loc[1, "drop"]) < 0.05
    with pytest.raises(ValueError, match="features"):
        group_permutation_importance(predict, X[:, :2], src, y, names, GROUPS)
    with pytest.raises(ValueError, match="n_repeats"):
        group_permutation_importance(predict, X, src, y, names, GROUPS, n_repeats=0)
    with pytest.raises(TypeError, match="predict"):
        group_permutation_importance(None, X, src, y, names, GROUPS)


# ------------------------------------------------------------------------------ snapshot context
def _films() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    actors = [f"a{i:02d}" for i in range(40)]
    rows = []
    for k in range(200):
        year = 1995 + k // 10
        t = rng.integers(5)
        cast = tuple(sorted(set(rng.choice(actors[t::5], size=3, replace=False))))
        rows.append(
            {
                "film_id": k,
                "imdb_id": f"tt{k:07d}",
                "title": f"film {k}",
                "year": year,
                "genres": (("Comedy", "Drama")[t % 2],),
                "directors": (f"d{t}",),
                "writers": (),
                "cast": cast,
                "languages": ("English",),
                "countries": ("France",) if t % 2 else ("United States",),
                "runtime": 90.0,
                "imdb_rating": np.nan,
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def history():
    films = _films()
    return LinkHistory.from_films(films, collaboration_graph(films))


def test_snapshot_context_equals_point_in_time_at_the_same_year(history):
    pit = history.context(2005)
    same = snapshot_context(history, 2005, 2005)
    np.testing.assert_array_equal(same.node, pit.node)
    np.testing.assert_array_equal(same.x, pit.x)
    np.testing.assert_array_equal(same.cats, pit.cats)


def test_snapshot_context_leaks_films_but_not_ties(history):
    pit, later = history.context(2005), history.context(2013)
    leaky = snapshot_context(history, 2005, 2013)
    assert leaky.year == 2005
    np.testing.assert_array_equal(leaky.node[:, 0], later.node[:, 0])  # film counts leak
    assert (leaky.node[:, 0] > pit.node[:, 0]).any()
    np.testing.assert_array_equal(leaky.node[:, 2], pit.node[:, 2])  # recent ties do not
    assert (leaky.costar != pit.costar).nnz == 0


def test_snapshot_context_bad_input(history):
    with pytest.raises(ValueError, match="snapshot_year"):
        snapshot_context(history, 2005, 2003)
    with pytest.raises(TypeError, match="year"):
        snapshot_context(history, 2005.0, 2010)
    with pytest.raises(TypeError, match="history"):
        snapshot_context(object(), 2005, 2010)


def test_snapshot_history_hands_out_leaky_contexts(history):
    lagged = snapshot_history(history, lag=3)
    assert isinstance(lagged, LinkHistory)
    ref = snapshot_context(history, 2005, 2008)
    got = lagged.context(2005)
    np.testing.assert_array_equal(got.node, ref.node)
    np.testing.assert_array_equal(got.x, ref.x)
    today = snapshot_history(history, snapshot_year=2013)
    np.testing.assert_array_equal(
        today.context(2005).node, snapshot_context(history, 2005, 2013).node
    )
    np.testing.assert_array_equal(today.context(2014).node, history.context(2014).node)
    x = np.ones((history.n_nodes, 2), dtype=np.float32)
    np.testing.assert_array_equal(lagged.context(2005, x).x, x)


def test_snapshot_history_bad_input(history):
    with pytest.raises(ValueError, match="exactly one"):
        snapshot_history(history)
    with pytest.raises(ValueError, match="exactly one"):
        snapshot_history(history, lag=1, snapshot_year=2010)
    with pytest.raises(ValueError, match="lag"):
        snapshot_history(history, lag=0)
    with pytest.raises(TypeError, match="history"):
        snapshot_history(object(), lag=1)
    with pytest.raises(TypeError, match="year"):
        snapshot_history(history, lag=1).context(2005.5)


# ------------------------------------------------------------------------------ candidate ranks
def test_candidate_ranks_give_candidate_recall_at_every_k():
    from utils.pymk.candidates import candidate_recall, fof_candidates, union_candidates

    graph, targets = _small_graph(2)
    fof = fof_candidates(graph, np.unique(targets), k=30)
    ranks = candidate_ranks(fof, targets)
    for k in (1, 3, 10, 30):
        assert (ranks < k).mean() == pytest.approx(candidate_recall(fof, targets, k=k))
    uni = union_candidates(fof.top(5), fof_candidates(graph, np.unique(targets), k=5, score="cn"))
    assert (candidate_ranks(uni, targets) < np.inf).mean() == pytest.approx(
        candidate_recall(uni, targets)
    )
    with pytest.raises(TypeError, match="cands"):
        candidate_ranks(targets, targets)
    with pytest.raises(ValueError, match="targets"):
        candidate_ranks(fof, targets[:, :1])
