"""utils.vision.retrieval_eval: class-level retrieval scores, checked against brute force and
scikit-learn."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from utils.vision.retrieval_eval import class_retrieval_scores, knn_vote


def _data(
    seed: int = 0,
    n_g: int = 300,
    n_q: int = 60,
    d: int = 16,
    classes: int = 5,
    spread: float = 2.0,
    offset: float = 3.0,
):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, d)) * spread
    gy = np.arange(n_g) % classes
    qy = rng.integers(0, classes, n_q)
    G = centres[gy] + rng.normal(size=(n_g, d)) + offset  # an offset that centring removes
    Q = centres[qy] + rng.normal(size=(n_q, d)) + offset
    return G, gy, Q, qy


def _brute(G, gy, Q, qy, k, denominator, center=False):
    """mAP@k, Recall@1/10 from a dense cosine matrix (no index, no utils.metrics)."""
    if center:
        mu = G.mean(0)
        G, Q = G - mu, Q - mu
    Gn = G / np.linalg.norm(G, axis=1, keepdims=True)
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    top = np.argsort(-(Qn @ Gn.T), axis=1, kind="stable")[:, :k]
    rel = gy[top] == qy[:, None]
    precision = np.cumsum(rel, 1) / np.arange(1, k + 1)
    n_rel = (gy[None, :] == qy[:, None]).sum(1)
    denom = np.minimum(k, n_rel) if denominator == "min" else n_rel
    return (precision * rel).sum(1) / denom, rel[:, 0], rel[:, :10].any(1)


@pytest.mark.parametrize("denominator", ["min", "relevant"])
@pytest.mark.parametrize("center", [False, True])
def test_matches_brute_force(denominator, center):
    G, gy, Q, qy = _data()
    s = class_retrieval_scores(G, gy, Q, qy, ap_denominator=denominator, k=50, center=center)
    ap, r1, r10 = _brute(G, gy, Q, qy, 50, denominator, center)
    np.testing.assert_allclose(s.ap, ap, atol=1e-6)
    np.testing.assert_array_equal(s.recall_at_1, r1)
    np.testing.assert_array_equal(s.recall_at_10, r10)
    assert s.ranked.shape == (len(Q), 50)
    assert set(s.means()) == {"ap", "recall_at_1", "recall_at_10", "knn_correct"}


def test_min_denominator_exceeds_relevant_one_when_relevant_exceed_k():
    G, gy, Q, qy = _data()
    a = class_retrieval_scores(G, gy, Q, qy, ap_denominator="min", k=20).ap
    b = class_retrieval_scores(G, gy, Q, qy, ap_denominator="relevant", k=20).ap
    # 60 relevant items per class, k=20: the "relevant" denominator is 3x the "min" one
    np.testing.assert_allclose(a, 3 * b, atol=1e-9)


def test_centring_matters_with_a_common_offset():
    G, gy, Q, qy = _data(spread=1.0, offset=10.0)
    raw = class_retrieval_scores(G, gy, Q, qy, ap_denominator="min", k=50).ap.mean()
    centred = class_retrieval_scores(G, gy, Q, qy, ap_denominator="min", k=50, center=True)
    assert centred.ap.mean() > raw + 0.05


def test_knn_accuracy_agrees_with_sklearn_cosine_without_ties():
    G, gy, Q, qy = _data(seed=3, classes=2)  # two classes, odd k: no ties
    s = class_retrieval_scores(G, gy, Q, qy, ap_denominator="min", k=50, knn_k=5)
    clf = KNeighborsClassifier(n_neighbors=5, metric="cosine", algorithm="brute").fit(G, gy)
    np.testing.assert_array_equal(s.knn_correct, clf.predict(Q) == qy)


def test_knn_vote_majority_and_ties():
    rows = np.array([[1, 2, 2, 3, 3], [4, 5, 5, 4, 6], [7, 8, 9, 0, 1], [2, 2, 2, 1, 1]])
    np.testing.assert_array_equal(knn_vote(rows), [2, 4, 7, 2])
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 4, size=(200, 7))
    for row, got in zip(rows, knn_vote(rows), strict=True):
        counts = Counter(row.tolist())
        best = max(counts.values())
        expected = next(v for v in row.tolist() if counts[v] == best)
        assert got == expected
    np.testing.assert_array_equal(knn_vote(rows[:, :1]), rows[:, 0])


def test_bad_input():
    G, gy, Q, qy = _data()
    with pytest.raises(ValueError, match="ap_denominator"):
        class_retrieval_scores(G, gy, Q, qy, ap_denominator="mean")
    with pytest.raises(TypeError):
        class_retrieval_scores(G, gy, Q, qy)  # the denominator must be named
    with pytest.raises(ValueError, match="columns"):
        class_retrieval_scores(G, gy, Q[:, :3], qy, ap_denominator="min")
    with pytest.raises(ValueError, match="gallery_labels"):
        class_retrieval_scores(G, gy[:-1], Q, qy, ap_denominator="min")
    with pytest.raises(TypeError, match="query_labels"):
        class_retrieval_scores(G, gy, Q, qy.astype(float), ap_denominator="min")
    with pytest.raises(ValueError, match="never occur"):
        class_retrieval_scores(G, gy, Q, qy + 10, ap_denominator="min")
    with pytest.raises(ValueError, match="larger than the gallery"):
        class_retrieval_scores(G, gy, Q, qy, ap_denominator="min", k=len(G) + 1)
    with pytest.raises(ValueError, match="knn_k"):
        class_retrieval_scores(G, gy, Q, qy, ap_denominator="min", k=5, knn_k=6)
    with pytest.raises(ValueError, match="NaN"):
        class_retrieval_scores(np.full_like(G, np.nan), gy, Q, qy, ap_denominator="min")
    with pytest.raises(ValueError, match="neighbour_labels"):
        knn_vote(np.zeros((0, 3), dtype=int))
    with pytest.raises(TypeError, match="neighbour_labels"):
        knn_vote(np.zeros((2, 3)))
