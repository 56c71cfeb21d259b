"""The detectors the harmful-content labs compare, and out-of-fold scores for every message.

Every model sees the same message text (:func:`message_text`: the subject, then the body) and
is an ordinary scikit-learn or LightGBM estimator, so the labs differ only in what they teach:

- ``"tfidf_lr"``: word uni- and bigram TF-IDF (sublinear tf, terms in >= 2 messages) and
  logistic regression, the baseline;
- ``"char_lr"``: character 3-5-gram TF-IDF within word boundaries (``char_wb``), which survives
  obfuscation that splits or alters words;
- ``"minilm_lr"``: the bundled MiniLM sentence embedding of the subject and the first
  ``MINILM_CHARS`` characters of the body, and logistic regression;
- ``"lgbm_meta"``: LightGBM on :func:`metadata_features` (header and structure signals) plus the
  out-of-fold scores of the two n-gram models (stacking: a text score is a feature, computed
  without the message's own label).

:func:`oof_scores` gives every message a score from a model that never saw it (stratified K-fold
by group, so hard ham is spread over the folds): with only 250 hard-ham messages, a held-out
20% slice would resolve a false-positive rate in steps of 0.02, out-of-fold scores in steps of
0.004. :func:`rates_at_recall` sets the threshold from the spam scores and reads the ham rates.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd

from .._checks import check_choice, check_positive_int
from .metrics import threshold_at_recall, wilson_interval

__all__ = [
    "MINILM_CHARS",
    "MODELS",
    "TEXT_CHARS",
    "make_text_model",
    "message_text",
    "metadata_features",
    "ngram_counts",
    "oof_scores",
    "rates_at_recall",
]

MODELS = ("tfidf_lr", "char_lr", "minilm_lr", "lgbm_meta")
#: Characters of the body the MiniLM model reads (its encoder truncates at 256 word pieces).
MINILM_CHARS = 300
#: Characters of the body the n-gram models read: spam shows itself early, and the longest
#: bodies (up to 160k characters of HTML newsletters) would dominate the cost.
TEXT_CHARS = 3000


def _check_emails(emails: object) -> pd.DataFrame:
    if not isinstance(emails, pd.DataFrame):
        raise TypeError(f"emails must be a DataFrame, got {type(emails).__name__}")
    need = {"subject", "body", "label", "group"}
    missing = need - set(emails.columns)
    if missing:
        raise ValueError(f"emails is missing columns {sorted(missing)}")
    if len(emails) == 0:
        raise ValueError("emails must hold at least one message")
    return emails


def message_text(emails: pd.DataFrame, max_chars: int | None = TEXT_CHARS) -> list[str]:
    """Subject and body of each message as one string (subject, a newline, the body), the body
    cut at ``max_chars`` characters (:data:`TEXT_CHARS`: 88% of bodies are shorter; ``None``
    keeps everything)."""
    emails = _check_emails(emails)
    cut = slice(None) if max_chars is None else slice(check_positive_int(max_chars, "max_chars"))
    return [
        f"{s or ''}\n{(b or '')[cut]}"
        for s, b in zip(emails["subject"], emails["body"], strict=True)
    ]


def metadata_features(emails: pd.DataFrame) -> pd.DataFrame:
    """Signals outside the words, from the raw message and its parsed fields: HTML body, number
    of ``Received`` hops, URLs, body and subject length, share of capitals and ``!`` in the
    subject, a missing or unparseable ``Date`` (``date_missing``), a ``Date`` outside the corpus's
    2002 collection window (``date_off``: forged or skewed clocks, common in spam), a free-mail
    sender domain, and the number of MIME parts."""
    emails = _check_emails(emails)
    raw = emails["raw"].astype(str) if "raw" in emails else pd.Series([""] * len(emails))
    subj = emails["subject"].fillna("").astype(str)
    body = emails["body"].fillna("").astype(str)
    date = pd.to_datetime(emails["date"], utc=True, errors="coerce") if "date" in emails else None
    sender = emails["sender"].fillna("").astype(str).str.lower() if "sender" in emails else None
    free = ("hotmail.", "yahoo.", "aol.", "msn.", "excite.", "gmail.", "lycos.", "netscape.")
    out = pd.DataFrame(
        {
            "html": raw.str.contains("text/html", case=False, regex=False).astype(float),
            "received_hops": raw.str.count(r"(?im)^received:").astype(float),
            "n_urls": emails["n_urls"].astype(float) if "n_urls" in emails else 0.0,
            "log_body_chars": np.log1p(body.str.len()),
            "subject_chars": subj.str.len().astype(float),
            "subject_caps": subj.map(
                lambda s: sum(c.isupper() for c in s) / max(1, sum(c.isalpha() for c in s))
            ),
            "subject_bangs": subj.str.count("!").astype(float),
            "mime_parts": raw.str.count(r"(?im)^content-type:").astype(float),
        },
        index=emails.index,
    )
    if date is not None:
        out["date_missing"] = date.isna().astype(float)
        out["date_off"] = ((date.dt.year != 2002) & date.notna()).astype(float)
    if sender is not None:
        out["freemail"] = sender.map(lambda s: float(any(f in s for f in free)))
    return out


def _count_vectorizer(kind: str):
    from sklearn.feature_extraction.text import CountVectorizer

    kind = check_choice(kind, "kind", ("word", "char"))
    if kind == "word":
        return CountVectorizer(ngram_range=(1, 2), min_df=2, dtype=np.float32)
    return CountVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, dtype=np.float32)


def ngram_counts(texts: list[str], kind: str = "word"):
    """Sparse term counts of ``texts``: word uni+bigrams (``"word"``) or character 3-5-grams
    inside word boundaries (``"char"``), keeping terms found in at least 2 texts. The vocabulary
    uses no labels, so it is built once over all messages and every fold re-weights the same
    counts (the TF-IDF weights and the classifier are fitted on the training fold only)."""
    return _count_vectorizer(kind).fit_transform(texts)


def make_text_model(name: str, seed: int = 0, C: float = 10.0):
    """An unfitted scikit-learn pipeline from text to a spam probability for ``"tfidf_lr"`` or
    ``"char_lr"``: the counts of :func:`ngram_counts`, sublinear TF-IDF and L2 logistic
    regression (``C``: inverse regularisation strength), as the out-of-fold scores use them; the
    model one would fit on all labelled messages and serve."""
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    name = check_choice(name, "name", ("tfidf_lr", "char_lr"))
    return make_pipeline(
        _count_vectorizer("word" if name == "tfidf_lr" else "char"),
        TfidfTransformer(sublinear_tf=True),
        LogisticRegression(C=C, max_iter=2000, solver="liblinear", random_state=seed),
    )


def _fit_score_counts(X, y, tr, te, seed: int, C: float) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    tf = TfidfTransformer(sublinear_tf=True).fit(X[tr])
    lr = LogisticRegression(C=C, max_iter=2000, solver="liblinear", random_state=seed)
    lr.fit(tf.transform(X[tr]), y[tr])
    return lr.predict_proba(tf.transform(X[te]))[:, 1]


def _folds(emails: pd.DataFrame, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    strata = emails["group"].astype(str).str.replace(r"-\d+$", "", regex=True).to_numpy()
    skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(emails)), strata))


def _minilm(emails: pd.DataFrame) -> np.ndarray:
    from ..data import encode_texts

    texts = [
        f"{s or ''}. {(b or '')[:MINILM_CHARS]}"
        for s, b in zip(emails["subject"], emails["body"], strict=True)
    ]
    return encode_texts(texts)


def oof_scores(
    emails: pd.DataFrame,
    model: str,
    *,
    n_splits: int = 5,
    seed: int = 0,
    C: float = 10.0,
    text_scores: dict[str, np.ndarray] | None = None,
    cache: bool = True,
) -> np.ndarray:
    """Out-of-fold spam scores of ``model`` (one of :data:`MODELS`) for every row of
    ``emails``: each message is scored by a model fitted on the other folds (stratified by
    group). ``"lgbm_meta"`` stacks :func:`metadata_features` with out-of-fold ``tfidf_lr`` and
    ``char_lr`` scores (pass them as ``text_scores`` to avoid refitting; they must come from the
    same folds, i.e. the same ``n_splits`` and ``seed``).

    With ``cache`` the scores are stored under ``<data cache>/moderation/`` keyed by the model,
    its settings and a digest of the messages' ids, labels and texts, and read back on the next
    call (the n-gram and MiniLM arms take tens of seconds to minutes on two cores)."""
    emails = _check_emails(emails)
    model = check_choice(model, "model", MODELS)
    n_splits = check_positive_int(n_splits, "n_splits")
    if n_splits < 2:
        raise ValueError("n_splits must be at least 2")
    path = None
    if cache and text_scores is None:
        path = _oof_cache_path(emails, model, n_splits, seed, C)
        if path.exists():
            try:
                cached = np.load(path)
                if cached.shape == (len(emails),) and np.isfinite(cached).all():
                    return cached
            except (OSError, ValueError):
                pass  # corrupt: recompute below
    out = _oof(emails, model, n_splits, seed, C, text_scores)
    if path is not None:
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
        np.save(tmp, out)
        os.replace(tmp, path)
    return out


def _oof_cache_path(emails: pd.DataFrame, model: str, n_splits: int, seed: int, C: float):
    from ..data._cache import cache_dir

    h = hashlib.sha1()
    for col in ("id", "label", "subject", "body"):
        if col in emails:
            h.update("\x00".join(map(str, emails[col].tolist())).encode("utf-8", "replace"))
    h.update(f"{model}|{n_splits}|{seed}|{C!r}|{TEXT_CHARS}|{MINILM_CHARS}|v1".encode())
    folder = cache_dir() / "moderation"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"oof_{model}_{h.hexdigest()[:16]}.npy"


def _oof(
    emails: pd.DataFrame,
    model: str,
    n_splits: int,
    seed: int,
    C: float,
    text_scores: dict[str, np.ndarray] | None,
) -> np.ndarray:
    y = emails["label"].to_numpy().astype(int)
    folds = _folds(emails, n_splits, seed)
    out = np.full(len(emails), np.nan)
    if model in ("tfidf_lr", "char_lr"):
        X = ngram_counts(message_text(emails), "word" if model == "tfidf_lr" else "char")
        for tr, te in folds:
            out[te] = _fit_score_counts(X, y, tr, te, seed, C)
    elif model == "minilm_lr":
        from sklearn.linear_model import LogisticRegression

        X = _minilm(emails)
        for tr, te in folds:
            m = LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(X[tr], y[tr])
            out[te] = m.predict_proba(X[te])[:, 1]
    else:
        import lightgbm as lgb

        ts = dict(text_scores or {})
        for name in ("tfidf_lr", "char_lr"):
            if name not in ts:
                ts[name] = oof_scores(emails, name, n_splits=n_splits, seed=seed, C=C)
            if np.shape(ts[name]) != (len(emails),):
                raise ValueError(f"text_scores[{name!r}] must hold one score per message")
        X = metadata_features(emails).assign(**{f"score_{k}": v for k, v in ts.items()})
        for tr, te in folds:
            m = lgb.LGBMClassifier(
                n_estimators=200,
                learning_rate=0.05,
                num_leaves=15,
                min_child_samples=20,
                random_state=seed,
                n_jobs=1,
                deterministic=True,
                force_row_wise=True,
                verbose=-1,
            ).fit(X.iloc[tr], y[tr])
            out[te] = m.predict_proba(X.iloc[te])[:, 1]
    return out


def rates_at_recall(
    emails: pd.DataFrame, scores: object, recall: float = 0.99
) -> dict[str, float | int]:
    """Threshold at ``recall`` of the spam scores, then the false-positive rate on hard ham and on
    easy ham with 95% Wilson intervals and counts: ``{threshold, recall, hard_fpr, hard_low,
    hard_high, hard_fp, n_hard, easy_fpr, easy_low, easy_high, easy_fp, n_easy}``."""
    emails = _check_emails(emails)
    if "hard_ham" not in emails:
        raise ValueError("emails is missing column 'hard_ham'")
    s = np.asarray(scores, dtype=float)
    if s.shape != (len(emails),):
        raise ValueError(f"scores must hold one score per message ({len(emails)}), got {s.shape}")
    y = emails["label"].to_numpy().astype(int)
    t = threshold_at_recall(s, y, recall)
    hard = emails["hard_ham"].to_numpy().astype(bool) & (y == 0)
    easy = (~emails["hard_ham"].to_numpy().astype(bool)) & (y == 0)
    out: dict[str, float | int] = {"threshold": t, "recall": float(np.mean(s[y == 1] >= t))}
    for name, mask in (("hard", hard), ("easy", easy)):
        fp, n = int((s[mask] >= t).sum()), int(mask.sum())
        lo, hi = wilson_interval(fp, n)
        out.update({f"{name}_fpr": fp / n, f"{name}_low": lo, f"{name}_high": hi, f"{name}_fp": fp})
        out[f"n_{name}"] = n
    return out
