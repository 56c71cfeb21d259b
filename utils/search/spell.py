"""Query spelling correction over the catalogue's own vocabulary (symmetric delete, SymSpell).

The dictionary is the index: every token of the catalogue's records with its *document
frequency* (how many films contain it, :func:`document_frequencies`), so a correction can only
produce a word that retrieves something. Each query token is corrected on its own, with the
query's other words as context only to break ties:

1. tokens that are in the vocabulary, contain a digit ("1960s", "2001"), or are shorter than
   ``min_length`` are left alone;
2. candidates come from the *symmetric delete* idea (Garbe, 2012, SymSpell): at build time every
   vocabulary term is stored under each string obtained by deleting up to ``max_distance`` of
   its characters; at query time the token's own deletes are looked up. Two strings within
   Damerau-Levenshtein distance ``d`` share a string reachable by at most ``d`` deletes from
   each side (an insertion or a deletion is one delete on the longer side only; a substitution
   or a transposition is one delete on each side), so no candidate within the bound is missed,
   and no insert/substitute alphabet is ever enumerated;
3. each candidate is verified with the *optimal string alignment* distance (the restricted
   Damerau-Levenshtein distance: the four edit types of Damerau (1964), insertion, deletion,
   substitution and transposition of adjacent characters, counted by a dynamic programme that
   edits no substring twice; the restriction is the programme's, not Damerau's) and kept if it
   is within the token's bound: 1 edit for tokens of up to 4 characters, ``max_distance``
   otherwise;
4. the smallest distance wins; among candidates at that distance, the one found in most
   documents that also hold all of the query's other known tokens (when the corrector has the
   postings, as :meth:`SpellCorrector.from_docs` builds it; the index arbitrates, as Solr's
   spell-check collation does by re-running the corrected query); then the highest document
   frequency, then alphabetical order. In the labs' 5,000-film sample, without context "hotle"
   becomes "hole" (4 films) rather than "hotel" (2); in "grand budapest hotle" only "hotel"
   co-occurs with the other words.

What it cannot fix: a typo that makes another real word ("cat" -> "car": both are known, so
neither is touched), split or merged words ("star wars" typed "starwars"), and words the
catalogue does not contain (it corrects towards the catalogue, not towards English).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .._checks import check_positive_int
from .bm25 import tokenize

__all__ = ["SpellCorrector", "document_frequencies", "osa_distance"]


def _postings(docs: Iterable[str | Mapping[str, str]]) -> dict[str, set[int]]:
    if isinstance(docs, str | Mapping):
        raise TypeError("docs must be a sequence of texts or {field: text} records")
    out: dict[str, set[int]] = {}
    for i, d in enumerate(docs):
        if isinstance(d, Mapping):
            d = " ".join(str(v) for v in d.values() if v is not None)
        if not isinstance(d, str):
            raise TypeError(f"docs[{i}] must be a str or a mapping, got {type(d).__name__}")
        for t in set(tokenize(d)):
            out.setdefault(t, set()).add(i)
    if not out:
        raise ValueError("docs must hold at least one token (letters or digits)")
    return out


def document_frequencies(docs: Iterable[str | Mapping[str, str]]) -> dict[str, int]:
    """Token -> number of documents containing it; a document is a text or a ``{field: text}``
    record (e.g. :func:`utils.search.engine.film_records`), whose fields are pooled."""
    return {t: len(ids) for t, ids in _postings(docs).items()}


def osa_distance(a: str, b: str, limit: int | None = None) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein restricted so that no substring
    is edited twice): the fewest insertions, deletions, substitutions and adjacent
    transpositions turning ``a`` into ``b``. With ``limit``, any distance above it is returned
    as ``limit + 1`` (the row minimum never decreases, so the scan stops early)."""
    if not isinstance(a, str) or not isinstance(b, str):
        raise TypeError("a and b must be str")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be an int >= 0 or None, got {limit!r}")
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if limit is not None and min(cur) > limit and min(prev) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1] if limit is None else min(prev[-1], limit + 1)


def _deletes(word: str, depth: int) -> set[str]:
    """``word`` and every string made by deleting one (``depth`` >= 1) or two (``depth`` = 2)
    of its characters."""
    n = len(word)
    out = {word, *[word[:i] + word[i + 1 :] for i in range(n)]}
    if depth == 2:
        out.update(
            [word[:i] + word[i + 1 : j] + word[j + 1 :] for i in range(n) for j in range(i + 1, n)]
        )
    return out


class SpellCorrector:
    """Corrects query tokens towards the vocabulary ``{token: document frequency}``.

    ``SpellCorrector.from_docs(film_records(films))`` builds it from the catalogue, with the
    ``postings`` (token -> set of document ids) that let a query's other words break ties.
    """

    def __init__(
        self,
        vocabulary: Mapping[str, int],
        *,
        postings: Mapping[str, set[int]] | None = None,
        max_distance: int = 2,
        min_length: int = 3,
    ) -> None:
        if not isinstance(vocabulary, Mapping) or not vocabulary:
            raise ValueError("vocabulary must be a non-empty mapping {token: frequency}")
        for t, f in vocabulary.items():
            if not isinstance(t, str) or tokenize(t) != [t]:
                raise ValueError(f"vocabulary key {t!r} is not a single normalised token")
            if isinstance(f, bool) or not isinstance(f, int) or f <= 0:
                raise ValueError(f"vocabulary[{t!r}] must be a positive int, got {f!r}")
        if max_distance not in (1, 2) or isinstance(max_distance, bool):
            raise ValueError(f"max_distance must be 1 or 2, got {max_distance!r}")
        self.max_distance = int(max_distance)
        self.min_length = check_positive_int(min_length, "min_length")
        self.vocabulary = dict(vocabulary)
        if postings is not None and set(postings) != set(self.vocabulary):
            raise ValueError("postings must have exactly the vocabulary's tokens as keys")
        self.postings = postings
        # delete string -> the term (one) or the terms (a list) it comes from
        self._index: dict[str, str | list[str]] = {}
        index = self._index
        for t in sorted(self.vocabulary):
            for d in _deletes(t, self.max_distance):
                hit = index.get(d)
                if hit is None:
                    index[d] = t
                elif isinstance(hit, str):
                    index[d] = [hit, t]
                else:
                    hit.append(t)

    @classmethod
    def from_docs(cls, docs: Iterable[str | Mapping[str, str]], **kwargs) -> SpellCorrector:
        post = _postings(docs)
        return cls({t: len(ids) for t, ids in post.items()}, postings=post, **kwargs)

    def _bound(self, token: str) -> int:
        return 1 if len(token) <= 4 else self.max_distance

    def suggestions(self, token: str) -> list[tuple[str, int, int]]:
        """Vocabulary terms within the token's bound: ``(term, distance, frequency)``, best
        first (distance, then -frequency, then the term)."""
        if not isinstance(token, str) or tokenize(token) != [token]:
            raise ValueError(f"token must be one normalised token (see tokenize), got {token!r}")
        bound = self._bound(token)
        seen: dict[str, int] = {}
        for d in _deletes(token, bound):
            hit = self._index.get(d, ())
            for t in (hit,) if isinstance(hit, str) else hit:
                if t not in seen and abs(len(t) - len(token)) <= bound:
                    seen[t] = osa_distance(token, t, bound)
        hits = [(t, dist, self.vocabulary[t]) for t, dist in seen.items() if dist <= bound]
        return sorted(hits, key=lambda h: (h[1], -h[2], h[0]))

    def correct_token(self, token: str, context: Sequence[str] = ()) -> str:
        """The best suggestion, or ``token`` itself when it is known, has a digit, is short or
        has no candidate within its bound. ``context``: the query's other tokens; those in the
        vocabulary break ties among the closest candidates (needs ``postings``)."""
        if not isinstance(token, str):
            raise TypeError(f"token must be a str, got {type(token).__name__}")
        if (
            token in self.vocabulary
            or len(token) < self.min_length
            or any(c.isdigit() for c in token)
        ):
            return token
        hits = self.suggestions(token)
        if not hits:
            return token
        closest = [t for t, d, _ in hits if d == hits[0][1]]
        known = [c for c in context if c in self.vocabulary and c != token]
        if len(closest) > 1 and known and self.postings is not None:
            docs = set.intersection(*(self.postings[c] for c in known))
            together = [len(self.postings[t] & docs) for t in closest]
            if max(together) > 0:  # the first maximum keeps the frequency order among ties
                return closest[together.index(max(together))]
        return closest[0]

    def corrections(self, query: str) -> list[tuple[str, str]]:
        """``(token, corrected)`` for every token of ``query`` (tokenised as the index is)."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        toks = tokenize(query)
        if not toks:
            raise ValueError(f"query {query!r} has no searchable token (letters or digits)")
        return [(t, self.correct_token(t, toks)) for t in toks]

    def correct(self, query: str) -> str:
        """The corrected query: its tokens, corrected, joined by spaces."""
        return " ".join(c for _, c in self.corrections(query))

    def correct_many(self, queries: Sequence[str]) -> list[str]:
        if isinstance(queries, str) or not isinstance(queries, Sequence):
            raise TypeError("queries must be a sequence of strings")
        return [self.correct(q) for q in queries]
