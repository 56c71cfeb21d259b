"""Shot boundaries and keyframes: a colour-histogram cut detector and its ground truth.

A *hard cut* changes the whole picture between two frames, so the colour distribution jumps;
motion inside a shot moves pixels but changes the histogram much less. :func:`histogram_distances`
gives, for each pair of consecutive frames, the total-variation distance between their
per-channel colour histograms (``0.5 * sum |h_t - h_{t+1}|``, in [0, 1]);
:func:`detect_cuts` reports frame ``t + 1`` as the first frame of a new shot where that distance
exceeds ``threshold``, keeping at most one cut within ``min_gap`` frames (the largest). This is
the classic baseline (Zhang, Kankanhalli & Smoliar, 1993); gradual transitions (fades,
dissolves) spread the change over many frames and need a windowed or learned detector
(TransNet V2, Souček & Lokoč, 2020).

``BIKES_CUTS`` is the ground truth for ``bikes.mp4`` (250 frames at 25 fps): the first frame of
each new shot, labelled by eye once from strips of the frames on each side of every candidate
(2026-12-05): five hard cuts, no gradual transition. A passing car around frames 95-101 is
motion inside a shot, the detector's natural false positive.

:func:`boundary_scores` matches predicted to true cuts within ``tolerance`` frames (one-to-one)
and returns precision and recall; :func:`keyframes` picks one frame per shot (its middle) and
:func:`sample_every` samples at a fixed interval, the two ways to feed frames to an encoder.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_positive_int

__all__ = [
    "BIKES_CUTS",
    "boundary_scores",
    "detect_cuts",
    "histogram_distances",
    "keyframes",
    "sample_every",
    "shots_from_cuts",
]

BIKES_CUTS = (30, 76, 137, 187, 242)


def _check_frames(frames: object) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (n, H, W, 3) RGB, got {arr.dtype} {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"frames must hold at least 2 frames, got {arr.shape[0]}")
    return arr


def histogram_distances(frames: object, bins: int = 16) -> np.ndarray:
    """Total-variation distance between consecutive frames' colour histograms, shape (n - 1,)."""
    X = _check_frames(frames)
    bins = check_positive_int(bins, "bins")
    q = (X.astype(np.int64) * bins) // 256  # bin index per channel
    n, pixels = X.shape[0], X.shape[1] * X.shape[2]
    H = np.zeros((n, 3 * bins))
    for c in range(3):
        flat = q[..., c].reshape(n, -1) + np.arange(n)[:, None] * bins
        H[:, c * bins : (c + 1) * bins] = np.bincount(flat.ravel(), minlength=n * bins).reshape(
            n, bins
        )
    H /= 3 * pixels
    return 0.5 * np.abs(np.diff(H, axis=0)).sum(axis=1)


def detect_cuts(distances: object, threshold: float = 0.15, min_gap: int = 5) -> np.ndarray:
    """First frames of new shots: ``t + 1`` where ``distances[t] > threshold``, at most one per
    ``min_gap`` frames (the largest distance wins)."""
    d = np.asarray(distances, dtype=float)
    if d.ndim != 1 or not np.isfinite(d).all():
        raise ValueError("distances must be a 1-D array of finite numbers")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold < 0:
        raise ValueError(f"threshold must be a number >= 0, got {threshold!r}")
    min_gap = check_positive_int(min_gap, "min_gap")
    picked: list[int] = []
    for t in np.argsort(-d, kind="stable"):
        if d[t] <= threshold:
            break
        if all(abs(int(t) - p) >= min_gap for p in picked):
            picked.append(int(t))
    return np.array(sorted(p + 1 for p in picked), dtype=np.int64)


def boundary_scores(predicted: object, truth: object, tolerance: int = 1) -> dict[str, float]:
    """Precision, recall and F1 of predicted cuts against true cuts, each true cut matched to
    at most one prediction within ``tolerance`` frames (greedy by distance)."""
    pred = np.asarray(predicted, dtype=np.int64).ravel()
    true = np.asarray(truth, dtype=np.int64).ravel()
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 0:
        raise ValueError(f"tolerance must be an int >= 0, got {tolerance!r}")
    pairs = sorted(
        (abs(int(p) - int(t)), i, j)
        for i, p in enumerate(pred)
        for j, t in enumerate(true)
        if abs(int(p) - int(t)) <= tolerance
    )
    used_p, used_t = set(), set()
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    tp = len(used_p)
    precision = tp / len(pred) if len(pred) else 1.0
    recall = tp / len(true) if len(true) else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_positives": float(tp)}


def shots_from_cuts(cuts: object, n_frames: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` half-open frame ranges of the shots that ``cuts`` delimit."""
    n_frames = check_positive_int(n_frames, "n_frames")
    c = sorted({int(x) for x in np.asarray(cuts).ravel() if 0 < int(x) < n_frames})
    bounds = [0, *c, n_frames]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def keyframes(cuts: object, n_frames: int) -> np.ndarray:
    """One frame per shot, its middle frame."""
    return np.array([(s + e - 1) // 2 for s, e in shots_from_cuts(cuts, n_frames)], np.int64)


def sample_every(n_frames: int, fps: float, seconds: float) -> np.ndarray:
    """Frame indices at a fixed interval of ``seconds`` (the first frame included)."""
    n_frames = check_positive_int(n_frames, "n_frames")
    if not (isinstance(fps, int | float) and fps > 0 and np.isfinite(fps)):
        raise ValueError(f"fps must be a finite number > 0, got {fps!r}")
    if not (isinstance(seconds, int | float) and seconds > 0):
        raise ValueError(f"seconds must be a number > 0, got {seconds!r}")
    step = max(1, round(seconds * fps))
    return np.arange(0, n_frames, step, dtype=np.int64)
