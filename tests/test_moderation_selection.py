"""utils.moderation.selection: nested tuning of C and the paired bootstrap of FPR at a recall."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.moderation.metrics import threshold_at_recall
from utils.moderation.selection import nested_c_scores, paired_fpr_bootstrap


def _toy_emails(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    spam_words = ["cheap", "offer", "click", "free", "money", "viagra"]
    ham_words = ["meeting", "patch", "kernel", "review", "lunch", "thanks"]
    rows = []
    for i in range(n):
        label = int(i % 3 == 0)
        hard = (not label) and i % 3 == 1 and i % 2 == 0
        pool = spam_words if label else ham_words + (spam_words[:2] if hard else [])
        body = " ".join(rng.choice(pool, 12))
        group = "spam-1" if label else ("hard-ham-1" if hard else "easy-ham-1")
        rows.append(
            {
                "id": i,
                "subject": f"s{i % 5}",
                "body": body,
                "label": label,
                "group": group,
                "hard_ham": hard,
            }
        )
    return pd.DataFrame(rows)


def test_nested_c_scores_out_of_fold_and_choices():
    e = _toy_emails()
    s, chosen = nested_c_scores(e, "tfidf_lr", Cs=(0.1, 10.0), n_splits=3, cache=False)
    assert s.shape == (len(e),) and np.isfinite(s).all() and ((0 <= s) & (s <= 1)).all()
    assert len(chosen) == 3 and set(chosen) <= {0.1, 10.0}
    # separable toy data: spam scores above ham on average
    assert s[e["label"] == 1].mean() > s[e["label"] == 0].mean()


def test_nested_c_scores_rejects_bad_input():
    e = _toy_emails()
    with pytest.raises(ValueError, match="Cs"):
        nested_c_scores(e, Cs=(), cache=False)
    with pytest.raises(ValueError, match="Cs"):
        nested_c_scores(e, Cs=(-1.0,), cache=False)
    with pytest.raises(ValueError, match="model"):
        nested_c_scores(e, "minilm_lr", cache=False)
    with pytest.raises(ValueError, match="hard_ham"):
        nested_c_scores(e.drop(columns="hard_ham"), cache=False)
    with pytest.raises(ValueError, match="at least 2"):
        nested_c_scores(e, inner_splits=1, cache=False)


def _scores(seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(200, int), np.zeros(300, int)]
    neg = np.r_[np.zeros(200, bool), np.ones(100, bool), np.zeros(200, bool)]
    a = np.r_[rng.normal(2, 1, 200), rng.normal(0.5, 1, 300)]
    return y, neg, a


def test_paired_bootstrap_identical_models_have_zero_difference():
    y, neg, a = _scores()
    r = paired_fpr_bootstrap(a, a.copy(), y, neg, recall=0.9, n_boot=200)
    assert r["diff"] == 0 and r["diff_low"] == 0 and r["diff_high"] == 0
    assert r["p_not_better"] == 1.0
    t = threshold_at_recall(a, y, 0.9)
    assert r["fpr_a"] == pytest.approx(np.mean(a[neg] >= t))
    assert r["fpr_a_low"] <= r["fpr_a"] <= r["fpr_a_high"]


def test_paired_bootstrap_better_model():
    y, neg, a = _scores()
    b = a.copy()
    b[neg] -= 3.0  # b pushes the slice's negatives down
    r = paired_fpr_bootstrap(a, b, y, neg, recall=0.9, n_boot=300)
    assert r["fpr_b"] < r["fpr_a"]
    assert r["diff_low"] > 0 and 0 < r["reduction_low"] <= r["reduction"] <= r["reduction_high"]
    assert r["p_not_better"] < 0.05
    # deterministic for a seed
    assert r == paired_fpr_bootstrap(a, b, y, neg, recall=0.9, n_boot=300)


def test_paired_bootstrap_rejects_bad_input():
    y, neg, a = _scores()
    with pytest.raises(ValueError, match="one length"):
        paired_fpr_bootstrap(a, a[:-1], y, neg)
    with pytest.raises(TypeError, match="boolean"):
        paired_fpr_bootstrap(a, a, y, neg.astype(int))
    with pytest.raises(ValueError, match="finite"):
        paired_fpr_bootstrap(np.r_[np.nan, a[1:]], a, y, neg)
    with pytest.raises(ValueError, match="recall"):
        paired_fpr_bootstrap(a, a, y, neg, recall=0)
    with pytest.raises(ValueError, match="positive"):
        paired_fpr_bootstrap(a, a, np.zeros_like(y), neg)
