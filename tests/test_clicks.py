"""The MovieLens click task: labels, temporal split, point-in-time history, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from utils.data import GENRE_COLUMNS, movielens_clicks


@pytest.fixture(scope="module")
def task(movielens):
    return movielens_clicks(movielens, history_len=5)


def test_one_row_per_rating_with_like_labels(task, movielens):
    f = task.frame
    assert len(f) == len(movielens.ratings) == len(task.history)
    assert ((f["rating"] >= 4) == (f["label"] == 1)).all()
    assert 0.5 < f["label"].mean() < 0.6
    assert f[list(GENRE_COLUMNS)].isin([0, 1]).all().all()
    assert not f[["age", "year", "occupation"]].isna().any().any()
    assert f["occupation"].between(0, task.n_occupations - 1).all()


def test_split_is_temporal_within_each_user(task):
    f = task.frame
    for _, g in f.groupby("user"):
        parts = g["split"].to_numpy()
        assert set(parts) == {"train", "val", "test"}
        ts = g["timestamp"].to_numpy()
        assert ts[parts == "train"].max() <= ts[parts == "val"].min()
        assert ts[parts == "val"].max() <= ts[parts == "test"].min()
    share = f["split"].value_counts(normalize=True)
    assert share["train"] == pytest.approx(0.7, abs=0.02)
    assert share["test"] == pytest.approx(0.2, abs=0.02)


def test_history_holds_only_earlier_liked_items(task):
    f, H = task.frame, task.history
    rng = np.random.default_rng(0)
    for row in rng.choice(len(f), 300, replace=False):
        u, t = f["user"].iat[row], f["timestamp"].iat[row]
        earlier = f[(f["user"] == u) & (f["timestamp"] < t) & (f["label"] == 1)]
        expected = earlier["item"].to_numpy()[-5:]
        n = int(f["hist_len"].iat[row])
        assert n == len(expected)
        assert (H[row, 5 - n :] == expected).all()
        assert (H[row, : 5 - n] == task.pad).all()


def test_part_returns_aligned_rows(task):
    test, h = task.part("test")
    assert len(test) == len(h) and set(test["split"]) == {"test"}
    with pytest.raises(ValueError, match="name"):
        task.part("validation")


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"history_len": 0}, "history_len"),
        ({"like_threshold": 6}, "like_threshold"),
        ({"val_frac": 0.5, "test_frac": 0.5}, "val_frac"),
    ],
)
def test_bad_arguments_are_named(movielens, kw, match):
    with pytest.raises(ValueError, match=match):
        movielens_clicks(movielens, **kw)


def test_side_features_shapes_and_encodings(movielens):
    from utils.data import movielens_item_texts, movielens_side_features

    F_user, F_item = movielens_side_features(movielens)
    assert F_user.shape == (943, 30) and F_item.shape == (1682, 404)
    assert np.allclose(F_user[:, :7].sum(1), 1) and np.allclose(F_user[:, 7:9].sum(1), 1)
    assert np.allclose(F_user[:, 9:].sum(1), 1)
    assert np.isfinite(F_item).all()
    assert np.allclose(np.linalg.norm(F_item[:, 20:], axis=1), 1, atol=1e-4)  # MiniLM unit vectors
    texts = movielens_item_texts(movielens)
    assert texts[0].startswith("Toy Story (1995) | ")
