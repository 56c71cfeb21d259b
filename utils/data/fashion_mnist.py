"""Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 70,000 Zalando product photos, 28x28 grey.

Ten classes of clothing, shoes and bags (``FASHION_CLASSES``), 6,000 training and 1,000 test
images per class, MIT licence (Copyright 2017 Zalando SE). The book reads it from the Debian
package ``dataset-fashion-mnist`` (Debian 12 "bookworm", version 0.0~git20200523.55506a9-1),
which installs the four original IDX files under ``/usr/share/datasets/fashion-mnist/``.

The loader tries, in order:

1. the cache ``data/cache/fashion_mnist.npz`` (validated; a corrupt cache is rebuilt);
2. the installed package's directory, ``/usr/share/datasets/fashion-mnist/``;
3. ``apt-get download dataset-fashion-mnist`` into a temporary folder, unpacked with
   ``dpkg-deb -x`` (no root needed for either where apt's package lists are present; as root,
   empty lists are refreshed once with ``apt-get update``; nothing is installed system-wide);

and otherwise raises a ``RuntimeError`` that lists what it tried and how to fix it. Every source
is checked against the SHA-256 of the four IDX files and the counts per class before it is
cached, so a truncated download can never be cached.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._checks import check_choice, check_positive_int
from ._cache import cache_dir, load_via_sources

DEBIAN_PACKAGE = "dataset-fashion-mnist"
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
# SHA-256 of the gzipped IDX files as Zalando published them (and Debian ships them).
IDX_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"
    ),
    "train-labels-idx1-ubyte.gz": (
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"
    ),
}
N_TRAIN, N_TEST = 60_000, 10_000
SPLITS = ("train", "test", "all")


class FashionMNIST(NamedTuple):
    """The two official splits: images uint8 (n, 28, 28), labels int64 (n,) in 0..9."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_idx(path: Path, magic: int, shape: tuple[int, ...]) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    header = 4 * (1 + len(shape))
    dims = np.frombuffer(raw[:header], dtype=">u4")
    if int(dims[0]) != magic or tuple(int(d) for d in dims[1:]) != shape:
        raise ValueError(f"{path.name}: IDX header {dims.tolist()} is not magic {magic}, {shape}")
    return np.frombuffer(raw[header:], dtype=np.uint8).reshape(shape)


def _from_idx_dir(folder: Path) -> FashionMNIST:
    """Read and checksum the four IDX files in ``folder``."""
    for name, digest in IDX_SHA256.items():
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing")
        if _sha256(path) != digest:
            raise ValueError(f"{path}: SHA-256 does not match the published file")
    return FashionMNIST(
        _read_idx(folder / "train-images-idx3-ubyte.gz", 2051, (N_TRAIN, 28, 28)),
        _read_idx(folder / "train-labels-idx1-ubyte.gz", 2049, (N_TRAIN,)).astype(np.int64),
        _read_idx(folder / "t10k-images-idx3-ubyte.gz", 2051, (N_TEST, 28, 28)),
        _read_idx(folder / "t10k-labels-idx1-ubyte.gz", 2049, (N_TEST,)).astype(np.int64),
    )


def _from_apt(verbose: bool) -> FashionMNIST:
    """``apt-get download`` the Debian package and unpack it with ``dpkg-deb -x`` (no install)."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found (not a Debian-based machine)")
    with tempfile.TemporaryDirectory(prefix="fashion-mnist-") as tmp:

        def download() -> tuple[subprocess.CompletedProcess, list[Path]]:
            run = subprocess.run(
                ["apt-get", "download", DEBIAN_PACKAGE],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=600,
            )
            return run, sorted(Path(tmp).glob(f"{DEBIAN_PACKAGE}_*.deb"))

        run, debs = download()
        if (run.returncode != 0 or not debs) and hasattr(os, "geteuid") and os.geteuid() == 0:
            # a fresh machine may have empty package lists; as root, refresh them once and retry
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600)
            run, debs = download()
        if run.returncode != 0 or not debs:
            msg = (run.stderr or run.stdout).strip().splitlines()
            raise RuntimeError(f"apt-get download failed: {msg[-1] if msg else run.returncode}")
        if verbose:
            print(f"downloaded {debs[0].name}")
        root = Path(tmp) / "root"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(root)], check=True, timeout=600)
        return _from_idx_dir(root / SYSTEM_DIR.relative_to("/"))


def validate_fashion_mnist(data: FashionMNIST) -> None:
    """Shapes, dtypes, label range and the exact class balance of the official splits."""
    expected = ((N_TRAIN, 6_000), (N_TEST, 1_000))
    for images, labels, (n, per_class) in zip(data[0::2], data[1::2], expected, strict=True):
        if images.shape != (n, 28, 28) or images.dtype != np.uint8:
            raise ValueError(f"images have shape {images.shape}, dtype {images.dtype}")
        if labels.shape != (n,) or labels.min() < 0 or labels.max() > 9:
            raise ValueError(f"labels have shape {labels.shape} or values outside 0..9")
        counts = np.bincount(labels, minlength=10)
        if not (counts == per_class).all():
            raise ValueError(f"class counts {counts.tolist()} are not {per_class} each")


def load_fashion_mnist(
    cache: str | os.PathLike | None = None, *, verbose: bool = False
) -> FashionMNIST:
    """Load both official splits of Fashion-MNIST (see :class:`FashionMNIST`), validated."""
    path = cache_dir(cache) / "fashion_mnist.npz"

    def read(p: Path) -> FashionMNIST:
        with np.load(p) as z:
            return FashionMNIST(*(z[k] for k in FashionMNIST._fields))

    return load_via_sources(
        "Fashion-MNIST",
        path,
        read=read,
        write=lambda data, tmp: np.savez(tmp, **data._asdict()),
        validate=validate_fashion_mnist,
        sources=(
            (f"installed package {SYSTEM_DIR}", lambda: _from_idx_dir(SYSTEM_DIR)),
            (f"apt-get download {DEBIAN_PACKAGE} + dpkg-deb -x", lambda: _from_apt(verbose)),
        ),
        fix=f"on Debian or Ubuntu, `sudo apt-get install {DEBIAN_PACKAGE}` (or run"
        f" `apt-get update` so that `apt-get download {DEBIAN_PACKAGE}` can find it); elsewhere,"
        " download the four *-idx*-ubyte.gz files from"
        " https://github.com/zalandoresearch/fashion-mnist and copy them into"
        f" {SYSTEM_DIR} or pass their folder's parent cache.",
        verbose=verbose,
    )


def fashion_retrieval_split(
    n_gallery: int = 2_000,
    n_queries: int = 500,
    *,
    n_train: int = 0,
    seed: int = 0,
    cache: str | os.PathLike | None = None,
) -> dict[str, np.ndarray]:
    """A seeded, class-balanced retrieval benchmark cut from the official splits.

    The gallery (the catalogue being searched) and the optional ``n_train`` images for training
    or fine-tuning come from the official *train* split and never overlap; the queries come from
    the official *test* split, so no query image is in the gallery or in training. Each count
    must be a multiple of 10 (the same number per class). Returns a dict with
    ``gallery_images``/``gallery_labels``, ``query_images``/``query_labels`` and, when
    ``n_train > 0``, ``train_images``/``train_labels``; images are uint8 (n, 28, 28). The
    ``*_index`` arrays give each row's position in its official split.
    """
    n_gallery = check_positive_int(n_gallery, "n_gallery")
    n_queries = check_positive_int(n_queries, "n_queries")
    if isinstance(n_train, bool) or not isinstance(n_train, int) or n_train < 0:
        raise ValueError(f"n_train must be an int >= 0, got {n_train!r}")
    for name, n in (("n_gallery", n_gallery), ("n_queries", n_queries), ("n_train", n_train)):
        if n % 10:
            raise ValueError(f"{name} must be a multiple of 10 (balanced classes), got {n}")
    if (n_gallery + n_train) // 10 > 6_000:
        raise ValueError(
            f"n_gallery + n_train = {n_gallery + n_train} exceeds the 60,000 train images"
        )
    if n_queries // 10 > 1_000:
        raise ValueError(f"n_queries = {n_queries} exceeds the 10,000 test images")
    data = load_fashion_mnist(cache)
    rng = np.random.default_rng(seed)
    g_idx, t_idx, q_idx = [], [], []
    for c in range(10):
        pool = rng.permutation(np.flatnonzero(data.train_labels == c))
        g_idx.append(pool[: n_gallery // 10])
        t_idx.append(pool[n_gallery // 10 : (n_gallery + n_train) // 10])
        q_idx.append(rng.permutation(np.flatnonzero(data.test_labels == c))[: n_queries // 10])
    g, t, q = (rng.permutation(np.concatenate(i)) for i in (g_idx, t_idx, q_idx))
    out = {
        "gallery_images": data.train_images[g],
        "gallery_labels": data.train_labels[g],
        "query_images": data.test_images[q],
        "query_labels": data.test_labels[q],
        "gallery_index": g,
        "query_index": q,
    }
    if n_train:
        out["train_images"] = data.train_images[t]
        out["train_labels"] = data.train_labels[t]
        out["train_index"] = t
    return out


def as_product_photo(images: np.ndarray) -> np.ndarray:
    """Fashion-MNIST stores each product light on black (the pixel values are inverted photos);
    catalogue photos, and ImageNet's, show the object on a light background. ``255 - images``
    (uint8) or ``1 - images`` (float in [0, 1]) turns them back; chapter 03's lab measures what
    this does to pretrained features."""
    arr = np.asarray(images)
    if arr.dtype == np.uint8:
        return 255 - arr
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ValueError("images: float pixels must lie in [0, 1]")
        return 1.0 - arr
    raise TypeError(f"images must be uint8 or float pixels, got dtype {arr.dtype}")


def fashion_split(split: str = "train", cache: str | os.PathLike | None = None):
    """``(images, labels)`` of one official split (``"train"``, ``"test"``) or ``"all"`` (70k)."""
    split = check_choice(split, "split", SPLITS)
    d = load_fashion_mnist(cache)
    if split == "train":
        return d.train_images, d.train_labels
    if split == "test":
        return d.test_images, d.test_labels
    return np.concatenate([d.train_images, d.test_images]), np.concatenate(
        [d.train_labels, d.test_labels]
    )
