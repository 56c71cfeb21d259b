"""What sparse frame sampling really decodes: keyframes, GOPs and seeking, with PyAV.

An H.264 stream is a series of groups of pictures (GOPs): a keyframe (an I-frame, decodable on
its own) followed by frames predicted from earlier (and, with B-frames, later) frames. A frame
in the middle of a GOP can only be reconstructed by decoding the *reference* frames it depends
on, back to the GOP's keyframe. So sampling one frame a second does not make decoding 25 times
cheaper: the decoder still runs over every reference frame of each GOP, and a plain linear pass
decodes every frame. Non-reference frames (most B-frames) are never needed to reach another
frame, so a decoder told to skip them (``skip_frame="NONREF"``) still reaches every reference
frame: about half the decode on a stream with many B-frames, nothing saved on an I/P-only
stream, where every P-frame is a reference. Four ways to get sparse frames, each returning the
frames *and* how many frames the decoder had to decode to get them:

- :func:`utils.video.decode.decode_frames` with ``step``: one pass over every frame, keep every
  ``step``-th (``Frames.n_total`` frames decoded);
- :func:`decode_reference_frames`: one pass that skips the non-reference frames and keeps the
  first reference frame at or after each sampling instant (close to, not exactly at, the
  linear pass's samples);
- :func:`decode_by_seeking`: for each wanted frame, seek to the keyframe at or before it and
  decode forward to it. Cheap when keyframes are dense, a disaster when a clip is one long GOP
  (each seek restarts from frame 0);
- :func:`decode_keyframes`: ask the decoder to skip every non-keyframe
  (``skip_frame="NONKEY"``): only the I-frames are decoded, so the cost is one frame per GOP,
  but *where* the samples fall is the encoder's choice. x264 starts a new GOP with an IDR frame
  (the container's sync sample, what :func:`keyframe_index` reads) at a detected scene cut only
  when the previous IDR is at least ``min-keyint`` frames back; a cut closer than that gets a
  non-IDR I-frame that the packet flags do not mark. It also forces one every ``keyint``
  frames; a clip encoded as one GOP yields one frame.

:func:`frame_timestamps` and :func:`keyframe_index` read the packets without decoding. Every
decoding function makes one pass over the file's packets (the seek path one per sample), so
the CPU times of the four are comparable; :func:`decode_by_seeking` needs the frames'
timestamps to know where to seek, which a caller may pass in (an MP4's sample table holds them
without reading the packets; PyAV reads them with one demux pass). Errors follow
:func:`~utils.video.decode.decode_frames`: a missing, empty or corrupt file is a
``ValueError`` naming the path.
"""

from __future__ import annotations

import os

import numpy as np

from .._checks import check_positive_int
from .decode import Frames, check_video_path

__all__ = [
    "decode_by_seeking",
    "decode_keyframes",
    "decode_reference_frames",
    "frame_timestamps",
    "keyframe_index",
]


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


def frame_timestamps(path: str | os.PathLike) -> np.ndarray:
    """Presentation timestamps (in the stream's time base) of every frame, sorted, read from
    the packets without decoding: the input :func:`decode_by_seeking` seeks by."""
    pts, _ = _presentation_pts(check_video_path(path))
    return pts


def keyframe_index(path: str | os.PathLike) -> np.ndarray:
    """Frame numbers (presentation order, from 0) of the stream's keyframes, read from the
    packets' keyframe flags without decoding anything."""
    _, key = _presentation_pts(check_video_path(path))
    return np.flatnonzero(key)


def _to_rgb(frame, size: tuple[int, int] | None) -> np.ndarray:
    if size is not None:
        frame = frame.reformat(width=size[0], height=size[1])
    return frame.to_ndarray(format="rgb24")


def _skipping_pass(path: str, skip: str, size, every_s: float | None) -> Frames:
    """One demux-and-decode pass with the decoder told to skip frames (``skip``); keeps every
    frame it outputs (``every_s`` None) or the first at or after each multiple of ``every_s``
    seconds. The frame numbers come from the packets' timestamps collected on the same pass."""
    import av

    packet_pts, images, times, frame_pts = [], [], [], []
    n_decoded, next_t = 0, 0.0
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = skip
        fps = float(stream.average_rate) if stream.average_rate else float("nan")
        for packet in container.demux(stream):
            if packet.size > 0 and packet.pts is not None:
                packet_pts.append(int(packet.pts))
            for frame in packet.decode():  # the empty packet at the end flushes the decoder
                n_decoded += 1
                t = float(frame.time) if frame.time is not None else float("nan")
                if every_s is not None:
                    if not t >= next_t - 1e-9:
                        continue
                    next_t = (np.floor(t / every_s + 1e-9) + 1) * every_s
                images.append(_to_rgb(frame, size))
                times.append(t)
                frame_pts.append(int(frame.pts))
    except av.error.FFmpegError as exc:
        raise ValueError(f"video file {path!r} is corrupt or not a video: {exc}") from exc
    finally:
        container.close()
    if not images:
        raise ValueError(f"video file {path!r} decoded to no frames")
    pts_all = np.sort(np.asarray(packet_pts))
    index = np.searchsorted(pts_all, np.asarray(frame_pts))
    return Frames(np.stack(images), np.array(times), index, fps, n_decoded)


def decode_keyframes(path: str | os.PathLike, *, size: tuple[int, int] | None = None) -> Frames:
    """Decode the keyframes only (the decoder skips every other frame) in one pass over the
    packets: RGB images, their times and frame numbers; ``n_total`` is the number of frames
    decoded (= keyframes)."""
    return _skipping_pass(check_video_path(path), "NONKEY", _check_size(size), None)


def decode_reference_frames(
    path: str | os.PathLike, *, every_s: float | None = None, size: tuple[int, int] | None = None
) -> Frames:
    """Decode only the reference frames (``skip_frame="NONREF"``: the decoder drops frames no
    other frame is predicted from, mostly B-frames) in one pass. Keeps every decoded frame, or
    with ``every_s`` the first reference frame at or after 0, ``every_s``, 2·``every_s``, ...
    seconds (a sample can land a frame or two after the linear pass's). ``n_total`` is the
    number of frames decoded: all of them on an I/P-only stream, about half on a stream with
    one or more B-frames between references."""
    if every_s is not None and (
        isinstance(every_s, bool) or not isinstance(every_s, int | float) or not every_s > 0
    ):
        raise ValueError(f"every_s must be a positive number of seconds, got {every_s!r}")
    return _skipping_pass(check_video_path(path), "NONREF", _check_size(size), every_s)


def decode_by_seeking(
    path: str | os.PathLike,
    *,
    step: int,
    size: tuple[int, int] | None = None,
    pts: np.ndarray | None = None,
) -> Frames:
    """Frames 0, ``step``, 2·``step``, ... fetched one at a time: seek to the keyframe at or
    before each wanted frame, decode forward until it appears. Returns the same frames as
    ``decode_frames(path, step=step)``. ``pts``: the frames' sorted timestamps from
    :func:`frame_timestamps` (read here with one extra demux pass when omitted; pass them to
    time the seeking alone). ``n_total`` counts the packets sent to the decoder on the way (the
    real work, including frames still held in the decoder's reorder buffer when the wanted
    frame came out), which exceeds the frame count when GOPs are long."""
    import av

    p = check_video_path(path)
    step = check_positive_int(step, "step")
    size = _check_size(size)
    pts_all = _presentation_pts(p)[0] if pts is None else np.asarray(pts)
    if pts_all.ndim != 1 or len(pts_all) == 0 or np.any(np.diff(pts_all) < 0):
        raise ValueError("pts must be a non-empty sorted 1-d array from frame_timestamps")
    wanted = pts_all[::step]
    images, times, index = [], [], []
    n_decoded = 0
    container = _open(p)
    try:
        stream = container.streams.video[0]
        fps = float(stream.average_rate) if stream.average_rate else float("nan")
        for target in wanted.tolist():
            container.seek(target, stream=stream, backward=True, any_frame=False)
            found = False
            for packet in container.demux(stream):
                if packet.size > 0:
                    n_decoded += 1
                for frame in packet.decode():
                    if frame.pts is not None and frame.pts >= target:
                        images.append(_to_rgb(frame, size))
                        times.append(float(frame.time) if frame.time is not None else float("nan"))
                        index.append(int(np.searchsorted(pts_all, frame.pts)))
                        found = True
                        break
                if found:
                    break
    except av.error.FFmpegError as exc:
        raise ValueError(f"video file {p!r} is corrupt or not a video: {exc}") from exc
    finally:
        container.close()
    if not images:
        raise ValueError(f"video file {p!r} decoded to no frames")
    return Frames(np.stack(images), np.array(times), np.array(index), fps, n_decoded)
