"""Multi-armed and contextual bandits behind one small interface.

Every policy has ``select(context=None) -> arm``, ``update(arm, reward, context=None)`` and
``add_arm() -> new arm index`` (a new image enters the candidate pool mid-run). Rewards are in
[0, 1] (a click is 1). Context-free policies accept and ignore ``context`` so that a simulation
loop can treat all policies alike. Ties are broken uniformly at random with the policy's own
seeded generator, so runs are reproducible.

- :class:`EpsilonGreedy`: with probability epsilon a uniformly random arm, otherwise the arm
  with the best empirical mean (Sutton & Barto, 2018, ch. 2). Unplayed arms start at
  ``initial_value`` (0: a new arm is found only by exploration).
- :class:`UCB1`: play each arm once, then ``argmax_a  mean_a + sqrt(2 ln t / n_a)``, t the
  total number of plays (Auer, Cesa-Bianchi & Fischer, 2002, Fig. 1).
- :class:`ThompsonSampling`: Beta-Bernoulli posterior sampling (Thompson, 1933); a reward r in
  [0, 1] that is not 0/1 is first turned into a Bernoulli(r) draw (Agrawal & Goyal, 2012).
- :class:`LinUCB`: the disjoint linear model of Li, Chu, Langford & Schapire (2010), Algorithm 1:
  per arm a ridge regression ``theta_a = A_a^{-1} b_a`` with ``A_a = lam I + sum x x^T`` and
  ``b_a = sum r x``; pick ``argmax_a theta_a^T x_a + alpha sqrt(x_a^T A_a^{-1} x_a)``.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_positive_int

__all__ = ["UCB1", "BanditPolicy", "EpsilonGreedy", "LinUCB", "ThompsonSampling"]


def _rng(seed: object) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int or a numpy Generator, got {type(seed).__name__}")
    return np.random.default_rng(int(seed))


def _finite_nonneg(value: object, name: str, upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (upper is not None and value > upper):
        bound = f"[0, {upper}]" if upper is not None else "[0, inf)"
        raise ValueError(f"{name} must be a finite number in {bound}, got {value}")
    return value


def _argmax_random(values: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the maximum, ties broken uniformly at random."""
    best = np.flatnonzero(values == values.max())
    return int(best[0] if best.size == 1 else rng.choice(best))


class BanditPolicy:
    """Shared bookkeeping: arm count, pull counts, reward sums and argument checks."""

    def __init__(self, n_arms: int, seed: int | np.random.Generator = 0) -> None:
        n_arms = check_positive_int(n_arms, "n_arms")
        self.rng = _rng(seed)
        self.counts = np.zeros(n_arms, dtype=np.int64)
        self.sums = np.zeros(n_arms, dtype=np.float64)

    @property
    def n_arms(self) -> int:
        return int(self.counts.size)

    @property
    def t(self) -> int:
        """Number of updates so far (total plays)."""
        return int(self.counts.sum())

    def means(self) -> np.ndarray:
        """Empirical mean reward per arm (NaN for arms never played)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)

    def add_arm(self) -> int:
        """Add an arm with no history (a new item); returns its index."""
        self.counts = np.append(self.counts, 0)
        self.sums = np.append(self.sums, 0.0)
        return self.n_arms - 1

    def _check_arm(self, arm: object) -> int:
        if isinstance(arm, bool) or not isinstance(arm, int | np.integer):
            raise TypeError(f"arm must be an int, got {type(arm).__name__}")
        if not 0 <= arm < self.n_arms:
            raise ValueError(f"arm must be in [0, {self.n_arms}), got {arm}")
        return int(arm)

    def _record(self, arm: object, reward: object) -> tuple[int, float]:
        arm = self._check_arm(arm)
        reward = _finite_nonneg(reward, "reward", upper=1.0)
        self.counts[arm] += 1
        self.sums[arm] += reward
        return arm, reward

    def select(self, context: object = None) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, arm: int, reward: float, context: object = None) -> None:
        self._record(arm, reward)


class EpsilonGreedy(BanditPolicy):
    """Explore a uniformly random arm with probability ``epsilon``, else exploit the best mean."""

    def __init__(
        self,
        n_arms: int,
        epsilon: float = 0.1,
        *,
        initial_value: float = 0.0,
        seed: int | np.random.Generator = 0,
    ) -> None:
        super().__init__(n_arms, seed)
        self.epsilon = _finite_nonneg(epsilon, "epsilon", upper=1.0)
        self.initial_value = _finite_nonneg(initial_value, "initial_value", upper=1.0)

    def select(self, context: object = None) -> int:
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.n_arms))
        est = np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), self.initial_value)
        return _argmax_random(est, self.rng)


class UCB1(BanditPolicy):
    """UCB1 (Auer et al., 2002): optimism in the face of uncertainty with a Hoeffding bonus.

    Expected regret after n plays is at most ``sum_{a: Delta_a > 0} 8 ln n / Delta_a +
    (1 + pi^2/3) sum_a Delta_a`` (their Theorem 1); ``c`` scales the bonus (c = 2 is the paper).
    """

    def __init__(self, n_arms: int, *, c: float = 2.0, seed: int | np.random.Generator = 0):
        super().__init__(n_arms, seed)
        self.c = _finite_nonneg(c, "c")

    def select(self, context: object = None) -> int:
        unplayed = np.flatnonzero(self.counts == 0)
        if unplayed.size:  # initialisation: each arm once (a new arm is tried at once)
            return int(unplayed[0] if unplayed.size == 1 else self.rng.choice(unplayed))
        bonus = np.sqrt(self.c * math.log(self.t) / self.counts)
        return _argmax_random(self.sums / self.counts + bonus, self.rng)


class ThompsonSampling(BanditPolicy):
    """Beta-Bernoulli Thompson sampling: draw ``p_a ~ Beta(a0 + S_a, b0 + F_a)``, play argmax.

    Not a heuristic without guarantees: Agrawal & Goyal (2012) proved logarithmic expected
    regret and Kaufmann, Korda & Munos (2012) that it matches the Lai-Robbins lower bound.
    """

    def __init__(
        self,
        n_arms: int,
        *,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        seed: int | np.random.Generator = 0,
    ) -> None:
        super().__init__(n_arms, seed)
        for name, v in (("prior_alpha", prior_alpha), ("prior_beta", prior_beta)):
            if _finite_nonneg(v, name) == 0:
                raise ValueError(f"{name} must be positive, got {v}")
        self.prior_alpha, self.prior_beta = float(prior_alpha), float(prior_beta)
        self.successes = np.zeros(n_arms)

    def add_arm(self) -> int:
        self.successes = np.append(self.successes, 0.0)
        return super().add_arm()

    def select(self, context: object = None) -> int:
        a = self.prior_alpha + self.successes
        b = self.prior_beta + self.counts - self.successes
        return _argmax_random(self.rng.beta(a, b), self.rng)

    def update(self, arm: int, reward: float, context: object = None) -> None:
        arm, reward = self._record(arm, reward)
        if reward not in (0.0, 1.0):  # Agrawal & Goyal's reduction of [0, 1] to Bernoulli
            reward = float(self.rng.random() < reward)
        self.successes[arm] += reward


class LinUCB(BanditPolicy):
    """Disjoint LinUCB (Li et al., 2010, Algorithm 1) with ridge parameter ``lam``.

    ``context`` is either one feature vector (d,) shared by all arms (the user's features) or
    one row per arm (n_arms, d). ``A_inv`` is kept up to date with the Sherman-Morrison formula
    ``(A + x x^T)^{-1} = A^{-1} - A^{-1} x x^T A^{-1} / (1 + x^T A^{-1} x)``.
    """

    def __init__(
        self,
        n_arms: int,
        n_features: int,
        *,
        alpha: float = 1.0,
        lam: float = 1.0,
        seed: int | np.random.Generator = 0,
    ) -> None:
        super().__init__(n_arms, seed)
        self.d = check_positive_int(n_features, "n_features")
        self.alpha = _finite_nonneg(alpha, "alpha")
        self.lam = _finite_nonneg(lam, "lam")
        if self.lam == 0:
            raise ValueError("lam must be positive (A = lam I must be invertible)")
        self.A_inv = np.repeat(np.eye(self.d)[None] / self.lam, n_arms, axis=0)
        self.b = np.zeros((n_arms, self.d))

    def add_arm(self) -> int:
        self.A_inv = np.concatenate([self.A_inv, np.eye(self.d)[None] / self.lam])
        self.b = np.vstack([self.b, np.zeros(self.d)])
        return super().add_arm()

    def _contexts(self, context: object) -> np.ndarray:
        if context is None:
            raise ValueError("LinUCB needs a context: shape (n_features,) or (n_arms, n_features)")
        x = np.asarray(context, dtype=np.float64)
        if x.ndim == 1 and x.shape[0] == self.d:
            x = np.broadcast_to(x, (self.n_arms, self.d))
        elif x.shape != (self.n_arms, self.d):
            raise ValueError(
                f"context must have shape ({self.d},) or ({self.n_arms}, {self.d}), got {x.shape}"
            )
        if not np.isfinite(x).all():
            raise ValueError("context contains NaN or infinite values")
        return x

    def theta(self) -> np.ndarray:
        """Ridge estimate per arm, shape (n_arms, d): ``theta_a = A_a^{-1} b_a``."""
        return np.einsum("aij,aj->ai", self.A_inv, self.b)

    def ucb(self, context: object) -> np.ndarray:
        """Upper confidence bound of every arm for this context."""
        x = self._contexts(context)
        mean = np.einsum("ai,ai->a", self.theta(), x)
        width = np.sqrt(np.einsum("ai,aij,aj->a", x, self.A_inv, x))
        return mean + self.alpha * width

    def select(self, context: object = None) -> int:
        return _argmax_random(self.ucb(context), self.rng)

    def update(self, arm: int, reward: float, context: object = None) -> None:
        x = self._contexts(context)
        arm, reward = self._record(arm, reward)
        x = x[arm]
        Ax = self.A_inv[arm] @ x
        self.A_inv[arm] -= np.outer(Ax, Ax) / (1.0 + x @ Ax)
        self.b[arm] += reward * x
