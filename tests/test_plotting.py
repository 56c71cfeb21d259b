"""utils.plotting: the book's style and the shared recall/QPS figure (Agg backend, no window)."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from utils.plotting import MARKERS, PALETTE, STYLE, plot_recall_qps, use_book_style


@pytest.fixture(autouse=True)
def _clean_matplotlib():
    with mpl.rc_context():  # restores rcParams after each test
        yield
    plt.close("all")


def _sweep(name: str, recalls, qps) -> pd.DataFrame:
    return pd.DataFrame({"index": name, "recall@10": recalls, "qps_single": qps})


def test_backend_is_headless():
    assert mpl.get_backend().lower() == "agg"


def test_use_book_style_sets_rcparams():
    mpl.rcdefaults()
    assert mpl.rcParams["axes.spines.top"] is True
    use_book_style()
    assert tuple(mpl.rcParams["figure.figsize"]) == (7.0, 4.2)
    assert mpl.rcParams["axes.spines.top"] is False and mpl.rcParams["axes.spines.right"] is False
    assert mpl.rcParams["axes.grid"] is True and mpl.rcParams["legend.frameon"] is False
    assert mpl.rcParams["lines.linewidth"] == 1.8 and mpl.rcParams["axes.titleweight"] == "bold"
    colors = [to_hex(c["color"]) for c in mpl.rcParams["axes.prop_cycle"]]
    assert colors == [c.lower() for c in PALETTE]
    for key, value in STYLE.items():
        if key != "axes.prop_cycle":
            assert mpl.rcParams[key] == (list(value) if isinstance(value, tuple) else value), key
    _, ax = plt.subplots()  # new figures pick the style up
    assert ax.figure.get_size_inches().tolist() == [7.0, 4.2]


def test_plot_recall_qps_one_line_per_frame_on_a_log_axis():
    frames = [
        _sweep("HNSW (ours)", [0.9, 0.5, 0.99], [300.0, 1000.0, 50.0]),
        _sweep("faiss IVF", [0.6, 0.95], [800.0, 120.0]),
        _sweep("exact", [1.0], [20.0]),
    ]
    ax = plot_recall_qps(frames)
    lines = ax.get_lines()
    assert len(lines) == 3
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
    assert ax.get_xlabel() == "recall@10" and "log" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["HNSW (ours)", "faiss IVF", "exact"]
    # each line is its sweep sorted by recall, in the palette's colours and markers
    assert lines[0].get_xdata().tolist() == [0.5, 0.9, 0.99]
    assert lines[0].get_ydata().tolist() == [1000.0, 300.0, 50.0]
    assert [to_hex(line.get_color()) for line in lines] == [c.lower() for c in PALETTE[:3]]
    assert [line.get_marker() for line in lines] == list(MARKERS[:3])
    assert ax.get_title().startswith("Recall vs queries per second")


def test_plot_recall_qps_on_given_axes_with_other_columns():
    _, (left, right) = plt.subplots(1, 2)
    df = pd.DataFrame({"index": "x", "recall@5": [0.2, 0.4], "qps_batch": [10.0, 5.0]})
    out = plot_recall_qps([df], right, recall="recall@5", qps="qps_batch", title="batch")
    assert out is right and len(left.get_lines()) == 0 and len(right.get_lines()) == 1
    assert right.get_title() == "batch" and right.get_xlabel() == "recall@5"
    assert right.get_lines()[0].get_ydata().tolist() == [10.0, 5.0]


def test_plot_recall_qps_rejects_an_empty_frame():
    good = _sweep("a", [0.5], [10.0])
    with pytest.raises(ValueError, match=r"frames\[1\] is empty"):
        plot_recall_qps([good, good.iloc[:0]])
