"""utils.graph.gcn: our GCN layer against torch_geometric's, the normalised adjacency against its
dense formula, the over-smoothing probes against brute force, and the argument checks."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.nn import GCNConv as PyGGCNConv

from utils.graph.gcn import (
    GCNConv,
    GCNEncoder,
    dirichlet_energy,
    gcn_layer_flops,
    mean_pairwise_cosine,
    normalized_adjacency,
    propagation_smoothing,
)


def karate_edge_index() -> torch.Tensor:
    g = nx.karate_club_graph()
    e = np.array(g.edges()).T
    return torch.from_numpy(np.concatenate([e, e[::-1]], axis=1).astype(np.int64))


def small_graph() -> tuple[torch.Tensor, int]:
    """7 nodes: a path 0-1-2-3-4, a triangle 0-5 (with 5's self-loop), node 6 isolated."""
    und = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5)]
    src = [u for u, v in und] + [v for u, v in und] + [5]
    dst = [v for u, v in und] + [u for u, v in und] + [5]
    return torch.tensor([src, dst], dtype=torch.int64), 7


def copy_weights(ours: GCNConv, ref: PyGGCNConv) -> None:
    with torch.no_grad():
        ref.lin.weight.copy_(ours.lin.weight)
        ours.bias.copy_(torch.randn(ours.out_dim))
        ref.bias.copy_(ours.bias)


# ---- the layer against torch_geometric -------------------------------------------------------
@pytest.mark.parametrize("graph", ["small", "karate", "directed"])
def test_gcnconv_matches_torch_geometric(graph: str) -> None:
    torch.manual_seed(0)
    if graph == "small":
        ei, n = small_graph()
    elif graph == "karate":
        ei, n = karate_edge_index(), 34
    else:  # one direction only: degrees are in-degrees at the target, as in PyG
        ei, n = torch.tensor([[0, 1, 2, 3, 0], [1, 2, 3, 0, 2]]), 5
    x = torch.randn(n, 6)
    ours, ref = GCNConv(6, 4), PyGGCNConv(6, 4)
    copy_weights(ours, ref)
    torch.testing.assert_close(ours(x, ei), ref(x, ei), atol=1e-5, rtol=1e-5)
    # and from a precomputed adjacency
    torch.testing.assert_close(
        ours(x, normalized_adjacency(ei, n)), ref(x, ei), atol=1e-5, rtol=1e-5
    )


def test_gcnconv_gradients_match_torch_geometric() -> None:
    torch.manual_seed(1)
    ei, n = karate_edge_index(), 34
    x = torch.randn(n, 5)
    ours, ref = GCNConv(5, 3), PyGGCNConv(5, 3)
    copy_weights(ours, ref)
    (ours(x, ei) ** 2).sum().backward()
    (ref(x, ei) ** 2).sum().backward()
    torch.testing.assert_close(ours.lin.weight.grad, ref.lin.weight.grad, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(ours.bias.grad, ref.bias.grad, atol=1e-4, rtol=1e-5)


def test_encoder_matches_stack_of_torch_geometric_layers() -> None:
    torch.manual_seed(2)
    ei, n = karate_edge_index(), 34
    x = torch.randn(n, 8)
    enc = GCNEncoder(8, hidden_dim=16, n_layers=3, out_dim=4).eval()
    refs = [PyGGCNConv(a, b) for a, b in ((8, 16), (16, 16), (16, 4))]
    for conv, ref in zip(enc.convs, refs, strict=True):
        copy_weights(conv, ref)
    h = x
    for i, ref in enumerate(refs):
        h = ref(h, ei)
        h = torch.relu(h) if i < 2 else h
    torch.testing.assert_close(enc(x, ei), h, atol=1e-5, rtol=1e-5)
    outs = enc.layer_outputs(x, ei)
    assert [tuple(o.shape) for o in outs] == [(n, 16), (n, 16), (n, 4)]


# ---- normalised adjacency ------------------------------------------------------------------
def test_normalized_adjacency_equals_dense_formula() -> None:
    ei, n = small_graph()
    a = np.zeros((n, n))
    for s, t in ei.T.tolist():
        if s != t:
            a[t, s] = 1.0
    a_tilde = a + np.eye(n)  # node 5's own self-loop is replaced, not doubled
    d = a_tilde.sum(axis=1)
    expected = a_tilde / np.sqrt(np.outer(d, d))
    got = normalized_adjacency(ei, n).to_dense().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-7)
    # isolated node 6: only its self-loop, weight 1
    assert got[6, 6] == pytest.approx(1.0)
    # symmetric, eigenvalues in (-1, 1] with 1 attained (the renormalisation trick)
    np.testing.assert_allclose(got, got.T, atol=1e-7)
    eig = np.linalg.eigvalsh(got)
    assert eig.max() == pytest.approx(1.0, abs=1e-6) and eig.min() > -1.0


def test_without_self_loops_spectrum_reaches_minus_one_on_bipartite_graph() -> None:
    # D^-1/2 A D^-1/2 on a bipartite graph has eigenvalue -1; I + that has eigenvalues in [0, 2]
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    a = normalized_adjacency(ei, 4, add_self_loops=False).to_dense().numpy()
    eig = np.linalg.eigvalsh(a)
    assert eig.min() == pytest.approx(-1.0, abs=1e-6)
    eig_renorm = np.linalg.eigvalsh(normalized_adjacency(ei, 4).to_dense().numpy())
    assert eig_renorm.min() > -1.0 + 1e-3


def test_encoder_caches_adjacency_per_edge_index_object() -> None:
    ei, n = small_graph()
    enc = GCNEncoder(3, hidden_dim=4, n_layers=2)
    x = torch.randn(n, 3)
    enc(x, ei)
    first = enc._cache[1]
    enc(x, ei)
    assert enc._cache[1] is first
    ei2 = ei[:, :4].clone()
    enc(x, ei2)
    assert enc._cache[1] is not first


def test_encoder_with_learnable_embeddings_only_and_both() -> None:
    ei, n = small_graph()
    enc = GCNEncoder(0, hidden_dim=4, n_layers=2, n_nodes=n, emb_dim=5)
    z = enc(torch.zeros(n, 0), ei)
    assert z.shape == (n, 4)
    z.sum().backward()
    assert enc.emb.weight.grad is not None and enc.emb.weight.grad.abs().sum() > 0
    enc2 = GCNEncoder(3, hidden_dim=4, n_layers=1, n_nodes=n, emb_dim=5)
    assert enc2.convs[0].in_dim == 8
    assert enc2(np.ones((n, 3), dtype=np.float32), ei.numpy()).shape == (n, 4)


def test_parameter_count_independent_of_graph_size() -> None:
    enc = GCNEncoder(10, hidden_dim=16, n_layers=2)
    n_params = sum(p.numel() for p in enc.parameters())
    assert n_params == 10 * 16 + 16 + 16 * 16 + 16
    for n in (5, 50):
        ei = torch.tensor([[0, 1], [1, 0]])
        assert enc(torch.randn(n, 10), ei).shape == (n, 16)


# ---- over-smoothing probes -----------------------------------------------------------------
def test_mean_pairwise_cosine_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(30, 4))
    z[3] = 0.0  # a dead row is left out
    keep = [i for i in range(30) if i != 3]
    u = z[keep] / np.linalg.norm(z[keep], axis=1, keepdims=True)
    brute = np.mean([u[i] @ u[j] for i, j in itertools.permutations(range(len(keep)), 2)])
    assert mean_pairwise_cosine(z) == pytest.approx(brute, abs=1e-12)
    assert mean_pairwise_cosine(np.tile([[1.0, 2.0]], (5, 1)) * np.arange(1, 6)[:, None]) == (
        pytest.approx(1.0)
    )
    assert mean_pairwise_cosine(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(-1.0)


def test_dirichlet_energy_matches_edge_sum() -> None:
    rng = np.random.default_rng(1)
    ei = karate_edge_index()
    n = 34
    z = rng.normal(size=(n, 3))
    deg = np.bincount(ei[1].numpy(), minlength=n)
    edge_sum = 0.5 * sum(
        np.sum((z[i] / np.sqrt(1 + deg[i]) - z[j] / np.sqrt(1 + deg[j])) ** 2)
        for j, i in ei.T.tolist()
    )
    assert dirichlet_energy(z, ei) == pytest.approx(edge_sum, rel=1e-10)
    assert dirichlet_energy(z, ei, relative=True) == pytest.approx(
        edge_sum / (z**2).sum(), rel=1e-10
    )
    # zero on the fixed point of propagation: rows sqrt(1 + d_i) times one vector
    fixed = np.sqrt(1 + deg)[:, None] * np.array([[0.3, -1.0, 2.0]])
    assert dirichlet_energy(fixed, ei) == pytest.approx(0.0, abs=1e-9)


def test_propagation_smoothing_converges_on_connected_graph() -> None:
    rng = np.random.default_rng(2)
    ei = karate_edge_index()
    x = rng.normal(size=(34, 8))
    rows = propagation_smoothing(x, ei, [0, 1, 2, 8, 64])
    assert [r["depth"] for r in rows] == [0, 1, 2, 8, 64]
    assert abs(rows[0]["mean_cosine"]) < 0.2
    assert rows[-1]["mean_cosine"] > 0.99
    assert rows[-1]["relative_energy"] < 1e-3 < rows[0]["relative_energy"]
    assert rows[1]["relative_energy"] < rows[0]["relative_energy"]


def test_gcn_layer_flops() -> None:
    f = gcn_layer_flops(100, 1000, 16, 8)
    assert f["dense_transform"] == 100 * 16 * 8
    assert f["sparse_propagate"] == (1000 + 100) * 8
    assert f["total"] == f["dense_transform"] + f["sparse_propagate"]


# ---- bad input -----------------------------------------------------------------------------
def test_bad_input_names_the_argument() -> None:
    ei, n = small_graph()
    with pytest.raises(ValueError, match="edge_index"):
        normalized_adjacency(torch.tensor([0, 1, 2]), 3)
    with pytest.raises(ValueError, match="outside"):
        normalized_adjacency(ei, 4)
    with pytest.raises(TypeError, match="edge_index"):
        normalized_adjacency(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), 2)
    with pytest.raises(ValueError, match="n_nodes"):
        normalized_adjacency(ei, 0)
    with pytest.raises(ValueError, match="columns"):
        GCNConv(3, 2)(torch.randn(n, 4), ei)
    with pytest.raises(ValueError, match="in_dim"):
        GCNConv(0, 2)
    with pytest.raises(ValueError, match="n_layers"):
        GCNEncoder(3, n_layers=0)
    with pytest.raises(ValueError, match="n_nodes"):
        GCNEncoder(3, emb_dim=4)
    with pytest.raises(ValueError, match="no input"):
        GCNEncoder(0)
    with pytest.raises(ValueError, match="dropout"):
        GCNEncoder(3, dropout=1.0)
    with pytest.raises(ValueError, match="NaN"):
        GCNConv(2, 2)(torch.tensor([[float("nan"), 0.0]] * n), ei)
    with pytest.raises(ValueError, match="two non-zero rows"):
        mean_pairwise_cosine(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="z must be"):
        mean_pairwise_cosine(np.zeros(4))
    with pytest.raises(ValueError, match="n_nodes"):
        dirichlet_energy(np.ones((3, 2)), ei, n_nodes=7)
    with pytest.raises(ValueError, match="depths"):
        propagation_smoothing(np.ones((n, 2)), ei, [2, 1])
    with pytest.raises(ValueError, match="n_edges"):
        gcn_layer_flops(10, -1, 2, 2)


# ---- the benchmark entry point -------------------------------------------------------------
def tiny_phase():
    import pandas as pd

    from utils.graph import temporal_link_split

    g = nx.karate_club_graph()
    rng = np.random.default_rng(0)
    edges = np.array(sorted(g.edges()))
    born = rng.choice([2000, 2008, 2011], size=len(edges), p=[0.7, 0.1, 0.2])
    ties = pd.DataFrame({"u": edges[:, 0], "v": edges[:, 1], "born": born})
    return temporal_link_split(ties, 34).phase("test")


def test_fit_gcn_returns_a_score_fn_that_beats_chance() -> None:
    from utils.graph import evaluate_link_prediction
    from utils.graph.gcn import GCN_DEFAULTS, fit_gcn, train_gcn

    phase = tiny_phase()
    x = np.random.default_rng(1).normal(size=(34, 5)).astype(np.float32)
    score = fit_gcn(phase, x, seed=0, epochs=60, inputs="features", n_layers=2)
    s = score(np.array([0, 1]))
    assert s.shape == (2, 34) and np.isfinite(s).all()
    m = evaluate_link_prediction(score, phase.graph, phase.targets, k=5)
    chance = evaluate_link_prediction(
        lambda src: np.random.default_rng(0).random((len(src), 34)), phase.graph, phase.targets, k=5
    )
    assert m["mrr"] > chance["mrr"], (m, chance)
    # same seed, same scores; embedding-only needs no features
    again = fit_gcn(phase, x, seed=0, epochs=60, inputs="features", n_layers=2)
    np.testing.assert_allclose(again(np.array([0])), score(np.array([0])))
    assert fit_gcn(phase, x, seed=0, epochs=5)(np.array([0])).shape == (1, 34)  # the defaults
    enc, xt = train_gcn(phase, None, seed=0, inputs="embedding", epochs=5)
    assert xt.shape == (34, 0) and enc.emb is not None
    assert set(GCN_DEFAULTS) >= {"inputs", "n_layers", "epochs", "lr"}
    with pytest.raises(ValueError, match="x is required"):
        fit_gcn(phase, None, inputs="features")
    with pytest.raises(TypeError, match="unknown hyperparameter"):
        fit_gcn(phase, x, n_layer=3)
    with pytest.raises(ValueError, match="inputs"):
        fit_gcn(phase, x, inputs="ids")
    with pytest.raises(ValueError, match="rows"):
        fit_gcn(phase, x[:10])
    with pytest.raises(TypeError, match="phase"):
        fit_gcn("test", x)


def test_propagation_smoothing_nodes_restricts_the_cosine() -> None:
    # two components: a karate club and a separate edge; all rows vs the club's rows only
    ei = karate_edge_index()
    ei = torch.cat([ei, torch.tensor([[34, 35], [35, 34]])], dim=1)
    x = np.random.default_rng(3).normal(size=(36, 4))
    d_tilde = 1 + np.bincount(ei[1].numpy(), minlength=36)[:34]
    x[34:] = -(np.sqrt(d_tilde) @ x[:34])  # the small component points opposite the club's limit
    club = propagation_smoothing(x, ei, [64], nodes=np.arange(34))[0]["mean_cosine"]
    everyone = propagation_smoothing(x, ei, [64])[0]["mean_cosine"]
    assert club > 0.99 > everyone
    with pytest.raises(ValueError, match="nodes"):
        propagation_smoothing(x, ei, [1], nodes=np.array([40]))
