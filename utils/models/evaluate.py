"""Offline top-k evaluation of a recommender on a held-out split.

Protocol of the Microsoft Recommenders MovieLens benchmark: every held-out interaction is
relevant, items seen in training are excluded, k = 10, MAP divides by the user's number of
relevant items. Beyond accuracy it reports catalogue coverage and popularity bias.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .. import metrics
from .recommenders import Recommender


def relevant_sets(
    test: pd.DataFrame, *, user_col: str = "user_id", item_col: str = "item_id", offset: int = 1
) -> tuple[np.ndarray, list[set]]:
    """Users (row indices) with at least one test interaction, and their relevant item sets."""
    if len(test) == 0:
        raise ValueError("test must not be empty")
    grouped = test.groupby(user_col)[item_col].apply(lambda s: set((s - offset).tolist()))
    return grouped.index.to_numpy() - offset, list(grouped.to_numpy())


def popularity_percentile(X) -> np.ndarray:
    """Each item's training popularity as a percentile in [0, 1] (1 = most popular)."""
    counts = np.asarray(X.sum(axis=0)).ravel()
    ranks = pd.Series(counts).rank(method="average").to_numpy()
    return (ranks - 1) / max(len(counts) - 1, 1)


def evaluate_topk(
    model: Recommender, test: pd.DataFrame, k: int = 10, *, batch: int = 512, **cols
) -> dict[str, float]:
    """MAP@k, nDCG@k, precision@k, recall@k, coverage and popularity bias of ``model``.

    MAP divides each user's AP@k by the number of relevant items (``ap_denominator="relevant"``),
    the convention of the MovieLens benchmark this book compares with (BOOK_GUIDE section 7).
    ``coverage`` is the share of the catalogue that appears in at least one top-k list;
    ``popularity_bias`` is the mean training-popularity percentile of recommended items
    (0.5 for a popularity-blind recommender, near 1 for one that only shows hits).
    """
    users, relevant = relevant_sets(test, **cols)
    top = np.vstack([model.recommend(users[s : s + batch], k) for s in range(0, len(users), batch)])
    pop = popularity_percentile(model.X_)
    return {
        f"MAP@{k}": metrics.map_at_k(top, relevant, k, ap_denominator="relevant"),
        f"nDCG@{k}": metrics.ndcg_at_k(top, relevant, k),
        f"P@{k}": metrics.precision_at_k(top, relevant, k),
        f"R@{k}": metrics.recall_at_k(top, relevant, k),
        "coverage": len(np.unique(top)) / model.n_items,
        "popularity_bias": float(pop[top].mean()),
    }


def split_by_history(
    test: pd.DataFrame,
    X,
    edges: tuple[int, ...] = (0, 1, 100),
    *,
    user_col: str = "user_id",
    offset: int = 1,
) -> dict[str, pd.DataFrame]:
    """Slices of ``test`` by each user's training-history length (the row sums of ``X``).

    ``edges`` are the ascending lower bounds of the buckets and start at 0: the default
    ``(0, 1, 100)`` gives ``"0"`` (cold users, no training interaction), ``"1-99"`` and
    ``"100+"``. Buckets with no test rows are left out. Users are ``test[user_col] - offset``.
    """
    edges = tuple(int(e) for e in edges)
    if not edges or edges[0] != 0 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"edges must be strictly increasing and start at 0, got {edges}")
    if len(test) == 0:
        raise ValueError("test must not be empty")
    history = np.asarray(X.sum(axis=1)).ravel()
    users = test[user_col].to_numpy() - offset
    if users.min() < 0 or users.max() >= len(history):
        raise ValueError(f"test holds users outside the {len(history)} rows of X")
    n = history[users]
    out = {}
    for j, lo in enumerate(edges):
        hi = edges[j + 1] if j + 1 < len(edges) else None
        if hi is None:
            label, mask = f"{lo}+", n >= lo
        else:
            label = str(lo) if hi == lo + 1 else f"{lo}-{hi - 1}"
            mask = (n >= lo) & (n < hi)
        if mask.any():
            out[label] = test[mask]
    return out
