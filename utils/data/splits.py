"""Train/test splits for implicit-feedback evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._checks import check_choice


def _check_split_inputs(ratings: pd.DataFrame, ratio: float, columns: tuple[str, ...]) -> None:
    """Shared argument checks of the splitters: ratio in (0, 1), columns present, rows present."""
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    for col in columns:
        if col not in ratings.columns:
            raise ValueError(f"ratings has no column {col!r}; columns are {list(ratings.columns)}")
    if len(ratings) == 0:
        raise ValueError("ratings must not be empty")


def stratified_split(
    ratings: pd.DataFrame,
    ratio: float = 0.75,
    *,
    by: str = "item",
    seed: int = 42,
    user_col: str = "user_id",
    item_col: str = "item_id",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random split stratified within each item (or user): each group keeps ``ratio`` of its
    rows in train (rounded), the rest go to test.

    The default follows the Microsoft Recommenders MovieLens benchmark notebook, which calls
    ``python_stratified_split(df, ratio=0.75, min_rating=1, filter_by="item")`` ("the splitting
    is stratified based on items"); note that the library function's own default is
    ``filter_by="user"``. It follows the protocol, not that library's random stream, so
    individual rows differ.
    """
    check_choice(by, "by", ("user", "item"))
    _check_split_inputs(ratings, ratio, (user_col, item_col))
    key = user_col if by == "user" else item_col
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ratings))
    shuffled = ratings.iloc[order]
    rank = shuffled.groupby(key, sort=False).cumcount().to_numpy()
    size = shuffled.groupby(key, sort=False)[key].transform("size").to_numpy()
    in_train = rank < np.round(ratio * size)
    train = shuffled[in_train].sort_index()
    test = shuffled[~in_train].sort_index()
    return train, test


def temporal_split(
    ratings: pd.DataFrame,
    ratio: float = 0.75,
    *,
    time_col: str = "timestamp",
    user_col: str = "user_id",
    drop_unseen_users: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Global temporal split: train on the earliest ``ratio`` of interactions (by ``time_col``),
    test on the rest, so no training interaction comes after a test one.

    With ``drop_unseen_users`` the test part keeps only users who appear in train (a model with
    no features cannot score the others; a production system needs a cold-start path for them).
    Rows sharing the cut-off timestamp all go to train.
    """
    _check_split_inputs(ratings, ratio, (time_col, user_col))
    cutoff = np.sort(ratings[time_col].to_numpy())[int(ratio * len(ratings)) - 1]
    in_train = ratings[time_col].to_numpy() <= cutoff
    train, test = ratings[in_train], ratings[~in_train]
    if drop_unseen_users:
        test = test[test[user_col].isin(train[user_col].unique())]
    return train, test
