"""utils.moderation.queue: a day of moderation with a capacity-limited review queue."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from utils.moderation.queue import OUTCOMES, diurnal_arrivals, simulate_moderation_day

THRESHOLDS = {"t_remove": 0.9, "t_review": 0.5}


def _day(n_per_hour: float = 60.0, prevalence: float = 0.1, seed: int = 0):
    t = diurnal_arrivals(n_per_hour, seed=seed)
    rng = np.random.default_rng(seed + 1)
    y = (rng.random(t.size) < prevalence).astype(int)
    s = 1 / (1 + np.exp(-rng.normal(np.where(y == 1, 1.5, -1.5), 1.2)))
    return t, y, s


@pytest.fixture(scope="module")
def day():
    return _day()


def test_diurnal_arrivals_follow_the_rate_curve():
    t = diurnal_arrivals(200.0, amplitude=0.8, peak_hour=20, seed=3)
    assert np.all(np.diff(t) >= 0) and t.min() >= 0 and t.max() < 86_400
    assert t.size == pytest.approx(200 * 24, rel=0.05)
    per_hour = np.bincount((t // 3600).astype(int), minlength=24)
    assert per_hour[19:22].mean() > 3 * per_hour[7:10].mean()


@pytest.mark.parametrize("discipline", ["fifo", "score"])
@pytest.mark.parametrize("n_reviewers", [0, 1, 3, math.inf])
def test_every_item_ends_in_exactly_one_state(day, discipline, n_reviewers):
    t, y, s = day
    res = simulate_moderation_day(
        t, y, s, **THRESHOLDS, n_reviewers=n_reviewers, discipline=discipline, mean_handling_s=120
    )
    it = res.items
    assert len(it) == t.size and set(it["outcome"]) <= set(OUTCOMES)
    counts = it["outcome"].value_counts()
    assert counts.sum() == t.size
    review = it["route"] == "review"
    assert counts.get("auto_removed", 0) == (s >= 0.9).sum()
    assert counts.get("auto_allowed", 0) == (s < 0.5).sum()
    decided = counts.get("review_removed", 0) + counts.get("review_allowed", 0)
    assert decided + res.never_reviewed == review.sum()
    assert sum(res.harmful_outcome_share.values()) == pytest.approx(1.0)
    assert res.false_removals == int((it["removed"] & ~it["harmful"]).sum())
    assert (it["views"] >= 0).all() and (
        it.loc[it["outcome"] == "auto_removed", "views"] == 0
    ).all()
    q = res.queue
    assert (q["queue_length"] >= 0).all() and (q["busy"] >= 0).all()
    assert q["time_s"].is_monotonic_increasing


def test_zero_reviewers_review_nothing(day):
    t, y, s = day
    res = simulate_moderation_day(t, y, s, **THRESHOLDS, n_reviewers=0)
    review = (res.items["route"] == "review").sum()
    assert review > 0 and res.never_reviewed == review
    assert res.items["review_start_s"].isna().all() and (res.queue["busy"] == 0).all()
    assert math.isnan(res.utilisation) and math.isnan(res.wait_percentiles_s["p50"])
    assert res.queue["queue_length"].iloc[-1] == review


def test_unlimited_capacity_reviews_at_arrival_plus_handling():
    t, y, s = _day()
    keep = t < 80_000  # handling ends well before the day does
    res = simulate_moderation_day(
        t[keep], y[keep], s[keep], **THRESHOLDS, n_reviewers=math.inf, mean_handling_s=300
    )
    it = res.items[res.items["route"] == "review"]
    assert len(it) > 0 and res.never_reviewed == 0
    np.testing.assert_allclose(it["review_start_s"], it["arrival_s"])
    np.testing.assert_allclose(it["decided_s"], it["arrival_s"] + it["handling_s"])
    assert (res.queue["queue_length"] == 0).all() and res.wait_percentiles_s["p99"] == 0
    assert math.isnan(res.utilisation)


def test_perfect_reviewers_decide_by_label_and_views_stop_at_removal():
    t, y, s = _day()
    res = simulate_moderation_day(
        t, y, s, **THRESHOLDS, n_reviewers=math.inf, views_per_hour=36.0, horizon_s=86_400
    )
    it = res.items
    done = it["outcome"].isin(["review_removed", "review_allowed"])
    assert (it.loc[done, "removed"] == it.loc[done, "harmful"]).all()
    rem = it["outcome"] == "review_removed"
    np.testing.assert_allclose(it.loc[rem, "views"], 36 / 3600 * it.loc[rem, "handling_s"])
    up = it["outcome"] == "auto_allowed"
    np.testing.assert_allclose(it.loc[up, "views"], 0.01 * (86_400 - it.loc[up, "arrival_s"]))
    decay = simulate_moderation_day(
        t, y, s, **THRESHOLDS, n_reviewers=math.inf, views_per_hour=36.0, view_half_life_s=3600
    )
    assert (decay.items["views"] <= 36 / math.log(2) + 1e-9).all()
    assert decay.harmful_exposure < res.harmful_exposure


def test_score_priority_cuts_harmful_exposure_under_overload():
    t, y, s = _day(n_per_hour=120, prevalence=0.2, seed=5)
    kw = dict(**THRESHOLDS, n_reviewers=2, mean_handling_s=400, views_per_hour=50.0, seed=7)
    fifo = simulate_moderation_day(t, y, s, discipline="fifo", **kw)
    prio = simulate_moderation_day(t, y, s, discipline="score", **kw)
    assert fifo.never_reviewed > 0  # overloaded: 640 reviews x 400 s > 2 x 86,400 s
    assert fifo.utilisation > 0.95
    assert prio.harmful_exposure < 0.9 * fifo.harmful_exposure
    assert (
        prio.harmful_outcome_share["review_removed"] > fifo.harmful_outcome_share["review_removed"]
    )


def test_utilisation_at_most_one_with_shifts(day):
    t, y, s = day
    staff = [1] * 8 + [4] * 8 + [2] * 8
    for n in (1, 5, staff):
        res = simulate_moderation_day(t, y, s, **THRESHOLDS, n_reviewers=n, mean_handling_s=200)
        assert 0 < res.utilisation <= 1 + 1e-12
    busy_by_hour = res.queue.assign(h=(res.queue["time_s"] // 3600).astype(int))
    assert busy_by_hour.loc[busy_by_hour["h"].between(1, 7), "busy"].max() <= 1


def test_reviewer_accuracy_makes_mistakes(day):
    t, y, s = day
    res = simulate_moderation_day(
        t, y, s, **THRESHOLDS, n_reviewers=math.inf, reviewer_accuracy=0.7
    )
    it = res.items[res.items["outcome"].isin(["review_removed", "review_allowed"])]
    wrong = (it["removed"] != it["harmful"]).mean()
    assert 0.2 < wrong < 0.4


def test_same_seed_same_day_other_seed_other_day(day):
    t, y, s = day
    kw = dict(**THRESHOLDS, n_reviewers=2, mean_handling_s=150, reviewer_accuracy=0.9)
    a = simulate_moderation_day(t, y, s, seed=1, **kw)
    b = simulate_moderation_day(t, y, s, seed=1, **kw)
    c = simulate_moderation_day(t, y, s, seed=2, **kw)
    pd.testing.assert_frame_equal(a.items, b.items)
    pd.testing.assert_frame_equal(a.queue, b.queue)
    assert a.summary() == b.summary()
    assert not a.items["handling_s"].equals(c.items["handling_s"])
    assert set(a.summary()) >= {"harmful_exposure", "utilisation", "never_reviewed", "wait_p90_s"}


def test_bad_input_is_named():
    t, y, s = np.array([1.0, 2.0]), np.array([0, 1]), np.array([0.2, 0.8])
    kw = dict(**THRESHOLDS, n_reviewers=1)
    with pytest.raises(ValueError, match="one length"):
        simulate_moderation_day(t, y[:1], s, **kw)
    with pytest.raises(ValueError, match=r"t_review=0\.9, t_remove=0\.5"):
        simulate_moderation_day(t, y, s, t_remove=0.5, t_review=0.9, n_reviewers=1)
    with pytest.raises(ValueError, match=r"\('fifo', 'score'\).*'lifo'"):
        simulate_moderation_day(t, y, s, **kw | {"discipline": "lifo"})
    with pytest.raises(ValueError, match="n_reviewers"):
        simulate_moderation_day(t, y, s, **kw | {"n_reviewers": -1})
    with pytest.raises(ValueError, match="n_reviewers"):
        simulate_moderation_day(t, y, s, **kw | {"n_reviewers": 1.5})
    with pytest.raises(ValueError, match="24 entries"):
        simulate_moderation_day(t, y, s, **kw | {"n_reviewers": [1, 2]})
    with pytest.raises(TypeError, match="n_reviewers"):
        simulate_moderation_day(t, y, s, **kw | {"n_reviewers": "two"})
    with pytest.raises(ValueError, match="horizon_s"):
        simulate_moderation_day(np.array([1.0, 90_000.0]), y, s, **kw)
    with pytest.raises(ValueError, match="scores must be finite"):
        simulate_moderation_day(t, y, np.array([0.2, np.nan]), **kw)
    with pytest.raises(ValueError, match="harmful must be 0"):
        simulate_moderation_day(t, np.array([0, 2]), s, **kw)
    with pytest.raises(ValueError, match="mean_handling_s"):
        simulate_moderation_day(t, y, s, **kw | {"mean_handling_s": 0})
    with pytest.raises(ValueError, match="views_per_hour"):
        simulate_moderation_day(t, y, s, **kw | {"views_per_hour": -1.0})
    with pytest.raises(ValueError, match="view_half_life_s"):
        simulate_moderation_day(t, y, s, **kw | {"view_half_life_s": 0})
    with pytest.raises(ValueError, match="amplitude"):
        diurnal_arrivals(10.0, amplitude=1.5)
