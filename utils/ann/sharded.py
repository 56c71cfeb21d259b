"""A sharded index: the corpus split across S shards, every query sent to all of them, and the
per-shard top-k lists merged into one exact global top-k.

Merge rule: each shard returns its own k best ``(distance, local id)`` pairs; the global top-k
is the k smallest distances of the union of those S·k pairs. This is exact *with respect to the
shards' answers*: if every shard is exact, the merged list equals brute-force search over the
whole corpus (the global i-th neighbour is among its own shard's top-i <= k), which is why a
scatter-gather tier can be sharded without any loss (faiss's ``IndexShards`` does the same over
sub-indexes or GPUs; Johnson, Douze & Jégou, 2019). With approximate shards (HNSW, IVF-PQ) the
merge is still exact but each shard's recall carries through, and the total work per query
grows with S because every shard runs a full search over its part.

Partitioning: ``"modulo"`` puts global id ``i`` on shard ``i % S`` (the same as hashing a dense
id), ``"contiguous"`` fills shard after shard in blocks of ``ceil(n / S)``; or pass an explicit
``shard_of`` array to :meth:`ShardedIndex.add` (for example a k-means cluster per row).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from .._checks import check_choice, check_positive_int
from .base import Index

PARTITIONS = ("modulo", "contiguous")


def merge_topk(
    distances: Sequence[np.ndarray], ids: Sequence[np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-shard result lists into the global top ``k`` of each query.

    ``distances[s]`` and ``ids[s]`` are (m, k_s) arrays from shard ``s`` (smaller distance is
    better; ids already global). Ids of ``-1`` (a shard with fewer results than asked) are
    ignored. Ties are broken by the smaller global id, so the result does not depend on the
    order of the shards. Returns ``(distances, ids)`` of shape (m, k); if fewer than ``k``
    valid results exist for a query its row is padded with ``inf`` and ``-1``.
    """
    if len(distances) == 0 or len(distances) != len(ids):
        raise ValueError(
            f"distances and ids must be non-empty lists of equal length, got "
            f"{len(distances)} and {len(ids)}"
        )
    k = check_positive_int(k, "k")
    ds = [np.asarray(d, dtype=np.float64) for d in distances]
    js = [np.asarray(i, dtype=np.int64) for i in ids]
    m = ds[0].shape[0] if ds[0].ndim == 2 else -1
    for s, (d, i) in enumerate(zip(ds, js, strict=True)):
        if d.ndim != 2 or d.shape != i.shape or d.shape[0] != m:
            raise ValueError(
                f"shard {s}: distances and ids must both be (queries, k_s) with the same number "
                f"of queries as shard 0; got {d.shape} and {i.shape}"
            )
        if np.isnan(d).any():
            raise ValueError(f"shard {s}: distances contain NaN")
    D = np.concatenate(ds, axis=1)
    ID = np.concatenate(js, axis=1)
    D = np.where(ID < 0, np.inf, D)
    # lexicographic sort per row: by distance, then by id (np.lexsort sorts by the last key)
    order = np.lexsort((ID, D), axis=1)[:, :k]
    out_d = np.take_along_axis(D, order, axis=1)
    out_i = np.take_along_axis(ID, order, axis=1)
    if out_d.shape[1] < k:  # fewer candidates than k in total
        pad = k - out_d.shape[1]
        out_d = np.pad(out_d, ((0, 0), (0, pad)), constant_values=np.inf)
        out_i = np.pad(out_i, ((0, 0), (0, pad)), constant_values=-1)
    out_i = np.where(np.isinf(out_d), -1, out_i)
    return out_d.astype(np.float32), out_i


class ShardedIndex(Index):
    """S shards of any :class:`~utils.ann.base.Index`, queried in turn and merged exactly.

    ``make_shard(s)`` builds shard ``s`` (an empty index of the same ``dim`` and ``metric``).
    Ids are global: rows get ids ``ntotal .. ntotal + n - 1`` in insertion order, whichever
    shard holds them. Shards are searched one after another in this process; a serving tier runs
    them on separate machines in parallel, so per-shard timings (:attr:`last_shard_seconds`) are
    kept to model that critical path (the slowest shard plus the merge).
    """

    name = "sharded"

    def __init__(
        self,
        make_shard: Callable[[int], Index],
        n_shards: int,
        dim: int,
        metric: str = "l2",
        partition: str = "modulo",
    ) -> None:
        super().__init__(dim, metric)
        if not callable(make_shard):
            raise TypeError("make_shard must be a callable shard_number -> empty Index")
        self.n_shards = check_positive_int(n_shards, "n_shards")
        self.partition = check_choice(partition, "partition", PARTITIONS)
        self.shards: list[Index] = []
        for s in range(self.n_shards):
            shard = make_shard(s)
            if not isinstance(shard, Index):
                raise TypeError(f"make_shard({s}) must return a utils.ann Index, got {shard!r}")
            if shard.dim != self.dim or shard.metric != self.metric:
                raise ValueError(
                    f"shard {s} has dim={shard.dim}, metric={shard.metric!r}; the sharded "
                    f"index has dim={self.dim}, metric={self.metric!r}"
                )
            if shard.ntotal != 0:
                raise ValueError(f"make_shard({s}) must return an empty index")
            self.shards.append(shard)
        self.name = f"{self.n_shards} x {self.shards[0].name}"
        self._global_ids: list[np.ndarray] = [np.empty(0, np.int64) for _ in self.shards]
        self.last_shard_seconds: np.ndarray = np.zeros(self.n_shards)

    def add(self, X: object, shard_of: object | None = None) -> ShardedIndex:
        """Add rows of ``X``; ``shard_of`` (optional, ints in [0, S)) overrides the partition."""
        arr = self._prepare(X, "X")
        n = arr.shape[0]
        new_ids = np.arange(self.ntotal, self.ntotal + n, dtype=np.int64)
        if shard_of is None:
            if self.partition == "modulo":
                assign = new_ids % self.n_shards
            else:
                block = -(-n // self.n_shards)  # ceil(n / S), per call
                assign = np.arange(n) // block
        else:
            assign = np.asarray(shard_of)
            if assign.shape != (n,) or not np.issubdtype(assign.dtype, np.integer):
                raise ValueError(f"shard_of must be {n} ints (one per row of X), got {assign!r}")
            if n and (assign.min() < 0 or assign.max() >= self.n_shards):
                raise ValueError(f"shard_of values must lie in [0, {self.n_shards})")
        for s, shard in enumerate(self.shards):
            rows = np.flatnonzero(assign == s)
            if rows.size:
                shard.add(arr[rows])
                self._global_ids[s] = np.concatenate([self._global_ids[s], new_ids[rows]])
        self.ntotal += n
        return self

    def _add(self, X: np.ndarray) -> None:  # pragma: no cover - add() is overridden
        raise NotImplementedError

    def shard_sizes(self) -> list[int]:
        """Number of vectors held by each shard."""
        return [s.ntotal for s in self.shards]

    def _search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scatter ``Q`` to every non-empty shard, gather each shard's top-k, merge exactly."""
        dists, ids = [], []
        self.last_shard_seconds = np.zeros(self.n_shards)
        for s, shard in enumerate(self.shards):
            if shard.ntotal == 0:
                continue
            start = time.perf_counter()
            d, local = shard.search(Q, min(k, shard.ntotal))
            self.last_shard_seconds[s] = time.perf_counter() - start
            gids = self._global_ids[s]
            ids.append(np.where(local >= 0, gids[np.clip(local, 0, None)], -1))
            dists.append(d)
        return merge_topk(dists, ids, k)

    def set_search_param(self, value: int) -> None:
        """Set the same search knob (``ef``, ``nprobe``) on every shard."""
        for shard in self.shards:
            shard.set_search_param(value)

    def memory_bytes(self) -> int:
        """Sum of the shards' bytes plus the local-to-global id maps (8 bytes a vector)."""
        self._check_built()
        return int(
            sum(s.memory_bytes() for s in self.shards if s.ntotal)
            + sum(g.nbytes for g in self._global_ids)
        )


def plan_fleet(
    n_vectors: float,
    bytes_per_vector: float,
    peak_qps: float,
    qps_per_replica: float,
    *,
    ram_per_node_gb: float = 256.0,
    usable_fraction: float = 0.6,
    headroom: float = 0.5,
) -> dict:
    """Back-of-envelope serving fleet for a sharded, replicated index.

    - shards ``S = ceil(n * bytes_per_vector / (ram_per_node * usable_fraction))``: capacity
      decides how many pieces the index is cut into (the rest of the RAM holds the OS, the
      process, build buffers and a second index during a swap);
    - replicas ``R = ceil(peak_qps / (qps_per_replica * headroom))``: every query visits one
      replica of every shard, so one replica *set* (S nodes) serves ``qps_per_replica`` (the
      per-shard QPS; the set is as fast as its slowest shard) and ``headroom`` keeps
      utilisation below the knee of the queueing curve and survives the loss of a zone;
    - nodes ``S * R``.

    ``qps_per_replica`` must be measured on a shard-sized index: per-shard work depends on the
    shard's size and index type, not only on the hardware.
    """
    for name, v in (
        ("n_vectors", n_vectors),
        ("bytes_per_vector", bytes_per_vector),
        ("peak_qps", peak_qps),
        ("qps_per_replica", qps_per_replica),
        ("ram_per_node_gb", ram_per_node_gb),
    ):
        if isinstance(v, bool) or not isinstance(v, int | float | np.number) or not v > 0:
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    for name, v in (("usable_fraction", usable_fraction), ("headroom", headroom)):
        if not 0 < v <= 1:
            raise ValueError(f"{name} must lie in (0, 1], got {v!r}")
    index_gb = n_vectors * bytes_per_vector / 1e9
    shards = int(np.ceil(index_gb / (ram_per_node_gb * usable_fraction)))
    replicas = int(np.ceil(peak_qps / (qps_per_replica * headroom)))
    return {
        "index_gb": float(index_gb),
        "shards": shards,
        "replicas": replicas,
        "nodes": shards * replicas,
    }
