"""Where datasets are cached: ``data/cache/`` in the repository, or ``$MLSD_DATA_CACHE``."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Return (and create) the cache folder: ``override``, else ``$MLSD_DATA_CACHE``, else
    ``<repo>/data/cache``."""
    path = Path(override or os.environ.get("MLSD_DATA_CACHE") or REPO_ROOT / "data" / "cache")
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_via_sources(
    what: str,
    path: Path,
    *,
    read: Callable[[Path], T],
    write: Callable[[T, str], None],
    validate: Callable[[T], None],
    sources: Sequence[tuple[str, Callable[[], T]]],
    fix: str,
    verbose: bool = False,
) -> T:
    """The loader chain every dataset here follows: the validated cache at ``path``; else each
    ``(name, fetch)`` source in turn, validated, then cached atomically (a unique temporary
    name and a rename, so two labs loading at once never read half a file); else a
    ``RuntimeError`` that lists what was tried and ends with ``fix``. A corrupt cache warns and
    is rebuilt. ``write(data, tmp_path)`` must write to exactly ``tmp_path``."""
    tried: list[str] = []
    if path.exists():
        try:
            data = read(path)
            validate(data)
            return data
        except Exception as exc:  # corrupt or partial cache: rebuild it
            warnings.warn(f"{what} cache {path} is corrupt ({exc}); rebuilding it", stacklevel=3)
            tried.append(f"cache {path}: corrupt ({type(exc).__name__}: {exc})")
    else:
        tried.append(f"cache {path}: empty")
    for name, fetch in sources:
        try:
            data = fetch()
            validate(data)
        except Exception as exc:
            tried.append(f"{name}: {type(exc).__name__}: {exc}")
            if verbose:
                print(f"{what} from {name} failed: {exc}")
            continue
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
        os.close(fd)
        try:
            write(data, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return data
    raise RuntimeError(
        f"Could not load {what}. Tried:\n  - " + "\n  - ".join(tried) + "\nFix: " + fix
    )
