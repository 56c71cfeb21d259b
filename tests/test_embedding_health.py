"""Embedding health checks: effective rank, mean pairwise cosine, alignment and uniformity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from sklearn.metrics.pairwise import cosine_similarity

from utils.embedding_health import alignment, effective_rank, mean_pairwise_cosine, uniformity


def test_effective_rank_extremes():
    rng = np.random.default_rng(0)
    # rank-1 data (every row a multiple of one vector): effective rank 1
    X = rng.normal(size=(50, 1)) * rng.normal(size=(1, 8))
    assert effective_rank(X) == pytest.approx(1.0, abs=1e-6)
    # orthogonal rows with equal norms: every singular value equal -> rank = number of rows
    assert effective_rank(np.eye(6), center=False) == pytest.approx(6.0)
    # isotropic Gaussian in 16-d: close to 16 with enough rows
    assert 14.0 < effective_rank(rng.normal(size=(5000, 16))) <= 16.0
    # identical rows: centred matrix is zero -> 1 by convention
    assert effective_rank(np.ones((5, 3))) == 1.0


def test_effective_rank_matches_entropy_formula():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 5)) @ np.diag([5.0, 3.0, 1.0, 0.5, 0.1])
    s = np.linalg.svd(X - X.mean(0), compute_uv=False)
    p = s / s.sum()
    assert effective_rank(X) == pytest.approx(np.exp(-(p * np.log(p)).sum()))


def test_mean_pairwise_cosine_matches_sklearn():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 7)) + 0.5
    C = cosine_similarity(X)
    expected = (C.sum() - np.trace(C)) / (30 * 29)
    assert mean_pairwise_cosine(X) == pytest.approx(expected)
    assert mean_pairwise_cosine(np.tile([[1.0, 2.0]], (4, 1))) == pytest.approx(1.0)
    assert mean_pairwise_cosine(np.array([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(-1.0)


def test_alignment_and_uniformity_match_brute_force():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(700, 6))  # more than one 512-row block
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    sq = pdist(U, "sqeuclidean")
    assert uniformity(X) == pytest.approx(np.log(np.exp(-2.0 * sq).mean()))
    assert uniformity(X, t=1.0) == pytest.approx(np.log(np.exp(-1.0 * sq).mean()))
    Y = X + 0.1 * rng.normal(size=X.shape)
    V = Y / np.linalg.norm(Y, axis=1, keepdims=True)
    assert alignment(X, Y) == pytest.approx((np.linalg.norm(U - V, axis=1) ** 2).mean())
    assert alignment(X, Y, alpha=1) == pytest.approx(np.linalg.norm(U - V, axis=1).mean())
    assert alignment(X, 3 * X) == pytest.approx(0.0)  # scale does not matter


def test_uniformity_bounds():
    rng = np.random.default_rng(4)
    assert uniformity(np.ones((10, 4))) == pytest.approx(0.0)  # collapse
    spread = uniformity(rng.normal(size=(1000, 32)))
    assert -4.0 <= spread < -3.5  # near the Jensen bound -4 for isotropic vectors
    assert np.isfinite(uniformity(rng.normal(size=(50, 3)), t=500.0))  # no log(0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: effective_rank(np.ones((1, 3))), "at least 2 rows"),
        (lambda: effective_rank(np.ones(3)), "2-D"),
        (lambda: mean_pairwise_cosine(np.zeros((3, 2))), "all-zero row"),
        (lambda: mean_pairwise_cosine([[np.nan, 1.0], [1.0, 1.0]]), "NaN"),
        (lambda: alignment(np.ones((3, 2)), np.ones((2, 2))), "same shape"),
        (lambda: alignment(np.ones((3, 2)), np.ones((3, 2)), alpha=0), "alpha"),
        (lambda: uniformity(np.ones((3, 2)), t=-1.0), "t must be"),
        (lambda: uniformity(np.ones((1, 2))), "at least 2 rows"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_type_errors():
    with pytest.raises(TypeError):
        effective_rank([["a", "b"], ["c", "d"]])
