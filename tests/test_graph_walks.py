"""Tests for utils.graph.walks: node2vec's second-order walk against its exact transition
probabilities (p, q as in Grover & Leskovec 2016) and networkx, determinism, and bad input."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from utils.graph import CSRGraph
from utils.graph.walks import (
    node2vec_walks,
    random_walks,
    transition_probabilities,
    walk_statistics,
)


def _karate() -> tuple[CSRGraph, nx.Graph]:
    G = nx.karate_club_graph()
    e = np.array(G.edges())
    return CSRGraph.from_edges(e[:, 0], e[:, 1], G.number_of_nodes()), G


def test_transition_probabilities_follow_the_paper():
    g, G = _karate()
    prev, cur, p, q = 0, 1, 0.5, 4.0
    nbrs, probs = transition_probabilities(g, prev, cur, p=p, q=q)
    assert sorted(nbrs.tolist()) == sorted(G.neighbors(cur))
    # alpha = 1/p back to prev, 1 for common neighbours of prev and cur, 1/q for distance 2
    alpha = {x: 1 / p if x == prev else (1.0 if G.has_edge(prev, x) else 1 / q) for x in nbrs}
    z = sum(alpha.values())
    for x, pr in zip(nbrs, probs, strict=True):
        assert pr == pytest.approx(alpha[x] / z)
        assert nx.shortest_path_length(G, prev, x) in (0, 1, 2)


@pytest.mark.parametrize(("p", "q"), [(0.25, 1.0), (1.0, 4.0), (4.0, 0.25)])
def test_empirical_steps_match_exact_distribution(p, q):
    g, _ = _karate()
    walks = node2vec_walks(g, p=p, q=q, walk_length=40, walks_per_node=120, seed=3)
    prev, cur = 0, 1
    nxt = []
    for w in walks:
        hit = np.flatnonzero((w[:-2] == prev) & (w[1:-1] == cur))
        nxt.extend(w[hit + 2].tolist())
    nbrs, probs = transition_probabilities(g, prev, cur, p=p, q=q)
    counts = np.array([nxt.count(x) for x in nbrs])
    assert counts.sum() > 500
    emp = counts / counts.sum()
    # multinomial standard error at these counts is below 0.025; 0.06 is a wide but real band
    assert np.abs(emp - probs).max() < 0.06, (emp, probs)


def test_every_step_follows_an_edge_and_walks_are_deterministic():
    g, G = _karate()
    a = node2vec_walks(g, p=0.5, q=2.0, walk_length=15, walks_per_node=3, seed=7)
    b = node2vec_walks(g, p=0.5, q=2.0, walk_length=15, walks_per_node=3, seed=7)
    c = node2vec_walks(g, p=0.5, q=2.0, walk_length=15, walks_per_node=3, seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == (3 * G.number_of_nodes(), 15)
    assert all(G.has_edge(u, v) for w in a for u, v in itertools.pairwise(w))
    # each round starts once from every node
    assert sorted(a[:, 0].tolist()) == sorted(list(range(34)) * 3)


def test_uniform_walk_visits_nodes_in_proportion_to_degree():
    g, G = _karate()
    walks = random_walks(g, walk_length=200, walks_per_node=30, seed=0)
    visits = np.bincount(walks[:, 50:].ravel(), minlength=34) / walks[:, 50:].size
    deg = np.array([G.degree(v) for v in range(34)])
    stationary = deg / deg.sum()  # pi(v) = deg(v) / 2|E| for a simple random walk
    assert np.abs(visits - stationary).max() < 0.01
    assert np.array_equal(walks, node2vec_walks(g, p=1, q=1, walk_length=200, walks_per_node=30))


def test_q_controls_outward_moves_and_p_controls_returns():
    g, _ = _karate()
    s = {
        (p, q): walk_statistics(g, node2vec_walks(g, p=p, q=q, walk_length=30, walks_per_node=20))
        for p, q in [(1, 0.25), (1, 1), (1, 4), (0.25, 1), (4, 1)]
    }
    assert s[(1, 0.25)]["outward_share"] > s[(1, 1)]["outward_share"] > s[(1, 4)]["outward_share"]
    assert s[(0.25, 1)]["return_share"] > s[(1, 1)]["return_share"] > s[(4, 1)]["return_share"]
    for v in s.values():
        assert v["return_share"] + v["stay_share"] + v["outward_share"] == pytest.approx(1.0)


def test_isolated_start_is_padded_and_unsorted_rows_are_handled():
    g = CSRGraph.from_edges([0, 1], [1, 2], 4)  # node 3 is isolated
    w = node2vec_walks(g, walk_length=5, walks_per_node=1, start_nodes=np.array([3, 0]))
    assert (w[0, 1:] == -1).all() and w[0, 0] == 3 and (w[1] >= 0).all()
    default = node2vec_walks(g, walk_length=5, walks_per_node=2)
    assert 3 not in default[:, 0]  # isolated nodes are not default start nodes

    class Unsorted:
        indptr = np.array([0, 2, 3, 4])
        indices = np.array([2, 1, 0, 0])
        n_nodes = 3

    assert node2vec_walks(Unsorted(), p=2, q=0.5, walk_length=6, walks_per_node=2).min() >= 0


def test_bad_input_raises_naming_the_argument():
    g, _ = _karate()
    with pytest.raises(ValueError, match="p must"):
        node2vec_walks(g, p=0)
    with pytest.raises(ValueError, match="q must"):
        node2vec_walks(g, q=-1.0)
    with pytest.raises(ValueError, match="walk_length"):
        node2vec_walks(g, walk_length=1)
    with pytest.raises(TypeError, match="walks_per_node"):
        node2vec_walks(g, walks_per_node=2.5)
    with pytest.raises(ValueError, match="start_nodes"):
        node2vec_walks(g, start_nodes=np.array([99]))
    with pytest.raises(TypeError, match="graph must be a CSRGraph"):
        node2vec_walks(np.eye(3))
    with pytest.raises(ValueError, match="no edges"):
        node2vec_walks(CSRGraph.from_edges([], [], 3))
    with pytest.raises(ValueError, match="not a neighbour"):
        transition_probabilities(g, 0, 9, p=1, q=1)
    with pytest.raises(ValueError, match="cur=99"):
        transition_probabilities(g, 0, 99, p=1, q=1)
    with pytest.raises(ValueError, match="walks must"):
        walk_statistics(g, np.zeros((3, 2), dtype=int))
