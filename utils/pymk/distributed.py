"""Scaling People You May Know: partitioning, fan-out arithmetic, incremental updates and
candidate generation sharded by source member as Ray tasks.

Partitioning (where a member's adjacency list lives):

- :func:`hash_partition` puts member ``u`` on shard ``h(u) mod S`` with ``h`` the SplitMix64
  finaliser (Steele, Lea & Flood 2014), so that shards are balanced whatever the id order; the
  share of ties cut between shards is then ``1 - 1/S`` in expectation;
- :func:`community_partition` groups Louvain communities (Blondel et al. 2008, via networkx)
  into ``S`` shards by greedy longest-processing-time packing (Graham 1969) on their number of
  adjacency entries: a stand-in for a graph partitioner such as METIS that cuts fewer ties at
  the price of balance;
- :func:`edge_cut` and :func:`remote_shards` measure what a partition costs an online
  friends-of-friends query: the share of ties cut, and for each source the number of other
  shards holding the adjacency lists of its friends (each one a network call).

Fan-out arithmetic: :func:`plan_fof_refresh` turns members, 2-hop paths per member and a
measured path rate into paths, shuffle bytes and cores per day for a batch refresh.

Incremental updates: :func:`affected_sources` is the set of members whose friends-of-friends
candidates or 2-hop features (common neighbours, Adamic-Adar) can change when ties are added;
:func:`changed_sources` checks it against two candidate runs, and :func:`patch_candidates`
applies a recomputation of only those sources to yesterday's lists.

Distribution: :func:`split_sources` cuts the sources into shards (by hash, or balanced by
expected work), :func:`ray_map_shards` runs one Ray task per shard over a graph placed once in
Ray's object store (``ray.put``), and :func:`concat_candidates` reassembles the shards' outputs
in the order the single-process call returns. Ray must be started by the caller
(``ray.init(num_cpus=2)`` on one machine, ``ray.init(address="auto")`` on a cluster node or
``ray.init(address="ray://head:10001")`` from outside it); nothing here depends on which.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from .._checks import check_choice, check_positive_int
from ..graph.csr import CSRGraph, check_node_ids

SPLITS = ("hash", "contiguous", "balanced")

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64's output function over uint64 (wrapping arithmetic), seeded by an offset."""
    z = x.astype(np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z & _M64


def _check_graph(graph: object) -> CSRGraph:
    if not isinstance(graph, CSRGraph):
        raise TypeError(f"graph must be a utils.graph.CSRGraph, got {type(graph).__name__}")
    return graph


def hash_partition(ids: object, n_shards: int, *, seed: int = 0) -> np.ndarray:
    """Shard of each member id: ``splitmix64(id + seed offset) mod n_shards`` (int64 array).

    A hash rather than ``id mod S``: real ids carry structure (sign-up order, region blocks),
    and a hash spreads any id range evenly over the shards.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
        raise TypeError(f"ids must be a 1-D array of integer ids, got {ids.dtype} {ids.shape}")
    if ids.size and ids.min() < 0:
        raise ValueError("ids must be non-negative")
    n_shards = check_positive_int(n_shards, "n_shards")
    return (_splitmix64(ids, int(seed)) % np.uint64(n_shards)).astype(np.int64)


def _lpt(weights: np.ndarray, n_bins: int) -> np.ndarray:
    """Greedy longest-processing-time: heaviest item first into the lightest bin (Graham 1969,
    within 4/3 of the optimal makespan). Returns the bin of each item; ties to the lower bin."""
    order = np.argsort(-weights, kind="stable")
    load = np.zeros(n_bins)
    out = np.empty(len(weights), dtype=np.int64)
    for i in order:
        b = int(np.argmin(load))
        out[i] = b
        load[b] += weights[i]
    return out


def louvain_communities(graph: CSRGraph, *, seed: int = 0) -> list[np.ndarray]:
    """Louvain communities of ``graph`` (Blondel et al. 2008, ``networkx``, seeded), each a
    sorted int64 array, ordered by smallest member; isolated members are singletons."""
    from utils.pymk.interference import graph_clusters

    labels = graph_clusters(_check_graph(graph), method="louvain", seed=seed)
    order = np.argsort(labels, kind="stable")  # members grouped by label, ascending within
    comms = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    return sorted((c.astype(np.int64) for c in comms), key=lambda c: int(c[0]))


def community_partition(
    graph: CSRGraph,
    n_shards: int,
    *,
    seed: int = 0,
    communities: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Shard of each member from Louvain communities packed into ``n_shards`` bins.

    Communities come from :func:`louvain_communities` (or pass ``communities`` to reuse one
    run for several ``n_shards``); each is kept whole and placed by :func:`_lpt` on its volume
    (adjacency entries, plus one so that isolated members count). A community larger than
    ``1/S`` of the volume makes its shard heavier than the rest: graph partitioners trade
    balance for cut.
    """
    graph = _check_graph(graph)
    n_shards = check_positive_int(n_shards, "n_shards")
    comms = louvain_communities(graph, seed=seed) if communities is None else list(communities)
    members = np.concatenate(comms) if comms else np.zeros(0, dtype=np.int64)
    if len(members) != graph.n_nodes or not np.array_equal(
        np.sort(members), np.arange(graph.n_nodes)
    ):
        raise ValueError("communities must cover every node exactly once")
    deg = graph.degree()
    volume = np.array([deg[c].sum() + len(c) for c in comms], dtype=np.float64)
    bins = _lpt(volume, n_shards)
    part = np.empty(graph.n_nodes, dtype=np.int64)
    for c, b in zip(comms, bins, strict=True):
        part[c] = b
    return part


def _check_part(graph: CSRGraph, part: object) -> np.ndarray:
    part = np.asarray(part)
    if part.shape != (graph.n_nodes,) or not np.issubdtype(part.dtype, np.integer):
        raise ValueError(
            f"part must be an integer array with one shard per node ({graph.n_nodes},), "
            f"got {part.dtype} {part.shape}"
        )
    if part.size and part.min() < 0:
        raise ValueError("part must hold non-negative shard ids")
    return part.astype(np.int64, copy=False)


def edge_cut(graph: CSRGraph, part: object) -> float:
    """Share of ties whose two members sit on different shards."""
    graph = _check_graph(graph)
    part = _check_part(graph, part)
    if len(graph.indices) == 0:
        raise ValueError("graph has no ties")
    src = np.repeat(np.arange(graph.n_nodes), graph.degree())
    return float(np.mean(part[src] != part[graph.indices]))


def remote_shards(graph: CSRGraph, part: object, sources: object) -> np.ndarray:
    """For each source, the number of shards other than its own that hold a friend.

    An online friends-of-friends query reads the adjacency list of every friend; each distinct
    remote shard among them is one network call (a scatter-gather of that width). With a hash
    partition and degree ``d`` this is about ``S (1 - (1 - 1/S)^d)``, close to ``S - 1`` once
    ``d`` exceeds a few times ``S``: every query becomes a broadcast.
    """
    graph = _check_graph(graph)
    part = _check_part(graph, part)
    s = check_node_ids("sources", sources, graph.n_nodes)
    out = np.zeros(len(s), dtype=np.int64)
    for i, u in enumerate(s.tolist()):
        nb = graph.indices[graph.indptr[u] : graph.indptr[u + 1]]
        shards = np.unique(part[nb])
        out[i] = len(shards) - int(np.any(shards == part[u]))
    return out


def affected_sources(graph: CSRGraph, new_edges: object) -> np.ndarray:
    """Members whose friends-of-friends candidates or 2-hop features may change when the ties
    ``new_edges`` ([m, 2]) are added to ``graph``; sorted int64 ids.

    Adding tie ``a - b`` changes, for source ``x``: its own neighbour list if ``x`` is ``a`` or
    ``b``; the 2-hop paths ``x - a - b`` (and ``x - b - a``) if ``x`` is a neighbour of ``a``
    (of ``b``); and the Adamic-Adar weight ``1/log d(a)`` of every path through ``a``, which
    only sources adjacent to ``a`` use. So the set is ``{a, b} | N(a) | N(b)`` over the new
    ties, with neighbourhoods taken in the graph *after* the update. Nothing else can change:
    a source's candidates and their counts are functions of the lists of its friends and their
    degrees only. A hub endpoint makes the set large; that is the cost of streaming updates.
    """
    graph = _check_graph(graph)
    e = np.asarray(new_edges)
    if e.ndim != 2 or e.shape[1] != 2:
        raise ValueError(f"new_edges must be an [m, 2] array of ties, got shape {e.shape}")
    ends = check_node_ids("new_edges", e.reshape(-1), graph.n_nodes)
    if ends.size == 0:
        return np.zeros(0, dtype=np.int64)
    # N_after(a) = N(a) | {new partners of a}, and the new partners are endpoints themselves
    touched = np.unique(ends)
    lo, hi = graph.indptr[touched], graph.indptr[touched + 1]
    span = hi - lo
    offsets = np.repeat(lo - np.r_[0, np.cumsum(span)[:-1]], span)
    nbrs = graph.indices[np.arange(span.sum()) + offsets]
    return np.unique(np.concatenate([touched, nbrs]))


def patch_candidates(base: object, update: object):
    """``base`` with the rows of every source in ``update.sources`` replaced by ``update``'s:
    the incremental refresh, recomputing only the affected sources."""
    from .candidates import Candidates

    for name, c in (("base", base), ("update", update)):
        if not isinstance(c, Candidates):
            raise TypeError(f"{name} must be Candidates, got {type(c).__name__}")
    if not np.isin(update.sources, base.sources).all():
        raise ValueError("update.sources must be a subset of base.sources")
    keep_rows = ~np.isin(base.src, update.sources)
    keep_src = ~np.isin(base.sources, update.sources)
    per_source = {"sources", "work"}
    rest = Candidates(
        **{
            f.name: getattr(base, f.name)[keep_src if f.name in per_source else keep_rows]
            for f in dataclasses.fields(Candidates)
        }
    )
    return concat_candidates([rest, update])


def changed_sources(before: object, after: object, *, atol: float = 1e-9) -> np.ndarray:
    """Sources whose candidate list differs between two :class:`Candidates` over the same
    ``sources``: another number of candidates, another candidate at some position, or a
    common-neighbour count or Adamic-Adar score that moved by more than ``atol``. Sorted ids."""
    from .candidates import Candidates

    for name, c in (("before", before), ("after", after)):
        if not isinstance(c, Candidates):
            raise TypeError(f"{name} must be Candidates, got {type(c).__name__}")
    if not np.array_equal(before.sources, after.sources):
        raise ValueError("before and after must cover the same sources")
    if not atol >= 0:
        raise ValueError(f"atol must be non-negative, got {atol!r}")
    srcs = before.sources
    nb = np.bincount(np.searchsorted(srcs, before.src), minlength=len(srcs))
    na = np.bincount(np.searchsorted(srcs, after.src), minlength=len(srcs))
    changed = nb != na
    same_len = ~changed
    rows_b = np.repeat(same_len, nb)  # rows of sources whose list length did not change
    rows_a = np.repeat(same_len, na)
    diff = (
        (before.cand[rows_b] != after.cand[rows_a])
        | (before.cn[rows_b] != after.cn[rows_a])
        | (np.abs(before.aa[rows_b] - after.aa[rows_a]) > atol)
    )
    where = np.searchsorted(srcs, before.src[rows_b])
    changed |= np.bincount(where, weights=diff, minlength=len(srcs)) > 0
    return srcs[changed]


def split_sources(
    sources: object, n_shards: int, *, how: str = "hash", work: object | None = None, seed: int = 0
) -> list[np.ndarray]:
    """Cut ``sources`` into ``n_shards`` lists (each in the input order; some may be empty).

    ``how="hash"``: by :func:`hash_partition` of the id, as a job keyed by member id does;
    ``"contiguous"``: consecutive blocks of ``ceil(n / S)``; ``"balanced"``: greedy LPT on
    ``work`` (one non-negative expected cost per source, e.g. its 2-hop path count), which
    evens out hubs that a hash leaves to chance.
    """
    s = np.asarray(sources)
    if s.ndim != 1 or (s.size and not np.issubdtype(s.dtype, np.integer)):
        raise TypeError(f"sources must be a 1-D array of integer ids, got {s.dtype} {s.shape}")
    if s.size == 0:
        raise ValueError("sources must not be empty")
    s = s.astype(np.int64)
    n_shards = check_positive_int(n_shards, "n_shards")
    how = check_choice(how, "how", SPLITS)
    if how == "hash":
        shard = hash_partition(s, n_shards, seed=seed)
    elif how == "contiguous":
        shard = np.arange(len(s)) // math.ceil(len(s) / n_shards)
    else:
        if work is None:
            raise ValueError('work is required for how="balanced"')
        w = np.asarray(work, dtype=np.float64)
        if w.shape != s.shape or not np.isfinite(w).all() or (w < 0).any():
            raise ValueError(f"work must be {s.shape} finite non-negative costs, got {w.shape}")
        shard = _lpt(w, n_shards)
    return [s[shard == b] for b in range(n_shards)]


def plan_fof_refresh(
    n_members: float,
    paths_per_member: float,
    *,
    paths_per_core_second: float,
    refresh_share: float = 1.0,
    bytes_per_path: float = 16.0,
    window_hours: float = 24.0,
) -> dict:
    """Back-of-envelope cost of recomputing friends-of-friends candidates in batch.

    - paths read per refresh ``P = n_members * refresh_share * paths_per_member`` (each 2-hop
      path ``u - w - v`` is one read and one score update);
    - shuffle bytes ``P * bytes_per_path`` if the paths are materialised and grouped by
      ``(u, v)`` across machines (a MapReduce/Spark self-join emits one record per path);
    - core-hours ``P / paths_per_core_second / 3600``, and the cores that finish inside
      ``window_hours``.

    ``paths_per_member`` is the mean 2-hop path count after any hub cap (measured on a sample:
    it is ``sum over friends w of min(d(w), cap)``, dominated by the degree tail, not the mean).
    """
    for name, v in (
        ("n_members", n_members),
        ("paths_per_member", paths_per_member),
        ("paths_per_core_second", paths_per_core_second),
        ("bytes_per_path", bytes_per_path),
        ("window_hours", window_hours),
    ):
        if isinstance(v, bool) or not isinstance(v, int | float | np.number) or not v > 0:
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    if not 0 < refresh_share <= 1:
        raise ValueError(f"refresh_share must lie in (0, 1], got {refresh_share!r}")
    paths = float(n_members) * refresh_share * paths_per_member
    core_hours = paths / paths_per_core_second / 3600.0
    return {
        "paths": paths,
        "shuffle_tb": paths * bytes_per_path / 1e12,
        "core_hours": core_hours,
        "cores": math.ceil(core_hours / window_hours),
    }


# --- Ray -------------------------------------------------------------------------------------


def _run_shard(fn: Callable, graph: object, sources: np.ndarray, kwargs: dict) -> object:
    return fn(graph, sources, **kwargs)


def _noop() -> None:
    return None


def _require_ray():
    import ray

    if not ray.is_initialized():
        raise RuntimeError(
            "Ray is not started: call ray.init(num_cpus=...) on one machine, or "
            'ray.init(address="auto") on a cluster node, before this function'
        )
    return ray


def ray_map_shards(
    fn: Callable,
    graph: object,
    shards: Sequence[np.ndarray],
    *,
    cpus_per_task: float = 1.0,
    max_in_flight: int | None = None,
    **kwargs: object,
) -> list:
    """``[fn(graph, shard, **kwargs) for shard in shards]``, one Ray task per shard.

    ``graph`` is put in the object store once (pass an ``ObjectRef`` from ``ray.put`` to reuse
    it across calls); every task then maps the same read-only copy (NumPy arrays are not
    copied per task on one node; on a cluster each node fetches it once). Concurrency is
    bounded by the cluster's CPUs over ``cpus_per_task``, and further by ``max_in_flight``
    (submit the next task only when fewer are running: ``1`` runs them one at a time on the
    same warm workers, which is the fair "one worker" baseline; changing ``cpus_per_task``
    instead makes Ray lease workers for a new resource shape). Empty shards are skipped.
    ``fn`` must be importable by the workers (a module-level function of an installed
    package), as on a cluster. Results come back in shard order.
    """
    ray = _require_ray()
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if not cpus_per_task > 0:
        raise ValueError(f"cpus_per_task must be positive, got {cpus_per_task!r}")
    if max_in_flight is not None:
        max_in_flight = check_positive_int(max_in_flight, "max_in_flight")
    shards = [np.asarray(s, dtype=np.int64) for s in shards]
    if not shards:
        raise ValueError("shards must not be empty")
    ref = graph if isinstance(graph, ray.ObjectRef) else ray.put(graph)
    task = ray.remote(num_cpus=cpus_per_task, max_retries=0)(_run_shard)
    futures, running = [], []
    for s in shards:
        if not len(s):
            continue
        if max_in_flight is not None and len(running) >= max_in_flight:
            _, running = ray.wait(running, num_returns=len(running) - max_in_flight + 1)
        futures.append(task.remote(fn, ref, s, kwargs))
        running.append(futures[-1])
    return ray.get(futures)


def time_empty_tasks(n_tasks: int, *, repeats: int = 3) -> float:
    """Best-of-``repeats`` seconds per task to submit and collect ``n_tasks`` no-op Ray tasks:
    the scheduling and serialisation floor under every shard."""
    ray = _require_ray()
    n_tasks = check_positive_int(n_tasks, "n_tasks")
    repeats = check_positive_int(repeats, "repeats")
    task = ray.remote(num_cpus=1)(_noop)
    ray.get([task.remote() for _ in range(n_tasks)])  # warm the worker pool
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        ray.get([task.remote() for _ in range(n_tasks)])
        best = min(best, time.perf_counter() - t)
    return best / n_tasks


def concat_candidates(parts: Sequence[object]):
    """Reassemble per-shard :class:`utils.pymk.candidates.Candidates` into the single-process
    result: ``sources`` sorted, rows in a stable sort by source (a source's own rows keep their
    order, which depends only on that source, so no re-scoring is needed), ``work`` aligned.

    Each source must appear in exactly one part (shards are disjoint).
    """
    from .candidates import Candidates

    parts = list(parts)
    if not parts or not all(isinstance(p, Candidates) for p in parts):
        raise TypeError("parts must be a non-empty sequence of Candidates")
    cols = {
        f.name: np.concatenate([getattr(p, f.name) for p in parts])
        for f in dataclasses.fields(Candidates)
    }
    src_order = np.argsort(cols["sources"], kind="stable")
    sources = cols["sources"][src_order]
    if np.any(sources[1:] == sources[:-1]):
        raise ValueError("parts must have disjoint sources (a source appears in two parts)")
    row_order = np.argsort(cols["src"], kind="stable")
    per_source = {"sources", "work"}
    return Candidates(
        **{f: v[src_order] if f in per_source else v[row_order] for f, v in cols.items()}
    )
