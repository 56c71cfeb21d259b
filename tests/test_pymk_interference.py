"""Tests for utils.pymk.interference: segment metrics, graph clusters and the A/B simulator."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from utils.graph import CSRGraph
from utils.metrics import bootstrap_ci
from utils.pymk.interference import (
    InterferenceSimulator,
    assign,
    cluster_se,
    cluster_stats,
    degree_baseline,
    design_summary,
    difference_in_means,
    first_order_estimand,
    graph_clusters,
    iid_se,
    member_segments,
    members_with_ties,
    paired_segment_difference,
    run_design,
    segment_report,
)


def cliques(n_cliques: int = 6, size: int = 8, bridges: bool = True) -> CSRGraph:
    """Cliques in a ring, joined by one bridge edge each (when ``bridges``)."""
    src, dst = [], []
    for c in range(n_cliques):
        base = c * size
        for i in range(size):
            for j in range(i + 1, size):
                src.append(base + i)
                dst.append(base + j)
        if bridges:
            src.append(base)
            dst.append(((c + 1) % n_cliques) * size + 1)
    return CSRGraph.from_edges(src, dst, n_cliques * size)


def planted(seed: int = 0, n: int = 600, groups: int = 30, p_in: float = 0.3, p_out=0.002):
    g = nx.planted_partition_graph(groups, n // groups, p_in, p_out, seed=seed)
    e = np.array(g.edges(), dtype=np.int64)
    return CSRGraph.from_edges(e[:, 0], e[:, 1], n)


# ---------------------------------------------------------------------------------- segments


def test_member_segments_flags_and_overlap():
    seg = member_segments([1, 2, 3, 50, 40, 0], [2009, 1990, np.nan, 2005, 2004, 2008])
    assert list(seg.columns) == ["all", "new", "low_degree", "hub"]
    assert seg["all"].all()
    assert seg["new"].tolist() == [True, False, False, True, False, True]
    assert seg["low_degree"].tolist() == [True, True, False, False, False, True]
    assert seg["hub"].tolist() == [False, False, False, True, True, False]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"degree": [1, 2], "debut_year": [2000]}, "debut_year"),
        ({"degree": [-1], "debut_year": [2000]}, "degree"),
        ({"degree": [1], "debut_year": [2000], "hub_min": 2}, "hub_min"),
        ({"degree": [1], "debut_year": [2000], "low_max": -1}, "low_max"),
        ({"degree": [], "debut_year": []}, "degree"),
    ],
)
def test_member_segments_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        member_segments(**kwargs)


def _per_source(values: dict[int, float], metric: str = "hits@10") -> pd.DataFrame:
    return pd.DataFrame({metric: list(values.values())}, index=list(values.keys()))


def test_segment_report_matches_bootstrap_and_skips_empty():
    seg = member_segments([1, 1, 60, 5, 5], [2009, 2000, 2000, 2000, 2000])
    per = _per_source({0: 1.0, 1: 0.0, 2: 1.0, 3: 0.0})  # node 4 has no targets
    rep = segment_report({"aa": per}, seg, metrics=("hits@10",), n_boot=200)
    assert rep.set_index("segment")["n_sources"].to_dict() == {
        "all": 4,
        "new": 1,
        "low_degree": 2,
        "hub": 1,
    }
    row = rep.set_index("segment").loc["low_degree"]
    assert (row["mean"], row["low"], row["high"]) == bootstrap_ci([1.0, 0.0], n_boot=200)
    seg.loc[:, "hub"] = False
    rep = segment_report({"aa": per}, seg, metrics=("hits@10",), n_boot=50)
    assert "hub" not in set(rep["segment"])


def test_segment_report_bad_input():
    seg = member_segments([1, 2], [2000, 2000])
    per = _per_source({0: 1.0, 1: 0.0})
    with pytest.raises(TypeError, match="per_source"):
        segment_report({}, seg)
    with pytest.raises(ValueError, match="metric"):
        segment_report({"aa": per}, seg, metrics=("recall@10",))
    with pytest.raises(ValueError, match="segments"):
        segment_report({"aa": _per_source({5: 1.0})}, seg, metrics=("hits@10",))


def test_paired_difference_zero_and_shift():
    seg = member_segments([1, 1, 60, 5], [2009, 2000, 2000, 2000])
    a = _per_source({0: 1.0, 1: 0.0, 2: 1.0, 3: 0.5})
    same = paired_segment_difference(a, a, seg, n_boot=100)
    assert np.allclose(same[["diff", "low", "high"]].to_numpy(), 0.0)
    b = a - 0.25
    shift = paired_segment_difference(a, b, seg, n_boot=100)
    assert np.allclose(shift["diff"], 0.25)
    with pytest.raises(ValueError, match="no source in common"):
        paired_segment_difference(a, _per_source({7: 1.0}), member_segments([1] * 8, [2000] * 8))


# ---------------------------------------------------------------------------------- clusters


@pytest.mark.parametrize("method", ["louvain", "label_propagation"])
def test_graph_clusters_find_disconnected_cliques(method):
    g = cliques(bridges=False)
    lab = graph_clusters(g, method=method, seed=0)
    assert lab.shape == (g.n_nodes,)
    assert len(np.unique(lab)) == 6
    for c in range(6):
        assert len(np.unique(lab[c * 8 : (c + 1) * 8])) == 1
    stats = cluster_stats(g, lab)
    assert stats == {"n_clusters": 6, "edges_cut": 0.0, "largest_share": 1 / 6, "own_share": 1.0}


def test_graph_clusters_seeded_and_resolution():
    g = planted()
    a, b = graph_clusters(g, seed=3), graph_clusters(g, seed=3)
    assert np.array_equal(a, b)
    coarse = cluster_stats(g, graph_clusters(g, seed=0, resolution=0.05))
    fine = cluster_stats(g, graph_clusters(g, seed=0, resolution=5.0))
    assert fine["n_clusters"] > coarse["n_clusters"]
    assert fine["edges_cut"] > coarse["edges_cut"]


def test_cluster_stats_counts_cut_edges_by_hand():
    g = CSRGraph.from_edges([0, 1, 2], [1, 2, 3], 4)  # a path 0-1-2-3
    stats = cluster_stats(g, np.array([0, 0, 1, 1]))
    assert stats["edges_cut"] == pytest.approx(1 / 3)
    # f = (1, 1/2, 1/2, 1): node 1 has neighbours 0 (same) and 2 (other).
    assert stats["own_share"] == pytest.approx(0.75)


def test_cluster_bad_input():
    g = cliques()
    with pytest.raises(ValueError, match="method"):
        graph_clusters(g, method="spectral")
    with pytest.raises(ValueError, match="resolution"):
        graph_clusters(g, resolution=0)
    with pytest.raises(TypeError, match="graph"):
        graph_clusters(np.eye(3))
    with pytest.raises(ValueError, match="labels"):
        cluster_stats(g, np.zeros(3, dtype=int))
    with pytest.raises(TypeError, match="labels"):
        cluster_stats(g, np.zeros(g.n_nodes))


# ---------------------------------------------------------------------------------- simulator


def test_members_with_ties_and_degree_baseline():
    g = CSRGraph.from_edges([0, 3], [3, 5], 7)
    sub, kept = members_with_ties(g)
    assert kept.tolist() == [0, 3, 5]
    assert sub.n_edges == 2 and sub.degree().tolist() == [1, 2, 1]
    base = degree_baseline([1, 1, 2, 3, 4, 9], [0, 2, 4, 6, 10, 7], max_bucket=2)
    # buckets floor(log2 d) capped at 2: (0, 0, 1, 1, 2, 2)
    assert base.tolist() == [1.0, 1.0, 5.0, 5.0, 8.5, 8.5]
    with pytest.raises(ValueError, match="degree"):
        degree_baseline([0, 1], [1, 1])
    with pytest.raises(ValueError, match="counts"):
        degree_baseline([1, 1], [1])


def test_exposure_and_expected_outcome_by_hand():
    g = CSRGraph.from_edges([0, 0, 1], [1, 2, 2], 4)  # a triangle and isolated node 3
    sim = InterferenceSimulator(g, np.array([1.0, 2.0, 3.0, 4.0]), direct=0.5, spill=0.2)
    z = np.array([1, 0, 0, 1])
    assert np.allclose(sim.exposure(z), [0.0, 0.5, 0.5, 0.0])
    assert np.allclose(sim.expected_outcome(z), [1.5, 2.2, 3.3, 6.0])
    zz = np.stack([z, 1 - z])
    assert np.allclose(sim.exposure(zz)[1], [1.0, 0.5, 0.5, 0.0])


def test_total_effect_is_all_minus_none():
    g = planted(n=120, groups=6)
    rng = np.random.default_rng(0)
    sim = InterferenceSimulator(g, rng.gamma(2.0, 1.0, g.n_nodes), direct=0.1, spill=0.3)
    ones, zeros = np.ones(g.n_nodes, int), np.zeros(g.n_nodes, int)
    gap = (sim.expected_outcome(ones) - sim.expected_outcome(zeros)).mean()
    assert sim.total_effect == pytest.approx(gap)
    assert first_order_estimand(sim) == pytest.approx(0.1 * sim.mu0.mean())
    one_cluster = np.zeros(g.n_nodes, dtype=np.int64)
    assert first_order_estimand(sim, one_cluster) == pytest.approx(sim.total_effect)


def test_simulator_bad_input():
    g = cliques()
    mu = np.ones(g.n_nodes)
    with pytest.raises(ValueError, match="mu0"):
        InterferenceSimulator(g, mu[:-1], 0.1, 0.1)
    with pytest.raises(ValueError, match="mu0"):
        InterferenceSimulator(g, -mu, 0.1, 0.1)
    with pytest.raises(ValueError, match="direct"):
        InterferenceSimulator(g, mu, -1.5, 0.1)
    with pytest.raises(TypeError, match="spill"):
        InterferenceSimulator(g, mu, 0.1, "big")
    sim = InterferenceSimulator(g, mu, 0.1, 0.1)
    with pytest.raises(ValueError, match="z"):
        sim.exposure(np.ones(3))
    with pytest.raises(ValueError, match="z"):
        sim.exposure(np.full(g.n_nodes, 2))
    with pytest.raises(TypeError, match="rng"):
        sim.sample(np.ones(g.n_nodes, int), rng=0)


def test_assign_member_and_cluster():
    rng = np.random.default_rng(0)
    z = assign(1000, 20, rng)
    assert z.shape == (20, 1000) and 0.45 < z.mean() < 0.55
    lab = np.repeat(np.arange(10), 5)
    zc = assign(50, 30, rng, labels=lab)
    per_cluster = zc.reshape(30, 10, 5)
    assert (per_cluster.all(2) | ~per_cluster.any(2)).all()  # constant within clusters
    assert (per_cluster[:, :, 0].sum(1) == 5).all()  # exactly half the clusters treated
    with pytest.raises(ValueError, match="share"):
        assign(10, 1, rng, share=1.0)
    with pytest.raises(ValueError, match="labels"):
        assign(10, 1, rng, labels=np.zeros(10, dtype=int))
    with pytest.raises(TypeError, match="n_reps"):
        assign(10, 1.5, rng)


def test_difference_and_standard_errors():
    y = np.array([[1.0, 2.0, 3.0, 4.0, 10.0, 0.0]])
    z = np.array([[1, 1, 1, 0, 0, 0]], dtype=bool)
    assert difference_in_means(y, z)[0] == pytest.approx(2.0 - 14 / 3)
    se = np.sqrt(np.var([1, 2, 3], ddof=1) / 3 + np.var([4, 10, 0], ddof=1) / 3)
    assert iid_se(y, z)[0] == pytest.approx(se)
    # One member per cluster: the CR1 cluster-robust SE is the iid SE.
    assert cluster_se(y, z, np.arange(6))[0] == pytest.approx(se)
    with pytest.raises(ValueError, match="constant within each cluster"):
        cluster_se(y, z, np.array([0, 0, 1, 1, 2, 2]))
    with pytest.raises(ValueError, match="shapes differ"):
        difference_in_means(y, z[:, :3])
    with pytest.raises(ValueError, match="treated and control"):
        difference_in_means(y, np.ones_like(z))


def test_cluster_se_by_hand():
    y = np.array([[1.0, 3.0, 2.0, 2.0, 5.0, 7.0, 0.0, 0.0]])
    lab = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    z = np.isin(lab, [0, 1])[None, :]
    # Treated clusters: totals (4, 4), sizes (2, 2), mean 2; control: totals (12, 0), mean 3.
    var_t = 2 / 1 * ((4 - 4) ** 2 + (4 - 4) ** 2) / 4**2
    var_c = 2 / 1 * ((12 - 6) ** 2 + (0 - 6) ** 2) / 4**2
    assert cluster_se(y, z, lab)[0] == pytest.approx(np.sqrt(var_t + var_c))


def test_run_design_bias_of_member_randomisation():
    g = planted(seed=1)
    # Baselines that differ between communities: what makes clustered designs noisy.
    mu0 = np.repeat(np.random.default_rng(0).gamma(4.0, 1.25, 30), 20)
    sim = InterferenceSimulator(g, mu0, direct=0.1, spill=0.3)
    member = run_design(sim, "member", n_reps=300, seed=0)
    s = design_summary(member, sim.total_effect)
    mc = s["sd"] / np.sqrt(len(member))  # Monte Carlo error of the mean
    assert abs(s["mean"] - first_order_estimand(sim)) < 4 * mc
    assert s["bias"] < -0.2 * mu0.mean()  # misses most of the spill-over (0.3 * mean)
    lab = graph_clusters(g, seed=0)
    cluster = run_design(sim, "cluster", n_reps=300, seed=0, labels=lab)
    c = design_summary(cluster, sim.total_effect, se="se_cluster")
    mc = c["sd"] / np.sqrt(len(cluster))
    assert abs(c["mean"] - first_order_estimand(sim, lab)) < 4 * mc + 0.02
    assert abs(c["bias"]) < abs(s["bias"]) / 2
    assert c["sd"] > s["sd"]  # fewer independent units
    assert 0.8 <= c["mean_se"] / c["sd"] <= 1.2  # the cluster-robust SE is calibrated
    assert design_summary(cluster, sim.total_effect)["mean_se"] < 0.7 * c["sd"]  # iid is not
    again = run_design(sim, "cluster", n_reps=300, seed=0, labels=lab)
    pd.testing.assert_frame_equal(cluster, again)


def test_run_design_unbiased_without_spill():
    g = planted(seed=2)
    sim = InterferenceSimulator(g, np.full(g.n_nodes, 3.0), direct=0.2, spill=0.0)
    s = design_summary(run_design(sim, "member", n_reps=300, seed=1), sim.total_effect)
    assert abs(s["bias"]) < 4 * s["sd"] / np.sqrt(300)
    assert 0.9 <= s["coverage"] <= 0.99


def test_run_design_and_summary_bad_input():
    g = cliques()
    sim = InterferenceSimulator(g, np.ones(g.n_nodes), 0.1, 0.1)
    with pytest.raises(ValueError, match="design"):
        run_design(sim, "edge")
    with pytest.raises(ValueError, match="labels"):
        run_design(sim, "cluster")
    with pytest.raises(ValueError, match="labels"):
        run_design(sim, "member", labels=np.zeros(g.n_nodes, dtype=int))
    with pytest.raises(TypeError, match="sim"):
        run_design("sim", "member")
    res = pd.DataFrame({"estimate": [1.0, 2.0, 3.0], "se_iid": [0.1, 0.1, 2.0]})
    s = design_summary(res, 2.0)
    assert s["bias"] == 0.0 and s["coverage"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="se"):
        design_summary(res, 2.0, se="se_cluster")
    with pytest.raises(TypeError, match="results"):
        design_summary([1, 2], 2.0)
