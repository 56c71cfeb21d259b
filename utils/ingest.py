"""The front door of an image-search service: upload bytes in, a model-ready array out.

- :func:`encode_image_bytes`: an array -> real PNG or JPEG bytes (Pillow), what a client uploads.
- :func:`check_upload`: cheap checks on the raw bytes *before* decoding them: size limit,
  format sniffed from the file header (never trusted from the file name or content type), and
  the pixel count read from the header, so a decompression bomb (a small file that decodes to a
  huge image) is refused without allocating it. Returns ``(format, (width, height))``.
- :func:`spool_upload`: write accepted bytes to a file (the blob store of a real service), so
  that :func:`utils.image_search.load_image` decodes it with its clear errors.
- :func:`to_model_input`: grey, resize to the model's input side (Pillow, box filter), scale to
  [0, 1]; (H, W) or (H, W, C) uint8 -> (side, side) float32.
- :func:`guard_stages`: wraps the stages of a :class:`utils.serving.Pipeline` so that an exception
  inside one comes out as a :class:`StageError` that names the stage (the service turns it into
  a 4xx for a bad upload, a 5xx and an alert for its own fault).
- :func:`collapse_near_duplicates`: a re-ranking pass that walks a ranked list and drops every
  item whose cosine similarity to an item already kept is at least ``threshold`` (greedy, in rank
  order, like the duplicate filter of a results page).

Every function rejects bad input with a ``ValueError``/``TypeError`` naming the argument.
"""

from __future__ import annotations

import io
import os

import numpy as np

from ._checks import as_matrix, check_positive_int

__all__ = [
    "FORMATS",
    "StageError",
    "check_upload",
    "collapse_near_duplicates",
    "encode_image_bytes",
    "guard_stages",
    "spool_upload",
    "to_model_input",
]

FORMATS = ("PNG", "JPEG")


def encode_image_bytes(image: object, fmt: str = "PNG", quality: int = 90) -> bytes:
    """Encode an (H, W) grey or (H, W, 3) RGB image (uint8, or float in [0, 1]) as PNG/JPEG."""
    from PIL import Image

    if fmt not in FORMATS:
        raise ValueError(f"unknown fmt {fmt!r}; expected one of {', '.join(FORMATS)}")
    arr = np.asarray(image)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_:
        raise TypeError(f"image must hold uint8 or float pixels, got dtype {arr.dtype}")
    if arr.ndim == 1:
        side = int(np.sqrt(arr.size))
        if side * side != arr.size or side == 0:
            raise ValueError(f"image: a flat image must be square (s*s pixels), got {arr.size}")
        arr = arr.reshape(side, side)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3) or arr.size == 0:
        raise ValueError(f"image must be (H, W) or (H, W, 3), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ValueError("image: float pixels must be finite and lie in [0, 1]")
        arr = np.round(arr * 255.0).astype(np.uint8)
    quality = check_positive_int(quality, "quality")
    if quality > 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    buf = io.BytesIO()
    kwargs = {"quality": quality} if fmt == "JPEG" else {}
    Image.fromarray(arr).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def check_upload(
    data: object,
    *,
    max_bytes: int = 10_000_000,
    max_pixels: int = 40_000_000,
    formats: tuple[str, ...] = FORMATS,
) -> tuple[str, tuple[int, int]]:
    """Validate raw upload bytes without decoding the pixels; returns ``(format, (w, h))``.

    Raises ``TypeError`` for anything but ``bytes``; ``ValueError`` for an empty body, more than
    ``max_bytes``, a header Pillow does not recognise, a format not in ``formats``, or more than
    ``max_pixels`` pixels (Pillow's own bomb guard only warns below ~89 M pixels).
    """
    from PIL import Image, UnidentifiedImageError

    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    max_bytes = check_positive_int(max_bytes, "max_bytes")
    max_pixels = check_positive_int(max_pixels, "max_pixels")
    if len(data) == 0:
        raise ValueError("data is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ValueError(f"data is {len(data):,} bytes, over the {max_bytes:,}-byte limit")
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check below
            with Image.open(io.BytesIO(bytes(data))) as img:  # lazy: reads the header only
                fmt, size = img.format, img.size
    except Image.DecompressionBombError as exc:
        raise ValueError(f"data is a decompression bomb: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"data is not an image Pillow can identify: {exc}") from exc
    if fmt not in formats:
        raise ValueError(f"data is a {fmt} file; accepted formats: {', '.join(formats)}")
    if size[0] * size[1] > max_pixels:
        raise ValueError(
            f"data declares {size[0]}x{size[1]} = {size[0] * size[1]:,} pixels, over the"
            f" {max_pixels:,}-pixel limit (decompression bomb guard)"
        )
    return fmt, size


def spool_upload(data: object, directory: str | os.PathLike, name: str) -> str:
    """Write upload bytes to ``directory/name`` (the blob store stand-in); returns the path."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    if not isinstance(directory, str | os.PathLike) or not os.path.isdir(directory):
        raise ValueError(f"directory {directory!r} does not exist")
    if not isinstance(name, str) or not name or os.sep in name or name in (".", ".."):
        raise ValueError(f"name must be a plain file name, got {name!r}")
    path = os.path.join(os.fspath(directory), name)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def to_model_input(image: object, side: int = 28) -> np.ndarray:
    """(H, W) grey or (H, W, 3/4) colour uint8 -> (side, side) float32 grey in [0, 1]."""
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(f"image must be uint8 (as decoded), got dtype {arr.dtype}")
    if arr.ndim not in (2, 3) or arr.size == 0 or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ValueError(f"image must be (H, W) or (H, W, 3|4), got shape {arr.shape}")
    side = check_positive_int(side, "side")
    img = Image.fromarray(arr).convert("L")
    if img.size != (side, side):
        img = img.resize((side, side), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float32) / 255.0


class StageError(RuntimeError):
    """An exception raised inside a pipeline stage, with the stage's name in ``.stage`` and the
    original exception in ``.error`` (also chained as ``__cause__``)."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"stage {stage!r} failed: {type(error).__name__}: {error}")
        self.stage, self.error = stage, error


def guard_stages(stages) -> list:
    """Return ``stages`` (a list of ``(name, fn)``) with each ``fn`` wrapped so that any exception
    it raises is re-raised as :class:`StageError` naming the stage."""
    if isinstance(stages, str | bytes) or not hasattr(stages, "__iter__"):
        raise TypeError("stages must be a sequence of (name, function) pairs")
    out = []
    for item in stages:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise TypeError(f"each stage must be a (name, function) pair, got {item!r}")
        name, fn = item
        if not callable(fn):
            raise TypeError(f"stage {name!r} is not callable")

        def wrapped(state, _name=name, _fn=fn):
            try:
                return _fn(state)
            except Exception as exc:
                raise StageError(_name, exc) from exc

        out.append((name, wrapped))
    return out


def collapse_near_duplicates(
    ids: object, vectors: object, threshold: float = 0.95
) -> tuple[np.ndarray, dict[int, int]]:
    """Greedy duplicate filter over a ranked list.

    ``ids`` (n,) in rank order and their ``vectors`` (n, d). Item ``i`` is kept unless its cosine
    similarity with an already kept item is ``>= threshold``; then it is dropped and recorded as
    a duplicate of the first such kept item. Returns ``(kept_ids, dropped_id -> kept_id)``. Cost
    O(n · kept · d); for a page of 100 candidates that is microseconds.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be a 1-D integer array, got shape {ids.shape} {ids.dtype}")
    V = as_matrix(vectors, "vectors", dtype=np.float64)
    if V.shape[0] != ids.shape[0]:
        raise ValueError(f"vectors has {V.shape[0]} rows but ids has {ids.shape[0]} items")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise TypeError(f"threshold must be a number, got {type(threshold).__name__}")
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a cosine in [-1, 1], got {threshold}")
    U = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
    kept: list[int] = []
    dropped: dict[int, int] = {}
    for i in range(len(ids)):
        if kept:
            sims = U[kept] @ U[i]
            j = int(np.argmax(sims >= threshold)) if (sims >= threshold).any() else -1
            if j >= 0:
                dropped[int(ids[i])] = int(ids[kept[j]])
                continue
        kept.append(i)
    return ids[kept].astype(np.int64), dropped
