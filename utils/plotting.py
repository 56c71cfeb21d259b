"""One figure style for the whole book, and the plots that several labs share."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd

# Colour-blind-safe palette (Okabe & Ito, 2008), in a fixed order so a method keeps its colour.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

STYLE = {
    "figure.figsize": (7.0, 4.2),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (call once at the top of a lab)."""
    mpl.rcParams.update(STYLE)


def plot_recall_qps(
    frames: Sequence[pd.DataFrame],
    ax: plt.Axes | None = None,
    *,
    recall: str = "recall@10",
    qps: str = "qps_single",
    title: str = "Recall vs queries per second (one query at a time, one thread)",
) -> plt.Axes:
    """ann-benchmarks' plot: recall on x, QPS on a log y axis, up and to the right is better.
    One line per data frame (a parameter sweep of one index, as from ``ann.bench.sweep``)."""
    if len(frames) == 0:
        raise ValueError("frames must hold at least one sweep")
    if ax is None:
        _, ax = plt.subplots()
    for j, df in enumerate(frames):
        if df.empty:
            raise ValueError(f"frames[{j}] is empty")
        d = df.sort_values(recall)
        ax.plot(
            d[recall],
            d[qps],
            marker=MARKERS[j % len(MARKERS)],
            color=PALETTE[j % len(PALETTE)],
            label=d["index"].iloc[0],
        )
    ax.set_yscale("log")
    ax.set_xlabel(recall)
    ax.set_ylabel("queries per second (log)")
    ax.set_title(title)
    ax.legend(loc="lower left")
    return ax
