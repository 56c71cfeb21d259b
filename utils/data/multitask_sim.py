"""Two regression tasks with a controlled task correlation: the synthetic data of the MMoE paper.

Ma et al. (KDD 2018, "Modeling Task Relationships in Multi-task Learning with Multi-gate
Mixture-of-Experts", section 3.2) generate two tasks whose relatedness is set by one number:

1. draw two orthonormal vectors ``u1, u2`` in ``R^d`` (``u1.u2 = 0``, ``|u1| = |u2| = 1``);
2. for a scale ``c`` and a correlation score ``-1 <= p <= 1`` set the task weights
   ``w1 = c u1`` and ``w2 = c (p u1 + sqrt(1 - p^2) u2)``, so ``cos(w1, w2) = p``;
3. draw inputs ``x ~ N(0, I_d)``;
4. label each task ``y_k = w_k.x + sum_{i=1..m} sin(alpha_i w_k.x + beta_i) + eps_k``
   with the same ``alpha_i, beta_i`` for both tasks and ``eps_k ~ N(0, 0.01)``.

The sinusoids make the tasks non-linear, so the labels' Pearson correlation is a monotone but
not equal function of ``p`` (the paper's figure 2); ``p = 1`` gives two copies of one task up to
noise. The paper gives neither the ``alpha_i, beta_i`` nor whether 0.01 is the noise variance or
its standard deviation. Defaults follow the Google Research re-implementation (``alpha_i = i``,
``beta_i = (i-1)^2``, ``noise_std = 0.01``); pass ``alphas`` to lower the frequencies for small
networks and small samples.

:func:`regime_tokens` draws tokens from a mixture of regimes for the sparse-MoE routing lab.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._checks import check_positive_int


@dataclass(frozen=True)
class TwoTaskData:
    """Inputs ``X`` (n, d) float32, labels ``Y`` (n, 2) float32 and the ground truth behind them."""

    X: np.ndarray
    Y: np.ndarray
    weights: np.ndarray  # (2, d): w1, w2
    alphas: np.ndarray  # (m,)
    betas: np.ndarray  # (m,)
    p: float

    @property
    def label_correlation(self) -> float:
        """Pearson correlation of the two tasks' labels over this sample."""
        return float(np.corrcoef(self.Y[:, 0], self.Y[:, 1])[0, 1])


def check_correlation(p: object, name: str = "p") -> float:
    """Validate a task-correlation score: a finite real number in [-1, 1]."""
    if isinstance(p, bool) or not isinstance(p, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(p).__name__}")
    p = float(p)
    if not math.isfinite(p) or abs(p) > 1.0:
        raise ValueError(f"{name} must lie in [-1, 1] (a cosine), got {p}")
    return p


def mmoe_synthetic_tasks(
    n: int,
    p: float,
    *,
    dim: int = 100,
    c: float = 1.0,
    m: int = 10,
    noise_std: float = 0.01,
    alphas: np.ndarray | None = None,
    betas: np.ndarray | None = None,
    seed: int = 0,
) -> TwoTaskData:
    """Draw ``n`` samples of the MMoE paper's two tasks with weight cosine ``p`` (see module doc).

    The task directions ``u1, u2``, the inputs and the noise depend on ``seed`` only, not on
    ``p``: the same seed at two values of ``p`` gives the same ``X`` and the same
    task-1 labels, so a sweep over ``p`` changes only how related task 2 is to task 1.
    """
    n = check_positive_int(n, "n")
    dim = check_positive_int(dim, "dim")
    m = check_positive_int(m, "m")
    p = check_correlation(p)
    if dim < 2:
        raise ValueError(f"dim must be >= 2 to hold two orthogonal task directions, got {dim}")
    for value, name in ((c, "c"), (noise_std, "noise_std")):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be finite and >= 0, got {value}")
    if c == 0:
        raise ValueError("c must be positive: c = 0 makes both tasks pure sinusoid constants")
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, 2)))  # orthonormal columns
    u1, u2 = q[:, 0], q[:, 1]
    if alphas is None:
        alphas = np.arange(1, m + 1, dtype=float)
    if betas is None:
        betas = np.arange(m, dtype=float) ** 2
    alphas = np.asarray(alphas, dtype=float)
    betas = np.asarray(betas, dtype=float)
    for arr, name in ((alphas, "alphas"), (betas, "betas")):
        if arr.shape != (m,) or not np.isfinite(arr).all():
            raise ValueError(f"{name} must be {m} finite numbers (one per sinusoid), got {arr}")
    X = rng.standard_normal((n, dim))
    noise = noise_std * rng.standard_normal((n, 2))
    W = c * np.stack([u1, p * u1 + math.sqrt(max(0.0, 1.0 - p * p)) * u2])
    Z = X @ W.T  # (n, 2): w_k.x
    Y = Z + np.sin(Z[:, :, None] * alphas + betas).sum(axis=2) + noise
    return TwoTaskData(
        X=X.astype(np.float32), Y=Y.astype(np.float32), weights=W, alphas=alphas, betas=betas, p=p
    )


def regime_tokens(
    n: int,
    *,
    dim: int = 16,
    out_dim: int = 4,
    n_regimes: int = 8,
    separation: float = 3.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tokens from ``n_regimes`` regimes, each with its own input region and its own map.

    The setting mixtures of experts were invented for (Jacobs et al., Neural Computation 1991):
    regime ``r`` (uniform over regimes) has a centre ``mu_r ~ N(0, separation^2 I / dim)`` and a
    map ``W_r ~ N(0, I / dim)``; a token is ``x = mu_r + N(0, I)`` with target
    ``y = tanh(W_r^T x)``. Returns ``(X (n, dim), Y (n, out_dim), regime (n,))``, float32,
    float32, int64. One expert per regime is the ideal routing; a router that sends every
    token to a few experts leaves the rest untrained.
    """
    n = check_positive_int(n, "n")
    dim = check_positive_int(dim, "dim")
    out_dim = check_positive_int(out_dim, "out_dim")
    n_regimes = check_positive_int(n_regimes, "n_regimes")
    if isinstance(separation, bool) or not isinstance(separation, int | float | np.number):
        raise TypeError(f"separation must be a real number, got {type(separation).__name__}")
    if not math.isfinite(separation) or separation < 0:
        raise ValueError(f"separation must be finite and >= 0, got {separation}")
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_regimes, dim)) * separation / math.sqrt(dim)
    maps = rng.standard_normal((n_regimes, dim, out_dim)) / math.sqrt(dim)
    regime = rng.integers(0, n_regimes, size=n)
    X = centres[regime] + rng.standard_normal((n, dim))
    Y = np.tanh(np.einsum("nd,ndo->no", X, maps[regime]))
    return X.astype(np.float32), Y.astype(np.float32), regime.astype(np.int64)
