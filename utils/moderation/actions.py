"""Actions on flagged content, and the thresholds that minimise expected cost.

A harmful-content system does not output a label; it takes an action: remove the item, send it
to human review, or allow it (demotion and warnings are further actions with their own costs,
left out here). With a *calibrated* probability ``p`` that an item is harmful (chapter 07: scores
calibrated on held-out folds and corrected for the deployment prevalence) and costs

- ``false_removal``: removing a legitimate item (silenced speech, an appeal, lost trust),
- ``miss``: leaving a harmful item up (the exposure it causes),
- ``review``: one human decision (assumed correct),

the expected costs are ``(1 - p) * false_removal`` to remove, ``p * miss`` to allow and
``review`` to review. The cheapest action is therefore *allow* below ``t_allow = review / miss``,
*remove* at or above ``t_remove = 1 - review / false_removal``, and *review* in between, provided
``t_allow < t_remove``; otherwise reviewing never pays and the single threshold
``t_single = false_removal / (false_removal + miss)`` separates allow from remove.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ACTIONS", "cost_thresholds", "decide", "policy_cost"]

#: The actions this module knows, in order of severity.
ACTIONS = ("remove", "review", "allow")


def _cost(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return float(value)


def cost_thresholds(false_removal: float, miss: float, review: float) -> dict[str, float | bool]:
    """``{t_allow, t_remove, t_single, review_pays}`` for the costs above (module docstring).
    When ``review_pays`` is false, :func:`decide` uses ``t_single`` and never reviews."""
    fr, m, r = _cost(false_removal, "false_removal"), _cost(miss, "miss"), _cost(review, "review")
    t_allow, t_remove = r / m, 1.0 - r / fr
    return {
        "t_allow": t_allow,
        "t_remove": t_remove,
        "t_single": fr / (fr + m),
        "review_pays": bool(t_allow < t_remove),
    }


def decide(prob: object, thresholds: dict[str, float | bool]) -> np.ndarray:
    """The action for each calibrated probability in ``prob`` under ``thresholds`` (from
    :func:`cost_thresholds`): an array of strings from :data:`ACTIONS`."""
    p = np.asarray(prob, dtype=float)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"prob must be a non-empty 1-D array, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("prob must hold probabilities in [0, 1]")
    missing = {"t_allow", "t_remove", "t_single", "review_pays"} - set(thresholds)
    if missing:
        raise ValueError(f"thresholds is missing {sorted(missing)} (use cost_thresholds)")
    if not thresholds["review_pays"]:
        return np.where(p >= thresholds["t_single"], "remove", "allow")
    review_or_allow = np.where(p >= thresholds["t_allow"], "review", "allow")
    return np.where(p >= thresholds["t_remove"], "remove", review_or_allow)


def policy_cost(
    actions: object, harmful: object, *, false_removal: float, miss: float, review: float
) -> dict[str, float]:
    """Counts and total cost of taking ``actions`` (strings from :data:`ACTIONS`, one per item)
    on items whose truth is ``harmful`` (0/1), with reviewers assumed correct:
    ``{false_removals, missed, reviews, removed, cost}``. An action outside :data:`ACTIONS`
    raises a ``ValueError`` that names it."""
    a = np.asarray(actions, dtype=object)
    h = np.asarray(harmful)
    if a.ndim != 1 or a.shape != h.shape or a.size == 0:
        raise ValueError(
            f"actions and harmful must be non-empty 1-D arrays of one length, got {a.shape} "
            f"and {h.shape}"
        )
    unknown = sorted({str(x) for x in a} - set(ACTIONS))
    if unknown:
        raise ValueError(f"actions holds unknown action(s) {unknown}; known: {', '.join(ACTIONS)}")
    if not np.isin(h, (0, 1)).all():
        raise ValueError("harmful must be 0 or 1 for every item")
    h = h.astype(bool)
    fr, m, r = _cost(false_removal, "false_removal"), _cost(miss, "miss"), _cost(review, "review")
    out = {
        "false_removals": float(((a == "remove") & ~h).sum()),
        "missed": float(((a == "allow") & h).sum()),
        "reviews": float((a == "review").sum()),
        "removed": float((a == "remove").sum()),
    }
    out["cost"] = out["false_removals"] * fr + out["missed"] * m + out["reviews"] * r
    return out
