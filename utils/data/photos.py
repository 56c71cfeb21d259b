"""Real sample photos bundled with scikit-image and scikit-learn, for near-duplicate search.

Only images that ship inside the installed wheels are used (nothing downloads):

- scikit-image 0.26, ``skimage.data``: astronaut, camera, coffee, chelsea, rocket, cat, horse,
  hubble_deep_field, immunohistochemistry, moon, page, text, clock, coins, grass, gravel, brick,
  retina, colorwheel (19 names);
- scikit-learn, ``sklearn.datasets.load_sample_images``: china, flower.

``skimage.data.cat()`` is an alias of ``chelsea()``: the two names return byte-identical pixels.
The bundle itself therefore holds an exact duplicate, the smallest possible lesson in why a
catalogue is deduplicated before it is indexed. :func:`load_sample_photos` drops exact
duplicates (same shape and pixel bytes, keeping the first name) unless asked not to.

Every photo comes back as a float32 (H, W, 3) array in [0, 1]: uint8 pixels are divided by 255,
the boolean silhouette ``horse`` becomes 0/1, grey images are replicated to three channels and
an alpha channel, if any, is dropped.

:func:`photo_tiles` cuts photos into non-overlapping square tiles (a gallery of look-alikes for
copy detection: tiles of one photo share palette and texture) and drops near-constant tiles,
which are duplicates of each other with nothing to match. Its tiling is :func:`grid_windows`
with ``stride == size``; a smaller stride gives overlapping windows (a dense index, as
:mod:`utils.vision.view_change` builds of a stereo view).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = [
    "SKIMAGE_PHOTOS",
    "SKLEARN_PHOTOS",
    "grid_windows",
    "load_sample_photos",
    "photo_tiles",
    "resize_short_side",
]

SKIMAGE_PHOTOS: tuple[str, ...] = (
    "astronaut",
    "camera",
    "coffee",
    "chelsea",
    "rocket",
    "cat",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "text",
    "clock",
    "coins",
    "grass",
    "gravel",
    "brick",
    "retina",
    "colorwheel",
)
SKLEARN_PHOTOS: tuple[str, ...] = ("china", "flower")


def _to_rgb_float(img: np.ndarray, name: str) -> np.ndarray:
    """uint8 / bool / float pixels, grey or RGB(A) -> float32 (H, W, 3) in [0, 1]."""
    arr = np.asarray(img)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
    else:
        arr = arr.astype(np.float32)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise RuntimeError(f"photo {name!r} has an unexpected shape {np.shape(img)}")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise RuntimeError(f"photo {name!r} has pixel values outside [0, 1] after scaling")
    return np.ascontiguousarray(arr)


def _load_skimage(name: str) -> np.ndarray:
    try:
        from skimage import data as skdata
    except ImportError as exc:
        raise ImportError(
            "load_sample_photos needs scikit-image for its bundled photos: install the pinned "
            "version with `pip install -r requirements.txt` (scikit-image==0.26.*), or pass "
            f"names={list(SKLEARN_PHOTOS)} to use only scikit-learn's two photos"
        ) from exc
    try:
        return getattr(skdata, name)()
    except Exception as exc:  # a broken install: missing or unreadable bundled file
        raise RuntimeError(
            f"scikit-image could not read its bundled photo {name!r} ({exc}); reinstall "
            "scikit-image (pip install --force-reinstall -r requirements.txt)"
        ) from exc


def _load_sklearn() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_sample_images

    bunch = load_sample_images()
    out = {}
    for path, img in zip(bunch.filenames, bunch.images, strict=True):
        stem = str(path).replace("\\", "/").rsplit("/", 1)[-1].split(".")[0]
        out[stem] = img
    return out


def load_sample_photos(
    names: list[str] | tuple[str, ...] | None = None, *, drop_duplicates: bool = True
) -> dict[str, np.ndarray]:
    """Return ``{name: float32 (H, W, 3) array in [0, 1]}`` for the bundled photos.

    ``names`` selects photos (default: all 21 names, scikit-image's first, then china and
    flower), in the order given. With ``drop_duplicates`` (default) a photo whose pixels are
    byte-identical to an earlier one is skipped: by default ``cat`` (= ``chelsea``) is dropped
    and 20 photos remain. Unknown names raise ``ValueError``; a missing scikit-image raises an
    ``ImportError`` that says how to install it.
    """
    known = SKIMAGE_PHOTOS + SKLEARN_PHOTOS
    if names is None:
        names = known
    if isinstance(names, str) or not isinstance(names, list | tuple):
        raise TypeError(f"names must be a list or tuple of photo names, got {type(names).__name__}")
    if len(names) == 0:
        raise ValueError("names must not be empty")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown photo name(s) {unknown}; expected names from {', '.join(known)} "
            "(photos that scikit-image would download are deliberately excluded)"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"names contains repeated entries: {list(names)}")
    sklearn_imgs = _load_sklearn() if any(n in SKLEARN_PHOTOS for n in names) else {}
    out: dict[str, np.ndarray] = {}
    seen: set[tuple] = set()
    for name in names:
        raw = sklearn_imgs[name] if name in SKLEARN_PHOTOS else _load_skimage(name)
        raw = np.asarray(raw)
        key = (raw.shape, str(raw.dtype), hashlib.sha1(np.ascontiguousarray(raw)).hexdigest())
        if drop_duplicates and key in seen:
            continue
        seen.add(key)
        out[name] = _to_rgb_float(raw, name)
    return out


def resize_short_side(photo: np.ndarray, short_side: int) -> np.ndarray:
    """Resize an (H, W, 3) float photo so that min(H, W) == ``short_side`` (aspect kept).

    Bilinear with antialiasing (``torchvision.transforms.v2.functional.resize``), clipped to
    [0, 1]. Returns float32 (H', W', 3).
    """
    import torch
    from torchvision.transforms.v2 import functional as F

    from .._checks import check_positive_int

    short_side = check_positive_int(short_side, "short_side")
    arr = np.asarray(photo)
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise ValueError(f"photo must be an (H, W, 3) array, got shape {arr.shape}")
    h, w = arr.shape[:2]
    r = short_side / min(h, w)
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(2, 0, 1)
    out = F.resize(t, [round(h * r), round(w * r)], antialias=True).clamp(0, 1)
    return np.ascontiguousarray(out.permute(1, 2, 0).numpy())


def grid_windows(image: object, size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """All ``size x size`` windows of an (H, W, 3) image whose top-left corners lie on a
    ``stride`` grid from (0, 0), row by row. Returns ``(windows (n, size, size, 3) float32,
    positions (n, 2) int64 top-left (y, x))``. ``stride == size`` tiles the image without
    overlap (what :func:`photo_tiles` does); a smaller stride gives overlapping windows (a
    denser index)."""
    from .._checks import check_positive_int

    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be an (H, W, 3) image, got shape {img.shape}")
    size, stride = check_positive_int(size, "size"), check_positive_int(stride, "stride")
    h, w = img.shape[:2]
    if size > min(h, w):
        raise ValueError(f"size ({size}) must not exceed the image's short side ({min(h, w)})")
    pos = np.array(
        [(y, x) for y in range(0, h - size + 1, stride) for x in range(0, w - size + 1, stride)],
        dtype=np.int64,
    )
    wins = np.stack([img[y : y + size, x : x + size] for y, x in pos]).astype(np.float32)
    return wins, pos


def photo_tiles(
    photos: dict[str, np.ndarray], tile: int = 64, short_side: int = 256, min_std: float = 0.03
) -> tuple[np.ndarray, np.ndarray, int]:
    """Cut photos into non-overlapping ``tile x tile`` tiles, row by row, photo by photo.

    Each photo is first resized so its short side is ``short_side`` (``resize_short_side``);
    tiles whose pixel standard deviation (ddof=1) is below ``min_std`` (blank margins, flat
    background) are dropped. Returns ``(tiles, names, n_dropped)``: float32 (n, tile, tile, 3),
    the source photo's name of each tile (n,), and the number of tiles dropped.
    """
    from .._checks import check_positive_int

    tile = check_positive_int(tile, "tile")
    short_side = check_positive_int(short_side, "short_side")
    if tile > short_side:
        raise ValueError(f"tile ({tile}) must not exceed short_side ({short_side})")
    if not isinstance(photos, dict) or len(photos) == 0:
        raise ValueError("photos must be a non-empty {name: (H, W, 3) array} dict")
    if not (isinstance(min_std, int | float) and min_std >= 0):
        raise ValueError(f"min_std must be a number >= 0, got {min_std!r}")
    tiles, names, dropped = [], [], 0
    for name, photo in photos.items():
        wins, _ = grid_windows(resize_short_side(photo, short_side), tile, tile)
        for t in wins:
            if float(t.std(ddof=1)) < min_std:
                dropped += 1
                continue
            tiles.append(t)
            names.append(name)
    if not tiles:
        raise ValueError("every tile was dropped: lower min_std or use other photos")
    return np.stack(tiles).astype(np.float32), np.array(names), dropped
