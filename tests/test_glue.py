"""utils.glue: headline numbers recorded for the book as plain Python values."""

from __future__ import annotations

import myst_nb
import numpy as np
import pytest

from utils import glue


@pytest.fixture
def recorded(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(myst_nb, "glue", lambda *a, **kw: calls.append((a, kw)))
    return calls


@pytest.mark.parametrize(
    ("value", "expected", "kind"),
    [
        (np.float64(0.5), 0.5, float),
        (np.float32(0.25), 0.25, float),
        (np.int64(3), 3, int),
        (7, 7, int),
        (1.5, 1.5, float),
        ("HNSW", "HNSW", str),
    ],
)
def test_glue_stores_plain_python_values(recorded, value, expected, kind):
    out = glue("lab_metric", value)
    assert out == expected and type(out) is kind
    assert recorded == [(("lab_metric", expected), {"display": False})]
    assert type(recorded[0][0][1]) is kind
    assert "np." not in repr(out)


@pytest.mark.parametrize("name", ["two words", "1st", "", "a-b", 3, None])
def test_glue_rejects_bad_names(recorded, name):
    with pytest.raises(ValueError, match="name must be an identifier-like str"):
        glue(name, 1.0)
    assert recorded == []


@pytest.mark.parametrize("value", [[1, 2], np.array([1.0, 2.0]), None, {"a": 1}])
def test_glue_rejects_non_scalar_values(recorded, value):
    with pytest.raises(TypeError, match="glue 'x': value must be a number or str"):
        glue("x", value)
    assert recorded == []


@pytest.mark.parametrize("value", [float("nan"), float("inf"), np.float64("-inf")])
def test_glue_rejects_non_finite_numbers(recorded, value):
    with pytest.raises(ValueError, match=r"value is .*; a headline number must be finite"):
        glue("x", value)
    assert recorded == []


def test_glue_works_outside_a_notebook():
    assert glue("plain_run", np.float64(0.125)) == 0.125  # the real myst_nb.glue, no kernel


def test_glued_texts_reads_back_glue_records_and_skips_other_outputs():
    from utils import GLUE_MIME, glued_texts

    outs = [
        {
            "output_type": "display_data",
            "metadata": {"scrapbook": {"name": "auc"}},
            "data": {GLUE_MIME: "0.8125"},
        },
        {"output_type": "stream", "text": "hello"},
        {"output_type": "display_data", "metadata": {"scrapbook": {"name": "empty"}}, "data": {}},
    ]
    assert glued_texts(outs) == {"auc": "0.8125", "empty": None}
    assert glued_texts(None) == {}
