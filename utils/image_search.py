"""Image search: an encoder turns images into vectors, an index finds the nearest ones.

- :class:`ImageIndex` wraps an *encoder* (any callable ``images -> (n, d)`` float array) and a
  vector index. Vectors are L2-normalised on the way in (``normalize=True``), so the inner
  product is the cosine similarity and scores are "larger is better". Index back-ends:

  ========================  ==============================================================
  ``index="flat"``          exact search, ``faiss.IndexFlatIP`` (the default)
  ``index="hnsw"``          the book's from-scratch HNSW, :class:`utils.ann.HNSWIndex`
  ``index="faiss_hnsw"``    faiss ``HNSW{M}`` (params ``M``, ``ef_construction``, ``ef``)
  ``index="faiss_ivfpq"``   faiss ``IVF{nlist},PQ{m}x{nbits}`` (``nlist``, ``m``, ``nbits``,
                            ``nprobe``; defaults 64, 8, 8, 1)
  an ``utils.ann.Index``    any empty index of that interface, used as given
  ========================  ==============================================================

  The back-end is built at the first :meth:`ImageIndex.add`, when the embedding dimension is
  known. External ids (any int64 values, unique) map to the back-end's internal positions.
- :func:`load_image` reads a file with Pillow and turns a missing, empty or corrupt file into one
  ``ValueError`` that names the path, instead of a stack trace from deep inside PIL.
- Encoders: :class:`PixelEncoder` (raw pixels, the baseline every learned model must beat),
  :class:`HOGEncoder` (histograms of oriented gradients, Dalal & Triggs, CVPR 2005) and
  :class:`TorchEncoder` (any ``torch.nn.Module``, in eval mode, without gradients, batched).

Image batches follow one policy, checked by :func:`check_images`: a NumPy array (or a list of
equally shaped arrays, or a torch tensor) of shape ``(n, ...)`` with ``n >= 1``; dtype uint8
(0-255, divided by 255) or floating point with finite values in [0, 1] (scikit-image's
convention; clip edited images first). Booleans, strings and objects are a ``TypeError``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from ._checks import as_matrix, check_choice, check_k, check_positive_int

__all__ = ["HOGEncoder", "ImageIndex", "PixelEncoder", "TorchEncoder", "check_images", "load_image"]

BACKENDS = ("flat", "hnsw", "faiss_hnsw", "faiss_ivfpq")


def check_images(images: object, name: str = "images", *, image_shape=None) -> np.ndarray:
    """Validate an image batch and return it as float32 in [0, 1], shape ``(n, *image_shape)``.

    ``image_shape`` (the shape of one image, e.g. ``(28, 28)`` or ``(784,)``), when given, must
    match. See the module docstring for the dtype policy.
    """
    if isinstance(images, list | tuple):
        if len(images) == 0:
            raise ValueError(f"{name} must hold at least one image, got an empty list")
        shapes = {np.shape(im) for im in images}
        if len(shapes) > 1:
            raise ValueError(f"{name}: all images must have the same shape, got {sorted(shapes)}")
        images = np.stack([np.asarray(im) for im in images])
    if type(images).__module__.startswith("torch"):
        images = images.detach().cpu().numpy()
    if not isinstance(images, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array of images, got {type(images).__name__}")
    if images.dtype == np.bool_ or not np.issubdtype(images.dtype, np.number):
        raise TypeError(f"{name} must hold uint8 or float pixels, got dtype {images.dtype}")
    if images.ndim < 2:
        raise ValueError(f"{name} must be a batch (n, ...) of images, got shape {images.shape}")
    if images.shape[0] == 0 or images.size == 0:
        raise ValueError(f"{name} must hold at least one non-empty image, got {images.shape}")
    if image_shape is not None and tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"{name}: each image must have shape {tuple(image_shape)} like the gallery, got"
            f" {tuple(images.shape[1:])}"
        )
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(
            f"{name} must be uint8 (0-255) or float (0-1) pixels, got dtype {images.dtype}"
        )
    out = np.ascontiguousarray(images, dtype=np.float32)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or infinite pixel values")
    if out.min() < 0.0 or out.max() > 1.0:
        raise ValueError(
            f"{name}: float pixels must lie in [0, 1], got [{out.min():.3g}, {out.max():.3g}]"
            " (divide uint8 by 255, np.clip edited images)"
        )
    return out


def load_image(path: str | os.PathLike, mode: str | None = None) -> np.ndarray:
    """Read an image file with Pillow into a uint8 array ((H, W) grey or (H, W, C) colour).

    ``mode`` converts first ("L" grey, "RGB", ...). A missing path, a directory, an empty file
    a file Pillow cannot decode (corrupt or truncated) and a decompression bomb (more pixels than
    Pillow's ``Image.MAX_IMAGE_PIXELS`` allows, twice over) all raise ``ValueError`` naming the
    path: a bad upload must be rejected at the door, not crash the embedding job.
    """
    from PIL import Image, UnidentifiedImageError

    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not os.path.exists(path):
        raise ValueError(f"image file {os.fspath(path)!r} does not exist")
    if not os.path.isfile(path):
        raise ValueError(f"image path {os.fspath(path)!r} is not a file")
    if os.path.getsize(path) == 0:
        raise ValueError(f"image file {os.fspath(path)!r} is empty (0 bytes)")
    try:
        with Image.open(path) as img:
            img.load()  # decode now: a truncated file fails here, not later
            if mode is not None:
                img = img.convert(mode)
            arr = np.asarray(img)
    except Image.DecompressionBombError as exc:  # not an OSError: a pixel-count bomb
        raise ValueError(
            f"image file {os.fspath(path)!r} has too many pixels to decode safely: {exc}"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(
            f"image file {os.fspath(path)!r} is corrupt or not an image Pillow can read: {exc}"
        ) from exc
    if arr.size == 0:
        raise ValueError(f"image file {os.fspath(path)!r} decodes to an empty image")
    return arr.astype(np.uint8, copy=False) if arr.dtype != np.uint8 else arr


class PixelEncoder:
    """Raw pixels as the embedding: each image flattened to one float32 vector.

    The baseline: cosine similarity of pixel vectors is template matching, sensitive to every
    shift and stroke-width change. ``(n, ...)`` images -> ``(n, prod(image shape))``.
    """

    def __call__(self, images: object) -> np.ndarray:
        X = check_images(images)
        return X.reshape(X.shape[0], -1)

    def __repr__(self) -> str:
        return "PixelEncoder()"


class HOGEncoder:
    """Histogram of Oriented Gradients (Dalal & Triggs, CVPR 2005), via ``skimage.feature.hog``.

    The image is cut into cells of ``pixels_per_cell`` pixels; each cell gets a histogram of its
    gradient orientations (``orientations`` unsigned bins over 0-180°, votes weighted by gradient
    magnitude). Cells are grouped into overlapping blocks of ``cells_per_block`` cells, and each
    block's concatenated histograms are normalised (``block_norm``, "L2-Hys": L2, clip at 0.2,
    L2 again), which makes the descriptor robust to contrast and to small shifts within a cell.
    Length: ``blocks_y * blocks_x * cells_per_block² * orientations`` with
    ``blocks = cells - cells_per_block + 1``. Dalal & Triggs used 8x8-pixel cells, 2x2 blocks
    and 9 bins on 64x128 windows; for 28x28 digits, 7x7-pixel cells give 4x4 cells, 3x3 blocks
    and 3·3·4·9 = 324 dimensions; 4x4-pixel cells give 6·6·4·9 = 1,296.

    Input: grey images (n, H, W), colour images (n, H, W, 3) (converted to grey first) or
    flattened square grey images (n, s*s).
    """

    def __init__(
        self,
        orientations: int = 9,
        pixels_per_cell: tuple[int, int] = (7, 7),
        cells_per_block: tuple[int, int] = (2, 2),
        block_norm: str = "L2-Hys",
    ) -> None:
        self.orientations = check_positive_int(orientations, "orientations")
        self.pixels_per_cell = tuple(
            check_positive_int(v, "pixels_per_cell") for v in pixels_per_cell
        )
        self.cells_per_block = tuple(
            check_positive_int(v, "cells_per_block") for v in cells_per_block
        )
        if len(self.pixels_per_cell) != 2 or len(self.cells_per_block) != 2:
            raise ValueError("pixels_per_cell and cells_per_block must be pairs (rows, cols)")
        self.block_norm = check_choice(block_norm, "block_norm", ("L1", "L1-sqrt", "L2", "L2-Hys"))

    def _grey(self, images: object) -> np.ndarray:
        X = check_images(images)
        if X.ndim == 2:
            side = math.isqrt(X.shape[1])
            if side * side != X.shape[1]:
                raise ValueError(
                    f"images: flattened input must be square (n, s*s), got {X.shape[1]} pixels"
                )
            return X.reshape(-1, side, side)
        if X.ndim == 4 and X.shape[-1] in (3, 4):
            return X[..., :3] @ np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)
        if X.ndim == 3:
            return X
        raise ValueError(f"images must be (n, H, W), (n, H, W, 3) or (n, s*s), got shape {X.shape}")

    def __call__(self, images: object) -> np.ndarray:
        from skimage.feature import hog

        G = self._grey(images)
        cells = [s // p for s, p in zip(G.shape[1:], self.pixels_per_cell, strict=True)]
        if any(c < b for c, b in zip(cells, self.cells_per_block, strict=True)):
            raise ValueError(
                f"images of {G.shape[1:]} pixels hold {cells} cells of {self.pixels_per_cell}"
                f" pixels, fewer than one block of {self.cells_per_block} cells"
            )
        feats = [
            hog(
                g,
                orientations=self.orientations,
                pixels_per_cell=self.pixels_per_cell,
                cells_per_block=self.cells_per_block,
                block_norm=self.block_norm,
                feature_vector=True,
            )
            for g in G
        ]
        return np.asarray(feats, dtype=np.float32)

    def __repr__(self) -> str:
        return (
            f"HOGEncoder(orientations={self.orientations}, pixels_per_cell={self.pixels_per_cell},"
            f" cells_per_block={self.cells_per_block}, block_norm={self.block_norm!r})"
        )


class TorchEncoder:
    """Adapter: a ``torch.nn.Module`` (images -> (B, d)) as an encoder returning NumPy vectors.

    Runs in eval mode (batch-norm uses its running statistics, dropout is off; the module's
    previous mode is restored afterwards) under ``torch.no_grad()``, ``batch_size`` images at a
    time, on ``num_threads`` intra-op threads when given (restored afterwards; ``None`` keeps
    torch's setting: tiny models run faster on 1 thread on a busy machine). Layout: (n, s*s)
    flattened square grey images and (n, H, W) grey images become (n, 1, H, W); (n, H, W, C)
    with C in {1, 3} becomes (n, C, H, W); (n, C, H, W) is kept.
    """

    def __init__(self, module, batch_size: int = 512, num_threads: int | None = None) -> None:
        import torch

        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self.module = module
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.num_threads = (
            None if num_threads is None else check_positive_int(num_threads, "num_threads")
        )

    @staticmethod
    def to_nchw(X: np.ndarray) -> np.ndarray:
        if X.ndim == 2:
            side = math.isqrt(X.shape[1])
            if side * side != X.shape[1]:
                raise ValueError(f"images: flattened input must be square, got {X.shape[1]}")
            return X.reshape(-1, 1, side, side)
        if X.ndim == 3:
            return X[:, None]
        if X.ndim == 4:
            if X.shape[1] not in (1, 3) and X.shape[-1] in (1, 3):
                return np.ascontiguousarray(X.transpose(0, 3, 1, 2))
            return X
        raise ValueError(f"images must have 2 to 4 axes, got shape {X.shape}")

    def __call__(self, images: object) -> np.ndarray:
        import torch

        from ._threads import torch_threads

        X = self.to_nchw(check_images(images))
        was_training = self.module.training
        self.module.eval()
        out = []
        try:
            with torch_threads(self.num_threads), torch.no_grad():
                for start in range(0, X.shape[0], self.batch_size):
                    batch = torch.from_numpy(X[start : start + self.batch_size])
                    out.append(self.module(batch).detach().cpu().numpy())
        finally:
            self.module.train(was_training)
        return np.concatenate(out).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"TorchEncoder({type(self.module).__name__}, batch_size={self.batch_size})"


def _normalize(X: np.ndarray) -> np.ndarray:
    """Unit-norm rows; an all-zero row (a blank image under PixelEncoder) stays zero (score 0)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class ImageIndex:
    """Encoder + vector index: ``add`` images (or vectors), ``search`` by image or by vector.

    ``search`` returns ``(scores, ids)``, both ``(n_queries, k)``, best first: scores are inner
    products of the (normalised) vectors, i.e. cosine similarities with ``normalize=True``.
    Approximate back-ends may return fewer than ``k`` hits; the missing slots hold id -1 and
    score -inf.

    Errors (each names the argument): images of the wrong type, dtype, shape (every batch must
    match the first one's image shape) or with NaN; ``k`` not an int or larger than the gallery;
    searching an empty gallery; vectors whose dimension differs from the encoder's; duplicate
    ids; an encoder that returns the wrong number of rows or non-finite values.
    """

    def __init__(
        self,
        encoder: Callable[[np.ndarray], np.ndarray] | None = None,
        *,
        index: object = "flat",
        normalize: bool = True,
        **index_params: int,
    ) -> None:
        if encoder is not None and not callable(encoder):
            raise TypeError(f"encoder must be callable (images -> vectors), got {encoder!r}")
        self.encoder = encoder
        self.normalize = bool(normalize)
        self.index_params = dict(index_params)
        from .ann import Index

        if isinstance(index, Index):
            if index.ntotal:
                raise ValueError("index must be empty; ImageIndex adds the vectors itself")
            if index_params:
                raise ValueError("index_params apply only to a back-end named by a string")
            self.backend, self._index = "custom", index
            self.dim: int | None = index.dim
        else:
            self.backend = check_choice(index, "index", BACKENDS)
            if self.backend == "flat" and index_params:
                raise ValueError(f"index='flat' takes no parameters, got {sorted(index_params)}")
            self._index, self.dim = None, None
        self.image_shape: tuple[int, ...] | None = None
        self._ids = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self._ids.shape[0])

    @property
    def ids(self) -> np.ndarray:
        """External ids in insertion order (a copy)."""
        return self._ids.copy()

    # --- encoding and validation -------------------------------------------------------------
    def encode(self, images: object, name: str = "images") -> np.ndarray:
        """Validate ``images`` and run the encoder; returns (n, d) float32, normalised if asked."""
        if self.encoder is None:
            raise ValueError("this ImageIndex has no encoder: use add_vectors / search vectors")
        X = check_images(images, name, image_shape=self.image_shape)
        V = np.asarray(self.encoder(X))
        if V.ndim != 2 or V.shape[0] != X.shape[0]:
            raise ValueError(
                f"encoder must return (n, d) = ({X.shape[0]}, d) vectors, got shape {V.shape}"
            )
        V = as_matrix(V, "encoder output")
        if self.dim is not None and V.shape[1] != self.dim:
            raise ValueError(f"encoder output has {V.shape[1]} dims but the index has {self.dim}")
        return _normalize(V) if self.normalize else V

    def _vectors(self, vectors: object, name: str) -> np.ndarray:
        if type(vectors).__module__.startswith("torch"):
            vectors = vectors.detach().cpu().numpy()
        V = as_matrix(vectors, name)
        if self.dim is not None and V.shape[1] != self.dim:
            raise ValueError(
                f"{name} must have {self.dim} dimensions like the index, got {V.shape[1]}"
            )
        return _normalize(V) if self.normalize else V

    # --- building ---------------------------------------------------------------------------
    def add(self, images: object, ids: object = None) -> ImageIndex:
        """Encode ``images`` (n, ...) and add them under ``ids`` (default: the next n integers)."""
        X = check_images(images, "images", image_shape=self.image_shape)
        V = self.encode(X)
        self._add(V, ids)
        if self.image_shape is None:
            self.image_shape = tuple(X.shape[1:])
        return self

    def add_vectors(self, vectors: object, ids: object = None) -> ImageIndex:
        """Add precomputed embeddings (n, d), e.g. from a batch embedding job."""
        self._add(self._vectors(vectors, "vectors"), ids)
        return self

    def _add(self, V: np.ndarray, ids: object) -> None:
        n = V.shape[0]
        if ids is None:
            start = int(self._ids.max()) + 1 if len(self._ids) else 0
            new_ids = np.arange(start, start + n, dtype=np.int64)
        else:
            new_ids = np.asarray(ids)
            if new_ids.ndim != 1 or new_ids.shape[0] != n:
                raise ValueError(
                    f"ids must be 1-D with one id per image ({n}), got {new_ids.shape}"
                )
            if not np.issubdtype(new_ids.dtype, np.integer):
                raise TypeError(f"ids must be integers, got dtype {new_ids.dtype}")
            new_ids = new_ids.astype(np.int64)
            if len(np.unique(new_ids)) != n or np.isin(new_ids, self._ids).any():
                raise ValueError("ids must be unique, also across add() calls")
        if self._index is None:
            self._index = self._build(V.shape[1])
        if self.dim is None:
            self.dim = V.shape[1]
        if V.shape[1] != self.dim:
            raise ValueError(f"vectors must have {self.dim} dimensions, got {V.shape[1]}")
        self._index.add(V)
        self._ids = np.concatenate([self._ids, new_ids])

    def _build(self, dim: int):
        import faiss

        from .ann import FaissIndex, HNSWIndex

        p = dict(self.index_params)
        if self.backend == "flat":
            return faiss.IndexFlatIP(dim)
        if self.backend == "hnsw":
            return HNSWIndex(dim, metric="ip", **p)
        if self.backend == "faiss_hnsw":
            M = check_positive_int(p.pop("M", 32), "M")
            return FaissIndex(dim, f"HNSW{M}", metric="ip", **p)
        nlist = check_positive_int(p.pop("nlist", 64), "nlist")
        m = check_positive_int(p.pop("m", 8), "m")
        nbits = check_positive_int(p.pop("nbits", 8), "nbits")
        if dim % m:
            raise ValueError(f"m={m} PQ sub-vectors must divide the dimension {dim}")
        return FaissIndex(dim, f"IVF{nlist},PQ{m}x{nbits}", metric="ip", **p)

    # --- searching --------------------------------------------------------------------------
    def search(
        self, queries: object, k: int, *, as_vectors: bool | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` gallery items for each query image (or query vector).

        ``as_vectors=None`` decides from the shape: queries whose per-item shape equals the
        gallery's image shape are images (encoded first), 2-D queries with ``dim`` columns
        otherwise are vectors. Pass ``True``/``False`` to force one reading.
        """
        if len(self) == 0:
            raise ValueError("the gallery is empty: add() images before search()")
        k = check_k(k, len(self), "k", "the gallery")
        if as_vectors is None:
            shape = tuple(np.shape(queries)[1:]) if hasattr(queries, "shape") else None
            as_vectors = self.encoder is None or (
                shape != self.image_shape and shape == (self.dim,)
            )
        if as_vectors:
            Q = self._vectors(queries, "queries")
        else:
            if (
                self.image_shape is not None
                and hasattr(queries, "shape")
                and tuple(queries.shape[1:]) != self.image_shape
            ):
                raise ValueError(
                    f"queries: expected images of shape (n, {str(self.image_shape)[1:-1]})"
                    f" or vectors (n, {self.dim}), got {tuple(queries.shape)}"
                )
            Q = self.encode(queries, "queries")
        return self._search(Q, k)

    def _search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.backend == "flat":
            S, pos = self._index.search(Q, k)
        else:
            D, pos = self._index.search(Q, k)
            S = 1.0 - D if self._index.metric == "cosine" else -D
        pos = np.asarray(pos, dtype=np.int64)
        missing = pos < 0
        ids = np.where(missing, -1, self._ids[np.where(missing, 0, pos)])
        S = np.where(missing, -np.inf, S).astype(np.float32)
        return S, ids

    def __repr__(self) -> str:
        return (
            f"ImageIndex(encoder={self.encoder!r}, index={self.backend!r}, dim={self.dim},"
            f" n={len(self)})"
        )
