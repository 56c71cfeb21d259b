"""Seeded simulators whose ground truth is the point of the experiment.

``clustered_vectors`` stands in for a large embedding table when a lab needs more vectors than
real data gives on a laptop. Uniform noise is *not* a stand-in for embeddings: it has no
clusters and full intrinsic dimension, which makes ANN recall far worse than on real data (the
ANN lab measures the gap). The generator below has the three properties real embeddings show:
clusters of very unequal size, anisotropic clusters, and a low intrinsic dimension.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def attractiveness_from_rating(rating: object) -> np.ndarray:
    """Ground-truth click probability of an examined item: ``(2^r - 1) / (2^5 - 1)`` for a 1-5
    star rating r (1 star -> 0.03, 5 stars -> 1), the graded-relevance gain used for nDCG."""
    r = np.asarray(rating, dtype=np.float64)
    if np.isnan(r).any() or (r < 1).any() or (r > 5).any():
        raise ValueError("rating must hold values in [1, 5]")
    return (2.0**r - 1.0) / 31.0


def simulate_position_bias(
    ratings: pd.DataFrame,
    *,
    n_sessions: int = 100_000,
    list_len: int = 10,
    eta: float = 1.0,
    policy_noise: float = 1.0,
    promotion: float = 0.0,
    randomized_share: float = 0.05,
    seed: int = 0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Impressions and clicks from a position-based click model on top of real ratings.

    Each session picks a user uniformly among users with at least ``list_len`` ratings. The
    logging policy shows ``list_len`` of the items that user rated, ordered by
    ``log(1 + item popularity) + promotion * z_item + policy_noise * Gumbel noise``: a popularity
    ranker that knows nothing about the user, plus a fixed per-item boost ``z_item ~ N(0, 1)``
    unrelated to quality (editorial or business promotion, or an older model's errors).
    On a ``randomized_share`` of sessions the shown items are shuffled
    uniformly (result randomisation). Position p (1-based) is examined with probability
    ``(1/p)^eta``; an examined item is clicked with probability
    ``attractiveness_from_rating(rating)`` (Richardson et al., 2007; Craswell et al., 2008).

    Returns ``(impressions, examination)``: one row per shown item with columns session,
    user_id, item_id, position, randomized, attract (the hidden truth), clicked; and the true
    examination probability of positions 1..list_len.
    """
    check_positive_int(n_sessions, "n_sessions")
    check_positive_int(list_len, "list_len")
    if not eta >= 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    if not 0.0 <= randomized_share <= 1.0:
        raise ValueError(f"randomized_share must be in [0, 1], got {randomized_share}")
    for col in ("user_id", "item_id", "rating"):
        if col not in ratings.columns:
            raise ValueError(f"ratings has no column {col!r}")
    rng = np.random.default_rng(seed)
    popularity = ratings.groupby("item_id").size()
    boost = pd.Series(rng.standard_normal(len(popularity)), index=popularity.index)
    per_user = {u: g for u, g in ratings.groupby("user_id") if len(g) >= list_len}
    if not per_user:
        raise ValueError(f"no user has at least list_len={list_len} ratings")
    users = np.array(sorted(per_user))
    session_users = rng.choice(users, size=n_sessions)
    examination = (1.0 / np.arange(1, list_len + 1)) ** eta
    frames = []
    order = np.argsort(session_users, kind="stable")
    bounds = np.flatnonzero(np.diff(session_users[order])) + 1
    for sessions in np.split(order, bounds):
        g = per_user[session_users[sessions[0]]]
        items = g["item_id"].to_numpy()
        attract = attractiveness_from_rating(g["rating"].to_numpy())
        base = np.log1p(popularity.loc[items].to_numpy()) + promotion * boost.loc[items].to_numpy()
        noise = rng.gumbel(size=(len(sessions), len(items)))
        top = np.argsort(-(base + policy_noise * noise), axis=1)[:, :list_len]
        randomized = rng.random(len(sessions)) < randomized_share
        shuffled = rng.permuted(top[randomized], axis=1)
        top[randomized] = shuffled
        frames.append(
            pd.DataFrame(
                {
                    "session": np.repeat(sessions, list_len),
                    "user_id": session_users[sessions[0]],
                    "item_id": items[top].ravel(),
                    "position": np.tile(np.arange(1, list_len + 1), len(sessions)),
                    "randomized": np.repeat(randomized, list_len),
                    "attract": attract[top].ravel(),
                }
            )
        )
    log = pd.concat(frames, ignore_index=True).sort_values(["session", "position"])
    examined = rng.random(len(log)) < examination[log["position"].to_numpy() - 1]
    log["clicked"] = (examined & (rng.random(len(log)) < log["attract"].to_numpy())).astype(np.int8)
    return log.reset_index(drop=True), examination


def engagement_signals(
    ratings: pd.DataFrame,
    users: object,
    items: object,
    *,
    n_items: int,
    median_minutes: float = 8.0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Expected watch minutes and like probability for (user, item) pairs, conditioned on real
    ratings (a documented simulator: MovieLens has no watch time or likes).

    A baseline predictor ``r_hat = mu + b_user + b_item`` is fitted on ``ratings`` (means of the
    residuals, as in Koren, Bell & Volinsky, 2009). Each item gets a seeded length
    ``L_i ~ lognormal(log(median_minutes), 0.8)``; the expected watched fraction is
    ``sigmoid(1.5 (r_hat - 3.5))`` and ``p_like = sigmoid(2 (r_hat - 4))``. ``users`` and
    ``items`` are 0-based indices (ids minus one) of equal shape; returns arrays of that shape:
    ``watch_minutes``, ``p_like``, ``r_hat`` and ``length`` (minutes).
    """
    users = np.asarray(users)
    items = np.asarray(items)
    if users.shape != items.shape:
        raise ValueError(f"users {users.shape} and items {items.shape} must have the same shape")
    check_positive_int(n_items, "n_items")
    if not median_minutes > 0:
        raise ValueError(f"median_minutes must be positive, got {median_minutes}")
    if (items < 0).any() or (items >= n_items).any():
        raise ValueError(f"items must be 0-based indices below n_items={n_items}")
    mu = ratings["rating"].mean()
    b_item = (ratings["rating"] - mu).groupby(ratings["item_id"]).mean()
    resid = ratings["rating"] - mu - ratings["item_id"].map(b_item)
    b_user = resid.groupby(ratings["user_id"]).mean()
    bu = b_user.reindex(users.ravel() + 1).fillna(0.0).to_numpy().reshape(users.shape)
    bi = b_item.reindex(items.ravel() + 1).fillna(0.0).to_numpy().reshape(items.shape)
    r_hat = mu + bu + bi
    rng = np.random.default_rng(seed)
    length = np.exp(np.log(median_minutes) + 0.8 * rng.standard_normal(n_items))[items]
    watch = length / (1.0 + np.exp(-1.5 * (r_hat - 3.5)))
    p_like = 1.0 / (1.0 + np.exp(-2.0 * (r_hat - 4.0)))
    return {"watch_minutes": watch, "p_like": p_like, "r_hat": r_hat, "length": length}
