"""Embedding health checks: is an embedding space collapsed, and how are its vectors spread?

Four label-free numbers computed on a sample of embeddings (rows), cheap enough to run on
every training checkpoint and every re-indexing job:

- :func:`effective_rank`: ``exp(H(p))`` with ``p_k = s_k / sum(s)`` the normalised singular
  values of the (centred) embedding matrix and ``H`` the Shannon entropy (Roy & Vetterli, 2007;
  used as a collapse monitor by RankMe, Garrido et al., 2023). Between 1 (all variance in one
  direction) and ``min(n, d)`` (all singular values equal).
- :func:`mean_pairwise_cosine`: the mean cosine similarity over all pairs ``i != j``, from
  ``(||sum_i u_i||^2 - n) / (n (n - 1))`` on the unit vectors ``u_i`` (O(n d), no n x n
  matrix). Near 1: every vector points the same way (complete collapse, or a large shared
  mean component); near 0: spread around the origin.
- :func:`alignment` and :func:`uniformity` (Wang & Isola, ICML 2020), on L2-normalised vectors:
  ``align = E_{(x, y) positive} ||f(x) - f(y)||^alpha`` (alpha = 2 in the paper; lower is
  better: positives close) and ``uniform = log E_{x, y} exp(-t ||f(x) - f(y)||^2)`` over all
  pairs of distinct rows (t = 2; lower is better: vectors spread over the sphere). For unit
  vectors ``E||x - y||^2 = 2 - 2 ||mean||^2 <= 2``, so by Jensen's inequality uniformity at
  t = 2 is at least ``-4``; complete collapse gives 0.

Every function L2-normalises its input except :func:`effective_rank`, which sees the vectors
as given (pass normalised vectors to measure the space the index searches).
"""

from __future__ import annotations

import numpy as np

from ._checks import as_matrix

__all__ = ["alignment", "effective_rank", "mean_pairwise_cosine", "uniformity"]


def _unit(X: np.ndarray, name: str) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{name} has an all-zero row, which has no direction")
    return X / norms


def effective_rank(embeddings: object, *, center: bool = True) -> float:
    """Roy & Vetterli's effective rank ``exp(-sum_k p_k log p_k)``, ``p_k = s_k / sum_j s_j``.

    ``center=True`` subtracts the column means first, so a direction shared by every vector
    (which carries no information for ranking) does not count as a dimension.
    """
    X = as_matrix(embeddings, "embeddings", dtype=np.float64)
    if X.shape[0] < 2:
        raise ValueError(f"embeddings must hold at least 2 rows, got {X.shape[0]}")
    if center:
        X = X - X.mean(axis=0)
    s = np.linalg.svd(X, compute_uv=False)
    total = s.sum()
    if total <= 0:
        return 1.0  # every row identical: one (degenerate) direction
    p = s[s > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def mean_pairwise_cosine(embeddings: object) -> float:
    """Mean cosine similarity over all ordered pairs of distinct rows (needs >= 2 rows)."""
    X = as_matrix(embeddings, "embeddings", dtype=np.float64)
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"embeddings must hold at least 2 rows, got {n}")
    U = _unit(X, "embeddings")
    total = U.sum(axis=0)
    return float((total @ total - n) / (n * (n - 1)))


def alignment(anchors: object, positives: object, *, alpha: float = 2.0) -> float:
    """Wang & Isola's alignment: mean ``||u_i - v_i||^alpha`` over paired rows (unit vectors)."""
    A = as_matrix(anchors, "anchors", dtype=np.float64)
    P = as_matrix(positives, "positives", dtype=np.float64)
    if A.shape != P.shape:
        raise ValueError(f"anchors {A.shape} and positives {P.shape} must have the same shape")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not alpha > 0:
        raise ValueError(f"alpha must be a number > 0, got {alpha!r}")
    d = np.linalg.norm(_unit(A, "anchors") - _unit(P, "positives"), axis=1)
    return float((d**alpha).mean())


def uniformity(embeddings: object, *, t: float = 2.0) -> float:
    """Wang & Isola's uniformity: ``log`` of the mean of ``exp(-t ||u_i - u_j||^2)``, i < j.

    Uses all pairs (O(n^2) memory in blocks of rows); subsample to a few thousand rows first.
    Computed with a log-sum-exp so that large ``t`` does not underflow to ``log(0)``.
    """
    X = as_matrix(embeddings, "embeddings", dtype=np.float64)
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"embeddings must hold at least 2 rows, got {n}")
    if isinstance(t, bool) or not isinstance(t, int | float) or not t > 0:
        raise ValueError(f"t must be a number > 0, got {t!r}")
    U = _unit(X, "embeddings")
    logs = []
    for start in range(0, n - 1, 512):
        block = U[start : start + 512]
        sq = np.maximum(2.0 - 2.0 * block @ U.T, 0.0)  # ||u - v||^2 for unit vectors
        rows = np.arange(start, start + block.shape[0])[:, None]
        upper = np.arange(n)[None, :] > rows  # pairs i < j only
        logs.append(-t * sq[upper])
    v = np.concatenate(logs)
    m = v.max()
    return float(m + np.log(np.exp(v - m).mean()))
