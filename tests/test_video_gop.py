"""utils.video.gop: keyframes from packets, keyframe-only and reference-only decoding,
seek-based sampling.

Cross-checks: the seek path returns exactly the frames of one linear pass with the same step
(pixel-equal), the keyframe-only and reference-only paths the linear pass's frames at their
frame numbers, and the frame counts follow the GOP arithmetic (frame types counted with PyAV:
bikes.mp4 has 6 I, 69 P and 175 B frames of which 60 are references; carphone is 1 I, 59 P,
60 B; Big Buck Bunny is I/P only).
"""

from __future__ import annotations

import numpy as np
import pytest

from utils.video.decode import clip_path, decode_frames
from utils.video.gop import (
    decode_by_seeking,
    decode_keyframes,
    decode_reference_frames,
    frame_timestamps,
    keyframe_index,
)
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
    # frame t costs t + 1 decoded frames from the only keyframe (plus the packets the decoder
    # holds for B-frame reordering, which n_total counts)
    floor = sum(t + 1 for t in lin.index.tolist())
    assert floor <= seek.n_total <= floor + 4 * len(lin.index)
    # precomputed timestamps (no extra demux pass) give the same frames and the same count
    again = decode_by_seeking(path, step=step, pts=frame_timestamps(path))
    assert again.index.tolist() == seek.index.tolist() and again.n_total == seek.n_total


def test_seek_count_is_exact_on_an_ip_only_stream():
    # Big Buck Bunny: one GOP, no B-frames, so nothing is held back: frame t costs t + 1
    path = clip_path("bigbuckbunny.mp4")
    seek = decode_by_seeking(path, step=25, size=(32, 32))
    assert seek.index.tolist() == [0, 25, 50, 75, 100, 125]
    assert seek.n_total == sum(t + 1 for t in seek.index.tolist()) == 381


@pytest.mark.parametrize(
    ("name", "n_ref", "n_frames"),
    [("bikes.mp4", 135, 250), ("carphone_pristine.mp4", 65, 120), ("bigbuckbunny.mp4", 132, 132)],
)
def test_reference_frames_skip_the_non_reference_b_frames(name, n_ref, n_frames):
    path = clip_path(name)
    ref = decode_reference_frames(path, size=(32, 16))
    full = decode_frames(path, size=(32, 16))
    assert len(full.images) == n_frames
    assert ref.n_total == len(ref.images) == n_ref  # I/P-only (bunny): nothing skipped
    np.testing.assert_array_equal(ref.images, full.images[ref.index])
    assert set(keyframe_index(path).tolist()) <= set(ref.index.tolist())
    # one sample a second: the first reference frame at or after each second, same decode work
    fps = round(full.fps)
    sampled = decode_reference_frames(path, every_s=1.0, size=(32, 16))
    assert sampled.n_total == n_ref
    want = np.arange(0, n_frames, fps)
    assert len(sampled.index) == len(want)
    assert ((sampled.index >= want) & (sampled.index <= want + 3)).all(), sampled.index


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
    with pytest.raises(ValueError, match="every_s"):
        decode_reference_frames(clip_path("bikes.mp4"), every_s=0)
    with pytest.raises(ValueError, match="pts"):
        decode_by_seeking(clip_path("bikes.mp4"), step=5, pts=np.array([3, 1, 2]))
    with pytest.raises(TypeError, match="path"):
        keyframe_index(None)
