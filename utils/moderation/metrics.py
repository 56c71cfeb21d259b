"""Metrics for detection at low prevalence: operating points fixed by recall, precision at a
prevalence other than the evaluation set's, and intervals for rates measured on few items.

- :func:`threshold_at_recall`: the highest score threshold whose recall (share of positives with
  ``score >= t``) reaches the target: the operating point a "catch 99% of it" requirement sets.
- :func:`operating_point`: recall, false-positive rate and precision at a threshold.
- :func:`precision_at_prevalence`: precision re-weighted to another prevalence ``pi`` from the
  two rates, ``pi * TPR / (pi * TPR + (1 - pi) * FPR)`` (Bayes' rule; the rates do not depend on
  prevalence, precision does). At 1% prevalence a 1% false-positive rate already halves precision.
- :func:`wilson_interval`: the Wilson score interval of a binomial proportion (Wilson, 1927), which
  keeps its coverage where the normal approximation fails: small counts and rates near 0.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["operating_point", "precision_at_prevalence", "threshold_at_recall", "wilson_interval"]


def _scores_labels(scores: object, labels: object) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels)
    if s.ndim != 1 or y.shape != s.shape:
        raise ValueError(
            f"scores and labels must be 1-D of the same length, got {s.shape} and {y.shape}"
        )
    if s.size == 0:
        raise ValueError("scores must not be empty")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite (no NaN or inf)")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (negative) or 1 (positive)")
    y = y.astype(bool)
    if not y.any() or y.all():
        raise ValueError("labels must hold both positives and negatives")
    return s, y


def _check_rate(value: object, name: str, *, open_low: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}")
    if not ((0 < value) if open_low else (0 <= value)) or value > 1:
        raise ValueError(f"{name} must lie in {'(0' if open_low else '[0'}, 1], got {value}")
    return float(value)


def threshold_at_recall(scores: object, labels: object, recall: float) -> float:
    """The largest threshold ``t`` with ``mean(scores[labels == 1] >= t) >= recall``: the score of
    the ``ceil(recall * n_pos)``-th highest positive. Everything scoring ``>= t`` is flagged."""
    s, y = _scores_labels(scores, labels)
    recall = _check_rate(recall, "recall")
    pos = np.sort(s[y])[::-1]
    need = math.ceil(recall * pos.size - 1e-9)
    return float(pos[max(need, 1) - 1])


def operating_point(scores: object, labels: object, threshold: float) -> dict[str, float]:
    """Counts and rates when every item with ``score >= threshold`` is flagged: ``recall`` (TPR),
    ``fpr``, ``precision`` (at the evaluation set's own prevalence; NaN when nothing is
    flagged), ``flagged`` (share of all items) and the raw counts."""
    s, y = _scores_labels(scores, labels)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValueError(f"threshold must be a number, got {threshold!r}")
    hit = s >= threshold
    tp, fp = int((hit & y).sum()), int((hit & ~y).sum())
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return {
        "recall": tp / n_pos,
        "fpr": fp / n_neg,
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "flagged": (tp + fp) / s.size,
        "tp": tp,
        "fp": fp,
        "n_pos": n_pos,
        "n_neg": n_neg,
    }


def precision_at_prevalence(recall: float, fpr: float, prevalence: float) -> float:
    """Precision of a classifier with true-positive rate ``recall`` and false-positive rate
    ``fpr`` on traffic where a share ``prevalence`` is positive:
    ``pi * TPR / (pi * TPR + (1 - pi) * FPR)``. Exact for any prevalence because TPR and FPR are
    rates within each class; a test set's own precision is this at the test set's prevalence."""
    r = _check_rate(recall, "recall")
    f = _check_rate(fpr, "fpr", open_low=False)
    pi = _check_rate(prevalence, "prevalence")
    if pi == 1.0:
        return 1.0
    return pi * r / (pi * r + (1 - pi) * f)


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` for ``k`` successes in ``n`` trials (95% at the
    default ``z``): centre ``(p + z²/2n) / (1 + z²/n)``, half-width
    ``z sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n)``. At ``k = 0`` the upper bound is about ``3.8/n``
    rather than the normal approximation's 0."""
    for v, name in ((k, "k"), (n, "n")):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    if not z > 0:
        raise ValueError(f"z must be > 0, got {z}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if k == 0 else max(0.0, centre - half)  # exact ends: no round-off residue
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high
