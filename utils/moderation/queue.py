"""A day of content moderation with a capacity-limited human review queue (discrete events).

The model (every assumption is a parameter or stated here):

- **Arrivals.** Item ``i`` is posted at ``arrivals[i]`` seconds into a day of ``horizon_s``
  seconds and is scored on arrival (no model latency). :func:`diurnal_arrivals` draws such times
  from a Poisson process whose rate follows a cosine over the day (by thinning, Lewis & Shedler
  1979), but any array of seconds in ``[0, horizon_s)`` will do.
- **Actions.** ``score >= t_remove``: removed at once; ``t_review <= score < t_remove``: the item
  stays up and joins the review queue; otherwise it is allowed and never looked at again.
- **Reviewers.** ``n_reviewers`` people (a number, ``math.inf`` for unlimited capacity, or one
  count per hour for shifts). A free reviewer takes the next item from the queue: ``"fifo"`` (the
  oldest) or ``"score"`` (the highest score, ties by age). Handling times are lognormal with mean
  ``mean_handling_s`` and log-space spread ``handling_sigma``; a reviewer decides correctly with
  probability ``reviewer_accuracy`` (remove if harmful, allow if benign). Handling times and
  decision coins are drawn per item up front, so two disciplines see the same random numbers.
  No pre-emption: a shift ending lets reviewers finish the item in hand (their overtime counts
  as available time, so utilisation stays <= 1). Work not finished by ``horizon_s`` is pending.
- **Views.** An item gathers views at ``views_per_hour`` (a number or one per item), halving every
  ``view_half_life_s`` of age if given, from arrival until it is removed or the day ends.
  Views are expected values (not sampled), so exposure varies only through the queue.

Exposure is the number of views harmful items get while up: the harm the design tries to cut.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "DISCIPLINES",
    "OUTCOMES",
    "ModerationDay",
    "diurnal_arrivals",
    "simulate_moderation_day",
]

DISCIPLINES = ("fifo", "score")
OUTCOMES = ("auto_removed", "review_removed", "review_allowed", "pending", "auto_allowed")
DAY_S = 86_400.0


def diurnal_arrivals(
    mean_per_hour: float,
    *,
    amplitude: float = 0.5,
    peak_hour: float = 20.0,
    horizon_s: float = DAY_S,
    seed: int = 0,
) -> np.ndarray:
    """Sorted arrival seconds of a Poisson process with rate
    ``mean_per_hour * (1 + amplitude * cos(2 pi (hour - peak_hour) / 24))`` per hour, by thinning
    a homogeneous process at the peak rate."""
    if not (mean_per_hour > 0 and 0 <= amplitude <= 1 and horizon_s > 0):
        raise ValueError(
            f"need mean_per_hour > 0, 0 <= amplitude <= 1, horizon_s > 0; got {mean_per_hour}, "
            f"{amplitude}, {horizon_s}"
        )
    rng = np.random.default_rng(seed)
    peak = mean_per_hour * (1 + amplitude) / 3600.0
    t = rng.uniform(0, horizon_s, rng.poisson(peak * horizon_s))
    rate = (
        mean_per_hour / 3600.0 * (1 + amplitude * np.cos(2 * np.pi * (t / 3600 - peak_hour) / 24))
    )
    return np.sort(t[rng.random(t.size) < rate / peak])


@dataclass(frozen=True)
class ModerationDay:
    """The outcome of :func:`simulate_moderation_day`.

    ``items``: one row per item (``arrival_s, harmful, score, route, handling_s, review_start_s,
    decided_s, wait_s, outcome, removed, views``); ``outcome`` is exactly one of :data:`OUTCOMES`.
    ``queue``: ``time_s, queue_length, busy`` after every change (step function from each row on).
    """

    items: pd.DataFrame
    queue: pd.DataFrame
    harmful_exposure: float  # views of harmful items while up
    harmful_outcome_share: dict[str, float]  # share of harmful items ending in each outcome
    false_removals: int  # benign items removed (by the model or a reviewer)
    utilisation: float  # busy reviewer-seconds / available reviewer-seconds (NaN if unlimited)
    wait_percentiles_s: dict[str, float] = field(default_factory=dict)  # p50/p90/p99, started
    never_reviewed: int = 0  # routed to review, no decision by the end of the day

    def summary(self) -> dict[str, float]:
        """The scalar results in one flat dict (for a table or ``glue``)."""
        out = {"harmful_exposure": self.harmful_exposure, "false_removals": self.false_removals}
        out |= {f"harmful_share_{k}": v for k, v in self.harmful_outcome_share.items()}
        out |= {"utilisation": self.utilisation, "never_reviewed": self.never_reviewed}
        return out | {f"wait_{k}_s": v for k, v in self.wait_percentiles_s.items()}


def _views(age_s: np.ndarray, per_hour: np.ndarray, half_life_s: float | None) -> np.ndarray:
    """Integral of ``per_hour / 3600 * 2 ** (-a / half_life_s)`` over ages ``a`` in ``[0, age_s]``
    (no decay: ``per_hour * age_s / 3600``)."""
    if half_life_s is None:
        return per_hour * age_s / 3600.0
    return per_hour / 3600.0 * half_life_s / math.log(2) * (1 - np.exp2(-age_s / half_life_s))


def _staffing(n_reviewers: object, horizon_s: float) -> np.ndarray:
    hours = max(1, math.ceil(horizon_s / 3600.0))
    if isinstance(n_reviewers, Sequence | np.ndarray) and not isinstance(n_reviewers, str):
        staff = np.asarray(n_reviewers, dtype=float)
        if staff.shape != (hours,):
            raise ValueError(f"n_reviewers per hour must have {hours} entries, got {staff.shape}")
    elif isinstance(n_reviewers, int | float) and not isinstance(n_reviewers, bool):
        staff = np.full(hours, float(n_reviewers))
    else:
        raise TypeError(f"n_reviewers must be a number or one count per hour, got {n_reviewers!r}")
    if np.isnan(staff).any() or (staff < 0).any() or (staff[np.isfinite(staff)] % 1 != 0).any():
        raise ValueError(f"n_reviewers must be whole numbers >= 0 (or math.inf), got {n_reviewers}")
    return staff


def simulate_moderation_day(
    arrivals: object,
    harmful: object,
    scores: object,
    *,
    t_remove: float,
    t_review: float,
    n_reviewers: int | float | Sequence[int],
    discipline: str = "fifo",
    mean_handling_s: float = 60.0,
    handling_sigma: float = 0.5,
    reviewer_accuracy: float = 1.0,
    views_per_hour: float | Sequence[float] = 10.0,
    view_half_life_s: float | None = None,
    horizon_s: float = DAY_S,
    seed: int = 0,
) -> ModerationDay:
    """Simulate one day (see the module docstring for the model). Events (completion, shift
    change, arrival, in that order at equal times) sit on a ``heapq`` by time; the waiting items
    sit on a second heap keyed by ``(arrival, i)`` for ``"fifo"`` or ``(-score, arrival, i)``."""
    t_arr = np.asarray(arrivals, dtype=float)
    y, s = np.asarray(harmful), np.asarray(scores, dtype=float)
    if t_arr.ndim != 1 or t_arr.size == 0 or y.shape != t_arr.shape or s.shape != t_arr.shape:
        raise ValueError(
            "arrivals, harmful and scores must be non-empty 1-D of one length, got "
            f"{t_arr.shape}, {y.shape}, {s.shape}"
        )
    if not horizon_s > 0:
        raise ValueError(f"horizon_s must be > 0, got {horizon_s}")
    if not (np.isfinite(t_arr).all() and (t_arr >= 0).all() and (t_arr < horizon_s).all()):
        raise ValueError(f"arrivals must be finite seconds in [0, horizon_s={horizon_s})")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite (no NaN or inf)")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("harmful must be 0 (benign) or 1 (harmful)")
    if not t_review <= t_remove:
        raise ValueError(f"need t_review <= t_remove, got t_review={t_review}, t_remove={t_remove}")
    if discipline not in DISCIPLINES:
        raise ValueError(f"discipline must be one of {DISCIPLINES}, got {discipline!r}")
    if not (mean_handling_s > 0 and handling_sigma >= 0 and 0 <= reviewer_accuracy <= 1):
        raise ValueError(
            "need mean_handling_s > 0, handling_sigma >= 0, 0 <= reviewer_accuracy <= 1; got "
            f"{mean_handling_s}, {handling_sigma}, {reviewer_accuracy}"
        )
    if view_half_life_s is not None and not view_half_life_s > 0:
        raise ValueError(f"view_half_life_s must be > 0 or None, got {view_half_life_s}")
    vph = np.broadcast_to(np.asarray(views_per_hour, dtype=float), t_arr.shape)
    if not (np.isfinite(vph).all() and (vph >= 0).all()):
        raise ValueError("views_per_hour must be finite and >= 0 (a number or one per item)")
    staff = _staffing(n_reviewers, horizon_s)
    y = y.astype(bool)
    n = t_arr.size

    rng = np.random.default_rng(seed)
    mu = math.log(mean_handling_s) - handling_sigma**2 / 2  # lognormal mean = mean_handling_s
    handling = rng.lognormal(mu, handling_sigma, n)
    remove_if_reviewed = np.where(rng.random(n) < reviewer_accuracy, y, ~y)
    route = np.where(s >= t_remove, "remove", np.where(s >= t_review, "review", "allow"))
    review = np.flatnonzero(route == "review")

    events = [(float(t_arr[i]), 2, int(i)) for i in review]
    events += [(3600.0 * h, 1, -1) for h in range(1, staff.size) if staff[h] != staff[h - 1]]
    heapq.heapify(events)
    waiting: list[tuple] = []
    start, done = np.full(n, np.nan), np.full(n, np.nan)
    cap, busy, last, busy_area, avail_area = float(staff[0]), 0, 0.0, 0.0, 0.0
    log = [(0.0, 0, 0)]
    while events and events[0][0] <= horizon_s:
        t, kind, i = heapq.heappop(events)
        busy_area, avail_area = (
            busy_area + busy * (t - last),
            avail_area + max(cap, busy) * (t - last),
        )
        last = t
        if kind == 0:
            busy, done[i] = busy - 1, t
        elif kind == 1:
            cap = float(staff[min(int(t // 3600), staff.size - 1)])
        else:
            key = (t_arr[i], i) if discipline == "fifo" else (-s[i], t_arr[i], i)
            heapq.heappush(waiting, key)
        while waiting and busy < cap:
            j = heapq.heappop(waiting)[-1]
            start[j], busy = t, busy + 1
            heapq.heappush(events, (t + float(handling[j]), 0, j))
        if (len(waiting), busy) != log[-1][1:]:
            log.append((t, len(waiting), busy))
    busy_area += busy * (horizon_s - last)
    avail_area += max(cap, busy) * (horizon_s - last)

    decided = np.isfinite(done)
    removed = (route == "remove") | (decided & remove_if_reviewed)
    outcome = np.select(
        [route == "remove", route == "allow", decided & remove_if_reviewed, decided],
        ["auto_removed", "auto_allowed", "review_removed", "review_allowed"],
        "pending",
    )
    end = np.where(route == "remove", t_arr, np.where(removed, done, horizon_s))
    views = _views(end - t_arr, vph, view_half_life_s)
    in_review = route == "review"
    items = pd.DataFrame(
        {
            "arrival_s": t_arr,
            "harmful": y,
            "score": s,
            "route": route,
            "handling_s": np.where(in_review, handling, np.nan),
            "review_start_s": start,
            "decided_s": done,
            "wait_s": start - t_arr,
            "outcome": outcome,
            "removed": removed,
            "views": views,
        }
    )
    waits = items["wait_s"].dropna().to_numpy()
    pct = {
        f"p{q}": float(np.percentile(waits, q)) if waits.size else math.nan for q in (50, 90, 99)
    }
    share = {k: float((outcome[y] == k).mean()) if y.any() else math.nan for k in OUTCOMES}
    return ModerationDay(
        items=items,
        queue=pd.DataFrame(log, columns=["time_s", "queue_length", "busy"]),
        harmful_exposure=float(views[y].sum()),
        harmful_outcome_share=share,
        false_removals=int((removed & ~y).sum()),
        utilisation=busy_area / avail_area if 0 < avail_area < math.inf else math.nan,
        wait_percentiles_s=pct,
        never_reviewed=int((in_review & ~decided).sum()),
    )
