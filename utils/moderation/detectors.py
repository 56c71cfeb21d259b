"""The detectors the harmful-content labs compare, and out-of-fold scores for every message.

Every model sees the same message text (:func:`message_text`: the subject, then the body) and
is an ordinary scikit-learn or LightGBM estimator, so the labs differ only in what they teach:

- ``"tfidf_lr"``: word uni- and bigram TF-IDF (sublinear tf, terms in >= 2 messages) and
  logistic regression, the baseline;
- ``"char_lr"``: character 3-5-gram TF-IDF within word boundaries (``char_wb``), which survives
  obfuscation that splits or alters words;
- ``"minilm_lr"``: the bundled MiniLM sentence embedding of the subject and the first
  ``MINILM_CHARS`` characters of the body, and logistic regression;
- ``"header_lr"``: word uni- and bigrams over the headers the *sender* controls (From,
  Reply-To, Message-Id, mailer, MIME structure, priority, mailing-list headers; see
  :data:`SENDER_HEADERS`) and the message text, tokens keeping dots and hyphens so
  ``mail.example.com`` stays one term. The relay chain (``Received``), the delivery and send
  dates and the recipient lines are left out on purpose: in this corpus they record *how the
  collector gathered each folder* (his own relays and fetchmail version, the months each folder
  was collected, the anonymised spam-trap address), so a model that reads them learns the
  folder, not the message. ``"header_all_lr"`` (a diagnostic, not in :data:`MODELS`) reads the
  whole header block to measure that leak;
- ``"lgbm_meta"``: LightGBM on :func:`metadata_features` (header and structure signals) plus the
  scores of the two body n-gram models (stacking: a text score is a feature);
- ``"stack"``: the same LightGBM over the metadata and the scores of all four text models.

Stacking is nested: inside each outer fold the base models' scores for the training rows come
from an inner cross-validation over those rows only, and the held-out rows are scored by base
models fitted on the whole training part, so no score a stacker sees was made with the label of
a message it is evaluated on.

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
    "DIAGNOSTIC_MODELS",
    "MINILM_CHARS",
    "MINILM_TOKENS",
    "MODELS",
    "SENDER_HEADERS",
    "STACK_BASES",
    "TEXT_CHARS",
    "header_text",
    "make_text_model",
    "message_text",
    "metadata_features",
    "minilm_text",
    "ngram_counts",
    "oof_scores",
    "rates_at_recall",
]

MODELS = ("tfidf_lr", "char_lr", "header_lr", "minilm_lr", "lgbm_meta", "stack")
#: Base models each stacker reads, besides :func:`metadata_features`.
STACK_BASES = {
    "lgbm_meta": ("tfidf_lr", "char_lr"),
    "stack": ("tfidf_lr", "char_lr", "header_lr", "minilm_lr"),
}
#: Characters of the header block the header model reads.
HEADER_CHARS = 3000
#: Header fields written by the sender or its mailing list, which a receiving platform sees for
#: any message; everything else (relays, dates, recipients, the collector's own fields) is dropped
#: by :func:`header_text` unless ``fields="all"``.
SENDER_HEADERS = (
    "from",
    "reply-to",
    "sender",
    "message-id",
    "in-reply-to",
    "references",
    "x-mailer",
    "user-agent",
    "organization",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "x-priority",
    "x-msmail-priority",
    "importance",
    "x-originating-ip",
    "precedence",
    "errors-to",
    "list-id",
    "list-help",
    "list-post",
    "list-subscribe",
    "list-unsubscribe",
    "list-archive",
    "x-beenthere",
    "x-mailman-version",
)
#: Accepted by :func:`oof_scores` besides :data:`MODELS`: the header model over every header.
DIAGNOSTIC_MODELS = ("header_all_lr",)
#: Characters of the body the MiniLM model reads, and the word pieces it keeps of subject + body:
#: 64 pieces (the median message would need 94) encode the corpus in about 45 s on two cores
#: instead of about 3 min at the encoder's own limit of 256.
MINILM_CHARS = 300
MINILM_TOKENS = 64
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


def _header_block(raw: str, fields: str) -> str:
    cut = raw.find("\n\n")
    block = raw if cut < 0 else raw[:cut]
    if fields == "all":
        return block[:HEADER_CHARS]
    kept, keep = [], False
    for line in block.split("\n"):
        if line[:1] in (" ", "\t"):  # a folded continuation of the previous field
            if keep:
                kept.append(line)
            continue
        keep = line.split(":", 1)[0].strip().lower() in SENDER_HEADERS
        if keep:
            kept.append(line)
    return "\n".join(kept)[:HEADER_CHARS]


def header_text(emails: pd.DataFrame, fields: str = "sender") -> list[str]:
    """The header block of each message (up to the first blank line), a newline, then
    :func:`message_text`. ``fields="sender"`` keeps only :data:`SENDER_HEADERS` (with their
    folded continuation lines); ``"all"`` keeps every header. At most :data:`HEADER_CHARS`
    characters of headers are kept."""
    emails = _check_emails(emails)
    fields = check_choice(fields, "fields", ("sender", "all"))
    if "raw" not in emails:
        raise ValueError("emails is missing column 'raw' (the header model reads the headers)")
    heads = [_header_block(raw, fields) for raw in emails["raw"].fillna("").astype(str)]
    return [f"{h}\n{t}" for h, t in zip(heads, message_text(emails), strict=True)]


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

    kind = check_choice(kind, "kind", ("word", "char", "header"))
    if kind == "word":
        return CountVectorizer(ngram_range=(1, 2), min_df=2, dtype=np.float32)
    if kind == "header":
        return CountVectorizer(
            ngram_range=(1, 2), min_df=2, dtype=np.float32, token_pattern=r"(?u)\b\w[\w.-]+\b"
        )
    return CountVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, dtype=np.float32)


def ngram_counts(texts: list[str], kind: str = "word"):
    """Sparse term counts of ``texts``: word uni+bigrams (``"word"``), character 3-5-grams
    inside word boundaries (``"char"``) or word uni+bigrams whose tokens keep dots and hyphens
    (``"header"``, for :func:`header_text`), keeping terms found in at least 2 texts. The vocabulary
    uses no labels, so it is built once over all messages and every fold re-weights the same
    counts (the TF-IDF weights and the classifier are fitted on the training fold only)."""
    return _count_vectorizer(kind).fit_transform(texts)


def make_text_model(name: str, seed: int = 0, C: float = 10.0):
    """An unfitted scikit-learn pipeline from text to a spam probability for ``"tfidf_lr"`` or
    ``"char_lr"`` (or ``"header_lr"``, fed :func:`header_text`): the counts of
    :func:`ngram_counts`, sublinear TF-IDF and L2 logistic regression (``C``: inverse
    regularisation strength), as the out-of-fold scores use them; the model one would fit on all
    labelled messages and serve."""
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    name = check_choice(name, "name", ("tfidf_lr", "char_lr", "header_lr"))
    return make_pipeline(
        _count_vectorizer(_KIND[name]),
        TfidfTransformer(sublinear_tf=True),
        LogisticRegression(C=C, max_iter=2000, solver="liblinear", random_state=seed),
    )


_KIND = {"tfidf_lr": "word", "char_lr": "char", "header_lr": "header", "header_all_lr": "header"}


def _fit_score_counts(X, y, tr, te, seed: int, C: float) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    tf = TfidfTransformer(sublinear_tf=True).fit(X[tr])
    lr = LogisticRegression(C=C, max_iter=2000, solver="liblinear", random_state=seed)
    lr.fit(tf.transform(X[tr]), y[tr])
    return lr.predict_proba(tf.transform(X[te]))[:, 1]


def _strata(emails: pd.DataFrame) -> np.ndarray:
    return emails["group"].astype(str).str.replace(r"-\d+$", "", regex=True).to_numpy()


def _folds(emails: pd.DataFrame, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(emails)), _strata(emails)))


def minilm_text(emails: pd.DataFrame) -> list[str]:
    """What ``"minilm_lr"`` encodes: the subject, ``". "``, then the first
    :data:`MINILM_CHARS` body characters (cut at :data:`MINILM_TOKENS` word pieces on encoding)."""
    emails = _check_emails(emails)
    return [
        f"{s or ''}. {(b or '')[:MINILM_CHARS]}"
        for s, b in zip(emails["subject"], emails["body"], strict=True)
    ]


def _minilm(emails: pd.DataFrame) -> np.ndarray:
    from ..data import encode_texts

    return encode_texts(minilm_text(emails), max_tokens=MINILM_TOKENS)


def oof_scores(
    emails: pd.DataFrame,
    model: str,
    *,
    n_splits: int = 5,
    seed: int = 0,
    C: float = 10.0,
    cache: bool = True,
) -> np.ndarray:
    """Out-of-fold spam scores of ``model`` (one of :data:`MODELS`) for every row of
    ``emails``: each message is scored by a model fitted on the other folds (stratified by
    group). The stackers (``"lgbm_meta"``, ``"stack"``) are nested: see the module docstring.

    With ``cache`` the scores are stored under ``<data cache>/moderation/`` keyed by the model,
    its settings and a digest of the messages' ids, labels and texts, and read back on the next
    call (on two cores the n-gram arms take seconds, MiniLM about 45 s to encode the corpus once,
    the nested stackers up to a minute)."""
    emails = _check_emails(emails)
    model = check_choice(model, "model", MODELS + DIAGNOSTIC_MODELS)
    n_splits = check_positive_int(n_splits, "n_splits")
    if n_splits < 2:
        raise ValueError("n_splits must be at least 2")
    path = None
    if cache:
        path = _oof_cache_path(emails, model, n_splits, seed, C)
        if path.exists():
            try:
                cached = np.load(path)
                if cached.shape == (len(emails),) and np.isfinite(cached).all():
                    return cached
            except (OSError, ValueError):
                pass  # corrupt: recompute below
    out = _oof(emails, model, n_splits, seed, C)
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
    h.update(
        f"{model}|{n_splits}|{seed}|{C!r}|{TEXT_CHARS}|{MINILM_CHARS}|{MINILM_TOKENS}|{HEADER_CHARS}|{INNER_SPLITS}|{len(SENDER_HEADERS)}|v3".encode()
    )
    folder = cache_dir() / "moderation"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"oof_{model}_{h.hexdigest()[:16]}.npy"


def _base_matrix(emails: pd.DataFrame, name: str):
    if name == "minilm_lr":
        return _minilm(emails)
    if name == "header_lr":
        texts = header_text(emails)
    elif name == "header_all_lr":
        texts = header_text(emails, fields="all")
    else:
        texts = message_text(emails)
    return ngram_counts(texts, _KIND[name])


def _fit_score(name: str, X, y, tr, te, seed: int, C: float) -> np.ndarray:
    if name == "minilm_lr":
        from sklearn.linear_model import LogisticRegression

        m = LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(X[tr], y[tr])
        return m.predict_proba(X[te])[:, 1]
    return _fit_score_counts(X, y, tr, te, seed, C)


#: Inner folds of the nested stacking.
INNER_SPLITS = 3


def _stacked_fold(mats, meta, y, strata, tr, te, seed: int, C: float) -> np.ndarray:
    import lightgbm as lgb
    from sklearn.model_selection import StratifiedKFold

    inner = StratifiedKFold(n_splits=INNER_SPLITS, shuffle=True, random_state=seed)
    f_tr = np.zeros((len(tr), len(mats)))
    f_te = np.zeros((len(te), len(mats)))
    for j, (name, X) in enumerate(mats.items()):
        for itr, ite in inner.split(np.zeros(len(tr)), strata[tr]):
            f_tr[ite, j] = _fit_score(name, X, y, tr[itr], tr[ite], seed, C)
        f_te[:, j] = _fit_score(name, X, y, tr, te, seed, C)
    cols = [f"score_{n}" for n in mats]
    x_tr = meta.iloc[tr].assign(**dict(zip(cols, f_tr.T, strict=True)))
    x_te = meta.iloc[te].assign(**dict(zip(cols, f_te.T, strict=True)))
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
    ).fit(x_tr, y[tr])
    return m.predict_proba(x_te)[:, 1]


def _oof(emails: pd.DataFrame, model: str, n_splits: int, seed: int, C: float) -> np.ndarray:
    y = emails["label"].to_numpy().astype(int)
    folds = _folds(emails, n_splits, seed)
    out = np.full(len(emails), np.nan)
    if model in STACK_BASES:
        mats = {name: _base_matrix(emails, name) for name in STACK_BASES[model]}
        meta, strata = metadata_features(emails), _strata(emails)
        for tr, te in folds:
            out[te] = _stacked_fold(mats, meta, y, strata, tr, te, seed, C)
        return out
    X = _base_matrix(emails, model)
    for tr, te in folds:
        out[te] = _fit_score(model, X, y, tr, te, seed, C)
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
