"""Shared library of *ML System Design, an executable book*.

One module per concern: ``utils.data`` (loaders and simulators), ``utils.metrics`` (ranking and
retrieval metrics), ``utils.ann`` (exact and approximate nearest-neighbour indexes and their
benchmark harness), ``utils.plotting`` (the book's figure style).
"""

from __future__ import annotations

import os
import random
import sys

import numpy as np

__all__ = ["GLUE_MIME", "glue", "glued_texts", "seed_everything"]


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's, NumPy's and (if already imported) PyTorch's random number generators.

    Returns a fresh ``numpy.random.Generator`` seeded with ``seed``, which labs should prefer
    over the legacy global state. ``PYTHONHASHSEED`` is set for child processes only: the hash
    seed of the running interpreter is fixed at start-up (the Makefile exports it).
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (seeding the legacy global state is the point)
    os.environ["PYTHONHASHSEED"] = str(seed)
    torch = sys.modules.get("torch")  # seed torch only if the lab uses it (importing costs ~3 s)
    if torch is not None:
        torch.manual_seed(seed)
    return np.random.default_rng(seed)


def glue(name: str, value: object) -> object:
    """Record a lab's headline number under ``name`` for the book (MyST-NB glue, not displayed).

    NumPy scalars are converted to Python ``int``/``float`` first, so that pages can format
    them (``{glue:text}`lab.ipynb::name:.3f```); their repr (``np.float64(0.5)``) would not
    parse. Returns the stored value.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like str, got {name!r}")
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, int | float | str):
        raise TypeError(f"glue {name!r}: value must be a number or str, got {type(value).__name__}")
    if isinstance(value, float) and not np.isfinite(value):
        raise ValueError(f"glue {name!r}: value is {value}; a headline number must be finite")
    from myst_nb import glue as _glue

    _glue(name, value, display=False)
    return value


#: The MIME type under which MyST-NB stores a glued value's text in a notebook output.
GLUE_MIME = "application/papermill.record/text/plain"


def glued_texts(outputs) -> dict[str, str | None]:
    """``{key: text}`` of the :func:`glue` records among one cell's outputs (the raw text/plain;
    ``None`` for a record without one).

    The reader of what :func:`glue` writes: the lab checker parses these texts back into values,
    the flashcards format them as the book does. Outputs without a glue record are skipped.
    """
    found: dict[str, str | None] = {}
    for out in outputs or []:
        meta = out.get("metadata") or {}
        scrap = meta.get("scrapbook") if isinstance(meta, dict) else None
        if scrap and "name" in scrap:
            found[scrap["name"]] = (out.get("data") or {}).get(GLUE_MIME)
    return found
