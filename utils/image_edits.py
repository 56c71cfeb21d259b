"""Copy-detection edits with a strength knob, global descriptors, and a small copy encoder.

A copy detector must match an edited upload to its original among many look-alikes
(Douze et al., 2021, "The 2021 Image Similarity Dataset and Challenge"). This module makes the
edits and the baselines the image-search chapter measures.

**Edits** take one RGB image, a strength ``s`` in [0, 1] and a seed, and return a new float32
(3, H', W') tensor in [0, 1]; ``s = 0`` is the identity for every edit. All are built on
``torchvision.transforms.v2.functional``:

- :func:`crop_edit`: keep a random window of area ``1 - 0.7 s`` of the image (aspect ratio
  jittered by up to 4/3), at its native resolution, as a screenshot or re-framing would;
- :func:`rotate_edit`: rotate by ``45 s`` degrees, random sign, black corners, same size;
- :func:`colour_edit`: brightness and contrast factors ``(1 + 0.6 s)^(±1)`` and a hue shift of
  ``±0.3 s`` of the colour circle (random signs), as a filter app would;
- :func:`noise_edit`: additive Gaussian noise of standard deviation ``0.2 s``, clipped;
- :func:`jpeg_edit`: JPEG re-encoding at quality ``round(100 - 90 s)`` (10 at ``s = 1``), via
  ``torchvision.io.encode_jpeg``/``decode_jpeg`` (see :func:`jpeg_available`);
- :func:`combined_edit`: crop, rotation, colour, noise and JPEG in that order (geometry, then
  photometry, then the re-encode an upload pipeline applies last), each at strength ``s / 2``.

Randomness comes only from ``rng`` (an int seed or a ``numpy.random.Generator``), so an edit is
reproducible from its seed, whatever else uses torch's global generator.

**Descriptors** (rows L2-normalised, compared by cosine) on a list of images of any sizes:

- :func:`tiny_image`: the pixel baseline, a ``size x size`` thumbnail, mean-centred
  (Torralba et al., 2008, "80 million tiny images");
- :func:`colour_histogram`: a joint RGB histogram with square-root (Hellinger) weighting, as
  in colour indexing (Swain and Ballard, 1991): blind to geometry, so robust to crops and
  rotations, and blind to nothing a colour filter changes.

**Learned**: :func:`train_copy_encoder` trains a :class:`CopyCNN` (three conv stages, a
flattened spatial grid, unit-norm output) with InfoNCE on pairs of edited views of random photo
crops, the recipe of SSCD (Pizzi et al., 2022) at toy scale: augmentations that mimic the
expected copy edits, so the encoder learns to ignore them. No pretrained weights are used.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torchvision.ops import Conv2dNormActivation
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from ._checks import check_choice, check_positive_int
from ._threads import torch_threads

__all__ = [
    "EDIT_TYPES",
    "CopyCNN",
    "apply_edit",
    "as_chw",
    "colour_edit",
    "colour_histogram",
    "combined_edit",
    "crop_edit",
    "jpeg_available",
    "jpeg_edit",
    "noise_edit",
    "random_crops",
    "resize_batch",
    "rotate_edit",
    "tiny_image",
    "train_copy_encoder",
]

EDIT_TYPES: tuple[str, ...] = ("crop", "rotate", "colour", "noise", "jpeg", "combined")
MIN_SIDE = 8  # smallest image side an edit accepts


# --------------------------------------------------------------------------- validation
def as_chw(image: object, name: str = "image") -> torch.Tensor:
    """One RGB image -> float32 (3, H, W) tensor in [0, 1].

    Accepts a (3, H, W) torch tensor or an (H, W, 3) NumPy array (as
    :func:`utils.data.photos.load_sample_photos` returns), float in [0, 1] or uint8 (divided by
    255). Both sides must be at least 8 pixels.
    """
    if isinstance(image, torch.Tensor):
        t = image.detach()
        if t.ndim != 3 or t.shape[0] != 3:
            raise ValueError(f"{name} must be a (3, H, W) tensor, got shape {tuple(t.shape)}")
    elif isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{name} must be an (H, W, 3) array, got shape {image.shape}")
        if not (np.issubdtype(image.dtype, np.number) or image.dtype == np.bool_):
            raise TypeError(f"{name} must hold numbers, got dtype {image.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    else:
        raise TypeError(
            f"{name} must be a (3, H, W) torch tensor or an (H, W, 3) NumPy array, "
            f"got {type(image).__name__}"
        )
    if t.dtype == torch.uint8:
        t = t.to(torch.float32) / 255.0
    elif t.is_floating_point():
        t = t.to(torch.float32)
    else:
        raise TypeError(f"{name} must be float in [0, 1] or uint8, got {t.dtype}")
    if min(t.shape[1:]) < MIN_SIDE:
        raise ValueError(f"{name} must be at least {MIN_SIDE}x{MIN_SIDE}, got {tuple(t.shape)}")
    if not torch.isfinite(t).all() or t.min() < 0 or t.max() > 1:
        raise ValueError(f"{name} must hold finite values in [0, 1] (divide uint8 by 255)")
    return t.contiguous()


def _check_strength(strength: object) -> float:
    if isinstance(strength, bool) or not isinstance(strength, int | float | np.number):
        raise TypeError(f"strength must be a number in [0, 1], got {type(strength).__name__}")
    s = float(strength)
    if not (math.isfinite(s) and 0.0 <= s <= 1.0):
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    return s


def _rng(rng: object) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, int | np.integer) or rng < 0:
        raise TypeError(f"rng must be a non-negative int seed or a numpy Generator, got {rng!r}")
    return np.random.default_rng(int(rng))


def _one_thread(fn: Callable) -> Callable:
    """Run ``fn`` on one intra-op thread: one small image is too little work to split, and on a
    busy 2-core machine the hand-offs cost up to 100x the work (measured: a 64x64 rotation took
    0.5 ms on one thread, 50 ms on two under load)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with torch_threads(1):
            return fn(*args, **kwargs)

    return wrapper


def _sign(g: np.random.Generator) -> float:
    return 1.0 if g.random() < 0.5 else -1.0


# --------------------------------------------------------------------------- edits
@_one_thread
def crop_edit(image: object, strength: float, rng: int | np.random.Generator = 0) -> torch.Tensor:
    """Random window keeping area fraction ``1 - 0.7 s``; aspect ratio x r, log r ~ U(±log 4/3).

    The window keeps its native pixels (no resize) and is clipped to the image. At least
    ``MIN_SIDE`` pixels remain on each side.
    """
    img, s, g = as_chw(image), _check_strength(strength), _rng(rng)
    if s == 0:
        return img.clone()
    _, h, w = img.shape
    area = (1.0 - 0.7 * s) * h * w
    ratio = (w / h) * math.exp(g.uniform(-math.log(4 / 3), math.log(4 / 3)))  # width / height
    cw = min(w, max(MIN_SIDE, round(math.sqrt(area * ratio))))
    ch = min(h, max(MIN_SIDE, round(math.sqrt(area / ratio))))
    top = int(g.integers(0, h - ch + 1))
    left = int(g.integers(0, w - cw + 1))
    return F.crop(img, top, left, ch, cw).contiguous()


@_one_thread
def rotate_edit(image: object, strength: float, rng: int | np.random.Generator = 0) -> torch.Tensor:
    """Rotate by ``±45 s`` degrees about the centre (bilinear), same size, black corners."""
    img, s, g = as_chw(image), _check_strength(strength), _rng(rng)
    if s == 0:
        return img.clone()
    angle = 45.0 * s * _sign(g)
    out = F.rotate(img, angle, interpolation=InterpolationMode.BILINEAR, expand=False, fill=0.0)
    return out.clamp_(0, 1)


@_one_thread
def colour_edit(image: object, strength: float, rng: int | np.random.Generator = 0) -> torch.Tensor:
    """Brightness and contrast x ``(1 + 0.6 s)^(±1)``, then hue shifted by ``±0.3 s``."""
    img, s, g = as_chw(image), _check_strength(strength), _rng(rng)
    if s == 0:
        return img.clone()
    factor = 1.0 + 0.6 * s
    out = F.adjust_brightness(img, factor ** _sign(g))
    out = F.adjust_contrast(out, factor ** _sign(g))
    out = F.adjust_hue(out, 0.3 * s * _sign(g))
    return out.clamp_(0, 1)


@_one_thread
def noise_edit(image: object, strength: float, rng: int | np.random.Generator = 0) -> torch.Tensor:
    """Add N(0, (0.2 s)^2) to every pixel and clip to [0, 1] (``F.gaussian_noise``'s model,
    with the noise drawn from a generator seeded by ``rng``)."""
    img, s, g = as_chw(image), _check_strength(strength), _rng(rng)
    if s == 0:
        return img.clone()
    gen = torch.Generator().manual_seed(int(g.integers(0, 2**63 - 1)))
    noise = torch.randn(img.shape, generator=gen, dtype=torch.float32)
    return (img + 0.2 * s * noise).clamp_(0, 1)


_JPEG_OK: bool | None = None


def _jpeg_roundtrip(u8: torch.Tensor, quality: int) -> torch.Tensor:
    """encode_jpeg then decode_jpeg. torchvision 0.29 deprecates its image codecs in favour of
    TorchCodec (not a dependency here) and warns on every call; the codecs still work, so the
    warning is silenced for these two calls only."""
    from torchvision.io import decode_jpeg, encode_jpeg

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*TorchCodec.*", category=DeprecationWarning)
        return decode_jpeg(encode_jpeg(u8, quality=quality))


def jpeg_available() -> bool:
    """Whether this torchvision can encode and decode JPEG (built with libjpeg)."""
    global _JPEG_OK
    if _JPEG_OK is None:
        try:
            x = torch.zeros((3, 16, 16), dtype=torch.uint8)
            _JPEG_OK = _jpeg_roundtrip(x, 50).shape == x.shape
        except Exception:  # no libjpeg, or an old torchvision
            _JPEG_OK = False
    return _JPEG_OK


@_one_thread
def jpeg_edit(image: object, strength: float, rng: int | np.random.Generator = 0) -> torch.Tensor:
    """Re-encode as JPEG at quality ``round(100 - 90 s)`` (``rng`` is accepted and unused)."""
    img, s = as_chw(image), _check_strength(strength)
    _rng(rng)
    if s == 0:
        return img.clone()
    if not jpeg_available():
        raise RuntimeError(
            "jpeg_edit needs torchvision built with libjpeg (torchvision.io.encode_jpeg failed); "
            "install the pinned torchvision wheel or skip the 'jpeg' edit"
        )
    quality = round(100 - 90 * s)
    u8 = (img * 255.0).round_().to(torch.uint8)
    return _jpeg_roundtrip(u8, quality).to(torch.float32) / 255.0


@_one_thread
def combined_edit(
    image: object, strength: float, rng: int | np.random.Generator = 0
) -> torch.Tensor:
    """Crop, rotation, colour, noise and JPEG in that order, each at strength ``s / 2``.

    JPEG is skipped (silently) where :func:`jpeg_available` is False.
    """
    img, s, g = as_chw(image), _check_strength(strength), _rng(rng)
    if s == 0:
        return img.clone()
    half = s / 2
    out = crop_edit(img, half, g)
    out = rotate_edit(out, half, g)
    out = colour_edit(out, half, g)
    out = noise_edit(out, half, g)
    return jpeg_edit(out, half, g) if jpeg_available() else out


_EDITS = {
    "crop": crop_edit,
    "rotate": rotate_edit,
    "colour": colour_edit,
    "noise": noise_edit,
    "jpeg": jpeg_edit,
    "combined": combined_edit,
}


def apply_edit(
    image: object, kind: str, strength: float, rng: int | np.random.Generator = 0
) -> torch.Tensor:
    """Dispatch to the edit named ``kind`` (one of :data:`EDIT_TYPES`)."""
    return _EDITS[check_choice(kind, "kind", EDIT_TYPES)](image, strength, rng)


# --------------------------------------------------------------------------- descriptors
@_one_thread
def resize_batch(images: object, size: int) -> torch.Tensor:
    """RGB images of any sizes -> a float32 (n, 3, size, size) tensor.

    ``images``: a list of images as :func:`as_chw` takes them, an (n, 3, H, W) tensor or an
    (n, H, W, 3) NumPy array (the layout ``utils.image_search.ImageIndex`` passes encoders).

    Bilinear with antialiasing, so a large image is low-pass filtered before it is shrunk.
    """
    size = check_positive_int(size, "size")
    if isinstance(images, torch.Tensor) and images.ndim == 4:
        items: Sequence = list(images)
    elif isinstance(images, np.ndarray) and images.ndim == 4:
        items = list(images)
    elif isinstance(images, list | tuple):
        items = images
    else:
        raise TypeError(
            "images must be a list of RGB images, an (n, 3, H, W) tensor or an (n, H, W, 3) array"
        )
    if len(items) == 0:
        raise ValueError("images must not be empty")
    out = [
        F.resize(as_chw(im, f"images[{i}]"), [size, size], antialias=True)
        for i, im in enumerate(items)
    ]
    return torch.stack(out).clamp_(0, 1)


def _l2_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def tiny_image(images: object, size: int = 16) -> np.ndarray:
    """Pixel baseline: ``size x size`` RGB thumbnail, minus its mean, L2-normalised.

    Returns (n, 3 * size**2) float32 rows. Subtracting the mean and normalising makes the
    cosine between two thumbnails their Pearson correlation: invariant to a global brightness
    offset and contrast gain, sensitive to any geometric change.
    """
    x = resize_batch(images, size).reshape(-1, 3 * size * size).numpy().astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    return _l2_rows(x)


def colour_histogram(images: object, bins: int = 8, size: int = 64) -> np.ndarray:
    """Joint RGB histogram with ``bins`` levels a channel, square-rooted and L2-normalised.

    Each image is first resized to ``size x size`` so every image casts the same number of
    votes. With ``h`` the normalised histogram, the row is ``sqrt(h)``; the cosine of two rows
    is then the Bhattacharyya coefficient of the histograms (Hellinger kernel). Returns
    (n, bins**3) float32.
    """
    bins = check_positive_int(bins, "bins")
    x = resize_batch(images, size).numpy()  # (n, 3, s, s)
    q = np.minimum((x * bins).astype(np.int64), bins - 1)
    codes = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]  # (n, s, s)
    n = codes.shape[0]
    flat = codes.reshape(n, -1) + (np.arange(n)[:, None] * bins**3)
    hist = np.bincount(flat.ravel(), minlength=n * bins**3).reshape(n, bins**3)
    return _l2_rows(np.sqrt(hist / hist.sum(axis=1, keepdims=True)))


# --------------------------------------------------------------------------- learned encoder
class CopyCNN(nn.Module):
    """Copy-detection encoder: (B, 3, H, W) in [0, 1] -> (B, dim) unit vectors.

    Inputs are resized (bilinear, antialiased) to ``input_size`` (a multiple of 8); three
    conv-BN-ReLU-max-pool stages (torchvision's ``Conv2dNormActivation``, widths ``width``,
    ``2 width``, ``4 width``) leave an ``input_size/8`` square grid that is *flattened*, not
    averaged, before a linear projection. Unlike ``utils.models.encoders.SmallCNN``, whose global
    average pooling makes a bag of local patterns, the flattened grid keeps the layout, which is
    what separates two tiles of the same texture. About 39k parameters at the defaults.
    """

    def __init__(self, dim: int = 64, width: int = 8, input_size: int = 32):
        super().__init__()
        self.dim = check_positive_int(dim, "dim")
        width = check_positive_int(width, "width")
        self.input_size = check_positive_int(input_size, "input_size")
        if input_size % 8:
            raise ValueError(f"input_size must be a multiple of 8, got {input_size}")
        stages: list[nn.Module] = []
        c_in = 3
        for c_out in (width, 2 * width, 4 * width):
            stages += [Conv2dNormActivation(c_in, c_out, kernel_size=3), nn.MaxPool2d(2)]
            c_in = c_out
        self.features = nn.Sequential(*stages, nn.Flatten())
        self.proj = nn.Linear(c_in * (input_size // 8) ** 2, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a (batch, 3, H, W) tensor, got {shape}")
        s = self.input_size
        if tuple(x.shape[2:]) != (s, s):
            x = nn.functional.interpolate(
                x, size=(s, s), mode="bilinear", antialias=True, align_corners=False
            )
        return nn.functional.normalize(self.proj(self.features(x)), dim=1)


def random_crops(
    photos: Sequence[object], n: int, size: int, rng: int | np.random.Generator = 0
) -> torch.Tensor:
    """``n`` random ``size x size`` windows, each from a photo drawn uniformly: (n, 3, s, s)."""
    n, size, g = check_positive_int(n, "n"), check_positive_int(size, "size"), _rng(rng)
    if len(photos) == 0:
        raise ValueError("photos must not be empty")
    imgs = [as_chw(p, f"photos[{i}]") for i, p in enumerate(photos)]
    for i, im in enumerate(imgs):
        if min(im.shape[1:]) < size:
            raise ValueError(f"photos[{i}] is smaller than the crop size {size}")
    out = []
    for k in g.integers(0, len(imgs), size=n):
        im = imgs[int(k)]
        top = int(g.integers(0, im.shape[1] - size + 1))
        left = int(g.integers(0, im.shape[2] - size + 1))
        out.append(im[:, top : top + size, left : left + size])
    return torch.stack(out).contiguous()


def train_copy_encoder(
    crops: torch.Tensor,
    *,
    dim: int = 64,
    width: int = 8,
    input_size: int = 32,
    epochs: int = 8,
    batch_size: int = 128,
    temperature: float = 0.1,
    lr: float = 3e-3,
    edit_kinds: tuple[str, ...] = ("crop", "rotate", "colour", "noise"),
    seed: int = 0,
    num_threads: int | None = 1,
) -> CopyCNN:
    """SSCD-style copy encoder at toy scale (Pizzi et al., 2022), trained with InfoNCE.

    For every crop, two views are made by :func:`apply_edit`, each with a kind drawn uniformly
    from ``edit_kinds`` and a strength from U(0, 1), resized to ``input_size``; the views are
    drawn once (a fixed pool: cheaper than re-augmenting each epoch, at the price of fewer
    distinct pairs). A :class:`CopyCNN` is trained with :func:`utils.losses.info_nce_loss`
    (view 1 as queries, view 2 as keys, the other crops of the batch as negatives) for
    ``epochs`` passes of Adam. Everything random derives from ``seed``. Returns the encoder in
    eval mode, with its mean training loss per epoch in ``encoder.epoch_losses`` (a batch of
    ``B`` pairs starts near ``log B``).

    Training runs on ``num_threads`` intra-op threads (restored afterwards; ``None`` keeps
    torch's setting). The default is one: a batch of 128 32x32 images is too little work to
    split, and on a shared 2-core machine two threads made training 5-9x slower (measured).
    """
    if not isinstance(crops, torch.Tensor) or crops.ndim != 4 or crops.shape[1] != 3:
        raise ValueError("crops must be an (n, 3, H, W) tensor, e.g. from random_crops")
    batch_size = check_positive_int(batch_size, "batch_size")
    epochs = check_positive_int(epochs, "epochs")
    if crops.shape[0] < 2 or batch_size < 2:
        raise ValueError("need at least 2 crops and batch_size >= 2 (InfoNCE needs negatives)")
    if len(edit_kinds) == 0:
        raise ValueError("edit_kinds must not be empty")
    for kind in edit_kinds:
        check_choice(kind, "edit kind", EDIT_TYPES)
    if num_threads is not None:
        num_threads = check_positive_int(num_threads, "num_threads")
    with torch_threads(num_threads):
        return _train_copy_encoder(
            crops, dim, width, input_size, epochs, batch_size, temperature, lr, edit_kinds, seed
        )


def _train_copy_encoder(
    crops, dim, width, input_size, epochs, batch_size, temperature, lr, edit_kinds, seed
) -> CopyCNN:
    from .losses import info_nce_loss

    g = np.random.default_rng(seed)
    views = []
    for _ in range(2):
        edited = [
            apply_edit(c, edit_kinds[int(g.integers(len(edit_kinds)))], float(g.random()), g)
            for c in crops
        ]
        views.append(resize_batch(edited, input_size))
    torch.manual_seed(seed)
    model = CopyCNN(dim=dim, width=width, input_size=input_size)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = crops.shape[0]
    order_gen = torch.Generator().manual_seed(seed)
    model.train()
    model.epoch_losses = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=order_gen)
        losses = []
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2:
                continue
            loss = info_nce_loss(model(views[0][idx]), model(views[1][idx]), temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        model.epoch_losses.append(float(np.mean(losses)))
    return model.eval()
