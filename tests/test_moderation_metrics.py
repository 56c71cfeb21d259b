"""utils.moderation.metrics: operating points at a recall, prevalence re-weighting, Wilson."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import precision_recall_curve

from utils.moderation.metrics import (
    operating_point,
    precision_at_prevalence,
    threshold_at_recall,
    wilson_interval,
)


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.3).astype(int)
    s = rng.normal(loc=1.5 * y, scale=1.0)
    return s, y


@pytest.mark.parametrize("target", [0.5, 0.9, 0.99, 1.0])
def test_threshold_is_the_highest_reaching_the_recall(scored, target):
    s, y = scored
    t = threshold_at_recall(s, y, target)
    assert operating_point(s, y, t)["recall"] >= target
    # any higher threshold (the next positive score up) misses the target
    higher = np.sort(s[y == 1])
    higher = higher[higher > t]
    if higher.size:
        assert operating_point(s, y, float(higher[0]))["recall"] < target


def test_operating_point_matches_sklearn(scored):
    s, y = scored
    prec, rec, thr = precision_recall_curve(y, s)
    for i in (10, 500, 1500):
        op = operating_point(s, y, float(thr[i]))
        assert op["precision"] == pytest.approx(prec[i])
        assert op["recall"] == pytest.approx(rec[i])
    assert math.isnan(operating_point(s, y, float(s.max()) + 1)["precision"])


def test_precision_at_prevalence_is_bayes_and_matches_subsampling(scored):
    s, y = scored
    t = threshold_at_recall(s, y, 0.9)
    op = operating_point(s, y, t)
    own = precision_at_prevalence(op["recall"], op["fpr"], y.mean())
    assert own == pytest.approx(op["precision"])
    # duplicating every negative 9 times lowers prevalence; counted precision follows the formula
    s2 = np.concatenate([s[y == 1]] + [s[y == 0]] * 9)
    y2 = np.concatenate([np.ones((y == 1).sum(), int), np.zeros(9 * (y == 0).sum(), int)])
    assert operating_point(s2, y2, t)["precision"] == pytest.approx(
        precision_at_prevalence(op["recall"], op["fpr"], y2.mean())
    )
    assert precision_at_prevalence(0.9, 0.01, 0.01) == pytest.approx(0.009 / (0.009 + 0.0099))
    assert precision_at_prevalence(0.9, 0.0, 0.001) == 1.0


def test_wilson_against_the_formula_and_coverage():
    lo, hi = wilson_interval(0, 250)
    assert lo == 0.0 and hi == pytest.approx(0.0151, abs=5e-4)  # about 3.8 / n
    lo, hi = wilson_interval(22, 250)
    p, n, z = 22 / 250, 250, stats.norm.ppf(0.975)
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (lo, hi) == pytest.approx((c - h, c + h))
    # coverage of a true 2% rate with n = 250 stays near 95% (the normal interval under-covers)
    rng = np.random.default_rng(1)
    ks = rng.binomial(250, 0.02, size=4000)
    cover = np.mean(
        [wilson_interval(int(k), 250)[0] <= 0.02 <= wilson_interval(int(k), 250)[1] for k in ks]
    )
    assert 0.92 <= cover <= 0.99, cover


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: threshold_at_recall([0.1, 0.2], [1, 1], 0.9), "both positives and negatives"),
        (lambda: threshold_at_recall([0.1, np.nan], [1, 0], 0.9), "finite"),
        (lambda: threshold_at_recall([0.1, 0.2], [1, 2], 0.9), "0 \\(negative\\) or 1"),
        (lambda: threshold_at_recall([0.1, 0.2], [1, 0], 0.0), "recall must lie"),
        (lambda: threshold_at_recall([0.1], [1, 0], 0.5), "same length"),
        (lambda: precision_at_prevalence(0.9, 0.1, 0.0), "prevalence must lie"),
        (lambda: wilson_interval(5, 3), "0 <= k <= n"),
    ],
)
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
