"""What sparse frame sampling really decodes: keyframes, GOPs and seeking, with PyAV.

An H.264 stream is a series of groups of pictures (GOPs): a keyframe (an I-frame, decodable on
its own) followed by frames predicted from earlier (and, with B-frames, later) frames. A frame
in the middle of a GOP can only be reconstructed by decoding the GOP from its keyframe. So
sampling one frame a second does not make decoding 25 times cheaper: the decoder still runs
over (nearly) every frame, and only the colour conversion and resize of the kept frames are
saved. Three ways to get sparse frames, each returning the frames *and* how many frames the
decoder had to produce to get them:

- :func:`utils.video.decode.decode_frames` with ``step``: one pass over every frame, keep every
  ``step``-th (``Frames.n_total`` frames decoded);
- :func:`decode_by_seeking`: for each wanted frame, seek to the keyframe at or before it and
  decode forward to it. Cheap when keyframes are dense, a disaster when a clip is one long GOP
  (each seek restarts from frame 0);
- :func:`decode_keyframes`: ask the decoder to skip every non-keyframe
  (``skip_frame="NONKEY"``): only the I-frames are decoded, so the cost is one frame per GOP,
  but *where* the samples fall is the encoder's choice (x264 places a keyframe at detected
  scene cuts and at least every ``keyint`` frames; a clip encoded as one GOP yields one frame).

:func:`keyframe_index` lists the keyframes from the container's packets without decoding.
Errors follow :func:`~utils.video.decode.decode_frames`: a missing, empty or corrupt file is a
``ValueError`` naming the path.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._checks import check_positive_int
from .decode import Frames

__all__ = ["decode_by_seeking", "decode_keyframes", "keyframe_index"]


def _check_path(path: object) -> str:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"video file {os.fspath(p)!r} does not exist")
    if p.stat().st_size == 0:
        raise ValueError(f"video file {os.fspath(p)!r} is empty (0 bytes)")
    return os.fspath(p)


def _check_size(size: object) -> tuple[int, int] | None:
    if size is None:
        return None
    if (
        not isinstance(size, tuple)
        or len(size) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)
    ):
        raise ValueError(f"size must be (width, height) positive ints, got {size!r}")
    return size


def _open(path: str):
    import av

    try:
        container = av.open(path)
    except av.error.FFmpegError as exc:
        raise ValueError(f"video file {path!r} is corrupt or not a video: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise ValueError(f"video file {path!r} has no video stream")
    return container


def _presentation_pts(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted presentation timestamps of every frame and a keyframe flag for each, from the
    packets alone (demuxing, no decoding)."""
    import av

    pts, key = [], []
    container = _open(path)
    try:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue  # the flush packet at the end of the stream
            pts.append(int(packet.pts))
            key.append(bool(packet.is_keyframe))
    except av.error.FFmpegError as exc:
        raise ValueError(f"video file {path!r} is corrupt or not a video: {exc}") from exc
    finally:
        container.close()
    if not pts:
        raise ValueError(f"video file {path!r} holds no video packets")
    order = np.argsort(pts, kind="stable")
    return np.asarray(pts)[order], np.asarray(key)[order]


def keyframe_index(path: str | os.PathLike) -> np.ndarray:
    """Frame numbers (presentation order, from 0) of the stream's keyframes, read from the
    packets' keyframe flags without decoding anything."""
    _, key = _presentation_pts(_check_path(path))
    return np.flatnonzero(key)


def _to_rgb(frame, size: tuple[int, int] | None) -> np.ndarray:
    if size is not None:
        frame = frame.reformat(width=size[0], height=size[1])
    return frame.to_ndarray(format="rgb24")


def decode_keyframes(path: str | os.PathLike, *, size: tuple[int, int] | None = None) -> Frames:
    """Decode the keyframes only (the decoder skips every other frame): RGB images, their
    times and frame numbers; ``n_total`` is the number of frames decoded (= keyframes)."""
    import av

    p = _check_path(path)
    size = _check_size(size)
    pts_all, _ = _presentation_pts(p)
    images, times, index = [], [], []
    container = _open(p)
    try:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        fps = float(stream.average_rate) if stream.average_rate else float("nan")
        for frame in container.decode(stream):
            images.append(_to_rgb(frame, size))
            times.append(float(frame.time) if frame.time is not None else float("nan"))
            index.append(int(np.searchsorted(pts_all, frame.pts)))
    except av.error.FFmpegError as exc:
        raise ValueError(f"video file {p!r} is corrupt or not a video: {exc}") from exc
    finally:
        container.close()
    if not images:
        raise ValueError(f"video file {p!r} decoded to no keyframes")
    return Frames(np.stack(images), np.array(times), np.array(index), fps, len(images))


def decode_by_seeking(
    path: str | os.PathLike, *, step: int, size: tuple[int, int] | None = None
) -> Frames:
    """Frames 0, ``step``, 2·``step``, ... fetched one at a time: seek to the keyframe at or
    before each wanted frame, decode forward until it appears. Returns the same frames as
    ``decode_frames(path, step=step)``; ``n_total`` counts every frame the decoder produced
    on the way (the real work), which exceeds the frame count when GOPs are long."""
    import av

    p = _check_path(path)
    step = check_positive_int(step, "step")
    size = _check_size(size)
    pts_all, _ = _presentation_pts(p)
    wanted = pts_all[::step]
    images, times, index = [], [], []
    n_decoded = 0
    container = _open(p)
    try:
        stream = container.streams.video[0]
        fps = float(stream.average_rate) if stream.average_rate else float("nan")
        for target in wanted.tolist():
            container.seek(target, stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                n_decoded += 1
                if frame.pts is not None and frame.pts >= target:
                    images.append(_to_rgb(frame, size))
                    times.append(float(frame.time) if frame.time is not None else float("nan"))
                    index.append(int(np.searchsorted(pts_all, frame.pts)))
                    break
    except av.error.FFmpegError as exc:
        raise ValueError(f"video file {p!r} is corrupt or not a video: {exc}") from exc
    finally:
        container.close()
    if not images:
        raise ValueError(f"video file {p!r} decoded to no frames")
    return Frames(np.stack(images), np.array(times), np.array(index), fps, n_decoded)
