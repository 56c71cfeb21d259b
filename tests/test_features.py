"""Tests of utils.features: target encoding, vocabularies, crosses, hashing and collisions,
heavy-tail transforms, cyclical encoding and point-in-time joins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import PredefinedSplit
from sklearn.preprocessing import TargetEncoder as SkTargetEncoder

from utils.experiment import stable_bucket
from utils.features import (
    CollisionStats,
    TargetEncoder,
    Vocabulary,
    bucketize,
    buckets_in_fresh_process,
    clip_to_bounds,
    cyclical_encode,
    expected_collisions,
    feature_cross,
    fit_clip_bounds,
    fit_quantile_edges,
    hash_buckets,
    log1p_transform,
    measured_collisions,
    point_in_time_join,
    target_encode_oof,
)


@pytest.fixture(scope="module")
def cats_and_labels() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    c = rng.integers(0, 40, 600)
    y = (rng.random(600) < 0.2 + 0.015 * c).astype(np.int64)
    return c, y


# --------------------------------------------------------------------------- target encoding
@pytest.mark.parametrize("m", [0.5, 5.0, 50.0])
def test_target_encoder_matches_sklearn(cats_and_labels, m):
    c, y = cats_and_labels
    ours = TargetEncoder(m).fit(c, y).transform(c)
    sk = SkTargetEncoder(smooth=m, target_type="binary").fit(c.reshape(-1, 1), y)
    np.testing.assert_allclose(ours, sk.transform(c.reshape(-1, 1)).ravel(), atol=1e-12)


def test_target_encoder_formula_and_unknown_policy():
    enc = TargetEncoder(m=2.0).fit(["a", "a", "a", "b"], [1, 1, 0, 1])
    assert enc.prior_ == pytest.approx(0.75)
    # (2 + 2 * 0.75) / (3 + 2) and (1 + 1.5) / (1 + 2); unseen -> prior, not NaN, not an error
    np.testing.assert_allclose(enc.transform(["a", "b", "zzz"]), [0.7, 2.5 / 3, 0.75])
    raw = TargetEncoder(0.0).fit(["a", "a", "b"], [1, 0, 1], prior=0.3)
    np.testing.assert_allclose(raw.transform(["a", "b", "c"]), [0.5, 1.0, 0.3])
    huge = TargetEncoder(1e9).fit(["a", "b"], [1, 0]).transform(["a", "b"])
    np.testing.assert_allclose(huge, [0.5, 0.5], atol=1e-8)  # m -> inf: everything is the prior


def test_target_encoder_bad_input():
    with pytest.raises(ValueError, match=r"categories .*same length"):
        TargetEncoder().fit(["a", "b"], [1])
    with pytest.raises(ValueError, match="categories contains NaN"):
        TargetEncoder().fit(["a", None], [1, 0])
    with pytest.raises(ValueError, match="categories contains NaN"):
        TargetEncoder().fit(np.array([1.0, np.nan]), [1, 0])
    with pytest.raises(ValueError, match="y contains NaN"):
        TargetEncoder().fit(["a", "b"], [1.0, np.nan])
    with pytest.raises(ValueError, match="m must be"):
        TargetEncoder(-1.0)
    with pytest.raises(ValueError, match="categories must not be empty"):
        TargetEncoder().fit([], [])
    with pytest.raises(RuntimeError, match="not fitted"):
        TargetEncoder().transform(["a"])
    enc = TargetEncoder().fit(["a"], [1])
    with pytest.raises(ValueError, match="categories contains NaN"):
        enc.transform(["a", np.nan])


def test_oof_matches_sklearn_cross_fitting(cats_and_labels):
    c, y = cats_and_labels
    folds = np.random.default_rng(1).permutation(len(c)) % 5
    ours = target_encode_oof(c, y, m=3.0, folds=folds)
    sk = SkTargetEncoder(smooth=3.0, target_type="binary", cv=PredefinedSplit(folds))
    np.testing.assert_allclose(ours, sk.fit_transform(c.reshape(-1, 1), y).ravel(), atol=1e-12)


def test_oof_row_never_sees_its_own_label(cats_and_labels):
    c, y = cats_and_labels
    base = target_encode_oof(c, y, m=1.0, seed=3)
    flipped = y.copy()
    flipped[17] = 1 - flipped[17]
    moved = target_encode_oof(c, flipped, m=1.0, seed=3)
    assert moved[17] == base[17]  # its own feature is unchanged ...
    assert not np.array_equal(moved, base)  # ... other folds' rows of that category move
    naive = TargetEncoder(1.0).fit(c, flipped).transform(c)
    assert naive[17] != TargetEncoder(1.0).fit(c, y).transform(c)[17]  # in-sample leaks it


def test_oof_bad_input(cats_and_labels):
    c, y = cats_and_labels
    with pytest.raises(ValueError, match="n_folds"):
        target_encode_oof(c, y, n_folds=1)
    with pytest.raises(ValueError, match="n_folds"):
        target_encode_oof(c[:3], y[:3], n_folds=5)
    with pytest.raises(ValueError, match="folds must be"):
        target_encode_oof(c, y, folds=np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="at least 2"):
        target_encode_oof(c, y, folds=np.zeros(len(c), dtype=int))
    with pytest.raises(ValueError, match="same length"):
        target_encode_oof(c, y[:-1])


# --------------------------------------------------------------------------- vocabulary, crosses
def test_vocabulary_reserves_index_zero_for_unknown_and_rare():
    voc = Vocabulary(min_count=2).fit(["b", "a", "a", "c", "c", "c", "d"])
    assert len(voc) == 3  # unknown + {c, a}; b and d are rare
    np.testing.assert_array_equal(voc.transform(["c", "a", "b", "d", "new"]), [1, 2, 0, 0, 0])
    tie = Vocabulary().fit(["y", "x"])  # equal counts: ordered by the value's string
    np.testing.assert_array_equal(tie.transform(["x", "y"]), [1, 2])
    with pytest.raises(RuntimeError, match="not fitted"):
        Vocabulary().transform(["a"])
    with pytest.raises(ValueError, match="values contains NaN"):
        voc.transform(["a", None])
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary(min_count=0)


def test_feature_cross():
    out = feature_cross([1, 2, 1], ["Drama", "Comedy", "Drama"])
    assert list(out) == ["1|Drama", "2|Comedy", "1|Drama"]
    assert list(feature_cross(["a"], ["b"], ["c"], sep="/")) == ["a/b/c"]
    with pytest.raises(ValueError, match=r"columns\[0\] \(2\) and columns\[1\] \(1\)"):
        feature_cross([1, 2], ["a"])
    with pytest.raises(ValueError, match="separator"):
        feature_cross(["a|b"], ["c"])
    with pytest.raises(ValueError, match="at least 2"):
        feature_cross([1, 2])
    with pytest.raises(ValueError, match=r"columns\[1\] contains NaN"):
        feature_cross([1, 2], ["a", None])


# --------------------------------------------------------------------------- hashing
def test_hash_buckets_is_stable_bucket():
    ids = [f"user{i}" for i in range(300)]
    np.testing.assert_array_equal(hash_buckets(ids, 97, salt="f"), stable_bucket(ids, "f", 97))
    b = hash_buckets(np.arange(1000), 10, salt="g")
    assert b.min() >= 0 and b.max() < 10
    with pytest.raises(ValueError, match="values contains NaN"):
        hash_buckets(["a", None], 10, salt="f")
    with pytest.raises(ValueError, match="salt"):
        hash_buckets(["a"], 10, salt="")


def test_builtin_hash_is_salted_per_process_and_stable_hash_is_not():
    words = [f"title {i}" for i in range(200)]
    seed1 = buckets_in_fresh_process(words, 1000, hashseed=1)
    np.testing.assert_array_equal(seed1, buckets_in_fresh_process(words, 1000, hashseed=1))
    seed2 = buckets_in_fresh_process(words, 1000, hashseed=2)
    assert np.mean(seed1 != seed2) > 0.9  # expected 1 - 1/1000 of buckets move
    unset = buckets_in_fresh_process(words, 1000, hashseed=None)
    assert np.mean(unset != seed1) > 0.9
    stable = buckets_in_fresh_process(words, 1000, hashseed=2, method="stable", salt="t")
    np.testing.assert_array_equal(stable, hash_buckets(words, 1000, salt="t"))


def test_buckets_in_fresh_process_bad_input():
    with pytest.raises(TypeError, match="str"):
        buckets_in_fresh_process([1, 2], 10, hashseed=0)
    with pytest.raises(ValueError, match="empty"):
        buckets_in_fresh_process([], 10, hashseed=0)
    with pytest.raises(ValueError, match="method"):
        buckets_in_fresh_process(["a"], 10, hashseed=0, method="md5")
    with pytest.raises(ValueError, match="hashseed"):
        buckets_in_fresh_process(["a"], 10, hashseed=-1)
    with pytest.raises(ValueError, match="n_buckets"):
        buckets_in_fresh_process(["a"], 0, hashseed=0)


def test_expected_collisions_small_cases_and_monte_carlo():
    assert expected_collisions(1, 10) == CollisionStats(1, 10, 0.0, 1.0, 0.0)
    two = expected_collisions(2, 2)  # same bucket with probability 1/2
    assert two.colliding_share == pytest.approx(0.5)
    assert two.occupied_buckets == pytest.approx(1.5)
    assert two.colliding_pairs == pytest.approx(0.5)
    assert expected_collisions(5, 1).colliding_share == 1.0
    rng = np.random.default_rng(0)
    n, m, trials = 60, 100, 4000
    sims = [measured_collisions(rng.integers(0, m, n), m) for _ in range(trials)]
    exp = expected_collisions(n, m)
    assert np.mean([s.colliding_share for s in sims]) == pytest.approx(
        exp.colliding_share, abs=0.01
    )
    assert np.mean([s.occupied_buckets for s in sims]) == pytest.approx(
        exp.occupied_buckets, rel=0.01
    )
    assert np.mean([s.colliding_pairs for s in sims]) == pytest.approx(
        exp.colliding_pairs, rel=0.03
    )
    # not the naive n/m: at n = m about 63% of items share a bucket
    assert expected_collisions(10**6, 10**6).colliding_share == pytest.approx(1 - np.exp(-1), 1e-5)
    tiny = expected_collisions(10**8, 10**14)  # precise where (1 - 1/m)^n would round to 1
    assert tiny.colliding_share == pytest.approx(1e-6, rel=1e-3)


def test_measured_collisions_counts():
    s = measured_collisions(np.array([0, 0, 1, 2, 2, 2]), 4)
    assert s == CollisionStats(6, 4, 5 / 6, 3.0, 1 + 3)
    with pytest.raises(ValueError, match="buckets must lie"):
        measured_collisions(np.array([0, 4]), 4)
    with pytest.raises(ValueError, match="integer bucket ids"):
        measured_collisions(np.array([0.5]), 4)
    with pytest.raises(ValueError, match="n_items"):
        expected_collisions(0, 4)


# --------------------------------------------------------------------------- heavy tails
def test_log1p_and_clip():
    np.testing.assert_allclose(log1p_transform([0, np.e - 1]), [0, 1])
    with pytest.raises(ValueError, match="watch_minutes must be >= 0"):
        log1p_transform([1, -2], name="watch_minutes")
    with pytest.raises(ValueError, match="x contains NaN"):
        log1p_transform([1, np.nan])
    x = np.arange(101, dtype=float)
    lo, hi = fit_clip_bounds(x, lower_q=0.05, upper_q=0.9)
    assert (lo, hi) == (5.0, 90.0)
    np.testing.assert_array_equal(clip_to_bounds([-1, 50, 1e9], (lo, hi)), [5, 50, 90])
    with pytest.raises(ValueError, match="lower_q < upper_q"):
        fit_clip_bounds(x, lower_q=0.5, upper_q=0.5)
    with pytest.raises(ValueError, match="low <= high"):
        clip_to_bounds(x, (3.0, 1.0))
    with pytest.raises(TypeError, match="x must hold numbers"):
        clip_to_bounds(["a"], (0.0, 1.0))


def test_quantile_buckets():
    x = np.arange(1000, dtype=float)
    edges = fit_quantile_edges(x, 4)
    counts = np.bincount(bucketize(x, edges))
    assert len(counts) == 4 and counts.min() >= 249
    np.testing.assert_array_equal(bucketize([-1e9, 1e9], edges), [0, 3])  # beyond the range
    ties = fit_quantile_edges(np.r_[np.zeros(900), np.arange(100)], 10)
    assert len(ties) < 9  # duplicate edges dropped
    with pytest.raises(ValueError, match="strictly increasing"):
        bucketize([1.0], [2.0, 1.0])
    with pytest.raises(ValueError, match="n_buckets"):
        fit_quantile_edges(x, 1)


# --------------------------------------------------------------------------- cyclical time
def test_cyclical_encode():
    hours = np.arange(24)
    enc = cyclical_encode(hours, 24)
    np.testing.assert_allclose(np.linalg.norm(enc, axis=1), 1.0)
    step = np.linalg.norm(np.diff(np.vstack([enc, enc[:1]]), axis=0), axis=1)
    np.testing.assert_allclose(step, 2 * np.sin(np.pi / 24))  # 23 -> 0 is an ordinary step
    wrong = cyclical_encode([0, 23], 23)  # period = max value: 23:00 collapses onto 00:00
    np.testing.assert_allclose(wrong[0], wrong[1], atol=1e-12)
    with pytest.raises(ValueError, match="period"):
        cyclical_encode(hours, 0)
    with pytest.raises(ValueError, match="values contains NaN"):
        cyclical_encode([1.0, np.nan], 24)


# --------------------------------------------------------------------------- point-in-time joins
def _brute_force_asof(events, features, strict):
    out = []
    for _, e in events.iterrows():
        f = features[features["user"] == e["user"]]
        f = f[f["ts"] < e["t"]] if strict else f[f["ts"] <= e["t"]]
        out.append(f.sort_values("ts", kind="stable")["value"].iloc[-1] if len(f) else -1.0)
    return np.asarray(out)


@pytest.mark.parametrize("strict", [True, False])
def test_point_in_time_join_matches_brute_force(strict):
    rng = np.random.default_rng(5)
    events = pd.DataFrame({"user": rng.integers(0, 5, 80), "t": rng.integers(0, 50, 80)})
    feats = pd.DataFrame(
        {"user": rng.integers(0, 5, 60), "ts": rng.choice(200, 60, replace=False) // 4}
    )
    feats = feats.drop_duplicates(["user", "ts"]).reset_index(drop=True)
    feats["value"] = rng.random(len(feats))
    got = point_in_time_join(
        events, feats, by="user", event_time="t", feature_time="ts", fill_value=-1.0, strict=strict
    )
    assert list(got.columns) == ["user", "t", "value"]
    np.testing.assert_array_equal(got[["user", "t"]].to_numpy(), events.to_numpy())  # order kept
    np.testing.assert_allclose(got["value"].to_numpy(), _brute_force_asof(events, feats, strict))


def test_point_in_time_join_strict_excludes_same_timestamp_and_tolerance():
    events = pd.DataFrame({"user": [1, 1, 2], "t": [10, 20, 5]}, index=[7, 8, 9])
    feats = pd.DataFrame({"user": [1, 1, 2], "t": [10, 15, 5], "rate": [0.1, 0.2, 0.3]})
    strict = point_in_time_join(events, feats, by="user", event_time="t", feature_time="t",
                                fill_value={"rate": 0.5})  # fmt: skip
    np.testing.assert_allclose(strict["rate"], [0.5, 0.2, 0.5])
    assert list(strict.index) == [7, 8, 9]
    loose = point_in_time_join(
        events, feats, by="user", event_time="t", feature_time="t", fill_value=0.5, strict=False
    )
    np.testing.assert_allclose(loose["rate"], [0.1, 0.2, 0.3])  # same-second rows leak in
    stale = point_in_time_join(
        events, feats, by="user", event_time="t", feature_time="t", fill_value=0.5, tolerance=3
    )
    np.testing.assert_allclose(stale["rate"], [0.5, 0.5, 0.5])  # the 15 -> 20 row is too old


def test_point_in_time_join_bad_input():
    events = pd.DataFrame({"user": [1], "t": [10]})
    feats = pd.DataFrame({"user": [1], "ts": [5], "rate": [0.1]})
    kw = {"by": "user", "event_time": "t", "feature_time": "ts", "fill_value": 0.0}
    with pytest.raises(ValueError, match="'ts' is missing from features"):
        point_in_time_join(events, feats.rename(columns={"ts": "x"}), **kw)
    with pytest.raises(ValueError, match=r"features\['ts'\] contains NaN"):
        point_in_time_join(events, feats.assign(ts=[np.nan]), **kw)
    with pytest.raises(TypeError, match="share a dtype"):
        point_in_time_join(events, feats.assign(ts=[5.0]), **kw)
    with pytest.raises(ValueError, match="also exist in events"):
        point_in_time_join(events.assign(rate=1.0), feats, **kw)
    with pytest.raises(ValueError, match="no entry for feature columns"):
        point_in_time_join(events, feats, **{**kw, "fill_value": {"other": 0.0}})
    with pytest.raises(ValueError, match="events must not be empty"):
        point_in_time_join(events.iloc[:0], feats, **kw)
    with pytest.raises(TypeError, match="DataFrame"):
        point_in_time_join(events.to_numpy(), feats, **kw)
