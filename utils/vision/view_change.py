"""A same-object, different-view retrieval benchmark cut from a real rectified stereo pair.

Copy detection matches edits of *one* picture; a view change is *another* picture of the same
object. The scikit-image ``stereo_motorcycle`` pair (Middlebury 2014, Scharstein et al., GCPR
2014; bundled with scikit-image, nothing downloads) gives such a positive with ground truth: the
two views are rectified, so the region at column ``x`` of the left view sits at column
``x - d(y, x)`` of the same row in the right view, with ``d`` the ground-truth disparity. ``d``
changes with depth (the motorcycle is nearer than the shelves behind it), so no single shift
aligns the views: every region moves by its own amount (parallax), and near depth edges one view
shows what the other hides.

- :func:`load_stereo_pair`: the two views as float32 (H, W, 3) in [0, 1] and the disparity map in
  pixels (NaN where the benchmark has no ground truth), optionally resized so that the short side
  is ``short_side`` (disparities scale with the image).
- :func:`view_queries`: square windows of the left view on a grid (the queries), each with the
  top-left corner of its corresponding window in the right view (shifted by the window's median
  disparity) and that right-view window itself (a *same-view control*: the same region, cut from
  the other photo at exactly the corresponding place).
- :func:`grid_windows` (:func:`utils.data.photos.grid_windows`, re-exported): every
  ``size x size`` window of an image on a ``stride`` grid (the right view as an index, sparse or
  dense; the copy gallery's :func:`~utils.data.photos.photo_tiles` is the same tiling).
- :func:`window_iou` and :func:`view_positives`: which indexed windows count as a correct match,
  by intersection over union with the true corresponding window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_positive_int
from ..data.photos import grid_windows

__all__ = [
    "StereoPair",
    "ViewQueries",
    "grid_windows",
    "load_stereo_pair",
    "view_positives",
    "view_queries",
    "window_iou",
]


@dataclass(frozen=True)
class StereoPair:
    """Two rectified views and the left view's disparity: ``left[y, x]`` shows the same scene
    point as ``right[y, x - disparity[y, x]]``. ``scale`` is the resize factor from the bundled
    500 x 741 images (1.0 when not resized)."""

    left: np.ndarray
    right: np.ndarray
    disparity: np.ndarray
    scale: float


@dataclass(frozen=True)
class ViewQueries:
    """Left-view query windows and where their regions are in the right view.

    ``left``: (n, s, s, 3) query windows; ``control``: (n, s, s, 3) the right view's windows at
    the corresponding place; ``positions``: (n, 2) top-left (y, x) of each query in the left
    view; ``targets``: (n, 2) top-left (y, x - d) of its corresponding window in the right view;
    ``disparity``: (n,) the window's median disparity ``d``, rounded to whole pixels.
    """

    left: np.ndarray
    control: np.ndarray
    positions: np.ndarray
    targets: np.ndarray
    disparity: np.ndarray

    def __len__(self) -> int:
        return int(self.left.shape[0])


def load_stereo_pair(short_side: int | None = None) -> StereoPair:
    """scikit-image's ``stereo_motorcycle`` views and ground-truth disparity.

    ``short_side``: resize both views (bilinear, antialiased:
    :func:`utils.data.photos.resize_short_side`) so that their short side has this many pixels;
    the disparity map is resampled by nearest neighbour (averaging across a depth edge would
    invent depths that exist nowhere) and multiplied by the same factor. Pixels without ground
    truth (stored as ``inf`` by scikit-image) become NaN.
    """
    try:
        from skimage import data as skdata
    except ImportError as exc:  # pragma: no cover - requirements.txt pins scikit-image
        raise ImportError(
            "load_stereo_pair needs scikit-image (pip install -r requirements.txt)"
        ) from exc
    left, right, disp = skdata.stereo_motorcycle()
    left = np.asarray(left, dtype=np.float32) / 255.0
    right = np.asarray(right, dtype=np.float32) / 255.0
    disp = np.asarray(disp, dtype=np.float32).copy()
    disp[~np.isfinite(disp)] = np.nan
    if short_side is None:
        return StereoPair(left, right, disp, 1.0)
    from ..data.photos import resize_short_side

    short_side = check_positive_int(short_side, "short_side")
    if short_side < 8:
        raise ValueError(f"short_side must be at least 8 pixels, got {short_side}")
    h, w = disp.shape
    scale = short_side / min(h, w)
    left_s, right_s = resize_short_side(left, short_side), resize_short_side(right, short_side)
    hs, ws = left_s.shape[:2]
    rows = np.minimum(((np.arange(hs) + 0.5) / scale).astype(int), h - 1)
    cols = np.minimum(((np.arange(ws) + 0.5) / scale).astype(int), w - 1)
    return StereoPair(left_s, right_s, disp[np.ix_(rows, cols)] * np.float32(scale), scale)


def view_queries(
    pair: StereoPair,
    size: int = 64,
    stride: int = 32,
    *,
    min_valid: float = 0.5,
    min_std: float = 0.03,
) -> ViewQueries:
    """Left-view windows on a ``stride`` grid as queries, with their right-view counterparts.

    A window is kept when at least ``min_valid`` of its pixels have ground-truth disparity, its
    corresponding window ``(y, x - d)`` (``d``: the median valid disparity in the window, rounded)
    lies inside the right view, and its pixel standard deviation is at least ``min_std`` (flat
    windows hold nothing to match, as in :func:`utils.data.photos.photo_tiles`).
    """
    if not isinstance(pair, StereoPair):
        raise TypeError(f"pair must be a StereoPair (load_stereo_pair()), got {type(pair)}")
    if not (isinstance(min_valid, int | float) and 0 < min_valid <= 1):
        raise ValueError(f"min_valid must be in (0, 1], got {min_valid!r}")
    if not (isinstance(min_std, int | float) and min_std >= 0):
        raise ValueError(f"min_std must be a number >= 0, got {min_std!r}")
    wins, pos = grid_windows(pair.left, size, stride)
    left, control, positions, targets, disp = [], [], [], [], []
    for win, (y, x) in zip(wins, pos, strict=True):
        d_win = pair.disparity[y : y + size, x : x + size]
        valid = np.isfinite(d_win)
        if valid.mean() < min_valid:
            continue
        d = round(float(np.median(d_win[valid])))
        xr = int(x) - d
        if xr < 0 or xr + size > pair.right.shape[1]:
            continue
        if float(win.std(ddof=1)) < min_std:
            continue
        left.append(win)
        control.append(pair.right[y : y + size, xr : xr + size])
        positions.append((y, x))
        targets.append((y, xr))
        disp.append(d)
    if not left:
        raise ValueError("no query window qualified: lower min_valid or min_std, or the stride")
    return ViewQueries(
        np.stack(left).astype(np.float32),
        np.stack(control).astype(np.float32),
        np.array(positions, dtype=np.int64),
        np.array(targets, dtype=np.int64),
        np.array(disp, dtype=np.int64),
    )


def window_iou(corner: object, corners: object, size: int) -> np.ndarray:
    """Intersection over union of the ``size x size`` square at top-left ``corner`` (y, x) with
    each square at ``corners`` (m, 2): ``I / (2 size^2 - I)`` with ``I`` the overlap area."""
    size = check_positive_int(size, "size")
    a = np.asarray(corner, dtype=np.float64)
    b = np.asarray(corners, dtype=np.float64)
    if a.shape != (2,) or b.ndim != 2 or b.shape[1] != 2:
        raise ValueError(f"corner must be (2,) and corners (m, 2), got {a.shape} and {b.shape}")
    dy = np.maximum(0.0, size - np.abs(b[:, 0] - a[0]))
    dx = np.maximum(0.0, size - np.abs(b[:, 1] - a[1]))
    inter = dy * dx
    return inter / (2.0 * size * size - inter)


def view_positives(
    targets: object, positions: object, size: int, rule: str | float = "best"
) -> np.ndarray:
    """(n_queries, n_windows) boolean matrix: which indexed windows answer each query.

    ``rule="best"``: the window(s) overlapping the true corresponding window most (ties all
    count; needed for a sparse index, where no window may reach IoU 0.5). A number in (0, 1]:
    every window with IoU at least that (0.5 is the PASCAL VOC localisation criterion).
    """
    t = np.asarray(targets)
    p = np.asarray(positions)
    if t.ndim != 2 or t.shape[1] != 2 or p.ndim != 2 or p.shape[1] != 2 or len(p) == 0:
        raise ValueError(f"targets and positions must be (n, 2) arrays, got {t.shape}, {p.shape}")
    iou = np.stack([window_iou(tq, p, size) for tq in t])
    if isinstance(rule, str):
        if rule != "best":
            raise ValueError(f"rule must be 'best' or an IoU threshold in (0, 1], got {rule!r}")
        best = iou.max(axis=1, keepdims=True)
        return (iou >= best - 1e-12) & (best > 0)
    if isinstance(rule, bool) or not isinstance(rule, int | float) or not 0 < rule <= 1:
        raise ValueError(f"rule must be 'best' or an IoU threshold in (0, 1], got {rule!r}")
    return iou >= rule
