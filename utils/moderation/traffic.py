"""A day of traffic built from real detector scores, for the review-queue simulation.

:func:`sample_traffic` turns a labelled pool (say the out-of-fold scores of the SpamAssassin
messages, 31% spam) into a stream at another prevalence: each arriving item is harmful with
probability ``prevalence`` (independently), and its score is drawn with replacement from the
pool's scores of its class. The scores keep their real shape (the borderline benign items, the
spam that scores low), the class mix is the one chosen, and no label of an arriving item is used
to pick anything but its own score. Drawing with replacement repeats pool items: a day of 240,000
items built from a few thousand messages has each message many times over, so the day's rates are
the pool's rates, and their uncertainty is the pool's (see the chapter), not the day's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sample_traffic"]


def sample_traffic(
    scores: object, labels: object, n_items: int, prevalence: float, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(harmful, item_scores, source)`` for ``n_items`` arrivals: ``harmful`` is 0/1 with
    ``P(1) = prevalence``, ``item_scores[i]`` is ``scores[source[i]]`` for a ``source`` drawn
    uniformly with replacement among the pool items of the same class."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels)
    if s.ndim != 1 or y.shape != s.shape or s.size == 0:
        raise ValueError(
            f"scores and labels must be non-empty 1-D of one length, got {s.shape}, {y.shape}"
        )
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite (no NaN or inf)")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (benign) or 1 (harmful)")
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("the pool needs both harmful and benign items")
    if isinstance(n_items, bool) or not isinstance(n_items, int | np.integer) or n_items < 1:
        raise ValueError(f"n_items must be a positive int, got {n_items!r}")
    if not (isinstance(prevalence, int | float) and 0 < prevalence < 1):
        raise ValueError(f"prevalence must lie in (0, 1), got {prevalence!r}")
    rng = np.random.default_rng(seed)
    harmful = (rng.random(n_items) < prevalence).astype(int)
    source = np.where(
        harmful == 1,
        pos[rng.integers(0, pos.size, n_items)],
        neg[rng.integers(0, neg.size, n_items)],
    )
    return harmful, s[source], source
