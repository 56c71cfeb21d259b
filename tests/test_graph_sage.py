"""Tests for utils.graph.sage: the layer against torch_geometric, the sampler's guarantees, the
touched-node arithmetic and mini-batch training."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from utils.graph.sage import (
    SAGE,
    FeatureMLP,
    NeighborSampler,
    SAGEConv,
    embed_full,
    fit_graphsage,
    sample_neighbors,
    touched_nodes_bound,
    train_graphsage,
    train_sage_link_minibatch,
)

torch.set_num_threads(1)


def _csr(src, dst, n, symmetric=True):
    src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    if symmetric:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    key = np.unique(src * n + dst)
    s, d = key // n, key % n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(s, minlength=n), out=indptr[1:])
    return SimpleNamespace(indptr=indptr, indices=d, n_nodes=n)


def _random_graph(n=60, m=240, seed=0):
    rng = np.random.default_rng(seed)
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = u != v
    return _csr(u[keep], v[keep], n)


def _neighbour_sets(g):
    return [set(g.indices[g.indptr[i] : g.indptr[i + 1]].tolist()) for i in range(g.n_nodes)]


# ---------------------------------------------------------------------------- layer vs PyG


@pytest.mark.parametrize("aggr", ["mean", "pool"])
def test_sageconv_matches_torch_geometric(aggr):
    from torch_geometric.nn import SAGEConv as PygSAGEConv

    torch.manual_seed(0)
    n, d_in, d_out = 30, 7, 5
    rng = np.random.default_rng(1)
    src, dst = (
        rng.integers(0, n, 90),
        rng.integers(0, n - 3, 90),
    )  # the last 3 nodes get no messages
    edge_index = torch.from_numpy(np.stack([src, dst]))
    x = torch.randn(n, d_in)
    ours = SAGEConv(d_in, d_out, aggr)
    if aggr == "mean":
        ref = PygSAGEConv(d_in, d_out, aggr="mean")
    else:
        ref = PygSAGEConv(d_in, d_out, aggr="max", project=True)
        ref.lin.weight.data.copy_(ours.pool.weight.data)
        ref.lin.bias.data.copy_(ours.pool.bias.data)
    ref.lin_l.weight.data.copy_(ours.lin_neigh.weight.data)
    ref.lin_l.bias.data.copy_(ours.lin_neigh.bias.data)
    ref.lin_r.weight.data.copy_(ours.lin_self.weight.data)
    got, want = ours(x, edge_index), ref(x, edge_index)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
    # isolated targets: only the self term (neighbour aggregate is zero, the bias remains)
    lonely = want[-3:]
    assert torch.allclose(lonely, x[-3:] @ ours.lin_self.weight.T + ours.lin_neigh.bias, atol=1e-5)


def test_sageconv_bipartite_prefix_matches_full():
    torch.manual_seed(0)
    conv = SAGEConv(4, 3)
    x = torch.randn(10, 4)
    ei = torch.tensor([[5, 6, 7, 1, 9], [0, 0, 1, 2, 2]])
    full = conv(x, ei)
    part = conv(x, ei, n_dst=3)
    assert part.shape == (3, 3)
    assert torch.allclose(part, full[:3], atol=1e-6)


def test_sageconv_normalize_gives_unit_rows():
    torch.manual_seed(0)
    conv = SAGEConv(4, 3, normalize=True)
    out = conv(torch.randn(6, 4), torch.tensor([[1, 2], [0, 0]]))
    assert torch.allclose(out.norm(dim=1), torch.ones(6), atol=1e-6)


def test_sageconv_bad_input():
    with pytest.raises(ValueError, match="aggr"):
        SAGEConv(3, 3, "lstm")
    with pytest.raises(ValueError, match="in_dim"):
        SAGEConv(0, 3)
    conv = SAGEConv(3, 2)
    with pytest.raises(ValueError, match="x"):
        conv(torch.randn(4, 5), torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="edge_index"):
        conv(torch.randn(4, 3), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="edge_index"):
        conv(torch.randn(4, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="target ids"):
        conv(torch.randn(4, 3), torch.tensor([[0], [3]]), n_dst=2)
    with pytest.raises(ValueError, match="n_dst"):
        conv(torch.randn(4, 3), torch.tensor([[0], [1]]), n_dst=5)


# ---------------------------------------------------------------------------- sampler


def test_sample_neighbors_caps_fanout_and_returns_real_distinct_neighbours():
    g = _random_graph(80, 600)
    nbrs = _neighbour_sets(g)
    deg = np.diff(g.indptr)
    nodes = np.arange(80)
    owner, nbr = sample_neighbors(g.indptr, g.indices, nodes, 4, np.random.default_rng(0))
    counts = np.bincount(owner, minlength=80)
    assert np.array_equal(counts, np.minimum(deg, 4))  # at most fanout; all when degree <= fanout
    assert deg.max() > 4  # the graph really exercises the capped branch
    for o, v in zip(owner, nbr, strict=False):
        assert v in nbrs[nodes[o]]
    pairs = set(zip(owner.tolist(), nbr.tolist(), strict=False))
    assert len(pairs) == len(owner)  # without replacement
    _owner_all, nbr_all = sample_neighbors(g.indptr, g.indices, nodes, -1, np.random.default_rng(0))
    assert len(nbr_all) == deg.sum()


@pytest.mark.parametrize(("degree", "fanout"), [(10, 1), (10, 3), (5, 3), (41, 20)])
def test_sample_neighbors_is_uniform(degree, fanout):
    # a star: node 0 with `degree` neighbours, sampled 4,000 times; each neighbour must be
    # included with probability fanout / degree (covers the key path, degree <= 2 fanout, and
    # the draw path, degree > 2 fanout)
    g = _csr(np.zeros(degree, dtype=int), np.arange(1, degree + 1), degree + 1)
    reps = 4000
    owner, nbr = sample_neighbors(
        g.indptr, g.indices, np.zeros(reps, dtype=np.int64), fanout, np.random.default_rng(3)
    )
    assert np.array_equal(np.bincount(owner, minlength=reps), np.full(reps, fanout))
    assert len(set(zip(owner.tolist(), nbr.tolist(), strict=True))) == reps * fanout
    freq = np.bincount(nbr, minlength=degree + 1)[1:] / reps
    p = fanout / degree
    sd = np.sqrt(p * (1 - p) / reps)
    assert np.abs(freq - p).max() < 5 * sd, (freq, p)


def test_subset_by_draws_falls_back_when_short():
    from utils.graph.sage import _subset_by_draws

    # degree 3, fanout 2: four draws with replacement often hold fewer than 2 distinct slots
    start = np.arange(0, 3000, 3)
    deg = np.full(len(start), 3)
    owner, slot = _subset_by_draws(start, deg, 2, np.random.default_rng(0))
    assert np.array_equal(np.bincount(owner, minlength=len(start)), np.full(len(start), 2))
    assert ((slot >= start[owner]) & (slot < start[owner] + 3)).all()
    assert len(set(zip(owner.tolist(), slot.tolist(), strict=True))) == 2 * len(start)


def test_sampler_blocks_respect_fanouts_and_edges():
    g = _random_graph(120, 900, seed=2)
    nbrs = _neighbour_sets(g)
    sampler = NeighborSampler(g, [5, 3], seed=7)
    seeds = np.array([3, 10, 11, 50, 99])
    batch = sampler.sample(seeds)
    assert np.array_equal(batch.input_nodes[: len(seeds)], seeds)
    assert len(np.unique(batch.input_nodes)) == batch.n_touched
    assert batch.n_touched <= touched_nodes_bound(len(seeds), [5, 3])
    assert sum(batch.hop_sizes) == batch.n_touched
    inp = batch.input_nodes
    for _layer, block in enumerate(batch.blocks):
        src, dst = block.edge_index
        assert src.max() < block.n_src and dst.max() < block.n_dst
        for s, t in zip(src, dst, strict=False):
            assert inp[s] in nbrs[inp[t]]  # only real neighbours
        per_target = np.bincount(dst, minlength=block.n_dst)
        cap = np.where(np.arange(block.n_dst) < len(seeds), 5, 3)
        assert (per_target <= cap).all()
    assert batch.blocks[-1].n_dst == len(seeds)
    assert batch.blocks[0].n_src == batch.n_touched


def test_sampler_is_deterministic_under_a_seed():
    g = _random_graph(200, 2000, seed=4)
    seeds = np.arange(0, 200, 7)
    a = NeighborSampler(g, [6, 4], seed=11).sample(seeds)
    b = NeighborSampler(g, [6, 4], seed=11).sample(seeds)
    c = NeighborSampler(g, [6, 4], seed=12).sample(seeds)
    assert np.array_equal(a.input_nodes, b.input_nodes)
    for ba, bb in zip(a.blocks, b.blocks, strict=False):
        assert np.array_equal(ba.edge_index, bb.edge_index)
    assert not (
        np.array_equal(a.input_nodes, c.input_nodes)
        and all(
            np.array_equal(x.edge_index, y.edge_index)
            for x, y in zip(a.blocks, c.blocks, strict=False)
        )
    )


def test_touched_nodes_bound_arithmetic_and_tightness_on_a_tree():
    assert touched_nodes_bound(256, [25, 10]) == 256 * (1 + 25 + 250) == 70_656
    assert touched_nodes_bound(1, [3]) == 4
    # a directed forest: each seed has 30 private children, each child 20 private grandchildren;
    # no overlap and every degree above the fan-out, so the bound is met exactly
    b, c1, c2 = 8, 30, 20
    src, dst, nxt = [], [], b
    for s in range(b):
        for _ in range(c1):
            child = nxt
            nxt += 1
            src.append(s)
            dst.append(child)
            for _ in range(c2):
                src.append(child)
                dst.append(nxt)
                nxt += 1
    g = _csr(src, dst, nxt, symmetric=False)
    batch = NeighborSampler(g, [25, 10], seed=0).sample(np.arange(b))
    assert batch.n_touched == touched_nodes_bound(b, [25, 10]) == b * 276
    # on an undirected graph the walk back to the seed and shared neighbours cut the count
    g2 = _csr(src, dst, nxt, symmetric=True)
    batch2 = NeighborSampler(g2, [25, 10], seed=0).sample(np.arange(b))
    assert batch2.n_touched < touched_nodes_bound(b, [25, 10])
    assert batch2.sampled_per_hop[0] == b * 25


def test_sampler_bad_input():
    g = _random_graph()
    with pytest.raises(ValueError, match="fanouts"):
        NeighborSampler(g, [5, 0])
    with pytest.raises(ValueError, match="fanouts"):
        NeighborSampler(g, [])
    with pytest.raises(TypeError, match="graph"):
        NeighborSampler(np.zeros((3, 3)), [2])
    s = NeighborSampler(g, [2])
    with pytest.raises(ValueError, match="unique"):
        s.sample(np.array([1, 1]))
    with pytest.raises(ValueError, match="seeds"):
        s.sample(np.array([g.n_nodes]))
    with pytest.raises(ValueError, match="seeds"):
        s.sample(np.array([], dtype=np.int64))
    with pytest.raises(TypeError, match="seeds"):
        s.sample(np.array([0.5]))
    with pytest.raises(ValueError, match="fanout"):
        sample_neighbors(g.indptr, g.indices, np.array([0]), 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch_size"):
        touched_nodes_bound(0, [2])


def test_sampler_state_resets_between_calls():
    g = _random_graph(50, 300)
    s = NeighborSampler(g, [3, 3], seed=0)
    s.sample(np.array([0, 1, 2]))
    assert (s._local == -1).all()
    with pytest.raises(ValueError):
        s.sample(np.array([0, 0]))
    assert (s._local == -1).all()


# ---------------------------------------------------------------------------- encoder


def test_blocks_with_all_neighbours_equal_full_batch():
    g = _random_graph(70, 400, seed=5)
    torch.manual_seed(0)
    model = SAGE(6, 8, 4, n_layers=2, aggr="mean").eval()
    x = torch.randn(70, 6)
    full = embed_full(model, x.numpy(), g)
    seeds = np.array([0, 5, 9, 33, 69])
    batch = NeighborSampler(g, [-1, -1], seed=0).sample(seeds)
    with torch.no_grad():
        z = model.forward_blocks(x[torch.from_numpy(batch.input_nodes)], batch.blocks)
    assert np.allclose(z.numpy(), full[seeds], atol=1e-5)


def test_sage_forward_blocks_checks():
    g = _random_graph(30, 100)
    model = SAGE(3, 4, 2, n_layers=2)
    batch = NeighborSampler(g, [2], seed=0).sample(np.array([0, 1]))
    with pytest.raises(ValueError, match="blocks"):
        model.forward_blocks(torch.randn(batch.n_touched, 3), batch.blocks)
    batch2 = NeighborSampler(g, [2, 2], seed=0).sample(np.array([0, 1]))
    with pytest.raises(ValueError, match="x_input"):
        model.forward_blocks(torch.randn(batch2.n_touched + 1, 3), batch2.blocks)
    with pytest.raises(ValueError, match="n_layers"):
        SAGE(3, n_layers=0)
    with pytest.raises(ValueError, match="dropout"):
        SAGE(3, dropout=1.0)


def test_feature_mlp_ignores_edges():
    torch.manual_seed(0)
    mlp = FeatureMLP(5, 8, 3)
    x = torch.randn(4, 5)
    assert torch.equal(mlp(x, torch.tensor([[0, 1], [1, 0]])), mlp(x))


# ---------------------------------------------------------------------------- training


def _two_communities(n=120, seed=0):
    """Two dense blocks with sparse links between; features carry the block label noisily."""
    rng = np.random.default_rng(seed)
    label = np.arange(n) % 2
    u, v = rng.integers(0, n, 6 * n), rng.integers(0, n, 6 * n)
    same = label[u] == label[v]
    keep = (u != v) & (same | (rng.random(len(u)) < 0.05))
    x = np.stack([label + 0.8 * rng.standard_normal(n), rng.standard_normal(n)], 1).astype(
        np.float32
    )
    return _csr(u[keep], v[keep], n), x, label


@pytest.mark.parametrize("target_frac", [0.0, 0.3])
def test_minibatch_training_learns_the_communities(target_frac):
    g, x, label = _two_communities()
    torch.manual_seed(0)
    model = SAGE(2, 16, 8, n_layers=2)
    model, hist = train_sage_link_minibatch(
        model,
        x,
        g,
        fanouts=[5, 5],
        epochs=15,
        lr=0.02,
        batch_size=128,
        target_frac=target_frac,
        seed=0,
    )
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["steps"] > 0 and hist["touched_per_step"] > 0
    z = embed_full(model, x, g)
    s = z @ z.T
    same = label[:, None] == label[None, :]
    np.fill_diagonal(same, False)
    diff = label[:, None] != label[None, :]
    assert s[same].mean() > s[diff].mean() + 0.5  # same-block pairs score clearly higher


def test_training_is_reproducible():
    g, x, _ = _two_communities()
    outs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = SAGE(2, 8, 4)
        train_sage_link_minibatch(
            model, x, g, fanouts=[3, 3], epochs=2, lr=0.01, batch_size=64, seed=3
        )
        outs.append(embed_full(model, x, g))
    assert np.array_equal(outs[0], outs[1])


def test_training_bad_input():
    g, x, _ = _two_communities()
    model = SAGE(2, 4, 4)
    with pytest.raises(ValueError, match="x"):
        train_sage_link_minibatch(model, x[:-1], g, fanouts=[2, 2], epochs=1, lr=0.01)
    with pytest.raises(ValueError, match="target_frac"):
        train_sage_link_minibatch(model, x, g, fanouts=[2, 2], epochs=1, lr=0.01, target_frac=1.0)
    with pytest.raises(ValueError, match="epochs"):
        train_sage_link_minibatch(model, x, g, fanouts=[2, 2], epochs=0, lr=0.01)
    empty = _csr([], [], 5)
    with pytest.raises(ValueError, match="no edges"):
        train_sage_link_minibatch(
            SAGE(2, 4, 4), np.zeros((5, 2)), empty, fanouts=[2, 2], epochs=1, lr=0.01
        )


def test_fit_graphsage_returns_a_score_fn():
    pytest.importorskip("utils.graph", reason="foundation not present")
    from utils.graph import CSRGraph

    g0, x, _label = _two_communities()
    src = np.repeat(np.arange(g0.n_nodes), np.diff(g0.indptr))
    g = CSRGraph.from_edges(src, g0.indices, g0.n_nodes)
    phase = SimpleNamespace(graph=g, targets=np.zeros((0, 2), dtype=np.int64), feature_year=2010)
    score_fn = fit_graphsage(phase, x, seed=0, epochs=3, batch_size=128)
    scores = score_fn(np.array([0, 1, 2]))
    assert scores.shape == (3, g.n_nodes)
    assert np.isfinite(scores).all()
    with pytest.raises(ValueError, match="unknown"):
        fit_graphsage(phase, x, seed=0, learning_rate=0.1)
    with pytest.raises(TypeError, match="phase"):
        fit_graphsage(object(), x)


def test_train_graphsage_freezes_the_input_transform():
    pytest.importorskip("utils.graph", reason="foundation not present")
    g, x, _label = _two_communities()
    fitted = train_graphsage(g, x, seed=0, epochs=2, batch_size=128)
    inp = fitted.inputs(x, g)
    assert inp.shape == (g.n_nodes, x.shape[1] + 1)  # features + log1p(degree)
    assert np.allclose(inp.mean(0), 0, atol=1e-5)  # z-scored on the training graph
    # new data is transformed with the training statistics, not re-standardised
    shifted = fitted.inputs(x + 1.0, g)
    assert np.allclose(shifted[:, :2] - inp[:, :2], 1.0 / fitted.std[:2], atol=1e-5)
    z = fitted.embed(x, g)
    assert z.shape == (g.n_nodes, 64)
    mlp = train_graphsage(g, x, seed=0, encoder="mlp", epochs=1, batch_size=128)
    assert isinstance(mlp.model, FeatureMLP)
    # the MLP ignores the graph: embeddings do not change when the graph loses every tie
    empty = _csr([], [], g.n_nodes)
    no_deg = train_graphsage(
        g, x, seed=0, encoder="mlp", epochs=1, batch_size=128, add_degree=False
    )
    assert np.allclose(no_deg.embed(x, g), no_deg.embed(x, empty))
    with pytest.raises(ValueError, match="encoder"):
        train_graphsage(g, x, encoder="gcn")
    with pytest.raises(ValueError, match="fanouts"):
        train_graphsage(g, x, fanouts=(5,))
    with pytest.raises(ValueError, match="feature columns"):
        fitted.inputs(np.zeros((g.n_nodes, 5)), g)


def test_random_two_hop_stays_within_two_hops():
    from utils.graph.sage import _random_two_hop

    g = _random_graph(60, 150, seed=8)
    nbrs = _neighbour_sets(g)
    nodes = np.repeat(np.arange(60), 20)
    out = _random_two_hop(g.indptr, g.indices, nodes, np.random.default_rng(0))
    for u, w in zip(nodes.tolist(), out.tolist(), strict=True):
        if not nbrs[u]:
            assert w == u  # isolated nodes stay put
        else:
            assert any(w in nbrs[a] for a in nbrs[u])


def test_training_with_two_hop_negatives_runs():
    g, x, _ = _two_communities()
    torch.manual_seed(0)
    _, hist = train_sage_link_minibatch(
        SAGE(2, 8, 4), x, g, fanouts=[3, 3], epochs=2, lr=0.01, batch_size=64, hard_frac=0.5
    )
    assert len(hist["loss"]) == 2 and np.isfinite(hist["loss"]).all()


def test_evaluate_from_sources_matches_the_foundation_evaluator():
    pytest.importorskip("utils.graph", reason="foundation not present")
    from utils.graph import CSRGraph, adamic_adar, evaluate_link_prediction
    from utils.graph.sage import evaluate_from_sources

    g0 = _random_graph(80, 300, seed=9)
    src = np.repeat(np.arange(g0.n_nodes), np.diff(g0.indptr))
    g = CSRGraph.from_edges(src, g0.indices, g0.n_nodes)
    rng = np.random.default_rng(0)
    cand = rng.integers(0, 80, (200, 2))
    cand = cand[cand[:, 0] != cand[:, 1]]
    new = np.array([not g.has_edge(a, b) for a, b in cand])
    targets = np.unique(np.sort(cand[new], axis=1), axis=0)
    score_fn = adamic_adar(g)
    full = evaluate_link_prediction(score_fn, g, targets, k=5)
    ours = evaluate_from_sources(score_fn, g, targets, np.arange(80), k=5)
    for key in ("hits@5", "recall@5", "mrr", "n_sources", "n_targets"):
        assert ours[key] == pytest.approx(full[key]), key
    some = evaluate_from_sources(score_fn, g, targets, np.arange(10), k=5)
    assert some["n_sources"] <= 10
    with pytest.raises(ValueError, match="sources"):
        evaluate_from_sources(score_fn, g, targets, np.array([], dtype=np.int64))


def test_cold_start_simulation_drops_edges_and_keeps_determinism_setting():
    from utils.graph.sage import _drop_targets

    g = _random_graph(40, 200, seed=3)
    batch = NeighborSampler(g, [4, 4], seed=0).sample(np.array([0, 1, 2, 3]))
    cut = _drop_targets(batch.blocks, np.array([1, 2]))
    for before, after in zip(batch.blocks, cut, strict=True):
        assert not np.isin(after.edge_index[1], [1, 2]).any()
        kept = ~np.isin(before.edge_index[1], [1, 2])
        assert np.array_equal(after.edge_index, before.edge_index[:, kept])
    gg, x, _ = _two_communities()
    assert not torch.are_deterministic_algorithms_enabled()
    _, hist = train_sage_link_minibatch(
        SAGE(2, 8, 4),
        x,
        gg,
        fanouts=[3, 3],
        epochs=2,
        lr=0.01,
        batch_size=64,
        cold_frac=0.3,
        cold_row=np.array([np.nan, -1.0], dtype=np.float32),
    )
    assert np.isfinite(hist["loss"]).all()
    assert not torch.are_deterministic_algorithms_enabled()  # restored after training
    with pytest.raises(ValueError, match="cold_frac"):
        train_sage_link_minibatch(
            SAGE(2, 8, 4), x, gg, fanouts=[3, 3], epochs=1, lr=0.01, cold_frac=1.0
        )
