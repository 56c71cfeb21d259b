"""Tests for utils.graph.benchmark: the registry, one run, the benchmark table and its summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.graph import CSRGraph, adamic_adar, evaluate_link_prediction
from utils.graph.benchmark import (
    METHODS,
    beats_beyond_spread,
    method_names,
    run_benchmark,
    run_method,
    summarize,
)
from utils.graph.splits import Phase


def small_phase(seed: int = 0) -> Phase:
    """Planted troupes: dense inside, sparse across; 30% of the ties held out as targets."""
    rng = np.random.default_rng(seed)
    n, groups = 80, 5
    g = np.arange(n) % groups
    iu, iv = np.triu_indices(n, k=1)
    keep = rng.random(len(iu)) < np.where(g[iu] == g[iv], 0.4, 0.01)
    e = np.stack([iu[keep], iv[keep]], axis=1)
    held = rng.random(len(e)) < 0.3
    graph = CSRGraph.from_edges(e[~held, 0], e[~held, 1], n)
    return Phase("test", graph, e[held], 2010)


def test_registry_names_every_method_of_the_part():
    for name in ("common_neighbours", "adamic_adar", "resource_allocation", "ppr", "node2vec"):
        assert name in METHODS
    for name in ("gcn", "graphsage", "gat", "structural"):
        assert name in METHODS
    assert method_names("heuristic") == [n for n, m in METHODS.items() if m.family == "heuristic"]
    assert all(not METHODS[n].seeded for n in method_names("heuristic"))
    with pytest.raises(ValueError, match="family"):
        method_names("magic")


def test_run_method_matches_the_evaluator():
    phase = small_phase()
    row = run_method("adamic_adar", phase, seed=0, k=10)
    ref = evaluate_link_prediction(adamic_adar(phase.graph), phase.graph, phase.targets, k=10)
    assert row["hits@10"] == ref["hits@10"] and row["mrr"] == ref["mrr"]
    assert row["recall@10"] == ref["recall@10"]
    assert row["method"] == "adamic_adar" and row["family"] == "heuristic"
    assert row["fit_s"] >= 0 and row["score_s"] > 0
    # Adamic-Adar's state is two sparse matrices over the graph's ties: at least the ties' ids
    assert row["state_mb"] * 1e6 >= phase.graph.indices.size * 4


def test_bad_input_is_named():
    phase = small_phase()
    with pytest.raises(ValueError, match="method"):
        run_method("seal", phase)
    with pytest.raises(TypeError, match="phase"):
        run_method("adamic_adar", object())
    with pytest.raises(TypeError, match="seed"):
        run_method("adamic_adar", phase, seed=0.5)
    with pytest.raises(ValueError, match="x"):
        run_method("adamic_adar", phase, x=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="x"):
        run_method("gat", phase, x=None)
    with pytest.raises(ValueError, match="methods"):
        run_benchmark(phase, methods=[])
    with pytest.raises(ValueError, match="overrides"):
        run_benchmark(phase, methods=["adamic_adar"], overrides={"katz": {}})
    with pytest.raises(ValueError, match="seeds"):
        run_benchmark(phase, methods=["adamic_adar"], seeds=[])


def test_benchmark_runs_heuristics_once_and_summarises():
    phase = small_phase()
    res = run_benchmark(
        phase, methods=["common_neighbours", "adamic_adar", "katz"], seeds=(0, 1), k=10
    )
    assert list(res["method"]) == ["common_neighbours", "adamic_adar", "katz"]  # once each
    summ = summarize(res, k=10)
    assert set(summ.index) == {"common_neighbours", "adamic_adar", "katz"}
    assert (summ["hits@10_std"] == 0).all() and (summ["runs"] == 1).all()
    assert summ["hits@10_mean"].is_monotonic_decreasing
    # planted troupes: every heuristic is far above a random ranking (about 10 / 60 per target)
    assert summ["hits@10_mean"].min() > 0.5
    with pytest.raises(ValueError, match="results"):
        summarize(pd.DataFrame({"method": []}))


def test_beats_beyond_spread_is_range_separation():
    res = pd.DataFrame({"method": ["a", "a", "a", "b"], "hits@20": [0.50, 0.52, 0.55, 0.45]})
    ok, margin = beats_beyond_spread(res, "a", "b")
    assert ok and margin == pytest.approx(0.05)
    ok, margin = beats_beyond_spread(res, "b", "a")
    assert not ok and margin == pytest.approx(-0.10)
    with pytest.raises(ValueError, match="method"):
        beats_beyond_spread(res, "a", "c")
    with pytest.raises(ValueError, match="metric"):
        beats_beyond_spread(res, "a", "b", metric="auc")


def test_structural_is_seeded_and_deterministic_per_seed(monkeypatch):
    # the registry passes (phase, x, seed, **overrides) through to fit_structural
    calls = []

    def fake(phase, x, seed, **kw):
        calls.append((seed, kw))
        return lambda s: np.tile(phase.graph.degree().astype(float), (len(s), 1))

    monkeypatch.setattr("utils.graph.linkpred.fit_structural", fake)
    phase = small_phase()
    res = run_benchmark(
        phase, methods=["structural"], seeds=(0, 1, 2), k=10, overrides={"structural": {"a": 1}}
    )
    assert [c[0] for c in calls] == [0, 1, 2] and calls[0][1] == {"a": 1}
    assert res["hits@10"].nunique() == 1  # the fake is seed-independent


def test_evaluate_sources_equals_the_evaluator_on_all_sources_and_samples():
    from utils.graph.benchmark import evaluate_sources, sample_sources

    phase = small_phase()
    fn = adamic_adar(phase.graph)
    full = evaluate_link_prediction(fn, phase.graph, phase.targets, k=10)
    every = sample_sources(phase, 10_000)
    ours = evaluate_sources(fn, phase, every, k=10, batch_size=7)
    for key in ("hits@10", "recall@10", "mrr", "n_sources", "n_targets"):
        assert ours[key] == pytest.approx(full[key], rel=1e-12), key
    part = sample_sources(phase, 20, seed=1)
    assert len(part) == 20 and np.all(np.diff(part) > 0)
    np.testing.assert_array_equal(part, sample_sources(phase, 20, seed=1))
    sub = evaluate_sources(fn, phase, part, k=10)
    assert sub["n_sources"] == 20
    row = run_method("adamic_adar", phase, k=10, sources=part)
    assert row["hits@10"] == sub["hits@10"] and row["n_sources"] == 20
    with pytest.raises(ValueError, match="n"):
        sample_sources(phase, 0)
    with pytest.raises(ValueError, match="sources"):
        evaluate_sources(fn, phase, np.array([], dtype=np.int64))


def test_parallel_workers_give_the_same_rows_as_one_process():
    phase = small_phase()
    x = np.random.default_rng(0).normal(size=(phase.graph.n_nodes, 4)).astype(np.float32)
    kw = {
        "methods": ["adamic_adar", "gcn"],
        "seeds": (0, 1),
        "k": 10,
        "overrides": {"gcn": {"epochs": 5}},
    }
    serial = run_benchmark(phase, x, **kw)
    parallel = run_benchmark(phase, x, n_jobs=2, **kw)
    cols = ["method", "seed", "hits@10", "recall@10", "mrr"]
    pd.testing.assert_frame_equal(serial[cols], parallel[cols])
    with pytest.raises(ValueError, match="n_jobs"):
        run_benchmark(phase, methods=["adamic_adar"], n_jobs=0)


def test_in_workers_keeps_order_and_equals_one_process():
    from utils.graph.benchmark import in_workers

    calls = [{"start": i, "stop": 10, "num": 3} for i in range(5)]
    got = in_workers(np.linspace, calls, n_jobs=2)
    assert [g.tolist() for g in got] == [np.linspace(i, 10, 3).tolist() for i in range(5)]
    with pytest.raises(ValueError, match="n_jobs"):
        in_workers(np.linspace, calls, n_jobs=0)
