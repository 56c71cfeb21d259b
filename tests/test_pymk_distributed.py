"""Tests for utils.pymk.distributed: partitions, fan-out plan, affected sources, Ray shards."""

from __future__ import annotations

import os

import networkx as nx
import numpy as np
import pytest

from utils.graph.csr import CSRGraph
from utils.pymk.candidates import Candidates, fof_candidates
from utils.pymk.distributed import (
    affected_sources,
    changed_sources,
    community_partition,
    concat_candidates,
    edge_cut,
    hash_partition,
    louvain_communities,
    patch_candidates,
    plan_fof_refresh,
    ray_map_shards,
    remote_shards,
    split_sources,
    time_empty_tasks,
)


def _random_graph(n: int = 120, p: float = 0.06, seed: int = 0) -> CSRGraph:
    g = nx.gnp_random_graph(n, p, seed=seed)
    e = np.array(list(g.edges()), dtype=np.int64)
    return CSRGraph.from_edges(e[:, 0], e[:, 1], n)


def _two_cliques() -> CSRGraph:
    # two 6-cliques joined by one tie (5 - 6)
    e = [(i, j) for i in range(6) for j in range(i + 1, 6)]
    e += [(i + 6, j + 6) for i, j in e]
    e.append((5, 6))
    e = np.array(e)
    return CSRGraph.from_edges(e[:, 0], e[:, 1], 12)


# --- partitions --------------------------------------------------------------------------------
def test_hash_partition_balanced_deterministic_and_seeded():
    ids = np.arange(100_000)
    p = hash_partition(ids, 8)
    counts = np.bincount(p, minlength=8)
    assert counts.min() > 0.97 * 12_500 and counts.max() < 1.03 * 12_500
    assert np.array_equal(p, hash_partition(ids, 8))
    assert not np.array_equal(p, hash_partition(ids, 8, seed=1))
    # a strided id range (every 8th id) still spreads, unlike id mod 8
    strided = hash_partition(ids[::8], 8)
    assert np.bincount(strided, minlength=8).min() > 1000


def test_hash_partition_bad_input():
    with pytest.raises(ValueError, match="n_shards"):
        hash_partition(np.arange(3), 0)
    with pytest.raises(TypeError, match="ids"):
        hash_partition(np.array([0.5, 1.0]), 2)
    with pytest.raises(ValueError, match="ids"):
        hash_partition(np.array([-1, 2]), 2)


def test_edge_cut_hash_near_expectation_and_community_cut_small():
    g = _random_graph(400, 0.03)
    cut = edge_cut(g, hash_partition(np.arange(g.n_nodes), 4))
    assert abs(cut - 0.75) < 0.05
    g2 = _two_cliques()
    part = community_partition(g2, 2)
    assert edge_cut(g2, part) == pytest.approx(1 / g2.n_edges)
    assert set(part[:6].tolist()) != set(part[6:].tolist())
    assert edge_cut(g2, np.zeros(12, dtype=np.int64)) == 0.0


def test_community_partition_reuses_communities_and_checks_them():
    g = _two_cliques()
    comms = louvain_communities(g)
    assert sorted(np.concatenate(comms).tolist()) == list(range(12))
    assert np.array_equal(community_partition(g, 2, communities=comms), community_partition(g, 2))
    with pytest.raises(ValueError, match="communities"):
        community_partition(g, 2, communities=[np.arange(5)])
    with pytest.raises(TypeError, match="graph"):
        community_partition("not a graph", 2)


def test_remote_shards_counts_distinct_other_shards():
    g = _two_cliques()
    part = np.r_[np.zeros(6, dtype=np.int64), np.ones(6, dtype=np.int64)]
    r = remote_shards(g, part, np.arange(12))
    assert r.tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="part"):
        remote_shards(g, part[:5], [0])
    with pytest.raises(ValueError, match="sources"):
        remote_shards(g, part, [99])


def test_split_sources_modes():
    s = np.arange(1000, 1100)
    for how in ("hash", "contiguous"):
        parts = split_sources(s, 4, how=how)
        assert len(parts) == 4
        assert np.array_equal(np.sort(np.concatenate(parts)), s)
    work = np.r_[np.full(4, 100.0), np.ones(96)]
    parts = split_sources(s, 4, how="balanced", work=work)
    loads = [work[np.isin(s, p)].sum() for p in parts]
    assert max(loads) - min(loads) <= 1.0
    with pytest.raises(ValueError, match="work"):
        split_sources(s, 4, how="balanced")
    with pytest.raises(ValueError, match="work"):
        split_sources(s, 4, how="balanced", work=-work)
    with pytest.raises(ValueError, match="how"):
        split_sources(s, 4, how="metis")
    with pytest.raises(ValueError, match="sources"):
        split_sources(np.array([], dtype=np.int64), 2)


# --- fan-out arithmetic ------------------------------------------------------------------------
def test_plan_fof_refresh_arithmetic():
    plan = plan_fof_refresh(1e9, 50_000, paths_per_core_second=1e7, bytes_per_path=16)
    assert plan["paths"] == pytest.approx(5e13)
    assert plan["shuffle_tb"] == pytest.approx(800.0)
    assert plan["core_hours"] == pytest.approx(5e13 / 1e7 / 3600)
    assert plan["cores"] == int(np.ceil(plan["core_hours"] / 24))
    half = plan_fof_refresh(1e9, 50_000, paths_per_core_second=1e7, refresh_share=0.5)
    assert half["paths"] == pytest.approx(plan["paths"] / 2)
    with pytest.raises(ValueError, match="paths_per_core_second"):
        plan_fof_refresh(1e9, 10, paths_per_core_second=0)
    with pytest.raises(ValueError, match="refresh_share"):
        plan_fof_refresh(1e9, 10, paths_per_core_second=1, refresh_share=1.5)


# --- incremental updates -----------------------------------------------------------------------
def _changed_sources_loop(before: Candidates, after: Candidates) -> set[int]:
    changed = set()
    for u in before.sources.tolist():
        a = before.src == u
        b = after.src == u
        same = (
            a.sum() == b.sum()
            and np.array_equal(before.cand[a], after.cand[b])
            and np.array_equal(before.cn[a], after.cn[b])
            and np.allclose(before.aa[a], after.aa[b], rtol=0, atol=1e-12)
        )
        if not same:
            changed.add(u)
    return changed


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_affected_sources_contains_every_changed_list(seed):
    g = _random_graph(80, 0.06, seed)
    rng = np.random.default_rng(seed)
    src = np.repeat(np.arange(g.n_nodes), g.degree())
    existing = set(zip(src.tolist(), g.indices.tolist(), strict=True))
    new = []
    while len(new) < 3:
        a, b = (int(x) for x in rng.choice(g.n_nodes, 2, replace=False))
        if (a, b) not in existing:
            new.append((min(a, b), max(a, b)))
    new = np.array(sorted(set(new)))
    after = CSRGraph.from_edges(np.r_[src, new[:, 0]], np.r_[g.indices, new[:, 1]], g.n_nodes)
    everyone = np.arange(g.n_nodes)
    c_before, c_after = fof_candidates(g, everyone), fof_candidates(after, everyone)
    changed = _changed_sources_loop(c_before, c_after)
    assert set(changed_sources(c_before, c_after).tolist()) == changed
    assert changed_sources(c_before, c_before).size == 0
    predicted = set(affected_sources(g, new).tolist())
    assert changed <= predicted
    assert set(new.ravel().tolist()) <= changed  # the endpoints always change
    assert len(predicted) < g.n_nodes
    # the incremental refresh: recompute only the affected sources, patch, equal to a full run
    update = fof_candidates(after, np.array(sorted(predicted)))
    _assert_same(patch_candidates(c_before, update), c_after)


def test_changed_sources_bad_input():
    g = _two_cliques()
    c = fof_candidates(g, np.arange(12))
    with pytest.raises(TypeError, match="before"):
        changed_sources("x", c)
    with pytest.raises(ValueError, match="same sources"):
        changed_sources(c, fof_candidates(g, np.arange(6)))
    with pytest.raises(ValueError, match="atol"):
        changed_sources(c, c, atol=-1.0)


def test_patch_candidates_bad_input():
    g = _two_cliques()
    c = fof_candidates(g, np.arange(6))
    with pytest.raises(TypeError, match="base"):
        patch_candidates(None, c)
    with pytest.raises(ValueError, match="subset"):
        patch_candidates(c, fof_candidates(g, np.arange(12)))


def test_affected_sources_bad_input():
    g = _two_cliques()
    assert affected_sources(g, np.zeros((0, 2), dtype=np.int64)).size == 0
    with pytest.raises(ValueError, match="new_edges"):
        affected_sources(g, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="new_edges"):
        affected_sources(g, np.array([[0, 99]]))


# --- concatenation and Ray ---------------------------------------------------------------------
def _assert_same(a: Candidates, b: Candidates) -> None:
    for f in ("src", "cand", "cn", "origin", "sources", "work"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    np.testing.assert_allclose(a.aa, b.aa, rtol=1e-12)
    np.testing.assert_allclose(a.score, b.score, rtol=1e-12)


def test_concat_candidates_equals_single_process():
    g = _random_graph()
    sources = np.arange(g.n_nodes)
    whole = fof_candidates(g, sources, k=10, hub_cap=5)
    parts = [fof_candidates(g, s, k=10, hub_cap=5) for s in split_sources(sources, 3)]
    _assert_same(concat_candidates(parts), whole)
    with pytest.raises(ValueError, match="disjoint"):
        concat_candidates([parts[0], parts[0]])
    with pytest.raises(TypeError, match="Candidates"):
        concat_candidates([])


def test_ray_functions_need_ray_started():
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("Ray is running in this process")
    with pytest.raises(RuntimeError, match=r"ray\.init"):
        ray_map_shards(fof_candidates, _two_cliques(), [np.arange(3)])


@pytest.fixture(scope="module")
def ray_local():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_map_shards_matches_single_process(ray_local):
    g = _random_graph(200, 0.04)
    sources = np.arange(g.n_nodes)
    whole = fof_candidates(g, sources, k=20, hub_cap=8)
    ref = ray_local.put(g)
    for n_shards, cpus, flight in ((1, 2.0, None), (4, 1.0, None), (5, 1.0, 1)):
        shards = split_sources(sources, n_shards)
        parts = ray_map_shards(
            fof_candidates, ref, shards, cpus_per_task=cpus, max_in_flight=flight, k=20, hub_cap=8
        )
        _assert_same(concat_candidates(parts), whole)
    # a graph (not a reference) is put by the call itself
    parts = ray_map_shards(fof_candidates, g, split_sources(sources, 2), k=20, hub_cap=8)
    _assert_same(concat_candidates(parts), whole)
    assert 0 < time_empty_tasks(5, repeats=1) < 5.0


def test_ray_map_shards_bad_input(ray_local):
    g = _two_cliques()
    with pytest.raises(TypeError, match="fn"):
        ray_map_shards("fof", g, [np.arange(3)])
    with pytest.raises(ValueError, match="shards"):
        ray_map_shards(fof_candidates, g, [])
    with pytest.raises(ValueError, match="cpus_per_task"):
        ray_map_shards(fof_candidates, g, [np.arange(3)], cpus_per_task=0)
    with pytest.raises(ValueError, match="max_in_flight"):
        ray_map_shards(fof_candidates, g, [np.arange(3)], max_in_flight=0)
    with pytest.raises(ValueError, match="n_tasks"):
        time_empty_tasks(0)
