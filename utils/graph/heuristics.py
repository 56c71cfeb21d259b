"""Link-prediction heuristics (Liben-Nowell & Kleinberg 2007), as score functions.

Each factory takes the observed graph and returns ``score_fn(sources) -> [len(sources), n]``
scores for every candidate, for :func:`utils.graph.evaluate_link_prediction`. With ``A`` the
adjacency matrix, ``N(u)`` the neighbours and ``d(w)`` the degree:

- common neighbours: ``|N(u) & N(v)| = (A A)[u, v]``;
- Jaccard: ``|N(u) & N(v)| / |N(u) | N(v)|``;
- Adamic-Adar (Adamic & Adar 2003): ``sum over w in N(u) & N(v) of 1 / log d(w)``;
- resource allocation (Zhou, Lu & Zhang 2009): ``sum over w in N(u) & N(v) of 1 / d(w)``;
- truncated Katz (Katz 1953): ``sum_{l=1..L} beta^l (A^l)[u, v]``, walks of length up to ``L``;
- personalised PageRank: the stationary visit probability of a walk that restarts at ``u`` with
  probability ``alpha`` at each step, by power iteration.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .csr import CSRGraph, check_node_ids
from .evaluate import ScoreFn


def _sources(graph: CSRGraph, sources: object) -> np.ndarray:
    return check_node_ids("sources", sources, graph.n_nodes)


def _weighted_paths(graph: CSRGraph, weight: np.ndarray) -> ScoreFn:
    A = graph.to_scipy().astype(np.float64)
    AW = A @ sp.diags(weight)

    def score(sources: np.ndarray) -> np.ndarray:
        s = _sources(graph, sources)
        return (AW[s] @ A).toarray()

    return score


def common_neighbours(graph: CSRGraph) -> ScoreFn:
    """Score by the number of shared neighbours."""
    return _weighted_paths(graph, np.ones(graph.n_nodes))


def adamic_adar(graph: CSRGraph) -> ScoreFn:
    """Shared neighbours weighted by ``1 / log d(w)`` (a shared neighbour has degree >= 2)."""
    d = graph.degree().astype(np.float64)
    w = np.zeros_like(d)
    w[d >= 2] = 1.0 / np.log(d[d >= 2])
    return _weighted_paths(graph, w)


def resource_allocation(graph: CSRGraph) -> ScoreFn:
    """Shared neighbours weighted by ``1 / d(w)``."""
    d = graph.degree().astype(np.float64)
    return _weighted_paths(graph, np.divide(1.0, d, out=np.zeros_like(d), where=d > 0))


def jaccard(graph: CSRGraph) -> ScoreFn:
    """Shared neighbours over the union of the two neighbourhoods (0 when both are empty)."""
    cn = common_neighbours(graph)
    d = graph.degree().astype(np.float64)

    def score(sources: np.ndarray) -> np.ndarray:
        s = _sources(graph, sources)
        c = cn(s)
        union = d[s][:, None] + d[None, :] - c
        return np.divide(c, union, out=np.zeros_like(c), where=union > 0)

    return score


def katz(graph: CSRGraph, beta: float = 0.005, max_length: int = 3) -> ScoreFn:
    """Truncated Katz index: walks of length 1..``max_length`` weighted ``beta**length``.

    Length-1 walks are observed ties, which the evaluator masks, so they do not change ranks.
    """
    if not 0 < beta < 1:
        raise ValueError(f"beta: expected 0 < beta < 1, got {beta}")
    if not isinstance(max_length, (int, np.integer)) or max_length < 2:
        raise ValueError(f"max_length: expected an int >= 2, got {max_length!r}")
    A = graph.to_scipy().astype(np.float64)
    AT = A.T.tocsr()

    def score(sources: np.ndarray) -> np.ndarray:
        s = _sources(graph, sources)
        walk = A[s].toarray()
        total = beta * walk
        for length in range(2, max_length + 1):
            walk = (AT @ walk.T).T
            total += beta**length * walk
        return total

    return score


def personalized_pagerank(graph: CSRGraph, alpha: float = 0.15, iters: int = 20) -> ScoreFn:
    """Personalised PageRank from each source: ``x <- alpha e_u + (1 - alpha) x P`` with the
    random-walk matrix ``P = D^-1 A`` (a node without ties keeps its mass at home). The error
    after ``iters`` steps is at most ``(1 - alpha) ** iters`` in L1 (0.04 for the defaults);
    float32 arithmetic, since only the ranking matters."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha: expected 0 < alpha < 1, got {alpha}")
    if not isinstance(iters, (int, np.integer)) or iters < 1:
        raise ValueError(f"iters: expected a positive int, got {iters!r}")
    A = graph.to_scipy().astype(np.float32)
    d = graph.degree().astype(np.float32)
    P = sp.diags(np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)) @ A
    PT = P.T.tocsr().astype(np.float32)
    stuck = d == 0

    def score(sources: np.ndarray) -> np.ndarray:
        s = _sources(graph, sources)
        # Columns are sources: X <- alpha E + (1 - alpha) P^T X, one sparse-dense product a step.
        e = np.zeros((graph.n_nodes, len(s)), dtype=np.float32)
        e[s, np.arange(len(s))] = 1.0
        x = e.copy()
        keep = stuck[:, None]
        for _ in range(iters):
            x = alpha * e + (1 - alpha) * (PT @ x + x * keep)
        return np.ascontiguousarray(x.T)

    return score


def embedding_scorer(Z: object) -> ScoreFn:
    """Score candidates by the dot product of node embeddings ``Z`` ([n, d])."""
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or not np.isfinite(Z).all():
        raise ValueError(f"Z: expected a finite [n_nodes, d] array, got shape {Z.shape}")

    def score(sources: np.ndarray) -> np.ndarray:
        s = np.asarray(sources, dtype=np.int64)
        if s.size and (s.min() < 0 or s.max() >= len(Z)):
            raise ValueError(f"sources: node ids must lie in [0, {len(Z)})")
        return Z[s] @ Z.T

    return score


def pair_features(graph: CSRGraph, pairs: object) -> pd.DataFrame:
    """Structural features of node pairs ([m, 2]): ``cn``, ``jaccard``, ``aa``, ``ra``,
    ``deg_u``, ``deg_v`` (ordered min, max), ``pa`` (degree product, preferential attachment)
    and ``tie`` (whether the pair is already an observed tie)."""
    p = np.asarray(pairs)
    if p.ndim != 2 or p.shape[1] != 2 or not np.issubdtype(p.dtype, np.integer):
        raise ValueError(f"pairs: expected an integer [m, 2] array, got {p.dtype} {p.shape}")
    if p.size and (p.min() < 0 or p.max() >= graph.n_nodes):
        raise ValueError(f"pairs: node ids must lie in [0, {graph.n_nodes})")
    A = graph.to_scipy().astype(np.float64)
    d = graph.degree().astype(np.float64)
    aa_w = np.zeros_like(d)
    aa_w[d >= 2] = 1.0 / np.log(d[d >= 2])
    ra_w = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
    shared = A[p[:, 0]].multiply(A[p[:, 1]]).tocsr()
    cn = np.asarray(shared.sum(1)).ravel()
    du, dv = d[p[:, 0]], d[p[:, 1]]
    union = du + dv - cn
    tie = np.asarray(A[p[:, 0], p[:, 1]]).ravel() > 0
    return pd.DataFrame(
        {
            "cn": cn,
            "jaccard": np.divide(cn, union, out=np.zeros_like(cn), where=union > 0),
            "aa": shared @ aa_w,
            "ra": shared @ ra_w,
            "deg_u": np.minimum(du, dv),
            "deg_v": np.maximum(du, dv),
            "pa": du * dv,
            "tie": tie,
        }
    )
