"""Hierarchical Navigable Small World graphs, from scratch (Malkov & Yashunin, TPAMI 2020).

The algorithm, in the paper's terms (Algorithms 1, 2, 4 and 5):

- Each inserted element gets a level ``l = floor(-ln(U(0,1)) * mL)`` with ``mL = 1/ln(M)``, so
  a node reaches layer ``l`` with probability ``M^-l``: each layer holds about 1/M of the one
  below it.
- Insert (Alg. 1): descend greedily from the entry point through the layers above ``l``
  (beam of 1), then on each layer ``min(l, L)..0`` run a beam search of width
  ``efConstruction`` (Alg. 2) and link the new node to ``M`` neighbours chosen by the heuristic
  (Alg. 4): a candidate is kept only if it is closer to the new node than to every neighbour
  already kept, which spreads links across directions instead of packing them into one cluster.
  Neighbours whose lists overflow (``Mmax0 = 2M`` on layer 0, ``M`` above) are re-pruned with
  the same heuristic.
- Search (Alg. 5): greedy descent to layer 1, then a beam search of width ``ef`` on layer 0.

This mirrors hnswlib's choices (heuristic without keeping pruned links, ``Mmax0 = 2M``), so the
two can be compared at the same (M, efConstruction, ef). The kernels are compiled with numba;
set ``NUMBA_DISABLE_JIT=1`` to step through them as plain Python (about 100x slower).
"""

from __future__ import annotations

import heapq

import numpy as np
from numba import njit

from .base import Index


@njit(cache=True, fastmath=True)
def _dist(X, i, q, ip):
    """Squared L2 (``ip=False``) or ``1 - <x_i, q>`` (``ip=True``) between row i and q."""
    s = np.float32(0.0)
    if ip:
        for t in range(q.shape[0]):
            s += X[i, t] * q[t]
        return 1.0 - s
    for t in range(q.shape[0]):
        diff = X[i, t] - q[t]
        s += diff * diff
    return s


# The graph G is a tuple of arrays (links0, deg0, linksU, degU, upper_row): layer-0 links
# (n, 2M) and their counts (n,); upper-layer links (n_upper, L, M) and counts (n_upper, L) for the
# nodes with level >= 1, whose row there is upper_row[node]. Unused link slots hold -1.


@njit(cache=True)
def _neighbours(node, level, G):
    """The link array of ``node`` on ``level`` (a view: writes go to the graph) and its count."""
    links0, deg0, linksU, degU, upper_row = G
    if level == 0:
        return links0[node], deg0[node]
    r = upper_row[node]
    return linksU[r, level - 1], degU[r, level - 1]


@njit(cache=True)
def _set_degree(node, level, G, value):
    _, deg0, _, degU, upper_row = G
    if level == 0:
        deg0[node] = value
    else:
        degU[upper_row[node], level - 1] = value


@njit(cache=True)
def _greedy(X, q, ip, ep, d_ep, level, G):
    """Beam-of-one descent on ``level``: move to a closer neighbour until none is closer."""
    changed = True
    while changed:
        changed = False
        nbrs, deg = _neighbours(ep, level, G)
        for t in range(deg):
            e = nbrs[t]
            d = _dist(X, e, q, ip)
            if d < d_ep:
                ep, d_ep, changed = e, d, True
    return ep, d_ep


@njit(cache=True)
def _search_layer(X, q, ip, ep_ids, ep_d, ef, level, G, visited, tag):
    """Beam search of width ``ef`` on one layer (Alg. 2). Returns ids and distances, sorted."""
    cand = [(np.float64(ep_d[0]), np.int64(ep_ids[0]))]  # min-heap of candidates to expand
    best = [(-np.float64(ep_d[0]), np.int64(ep_ids[0]))]  # max-heap (negated) of the ef best
    visited[ep_ids[0]] = tag
    for j in range(1, ep_ids.shape[0]):
        visited[ep_ids[j]] = tag
        heapq.heappush(cand, (np.float64(ep_d[j]), np.int64(ep_ids[j])))
        heapq.heappush(best, (-np.float64(ep_d[j]), np.int64(ep_ids[j])))
        if len(best) > ef:
            heapq.heappop(best)
    while len(cand) > 0:
        d_c, c = heapq.heappop(cand)
        if d_c > -best[0][0]:
            break  # the closest unexpanded candidate is worse than the worst kept result
        nbrs, deg = _neighbours(c, level, G)
        for t in range(deg):
            e = nbrs[t]
            if visited[e] == tag:
                continue
            visited[e] = tag
            d_e = np.float64(_dist(X, e, q, ip))
            if len(best) < ef or d_e < -best[0][0]:
                heapq.heappush(cand, (d_e, np.int64(e)))
                heapq.heappush(best, (-d_e, np.int64(e)))
                if len(best) > ef:
                    heapq.heappop(best)
    n = len(best)
    ids = np.empty(n, dtype=np.int64)
    ds = np.empty(n, dtype=np.float64)
    for j in range(n - 1, -1, -1):  # the max-heap pops the worst first: fill from the back
        nd, e = heapq.heappop(best)
        ids[j] = e
        ds[j] = -nd
    return ids, ds


@njit(cache=True)
def _select_heuristic(X, ip, cand_ids, cand_d, m):
    """Alg. 4: keep a candidate (closest first) only if it is closer to the base element than
    to every neighbour kept so far; stop at ``m``. ``cand_ids`` must be sorted by distance."""
    out = np.empty(m, dtype=np.int64)
    n_out = 0
    for j in range(cand_ids.shape[0]):
        if n_out >= m:
            break
        e = cand_ids[j]
        good = True
        for s in range(n_out):
            if _dist(X, e, X[out[s]], ip) < cand_d[j]:
                good = False
                break
        if good:
            out[n_out] = e
            n_out += 1
    return out[:n_out]


@njit(cache=True)
def _connect(X, ip, node, new, level, m_max, G):
    """Add the link node -> new on ``level``; re-prune node's list with Alg. 4 if it overflows."""
    nbrs, deg = _neighbours(node, level, G)
    if deg < m_max:
        nbrs[deg] = new
        _set_degree(node, level, G, deg + 1)
        return
    ids = np.empty(deg + 1, dtype=np.int64)
    ds = np.empty(deg + 1, dtype=np.float64)
    for t in range(deg):
        ids[t] = nbrs[t]
    ids[deg] = new
    for t in range(deg + 1):
        ds[t] = _dist(X, ids[t], X[node], ip)
    order = np.argsort(ds, kind="mergesort")
    kept = _select_heuristic(X, ip, ids[order], ds[order], m_max)
    for t in range(kept.shape[0]):
        nbrs[t] = kept[t]
    for t in range(kept.shape[0], m_max):
        nbrs[t] = -1
    _set_degree(node, level, G, kept.shape[0])


@njit(cache=True)
def _insert_range(X, ip, start, stop, levels, entry, max_level, M, ef_c, G, visited, tag):
    """Insert elements ``start..stop-1`` one by one (Alg. 1). Returns (entry, max_level, tag)."""
    for i in range(start, stop):
        q = X[i]
        lvl = levels[i]
        if entry < 0:  # the very first element becomes the entry point
            entry, max_level = i, lvl
            continue
        ep = entry
        d_ep = _dist(X, ep, q, ip)
        for lc in range(max_level, lvl, -1):
            ep, d_ep = _greedy(X, q, ip, ep, d_ep, lc, G)
        ep_ids = np.array([ep], dtype=np.int64)
        ep_d = np.array([d_ep], dtype=np.float64)
        for lc in range(min(lvl, max_level), -1, -1):
            tag += 1
            W_ids, W_d = _search_layer(X, q, ip, ep_ids, ep_d, ef_c, lc, G, visited, tag)
            chosen = _select_heuristic(X, ip, W_ids, W_d, M)
            m_max = 2 * M if lc == 0 else M
            nbrs, _ = _neighbours(i, lc, G)
            for t in range(chosen.shape[0]):
                nbrs[t] = chosen[t]
            _set_degree(i, lc, G, chosen.shape[0])
            for t in range(chosen.shape[0]):
                _connect(X, ip, chosen[t], i, lc, m_max, G)
            ep_ids, ep_d = W_ids, W_d
        if lvl > max_level:
            entry, max_level = i, lvl
    return entry, max_level, tag


@njit(cache=True)
def _search_many(X, Q, ip, k, ef, entry, max_level, G, visited, tag):
    """Alg. 5 for each query row: greedy to layer 1, beam search of width max(ef, k) on 0."""
    nq = Q.shape[0]
    out_i = np.full((nq, k), -1, dtype=np.int64)
    out_d = np.full((nq, k), np.inf, dtype=np.float64)
    for r in range(nq):
        q = Q[r]
        ep = entry
        d_ep = _dist(X, ep, q, ip)
        for lc in range(max_level, 0, -1):
            ep, d_ep = _greedy(X, q, ip, ep, d_ep, lc, G)
        tag += 1
        ids, ds = _search_layer(
            X,
            q,
            ip,
            np.array([ep], dtype=np.int64),
            np.array([d_ep], dtype=np.float64),
            max(ef, k),
            0,
            G,
            visited,
            tag,
        )
        n = min(k, ids.shape[0])
        out_i[r, :n] = ids[:n]
        out_d[r, :n] = ds[:n]
    return out_d, out_i, tag


def check_hnsw_params(M: object, ef_construction: object, ef: object) -> tuple[int, int, int]:
    """Validate HNSW's three knobs (M >= 2; efConstruction, ef >= 1) and return them as ints."""
    for arg, val, low in (("M", M, 2), ("ef_construction", ef_construction, 1), ("ef", ef, 1)):
        if isinstance(val, bool) or not isinstance(val, int | np.integer) or val < low:
            raise ValueError(f"{arg} must be an int >= {low}, got {val!r}")
    return int(M), int(ef_construction), int(ef)


class HNSWIndex(Index):
    """From-scratch HNSW with hnswlib's parameter names and defaults (M=16, efConstruction=200).

    Memory: vectors (4d bytes each), layer-0 links (2M int32 + a count), and M links per upper
    layer for the ~1/M of nodes that reach layer 1 or higher.
    """

    name = "HNSW (ours)"
    search_param = "ef"

    def __init__(
        self,
        dim: int,
        metric: str = "l2",
        M: int = 16,
        ef_construction: int = 200,
        ef: int = 10,
        seed: int = 100,
    ) -> None:
        super().__init__(dim, metric)
        self.M, self.ef_construction, self.ef = check_hnsw_params(M, ef_construction, ef)
        self.mL = 1.0 / np.log(self.M)
        self._rng = np.random.default_rng(seed)
        self._ip = metric != "l2"  # cosine runs as inner product on unit vectors
        self._X = np.empty((0, self.dim), dtype=np.float32)
        self.levels = np.empty(0, dtype=np.int64)
        self._links0 = np.empty((0, 2 * self.M), dtype=np.int32)
        self._deg0 = np.empty(0, dtype=np.int32)
        self._upper_row = np.empty(0, dtype=np.int64)
        self._linksU = np.empty((0, 0, self.M), dtype=np.int32)
        self._degU = np.empty((0, 0), dtype=np.int32)
        self.entry, self.max_level, self._tag = -1, -1, 0
        self._visited = np.zeros(0, dtype=np.int64)

    def set_search_param(self, value: int) -> None:
        self.ef = check_hnsw_params(self.M, self.ef_construction, value)[2]

    def _add(self, X: np.ndarray) -> None:
        n_old, n_new = self.ntotal, X.shape[0]
        u = self._rng.random(n_new)
        new_levels = np.floor(-np.log(1.0 - u) * self.mL).astype(np.int64)
        self.levels = np.concatenate([self.levels, new_levels])
        self._X = np.ascontiguousarray(np.vstack([self._X, X]))
        self._links0 = np.vstack([self._links0, np.full((n_new, 2 * self.M), -1, np.int32)])
        self._deg0 = np.concatenate([self._deg0, np.zeros(n_new, np.int32)])
        self._visited = np.zeros(n_old + n_new, dtype=np.int64)
        self._tag = 0
        # Upper layers: one row of (L, M) links per node with level >= 1.
        top = int(self.levels.max())
        upper_nodes = np.flatnonzero(self.levels >= 1)
        old_rows = self._linksU
        linksU = np.full((len(upper_nodes), max(top, 1), self.M), -1, np.int32)
        degU = np.zeros((len(upper_nodes), max(top, 1)), np.int32)
        n_old_upper = old_rows.shape[0]
        if n_old_upper:
            linksU[:n_old_upper, : old_rows.shape[1]] = old_rows
            degU[:n_old_upper, : self._degU.shape[1]] = self._degU
        self._upper_row = np.full(n_old + n_new, -1, np.int64)
        self._upper_row[upper_nodes] = np.arange(len(upper_nodes))
        self._linksU, self._degU = linksU, degU
        self.entry, self.max_level, self._tag = _insert_range(
            self._X,
            self._ip,
            n_old,
            n_old + n_new,
            self.levels,
            self.entry,
            self.max_level,
            self.M,
            self.ef_construction,
            self._graph(),
            self._visited,
            self._tag,
        )

    def _search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        d, i, self._tag = _search_many(
            self._X,
            Q,
            self._ip,
            k,
            self.ef,
            self.entry,
            self.max_level,
            self._graph(),
            self._visited,
            self._tag,
        )
        # Internally ip/cosine use 1 - <q, x>: already 1 - cos on unit vectors.
        if self.metric == "ip":
            d = d - 1.0  # internal 1 - <q, x>  ->  -<q, x>
        return d.astype(np.float32), i

    def _graph(self) -> tuple:
        return (self._links0, self._deg0, self._linksU, self._degU, self._upper_row)

    def memory_bytes(self) -> int:
        return int(
            self._X.nbytes
            + self._links0.nbytes
            + self._deg0.nbytes
            + self._linksU.nbytes
            + self._degU.nbytes
            + self._upper_row.nbytes
            + self.levels.nbytes
        )

    def layer_sizes(self) -> np.ndarray:
        """Number of nodes on each layer, from 0 up: about n, n/M, n/M^2, ..."""
        return np.array([(self.levels >= lc).sum() for lc in range(self.max_level + 1)])

    def degrees(self, level: int = 0) -> np.ndarray:
        """Out-degree of every node present on ``level``."""
        if level == 0:
            return self._deg0.copy()
        rows = self._upper_row[self.levels >= level]
        return self._degU[rows, level - 1].copy()
