"""Where datasets are cached: ``data/cache/`` in the repository, or ``$MLSD_DATA_CACHE``."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Return (and create) the cache folder: ``override``, else ``$MLSD_DATA_CACHE``, else
    ``<repo>/data/cache``."""
    path = Path(override or os.environ.get("MLSD_DATA_CACHE") or REPO_ROOT / "data" / "cache")
    path.mkdir(parents=True, exist_ok=True)
    return path
