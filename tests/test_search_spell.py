"""utils.search.spell: OSA distance, symmetric-delete candidates, corrections on real titles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils.search.engine import film_records, video_catalogue
from utils.search.spell import SpellCorrector, document_frequencies, osa_distance


@pytest.fixture(scope="module")
def titles():
    return video_catalogue(None)["title"].tolist()  # all 17,470 real titles


@pytest.fixture(scope="module")
def speller(titles):
    return SpellCorrector.from_docs(titles)


def test_osa_distance_known_values():
    assert osa_distance("kitten", "sitting") == 3
    assert osa_distance("ab", "ba") == 1  # one transposition
    assert osa_distance("ca", "abc") == 3  # OSA edits no substring twice (true DL gives 2)
    assert osa_distance("", "abc") == 3
    assert osa_distance("vertgio", "vertigo") == 1
    assert osa_distance("kitten", "sitting", limit=1) == 2
    with pytest.raises(TypeError):
        osa_distance("a", None)
    with pytest.raises(ValueError, match="limit"):
        osa_distance("a", "b", limit=-1)


_words = st.text(alphabet="abcde", min_size=0, max_size=7)


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@settings(max_examples=200, deadline=None)
@given(_words, _words, st.integers(0, 3))
def test_osa_is_symmetric_bounded_by_levenshtein_and_limit_is_exact(a, b, limit):
    d = osa_distance(a, b)
    assert d == osa_distance(b, a)
    assert abs(len(a) - len(b)) <= d <= _levenshtein(a, b)
    assert osa_distance(a, b, limit) == min(d, limit + 1)


def _brute_force(sc, token):
    bound = 1 if len(token) <= 4 else sc.max_distance
    return {t for t in sc.vocabulary if osa_distance(token, t) <= bound}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.text(alphabet="abcd", min_size=1, max_size=7), min_size=1, max_size=30),
    st.lists(st.text(alphabet="abcd", min_size=1, max_size=9), min_size=1, max_size=5),
    st.sampled_from([1, 2]),
)
def test_symmetric_delete_finds_every_term_within_the_bound(vocab, probes, max_distance):
    """The candidates equal a brute-force scan of the vocabulary (nothing missed, nothing
    extra) for random probes of 1-9 letters, so both bounds (1 edit up to 4 letters,
    ``max_distance`` above) and both settings of ``max_distance`` are exercised."""
    sc = SpellCorrector(dict.fromkeys(vocab, 1), max_distance=max_distance)
    for token in probes:
        assert {t for t, _, _ in sc.suggestions(token)} == _brute_force(sc, token)


def test_symmetric_delete_is_complete_on_real_query_tokens():
    """The same check on the real catalogue vocabulary: tokens of simulated queries with one to
    three random edits (seeded), against a brute-force OSA scan of every vocabulary term."""
    import numpy as np

    from utils.search.bm25 import tokenize
    from utils.search.queries import add_typos, simulate_queries

    films = video_catalogue(5000, seed=0)
    sc = SpellCorrector.from_docs(film_records(films))
    rng = np.random.default_rng(0)
    queries = simulate_queries(films, 40, seed=3, typo_rate=0.0)
    tokens = {t for q in queries for t in tokenize(add_typos(q.text, int(rng.integers(1, 4)), rng))}
    tokens = sorted(t for t in tokens if len(t) >= 3)[:60]
    assert len(tokens) >= 40
    by_length: dict[int, list[str]] = {}
    for t in sc.vocabulary:
        by_length.setdefault(len(t), []).append(t)
    for token in tokens:
        bound = 1 if len(token) <= 4 else sc.max_distance
        near = (
            t
            for n in range(len(token) - bound, len(token) + bound + 1)
            for t in by_length.get(n, ())
        )  # OSA >= the length difference
        brute = {t for t in near if osa_distance(token, t, bound) <= bound}
        assert {t for t, _, _ in sc.suggestions(token)} == brute, token


def test_corrects_typos_in_real_titles(speller):
    assert speller.correct("the godfater") == "the godfather"
    assert speller.correct("Casablanka") == "casablanca"
    assert speller.correct("sevn samurai") == "seven samurai"  # a deletion
    assert speller.correct("vertgio") == "vertigo"  # a transposition
    assert speller.correct("the shawshenk redemption") == "the shawshank redemption"
    assert speller.correct("2001 a space odysey") == "2001 a space odyssey"


def test_correct_queries_digits_and_short_tokens_are_unchanged(speller, titles):
    for q in ["the godfather", "citizen kane", "amelie", "terminator 2 judgment day"]:
        assert speller.correct(q) == q
    assert speller.correct("Amélie") == "amelie"  # normalised like the index, not changed
    assert speller.correct_token("1968") == "1968"
    assert speller.correct_token("19x8") == "19x8"  # has a digit: left alone
    assert speller.correct_token("xq") == "xq"  # shorter than min_length


def test_the_query_context_breaks_ties_among_the_closest_words(speller):
    """'wras' is one edit from both 'was' and 'wars'; alone, the more frequent word wins; in
    'star wras' the index knows that only 'wars' co-occurs with 'star'."""
    hits = speller.suggestions("wras")
    assert {"was", "wars"} <= {t for t, d, _ in hits if d == 1}
    assert speller.vocabulary["was"] > speller.vocabulary["wars"]
    assert speller.correct_token("wras") == "was"
    assert speller.correct("star wras") == "star wars"
    assert speller.correct("grand budapest hotle") == "grand budapest hotel"
    no_context = SpellCorrector(speller.vocabulary)  # frequencies only, no postings
    assert no_context.correct("star wras") == "star was"


def test_suggestions_respect_the_distance_bound_and_order(speller):
    for token in ["godfater", "odysey", "runer", "knigth", "xyzzyqw"]:
        hits = speller.suggestions(token)
        bound = 1 if len(token) <= 4 else 2
        assert all(osa_distance(token, t) == d <= bound for t, d, _ in hits)
        keys = [(d, -f, t) for t, d, f in hits]
        assert keys == sorted(keys)
    assert speller.suggestions("xyzzyqw") == []
    assert speller.correct_token("xyzzyqw") == "xyzzyqw"  # no candidate: unchanged


def test_document_frequencies_from_records():
    films = video_catalogue(50, seed=1)
    df = document_frequencies(film_records(films))
    assert df["the"] <= 50
    assert all(isinstance(v, int) and v >= 1 for v in df.values())
    assert document_frequencies(["a b a", "b c"]) == {"a": 1, "b": 2, "c": 1}


def test_bad_input_errors(speller):
    with pytest.raises(ValueError, match="no searchable token"):
        speller.correct("  !! ")
    with pytest.raises(TypeError, match="query"):
        speller.correct(None)
    with pytest.raises(ValueError, match="token"):
        speller.suggestions("two words")
    with pytest.raises(TypeError, match="queries"):
        speller.correct_many("one string")
    with pytest.raises(ValueError, match="vocabulary"):
        SpellCorrector({})
    with pytest.raises(ValueError, match="normalised token"):
        SpellCorrector({"Two Words": 3})
    with pytest.raises(ValueError, match="positive int"):
        SpellCorrector({"word": 0})
    with pytest.raises(ValueError, match="postings"):
        SpellCorrector({"word": 1}, postings={"other": {0}})
    with pytest.raises(ValueError, match="max_distance"):
        SpellCorrector({"word": 1}, max_distance=3)
    with pytest.raises(ValueError, match="at least one token"):
        document_frequencies(["", "?!"])
    with pytest.raises(TypeError, match="docs"):
        document_frequencies("a string")
