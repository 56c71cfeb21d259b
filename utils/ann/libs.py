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


class ScannIndex(Index):
    """Google's ScaNN (Guo et al., ICML 2020): k-means partitioning ("tree"), asymmetric hashing
    (product quantisation with 16 centres per block of ``dims_per_block`` dimensions, so
    ``dims_per_block=2`` stores 4 bits per 2 dimensions) trained with the score-aware
    (anisotropic) loss, and exact re-scoring of a shortlist ("reorder").

    ``aq_threshold`` is the paper's T: the quantiser weights the residual's component parallel
    to a datapoint by eta and the orthogonal one by 1, with eta set by T (ScaNN's recommended
    0.2 for unit-norm data); ``aq_threshold=None`` gives plain PQ (reconstruction loss) with the
    same code size. ``num_leaves=None`` scans every code (no partitioning); ``reorder=0`` skips
    exact re-scoring, so recall measures the quantiser alone. The search knob is
    ``leaves_to_search``. Metrics "ip" and "cosine" (unit vectors) only: ScaNN's
    anisotropic loss is defined for inner products. Searches run on one thread.
    """

    name = "ScaNN"

    def __init__(
        self,
        dim: int,
        metric: str = "cosine",
        *,
        num_leaves: int | None = 100,
        leaves_to_search: int = 10,
        dims_per_block: int = 2,
        aq_threshold: float | None = 0.2,
        reorder: int = 100,
        training_sample_size: int = 100_000,
        seed: int = 0,
    ) -> None:
        super().__init__(dim, metric)
        if self.metric == "l2":
            raise ValueError("metric: ScannIndex supports 'ip' and 'cosine', got 'l2'")
        self.num_leaves = (
            None if num_leaves is None else check_positive_int(num_leaves, "num_leaves")
        )
        self.leaves_to_search = check_positive_int(leaves_to_search, "leaves_to_search")
        if self.num_leaves is not None and self.leaves_to_search > self.num_leaves:
            raise ValueError(
                f"leaves_to_search: expected <= num_leaves ({self.num_leaves}), "
                f"got {self.leaves_to_search}"
            )
        self.dims_per_block = check_positive_int(dims_per_block, "dims_per_block")
        if aq_threshold is not None and not 0.0 <= float(aq_threshold) < 1.0:
            raise ValueError(f"aq_threshold: expected T in [0, 1) or None, got {aq_threshold!r}")
        self.aq_threshold = None if aq_threshold is None else float(aq_threshold)
        if isinstance(reorder, bool) or not isinstance(reorder, (int, np.integer)) or reorder < 0:
            raise ValueError(f"reorder: expected an int >= 0, got {reorder!r}")
        self.reorder = int(reorder)
        self.training_sample_size = check_positive_int(training_sample_size, "training_sample_size")
        self.seed = int(seed)
        self.search_param = "leaves_to_search" if self.num_leaves is not None else None
        self.searcher = None
        self._data: np.ndarray | None = None
        label = "plain PQ" if self.aq_threshold is None else f"anisotropic T={self.aq_threshold}"
        self.name = f"ScaNN ({label})" if self.num_leaves is None else f"ScaNN tree+AH ({label})"

    def set_search_param(self, value: int) -> None:
        if self.num_leaves is None:
            super().set_search_param(value)
        v = check_positive_int(value, "leaves_to_search")
        if v > self.num_leaves:
            raise ValueError(
                f"leaves_to_search: expected <= num_leaves ({self.num_leaves}), got {v}"
            )
        self.leaves_to_search = v

    def _add(self, X: np.ndarray) -> None:
        import scann

        data = X if self._data is None else np.vstack([self._data, X])  # ScaNN builds once
        b = scann.scann_ops_pybind.builder(data, 10, "dot_product")
        if self.num_leaves is not None:
            if data.shape[0] < self.num_leaves:
                raise ValueError(
                    f"num_leaves: needs at least {self.num_leaves} vectors, got {data.shape[0]}"
                )
            b = b.tree(
                num_leaves=self.num_leaves,
                num_leaves_to_search=self.leaves_to_search,
                training_sample_size=min(self.training_sample_size, data.shape[0]),
            )
        threshold = float("nan") if self.aq_threshold is None else self.aq_threshold
        b = b.score_ah(
            self.dims_per_block,
            anisotropic_quantization_threshold=threshold,
            training_sample_size=min(self.training_sample_size, data.shape[0]),
        )
        if self.reorder:
            b = b.reorder(self.reorder)
        b = b.set_n_training_threads(1)
        self.searcher = b.build()
        self.searcher.set_num_threads(1)
        self._data = data

    def _search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        kwargs = {"final_num_neighbors": k}
        if self.num_leaves is not None:
            kwargs["leaves_to_search"] = self.leaves_to_search
        if self.reorder:
            kwargs["pre_reorder_num_neighbors"] = max(self.reorder, k)
        ids, scores = self.searcher.search_batched(Q, **kwargs)
        scores = np.asarray(scores, dtype=np.float32)
        dist = 1.0 - scores if self.metric == "cosine" else -scores
        return dist.astype(np.float32), np.asarray(ids, dtype=np.int64)

    def memory_bytes(self) -> int:
        """Size of the serialised searcher (codes, codebooks, centroids, and the float32
        vectors it keeps for re-scoring when ``reorder`` > 0)."""
        self._check_built()
        with tempfile.TemporaryDirectory() as tmp:
            self.searcher.serialize(tmp)
            return sum(
                os.path.getsize(os.path.join(tmp, f))
                for f in os.listdir(tmp)
                if os.path.isfile(os.path.join(tmp, f))
            )
