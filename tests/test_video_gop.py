"""utils.video.gop: keyframes from packets, keyframe-only decoding, seek-based sampling.

Cross-checks: the seek path returns exactly the frames of one linear pass with the same step
(pixel-equal), the keyframe-only path the linear pass's frames at the keyframes, and the
frame counts follow the GOP arithmetic.
"""

from __future__ import annotations

import numpy as np
import pytest

from utils.video.decode import clip_path, decode_frames
from utils.video.gop import decode_by_seeking, decode_keyframes, keyframe_index
from utils.video.shots import BIKES_CUTS


def test_keyframes_of_the_bundled_clips():
    # x264 put a keyframe at every hard cut of bikes.mp4 (labelled by eye in utils.video.shots)
    assert keyframe_index(clip_path("bikes.mp4")).tolist() == [0, *BIKES_CUTS]
    # the other clips are one GOP each
    assert keyframe_index(clip_path("carphone_pristine.mp4")).tolist() == [0]


def test_keyframe_decode_matches_the_linear_pass():
    path = clip_path("bikes.mp4")
    key = decode_keyframes(path, size=(64, 32))
    full = decode_frames(path, size=(64, 32))
    assert key.n_total == len(key.images) == 6
    assert key.index.tolist() == keyframe_index(path).tolist()
    np.testing.assert_array_equal(key.images, full.images[key.index])
    np.testing.assert_allclose(key.times, full.times[key.index])


@pytest.mark.parametrize("step", [7, 40])
def test_seek_sampling_equals_linear_sampling_and_counts_the_gop_work(step):
    path = clip_path("carphone_pristine.mp4")  # one GOP: every seek restarts at frame 0
    seek = decode_by_seeking(path, step=step)
    lin = decode_frames(path, step=step)
    assert seek.index.tolist() == lin.index.tolist()
    np.testing.assert_array_equal(seek.images, lin.images)
    # frame t costs t + 1 decoded frames from the only keyframe (plus decoder look-ahead)
    floor = sum(t + 1 for t in lin.index.tolist())
    assert floor <= seek.n_total <= floor + 4 * len(lin.index)


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        keyframe_index(tmp_path / "none.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        decode_keyframes(empty)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video at all" * 100)
    with pytest.raises(ValueError, match="corrupt or not a video"):
        decode_by_seeking(junk, step=2)
    with pytest.raises(ValueError, match="step"):
        decode_by_seeking(clip_path("bikes.mp4"), step=0)
    with pytest.raises(ValueError, match="size"):
        decode_keyframes(clip_path("bikes.mp4"), size=(10, -1))
    with pytest.raises(TypeError, match="path"):
        keyframe_index(None)
