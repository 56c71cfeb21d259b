"""Tests for utils.ann.sharded: exact merge of shard results, ShardedIndex, plan_fleet."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils.ann import ExactIndex, FaissIndex, HnswlibIndex
from utils.ann.sharded import ShardedIndex, merge_topk, plan_fleet
from utils.metrics import ann_recall_at_k


def _data(n: int = 600, d: int = 16, m: int = 25, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n, d)).astype(np.float32),
        rng.standard_normal((m, d)).astype(np.float32),
    )


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("partition", ["modulo", "contiguous"])
@pytest.mark.parametrize("n_shards", [1, 3, 7])
def test_exact_shards_equal_single_index(metric, partition, n_shards):
    X, Q = _data()
    single = ExactIndex(16, metric).add(X)
    sharded = ShardedIndex(lambda s: ExactIndex(16, metric), n_shards, 16, metric, partition)
    sharded.add(X)
    d0, i0 = single.search(Q, 10)
    d1, i1 = sharded.search(Q, 10)
    np.testing.assert_array_equal(i1, i0)
    np.testing.assert_allclose(d1, d0, rtol=1e-5, atol=1e-5)
    assert sum(sharded.shard_sizes()) == len(X) == sharded.ntotal


def test_matches_faiss_flat_and_incremental_adds():
    X, Q = _data(n=1000, d=32, seed=1)
    import faiss

    ref = faiss.IndexFlatL2(32)
    ref.add(X)
    _, i_ref = ref.search(Q, 20)
    sharded = ShardedIndex(lambda s: FaissIndex(32, "Flat"), 4, 32)
    for part in np.array_split(X, 3):  # ids stay global across several add() calls
        sharded.add(part)
    _, ids = sharded.search(Q, 20)
    np.testing.assert_array_equal(ids, i_ref)
    assert sharded.memory_bytes() >= X.nbytes


def test_explicit_assignment_and_empty_shard():
    X, Q = _data(n=200, d=8, seed=2)
    shard_of = (X[:, 0] > 0).astype(int)  # two shards by a feature; shard 2 stays empty
    sharded = ShardedIndex(lambda s: ExactIndex(8), 3, 8).add(X, shard_of=shard_of)
    assert sharded.shard_sizes()[2] == 0
    _, ids = sharded.search(Q, 5)
    np.testing.assert_array_equal(ids, ExactIndex(8).add(X).search(Q, 5)[1])


def test_k_larger_than_a_shard_still_exact():
    X, Q = _data(n=30, d=8, seed=3)
    sharded = ShardedIndex(lambda s: ExactIndex(8), 8, 8).add(X)  # about 4 vectors a shard
    _, ids = sharded.search(Q, 30)
    np.testing.assert_array_equal(ids, ExactIndex(8).add(X).search(Q, 30)[1])


def test_approximate_shards_recall_and_timings():
    X, Q = _data(n=2000, d=16, m=50, seed=4)
    _, truth = ExactIndex(16).add(X).search(Q, 10)
    sharded = ShardedIndex(lambda s: HnswlibIndex(16, M=8, ef_construction=50, ef=20), 4, 16)
    sharded.add(X)
    sharded.set_search_param(40)
    _, ids = sharded.search(Q, 10)
    assert 0.8 <= ann_recall_at_k(ids, truth, 10) <= 1.0
    assert sharded.last_shard_seconds.shape == (4,) and (sharded.last_shard_seconds > 0).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 8), st.integers(0, 10_000))
def test_merge_topk_equals_global_sort(n_shards, m, k, seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 10, size=n_shards)
    all_d = rng.integers(0, 5, size=(m, int(sizes.sum()))).astype(np.float32)  # many ties
    all_i = np.arange(sizes.sum())
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    ds, js = [], []
    for s in range(n_shards):
        block = all_d[:, bounds[s] : bounds[s + 1]]
        kk = min(k, block.shape[1])
        order = np.lexsort((np.broadcast_to(all_i[bounds[s] : bounds[s + 1]], block.shape), block))
        ds.append(np.take_along_axis(block, order, axis=1)[:, :kk])
        js.append(all_i[bounds[s] : bounds[s + 1]][order][:, :kk])
    D, ids = merge_topk(ds, js, k)
    want = np.lexsort((np.broadcast_to(all_i, all_d.shape), all_d))[:, :k]
    kk = min(k, all_d.shape[1])
    np.testing.assert_array_equal(ids[:, :kk], want[:, :kk])
    np.testing.assert_array_equal(D[:, :kk], np.take_along_axis(all_d, want, axis=1)[:, :kk])
    if k > all_d.shape[1]:
        assert (ids[:, kk:] == -1).all() and np.isinf(D[:, kk:]).all()


def test_merge_topk_ignores_padding_ids():
    D, ids = merge_topk(
        [np.array([[0.5, np.inf]]), np.array([[0.2, 0.9]])],
        [np.array([[4, -1]]), np.array([[7, 8]])],
        3,
    )
    np.testing.assert_array_equal(ids, [[7, 4, 8]])
    np.testing.assert_allclose(D, [[0.2, 0.5, 0.9]])


def test_bad_input():
    X, Q = _data(n=50, d=8)
    with pytest.raises(ValueError, match="n_shards"):
        ShardedIndex(lambda s: ExactIndex(8), 0, 8)
    with pytest.raises(TypeError, match="make_shard"):
        ShardedIndex("flat", 2, 8)
    with pytest.raises(TypeError, match=r"utils\.ann Index"):
        ShardedIndex(lambda s: object(), 2, 8)
    with pytest.raises(ValueError, match="dim"):
        ShardedIndex(lambda s: ExactIndex(4), 2, 8)
    with pytest.raises(ValueError, match="metric"):
        ShardedIndex(lambda s: ExactIndex(8, "ip"), 2, 8)
    with pytest.raises(ValueError, match="empty index"):
        ShardedIndex(lambda s: ExactIndex(8).add(X), 2, 8)
    with pytest.raises(ValueError, match="partition"):
        ShardedIndex(lambda s: ExactIndex(8), 2, 8, partition="random")
    sharded = ShardedIndex(lambda s: ExactIndex(8), 2, 8)
    with pytest.raises(ValueError, match="empty"):
        sharded.search(Q, 1)
    with pytest.raises(ValueError, match="columns"):
        sharded.add(np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        sharded.add(np.full((3, 8), np.nan))
    with pytest.raises(ValueError, match="shard_of"):
        sharded.add(X, shard_of=np.full(len(X), 2))
    with pytest.raises(ValueError, match="shard_of"):
        sharded.add(X, shard_of=np.zeros(3, dtype=int))
    sharded.add(X)
    with pytest.raises(ValueError, match="larger than"):
        sharded.search(Q, 51)
    with pytest.raises(ValueError, match="columns"):
        sharded.search(np.ones((2, 3)), 1)
    with pytest.raises(ValueError, match="equal length"):
        merge_topk([], [], 3)
    with pytest.raises(ValueError, match="shard 1"):
        merge_topk([np.zeros((2, 3)), np.zeros((3, 3))], [np.zeros((2, 3)), np.zeros((3, 3))], 2)
    with pytest.raises(ValueError, match="NaN"):
        merge_topk([np.full((1, 2), np.nan)], [np.zeros((1, 2))], 1)


def test_plan_fleet_arithmetic_and_bad_input():
    plan = plan_fleet(1e9, 72, 10_000, 1_000, ram_per_node_gb=256, usable_fraction=0.5)
    assert plan["index_gb"] == pytest.approx(72.0)
    assert plan["shards"] == 1  # 72 GB fits one 128 GB usable node
    assert plan["replicas"] == 20 and plan["nodes"] == 20
    flat = plan_fleet(1e9, 2048, 10_000, 1_000, ram_per_node_gb=256, usable_fraction=0.5)
    assert flat["shards"] == 16 and flat["nodes"] == 16 * 20  # 2,048 GB / 128 GB
    with pytest.raises(ValueError, match="bytes_per_vector"):
        plan_fleet(1e9, 0, 10, 1)
    with pytest.raises(ValueError, match="headroom"):
        plan_fleet(1e9, 8, 10, 1, headroom=1.5)
    with pytest.raises(ValueError, match="n_vectors"):
        plan_fleet(True, 8, 10, 1)
