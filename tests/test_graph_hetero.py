"""Tests for utils.graph.hetero: R-GCN against torch_geometric's RGCNConv, flattening, HGT layer."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
import torch

from utils.graph.hetero import (
    RGCN,
    HGTLayer,
    RGCNLayer,
    fit_node_classifier,
    prune_leaves,
    to_relational,
)


class HG(NamedTuple):
    nodes: dict
    edges: dict


def toy_hetero() -> HG:
    nodes = {"film": np.array(["f0", "f1", "f2"]), "actor": np.array(["a", "b", "c", "d"])}
    edges = {
        ("actor", "acts_in", "film"): pd.DataFrame(
            {"src": [0, 1, 1, 2, 3], "dst": [0, 0, 1, 1, 2]}
        ),
        ("film", "sequel_of", "film"): pd.DataFrame({"src": [1], "dst": [0]}),
    }
    return HG(nodes, edges)


def random_relational(n=30, e=120, r=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(n, (2, e), generator=g)
    et = torch.randint(r, (e,), generator=g)
    return ei, et


@pytest.mark.parametrize("n_bases", [None, 2])
def test_rgcn_layer_matches_pyg_rgcnconv(n_bases):
    from torch_geometric.nn import RGCNConv

    torch.manual_seed(0)
    n, r, d_in, d_out = 30, 4, 6, 5
    ei, et = random_relational(n, 150, r)
    x = torch.randn(n, d_in)
    ours = RGCNLayer(d_in, d_out, r, n_bases=n_bases)
    theirs = RGCNConv(d_in, d_out, r, num_bases=n_bases, aggr="mean")
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
        if n_bases is not None:
            theirs.comp.copy_(ours.comp)
        theirs.root.copy_(ours.root)
        ours.bias.copy_(torch.randn(d_out))
        theirs.bias.copy_(ours.bias)
    torch.testing.assert_close(ours(x, ei, et), theirs(x, ei, et), rtol=1e-5, atol=1e-5)


def test_rgcn_layer_by_hand_per_relation_mean():
    # node 0 receives from 1 and 2 over relation 0 and from 3 over relation 1
    layer = RGCNLayer(1, 1, 2, self_loop=False, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[[1.0]], [[10.0]]]))
    x = torch.tensor([[0.0], [2.0], [4.0], [1.0]])
    out = layer(x, torch.tensor([[1, 2, 3], [0, 0, 0]]), torch.tensor([0, 0, 1]))
    # mean over relation 0 = 3, relation 1 contributes 10 * 1 / 1
    assert out[0, 0].item() == pytest.approx(13.0)
    assert out[1:].abs().sum().item() == 0


def test_basis_decomposition_shares_bases():
    layer = RGCNLayer(3, 2, 5, n_bases=2)
    w = layer.relation_weights()
    assert w.shape == (5, 3, 2)
    # every W_r lies in the span of the two bases
    basis = layer.weight.detach().reshape(2, -1).T
    coef = torch.linalg.lstsq(basis, w.detach().reshape(5, -1).T).solution
    torch.testing.assert_close(basis @ coef, w.detach().reshape(5, -1).T, rtol=1e-4, atol=1e-5)
    n_params = sum(p.numel() for p in layer.parameters())
    assert n_params == 2 * 3 * 2 + 5 * 2 + 3 * 2 + 2


def test_rgcn_layer_bad_input():
    layer = RGCNLayer(2, 2, 2)
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="edge_type"):
        layer(x, torch.tensor([[0], [1]]), torch.tensor([5]))
    with pytest.raises(ValueError, match="edge_index"):
        layer(x, torch.tensor([[0], [7]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="x"):
        layer(torch.zeros(3, 4), torch.tensor([[0], [1]]), torch.tensor([0]))
    with pytest.raises(TypeError, match="edge_type"):
        layer(x, torch.tensor([[0], [1]]), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="n_relations"):
        RGCNLayer(2, 2, 0)
    with pytest.raises(ValueError, match="n_bases"):
        RGCNLayer(2, 2, 2, n_bases=0)


def test_to_relational_offsets_reverse_and_drop():
    rg = to_relational(toy_hetero())
    assert rg.n_nodes == 7
    assert rg.offsets == {"film": 0, "actor": 3}
    assert rg.relation_names == ["acts_in", "rev_acts_in", "sequel_of", "rev_sequel_of"]
    acts = rg.edge_index[:, rg.edge_type == 0]
    assert acts[:, 0].tolist() == [3, 0]  # actor a (3) -> film f0 (0)
    rev = rg.edge_index[:, rg.edge_type == 1]
    np.testing.assert_array_equal(rev, acts[::-1])
    assert rg.nodes_of("actor").tolist() == [3, 4, 5, 6]
    homo = rg.homogeneous()
    assert set(homo.edge_type.tolist()) == {0} and homo.relation_names == ["any"]
    dropped = to_relational(toy_hetero(), drop_relations=("sequel_of",), add_reverse=False)
    assert dropped.relation_names == ["acts_in"] and dropped.edge_index.shape == (2, 5)
    with pytest.raises(ValueError, match="drop_relations"):
        to_relational(toy_hetero(), drop_relations=("nope",))
    with pytest.raises(ValueError, match="no relations"):
        to_relational(toy_hetero(), drop_relations=("sequel_of", "acts_in"))
    with pytest.raises(TypeError, match="hg"):
        to_relational(object())
    with pytest.raises(ValueError, match="type_name"):
        rg.nodes_of("director")


def test_prune_leaves_drops_single_film_actors():
    pruned = prune_leaves(toy_hetero(), "film", min_degree=2)
    assert pruned.nodes["actor"].tolist() == ["b"]  # only b acts in two films
    assert pruned.nodes["film"].tolist() == ["f0", "f1", "f2"]
    acts = pruned.edges[("actor", "acts_in", "film")]
    assert acts["src"].tolist() == [0, 0] and acts["dst"].tolist() == [0, 1]
    with pytest.raises(ValueError, match="keep_type"):
        prune_leaves(toy_hetero(), "director")
    with pytest.raises(ValueError, match="min_degree"):
        prune_leaves(toy_hetero(), "film", min_degree=0)


def test_hgt_attention_normalised_and_equivariant():
    torch.manual_seed(0)
    n, d = 12, 8
    ei, et = random_relational(n, 40, 3, seed=1)
    node_type = torch.randint(2, (n,), generator=torch.Generator().manual_seed(2))
    layer = HGTLayer(d, n_types=2, n_relations=3, n_heads=2)
    x = torch.randn(n, d)
    out, att = layer(x, ei, et, node_type, return_attention=True)
    assert out.shape == (n, d)
    sums = torch.zeros(n, 2).index_add(0, ei[1], att)
    has_in = torch.zeros(n, dtype=torch.bool)
    has_in[ei[1]] = True
    torch.testing.assert_close(sums[has_in], torch.ones(int(has_in.sum()), 2))
    # relabel nodes: outputs permute the same way
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(3))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(n)
    out_p = layer(x[perm], inv[ei], et, node_type[perm])
    torch.testing.assert_close(out_p, out[perm], rtol=1e-5, atol=1e-5)
    # a node with no in-edges keeps only its residual path through A_tau(GELU(0))
    with pytest.raises(ValueError, match="divisible"):
        HGTLayer(7, 2, 3, n_heads=2)
    with pytest.raises(ValueError, match="node_type"):
        layer(x, ei, et, torch.full((n,), 5))


def test_rgcn_learns_a_relational_rule():
    # label of a film = whether it has an edge of relation 1 (not 0): needs relation types
    rng = np.random.default_rng(0)
    n_films, n_people = 60, 40
    src = rng.integers(n_people, size=200) + n_films
    dst = rng.integers(n_films, size=200)
    rel = rng.integers(2, size=200)
    y = np.zeros(n_films + n_people, dtype=np.float32)
    y[np.unique(dst[rel == 1])] = 1
    ei = torch.as_tensor(np.stack([src, dst]))
    et = torch.as_tensor(rel)
    feats = np.zeros((n_films + n_people, 1), dtype=np.float32)
    learn = np.zeros(n_films + n_people, dtype=bool)  # constant inputs: only structure helps
    yt = torch.as_tensor(y)[:, None]
    films = np.arange(n_films)

    def acc(rels):
        torch.manual_seed(0)
        model = RGCN(
            n_films + n_people,
            2,
            8,
            1,
            n_layers=1,
            features=torch.as_tensor(feats) + 1,
            learn_embedding=learn,
        )
        model, hist = fit_node_classifier(model, (ei, rels), yt, films, epochs=200, lr=0.05)
        with torch.no_grad():
            pred = model(ei, rels)[films, 0] > 0
        return (pred.numpy() == (y[films] > 0)).mean(), hist

    typed, hist = acc(et)
    untyped, _ = acc(torch.zeros_like(et))
    assert typed == 1.0
    assert untyped < 0.9
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]


def test_fit_node_classifier_early_stopping_and_bad_args():
    model = RGCN(4, 1, 4, 2, n_layers=1)
    ei, et = torch.tensor([[0, 1], [1, 2]]), torch.tensor([0, 0])
    y = torch.tensor([0, 1, 0, 1])
    _, hist = fit_node_classifier(
        model, (ei, et), y, [0, 1], val_idx=[2, 3], epochs=50, multilabel=False, patience=3
    )
    assert "val_loss" in hist[0] and len(hist) <= 50
    with pytest.raises(ValueError, match="train_idx"):
        fit_node_classifier(model, (ei, et), y, [], multilabel=False)
    with pytest.raises(ValueError, match="epochs"):
        fit_node_classifier(model, (ei, et), y, [0], epochs=0, multilabel=False)
    with pytest.raises(ValueError, match="learn_embedding"):
        RGCN(4, 1, 4, 2, learn_embedding=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="features"):
        RGCN(4, 1, 4, 2, features=torch.zeros(3, 2))


def test_relational_adjacency_entries():
    from utils.graph.hetero import relational_adjacency

    ei = torch.tensor([[1, 2, 3], [0, 0, 0]])
    et = torch.tensor([0, 0, 1])
    a = relational_adjacency(ei, et, 4, 2).to_dense()
    assert a.shape == (4, 8)
    assert a[0, 1 * 2 + 0] == 0.5 and a[0, 2 * 2 + 0] == 0.5 and a[0, 3 * 2 + 1] == 1.0
    assert a.sum() == 2.0


def test_label_trick_hides_own_label():
    # one node, no edges: with its label hidden the model cannot read it back
    n = 3
    labels = torch.tensor([[1.0], [0.0], [1.0]])
    known = np.array([True, True, False])
    no_emb = np.zeros(n, dtype=bool)
    model = RGCN(n, 1, 4, 1, n_layers=1, labels=labels, label_known=known, learn_embedding=no_emb)
    ei, et = torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    with torch.no_grad():
        seen = model(ei, et)
        hidden = model(ei, et, hide=torch.tensor([0]))
    assert not torch.allclose(seen[0], hidden[0])
    # node 2 is not known: its output is the same hidden or not
    torch.testing.assert_close(seen[2], hidden[2])
    torch.testing.assert_close(seen[2], hidden[1])  # and equals a node with label 0
    with pytest.raises(ValueError, match="hide"):
        RGCN(n, 1, 4, 1)(ei, et, hide=torch.tensor([0]))
    with pytest.raises(ValueError, match="label_known"):
        RGCN(n, 1, 4, 1, labels=labels)
    with pytest.raises(ValueError, match="label_trick"):
        fit_node_classifier(model, (ei, et), labels, [0, 1], label_trick=1.5)
    _, hist = fit_node_classifier(model, (ei, et), labels, [0, 1], epochs=5, label_trick=0.5)
    assert len(hist) == 5
