"""Score embeddings on class-level retrieval: mAP@k, Recall@1/10 and k-NN accuracy, per query.

Chapter 03 compares encoders (pixels, a CNN trained from scratch, frozen and fine-tuned
EfficientNet-Lite0) on one protocol; :func:`class_retrieval_scores` is that protocol, so every
encoder is scored the same way from its vectors:

1. an exact cosine index of the gallery (:class:`utils.image_search.ImageIndex`, flat inner
   product of unit vectors), optionally after subtracting the *gallery* mean from gallery and
   query vectors alike (``center=True``; the query side uses the catalogue's statistic, as a
   served system would);
2. a gallery item is relevant to a query when it has the query's label;
3. per query: AP@k with the denominator the caller names (``ap_denominator="min"`` divides by
   min(k, |relevant|), ``"relevant"`` by |relevant|; :func:`utils.metrics.average_precision_at_k`),
   **Recall@K in the metric-learning sense** (1 when at least one of the top K shares the query's
   label, the definition of Song et al. 2016 and Musgrave et al. 2020; it is
   :func:`utils.metrics.hit_rate_at_k`, not the share of all relevant items found), and whether the
   ``knn_k`` nearest neighbours vote for the right label (:func:`knn_vote`).

Per-query values are returned (not means) so that callers can bootstrap intervals and paired
differences over queries with :func:`utils.metrics.bootstrap_ci`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_matrix, check_choice, check_k, check_positive_int
from ..image_search import ImageIndex
from ..metrics import average_precision_at_k, hit_rate_at_k

__all__ = ["RetrievalScores", "class_retrieval_scores", "knn_vote"]

AP_DENOMINATORS = ("min", "relevant")


class RetrievalScores(NamedTuple):
    """Per-query results of :func:`class_retrieval_scores` (``n`` queries).

    ``ranked``: (n, k) gallery row positions, best first; ``ap``, ``recall_at_1``,
    ``recall_at_10`` and ``knn_correct``: (n,) float arrays (the last three are 0/1).
    """

    ranked: np.ndarray
    ap: np.ndarray
    recall_at_1: np.ndarray
    recall_at_10: np.ndarray
    knn_correct: np.ndarray

    def means(self) -> dict[str, float]:
        """Mean of each per-query metric."""
        return {f: float(getattr(self, f).mean()) for f in self._fields[1:]}


def _labels(labels: object, n: int, name: str) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must be 1-D with one label per row ({n}), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must be integers, got dtype {y.dtype}")
    return y


def knn_vote(neighbour_labels: object) -> np.ndarray:
    """Majority label of each row of ``neighbour_labels`` (n, k), neighbours best first.

    A tie between classes goes to the class whose best-placed member ranks highest (with k = 1
    this is the nearest neighbour's label). Returns (n,) labels.
    """
    nl = np.asarray(neighbour_labels)
    if nl.ndim != 2 or nl.shape[1] == 0 or nl.shape[0] == 0:
        raise ValueError(f"neighbour_labels must be a non-empty (n, k) array, got shape {nl.shape}")
    if not np.issubdtype(nl.dtype, np.integer):
        raise TypeError(f"neighbour_labels must be integers, got dtype {nl.dtype}")
    k = nl.shape[1]
    # votes of each row's own labels: counts[i, j] = how often nl[i, j] occurs in row i
    counts = (nl[:, :, None] == nl[:, None, :]).sum(axis=2)
    # the best count wins; among equal counts the earliest position (first occurrence) wins
    key = counts * (k + 1) - np.arange(k)[None, :]
    return nl[np.arange(nl.shape[0]), key.argmax(axis=1)]


def class_retrieval_scores(
    gallery: object,
    gallery_labels: object,
    queries: object,
    query_labels: object,
    *,
    ap_denominator: str,
    k: int = 100,
    knn_k: int = 5,
    center: bool = False,
) -> RetrievalScores:
    """Score query vectors against gallery vectors on "same label = relevant" (see the module
    docstring). ``gallery`` (n_g, d) and ``queries`` (n_q, d) are embeddings from one encoder;
    ``ap_denominator`` has no default on purpose ("min" or "relevant"), so every call states it.
    Every query's label must occur in the gallery (else AP is undefined).
    """
    ap_denominator = check_choice(ap_denominator, "ap_denominator", AP_DENOMINATORS)
    G = as_matrix(gallery, "gallery")
    Q = as_matrix(queries, "queries", dim=G.shape[1])
    gy = _labels(gallery_labels, G.shape[0], "gallery_labels")
    qy = _labels(query_labels, Q.shape[0], "query_labels")
    k = check_k(k, G.shape[0], "k", "the gallery")
    knn_k = check_positive_int(knn_k, "knn_k")
    if knn_k > k:
        raise ValueError(f"knn_k must be at most k={k}, got {knn_k}")
    missing = np.setdiff1d(qy, gy)
    if missing.size:
        raise ValueError(f"query_labels {missing.tolist()} never occur in gallery_labels")
    if center:
        mean = G.mean(axis=0, keepdims=True)
        G, Q = G - mean, Q - mean
    index = ImageIndex(normalize=True).add_vectors(G)
    _, ranked = index.search(Q, k, as_vectors=True)
    members = {c: set(np.flatnonzero(gy == c).tolist()) for c in np.unique(qy).tolist()}
    relevant = [members[c] for c in qy.tolist()]
    ap = average_precision_at_k(ranked, relevant, k, ap_denominator=ap_denominator)
    r1 = hit_rate_at_k(ranked, relevant, 1, reduce="none")
    r10 = hit_rate_at_k(ranked, relevant, min(10, k), reduce="none")
    knn = (knn_vote(gy[ranked[:, :knn_k]]) == qy).astype(np.float64)
    return RetrievalScores(ranked, ap, r1, r10, knn)
