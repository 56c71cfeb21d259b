"""The PYMK ranker: candidates from three generators, point-in-time pair features, LightGBM
lambdarank trained on the previous window.

**Candidates** (:mod:`utils.pymk.candidates`), per source member:

1. friends of friends, the ``fof_k`` best by Adamic-Adar, with an optional ``hub_cap``;
2. embedding neighbours, the ``emb_k`` nearest by cosine of the member embeddings (by default
   the profile vectors of :func:`utils.data.actor_features`, known before the cut-off year);
3. past colleagues, the ``colleague_k`` members the source has already shared a film with
   (most shared films first, then the most recent), the analogue of "worked on the same
   project". In this graph a connection is a *repeated* collaboration, so a first shared film
   is one step away from the label; the generator exists because the data says so (see the
   chapter), and a real network's analogue is an interaction without a connection.

**Features** of each (source, candidate) pair, all computed from ties and films before the
cut-off year: the :data:`utils.graph.linkpred.FEATURE_GROUPS` (structure: CN, AA, RA, Jaccard,
3-paths, degrees; co-star history; activity; profile similarity), the "same company or school"
analogue (distinct directors and distinct writers both have worked with), and the generator
features (which generators proposed the pair, its best rank in any list, embedding cosine).

**Training** follows :func:`utils.graph.linkpred.fit_structural`: for scoring at cut-off ``Y``,
the model learns from the graph before ``Y - window`` and the ties born in ``[Y - window, Y)``,
with side information from films before ``Y - window``. Per source the positives are its new
partners among its candidates and the negatives ``neg_per_source`` sampled other candidates
(hard negatives by construction: every candidate passed a generator). LightGBM's lambdarank
{cite}`burges2010ranknet` groups rows by source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from utils.graph.csr import CSRGraph, check_node_ids
from utils.graph.linkpred import (
    FEATURE_GROUPS,
    LinkHistory,
    PairContext,
    feature_names,
    pair_feature_matrix,
)

from .candidates import (
    ORIGIN_COLLEAGUE,
    ORIGIN_EMBEDDING,
    ORIGIN_FOF,
    SIM_DECIMALS,
    Candidates,
    _rank_within,
    _sort_rows,
    candidate_score_fn,
    embedding_candidates,
    fof_candidates,
    union_candidates,
)

CREW_FEATURES = ("shared_directors", "shared_writers")
GENERATOR_FEATURES = ("from_fof", "from_embedding", "from_colleague", "best_rank", "emb_cosine")
_MODEL_DEFAULTS = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 50,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "neg_per_source": 50,
    "num_threads": 1,
}
_CANDIDATE_DEFAULTS = {"fof_k": 300, "emb_k": 100, "colleague_k": 100, "hub_cap": None}


# --------------------------------------------------------------------------------------------
# Side information: past colleagues and shared crew
# --------------------------------------------------------------------------------------------
def colleague_candidates(
    context: PairContext, graph: CSRGraph, sources: object, *, k: int
) -> Candidates:
    """Members each source shared a film with before ``context.year`` and is not yet connected
    to, the ``k`` with the most shared films (then the most recent last film), scored by
    ``shared films + last year / 10,000`` (the tie-break folded into one number)."""
    if not isinstance(context, PairContext) or context.costar is None:
        raise ValueError("context: expected a PairContext with co-star history (costar)")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected a positive int, got {k!r}")
    s_all = np.unique(check_node_ids("sources", sources, graph.n_nodes))
    if s_all.size == 0:
        raise ValueError("sources: expected at least one source node")
    rows = context.costar[s_all].tocoo()
    last = context.costar_last[s_all].tocoo()
    if not np.array_equal(rows.col, last.col):
        raise AssertionError("internal: costar and costar_last patterns differ")
    src, cand = s_all[rows.row], rows.col.astype(np.int64)
    n = graph.n_nodes
    nb = graph.indptr
    keys_nb = np.concatenate(
        [u * n + graph.indices[nb[u] : nb[u + 1]].astype(np.int64) for u in s_all]
    )
    keep = (cand != src) & ~np.isin(src * n + cand, keys_nb)
    src, cand = src[keep], cand[keep]
    score = rows.data[keep] + last.data[keep] / 10_000.0
    order = _sort_rows(src, cand, score)
    src, cand, score = src[order], cand[order], score[order]
    top = _rank_within(src) < k
    nan = np.full(int(top.sum()), np.nan)
    return Candidates(
        src[top],
        cand[top],
        score[top].astype(np.float64),
        nan,
        nan.copy(),
        np.full(int(top.sum()), ORIGIN_COLLEAGUE, dtype=np.int8),
        s_all,
        np.zeros(len(s_all), dtype=np.int64),
    )


@dataclass(frozen=True)
class CrewHistory:
    """Which directors and writers each member worked with: binary CSR [members, people]
    per role, from films released before ``year``."""

    year: int
    directors: sp.csr_matrix
    writers: sp.csr_matrix

    @classmethod
    def from_history(cls, history: LinkHistory, year: int) -> CrewHistory:
        films = history.films
        index = pd.Index(history.actors)
        out = {}
        for role in ("directors", "writers"):
            per = pd.DataFrame(
                {"cast": films["cast"], "person": films[role], "year": films["year"]}
            )
            per = per[per["year"] < year].explode("cast").explode("person").dropna()
            a = index.get_indexer(per["cast"])
            per = per[a >= 0]
            a = a[a >= 0]
            people = pd.Categorical(per["person"])
            m = sp.csr_matrix(
                (np.ones(len(a)), (a, people.codes)),
                shape=(len(index), max(len(people.categories), 1)),
            )
            m.data[:] = 1.0  # duplicates summed by the constructor: keep "worked with" only
            out[role] = m
        return cls(int(year), out["directors"], out["writers"])

    def shared(self, pairs: np.ndarray, batch: int = 200_000) -> np.ndarray:
        """[m, 2] counts of distinct directors and distinct writers both members worked with."""
        p = np.asarray(pairs, dtype=np.int64)
        out = np.zeros((len(p), 2), dtype=np.float32)
        for j, m in enumerate((self.directors, self.writers)):
            for lo in range(0, len(p), batch):
                u, v = p[lo : lo + batch, 0], p[lo : lo + batch, 1]
                out[lo : lo + batch, j] = np.asarray(m[u].multiply(m[v]).sum(axis=1)).ravel()
        return out


# --------------------------------------------------------------------------------------------
# The ranker
# --------------------------------------------------------------------------------------------
def ranker_feature_names() -> list[str]:
    """Column names of :meth:`PYMKRanker.features`."""
    return feature_names(tuple(FEATURE_GROUPS)) + list(CREW_FEATURES) + list(GENERATOR_FEATURES)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


class PYMKRanker:
    """Two-stage "People You May Know": see the module docstring.

    ``fit(history, year)`` trains for scoring at cut-off ``year``; ``score_fn(graph)`` and
    ``recommend(graph, sources)`` then score members of ``graph`` (the ties observed before
    ``year``) with side information from films before ``year``. ``emb`` (optional, [n, d]) are
    member embeddings for the scoring year; ``emb_train`` those for the training year; both
    default to the profile vectors of the context.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        candidate_params: dict | None = None,
        feature_groups: Sequence[str] | None = None,
        **model_params,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
        unknown = set(model_params) - set(_MODEL_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown model parameter(s) {sorted(unknown)}")
        cp = dict(candidate_params or {})
        unknown = set(cp) - set(_CANDIDATE_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown candidate parameter(s) {sorted(unknown)}")
        self.candidate_params = {**_CANDIDATE_DEFAULTS, **cp}
        for name in ("fof_k", "emb_k", "colleague_k"):
            v = self.candidate_params[name]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name}: expected an int >= 0, got {v!r}")
        if sum(self.candidate_params[n] for n in ("fof_k", "emb_k", "colleague_k")) == 0:
            raise ValueError("fof_k, emb_k, colleague_k: at least one must be positive")
        names = ranker_feature_names()
        self.features_used = list(names if feature_groups is None else feature_groups)
        bad = [f for f in self.features_used if f not in names]
        if bad or not self.features_used:
            raise ValueError(f"feature_groups: unknown or empty feature names {bad}")
        self.seed = int(seed)
        self.params = {**_MODEL_DEFAULTS, **model_params}
        self.model = None
        self.history: LinkHistory | None = None
        self.year: int | None = None
        self.fit_stats: dict[str, float] = {}
        self._crew: dict[int, CrewHistory] = {}

    # -- candidates and features ---------------------------------------------------------
    def _emb(self, context: PairContext, emb: np.ndarray | None, n: int) -> np.ndarray:
        e = context.x if emb is None else np.asarray(emb, dtype=np.float32)
        if e is None or e.ndim != 2 or e.shape[0] != n:
            raise ValueError(f"emb: expected shape [{n}, d], got {getattr(e, 'shape', None)}")
        if not np.isfinite(e).all():
            raise ValueError("emb: contains NaN or infinite values")
        return e

    def candidates(
        self, graph: CSRGraph, sources: object, context: PairContext, emb: np.ndarray | None = None
    ) -> Candidates:
        """The union of the three generators' lists for ``sources``."""
        p = self.candidate_params
        lists = []
        if p["fof_k"]:
            lists.append(fof_candidates(graph, sources, k=p["fof_k"], hub_cap=p["hub_cap"]))
        if p["emb_k"]:
            e = self._emb(context, emb, graph.n_nodes)
            k = min(p["emb_k"], graph.n_nodes - 1)
            lists.append(embedding_candidates(e, graph, sources, k=k))
        if p["colleague_k"]:
            lists.append(colleague_candidates(context, graph, sources, k=p["colleague_k"]))
        return union_candidates(*lists)

    def _crew_at(self, history: LinkHistory, year: int) -> CrewHistory:
        if year not in self._crew:
            self._crew[year] = CrewHistory.from_history(history, year)
        return self._crew[year]

    def features(
        self,
        graph: CSRGraph,
        cands: Candidates,
        context: PairContext,
        crew: CrewHistory,
        emb: np.ndarray | None = None,
    ) -> np.ndarray:
        """Float32 [len(cands), F] in the order of :func:`ranker_feature_names`."""
        pairs = cands.pairs()
        base = pair_feature_matrix(graph, pairs, context, feature_groups=tuple(FEATURE_GROUPS))
        shared = crew.shared(pairs)
        unit = _unit_rows(self._emb(context, emb, graph.n_nodes))
        cos = np.einsum("ij,ij->i", unit[pairs[:, 0]], unit[pairs[:, 1]])
        cos = np.round(cos, SIM_DECIMALS)  # as the candidate lists compare it
        gen = np.stack(
            [
                (cands.origin & ORIGIN_FOF) > 0,
                (cands.origin & ORIGIN_EMBEDDING) > 0,
                (cands.origin & ORIGIN_COLLEAGUE) > 0,
                1.0 / cands.score - 1.0,  # best 0-based rank in any list
                cos,
            ],
            axis=1,
        ).astype(np.float32)
        full = np.concatenate([base, shared, gen], axis=1)
        if self.features_used == ranker_feature_names():
            return full
        cols = [ranker_feature_names().index(f) for f in self.features_used]
        return full[:, cols]

    # -- training ------------------------------------------------------------------------
    def fit(
        self,
        history: LinkHistory,
        year: int,
        *,
        window: int = 2,
        emb_train: np.ndarray | None = None,
    ) -> PYMKRanker:
        """Train for scoring at cut-off ``year`` on the previous ``window`` years."""
        import lightgbm as lgb

        if not isinstance(history, LinkHistory):
            raise TypeError(f"history: expected a LinkHistory, got {type(history).__name__}")
        if isinstance(year, bool) or not isinstance(year, (int, np.integer)):
            raise TypeError(f"year: expected an int, got {year!r}")
        train = history.phase_before(int(year), window)
        t_year = int(year) - int(window)
        ctx = history.context(t_year)
        n = train.graph.n_nodes
        keys = np.concatenate(
            [
                train.targets[:, 0] * n + train.targets[:, 1],
                train.targets[:, 1] * n + train.targets[:, 0],
            ]
        )
        sources = np.unique(train.targets)
        cands = self.candidates(train.graph, sources, ctx, emb_train)
        y = np.isin(cands.src * n + cands.cand, keys)
        rng = np.random.default_rng(self.seed)
        keep = y.copy()
        bounds = np.searchsorted(cands.src, sources)
        ends = np.append(bounds[1:], len(cands))
        for lo, hi in zip(bounds, ends, strict=True):
            if not y[lo:hi].any():
                continue  # no positive among the candidates: nothing to rank
            neg = lo + np.flatnonzero(~y[lo:hi])
            take = min(self.params["neg_per_source"], len(neg))
            keep[rng.choice(neg, size=take, replace=False)] = True
        sel = np.flatnonzero(keep)
        if y[sel].sum() == 0:
            raise ValueError("history: no new tie of the training window is among the candidates")
        sub = cands.select(keep)
        x = self.features(train.graph, sub, ctx, self._crew_at(history, t_year), emb_train)
        p = self.params
        self.model = lgb.LGBMRanker(
            objective="lambdarank",
            n_estimators=p["n_estimators"],
            learning_rate=p["learning_rate"],
            num_leaves=p["num_leaves"],
            min_child_samples=p["min_child_samples"],
            subsample=p["subsample"],
            subsample_freq=1 if p["subsample"] < 1 else 0,
            colsample_bytree=p["colsample_bytree"],
            random_state=self.seed,
            n_jobs=p["num_threads"],
            deterministic=True,
            force_col_wise=True,
            verbose=-1,
        )
        _, counts = np.unique(sub.src, return_counts=True)
        self.model.fit(
            pd.DataFrame(x, columns=self.features_used), y[sel].astype(int), group=counts
        )
        self.history, self.year = history, int(year)
        self.fit_stats = {
            "train_sources": float(len(sources)),
            "candidates_per_source": float(len(cands) / len(sources)),
            "train_candidate_recall": float(np.isin(keys, cands.src * n + cands.cand).mean()),
            "train_rows": float(len(sel)),
            "positives": float(y[sel].sum()),
        }
        return self

    # -- scoring -------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.model is None:
            raise RuntimeError("PYMKRanker: call fit() first")

    def score_candidates(
        self, graph: CSRGraph, sources: object, emb: np.ndarray | None = None
    ) -> tuple[Candidates, np.ndarray]:
        """Candidates of ``sources`` in ``graph`` and their model scores (higher = better)."""
        self._check_fitted()
        if graph.n_nodes != self.history.n_nodes:
            raise ValueError(
                f"graph: has {graph.n_nodes} nodes, the history has {self.history.n_nodes}"
            )
        ctx = self.history.context(self.year)
        cands = self.candidates(graph, sources, ctx, emb)
        if len(cands) == 0:
            return cands, np.zeros(0)
        x = self.features(graph, cands, ctx, self._crew_at(self.history, self.year), emb)
        return cands, self.predict(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Raw lambdarank scores of feature rows."""
        self._check_fitted()
        return self.model.predict(pd.DataFrame(x, columns=self.features_used))

    def score_fn(
        self, graph: CSRGraph, emb: np.ndarray | None = None
    ) -> Callable[[np.ndarray], np.ndarray]:
        """For :func:`utils.graph.evaluate_link_prediction`: rows [len(sources), n_nodes] in
        which candidates get :math:`\\sigma(\\text{score}) \\in (0, 1)` and every other member
        :math:`-1 + d_v / (1 + \\max d) \\in [-1, 0)` (below all candidates, by degree)."""
        self._check_fitted()

        def score(sources: np.ndarray) -> np.ndarray:
            s = np.unique(np.asarray(sources))
            cands, raw = self.score_candidates(graph, s, emb)
            return candidate_score_fn(graph, cands, raw)(np.asarray(sources))

        return score

    def recommend(
        self, graph: CSRGraph, sources: object, *, k: int = 10, emb: np.ndarray | None = None
    ) -> pd.DataFrame:
        """The top ``k`` members per source: columns src, rank (1-based), cand, score, mutual
        (common connections, the "N mutual connections" a PYMK card shows), origin."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k: expected a positive int, got {k!r}")
        cands, raw = self.score_candidates(graph, sources, emb)
        order = _sort_rows(cands.src, cands.cand, raw)
        c = cands.select(order)
        r = raw[order]
        rank = _rank_within(c.src)
        top = rank < k
        mutual = pair_feature_matrix(graph, c.pairs()[top], None, feature_groups=("structure",))
        return pd.DataFrame(
            {
                "src": c.src[top],
                "rank": rank[top] + 1,
                "cand": c.cand[top],
                "score": r[top],
                "mutual": mutual[:, 0].astype(np.int64),
                "origin": c.select(top).origin_names(),
            }
        )
