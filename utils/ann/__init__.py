"""Nearest-neighbour indexes behind one interface (:class:`Index`), ours and the libraries'.

Ours, written to be read: :class:`ExactIndex`, :class:`HNSWIndex`, :class:`IVFFlatIndex`,
:class:`ProductQuantizer`, :class:`IVFPQIndex`, :func:`kmeans`. Libraries: :class:`FaissIndex`,
:class:`HnswlibIndex`, :class:`ScannIndex`. Harness: :mod:`utils.ann.bench`.
"""

from .base import METRICS, Index, normalize_rows
from .exact import ExactIndex, exact_knn, topk_smallest
from .hnsw import HNSWIndex
from .ivf import IVFFlatIndex, IVFPQIndex, ProductQuantizer, kmeans
from .libs import FaissIndex, HnswlibIndex, ScannIndex

__all__ = [
    "METRICS",
    "ExactIndex",
    "FaissIndex",
    "HNSWIndex",
    "HnswlibIndex",
    "IVFFlatIndex",
    "IVFPQIndex",
    "Index",
    "ProductQuantizer",
    "ScannIndex",
    "exact_knn",
    "kmeans",
    "normalize_rows",
    "topk_smallest",
]
