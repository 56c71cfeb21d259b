"""Ranking and retrieval metrics at a cut-off k.

Inputs are one ranked list per query (``ranked[q]``: item ids, best first) and the relevant
items of that query (``relevant[q]``: a set of ids for binary relevance, or a mapping
id -> gain for graded relevance). Each function returns the mean over queries, or the
per-query values with ``reduce="none"``. Conventions follow Manning, Raghavan & Schütze (2008)
and the Microsoft Recommenders evaluation code:

- precision@k = |top-k ∩ rel| / k
- recall@k = |top-k ∩ rel| / |rel|
- hit rate@k = 1[|top-k ∩ rel| > 0]
- MRR@k = 1 / rank of the first relevant item in the top k (0 if none)
- AP@k = (1/|rel|) Σ_{i≤k, item_i ∈ rel} precision@i   (divided by the number of relevant items,
  as in the Recommenders benchmark; ``ap_denominator="min"`` divides by min(k, |rel|) instead)
- bootstrap CI: :func:`bootstrap_ci`, the percentile bootstrap over queries (Efron & Tibshirani,
  1993) of any per-query metric (``reduce="none"``, or ``average_precision_at_k``)
- nDCG@k = DCG@k / IDCG@k with DCG@k = Σ_{i≤k} g_i / log2(i + 1); linear gains g_i = rel_i as in
  scikit-learn's ``ndcg_score`` (Järvelin & Kekäläinen, 2002), or ``gains="exponential"``
  for g_i = 2^rel_i − 1 (Burges et al., 2005).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

from ._checks import check_choice, check_k

Relevant = Collection | Mapping

__all__ = [
    "ann_recall_at_k",
    "average_precision_at_k",
    "bootstrap_ci",
    "hit_rate_at_k",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]


def _prepare(ranked, relevant, k) -> tuple[list[list], list[dict]]:
    if isinstance(ranked, np.ndarray):
        if ranked.ndim != 2:
            raise ValueError(f"ranked must be 2-D (queries, positions), got shape {ranked.shape}")
        ranked = ranked.tolist()
    if not isinstance(ranked, Sequence) or isinstance(ranked, str):
        raise TypeError("ranked must be a sequence of ranked lists (one per query)")
    if not isinstance(relevant, Sequence) or isinstance(relevant, str):
        raise TypeError("relevant must be a sequence of sets or dicts (one per query)")
    if len(ranked) == 0:
        raise ValueError("ranked must not be empty")
    if len(ranked) != len(relevant):
        raise ValueError(
            f"ranked has {len(ranked)} queries but relevant has {len(relevant)}; they must match"
        )
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k!r}")
    lists, gains = [], []
    for q, (items, rel) in enumerate(zip(ranked, relevant, strict=True)):
        items = list(items)[:k]
        if len(set(items)) != len(items):
            raise ValueError(f"ranked[{q}] repeats an item; a ranked list holds distinct items")
        if isinstance(rel, Mapping):
            g = {i: float(v) for i, v in rel.items()}
            if any(not np.isfinite(v) or v < 0 for v in g.values()):
                raise ValueError(f"relevant[{q}] has a NaN, infinite or negative gain")
            g = {i: v for i, v in g.items() if v > 0}
        else:
            g = dict.fromkeys(rel, 1.0)
        if not g:
            raise ValueError(
                f"relevant[{q}] is empty; drop queries without relevant items before scoring"
            )
        lists.append(items)
        gains.append(g)
    return lists, gains


def _reduce(values: list[float], reduce: str):
    check_choice(reduce, "reduce", ("mean", "none"))
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()) if reduce == "mean" else arr


def precision_at_k(ranked, relevant, k: int, *, reduce: str = "mean"):
    """Share of the top-k that is relevant (a list shorter than k still divides by k)."""
    lists, gains = _prepare(ranked, relevant, k)
    return _reduce([sum(i in g for i in r) / k for r, g in zip(lists, gains, strict=True)], reduce)


def recall_at_k(ranked, relevant, k: int, *, reduce: str = "mean"):
    """Share of the relevant items found in the top k."""
    lists, gains = _prepare(ranked, relevant, k)
    vals = [sum(i in g for i in r) / len(g) for r, g in zip(lists, gains, strict=True)]
    return _reduce(vals, reduce)


def hit_rate_at_k(ranked, relevant, k: int, *, reduce: str = "mean"):
    """1 if any relevant item is in the top k, else 0."""
    lists, gains = _prepare(ranked, relevant, k)
    vals = [float(any(i in g for i in r)) for r, g in zip(lists, gains, strict=True)]
    return _reduce(vals, reduce)


def mrr_at_k(ranked, relevant, k: int, *, reduce: str = "mean"):
    """Reciprocal rank of the first relevant item within the top k (0 when there is none)."""
    lists, gains = _prepare(ranked, relevant, k)
    vals = []
    for r, g in zip(lists, gains, strict=True):
        first = next((pos for pos, i in enumerate(r, start=1) if i in g), None)
        vals.append(0.0 if first is None else 1.0 / first)
    return _reduce(vals, reduce)


def average_precision_at_k(
    ranked, relevant, k: int, *, ap_denominator: str = "relevant", reduce: str = "none"
):
    """AP@k per query (see the module docstring for the two denominators)."""
    check_choice(ap_denominator, "ap_denominator", ("relevant", "min"))
    lists, gains = _prepare(ranked, relevant, k)
    vals = []
    for r, g in zip(lists, gains, strict=True):
        hits, total = 0, 0.0
        for pos, i in enumerate(r, start=1):
            if i in g:
                hits += 1
                total += hits / pos
        denom = len(g) if ap_denominator == "relevant" else min(k, len(g))
        vals.append(total / denom)
    return _reduce(vals, reduce)


def map_at_k(ranked, relevant, k: int, *, ap_denominator: str = "relevant") -> float:
    """Mean of AP@k over queries."""
    return float(
        np.mean(average_precision_at_k(ranked, relevant, k, ap_denominator=ap_denominator))
    )


def ndcg_at_k(ranked, relevant, k: int, *, gains: str = "linear", reduce: str = "mean"):
    """Normalised discounted cumulative gain at k with binary or graded relevance."""
    check_choice(gains, "gains", ("linear", "exponential"))
    lists, gain_maps = _prepare(ranked, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))

    def g(v: float) -> float:
        return v if gains == "linear" else 2.0**v - 1.0

    vals = []
    for r, gm in zip(lists, gain_maps, strict=True):
        dcg = sum(g(gm.get(i, 0.0)) * discounts[p] for p, i in enumerate(r))
        ideal = sorted((g(v) for v in gm.values()), reverse=True)[:k]
        idcg = float(np.dot(ideal, discounts[: len(ideal)]))
        vals.append(dcg / idcg)
    return _reduce(vals, reduce)


def ann_recall_at_k(found: np.ndarray, true: np.ndarray, k: int | None = None) -> float:
    """Recall@k of approximate results against exact neighbours: mean |found_k ∩ true_k| / k.

    ``found`` and ``true`` are (queries, >=k) id arrays; ``k`` defaults to ``true.shape[1]``.
    Padding ids of -1 in ``found`` (fewer results than asked) count as misses.
    """
    found, true = np.asarray(found), np.asarray(true)
    if found.ndim != 2 or true.ndim != 2:
        raise ValueError(f"found and true must be 2-D, got shapes {found.shape} and {true.shape}")
    if found.shape[0] != true.shape[0]:
        raise ValueError(
            f"found has {found.shape[0]} queries but true has {true.shape[0]}; they must match"
        )
    if found.shape[0] == 0:
        raise ValueError("found and true must hold at least one query")
    k = (
        true.shape[1]
        if k is None
        else check_k(k, min(found.shape[1], true.shape[1]), "k", "the number of result columns")
    )
    if found.shape[1] < k:
        raise ValueError(f"found has {found.shape[1]} columns, fewer than k={k}")
    f, t = found[:, :k], true[:, :k]
    hits = sum(len(set(a[a >= 0].tolist()) & set(b.tolist())) for a, b in zip(f, t, strict=True))
    return hits / (k * len(t))


def bootstrap_ci(
    per_query_values: object, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval of a mean over queries (Efron & Tibshirani, 1993).

    Draw ``n_boot`` resamples of the ``n`` queries with replacement, take each resample's mean,
    and return ``(mean, low, high)`` with ``low``/``high`` the ``alpha/2`` and ``1 − alpha/2``
    quantiles of those means (95% at the default ``alpha``). The interval covers query-sampling
    noise only: a retrained model (another seed) moves the metric by an amount this does not
    see. To compare two systems on the same queries, pass the per-query *differences* (a paired
    bootstrap): an interval that excludes 0 is a difference the queries support.
    """
    from ._checks import check_positive_int

    try:
        v = np.asarray(per_query_values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"per_query_values must be numbers: {exc}") from exc
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"per_query_values must be a non-empty 1-D array, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("per_query_values contains NaN or infinite values")
    n_boot = check_positive_int(n_boot, "n_boot")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // v.size)  # bound the (resamples, n) index matrix
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        means[start:stop] = v[rng.integers(0, v.size, size=(stop - start, v.size))].mean(1)
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(v.mean()), float(low), float(high)
