"""The one small interface every index in the book implements, exact or approximate.

``index.add(X)`` builds (or extends) the index; ``index.search(Q, k)`` returns
``(distances, ids)``, both (len(Q), k), best first. Distances are "smaller is better":

- ``"l2"``: squared Euclidean distance ``||q - x||^2``;
- ``"ip"``: ``-<q, x>`` (maximum inner product search);
- ``"cosine"``: ``1 - cos(q, x)``; vectors are L2-normalised once, on the way in.

On unit vectors the three orders agree, since ``||q - x||^2 = 2 - 2 <q, x>``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .._checks import as_matrix, check_choice, check_k

METRICS = ("l2", "ip", "cosine")


def normalize_rows(X: np.ndarray, name: str = "X") -> np.ndarray:
    """Return ``X`` with unit L2-norm rows; zero rows are rejected (their cosine is undefined)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if (norms == 0).any():
        row = int(np.flatnonzero(norms[:, 0] == 0)[0])
        raise ValueError(
            f"cosine metric: {name}[{row}] has zero norm, so its direction is undefined"
        )
    return (X / norms).astype(np.float32, copy=False)


class Index(ABC):
    """Base class: argument checks, metric handling and bookkeeping shared by all indexes.

    Subclasses implement ``_add(X)`` and ``_search(Q, k)`` on validated float32 arrays (already
    normalised for cosine) and ``memory_bytes()``. ``search_param`` names the knob that trades
    speed for recall at query time (``ef``, ``nprobe``) or is ``None`` for exact indexes.
    """

    name: str = "index"
    search_param: str | None = None

    def __init__(self, dim: int, metric: str = "l2") -> None:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim <= 0:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.dim = int(dim)
        self.metric = check_choice(metric, "metric", METRICS)
        self.ntotal = 0

    def _prepare(self, X: object, name: str) -> np.ndarray:
        arr = as_matrix(X, name, dim=self.dim)
        return normalize_rows(arr, name) if self.metric == "cosine" else arr

    def add(self, X: object) -> Index:
        """Add the rows of ``X`` (n, dim); their ids are ``ntotal .. ntotal + n - 1``."""
        arr = self._prepare(X, "X")
        self._add(arr)
        self.ntotal += arr.shape[0]
        return self

    def search(self, Q: object, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(distances, ids)`` of the ``k`` nearest stored vectors for each row of ``Q``."""
        self._check_built()
        k = check_k(k, self.ntotal, "k", "the number of indexed vectors")
        arr = self._prepare(np.atleast_2d(np.asarray(Q)) if _is_vector(Q) else Q, "Q")
        return self._search(arr, k)

    def set_search_param(self, value: int) -> None:
        """Set the speed/recall knob named by ``search_param``."""
        raise ValueError(f"{self.name} has no search-time parameter")

    def _check_built(self) -> None:
        if self.ntotal == 0:
            raise ValueError(f"{self.name}: the index is empty; call add() first")

    @abstractmethod
    def _add(self, X: np.ndarray) -> None: ...

    @abstractmethod
    def _search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    @abstractmethod
    def memory_bytes(self) -> int:
        """Bytes the index holds in memory for vectors, codes, ids and links."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, metric={self.metric!r}, n={self.ntotal})"


def _is_vector(Q: object) -> bool:
    return isinstance(Q, np.ndarray) and Q.ndim == 1


def finish_distances(d: np.ndarray, metric: str) -> np.ndarray:
    """Convert internal squared-L2 on unit vectors to ``1 - cos`` for the cosine metric."""
    return d / 2.0 if metric == "cosine" else d
