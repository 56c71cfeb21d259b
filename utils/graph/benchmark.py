"""One benchmark harness for every link predictor of the graph part.

A registry (:data:`METHODS`) maps a method name to how it is fitted on a
:class:`utils.graph.splits.Phase`; :func:`run_method` fits it, times the fit, scores the phase's
targets with :func:`utils.graph.evaluate_link_prediction` (Hits@K, Recall@K and MRR per source,
ranking every non-neighbour) and returns one tidy row; :func:`run_benchmark` runs many methods
over seeds; :func:`summarize` gives mean and spread per method; :func:`beats_beyond_spread` says
whether one method beats another by more than their spread over seeds.

Families: ``heuristic`` (common neighbours, Adamic-Adar, resource allocation, Jaccard, truncated
Katz, personalised PageRank: no training, deterministic, so one run), ``embedding`` (node2vec),
``gnn`` (GCN, GraphSAGE, GAT: all with a dot-product decoder) and ``link-specific`` (the
two-stage candidate + pair-feature ranker of :mod:`utils.graph.linkpred`). Learned methods are
imported lazily, so the harness works before (or without) torch being imported.

Memory is not measured: torch's CPU allocator is invisible to ``tracemalloc`` and the process's
peak RSS is monotonic over a notebook, so neither gives a fair per-method figure. The chapter
sizes memory analytically instead (embeddings ``4 n d`` bytes, CSR ``8 (n + 2m)`` bytes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

ScoreFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Method:
    """A link predictor: ``fit(phase, x, seed, **overrides) -> score_fn``."""

    name: str
    family: str
    seeded: bool  # whether the result depends on the seed (False: run once)
    fit: Callable[..., ScoreFn]
    source: str  # where it lives, for the reader


def _heuristic(factory_name: str, **defaults) -> Callable[..., ScoreFn]:
    def fit(phase, x=None, seed=0, **overrides):
        from utils.graph import heuristics

        return getattr(heuristics, factory_name)(phase.graph, **{**defaults, **overrides})

    return fit


def _node2vec(phase, x=None, seed=0, **overrides):
    from utils.graph.sgns import fit_node2vec

    return fit_node2vec(phase, seed, **overrides)


def _gcn(phase, x=None, seed=0, **overrides):
    from utils.graph.gcn import fit_gcn

    return fit_gcn(phase, x, seed, **overrides)


def _graphsage(phase, x=None, seed=0, **overrides):
    from utils.graph.sage import fit_graphsage

    if x is None:
        raise ValueError("x: graphsage needs node features (actor_features at feature_year)")
    return fit_graphsage(phase, x, seed, **overrides)


def _gat(phase, x=None, seed=0, **overrides):
    from utils.graph.gat import fit_gat

    if x is None:
        raise ValueError("x: gat needs node features (actor_features at feature_year)")
    return fit_gat(phase, x, seed, **overrides)


def _structural(phase, x=None, seed=0, **overrides):
    from utils.graph.linkpred import fit_structural

    return fit_structural(phase, x, seed, **overrides)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "common_neighbours", "heuristic", False, _heuristic("common_neighbours"), "heuristics"
        ),
        Method("adamic_adar", "heuristic", False, _heuristic("adamic_adar"), "heuristics"),
        Method(
            "resource_allocation",
            "heuristic",
            False,
            _heuristic("resource_allocation"),
            "heuristics",
        ),
        Method("jaccard", "heuristic", False, _heuristic("jaccard"), "heuristics"),
        Method("katz", "heuristic", False, _heuristic("katz"), "heuristics"),
        Method("ppr", "heuristic", False, _heuristic("personalized_pagerank"), "heuristics"),
        Method("node2vec", "embedding", True, _node2vec, "sgns.fit_node2vec"),
        Method("gcn", "gnn", True, _gcn, "gcn.fit_gcn"),
        Method("graphsage", "gnn", True, _graphsage, "sage.fit_graphsage"),
        Method("gat", "gnn", True, _gat, "gat.fit_gat"),
        Method("structural", "link-specific", True, _structural, "linkpred.fit_structural"),
    )
}
"""Every method of the part, by name."""


def method_names(family: str | None = None) -> list[str]:
    """Registered method names, optionally of one ``family``."""
    families = {m.family for m in METHODS.values()}
    if family is not None and family not in families:
        raise ValueError(f"family: expected one of {sorted(families)}, got {family!r}")
    return [n for n, m in METHODS.items() if family is None or m.family == family]


def _method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"method: unknown {name!r}; expected one of {sorted(METHODS)}")
    return METHODS[name]


def _check_phase(phase) -> None:
    for attr in ("graph", "targets", "feature_year"):
        if not hasattr(phase, attr):
            raise TypeError(f"phase: expected a Phase with .{attr}, got {type(phase).__name__}")


def sample_sources(phase, n: int, seed: int = 0) -> np.ndarray:
    """A seeded uniform sample of ``n`` source nodes of ``phase`` (nodes with a target tie),
    sorted; all of them when ``n`` is at least their number."""
    _check_phase(phase)
    sources = np.unique(np.asarray(phase.targets, dtype=np.int64))
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    if n >= len(sources):
        return sources
    return np.sort(np.random.default_rng(seed).choice(sources, size=int(n), replace=False))


def evaluate_sources(
    score_fn: ScoreFn, phase, sources: np.ndarray, *, k: int = 20, batch_size: int = 512
) -> dict[str, float]:
    """The evaluator's metrics averaged over the given ``sources`` of ``phase`` only: with every
    source it equals :func:`utils.graph.evaluate_link_prediction`; with a uniform sample
    (:func:`sample_sources`) it is an unbiased estimate of it at a fraction of the cost."""
    from utils.graph import evaluate_link_prediction

    return evaluate_link_prediction(
        score_fn, phase.graph, phase.targets, k=k, batch_size=batch_size, sources=sources
    )


def run_method(
    name: str,
    phase,
    x: np.ndarray | None = None,
    seed: int = 0,
    *,
    k: int = 20,
    batch_size: int = 512,
    sources: np.ndarray | None = None,
    **overrides,
) -> dict[str, object]:
    """Fit method ``name`` on ``phase`` with ``seed`` and evaluate it on ``phase.targets``.

    Returns a row: ``method``, ``family``, ``seed``, ``hits@k``, ``recall@k``, ``mrr``,
    ``fit_s`` (building the score function, training included), ``score_s`` (scoring every
    source against every node, which is where heuristics spend their time), ``state_mb`` (the
    size of everything the fitted score function holds, serialised with cloudpickle: the state a
    server keeps in memory to score, not the peak memory of training) and ``n_sources``.
    ``x`` are node features computed before ``phase.feature_year``; ``sources`` (optional)
    restricts the evaluation to those source nodes (:func:`evaluate_sources`); ``overrides`` go
    to the fit.
    """
    from utils.graph import evaluate_link_prediction

    m = _method(name)
    _check_phase(phase)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    if x is not None:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != phase.graph.n_nodes:
            raise ValueError(f"x: expected shape [{phase.graph.n_nodes}, d], got {x.shape}")
    t0 = time.perf_counter()
    fn = m.fit(phase, x, int(seed), **overrides)
    t1 = time.perf_counter()
    if sources is None:
        res = evaluate_link_prediction(fn, phase.graph, phase.targets, k=k, batch_size=batch_size)
    else:
        res = evaluate_sources(fn, phase, sources, k=k, batch_size=batch_size)
    t2 = time.perf_counter()
    import cloudpickle

    return {
        "method": name,
        "family": m.family,
        "seed": int(seed),
        f"hits@{k}": float(res[f"hits@{k}"]),
        f"recall@{k}": float(res[f"recall@{k}"]),
        "mrr": float(res["mrr"]),
        "fit_s": t1 - t0,
        "score_s": t2 - t1,
        "state_mb": len(cloudpickle.dumps(fn)) / 1e6,
        "n_sources": int(res["n_sources"]),
    }


def _one_thread(fn: Callable, kwargs: dict) -> object:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with threadpool_limits(1):
        return fn(**kwargs)


def in_workers(fn: Callable, calls: Sequence[dict], n_jobs: int = 2) -> list:
    """``[fn(**kwargs) for kwargs in calls]``, spread over ``n_jobs`` worker processes (joblib's
    loky backend), each computing on one thread. Seeded training gives the same result as one
    process on one thread; on two cores, two workers finish a sweep in about half the time."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ValueError(f"n_jobs: expected a positive int, got {n_jobs!r}")
    calls = list(calls)
    if n_jobs == 1:
        return [_one_thread(fn, kw) for kw in calls]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=int(n_jobs), backend="loky")(
        delayed(_one_thread)(fn, kw) for kw in calls
    )


def run_benchmark(
    phase,
    x: np.ndarray | None = None,
    methods: Sequence[str] | None = None,
    seeds: Iterable[int] = (0, 1, 2),
    *,
    k: int = 20,
    overrides: dict[str, dict] | None = None,
    sources: np.ndarray | None = None,
    progress: bool = False,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Run ``methods`` (default: all) on ``phase``: seeded methods once per seed, deterministic
    ones once (with the first seed). ``overrides[name]`` are keyword arguments for that
    method's fit (e.g. fewer epochs). With ``n_jobs > 1`` the runs go to that many worker
    processes (joblib's loky backend), each on one thread; every run is seeded, so the rows are
    the same as with ``n_jobs=1`` and only ``fit_s``/``score_s`` change (two workers on two cores
    each run at about single-process speed). Returns one row per run (see :func:`run_method`)."""
    names = list(METHODS) if methods is None else list(methods)
    if not names:
        raise ValueError("methods: expected at least one method name")
    for n in names:
        _method(n)
    overrides = overrides or {}
    unknown = set(overrides) - set(names)
    if unknown:
        raise ValueError(f"overrides: for methods not being run: {sorted(unknown)}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds: expected at least one seed")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ValueError(f"n_jobs: expected a positive int, got {n_jobs!r}")
    jobs = [(n, s) for n in names for s in (seeds if METHODS[n].seeded else seeds[:1])]
    if n_jobs > 1:
        rows = in_workers(
            run_method,
            [
                {
                    "name": n,
                    "phase": phase,
                    "x": x,
                    "seed": s,
                    "k": k,
                    "sources": sources,
                    **overrides.get(n, {}),
                }
                for n, s in jobs
            ],
            n_jobs,
        )
    else:
        rows = []
        for n, s in jobs:
            rows.append(run_method(n, phase, x, s, k=k, sources=sources, **overrides.get(n, {})))
            if progress:
                r = rows[-1]
                print(f"{n:<20} seed {s}: hits@{k} {r[f'hits@{k}']:.3f} ({r['fit_s']:.1f} s fit)")
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame, k: int = 20) -> pd.DataFrame:
    """Per method: mean and sample standard deviation over seeds (0 for one run) of Hits@K,
    Recall@K and MRR, the number of runs and the mean fit and scoring seconds, sorted by mean
    Hits@K (best first)."""
    cols = [f"hits@{k}", f"recall@{k}", "mrr"]
    missing = {"method", "family", *cols, "fit_s", "score_s"} - set(results.columns)
    if missing:
        raise ValueError(f"results: missing columns {sorted(missing)} (use run_benchmark)")
    if results.empty:
        raise ValueError("results: empty")
    g = results.groupby("method", sort=False)
    out = pd.DataFrame({"family": g["family"].first(), "runs": g.size()})
    for c in cols:
        out[f"{c}_mean"] = g[c].mean()
        out[f"{c}_std"] = g[c].std(ddof=1).fillna(0.0)
    out["fit_s"] = g["fit_s"].mean()
    out["score_s"] = g["score_s"].mean()
    if "state_mb" in results.columns:
        out["state_mb"] = g["state_mb"].mean()
    return out.sort_values(f"hits@{k}_mean", ascending=False)


def beats_beyond_spread(
    results: pd.DataFrame, a: str, b: str, metric: str = "hits@20"
) -> tuple[bool, float]:
    """Whether method ``a`` beats ``b`` on ``metric`` at every seed against every seed: the
    margin ``min_seeds(a) - max_seeds(b)`` (positive: the ranges over seeds do not overlap)."""
    if metric not in results.columns:
        raise ValueError(f"metric: {metric!r} is not a column of results")
    va = results.loc[results["method"] == a, metric]
    vb = results.loc[results["method"] == b, metric]
    for name, v in ((a, va), (b, vb)):
        if v.empty:
            raise ValueError(f"method: {name!r} has no rows in results")
    margin = float(va.min() - vb.max())
    return margin > 0, margin
