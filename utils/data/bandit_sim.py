"""A seeded population of users clicking on image search results, with known click probabilities.

Model (a logistic click model, the ground truth the policies never see):

    P(click | user u, item i) = sigmoid(intercept + bias_i + strength * <t_u, f_i>)

- ``f_i``: the item's unit-norm feature vector (e.g. a few PCA coordinates of the retrieved
  images' embeddings: their "style"); ``bias_i``: its audience-independent appeal.
- ``t_u``: the user's unit-norm taste vector, drawn around one of ``n_segments`` segment
  centres: ``t_u = normalize(c_s + spread * z)``, ``z ~ N(0, I)``.

Because every probability is known, so are the best arm for each user (the personalised oracle),
the best single arm for the population (``argmax_a mean_u P(u, a)``), and the exact expected
(pseudo-)regret of every choice. A policy observes only the user's context
``[1, t_u + noise]`` (a user embedding estimated from history) and the 0/1 click.

:func:`simulate` runs one policy from :mod:`utils.bandits` against the population. Users and
click coins are drawn from a generator seeded with ``seed`` *before* the run, so every policy
sees the same users and the same coins (common random numbers: differences between policies are
not sampling noise in the environment). A new item can be injected mid-run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._checks import as_matrix, check_positive_int

__all__ = ["SimResult", "UserPopulation", "make_user_population", "simulate"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _unit_rows(M: np.ndarray, name: str) -> np.ndarray:
    norms = np.linalg.norm(M, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{name} contains a zero vector; it has no direction")
    return M / norms


@dataclass
class UserPopulation:
    """Users (taste vectors), items (features, biases) and the logistic click model above."""

    tastes: np.ndarray  # (n_users, d), unit rows
    features: np.ndarray  # (n_items, d), unit rows
    bias: np.ndarray  # (n_items,)
    intercept: float = -2.0
    strength: float = 2.0
    context_noise: float = 0.0
    seed: int = 0
    observed: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tastes = np.asarray(self.tastes, dtype=np.float64)
        self.features = as_matrix(self.features, "features", dtype=np.float64)
        self.bias = np.asarray(self.bias, dtype=np.float64).reshape(-1)
        if self.tastes.ndim != 2 or self.tastes.shape[1] != self.features.shape[1]:
            raise ValueError(
                f"tastes must be (n_users, {self.features.shape[1]}), got {self.tastes.shape}"
            )
        if self.bias.shape != (self.features.shape[0],):
            raise ValueError(f"bias must have one value per item ({self.features.shape[0]})")
        if not np.isfinite(self.bias).all() or not np.isfinite(self.tastes).all():
            raise ValueError("bias and tastes must be finite")
        rng = np.random.default_rng(self.seed + 1)
        noisy = self.tastes + self.context_noise * rng.standard_normal(self.tastes.shape)
        self.observed = np.hstack([np.ones((len(self.tastes), 1)), noisy])

    @property
    def n_users(self) -> int:
        return int(self.tastes.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.features.shape[0])

    @property
    def n_context(self) -> int:
        """Length of the context a policy sees: 1 (intercept) + d."""
        return int(self.observed.shape[1])

    def click_probs(self) -> np.ndarray:
        """(n_users, n_items) matrix of true click probabilities."""
        logits = self.intercept + self.bias + self.strength * self.tastes @ self.features.T
        return _sigmoid(logits)

    def context(self, user: int) -> np.ndarray:
        """What a policy observes about ``user``: ``[1, t_u + noise]``."""
        return self.observed[user]

    def add_item(self, feature: object, bias: float) -> int:
        """Add an item (a new upload) with a feature vector and a bias; returns its index."""
        f = as_matrix(np.asarray(feature, dtype=np.float64).reshape(1, -1), "feature")
        if f.shape[1] != self.features.shape[1]:
            raise ValueError(f"feature must have {self.features.shape[1]} values, got {f.shape[1]}")
        if not np.isfinite(bias):
            raise ValueError(f"bias must be finite, got {bias}")
        self.features = np.vstack([self.features, _unit_rows(f, "feature")])
        self.bias = np.append(self.bias, float(bias))
        return self.n_items - 1


def make_user_population(
    item_features: object,
    item_bias: object,
    *,
    n_users: int = 500,
    n_segments: int = 4,
    spread: float = 0.5,
    intercept: float = -2.0,
    strength: float = 2.0,
    context_noise: float = 0.0,
    seed: int = 0,
) -> UserPopulation:
    """Draw ``n_users`` taste vectors around ``n_segments`` random unit centres (see module doc).

    ``item_features`` (n_items, d) are normalised to unit rows; users are split evenly over the
    segments in expectation.
    """
    F = _unit_rows(as_matrix(item_features, "item_features", dtype=np.float64), "item_features")
    n_users = check_positive_int(n_users, "n_users")
    n_segments = check_positive_int(n_segments, "n_segments")
    if not spread >= 0:
        raise ValueError(f"spread must be >= 0, got {spread}")
    if not context_noise >= 0:
        raise ValueError(f"context_noise must be >= 0, got {context_noise}")
    rng = np.random.default_rng(seed)
    d = F.shape[1]
    centres = _unit_rows(rng.standard_normal((n_segments, d)), "centres")
    segment = rng.integers(n_segments, size=n_users)
    tastes = _unit_rows(centres[segment] + spread * rng.standard_normal((n_users, d)), "tastes")
    return UserPopulation(
        tastes, F, np.asarray(item_bias, dtype=np.float64), intercept, strength, context_noise, seed
    )


@dataclass
class SimResult:
    """Per-round record of one run: chosen arm, click, and expected regret against the
    personalised oracle (best item for this user) and against the best single item (the latter
    is negative in rounds where a personalised choice beats every single item)."""

    arms: np.ndarray
    clicks: np.ndarray
    regret: np.ndarray
    regret_fixed: np.ndarray

    @property
    def cumulative_regret(self) -> np.ndarray:
        return np.cumsum(self.regret)


def simulate(
    policy,
    population: UserPopulation,
    n_rounds: int,
    *,
    seed: int = 0,
    new_item: tuple[object, float] | None = None,
    new_item_at: int | None = None,
) -> SimResult:
    """Run ``policy`` for ``n_rounds`` rounds: draw a user, show the chosen item, draw a click.

    ``new_item=(feature, bias)`` is added to a copy of the population (and ``policy.add_arm()``
    is called) just before round ``new_item_at``. Regret is expected (pseudo-)regret:
    ``max_a P(u_t, a) - P(u_t, a_t)`` over the items available at round t; ``regret_fixed`` is
    ``max_a mean_u P(u, a) - P(u_t, a_t)``, the regret against the best single item.
    """
    n_rounds = check_positive_int(n_rounds, "n_rounds")
    if policy.n_arms != population.n_items:
        raise ValueError(
            f"policy has {policy.n_arms} arms but the population has {population.n_items} items"
        )
    if (new_item is None) != (new_item_at is None):
        raise ValueError("give both new_item and new_item_at, or neither")
    if new_item_at is not None and not 0 < new_item_at < n_rounds:
        raise ValueError(f"new_item_at must be in (0, {n_rounds}), got {new_item_at}")
    pop = UserPopulation(
        population.tastes,
        population.features.copy(),
        population.bias.copy(),
        population.intercept,
        population.strength,
        population.context_noise,
        population.seed,
    )
    rng = np.random.default_rng(seed)
    users = rng.integers(pop.n_users, size=n_rounds)
    coins = rng.random(n_rounds)
    P = pop.click_probs()
    p_bar = P.mean(axis=0)
    arms = np.empty(n_rounds, dtype=np.int64)
    clicks = np.empty(n_rounds, dtype=np.int8)
    regret = np.empty(n_rounds)
    regret_fixed = np.empty(n_rounds)
    for t in range(n_rounds):
        if t == new_item_at:
            pop.add_item(*new_item)
            policy.add_arm()
            P = pop.click_probs()
            p_bar = P.mean(axis=0)
        u = users[t]
        x = pop.observed[u]
        a = policy.select(x)
        p = P[u]
        click = int(coins[t] < p[a])
        policy.update(a, click, x)
        arms[t], clicks[t] = a, click
        regret[t] = p.max() - p[a]
        regret_fixed[t] = p_bar.max() - p[a]
    return SimResult(arms, clicks, regret, regret_fixed)
