"""Offline top-k evaluation of a recommender on a held-out split.

Protocol of the Microsoft Recommenders MovieLens benchmark: every held-out interaction is
relevant, items seen in training are excluded, k = 10, MAP divides by the user's number of
relevant items. Beyond accuracy it reports catalogue coverage and popularity bias.
"""

from __future__ import annotations

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

    ``coverage`` is the share of the catalogue that appears in at least one top-k list;
    ``popularity_bias`` is the mean training-popularity percentile of recommended items
    (0.5 for a popularity-blind recommender, near 1 for one that only shows hits).
    """
    users, relevant = relevant_sets(test, **cols)
    top = np.vstack([model.recommend(users[s : s + batch], k) for s in range(0, len(users), batch)])
    pop = popularity_percentile(model.X_)
    return {
        f"MAP@{k}": metrics.map_at_k(top, relevant, k),
        f"nDCG@{k}": metrics.ndcg_at_k(top, relevant, k),
        f"P@{k}": metrics.precision_at_k(top, relevant, k),
        f"R@{k}": metrics.recall_at_k(top, relevant, k),
        "coverage": len(np.unique(top)) / model.n_items,
        "popularity_bias": float(pop[top].mean()),
    }
