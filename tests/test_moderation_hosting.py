"""utils.moderation.hosting: servable detectors, per-message timing and the cascade's band."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from utils.data import load_spam_assassin
from utils.moderation.hosting import (
    band_from_validation,
    batched_ms_per_item,
    cascade,
    crossfit_band,
    fit_servable,
    minilm_text,
    per_item_ms,
)


def fake_clock(step_s: float = 0.002):
    ticks = itertools.count()
    return lambda: next(ticks) * step_s


@pytest.fixture(scope="module")
def emails():
    e = load_spam_assassin()
    return e.groupby("label", group_keys=False).sample(150, random_state=0).reset_index(drop=True)


def test_per_item_ms_uses_the_clock_and_warms_up():
    calls = []
    ms = per_item_ms(calls.append, ["a", "b", "c"], warmup=2, clock=fake_clock())
    assert calls == ["a", "b", "a", "b", "c"]  # two untimed warm-up calls, then one per item
    np.testing.assert_allclose(ms, [2.0, 2.0, 2.0])
    steps = iter([0.0, 0.005, 0.0, 0.001, 0.0, 0.003])  # three rounds over one item: keep the min
    assert per_item_ms(len, ["a"], warmup=0, repeats=3, clock=lambda: next(steps)) == (
        pytest.approx([1.0])
    )
    with pytest.raises(ValueError, match="repeats"):
        per_item_ms(len, ["a"], repeats=0)
    with pytest.raises(ValueError, match="items"):
        per_item_ms(len, [])
    with pytest.raises(TypeError, match="callable"):
        per_item_ms(3, ["a"])
    with pytest.raises(ValueError, match="warmup"):
        per_item_ms(len, ["a"], warmup=-1)


def test_batched_ms_per_item_divides_by_messages():
    frame = pd.DataFrame({"x": range(10)})
    sizes = []
    ms = batched_ms_per_item(
        lambda f: sizes.append(len(f)), frame, batch_size=4, clock=fake_clock(0.01)
    )
    assert sizes == [4, 4, 4, 2]  # warm-up of min(4, 8), then batches of 4
    assert ms == pytest.approx(10.0 / 10)  # one tick (10 ms) across the timed loop, 10 messages
    with pytest.raises(ValueError, match="batch_size"):
        batched_ms_per_item(len, frame, batch_size=0)


def test_band_respects_the_budgets():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(400), np.zeros(1600)].astype(int)
    s = np.clip(np.r_[rng.beta(5, 1, 400), rng.beta(1, 5, 1600)], 0, 1)
    for miss, ff in ((0.0, 0.0), (0.01, 0.005), (0.05, 0.02)):
        low, high = band_from_validation(s, y, miss=miss, false_flag=ff)
        assert (s[y == 1] < low).sum() <= np.floor(miss * 400)
        assert (s[y == 0] >= high).sum() <= np.floor(ff * 1600)
        assert high >= low
    low0, high0 = band_from_validation(s, y, miss=0.0, false_flag=0.0)
    assert low0 == s[y == 1].min() and high0 > s[y == 0].max()
    with pytest.raises(ValueError, match="miss"):
        band_from_validation(s, y, miss=1.0, false_flag=0.0)
    with pytest.raises(ValueError, match="both"):
        band_from_validation(s, np.ones_like(y), miss=0.0, false_flag=0.0)


def test_crossfit_band_ignores_the_held_out_fold():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 600)
    s = np.clip(0.3 * y + rng.random(600) * 0.7, 0, 1)
    folds = np.arange(600) % 3
    low, high = crossfit_band(s, y, folds, miss=0.02, false_flag=0.02)
    y2 = y.copy()
    y2[folds == 0] = 1 - y2[folds == 0]  # flip fold 0's labels: its own band must not move
    low2, high2 = crossfit_band(s, y2, folds, miss=0.02, false_flag=0.02)
    np.testing.assert_array_equal(low[folds == 0], low2[folds == 0])
    np.testing.assert_array_equal(high[folds == 0], high2[folds == 0])
    with pytest.raises(ValueError, match="two folds"):
        crossfit_band(s, y, np.zeros(600), miss=0.0, false_flag=0.0)


def test_cascade_routes_and_orders():
    cheap = np.array([0.01, 0.2, 0.5, 0.95])
    exp = np.array([0.9, 0.1, 0.7, 0.2])
    comb, routed = cascade(cheap, exp, 0.1, 0.9)
    assert routed.tolist() == [False, True, True, False]
    assert comb[0] < 0 and comb[3] > 1  # allowed below every band score, flagged above
    np.testing.assert_allclose(comb[1:3], exp[1:3])
    with pytest.raises(ValueError, match="probabilities"):
        cascade(cheap * 2, exp, 0.1, 0.9)
    with pytest.raises(ValueError, match="4 scores"):
        cascade(cheap, exp[:3], 0.1, 0.9)


def test_fit_servable_scores_raw_messages(emails, tmp_path, monkeypatch):
    monkeypatch.setenv("MLSD_DATA_CACHE", str(tmp_path))
    train = np.arange(0, len(emails), 2)
    test = np.arange(1, len(emails), 2)
    model = fit_servable(emails, "tfidf_lr", train)
    scores = model(emails.iloc[test])
    assert scores.shape == (len(test),) and ((scores >= 0) & (scores <= 1)).all()
    y = emails["label"].to_numpy()[test]
    assert scores[y == 1].mean() > scores[y == 0].mean() + 0.3
    again = fit_servable(emails, "tfidf_lr", train)  # read back from the cache
    np.testing.assert_allclose(again(emails.iloc[test]), scores)
    assert list((tmp_path / "moderation").glob("servable_tfidf_lr_*.joblib"))
    assert minilm_text(emails.iloc[:1])[0].startswith(str(emails["subject"].iloc[0]))
    with pytest.raises(ValueError, match="name"):
        fit_servable(emails, "stack", train)
    with pytest.raises(ValueError, match="positions"):
        fit_servable(emails, "tfidf_lr", [len(emails)])
    with pytest.raises(ValueError, match="both labels"):
        fit_servable(emails, "tfidf_lr", np.flatnonzero(emails["label"].to_numpy() == 1))
