"""utils.video.shots: the histogram detector finds bikes.mp4's labelled cuts; scoring by hand."""

from __future__ import annotations

import numpy as np
import pytest

from utils.video.decode import clip_path, decode_frames
from utils.video.shots import (
    BIKES_CUTS,
    boundary_scores,
    detect_cuts,
    histogram_distances,
    keyframes,
    sample_every,
    shots_from_cuts,
)


def test_detector_finds_the_labelled_cuts_of_bikes():
    frames = decode_frames(clip_path("bikes.mp4"), size=(160, 68))
    d = histogram_distances(frames.images)
    assert d.shape == (249,) and (d >= 0).all() and (d <= 1).all()
    found = detect_cuts(d, threshold=0.15)
    s = boundary_scores(found, BIKES_CUTS)
    assert s["recall"] == 1.0 and s["precision"] == 1.0, (found, s)
    loose = detect_cuts(d, threshold=0.05)  # too low: motion inside a shot fires too
    assert boundary_scores(loose, BIKES_CUTS)["precision"] < 1.0


def test_histogram_distance_by_hand():
    black = np.zeros((1, 4, 4, 3), np.uint8)
    white = np.full((1, 4, 4, 3), 255, np.uint8)
    d = histogram_distances(np.concatenate([black, black, white]))
    assert np.allclose(d, [0.0, 1.0])


def test_scores_and_shots_by_hand():
    s = boundary_scores([10, 21, 50], [10, 20, 30], tolerance=1)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert boundary_scores([], [])["f1"] == 1.0
    assert shots_from_cuts([5, 8], 10) == [(0, 5), (5, 8), (8, 10)]
    assert keyframes([5, 8], 10).tolist() == [2, 6, 8]
    assert sample_every(100, 25.0, 1.0).tolist() == [0, 25, 50, 75]
    assert detect_cuts([0.0, 0.9, 0.8, 0.0], threshold=0.5, min_gap=3).tolist() == [2]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: histogram_distances(np.zeros((1, 2, 2, 3), np.uint8)), "at least 2"),
        (lambda: histogram_distances(np.zeros((2, 2, 2, 3), np.float32)), "uint8"),
        (lambda: detect_cuts([0.1, np.nan]), "finite"),
        (lambda: detect_cuts([0.1], threshold=-1), "threshold"),
        (lambda: boundary_scores([1], [1], tolerance=-1), "tolerance"),
        (lambda: sample_every(10, 0.0, 1.0), "fps"),
        (lambda: sample_every(10, 25.0, 0), "seconds"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
