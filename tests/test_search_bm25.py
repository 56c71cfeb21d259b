"""utils.search.bm25: the formula by hand, agreement with bm25s, BM25F, clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from utils.search.bm25 import BM25, BM25F, tokenize

DOCS = [
    "The Great Dictator",
    "The Great Escape",
    "Escape from Alcatraz escape escape",
    "Amélie",
    "It",
]


def test_tokenize_folds_case_and_accents():
    assert tokenize("Amélie (2001)") == ["amelie", "2001"]
    assert tokenize("Spider-Man: No Way Home") == ["spider", "man", "no", "way", "home"]
    assert tokenize("It") == ["it"]
    with pytest.raises(TypeError, match="text"):
        tokenize(None)


def test_scores_match_the_formula_by_hand():
    k1, b = 1.2, 0.75
    m = BM25(k1, b).fit(DOCS)
    lengths = [len(tokenize(d)) for d in DOCS]
    avgdl = sum(lengths) / len(lengths)
    df = 2  # "escape" is in docs 1 and 2
    idf = math.log(1 + (5 - df + 0.5) / (df + 0.5))
    expect = [0.0, 0.0, 0.0, 0.0, 0.0]
    for d, tf in ((1, 1), (2, 3)):
        expect[d] = idf * tf / (tf + k1 * (1 - b + b * lengths[d] / avgdl))
    assert np.allclose(m.scores("escape"), expect)
    ids, scores = m.search("escape", 5)
    assert ids.tolist() == [2, 1] and np.all(np.diff(scores) <= 0)  # only matching documents
    assert m.search("amelie", 1)[0].tolist() == [3]  # accents folded on both sides
    assert m.search("zorro", 3)[0].size == 0  # a zero-result query


def test_repeated_query_terms_count_once():
    m = BM25().fit(DOCS)
    assert np.allclose(m.scores("escape escape great"), m.scores("great escape"))


def test_agrees_with_bm25s_on_the_film_catalogue():
    bm25s = pytest.importorskip("bm25s")
    from utils.data import load_films

    films = load_films()
    texts = (films.title + " " + films.cast_text).tolist()[:4000]
    ours = BM25(k1=1.5, b=0.75).fit(texts)
    ref = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    ref.index([tokenize(t) for t in texts], show_progress=False)
    for q in ["great dictator", "alfred hitchcock rebecca", "humphrey bogart casablanca"]:
        got = ours.scores(q)
        want = ref.get_scores(sorted(set(tokenize(q))))
        assert np.allclose(got, want, rtol=1e-5, atol=1e-5), q


def test_bm25f_with_one_field_equals_bm25_and_weights_move_rankings():
    plain = BM25(1.2, 0.75).fit(DOCS)
    one = BM25F({"title": 1.0}, k1=1.2, b=0.75).fit([{"title": d} for d in DOCS])
    assert np.allclose(plain.scores("great escape"), one.scores("great escape"))
    recs = [
        {"title": "Casablanca", "cast": "Humphrey Bogart, Ingrid Bergman"},
        {"title": "Bogart", "cast": "Someone Else"},
    ]
    cast_heavy = BM25F({"title": 1.0, "cast": 5.0}).fit(recs)
    title_heavy = BM25F({"title": 5.0, "cast": 1.0}).fit(recs)
    assert cast_heavy.search("bogart", 1)[0].tolist() == [0]
    assert title_heavy.search("bogart", 1)[0].tolist() == [1]


@pytest.mark.parametrize(
    ("build", "err", "match"),
    [
        (lambda: BM25(k1=-1), ValueError, "k1"),
        (lambda: BM25(b=1.5), ValueError, "b must lie"),
        (lambda: BM25().fit([]), ValueError, "at least one"),
        (lambda: BM25().fit("one string"), TypeError, "texts"),
        (lambda: BM25().scores("x"), RuntimeError, "fit"),
        (lambda: BM25().fit(DOCS).scores(""), ValueError, "no searchable token"),
        (lambda: BM25().fit(DOCS).scores(3), TypeError, "query"),
        (lambda: BM25().fit(DOCS).search("great", 0), ValueError, "k must be positive"),
        (lambda: BM25F({}), ValueError, "fields"),
        (lambda: BM25F({"title": 1.0}, b={"plot": 0.5}), ValueError, "unknown fields"),
        (lambda: BM25F({"title": 1.0}).fit([{"plot": "x"}]), ValueError, "unknown fields"),
        (lambda: BM25F({"title": 0.0}), ValueError, "at least one weight"),
    ],
)
def test_bad_input_is_named(build, err, match):
    with pytest.raises(err, match=match):
        build()


def test_memory_bytes_counts_postings():
    from utils.search.bm25 import BM25

    idx = BM25().fit(["a b c", "a d", "e"])
    W = idx._W
    assert idx.memory_bytes() == W.data.nbytes + W.indices.nbytes + W.indptr.nbytes
    assert W.nnz == 6  # one posting per distinct (document, term)
    with pytest.raises(RuntimeError, match="fit"):
        BM25().memory_bytes()
