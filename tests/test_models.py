"""Recommenders and their offline evaluation: hand-checked cases, invariants, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from utils.models import (
    BPRMF,
    EASE,
    ItemKNN,
    Popularity,
    evaluate_topk,
    interaction_matrix,
    popularity_percentile,
    relevant_sets,
)

# Four users, five items. Items 0 and 1 always co-occur; item 4 is never seen.
PAIRS = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 3, 4], "item_id": [1, 2, 1, 2, 1, 2, 3, 4]})


@pytest.fixture
def X():
    return interaction_matrix(PAIRS, 4, 5)


def test_interaction_matrix_is_binary_and_one_based(X):
    assert X.shape == (4, 5) and X.nnz == 8
    dup = pd.concat([PAIRS, PAIRS.iloc[:1]])
    assert interaction_matrix(dup, 4, 5).max() == 1.0  # duplicates collapse
    assert X[0, 0] == 1 and X[3, 3] == 1 and X[:, 4].sum() == 0


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame({"user_id": [5], "item_id": [1]}), "user ids must lie"),
        (pd.DataFrame({"user_id": [1], "item_id": [0]}), "item ids must lie"),
        (pd.DataFrame({"user": [1], "item_id": [1]}), "no column 'user_id'"),
    ],
)
def test_interaction_matrix_rejects_bad_ids(frame, match):
    with pytest.raises(ValueError, match=match):
        interaction_matrix(frame, 4, 5)


def test_popularity_ranks_by_count_and_excludes_seen(X):
    model = Popularity().fit(X)
    np.testing.assert_array_equal(model.counts_, [3, 3, 1, 1, 0])
    rec = model.recommend(np.array([3]), k=3)  # user 4 has item 3 only
    assert rec.tolist() == [[0, 1, 2]]
    assert 3 not in model.recommend(np.array([3]), k=4)[0]


def test_itemknn_cosine_by_hand(X):
    model = ItemKNN(k_neighbours=4).fit(X)
    # items 0 and 1 have identical columns: cosine 1; item 0 vs 2: 1 / sqrt(3 * 1)
    assert model.S_[0, 1] == pytest.approx(1.0)
    assert model.S_[0, 2] == pytest.approx(1 / np.sqrt(3))
    assert np.all(np.diag(model.S_) == 0)
    # pruning to one neighbour keeps the best similarity in each column (ties all kept:
    # items 0 and 1 are equally similar to item 2)
    pruned = ItemKNN(k_neighbours=1).fit(X).S_
    assert (pruned > 0).sum(axis=0).tolist() == [1, 1, 2, 0, 0]


def test_ease_matches_its_closed_form(X):
    lam = 2.0
    model = EASE(l2=lam).fit(X)
    G = (X.T @ X).toarray() + lam * np.eye(5)
    P = np.linalg.inv(G)
    B = np.eye(5) - P / np.diag(P)[None, :]
    np.testing.assert_allclose(model.B_, B, atol=1e-5)
    assert np.allclose(np.diag(model.B_), 0)
    # the diagonal constraint: B minimises ||X - XB||^2 + lam ||B||^2 with diag(B) = 0, so the
    # gradient vanishes off the diagonal
    grad = (X.T @ X).toarray() @ model.B_ - (X.T @ X).toarray() + lam * model.B_
    off = ~np.eye(5, dtype=bool)
    assert np.abs(grad[off]).max() < 1e-3


def test_bpr_learns_the_co_occurrence():
    rng = np.random.default_rng(0)
    # 200 users: each likes either block A (items 0-4) or block B (items 5-9)
    rows = []
    for u in range(200):
        block = np.arange(5) if u % 2 == 0 else np.arange(5, 10)
        for i in rng.choice(block, size=3, replace=False):
            rows.append((u + 1, i + 1))
    df = pd.DataFrame(rows, columns=["user_id", "item_id"])
    X = interaction_matrix(df, 200, 10)
    model = BPRMF(dim=8, epochs=40, lr=0.05, l2=1e-4, batch_size=128, seed=0).fit(X)
    rec = model.recommend(np.arange(200), k=2)
    same_block = [(r < 5).all() == (u % 2 == 0) for u, r in enumerate(rec)]
    assert np.mean(same_block) > 0.95
    assert model.losses_[-1] < model.losses_[0]


def test_bpr_is_deterministic_for_a_seed(X):
    a = BPRMF(dim=4, epochs=3, seed=3).fit(X).score(np.arange(4))
    b = BPRMF(dim=4, epochs=3, seed=3).fit(X).score(np.arange(4))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [Popularity, ItemKNN, EASE, lambda: BPRMF(dim=4, epochs=1)])
def test_recommend_bad_input(make, X):
    model = make()
    with pytest.raises(ValueError, match="not fitted"):
        model.score(np.array([0]))
    model.fit(X)
    with pytest.raises(ValueError, match="unknown user index 9"):
        model.recommend(np.array([0, 9]), k=2)
    with pytest.raises(ValueError, match="k=6 is larger than the catalogue"):
        model.recommend(np.array([0]), k=6)
    with pytest.raises(ValueError, match="users must be a non-empty 1-D"):
        model.recommend(np.array([], dtype=int), k=2)
    with pytest.raises(ValueError, match="users must be"):
        model.recommend(np.array([0.5]), k=2)


@pytest.mark.parametrize(
    ("bad", "err", "match"),
    [
        (np.ones((2, 2)), TypeError, "scipy sparse"),
        (sparse.csr_matrix((3, 3)), ValueError, "at least one interaction"),
        (sparse.csr_matrix(np.array([[1.0, -1.0]])), ValueError, "non-negative"),
        (sparse.csr_matrix(np.array([[1.0, np.nan]])), ValueError, "finite"),
    ],
)
def test_fit_rejects_bad_matrices(bad, err, match):
    with pytest.raises(err, match=match):
        Popularity().fit(bad)


def test_model_hyperparameters_are_checked():
    with pytest.raises(ValueError, match="k_neighbours"):
        ItemKNN(0)
    with pytest.raises(ValueError, match="l2 must be positive"):
        EASE(0)
    with pytest.raises(ValueError, match="lr must be"):
        BPRMF(lr=0)


def test_nan_scores_are_rejected(X):
    model = EASE(1.0).fit(X)
    model.B_[:] = np.nan
    with pytest.raises(ValueError, match="NaN scores"):
        model.recommend(np.array([0]), k=2)


def test_evaluate_topk_by_hand(X):
    # user 4 (row 3) holds out item 1 (row 0): popularity recommends items 0, 1, 2 first
    test = pd.DataFrame({"user_id": [4], "item_id": [1]})
    res = evaluate_topk(Popularity().fit(X), test, k=2)
    assert res["P@2"] == pytest.approx(0.5)
    assert res["R@2"] == pytest.approx(1.0)
    assert res["MAP@2"] == pytest.approx(1.0)
    assert res["nDCG@2"] == pytest.approx(1.0)
    assert res["coverage"] == pytest.approx(2 / 5)
    pct = popularity_percentile(X)
    assert res["popularity_bias"] == pytest.approx(pct[[0, 1]].mean())
    assert pct.min() == 0 and pct.max() <= 1


def test_relevant_sets_and_empty_test():
    users, rel = relevant_sets(pd.DataFrame({"user_id": [2, 2, 3], "item_id": [1, 4, 2]}))
    assert users.tolist() == [1, 2] and rel == [{0, 3}, {1}]
    with pytest.raises(ValueError, match="test must not be empty"):
        relevant_sets(pd.DataFrame({"user_id": [], "item_id": []}))


def test_split_by_history_buckets_by_training_rows(X):
    from utils.models.evaluate import split_by_history

    # training history: user rows 0,1 have 2 items, row 2 has 3, row 3 has 1; add a cold user 5
    Xc = interaction_matrix(PAIRS, 5, 5)
    test = pd.DataFrame({"user_id": [1, 3, 4, 5, 5], "item_id": [3, 4, 5, 1, 2]})
    parts = split_by_history(test, Xc, edges=(0, 1, 3))
    assert list(parts) == ["0", "1-2", "3+"]
    assert parts["0"]["user_id"].tolist() == [5, 5]
    assert parts["1-2"]["user_id"].tolist() == [1, 4]
    assert parts["3+"]["user_id"].tolist() == [3]
    assert list(split_by_history(test, Xc, edges=(0, 10))) == ["0-9"]  # empty "10+" left out
    for bad in ((1, 2), (0, 0), ()):
        with pytest.raises(ValueError, match="edges"):
            split_by_history(test, Xc, edges=bad)
    with pytest.raises(ValueError, match="outside"):
        split_by_history(test, X)  # user 5 is not a row of the four-user X
    with pytest.raises(ValueError, match="empty"):
        split_by_history(test.iloc[:0], Xc)


def test_movielens_tuned_values_are_usable():
    from utils.models.recommenders import MOVIELENS_100K_TUNED as T

    assert ItemKNN(int(T["itemknn_k"])).k_neighbours == T["itemknn_k"]
    assert EASE(T["ease_lambda"]).l2 == T["ease_lambda"]
    assert T["two_tower_temperature"] > 0 and 0 <= T["blend_weight_two_tower"] <= 1
    assert T["bpr_l2"] > 0


# --- Blend ------------------------------------------------------------------------------------


def test_blend_is_the_weighted_sum_of_standardised_scores():
    from utils.models import Blend

    rng = np.random.default_rng(0)
    dense = (rng.random((20, 15)) < 0.3).astype(np.float32)
    dense[:, 0] = 1.0  # every user has at least one item
    X = sparse.csr_matrix(dense)
    a, b = EASE(10.0).fit(X), Popularity().fit(X)
    blend = Blend([a, b], [3, 1], refit=False).fit(X)
    users = np.arange(5)
    z = [
        (s - s.mean(1, keepdims=True)) / s.std(1, keepdims=True)
        for s in (a.score(users), b.score(users))
    ]
    assert np.allclose(blend.score(users), 0.75 * z[0] + 0.25 * z[1], atol=1e-6)
    only_a = Blend([EASE(10.0)], [1.0]).fit(X)
    assert (only_a.recommend(users, 3) == a.recommend(users, 3)).all()


def test_blend_rejects_bad_weights_and_unfitted_models():
    from utils.models import Blend

    X = sparse.csr_matrix(np.eye(4, dtype=np.float32))
    with pytest.raises(ValueError, match="equal length"):
        Blend([Popularity()], [0.5, 0.5])
    with pytest.raises(ValueError, match="weights"):
        Blend([Popularity()], [-1.0])
    with pytest.raises(TypeError, match="Recommenders"):
        Blend(["ease"], [1.0])
    with pytest.raises(ValueError, match="not fitted on this matrix"):
        Blend([Popularity()], [1.0], refit=False).fit(X)
