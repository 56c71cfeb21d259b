"""A click-prediction task built from MovieLens-100k, shared by the ranking chapters.

Each rating is treated as an impression that was acted on; the label is "liked" (rating >= 4,
about 55% of ratings). Rows carry the features a production ranker would have at request time:

- ids: ``user``, ``item`` (0-based: MovieLens id minus one);
- user side: ``age``, ``gender`` (0 = F, 1 = M), ``occupation`` (integer code, alphabetical);
- item side: ``year`` (release year; the one missing year is filled with the median),
  one 0/1 column ``g_<genre>`` per genre in :data:`GENRES`;
- behaviour: the user's most recent liked items **strictly before** the row's timestamp
  (point-in-time correct: ratings given in the same second are not visible to each other),
  in :attr:`ClickTask.history`, most recent last, left-padded with ``n_items``; ``hist_len``
  counts the real entries.

The split is temporal within each user: the first ``1 - val_frac - test_frac`` of a user's
ratings (by time) are ``"train"``, the next ``val_frac`` ``"val"``, the last ``test_frac``
``"test"``. Every user has at least 20 ratings, so every user appears in every part.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .._checks import check_positive_int
from .movielens import GENRES, MovieLens

GENRE_COLUMNS = tuple(f"g_{g}" for g in GENRES)


class ClickTask(NamedTuple):
    """``frame``: one row per rating (columns in the module docstring, plus ``rating``,
    ``timestamp``, ``label``, ``split``, ``hist_len``), sorted by user then time.
    ``history``: (len(frame), history_len) int64 item indices aligned with ``frame`` rows,
    padded with ``pad`` (= ``n_items``)."""

    frame: pd.DataFrame
    history: np.ndarray
    n_users: int
    n_items: int
    n_occupations: int

    @property
    def pad(self) -> int:
        return self.n_items

    def part(self, name: str) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows of one split (``"train"``, ``"val"`` or ``"test"``) and their history."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"name must be 'train', 'val' or 'test', got {name!r}")
        mask = (self.frame["split"] == name).to_numpy()
        return self.frame[mask].reset_index(drop=True), self.history[mask]


def movielens_clicks(
    ml: MovieLens,
    *,
    history_len: int = 20,
    like_threshold: int = 4,
    val_frac: float = 0.1,
    test_frac: float = 0.2,
) -> ClickTask:
    """Build the MovieLens click task (see the module docstring)."""
    history_len = check_positive_int(history_len, "history_len")
    if not 1 <= like_threshold <= 5:
        raise ValueError(f"like_threshold must be a rating in 1..5, got {like_threshold}")
    if not (0 < val_frac < 1 and 0 < test_frac < 1 and val_frac + test_frac < 1):
        raise ValueError(
            f"val_frac and test_frac must be in (0, 1) with a sum below 1, got {val_frac}, "
            f"{test_frac}"
        )
    n_users, n_items = len(ml.users), len(ml.items)
    r = ml.ratings.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    df = pd.DataFrame(
        {
            "user": (r["user_id"].to_numpy() - 1).astype(np.int64),
            "item": (r["item_id"].to_numpy() - 1).astype(np.int64),
            "rating": r["rating"].to_numpy().astype(np.int8),
            "timestamp": r["timestamp"].to_numpy(),
        }
    )
    df["label"] = (df["rating"] >= like_threshold).astype(np.int8)

    # Temporal split within each user.
    pos = df.groupby("user").cumcount().to_numpy()
    size = df.groupby("user")["user"].transform("size").to_numpy()
    frac = pos / size
    df["split"] = np.where(
        frac < 1 - val_frac - test_frac, "train", np.where(frac < 1 - test_frac, "val", "test")
    )

    # User and item side features.
    users = ml.users.set_index("user_id")
    occ_codes = users["occupation"].astype(str).astype("category")
    uid = df["user"].to_numpy() + 1
    df["age"] = users["age"].reindex(uid).to_numpy().astype(np.float32)
    df["gender"] = (users["gender"].astype(str).reindex(uid).to_numpy() == "M").astype(np.int8)
    df["occupation"] = occ_codes.cat.codes.reindex(uid).to_numpy().astype(np.int64)
    items = ml.items.set_index("item_id")
    iid = df["item"].to_numpy() + 1
    year = items["year"].astype("float64")
    df["year"] = year.fillna(year.median()).reindex(iid).to_numpy().astype(np.float32)
    for g, col in zip(GENRES, GENRE_COLUMNS, strict=True):
        df[col] = items[g].reindex(iid).to_numpy().astype(np.int8)

    # Point-in-time history of liked items (strictly earlier timestamps), most recent last.
    history = np.full((len(df), history_len), n_items, dtype=np.int64)
    hist_len = np.zeros(len(df), dtype=np.int64)
    user_a, item_a = df["user"].to_numpy(), df["item"].to_numpy()
    ts_a, label_a = df["timestamp"].to_numpy(), df["label"].to_numpy()
    start = 0
    while start < len(df):
        end = start
        while end < len(df) and user_a[end] == user_a[start]:
            end += 1
        liked: list[int] = []
        i = start
        while i < end:
            j = i
            while j < end and ts_a[j] == ts_a[i]:
                j += 1
            recent = liked[-history_len:]
            if recent:
                history[i:j, history_len - len(recent) :] = recent
            hist_len[i:j] = len(recent)
            liked.extend(int(item_a[t]) for t in range(i, j) if label_a[t])
            i = j
        start = end
    df["hist_len"] = hist_len
    return ClickTask(df, history, n_users, n_items, len(occ_codes.cat.categories))
