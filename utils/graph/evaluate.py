"""Link-prediction evaluation: rank every candidate for every source node.

For each source node ``u`` with future ties ``T_u``, a score function scores all nodes; ``u``
itself and its observed neighbours are removed (they are not candidates); every other node is.
A target's rank is ``1 + #(higher scores) + #(equal scores among the other candidates) / 2``, the
mean of its optimistic and pessimistic rank (ties would otherwise flatter constant scores).
Per source, averaged over sources:

- ``hits@k``: 1 if some target ranks in the top ``k``;
- ``recall@k``: the share of ``T_u`` ranked in the top ``k``;
- ``mrr``: the reciprocal of the best target's rank.

This is stricter than OGB's ogbl-collab Hits@50, which ranks each positive edge against one
shared set of 100,000 random negative edges; the numbers are not comparable.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .csr import CSRGraph

ScoreFn = Callable[[np.ndarray], np.ndarray]


def _check_targets(graph: CSRGraph, targets: object) -> np.ndarray:
    t = np.asarray(targets)
    if t.ndim != 2 or t.shape[1] != 2 or len(t) == 0:
        raise ValueError(f"targets: expected a non-empty [m, 2] array of node pairs, got {t.shape}")
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"targets: expected integer node ids, got dtype {t.dtype}")
    if t.min() < 0 or t.max() >= graph.n_nodes:
        raise ValueError(f"targets: node ids must lie in [0, {graph.n_nodes})")
    if np.any(t[:, 0] == t[:, 1]):
        raise ValueError("targets: a node cannot be its own target")
    return t.astype(np.int64)


def link_prediction_ranks(
    score_fn: ScoreFn,
    graph: CSRGraph,
    targets: object,
    *,
    batch_size: int = 512,
    sources: object = None,
) -> pd.DataFrame:
    """One row per (source, target) in both directions: ``source``, ``target``, ``rank`` and
    ``n_candidates``. Targets that are observed neighbours of the source are dropped.
    ``sources`` (optional) keeps only those source nodes: a cohort (new actors), or a uniform
    sample of sources, whose mean metrics are an unbiased estimate of the full ones."""
    t = _check_targets(graph, targets)
    if batch_size < 1:
        raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
    pairs = np.unique(np.concatenate([t, t[:, ::-1]]), axis=0)
    if sources is not None:
        keep = np.asarray(sources)
        if keep.ndim != 1 or keep.size == 0 or not np.issubdtype(keep.dtype, np.integer):
            raise ValueError("sources: expected a non-empty 1-D array of node ids")
        if keep.min() < 0 or keep.max() >= graph.n_nodes:
            raise ValueError(f"sources: node ids must lie in [0, {graph.n_nodes})")
        pairs = pairs[np.isin(pairs[:, 0], keep)]
        if not len(pairs):
            raise ValueError("sources: none of them has a target")
    sources, starts = np.unique(pairs[:, 0], return_index=True)
    ends = np.append(starts[1:], len(pairs))
    deg = graph.degree()
    out = []
    for b0 in range(0, len(sources), batch_size):
        src = sources[b0 : b0 + batch_size]
        scores = np.asarray(score_fn(src), dtype=np.float64)
        if scores.shape != (len(src), graph.n_nodes):
            raise ValueError(
                f"score_fn: expected scores of shape ({len(src)}, {graph.n_nodes}), "
                f"got {scores.shape}"
            )
        if np.isnan(scores).any():
            raise ValueError("score_fn: returned NaN scores")
        scores = scores.copy()
        rows = np.repeat(np.arange(len(src)), deg[src])
        cols = np.concatenate([graph.indices[graph.indptr[s] : graph.indptr[s + 1]] for s in src])
        scores[rows, cols] = -np.inf
        scores[np.arange(len(src)), src] = -np.inf
        n_cand = graph.n_nodes - 1 - deg[src]
        for i, s in enumerate(src):
            j = b0 + i
            tg = pairs[starts[j] : ends[j], 1]
            row = scores[i]
            st = row[tg]
            keep = np.isfinite(st)
            tg, st = tg[keep], st[keep]
            if not len(tg):
                continue
            greater = (row[None, :] > st[:, None]).sum(1)
            equal = (row[None, :] == st[:, None]).sum(1) - 1
            out.append(
                pd.DataFrame(
                    {
                        "source": s,
                        "target": tg,
                        "rank": 1.0 + greater + equal / 2.0,
                        "n_candidates": n_cand[i],
                    }
                )
            )
    if not out:
        raise ValueError("targets: every target is already an observed neighbour of its source")
    return pd.concat(out, ignore_index=True)


def per_source_metrics(ranks: pd.DataFrame, k: int = 20) -> pd.DataFrame:
    """Per source: ``n_targets``, ``hits@k``, ``recall@k`` and ``rr`` (reciprocal best rank)."""
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected a positive int, got {k!r}")
    if k > int(ranks["n_candidates"].max()):
        raise ValueError(f"k: {k} is larger than every source's candidate set")
    hit = ranks["rank"] <= k
    g = ranks.assign(hit=hit).groupby("source")
    return pd.DataFrame(
        {
            "n_targets": g.size(),
            f"hits@{k}": g["hit"].any().astype(float),
            f"recall@{k}": g["hit"].mean(),
            "rr": 1.0 / g["rank"].min(),
        }
    )


def evaluate_link_prediction(
    score_fn: ScoreFn,
    graph: CSRGraph,
    targets: object,
    *,
    k: int = 20,
    batch_size: int = 512,
    sources: object = None,
) -> dict[str, float]:
    """``hits@k``, ``recall@k`` and ``mrr`` averaged over source nodes (see the module
    docstring), with ``n_sources`` and ``n_targets`` (directed source-target pairs); with
    ``sources``, over those source nodes only (see :func:`link_prediction_ranks`)."""
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected a positive int, got {k!r}")
    ranks = link_prediction_ranks(score_fn, graph, targets, batch_size=batch_size, sources=sources)
    per = per_source_metrics(ranks, k)
    return {
        f"hits@{k}": float(per[f"hits@{k}"].mean()),
        f"recall@{k}": float(per[f"recall@{k}"].mean()),
        "mrr": float(per["rr"].mean()),
        "n_sources": len(per),
        "n_targets": len(ranks),
    }
