"""utils.search.queries: the simulator's relevance follows its documented rules."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from utils.data import load_films
from utils.search.bm25 import tokenize
from utils.search.queries import KINDS, THESAURUS, add_typos, simulate_clicks, simulate_queries


@pytest.fixture(scope="module")
def films():
    return load_films()


@pytest.fixture(scope="module")
def queries(films):
    return simulate_queries(films, 300, seed=1)


def test_mix_is_seeded_and_covers_every_kind(films, queries):
    assert set(Counter(q.kind for q in queries)) == set(KINDS)
    again = simulate_queries(films, 300, seed=1)
    assert [q.text for q in again] == [q.text for q in queries]
    assert [q.text for q in simulate_queries(films, 300, seed=2)] != [q.text for q in queries]


def test_relevance_follows_the_rules(films, queries):
    titles = films["title"].str.lower().str.strip().to_numpy()
    for q in queries:
        assert q.relevance and set(q.relevance.values()) <= {1, 2, 3}
        if q.kind in ("known_item", "partial_title"):
            assert q.relevance[q.target] == 3
        if q.kind == "partial_title":
            assert titles[q.target].startswith(q.text)
        if q.kind in ("facet", "mismatch"):
            f = q.facets
            for row, grade in q.relevance.items():
                film = films.iloc[row]
                assert f["genre"] in film["genres"]
                assert f"{film['year'] // 10 * 10}s" == f["decade"]
                assert (f["country"] in film["countries"]) == (grade == 2)
        if q.kind == "person" and "director" in q.facets:
            for row, grade in q.relevance.items():
                directed = q.facets["director"] in films.iloc[row]["directors"]
                assert directed == (grade == 2)


def test_mismatch_queries_avoid_metadata_words(films, queries):
    for fam in THESAURUS.values():
        for value, words in fam.items():
            for w in words:
                assert not set(tokenize(w)) & set(tokenize(value)), (w, value)
    syns = [s for fam in THESAURUS.values() for v in fam.values() for s in v]
    assert len(syns) == len(set(syns)), "a synonym stands for two values"
    languages = {t for vs in films["languages"] for v in vs for t in tokenize(v)}
    genre_decade = [s for f in ("genre", "decade") for v in THESAURUS[f].values() for s in v]
    assert not set(genre_decade) & languages


def test_add_typos_edits_inside_words():
    rng = np.random.default_rng(0)
    out = add_typos("the great dictator", 2, rng)
    assert out != "the great dictator" and out.count(" ") == 2
    assert add_typos("a", 3, rng) == "a"
    with pytest.raises(TypeError, match="text"):
        add_typos(None, 1, rng)


def test_clicks_follow_position_and_grade(films, queries):
    rankings = [
        np.array(sorted(q.relevance, key=q.relevance.get, reverse=True)[:10]) for q in queries
    ]
    log, exam = simulate_clicks(rankings * 20, queries * 20, eta=1.0, seed=0)
    assert np.allclose(exam[:3], [1, 0.5, 1 / 3])
    ctr = log.groupby("rank")["clicked"].mean()
    assert ctr.loc[1] > ctr.loc[5]
    with pytest.raises(ValueError, match="lists for"):
        simulate_clicks(rankings[:2], queries)
    with pytest.raises(ValueError, match="eta"):
        simulate_clicks(rankings, queries, eta=-1)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"n": 0}, ValueError, "n must be positive"),
        ({"mix": {"plot": 1.0}}, ValueError, "unknown query kinds"),
        ({"mix": {"facet": 0.0}}, ValueError, "not all 0"),
        ({"typo_rate": 2.0}, ValueError, "typo_rate"),
        ({"typo_rate": "high"}, TypeError, "typo_rate"),
    ],
)
def test_bad_arguments(films, kwargs, err, match):
    with pytest.raises(err, match=match):
        simulate_queries(films, **{"n": 10, **kwargs})


def test_films_must_have_the_columns(films):
    with pytest.raises(ValueError, match="missing columns"):
        simulate_queries(films.drop(columns=["cast"]), 5)


def test_a_catalogue_too_small_for_a_kind_is_named(films):
    few = films.iloc[:40]
    with pytest.raises(ValueError, match="too small for 'person'"):
        simulate_queries(few, 50, mix={"person": 1.0}, seed=0)
