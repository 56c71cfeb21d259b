"""Fashion-MNIST loader: sources, checksums, the clear error, the retrieval split."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from utils.data import fashion_mnist as fm


@pytest.fixture(scope="module")
def data():
    return fm.load_fashion_mnist()


def test_official_splits_validated(data):
    assert data.train_images.shape == (60_000, 28, 28) and data.train_images.dtype == np.uint8
    assert data.test_images.shape == (10_000, 28, 28)
    assert np.bincount(data.train_labels).tolist() == [6_000] * 10
    assert np.bincount(data.test_labels).tolist() == [1_000] * 10
    # the first test labels as published: ankle boot, pullover, trouser, trouser, shirt
    assert data.test_labels[:5].tolist() == [9, 2, 1, 1, 6]
    assert len(fm.FASHION_CLASSES) == 10 and fm.FASHION_CLASSES[9] == "Ankle boot"


def test_validate_rejects_wrong_balance(data):
    bad = data._replace(test_labels=np.zeros_like(data.test_labels))
    with pytest.raises(ValueError, match="class counts"):
        fm.validate_fashion_mnist(bad)


def test_retrieval_split_is_balanced_disjoint_and_seeded():
    s = fm.fashion_retrieval_split(200, 50, n_train=100, seed=3)
    assert np.bincount(s["gallery_labels"]).tolist() == [20] * 10
    assert np.bincount(s["query_labels"]).tolist() == [5] * 10
    assert np.bincount(s["train_labels"]).tolist() == [10] * 10
    assert not set(s["gallery_index"]) & set(s["train_index"])
    again = fm.fashion_retrieval_split(200, 50, n_train=100, seed=3)
    assert all(np.array_equal(s[k], again[k]) for k in s)
    other = fm.fashion_retrieval_split(200, 50, n_train=100, seed=4)
    assert not np.array_equal(s["gallery_index"], other["gallery_index"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_gallery": 15}, "n_gallery must be a multiple of 10"),
        ({"n_queries": 0}, "n_queries"),
        ({"n_train": -10}, "n_train"),
        ({"n_gallery": 60_000, "n_train": 10}, "exceeds the 60,000"),
        ({"n_queries": 10_010}, "exceeds the 10,000"),
    ],
)
def test_retrieval_split_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fm.fashion_retrieval_split(**kwargs)


def test_as_product_photo_inverts():
    u8 = np.array([[0, 255, 10]], dtype=np.uint8)
    assert fm.as_product_photo(u8).tolist() == [[255, 0, 245]]
    assert np.allclose(fm.as_product_photo(np.array([0.25])), [0.75])
    with pytest.raises(ValueError, match="images"):
        fm.as_product_photo(np.array([1.5]))
    with pytest.raises(TypeError, match="images"):
        fm.as_product_photo(np.array(["a"]))


def test_corrupt_cache_is_rebuilt_with_a_warning(tmp_path, data, monkeypatch):
    (tmp_path / "fashion_mnist.npz").write_bytes(b"not an npz")
    monkeypatch.setattr(fm, "_from_idx_dir", lambda folder: data)
    with pytest.warns(UserWarning, match="corrupt"):
        again = fm.load_fashion_mnist(tmp_path)
    assert np.array_equal(again.test_labels, data.test_labels)
    fm.load_fashion_mnist(tmp_path)  # the rebuilt cache now loads without a warning


def test_missing_everywhere_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "nowhere")
    monkeypatch.setattr(fm.shutil, "which", lambda tool: None)
    with pytest.raises(RuntimeError) as err:
        fm.load_fashion_mnist(tmp_path / "cache")
    msg = str(err.value)
    assert "Tried" in msg and "nowhere" in msg and "apt-get not found" in msg
    assert "apt-get install dataset-fashion-mnist" in msg


def test_idx_files_are_checksummed(tmp_path):
    """A truncated or altered file is refused before anything is cached."""
    for name in fm.IDX_SHA256:
        with gzip.open(tmp_path / name, "wb") as f:
            f.write(b"\x00" * 16)
    with pytest.raises(ValueError, match="SHA-256"):
        fm._from_idx_dir(tmp_path)
    shutil.rmtree(tmp_path)
    Path(tmp_path).mkdir()
    with pytest.raises(FileNotFoundError, match="missing"):
        fm._from_idx_dir(tmp_path)
