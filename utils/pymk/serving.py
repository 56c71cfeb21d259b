"""Hosting "People You May Know": on-request vs precomputed lists, hub caches, a small service.

The request path itself is timed by :class:`utils.serving.Pipeline` (one named stage per step,
milliseconds per request) and summarised by :func:`utils.serving.latency_summary`; this module
adds what is specific to a friend recommender:

- :func:`degree_buckets` and :func:`latency_by_group`: per-request latency percentiles split by
  the requesting member's degree, and each group's share of the requests at or above the
  overall p99 (does the tail belong to high-degree members?).
- :class:`FoFIndex`: friends of friends for one request at a time over adjacency built once:
  the serving form of :func:`utils.pymk.candidates.fof_candidates` (same pairs, scores and
  hub-cap sample; the tests check equality). The batch function rebuilds the adjacency, and with
  a hub cap the hash-sampled capped copy, on every call, which is right for a nightly job and
  wrong per request: on the film graph that setup is milliseconds, more than the expansion.
- :func:`neighbourhood_cache_curve`: the adjacency entries a 2-hop expansion reads
  (``deg(u) + sum over w in N(u) of min(deg(w), cap)``, i.e.
  :func:`utils.pymk.candidates.two_hop_work` plus the source's own list) and the share of those
  reads a cache of the ``c`` highest-degree members' neighbour lists would serve, with its bytes.
  A graph store shards adjacency lists; a hub's list is read by every request that touches one
  of its neighbours, so a small hub cache absorbs a large share of the reads. (Twitter's first
  Who-to-Follow kept the whole graph in memory on one server, Gupta et al. 2013.)
- :func:`mutual_counts`: ``|N(u) & N(v)|`` of given pairs from the live graph, for the
  "N mutual connections" line (a capped expansion undercounts it).
- :class:`PrecomputedLists`: a batch job's top-``k`` list per member in CSR layout (offsets,
  int32 ids, float32 scores, uint16 mutual counts), its bytes, an O(1) lookup that drops members
  who have connected since the batch ran, and a score function for
  :func:`utils.graph.evaluate_link_prediction` so stale lists can be scored like any model.
- :class:`ServingRanker`: a fitted :class:`utils.pymk.ranker.PYMKRanker` prepared for one
  request at a time. The ranker's batch methods rebuild the graph's sparse operators and
  normalise every embedding on each call (a fixed cost of milliseconds, larger than a small
  member's whole request); here everything that does not depend on the request is built once
  at load (the feature store's part: node activity, profile vectors, co-star and crew history,
  the operators), and a request computes only its own pairs' features. The tests check that
  its candidates, features and scores equal the batch ranker's: online/offline consistency.
- :class:`PYMKService`: ``recommend(member, k=10)`` over pluggable candidate, feature and
  scoring callables, with an optional precomputed list for a chosen set of members (the hybrid
  "precompute the expensive members, compute the rest on request"), and a reason per row
  (:func:`mutual_reason`); :meth:`PYMKService.pipeline` exposes the same steps as a timed
  :class:`utils.serving.Pipeline`.

Candidates are duck-typed: any object with equal-length arrays ``src``, ``cand`` and ``score``
(the :class:`utils.pymk.candidates.Candidates` dataclass qualifies).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils._checks import check_positive_int
from utils.graph.csr import check_node_ids
from utils.graph.linkpred import FEATURE_GROUPS, _features, _GraphOps
from utils.pymk.candidates import (
    ORIGIN_EMBEDDING,
    ORIGIN_FOF,
    Candidates,
    adjacency,
    embedding_candidates,
    union_candidates,
)
from utils.pymk.ranker import (
    ORIGIN_COLLEAGUE,
    PYMKRanker,
    _unit_rows,
    colleague_candidates,
    ranker_feature_names,
)
from utils.serving import Pipeline, latency_summary


# --------------------------------------------------------------------------------------------
# Latency by group
# --------------------------------------------------------------------------------------------
def latency_by_group(
    table: pd.DataFrame,
    groups: object,
    *,
    column: str = "total",
    percentiles: Sequence[float] = (50, 99),
) -> pd.DataFrame:
    """Per group: ``n`` requests, the percentiles of ``column`` (via
    :func:`utils.serving.latency_summary`), and ``share_of_tail``: the group's share of the
    requests at or above the overall p99 of ``column``.

    ``table`` is :meth:`utils.serving.Pipeline.serve`'s (requests x stages) table; ``groups`` one
    label per request (e.g. :func:`degree_buckets`). An empty group is dropped.
    """
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValueError("table: expected a non-empty DataFrame of per-request milliseconds")
    if column not in table.columns:
        raise ValueError(f"column: {column!r} is not a column of table ({list(table.columns)})")
    g = pd.Series(pd.Categorical(groups) if not isinstance(groups, pd.Categorical) else groups)
    if len(g) != len(table):
        raise ValueError(f"groups: expected {len(table)} labels (one per request), got {len(g)}")
    lat = table[column].reset_index(drop=True)
    slow = lat >= lat.quantile(0.99)
    rows = {}
    for name in g.cat.categories:
        mask = (g == name).to_numpy()
        if not mask.any():
            continue
        summ = latency_summary(lat[mask].to_frame(), percentiles).iloc[0]
        rows[name] = {
            "n": int(mask.sum()),
            **summ.to_dict(),
            "share_of_tail": float(slow[mask].sum() / max(slow.sum(), 1)),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


# --------------------------------------------------------------------------------------------
# Friends of friends per request
# --------------------------------------------------------------------------------------------
class FoFIndex:
    """Friends-of-friends candidates of one request at a time, over operators built once.

    For source ``u`` with neighbours ``N(u)``: gather the (capped) neighbour lists of every
    ``w`` in ``N(u)`` (``sum over w of min(d_w, hub_cap)`` entries, the 2-hop work), count each
    reached member ``v`` (common neighbours) and sum ``1 / log d_w`` over its paths
    (Adamic-Adar, with the true degree, ``1`` for ``d_w = 1`` as in
    :func:`utils.pymk.candidates.fof_candidates`), drop ``u`` and ``N(u)``, keep the ``k`` best
    (score descending, then id). The capped adjacency is
    :func:`utils.pymk.candidates.adjacency` ``(graph, hub_cap)``, built here once, so the cap
    samples the same lists as the batch function. Cost per request: O(work log work).
    """

    def __init__(
        self, graph, *, hub_cap: int | None = None, k: int | None = None, score: str = "aa"
    ) -> None:
        _check_graph(graph)
        if score not in ("aa", "cn"):
            raise ValueError(f"score: expected 'aa' or 'cn', got {score!r}")
        self.hub_cap = _check_cap(hub_cap)
        self.k = None if k is None else check_positive_int(k, "k")
        self.score = score
        self.graph = graph
        capped = adjacency(graph, self.hub_cap)
        self._cap_indptr = capped.indptr.astype(np.int64)
        self._cap_indices = capped.indices.astype(np.int64)
        deg = np.diff(graph.indptr).astype(np.float64)
        self._inv_log = np.where(deg > 1, 1.0 / np.log(np.maximum(deg, 2.0)), 1.0)

    @property
    def nbytes(self) -> int:
        """Bytes of the operators this index holds beyond the graph (capped lists, weights)."""
        return int(self._cap_indptr.nbytes + self._cap_indices.nbytes + self._inv_log.nbytes)

    def _one(self, u: int) -> tuple[np.ndarray, ...]:
        g = self.graph
        ws = g.indices[g.indptr[u] : g.indptr[u + 1]]
        starts = self._cap_indptr[ws]
        lens = self._cap_indptr[ws + 1] - starts
        work = int(lens.sum())
        if work == 0:
            empty = np.zeros(0)
            return empty.astype(np.int64), empty, empty, empty, work
        offsets = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(work)
        reached = self._cap_indices[offsets]
        cand, inv = np.unique(reached, return_inverse=True)
        cn = np.bincount(inv, minlength=len(cand)).astype(np.float64)
        aa = np.bincount(inv, weights=np.repeat(self._inv_log[ws], lens), minlength=len(cand))
        keep = (cand != u) & ~np.isin(cand, ws, assume_unique=True)
        cand, cn, aa = cand[keep], cn[keep], aa[keep]
        primary = aa if self.score == "aa" else cn
        order = np.lexsort((cand, -primary))
        if self.k is not None:
            order = order[: self.k]
        return cand[order], primary[order], cn[order], aa[order], work

    def __call__(self, sources: object) -> Candidates:
        """Candidates of ``sources`` (a request usually carries one), as
        :class:`utils.pymk.candidates.Candidates`."""
        s_all = np.unique(check_node_ids("sources", sources, self.graph.n_nodes))
        parts = [self._one(int(u)) for u in s_all]
        src = np.concatenate(
            [np.full(len(p[0]), u, dtype=np.int64) for u, p in zip(s_all, parts, strict=True)]
        )
        cand, score, cn, aa = (np.concatenate([p[i] for p in parts]) for i in range(4))
        return Candidates(
            src,
            cand.astype(np.int64),
            score.astype(np.float64),
            cn.astype(np.float64),
            aa.astype(np.float64),
            np.full(len(src), ORIGIN_FOF, dtype=np.int8),
            s_all,
            np.array([p[4] for p in parts], dtype=np.int64),
        )


# --------------------------------------------------------------------------------------------
# What a 2-hop expansion reads, and what a hub cache saves
# --------------------------------------------------------------------------------------------
def _check_graph(graph) -> None:
    if not all(hasattr(graph, a) for a in ("indptr", "indices", "n_nodes")):
        raise TypeError(f"graph: expected a CSRGraph, got {type(graph).__name__}")


def _check_cap(hub_cap: object) -> int | None:
    if hub_cap is None:
        return None
    return check_positive_int(hub_cap, "hub_cap")


def neighbourhood_cache_curve(
    graph, sources: object, sizes: Sequence[int], *, hub_cap: int | None = None
) -> pd.DataFrame:
    """Share of the 2-hop reads of ``sources`` served by a cache of the ``c`` highest-degree
    members' neighbour lists, for each ``c`` in ``sizes``.

    A read of member ``x``'s list (``min(deg(x), hub_cap)`` entries when ``x`` is an
    intermediate, ``deg(x)`` when ``x`` is the source) hits if ``x`` is cached. Columns:
    ``cached`` (members), ``share_of_members``, ``cache_bytes`` (8-byte ids of the cached lists,
    capped like the reads), ``hit_rate`` (share of entries read that came from the cache).
    Degree ties are broken by node id so the cache is well defined.
    """
    _check_graph(graph)
    src = check_node_ids("sources", sources, graph.n_nodes)
    if src.size == 0:
        raise ValueError("sources: expected at least one source")
    cap = _check_cap(hub_cap)
    sizes = [int(check_positive_int(c, "sizes")) for c in sizes]
    if not sizes:
        raise ValueError("sizes: expected at least one cache size")
    n = graph.n_nodes
    deg = np.diff(graph.indptr).astype(np.int64)
    per_w = deg if cap is None else np.minimum(deg, cap)
    # how often each member's list is read: once per source it is a neighbour of (entries
    # per_w each time), plus once per request it makes itself (entries deg)
    mult = np.zeros(n, dtype=np.int64)
    uniq, counts = np.unique(src, return_counts=True)
    for u, c in zip(uniq, counts, strict=True):
        mult[graph.indices[graph.indptr[u] : graph.indptr[u + 1]]] += c
    as_source = np.bincount(src, minlength=n)
    entries = mult * per_w + as_source * deg
    total = entries.sum()
    order = np.lexsort((np.arange(n), -deg))  # highest degree first, then smallest id
    hit = np.concatenate([[0], np.cumsum(entries[order])])
    stored = np.concatenate([[0], np.cumsum(per_w[order])])
    rows = []
    for c in sizes:
        c = min(c, n)
        rows.append(
            {
                "cached": c,
                "share_of_members": c / n,
                "cache_bytes": int(8 * stored[c]),
                "hit_rate": float(hit[c] / total) if total else 0.0,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Precomputed lists
# --------------------------------------------------------------------------------------------
def _candidate_arrays(cands) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    missing = [a for a in ("src", "cand", "score") if not hasattr(cands, a)]
    if missing:
        raise TypeError(f"cands: expected Candidates-like arrays src/cand/score, missing {missing}")
    src = np.asarray(cands.src, dtype=np.int64)
    cand = np.asarray(cands.cand, dtype=np.int64)
    score = np.asarray(cands.score, dtype=np.float64)
    if not (src.shape == cand.shape == score.shape) or src.ndim != 1:
        raise ValueError("cands: src, cand and score must be 1-D arrays of one length")
    if not np.isfinite(score).all():
        raise ValueError("cands: score contains NaN or inf")
    return src, cand, score


def mutual_counts(graph, pairs: object) -> np.ndarray:
    """Common neighbours ``|N(u) & N(v)|`` of each pair ([m, 2]) in ``graph``: the count behind
    "N mutual connections", from the current graph (a capped FoF expansion undercounts it).

    Every ``N(v)`` is gathered and each entry ``x`` tested for ``x in N(u)``: with few distinct
    sources (a request) by :func:`numpy.isin` against ``N(u)``, O(sum of deg(v)); with many (a
    batch job) by binary search among the graph's sorted edge keys ``u * n + x``, which costs one
    O(E) pass to build.
    """
    _check_graph(graph)
    p = np.asarray(pairs)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"pairs: expected shape [m, 2], got {p.shape}")
    u = check_node_ids("pairs", p[:, 0], graph.n_nodes)
    v = check_node_ids("pairs", p[:, 1], graph.n_nodes)
    n = graph.n_nodes
    indptr, indices = np.asarray(graph.indptr, np.int64), np.asarray(graph.indices, np.int64)
    starts, lens = indptr[v], indptr[v + 1] - indptr[v]
    total = int(lens.sum())
    if total == 0:
        return np.zeros(len(p), dtype=np.int64)
    offsets = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total)
    row = np.repeat(np.arange(len(p)), lens)
    reached = indices[offsets]
    sources = np.unique(u)
    if len(sources) <= _FEW_SOURCES:
        hit = np.zeros(total, dtype=bool)
        for s in sources:
            sel = u[row] == s
            hit[sel] = np.isin(reached[sel], indices[indptr[s] : indptr[s + 1]])
    else:
        keys = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr)) * n + indices
        query = u[row] * n + reached
        pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
        hit = keys[pos] == query
    return np.bincount(row[hit], minlength=len(p)).astype(np.int64)


_FEW_SOURCES = 8


@dataclass(frozen=True)
class PrecomputedLists:
    """Each member's top-``k`` recommendations as a nightly batch job would write them.

    CSR layout: member ``u``'s list is ``ids[indptr[u]:indptr[u+1]]`` (int32), best first, with
    ``scores`` (float32) and ``mutual`` (uint16 common-neighbour counts, for the reason line).
    ``as_of`` names the snapshot the lists were computed from (here a year), for staleness.
    """

    indptr: np.ndarray
    ids: np.ndarray
    scores: np.ndarray
    mutual: np.ndarray
    k: int
    as_of: int | None = None

    @classmethod
    def from_candidates(
        cls, cands, graph, k: int = 10, *, as_of: int | None = None
    ) -> PrecomputedLists:
        """Keep the ``k`` best-scored candidates of each source (ties: smaller id first), with
        their :func:`mutual_counts` in ``graph`` (the snapshot the batch job read)."""
        _check_graph(graph)
        n_nodes = graph.n_nodes
        k = check_positive_int(k, "k")
        src, cand, score = _candidate_arrays(cands)
        if src.size and (min(src.min(), cand.min()) < 0 or max(src.max(), cand.max()) >= n_nodes):
            raise ValueError(f"cands: member ids must lie in [0, {n_nodes})")
        order = np.lexsort((cand, -score, src))
        src, cand, score = src[order], cand[order], score[order]
        start = np.searchsorted(src, src, side="left")
        keep = (np.arange(len(src)) - start) < k
        src, cand, score = src[keep], cand[keep], score[keep]
        cn = mutual_counts(graph, np.stack([src, cand], axis=1))
        indptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.add.at(indptr, src + 1, 1)
        return cls(
            np.cumsum(indptr),
            cand.astype(np.int32),
            score.astype(np.float32),
            np.minimum(cn, np.iinfo(np.uint16).max).astype(np.uint16),
            k,
            as_of,
        )

    @property
    def n_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def nbytes(self) -> int:
        """Bytes of the four arrays (what the key-value store holds, before replication)."""
        return int(self.indptr.nbytes + self.ids.nbytes + self.scores.nbytes + self.mutual.nbytes)

    @property
    def coverage(self) -> float:
        """Share of members with a non-empty list."""
        return float((np.diff(self.indptr) > 0).mean())

    def lookup(
        self, member: int, k: int | None = None, *, exclude: object = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ids, scores, mutual)`` of ``member``'s list, best first, at most ``k`` rows,
        dropping ids in ``exclude`` (members it has connected with since ``as_of``)."""
        member = int(check_node_ids("member", [member], self.n_nodes)[0])
        k = self.k if k is None else check_positive_int(k, "k")
        lo, hi = self.indptr[member], self.indptr[member + 1]
        ids, sc, mu = self.ids[lo:hi], self.scores[lo:hi], self.mutual[lo:hi]
        if exclude is not None:
            ex = np.asarray(exclude)
            if ex.size:
                keep = ~np.isin(ids, ex)
                ids, sc, mu = ids[keep], sc[keep], mu[keep]
        return ids[:k], sc[:k], mu[:k]

    def score_fn(self) -> Callable[[np.ndarray], np.ndarray]:
        """A score function for :func:`utils.graph.evaluate_link_prediction`: a listed member
        scores ``k - rank`` (rank 0 = best), every other member 0 (so they tie below the list,
        and the evaluator gives them the mean rank)."""

        def score(sources: np.ndarray) -> np.ndarray:
            s = check_node_ids("sources", sources, self.n_nodes)
            out = np.zeros((len(s), self.n_nodes), dtype=np.float32)
            for i, u in enumerate(s):
                lo, hi = self.indptr[u], self.indptr[u + 1]
                out[i, self.ids[lo:hi]] = self.k - np.arange(hi - lo, dtype=np.float32)
            return out

        return score


# --------------------------------------------------------------------------------------------
# A small service
# --------------------------------------------------------------------------------------------
def mutual_reason(n_mutual: int, origin: int = 0) -> str:
    """The explanation line shown under a suggestion: the mutual connections when there are
    any; otherwise the generator that proposed it (``origin`` bit mask of
    :mod:`utils.pymk.candidates`: past colleague, else a similar profile)."""
    n = int(n_mutual)
    if n < 0:
        raise ValueError(f"n_mutual: expected >= 0, got {n_mutual}")
    if n > 0:
        return f"{n} mutual connection" + ("" if n == 1 else "s")
    if int(origin) & ORIGIN_COLLEAGUE:
        return "worked together before (no mutual connections)"
    return "similar career (no mutual connections)"


CandidateFn = Callable[[np.ndarray], object]
FeatureFn = Callable[[object], np.ndarray]
ScoreFn = Callable[[object, np.ndarray | None], np.ndarray]


class PYMKService:
    """Answer ``recommend(member, k)`` on request, or from a precomputed list.

    Steps (the stages of :meth:`pipeline`): ``lookup`` (served from ``precomputed`` when the
    member is in ``precomputed_for``), ``candidates`` (``candidates(np.array([member]))`` ->
    Candidates-like), ``features`` (``features(cands)`` -> [m, f] or skipped when None),
    ``rank`` (``score(cands, X)`` -> [m]; default: the candidates' own score), ``top_k`` (the
    ``k`` best, with their :func:`mutual_counts` for the reason line). Members the member is already
    connected to in ``graph`` are never returned, including from a stale precomputed list.
    """

    def __init__(
        self,
        graph,
        candidates: CandidateFn,
        *,
        features: FeatureFn | None = None,
        score: ScoreFn | None = None,
        names: Sequence[str] | None = None,
        precomputed: PrecomputedLists | None = None,
        precomputed_for: Iterable[int] | None = None,
    ) -> None:
        _check_graph(graph)
        if not callable(candidates):
            raise TypeError("candidates: expected a callable sources -> Candidates")
        for nm, fn in (("features", features), ("score", score)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{nm}: expected a callable or None")
        if names is not None and len(names) != graph.n_nodes:
            raise ValueError(f"names: expected {graph.n_nodes} names, got {len(names)}")
        if precomputed is not None and precomputed.n_nodes != graph.n_nodes:
            raise ValueError("precomputed: its member count differs from the graph's")
        if precomputed_for is not None and precomputed is None:
            raise ValueError("precomputed_for: needs precomputed lists")
        self.graph = graph
        self.candidates = candidates
        self.features = features
        self.score = score
        self.names = None if names is None else np.asarray(names, dtype=object)
        self.precomputed = precomputed
        if precomputed is None:
            self._pre = np.zeros(graph.n_nodes, dtype=bool)
        elif precomputed_for is None:
            self._pre = np.ones(graph.n_nodes, dtype=bool)
        else:
            ids = check_node_ids("precomputed_for", list(precomputed_for), graph.n_nodes)
            self._pre = np.zeros(graph.n_nodes, dtype=bool)
            self._pre[ids] = True

    # the stages, each state -> state -------------------------------------------------------
    def _lookup(self, state: dict) -> dict:
        u = state["member"]
        if self._pre[u]:
            nb = self.graph.indices[self.graph.indptr[u] : self.graph.indptr[u + 1]]
            ids, sc, mu = self.precomputed.lookup(u, state["k"], exclude=nb)
            state["result"] = (ids.astype(np.int64), sc.astype(np.float64), mu.astype(np.int64))
            state["source"] = "precomputed"
        else:
            state["source"] = "on_request"
        return state

    def _candidates(self, state: dict) -> dict:
        if "result" not in state:
            state["cands"] = self.candidates(np.array([state["member"]], dtype=np.int64))
        return state

    def _features(self, state: dict) -> dict:
        if "result" not in state and self.features is not None and len(state["cands"].cand):
            state["x"] = self.features(state["cands"])
        return state

    def _rank(self, state: dict) -> dict:
        if "result" in state:
            return state
        c = state["cands"]
        src, cand, score = _candidate_arrays(c)
        if self.score is not None and len(cand):
            score = np.asarray(self.score(c, state.get("x")), dtype=np.float64)
            if score.shape != cand.shape or not np.isfinite(score).all():
                raise ValueError("score: expected one finite score per candidate")
        keep = (src == state["member"]) & (cand != state["member"])
        nb = self.graph.indices[
            self.graph.indptr[state["member"]] : self.graph.indptr[state["member"] + 1]
        ]
        keep &= ~np.isin(cand, nb)
        origin = np.asarray(getattr(c, "origin", np.zeros(len(cand))), dtype=np.int64)
        state["ranked"] = (cand[keep], score[keep], origin[keep])
        return state

    def _top_k(self, state: dict) -> dict:
        if "result" not in state:
            cand, score, origin = state["ranked"]
            order = np.lexsort((cand, -score))[: state["k"]]
            top = cand[order]
            pairs = np.stack([np.full(len(top), state["member"]), top], axis=1)
            state["result"] = (top, score[order], mutual_counts(self.graph, pairs))
            state["origin"] = origin[order]
        return state

    def pipeline(self, **kwargs) -> Pipeline:
        """The steps as a timed :class:`utils.serving.Pipeline` (requests: ``{"member", "k"}``)."""
        return Pipeline(
            [
                ("lookup", self._lookup),
                ("candidates", self._candidates),
                ("features", self._features),
                ("rank", self._rank),
                ("top_k", self._top_k),
            ],
            **kwargs,
        )

    @staticmethod
    def requests(members: object, k: int = 10) -> list[dict]:
        """Request dicts for :meth:`utils.serving.Pipeline.serve`."""
        k = check_positive_int(k, "k")
        return [{"member": int(m), "k": k} for m in np.asarray(members).ravel()]

    def recommend(self, member: int, k: int = 10) -> pd.DataFrame:
        """Up to ``k`` suggestions for ``member``: ``member`` id, ``name`` (if names were
        given), ``score``, ``mutual`` connections and the ``reason`` line, best first."""
        member = int(check_node_ids("member", [member], self.graph.n_nodes)[0])
        k = check_positive_int(k, "k")
        state, _ = self.pipeline().run({"member": member, "k": k})
        return self.to_frame(state)

    def to_frame(self, state: dict) -> pd.DataFrame:
        """A served state as the table :meth:`recommend` returns."""
        ids, sc, mu = state["result"]
        out = pd.DataFrame({"member": ids.astype(np.int64), "score": sc, "mutual": mu.astype(int)})
        if self.names is not None:
            out.insert(1, "name", self.names[out["member"].to_numpy()])
        origin = state.get("origin", np.zeros(len(ids), dtype=np.int64))
        out["reason"] = [mutual_reason(m, o) for m, o in zip(out["mutual"], origin, strict=True)]
        return out


# --------------------------------------------------------------------------------------------
# The ranker, one request at a time
# --------------------------------------------------------------------------------------------
class ServingRanker:
    """A fitted :class:`utils.pymk.ranker.PYMKRanker` served one request at a time.

    Built once: a :class:`FoFIndex` (``fof_k``, ``hub_cap``: the ranker's unless overridden),
    the unit embeddings, the ranker's point-in-time context and crew history for its year, and
    the graph operators of :func:`utils.graph.linkpred.pair_feature_matrix`, and with
    ``emb_index`` a faiss factory string (``"Flat"``, ``"HNSW32"``) a cosine index over the unit
    embeddings (or pass a built :mod:`utils.ann` index). Per request:
    :meth:`candidates` (the union of friends of friends, embedding neighbours through
    ``emb_index`` when given, else the exact scan, and past colleagues, as
    :meth:`PYMKRanker.candidates`), :meth:`features` (the rows of :meth:`PYMKRanker.features`)
    and :meth:`score` (the LightGBM booster on a NumPy array, one thread).
    """

    def __init__(
        self,
        ranker,
        graph,
        *,
        emb_index: object = None,
        hub_cap: int | str | None = "ranker",
        emb: np.ndarray | None = None,
    ) -> None:
        if not isinstance(ranker, PYMKRanker):
            raise TypeError(f"ranker: expected a PYMKRanker, got {type(ranker).__name__}")
        ranker._check_fitted()
        _check_graph(graph)
        if graph.n_nodes != ranker.history.n_nodes:
            raise ValueError(
                f"graph: has {graph.n_nodes} nodes, the ranker's history has "
                f"{ranker.history.n_nodes}"
            )
        if emb_index is not None and not isinstance(emb_index, str):
            if not hasattr(emb_index, "search"):
                raise TypeError(
                    "emb_index: expected a faiss factory string, a utils.ann index or None"
                )
        self.ranker = ranker
        self.graph = graph
        p = ranker.candidate_params
        cap = p["hub_cap"] if hub_cap == "ranker" else hub_cap
        self.hub_cap = _check_cap(cap)
        self.context = ranker.history.context(ranker.year)
        self.crew = ranker._crew_at(ranker.history, ranker.year)
        self.emb = ranker._emb(self.context, emb, graph.n_nodes)
        self.unit = _unit_rows(self.emb)
        if isinstance(emb_index, str):  # built here over the unit embeddings, cosine
            from utils.ann.libs import FaissIndex

            emb_index = FaissIndex(self.unit.shape[1], emb_index, metric="cosine")
            emb_index.add(self.unit)
        self.emb_index = emb_index
        self.fof = FoFIndex(graph, k=p["fof_k"], hub_cap=self.hub_cap) if p["fof_k"] else None
        self._ops = _GraphOps.of(graph)
        self._groups = tuple(FEATURE_GROUPS)
        self._booster = ranker.model.booster_

    def candidates(self, sources: object) -> Candidates:
        """The ranker's candidate union for ``sources``."""
        p = self.ranker.candidate_params
        s = np.unique(check_node_ids("sources", sources, self.graph.n_nodes))
        lists = []
        if self.fof is not None:
            lists.append(self.fof(s))
        if p["emb_k"]:
            k = min(p["emb_k"], self.graph.n_nodes - 1)
            lists.append(embedding_candidates(self.emb, self.graph, s, k=k, index=self.emb_index))
        if p["colleague_k"]:
            lists.append(colleague_candidates(self.context, self.graph, s, k=p["colleague_k"]))
        return union_candidates(*lists)

    def features(self, cands: Candidates) -> np.ndarray:
        """Float32 [len(cands), F]: :meth:`PYMKRanker.features` without its per-call setup."""
        pairs = cands.pairs()
        u, v = pairs[:, 0], pairs[:, 1]
        srcs, pos = np.unique(u, return_inverse=True)
        base = np.empty((len(pairs), sum(len(g) for g in FEATURE_GROUPS.values())), np.float32)
        for lo in range(0, len(srcs), 256):  # the batching of pair_feature_matrix
            b = srcs[lo : lo + 256]
            sel = np.flatnonzero((pos >= lo) & (pos < lo + 256))
            rows = self._ops.rows(b)
            base[sel] = _features(
                self._ops, b, pos[sel] - lo, v[sel], self.context, rows, self._groups
            )
        shared = self.crew.shared(pairs)
        cos = np.einsum("ij,ij->i", self.unit[u], self.unit[v])
        gen = np.stack(
            [
                (cands.origin & ORIGIN_FOF) > 0,
                (cands.origin & ORIGIN_EMBEDDING) > 0,
                (cands.origin & ORIGIN_COLLEAGUE) > 0,
                1.0 / cands.score - 1.0,
                cos,
            ],
            axis=1,
        ).astype(np.float32)
        full = np.concatenate([base, shared, gen], axis=1)
        names = ranker_feature_names()
        if self.ranker.features_used == names:
            return full
        return full[:, [names.index(f) for f in self.ranker.features_used]]

    def score(self, cands: Candidates, x: np.ndarray | None) -> np.ndarray:
        """Raw lambdarank scores (as :meth:`PYMKRanker.predict`) of feature rows ``x``."""
        if x is None:
            return np.zeros(len(cands))
        return np.asarray(self._booster.predict(x, num_threads=1), dtype=np.float64)

    def service(self, **kwargs) -> PYMKService:
        """A :class:`PYMKService` over these stages (``kwargs``: names, precomputed, ...)."""
        return PYMKService(
            self.graph, self.candidates, features=self.features, score=self.score, **kwargs
        )
