"""Bandit policies and the click simulator: regret, closed forms, new arms, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from utils.bandits import UCB1, EpsilonGreedy, LinUCB, ThompsonSampling
from utils.data.bandit_sim import UserPopulation, make_user_population, simulate


def _bernoulli_population(p: list[float]) -> UserPopulation:
    """Context-free instance: strength 0, so every user clicks item a with probability p[a]."""
    p = np.asarray(p)
    logits = np.log(p / (1 - p))
    return UserPopulation(np.ones((10, 2)), np.eye(2)[np.arange(len(p)) % 2], logits, 0.0, 0.0)


class _Fixed:
    """A policy that always plays one arm (for regret bookkeeping tests)."""

    def __init__(self, n_arms: int, arm: int):
        self.n_arms, self.arm = n_arms, arm

    def select(self, context=None):
        return self.arm

    def update(self, arm, reward, context=None):
        pass

    def add_arm(self):
        self.n_arms += 1
        return self.n_arms - 1


@pytest.mark.parametrize("make", [lambda s: UCB1(3, seed=s), lambda s: ThompsonSampling(3, seed=s)])
def test_regret_is_sublinear_on_easy_instance(make):
    pop = _bernoulli_population([0.2, 0.5, 0.8])
    T = 4000
    runs = np.array([simulate(make(s), pop, T, seed=s).cumulative_regret for s in range(4)])
    mean = runs.mean(axis=0)
    first, second = mean[T // 2 - 1], mean[-1] - mean[T // 2 - 1]
    assert second < 0.6 * first, (first, second)  # linear regret would give second == first
    assert mean[-1] / T < 0.03
    # UCB1's finite-time bound (Auer et al. 2002, Theorem 1) holds for the mean
    gaps = np.array([0.6, 0.3])
    bound = np.sum(8 * math.log(T) / gaps) + (1 + math.pi**2 / 3) * gaps.sum()
    assert mean[-1] < bound


def test_epsilon_greedy_regret_is_linear_in_exploration():
    pop = _bernoulli_population([0.2, 0.5, 0.8])
    T = 4000
    r = np.mean([simulate(EpsilonGreedy(3, 0.3, seed=s), pop, T, seed=s).regret for s in range(4)])
    # exploring uniformly 30% of the time costs about 0.3 * mean gap (0.3) per round
    assert 0.6 * 0.09 < r < 1.6 * 0.09, r


def test_ucb1_index_matches_formula():
    pol = UCB1(3, seed=0)
    for arm, rew in [(0, 1), (1, 0), (2, 1), (0, 0), (2, 1)]:
        pol.update(arm, rew)
    t = 5
    index = pol.sums / pol.counts + np.sqrt(2 * math.log(t) / pol.counts)
    assert pol.select() == int(np.argmax(index))
    assert pol.t == t
    np.testing.assert_allclose(pol.means(), [0.5, 0.0, 1.0])


def test_ucb1_and_thompson_try_unplayed_arms():
    pol = UCB1(4, seed=0)
    seen = set()
    for _ in range(4):
        a = pol.select()
        seen.add(a)
        pol.update(a, 0.0)
    assert seen == {0, 1, 2, 3}
    ts = ThompsonSampling(2, seed=0)
    for _ in range(50):
        ts.update(0, 1.0)
    assert sum(ts.select() == 0 for _ in range(100)) > 90


def test_thompson_posterior_and_fractional_reward():
    ts = ThompsonSampling(2, prior_alpha=2.0, prior_beta=3.0, seed=0)
    ts.update(0, 1)
    ts.update(0, 0)
    ts.update(1, 1)
    np.testing.assert_array_equal(ts.successes, [1, 1])
    np.testing.assert_array_equal(ts.counts, [2, 1])
    for _ in range(1000):
        ts.update(1, 0.25)  # Bernoulli(0.25) trick: about a quarter become successes
    assert 0.2 < (ts.successes[1] - 1) / 1000 < 0.3


def test_linucb_matches_closed_form_ridge():
    rng = np.random.default_rng(0)
    d, lam, alpha = 4, 0.5, 0.7
    pol = LinUCB(3, d, alpha=alpha, lam=lam, seed=0)
    X = {a: [] for a in range(3)}
    y = {a: [] for a in range(3)}
    for _ in range(60):
        x = rng.standard_normal(d)
        a = pol.select(x)
        r = float(rng.random() < 0.5)
        pol.update(a, r, x)
        X[a].append(x)
        y[a].append(r)
    for a in range(3):
        Xa, ya = np.array(X[a]).reshape(-1, d), np.array(y[a])
        A = lam * np.eye(d) + Xa.T @ Xa
        np.testing.assert_allclose(pol.theta()[a], np.linalg.solve(A, Xa.T @ ya), atol=1e-10)
        np.testing.assert_allclose(pol.A_inv[a], np.linalg.inv(A), atol=1e-10)
    # the index is theta^T x + alpha sqrt(x^T A^-1 x), and a per-arm context works too
    xs = rng.standard_normal((3, d))
    width = np.sqrt(np.einsum("ai,aij,aj->a", xs, pol.A_inv, xs))
    np.testing.assert_allclose(pol.ucb(xs), np.einsum("ai,ai->a", pol.theta(), xs) + alpha * width)


def test_linucb_learns_a_personalised_policy():
    rng = np.random.default_rng(1)
    F = rng.standard_normal((5, 3))
    pop = make_user_population(F, np.zeros(5), n_users=200, strength=3.0, seed=1)
    T = 3000
    lin = simulate(LinUCB(5, pop.n_context, alpha=0.5, seed=0), pop, T, seed=0)
    ucb = simulate(UCB1(5, seed=0), pop, T, seed=0)
    late = slice(T // 2, T)
    # context-free UCB1 converges to the best single item; LinUCB to each user's best item
    assert lin.regret[late].mean() < 0.5 * ucb.regret[late].mean()


def test_arm_added_mid_run():
    for pol in (
        EpsilonGreedy(2, seed=0),
        UCB1(2, seed=0),
        ThompsonSampling(2, seed=0),
        LinUCB(2, 3, seed=0),
    ):
        x = np.ones(3)
        for _ in range(10):
            a = pol.select(x)
            pol.update(a, 1.0, x)
        assert pol.add_arm() == 2 and pol.n_arms == 2 + 1
        pol.update(2, 1.0, x)
        assert pol.counts[2] == 1
    u = UCB1(2, seed=0)
    for a in (0, 1, 0, 1):
        u.update(a, 1.0)
    u.add_arm()
    assert u.select() == 2  # an unplayed arm has an infinite bonus: tried at once
    lin = LinUCB(2, 3, seed=0)
    lin.add_arm()
    assert lin.A_inv.shape == (3, 3, 3) and lin.b.shape == (3, 3)


def test_simulate_with_injected_item_and_exact_regret():
    pop = _bernoulli_population([0.2, 0.5, 0.6])
    res = simulate(
        UCB1(3, seed=0),
        pop,
        500,
        seed=0,
        new_item=([1.0, 0.0], math.log(0.9 / 0.1)),
        new_item_at=200,
    )
    assert (res.arms[:200] < 3).all() and (res.arms[200:] == 3).any()
    assert pop.n_items == 3  # the caller's population is not modified
    # always playing the best arm: zero regret against both oracles
    best = simulate(_Fixed(3, 2), pop, 300, seed=1)
    assert best.regret.max() < 1e-12 and best.regret_fixed.max() < 1e-12
    worst = simulate(_Fixed(3, 0), pop, 300, seed=1)
    np.testing.assert_allclose(worst.regret, 0.4)
    assert abs(worst.clicks.mean() - 0.2) < 0.07


def test_population_click_model_and_determinism():
    rng = np.random.default_rng(2)
    F = rng.standard_normal((6, 3))
    pop = make_user_population(F, np.arange(6) * 0.1, n_users=50, intercept=-1.0, strength=1.5)
    Fu = F / np.linalg.norm(F, axis=1, keepdims=True)
    logits = -1.0 + np.arange(6) * 0.1 + 1.5 * pop.tastes @ Fu.T
    np.testing.assert_allclose(pop.click_probs(), 1 / (1 + np.exp(-logits)))
    np.testing.assert_allclose(np.linalg.norm(pop.tastes, axis=1), 1.0)
    assert pop.context(0).shape == (4,) and pop.context(0)[0] == 1.0
    a = simulate(ThompsonSampling(6, seed=3), pop, 300, seed=4)
    b = simulate(ThompsonSampling(6, seed=3), pop, 300, seed=4)
    np.testing.assert_array_equal(a.arms, b.arms)


def test_bad_input():
    with pytest.raises(ValueError, match="n_arms"):
        UCB1(0)
    with pytest.raises(TypeError, match="n_arms"):
        EpsilonGreedy(2.5)
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonGreedy(3, epsilon=1.5)
    with pytest.raises(TypeError, match="seed"):
        UCB1(3, seed=None)
    with pytest.raises(ValueError, match="prior_alpha"):
        ThompsonSampling(3, prior_alpha=0.0)
    with pytest.raises(ValueError, match="lam"):
        LinUCB(3, 2, lam=0.0)
    pol = UCB1(3)
    with pytest.raises(ValueError, match="reward"):
        pol.update(0, 2.0)
    with pytest.raises(ValueError, match="reward"):
        pol.update(0, float("nan"))
    with pytest.raises(ValueError, match="arm"):
        pol.update(3, 1.0)
    with pytest.raises(TypeError, match="arm"):
        pol.update(1.0, 1.0)
    assert pol.t == 0  # rejected updates change nothing
    lin = LinUCB(3, 2)
    with pytest.raises(ValueError, match="context"):
        lin.select()
    with pytest.raises(ValueError, match="context"):
        lin.select(np.ones(5))
    with pytest.raises(ValueError, match="context"):
        lin.update(0, 1.0, [np.nan, 1.0])
    pop = _bernoulli_population([0.2, 0.5])
    with pytest.raises(ValueError, match="arms"):
        simulate(UCB1(3), pop, 10)
    with pytest.raises(ValueError, match="new_item"):
        simulate(UCB1(2), pop, 10, new_item=([1.0, 0.0], 0.0))
    with pytest.raises(ValueError, match="new_item_at"):
        simulate(UCB1(2), pop, 10, new_item=([1.0, 0.0], 0.0), new_item_at=10)
    with pytest.raises(ValueError, match="zero vector"):
        make_user_population(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="bias"):
        make_user_population(np.ones((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="feature"):
        pop.add_item([1.0, 0.0, 0.0], 0.0)


def test_epsilon_greedy_exploits_and_optimistic_start():
    pol = EpsilonGreedy(3, epsilon=0.0, seed=0)
    pol.update(0, 0.0)
    pol.update(1, 1.0)
    pol.update(2, 0.0)
    assert all(pol.select() == 1 for _ in range(20))
    pol.add_arm()  # initial value 0: a greedy policy never tries the new arm
    assert all(pol.select() == 1 for _ in range(20))
    opt = EpsilonGreedy(2, epsilon=0.0, initial_value=1.0, seed=0)
    opt.update(0, 0.0)
    assert opt.select() == 1  # optimistic initial value: the unplayed arm looks best
    explore = EpsilonGreedy(4, epsilon=1.0, seed=0)
    assert len({explore.select() for _ in range(200)}) == 4


class _Oracle:
    """Knows the click matrix and the user order: always the user's best item."""

    def __init__(self, P, users):
        self.P, self.users, self.t, self.n_arms = P, users, 0, P.shape[1]

    def select(self, context=None):
        return int(np.argmax(self.P[self.users[self.t]]))

    def update(self, arm, reward, context=None):
        self.t += 1


def test_personalised_oracle_has_zero_regret_and_beats_best_fixed():
    rng = np.random.default_rng(3)
    pop = make_user_population(rng.standard_normal((6, 3)), np.zeros(6), n_users=100, seed=3)
    users = np.random.default_rng(7).integers(pop.n_users, size=400)
    res = simulate(_Oracle(pop.click_probs(), users), pop, 400, seed=7)
    assert np.abs(res.regret).max() < 1e-12
    assert res.regret_fixed.sum() < 0  # personalisation beats every single item
    np.testing.assert_allclose(res.cumulative_regret, np.cumsum(res.regret))
