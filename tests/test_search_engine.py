"""utils.search.engine: the shared video-search engine (catalogue, retrievers, features, ranker)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.search.engine import (
    FEATURES,
    VideoSearchEngine,
    evaluate,
    film_records,
    film_texts,
    fit_ranker,
    judged_labels,
    rank_with,
    split_queries,
    video_catalogue,
)
from utils.search.fusion import reciprocal_rank_fusion
from utils.search.queries import Query, simulate_queries


@pytest.fixture(scope="module")
def films():
    return video_catalogue(300, seed=5)


@pytest.fixture(scope="module")
def engine(films):
    return VideoSearchEngine(films)  # real MiniLM vectors of 300 films (cached on disk)


@pytest.fixture(scope="module")
def queries(films):
    mix = {"known_item": 0.4, "partial_title": 0.2, "facet": 0.2, "mismatch": 0.2}
    return simulate_queries(films, 120, mix=mix, seed=3)  # 300 films: too few for "person"


def test_catalogue_is_a_seeded_sample_in_year_order(films):
    assert len(films) == 300 and list(films.index) == list(range(300))
    assert films["year"].is_monotonic_increasing
    again = video_catalogue(300, seed=5)
    assert again["film_id"].tolist() == films["film_id"].tolist()
    assert video_catalogue(300, seed=6)["film_id"].tolist() != films["film_id"].tolist()
    with pytest.raises(ValueError, match="n_films"):
        video_catalogue(10**6)
    with pytest.raises(ValueError, match="n_films"):
        video_catalogue(0)


def test_records_and_texts_hold_the_fields(films):
    rec = film_records(films)[0]
    r = films.iloc[0]
    assert set(rec) == {"title", "people", "facets"} and rec["title"] == r["title"]
    assert f"{r['year'] // 10 * 10}s" in rec["facets"] and str(r["year"]) in rec["facets"]
    for p in (*r["directors"], *r["cast"]):
        assert p in rec["people"]
    text = film_texts(films)[0]
    assert text.startswith(r["title"]) and f"{r['year'] // 10 * 10}s" in text
    with pytest.raises(ValueError, match="missing columns"):
        film_records(films.drop(columns=["cast"]))
    with pytest.raises(TypeError, match="DataFrame"):
        film_texts([1, 2])


def test_exact_title_query_finds_its_film_first(engine, films):
    ids, scores = engine.search_bm25([films["title"].iloc[42]], 5)[0]
    assert engine.films["title"].iloc[ids[0]].lower() == films["title"].iloc[42].lower()
    assert np.all(np.diff(scores) <= 0)


def test_dense_search_is_exact_inner_product(engine):
    texts = ["french comedy from the sixties", "war film"]
    Q = engine.encode_queries(texts)
    res = engine.search_dense(texts, 7, Q)
    for (ids, cos), q in zip(res, Q, strict=True):
        s = engine.embeddings @ q
        np.testing.assert_array_equal(np.sort(ids), np.sort(np.argsort(-s)[:7]))
        np.testing.assert_allclose(cos, s[ids], rtol=1e-5, atol=1e-6)


def test_hybrid_is_rrf_of_the_two_lists(engine):
    texts = ["hitchcock thriller", "scary japanese movie"]
    Q = engine.encode_queries(texts)
    hyb = engine.search_hybrid(texts, 10, depth=30, query_vectors=Q)
    lex, den = engine.search_bm25(texts, 30), engine.search_dense(texts, 30, Q)
    for h, a, b in zip(hyb, lex, den, strict=True):
        ids, s = reciprocal_rank_fusion([a[0], b[0]], k=60, top=10)
        np.testing.assert_array_equal(h[0], ids)
        np.testing.assert_allclose(h[1], s)


def test_zero_result_and_bad_queries(engine):
    assert engine.search_bm25(["qqqzzzxxy"], 5)[0][0].size == 0
    with pytest.raises(ValueError, match="no searchable token"):
        engine.search_bm25(["?!"], 5)
    with pytest.raises(ValueError, match="must not be empty"):
        engine.search_dense([], 5)
    with pytest.raises(TypeError, match="list of query strings"):
        engine.search_bm25("a single string", 5)
    with pytest.raises(ValueError, match="query_vectors"):
        engine.search_dense(["war"], 5, np.zeros((2, 384), np.float32))


def test_bad_construction_is_refused(films):
    with pytest.raises(ValueError, match="unknown fields"):
        VideoSearchEngine(films, field_weights={"plot": 1.0}, embeddings=np.zeros((300, 8)))
    with pytest.raises(ValueError, match="one row per film"):
        VideoSearchEngine(films, embeddings=np.zeros((10, 8)))


def test_features_use_query_and_catalogue_only(engine, queries):
    qs = queries[:20]
    cand = engine.candidates(qs, 30)
    F = engine.features(qs, cand, depth=30)
    assert list(F.columns) == ["qid", "doc", *FEATURES]
    assert len(F) == sum(len(c) for c in cand)
    # the same texts as plain strings give the same features: relevance labels never enter
    F2 = engine.features([q.text for q in qs], cand, depth=30)
    pd.testing.assert_frame_equal(F, F2)
    assert F["bm25_rank"].between(1, 31).all() and F["dense_rank"].between(1, 31).all()
    assert F["title_trigram_sim"].between(0, 1).all()
    # passing the retrieval lists the caller already has gives the same rows
    lists = (engine.search_bm25(qs, 30), engine.search_dense(qs, 30))
    pd.testing.assert_frame_equal(F, engine.features(qs, cand, depth=30, retrieved=lists))
    with pytest.raises(ValueError, match="one list per query"):
        engine.features(qs, cand, depth=30, retrieved=(lists[0][:3], lists[1]))
    with pytest.raises(ValueError, match="outside"):
        engine.features(qs[:1], [np.array([10**6])])
    with pytest.raises(ValueError, match="lists for"):
        engine.features(qs[:2], cand[:1])


def test_evaluate_scores_perfect_and_empty_rankings():
    q = Query(text="x", kind="facet", relevance={3: 2, 5: 2, 7: 1})
    k = Query(text="y", kind="known_item", relevance={4: 3, 9: 2}, target=4)
    perfect = evaluate([np.array([3, 5, 7]), (np.array([4, 9]), np.array([2.0, 1.0]))], [q, k])
    assert perfect["ndcg"].tolist() == pytest.approx([1.0, 1.0])
    assert perfect["mrr"].tolist() == [1.0, 1.0] and not perfect["zero_result"].any()
    worse = evaluate([np.array([7, 1, 2, 3]), np.zeros(0, np.int64)], [q, k])
    assert worse["mrr"].tolist() == [0.25, 0.0] and worse["zero_result"].tolist() == [False, True]
    with pytest.raises(ValueError, match="lists for"):
        evaluate([np.array([1])], [q, k])


def test_ranker_learns_from_judged_labels(engine, queries):
    sp = split_queries(queries, seed=0)
    tr = sp["train"]
    cand = engine.candidates(tr, 30)
    F = engine.features(tr, cand, depth=30)
    y = judged_labels(F, tr)
    assert set(np.unique(y)) <= {0, 1, 2, 3} and y.max() == 3
    model = fit_ranker(F, y, n_estimators=50, min_child_samples=5)
    ranked = rank_with(model, F, len(tr))
    fused = evaluate(engine.search_hybrid(tr, 10, depth=30), tr)["ndcg"].mean()
    learned = evaluate(ranked, tr)["ndcg"].mean()
    assert learned > fused  # on its own training queries the ranker must fit the labels
    with pytest.raises(ValueError, match="one label per"):
        fit_ranker(F, y[:-1])
    with pytest.raises(ValueError, match="sorted by qid"):
        fit_ranker(F.iloc[::-1], y[::-1])


def test_split_is_disjoint_and_seeded(queries):
    sp = split_queries(queries, (0.5, 0.25, 0.25), seed=1)
    sizes = {k: len(v) for k, v in sp.items()}
    assert sizes == {"train": 60, "val": 30, "test": 30}
    ids = [id(q) for v in sp.values() for q in v]
    assert len(set(ids)) == len(queries)
    assert [q.text for q in split_queries(queries, seed=1)["test"]] == [q.text for q in sp["test"]]
    with pytest.raises(ValueError, match="fractions"):
        split_queries(queries, (0.5, 0.5, 0.5))
