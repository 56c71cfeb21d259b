"""An ann-benchmarks-style harness (Aumüller, Bernhardsson & Faithfull, 2020).

For each value of an index's search-time knob it measures recall@k against exact neighbours and
queries per second two ways: **single** (one query per call, one thread, as ann-benchmarks
reports) and **batch** (all queries in one call). Build time and bytes per vector come from
:func:`build`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from ..metrics import ann_recall_at_k
from .base import Index


def build(make: Callable[[], Index], X: np.ndarray) -> tuple[Index, dict]:
    """Construct with ``make()``, add ``X``, and report build seconds and bytes per vector."""
    index = make()
    start = time.perf_counter()
    index.add(X)
    seconds = time.perf_counter() - start
    return index, {
        "index": index.name,
        "build_s": seconds,
        "bytes_per_vector": index.memory_bytes() / index.ntotal,
    }


def sweep(
    index: Index,
    Q: np.ndarray,
    truth: np.ndarray,
    values: Iterable[int] | None = None,
    *,
    k: int = 10,
    batch: bool = True,
    repeats: int = 1,
    warmup: int = 20,
    clock: Callable[[], float] = time.perf_counter,
) -> pd.DataFrame:
    """Recall@k and QPS of ``index`` for each search-parameter value (one row per value).

    Single-query QPS is the best of ``repeats`` passes over the queries, after ``warmup``
    queries that are not timed (JIT compilation, caches). ``clock`` times the single-query
    passes: wall-clock by default; ``time.thread_time`` gives queries per CPU-second of the
    calling thread, which another process's load does not inflate, and is right only when the
    index searches on the calling thread (one faiss/OpenMP thread, hnswlib ``num_threads=1``).
    """
    if not callable(clock):
        raise TypeError(f"clock must be a callable returning seconds, got {clock!r}")
    Q = np.ascontiguousarray(Q, dtype=np.float32)
    truth = np.asarray(truth)
    if truth.ndim != 2 or truth.shape[0] != Q.shape[0] or truth.shape[1] < k:
        raise ValueError(
            f"truth must be (len(Q), >=k) = ({Q.shape[0]}, >={k}), got shape {truth.shape}"
        )
    rows = []
    for value in [None] if values is None else list(values):
        if value is not None:
            index.set_search_param(value)
        for q in Q[:warmup]:
            index.search(q[None], k)
        best = np.inf
        for _ in range(repeats):
            found = np.empty((len(Q), k), dtype=np.int64)
            start = clock()
            for r in range(len(Q)):
                found[r] = index.search(Q[r : r + 1], k)[1][0]
            best = min(best, clock() - start)
        row = {
            "index": index.name,
            "param": index.search_param or "-",
            "value": value if value is not None else 0,
            f"recall@{k}": ann_recall_at_k(found, truth, k),
            "qps_single": len(Q) / best,
        }
        if batch:
            start = time.perf_counter()
            index.search(Q, k)
            row["qps_batch"] = len(Q) / (time.perf_counter() - start)
        rows.append(row)
    return pd.DataFrame(rows)


def pareto_frontier(df: pd.DataFrame, recall: str = "recall@10", qps: str = "qps_single"):
    """Rows not dominated by another row with both higher recall and higher QPS."""
    ordered = df.sort_values([recall, qps], ascending=[False, False])
    keep, best_qps = [], -np.inf
    for idx, row in ordered.iterrows():
        if row[qps] > best_qps:
            keep.append(idx)
            best_qps = row[qps]
    return df.loc[keep].sort_values(recall)


def qps_at_recall(
    df: pd.DataFrame, target: float, recall: str = "recall@10", qps: str = "qps_single"
) -> float:
    """QPS at a recall target, interpolated (in log QPS) between the two sweep points that
    bracket it on the Pareto frontier; NaN when the sweep never reaches ``target``."""
    front = pareto_frontier(df, recall, qps)
    r, q = front[recall].to_numpy(), front[qps].to_numpy()
    if r.size == 0 or r.max() < target:
        return float("nan")
    if r.min() >= target:
        return float(q[np.argmin(r)])  # the fastest point already meets the target
    hi = int(np.searchsorted(r, target))
    lo = hi - 1
    w = (target - r[lo]) / (r[hi] - r[lo])
    return float(np.exp((1 - w) * np.log(q[lo]) + w * np.log(q[hi])))


def summary(frames: Sequence[pd.DataFrame], targets: Sequence[float] = (0.9, 0.95, 0.99)):
    """One row per index: best recall and the QPS at each recall target."""
    rows = []
    for df in frames:
        row = {"index": df["index"].iloc[0], "max recall@10": df["recall@10"].max()}
        for t in targets:
            row[f"QPS @ {t:.2f}"] = qps_at_recall(df, t)
        rows.append(row)
    return pd.DataFrame(rows)
