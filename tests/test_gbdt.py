"""The from-scratch Newton booster: gradients, binning, one tree, the whole model, bad input."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.tree import DecisionTreeRegressor

from utils.models.gbdt import (
    NewtonBoostedTrees,
    apply_bins,
    fit_newton_tree,
    logistic_grad_hess,
    quantile_bin_edges,
)


@pytest.fixture(scope="module")
def cancer():
    """scikit-learn's breast-cancer set (569 rows, 30 features), split 400 / 169 with a seed."""
    X, y = load_breast_cancer(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(y))
    return X[idx[:400]], y[idx[:400]], X[idx[400:]], y[idx[400:]]


def test_gradient_and_hessian_match_finite_differences():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50).astype(float)
    raw = rng.normal(0, 2, 50)

    def loss(f):
        return np.logaddexp(0.0, f) - y * f

    g, h = logistic_grad_hess(y, raw)
    eps = 1e-5
    assert np.allclose(g, (loss(raw + eps) - loss(raw - eps)) / (2 * eps), atol=1e-6)
    g_up, _ = logistic_grad_hess(y, raw + eps)
    g_down, _ = logistic_grad_hess(y, raw - eps)
    assert np.allclose(h, (g_up - g_down) / (2 * eps), atol=1e-6)
    assert (h > 0).all() and (h <= 0.25).all()


def test_bins_are_exact_for_few_values_and_bounded_otherwise():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.integers(0, 5, 1000), rng.normal(size=1000)])
    edges = quantile_bin_edges(X, max_bins=16)
    assert np.allclose(edges[0], [0.5, 1.5, 2.5, 3.5])  # midpoints between the 5 values
    assert len(edges[1]) <= 15
    Xb = apply_bins(X, edges)
    assert Xb.dtype == np.uint8
    assert (Xb[:, 0] == X[:, 0]).all()
    order = np.argsort(X[:, 1])
    assert (np.diff(Xb[order, 1].astype(int)) >= 0).all()  # binning keeps the order
    counts = np.bincount(Xb[:, 1])
    assert counts.max() < 3 * 1000 / 16  # quantile bins are roughly equally full


def test_one_tree_equals_sklearn_regression_tree_on_the_newton_step():
    """With lambda = 0 the histogram gain is the weighted-variance reduction of a regression
    tree fitted to -g/h with weights h; on features with few values binning is exact."""
    rng = np.random.default_rng(2)
    X = rng.integers(0, 12, (600, 4)).astype(float)
    logit = np.sin(X[:, 0]) + 0.3 * X[:, 1] - 0.2 * X[:, 2] * (X[:, 3] > 5)
    y = (rng.random(600) < 1 / (1 + np.exp(-logit))).astype(float)
    raw = rng.normal(0, 0.5, 600)
    g, h = logistic_grad_hess(y, raw)
    edges = quantile_bin_edges(X, 64)
    ours = fit_newton_tree(
        apply_bins(X, edges),
        g,
        h,
        max_depth=3,
        min_samples_leaf=15,
        min_child_weight=0.0,
        n_bins=64,
    )
    ref = DecisionTreeRegressor(max_depth=3, min_samples_leaf=15).fit(X, -g / h, sample_weight=h)
    assert np.allclose(ours.predict(apply_bins(X, edges)), ref.predict(X))
    assert ours.n_leaves == ref.get_n_leaves()


def test_leaf_value_is_the_regularised_newton_step():
    rng = np.random.default_rng(3)
    Xb = rng.integers(0, 4, (100, 2)).astype(np.uint8)
    g, h = rng.normal(size=100), rng.uniform(0.05, 0.25, 100)
    for lam in (0.0, 5.0):
        stump = fit_newton_tree(
            Xb, g, h, max_depth=2, min_samples_leaf=100, reg_lambda=lam, learning_rate=0.3, n_bins=4
        )  # no split can keep 100 rows a side
        assert stump.n_leaves == 1
        assert stump.value[0] == pytest.approx(-0.3 * g.sum() / (h.sum() + lam))


def test_l2_penalty_shrinks_leaf_values(cancer):
    X, y, _, _ = cancer
    plain = NewtonBoostedTrees(1, 1.0, max_depth=2, reg_lambda=0.0).fit(X, y)
    ridge = NewtonBoostedTrees(1, 1.0, max_depth=2, reg_lambda=50.0).fit(X, y)
    a, b = plain.trees_[0], ridge.trees_[0]
    assert np.abs(b.value[b.feature < 0]).max() < np.abs(a.value[a.feature < 0]).max()


def test_boosting_lowers_training_loss_and_records_curves(cancer):
    X, y, Xv, yv = cancer
    model = NewtonBoostedTrees(30, 0.1, max_depth=3).fit(X, y, eval_set=(Xv, yv))
    assert len(model.trees_) == len(model.train_loss_) == len(model.eval_loss_) == 30
    assert (np.diff(model.train_loss_) < 0).all()
    p10 = model.predict_proba(Xv, 10)
    assert log_loss(yv, p10) == pytest.approx(model.eval_loss_[9], rel=1e-9)
    assert model.base_score_ == pytest.approx(np.log(y.mean() / (1 - y.mean())))
    assert model.decision_function(Xv).shape == (len(Xv),)


def test_matches_lightgbm_and_sklearn_configured_the_same(cancer):
    X, y, Xt, yt = cancer
    depth, eta, rounds = 3, 0.1, 60
    ours = NewtonBoostedTrees(rounds, eta, max_depth=depth, min_samples_leaf=10, max_bins=255)
    p_ours = ours.fit(X, y).predict_proba(Xt)
    params = dict(
        objective="binary",
        learning_rate=eta,
        max_depth=depth,
        num_leaves=2**depth,
        min_data_in_leaf=10,
        min_sum_hessian_in_leaf=1e-3,
        lambda_l2=0.0,
        max_bin=255,
        num_threads=1,
        deterministic=True,
        force_row_wise=True,
        seed=0,
        verbose=-1,
    )
    p_lgb = lgb.train(params, lgb.Dataset(X, y, params={"verbose": -1}), rounds).predict(Xt)
    p_hgb = (
        HistGradientBoostingClassifier(
            learning_rate=eta,
            max_iter=rounds,
            max_depth=depth,
            max_leaf_nodes=None,
            min_samples_leaf=10,
            early_stopping=False,
            random_state=0,
        )
        .fit(X, y)
        .predict_proba(Xt)[:, 1]
    )
    for p_lib in (p_lgb, p_hgb):
        assert np.corrcoef(p_ours, p_lib)[0, 1] > 0.98
        assert abs(roc_auc_score(yt, p_ours) - roc_auc_score(yt, p_lib)) < 0.01
        assert abs(log_loss(yt, p_ours) - log_loss(yt, p_lib)) < 0.02


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_rounds": 0}, ValueError, "n_rounds"),
        ({"n_rounds": 2.5}, TypeError, "n_rounds"),
        ({"n_rounds": True}, TypeError, "n_rounds"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"learning_rate": -0.1}, ValueError, "learning_rate"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
        ({"learning_rate": "0.1"}, TypeError, "learning_rate"),
        ({"max_depth": 0}, ValueError, "max_depth"),
        ({"max_depth": 17}, ValueError, "max_depth"),
        ({"reg_lambda": -1.0}, ValueError, "reg_lambda"),
        ({"min_samples_leaf": 0}, ValueError, "min_samples_leaf"),
        ({"min_child_weight": -1e-3}, ValueError, "min_child_weight"),
        ({"max_bins": 1}, ValueError, "max_bins"),
        ({"max_bins": 300}, ValueError, "max_bins"),
    ],
)
def test_bad_hyperparameters_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        NewtonBoostedTrees(**kwargs)


def test_bad_training_data_is_rejected():
    X = np.random.default_rng(4).normal(size=(20, 3))
    y = np.tile([0, 1], 10)
    model = NewtonBoostedTrees(2)
    with pytest.raises(ValueError, match="19 labels but X has 20 rows"):
        model.fit(X, y[:19])
    with pytest.raises(ValueError, match="NaN labels"):
        model.fit(X, np.where(np.arange(20) == 3, np.nan, y))
    with pytest.raises(ValueError, match=r"binary labels in \{0, 1\}, found \[2.0\]"):
        model.fit(X, np.where(np.arange(20) == 3, 2, y))
    with pytest.raises(ValueError, match="binary labels"):
        model.fit(X, y * 2 - 1)  # -1/+1 labels
    with pytest.raises(ValueError, match="both classes"):
        model.fit(X, np.ones(20))
    with pytest.raises(ValueError, match="y must be 1-D"):
        model.fit(X, y[:, None])
    with pytest.raises(TypeError, match="y must hold numbers"):
        model.fit(X, np.array(["a", "b"] * 10))
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.fit(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="must be 2-D"):
        model.fit(X[:, 0], y)
    with pytest.raises(ValueError, match=r"eval_set\[1\] has 5 labels"):
        model.fit(X, y, eval_set=(X, y[:5]))
    with pytest.raises(ValueError, match=r"eval_set\[0\] must have 3 columns"):
        model.fit(X, y, eval_set=(X[:, :2], y))


def test_prediction_errors():
    X = np.random.default_rng(5).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="not fitted"):
        NewtonBoostedTrees(2).predict_proba(X)
    model = NewtonBoostedTrees(3, max_depth=2, min_samples_leaf=5).fit(X, y)
    with pytest.raises(ValueError, match="3 columns"):
        model.predict_proba(X[:, :2])
    with pytest.raises(ValueError, match="more than the 3 fitted trees"):
        model.predict_proba(X, n_rounds=4)
    with pytest.raises(ValueError, match="n_rounds"):
        model.predict_proba(X, n_rounds=0)
    with pytest.raises(ValueError, match="cut for 3"):
        apply_bins(X[:, :2], model.edges_)
    p = model.predict_proba(X)
    assert ((p > 0) & (p < 1)).all()
    assert roc_auc_score(y, p) > 0.9


def test_fit_newton_tree_rejects_misaligned_input():
    Xb = np.zeros((10, 2), dtype=np.uint8)
    g, h = np.zeros(10), np.full(10, 0.25)
    with pytest.raises(ValueError, match="one value per row"):
        fit_newton_tree(Xb, g[:9], h)
    with pytest.raises(ValueError, match="bin indices outside"):
        fit_newton_tree(Xb + 9, g, h, n_bins=8)
    with pytest.raises(ValueError, match="2-D array of bin indices"):
        fit_newton_tree(Xb.astype(float), g, h)
