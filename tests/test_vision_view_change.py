"""utils.vision.view_change: the stereo-pair view-change benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from utils.vision.view_change import (
    StereoPair,
    grid_windows,
    load_stereo_pair,
    view_positives,
    view_queries,
    window_iou,
)


@pytest.fixture(scope="module")
def pair():
    return load_stereo_pair(256)


def test_bundled_pair_shapes_and_ground_truth():
    full = load_stereo_pair()
    assert full.left.shape == full.right.shape == (500, 741, 3) and full.scale == 1.0
    assert full.left.dtype == np.float32 and 0 <= full.left.min() and full.left.max() <= 1
    d = full.disparity
    assert d.shape == (500, 741)
    missing = np.isnan(d).mean()
    assert 0.02 < missing < 0.15, missing  # occluded pixels have no ground truth
    assert 5 < np.nanmin(d) and np.nanmax(d) < 80, (np.nanmin(d), np.nanmax(d))


def test_resize_scales_disparity(pair):
    full = load_stereo_pair()
    assert min(pair.left.shape[:2]) == 256 and pair.left.shape == pair.right.shape
    assert pair.disparity.shape == pair.left.shape[:2]
    assert pair.scale == pytest.approx(256 / 500)
    ratio = np.nanmedian(pair.disparity) / np.nanmedian(full.disparity)
    assert ratio == pytest.approx(pair.scale, rel=0.05)


def _best_shift(pair: StereoPair, y: int, x: int, size: int = 64) -> int:
    """The horizontal shift of the right view that correlates best with a left window."""
    win = pair.left[y : y + size, x : x + size].ravel()
    win = win - win.mean()
    scores = {}
    for s in range(0, 60):
        if x - s < 0:
            break
        r = pair.right[y : y + size, x - s : x - s + size].ravel()
        r = r - r.mean()
        scores[s] = float(win @ r / (np.linalg.norm(win) * np.linalg.norm(r)))
    return max(scores, key=scores.get)


def test_disparity_direction_matches_the_pixels(pair):
    """left[y, x] shows what right[y, x - d] shows: for every non-overlapping query window the
    correlation-best shift of the right view is the window's median disparity, within 3 pixels
    (a slanted floor or a depth edge spreads the disparities inside one window)."""
    q = view_queries(pair, 64, 64)
    err = np.array(
        [
            abs(_best_shift(pair, int(y), int(x)) - int(d))
            for (y, x), d in zip(q.positions, q.disparity, strict=True)
        ]
    )
    assert len(err) >= 10 and err.max() <= 3 and np.median(err) <= 1, err


def test_grid_windows_counts_and_content():
    img = np.random.default_rng(0).random((100, 130, 3)).astype(np.float32)
    wins, pos = grid_windows(img, 32, 32)
    assert wins.shape == (3 * 4, 32, 32, 3) and pos.shape == (12, 2)
    y, x = pos[5]
    np.testing.assert_array_equal(wins[5], img[y : y + 32, x : x + 32])
    dense, _ = grid_windows(img, 32, 16)
    assert len(dense) == 5 * 7
    with pytest.raises(ValueError, match="size"):
        grid_windows(img, 200, 16)
    with pytest.raises(ValueError, match="image"):
        grid_windows(img[:, :, 0], 32, 16)
    with pytest.raises(ValueError, match="stride"):
        grid_windows(img, 32, 0)


def test_grid_windows_is_the_photo_tiling():
    """One tiling for both benchmarks: the copy gallery's tiles are grid windows at stride=size."""
    from utils.data import photos as photos_mod

    assert grid_windows is photos_mod.grid_windows
    img = np.random.default_rng(1).random((96, 160, 3)).astype(np.float32)
    tiles, names, dropped = photos_mod.photo_tiles({"x": img}, tile=32, short_side=96, min_std=0)
    wins, pos = grid_windows(photos_mod.resize_short_side(img, 96), 32, 32)
    assert dropped == 0 and set(names) == {"x"} and len(pos) == 3 * 5
    np.testing.assert_array_equal(tiles, wins)


def test_view_queries_targets_and_control(pair):
    q = view_queries(pair, 64, 32)
    n = len(q)
    assert n > 20
    assert q.left.shape == q.control.shape == (n, 64, 64, 3)
    np.testing.assert_array_equal(q.targets[:, 0], q.positions[:, 0])  # rectified: same row
    np.testing.assert_array_equal(q.targets[:, 1], q.positions[:, 1] - q.disparity)
    assert (q.targets[:, 1] >= 0).all() and (q.targets[:, 1] + 64 <= pair.right.shape[1]).all()
    i = n // 2
    y, x = q.targets[i]
    np.testing.assert_array_equal(q.control[i], pair.right[y : y + 64, x : x + 64])
    assert (q.disparity > 0).all()
    with pytest.raises(TypeError, match="StereoPair"):
        view_queries(pair.left, 64, 32)
    with pytest.raises(ValueError, match="min_valid"):
        view_queries(pair, 64, 32, min_valid=0)
    with pytest.raises(ValueError, match="qualified"):
        view_queries(pair, 64, 32, min_std=10.0)


def test_window_iou():
    corners = np.array([[0, 0], [0, 32], [0, 64], [10, 0]])
    iou = window_iou((0, 0), corners, 64)
    assert iou[0] == pytest.approx(1.0)
    assert iou[1] == pytest.approx(1 / 3)  # half overlap: 2048 / (8192 - 2048)
    assert iou[2] == pytest.approx(0.0)
    assert iou[3] == pytest.approx(54 * 64 / (2 * 64 * 64 - 54 * 64))
    with pytest.raises(ValueError, match="corner"):
        window_iou((0, 0, 0), corners, 64)


def test_view_positives_rules():
    positions = np.array([[0, 0], [0, 64], [0, 128]])
    targets = np.array([[0, 40], [0, 96]])  # the second overlaps two windows equally
    best = view_positives(targets, positions, 64, "best")
    np.testing.assert_array_equal(best, [[False, True, False], [False, True, True]])
    half = view_positives(targets, positions, 64, 0.5)
    iou_40 = window_iou((0, 40), positions, 64)
    np.testing.assert_array_equal(half[0], iou_40 >= 0.5)
    assert not half[1].any()  # a 32-pixel offset is IoU 1/3
    with pytest.raises(ValueError, match="rule"):
        view_positives(targets, positions, 64, "nearest")
    with pytest.raises(ValueError, match="rule"):
        view_positives(targets, positions, 64, 1.5)
    with pytest.raises(ValueError, match="targets"):
        view_positives(targets[:, :1], positions, 64)
