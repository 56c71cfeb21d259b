"""How new ties form, and what it costs to find them: the numbers behind PYMK's first two chapters.

Two questions decide a "people you may know" candidate generator before any model is trained.

1. **Where are tomorrow's ties today?** :func:`formation_distances` replays the graph's history:
   for each tie born in year ``y`` it measures the hop distance between the two members in the
   graph of ties born *before* ``y`` (the graph a recommender could have seen when the tie
   formed). A tie at distance 2 closes a triangle, so a friends-of-friends (FoF) generator can
   reach it; a tie at distance 3 needs one more hop (or another source); a tie touching a member
   with no earlier tie is a cold-start tie that no graph walk reaches. :func:`formation_shares`
   turns the codes into shares per period. The same replay on real social networks (a
   university e-mail network, Kossinets and Watts, Science 2006; Flickr, Delicious, Yahoo!
   Answers and LinkedIn, Leskovec et al., KDD 2008) finds new ties local: from about a
   quarter to two thirds of them close a triangle, depending on the network.

2. **What does a 2-hop expansion cost, per member?** The work is
   :func:`utils.pymk.candidates.two_hop_work`: :math:`\\sum_{w \\in N(u)} \\min(d_w, c)` paths
   for a hub cap :math:`c`. Over all members it sums to :math:`\\sum_w d_w \\min(d_w, c)`, so
   the mean work per member is :math:`\\mathbb{E}[d^2]` without a cap: the batch cost is set by
   the hubs. :class:`utils.pymk.serving.FoFIndex` is the on-request path for one member (read
   each neighbour's list, count, drop the member and its connections), the unit a real-time
   service times; :func:`degree_buckets` groups members by degree for those timings.

Public API: :data:`ORIGINS`, :func:`formation_distances`, :func:`formation_shares`,
:func:`degree_buckets`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd

from utils.graph.csr import CSRGraph, check_node_ids
from utils.graph.profile import pair_distances

#: Code for a tie that touches a member with no earlier tie (cold start: no path exists).
NEW_MEMBER = -2
#: Code for a tie between two members in different components of the earlier graph.
UNREACHABLE = -1

#: Column order of :func:`formation_shares` (``max_dist=3``): where a new tie's pair stood.
ORIGINS = ("2 hops", "3 hops", "4+ hops", "unreachable", "new member")


def _check_ties(ties: object) -> pd.DataFrame:
    if not isinstance(ties, pd.DataFrame):
        raise TypeError(f"ties must be a pandas DataFrame, got {type(ties).__name__}")
    for col in ("u", "v", "born"):
        if col not in ties.columns:
            raise ValueError(f"ties must have a column {col!r}; it has {list(ties.columns)}")
    if len(ties) == 0:
        raise ValueError("ties must not be empty")
    for col in ("u", "v", "born"):
        if not np.issubdtype(ties[col].dtype, np.integer):
            raise TypeError(f"ties[{col!r}] must hold integers, got dtype {ties[col].dtype}")
    return ties


def formation_distances(
    ties: pd.DataFrame, n_nodes: int, *, max_dist: int = 3, from_year: int | None = None
) -> np.ndarray:
    """The hop distance of every tie's pair in the graph of ties born before the tie's year.

    ``ties`` has integer columns ``u``, ``v`` (node ids in ``[0, n_nodes)``) and ``born`` (year).
    For each year ``y`` (from ``from_year`` on; all years when ``None``) the graph of ties with
    ``born < y`` is built and the year's pairs are measured with
    :func:`utils.graph.profile.pair_distances` (breadth-first search, capped at ``max_dist``).
    Ties born in the same year do not see each other: the recommender is assumed to refresh once
    a year, the resolution of the data.

    Returns an int64 array aligned with ``ties``' rows:

    - ``2 .. max_dist``: the exact distance (1 cannot occur: a pair forms its tie once);
    - ``max_dist + 1``: farther than ``max_dist`` but in the same component;
    - :data:`UNREACHABLE` (-1): the two members were in different components;
    - :data:`NEW_MEMBER` (-2): at least one member had no earlier tie (checked first);
    - ``0``: years before ``from_year`` (not measured).
    """
    ties = _check_ties(ties)
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer) or n_nodes < 1:
        raise ValueError(f"n_nodes must be a positive int, got {n_nodes!r}")
    if isinstance(max_dist, bool) or not isinstance(max_dist, int | np.integer) or max_dist < 2:
        raise ValueError(f"max_dist must be an int >= 2, got {max_dist!r}")
    if from_year is not None and (
        isinstance(from_year, bool) or not isinstance(from_year, int | np.integer)
    ):
        raise TypeError(f"from_year must be an int or None, got {type(from_year).__name__}")
    u = check_node_ids("ties['u']", ties["u"].to_numpy(), n_nodes)
    v = check_node_ids("ties['v']", ties["v"].to_numpy(), n_nodes)
    if np.any(u == v):
        raise ValueError("ties must not contain self-loops (u == v)")
    born = ties["born"].to_numpy(dtype=np.int64)
    out = np.zeros(len(ties), dtype=np.int64)
    years = np.unique(born)
    if from_year is not None:
        years = years[years >= from_year]
    for year in years:
        before = born < year
        now = np.flatnonzero(born == year)
        graph = CSRGraph.from_edges(u[before], v[before], int(n_nodes))
        deg = graph.degree()
        pairs = np.stack([u[now], v[now]], axis=1)
        codes = pair_distances(graph, pairs, max_dist=int(max_dist))
        codes[(deg[pairs[:, 0]] == 0) | (deg[pairs[:, 1]] == 0)] = NEW_MEMBER
        out[now] = codes
    return out


def formation_shares(
    ties: pd.DataFrame, codes: np.ndarray, periods: Sequence[tuple[int, int]], *, max_dist: int = 3
) -> pd.DataFrame:
    """Share of each period's new ties by where the pair stood when the tie formed.

    ``codes`` is :func:`formation_distances`'s output for ``ties`` (same ``max_dist``).
    ``periods`` are ``(first_year, last_year)`` pairs, both inclusive. Returns one row per period
    (index ``"first-last"``) with the columns ``ties`` (count), one share per distance
    ``2 .. max_dist`` (``"2 hops"``, ...), ``"{max_dist+1}+ hops"``, ``"unreachable"`` and
    ``"new member"`` (these shares sum to 1), ``"2 hops | both known"`` (the 2-hop share among
    ties between two members who already had a tie, the population a graph-based generator can
    serve at all) and, when ``ties`` has a ``first_year`` column, ``"met before"`` (share of ties
    whose pair had shared a film in an earlier year than the tie's: an interaction signal outside
    the tie graph).
    """
    ties = _check_ties(ties)
    codes = np.asarray(codes)
    if codes.shape != (len(ties),):
        raise ValueError(f"codes must have shape ({len(ties)},), got {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer):
        raise TypeError(f"codes must hold integers, got dtype {codes.dtype}")
    if isinstance(max_dist, bool) or not isinstance(max_dist, int | np.integer) or max_dist < 2:
        raise ValueError(f"max_dist must be an int >= 2, got {max_dist!r}")
    if len(periods) == 0:
        raise ValueError("periods must not be empty")
    born = ties["born"].to_numpy()
    labels = {d: f"{d} hops" for d in range(2, max_dist + 1)}
    labels[max_dist + 1] = f"{max_dist + 1}+ hops"
    labels[UNREACHABLE] = "unreachable"
    labels[NEW_MEMBER] = "new member"
    rows = {}
    for period in periods:
        if len(period) != 2 or period[0] > period[1]:
            raise ValueError(f"periods: expected (first_year, last_year) pairs, got {period!r}")
        lo, hi = period
        mask = (born >= lo) & (born <= hi)
        c = codes[mask]
        if c.size == 0:
            raise ValueError(f"periods: no ties born in {lo}-{hi}")
        if np.any(c == 0):
            raise ValueError(
                f"codes: period {lo}-{hi} has unmeasured ties (code 0); lower from_year"
            )
        row: dict[str, float] = {"ties": int(c.size)}
        for code, name in labels.items():
            row[name] = float(np.mean(c == code))
        known = c != NEW_MEMBER
        row["2 hops | both known"] = float(np.mean(c[known] == 2)) if known.any() else np.nan
        if "first_year" in ties.columns:
            met = ties["first_year"].to_numpy()[mask] < born[mask]
            row["met before"] = float(np.mean(met))
        rows[f"{lo}-{hi}"] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out["ties"] = out["ties"].astype(np.int64)
    return out


DEFAULT_DEGREE_EDGES: tuple[int, ...] = (1, 5, 20, 60)
"""Default lower edges of the degree buckets: 1-4, 5-19, 20-59, 60+ (the graph's p99 degree is
about 67)."""


def degree_buckets(degrees: object, edges: Sequence[int] = DEFAULT_DEGREE_EDGES) -> pd.Series:
    """Label each degree with its bucket ``[edges[i], edges[i+1])``, the last one open-ended.

    ``edges`` must be strictly increasing positive ints; degrees below ``edges[0]`` get the label
    ``"<{edges[0]}"`` (a bucket that exists only when such a degree does). Returns a
    categorical Series (ordered as the buckets) for ``groupby``.
    """
    d = np.asarray(degrees)
    if d.ndim != 1 or not np.issubdtype(d.dtype, np.integer):
        raise TypeError(f"degrees must be a 1-d integer array, got {d.dtype} with shape {d.shape}")
    e = list(edges)
    if len(e) == 0 or any(not isinstance(x, int | np.integer) or x < 1 for x in e):
        raise ValueError(f"edges must be positive ints, got {edges!r}")
    if any(b <= a for a, b in pairwise(e)):
        raise ValueError(f"edges must be strictly increasing, got {edges!r}")
    names = [f"<{e[0]}"]
    names += [f"{a}-{b - 1}" for a, b in pairwise(e)]
    names.append(f"{e[-1]}+")
    idx = np.searchsorted(np.asarray(e), d, side="right")
    if not (idx == 0).any():  # no degree below the first edge: no empty "<lo" bucket
        names, idx = names[1:], idx - 1
    return pd.Series(pd.Categorical.from_codes(idx, categories=names, ordered=True))
