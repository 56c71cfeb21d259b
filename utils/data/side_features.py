"""Dense side features of MovieLens-100k users and items, for models with feature towers.

- users (943 x 30): one-hot age bucket (7 buckets with edges 18, 25, 35, 45, 50, 56, as in the
  MovieLens-1M age groups), one-hot gender (F, M), one-hot occupation (21, alphabetical);
- items (1,682 x 404): the 19 genre flags, ``(year - 1990) / 10`` (the one missing year filled
  with the median) and the 384-d MiniLM-L6-v2 embedding of ``"title | genre, genre"``
  (:func:`movielens_item_texts`, encoded offline and cached by :func:`encode_texts`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .movielens import GENRES, MovieLens
from .text import encode_texts

AGE_EDGES = (0, 18, 25, 35, 45, 50, 56, 200)


def movielens_item_texts(ml: MovieLens) -> list[str]:
    """One string per item, in item order, e.g. ``"Toy Story (1995) | Animation, Comedy"``."""
    return [
        f"{t} | {g.replace('|', ', ')}"
        for t, g in zip(ml.items["title"], ml.items["genres"], strict=True)
    ]


def movielens_side_features(ml: MovieLens) -> tuple[np.ndarray, np.ndarray]:
    """``(F_user, F_item)`` float32 matrices whose rows follow user and item index order."""
    users = ml.users
    age = pd.cut(users["age"], list(AGE_EDGES), right=False).cat.codes.to_numpy()
    if (age < 0).any():
        raise ValueError(f"user ages outside [{AGE_EDGES[0]}, {AGE_EDGES[-1]})")
    F_user = np.hstack(
        [
            np.eye(len(AGE_EDGES) - 1)[age],
            np.eye(2)[(users["gender"].astype(str) == "M").to_numpy().astype(int)],
            pd.get_dummies(users["occupation"].astype(str)).to_numpy(float),
        ]
    ).astype(np.float32)
    year = ml.items["year"].astype("float64")
    year = year.fillna(year.median()).to_numpy()
    F_item = np.hstack(
        [
            ml.items[list(GENRES)].to_numpy(float),
            ((year - 1990.0) / 10.0)[:, None],
            encode_texts(movielens_item_texts(ml)),
        ]
    ).astype(np.float32)
    return F_user, F_item
