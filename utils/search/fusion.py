"""Fusing ranked lists from several retrievers (lexical, dense, visual) into one.

- :func:`reciprocal_rank_fusion` (RRF; Cormack, Clarke & Büttcher, SIGIR 2009): a document's
  fused score is ``sum_r w_r / (k + rank_r(d))`` over the lists ``r`` that contain it, with
  ranks counted from 1 and ``k = 60`` as in the paper. It reads only ranks, so lists whose
  scores live on different scales (BM25 in [0, 30], cosine in [-1, 1]) need no calibration; a
  document missing from a list simply gets nothing from it.
- :func:`score_fusion`: a weighted sum of per-list normalised scores (``"minmax"`` to [0, 1] or
  ``"zscore"``), the "convex combination" baseline that needs tuned weights and is sensitive to
  each retriever's score distribution (Bruch, Gai & Ingber, 2023, compare the two).

Both return ``(ids, scores)`` sorted by fused score, ties broken by the smaller id, so the
result is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._checks import check_choice

__all__ = ["reciprocal_rank_fusion", "score_fusion"]


def _check_lists(lists: object, name: str) -> list[np.ndarray]:
    if isinstance(lists, np.ndarray) or not isinstance(lists, Sequence) or len(lists) == 0:
        raise ValueError(f"{name} must be a non-empty list of ranked id arrays")
    out = []
    for i, ids in enumerate(lists):
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"{name}[{i}] must be a 1-D array of integer ids, got {arr!r:.60}")
        if len(np.unique(arr)) != len(arr):
            raise ValueError(f"{name}[{i}] repeats an id; a ranked list holds each id once")
        out.append(arr.astype(np.int64))
    return out


def _check_weights(weights: object, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or not w.any():
        raise ValueError(f"weights must be {n} finite numbers >= 0, not all 0; got {weights!r}")
    return w


def _sorted(scores: dict[int, float], top: int | None) -> tuple[np.ndarray, np.ndarray]:
    if not scores:
        return np.zeros(0, np.int64), np.zeros(0)
    ids = np.fromiter(scores.keys(), np.int64, len(scores))
    vals = np.fromiter(scores.values(), float, len(scores))
    order = np.lexsort((ids, -vals))
    if top is not None:
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise ValueError(f"top must be a positive int or None, got {top!r}")
        order = order[:top]
    return ids[order], vals[order]


def reciprocal_rank_fusion(
    rankings: Sequence[object], k: float = 60.0, weights=None, top: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """RRF of ranked id lists (best first): ``(ids, fused_scores)``, best first."""
    lists = _check_lists(rankings, "rankings")
    if isinstance(k, bool) or not isinstance(k, int | float) or not k >= 0:
        raise ValueError(f"k must be a number >= 0, got {k!r}")
    w = _check_weights(weights, len(lists))
    fused: dict[int, float] = {}
    for wr, ids in zip(w, lists, strict=True):
        for rank, doc in enumerate(ids.tolist(), start=1):
            fused[doc] = fused.get(doc, 0.0) + wr / (k + rank)
    return _sorted(fused, top)


def score_fusion(
    rankings: Sequence[object],
    scores: Sequence[object],
    weights=None,
    normalization: str = "minmax",
    top: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted sum of normalised scores; a document missing from a list gets that list's
    minimum normalised score (0 under ``"minmax"``)."""
    lists = _check_lists(rankings, "rankings")
    if isinstance(scores, np.ndarray) or not isinstance(scores, Sequence):
        raise ValueError("scores must be a list with one score array per ranking")
    if len(scores) != len(lists):
        raise ValueError(f"scores has {len(scores)} arrays for {len(lists)} rankings")
    normalization = check_choice(normalization, "normalization", ("minmax", "zscore"))
    w = _check_weights(weights, len(lists))
    normed, floors = [], []
    for i, (ids, s) in enumerate(zip(lists, scores, strict=True)):
        s = np.asarray(s, dtype=float)
        if s.shape != ids.shape or not np.isfinite(s).all():
            raise ValueError(f"scores[{i}] must be {len(ids)} finite numbers like rankings[{i}]")
        if s.size == 0:
            normed.append(s)
            floors.append(0.0)
            continue
        if normalization == "minmax":
            span = s.max() - s.min()
            z = (s - s.min()) / span if span > 0 else np.ones_like(s)
        else:
            sd = s.std()
            z = (s - s.mean()) / sd if sd > 0 else np.zeros_like(s)
        normed.append(z)
        floors.append(float(z.min()))
    every = sorted(set().union(*(set(ids.tolist()) for ids in lists)))
    fused = {}
    for doc in every:
        total = 0.0
        for wr, ids, z, floor in zip(w, lists, normed, floors, strict=True):
            pos = np.flatnonzero(ids == doc)
            total += wr * (z[pos[0]] if pos.size else floor)
        fused[doc] = total
    return _sorted(fused, top)
