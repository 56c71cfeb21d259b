"""Tests for utils.graph.gat: GAT / GATv2 against torch_geometric 2.8.1 with copied weights,
the scatter softmax, static vs dynamic attention, the encoder, fit_gat and the lookup task."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from utils.graph.gat import (
    GAT_DEFAULTS,
    DictionaryLookupNet,
    GATConv,
    GATEncoder,
    GATv2Conv,
    add_self_loops,
    argmax_keys,
    attention_weights,
    dictionary_lookup_batch,
    fit_gat,
    link_features,
    scatter_softmax,
    train_dictionary_lookup,
)

warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit deprecation inside PyG
pyg = pytest.importorskip("torch_geometric.nn")


def _graph(n: int = 40, e: int = 200, d: int = 7, seed: int = 0):
    """Random directed graph with duplicate edges, existing self-loops and an isolated node."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    ei = torch.randint(0, n - 1, (2, e), generator=g)  # node n-1 has no edges at all
    ei = torch.cat([ei, torch.tensor([[3, 5, 5], [3, 5, 7]])], dim=1)  # loops and a duplicate
    return x, ei


@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("concat", [True, False])
def test_gatconv_equals_pyg_with_same_weights(heads, concat):
    x, ei = _graph()
    torch.manual_seed(1)
    ref = pyg.GATConv(7, 5, heads=heads, concat=concat)
    ours = GATConv(7, 5, heads=heads, concat=concat)
    ours.load_state_dict(ref.state_dict())  # same parameter names and shapes
    with torch.no_grad():
        out_ref, (ei_ref, a_ref) = ref(x, ei, return_attention_weights=True)
        out, (ei_ours, a_ours) = ours(x, ei, return_attention=True)
    assert out.shape == (40, 5 * heads if concat else 5)
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=1e-5)
    assert torch.equal(ei_ours, ei_ref)
    torch.testing.assert_close(a_ours, a_ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize("share_weights", [False, True])
def test_gatv2conv_equals_pyg_with_same_weights(heads, concat, share_weights):
    x, ei = _graph(seed=2)
    torch.manual_seed(3)
    ref = pyg.GATv2Conv(7, 4, heads=heads, concat=concat, share_weights=share_weights)
    ours = GATv2Conv(7, 4, heads=heads, concat=concat, share_weights=share_weights)
    ours.load_state_dict(ref.state_dict())
    with torch.no_grad():
        out_ref, (_, a_ref) = ref(x, ei, return_attention_weights=True)
        out, (_, a_ours) = ours(x, ei, return_attention=True)
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a_ours, a_ref, atol=1e-5, rtol=1e-5)


def test_gradients_equal_pyg():
    x, ei = _graph(seed=4)
    for ref_cls, our_cls in ((pyg.GATConv, GATConv), (pyg.GATv2Conv, GATv2Conv)):
        torch.manual_seed(5)
        ref, ours = ref_cls(7, 3, heads=2), our_cls(7, 3, heads=2)
        ours.load_state_dict(ref.state_dict())
        ref(x, ei).square().sum().backward()
        ours(x, ei).square().sum().backward()
        for (name, p_ref), (_, p_ours) in zip(
            ref.named_parameters(), ours.named_parameters(), strict=True
        ):
            torch.testing.assert_close(p_ours.grad, p_ref.grad, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("pair", [("GATConv", GATConv), ("GATv2Conv", GATv2Conv)])
def test_residual_equals_pyg(pair):
    x, ei = _graph(seed=10)
    torch.manual_seed(11)
    ref = getattr(pyg, pair[0])(7, 3, heads=2, residual=True)
    ours = pair[1](7, 3, heads=2, residual=True)
    ours.load_state_dict(ref.state_dict())
    ref(x, ei).square().sum().backward()
    ours(x, ei).square().sum().backward()
    with torch.no_grad():
        torch.testing.assert_close(ours(x, ei), ref(x, ei), atol=1e-5, rtol=1e-5)
    grads = {k: p.grad for k, p in ref.named_parameters()}
    for k, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, grads[k], atol=1e-5, rtol=1e-4, msg=k)


def test_without_self_loops_equals_pyg():
    x, ei = _graph(seed=6)
    ei = ei[:, ei[0] != ei[1]]
    torch.manual_seed(7)
    ref = pyg.GATConv(7, 3, heads=2, add_self_loops=False)
    ours = GATConv(7, 3, heads=2, add_self_loops=False)
    ours.load_state_dict(ref.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(ours(x, ei), ref(x, ei), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("conv", [GATConv, GATv2Conv])
def test_attention_sums_to_one_over_incoming_edges(conv):
    x, ei = _graph(seed=8)
    layer = conv(7, 4, heads=3)
    _, (ei_l, alpha) = layer(x, ei, return_attention=True)
    assert alpha.shape == (ei_l.shape[1], 3)
    assert (alpha >= 0).all()
    sums = torch.zeros(40, 3).index_add(0, ei_l[1], alpha.detach())
    torch.testing.assert_close(sums, torch.ones(40, 3))  # every node, the isolated one included
    # exactly one self-loop per node, none of the original ones kept twice
    loops = ei_l[0] == ei_l[1]
    assert sorted(ei_l[0, loops].tolist()) == list(range(40))


def test_scatter_softmax_is_stable_and_matches_dense_softmax():
    index = torch.tensor([0, 0, 0, 2, 2, 1])
    scores = torch.tensor(
        [[1e4, 1e4 - 1.0], [0.0, 1e4], [-1e4, 3.0], [5.0, -2.0], [5.0, 7.0], [9e3, 1.0]]
    )
    out = scatter_softmax(scores, index, n_nodes=4)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:3], torch.softmax(scores[:3], dim=0))
    torch.testing.assert_close(out[3:5], torch.softmax(scores[3:5], dim=0))
    torch.testing.assert_close(out[5], torch.ones(2))
    one_d = scatter_softmax(scores[:, 0], index, n_nodes=4)
    torch.testing.assert_close(one_d, out[:, 0])


def test_scatter_softmax_rejects_bad_shapes():
    with pytest.raises(ValueError, match="index"):
        scatter_softmax(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="scores"):
        scatter_softmax(torch.zeros(3, 2, 2), torch.zeros(3, dtype=torch.long), 2)


def test_add_self_loops_replaces_existing_loops():
    ei = torch.tensor([[0, 1, 1, 2], [1, 1, 0, 2]])
    out = add_self_loops(ei, 4)
    assert out.tolist() == [[0, 1, 0, 1, 2, 3], [1, 0, 0, 1, 2, 3]]
    with pytest.raises(ValueError, match="outside"):
        add_self_loops(ei, 2)
    with pytest.raises(ValueError, match="n_nodes"):
        add_self_loops(ei, 0)


def _bipartite(n_keys: int, n_queries: int):
    """Every key j -> every query i (keys 0..n_keys-1, queries after them)."""
    keys = torch.arange(n_keys).repeat_interleave(n_queries)
    queries = torch.arange(n_queries).repeat(n_keys) + n_keys
    return torch.stack([keys, queries])


def test_gat_attention_is_static_and_gatv2_is_not():
    """Brody et al. 2022, Theorem 1: under GAT every query ranks the keys in the same order."""
    torch.manual_seed(0)
    n_keys, n_queries = 12, 30
    x = torch.randn(n_keys + n_queries, 6)
    ei = _bipartite(n_keys, n_queries)
    best = {}
    for name, conv in (("gat", GATConv), ("gatv2", GATv2Conv)):
        layer = conv(6, 8, heads=1, add_self_loops=False)
        _, (_, alpha) = layer(x, ei, return_attention=True)
        a = alpha[:, 0].detach().view(n_keys, n_queries)  # edges are key-major
        best[name] = a.argmax(0)
        ranks = a.argsort(0)
        if name == "gat":  # the whole ranking, not just the top key, is shared by all queries
            assert (ranks == ranks[:, :1]).all()
    assert best["gat"].unique().numel() == 1
    assert best["gatv2"].unique().numel() > 1


def test_argmax_keys_agrees_with_the_layer_attention():
    torch.manual_seed(1)
    n_keys, n_queries = 9, 25
    x = torch.randn(n_keys + n_queries, 5)
    ei = _bipartite(n_keys, n_queries)
    for conv in (GATConv(5, 4, heads=2, add_self_loops=False), GATv2Conv(5, 4, heads=2)):
        conv.add_self_loops = False
        _, (_, alpha) = conv(x, ei, return_attention=True)
        expect = alpha.detach().view(n_keys, n_queries, 2).argmax(0).numpy()  # [Q, H]
        got = argmax_keys(conv, x, np.arange(n_keys), np.arange(n_queries) + n_keys)
        np.testing.assert_array_equal(got, expect)
        if isinstance(conv, GATConv):
            assert all(len(set(got[:, h])) == 1 for h in range(2))
    with pytest.raises(ValueError, match="keys"):
        argmax_keys(conv, x, np.array([99]), np.arange(3))
    with pytest.raises(TypeError, match="conv"):
        argmax_keys(GATEncoder(5), x, np.arange(3), np.arange(3))


def test_encoder_shapes_gradients_and_attention_probe():
    x, ei = _graph(seed=9)
    for v2 in (False, True):
        enc = GATEncoder(7, hidden=4, out_dim=6, heads=3, n_layers=2, v2=v2, out_heads=2)
        z = enc(x, ei)
        assert z.shape == (40, 6)
        z.square().sum().backward()
        assert all(p.grad is not None for p in enc.parameters())
        ei_l, alpha = attention_weights(enc, x.numpy(), ei.numpy(), layer=1)
        assert alpha.shape == (ei_l.shape[1], 2)
        # layer 1 sees ELU(layer 0 output); compare with calling the layer by hand
        with torch.no_grad():
            h = torch.nn.functional.elu(enc.convs[0](x, ei))
            _, (_, a_ref) = enc.convs[1](h, ei, return_attention=True)
        np.testing.assert_allclose(alpha, a_ref.numpy(), atol=1e-6)
        sums = np.zeros((40, 2))
        np.add.at(sums, ei_l[1], alpha)
        np.testing.assert_allclose(sums, 1.0, atol=1e-5)
    ei0, a0 = attention_weights(enc.convs[0], x, ei)
    assert a0.shape == (ei0.shape[1], 3)


def test_bad_input_is_named():
    x, ei = _graph()
    layer = GATConv(7, 3)
    with pytest.raises(ValueError, match="x must be"):
        layer(x[:, :5], ei)
    with pytest.raises(ValueError, match="edge_index"):
        layer(x, ei[:1])
    with pytest.raises(ValueError, match="outside"):
        layer(x[:10], ei)
    with pytest.raises(TypeError, match="edge_index"):
        layer(x, ei.float())
    with pytest.raises(ValueError, match="heads"):
        GATConv(7, 3, heads=0)
    with pytest.raises(ValueError, match="dropout"):
        GATv2Conv(7, 3, dropout=1.0)
    with pytest.raises(ValueError, match="out_channels"):
        GATv2Conv(7, 0)
    with pytest.raises(ValueError, match="n_layers"):
        GATEncoder(7, n_layers=0)
    with pytest.raises(ValueError, match="layer"):
        attention_weights(GATEncoder(7), x, ei, layer=2)
    with pytest.raises(TypeError, match="model"):
        attention_weights(torch.nn.Linear(7, 3), x, ei)


def _tiny_phase():
    from utils.graph import CSRGraph

    rng = np.random.default_rng(0)
    n = 60
    # two dense communities joined by a few ties: learnable from features that mark the side
    src, dst = [], []
    for lo in (0, 30):
        for _ in range(150):
            u, v = rng.choice(np.arange(lo, lo + 30), 2, replace=False)
            src.append(u)
            dst.append(v)
    pairs = np.unique(np.sort(np.array([src, dst]).T, axis=1), axis=0)
    graph = CSRGraph.from_edges(pairs[:, 0], pairs[:, 1], n, symmetric=True)
    x = np.zeros((n, 4), dtype=np.float32)
    x[:30, 0] = 1.0
    x[30:, 1] = 1.0
    x[:, 2:] = rng.standard_normal((n, 2))
    return SimpleNamespace(graph=graph, targets=np.array([[0, 1]]), feature_year=2010), x


def test_fit_gat_returns_a_score_function():
    phase, x = _tiny_phase()
    for v2 in (False, True):
        score_fn = fit_gat(phase, x, seed=0, v2=v2, epochs=30, hidden=4, heads=2, out_dim=8)
        s = score_fn(np.array([0, 45]))
        assert s.shape == (2, 60)
        assert np.isfinite(s).all()
        # same-community candidates outscore the other community on average
        assert s[0, 1:30].mean() > s[0, 30:].mean()
        assert s[1, 31:].mean() > s[1, :30].mean()
    a = fit_gat(phase, x, seed=3, epochs=5)(np.array([0]))
    b = fit_gat(phase, x, seed=3, epochs=5)(np.array([0]))
    np.testing.assert_array_equal(a, b)  # seeded: reproducible on one machine


def test_link_features_adds_log_degree_and_standardises():
    phase, x = _tiny_phase()
    f = link_features(x, phase.graph)
    assert f.shape == (60, 5) and f.dtype == np.float32
    np.testing.assert_allclose(f.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(f.std(0), 1.0, atol=1e-4)
    deg = np.log1p(phase.graph.degree())
    assert np.corrcoef(f[:, -1], deg)[0, 1] > 0.999
    const = link_features(np.ones((60, 2)), phase.graph)
    assert np.isfinite(const).all() and (const[:, :2] == 0).all()
    with pytest.raises(ValueError, match="x must have shape"):
        link_features(x[:5], phase.graph)


def test_fit_gat_checks_its_arguments():
    phase, x = _tiny_phase()
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        fit_gat(phase, x, seed=0, n_heads=3)
    with pytest.raises(ValueError, match="x must have shape"):
        fit_gat(phase, x[:10], seed=0)
    assert set(GAT_DEFAULTS) >= {"epochs", "lr", "heads", "hidden", "out_dim"}


def test_dictionary_lookup_batch_structure():
    k, g = 5, 3
    attr, value, ei, qn, y = dictionary_lookup_batch(k, g, np.random.default_rng(0))
    assert attr.shape == value.shape == (2 * k * g,)
    assert ei.shape == (2, g * k * k)
    assert qn.shape == y.shape == (g * k,)
    assert (value[qn] == k).all()  # queries carry no value
    for q, target in zip(qn.tolist(), y.tolist(), strict=True):
        keys = ei[0, ei[1] == q]
        assert len(keys) == k and (value[keys] < k).all()
        match = keys[attr[keys] == attr[q]]
        assert match.numel() == 1 and value[match].item() == target
    with pytest.raises(ValueError, match="k must be"):
        dictionary_lookup_batch(1, 2, np.random.default_rng(0))


def test_dictionary_lookup_gat_has_one_argmax_key_per_graph():
    r = train_dictionary_lookup(k=4, v2=False, steps=20, graphs_per_step=8, dim=8)
    assert r["distinct_argmax_keys"] == 1.0  # static attention: one top key for all queries
    assert isinstance(r["model"], DictionaryLookupNet)
    assert 0.0 <= r["test_accuracy"] <= 1.0
