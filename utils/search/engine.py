"""The video-search engine the part's labs share: catalogue, indexes, retrievers, ranker features.

One implementation of every stage, so that the labs measure the same system:

- :func:`video_catalogue`: a seeded sample of the real film table (:func:`utils.data.load_films`)
  that plays the video catalogue. The labs use 5,000 films: encoding the whole 17,470 with MiniLM
  costs 1.5-3 min on two cores, over one lab's budget; the scaling chapter extrapolates.
- :func:`film_records` / :func:`film_texts`: the fields BM25F indexes (title, people, facets)
  and the one-line text MiniLM embeds.
- :class:`VideoSearchEngine`: BM25F (:class:`~utils.search.bm25.BM25F`), a dense index of
  MiniLM vectors (faiss flat inner product through :class:`utils.ann.FaissIndex`), hybrid
  reciprocal-rank fusion (Cormack et al., 2009), the candidate union a ranker re-orders, and
  the ranker's features (:meth:`VideoSearchEngine.features`).
- :func:`evaluate`: nDCG@k (graded, linear gains) and MRR@k per query with its kind.
- :func:`fit_ranker`: LightGBM lambdarank (Burges, 2010) over those features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._checks import check_positive_int
from .bm25 import BM25, BM25F, tokenize
from .fusion import reciprocal_rank_fusion
from .queries import Query

__all__ = [
    "FEATURES",
    "FIELD_WEIGHTS",
    "VideoSearchEngine",
    "evaluate",
    "film_records",
    "film_texts",
    "fit_ranker",
    "judged_labels",
    "rank_with",
    "split_queries",
    "video_catalogue",
]

#: BM25F field weights: a title match is worth most, then people, then facet words.
FIELD_WEIGHTS = {"title": 3.0, "people": 1.5, "facets": 1.0}

#: The ranker's feature columns (:meth:`VideoSearchEngine.features`), in order.
FEATURES = (
    "bm25f",
    "bm25_title",
    "bm25_people",
    "bm25_facets",
    "dense_cosine",
    "bm25_rank",
    "dense_rank",
    "rrf",
    "title_exact",
    "title_prefix",
    "title_token_overlap",
    "title_trigram_sim",
    "query_tokens",
    "log_reviews",
    "rt_meter",
    "year",
)


def video_catalogue(n_films: int | None = 5000, seed: int = 0) -> pd.DataFrame:
    """``n_films`` films drawn without replacement (seeded) from :func:`utils.data.load_films`,
    kept in the table's order (by year), index reset so that row position = document id.
    ``None`` returns all 17,470."""
    from ..data import load_films

    films = load_films()
    if n_films is None:
        return films.reset_index(drop=True)
    n_films = check_positive_int(n_films, "n_films")
    if n_films > len(films):
        raise ValueError(f"n_films={n_films} exceeds the {len(films)} films in the catalogue")
    rows = np.sort(np.random.default_rng(seed).choice(len(films), n_films, replace=False))
    return films.iloc[rows].reset_index(drop=True)


def _check_films(films: object) -> pd.DataFrame:
    if not isinstance(films, pd.DataFrame):
        raise TypeError(f"films must be a pandas DataFrame, got {type(films).__name__}")
    need = {"title", "year", "genres", "countries", "languages", "directors", "writers", "cast"}
    missing = need - set(films.columns)
    if missing:
        raise ValueError(f"films is missing columns {sorted(missing)}")
    if len(films) == 0:
        raise ValueError("films must hold at least one film")
    return films.reset_index(drop=True)


def film_records(films: pd.DataFrame) -> list[dict[str, str]]:
    """One ``{title, people, facets}`` record per film for BM25F: people = directors, writers
    and cast; facets = genres, countries, languages, the year and the decade ("1960s")."""
    films = _check_films(films)
    out = []
    for r in films.itertuples(index=False):
        people = " ".join([*r.directors, *r.writers, *r.cast])
        y = int(r.year)
        facets = " ".join([*r.genres, *r.countries, *r.languages, str(y), f"{y // 10 * 10}s"])
        out.append({"title": r.title, "people": people, "facets": facets})
    return out


def film_texts(films: pd.DataFrame) -> list[str]:
    """The one-line description MiniLM embeds, e.g. ``"Amélie. A 2000s comedy, romance film from
    France, in French (2001). Directed by Jean-Pierre Jeunet."``.

    It describes the film in words (decade, genres, origin) and leaves the cast out: names are
    the lexical index's job (MiniLM scores them poorly), and a cast of up to 110 names would
    dilute the vector and triple the encoding time."""
    films = _check_films(films)
    out = []
    for r in films.itertuples(index=False):
        y = int(r.year)
        s = f"{r.title}. A {y // 10 * 10}s {', '.join(r.genres).lower()} film".replace("  ", " ")
        if r.countries:
            s += " from " + ", ".join(r.countries)
        if r.languages:
            s += ", in " + ", ".join(r.languages)
        s += f" ({y})."
        if r.directors:
            s += " Directed by " + ", ".join(r.directors) + "."
        out.append(s)
    return out


def _texts(queries: object, name: str = "queries") -> list[str]:
    if isinstance(queries, str) or not isinstance(queries, Sequence):
        raise TypeError(f"{name} must be a list of query strings or Query objects")
    if len(queries) == 0:
        raise ValueError(f"{name} must not be empty")
    out = []
    for i, q in enumerate(queries):
        t = q.text if isinstance(q, Query) else q
        if not isinstance(t, str):
            raise TypeError(f"{name}[{i}] must be a str or Query, got {type(q).__name__}")
        if not tokenize(t):
            raise ValueError(f"{name}[{i}] = {t!r} has no searchable token (letters or digits)")
        out.append(t)
    return out


def _trigrams(text: str) -> set[str]:
    s = f"  {' '.join(tokenize(text))} "
    return {s[i : i + 3] for i in range(len(s) - 2)}


class VideoSearchEngine:
    """BM25F + MiniLM dense retrieval over a film catalogue, with fusion and ranker features.

    ``embeddings``: precomputed (n_films, 384) unit vectors in the catalogue's order (default:
    :func:`utils.data.encode_texts` of :func:`film_texts`, cached on disk). Document ids are row
    positions of ``films``.
    """

    def __init__(
        self,
        films: pd.DataFrame,
        *,
        field_weights: Mapping[str, float] | None = None,
        k1: float = 1.2,
        b: float = 0.75,
        embeddings: np.ndarray | None = None,
    ) -> None:
        from ..ann import FaissIndex

        self.films = _check_films(films)
        self.records = film_records(self.films)
        self.field_weights = dict(FIELD_WEIGHTS if field_weights is None else field_weights)
        unknown = set(self.field_weights) - set(FIELD_WEIGHTS)
        if unknown:
            raise ValueError(
                f"field_weights names unknown fields {sorted(unknown)}; "
                f"known: {list(FIELD_WEIGHTS)}"
            )
        self.bm25 = BM25F(self.field_weights, k1=k1, b=b).fit(
            [{f: r[f] for f in self.field_weights} for r in self.records]
        )
        # one plain BM25 per field: the ranker sees where a query's words matched
        self.field_bm25 = {
            f: BM25(k1=k1, b=b).fit([r[f] for r in self.records]) for f in FIELD_WEIGHTS
        }
        if embeddings is None:
            from ..data import encode_texts

            embeddings = encode_texts(film_texts(self.films))
        emb = np.ascontiguousarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != len(self.films):
            raise ValueError(
                f"embeddings must have one row per film ({len(self.films)}), got {emb.shape}"
            )
        self.embeddings = emb
        self.dense_index = FaissIndex(emb.shape[1], "Flat", metric="ip").add(emb)
        self._titles = self.films["title"].str.lower().to_numpy()
        self._title_norm = [" ".join(tokenize(t)) for t in self._titles]
        self._title_tokens = [set(t.split()) for t in self._title_norm]
        self._title_grams = [_trigrams(t) for t in self._titles]
        reviews = self.films["n_reviews"] if "n_reviews" in self.films else np.nan
        self._log_reviews = np.log1p(np.asarray(reviews, dtype=float) * np.ones(len(self.films)))
        meter = self.films["rt_meter"] if "rt_meter" in self.films else np.nan
        self._meter = np.asarray(meter, dtype=float) * np.ones(len(self.films))
        self._year = self.films["year"].to_numpy(dtype=float)

    @property
    def n_docs(self) -> int:
        return len(self.films)

    # -- retrieval --------------------------------------------------------------------------
    def encode_queries(self, queries: object) -> np.ndarray:
        """MiniLM vectors of the query texts (cached on disk like the documents')."""
        from ..data import encode_texts

        return encode_texts(_texts(queries))

    def search_bm25(self, queries: object, k: int = 10) -> list[tuple[np.ndarray, np.ndarray]]:
        """BM25F top ``k`` per query: ``[(ids, scores)]``; a list is empty when no query word is
        in the index (a zero-result query)."""
        k = check_positive_int(k, "k")
        return [self.bm25.search(t, min(k, self.n_docs)) for t in _texts(queries)]

    def search_dense(
        self, queries: object, k: int = 10, query_vectors: np.ndarray | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Exact inner-product top ``k`` of MiniLM vectors: ``[(ids, cosines)]``."""
        k = check_positive_int(k, "k")
        texts = _texts(queries)
        Q = self.encode_queries(texts) if query_vectors is None else query_vectors
        Q = np.ascontiguousarray(Q, dtype=np.float32)
        if Q.shape != (len(texts), self.embeddings.shape[1]):
            raise ValueError(
                f"query_vectors must have shape ({len(texts)}, {self.embeddings.shape[1]}), "
                f"got {Q.shape}"
            )
        D, ids = self.dense_index.search(Q, min(k, self.n_docs))
        return [(i, -d) for i, d in zip(ids, D, strict=True)]

    def search_hybrid(
        self,
        queries: object,
        k: int = 10,
        *,
        depth: int = 100,
        rrf_k: float = 60.0,
        weights: Sequence[float] | None = None,
        query_vectors: np.ndarray | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Reciprocal-rank fusion of the BM25F and dense top ``depth`` lists, cut to ``k``:
        ``score(d) = sum_r w_r / (rrf_k + rank_r(d))`` (Cormack et al., 2009)."""
        k = check_positive_int(k, "k")
        depth = check_positive_int(depth, "depth")
        texts = _texts(queries)
        lex = self.search_bm25(texts, depth)
        den = self.search_dense(texts, depth, query_vectors)
        return [
            reciprocal_rank_fusion([a[0], b[0]], k=rrf_k, weights=weights, top=k)
            for a, b in zip(lex, den, strict=True)
        ]

    # -- ranking ----------------------------------------------------------------------------
    def candidates(
        self, queries: object, depth: int = 100, query_vectors: np.ndarray | None = None
    ) -> list[np.ndarray]:
        """The union of the BM25F and dense top ``depth`` per query (ids in RRF order): what a
        second-stage ranker re-orders."""
        return [
            ids
            for ids, _ in self.search_hybrid(
                queries, 2 * depth, depth=depth, query_vectors=query_vectors
            )
        ]

    def features(
        self,
        queries: object,
        candidates: Sequence[np.ndarray],
        *,
        depth: int = 100,
        query_vectors: np.ndarray | None = None,
        retrieved: tuple[Sequence, Sequence] | None = None,
    ) -> pd.DataFrame:
        """One row per (query, candidate) with the columns of :data:`FEATURES` plus ``qid`` and
        ``doc``. Lexical: BM25F and per-field BM25 scores, BM25F rank (``depth + 1`` when the
        document is not in its top ``depth``); semantic: cosine and dense rank; fusion: RRF
        score; title match: exact, prefix, token overlap (share of query tokens in the title),
        character-trigram Jaccard (survives typos); the query's length in tokens; document
        priors: log(1 + critic reviews), Tomatometer (NaN where missing), year. Computed from
        the query and the catalogue only, never from relevance labels.

        ``retrieved``: the ``(search_bm25(queries, depth), search_dense(queries, depth))`` lists
        the caller already has (a serving path retrieves once); by default both are re-run."""
        texts = _texts(queries)
        if len(candidates) != len(texts):
            raise ValueError(f"candidates has {len(candidates)} lists for {len(texts)} queries")
        depth = check_positive_int(depth, "depth")
        Q = self.encode_queries(texts) if query_vectors is None else query_vectors
        if retrieved is None:
            lex = self.search_bm25(texts, depth)
            den = self.search_dense(texts, depth, Q)
        else:
            if not isinstance(retrieved, tuple) or len(retrieved) != 2:
                raise TypeError("retrieved must be a (bm25 lists, dense lists) pair")
            lex, den = retrieved
            if len(lex) != len(texts) or len(den) != len(texts):
                raise ValueError(f"retrieved must hold one list per query ({len(texts)}) in each")
        rows = []
        for qi, (t, cand) in enumerate(zip(texts, candidates, strict=True)):
            cand = np.asarray(cand, dtype=np.int64)
            if cand.size == 0:
                continue
            if cand.min() < 0 or cand.max() >= self.n_docs:
                raise ValueError(f"candidates[{qi}] holds ids outside [0, {self.n_docs})")
            full = self.bm25.scores(t)
            lex_rank = {d: r for r, d in enumerate(lex[qi][0].tolist(), start=1)}
            den_rank = {d: r for r, d in enumerate(den[qi][0].tolist(), start=1)}
            q_tokens = tokenize(t)
            q_set, q_norm, q_grams = set(q_tokens), " ".join(q_tokens), _trigrams(t)
            cos = self.embeddings[cand] @ np.asarray(Q[qi], dtype=np.float32)
            fields = {f: idx.scores(t)[cand] for f, idx in self.field_bm25.items()}
            for j, d in enumerate(cand.tolist()):
                title_norm = self._title_norm[d]
                grams = self._title_grams[d]
                lr, dr = lex_rank.get(d, depth + 1), den_rank.get(d, depth + 1)
                rows.append(
                    (
                        qi,
                        d,
                        full[d],
                        fields["title"][j],
                        fields["people"][j],
                        fields["facets"][j],
                        float(cos[j]),
                        lr,
                        dr,
                        (1 / (60 + lr) if d in lex_rank else 0.0)
                        + (1 / (60 + dr) if d in den_rank else 0.0),
                        float(title_norm == q_norm),
                        float(bool(q_norm) and title_norm.startswith(q_norm)),
                        len(q_set & self._title_tokens[d]) / len(q_set),
                        len(q_grams & grams) / len(q_grams | grams),
                        len(q_tokens),
                        self._log_reviews[d],
                        self._meter[d],
                        self._year[d],
                    )
                )
        return pd.DataFrame(rows, columns=["qid", "doc", *FEATURES])


def split_queries(
    queries: Sequence[Query], fractions: Sequence[float] = (0.5, 0.25, 0.25), seed: int = 0
) -> dict[str, list[Query]]:
    """Seeded split of ``queries`` into ``{"train", "val", "test"}`` by the given fractions."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1):
        raise ValueError(f"fractions must be three shares >= 0 summing to 1, got {fractions}")
    if len(queries) < 3:
        raise ValueError("queries must hold at least 3 queries to split")
    order = np.random.default_rng(seed).permutation(len(queries))
    a = round(fractions[0] * len(queries))
    b = a + round(fractions[1] * len(queries))
    parts = {"train": order[:a], "val": order[a:b], "test": order[b:]}
    return {name: [queries[i] for i in idx] for name, idx in parts.items()}


def evaluate(rankings: Sequence[object], queries: Sequence[Query], k: int = 10) -> pd.DataFrame:
    """Per-query ``kind``, ``ndcg`` (graded, linear gains, Järvelin & Kekäläinen 2002),
    ``mrr`` (reciprocal rank of the first document of the query's top grade, or of the target
    for a known item; 0 beyond ``k``) and ``zero_result`` (nothing returned).

    ``rankings[q]``: ranked ids, or an ``(ids, scores)`` pair as the ``search_*`` methods give.
    """
    from ..metrics import ndcg_at_k

    k = check_positive_int(k, "k")
    if len(rankings) != len(queries):
        raise ValueError(f"rankings has {len(rankings)} lists for {len(queries)} queries")
    ids = [
        np.asarray(r[0] if isinstance(r, tuple) else r, dtype=np.int64)[:k].tolist()
        for r in rankings
    ]
    nd = ndcg_at_k(ids, [q.relevance for q in queries], k, reduce="none")
    mrr = []
    for r, q in zip(ids, queries, strict=True):
        top = max(q.relevance.values())
        wanted = (
            {q.target} if q.target is not None else {d for d, g in q.relevance.items() if g == top}
        )
        pos = next((p for p, d in enumerate(r, start=1) if d in wanted), None)
        mrr.append(0.0 if pos is None else 1.0 / pos)
    return pd.DataFrame(
        {
            "kind": [q.kind for q in queries],
            "ndcg": nd,
            "mrr": mrr,
            "zero_result": [len(r) == 0 for r in ids],
        }
    )


def fit_ranker(
    features: pd.DataFrame,
    labels: object,
    *,
    columns: Sequence[str] = FEATURES,
    n_estimators: int = 200,
    learning_rate: float = 0.05,
    num_leaves: int = 15,
    min_child_samples: int = 20,
    seed: int = 0,
):
    """LightGBM ``LGBMRanker(objective="lambdarank")`` trained on ``features`` (rows grouped by
    ``qid``, in order) with graded ``labels`` (0-3, one per row); one thread, deterministic."""
    import lightgbm as lgb

    if not isinstance(features, pd.DataFrame) or "qid" not in features:
        raise TypeError("features must be the DataFrame of VideoSearchEngine.features (with qid)")
    y = np.asarray(labels)
    if y.shape != (len(features),):
        raise ValueError(f"labels must hold one label per feature row ({len(features)})")
    if not np.all(np.isfinite(y)) or (y < 0).any():
        raise ValueError("labels must be finite and >= 0")
    unknown = set(columns) - set(features.columns)
    if unknown:
        raise ValueError(f"columns names unknown features {sorted(unknown)}")
    qid = features["qid"].to_numpy()
    if (np.diff(qid) < 0).any():
        raise ValueError("features must be sorted by qid (rows of one query together)")
    _, groups = np.unique(qid, return_counts=True)
    model = lgb.LGBMRanker(
        objective="lambdarank",
        n_estimators=check_positive_int(n_estimators, "n_estimators"),
        learning_rate=learning_rate,
        num_leaves=num_leaves,
        min_child_samples=min_child_samples,
        random_state=seed,
        n_jobs=1,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )
    model.fit(features[list(columns)], y.astype(int), group=groups)
    return model


def judged_labels(features: pd.DataFrame, queries: Sequence[Query]) -> np.ndarray:
    """The simulator's graded relevance (0-3) of each (qid, doc) row of ``features``: the
    labels a human rater would give, known exactly here."""
    if not isinstance(features, pd.DataFrame) or not {"qid", "doc"} <= set(features.columns):
        raise TypeError("features must be the DataFrame of VideoSearchEngine.features")
    if len(features) and features["qid"].max() >= len(queries):
        raise ValueError(f"features refers to query {features['qid'].max()}; got {len(queries)}")
    return np.array(
        [
            queries[q].relevance.get(d, 0)
            for q, d in zip(features["qid"], features["doc"], strict=True)
        ],
        dtype=np.int64,
    )


def rank_with(
    model, features: pd.DataFrame, n_queries: int, columns: Sequence[str] = FEATURES
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Re-order each query's candidates by ``model.predict`` (ties by candidate order):
    ``[(ids, scores)]`` for ``n_queries`` queries (empty for a query with no candidate)."""
    n_queries = check_positive_int(n_queries, "n_queries")
    out = [(np.zeros(0, np.int64), np.zeros(0))] * n_queries
    if len(features) == 0:
        return list(out)
    s = np.asarray(model.predict(features[list(columns)]), dtype=float)
    qid, doc = features["qid"].to_numpy(), features["doc"].to_numpy()
    out = list(out)
    for q in np.unique(qid):
        rows = np.flatnonzero(qid == q)
        order = rows[np.lexsort((np.arange(rows.size), -s[rows]))]
        out[int(q)] = (doc[order].astype(np.int64), s[order])
    return out
