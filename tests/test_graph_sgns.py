"""Tests for utils.graph.sgns: window pairs, the unigram^0.75 noise, SGNS training (hand-written
gradients against autograd, loss falls, communities separate), NetMF's matrix against a dense
computation of Qiu et al.'s formula, and fit_node2vec on a small temporal split."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import torch

from utils.graph import CSRGraph, evaluate_link_prediction, temporal_link_split
from utils.graph.sgns import (
    TUNED,
    embedding_score_fn,
    fit_node2vec,
    line_pairs,
    netmf_embedding,
    netmf_matrix,
    noise_distribution,
    sgns_loss,
    train_sgns,
    window_pairs,
)
from utils.graph.walks import random_walks


def _two_communities(n: int = 40, seed: int = 0) -> tuple[CSRGraph, np.ndarray]:
    G = nx.planted_partition_graph(2, n // 2, 0.4, 0.01, seed=seed)
    e = np.array(G.edges())
    labels = np.repeat([0, 1], n // 2)
    return CSRGraph.from_edges(e[:, 0], e[:, 1], n), labels


def test_window_pairs_counts_and_content():
    walks = np.array([[0, 1, 2, 3], [4, 5, -1, -1]])
    pairs = window_pairs(walks, 2)
    got = sorted(map(tuple, pairs.tolist()))
    expected = sorted(
        [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3), (4, 5)]
        + [(b, a) for a, b in [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3), (4, 5)]]
    )
    assert got == expected
    full = np.arange(30).reshape(3, 10)
    assert len(window_pairs(full, 3)) == 3 * 2 * sum(10 - r for r in (1, 2, 3))
    with pytest.raises(ValueError, match="window"):
        window_pairs(walks, 4)
    with pytest.raises(ValueError, match="walks must"):
        window_pairs(np.zeros(5, dtype=int), 1)


def test_noise_distribution_is_unigram_to_three_quarters():
    c = np.array([1.0, 16.0, 0.0, 81.0])
    p = noise_distribution(c)
    assert p == pytest.approx(np.array([1, 8, 0, 27]) / 36)
    assert noise_distribution(c, power=1.0) == pytest.approx(c / c.sum())
    with pytest.raises(ValueError, match="counts"):
        noise_distribution(np.zeros(3))
    with pytest.raises(ValueError, match="counts"):
        noise_distribution(np.array([-1.0, 2.0]))


def test_hand_written_gradient_equals_autograd():
    """One SGD step of train_sgns must equal -lr * autograd gradient of the summed loss."""
    rng = np.random.default_rng(0)
    n, d, k = 6, 4, 2
    pairs = np.array([[0, 1], [2, 3], [4, 5]])
    res0 = train_sgns(pairs, n, dim=d, negatives=k, epochs=1, batch_size=3, lr=1e-9, seed=5)
    # re-create the initial state and the negatives train_sgns drew, via the same generator
    g = torch.Generator().manual_seed(5)
    U = ((torch.rand(n, d, generator=g) - 0.5) / d).double().requires_grad_()
    V = torch.tensor(rng.normal(size=(n, d)), requires_grad=True)  # nonzero V: a real test
    neg = torch.tensor([[1, 2], [3, 0], [5, 4]])
    P = torch.tensor(pairs)
    u, v, vn = U[P[:, 0]], V[P[:, 1]], V[neg]
    loss = -(
        torch.nn.functional.logsigmoid((u * v).sum(1)).sum()
        + torch.nn.functional.logsigmoid(-torch.einsum("bd,bkd->bk", u, vn)).sum()
    )
    loss.backward()
    # the same gradient written out as train_sgns does
    with torch.no_grad():
        gp = torch.sigmoid((u * v).sum(1)) - 1
        gn = torch.sigmoid(torch.einsum("bd,bkd->bk", u, vn))
        gu = gp[:, None] * v + torch.einsum("bk,bkd->bd", gn, vn)
        GU = torch.zeros(n, d, dtype=torch.float64).index_add_(0, P[:, 0], gu)
        GV = torch.zeros(n, d, dtype=torch.float64).index_add_(0, P[:, 1], gp[:, None] * u)
        GV.index_add_(0, neg.ravel(), (gn[:, :, None] * u[:, None, :]).reshape(-1, d))
    assert torch.allclose(GU, U.grad) and torch.allclose(GV, V.grad)
    # and a near-zero learning rate leaves the word2vec initialisation in place
    assert np.abs(res0.emb_in).max() <= 0.5 / d + 1e-6 and np.abs(res0.emb_out).max() < 1e-6


def test_training_lowers_the_loss_and_separates_communities():
    g, labels = _two_communities()
    walks = random_walks(g, walk_length=20, walks_per_node=10, seed=0)
    pairs = window_pairs(walks, 3)
    res = train_sgns(pairs, g.n_nodes, dim=16, epochs=5, lr=0.05, seed=0)
    assert res.epoch_loss[-1] < 0.8 * res.epoch_loss[0], res.epoch_loss
    rng = np.random.default_rng(1)
    neg = rng.integers(0, g.n_nodes, size=(len(pairs), 5))
    before = sgns_loss(np.zeros_like(res.emb_in), res.emb_out, pairs, neg)  # = 6 log 2
    assert before == pytest.approx(6 * np.log(2), rel=1e-5)
    assert sgns_loss(res.emb_in, res.emb_out, pairs, neg) < 0.7 * before
    Z = res.emb_in / np.linalg.norm(res.emb_in, axis=1, keepdims=True)
    cos = Z @ Z.T
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    assert cos[same].mean() - cos[labels[:, None] != labels[None, :]].mean() > 0.3
    again = train_sgns(pairs, g.n_nodes, dim=16, epochs=5, lr=0.05, seed=0)
    assert np.array_equal(again.emb_in, res.emb_in)  # same seed, same thread count


def test_train_sgns_rejects_bad_input():
    with pytest.raises(ValueError, match="pairs"):
        train_sgns(np.zeros((0, 2), dtype=int), 3)
    with pytest.raises(ValueError, match="outside"):
        train_sgns(np.array([[0, 5]]), 3)
    with pytest.raises(TypeError, match="pairs must hold int"):
        train_sgns(np.array([[0.0, 1.0]]), 3)
    with pytest.raises(ValueError, match="dim"):
        train_sgns(np.array([[0, 1]]), 3, dim=0)
    with pytest.raises(ValueError, match="counts"):
        train_sgns(np.array([[0, 1]]), 3, counts=np.ones(2))


def test_netmf_matrix_matches_the_closed_form_densely():
    G = nx.karate_club_graph()
    e = np.array(G.edges())
    g = CSRGraph.from_edges(e[:, 0], e[:, 1], 34)
    A = nx.to_numpy_array(G, nodelist=range(34), weight=None)
    D_inv = np.diag(1 / A.sum(1))
    T, b = 3, 2.0
    S = sum(np.linalg.matrix_power(D_inv @ A, r) for r in range(1, T + 1))
    M = A.sum() / (b * T) * S @ D_inv  # Qiu et al. 2018, Theorem 2.3
    expected = np.log(np.maximum(M, 1))
    got = netmf_matrix(g, window=T, negative=b, block=7).toarray()
    assert np.allclose(got, expected)
    assert np.allclose(got, got.T)  # M is symmetric for an undirected graph
    Z = netmf_embedding(g, dim=8, window=T, negative=b)
    assert Z.shape == (34, 8)
    s = np.linalg.svd(expected, compute_uv=False)
    assert np.linalg.norm(Z, axis=0) ** 2 == pytest.approx(s[:8], rel=1e-4)
    with pytest.raises(ValueError, match="dim"):
        netmf_embedding(g, dim=34)


def test_line_pairs_are_the_directed_edges():
    g = CSRGraph.from_edges([0, 1], [1, 2], 3)
    assert sorted(map(tuple, line_pairs(g).tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]


def test_embedding_score_fn_scorers():
    U = np.array([[1.0, 0.0], [0.0, 1.0]])
    V = np.array([[0.0, 2.0], [3.0, 0.0]])
    s = np.array([0])
    assert np.allclose(embedding_score_fn(U, V, "in_in")(s), [[1, 0]])
    assert np.allclose(embedding_score_fn(U, V, "in_out")(s), [[0, 3]])
    assert np.allclose(embedding_score_fn(U, V, "sym")(s), [[0, 5]])
    with pytest.raises(ValueError, match="scorer"):
        embedding_score_fn(U, V, "cosine")
    with pytest.raises(ValueError, match="sources"):
        embedding_score_fn(U, V)(np.array([2]))


def test_fit_node2vec_beats_random_on_a_temporal_split():
    rng = np.random.default_rng(0)
    G = nx.planted_partition_graph(4, 50, 0.15, 0.005, seed=1)
    e = np.array(G.edges())
    born = rng.integers(2000, 2014, len(e))
    ties = pd.DataFrame({"u": e.min(1), "v": e.max(1), "born": born})
    split = temporal_link_split(ties, 200)
    phase = split.phase("val")
    score_fn = fit_node2vec(phase, seed=0, walks_per_node=10, epochs=3, lr=0.05)
    m = evaluate_link_prediction(score_fn, phase.graph, phase.targets)
    rand = np.random.default_rng(0).random((200, 200))
    r = evaluate_link_prediction(lambda s: rand[s], phase.graph, phase.targets)
    # future ties fall mostly inside the 4 planted communities, which the walks recover
    assert m["hits@20"] > 2 * r["hits@20"] and m["mrr"] > 2 * r["mrr"], (m, r)
    with pytest.raises(TypeError, match="unknown hyperparameters"):
        fit_node2vec(phase, dims=3)
    with pytest.raises(TypeError, match="phase"):
        fit_node2vec(object())
    assert set(TUNED) >= {"p", "q", "dim", "walk_length", "walks_per_node", "window"}
