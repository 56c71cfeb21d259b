"""The graph part's one link-prediction protocol: a temporal split of ties by birth year.

- **test**: observe the ties born before ``test_from`` (2010); predict the ties born in or after
  it between two actors who already have a tie in the observed graph (a model can only rank
  nodes it has seen; new actors are the inductive question of the GraphSAGE chapter);
- **validation**: the same one step earlier: observe ties born before ``val_from`` (2008), predict
  those born in ``[val_from, test_from)``. Every hyperparameter is chosen here, never on test.

Each phase also names the year before which node features may be computed (``feature_year``),
so that features of the test phase do not see films released after 2009.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from .csr import CSRGraph


class Phase(NamedTuple):
    """What a model sees (``graph``), what it must predict (``targets``, shape [m, 2], u < v),
    and the cut-off year for node features."""

    name: str
    graph: CSRGraph
    targets: np.ndarray
    feature_year: int


def _future_targets(ties: pd.DataFrame, observed: CSRGraph, lo: int, hi: int | None) -> np.ndarray:
    born = ties["born"].to_numpy()
    mask = born >= lo if hi is None else (born >= lo) & (born < hi)
    pairs = ties.loc[mask, ["u", "v"]].to_numpy(dtype=np.int64)
    seen = observed.degree() > 0
    return pairs[seen[pairs[:, 0]] & seen[pairs[:, 1]]]


@dataclass(frozen=True)
class LinkSplit:
    """Ties split by birth year; see the module docstring for the protocol."""

    n_nodes: int
    test_from: int
    val_from: int
    val_phase: Phase
    test_phase: Phase

    def phase(self, name: str) -> Phase:
        """``"val"`` or ``"test"``."""
        if name == "val":
            return self.val_phase
        if name == "test":
            return self.test_phase
        raise ValueError(f"name: expected 'val' or 'test', got {name!r}")

    def summary(self) -> pd.DataFrame:
        """Observed ties, nodes with a tie, and targets per phase."""
        rows = {}
        for p in (self.val_phase, self.test_phase):
            rows[p.name] = {
                "observed ties": p.graph.n_edges,
                "observed actors": int((p.graph.degree() > 0).sum()),
                "target ties": len(p.targets),
                "source actors": len(np.unique(p.targets)),
                "feature cut-off": p.feature_year,
            }
        return pd.DataFrame(rows).T


def temporal_link_split(
    ties: pd.DataFrame, n_nodes: int, *, test_from: int = 2010, val_from: int = 2008
) -> LinkSplit:
    """Split ``ties`` (columns u, v, born) into the validation and test phases."""
    missing = {"u", "v", "born"} - set(getattr(ties, "columns", []))
    if missing:
        raise ValueError(f"ties: expected a DataFrame with columns u, v, born; missing {missing}")
    if not val_from < test_from:
        raise ValueError(f"val_from: must be before test_from, got {val_from} >= {test_from}")
    born = ties["born"].to_numpy()
    if not (born < val_from).any() or not (born >= test_from).any():
        raise ValueError("ties: need ties born before val_from and in or after test_from")
    u, v = ties["u"].to_numpy(np.int64), ties["v"].to_numpy(np.int64)

    def observed(before: int) -> CSRGraph:
        m = born < before
        return CSRGraph.from_edges(u[m], v[m], n_nodes)

    g_val, g_test = observed(val_from), observed(test_from)
    val = Phase("val", g_val, _future_targets(ties, g_val, val_from, test_from), val_from)
    test = Phase("test", g_test, _future_targets(ties, g_test, test_from, None), test_from)
    return LinkSplit(int(n_nodes), test_from, val_from, val, test)
