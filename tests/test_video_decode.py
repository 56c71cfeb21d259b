"""utils.video.decode: the bundled clips decode with PyAV; bad files get clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from utils.video.decode import CLIPS, clip_path, decode_frames


def test_bundled_clips_decode_with_their_known_shapes():
    bikes = decode_frames(clip_path("bikes.mp4"))
    assert bikes.images.shape == (250, 272, 640, 3) and bikes.images.dtype == np.uint8
    assert bikes.n_total == 250 and bikes.fps == pytest.approx(25.0)
    assert np.all(np.diff(bikes.times) > 0)
    small = decode_frames(clip_path("carphone_pristine.mp4"), step=10, max_frames=5, size=(88, 72))
    assert small.images.shape == (5, 72, 88, 3)
    assert small.index.tolist() == [0, 10, 20, 30, 40] and small.n_total == 120
    assert len(CLIPS) == 4


def test_bad_files_and_arguments(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        clip_path("cats.mp4")
    with pytest.raises(ValueError, match="does not exist"):
        decode_frames(tmp_path / "nothing.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        decode_frames(empty)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video at all" * 100)
    with pytest.raises(ValueError, match="corrupt or not a video"):
        decode_frames(junk)
    with pytest.raises(ValueError, match="size"):
        decode_frames(clip_path("bikes.mp4"), size=(0, 10))
    with pytest.raises(ValueError, match="step"):
        decode_frames(clip_path("bikes.mp4"), step=0)
    with pytest.raises(TypeError, match="path"):
        decode_frames(3)
