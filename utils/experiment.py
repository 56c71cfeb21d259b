"""Online-experiment helpers: stable assignment, power, variance reduction and interleaving.

- :func:`stable_bucket`: ``SHA-256("salt:id") mod n_buckets``, the same in every process and
  on every machine (Python's built-in ``hash`` of a ``str`` is salted per process).
- :func:`mde_two_sample`: minimum detectable effect of a two-sided two-sample z-test,
  ``(z_{1-alpha/2} + z_{power}) * sqrt(sigma_a^2/n_a + sigma_b^2/n_b)`` (Kohavi, Tang & Xu,
  2020, ch. 17).
- :func:`winsorize`: cap each value at the ``q``-quantile of its row (capping a heavy-tailed
  metric trades a little bias for much less variance).
- :func:`cuped`: ``Y - theta (X - mean X)`` with ``theta = cov(X, Y) / var(X)``, the
  pre-experiment covariate adjustment of Deng, Xu, Kohavi & Walker (WSDM 2013); its variance is
  ``(1 - rho^2) var(Y)``.
- :func:`team_draft_interleave` / :func:`interleaving_winner`: team-draft interleaving
  (Radlinski, Kurup & Joachims, CIKM 2008): the two rankers take turns, a coin flip deciding
  who picks first in each round, each adding its best item not yet shown; clicks are credited
  to the team that contributed the item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np
from scipy.stats import norm

from ._checks import check_positive_int


def stable_bucket(ids: Iterable, salt: str, n_buckets: int = 100) -> np.ndarray:
    """Bucket of each id in ``[0, n_buckets)``, from SHA-256 of ``f"{salt}:{id}"``."""
    if not isinstance(salt, str) or not salt:
        raise ValueError("salt must be a non-empty str (one per experiment)")
    n_buckets = check_positive_int(n_buckets, "n_buckets")
    out = [
        int.from_bytes(hashlib.sha256(f"{salt}:{i}".encode()).digest()[:8], "big") % n_buckets
        for i in ids
    ]
    if not out:
        raise ValueError("ids must not be empty")
    return np.asarray(out, dtype=np.int64)


def mde_two_sample(
    sigma: float, n_per_arm: int, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest true difference in means detected with probability ``power`` by a two-sided
    z-test at level ``alpha``, with ``n_per_arm`` units per arm and standard deviation sigma."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    n_per_arm = check_positive_int(n_per_arm, "n_per_arm")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must be in (0, 1), got {alpha}, {power}")
    return float((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * np.sqrt(2 * sigma**2 / n_per_arm))


def _finite_2d(values: object, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim not in (1, 2) or v.size == 0 or v.shape[-1] < 2:
        raise ValueError(f"{name} must be a non-empty 1-D or 2-D array with >= 2 per row")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return v


def winsorize(values: object, q: float = 0.99) -> np.ndarray:
    """Cap every value at the ``q``-quantile of its row (the last axis): ``min(v, Q_q(row))``.
    Pass both arms of a test together so that they share one threshold."""
    v = _finite_2d(values, "values")
    if isinstance(q, bool) or not isinstance(q, int | float) or not 0 < q < 1:
        raise ValueError(f"q must be a number in (0, 1), got {q!r}")
    return np.minimum(v, np.quantile(v, q, axis=-1, keepdims=True))


def cuped(y: object, x: object) -> np.ndarray:
    """``y - theta (x - mean(x))`` per row (last axis), ``theta = cov(x, y) / var(x)`` fitted on
    the row (pool both arms: x predates assignment, so the adjustment stays unbiased)."""
    yv, xv = _finite_2d(y, "y"), _finite_2d(x, "x")
    if yv.shape != xv.shape:
        raise ValueError(f"y {yv.shape} and x {xv.shape} must have the same shape")
    xc = xv - xv.mean(-1, keepdims=True)
    var = (xc**2).mean(-1, keepdims=True)
    if (var == 0).any():
        raise ValueError("x is constant in a row: nothing to adjust with")
    theta = (xc * (yv - yv.mean(-1, keepdims=True))).mean(-1, keepdims=True) / var
    return yv - theta * xc


def team_draft_interleave(
    ranking_a: Sequence, ranking_b: Sequence, k: int, rng: np.random.Generator
) -> tuple[list, list[str]]:
    """Interleave two rankings into ``k`` distinct items; returns (items, team of each item)."""
    if len(ranking_a) == 0 or len(ranking_b) == 0:
        raise ValueError("both rankings must be non-empty")
    k = check_positive_int(k, "k")
    if k > len(set(ranking_a) | set(ranking_b)):
        raise ValueError(f"k={k} is larger than the number of distinct items offered")
    items: list = []
    teams: list[str] = []
    shown: set = set()
    ia = ib = 0
    count = {"A": 0, "B": 0}
    while len(items) < k:
        a_first = count["A"] < count["B"] or (count["A"] == count["B"] and rng.random() < 0.5)
        team = "A" if a_first else "B"
        ranking, idx = (ranking_a, ia) if team == "A" else (ranking_b, ib)
        while idx < len(ranking) and ranking[idx] in shown:
            idx += 1
        if idx == len(ranking):  # this ranker is exhausted: the other one picks
            team = "B" if team == "A" else "A"
            ranking, idx = (ranking_a, ia) if team == "A" else (ranking_b, ib)
            while ranking[idx] in shown:
                idx += 1
        items.append(ranking[idx])
        teams.append(team)
        shown.add(ranking[idx])
        count[team] += 1
        if team == "A":
            ia = idx + 1
        else:
            ib = idx + 1
    return items, teams


def interleaving_winner(teams: Sequence[str], clicked: Sequence[bool]) -> int:
    """+1 if team A got more clicks, -1 if team B did, 0 on a tie."""
    if len(teams) != len(clicked):
        raise ValueError(f"teams ({len(teams)}) and clicked ({len(clicked)}) must match")
    a = sum(1 for t, c in zip(teams, clicked, strict=True) if c and t == "A")
    b = sum(1 for t, c in zip(teams, clicked, strict=True) if c and t == "B")
    return int(np.sign(a - b))
