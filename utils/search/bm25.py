"""Okapi BM25 and BM25F, small enough to read, checked against the ``bm25s`` package.

Scoring (the Lucene variant, which ``bm25s`` calls ``method="lucene"``): for a query with
distinct terms ``t`` and a document ``d`` of length ``|d|`` (tokens) in a corpus of ``N``
documents with mean length ``avgdl``,

    score(q, d) = sum_t idf(t) * tf(t, d) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

(Robertson & Zaragoza, 2009, eq. 3.15-3.16; Lucene since version 8 drops the constant factor
``k1 + 1`` from the numerator, which leaves every ranking unchanged, and adds 1 inside the log so
that idf is never negative). ``k1`` caps how much repeating a term can add; ``b`` sets how much
long documents are penalised. Each distinct query term counts once.

BM25F (Robertson, Zaragoza & Taylor, 2004; Zaragoza et al., 2004) scores structured documents:
the term frequency is a weighted sum over fields, each normalised by its own length,

    tf~(t, d) = sum_f w_f * tf_f(t, d) / (1 - b_f + b_f * |d_f| / avgdl_f)
    score     = sum_t idf(t) * tf~ / (k1 + tf~)

so a title match can be worth more than a match in a long cast list. With one field of weight 1
it equals BM25.

Tokens: :func:`tokenize` lower-cases, strips accents (NFKD, combining marks dropped) and keeps
runs of letters and digits; no stemming and no stop-word list (titles like "It" or "Us" are
known-item queries too).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from .._checks import check_k

__all__ = ["BM25", "BM25F", "tokenize"]

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def tokenize(text: object) -> list[str]:
    """Lower-cased, accent-free runs of letters and digits.

    ``"Amélie (2001)" -> ["amelie", "2001"]``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _TOKEN.findall(folded)


def _check_param(value: object, name: str, low: float, high: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < low or (high is not None and value > high):
        rng = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must lie in {rng}, got {value}")
    return float(value)


class BM25:
    """Okapi BM25 over a list of texts; ``search`` returns the top-k documents with score > 0.

    ``fit(texts)`` builds a sparse (documents x terms) matrix of per-term scores, so a query is
    one sparse column sum. Documents are identified by their position in ``texts``.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = _check_param(k1, "k1", 0.0, None)
        self.b = _check_param(b, "b", 0.0, 1.0)
        self.vocab: dict[str, int] = {}
        self._W: sp.csc_matrix | None = None

    # -- building -------------------------------------------------------------------------
    def _vocab_ids(self, docs: Sequence[Sequence[str]]) -> list[np.ndarray]:
        out = []
        for toks in docs:
            out.append(np.array([self.vocab.setdefault(t, len(self.vocab)) for t in toks], int))
        return out

    @staticmethod
    def _tf(ids: list[np.ndarray], n_terms: int) -> sp.csr_matrix:
        rows = np.repeat(np.arange(len(ids)), [len(i) for i in ids])
        cols = np.concatenate(ids) if ids else np.zeros(0, int)
        tf = sp.csr_matrix(
            (np.ones(len(cols)), (rows, cols)), shape=(len(ids), n_terms), dtype=np.float64
        )
        tf.sum_duplicates()
        return tf

    def _idf(self, df: np.ndarray, n_docs: int) -> np.ndarray:
        return np.log1p((n_docs - df + 0.5) / (df + 0.5))

    def fit(self, texts: Sequence[str]) -> BM25:
        """Index ``texts`` (a non-empty sequence of strings)."""
        docs = self._tokenized(texts, "texts")
        self.vocab = {}
        ids = self._vocab_ids(docs)
        tf = self._tf(ids, len(self.vocab))
        lengths = np.array([len(d) for d in docs], dtype=np.float64)
        norm = self._norm(lengths, self.b)
        self.n_docs = len(docs)
        self.idf = self._idf(np.diff(tf.tocsc().indptr).astype(np.float64), self.n_docs)
        self._W = self._saturate(tf, norm).tocsc()
        return self

    @staticmethod
    def _norm(lengths: np.ndarray, b: float) -> np.ndarray:
        avg = lengths.mean() if lengths.size and lengths.mean() > 0 else 1.0
        return 1.0 - b + b * lengths / avg

    def _saturate(self, tf: sp.csr_matrix, norm: np.ndarray) -> sp.csr_matrix:
        """tf (already length-weighted for BM25F) -> idf * tf / (tf + k1 * norm)."""
        tf = tf.tocsr(copy=True)
        row_norm = np.repeat(norm, np.diff(tf.indptr))
        tf.data = tf.data / (tf.data + self.k1 * row_norm) * self.idf[tf.indices]
        return tf

    @staticmethod
    def _tokenized(texts: object, name: str) -> list[list[str]]:
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise TypeError(f"{name} must be a sequence of strings, got {type(texts).__name__}")
        if len(texts) == 0:
            raise ValueError(f"{name} must hold at least one document")
        return [tokenize(t) for t in texts]

    # -- querying -------------------------------------------------------------------------
    def _check_fitted(self) -> sp.csc_matrix:
        if self._W is None:
            raise RuntimeError("call fit() before scoring")
        return self._W

    def memory_bytes(self) -> int:
        """Bytes of the fitted score matrix as stored (CSC: one float64 score and one int32 row
        id per posting, plus column pointers): the in-memory size of this inverted index,
        without the vocabulary dictionary."""
        W = self._check_fitted()
        return int(W.data.nbytes + W.indices.nbytes + W.indptr.nbytes)

    def query_terms(self, query: object) -> list[int]:
        """Distinct known term ids of ``query`` (unknown terms score nothing)."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        toks = tokenize(query)
        if not toks:
            raise ValueError(f"query {query!r} has no searchable token (letters or digits)")
        return sorted({self.vocab[t] for t in toks if t in self.vocab})

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query``, shape (n_docs,)."""
        W = self._check_fitted()
        terms = self.query_terms(query)
        if not terms:
            return np.zeros(self.n_docs)
        return np.asarray(W[:, terms].sum(axis=1)).ravel()

    def search(self, query: str, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` documents by score (ties by position), only those with score > 0:
        ``(ids, scores)``; fewer than ``k`` (possibly none: a zero-result query) when fewer
        documents share a term with the query."""
        self._check_fitted()
        k = check_k(k, self.n_docs, what="the index")
        s = self.scores(query)
        hit = np.flatnonzero(s > 0)
        order = hit[np.lexsort((hit, -s[hit]))][:k]
        return order, s[order]


class BM25F(BM25):
    """BM25F over records with named text fields, one weight and one ``b`` per field.

    ``fields``: ``{name: weight}`` (weights > 0); ``b``: one value for every field or a
    ``{name: b}`` mapping. ``fit(records)`` takes a sequence of mappings field -> text; a
    missing field counts as empty text, an unknown field is an error.
    """

    def __init__(
        self, fields: Mapping[str, float], k1: float = 1.2, b: float | Mapping[str, float] = 0.75
    ) -> None:
        super().__init__(k1=k1, b=0.75)
        if not isinstance(fields, Mapping) or not fields:
            raise ValueError("fields must be a non-empty mapping {field: weight}")
        self.fields = {
            str(f): _check_param(w, f"fields[{f!r}]", 0.0, None) for f, w in fields.items()
        }
        if not any(self.fields.values()):
            raise ValueError("fields: at least one weight must be > 0")
        if isinstance(b, Mapping):
            unknown = set(b) - set(self.fields)
            if unknown:
                raise ValueError(f"b names unknown fields {sorted(unknown)}")
            self.field_b = {f: _check_param(b.get(f, 0.75), f"b[{f!r}]", 0, 1) for f in fields}
        else:
            bb = _check_param(b, "b", 0.0, 1.0)
            self.field_b = dict.fromkeys(self.fields, bb)

    def fit(self, records: Sequence[Mapping[str, str]]) -> BM25F:  # type: ignore[override]
        if isinstance(records, str | Mapping) or not isinstance(records, Sequence):
            raise TypeError("records must be a sequence of {field: text} mappings")
        if len(records) == 0:
            raise ValueError("records must hold at least one document")
        per_field: dict[str, list[list[str]]] = {f: [] for f in self.fields}
        for i, rec in enumerate(records):
            if not isinstance(rec, Mapping):
                raise TypeError(f"records[{i}] must be a mapping, got {type(rec).__name__}")
            unknown = set(rec) - set(self.fields)
            if unknown:
                raise ValueError(f"records[{i}] has unknown fields {sorted(unknown)}")
            for f in self.fields:
                text = rec.get(f, "")
                per_field[f].append(tokenize(text if text is not None else ""))
        self.vocab = {}
        ids = {f: self._vocab_ids(per_field[f]) for f in self.fields}
        n_terms = len(self.vocab)
        self.n_docs = len(records)
        tf_any = None
        combined = None
        for f, w in self.fields.items():
            tf = self._tf(ids[f], n_terms)
            lengths = np.array([len(d) for d in per_field[f]], dtype=np.float64)
            norm = self._norm(lengths, self.field_b[f])
            part = sp.diags(w / norm) @ tf
            combined = part if combined is None else combined + part
            tf_any = tf if tf_any is None else tf_any + tf
        df = np.diff((tf_any > 0).tocsc().indptr).astype(np.float64)
        self.idf = self._idf(df, self.n_docs)
        combined = combined.tocsr()
        combined.data = combined.data / (combined.data + self.k1) * self.idf[combined.indices]
        self._W = combined.tocsc()
        return self
