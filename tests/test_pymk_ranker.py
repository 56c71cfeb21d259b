"""utils.pymk.ranker on a small synthetic film table (the real one is exercised by the labs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.data import collaboration_graph
from utils.graph import temporal_link_split
from utils.graph.linkpred import LinkHistory
from utils.pymk.candidates import ORIGIN_COLLEAGUE
from utils.pymk.ranker import CrewHistory, PYMKRanker, colleague_candidates, ranker_feature_names


@pytest.fixture(scope="module")
def films() -> pd.DataFrame:
    """Four troupes of 20 actors making films 1990-2013; casts mostly within a troupe."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(600):
        troupe = rng.integers(4)
        pool = np.arange(20) + 20 * troupe
        cast = rng.choice(pool, size=rng.integers(3, 6), replace=False).tolist()
        if rng.random() < 0.2:
            cast.append(int(rng.integers(80)))
        rows.append(
            {
                "film_id": i,
                "imdb_id": f"tt{i:07d}",
                "title": f"Film {i}",
                "year": int(1990 + i * 24 // 600),
                "genres": (("Drama", "Comedy", "War", "Action")[troupe],),
                "directors": (f"Director {troupe}-{rng.integers(3)}",),
                "writers": (f"Writer {rng.integers(8)}",),
                "cast": tuple(dict.fromkeys(f"Actor {a:02d}" for a in cast)),
                "languages": ("English",),
                "countries": (("US", "UK", "FR", "DE")[troupe],),
                "cast_text": "",
                "runtime": 100.0,
                "imdb_rating": 7.0,
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def setup(films):
    collab = collaboration_graph(films)
    history = LinkHistory.from_films(films, collab)
    split = temporal_link_split(collab.ties, len(collab.actors), test_from=2010, val_from=2008)
    return history, split.test_phase


@pytest.fixture(scope="module")
def ranker(setup):
    history, _ = setup
    return PYMKRanker(0, n_estimators=20, neg_per_source=10).fit(history, 2010)


def test_colleague_candidates_are_past_costars_not_yet_connected(setup):
    history, phase = setup
    ctx = history.context(2010)
    c = colleague_candidates(ctx, phase.graph, np.arange(10), k=5)
    assert np.all(c.origin == ORIGIN_COLLEAGUE) and c.per_source().max() <= 5
    g = phase.graph
    for u, v in c.pairs():
        assert ctx.costar[u, v] >= 1
        assert v not in g.indices[g.indptr[u] : g.indptr[u + 1]]


def test_crew_shared_counts_match_brute_force(films, setup):
    history, _ = setup
    crew = CrewHistory.from_history(history, 2000)
    past = films[films["year"] < 2000]
    worked = {}
    for _, f in past.iterrows():
        for a in f["cast"]:
            worked.setdefault(a, set()).update(f["directors"])
    idx = {a: i for i, a in enumerate(history.actors)}
    pairs = np.array([[0, 1], [0, 25], [3, 4], [40, 79]])
    got = crew.shared(pairs)
    for (u, v), (d, _) in zip(pairs, got, strict=True):
        a, b = history.actors[u], history.actors[v]
        assert d == len(worked.get(a, set()) & worked.get(b, set())), (a, b)
    assert set(idx) == set(history.actors)


def test_fit_scores_and_recommends_without_neighbours(ranker, setup):
    _, phase = setup
    g = phase.graph
    assert ranker.fit_stats["positives"] > 0
    sources = np.unique(phase.targets)[:5]
    fn = ranker.score_fn(g)
    s = fn(sources)
    assert s.shape == (len(sources), g.n_nodes)
    cands, raw = ranker.score_candidates(g, sources)
    assert len(raw) == len(cands) and np.isfinite(raw).all()
    rows = np.searchsorted(sources, cands.src)
    assert np.all(s[rows, cands.cand] > 0)  # candidates rank above the backfill
    assert np.all(s < 1) and np.all(s >= -1)
    rec = ranker.recommend(g, sources, k=3)
    assert rec.groupby("src")["rank"].max().max() <= 3
    for u, v in rec[["src", "cand"]].to_numpy():
        assert u != v and v not in g.indices[g.indptr[u] : g.indptr[u + 1]]
    assert (
        len(ranker_feature_names())
        == ranker.features(
            g, cands.top(1), history_ctx(ranker), ranker._crew_at(ranker.history, 2010)
        ).shape[1]
    )


def history_ctx(ranker):
    return ranker.history.context(ranker.year)


def test_same_seed_same_model(setup, ranker):
    history, phase = setup
    again = PYMKRanker(0, n_estimators=20, neg_per_source=10).fit(history, 2010)
    src = np.unique(phase.targets)[:5]
    assert np.allclose(
        ranker.score_candidates(phase.graph, src)[1], again.score_candidates(phase.graph, src)[1]
    )


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: PYMKRanker("0"), "seed"),
        (lambda: PYMKRanker(0, depth=3), "model parameter"),
        (lambda: PYMKRanker(0, candidate_params={"k": 3}), "candidate parameter"),
        (lambda: PYMKRanker(0, candidate_params={"fof_k": -1}), "fof_k"),
        (
            lambda: PYMKRanker(0, candidate_params={"fof_k": 0, "emb_k": 0, "colleague_k": 0}),
            "at least one",
        ),
        (lambda: PYMKRanker(0, feature_groups=["nope"]), "feature_groups"),
    ],
)
def test_bad_construction(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_bad_use(setup):
    history, phase = setup
    with pytest.raises(RuntimeError, match="fit"):
        PYMKRanker(0).score_fn(phase.graph)
    with pytest.raises(TypeError, match="history"):
        PYMKRanker(0).fit("films", 2010)
    with pytest.raises(TypeError, match="year"):
        PYMKRanker(0).fit(history, "2010")
    with pytest.raises(ValueError, match="context"):
        colleague_candidates(None, phase.graph, [0], k=3)
