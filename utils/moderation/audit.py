"""Calibration and prevalence audits for moderation at low prevalence.

Calibration (a score of 0.8 means 80% of such items are harmful) is what turns a detector's
score into per-action decisions from costs; prevalence (the share of harmful items or views) is
what a platform reports and cannot read off its own detector. This module holds both:

- :func:`reliability`: the reliability table (mean predicted probability against the observed
  rate, per equal-width probability bin; rows optionally weighted, so that a re-weighted sample
  can stand for another prevalence) and :func:`expected_calibration_error`, the bin-weighted mean
  absolute gap between the two (Guo et al., 2017).
- :func:`crossfit_calibrate`: Platt scaling (a logistic regression on the score's log-odds;
  Platt, 1999) or isotonic regression (Zadrozny & Elkan, 2002) fitted on the *other* folds and
  applied to each fold, so no message is calibrated with its own label.
- :func:`shift_prior`: the prior-shift correction of a calibrated probability from the
  training prevalence ``pi`` to a deployment prevalence ``pi'``: the odds are multiplied by
  ``[pi' / (1 - pi')] / [pi / (1 - pi)]`` (Bayes' rule with the class-conditional score
  distributions unchanged; Saerens, Latinne & Decaestecker, 2002; Elkan, 2001).
- :func:`neyman_allocation`: split a review budget over strata in proportion to
  ``N_h * sqrt(q_h (1 - q_h))`` for guessed stratum rates ``q_h`` (Neyman, 1934), with a floor per
  stratum so that no stratum goes unaudited.
- :func:`stratified_prevalence`: the stratified estimate ``sum_h W_h k_h / n_h`` (``W_h = N_h /
  N``) with a ``"wald"`` interval (plug-in variance ``sum W_h^2 p_h (1 - p_h) / (n_h - 1)`` times
  the finite-population correction; zero for a stratum where nothing was found, so it trusts an
  empty stratum to be clean) or an ``"exact"`` interval: percentiles of ``sum_h W_h p_h`` with
  each stratum's ``p_h`` drawn from its Clopper-Pearson limit distributions (``Beta(k_h, n_h -
  k_h + 1)`` for the low end, 0 where nothing was found; ``Beta(k_h + 1, n_h - k_h)`` for the
  high end), independently per stratum: a stratum where nothing was found still contributes the
  harm it could hide. Conservative by construction.
- :func:`wald_interval`: the textbook normal interval ``p +- z sqrt(p (1 - p) / n)`` of a simple
  random sample, vectorised, for comparison (it collapses to a point when nothing is found).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._checks import check_choice, check_positive_int

__all__ = [
    "crossfit_calibrate",
    "expected_calibration_error",
    "neyman_allocation",
    "reliability",
    "shift_prior",
    "stratified_prevalence",
    "wald_interval",
]

_EPS = 1e-12


def _probs(p: object, name: str = "prob") -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any() or (arr > 1).any():
        raise ValueError(f"{name} must hold probabilities in [0, 1] (no NaN)")
    return arr


def _labels(y: object, n: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {arr.shape}")
    if not np.isin(arr, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    return arr.astype(int)


def _rate(v: object, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | np.floating) or not 0 < v < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {v!r}")
    return float(v)


def reliability(
    prob: object, labels: object, n_bins: int = 10, weights: object | None = None
) -> pd.DataFrame:
    """Per equal-width bin of ``prob`` over [0, 1]: ``lo``, ``hi``, ``weight`` (share of the total
    weight), ``mean_pred`` and ``observed`` (weighted positive rate). Empty bins are dropped."""
    p = _probs(prob)
    y = _labels(labels, p.size)
    n_bins = check_positive_int(n_bins, "n_bins")
    w = np.ones_like(p) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != p.shape or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative, one per item, not all zero")
    b = np.minimum((p * n_bins).astype(int), n_bins - 1)
    tot = np.bincount(b, weights=w, minlength=n_bins)
    keep = tot > 0
    pred = np.bincount(b, weights=w * p, minlength=n_bins)[keep] / tot[keep]
    obs = np.bincount(b, weights=w * y, minlength=n_bins)[keep] / tot[keep]
    edges = np.arange(n_bins + 1) / n_bins
    return pd.DataFrame(
        {
            "lo": edges[:-1][keep],
            "hi": edges[1:][keep],
            "weight": tot[keep] / tot.sum(),
            "mean_pred": pred,
            "observed": obs,
        }
    )


def expected_calibration_error(
    prob: object, labels: object, n_bins: int = 10, weights: object | None = None
) -> float:
    """``sum_b weight_b |mean_pred_b - observed_b|`` over the bins of :func:`reliability`."""
    t = reliability(prob, labels, n_bins, weights)
    return float((t["weight"] * (t["mean_pred"] - t["observed"]).abs()).sum())


def crossfit_calibrate(
    scores: object,
    labels: object,
    method: str = "platt",
    *,
    strata: object | None = None,
    n_splits: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Calibrated probabilities for every item, each from a calibrator fitted on the other
    folds (stratified K-fold by ``strata``, default the labels). ``method``: ``"platt"``
    (logistic regression on ``logit(score)``, clipped to [1e-6, 1 - 1e-6]) or ``"isotonic"``
    (monotone, clipped to the fitted range)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    s = _probs(scores, "scores")
    y = _labels(labels, s.size)
    method = check_choice(method, "method", ("platt", "isotonic"))
    n_splits = check_positive_int(n_splits, "n_splits")
    if n_splits < 2:
        raise ValueError("n_splits must be at least 2")
    if y.min() == y.max():
        raise ValueError("labels must hold both classes")
    g = y if strata is None else np.asarray(strata)
    if g.shape != s.shape:
        raise ValueError(f"strata must have shape {s.shape}, got {g.shape}")
    x = np.clip(s, 1e-6, 1 - 1e-6)
    z = np.log(x / (1 - x))
    out = np.empty_like(s)
    for fit, apply in StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(z, g):
        if method == "platt":
            lr = LogisticRegression(C=1e6, max_iter=1000).fit(z[fit, None], y[fit])
            out[apply] = lr.predict_proba(z[apply, None])[:, 1]
        else:
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            out[apply] = iso.fit(z[fit], y[fit]).predict(z[apply])
    return out


def shift_prior(prob: object, from_prevalence: float, to_prevalence: float) -> np.ndarray:
    """Re-express probabilities calibrated at ``from_prevalence`` for ``to_prevalence``:
    ``odds' = odds * [to / (1 - to)] / [from / (1 - from)]``. Exact when only the class prior
    changes (the score distribution within each class stays the same)."""
    p = np.asarray(prob, dtype=float)
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("prob must hold probabilities in [0, 1] (no NaN)")
    a, b = _rate(from_prevalence, "from_prevalence"), _rate(to_prevalence, "to_prevalence")
    r = (b / (1 - b)) / (a / (1 - a))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = r * p / (r * p + (1 - p))
    return np.where(p >= 1, 1.0, np.where(p <= 0, 0.0, out))


def neyman_allocation(
    stratum_sizes: object, rate_guess: object, budget: int, min_per_stratum: int = 1
) -> np.ndarray:
    """Integer sample sizes summing to ``budget``: ``min_per_stratum`` each, the rest in
    proportion to ``N_h sqrt(q_h (1 - q_h))`` (largest remainders), never above ``N_h``."""
    N = np.asarray(stratum_sizes)
    q = np.asarray(rate_guess, dtype=float)
    if N.ndim != 1 or N.size == 0 or q.shape != N.shape:
        raise ValueError("stratum_sizes and rate_guess must be 1-D of the same non-zero length")
    if not np.issubdtype(N.dtype, np.integer) or (N <= 0).any():
        raise ValueError("stratum_sizes must be positive integers")
    if not np.isfinite(q).all() or (q < 0).any() or (q > 1).any():
        raise ValueError("rate_guess must hold rates in [0, 1]")
    budget = check_positive_int(budget, "budget")
    if isinstance(min_per_stratum, bool) or not isinstance(min_per_stratum, int | np.integer):
        raise TypeError("min_per_stratum must be an int")
    if min_per_stratum < 0 or min_per_stratum * N.size > budget:
        raise ValueError(f"min_per_stratum * strata must be in [0, budget], got {min_per_stratum}")
    if budget > N.sum():
        raise ValueError(f"budget {budget} exceeds the population {int(N.sum())}")
    base = np.minimum(np.full(N.size, min_per_stratum), N)
    w = N * np.sqrt(q * (1 - q)) + _EPS * N  # all-zero guesses fall back to proportional
    n = base.astype(float)
    active = N > base
    left = float(budget - base.sum())
    while left > 1e-9 and active.any():
        share = np.where(active, w, 0.0)
        add = left * share / share.sum()
        over = n + add > N
        if over.any():  # cap the strata that would exceed their size, then share the rest again
            n[over] = N[over]
            active &= ~over
            left = float(budget - n.sum())
            continue
        n += add
        left = 0.0
    n_int = np.floor(n + 1e-9).astype(int)
    short = budget - int(n_int.sum())
    order = np.argsort(-(n - n_int) - 2.0 * (n_int < N))  # largest remainders, strata with room
    for i in order[:short]:
        n_int[i] += 1
    return n_int


def stratified_prevalence(
    found: object,
    sampled: object,
    stratum_sizes: object,
    *,
    interval: str = "exact",
    level: float = 0.95,
    n_draws: int = 2000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate, low and high of the stratified prevalence for one audit (``found`` of shape
    ``(H,)``) or many (``(A, H)``): ``found[..., h]`` positives among ``sampled[h]`` reviewed
    items of stratum ``h`` of size ``stratum_sizes[h]``. See the module docstring for the two
    interval kinds."""
    k = np.asarray(found)
    n = np.asarray(sampled)
    N = np.asarray(stratum_sizes)
    interval = check_choice(interval, "interval", ("wald", "exact"))
    if N.ndim != 1 or n.shape != N.shape or k.shape[-1:] != N.shape or k.ndim not in (1, 2):
        raise ValueError("found must be (H,) or (A, H); sampled and stratum_sizes (H,)")
    for arr, name in ((k, "found"), (n, "sampled"), (N, "stratum_sizes")):
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name} must hold integers")
    if (n < 2).any() or (n > N).any() or (k < 0).any() or (k > n).any():
        raise ValueError("need 2 <= sampled <= stratum_sizes and 0 <= found <= sampled")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    one = k.ndim == 1
    k2 = np.atleast_2d(k).astype(float)
    W = N / N.sum()
    p = k2 / n
    est = (W * p).sum(axis=1)
    if interval == "wald":
        from scipy.stats import norm

        fpc = 1 - n / N
        var = (W**2 * p * (1 - p) / (n - 1) * fpc).sum(axis=1)
        half = norm.ppf(0.5 + level / 2) * np.sqrt(var)
        lo, hi = np.maximum(est - half, 0.0), np.minimum(est + half, 1.0)
    else:
        n_draws = check_positive_int(n_draws, "n_draws")
        rng = np.random.default_rng(seed)
        shape = (k2.shape[0], n_draws, N.size)
        kk, rest = k2[:, None, :], (n - k2)[:, None, :]
        q_lo, q_hi = (1 - level) / 2, (1 + level) / 2
        # Clopper-Pearson's two beta limits per stratum, summed by simulation
        low_d = np.where(kk > 0, rng.beta(np.maximum(kk, 1e-9), rest + 1, size=shape), 0.0)
        high_d = np.where(rest > 0, rng.beta(kk + 1, np.maximum(rest, 1e-9), size=shape), 1.0)
        lo = np.quantile((low_d * W).sum(axis=2), q_lo, axis=1)
        hi = np.quantile((high_d * W).sum(axis=2), q_hi, axis=1)
    if one:
        return est[0], lo[0], hi[0]
    return est, lo, hi


def wald_interval(found: object, sampled: int, z: float = 1.959964) -> tuple[np.ndarray, ...]:
    """``(p, low, high)`` with ``p = found / sampled`` and ``p +- z sqrt(p (1 - p) / sampled)``
    clipped to [0, 1]; ``found`` may be an array of counts (one per audit)."""
    k = np.asarray(found)
    if not np.issubdtype(k.dtype, np.integer):
        raise TypeError("found must hold integers")
    sampled = check_positive_int(sampled, "sampled")
    if (k < 0).any() or (k > sampled).any():
        raise ValueError("need 0 <= found <= sampled")
    p = k / sampled
    half = z * np.sqrt(p * (1 - p) / sampled)
    return p, np.maximum(p - half, 0.0), np.minimum(p + half, 1.0)
