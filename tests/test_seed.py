"""utils.seed_everything: one call makes Python's, NumPy's and torch's random streams repeat."""

from __future__ import annotations

import random
import sys
import types

import numpy as np
import pytest

from utils import seed_everything


@pytest.fixture(autouse=True)
def _restore_hash_seed(monkeypatch):
    # seed_everything writes PYTHONHASHSEED; monkeypatch restores the caller's value afterwards.
    monkeypatch.setenv("PYTHONHASHSEED", "0")


def _draw() -> tuple[np.ndarray, float, int]:
    return np.random.rand(5), random.random(), random.randrange(10**9)  # noqa: NPY002


def test_same_seed_repeats_numpy_legacy_and_python_random():
    seed_everything(123)
    first = _draw()
    seed_everything(123)
    second = _draw()
    np.testing.assert_array_equal(first[0], second[0])
    assert first[1:] == second[1:]


def test_different_seeds_give_different_streams():
    seed_everything(1)
    a = _draw()
    seed_everything(2)
    b = _draw()
    assert not np.array_equal(a[0], b[0])
    assert a[1] != b[1]


def test_returned_generator_is_seeded_and_fresh():
    g1 = seed_everything(7)
    g2 = seed_everything(7)
    assert isinstance(g1, np.random.Generator)
    x1, x2 = g1.random(4), g2.random(4)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(x1, np.random.default_rng(7).random(4))
    assert not np.array_equal(seed_everything(8).random(4), x1)


def test_sets_pythonhashseed_for_child_processes():
    import os

    seed_everything(99)
    assert os.environ["PYTHONHASHSEED"] == "99"


def test_accepts_numpy_integers_and_the_extremes():
    np.testing.assert_array_equal(
        seed_everything(np.int64(5)).random(3), np.random.default_rng(5).random(3)
    )
    seed_everything(0)
    seed_everything(2**32 - 1)


def test_seeds_torch_only_when_already_imported(monkeypatch):
    calls: list[int] = []
    fake = types.ModuleType("torch")
    fake.manual_seed = calls.append
    monkeypatch.setitem(sys.modules, "torch", fake)
    seed_everything(31)
    assert calls == [31]
    monkeypatch.delitem(sys.modules, "torch")
    seed_everything(32)
    assert calls == [31]  # not re-imported behind the caller's back
    assert "torch" not in sys.modules


@pytest.mark.parametrize("bad", [True, False, "42", 4.0, None])
def test_rejects_non_int_seeds(bad):
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(bad)


@pytest.mark.parametrize("bad", [-1, 2**32, 2**40])
def test_rejects_out_of_range_seeds(bad):
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32\)"):
        seed_everything(bad)
