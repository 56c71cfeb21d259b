"""Tests for utils.graph.wl: 1-WL colour refinement (against networkx) and GIN (against PyG)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from torch import nn

from utils.graph.wl import (
    GIN,
    GINLayer,
    aggregate,
    disjoint_union,
    wl_distinguishes,
    wl_histograms,
    wl_refine,
)


def ei_of(g: nx.Graph) -> tuple[np.ndarray, int]:
    g = nx.convert_node_labels_to_integers(g)
    e = np.array(list(g.edges()), dtype=np.int64).T.reshape(2, -1)
    return e, g.number_of_nodes()


def two_triangles() -> nx.Graph:
    return nx.disjoint_union(nx.cycle_graph(3), nx.cycle_graph(3))


def decalin() -> nx.Graph:  # two hexagons sharing an edge
    g = nx.cycle_graph(10)
    g.add_edge(0, 5)
    return g


def bicyclopentyl() -> nx.Graph:  # two pentagons joined by an edge
    g = nx.disjoint_union(nx.cycle_graph(5), nx.cycle_graph(5))
    g.add_edge(0, 5)
    return g


PAIRS = [
    (two_triangles(), nx.cycle_graph(6), False),
    (decalin(), bicyclopentyl(), False),
    (nx.circulant_graph(8, [1, 2]), nx.circulant_graph(8, [1, 3]), False),  # 4-regular, 8 nodes
    (nx.path_graph(4), nx.star_graph(3), True),
    (nx.cycle_graph(5), nx.path_graph(5), True),
    (nx.complete_graph(4), nx.cycle_graph(4), True),
]


@pytest.mark.parametrize(("a", "b", "expected"), PAIRS)
def test_wl_verdicts_match_networkx_hash(a, b, expected):
    ours = wl_distinguishes(ei_of(a), ei_of(b))
    h = max(a.number_of_nodes(), b.number_of_nodes())
    nx_diff = nx.weisfeiler_lehman_graph_hash(a, iterations=h) != nx.weisfeiler_lehman_graph_hash(
        b, iterations=h
    )
    assert ours == nx_diff == expected


def test_wl_verdicts_match_networkx_on_random_graphs():
    rng = np.random.default_rng(0)
    agree = 0
    for _ in range(40):
        n = int(rng.integers(4, 9))
        a = nx.gnp_random_graph(n, 0.4, seed=int(rng.integers(1 << 30)))
        b = nx.gnp_random_graph(n, 0.4, seed=int(rng.integers(1 << 30)))
        ours = wl_distinguishes(ei_of(a), ei_of(b), iterations=3)
        theirs = nx.weisfeiler_lehman_graph_hash(
            a, iterations=3
        ) != nx.weisfeiler_lehman_graph_hash(b, iterations=3)
        agree += ours == theirs
    assert agree == 40


def test_wl_is_invariant_to_node_order():
    g = decalin()
    perm = np.random.default_rng(1).permutation(10)
    h = nx.relabel_nodes(g, dict(enumerate(perm.tolist())))
    assert not wl_distinguishes(ei_of(g), (np.array(list(h.edges())).T, 10))


def test_wl_initial_labels_can_separate():
    # same shape, different node labels: WL with labels separates what it could not without
    e, n = ei_of(nx.cycle_graph(6))
    la = np.array([0, 1, 0, 1, 0, 1])
    lb = np.array([0, 0, 1, 1, 0, 1])
    assert not wl_distinguishes((e, n), (e, n))
    assert wl_distinguishes((e, n), (e, n), initial=(la, lb))


def test_wl_refine_stable_round_and_classes():
    e, n = ei_of(nx.path_graph(5))
    res = wl_refine(e, n)
    # classes of a 5-path: ends, next-to-ends, centre
    assert res.n_classes() == 3
    assert res.stable_round == 3
    assert res.final[0] == res.final[4] and res.final[1] == res.final[3]
    assert res.final[0] != res.final[2]
    fixed = wl_refine(e, n, iterations=1)
    assert len(fixed.colours) == 2 and fixed.n_classes() == 2


def test_wl_histograms_shared_palette():
    hist = wl_histograms([ei_of(two_triangles()), ei_of(nx.cycle_graph(6))])
    assert hist[0] == hist[1]
    assert hist[0][-1] == {0: 6}


def test_disjoint_union_offsets():
    ei, n, owner = disjoint_union([ei_of(nx.path_graph(3)), ei_of(nx.path_graph(2))])
    assert n == 5
    assert owner.tolist() == [0, 0, 0, 1, 1]
    assert ei.max() == 4 and {tuple(x) for x in ei.T.tolist()} >= {(3, 4)}


def test_wl_accepts_csrgraph_like():
    class G:
        n_nodes = 3

        def edge_index(self):
            return np.array([[0, 1, 1, 2], [1, 0, 2, 1]])

    assert wl_refine(G()).n_classes() == 2


@pytest.mark.parametrize(
    ("args", "err"),
    [
        ((np.array([[0, 1], [1, 5]]), 3), ValueError),
        ((np.array([0, 1, 2]), 3), ValueError),
        ((np.array([[0.0, 1.0], [1.0, 0.0]]), 2), TypeError),
        ((np.array([[0, 1], [1, 0]]), 0), ValueError),
        ((np.array([[0, 1], [1, 0]]), None), ValueError),
    ],
)
def test_wl_bad_input(args, err):
    with pytest.raises(err):
        wl_refine(*args)


def test_wl_bad_initial_and_iterations():
    e = np.array([[0], [1]])
    with pytest.raises(ValueError, match="initial"):
        wl_refine(e, 2, initial=np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="initial"):
        wl_refine(e, 2, initial=np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="iterations"):
        wl_refine(e, 2, iterations=-1)
    with pytest.raises(ValueError, match="graphs"):
        disjoint_union([])


# ---- aggregation and GIN -----------------------------------------------------------------------


def test_aggregate_sum_mean_max_by_hand():
    x = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, -1.0]])
    ei = torch.tensor([[1, 2, 0], [0, 0, 2]])  # 1->0, 2->0, 0->2; node 1 has no in-edges
    assert torch.equal(aggregate(x, ei, "sum"), torch.tensor([[8.0, 1.0], [0.0, 0.0], [1.0, 0.0]]))
    assert torch.equal(aggregate(x, ei, "mean"), torch.tensor([[4.0, 0.5], [0.0, 0.0], [1.0, 0.0]]))
    assert torch.equal(aggregate(x, ei, "max"), torch.tensor([[5.0, 2.0], [0.0, 0.0], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="how"):
        aggregate(x, ei, "median")
    with pytest.raises(ValueError, match="edge_index"):
        aggregate(x, torch.tensor([[0], [9]]), "sum")
    with pytest.raises(TypeError, match="x"):
        aggregate(x[0], ei, "sum")


def test_mean_and_max_collapse_multisets_sum_does_not():
    # centre 0 sees neighbours {a, a} in one graph, centre 2 sees {a} in the other
    x = torch.ones(5, 1)
    ei = torch.tensor([[1, 3, 4], [0, 0, 2]])
    s, m, mx = (aggregate(x, ei, h) for h in ("sum", "mean", "max"))
    assert s[0] != s[2]
    assert m[0] == m[2] and mx[0] == mx[2]


def test_gin_layer_matches_pyg_ginconv():
    from torch_geometric.nn import GINConv

    torch.manual_seed(0)
    g = nx.karate_club_graph()
    e = torch.tensor(list(g.edges())).T
    ei = torch.cat([e, e.flip(0)], dim=1)
    x = torch.randn(g.number_of_nodes(), 8)
    mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    for eps in (0.0, 0.3):
        conv = GINConv(mlp, eps=eps)  # note: GINConv re-initialises the mlp it is given
        theirs = conv(x, ei)
        ours = GINLayer(conv.nn, eps=eps)(x, ei)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_gin_train_eps_is_a_parameter():
    layer = GINLayer(nn.Identity(), eps=0.5, train_eps=True)
    assert any(p is layer.eps for p in layer.parameters())
    fixed = GINLayer(nn.Identity(), eps=0.5)
    assert not list(fixed.parameters())
    x = torch.tensor([[2.0], [1.0]])
    out = fixed(x, torch.tensor([[1], [0]]))
    assert torch.allclose(out, torch.tensor([[4.0], [1.5]]))
    with pytest.raises(TypeError, match="mlp"):
        GINLayer(lambda z: z)


def _gin_readout(model, g):
    e, n = ei_of(g)
    ei = torch.as_tensor(np.concatenate([e, e[::-1]], axis=1))
    return model.readout(torch.ones(n, 1), ei)


def test_gin_cannot_separate_wl_equivalent_graphs_but_separates_others():
    torch.manual_seed(0)
    model = GIN(1, 16, n_layers=3)
    a, b = _gin_readout(model, two_triangles()), _gin_readout(model, nx.cycle_graph(6))
    torch.testing.assert_close(a, b)
    c, d = _gin_readout(model, decalin()), _gin_readout(model, bicyclopentyl())
    torch.testing.assert_close(c, d)
    p, s = _gin_readout(model, nx.path_graph(4)), _gin_readout(model, nx.star_graph(3))
    assert (p - s).abs().max() > 1e-3


def test_mean_gin_misses_what_sum_gin_sees():
    # star with 3 leaves vs star with 4 leaves, constant features: node-wise mean of neighbours
    # is the same constant everywhere, so per-node mean-GIN embeddings coincide by type
    torch.manual_seed(0)
    for aggr, should_differ in (("sum", True), ("mean", False), ("max", False)):
        torch.manual_seed(0)
        model = GIN(1, 8, n_layers=2, aggr=aggr)
        e3, n3 = ei_of(nx.star_graph(3))
        e4, n4 = ei_of(nx.star_graph(4))
        h3 = model(torch.ones(n3, 1), torch.as_tensor(np.concatenate([e3, e3[::-1]], 1)))
        h4 = model(torch.ones(n4, 1), torch.as_tensor(np.concatenate([e4, e4[::-1]], 1)))
        differ = (h3[0] - h4[0]).abs().max() > 1e-4  # the two hubs
        assert bool(differ) == should_differ, aggr


def test_gin_bad_args():
    with pytest.raises(ValueError, match="n_layers"):
        GIN(1, 8, n_layers=0)
    with pytest.raises(ValueError, match="aggr"):
        GIN(1, 8, aggr="median")
