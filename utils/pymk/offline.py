"""Offline measurement for the PYMK ranker: nDCG@K from the evaluator's ranks, feature-group
importance (LightGBM gain and permutation), and the snapshot-feature leakage trap.

- :func:`ndcg_from_ranks`: per-source nDCG@K with binary relevance (Järvelin & Kekäläinen 2002)
  from the ranks of :func:`utils.graph.evaluate.link_prediction_ranks`,
  :math:`\\mathrm{DCG@K} = \\sum_{t:\\,r_t \\le K} 1/\\log_2(1 + r_t)` over the source's targets
  ``t`` with rank ``r_t`` (the evaluator's mean rank under ties, so it may be fractional) and
  :math:`\\mathrm{IDCG@K} = \\sum_{i=1}^{\\min(|T|, K)} 1/\\log_2(1 + i)`.
  :func:`utils.metrics.ndcg_at_k` needs ranked id lists and cannot take tied ranks, hence this.
- :func:`ranking_metrics`: Hits@K, Recall@K, nDCG@K and MRR from one ranking pass.
- :func:`candidate_ranks` (from :mod:`utils.pymk.candidates`): each test tie's position in a
  candidate list, so that candidate recall at every budget K comes from one pass.
- :func:`candidate_ndcg`: nDCG@K inside each source's candidate list (labels known per row):
  the metric that :func:`group_permutation_importance` degrades.
- :func:`group_gain_importance`: a LightGBM model's split gain summed by feature group, as a
  share of the total.
- :func:`group_permutation_importance`: permutation importance (Breiman 2001) by group: the
  columns of one group are shuffled with one shared row permutation (so their joint
  distribution survives and only their link to the label is cut), the model re-scores, and the
  drop in mean candidate nDCG@K is the group's importance.
- :func:`snapshot_context`: a :class:`utils.graph.linkpred.PairContext` whose film-derived node
  features (activity, profile) come from a later snapshot than the phase's cut-off, the
  classic mistake of joining today's feature table to yesterday's labels; co-star history and
  recent-tie counts stay point-in-time, so only the non-graph features leak.
  :func:`snapshot_history` wraps a history so that every context it hands out is such a
  snapshot (:class:`SnapshotHistory`), and :func:`fit_ranker` fits the part's
  :class:`utils.pymk.ranker.PYMKRanker` on either, in a worker process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils.graph.linkpred import LinkHistory, PairContext
from utils.pymk.candidates import candidate_ranks

__all__ = [
    "SnapshotHistory",
    "candidate_ndcg",
    "candidate_ranks",
    "fit_ranker",
    "group_gain_importance",
    "group_permutation_importance",
    "ndcg_from_ranks",
    "ranking_metrics",
    "snapshot_context",
    "snapshot_history",
]


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected a positive int, got {k!r}")
    return int(k)


def ndcg_from_ranks(ranks: pd.DataFrame, k: int = 10) -> pd.Series:
    """Per-source binary nDCG@``k`` from a ranks table (columns ``source`` and ``rank``, as
    :func:`utils.graph.evaluate.link_prediction_ranks` returns; see the module docstring).
    Returns a Series indexed by source."""
    k = _check_k(k)
    if not isinstance(ranks, pd.DataFrame):
        raise TypeError(f"ranks: expected a DataFrame, got {type(ranks).__name__}")
    missing = {"source", "rank"} - set(ranks.columns)
    if missing:
        raise ValueError(f"ranks: missing columns {sorted(missing)}")
    if ranks.empty:
        raise ValueError("ranks: empty")
    r = ranks["rank"].to_numpy(dtype=np.float64)
    if not np.isfinite(r).all() or (r < 1).any():
        raise ValueError("ranks: every rank must be a finite number >= 1")
    gain = np.where(r <= k, 1.0 / np.log2(1.0 + r), 0.0)
    g = pd.DataFrame({"source": ranks["source"].to_numpy(), "gain": gain}).groupby("source")
    dcg = g["gain"].sum()
    n_rel = np.minimum(g.size().to_numpy(), k)
    ideal_cum = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    return (dcg / ideal_cum[n_rel - 1]).rename(f"ndcg@{k}")


def ranking_metrics(
    score_fn: Callable[[np.ndarray], np.ndarray],
    graph,
    targets: object,
    *,
    k: int = 10,
    sources: object = None,
    batch_size: int = 512,
) -> dict[str, float]:
    """``hits@k``, ``recall@k``, ``ndcg@k`` and ``mrr`` averaged over sources, with
    ``n_sources``: :func:`utils.graph.evaluate_link_prediction` plus nDCG, from one pass."""
    from utils.graph.evaluate import link_prediction_ranks, per_source_metrics

    k = _check_k(k)
    ranks = link_prediction_ranks(score_fn, graph, targets, batch_size=batch_size, sources=sources)
    per = per_source_metrics(ranks, k)
    nd = ndcg_from_ranks(ranks, k)
    return {
        f"hits@{k}": float(per[f"hits@{k}"].mean()),
        f"recall@{k}": float(per[f"recall@{k}"].mean()),
        f"ndcg@{k}": float(nd.mean()),
        "mrr": float(per["rr"].mean()),
        "n_sources": len(per),
    }


def _check_rows(scores: object, src: object, labels: object) -> tuple[np.ndarray, ...]:
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(src)
    y = np.asarray(labels)
    if s.ndim != 1 or g.ndim != 1 or y.ndim != 1 or not (len(s) == len(g) == len(y)):
        raise ValueError(
            f"scores, src, labels: expected three 1-D arrays of one length, got shapes "
            f"{s.shape}, {g.shape}, {y.shape}"
        )
    if len(s) == 0:
        raise ValueError("scores: empty")
    if not np.isfinite(s).all():
        raise ValueError("scores: contains NaN or inf")
    if not np.isin(y, (0, 1, True, False)).all():
        raise ValueError("labels: expected 0/1 (or bool) per row")
    return s, g, y.astype(bool)


def candidate_ndcg(scores: object, src: object, labels: object, k: int = 10) -> float:
    """Mean binary nDCG@``k`` over sources that have at least one positive row, ranking each
    source's rows by ``scores`` (descending; equal scores keep row order). A source's ideal
    DCG counts all its positive rows, so positives missing from the candidates are not
    charged here (that is candidate recall's job)."""
    k = _check_k(k)
    s, g, y = _check_rows(scores, src, labels)
    order = np.lexsort((-s, g))  # by source, then score descending (stable)
    g_o, y_o = g[order], y[order]
    start = np.r_[0, np.flatnonzero(g_o[1:] != g_o[:-1]) + 1]
    pos = np.arange(len(g_o)) - np.repeat(start, np.diff(np.r_[start, len(g_o)]))
    disc = np.where((pos < k) & y_o, 1.0 / np.log2(pos + 2.0), 0.0)
    dcg = np.add.reduceat(disc, start)
    n_pos = np.add.reduceat(y_o.astype(np.int64), start)
    has = n_pos > 0
    if not has.any():
        raise ValueError("labels: no source has a positive row")
    ideal_cum = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    return float((dcg[has] / ideal_cum[np.minimum(n_pos[has], k) - 1]).mean())


def _check_groups(groups: object, names: Sequence[str]) -> dict[str, list[int]]:
    if not isinstance(groups, Mapping) or not groups:
        raise TypeError("groups: expected a non-empty mapping group -> feature names")
    index = {n: i for i, n in enumerate(names)}
    out: dict[str, list[int]] = {}
    for gname, cols in groups.items():
        if isinstance(cols, str):
            cols = (cols,)
        unknown = [c for c in cols if c not in index]
        if unknown:
            raise ValueError(f"groups[{gname!r}]: unknown feature name(s) {unknown}")
        if not cols:
            raise ValueError(f"groups[{gname!r}]: no features")
        out[str(gname)] = [index[c] for c in cols]
    return out


def group_gain_importance(
    model, feature_names: Sequence[str], groups: Mapping[str, Sequence[str]]
) -> pd.Series:
    """Share of the model's total split gain per feature group (sums to 1 over the groups
    when they cover every feature). ``model``: a fitted LightGBM sklearn model or Booster."""
    booster = getattr(model, "booster_", model)
    if not hasattr(booster, "feature_importance"):
        raise TypeError(f"model: expected a fitted LightGBM model, got {type(model).__name__}")
    names = list(feature_names)
    gain = np.asarray(booster.feature_importance(importance_type="gain"), dtype=np.float64)
    if len(gain) != len(names):
        raise ValueError(
            f"feature_names: the model has {len(gain)} features, got {len(names)} names"
        )
    idx = _check_groups(groups, names)
    total = gain.sum()
    if total <= 0:
        raise ValueError("model: has no split gain (no splits were made)")
    return pd.Series({g: gain[c].sum() / total for g, c in idx.items()}, name="gain_share")


def group_permutation_importance(
    predict: Callable[[np.ndarray], np.ndarray],
    features: object,
    src: object,
    labels: object,
    feature_names: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    *,
    k: int = 10,
    n_repeats: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """Permutation importance by feature group on held-out rows (see the module docstring).

    ``predict(features) -> scores``; ``features`` [rows, len(feature_names)]; ``src`` the
    source of each row; ``labels`` 0/1. Returns one row per group: ``drop`` (mean over
    ``n_repeats`` of baseline minus permuted candidate nDCG@``k``), ``drop_std`` and
    ``baseline``, sorted by drop (largest first)."""
    if not callable(predict):
        raise TypeError("predict: expected a callable features -> scores")
    X = np.asarray(features)
    names = list(feature_names)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise ValueError(f"features: expected shape [rows, {len(names)}], got {X.shape}")
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, (int, np.integer)):
        raise TypeError(f"n_repeats: expected an int, got {n_repeats!r}")
    if n_repeats < 1:
        raise ValueError(f"n_repeats: expected >= 1, got {n_repeats}")
    idx = _check_groups(groups, names)
    base = candidate_ndcg(predict(X), src, labels, k)
    rng = np.random.default_rng(seed)
    rows = []
    for gname, cols in idx.items():
        drops = []
        for _ in range(int(n_repeats)):
            Xp = X.copy()
            perm = rng.permutation(len(X))
            Xp[:, cols] = X[perm][:, cols]
            drops.append(base - candidate_ndcg(predict(Xp), src, labels, k))
        rows.append(
            {
                "group": gname,
                "drop": float(np.mean(drops)),
                "drop_std": float(np.std(drops, ddof=1)) if len(drops) > 1 else 0.0,
                "baseline": base,
            }
        )
    return pd.DataFrame(rows).sort_values("drop", ascending=False).reset_index(drop=True)


def snapshot_context(history, year: int, snapshot_year: int):
    """A leaky :class:`utils.graph.linkpred.PairContext` for a phase whose cut-off is ``year``:
    the film-derived node features (films, recent films, idle years, career, debut), the actor
    feature rows ``x`` and the top genre/country/language codes are taken from films released
    before ``snapshot_year`` (a later snapshot), while the co-star history and the count of
    recent ties stay as of ``year``. ``snapshot_year == year`` gives the point-in-time context."""
    for name, v in (("year", year), ("snapshot_year", snapshot_year)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name}: expected an int, got {v!r}")
    if snapshot_year < year:
        raise ValueError(
            f"snapshot_year: expected >= year ({year}), got {snapshot_year}; "
            "an earlier snapshot is a stale feature, not a leak"
        )
    if not isinstance(history, LinkHistory):
        raise TypeError(f"history: expected a LinkHistory, got {type(history).__name__}")
    pit = LinkHistory.context(history, int(year))  # the base class's point-in-time contexts
    snap = LinkHistory.context(history, int(snapshot_year))
    node = snap.node.copy()
    node[:, 2] = pit.node[:, 2]  # recent ties: a graph feature, kept point-in-time
    return PairContext(int(year), node, snap.x, snap.cats, pit.costar, pit.costar_last)


@dataclass
class SnapshotHistory(LinkHistory):
    """A :class:`utils.graph.linkpred.LinkHistory` whose :meth:`context` for cut-off ``year``
    is :func:`snapshot_context` with films before ``year + lag`` (a feature table refreshed at
    the end of each label window) or, with ``lag`` None, before ``max(snapshot_year, year)``
    (one table computed "today"). Any model that reads its contexts through
    ``history.context``, as :class:`utils.pymk.ranker.PYMKRanker` does, then trains or scores
    on the leaky features without a code change, which is how the leak happens in practice.
    Build it with :func:`snapshot_history`."""

    lag: int | None = None
    snapshot_year: int | None = None

    def context(self, year: int, x: np.ndarray | None = None) -> PairContext:
        if isinstance(year, bool) or not isinstance(year, (int, np.integer)):
            raise TypeError(f"year: expected an int, got {year!r}")
        y = int(year)
        snap = y + self.lag if self.lag is not None else max(int(self.snapshot_year), y)
        ctx = snapshot_context(self, y, snap)
        if x is not None:
            x = LinkHistory.context(self, y, x).x  # validated by the base class
            ctx = PairContext(ctx.year, ctx.node, x, ctx.cats, ctx.costar, ctx.costar_last)
        return ctx


def snapshot_history(
    history: LinkHistory, *, lag: int | None = None, snapshot_year: int | None = None
) -> SnapshotHistory:
    """A :class:`SnapshotHistory` over the same film data as ``history`` (shared, not copied):
    give exactly one of ``lag`` (years after each cut-off, >= 1) or ``snapshot_year``."""
    if not isinstance(history, LinkHistory):
        raise TypeError(f"history: expected a LinkHistory, got {type(history).__name__}")
    if (lag is None) == (snapshot_year is None):
        raise ValueError("lag, snapshot_year: give exactly one")
    for name, v in (("lag", lag), ("snapshot_year", snapshot_year)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise TypeError(f"{name}: expected an int, got {v!r}")
    if lag is not None and lag < 1:
        raise ValueError(f"lag: expected >= 1 year, got {lag}")
    return SnapshotHistory(
        history.films,
        history.actors,
        history.ties,
        history.costar,
        history.appearances,
        history.recent_years,
        lag=None if lag is None else int(lag),
        snapshot_year=None if snapshot_year is None else int(snapshot_year),
    )


def fit_ranker(
    year: int,
    seed: int = 0,
    *,
    lag: int | None = None,
    snapshot_year: int | None = None,
    candidate_params: dict | None = None,
    **model_params,
):
    """Fit :class:`utils.pymk.ranker.PYMKRanker` for cut-off ``year`` on the film data's
    history (:func:`utils.graph.linkpred.default_history`, built once per process), or on its
    :func:`snapshot_history` when ``lag`` or ``snapshot_year`` is given. Made for
    :func:`utils.graph.benchmark.in_workers`: the returned ranker has its ``history`` detached
    (it is large to send between processes); set ``ranker.history`` before scoring."""
    from utils.graph.linkpred import default_history
    from utils.pymk.ranker import PYMKRanker

    h = default_history()
    if lag is not None or snapshot_year is not None:
        h = snapshot_history(h, lag=lag, snapshot_year=snapshot_year)
    r = PYMKRanker(seed, candidate_params=candidate_params, **model_params).fit(h, year)
    r.history = None
    return r
