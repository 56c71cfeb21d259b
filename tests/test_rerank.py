"""Re-rankers: agreement with brute-force definitions, invariants, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from utils.rerank import (
    cap_per_group,
    dpp_greedy,
    insert_exploration,
    intra_list_diversity,
    minmax_normalize,
    mmr,
)

RNG = np.random.default_rng(0)
REL = RNG.random(30)
EMB = RNG.standard_normal((30, 8))


def _unit(E):
    return E / np.linalg.norm(E, axis=1, keepdims=True)


def test_minmax_normalize():
    np.testing.assert_allclose(minmax_normalize([2.0, 4.0, 3.0]), [0.0, 1.0, 0.5])
    np.testing.assert_allclose(minmax_normalize([1.0, 1.0]), [0.5, 0.5])


def test_mmr_extremes_and_definition():
    # lam = 1: pure relevance order
    np.testing.assert_array_equal(mmr(REL, EMB, 10, lam=1.0), np.argsort(-REL)[:10])
    # brute-force definition for an intermediate lam
    lam, U = 0.6, _unit(EMB)
    picked = [int(np.argmax(REL))]
    for _ in range(9):
        best, best_gain = None, -np.inf
        for i in range(30):
            if i in picked:
                continue
            gain = lam * REL[i] - (1 - lam) * max(U[i] @ U[j] for j in picked)
            if gain > best_gain:
                best, best_gain = i, gain
        picked.append(best)
    np.testing.assert_array_equal(mmr(REL, EMB, 10, lam=lam), picked)


def _clustered():
    """Three tight clusters of 10 items; the most relevant items all sit in cluster 0."""
    centres = 3 * np.eye(3)
    E = np.repeat(centres, 10, axis=0) + 0.1 * RNG.standard_normal((30, 3))
    rel = np.r_[np.linspace(1.0, 0.8, 10), np.linspace(0.7, 0.5, 10), np.linspace(0.4, 0.2, 10)]
    return rel, E


def test_mmr_increases_diversity():
    rel, E = _clustered()
    ild = [intra_list_diversity(E[mmr(rel, E, 10, lam)]) for lam in (1.0, 0.7, 0.3)]
    assert ild[0] < ild[1] <= ild[2]
    assert len(set(mmr(rel, E, 3, lam=0.3) // 10)) == 3  # one pick per cluster


def test_dpp_greedy_matches_brute_force_log_det():
    theta = 0.6
    alpha = theta / (2 * (1 - theta))
    U = _unit(EMB)
    q = np.exp(alpha * REL)
    L = q[:, None] * ((1 + U @ U.T) / 2) * q[None, :]
    picked = []
    for _ in range(6):
        gains = [
            -np.inf if i in picked else np.linalg.slogdet(L[np.ix_([*picked, i], [*picked, i])])[1]
            for i in range(30)
        ]
        picked.append(int(np.argmax(gains)))
    np.testing.assert_array_equal(dpp_greedy(REL, EMB, 6, theta=theta), picked)


def test_dpp_theta_zero_ignores_relevance_and_theta_high_follows_it():
    # theta -> 1 weights quality so heavily that the first picks follow relevance
    top = dpp_greedy(REL, EMB, 3, theta=0.99)
    assert top[0] == np.argmax(REL)
    rel, E = _clustered()
    diverse = dpp_greedy(rel, E, 10, theta=0.0)
    assert intra_list_diversity(E[diverse]) > intra_list_diversity(E[np.argsort(-rel)[:10]])
    assert len(set(dpp_greedy(rel, E, 3, theta=0.3) // 10)) == 3


def test_dpp_handles_a_low_rank_kernel():
    E = np.repeat(np.eye(2), 5, axis=0)  # only two directions: the kernel has rank <= 3
    out = dpp_greedy(np.linspace(0, 1, 10), E, 6, theta=0.5)
    assert len(out) == 6 and len(set(out.tolist())) == 6


def test_cap_per_group():
    groups = np.array(["a", "a", "a", "b", "a", "b", "c"])
    np.testing.assert_array_equal(cap_per_group(np.arange(7), groups, cap=2, k=4), [0, 1, 3, 5])
    # not enough candidates to satisfy the cap: a shorter list, never a violation
    assert len(cap_per_group(np.arange(3), groups, cap=1, k=3)) == 1


def test_insert_exploration():
    order = np.arange(10)
    explore = np.zeros(10, dtype=bool)
    explore[[7, 8]] = True
    rel = np.linspace(1, 0, 10)
    out = insert_exploration(order, rel, explore, k=5, slot=4)
    np.testing.assert_array_equal(out, [0, 1, 2, 3, 7])
    # an explore item already in the list: no duplicate
    explore[2] = True
    out = insert_exploration(order, rel, explore, k=5, slot=0)
    assert out[0] == 7 and len(set(out.tolist())) == 5


def test_intra_list_diversity():
    assert intra_list_diversity(np.eye(3)) == pytest.approx(1.0)
    assert intra_list_diversity(np.ones((4, 3))) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mmr([], EMB[:0], 1), "non-empty"),
        (lambda: mmr(REL, EMB, 31), "k=31 is larger"),
        (lambda: mmr(REL, EMB, 0), "k must be positive"),
        (lambda: mmr(REL, EMB, 5, lam=1.5), "lam must be in"),
        (lambda: mmr(np.r_[REL[:-1], np.nan], EMB, 5), "NaN"),
        (lambda: mmr(REL, EMB[:10], 5), "10 rows but there are 30 candidates"),
        (lambda: mmr(REL[:2], np.zeros((2, 3)), 1), "zero vector"),
        (lambda: dpp_greedy(REL, EMB, 5, theta=1.0), "theta must be in"),
        (lambda: cap_per_group(np.arange(3), np.array([0, 1]), 1, 2), "outside groups"),
        (lambda: cap_per_group(np.arange(2), np.array([0, 1]), 0, 2), "cap must be"),
        (lambda: insert_exploration(np.arange(5), np.ones(5), np.ones(4), 3, 0), "shape"),
        (lambda: insert_exploration(np.arange(5), np.ones(5), np.ones(5), 3, 3), "slot"),
        (lambda: intra_list_diversity(np.ones((1, 3))), "at least 2"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
