"""Tests for utils.moderation.audit: calibration helpers and stratified prevalence audits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from utils.moderation.audit import (
    crossfit_calibrate,
    expected_calibration_error,
    neyman_allocation,
    reliability,
    shift_prior,
    stratified_prevalence,
    wald_interval,
)
from utils.moderation.metrics import precision_at_prevalence


def _calibrated(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    return p, (rng.uniform(0, 1, n) < p).astype(int)


def test_reliability_matches_sklearn_calibration_curve():
    p, y = _calibrated(5000)
    t = reliability(p, y, n_bins=10)
    obs, pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(t["observed"], obs)
    np.testing.assert_allclose(t["mean_pred"], pred)
    assert t["weight"].sum() == pytest.approx(1.0)


def test_ece_small_when_calibrated_large_when_not():
    p, y = _calibrated(20000)
    assert expected_calibration_error(p, y) < 0.02
    assert expected_calibration_error(p**3, y) > 0.1


def test_reliability_weights_equal_replication():
    p, y = _calibrated(300, seed=1)
    w = np.where(y == 1, 3, 1)
    rep = np.repeat(np.arange(p.size), w)
    a = reliability(p, y, 5, weights=w)
    b = reliability(p[rep], y[rep], 5)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy())


def test_reliability_rejects_bad_input():
    with pytest.raises(ValueError, match="probabilities"):
        reliability([0.2, 1.5], [0, 1])
    with pytest.raises(ValueError, match="labels"):
        reliability([0.2, 0.5], [0, 2])
    with pytest.raises(ValueError, match="weights"):
        reliability([0.2, 0.5], [0, 1], weights=[1.0, -1.0])


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_crossfit_calibrate_fixes_a_distorted_score(method):
    p, y = _calibrated(6000, seed=2)
    distorted = p**4  # monotone, badly calibrated
    cal = crossfit_calibrate(distorted, y, method)
    assert expected_calibration_error(cal, y) < 0.5 * expected_calibration_error(distorted, y)
    assert cal.shape == p.shape and ((cal >= 0) & (cal <= 1)).all()


def test_crossfit_calibrate_never_sees_own_label():
    p, y = _calibrated(1000, seed=3)
    base = crossfit_calibrate(p, y, "platt", n_splits=5, seed=0)
    # flip labels of a fitted item: its own calibrated value depends only on the other folds
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(p, y))
    apply = folds[0][1]
    y2 = y.copy()
    y2[apply[:20]] = 1 - y2[apply[:20]]
    # keep the stratification identical by passing the original labels as strata
    again = crossfit_calibrate(p, y2, "platt", strata=y, n_splits=5, seed=0)
    np.testing.assert_allclose(again[apply], base[apply])
    assert not np.allclose(again, base)


def test_crossfit_calibrate_rejects_bad_input():
    with pytest.raises(ValueError, match="method"):
        crossfit_calibrate([0.1, 0.9], [0, 1], "beta")
    with pytest.raises(ValueError, match="both classes"):
        crossfit_calibrate([0.1, 0.9, 0.5], [1, 1, 1])


def test_shift_prior_is_bayes_rule():
    # a calibrated posterior at prior a, shifted to b, equals the posterior computed at b
    a, b = 0.3, 0.01
    for lik_ratio in (0.01, 0.5, 3.0, 80.0):
        post_a = a * lik_ratio / (a * lik_ratio + (1 - a))
        post_b = b * lik_ratio / (b * lik_ratio + (1 - b))
        assert shift_prior([post_a], a, b)[0] == pytest.approx(post_b)
    # and matches precision_at_prevalence for a thresholded detector (TPR / FPR as the ratio)
    tpr, fpr = 0.9, 0.02
    prec_a = precision_at_prevalence(tpr, fpr, a)
    assert shift_prior([prec_a], a, b)[0] == pytest.approx(precision_at_prevalence(tpr, fpr, b))


def test_shift_prior_round_trip_and_ends():
    p = np.array([0.0, 1e-4, 0.3, 0.9, 1.0])
    back = shift_prior(shift_prior(p, 0.3, 0.005), 0.005, 0.3)
    np.testing.assert_allclose(back, p, atol=1e-12)
    out = shift_prior(p, 0.3, 0.005)
    assert out[0] == 0.0 and out[-1] == 1.0 and (np.diff(out) >= 0).all()
    with pytest.raises(ValueError, match="to_prevalence"):
        shift_prior(p, 0.3, 0.0)


def test_neyman_allocation_sums_floors_and_proportions():
    N = np.array([900_000, 80_000, 15_000, 5_000])
    q = np.array([0.0001, 0.001, 0.05, 0.8])
    n = neyman_allocation(N, q, 1000, min_per_stratum=50)
    assert n.sum() == 1000 and (n >= 50).all()
    w = N * np.sqrt(q * (1 - q))
    extra = (n - 50) / (1000 - 200)
    np.testing.assert_allclose(extra, w / w.sum(), atol=0.01)
    # zero guesses fall back to proportional; caps at the stratum size
    n0 = neyman_allocation(np.array([10, 1000]), np.zeros(2), 500)
    assert n0.sum() == 500 and n0[0] <= 10
    capped = neyman_allocation(np.array([5, 1000]), np.array([0.5, 0.001]), 100)
    assert capped[0] == 5 and capped.sum() == 100


def test_neyman_allocation_rejects_bad_input():
    with pytest.raises(ValueError, match="exceeds"):
        neyman_allocation(np.array([5, 5]), np.array([0.1, 0.1]), 20)
    with pytest.raises(ValueError, match="min_per_stratum"):
        neyman_allocation(np.array([50, 50]), np.array([0.1, 0.1]), 20, min_per_stratum=11)
    with pytest.raises(ValueError, match="positive integers"):
        neyman_allocation(np.array([5.0, 5.0]), np.array([0.1, 0.1]), 2)


def test_stratified_estimate_and_wald_single_stratum_matches_srs():
    est, lo, hi = stratified_prevalence(
        np.array([7]), np.array([400]), np.array([10**9]), interval="wald"
    )
    p, lo2, hi2 = wald_interval(np.array([7]), 400)
    assert est == pytest.approx(p[0])
    # (n - 1) and the finite-population correction make it a hair wider than the textbook one
    assert lo == pytest.approx(lo2[0], rel=0.01) and hi == pytest.approx(hi2[0], rel=0.01)


def test_stratified_estimate_is_weighted_mean():
    N = np.array([900, 100])
    est, _, _ = stratified_prevalence(np.array([1, 50]), np.array([100, 100]), N, interval="wald")
    assert est == pytest.approx(0.9 * 0.01 + 0.1 * 0.5)


def test_exact_interval_covers_and_contains_wald_centre():
    rng = np.random.default_rng(5)
    N = np.array([90_000, 9_000, 1_000])
    K = np.array([45, 90, 400])  # true prevalence 535 / 100,000
    truth = K.sum() / N.sum()
    n = np.array([300, 150, 50])
    k = np.stack([rng.hypergeometric(K[h], N[h] - K[h], n[h], size=400) for h in range(3)], 1)
    est, lo, hi = stratified_prevalence(k, n, N, interval="exact", n_draws=500, seed=1)
    assert ((lo <= est) & (est <= hi)).all()
    assert np.mean((lo <= truth) & (truth <= hi)) >= 0.93
    # the plug-in Wald interval trusts strata where nothing was found and under-covers here
    _, wlo, whi = stratified_prevalence(k, n, N, interval="wald")
    assert np.mean((wlo <= truth) & (truth <= whi)) < np.mean((lo <= truth) & (truth <= hi))


def test_stratified_prevalence_rejects_bad_input():
    N, n = np.array([100, 100]), np.array([10, 10])
    with pytest.raises(ValueError, match="interval"):
        stratified_prevalence(np.array([1, 1]), n, N, interval="normal")
    with pytest.raises(ValueError, match="found"):
        stratified_prevalence(np.array([11, 1]), n, N)
    with pytest.raises(TypeError, match="integers"):
        stratified_prevalence(np.array([1.0, 1.0]), n, N)
    with pytest.raises(ValueError, match=r"\(H,\)"):
        stratified_prevalence(np.array([1, 1, 1]), n, N)
    with pytest.raises(ValueError, match="found <= sampled"):
        wald_interval(np.array([5]), 4)
