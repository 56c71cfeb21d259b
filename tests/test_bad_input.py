"""Bad input that used to slip through: each gets a clear error naming the argument."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from utils.ann import (
    ExactIndex,
    FaissIndex,
    HnswlibIndex,
    IVFFlatIndex,
    IVFPQIndex,
    ProductQuantizer,
    topk_smallest,
)
from utils.data.movielens import GENRES, from_grouplens_zip
from utils.plotting import plot_recall_qps

RNG = np.random.default_rng(0)
X = RNG.standard_normal((300, 8)).astype(np.float32)


@pytest.mark.parametrize("block", [0, -1, 1.5, True])
def test_exact_block_must_be_a_positive_int(block):
    with pytest.raises((ValueError, TypeError), match="block"):
        ExactIndex(8, block=block)


def test_topk_smallest_checks_k_and_shape():
    D = RNG.random((3, 5))
    with pytest.raises(ValueError, match="k"):
        topk_smallest(D, 0)
    with pytest.raises(ValueError, match="k=6 is larger"):
        topk_smallest(D, 6)
    with pytest.raises(ValueError, match="2-D"):
        topk_smallest(D[0], 2)
    vals, ids = topk_smallest(D, 5)  # k == n keeps every column, sorted
    np.testing.assert_array_equal(vals, np.sort(D, axis=1))
    np.testing.assert_array_equal(ids, np.argsort(D, axis=1))


def test_faiss_rejects_unknown_parameters_and_short_training_sets():
    with pytest.raises(ValueError, match="nprob"):
        FaissIndex(8, "IVF16,Flat", nprob=4)
    with pytest.raises(ValueError, match="nlist=64"):
        FaissIndex(8, "IVF64,Flat").add(X[:20])


@pytest.mark.parametrize("value", [0, -3, 2.5])
def test_search_params_are_validated(value):
    with pytest.raises((ValueError, TypeError), match="ef"):
        HnswlibIndex(8).set_search_param(value)
    with pytest.raises((ValueError, TypeError), match="nprobe"):
        FaissIndex(8, "IVF16,Flat").set_search_param(value)
    with pytest.raises((ValueError, TypeError), match="ef"):
        FaissIndex(8, "HNSW8").set_search_param(value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: IVFFlatIndex(8, nlist=4),
        lambda: IVFPQIndex(8, nlist=4, M=2),
        lambda: HnswlibIndex(8),
        lambda: FaissIndex(8, "Flat"),
    ],
)
def test_memory_bytes_before_add_is_a_clear_error(make):
    with pytest.raises(ValueError, match="empty; call add"):
        make().memory_bytes()


def test_code_bytes_counts_what_is_stored():
    pq = ProductQuantizer(8, M=4, nbits=4)
    assert pq.code_bytes() == 4  # one uint8 per sub-quantiser, even for 4-bit codes
    ivf = IVFPQIndex(8, nlist=4, M=4, nbits=4).add(X)
    assert ivf._codes.dtype == np.uint8 and ivf._codes.shape == (300, 4)
    assert ivf.bytes_per_vector_formula() == ivf._codes.shape[1] + ivf._ids.itemsize


def test_plot_recall_qps_rejects_no_frames():
    with pytest.raises(ValueError, match="at least one"):
        plot_recall_qps([])


def test_grouplens_zip_keeps_leading_zeros_in_zip_codes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ml-100k/u.data", "1\t1\t5\t881250949\n")
        z.writestr("ml-100k/u.user", "1|24|M|technician|01002\n")
        flags = "|".join(["0"] * (len(GENRES) - 1) + ["1"])
        z.writestr("ml-100k/u.item", f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags}\n")
    data = from_grouplens_zip(buf.getvalue())
    assert data.users["zip_code"].tolist() == ["01002"]
    assert data.items["genres"].tolist() == ["Western"]
    assert isinstance(data.ratings, pd.DataFrame) and len(data.ratings) == 1


def test_temporal_split_respects_time_and_users():
    from utils.data import temporal_split

    df = pd.DataFrame(
        {"user_id": [1, 1, 2, 2, 3, 3, 4, 4], "item_id": range(8), "timestamp": range(8)}
    )
    train, test = temporal_split(df, 0.5)
    _, test_all = temporal_split(df, 0.5, drop_unseen_users=False)
    assert train["timestamp"].max() < test_all["timestamp"].min()
    assert len(train) == 4
    assert set(test["user_id"]) <= set(train["user_id"])  # users 3 and 4 are unseen: dropped
    assert len(test) == 0
    assert len(test_all) == 4
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError, match="ratio"):
            temporal_split(df, bad)
    with pytest.raises(ValueError, match="no column 'timestamp'"):
        temporal_split(df.drop(columns="timestamp"))
    with pytest.raises(ValueError, match="must not be empty"):
        temporal_split(df.iloc[:0])
