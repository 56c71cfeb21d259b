"""A compressed sparse row (CSR) graph: the layout every graph library stores adjacency in.

Node ``u``'s neighbours are ``indices[indptr[u]:indptr[u + 1]]`` (sorted). Memory is
``(n_nodes + 1)`` offsets plus one index per directed edge, so an undirected graph with ``m`` ties
stores ``2m`` indices; a dense adjacency matrix would need ``n_nodes**2`` cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


def _as_ids(name: str, values: object) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of node ids, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name}: expected integer node ids, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def check_node_ids(name: str, values: object, n_nodes: int) -> np.ndarray:
    """``values`` as a 1-D int64 array of node ids in ``[0, n_nodes)``, or a ValueError/TypeError
    naming ``name``."""
    ids = _as_ids(name, values)
    if ids.size and (ids.min() < 0 or ids.max() >= n_nodes):
        raise ValueError(f"{name}: node ids must lie in [0, {n_nodes})")
    return ids


@dataclass(frozen=True)
class CSRGraph:
    """An unweighted graph in CSR form (sorted, duplicate-free neighbour lists)."""

    indptr: np.ndarray
    indices: np.ndarray
    n_nodes: int
    symmetric: bool = True

    def __post_init__(self) -> None:
        if self.n_nodes < 1:
            raise ValueError(f"n_nodes: expected at least one node, got {self.n_nodes}")
        if self.indptr.shape != (self.n_nodes + 1,):
            raise ValueError(
                f"indptr: expected shape ({self.n_nodes + 1},), got {self.indptr.shape}"
            )
        if self.indptr[-1] != len(self.indices):
            raise ValueError("indptr: last offset must equal len(indices)")

    @classmethod
    def from_edges(
        cls,
        src: object,
        dst: object,
        n_nodes: int,
        *,
        symmetric: bool = True,
        allow_self_loops: bool = False,
    ) -> CSRGraph:
        """Build from edge endpoints; ``symmetric`` adds each edge in both directions.

        Duplicate edges are merged. Self-loops raise unless ``allow_self_loops``.
        """
        src, dst = _as_ids("src", src), _as_ids("dst", dst)
        if src.shape != dst.shape:
            raise ValueError(f"src, dst: lengths differ ({len(src)} vs {len(dst)})")
        if not isinstance(n_nodes, (int, np.integer)) or n_nodes < 1:
            raise ValueError(f"n_nodes: expected a positive int, got {n_nodes!r}")
        if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n_nodes):
            raise ValueError(f"src/dst: node ids must lie in [0, {n_nodes}), got out-of-range ids")
        if not allow_self_loops and np.any(src == dst):
            raise ValueError("src/dst: self-loops are not allowed (pass allow_self_loops=True)")
        if symmetric:
            src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
        key = np.unique(src * n_nodes + dst)
        s, d = key // n_nodes, key % n_nodes
        indptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.add.at(indptr, s + 1, 1)
        return cls(np.cumsum(indptr), d.astype(np.int64), int(n_nodes), symmetric)

    @property
    def n_edges(self) -> int:
        """Undirected ties when symmetric (``nnz / 2``), else directed edges."""
        return len(self.indices) // 2 if self.symmetric else len(self.indices)

    def _check(self, u: int) -> int:
        if not 0 <= int(u) < self.n_nodes:
            raise ValueError(f"u: node id {u} is not in [0, {self.n_nodes})")
        return int(u)

    def neighbors(self, u: int) -> np.ndarray:
        """Sorted neighbour ids of node ``u``."""
        u = self._check(u)
        return self.indices[self.indptr[u] : self.indptr[u + 1]]

    def degree(self) -> np.ndarray:
        """Out-degree of every node (the degree, when symmetric)."""
        return np.diff(self.indptr)

    def has_edge(self, u: int, v: int) -> bool:
        """Whether the edge ``u -> v`` exists (binary search in ``u``'s sorted list)."""
        nb = self.neighbors(u)
        v = self._check(v)
        i = np.searchsorted(nb, v)
        return bool(i < len(nb) and nb[i] == v)

    def to_scipy(self) -> sp.csr_matrix:
        """The adjacency matrix as a float32 ``scipy.sparse.csr_matrix`` of ones."""
        data = np.ones(len(self.indices), dtype=np.float32)
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n_nodes, self.n_nodes))

    def edge_index(self) -> np.ndarray:
        """A ``[2, nnz]`` int64 array (row: source, column: target), both directions when
        symmetric: the layout torch_geometric calls ``edge_index``."""
        src = np.repeat(np.arange(self.n_nodes, dtype=np.int64), self.degree())
        return np.stack([src, self.indices])

    def nbytes(self) -> int:
        """Bytes held by the two CSR arrays."""
        return int(self.indptr.nbytes + self.indices.nbytes)
