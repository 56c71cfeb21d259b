"""Argument validation shared by every module: one clear error, naming the argument."""

from __future__ import annotations

import numpy as np


def as_matrix(x: object, name: str, *, dim: int | None = None, dtype=np.float32) -> np.ndarray:
    """Return ``x`` as a C-contiguous 2-D float array, or raise naming ``name``.

    Rejects non-numeric input, the wrong number of axes, empty arrays, a second axis other than
    ``dim`` (when given) and NaN or infinite values.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be array-like of numbers: {exc}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns to match the index, got {arr.shape[1]}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_k(k: object, n: int, name: str = "k", what: str = "the corpus") -> int:
    """Validate a neighbour count: an int with 1 <= k <= n."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(k).__name__}")
    if k <= 0:
        raise ValueError(f"{name} must be positive, got {k}")
    if k > n:
        raise ValueError(f"{name}={k} is larger than {what} ({n} items)")
    return int(k)


def check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


def check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(choices)}")
    return str(value)
