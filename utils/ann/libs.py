"""The production libraries behind the same interface: faiss (Johnson et al., 2019) and hnswlib
(Malkov & Yashunin's reference implementation). Thread counts are pinned by the caller."""

from __future__ import annotations

import os
import tempfile

import numpy as np

from .._checks import check_positive_int
from .base import Index, finish_distances
from .hnsw import check_hnsw_params


class FaissIndex(Index):
    """A faiss index built from a factory string: "Flat", "IVF1024,Flat", "IVF1024,PQ48",
    "HNSW32", optionally with ",RFlat" re-ranking. Cosine runs as L2 on unit vectors."""

    def __init__(self, dim: int, factory: str, metric: str = "l2", **params: int) -> None:
        """``params``: ef_construction, ef (HNSW); nprobe (IVF); refine (RFlat k_factor);
        train_size (train on a seeded random sample of that many vectors)."""
        import faiss

        super().__init__(dim, metric)
        unknown = set(params) - {"ef_construction", "ef", "nprobe", "refine", "train_size"}
        if unknown:
            raise ValueError(f"unknown FaissIndex parameter(s) {sorted(unknown)}")
        self.factory = factory
        faiss_metric = faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2
        try:
            self.index = faiss.index_factory(self.dim, factory, faiss_metric)
        except RuntimeError as exc:
            raise ValueError(f"faiss cannot build {factory!r}: {exc}") from exc
        self.name = f"faiss {factory}"
        base = faiss.downcast_index(
            self.index.base_index if hasattr(self.index, "base_index") else self.index
        )
        self._base = base
        if "HNSW" in factory:
            self.search_param = "ef"
            base.hnsw.efConstruction = params.get("ef_construction", base.hnsw.efConstruction)
            base.hnsw.efSearch = params.get("ef", base.hnsw.efSearch)
        elif "IVF" in factory:
            self.search_param = "nprobe"
            base.nprobe = params.get("nprobe", 1)
        if "RFlat" in factory:
            self.index.k_factor = params.get("refine", 4)
        self.train_size = params.get("train_size")

    def set_search_param(self, value: int) -> None:
        if self.search_param == "ef":
            self._base.hnsw.efSearch = check_positive_int(value, "ef")
        elif self.search_param == "nprobe":
            self._base.nprobe = check_positive_int(value, "nprobe")
        else:
            super().set_search_param(value)

    def _add(self, X: np.ndarray) -> None:
        if not self.index.is_trained:
            sample = X
            if self.train_size and X.shape[0] > self.train_size:
                rng = np.random.default_rng(0)
                sample = X[np.sort(rng.choice(X.shape[0], self.train_size, replace=False))]
            if "IVF" in self.factory and sample.shape[0] < self._base.nlist:
                raise ValueError(
                    f"{self.factory}: training needs at least nlist={self._base.nlist} vectors, "
                    f"got {sample.shape[0]}"
                )
            self.index.train(sample)
        self.index.add(X)

    def _search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        D, ids = self.index.search(Q, k)
        if self.metric == "ip":
            D = -D  # faiss returns inner products, largest first; ours are "smaller is better"
        return finish_distances(D, self.metric), ids.astype(np.int64)

    def memory_bytes(self) -> int:
        """Size of the serialised index: vectors or codes, ids, links, centroids, codebooks."""
        import faiss

        self._check_built()
        return int(faiss.serialize_index(self.index).size)


class HnswlibIndex(Index):
    """hnswlib's HNSW (defaults M=16, efConstruction=200 as in its README)."""

    name = "hnswlib HNSW"
    search_param = "ef"

    def __init__(
        self,
        dim: int,
        metric: str = "l2",
        M: int = 16,
        ef_construction: int = 200,
        ef: int = 10,
        seed: int = 100,
        num_threads: int = 1,
    ) -> None:
        super().__init__(dim, metric)
        self.M, self.ef_construction, self.ef = check_hnsw_params(M, ef_construction, ef)
        self.seed, self.num_threads = seed, check_positive_int(num_threads, "num_threads")
        self.index = None

    def set_search_param(self, value: int) -> None:
        self.ef = check_hnsw_params(self.M, self.ef_construction, value)[2]
        if self.index is not None:
            self.index.set_ef(self.ef)

    def _add(self, X: np.ndarray) -> None:
        import hnswlib

        space = {"l2": "l2", "ip": "ip", "cosine": "ip"}[self.metric]  # cosine: unit vectors
        if self.index is None:
            self.index = hnswlib.Index(space=space, dim=self.dim)
            self.index.init_index(
                max_elements=X.shape[0],
                M=self.M,
                ef_construction=self.ef_construction,
                random_seed=self.seed,
            )
            self.index.set_num_threads(self.num_threads)
        else:
            self.index.resize_index(self.ntotal + X.shape[0])
        self.index.add_items(X, np.arange(self.ntotal, self.ntotal + X.shape[0]))
        self.index.set_ef(self.ef)

    def _search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids, D = self.index.knn_query(Q, k=k, num_threads=self.num_threads)
        if self.metric == "ip":
            D = D - 1.0  # hnswlib's ip distance is 1 - <q, x>
        return D.astype(np.float32), ids.astype(np.int64)

    def memory_bytes(self) -> int:
        """Size of the saved index file (vectors, links, labels)."""
        self._check_built()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "index.bin")
            self.index.save_index(path)
            return os.path.getsize(path)
