"""Candidate generation for "People You May Know": friends of friends, embedding neighbours,
and their union.

**Friends of friends (FoF).** For a source member :math:`u` the candidates are the members two
hops away,
:math:`\\{v : v \\ne u,\\ v \\notin N(u),\\ N(u) \\cap N(v) \\ne \\emptyset\\}`, scored by
common neighbours :math:`|N(u) \\cap N(v)|` or Adamic-Adar
:math:`\\sum_{w \\in N(u) \\cap N(v)} 1 / \\log d_w` {cite}`adamic2003friends`. In matrix form, for
a batch of sources with adjacency rows :math:`A_S`, the counts are :math:`A_S A` and the
Adamic-Adar scores :math:`A_S\\, \\mathrm{diag}(1/\\log d)\\, A`; the batch is one sparse product.

**The hub cap.** Expanding :math:`u` reads every neighbour list of every neighbour, so the work
is :math:`\\sum_{w \\in N(u)} d_w` paths: a member with one celebrity friend pays for the
celebrity's whole list. Production systems cap it. With ``hub_cap = c`` a member with more than
``c`` connections contributes only ``c`` of them, a fixed pseudo-random sample chosen by a hash
of the pair (so every run, every batch and every shard picks the same ones), and the work
becomes :math:`\\sum_{w \\in N(u)} \\min(d_w, c)`. Adamic-Adar keeps the true degree in its
weight. The cap changes which candidates are found, never how a found pair would be weighted.

**Embedding neighbours.** The members whose embeddings have the highest cosine with the source's,
excluding the source and its current connections: an exact brute-force scan in batches, or any
:class:`utils.ann.base.Index` (over-fetched by the source's degree + 1, then filtered).

Candidates carry an ``origin`` bit mask (1 = FoF, 2 = embedding) so that a ranker can use where a
candidate came from as a feature, and :func:`union_candidates` merges lists by their best rank.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from utils.graph.csr import CSRGraph, check_node_ids

SIM_DECIMALS = 6  # embedding cosines are compared at this precision (see embedding_candidates)
ORIGIN_FOF = 1
ORIGIN_EMBEDDING = 2
ORIGIN_COLLEAGUE = 4  # used by utils.pymk.ranker's past-colleague generator
_ORIGIN_NAMES = {ORIGIN_FOF: "fof", ORIGIN_EMBEDDING: "embedding", ORIGIN_COLLEAGUE: "colleague"}


@dataclass(frozen=True)
class Candidates:
    """Candidate pairs ``(src[i], cand[i])``, sorted by source, then by ``score`` descending
    (ties by candidate id).

    ``score``: the list's own score (Adamic-Adar or common neighbours for FoF, cosine for
    embeddings, ``1 / (1 + best rank)`` after a union); ``cn`` and ``aa``: common neighbours and
    Adamic-Adar where the FoF expansion computed them (NaN otherwise); ``origin``: bit mask of
    the generators that proposed the pair; ``sources``: the sources asked for (sorted, unique;
    some may have no candidate); ``work``: for FoF, the 2-hop paths read per source (aligned with
    ``sources``), else zeros.
    """

    src: np.ndarray
    cand: np.ndarray
    score: np.ndarray
    cn: np.ndarray
    aa: np.ndarray
    origin: np.ndarray
    sources: np.ndarray
    work: np.ndarray

    def __len__(self) -> int:
        return len(self.src)

    def pairs(self) -> np.ndarray:
        """The pairs as an int64 array [m, 2] (source, candidate)."""
        return np.stack([self.src, self.cand], axis=1)

    def per_source(self) -> np.ndarray:
        """Number of candidates of each of ``sources``."""
        return np.bincount(np.searchsorted(self.sources, self.src), minlength=len(self.sources))

    def top(self, k: int) -> Candidates:
        """The first ``k`` candidates of each source."""
        k = _check_k(k, "k")
        return self.select(_rank_within(self.src) < k)

    def select(self, mask: np.ndarray) -> Candidates:
        """The rows where ``mask`` (bool or index array) holds; same sources and work."""
        return Candidates(
            self.src[mask],
            self.cand[mask],
            self.score[mask],
            self.cn[mask],
            self.aa[mask],
            self.origin[mask],
            self.sources,
            self.work,
        )

    def origin_names(self) -> np.ndarray:
        """The generators that proposed each pair, e.g. ``"fof"`` or ``"fof+embedding"``."""
        names = {
            m: "+".join(n for bit, n in _ORIGIN_NAMES.items() if m & bit)
            for m in np.unique(self.origin).tolist()
        }
        return np.array([names[int(m)] for m in self.origin], dtype=object)


# --------------------------------------------------------------------------------------------
# Checks and small helpers
# --------------------------------------------------------------------------------------------
def _check_graph(graph: object) -> CSRGraph:
    if not isinstance(graph, CSRGraph):
        raise TypeError(f"graph: expected a utils.graph.CSRGraph, got {type(graph).__name__}")
    return graph


def _check_k(k: object, name: str, *, allow_none: bool = False) -> int | None:
    if k is None and allow_none:
        return None
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name}: expected a positive int, got {k!r}")
    return int(k)


def _sources(sources: object, n_nodes: int) -> np.ndarray:
    s = check_node_ids("sources", sources, n_nodes)
    if s.size == 0:
        raise ValueError("sources: expected at least one source node")
    return np.unique(s)


def _rank_within(src: np.ndarray) -> np.ndarray:
    """0-based position of each row within its run of equal (sorted) ``src`` values."""
    if len(src) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    run = np.repeat(starts, np.diff(np.r_[starts, len(src)]))
    return np.arange(len(src)) - run


def _sort_rows(src: np.ndarray, cand: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Order: source ascending, score descending, candidate ascending."""
    return np.lexsort((cand, -score, src))


def _pair_hash(w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random key per (w, v), the same wherever it is computed (splitmix64)."""
    x = (w.astype(np.uint64) << np.uint64(32)) ^ v.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _canonical(m: sp.spmatrix) -> sp.csr_matrix:
    m = m.tocsr()
    m.sum_duplicates()
    m.sort_indices()
    return m


def adjacency(graph: CSRGraph, hub_cap: int | None = None) -> sp.csr_matrix:
    """The graph's 0/1 adjacency as float64 CSR; with ``hub_cap``, row ``w`` keeps only
    ``hub_cap`` of its entries when ``d_w > hub_cap`` (the pair-hash sample; see the module
    docstring), so it is no longer symmetric."""
    g = _check_graph(graph)
    cap = _check_k(hub_cap, "hub_cap", allow_none=True)
    deg = np.diff(g.indptr)
    rows = np.repeat(np.arange(g.n_nodes, dtype=np.int64), deg)
    cols = g.indices.astype(np.int64)
    if cap is not None and (deg > cap).any():
        order = np.lexsort((_pair_hash(rows, cols), rows))  # within each row, by hash
        rank = _rank_within(rows[order])
        keep = np.zeros(len(rows), dtype=bool)
        keep[order[rank < cap]] = True
        rows, cols = rows[keep], cols[keep]
    data = np.ones(len(rows), dtype=np.float64)
    return sp.csr_matrix((data, (rows, cols)), shape=(g.n_nodes, g.n_nodes))


def two_hop_work(graph: CSRGraph, sources: object, hub_cap: int | None = None) -> np.ndarray:
    """2-hop paths read to expand each source, :math:`\\sum_{w \\in N(u)} \\min(d_w, c)` (no
    cap: :math:`\\sum_w d_w`), aligned with ``np.unique(sources)``."""
    g = _check_graph(graph)
    s = _sources(sources, g.n_nodes)
    cap = _check_k(hub_cap, "hub_cap", allow_none=True)
    deg = np.diff(g.indptr).astype(np.int64)
    read = deg if cap is None else np.minimum(deg, cap)
    starts, ends = g.indptr[s], g.indptr[s + 1]
    csum = np.r_[0, np.cumsum(read[g.indices])]
    return csum[ends] - csum[starts]


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------
def fof_candidates(
    graph: CSRGraph,
    sources: object,
    *,
    k: int | None = None,
    hub_cap: int | None = None,
    score: str = "aa",
    batch_size: int = 1024,
) -> Candidates:
    """Friends-of-friends candidates of each source, scored by ``score`` (``"aa"``: Adamic-Adar,
    ``"cn"``: common neighbours), the top ``k`` per source (all when ``k`` is None), with the
    hub cap ``hub_cap`` (see the module docstring). Deterministic: the same pairs and scores
    for any batching or sharding of ``sources``."""
    g = _check_graph(graph)
    s_all = _sources(sources, g.n_nodes)
    k = _check_k(k, "k", allow_none=True)
    if score not in ("aa", "cn"):
        raise ValueError(f"score: expected 'aa' or 'cn', got {score!r}")
    _check_k(batch_size, "batch_size")
    deg = np.diff(g.indptr).astype(np.float64)
    # A degree-1 intermediate only leads back to the source (excluded); its weight is set to 1
    # rather than 1/log 1 so that both products keep the same sparsity pattern.
    inv_log = np.where(deg > 1, 1.0 / np.log(np.maximum(deg, 2.0)), 1.0)
    full = adjacency(g)
    capped = adjacency(g, hub_cap) if hub_cap is not None else full
    weighted = sp.diags(inv_log) @ capped
    out = {name: [] for name in ("src", "cand", "cn", "aa")}
    for lo in range(0, len(s_all), batch_size):
        s = s_all[lo : lo + batch_size]
        rows = full[s]
        cn, aa = _canonical(rows @ capped), _canonical(rows @ weighted)
        if not (np.array_equal(cn.indptr, aa.indptr) and np.array_equal(cn.indices, aa.indices)):
            raise AssertionError("internal: count and Adamic-Adar products differ in pattern")
        row = np.repeat(np.arange(len(s)), np.diff(cn.indptr))
        n = g.n_nodes
        key = row * n + cn.indices
        nb = rows.tocoo()
        banned = np.r_[nb.row.astype(np.int64) * n + nb.col, np.arange(len(s)) * n + s]
        keep = ~np.isin(key, banned)
        out["src"].append(s[row[keep]])
        out["cand"].append(cn.indices[keep].astype(np.int64))
        out["cn"].append(cn.data[keep])
        out["aa"].append(aa.data[keep])
    src, cand, cn, aa = (np.concatenate(out[n]) for n in ("src", "cand", "cn", "aa"))
    primary = aa if score == "aa" else cn
    order = _sort_rows(src, cand, primary)
    src, cand, cn, aa, primary = src[order], cand[order], cn[order], aa[order], primary[order]
    if k is not None:
        keep = _rank_within(src) < k
        src, cand, cn, aa, primary = src[keep], cand[keep], cn[keep], aa[keep], primary[keep]
    return Candidates(
        src.astype(np.int64),
        cand,
        primary.astype(np.float64),
        cn.astype(np.float64),
        aa.astype(np.float64),
        np.full(len(src), ORIGIN_FOF, dtype=np.int8),
        s_all,
        two_hop_work(g, s_all, hub_cap).astype(np.int64),
    )


def embedding_candidates(
    emb: object,
    graph: CSRGraph,
    sources: object,
    *,
    k: int,
    index: object = None,
    batch_size: int = 512,
) -> Candidates:
    """The ``k`` members with the highest cosine between embedding rows, excluding each source
    and its current connections in ``graph``. ``index``: an :class:`utils.ann.base.Index` built
    over ``emb`` with metric ``"cosine"`` (approximate search); without it, an exact scan in
    which cosines are rounded to ``SIM_DECIMALS`` places and equal ones ordered by member id,
    so the lists do not depend on the BLAS kernel or thread count."""
    g = _check_graph(graph)
    e = np.asarray(emb, dtype=np.float32)
    if e.ndim != 2 or e.shape[0] != g.n_nodes:
        raise ValueError(f"emb: expected shape [{g.n_nodes}, d] (one row per node), got {e.shape}")
    if not np.isfinite(e).all():
        raise ValueError("emb: contains NaN or infinite values")
    k = _check_k(k, "k")
    if k >= g.n_nodes:
        raise ValueError(f"k: expected < the number of nodes ({g.n_nodes}), got {k}")
    s_all = _sources(sources, g.n_nodes)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    unit = e / np.where(norms > 0, norms, 1.0)
    deg = np.diff(g.indptr)
    out_s, out_c, out_v = [], [], []
    for lo in range(0, len(s_all), batch_size):
        s = s_all[lo : lo + batch_size]
        if index is None:
            # Cosines are rounded to SIM_DECIMALS and ties broken by member id, through one
            # integer key per entry: profile vectors repeat exactly, and the last bits of a
            # matrix product depend on the BLAS kernel and thread count, so without this the
            # k-th place among equal cosines (and everything trained on it) would differ
            # between machines.
            sims = np.round(unit[s] @ unit.T, SIM_DECIMALS).astype(np.float64)
            key = -np.rint(sims * 10**SIM_DECIMALS).astype(np.int64) * g.n_nodes + np.arange(
                g.n_nodes
            )
            banned = np.iinfo(np.int64).max
            key[np.arange(len(s)), s] = banned
            for i, u in enumerate(s):
                key[i, g.indices[g.indptr[u] : g.indptr[u + 1]]] = banned
            top = np.argpartition(key, k - 1, axis=1)[:, :k]
            vals = np.take_along_axis(sims, top, axis=1)
            ok = np.take_along_axis(key, top, axis=1) != banned
            out_s.append(np.repeat(s, k)[ok.ravel()])
            out_c.append(top[ok])
            out_v.append(vals[ok])
        else:
            fetch = int(min(g.n_nodes, k + deg[s].max() + 1))
            dist, ids = index.search(unit[s], fetch)
            for i, u in enumerate(s):
                banned = set(g.indices[g.indptr[u] : g.indptr[u + 1]].tolist()) | {int(u)}
                row = [(int(c), float(d)) for c, d in zip(ids[i], dist[i], strict=True) if c >= 0]
                row = [(c, d) for c, d in row if c not in banned][:k]
                out_s.append(np.full(len(row), u, dtype=np.int64))
                out_c.append(np.array([c for c, _ in row], dtype=np.int64))
                # cosine distance -> similarity, so higher is better as for the exact scan
                out_v.append(np.array([1.0 - d for _, d in row], dtype=np.float64))
    src = np.concatenate(out_s).astype(np.int64)
    cand = np.concatenate(out_c).astype(np.int64)
    val = np.concatenate(out_v).astype(np.float64)
    order = _sort_rows(src, cand, val)
    nan = np.full(len(src), np.nan)
    return Candidates(
        src[order],
        cand[order],
        val[order],
        nan,
        nan.copy(),
        np.full(len(src), ORIGIN_EMBEDDING, dtype=np.int8),
        s_all,
        np.zeros(len(s_all), dtype=np.int64),
    )


def union_candidates(*cands: Candidates) -> Candidates:
    """Merge candidate lists: one row per (source, candidate), its ``origin`` the OR of the
    lists that proposed it, ``cn``/``aa`` from the FoF list where present, and score
    ``1 / (1 + best rank)`` (0-based rank within its source in each list), so the union is
    ordered by the best position any generator gave the pair; ``work`` is summed."""
    if not cands:
        raise ValueError("cands: expected at least one Candidates")
    for i, c in enumerate(cands):
        if not isinstance(c, Candidates):
            raise TypeError(f"cands[{i}]: expected Candidates, got {type(c).__name__}")
    sources = np.unique(np.concatenate([c.sources for c in cands]))
    src = np.concatenate([c.src for c in cands])
    cand = np.concatenate([c.cand for c in cands])
    rank = np.concatenate([_rank_within(c.src) for c in cands]).astype(np.float64)
    origin = np.concatenate([c.origin for c in cands]).astype(np.int64)
    cn = np.concatenate([c.cn for c in cands])
    aa = np.concatenate([c.aa for c in cands])
    n = int(max(src.max(initial=0), cand.max(initial=0))) + 1
    key = src * n + cand
    uniq, inv = np.unique(key, return_inverse=True)
    best = np.full(len(uniq), np.inf)
    np.minimum.at(best, inv, rank)
    orig = np.zeros(len(uniq), dtype=np.int64)
    np.bitwise_or.at(orig, inv, origin)
    cn_u = np.full(len(uniq), np.nan)
    aa_u = np.full(len(uniq), np.nan)
    has = ~np.isnan(cn)
    cn_u[inv[has]] = cn[has]
    aa_u[inv[has]] = aa[has]
    u_src, u_cand = uniq // n, uniq % n
    score = 1.0 / (1.0 + best)
    order = _sort_rows(u_src, u_cand, score)
    work = np.zeros(len(sources), dtype=np.int64)
    for c in cands:
        work[np.searchsorted(sources, c.sources)] += c.work
    return Candidates(
        u_src[order].astype(np.int64),
        u_cand[order].astype(np.int64),
        score[order],
        cn_u[order],
        aa_u[order],
        orig[order].astype(np.int8),
        sources,
        work,
    )


def candidate_ranks(cands: Candidates, targets: object) -> np.ndarray:
    """The 0-based position of each target direction in its source's candidate list (``inf``
    when the list does not hold it). ``targets`` ([m, 2] node pairs, as a
    :class:`utils.graph.splits.Phase` holds them) count in both directions, restricted to
    directions whose source is one of ``cands.sources``. ``(ranks < k).mean()`` is
    :func:`candidate_recall` at ``k``, for every ``k`` from one pass."""
    if not isinstance(cands, Candidates):
        raise TypeError(f"cands: expected Candidates, got {type(cands).__name__}")
    t = np.asarray(targets)
    if t.ndim != 2 or t.shape[1] != 2 or len(t) == 0:
        raise ValueError(f"targets: expected a non-empty [m, 2] array of node pairs, got {t.shape}")
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"targets: expected integer node ids, got dtype {t.dtype}")
    both = np.concatenate([t, t[:, ::-1]]).astype(np.int64)
    both = both[np.isin(both[:, 0], cands.sources)]
    if len(both) == 0:
        raise ValueError("targets: no target tie has its source among cands.sources")
    out = np.full(len(both), np.inf)
    if len(cands) == 0:
        return out
    n = int(max(both.max(), cands.cand.max(), cands.src.max())) + 1
    key = cands.src * n + cands.cand
    pos = _rank_within(cands.src)
    order = np.argsort(key, kind="stable")
    tk = both[:, 0] * n + both[:, 1]
    at = np.minimum(np.searchsorted(key[order], tk), len(key) - 1)
    found = key[order][at] == tk
    out[found] = pos[order][at[found]]
    return out


def candidate_recall(cands: Candidates, targets: object, *, k: int | None = None) -> float:
    """Share of target ties found among the candidates: the directions of ``targets`` (see
    :func:`candidate_ranks`) whose partner is among the source's first ``k`` candidates (all
    when ``k`` is None)."""
    ranks = candidate_ranks(cands, targets)
    limit = np.inf if k is None else _check_k(k, "k")
    return float((ranks < limit).mean())


def candidate_score_fn(
    graph: CSRGraph, cands: Candidates, scores: object
) -> Callable[[np.ndarray], np.ndarray]:
    """The evaluator's ``score_fn(sources) -> [len(sources), n_nodes]``
    (:func:`utils.graph.evaluate_link_prediction`) from scored candidates: a candidate gets
    :math:`\\sigma(\\text{score}) \\in (0, 1)`; every other member
    :math:`-1 + d_v / (1 + \\max d) \\in [-1, 0)`, below all candidates and by degree among
    themselves (a popularity backfill). Sources outside ``cands.sources`` get only the backfill.
    """
    g = _check_graph(graph)
    if not isinstance(cands, Candidates):
        raise TypeError(f"cands: expected Candidates, got {type(cands).__name__}")
    raw = np.asarray(scores, dtype=np.float64).ravel()
    if raw.shape != (len(cands),) or not np.isfinite(raw).all():
        raise ValueError(f"scores: expected {len(cands)} finite scores, got shape {raw.shape}")
    deg = np.diff(g.indptr).astype(np.float64)
    backfill = -1.0 + deg / (deg.max() + 1.0)
    prob = 1.0 / (1.0 + np.exp(-np.clip(raw, -50.0, 50.0)))
    starts = np.searchsorted(cands.src, cands.sources, side="left")
    ends = np.searchsorted(cands.src, cands.sources, side="right")

    def score(sources: np.ndarray) -> np.ndarray:
        s = check_node_ids("sources", sources, g.n_nodes)
        out = np.tile(backfill, (len(s), 1))
        pos = np.searchsorted(cands.sources, s)
        for i, (u, p) in enumerate(zip(s, pos, strict=True)):
            if p < len(cands.sources) and cands.sources[p] == u:
                lo, hi = starts[p], ends[p]
                out[i, cands.cand[lo:hi]] = prob[lo:hi]
        return out

    return score
