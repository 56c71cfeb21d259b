"""Serving a detector: fitted servable models, their measured per-message cost, and a cascade.

- :func:`fit_servable`: one of the detectors as the object a service would load: fitted on the
  given training rows, mapping a frame of raw messages to spam scores, the text extraction
  included (that is part of the cost of a request). Fitted n-gram pipelines are cached under
  ``<data cache>/moderation/`` like the out-of-fold scores.
- :func:`per_item_ms` and :func:`batched_ms_per_item`: wall-clock cost of a scoring function one
  message at a time (what a blocking upload check sees) and amortised over batches (what an
  asynchronous scorer pays). Both take a ``clock`` so tests need no real timing.
- :func:`band_from_validation`, :func:`crossfit_band` and :func:`cascade`: a two-stage cascade.
  The cheap model's score ``c`` routes each message: ``c < low`` is allowed by the cheap stage,
  ``c >= high`` is flagged by it, and only the band ``low <= c < high`` reaches the expensive
  model. ``low`` lets at most a share ``miss`` of the validation positives through unexamined;
  ``high`` flags at most a share ``false_flag`` of the validation negatives. :func:`crossfit_band`
  sets the band for each fold from the other folds only, so no message's routing used its label.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from .._checks import check_choice, check_positive_int
from .detectors import (
    HEADER_CHARS,
    MINILM_TOKENS,
    SENDER_HEADERS,
    TEXT_CHARS,
    header_text,
    make_text_model,
    minilm_text,
)
from .detectors import message_text as _message_text

__all__ = [
    "SERVABLE",
    "Servable",
    "band_from_validation",
    "batched_ms_per_item",
    "cascade",
    "crossfit_band",
    "fit_servable",
    "minilm_text",
    "per_item_ms",
]

#: Detectors :func:`fit_servable` builds (the stackers are timed as the sum of their parts).
SERVABLE = ("tfidf_lr", "char_lr", "header_lr", "minilm_lr")


class Servable:
    """A fitted detector: ``servable(frame)`` returns one spam probability per row of raw
    messages (columns ``subject``, ``body``, and ``raw`` for the header model)."""

    def __init__(self, name: str, model) -> None:
        self.name, self.model = name, model

    def features(self, emails: pd.DataFrame):
        if self.name == "minilm_lr":
            from ..data import encode_texts

            # use_cache=False: a served message is new, its embedding cannot come from a cache
            return encode_texts(minilm_text(emails), use_cache=False, max_tokens=MINILM_TOKENS)
        if self.name == "header_lr":
            return header_text(emails)
        return _message_text(emails)

    def __call__(self, emails: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(self.features(emails))[:, 1]


def fit_servable(
    emails: pd.DataFrame,
    name: str,
    train: Sequence[int] | np.ndarray,
    *,
    seed: int = 0,
    C: float = 10.0,
    cache: bool = True,
) -> Servable:
    """Fit detector ``name`` (one of :data:`SERVABLE`) on the rows ``train`` (positions) of
    ``emails``: the n-gram models through :func:`.detectors.make_text_model`, MiniLM as logistic
    regression on the embeddings of :func:`minilm_text` (training embeddings from the shared
    encoder cache). With ``cache`` a fitted n-gram pipeline is stored with joblib under
    ``<data cache>/moderation/``, keyed by the model, its settings and the training rows."""
    name = check_choice(name, "name", SERVABLE)
    rows = np.asarray(train, dtype=int)
    if rows.ndim != 1 or rows.size == 0:
        raise ValueError("train must be a non-empty 1-D sequence of row positions")
    if rows.min() < 0 or rows.max() >= len(emails):
        raise ValueError(f"train positions must lie in [0, {len(emails)})")
    part = emails.iloc[rows]
    y = part["label"].to_numpy().astype(int)
    if len(np.unique(y)) < 2:
        raise ValueError("the training rows must hold both labels")
    if name == "minilm_lr":
        from sklearn.linear_model import LogisticRegression

        from ..data import encode_texts

        X = encode_texts(minilm_text(part), max_tokens=MINILM_TOKENS)
        lr = LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(X, y)
        return Servable(name, lr)
    path = _servable_path(part, name, seed, C) if cache else None
    if path is not None and path.exists():
        import joblib

        try:
            return Servable(name, joblib.load(path))
        except Exception:  # a corrupt or incompatible file is refitted
            pass
    servable = Servable(name, make_text_model(name, seed=seed, C=C))
    servable.model.fit(servable.features(part), y)
    if path is not None:
        import joblib

        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
        joblib.dump(servable.model, tmp)
        os.replace(tmp, path)
    return servable


def _servable_path(part: pd.DataFrame, name: str, seed: int, C: float):
    from ..data._cache import cache_dir

    h = hashlib.sha1()
    for col in ("id", "label"):
        if col in part:
            h.update("\x00".join(map(str, part[col].tolist())).encode())
    # the feature definitions are part of the key: a pipeline fitted on other header fields or
    # another text cut must not be served on today's features
    h.update(
        f"{name}|{seed}|{C!r}|{TEXT_CHARS}|{HEADER_CHARS}|{','.join(SENDER_HEADERS)}|v2".encode()
    )
    folder = cache_dir() / "moderation"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"servable_{name}_{h.hexdigest()[:16]}.joblib"


def per_item_ms(
    fn: Callable[[object], object],
    items: Sequence[object],
    *,
    warmup: int = 3,
    repeats: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> np.ndarray:
    """Milliseconds of ``fn(item)`` for each item, called one at a time (a blocking check sees
    one message per request), after ``warmup`` untimed calls on the first items (lazy imports
    and first-call allocations are not a request's cost). With ``repeats > 1`` each item is
    timed that many times (in rounds over all items) and its fastest time kept: the item's own
    cost without interference from other work on the machine, which a production tail adds
    back."""
    if not callable(fn):
        raise TypeError("fn must be callable")
    if len(items) == 0:
        raise ValueError("items must not be empty")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative int, got {warmup!r}")
    repeats = check_positive_int(repeats, "repeats")
    for item in list(items)[:warmup]:
        fn(item)
    out = np.full(len(items), np.inf)
    for _ in range(repeats):
        for i, item in enumerate(items):
            start = clock()
            fn(item)
            out[i] = min(out[i], (clock() - start) * 1e3)
    return out


def batched_ms_per_item(
    fn: Callable[[pd.DataFrame], object],
    emails: pd.DataFrame,
    *,
    batch_size: int = 256,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Milliseconds per message when ``fn`` scores ``emails`` in batches of ``batch_size`` (an
    asynchronous scorer's cost: fixed per-call overhead is shared by the batch)."""
    if not callable(fn):
        raise TypeError("fn must be callable")
    if len(emails) == 0:
        raise ValueError("emails must not be empty")
    batch_size = check_positive_int(batch_size, "batch_size")
    fn(emails.iloc[: min(batch_size, 8)])  # warm-up
    start = clock()
    for lo in range(0, len(emails), batch_size):
        fn(emails.iloc[lo : lo + batch_size])
    return (clock() - start) * 1e3 / len(emails)


def _check_scores(scores: object, name: str, n: int | None = None) -> np.ndarray:
    s = np.asarray(scores, dtype=float)
    if s.ndim != 1 or s.size == 0 or not np.isfinite(s).all():
        raise ValueError(f"{name} must be a non-empty 1-D array of finite scores")
    if n is not None and s.size != n:
        raise ValueError(f"{name} must hold {n} scores, got {s.size}")
    return s


def _check_share(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a share in [0, 1), got {value!r}")
    return float(value)


def band_from_validation(
    cheap: object, labels: object, *, miss: float, false_flag: float
) -> tuple[float, float]:
    """``(low, high)`` from validation scores of the cheap model: at most ``floor(miss * n_pos)``
    positives score below ``low`` (the cheap stage allows them unexamined) and at most
    ``floor(false_flag * n_neg)`` negatives score ``>= high`` (it flags them alone). Ties make the
    counts smaller, never larger; ``high >= low`` always."""
    s = _check_scores(cheap, "cheap")
    y = np.asarray(labels)
    if y.shape != s.shape or not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0/1 with one label per score")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise ValueError("labels must hold both positives and negatives")
    miss, false_flag = _check_share(miss, "miss"), _check_share(false_flag, "false_flag")
    pos = np.sort(s[y])
    low = float(pos[int(np.floor(miss * pos.size))])  # positives strictly below: <= the budget
    neg = np.sort(s[~y])[::-1]
    high = float(np.nextafter(neg[int(np.floor(false_flag * neg.size))], np.inf))
    return low, max(low, high)


def crossfit_band(
    cheap: object, labels: object, folds: object, *, miss: float, false_flag: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-message ``(low, high)``: for the messages of each fold, the band
    :func:`band_from_validation` sets on the messages of all other folds."""
    s = _check_scores(cheap, "cheap")
    y = np.asarray(labels)
    f = np.asarray(folds)
    if y.shape != s.shape or f.shape != s.shape:
        raise ValueError("cheap, labels and folds must have one entry per message")
    ids = np.unique(f)
    if ids.size < 2:
        raise ValueError("folds must name at least two folds")
    low, high = np.empty_like(s), np.empty_like(s)
    for k in ids:
        held = f == k
        lo, hi = band_from_validation(s[~held], y[~held], miss=miss, false_flag=false_flag)
        low[held], high[held] = lo, hi
    return low, high


def cascade(
    cheap: object, expensive: object, low: object, high: object
) -> tuple[np.ndarray, np.ndarray]:
    """Route and score: ``(combined, routed)``. ``routed`` marks ``low <= cheap < high`` (the
    band the expensive model sees). ``combined`` orders every message as the cascade decides:
    allowed ones (``cheap < low``) get ``cheap - 2`` (below any expensive score in [0, 1]),
    flagged ones ``cheap + 2`` (above), routed ones their expensive score; any threshold inside
    [0, 1] is then the expensive model's threshold on the band. Scores must be in [0, 1]."""
    c = _check_scores(cheap, "cheap")
    e = _check_scores(expensive, "expensive", c.size)
    if c.min() < 0 or c.max() > 1 or e.min() < 0 or e.max() > 1:
        raise ValueError("cheap and expensive scores must be probabilities in [0, 1]")
    lo = np.broadcast_to(np.asarray(low, dtype=float), c.shape)
    hi = np.broadcast_to(np.asarray(high, dtype=float), c.shape)
    routed = (c >= lo) & (c < hi)
    combined = np.where(c < lo, c - 2.0, np.where(c >= hi, c + 2.0, e))
    return combined, routed
