"""Seeded simulators whose ground truth is the point of the experiment.

``clustered_vectors`` stands in for a large embedding table when a lab needs more vectors than
real data gives on a laptop. Uniform noise is *not* a stand-in for embeddings: it has no
clusters and full intrinsic dimension, which makes ANN recall far worse than on real data (the
ANN lab measures the gap). The generator below has the three properties real embeddings show:
clusters of very unequal size, anisotropic clusters, and a low intrinsic dimension.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_positive_int


def clustered_vectors(
    n: int,
    dim: int,
    *,
    n_clusters: int = 256,
    intrinsic_dim: int = 16,
    zipf_a: float = 1.1,
    noise: float = 0.05,
    normalize: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` float32 vectors of dimension ``dim`` from an anisotropic Gaussian mixture.

    Model: cluster sizes follow a Zipf law with exponent ``zipf_a`` (a few big clusters, a long
    tail); each cluster has a centre ``mu_c ~ N(0, I)`` and a random linear map
    ``A_c in R^{intrinsic_dim x dim}`` with singular values decaying as ``1/sqrt(j)``; a point is
    ``mu_c + z A_c * s + eps`` with ``z ~ N(0, I_intrinsic)``, ``s = 0.5`` and isotropic noise
    ``eps ~ N(0, noise^2 I)``. Returns ``(X, labels)``, labels being the cluster of each row.
    """
    n = check_positive_int(n, "n")
    dim = check_positive_int(dim, "dim")
    n_clusters = check_positive_int(n_clusters, "n_clusters")
    intrinsic_dim = check_positive_int(intrinsic_dim, "intrinsic_dim")
    if intrinsic_dim > dim:
        raise ValueError(f"intrinsic_dim ({intrinsic_dim}) must be <= dim ({dim})")
    if not zipf_a > 0:
        raise ValueError(f"zipf_a must be positive, got {zipf_a}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_clusters + 1) ** zipf_a
    labels = rng.choice(n_clusters, size=n, p=weights / weights.sum()).astype(np.int32)
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    decay = (1.0 / np.sqrt(np.arange(1, intrinsic_dim + 1))).astype(np.float32)[:, None]
    X = np.empty((n, dim), dtype=np.float32)
    for c in range(n_clusters):
        rows = np.flatnonzero(labels == c)
        if rows.size == 0:
            continue
        basis = rng.standard_normal((intrinsic_dim, dim)).astype(np.float32) / np.sqrt(dim)
        z = rng.standard_normal((rows.size, intrinsic_dim)).astype(np.float32)
        X[rows] = centres[c] + 0.5 * np.sqrt(dim / intrinsic_dim) * (z @ (decay * basis))
    X += noise * rng.standard_normal((n, dim)).astype(np.float32)
    if normalize:
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, labels


def uniform_vectors(n: int, dim: int, *, seed: int = 0, normalize: bool = False) -> np.ndarray:
    """``n`` float32 vectors uniform in ``[0, 1)^dim``: the adversarial baseline for ANN."""
    n = check_positive_int(n, "n")
    dim = check_positive_int(dim, "dim")
    X = np.random.default_rng(seed).random((n, dim), dtype=np.float32)
    if normalize:
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X
