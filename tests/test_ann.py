"""utils.ann: exact search against faiss, our HNSW / IVF / PQ against exact search and the
libraries, the benchmark harness, and the argument checks every index shares."""

from __future__ import annotations

import itertools

import faiss
import numpy as np
import pandas as pd
import pytest

from utils.ann import (
    METRICS,
    ExactIndex,
    FaissIndex,
    HNSWIndex,
    HnswlibIndex,
    IVFFlatIndex,
    IVFPQIndex,
    ProductQuantizer,
    bench,
    exact_knn,
    kmeans,
    normalize_rows,
    topk_smallest,
)
from utils.metrics import ann_recall_at_k

K = 10


def true_distances(X: np.ndarray, Q: np.ndarray, ids: np.ndarray, metric: str) -> np.ndarray:
    """The documented distance between each query and each returned id, in float64."""
    X, Q = X.astype(np.float64), Q.astype(np.float64)
    if metric == "cosine":
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        Q = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    cand = X[ids]  # (nq, k, d)
    dots = np.einsum("qkd,qd->qk", cand, Q)
    if metric == "l2":
        return ((cand - Q[:, None, :]) ** 2).sum(-1)
    return -dots if metric == "ip" else 1.0 - dots


def faiss_exact(X: np.ndarray, Q: np.ndarray, k: int, metric: str):
    """faiss's brute force, converted to our "smaller is better" distances."""
    if metric == "l2":
        index = faiss.IndexFlatL2(X.shape[1])
        index.add(X)
        return index.search(Q, k)
    if metric == "cosine":
        X, Q = normalize_rows(X), normalize_rows(Q)
    index = faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    D, ids = index.search(Q, k)
    return (-D if metric == "ip" else 1.0 - D), ids


def assert_same_neighbours(ids, ref_ids, X, Q, metric, *, tol=1e-4):
    """Ids equal position by position, except where two float32 distances tie (a swap of two
    candidates whose exact distances agree to ``tol`` relative), and such ties are rare."""
    assert ids.shape == ref_ids.shape
    differ = ids != ref_ids
    assert differ.mean() <= 0.01, f"{differ.sum()} of {ids.size} ids differ"
    if differ.any():
        ours = true_distances(X, Q, ids, metric)[differ]
        ref = true_distances(X, Q, ref_ids, metric)[differ]
        scale = np.abs(true_distances(X, Q, ref_ids, metric)).max()
        np.testing.assert_allclose(ours, ref, rtol=0, atol=tol * scale)


@pytest.fixture(scope="module")
def truth(clustered):
    """Exact top-10 ids per metric, from faiss (independent of the code under test)."""
    X, Q = clustered
    return {m: faiss_exact(X, Q, K, m)[1] for m in METRICS}


# --- exact search -----------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_exact_index_matches_faiss_flat(clustered, metric):
    X, Q = clustered
    d, ids = ExactIndex(X.shape[1], metric).add(X).search(Q, K)
    D_ref, I_ref = faiss_exact(X, Q, K, metric)
    assert ids.shape == (len(Q), K) and ids.dtype == np.int64 and d.dtype == np.float32
    assert_same_neighbours(ids, I_ref, X, Q, metric)
    np.testing.assert_allclose(d, D_ref, rtol=1e-4, atol=1e-4)
    assert np.all(np.diff(d, axis=1) >= 0)  # best first
    np.testing.assert_allclose(d, true_distances(X, Q, ids, metric), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("metric", METRICS)
def test_exact_index_blocks_and_incremental_adds_agree(small_clustered, metric):
    X, Q = small_clustered
    d1, i1 = ExactIndex(16, metric).add(X).search(Q, 7)
    index = ExactIndex(16, metric, block=7).add(X[:250]).add(X[250:])  # 40 queries, 6 blocks
    assert index.ntotal == len(X)
    d2, i2 = index.search(Q, 7)
    assert_same_neighbours(i2, i1, X, Q, metric)
    np.testing.assert_allclose(d1, d2, rtol=1e-5, atol=1e-5)
    assert index.memory_bytes() == X.nbytes + 4 * len(X)  # vectors + one float32 norm each


def test_exact_index_accepts_one_query_vector(small_clustered):
    X, Q = small_clustered
    index = ExactIndex(16).add(X)
    d, ids = index.search(Q[3], 5)
    assert d.shape == ids.shape == (1, 5)
    np.testing.assert_array_equal(ids[0], index.search(Q[3:4], 5)[1][0])


def test_exact_knn_is_the_exact_index(small_clustered):
    X, Q = small_clustered
    for metric in METRICS:
        d, ids = exact_knn(X.tolist(), Q, 5, metric)  # lists are fine
        d2, ids2 = ExactIndex(16, metric).add(X).search(Q, 5)
        np.testing.assert_array_equal(ids, ids2)
        np.testing.assert_array_equal(d, d2)
        np.testing.assert_allclose(d, true_distances(X, Q, ids, metric), rtol=1e-4, atol=1e-4)
    # k = n returns the whole corpus, sorted; a point's nearest neighbour is itself
    d, ids = exact_knn(X[:50], X[:50], 50)
    np.testing.assert_array_equal(np.sort(ids, axis=1), np.tile(np.arange(50), (50, 1)))
    np.testing.assert_array_equal(ids[:, 0], np.arange(50))
    np.testing.assert_allclose(d[:, 0], 0.0, atol=1e-4)
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        exact_knn(X[0], Q, 5)


def test_topk_smallest():
    rng = np.random.default_rng(0)
    D = rng.random((6, 40))
    for k in (1, 5, 40):
        vals, cols = topk_smallest(D, k)
        np.testing.assert_array_equal(cols, np.argsort(D, axis=1)[:, :k])
        np.testing.assert_array_equal(vals, np.sort(D, axis=1)[:, :k])
    vals, cols = topk_smallest(np.array([[3.0, 1.0, 2.0, 0.5]]), 2)
    np.testing.assert_array_equal(cols, [[3, 1]])
    np.testing.assert_array_equal(vals, [[0.5, 1.0]])


# --- HNSW -------------------------------------------------------------------------------------

HNSW_PARAMS = {"M": 16, "ef_construction": 200, "ef": 100}


@pytest.fixture(scope="module")
def hnsw_pair(clustered):
    """Ours and hnswlib, built once per metric at the same (M, efConstruction, ef)."""
    X, _ = clustered
    built: dict[str, tuple[HNSWIndex, HnswlibIndex]] = {}

    def get(metric: str):
        if metric not in built:
            built[metric] = (
                HNSWIndex(X.shape[1], metric, **HNSW_PARAMS).add(X),
                HnswlibIndex(X.shape[1], metric, **HNSW_PARAMS).add(X),
            )
        return built[metric]

    return get


@pytest.mark.parametrize("metric", METRICS)
def test_hnsw_recall_close_to_exact_and_to_hnswlib(clustered, truth, hnsw_pair, metric):
    X, Q = clustered
    ours, lib = hnsw_pair(metric)
    d, ids = ours.search(Q, K)
    r_ours = ann_recall_at_k(ids, truth[metric])
    r_lib = ann_recall_at_k(lib.search(Q, K)[1], truth[metric])
    assert r_ours >= 0.95
    assert abs(r_ours - r_lib) <= 0.03
    assert np.all(ids >= 0) and np.all(ids < len(X))
    # distances are the documented ones for the returned ids, sorted best first
    np.testing.assert_allclose(d, true_distances(X, Q, ids, metric), rtol=1e-4, atol=1e-4)
    assert np.all(np.diff(d, axis=1) >= -1e-6)


@pytest.mark.parametrize("metric", METRICS)
def test_hnswlib_distances_follow_our_convention(clustered, hnsw_pair, metric):
    X, Q = clustered
    d, ids = hnsw_pair(metric)[1].search(Q[:20], K)
    np.testing.assert_allclose(d, true_distances(X, Q[:20], ids, metric), rtol=1e-4, atol=1e-4)


def test_hnsw_layer_sizes_shrink_by_about_M(clustered, hnsw_pair):
    X, _ = clustered
    index = hnsw_pair("l2")[0]
    sizes = index.layer_sizes()
    n, M = len(X), index.M
    assert sizes[0] == n
    assert len(sizes) == index.max_level + 1 >= 2
    assert np.all(np.diff(sizes) < 0)
    # a node reaches layer l with probability M^-l: a binomial count, checked to 4 sigma
    for level in range(1, len(sizes)):
        p = float(M) ** -level
        assert abs(sizes[level] - n * p) <= 4 * np.sqrt(n * p * (1 - p)) + 1


def test_hnsw_degree_caps(hnsw_pair):
    index = hnsw_pair("l2")[0]
    deg0 = index.degrees(0)
    assert deg0.shape == (index.ntotal,)
    assert deg0.max() <= 2 * index.M
    assert deg0.min() >= 1  # every node is linked
    assert deg0.max() > index.M  # layer 0 really uses the larger cap Mmax0 = 2M
    for level in range(1, index.max_level + 1):
        deg = index.degrees(level)
        assert len(deg) == index.layer_sizes()[level]
        assert deg.max() <= index.M
        assert deg.min() >= 1
    # links are valid ids, without self-loops or duplicates
    for node in range(0, index.ntotal, 97):
        links = index._links0[node, : deg0[node]]
        assert np.all((links >= 0) & (links < index.ntotal))
        assert node not in links and len(set(links.tolist())) == len(links)


def test_hnsw_incremental_add_keeps_ids_and_recall(clustered, truth):
    X, Q = clustered
    index = HNSWIndex(X.shape[1], "l2", **HNSW_PARAMS).add(X[:1_500]).add(X[1_500:])
    assert index.ntotal == len(X) and len(index.levels) == len(X)
    # every point finds itself, with the id of its row, in both halves
    rows = np.r_[0:20, 1_490:1_510, 2_980:3_000]
    np.testing.assert_array_equal(index.search(X[rows], 1)[1][:, 0], rows)
    assert ann_recall_at_k(index.search(Q, K)[1], truth["l2"]) >= 0.95
    assert index.degrees(0).max() <= 2 * index.M


def test_hnsw_search_param_trades_recall(clustered, truth, hnsw_pair):
    _, Q = clustered
    index = hnsw_pair("l2")[0]
    assert index.search_param == "ef"
    try:
        index.set_search_param(1)
        low = ann_recall_at_k(index.search(Q, K)[1], truth["l2"])
        index.set_search_param(200)
        high = ann_recall_at_k(index.search(Q, K)[1], truth["l2"])
    finally:
        index.set_search_param(HNSW_PARAMS["ef"])
    assert index.ef == HNSW_PARAMS["ef"]
    assert high >= low and high >= 0.99


def test_hnsw_is_deterministic_by_seed(small_clustered):
    X, Q = small_clustered
    a = HNSWIndex(16, M=8, ef_construction=50, seed=3).add(X)
    b = HNSWIndex(16, M=8, ef_construction=50, seed=3).add(X)
    np.testing.assert_array_equal(a.levels, b.levels)
    np.testing.assert_array_equal(a.search(Q, 5)[1], b.search(Q, 5)[1])
    c = HNSWIndex(16, M=8, ef_construction=50, seed=4).add(X)
    assert not np.array_equal(a.levels, c.levels)


def test_hnsw_small_index_returns_everything(small_clustered):
    X, Q = small_clustered
    index = HNSWIndex(16, M=4, ef=1).add(X[:6])
    d, ids = index.search(Q[:3], 6)
    np.testing.assert_array_equal(np.sort(ids, axis=1), np.tile(np.arange(6), (3, 1)))
    assert np.isfinite(d).all()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"M": 1}, "M"), ({"ef_construction": 0}, "ef_construction"), ({"ef": True}, "ef")],
)
def test_hnsw_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must be an int >= "):
        HNSWIndex(8, **kwargs)


def test_hnsw_rejects_bad_ef():
    index = HNSWIndex(16)
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="ef must be an int >= 1"):
            index.set_search_param(bad)


# --- IVF and PQ -------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_ivf_flat_with_all_cells_probed_is_exact(clustered, metric):
    X, Q = clustered
    index = IVFFlatIndex(X.shape[1], metric, nlist=32, nprobe=32).add(X)
    d, ids = index.search(Q, K)
    d_ref, i_ref = ExactIndex(X.shape[1], metric).add(X).search(Q, K)
    assert_same_neighbours(ids, i_ref, X, Q, metric)
    np.testing.assert_allclose(d, d_ref, rtol=1e-4, atol=1e-4)
    sizes = index.list_sizes()
    assert sizes.shape == (32,) and sizes.sum() == len(X)
    assert index.search_param == "nprobe"
    index.set_search_param(1)
    r1 = ann_recall_at_k(index.search(Q, K)[1], i_ref)
    assert r1 < 1.0  # one cell of 32 misses neighbours across cell borders


def test_ivf_flat_incremental_add(small_clustered):
    X, Q = small_clustered
    index = IVFFlatIndex(16, nlist=8, nprobe=8).add(X[:400]).add(X[400:])
    assert index.ntotal == 600 and index.list_sizes().sum() == 600
    assert_same_neighbours(index.search(Q, 5)[1], exact_knn(X, Q, 5)[1], X, Q, "l2")
    with pytest.raises(ValueError, match="nlist=8 needs at least that many vectors"):
        IVFFlatIndex(16, nlist=8).add(X[:7])


@pytest.fixture(scope="module")
def ivfpq_l2(clustered):
    X, _ = clustered
    plain = IVFPQIndex(X.shape[1], "l2", nlist=16, M=8, nprobe=16).add(X)
    refined = IVFPQIndex(X.shape[1], "l2", nlist=16, M=8, nprobe=16, refine=4).add(X)
    return plain, refined


def test_ivfpq_memory_layout(ivfpq_l2, clustered):
    X, _ = clustered
    plain, refined = ivfpq_l2
    assert plain.bytes_per_vector_formula() == plain.pq.M + 8 == 16
    assert refined.bytes_per_vector_formula() == 16 + 4 * X.shape[1]
    assert plain._codes.dtype == np.uint8 and plain._codes.shape == (len(X), 8)
    assert plain.pq.codebooks.shape == (8, 256, 4)
    assert plain.memory_bytes() < X.nbytes < refined.memory_bytes()


def test_ivfpq_refine_improves_recall(ivfpq_l2, clustered, truth):
    _, Q = clustered
    plain, refined = ivfpq_l2
    d_p, i_p = plain.search(Q, K)
    r_plain = ann_recall_at_k(i_p, truth["l2"])
    r_refined = ann_recall_at_k(refined.search(Q, K)[1], truth["l2"])
    assert 0.5 < r_plain < r_refined
    assert r_refined >= 0.95
    assert np.all(np.diff(d_p, axis=1) >= -1e-5)


def test_ivfpq_approximates_distances(ivfpq_l2, clustered):
    X, Q = clustered
    d, ids = ivfpq_l2[0].search(Q, K)
    exact = true_distances(X, Q, ids, "l2")
    rel_err = np.abs(d - exact) / exact.mean()
    assert np.median(rel_err) < 0.2
    d_r, ids_r = ivfpq_l2[1].search(Q, K)  # refined: exact distances of the candidates
    np.testing.assert_allclose(d_r, true_distances(X, Q, ids_r, "l2"), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("metric", ["ip", "cosine"])
def test_ivfpq_other_metrics(clustered, truth, metric):
    X, Q = clustered
    index = IVFPQIndex(X.shape[1], metric, nlist=16, M=8, nprobe=16, refine=4).add(X)
    d, ids = index.search(Q, K)
    assert ann_recall_at_k(ids, truth[metric]) >= 0.9
    np.testing.assert_allclose(d, true_distances(X, Q, ids, metric), rtol=1e-4, atol=1e-3)


def test_ivfpq_incremental_add_keeps_ids(small_clustered):
    X, _ = small_clustered
    for refine in (0, 8):
        index = IVFPQIndex(16, nlist=4, M=8, nprobe=4, refine=refine).add(X[:300]).add(X[300:])
        assert index.ntotal == 600 and index.list_sizes().sum() == 600
        assert index._codes.shape == (600, 8)
        rows = np.array([0, 1, 299, 300, 301, 599])
        found = index.search(X[rows], 5)[1]
        assert set(found.ravel().tolist()) <= set(range(600))
        hits = (found == rows[:, None]).any(axis=1)  # each point is among its own 5 neighbours
        assert hits.all() if refine else hits.mean() >= 0.5


def test_ivfpq_rejects_bad_refine():
    with pytest.raises(ValueError, match="refine must be an int >= 0"):
        IVFPQIndex(16, refine=-1)
    with pytest.raises(ValueError, match="refine must be an int >= 0"):
        IVFPQIndex(16, refine=True)


def test_pq_error_decreases_with_more_subquantisers(clustered):
    X = clustered[0][:1_500]
    errors = []
    for M in (2, 4, 8, 16):
        pq = ProductQuantizer(X.shape[1], M).train(X, n_iter=10)
        codes = pq.encode(X)
        assert codes.dtype == np.uint8 and codes.shape == (len(X), M)
        assert pq.code_bytes() == M
        errors.append(float(np.mean((pq.decode(codes) - X) ** 2)))
    assert all(a > b for a, b in itertools.pairwise(errors)), errors
    assert errors[-1] < 0.5 * errors[0]


def test_pq_adc_equals_distance_to_the_decoded_vector(small_clustered):
    X, Q = small_clustered
    pq = ProductQuantizer(16, 4, nbits=4).train(X, n_iter=5)
    codes = pq.encode(X)
    assert codes.max() < 16
    adc = pq.adc(pq.distance_tables(Q[:1]), codes)
    np.testing.assert_allclose(adc, ((pq.decode(codes) - Q[0]) ** 2).sum(1), rtol=1e-4, atol=1e-4)


def test_pq_argument_checks(small_clustered):
    with pytest.raises(ValueError, match="M=5 must divide dim=32"):
        ProductQuantizer(32, 5)
    with pytest.raises(ValueError, match=r"nbits must be in 1\.\.8"):
        ProductQuantizer(32, 4, nbits=9)
    with pytest.raises(ValueError, match="not trained"):
        ProductQuantizer(16, 4).encode(small_clustered[0])
    with pytest.raises(ValueError, match="X must have 16 columns"):
        ProductQuantizer(16, 4).train(np.zeros((300, 8)))


def test_kmeans_beats_random_centroids(clustered):
    X = clustered[0]

    def inertia(C):
        return float(((X[:, None, :] - C[None]) ** 2).sum(-1).min(1).sum())

    C = kmeans(X, 16, seed=0)
    assert C.shape == (16, X.shape[1]) and C.dtype == np.float32
    rng = np.random.default_rng(1)
    random_inertia = min(inertia(X[rng.choice(len(X), 16, replace=False)]) for _ in range(5))
    assert inertia(C) < 0.9 * random_inertia
    np.testing.assert_array_equal(C, kmeans(X, 16, seed=0))  # deterministic by seed
    assert inertia(kmeans(X, 16, seed=0, n_iter=0)) > inertia(C)  # the iterations help


def test_kmeans_reseeds_empty_clusters():
    X = np.repeat(np.eye(3, dtype=np.float32), 10, axis=0)  # 3 distinct points, 30 rows
    C = kmeans(X, 5, seed=0)
    assert C.shape == (5, 3) and np.isfinite(C).all()


def test_kmeans_argument_checks():
    X = np.zeros((10, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=r"k=11 centroids need at least k training points"):
        kmeans(X, 11)
    with pytest.raises(ValueError, match="k must be positive"):
        kmeans(X, 0)
    with pytest.raises(TypeError, match="k must be an int"):
        kmeans(X, True)
    with pytest.raises(ValueError, match="X must be 2-D"):
        kmeans(np.zeros(10), 2)


# --- the libraries behind our interface -------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_faiss_flat_equals_exact(clustered, truth, metric):
    X, Q = clustered
    index = FaissIndex(X.shape[1], "Flat", metric).add(X)
    d, ids = index.search(Q, K)
    assert_same_neighbours(ids, truth[metric], X, Q, metric)
    np.testing.assert_allclose(d, true_distances(X, Q, ids, metric), rtol=1e-4, atol=1e-4)
    assert index.search_param is None
    with pytest.raises(ValueError, match="has no search-time parameter"):
        index.set_search_param(3)


@pytest.mark.parametrize(
    ("factory", "param", "low", "high", "min_recall"),
    [
        ("IVF64,Flat", "nprobe", 1, 64, 1.0),
        ("HNSW16", "ef", 1, 100, 0.95),
        ("IVF64,PQ8np", "nprobe", 1, 64, 0.6),
    ],
)
def test_faiss_factories_through_the_interface(
    clustered, truth, factory, param, low, high, min_recall
):
    X, Q = clustered
    index = FaissIndex(X.shape[1], factory, "l2", ef_construction=100).add(X)
    assert index.search_param == param and index.name == f"faiss {factory}"
    assert index.ntotal == len(X) and index.memory_bytes() > 0
    index.set_search_param(low)
    r_low = ann_recall_at_k(index.search(Q, K)[1], truth["l2"])
    index.set_search_param(high)
    d, ids = index.search(Q, K)
    r_high = ann_recall_at_k(ids, truth["l2"])
    assert r_high >= min_recall and r_high > r_low
    assert ids.dtype == np.int64 and np.all(np.diff(d, axis=1) >= -1e-5)


def test_faiss_ip_and_cosine_through_hnsw(clustered, truth):
    X, Q = clustered
    for metric in ("ip", "cosine"):
        index = FaissIndex(X.shape[1], "HNSW16", metric, ef=100).add(X)
        d, ids = index.search(Q, K)
        assert ann_recall_at_k(ids, truth[metric]) >= 0.95
        np.testing.assert_allclose(d, true_distances(X, Q, ids, metric), rtol=1e-4, atol=1e-4)


def test_faiss_rejects_an_unknown_factory():
    with pytest.raises(ValueError, match="faiss cannot build 'NotAnIndex'"):
        FaissIndex(8, "NotAnIndex")


def test_hnswlib_through_the_interface(small_clustered):
    X, Q = small_clustered
    index = HnswlibIndex(16, "l2", M=8, ef_construction=50, ef=50).add(X[:300]).add(X[300:])
    assert index.ntotal == 600 and index.search_param == "ef"
    rows = np.array([0, 299, 300, 599])
    np.testing.assert_array_equal(index.search(X[rows], 1)[1][:, 0], rows)
    index.set_search_param(100)
    assert index.ef == 100 and index.index.ef == 100
    assert ann_recall_at_k(index.search(Q, 5)[1], exact_knn(X, Q, 5)[1]) >= 0.95
    assert index.memory_bytes() > X.nbytes


# --- the benchmark harness --------------------------------------------------------------------


def test_build_reports_time_and_bytes(small_clustered):
    X, _ = small_clustered
    index, info = bench.build(lambda: ExactIndex(16), X)
    assert index.ntotal == len(X)
    assert set(info) == {"index", "build_s", "bytes_per_vector"}
    assert info["index"] == "exact (numpy)" and info["build_s"] >= 0
    assert info["bytes_per_vector"] == pytest.approx(16 * 4 + 4)


def test_sweep_columns_and_recall(small_clustered):
    X, Q = small_clustered
    truth_ids = exact_knn(X, Q, 10)[1]
    hnsw = HNSWIndex(16, M=8, ef_construction=40).add(X)
    df = bench.sweep(hnsw, Q, truth_ids, [1, 10, 50], warmup=2)
    assert list(df.columns) == ["index", "param", "value", "recall@10", "qps_single", "qps_batch"]
    assert df["value"].tolist() == [1, 10, 50] and set(df["param"]) == {"ef"}
    assert df["recall@10"].between(0, 1).all() and (df[["qps_single", "qps_batch"]] > 0).all().all()
    assert df["recall@10"].iloc[-1] >= df["recall@10"].iloc[0]
    assert hnsw.ef == 50  # the last value stays set

    exact = bench.sweep(ExactIndex(16).add(X), Q, truth_ids, k=5, batch=False, warmup=0)
    assert list(exact.columns) == ["index", "param", "value", "recall@5", "qps_single"]
    assert exact["recall@5"].tolist() == [1.0] and exact["param"].tolist() == ["-"]
    with pytest.raises(ValueError, match=r"truth must be \(len\(Q\), >=k\)"):
        bench.sweep(ExactIndex(16).add(X), Q, truth_ids[:, :3], k=5)
    with pytest.raises(ValueError, match=r"truth must be"):
        bench.sweep(ExactIndex(16).add(X), Q, truth_ids[:5])


def test_sweep_times_with_the_given_clock(small_clustered):
    """An injected clock decides QPS: a fake one that advances 0.5 s a call gives 0.5 s per
    pass, so QPS is exactly len(Q) / 0.5; a clock that is not callable is refused by name."""
    X, Q = small_clustered
    truth_ids = exact_knn(X, Q, 5)[1]
    ticks = iter(np.arange(0.0, 1000.0, 0.5))
    df = bench.sweep(
        ExactIndex(16).add(X), Q, truth_ids, k=5, batch=False, warmup=0, clock=lambda: next(ticks)
    )
    assert df["qps_single"].tolist() == [len(Q) / 0.5]
    with pytest.raises(TypeError, match="clock must be a callable"):
        bench.sweep(ExactIndex(16).add(X), Q, truth_ids, k=5, clock=1.0)


SWEEP = pd.DataFrame(
    {
        "index": "toy",
        "recall@10": [0.50, 0.70, 0.80, 0.90, 0.99, 0.85],
        "qps_single": [1000.0, 200.0, 500.0, 100.0, 10.0, 50.0],
    }
)  # (0.70, 200) is beaten by (0.80, 500); (0.85, 50) by (0.90, 100)


def test_pareto_frontier():
    front = bench.pareto_frontier(SWEEP)
    assert front["recall@10"].tolist() == [0.50, 0.80, 0.90, 0.99]
    assert front["qps_single"].tolist() == [1000.0, 500.0, 100.0, 10.0]
    assert front.index.tolist() == [0, 2, 3, 4]  # rows of the input, sorted by recall
    tie = pd.DataFrame({"recall@10": [0.9, 0.9], "qps_single": [5.0, 7.0]})
    assert bench.pareto_frontier(tie)["qps_single"].tolist() == [7.0]


def test_qps_at_recall_interpolates_in_log_qps():
    assert bench.qps_at_recall(SWEEP, 0.85) == pytest.approx(np.sqrt(500.0 * 100.0))
    w = (0.95 - 0.90) / (0.99 - 0.90)
    assert bench.qps_at_recall(SWEEP, 0.95) == pytest.approx(100.0 ** (1 - w) * 10.0**w)
    assert bench.qps_at_recall(SWEEP, 0.90) == pytest.approx(100.0)  # a sweep point itself
    assert bench.qps_at_recall(SWEEP, 0.99) == pytest.approx(10.0)
    assert bench.qps_at_recall(SWEEP, 0.3) == pytest.approx(1000.0)  # the fastest point
    assert np.isnan(bench.qps_at_recall(SWEEP, 0.995))  # never reached


def test_summary_one_row_per_index():
    other = SWEEP.assign(index="other", **{"recall@10": SWEEP["recall@10"] * 0.5})
    table = bench.summary([SWEEP, other], targets=(0.5, 0.9))
    assert table["index"].tolist() == ["toy", "other"]
    assert table["max recall@10"].tolist() == [0.99, pytest.approx(0.495)]
    assert table.loc[0, "QPS @ 0.90"] == pytest.approx(100.0)
    assert np.isnan(table.loc[1, "QPS @ 0.90"]) and np.isnan(table.loc[1, "QPS @ 0.50"])


# --- bad input, for every index ---------------------------------------------------------------

D = 16
FACTORIES = {
    "exact": lambda metric="l2": ExactIndex(D, metric),
    "hnsw": lambda metric="l2": HNSWIndex(D, metric, M=4, ef_construction=20),
    "ivf_flat": lambda metric="l2": IVFFlatIndex(D, metric, nlist=4),
    "ivf_pq": lambda metric="l2": IVFPQIndex(D, metric, nlist=4, M=4, nbits=4),
    "faiss": lambda metric="l2": FaissIndex(D, "Flat", metric),
    "hnswlib": lambda metric="l2": HnswlibIndex(D, metric, M=4, ef_construction=20),
}


@pytest.fixture(params=sorted(FACTORIES))
def make(request):
    return FACTORIES[request.param]


@pytest.fixture
def filled(make, small_clustered):
    return make().add(small_clustered[0])


def test_wrong_dim(make, filled, small_clustered):
    Q = small_clustered[1]
    with pytest.raises(ValueError, match="X must have 16 columns to match the index, got 17"):
        make().add(np.ones((20, D + 1)))
    with pytest.raises(ValueError, match="Q must have 16 columns to match the index, got 8"):
        filled.search(Q[:, :8], 3)


def test_wrong_number_of_axes(make, filled, small_clustered):
    X, Q = small_clustered
    with pytest.raises(ValueError, match=r"X must be 2-D \(n, d\), got shape \(16,\)"):
        make().add(X[0])
    with pytest.raises(ValueError, match=r"X must be 2-D \(n, d\), got shape \(2, 300, 16\)"):
        make().add(X.reshape(2, 300, D))
    with pytest.raises(ValueError, match=r"Q must be 2-D \(n, d\), got shape \(1, 40, 16\)"):
        filled.search(Q[None], 3)


def test_empty_input(make):
    index = make()
    with pytest.raises(ValueError, match="the index is empty; call add"):
        index.search(np.ones((1, D)), 1)
    with pytest.raises(ValueError, match=r"X must not be empty, got shape \(0, 16\)"):
        index.add(np.empty((0, D)))
    assert index.ntotal == 0


def test_non_finite_values(make, filled, small_clustered):
    X, Q = small_clustered
    bad = X[:20].copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinite values"):
        make().add(bad)
    q = Q[:2].copy()
    q[1, 0] = np.inf
    with pytest.raises(ValueError, match="Q contains NaN or infinite values"):
        filled.search(q, 3)


def test_bad_k(filled, small_clustered):
    Q = small_clustered[1]
    for k in (0, -2):
        with pytest.raises(ValueError, match="k must be positive"):
            filled.search(Q, k)
    with pytest.raises(ValueError, match=r"k=601 is larger than the number of indexed vectors"):
        filled.search(Q, 601)
    for k in (True, 2.0, "3"):
        with pytest.raises(TypeError, match="k must be an int"):
            filled.search(Q, k)
    d, ids = filled.search(Q, 1)
    assert d.shape == ids.shape == (len(Q), 1)


def test_non_numeric_input(make, filled):
    with pytest.raises(TypeError, match="X must hold numbers, got dtype <U"):
        make().add(np.full((5, D), "a"))
    with pytest.raises(TypeError, match="Q must hold numbers"):
        filled.search([["x"] * D], 1)
    with pytest.raises(TypeError, match="X must hold numbers, got dtype object"):
        make().add(np.array([[1.0] * D, None], dtype=object))


def test_zero_vector_with_cosine(make, small_clustered):
    X = small_clustered[0]
    zeros = X.copy()
    zeros[7] = 0.0
    with pytest.raises(ValueError, match=r"cosine metric: X\[7\] has zero norm"):
        make("cosine").add(zeros)
    index = make("cosine").add(X)
    with pytest.raises(ValueError, match="zero norm"):
        index.search(np.zeros((1, D)), 1)
    make("l2").add(zeros)  # a zero vector is fine for L2


def test_unknown_metric(make):
    with pytest.raises(ValueError, match="unknown metric 'dot'; expected one of l2, ip, cosine"):
        make("dot")


@pytest.mark.parametrize("dim", [0, -4, True, 2.5, "16"])
def test_bad_dim(dim):
    with pytest.raises(ValueError, match="dim must be a positive int"):
        ExactIndex(dim)


def test_indexes_do_not_modify_their_input(make, small_clustered):
    X, Q = small_clustered
    Xc, Qc = X.copy(), Q.copy()
    make("cosine").add(Xc).search(Qc, 5)
    np.testing.assert_array_equal(Xc, X)
    np.testing.assert_array_equal(Qc, Q)


def test_repr_and_ntotal(filled):
    assert filled.ntotal == 600
    assert "dim=16" in repr(filled) and "n=600" in repr(filled)
