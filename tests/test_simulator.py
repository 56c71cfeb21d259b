"""The position-bias click simulator: its ground truth must be what the docstring says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.data import attractiveness_from_rating, simulate_position_bias


@pytest.fixture(scope="module")
def ratings():
    rng = np.random.default_rng(0)
    rows = [(u, i, int(rng.integers(1, 6))) for u in range(1, 41) for i in range(1, 31)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


def test_attractiveness_from_rating():
    np.testing.assert_allclose(attractiveness_from_rating([1, 5]), [1 / 31, 1.0])
    with pytest.raises(ValueError, match=r"\[1, 5\]"):
        attractiveness_from_rating([0])


def test_log_shape_and_examination(ratings):
    log, exam = simulate_position_bias(ratings, n_sessions=2000, eta=1.0, seed=1)
    assert len(log) == 2000 * 10
    assert set(log.columns) >= {"session", "user_id", "item_id", "position", "clicked"}
    np.testing.assert_allclose(exam, 1 / np.arange(1, 11))
    # each session shows 10 distinct items the user rated, in positions 1..10
    per = log.groupby("session")
    assert (per["item_id"].nunique() == 10).all()
    assert (per["position"].apply(lambda p: sorted(p) == list(range(1, 11)))).all()
    rated = set(zip(ratings["user_id"], ratings["item_id"], strict=True))
    assert all(pair in rated for pair in zip(log["user_id"], log["item_id"], strict=True))


def test_click_rate_matches_the_click_model(ratings):
    log, exam = simulate_position_bias(ratings, n_sessions=20_000, eta=1.0, seed=2)
    # E[click | position p, item] = exam[p] * attract: compare averages per position
    expected = exam[log["position"] - 1] * log["attract"]
    by_pos = pd.DataFrame({"p": log["position"], "c": log["clicked"], "e": expected})
    means = by_pos.groupby("p").mean()
    np.testing.assert_allclose(means["c"], means["e"], atol=0.01)


def test_randomized_share_and_determinism(ratings):
    log, _ = simulate_position_bias(ratings, n_sessions=5000, randomized_share=0.2, seed=3)
    share = log.groupby("session")["randomized"].first().mean()
    assert 0.17 < share < 0.23
    again, _ = simulate_position_bias(ratings, n_sessions=5000, randomized_share=0.2, seed=3)
    pd.testing.assert_frame_equal(log, again)


def test_promotion_decouples_position_from_quality(ratings):
    def top_slot_quality(promotion):
        log, _ = simulate_position_bias(
            ratings, n_sessions=5000, promotion=promotion, randomized_share=0.0, seed=4
        )
        return log.loc[log["position"] == 1, "item_id"].value_counts().index[:3].tolist()

    assert top_slot_quality(0.0) != top_slot_quality(5.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_sessions": 0}, "n_sessions"),
        ({"eta": -1.0}, "eta"),
        ({"randomized_share": 1.5}, "randomized_share"),
        ({"list_len": 31}, "no user has at least list_len=31"),
    ],
)
def test_bad_input(ratings, kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_position_bias(ratings, **kwargs)


def test_missing_column(ratings):
    with pytest.raises(ValueError, match="no column 'rating'"):
        simulate_position_bias(ratings.drop(columns="rating"))


def test_engagement_signals(ratings):
    from utils.data import engagement_signals

    users = np.array([[0, 0], [1, 1]])
    items = np.array([[0, 1], [0, 1]])
    out = engagement_signals(ratings, users, items, n_items=30, seed=0)
    assert out["watch_minutes"].shape == (2, 2)
    assert ((out["p_like"] > 0) & (out["p_like"] < 1)).all()
    assert (out["watch_minutes"] <= out["length"]).all()
    # higher predicted rating -> more watching of the same item and a likelier like
    order = np.argsort(out["r_hat"][:, 0])
    assert (np.diff(out["watch_minutes"][order, 0]) >= 0).all()
    assert (np.diff(out["p_like"][order, 0]) >= 0).all()
    # the item length is a property of the item, shared across users
    assert out["length"][0, 0] == out["length"][1, 0]
    again = engagement_signals(ratings, users, items, n_items=30, seed=0)
    np.testing.assert_array_equal(out["watch_minutes"], again["watch_minutes"])
    with pytest.raises(ValueError, match="same shape"):
        engagement_signals(ratings, users, items[:1], n_items=30)
    with pytest.raises(ValueError, match="below n_items"):
        engagement_signals(ratings, users, items + 30, n_items=30)
