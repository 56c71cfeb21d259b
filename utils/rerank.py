"""Re-ranking: turn a scored candidate list into the list a user sees.

Each function takes one request's candidates (relevance scores, embeddings or group labels) and
returns positions into that candidate list, best first.

- :func:`minmax_normalize`: put relevance on [0, 1] per request, so that it is commensurable
  with a cosine similarity (the unit-scale trap of MMR).
- :func:`mmr`: Maximal Marginal Relevance (Carbonell & Goldstein, SIGIR 1998): greedily add
  ``argmax_i  lam * rel_i - (1 - lam) * max_{j in S} sim(i, j)``.
- :func:`dpp_greedy`: greedy MAP inference for a determinantal point process with the
  quality/diversity kernel ``L = Diag(q) S Diag(q)``, ``q = exp(alpha * rel)``,
  ``alpha = theta / (2 (1 - theta))``, ``S = (1 + cos) / 2``, using the incremental Cholesky
  update of Chen, Zhang & Zhou (NeurIPS 2018), with kernel rows built on demand:
  O(k n d + k^2 n) for k picks out of n candidates of dimension d.
- :func:`cap_per_group`: at most ``cap`` items per group (creator, genre) in the top k.
- :func:`insert_exploration`: reserve a slot for the best candidate from an exploration pool.
- :func:`intra_list_diversity`: mean pairwise ``1 - cos`` of a list's embeddings.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_matrix, check_k


def _relevance(relevance: object, name: str = "relevance") -> np.ndarray:
    rel = np.asarray(relevance, dtype=np.float64)
    if rel.ndim != 1 or rel.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {rel.shape}")
    if not np.isfinite(rel).all():
        raise ValueError(f"{name} contains NaN or infinite scores")
    return rel


def _unit_rows(embeddings: object, n: int) -> np.ndarray:
    E = as_matrix(embeddings, "embeddings").astype(np.float64)
    if E.shape[0] != n:
        raise ValueError(f"embeddings has {E.shape[0]} rows but there are {n} candidates")
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("embeddings contains a zero vector; its cosine similarity is undefined")
    return E / norms


def minmax_normalize(relevance: object) -> np.ndarray:
    """Scale scores to [0, 1] (all equal -> all 0.5)."""
    rel = _relevance(relevance)
    lo, hi = rel.min(), rel.max()
    return np.full_like(rel, 0.5) if hi == lo else (rel - lo) / (hi - lo)


def mmr(relevance: object, embeddings: object, k: int, lam: float = 0.7) -> np.ndarray:
    """Maximal Marginal Relevance: positions of the k picks, in pick order.

    ``lam = 1`` is pure relevance, ``lam = 0`` pure novelty. The trade-off is only meaningful
    when relevance and cosine similarity share a scale: normalise relevance first.
    """
    rel = _relevance(relevance)
    k = check_k(k, rel.size, "k", "the candidate list")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    E = _unit_rows(embeddings, rel.size)
    picked = [int(np.argmax(rel))]
    max_sim = E @ E[picked[0]]
    available = np.ones(rel.size, dtype=bool)
    available[picked[0]] = False
    for _ in range(k - 1):
        gain = np.where(available, lam * rel - (1.0 - lam) * max_sim, -np.inf)
        i = int(np.argmax(gain))
        picked.append(i)
        available[i] = False
        max_sim = np.maximum(max_sim, E @ E[i])
    return np.array(picked)


def dpp_greedy(relevance: object, embeddings: object, k: int, theta: float = 0.7) -> np.ndarray:
    """Greedy MAP for a DPP (Chen et al., 2018, Algorithm 1): positions of the k picks.

    Each step adds the item with the largest marginal gain in ``log det L_S``; ``c`` holds the
    rows of the incremental Cholesky factor and ``d2`` the remaining diagonal (the gains).
    ``theta`` in [0, 1) trades relevance (1) against diversity (0).
    """
    rel = _relevance(relevance)
    k = check_k(k, rel.size, "k", "the candidate list")
    if not 0.0 <= theta < 1.0:
        raise ValueError(f"theta must be in [0, 1), got {theta}")
    E = _unit_rows(embeddings, rel.size)
    alpha = theta / (2.0 * (1.0 - theta))
    q = np.exp(alpha * (rel - rel.max()))  # shifting rel rescales L by a constant: same argmax
    n = rel.size
    c = np.zeros((k, n))
    d2 = q**2  # diag L = q_i^2 S_ii and S_ii = 1 for unit vectors
    picked = [int(np.argmax(d2))]
    for t in range(1, k):
        j = picked[-1]
        L_j = q[j] * q * (1.0 + E @ E[j]) / 2.0  # row j of L, computed on demand: O(nd)
        e = (L_j - c[: t - 1].T @ c[: t - 1, j]) / np.sqrt(d2[j])
        c[t - 1] = e
        d2 = d2 - e**2
        d2[picked] = -np.inf
        if d2.max() <= 1e-10:  # the kernel is exhausted (rank < k): fill by relevance
            rest = [int(i) for i in np.argsort(-rel, kind="stable") if i not in picked]
            return np.array(picked + rest[: k - len(picked)])
        picked.append(int(np.argmax(d2)))
    return np.array(picked)


def cap_per_group(order: object, groups: object, cap: int, k: int) -> np.ndarray:
    """Walk ``order`` (candidate positions, best first) and keep at most ``cap`` per group.

    Returns up to k positions; fewer when the candidates cannot satisfy the cap.
    """
    order = np.asarray(order)
    groups = np.asarray(groups)
    if order.ndim != 1 or order.size == 0:
        raise ValueError("order must be a non-empty 1-D array of candidate positions")
    if order.min() < 0 or order.max() >= len(groups):
        raise ValueError(f"order refers to positions outside groups (length {len(groups)})")
    if isinstance(cap, bool) or not isinstance(cap, int | np.integer) or cap < 1:
        raise ValueError(f"cap must be a positive int, got {cap!r}")
    k = check_k(k, order.size, "k", "the candidate list")
    counts: dict = {}
    kept = []
    for pos in order:
        g = groups[pos]
        if counts.get(g, 0) < cap:
            kept.append(int(pos))
            counts[g] = counts.get(g, 0) + 1
            if len(kept) == k:
                break
    return np.array(kept, dtype=np.int64)


def insert_exploration(
    order: object, relevance: object, explore: object, k: int, slot: int
) -> np.ndarray:
    """Top-k of ``order`` with position ``slot`` (0-based) given to the most relevant candidate
    flagged in the boolean mask ``explore`` that is not already in the list."""
    order = np.asarray(order)
    rel = _relevance(relevance)
    explore = np.asarray(explore, dtype=bool)
    if explore.shape != rel.shape:
        raise ValueError(f"explore must have the shape of relevance {rel.shape}")
    k = check_k(k, order.size, "k", "the candidate list")
    if not 0 <= slot < k:
        raise ValueError(f"slot must be in [0, {k}), got {slot}")
    top = list(order[:k])
    pool = np.flatnonzero(explore)
    pool = pool[~np.isin(pool, top)]
    if pool.size == 0:
        return np.array(top)
    pick = int(pool[np.argmax(rel[pool])])
    top = [*top[:slot], pick, *top[slot : k - 1]]
    return np.array(top)


def intra_list_diversity(embeddings: object) -> float:
    """Mean pairwise cosine distance ``1 - cos`` over the rows (a list of >= 2 items)."""
    E = as_matrix(embeddings, "embeddings").astype(np.float64)
    if E.shape[0] < 2:
        raise ValueError("intra-list diversity needs at least 2 items")
    E = _unit_rows(E, E.shape[0])
    sims = E @ E.T
    n = E.shape[0]
    return float((n * n - sims.sum()) / (n * (n - 1)))
