"""Experiment helpers: stable buckets, MDE formula, team-draft interleaving."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from utils.experiment import (
    cuped,
    interleaving_winner,
    mde_two_sample,
    stable_bucket,
    team_draft_interleave,
    winsorize,
)


def test_stable_bucket_is_deterministic_and_salted():
    a = stable_bucket(range(1000), "exp-a", 10)
    assert a.min() >= 0 and a.max() < 10
    np.testing.assert_array_equal(a, stable_bucket(range(1000), "exp-a", 10))
    b = stable_bucket(range(1000), "exp-b", 10)
    assert (a == b).mean() < 0.2  # a different salt reshuffles users
    # a known value pins the hash function (SHA-256 of "salt:id", first 8 bytes, big endian)
    import hashlib

    expected = int.from_bytes(hashlib.sha256(b"s:42").digest()[:8], "big") % 7
    assert stable_bucket([42], "s", 7)[0] == expected


def test_stable_bucket_bad_input():
    with pytest.raises(ValueError, match="salt"):
        stable_bucket([1], "")
    with pytest.raises(ValueError, match="n_buckets"):
        stable_bucket([1], "s", 0)
    with pytest.raises(ValueError, match="ids must not be empty"):
        stable_bucket([], "s")


def test_mde_formula():
    sigma, n = 2.0, 10_000
    expected = (norm.ppf(0.975) + norm.ppf(0.8)) * np.sqrt(2 * sigma**2 / n)
    assert mde_two_sample(sigma, n) == pytest.approx(expected)
    assert mde_two_sample(sigma, 4 * n) == pytest.approx(expected / 2)  # 1/sqrt(n)
    with pytest.raises(ValueError, match="sigma"):
        mde_two_sample(0.0, n)
    with pytest.raises(ValueError, match="alpha and power"):
        mde_two_sample(1.0, n, power=1.0)


def test_team_draft_interleave_properties():
    rng = np.random.default_rng(0)
    a, b = list(range(10)), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    for _ in range(50):
        items, teams = team_draft_interleave(a, b, 6, rng)
        assert len(set(items)) == 6
        assert abs(teams.count("A") - teams.count("B")) <= 1
        # each team's picks appear in its own ranker's order
        for team, ranking in (("A", a), ("B", b)):
            picks = [i for i, t in zip(items, teams, strict=True) if t == team]
            assert picks == sorted(picks, key=ranking.index)


def test_identical_rankers_tie_on_average():
    rng = np.random.default_rng(1)
    ranking = list(range(10))
    wins = []
    for _ in range(2000):
        _items, teams = team_draft_interleave(ranking, ranking, 10, rng)
        clicked = rng.random(10) < 1 / np.arange(1, 11)
        wins.append(interleaving_winner(teams, clicked))
    assert abs(np.mean(wins)) < 0.05  # no preference between a ranker and itself


def test_interleaving_winner_and_bad_input():
    assert interleaving_winner(["A", "B", "A"], [True, True, True]) == 1
    assert interleaving_winner(["A", "B"], [False, True]) == -1
    assert interleaving_winner(["A", "B"], [False, False]) == 0
    with pytest.raises(ValueError, match="must match"):
        interleaving_winner(["A"], [True, False])
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="non-empty"):
        team_draft_interleave([], [1], 1, rng)
    with pytest.raises(ValueError, match="k=5 is larger"):
        team_draft_interleave([1, 2], [2, 3], 5, rng)


def test_interleave_when_one_ranker_runs_out():
    rng = np.random.default_rng(0)
    items, teams = team_draft_interleave([1], [1, 2, 3], 3, rng)
    assert sorted(items) == [1, 2, 3] and len(teams) == 3


def test_winsorize_caps_at_the_row_quantile():
    v = np.arange(1.0, 101.0)
    out = winsorize(v, 0.9)
    assert out.max() == pytest.approx(np.quantile(v, 0.9)) and (out[:90] == v[:90]).all()
    rows = np.vstack([v, 10 * v])
    capped = winsorize(rows, 0.5)
    assert capped[0].max() == pytest.approx(50.5) and capped[1].max() == pytest.approx(505.0)
    heavy = np.random.default_rng(0).lognormal(0, 1.5, 50_000)
    assert winsorize(heavy).var() < 0.5 * heavy.var()
    with pytest.raises(ValueError, match="q must be"):
        winsorize(v, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        winsorize([1.0, np.nan], 0.5)


def test_cuped_removes_the_explained_variance_and_keeps_the_mean():
    g = np.random.default_rng(1)
    x = g.standard_normal((3, 100_000))
    rho = 0.7
    y = 5 + rho * x + np.sqrt(1 - rho**2) * g.standard_normal(x.shape)
    adj = cuped(y, x)
    assert np.allclose(adj.mean(1), y.mean(1))
    assert np.allclose(adj.var(1) / y.var(1), 1 - rho**2, atol=0.01)
    assert np.allclose(cuped(y[0], x[0]), adj[0])
    with pytest.raises(ValueError, match="same shape"):
        cuped(y, x[:, :10])
    with pytest.raises(ValueError, match="constant"):
        cuped(y[0], np.ones(100_000))
