"""Feature transforms for ranking and click models, one implementation per idea.

- :class:`TargetEncoder` / :func:`target_encode_oof`: the m-estimate of a category's target
  mean, ``(sum_y + m * prior) / (n + m)``, shrunk towards the prior by ``m`` pseudo-rows. The
  smoothing is the empirical-Bayes blend of Micci-Barreca (2001, SIGKDD Explorations 3(1),
  eq. 7 with ``lambda = n / (n + m)``); it is also scikit-learn's ``TargetEncoder(smooth=m)``.
  :func:`target_encode_oof` encodes each training row with statistics from the other folds only
  (cross-fitting), so no row sees its own label.
- :class:`Vocabulary`: category -> integer index for one-hot or embedding tables, with index 0
  reserved for unknown and rare values.
- :func:`feature_cross`: the key of a crossed feature (e.g. user x genre).
- :func:`hash_buckets`: the hashing trick through :func:`utils.experiment.stable_bucket`
  (SHA-256, identical in every process). :func:`buckets_in_fresh_process` runs a hash in a
  new interpreter to show that the built-in ``hash()`` of a ``str`` is salted per process
  unless ``PYTHONHASHSEED`` is fixed.
- :func:`expected_collisions` / :func:`measured_collisions`: for ``n`` distinct items hashed
  uniformly into ``m`` buckets, an item shares its bucket with at least one other item with
  probability ``1 - (1 - 1/m)^(n-1)``; ``m (1 - (1 - 1/m)^n)`` buckets are occupied on average,
  and ``n (n - 1) / (2 m)`` pairs collide on average.
- :func:`log1p_transform`, :func:`fit_clip_bounds` / :func:`clip_to_bounds`,
  :func:`fit_quantile_edges` / :func:`bucketize`: heavy-tail transforms, fitted on training
  data and applied unchanged at serving time.
- :func:`cyclical_encode`: ``(sin(2 pi v / P), cos(2 pi v / P))`` for a periodic value ``v``
  with period ``P`` (24 for hour of day, not 23).
- :func:`point_in_time_join`: each event gets the latest feature row of its entity whose time
  is strictly earlier (or, with ``strict=False``, not later): ``pandas.merge_asof`` with
  ``direction="backward"``.

Bad-input policy (every function):

- Unseen categories are never an error and never a NaN: :class:`TargetEncoder` maps them to the
  prior (the global target mean of the rows it was fitted on), :class:`Vocabulary` to the
  reserved index 0, hashing has no unseen values by construction, :func:`bucketize` puts values
  outside the training range into the first or last bucket, and :func:`point_in_time_join`
  fills events with no earlier feature row with an explicit ``fill_value``.
- Missing inputs are rejected: NaN or None among categories, NaN or infinite numbers, NaN
  join keys or times raise ``ValueError`` naming the argument. Impute upstream, on purpose.
- Arrays that must align (categories and labels, the columns of a cross) must have the same
  length, else ``ValueError`` naming both arguments. Empty inputs are rejected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from ._checks import check_positive_int
from .experiment import stable_bucket

__all__ = [
    "CollisionStats",
    "TargetEncoder",
    "Vocabulary",
    "bucketize",
    "buckets_in_fresh_process",
    "clip_to_bounds",
    "cyclical_encode",
    "expected_collisions",
    "feature_cross",
    "fit_clip_bounds",
    "fit_quantile_edges",
    "hash_buckets",
    "log1p_transform",
    "measured_collisions",
    "point_in_time_join",
    "target_encode_oof",
]


# --------------------------------------------------------------------------- input checks
def _categories(values: object, name: str) -> np.ndarray:
    """1-D array of hashable category values; rejects empty input, extra axes and missing values."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a 1-D sequence of categories, got {type(values).__name__}")
    if isinstance(values, np.ndarray):
        arr = values
    elif isinstance(values, pd.Series | pd.Index):
        arr = values.to_numpy()
    else:  # via pandas: np.asarray(["a", nan]) would turn the NaN into the string "nan"
        values = list(values)
        if values and isinstance(values[0], list | np.ndarray):
            arr = np.asarray(values)
        else:
            arr = pd.Series(values, dtype=None if values else object).to_numpy()
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if pd.isna(arr).any():
        raise ValueError(
            f"{name} contains NaN/None; map missing values to an explicit category first"
        )
    return arr


def _numbers(values: object, name: str) -> np.ndarray:
    """1-D float64 array; rejects empty input, non-numbers, NaN and infinities."""
    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _same_length(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{a_name} ({len(a)}) and {b_name} ({len(b)}) must have the same length")


def _non_negative(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return float(value)


# --------------------------------------------------------------------------- target encoding
class TargetEncoder:
    """Smoothed target-mean encoding of one categorical feature (m-estimate).

    ``encoding(c) = (sum of y over rows with category c + m * prior) / (n_c + m)``, where
    ``prior`` is the mean of ``y`` over the fitted rows (or the given value). ``m = 0`` is the
    raw per-category mean; larger ``m`` pulls rare categories towards the prior. This is
    Micci-Barreca's (2001) empirical-Bayes blend ``lambda(n) * mean_c + (1 - lambda(n)) * prior``
    with ``lambda(n) = n / (n + m)``. Unseen categories get ``prior``.

    Encoding the same rows the encoder was fitted on ("naive", in-sample) leaks each row's own
    label into its feature; use :func:`target_encode_oof` for training rows.
    """

    def __init__(self, m: float = 0.0) -> None:
        self.m = _non_negative(m, "m")

    def fit(self, categories: object, y: object, *, prior: float | None = None) -> TargetEncoder:
        cats = _categories(categories, "categories")
        yy = _numbers(y, "y")
        _same_length(cats, "categories", yy, "y")
        self.prior_ = float(yy.mean()) if prior is None else float(prior)
        if not np.isfinite(self.prior_):
            raise ValueError(f"prior must be finite, got {prior}")
        codes, uniques = pd.factorize(cats, sort=False)
        sums = np.bincount(codes, weights=yy)
        counts = np.bincount(codes).astype(np.float64)
        self.categories_ = pd.Index(uniques)
        self.counts_ = counts
        self.encoding_ = (sums + self.m * self.prior_) / (counts + self.m)
        return self

    def transform(self, categories: object) -> np.ndarray:
        """Encoded values (float64) for ``categories``; unseen categories get ``prior_``."""
        if not hasattr(self, "encoding_"):
            raise RuntimeError("TargetEncoder is not fitted; call fit() first")
        cats = _categories(categories, "categories")
        idx = self.categories_.get_indexer(cats)
        out = np.full(len(cats), self.prior_, dtype=np.float64)
        known = idx >= 0
        out[known] = self.encoding_[idx[known]]
        return out


def target_encode_oof(
    categories: object,
    y: object,
    *,
    m: float = 0.0,
    n_folds: int = 5,
    seed: int = 0,
    folds: object | None = None,
) -> np.ndarray:
    """Out-of-fold (cross-fitted) target encoding of training rows.

    Rows are split into ``n_folds`` folds (a seeded balanced random assignment, or the given
    ``folds``: one integer fold id per row, e.g. by time or by group). Each fold is encoded by a
    :class:`TargetEncoder` fitted on the other folds, with their mean as prior, so a row's
    feature never contains its own label. Validation, test and serving rows use one encoder
    fitted on all training rows: ``TargetEncoder(m).fit(categories, y).transform(new)``.
    """
    cats = _categories(categories, "categories")
    yy = _numbers(y, "y")
    _same_length(cats, "categories", yy, "y")
    n = len(cats)
    if folds is None:
        n_folds = check_positive_int(n_folds, "n_folds")
        if not 2 <= n_folds <= n:
            raise ValueError(f"n_folds must be in [2, {n}] (the number of rows), got {n_folds}")
        fold_id = np.random.default_rng(seed).permutation(n) % n_folds
    else:
        fold_id = np.asarray(folds)
        if fold_id.shape != (n,) or not np.issubdtype(fold_id.dtype, np.integer):
            raise ValueError(f"folds must be {n} integer fold ids (one per row)")
        if len(np.unique(fold_id)) < 2:
            raise ValueError("folds must contain at least 2 distinct fold ids")
    out = np.empty(n, dtype=np.float64)
    for k in np.unique(fold_id):
        held = fold_id == k
        enc = TargetEncoder(m).fit(cats[~held], yy[~held])
        out[held] = enc.transform(cats[held])
    return out


# --------------------------------------------------------------------------- vocabularies
class Vocabulary:
    """Category -> index in ``[0, len(vocab))`` for one-hot columns or embedding rows.

    Index 0 is reserved for unknown values: categories unseen at fit time or seen fewer than
    ``min_count`` times (rare ids share one learned "unknown" row rather than each getting a
    row trained on a handful of examples). Known categories get 1, 2, ... in order of
    decreasing count, ties broken by the value's string form, so the mapping is deterministic.
    """

    UNKNOWN = 0

    def __init__(self, min_count: int = 1) -> None:
        self.min_count = check_positive_int(min_count, "min_count")

    def fit(self, values: object) -> Vocabulary:
        vals = _categories(values, "values")
        counts = pd.Series(vals).value_counts(sort=False)
        counts = counts[counts >= self.min_count]
        order = sorted(
            zip(counts.index, counts.to_numpy(), strict=True), key=lambda t: (-t[1], str(t[0]))
        )
        self.index_ = pd.Index([v for v, _ in order])
        return self

    def __len__(self) -> int:
        if not hasattr(self, "index_"):
            raise RuntimeError("Vocabulary is not fitted; call fit() first")
        return len(self.index_) + 1

    def transform(self, values: object) -> np.ndarray:
        """int64 indices; unseen and rare values map to :attr:`UNKNOWN` (0)."""
        if not hasattr(self, "index_"):
            raise RuntimeError("Vocabulary is not fitted; call fit() first")
        idx = self.index_.get_indexer(_categories(values, "values"))
        return np.where(idx >= 0, idx + 1, self.UNKNOWN).astype(np.int64)


def feature_cross(*columns: object, sep: str = "|") -> np.ndarray:
    """Key of the crossed feature, e.g. ``feature_cross(user, genre) -> "17|Drama"``.

    A cross is a new categorical feature whose values are tuples; joining them into one string
    makes it hashable, encodable and loggable. ``sep`` must not occur in the values.
    """
    if len(columns) < 2:
        raise ValueError(f"feature_cross needs at least 2 columns, got {len(columns)}")
    cols = [_categories(c, f"columns[{i}]") for i, c in enumerate(columns)]
    for i, c in enumerate(cols[1:], start=1):
        _same_length(cols[0], "columns[0]", c, f"columns[{i}]")
    parts = [c.astype(str) for c in cols]
    for i, p in enumerate(parts):
        if np.char.find(p.astype(str), sep).max() >= 0:
            raise ValueError(f"columns[{i}] contains the separator {sep!r}; choose another sep")
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + sep + p.astype(object)
    return out


# --------------------------------------------------------------------------- hashing
def hash_buckets(values: object, n_buckets: int, *, salt: str) -> np.ndarray:
    """The hashing trick: bucket of each value in ``[0, n_buckets)``, stable across processes.

    Delegates to :func:`utils.experiment.stable_bucket` (SHA-256 of ``f"{salt}:{value}"``); use
    one salt per feature so two features' collisions are independent. Values are formatted with
    ``str``, so ``1`` and ``"1"`` share a bucket.
    """
    vals = _categories(values, "values")
    return stable_bucket(vals.tolist(), salt, n_buckets)


_CHILD_CODE = """
import json, sys
args = json.load(sys.stdin)
values, n = args["values"], args["n_buckets"]
if args["method"] == "builtin":
    out = [hash(v) % n for v in values]
else:
    from utils.experiment import stable_bucket
    out = stable_bucket(values, args["salt"], n).tolist()
json.dump(out, sys.stdout)
"""


def buckets_in_fresh_process(
    values: Sequence[str],
    n_buckets: int,
    *,
    hashseed: int | None,
    method: str = "builtin",
    salt: str = "demo",
) -> np.ndarray:
    """Buckets of ``values`` computed in a new Python interpreter.

    ``method="builtin"``: ``hash(v) % n_buckets``; ``str`` hashes are salted with a per-process
    random key unless ``PYTHONHASHSEED`` is set, so they differ between processes.
    ``method="stable"``: :func:`hash_buckets`' SHA-256, independent of the process.
    ``hashseed``: the child's ``PYTHONHASHSEED`` (0 disables randomisation); ``None`` removes the
    variable, giving a random salt, as in a default production process.
    """
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise TypeError("values must be a sequence of str (only str and bytes hashes are salted)")
    if len(values) == 0:
        raise ValueError("values must not be empty")
    n_buckets = check_positive_int(n_buckets, "n_buckets")
    if method not in ("builtin", "stable"):
        raise ValueError(f"unknown method {method!r}; expected one of builtin, stable")
    env = dict(os.environ)
    if hashseed is None:
        env.pop("PYTHONHASHSEED", None)
    else:
        if (
            isinstance(hashseed, bool)
            or not isinstance(hashseed, int)
            or not (0 <= hashseed <= 4_294_967_295)
        ):
            raise ValueError(f"hashseed must be None or an int in [0, 4294967295], got {hashseed}")
        env["PYTHONHASHSEED"] = str(hashseed)
    payload = json.dumps(
        {"values": list(values), "n_buckets": n_buckets, "method": method, "salt": salt}
    )
    done = subprocess.run(
        [sys.executable, "-c", _CHILD_CODE],
        input=payload,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child interpreter failed: {done.stderr.strip()[-500:]}")
    return np.asarray(json.loads(done.stdout), dtype=np.int64)


class CollisionStats(NamedTuple):
    """Collisions of ``n_items`` distinct items in ``n_buckets`` buckets.

    ``colliding_share``: share of items whose bucket holds at least one other item;
    ``occupied_buckets``: buckets holding at least one item (``n_items - occupied_buckets``
    items lose their own row); ``colliding_pairs``: pairs of items sharing a bucket.
    """

    n_items: int
    n_buckets: int
    colliding_share: float
    occupied_buckets: float
    colliding_pairs: float


def expected_collisions(n_items: int, n_buckets: int) -> CollisionStats:
    """Expected :class:`CollisionStats` under uniform, independent hashing.

    An item is alone if each of the other ``n - 1`` items misses its bucket, each with
    probability ``1 - 1/m``: ``P(alone) = (1 - 1/m)^(n-1)``, so
    ``colliding_share = 1 - (1 - 1/m)^(n-1)`` (about ``1 - exp(-n/m)``, not ``n/m``). A bucket
    is empty with probability ``(1 - 1/m)^n``, so ``E[occupied] = m (1 - (1 - 1/m)^n)``. Each of
    the ``n (n-1) / 2`` pairs collides with probability ``1/m``.
    """
    n = check_positive_int(n_items, "n_items")
    m = check_positive_int(n_buckets, "n_buckets")
    if m == 1:
        return CollisionStats(n, m, 1.0 if n > 1 else 0.0, 1.0, n * (n - 1) / 2)
    log_miss = np.log1p(-1.0 / m)  # log(1 - 1/m), accurate for huge m
    share = float(-np.expm1((n - 1) * log_miss))
    occupied = float(-m * np.expm1(n * log_miss))
    return CollisionStats(n, m, share, occupied, n * (n - 1) / (2 * m))


def measured_collisions(buckets: object, n_buckets: int) -> CollisionStats:
    """Observed :class:`CollisionStats` of one bucket id per **distinct** item."""
    b = np.asarray(buckets)
    if b.ndim != 1 or b.size == 0 or not np.issubdtype(b.dtype, np.integer):
        raise ValueError("buckets must be a non-empty 1-D array of integer bucket ids")
    m = check_positive_int(n_buckets, "n_buckets")
    if b.min() < 0 or b.max() >= m:
        raise ValueError(f"buckets must lie in [0, {m})")
    per_bucket = np.bincount(b, minlength=m)
    share = float(np.mean(per_bucket[b] > 1))
    pairs = float((per_bucket * (per_bucket - 1) // 2).sum())
    return CollisionStats(len(b), m, share, float((per_bucket > 0).sum()), pairs)


# --------------------------------------------------------------------------- heavy tails
def log1p_transform(x: object, name: str = "x") -> np.ndarray:
    """``log(1 + x)`` for counts, durations and prices (``x >= 0``): a multiplicative scale
    becomes additive, and a value 100x the training maximum moves the feature by only
    ``log(100) = 4.6``."""
    arr = _numbers(x, name)
    if arr.min() < 0:
        raise ValueError(f"{name} must be >= 0 for log1p, got min {arr.min()}")
    return np.log1p(arr)


def fit_clip_bounds(
    x: object, *, lower_q: float = 0.0, upper_q: float = 0.99
) -> tuple[float, float]:
    """Clip bounds ``(quantile(x, lower_q), quantile(x, upper_q))`` fitted on training data;
    store them with the model and apply the same bounds at serving time."""
    arr = _numbers(x, "x")
    if not 0 <= lower_q < upper_q <= 1:
        raise ValueError(f"need 0 <= lower_q < upper_q <= 1, got {lower_q}, {upper_q}")
    return float(np.quantile(arr, lower_q)), float(np.quantile(arr, upper_q))


def clip_to_bounds(x: object, bounds: tuple[float, float]) -> np.ndarray:
    """``x`` clipped to ``bounds = (low, high)`` (e.g. from :func:`fit_clip_bounds`)."""
    arr = _numbers(x, "x")
    if len(bounds) != 2 or not (np.isfinite(bounds[0]) and np.isfinite(bounds[1])):
        raise ValueError(f"bounds must be two finite numbers (low, high), got {bounds}")
    lo, hi = float(bounds[0]), float(bounds[1])
    if lo > hi:
        raise ValueError(f"bounds must satisfy low <= high, got {bounds}")
    return np.clip(arr, lo, hi)


def fit_quantile_edges(x: object, n_buckets: int) -> np.ndarray:
    """Interior edges of ``n_buckets`` equal-frequency buckets of the training values
    (duplicates dropped, so heavy ties give fewer buckets)."""
    arr = _numbers(x, "x")
    n_buckets = check_positive_int(n_buckets, "n_buckets")
    if n_buckets < 2:
        raise ValueError(f"n_buckets must be >= 2, got {n_buckets}")
    return np.unique(np.quantile(arr, np.linspace(0, 1, n_buckets + 1)[1:-1]))


def bucketize(x: object, edges: object) -> np.ndarray:
    """Bucket index in ``[0, len(edges)]``: bucket ``i`` holds ``edges[i-1] <= x < edges[i]``.
    Values beyond the training range fall into the first or last bucket."""
    arr = _numbers(x, "x")
    e = _numbers(edges, "edges")
    if np.any(np.diff(e) <= 0):
        raise ValueError("edges must be strictly increasing")
    return np.searchsorted(e, arr, side="right").astype(np.int64)


# --------------------------------------------------------------------------- cyclical time
def cyclical_encode(values: object, period: float) -> np.ndarray:
    """``(n, 2)`` array ``[sin(2 pi v / period), cos(2 pi v / period)]``.

    Values a full period apart coincide and neighbours across the wrap (23:00 and 00:00 with
    ``period=24``) are as close as any other neighbours. The period is the cycle length (24
    hours, 7 days, 12 months), not the largest value seen (23): with 23, hour 23 and hour 0
    become the same point.
    """
    v = _numbers(values, "values")
    if isinstance(period, bool) or not isinstance(period, int | float | np.integer | np.floating):
        raise TypeError(f"period must be a number, got {type(period).__name__}")
    if not (np.isfinite(period) and period > 0):
        raise ValueError(f"period must be finite and positive, got {period}")
    angle = 2.0 * np.pi * v / float(period)
    return np.column_stack([np.sin(angle), np.cos(angle)])


# --------------------------------------------------------------------------- point-in-time joins
def point_in_time_join(
    events: pd.DataFrame,
    features: pd.DataFrame,
    *,
    by: str,
    event_time: str,
    feature_time: str,
    fill_value: object | Mapping[str, object],
    strict: bool = True,
    tolerance: object | None = None,
) -> pd.DataFrame:
    """Attach to each event the latest ``features`` row of the same ``by`` key that was known
    before the event: time ``< event time`` (``strict=True``) or ``<=`` (``strict=False``).

    A thin wrapper of ``pandas.merge_asof(direction="backward")``, which needs both tables
    sorted by time: it sorts them and returns the events in their original order, with the
    feature columns (all of ``features`` except ``by`` and ``feature_time``) appended.
    ``merge_asof`` defaults to ``allow_exact_matches=True``, the ``<=`` join: a feature row
    written at the same timestamp as the label (often *from* that label) leaks it, hence the
    ``strict=True`` default. ``tolerance`` (e.g. a ``pd.Timedelta`` or a number of seconds)
    ignores feature rows older than that. Events with no eligible row get ``fill_value`` (a
    scalar, or a mapping column -> value covering every feature column).
    """
    for frame, fname in ((events, "events"), (features, "features")):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{fname} must be a pandas DataFrame, got {type(frame).__name__}")
        if len(frame) == 0:
            raise ValueError(f"{fname} must not be empty")
    for col, frame, fname in (
        (by, events, "events"),
        (event_time, events, "events"),
        (by, features, "features"),
        (feature_time, features, "features"),
    ):
        if col not in frame.columns:
            raise ValueError(f"column {col!r} is missing from {fname}")
        if frame[col].isna().any():
            raise ValueError(f"{fname}[{col!r}] contains NaN/None")
    value_cols = [c for c in features.columns if c not in (by, feature_time)]
    if not value_cols:
        raise ValueError("features has no value columns besides the key and the time")
    clash = sorted(set(value_cols) & set(events.columns))
    if clash:
        raise ValueError(f"features columns {clash} also exist in events; rename them first")
    if events[by].dtype != features[by].dtype:
        raise TypeError(
            f"events[{by!r}] ({events[by].dtype}) and features[{by!r}] ({features[by].dtype}) "
            "must share a dtype"
        )
    if events[event_time].dtype != features[feature_time].dtype:
        raise TypeError(
            f"events[{event_time!r}] ({events[event_time].dtype}) and "
            f"features[{feature_time!r}] ({features[feature_time].dtype}) must share a dtype"
        )
    if isinstance(fill_value, Mapping):
        missing = sorted(set(value_cols) - set(fill_value))
        if missing:
            raise ValueError(f"fill_value has no entry for feature columns {missing}")
        fills = {c: fill_value[c] for c in value_cols}
    else:
        fills = dict.fromkeys(value_cols, fill_value)

    row = "__pit_row__"
    left = events.assign(**{row: np.arange(len(events))}).sort_values(event_time, kind="stable")
    right_on = "__pit_time__"
    right = (
        features[[by, feature_time, *value_cols]]
        .rename(columns={feature_time: right_on})
        .sort_values(right_on, kind="stable")
    )
    merged = pd.merge_asof(
        left,
        right,
        left_on=event_time,
        right_on=right_on,
        by=by,
        direction="backward",
        allow_exact_matches=not strict,
        tolerance=tolerance,
    )
    merged = merged.sort_values(row).drop(columns=[row, right_on]).reset_index(drop=True)
    merged.index = events.index
    for c in value_cols:
        if merged[c].isna().any():
            merged[c] = merged[c].fillna(fills[c])
    return merged
