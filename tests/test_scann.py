"""utils.ann.ScannIndex: ScaNN behind the book's Index interface, checked against exact search."""

from __future__ import annotations

import numpy as np
import pytest

from utils.ann import ScannIndex
from utils.ann.exact import exact_knn


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 16))
    X = (centres[rng.integers(20, size=3000)] + 0.3 * rng.normal(size=(3000, 16))).astype(
        np.float32
    )
    Q = (centres[rng.integers(20, size=50)] + 0.3 * rng.normal(size=(50, 16))).astype(np.float32)
    return X, Q


def test_full_reorder_is_exact_for_ip_and_cosine(data):
    X, Q = data
    for metric in ("ip", "cosine"):
        index = ScannIndex(16, metric, num_leaves=None, reorder=len(X))
        index.add(X)
        D, ids = index.search(Q, 10)
        _, truth = exact_knn(X, Q, 10, metric=metric)
        assert np.mean([len(set(a) & set(b)) for a, b in zip(ids, truth, strict=True)]) > 9.9
        if metric == "ip":
            assert np.allclose(D[:, 0], -(Q @ X[ids[:, 0]].T).diagonal(), atol=1e-4)


def test_tree_search_knob_trades_recall(data):
    X, Q = data
    _, truth = exact_knn(X, Q, 10, metric="cosine")
    index = ScannIndex(16, "cosine", num_leaves=40, leaves_to_search=1, reorder=len(X))
    index.add(X)
    low = np.mean(
        [len(set(a) & set(b)) for a, b in zip(index.search(Q, 10)[1], truth, strict=True)]
    )
    index.set_search_param(40)
    high = np.mean(
        [len(set(a) & set(b)) for a, b in zip(index.search(Q, 10)[1], truth, strict=True)]
    )
    assert high >= low and high > 9.5
    assert index.memory_bytes() > 0


def test_codes_only_plain_and_anisotropic_both_search(data):
    X, Q = data
    for t in (None, 0.2):
        index = ScannIndex(16, "cosine", num_leaves=None, reorder=0, aq_threshold=t)
        index.add(X)
        ids = index.search(Q, 10)[1]
        assert ids.shape == (50, 10) and ids.min() >= 0
    assert "plain PQ" in ScannIndex(16, aq_threshold=None).name


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(metric="l2"), "metric"),
        (dict(num_leaves=10, leaves_to_search=20), "leaves_to_search"),
        (dict(aq_threshold=1.5), "aq_threshold"),
        (dict(reorder=-1), "reorder"),
        (dict(dims_per_block=0), "dims_per_block"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ScannIndex(16, **kwargs)


def test_too_few_vectors_for_the_tree():
    with pytest.raises(ValueError, match="num_leaves"):
        ScannIndex(4, num_leaves=50).add(np.ones((10, 4), dtype=np.float32))
