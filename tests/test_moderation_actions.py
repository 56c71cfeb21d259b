"""utils.moderation.actions: cost-optimal thresholds per action and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from utils.moderation.actions import ACTIONS, cost_thresholds, decide, policy_cost


def test_thresholds_minimise_expected_cost_on_a_grid():
    th = cost_thresholds(false_removal=20, miss=10, review=1)
    assert th["review_pays"] and th["t_allow"] == pytest.approx(0.1)
    assert th["t_remove"] == pytest.approx(0.95) and th["t_single"] == pytest.approx(2 / 3)
    p = np.linspace(0, 1, 2001)
    chosen = decide(p, th)
    costs = np.stack([(1 - p) * 20, np.full_like(p, 1.0), p * 10])  # remove, review, allow
    best = np.array(ACTIONS)[costs.argmin(axis=0)]
    agree = chosen == best
    # only exact ties at the two thresholds may differ
    assert agree.mean() > 0.998


def test_review_never_pays_when_it_costs_more_than_either_error_allows():
    th = cost_thresholds(false_removal=2, miss=2, review=1.5)
    assert not th["review_pays"]
    assert set(decide(np.linspace(0, 1, 11), th)) == {"remove", "allow"}


def test_policy_cost_counts_and_errors():
    acts = np.array(["remove", "remove", "review", "allow", "allow"])
    harmful = np.array([1, 0, 1, 1, 0])
    out = policy_cost(acts, harmful, false_removal=20, miss=10, review=1)
    assert out == {
        "false_removals": 1.0,
        "missed": 1.0,
        "reviews": 1.0,
        "removed": 2.0,
        "cost": 31.0,
    }
    with pytest.raises(ValueError, match=r"unknown action\(s\) \['ban'\]"):
        policy_cost(["ban", "allow"], [1, 0], false_removal=1, miss=1, review=1)
    with pytest.raises(ValueError, match="one length"):
        policy_cost(["allow"], [1, 0], false_removal=1, miss=1, review=1)
    with pytest.raises(ValueError, match="harmful"):
        policy_cost(["allow"], [2], false_removal=1, miss=1, review=1)


def test_bad_costs_and_probabilities():
    with pytest.raises(ValueError, match="miss"):
        cost_thresholds(false_removal=1, miss=0, review=1)
    with pytest.raises(ValueError, match="review"):
        cost_thresholds(false_removal=1, miss=1, review=float("nan"))
    th = cost_thresholds(false_removal=20, miss=10, review=1)
    with pytest.raises(ValueError, match="probabilities"):
        decide([0.5, 1.2], th)
    with pytest.raises(ValueError, match="non-empty"):
        decide([], th)
    with pytest.raises(ValueError, match="cost_thresholds"):
        decide([0.5], {"t_allow": 0.1})
