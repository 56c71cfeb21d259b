"""Inverted files and product quantisation, from scratch (Jégou, Douze & Schmid, TPAMI 2011).

- **k-means** (Lloyd's algorithm) learns the coarse centroids and the PQ codebooks.
- **IVF-Flat**: a coarse quantiser splits the space into ``nlist`` Voronoi cells; a query scans
  the raw vectors of its ``nprobe`` nearest cells only.
- **PQ**: a vector is cut into ``M`` sub-vectors of ``d/M`` dimensions; each is replaced by the
  id of its nearest of ``2^nbits`` (256) sub-centroids, so a vector costs ``M`` bytes. A query
  is compared with codes by *asymmetric distance computation* (ADC): one lookup table
  ``T[j, c] = ||q_j - C_j[c]||^2`` per query, then ``d(q, x) ≈ Σ_j T[j, code_j(x)]``.
- **IVF-PQ**: PQ-encode the *residual* ``x - centroid(x)`` within each cell (residuals are
  smaller than the vectors, so the same codebook is more accurate); with 64-bit ids stored in
  the inverted lists a vector costs ``M + 8`` bytes, against ``4d`` for flat storage.
- **Re-ranking** (optional ``refine``): take ``refine * k`` candidates by ADC and re-score them
  with exact distances on the raw vectors, trading memory back for recall (faiss's
  ``IndexRefineFlat``).

Cosine runs as L2 on unit vectors; ``ip`` uses the inner-product form of the same tables.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_matrix, check_positive_int
from .base import Index, finish_distances
from .exact import topk_smallest


def _sq_dists(A: np.ndarray, B: np.ndarray, b_sqnorm: np.ndarray | None = None) -> np.ndarray:
    """All squared L2 distances between the rows of A and B through one matrix product."""
    if b_sqnorm is None:
        b_sqnorm = np.einsum("ij,ij->i", B, B)
    D = np.einsum("ij,ij->i", A, A)[:, None] - 2.0 * (A @ B.T) + b_sqnorm[None, :]
    return np.maximum(D, 0.0)


def kmeans(
    X: object, k: int, *, n_iter: int = 20, seed: int = 0, max_points: int | None = None
) -> np.ndarray:
    """Lloyd's k-means: returns (k, d) float32 centroids.

    Initialised with k distinct random points; an empty cluster is re-seeded with a random point
    of the largest cluster. ``max_points`` subsamples the training set (faiss uses 256 per
    centroid by default).
    """
    X = as_matrix(X, "X")
    k = check_positive_int(k, "k")
    if k > X.shape[0]:
        raise ValueError(f"k={k} centroids need at least k training points, got {X.shape[0]}")
    rng = np.random.default_rng(seed)
    if max_points is not None and X.shape[0] > max_points:
        X = X[rng.choice(X.shape[0], size=max_points, replace=False)]
    C = X[rng.choice(X.shape[0], size=k, replace=False)].copy()
    x_sq = np.einsum("ij,ij->i", X, X)
    for _ in range(n_iter):
        D = x_sq[:, None] - 2.0 * (X @ C.T) + np.einsum("ij,ij->i", C, C)[None, :]
        assign = D.argmin(axis=1)
        counts = np.bincount(assign, minlength=k)
        order = np.argsort(assign, kind="stable")
        nonempty = counts > 0
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[nonempty]
        sums = np.add.reduceat(X[order].astype(np.float64), starts, axis=0)
        C[nonempty] = (sums / counts[nonempty, None]).astype(np.float32)
        for c in np.flatnonzero(~nonempty):
            big = np.flatnonzero(assign == counts.argmax())
            C[c] = X[rng.choice(big)] + 1e-4 * rng.standard_normal(X.shape[1]).astype(np.float32)
    return C


class ProductQuantizer:
    """``M`` sub-quantisers of ``2^nbits`` centroids each; codes are (n, M) uint8."""

    def __init__(self, dim: int, M: int, nbits: int = 8) -> None:
        self.dim, self.M = check_positive_int(dim, "dim"), check_positive_int(M, "M")
        if dim % M:
            raise ValueError(f"M={M} must divide dim={dim} (each sub-vector has d/M dimensions)")
        if not 1 <= nbits <= 8:
            raise ValueError(f"nbits must be in 1..8 (codes are uint8), got {nbits}")
        self.nbits, self.ksub, self.dsub = nbits, 2**nbits, dim // M
        self.codebooks: np.ndarray | None = None  # (M, ksub, dsub)

    def train(self, X: np.ndarray, *, seed: int = 0, n_iter: int = 20) -> ProductQuantizer:
        X = as_matrix(X, "X", dim=self.dim)
        self.codebooks = np.stack(
            [
                kmeans(
                    X[:, j * self.dsub : (j + 1) * self.dsub],
                    self.ksub,
                    n_iter=n_iter,
                    seed=seed + j,
                    max_points=256 * self.ksub,
                )
                for j in range(self.M)
            ]
        )
        return self

    def _check_trained(self) -> np.ndarray:
        if self.codebooks is None:
            raise ValueError("the product quantiser is not trained; call train() first")
        return self.codebooks

    def encode(self, X: np.ndarray) -> np.ndarray:
        cb = self._check_trained()
        X = as_matrix(X, "X", dim=self.dim)
        codes = np.empty((X.shape[0], self.M), dtype=np.uint8)
        for j in range(self.M):
            sub = X[:, j * self.dsub : (j + 1) * self.dsub]
            codes[:, j] = _sq_dists(sub, cb[j]).argmin(axis=1)
        return codes

    def decode(self, codes: np.ndarray) -> np.ndarray:
        cb = self._check_trained()
        return np.concatenate([cb[j][codes[:, j]] for j in range(self.M)], axis=1)

    def distance_tables(self, Q: np.ndarray, ip: bool = False) -> np.ndarray:
        """ADC tables (len(Q), M, ksub): ``||q_j - C_j[c]||^2``, or ``-<q_j, C_j[c]>`` if ip."""
        cb = self._check_trained()
        Qs = Q.reshape(Q.shape[0], self.M, self.dsub)
        dots = np.einsum("qjd,jcd->qjc", Qs, cb)
        if ip:
            return -dots
        return (
            np.einsum("qjd,qjd->qj", Qs, Qs)[:, :, None]
            - 2.0 * dots
            + np.einsum("jcd,jcd->jc", cb, cb)[None]
        )

    @staticmethod
    def adc(tables: np.ndarray, codes: np.ndarray, table_of_row: np.ndarray | None = None):
        """Sum the table entries selected by each code row: ``Σ_j T[j, code_j]``.

        ``tables`` is (n_tables, M, ksub); ``table_of_row`` says which table scores each code
        row (all rows use table 0 when None).
        """
        _n_tables, M, ksub = tables.shape
        flat = codes.astype(np.int64) + (np.arange(M) * ksub)[None, :]
        if table_of_row is not None:
            flat += (table_of_row.astype(np.int64) * (M * ksub))[:, None]
        return tables.reshape(-1)[flat].sum(axis=1)

    def code_bytes(self) -> int:
        """Bytes per stored code: one uint8 per sub-quantiser, whatever ``nbits`` (faiss packs
        codes of fewer than 8 bits; this teaching version does not)."""
        return self.M


class _IVFBase(Index):
    """Coarse quantiser + inverted lists stored contiguously, sorted by cell."""

    search_param = "nprobe"

    def __init__(
        self,
        dim: int,
        metric: str = "l2",
        nlist: int = 256,
        nprobe: int = 8,
        seed: int = 0,
        train_size: int = 65536,
    ) -> None:
        super().__init__(dim, metric)
        self.nlist = check_positive_int(nlist, "nlist")
        self.nprobe = check_positive_int(nprobe, "nprobe")
        self.seed, self.train_size = seed, train_size
        self.centroids: np.ndarray | None = None
        self._ip = metric == "ip"
        self._ids = np.empty(0, dtype=np.int64)
        self._offsets = np.zeros(nlist + 1, dtype=np.int64)

    def set_search_param(self, value: int) -> None:
        self.nprobe = check_positive_int(value, "nprobe")

    def _coarse(self, X: np.ndarray) -> np.ndarray:
        """Nearest centroid of each row: squared L2 (or largest inner product for ip)."""
        if self._ip:
            return (X @ self.centroids.T).argmax(axis=1)
        return _sq_dists(X, self.centroids).argmin(axis=1)

    def _probe(self, q: np.ndarray) -> np.ndarray:
        scores = -(self.centroids @ q) if self._ip else _sq_dists(q[None], self.centroids)[0]
        nprobe = min(self.nprobe, self.nlist)
        return np.argpartition(scores, nprobe - 1)[:nprobe]

    def _train_coarse(self, X: np.ndarray) -> None:
        if X.shape[0] < self.nlist:
            raise ValueError(f"nlist={self.nlist} needs at least that many vectors to train")
        self.centroids = kmeans(X, self.nlist, seed=self.seed, max_points=self.train_size)

    def _store(self, assign: np.ndarray, payload: np.ndarray) -> np.ndarray:
        """Merge new rows into the cell-sorted arrays; returns the new payload array."""
        new_ids = np.arange(self.ntotal, self.ntotal + len(assign), dtype=np.int64)
        old_assign = np.repeat(np.arange(self.nlist), np.diff(self._offsets))
        all_assign = np.concatenate([old_assign, assign])
        order = np.argsort(all_assign, kind="stable")
        self._ids = np.concatenate([self._ids, new_ids])[order]
        self._offsets = np.searchsorted(all_assign[order], np.arange(self.nlist + 1))
        return payload[order]

    def _gather(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row positions of the probed cells and the cell (0..nprobe-1) each row came from."""
        starts, stops = self._offsets[cells], self._offsets[cells + 1]
        lengths = stops - starts
        rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)])
        return rows, np.repeat(np.arange(len(cells)), lengths)

    def list_sizes(self) -> np.ndarray:
        return np.diff(self._offsets)


class IVFFlatIndex(_IVFBase):
    """Inverted file over raw vectors: exact distances inside the probed cells."""

    name = "IVF-Flat (ours)"

    def __init__(
        self, dim: int, metric: str = "l2", nlist: int = 256, nprobe: int = 8, seed: int = 0
    ) -> None:
        super().__init__(dim, metric, nlist, nprobe, seed)
        self._X = np.empty((0, dim), dtype=np.float32)

    def _add(self, X: np.ndarray) -> None:
        if self.centroids is None:
            self._train_coarse(X)
        self._X = self._store(self._coarse(X), np.vstack([self._X, X]))

    def _search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        out_d = np.full((len(Q), k), np.inf, dtype=np.float32)
        out_i = np.full((len(Q), k), -1, dtype=np.int64)
        for r, q in enumerate(Q):
            rows, _ = self._gather(self._probe(q))
            if rows.size == 0:
                continue
            cand = self._X[rows]
            d = -(cand @ q) if self._ip else _sq_dists(q[None], cand)[0]
            kk = min(k, rows.size)
            vals, pos = topk_smallest(d[None], kk)
            out_d[r, :kk], out_i[r, :kk] = vals[0], self._ids[rows[pos[0]]]
        return finish_distances(out_d, self.metric), out_i

    def memory_bytes(self) -> int:
        self._check_built()
        return int(self._X.nbytes + self._ids.nbytes + self.centroids.nbytes)


class IVFPQIndex(_IVFBase):
    """IVF with PQ-encoded residuals and ADC scoring; optional exact re-ranking (``refine``)."""

    name = "IVF-PQ (ours)"

    def __init__(
        self,
        dim: int,
        metric: str = "l2",
        nlist: int = 256,
        M: int = 16,
        nbits: int = 8,
        nprobe: int = 8,
        refine: int = 0,
        seed: int = 0,
        train_size: int = 65536,
    ) -> None:
        super().__init__(dim, metric, nlist, nprobe, seed, train_size)
        self.pq = ProductQuantizer(dim, M, nbits)
        if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
            raise ValueError(f"refine must be an int >= 0 (0 = no re-ranking), got {refine!r}")
        self.refine = refine
        self._codes = np.empty((0, M), dtype=np.uint8)
        self._raw = np.empty((0, dim), dtype=np.float32)  # kept only when refine > 0

    def _add(self, X: np.ndarray) -> None:
        if self.centroids is None:
            self._train_coarse(X)
            sample = X
            if X.shape[0] > self.train_size:
                rng = np.random.default_rng(self.seed)
                sample = X[rng.choice(X.shape[0], self.train_size, replace=False)]
            resid = sample - self.centroids[self._coarse(sample)]
            self.pq.train(resid, seed=self.seed)
        assign = self._coarse(X)
        codes = self.pq.encode(X - self.centroids[assign])
        old_order_payload = np.vstack([self._codes, codes])
        if self.refine:
            raw = np.vstack([self._raw, X])
            idx = self._store(assign, np.arange(len(raw)))
            self._codes, self._raw = old_order_payload[idx], raw[idx]
        else:
            self._codes = self._store(assign, old_order_payload)

    def _search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        out_d = np.full((len(Q), k), np.inf, dtype=np.float32)
        out_i = np.full((len(Q), k), -1, dtype=np.int64)
        n_cand = k * self.refine if self.refine else k
        for r, q in enumerate(Q):
            cells = self._probe(q)
            rows, which = self._gather(cells)
            if rows.size == 0:
                continue
            if self._ip:  # <q, c + r> = <q, c> + Σ_j <q_j, r_j>
                tables = self.pq.distance_tables(q[None], ip=True)
                d = self.pq.adc(tables, self._codes[rows]) - (self.centroids[cells] @ q)[which]
            else:  # ||q - c - r||^2 with one table per probed cell, on the residual q - c
                tables = self.pq.distance_tables(q[None] - self.centroids[cells])
                d = self.pq.adc(tables, self._codes[rows], which)
            kk = min(n_cand, rows.size)
            vals, pos = topk_smallest(d[None], kk)
            cand_rows = rows[pos[0]]
            if self.refine:
                raw = self._raw[cand_rows]
                exact = -(raw @ q) if self._ip else _sq_dists(q[None], raw)[0]
                kk = min(k, kk)
                vals, pos2 = topk_smallest(exact[None], kk)
                cand_rows = cand_rows[pos2[0]]
            out_d[r, :kk], out_i[r, :kk] = vals[0][:kk], self._ids[cand_rows[:kk]]
        return finish_distances(out_d, self.metric), out_i

    def bytes_per_vector_formula(self) -> int:
        """Code bytes plus the 64-bit id: ``M + 8`` (raw vectors add 4d when refining)."""
        return self.pq.code_bytes() + 8 + (4 * self.dim if self.refine else 0)

    def memory_bytes(self) -> int:
        self._check_built()
        return int(
            self._codes.nbytes
            + self._ids.nbytes
            + self._raw.nbytes
            + self.centroids.nbytes
            + self.pq.codebooks.nbytes
        )
