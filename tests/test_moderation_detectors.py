"""utils.moderation.detectors: features, out-of-fold scores and rates at a recall target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.data import load_spam_assassin
from utils.moderation.detectors import (
    MODELS,
    header_text,
    make_text_model,
    message_text,
    metadata_features,
    ngram_counts,
    oof_scores,
    rates_at_recall,
)


@pytest.fixture(scope="module")
def emails():
    """A stratified 900-message sample of the real corpus (all 250 hard ham kept)."""
    e = load_spam_assassin()
    hard = e[e["hard_ham"]]
    rest = e[~e["hard_ham"]].groupby("label", group_keys=False).sample(325, random_state=0)
    return pd.concat([hard, rest]).sort_index().reset_index(drop=True)


def test_text_and_metadata(emails):
    texts = message_text(emails)
    assert len(texts) == len(emails) and texts[0].startswith(str(emails["subject"].iloc[0]))
    assert (
        max(len(t) for t in message_text(emails, 50)) <= 50 + emails["subject"].str.len().max() + 1
    )
    m = metadata_features(emails)
    assert len(m) == len(emails) and np.isfinite(m.to_numpy()).all()
    assert {"html", "n_urls", "date_missing", "freemail"} <= set(m.columns)
    with pytest.raises(ValueError, match="missing columns"):
        metadata_features(emails.drop(columns=["body"]))


def test_counts_and_pipeline_agree(emails):
    texts = message_text(emails)
    X = ngram_counts(texts, "word")
    assert X.shape[0] == len(emails) and (X.sum(axis=0) > 0).all()
    y = emails["label"].to_numpy()
    model = make_text_model("tfidf_lr").fit(texts, y)
    assert model.predict_proba(texts)[:, 1][y == 1].mean() > 0.8  # fits its own data
    with pytest.raises(ValueError, match="kind"):
        ngram_counts(texts, "bytes")


@pytest.mark.parametrize("model", ["tfidf_lr", "char_lr"])
def test_oof_scores_are_out_of_fold_and_cached(emails, model, tmp_path, monkeypatch):
    monkeypatch.setenv("MLSD_DATA_CACHE", str(tmp_path))
    s = oof_scores(emails, model, n_splits=3)
    assert s.shape == (len(emails),) and np.isfinite(s).all()
    assert (tmp_path / "moderation").is_dir() and any((tmp_path / "moderation").iterdir())
    np.testing.assert_array_equal(s, oof_scores(emails, model, n_splits=3))  # read back
    np.testing.assert_allclose(s, oof_scores(emails, model, n_splits=3, cache=False))
    # out of fold: a model fitted on all rows scores its own training spam higher than OOF does
    texts, y = message_text(emails), emails["label"].to_numpy()
    in_sample = make_text_model(model).fit(texts, y).predict_proba(texts)[:, 1]
    assert in_sample[y == 1].mean() > s[y == 1].mean()


def test_stacker_is_nested_and_header_model_reads_headers(emails, tmp_path, monkeypatch):
    monkeypatch.setenv("MLSD_DATA_CACHE", str(tmp_path))
    s = oof_scores(emails, "lgbm_meta", n_splits=3)
    assert s.shape == (len(emails),) and 0 <= s.min() and s.max() <= 1
    y = emails["label"].to_numpy()
    assert s[y == 1].mean() > s[y == 0].mean() + 0.5
    # nested: every base score a stacker fold trains on comes from an inner fit without that row
    import utils.moderation.detectors as D

    seen = []
    real = D._fit_score

    def spy(name, X, yy, tr, te, seed, C):
        assert not set(tr) & set(te)
        seen.append((set(tr), set(te)))
        return real(name, X, yy, tr, te, seed, C)

    monkeypatch.setattr(D, "_fit_score", spy)
    D._oof(emails, "lgbm_meta", 3, 0, 10.0)
    assert len(seen) == 3 * 2 * (D.INNER_SPLITS + 1)
    heads = header_text(emails)
    every = header_text(emails, fields="all")
    assert all(h.endswith(t) for h, t in zip(heads, message_text(emails), strict=True))
    # the sender-side view drops the relay chain and the dates, the full view keeps them
    texts = message_text(emails)
    blocks = ["\n" + h[: len(h) - len(t)].lower() for h, t in zip(heads, texts, strict=True)]
    full = ["\n" + h[: len(h) - len(t)].lower() for h, t in zip(every, texts, strict=True)]
    assert not any("\nreceived:" in b or "\ndate:" in b or "\nto:" in b for b in blocks)
    assert sum("\nreceived:" in b for b in full) > 800
    assert sum("from:" in h.lower() for h in heads) > 0.95 * len(heads)
    with pytest.raises(ValueError, match="fields"):
        header_text(emails, fields="some")
    with pytest.raises(ValueError, match="raw"):
        header_text(emails.drop(columns=["raw"]))


def test_rates_at_recall(emails, tmp_path, monkeypatch):
    monkeypatch.setenv("MLSD_DATA_CACHE", str(tmp_path))
    s = oof_scores(emails, "tfidf_lr", n_splits=3)
    r = rates_at_recall(emails, s, 0.95)
    assert r["recall"] >= 0.95 and r["n_hard"] == 250
    assert r["hard_low"] <= r["hard_fpr"] <= r["hard_high"]
    assert r["hard_fp"] == int((s[emails["hard_ham"].to_numpy()] >= r["threshold"]).sum())
    # the borderline slice is where the errors are
    assert r["hard_fpr"] > r["easy_fpr"]
    with pytest.raises(ValueError, match="one score per message"):
        rates_at_recall(emails, s[:-1])


def test_bad_arguments(emails):
    with pytest.raises(ValueError, match="model"):
        oof_scores(emails, "bert")
    with pytest.raises(ValueError, match="n_splits"):
        oof_scores(emails, "tfidf_lr", n_splits=1)
    with pytest.raises(TypeError, match="DataFrame"):
        message_text(["a"])
    assert set(MODELS) == {"tfidf_lr", "char_lr", "header_lr", "minilm_lr", "lgbm_meta", "stack"}
