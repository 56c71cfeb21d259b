"""utils.models.two_tower: training signal, logQ, serving known and cold users/items, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from utils.models.two_tower import TwoTower


@pytest.fixture(scope="module")
def toy():
    """Two user groups with disjoint tastes; features reveal the group (for cold start)."""
    rng = np.random.default_rng(0)
    n_users, n_items = 60, 40
    group_u = np.arange(n_users) % 2
    group_i = np.arange(n_items) % 2
    rows, cols = [], []
    for u in range(n_users):
        liked = rng.choice(np.flatnonzero(group_i == group_u[u]), 8, replace=False)
        rows += [u] * 8
        cols += liked.tolist()
    X = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))
    Fu = np.eye(2, dtype=np.float32)[group_u]
    Fi = np.eye(2, dtype=np.float32)[group_i]
    return X, Fu, Fi, group_u, group_i


@pytest.fixture(scope="module")
def model(toy):
    X, Fu, Fi, *_ = toy
    return TwoTower(Fu, Fi, dim=8, hidden=16, epochs=30, batch_size=32, seed=0).fit(X)


def test_training_loss_falls_and_scores_follow_the_groups(model, toy):
    X, _, _, group_u, group_i = toy
    assert model.losses_[-1] < model.losses_[0]
    top = model.recommend(np.arange(X.shape[0]), 4)
    assert (group_i[top] == group_u[:, None]).mean() > 0.9


def test_item_vectors_are_unit_and_scores_match_the_formula(model):
    v, b = model.encode_items(np.arange(5))
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    u = model.encode_users(np.array([0, 1]))
    expected = u @ model.item_vectors_.T / model.temperature + model.item_bias_
    assert np.allclose(model.score(np.array([0, 1])), expected, atol=1e-4)
    assert np.allclose(v, model.item_vectors_[:5]) and np.allclose(b, model.item_bias_[:5])


def test_cold_users_and_items_are_served_from_features(model, toy):
    _, Fu, Fi, _, group_i = toy
    cold_u = model.encode_users(features=Fu[:2], history=[[], []])  # one user of each group
    cold_v, cold_b = model.encode_items(features=Fi)
    scores = cold_u @ cold_v.T / model.temperature + cold_b
    for g in (0, 1):
        assert scores[g, group_i == g].mean() > scores[g, group_i != g].mean()


def test_logq_changes_the_popularity_of_what_is_retrieved():
    """With logQ the model estimates the full softmax (popular items up); without it the
    sampled softmax learns popularity-discounted scores."""
    rng = np.random.default_rng(1)
    n_users, n_items = 80, 30
    pop = 1.0 / np.arange(1, n_items + 1)
    rows, cols = [], []
    for u in range(n_users):
        items = rng.choice(n_items, 6, replace=False, p=pop / pop.sum())
        rows += [u] * 6
        cols += items.tolist()
    X = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))
    kw = {"dim": 8, "hidden": 16, "epochs": 20, "batch_size": 64, "seed": 0}
    with_q = TwoTower(logq=True, **kw).fit(X)
    without = TwoTower(logq=False, **kw).fit(X)
    users = np.arange(n_users)
    # item index = popularity rank (0 = most popular): logQ retrieves more popular items
    assert with_q.recommend(users, 3).mean() < without.recommend(users, 3).mean() - 1


def test_known_users_and_items_are_checked(model):
    with pytest.raises(ValueError, match="unknown user"):
        model.encode_users(np.array([10_000]))
    with pytest.raises(ValueError, match="unknown user"):
        model.score(np.array([-1]))
    with pytest.raises(ValueError, match="unknown item"):
        model.encode_items(np.array([40]))
    with pytest.raises(ValueError, match="history row 0"):
        model.encode_users(features=np.zeros((1, 2)), history=[[99]])


def test_cold_features_must_match_the_training_width(model):
    with pytest.raises(ValueError, match="2 columns"):
        model.encode_users(features=np.zeros((1, 3)))
    with pytest.raises(ValueError, match="2 columns"):
        model.encode_items(features=np.zeros((1, 5)))
    with pytest.raises(ValueError, match="finite"):
        model.encode_items(features=np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="history has 2 rows"):
        model.encode_users(features=np.zeros((1, 2)), history=[[], []])


def test_feature_rows_must_match_the_matrix(toy):
    X, Fu, Fi, *_ = toy
    with pytest.raises(ValueError, match="user_features has 3 rows"):
        TwoTower(Fu[:3], Fi, epochs=1).fit(X)
    with pytest.raises(ValueError, match="finite"):
        TwoTower(Fu, np.full_like(Fi, np.nan), epochs=1).fit(X)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"batch_size": 1}, "batch_size"),
        ({"id_dropout": 1.0}, "id_dropout"),
        ({"dim": 0}, "dim"),
        ({"lr": -1.0}, "lr"),
    ],
)
def test_bad_hyperparameters_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        TwoTower(**kw)


def test_unfitted_model_says_so():
    with pytest.raises(ValueError, match="not fitted"):
        TwoTower().encode_items(np.arange(2))


def test_recommend_rejects_k_above_the_catalogue(model):
    with pytest.raises(ValueError, match="k"):
        model.recommend(np.array([0]), 41)
