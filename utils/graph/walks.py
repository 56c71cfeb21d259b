"""Random walks over a :class:`utils.graph.CSRGraph`: uniform (DeepWalk) and node2vec's
second-order biased walk, compiled with numba, seeded and deterministic.

DeepWalk {Perozzi et al. 2014} moves from the current node ``v`` to a neighbour chosen uniformly.
node2vec {Grover & Leskovec 2016, section 3.2.2} makes the step depend on the previous node
``t`` as well. For an unweighted graph the unnormalised weight of moving ``v -> x`` is

    alpha_pq(t, x) = 1/p  if x == t              (d_tx = 0: step back; p is the *return* parameter)
                     1    if x is a neighbour of t (d_tx = 1: stay next to where we came from)
                     1/q  otherwise               (d_tx = 2: move away; q is the *in-out* parameter)

so q > 1 keeps the walk near ``t`` (BFS-like; the paper ties it to structural equivalence)
and q < 1 pushes it outward (DFS-like; the paper ties it to homophily, i.e. communities).
A small p makes walks backtrack; a large p discourages it. p = q = 1 is DeepWalk's walk.

The reference implementation precomputes an alias table per directed edge, which costs
``sum_v deg(v)^2`` memory. Here each step draws a uniform neighbour ``x`` and accepts it with
probability ``alpha_pq(t, x) / max(1/p, 1, 1/q)`` (rejection sampling, as in KnightKing and
PecanPy): the accepted draw has exactly the distribution above, with O(|E|) memory and an
O(log deg(t)) binary search per proposal to test whether ``x`` neighbours ``t``.

Walks start from every non-isolated node, ``walks_per_node`` rounds, each round in a fresh
random order (as the reference code does). One int64 row per walk; an isolated start node
cannot move, so its row is padded with -1 (never the case when starts are non-isolated nodes
of an undirected graph).
"""

from __future__ import annotations

from typing import Protocol

import numba
import numpy as np

__all__ = ["node2vec_walks", "random_walks", "transition_probabilities", "walk_statistics"]


class _CSRLike(Protocol):
    indptr: np.ndarray
    indices: np.ndarray
    n_nodes: int


def _csr(graph: object, name: str = "graph") -> tuple[np.ndarray, np.ndarray, int]:
    """(indptr int64, indices int64 sorted within rows, n_nodes) of a CSRGraph-like object."""
    for attr in ("indptr", "indices", "n_nodes"):
        if not hasattr(graph, attr):
            raise TypeError(
                f"{name} must be a CSRGraph (indptr, indices, n_nodes), got {type(graph).__name__}"
            )
    n = int(graph.n_nodes)
    indptr = np.ascontiguousarray(graph.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(graph.indices, dtype=np.int64)
    if n <= 0:
        raise ValueError(f"{name} is empty (n_nodes={n})")
    if indptr.shape != (n + 1,):
        raise ValueError(
            f"{name}.indptr must have n_nodes + 1 = {n + 1} entries, got {indptr.shape}"
        )
    if indices.size == 0:
        raise ValueError(f"{name} has no edges; random walks need at least one")
    if indices.min() < 0 or indices.max() >= n:
        raise ValueError(f"{name}.indices holds node ids outside [0, {n})")
    if _rows_sorted(indptr, indices):
        return indptr, indices, n
    indices = indices.copy()
    _sort_rows(indptr, indices)
    return indptr, indices, n


@numba.njit(cache=True)
def _rows_sorted(indptr: np.ndarray, indices: np.ndarray) -> bool:
    for v in range(indptr.size - 1):
        for j in range(indptr[v] + 1, indptr[v + 1]):
            if indices[j - 1] > indices[j]:
                return False
    return True


@numba.njit(cache=True)
def _sort_rows(indptr: np.ndarray, indices: np.ndarray) -> None:
    for v in range(indptr.size - 1):
        indices[indptr[v] : indptr[v + 1]] = np.sort(indices[indptr[v] : indptr[v + 1]])


@numba.njit(cache=True)
def _is_neighbour(indptr: np.ndarray, indices: np.ndarray, t: int, x: int) -> bool:
    """Binary search for x in t's sorted neighbour list."""
    lo, hi = indptr[t], indptr[t + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if indices[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo < indptr[t + 1] and indices[lo] == x


@numba.njit(cache=True)
def _walks_kernel(
    indptr: np.ndarray,
    indices: np.ndarray,
    starts: np.ndarray,
    walk_length: int,
    inv_p: float,
    inv_q: float,
    biased: bool,
    seed: int,
) -> np.ndarray:
    # numba's own generator (these legacy calls compile to it): deterministic in this serial loop
    np.random.seed(seed)  # noqa: NPY002
    out = np.full((starts.size, walk_length), -1, dtype=np.int64)
    w_max = max(inv_p, 1.0, inv_q)
    for i in range(starts.size):
        v = starts[i]
        out[i, 0] = v
        t = -1
        for step in range(1, walk_length):
            lo, hi = indptr[v], indptr[v + 1]
            deg = hi - lo
            if deg == 0:
                break
            if not biased or t < 0:
                x = indices[lo + np.random.randint(deg)]  # noqa: NPY002
            else:
                while True:
                    x = indices[lo + np.random.randint(deg)]  # noqa: NPY002
                    if x == t:
                        w = inv_p
                    elif _is_neighbour(indptr, indices, t, x):
                        w = 1.0
                    else:
                        w = inv_q
                    if w >= w_max or np.random.random() * w_max < w:  # noqa: NPY002
                        break
            out[i, step] = x
            t = v
            v = x
    return out


def _check_walk_args(walk_length: object, walks_per_node: object, seed: object) -> None:
    for name, value, lo in (("walk_length", walk_length, 2), ("walks_per_node", walks_per_node, 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < lo:
            raise ValueError(f"{name} must be >= {lo}, got {value}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")


def _start_order(
    indptr: np.ndarray, n: int, walks_per_node: int, start_nodes: object, rng: np.random.Generator
) -> np.ndarray:
    if start_nodes is None:
        nodes = np.flatnonzero(np.diff(indptr) > 0).astype(np.int64)
    else:
        nodes = np.asarray(start_nodes)
        if nodes.ndim != 1 or nodes.size == 0 or not np.issubdtype(nodes.dtype, np.integer):
            raise ValueError("start_nodes must be a non-empty 1-D array of int node ids")
        if nodes.min() < 0 or nodes.max() >= n:
            raise ValueError(f"start_nodes holds unknown node ids (valid ids are 0..{n - 1})")
        nodes = nodes.astype(np.int64)
    return np.concatenate([rng.permutation(nodes) for _ in range(walks_per_node)])


def node2vec_walks(
    graph: _CSRLike,
    *,
    p: float = 1.0,
    q: float = 1.0,
    walk_length: int = 20,
    walks_per_node: int = 4,
    seed: int = 0,
    start_nodes: np.ndarray | None = None,
) -> np.ndarray:
    """node2vec's second-order biased walks (Grover & Leskovec 2016, eq. 2, section 3.2.2).

    Returns int64 ``[walks_per_node * n_starts, walk_length]``. The first step from the start
    node is uniform (there is no previous node); every later step from ``v`` having come from
    ``t`` picks ``x`` with probability proportional to 1/p (x = t), 1 (x adjacent to t) or 1/q
    (otherwise). ``p = q = 1`` gives DeepWalk's uniform walk (and runs the same kernel without
    the rejection loop). Same ``seed``, same graph, same walks.
    """
    for name, value in (("p", p), ("q", q)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise TypeError(f"{name} must be a positive number, got {type(value).__name__}")
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive finite number, got {value}")
    _check_walk_args(walk_length, walks_per_node, seed)
    indptr, indices, n = _csr(graph)
    rng = np.random.default_rng(int(seed))
    starts = _start_order(indptr, n, int(walks_per_node), start_nodes, rng)
    biased = not (p == 1.0 and q == 1.0)
    kernel_seed = int(rng.integers(0, 2**31 - 1))
    return _walks_kernel(
        indptr, indices, starts, int(walk_length), 1.0 / p, 1.0 / q, biased, kernel_seed
    )


def random_walks(
    graph: _CSRLike,
    *,
    walk_length: int = 20,
    walks_per_node: int = 4,
    seed: int = 0,
    start_nodes: np.ndarray | None = None,
) -> np.ndarray:
    """DeepWalk's uniform random walks (Perozzi et al. 2014): each step moves to a neighbour
    chosen uniformly. Identical to ``node2vec_walks(graph, p=1, q=1, ...)``."""
    return node2vec_walks(
        graph,
        p=1.0,
        q=1.0,
        walk_length=walk_length,
        walks_per_node=walks_per_node,
        seed=seed,
        start_nodes=start_nodes,
    )


def transition_probabilities(
    graph: _CSRLike, prev: int, cur: int, *, p: float, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """The exact node2vec step distribution out of ``cur`` having arrived from ``prev``.

    Returns ``(neighbours, probabilities)``: alpha_pq(prev, x) normalised over x in N(cur),
    with alpha = 1/p for x = prev, 1 for x adjacent to prev, 1/q otherwise. ``prev`` must be a
    neighbour of ``cur`` (the walk just crossed that edge).
    """
    indptr, indices, n = _csr(graph)
    for name, node in (("prev", prev), ("cur", cur)):
        if isinstance(node, bool) or not isinstance(node, int | np.integer):
            raise TypeError(f"{name} must be an int node id, got {type(node).__name__}")
        if not 0 <= node < n:
            raise ValueError(f"{name}={node} is not a node id (valid ids are 0..{n - 1})")
    if p <= 0 or q <= 0:
        raise ValueError(f"p and q must be positive, got p={p}, q={q}")
    nbrs = indices[indptr[cur] : indptr[cur + 1]]
    if not _is_neighbour(indptr, indices, int(cur), int(prev)):
        raise ValueError(
            f"prev={prev} is not a neighbour of cur={cur}: no walk steps {prev}->{cur}"
        )
    prev_nbrs = indices[indptr[prev] : indptr[prev + 1]]
    w = np.where(nbrs == prev, 1.0 / p, np.where(np.isin(nbrs, prev_nbrs), 1.0, 1.0 / q))
    return nbrs.copy(), w / w.sum()


def walk_statistics(graph: _CSRLike, walks: np.ndarray) -> dict[str, float]:
    """How a set of walks moves: the share of steps that return to the previous node
    (d_tx = 0), stay next to it (d_tx = 1) or move outward (d_tx = 2), and the mean number of
    distinct nodes per walk. These are the quantities p and q control."""
    indptr, indices, _ = _csr(graph)
    walks = np.asarray(walks)
    if walks.ndim != 2 or walks.shape[1] < 3 or not np.issubdtype(walks.dtype, np.integer):
        raise ValueError(f"walks must be an int array [n_walks, >= 3], got {walks.shape}")
    ret, near, out, distinct = _walk_stats_kernel(indptr, indices, walks.astype(np.int64))
    total = max(ret + near + out, 1)
    return {
        "return_share": ret / total,
        "stay_share": near / total,
        "outward_share": out / total,
        "distinct_per_walk": distinct / walks.shape[0],
    }


@numba.njit(cache=True)
def _walk_stats_kernel(indptr, indices, walks):
    ret = 0
    near = 0
    out = 0
    distinct = 0
    for i in range(walks.shape[0]):
        seen = set()
        for j in range(walks.shape[1]):
            if walks[i, j] < 0:
                break
            seen.add(walks[i, j])
            if j >= 2:
                t, x = walks[i, j - 2], walks[i, j]
                if x == t:
                    ret += 1
                elif _is_neighbour(indptr, indices, t, x):
                    near += 1
                else:
                    out += 1
        distinct += len(seen)
    return ret, near, out, distinct
