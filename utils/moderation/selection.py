"""Model selection without touching the test reading: nested tuning of the n-gram models'
regularisation, and a paired bootstrap of a false-positive rate at a fixed recall.

- :func:`nested_c_scores`: out-of-fold scores of an n-gram model (``"tfidf_lr"``, ``"char_lr"``,
  ``"header_lr"``) whose inverse regularisation ``C`` is chosen *inside each outer training
  part* by an inner cross-validation: the candidate with the lowest inner out-of-fold
  false-positive rate on hard ham at the target recall wins (ties: the smaller ``C``, the
  stronger regularisation). The outer held-out fold is scored by the winner refitted on the
  whole training part, so no choice ever sees the rows it is scored on. Same outer folds as
  :func:`~utils.moderation.detectors.oof_scores`, so the result pairs with its cached scores.
- :func:`paired_fpr_bootstrap`: resample positives and the negatives of a slice with replacement
  (stratified: each class keeps its size), re-set each model's threshold at ``recall`` from the
  resampled positives, and read both models' false-positive rates on the same resampled
  negatives. Percentile intervals of each rate, of their difference and of the relative
  reduction ``1 - fpr_b / fpr_a`` (Efron & Tibshirani, 1993). Re-setting the threshold inside
  each resample carries the noise of the threshold itself, which a Wilson interval on the
  negatives alone leaves out.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd

from .._checks import check_choice, check_positive_int
from .detectors import (
    _KIND,
    _check_emails,
    _fit_score_counts,
    _folds,
    _strata,
    header_text,
    message_text,
    ngram_counts,
)
from .metrics import threshold_at_recall

__all__ = ["nested_c_scores", "paired_fpr_bootstrap"]


def _hard_fpr_at(scores: np.ndarray, y: np.ndarray, hard: np.ndarray, recall: float) -> float:
    t = threshold_at_recall(scores, y, recall)
    return float(np.mean(scores[hard] >= t))


def nested_c_scores(
    emails: pd.DataFrame,
    model: str = "tfidf_lr",
    Cs: tuple[float, ...] = (1.0, 10.0, 100.0),
    *,
    recall: float = 0.99,
    n_splits: int = 5,
    inner_splits: int = 2,
    seed: int = 0,
    cache: bool = True,
) -> tuple[np.ndarray, list[float]]:
    """Out-of-fold scores with ``C`` picked per outer fold by inner CV (see the module docstring),
    and the ``C`` each outer fold chose. Cached beside the other out-of-fold scores."""
    from sklearn.model_selection import StratifiedKFold

    emails = _check_emails(emails)
    model = check_choice(model, "model", tuple(_KIND))
    n_splits = check_positive_int(n_splits, "n_splits")
    inner_splits = check_positive_int(inner_splits, "inner_splits")
    if n_splits < 2 or inner_splits < 2:
        raise ValueError("n_splits and inner_splits must be at least 2")
    Cs = tuple(float(c) for c in Cs)
    if not Cs or not all(np.isfinite(c) and c > 0 for c in Cs):
        raise ValueError(f"Cs must be a non-empty sequence of positive numbers, got {Cs}")
    if not 0 < recall <= 1:
        raise ValueError(f"recall must lie in (0, 1], got {recall}")
    if "hard_ham" not in emails:
        raise ValueError("emails is missing column 'hard_ham' (the selection criterion)")

    path = None
    if cache:
        from ..data._cache import cache_dir

        h = hashlib.sha1()
        for col in ("id", "label", "subject", "body"):
            if col in emails:
                h.update("\x00".join(map(str, emails[col].tolist())).encode("utf-8", "replace"))
        h.update(f"{model}|{Cs}|{recall}|{n_splits}|{inner_splits}|{seed}|v1".encode())
        folder = cache_dir() / "moderation"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"nested_{model}_{h.hexdigest()[:16]}.npz"
        if path.exists():
            try:
                z = np.load(path)
                if z["scores"].shape == (len(emails),) and np.isfinite(z["scores"]).all():
                    return z["scores"], [float(c) for c in z["chosen"]]
            except (OSError, ValueError, KeyError):
                pass  # corrupt: recompute

    y = emails["label"].to_numpy().astype(int)
    hard = emails["hard_ham"].to_numpy().astype(bool) & (y == 0)
    texts = header_text(emails) if model == "header_lr" else message_text(emails)
    X = ngram_counts(texts, _KIND[model])
    strata = _strata(emails)
    out, chosen = np.full(len(emails), np.nan), []
    inner = StratifiedKFold(n_splits=inner_splits, shuffle=True, random_state=seed)
    for tr, te in _folds(emails, n_splits, seed):
        best = None
        for C in sorted(Cs):
            s = np.empty(len(tr))
            for itr, ite in inner.split(np.zeros(len(tr)), strata[tr]):
                s[ite] = _fit_score_counts(X, y, tr[itr], tr[ite], seed, C)
            fpr = _hard_fpr_at(s, y[tr], hard[tr], recall)
            if best is None or fpr < best[0]:
                best = (fpr, C)
        chosen.append(best[1])
        out[te] = _fit_score_counts(X, y, tr, te, seed, best[1])
    if path is not None:
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, scores=out, chosen=np.asarray(chosen))
        os.replace(tmp, path)
    return out, chosen


def paired_fpr_bootstrap(
    scores_a: object,
    scores_b: object,
    labels: object,
    negatives: object,
    *,
    recall: float = 0.99,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, float]:
    """Paired stratified bootstrap of two models' false-positive rates on the negatives selected
    by the boolean mask ``negatives`` (e.g. hard ham), each at the threshold that reaches
    ``recall`` on the positives (``labels == 1``) of the same resample.

    Returns the point values (``fpr_a``, ``fpr_b``, ``diff`` = a - b, ``reduction`` =
    ``1 - fpr_b / fpr_a``) and their ``*_low`` / ``*_high`` percentile bounds, plus
    ``p_not_better``: the share of resamples in which b's rate is not below a's. Resamples in
    which ``fpr_a`` is 0 are left out of the reduction's interval."""
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    y, neg = np.asarray(labels), np.asarray(negatives)
    if a.ndim != 1 or a.shape != b.shape or y.shape != a.shape or neg.shape != a.shape:
        raise ValueError(
            "scores_a, scores_b, labels and negatives must be 1-D of one length, got "
            f"{a.shape}, {b.shape}, {y.shape}, {neg.shape}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("scores must be finite (no NaN or inf)")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if neg.dtype != bool:
        raise TypeError(f"negatives must be a boolean mask, got dtype {neg.dtype}")
    pos_idx, neg_idx = np.flatnonzero(y == 1), np.flatnonzero(neg & (y == 0))
    if pos_idx.size == 0 or neg_idx.size == 0:
        raise ValueError("need at least one positive and one selected negative")
    if not 0 < recall <= 1:
        raise ValueError(f"recall must lie in (0, 1], got {recall}")
    n_boot = check_positive_int(n_boot, "n_boot")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")

    k = max(int(np.ceil(recall * pos_idx.size - 1e-9)), 1)  # the k-th highest positive

    def thresholds(s: np.ndarray, rows: np.ndarray) -> np.ndarray:
        # k-th largest of each resample = the (n - k)-th smallest
        return np.partition(s[rows], rows.shape[1] - k, axis=1)[:, rows.shape[1] - k]

    rng = np.random.default_rng(seed)
    P = pos_idx[rng.integers(0, pos_idx.size, (n_boot, pos_idx.size))]
    N = neg_idx[rng.integers(0, neg_idx.size, (n_boot, neg_idx.size))]
    fa = (a[N] >= thresholds(a, P)[:, None]).mean(1)
    fb = (b[N] >= thresholds(b, P)[:, None]).mean(1)
    point_a = float(np.mean(a[neg_idx] >= threshold_at_recall(a, y, recall)))
    point_b = float(np.mean(b[neg_idx] >= threshold_at_recall(b, y, recall)))
    q = [alpha / 2, 1 - alpha / 2]
    ok = fa > 0
    red = 1 - fb[ok] / fa[ok]
    out = {
        "fpr_a": point_a,
        "fpr_b": point_b,
        "diff": point_a - point_b,
        "reduction": 1 - point_b / point_a if point_a > 0 else float("nan"),
        "p_not_better": float(np.mean(fb >= fa)),
    }
    for name, v in (("fpr_a", fa), ("fpr_b", fb), ("diff", fa - fb), ("reduction", red)):
        lo, hi = np.quantile(v, q) if v.size else (float("nan"), float("nan"))
        out[f"{name}_low"], out[f"{name}_high"] = float(lo), float(hi)
    return out
