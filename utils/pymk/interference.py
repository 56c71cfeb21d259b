"""Evaluating People You May Know: offline metrics by member segment, and A/B tests on a graph.

**Offline, by segment.** A mean over all sources hides who the recommender fails. Members are
cut into overlapping segments from what was known before the split (:func:`member_segments`):
*new* (debut within ``new_years`` of the split), *low degree* (at most ``low_max`` ties) and
*hubs* (at least ``hub_min`` ties). :func:`segment_report` gives each segment's mean per-source
metric with a percentile bootstrap interval over its sources (:func:`utils.metrics.bootstrap_ci`,
Efron & Tibshirani 1993), and :func:`paired_segment_difference` the paired bootstrap of the
per-source difference between two methods.

**Online, under interference.** A PYMK experiment breaks SUTVA (the stable unit treatment
value assumption): a treated member sends more invitations, and they land on members of either
arm. :class:`InterferenceSimulator` is a documented, seeded outcome model on a real graph,
linear in the treatment and in the *exposure* ``e_i`` = share of ``i``'s neighbours treated::

    E[Y_i | z] = mu0_i * (1 + direct * z_i + spill * e_i)
    Y_i ~ Poisson(E[Y_i | z])

so the total (global) treatment effect, everyone treated against no one, is known:
``tau = (direct + spill) * mean(mu0)``. With members randomised independently, both arms have
``E[e_i] = p``, so the difference in means estimates only ``direct * mean(mu0)``: the spill-over
is missing (Ugander, Karrer, Backstrom & Kleinberg, KDD 2013, call the cure *graph cluster
randomization*). Randomising whole clusters of the graph (:func:`graph_clusters`, Louvain,
Blondel et al. 2008, or label propagation, Raghavan et al. 2007) keeps most neighbours in the
same arm; to first order the difference in means then estimates
``direct * mean(mu0) + spill * mean(mu0_i * f_i)`` with ``f_i`` the share of ``i``'s
neighbours in its own cluster (:func:`first_order_estimand`), so the remaining bias is the
spill-over through cut edges, and the price is variance: far fewer independent units.
:func:`run_design` replicates a design many times and records the difference in means with its
member-level (iid) and cluster-robust standard errors; :func:`design_summary` reports bias,
standard deviation, RMSE and interval coverage against the known truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import norm

from .._checks import check_choice, check_positive_int
from ..graph.csr import CSRGraph
from ..metrics import bootstrap_ci

SEGMENTS = ("all", "new", "low_degree", "hub")
DESIGNS = ("member", "cluster")


def _as_1d(values: object, name: str, n: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected numbers, {exc}") from exc
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D array, got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise ValueError(f"{name}: expected {n} values, got {arr.size}")
    return arr


def _check_graph(graph: object, name: str = "graph") -> CSRGraph:
    if not isinstance(graph, CSRGraph):
        raise TypeError(f"{name}: expected a utils.graph.CSRGraph, got {type(graph).__name__}")
    if not graph.symmetric:
        raise ValueError(f"{name}: expected an undirected (symmetric) graph")
    return graph


# --------------------------------------------------------------------------------------------
# Offline evaluation by segment
# --------------------------------------------------------------------------------------------


def member_segments(
    degree: object,
    debut_year: object,
    *,
    split_year: int = 2010,
    new_years: int = 5,
    low_max: int = 2,
    hub_min: int = 40,
) -> pd.DataFrame:
    """Boolean segment columns ``all``, ``new``, ``low_degree``, ``hub``, one row per member.

    ``degree``: ties observed before the split; ``debut_year``: first film year before the
    split (NaN when none). A member is *new* when ``split_year - new_years <= debut_year``,
    *low degree* when ``degree <= low_max`` and a *hub* when ``degree >= hub_min``. Segments
    overlap (a new member is often low degree); ``all`` is every row.
    """
    d = _as_1d(degree, "degree")
    y = _as_1d(debut_year, "debut_year", len(d))
    if (d < 0).any() or not np.isfinite(d).all():
        raise ValueError("degree: expected finite non-negative counts")
    for name, v in (("split_year", split_year), ("new_years", new_years)):
        check_positive_int(v, name)
    if isinstance(low_max, bool) or not isinstance(low_max, int | np.integer) or low_max < 0:
        raise ValueError(f"low_max: expected an int >= 0, got {low_max!r}")
    hub_min = check_positive_int(hub_min, "hub_min")
    if hub_min <= low_max:
        raise ValueError(f"hub_min: must exceed low_max ({low_max}), got {hub_min}")
    with np.errstate(invalid="ignore"):
        new = np.nan_to_num(y, nan=-np.inf) >= split_year - new_years
    return pd.DataFrame(
        {"all": np.ones(len(d), bool), "new": new, "low_degree": d <= low_max, "hub": d >= hub_min}
    )


def _check_per_source(per: object, metric: str, name: str) -> pd.Series:
    if not isinstance(per, pd.DataFrame):
        raise TypeError(f"{name}: expected a DataFrame from per_source_metrics")
    if metric not in per.columns:
        raise ValueError(f"metric: {metric!r} is not a column of {name} ({list(per.columns)})")
    return per[metric]


def _segment_rows(segments: object, index: pd.Index) -> pd.DataFrame:
    if not isinstance(segments, pd.DataFrame) or segments.empty:
        raise TypeError("segments: expected a non-empty DataFrame of boolean columns")
    if index.min() < 0 or index.max() >= len(segments):
        raise ValueError("segments: needs one row per node id of the per-source metrics")
    return segments.iloc[index.to_numpy()].set_axis(index)


def segment_report(
    per_source: Mapping[str, pd.DataFrame],
    segments: pd.DataFrame,
    metrics: tuple[str, ...] = ("hits@10", "recall@10"),
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (method, segment, metric): ``n_sources``, ``mean`` and the 95% percentile
    bootstrap interval ``low``/``high`` over that segment's sources.

    ``per_source`` maps a method name to :func:`utils.graph.evaluate.per_source_metrics` output
    (index = source node id); ``segments`` is :func:`member_segments` output (row = node id).
    A segment with no sources is skipped.
    """
    if not isinstance(per_source, Mapping) or not per_source:
        raise TypeError("per_source: expected a non-empty mapping of method name -> DataFrame")
    if isinstance(metrics, str) or not metrics:
        raise ValueError("metrics: expected a non-empty tuple of column names")
    rows = []
    for method, per in per_source.items():
        for metric in metrics:
            values = _check_per_source(per, metric, f"per_source[{method!r}]")
            seg = _segment_rows(segments, values.index)
            for s in seg.columns:
                v = values[seg[s].to_numpy(bool)].to_numpy()
                if not len(v):
                    continue
                mean, low, high = bootstrap_ci(v, n_boot=n_boot, seed=seed)
                rows.append((method, s, len(v), metric, mean, low, high))
    cols = ["method", "segment", "n_sources", "metric", "mean", "low", "high"]
    return pd.DataFrame(rows, columns=cols)


def paired_segment_difference(
    per_a: pd.DataFrame,
    per_b: pd.DataFrame,
    segments: pd.DataFrame,
    metric: str = "hits@10",
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per segment, the mean of ``a - b`` over the sources both evaluated, with its paired
    percentile bootstrap interval (an interval excluding 0: the segment's sources support the
    difference). Columns ``segment``, ``n_sources``, ``diff``, ``low``, ``high``."""
    a = _check_per_source(per_a, metric, "per_a")
    b = _check_per_source(per_b, metric, "per_b")
    common = a.index.intersection(b.index)
    if not len(common):
        raise ValueError("per_a, per_b: no source in common")
    diff = a.loc[common] - b.loc[common]
    seg = _segment_rows(segments, common)
    rows = []
    for s in seg.columns:
        v = diff[seg[s].to_numpy(bool)].to_numpy()
        if len(v):
            rows.append((s, len(v), *bootstrap_ci(v, n_boot=n_boot, seed=seed)))
    return pd.DataFrame(rows, columns=["segment", "n_sources", "diff", "low", "high"])


# --------------------------------------------------------------------------------------------
# Graph clusters for cluster-randomised experiments
# --------------------------------------------------------------------------------------------


def graph_clusters(
    graph: CSRGraph, *, method: str = "louvain", seed: int = 0, resolution: float = 1.0
) -> np.ndarray:
    """A cluster label in ``[0, n_clusters)`` for every node (an isolated node is its own
    cluster), from networkx: ``"louvain"`` (Blondel et al. 2008, modularity with
    ``resolution``; higher gives more, smaller clusters) or ``"label_propagation"``
    (asynchronous, Raghavan, Albert & Kumara 2007). Labels are numbered by decreasing size."""
    import networkx as nx

    graph = _check_graph(graph)
    method = check_choice(method, "method", ("louvain", "label_propagation"))
    if isinstance(resolution, bool) or not isinstance(resolution, int | float) or resolution <= 0:
        raise ValueError(f"resolution: expected a positive number, got {resolution!r}")
    e = graph.edge_index()
    e = e[:, e[0] < e[1]]
    g = nx.Graph()
    g.add_nodes_from(range(graph.n_nodes))
    g.add_edges_from(e.T.tolist())
    if method == "louvain":
        comms = nx.community.louvain_communities(g, seed=seed, resolution=resolution)
    else:
        comms = nx.community.asyn_lpa_communities(g, seed=seed)
    comms = sorted((sorted(c) for c in comms), key=lambda c: (-len(c), c[0]))
    labels = np.empty(graph.n_nodes, dtype=np.int64)
    for i, c in enumerate(comms):
        labels[c] = i
    return labels


def _check_labels(labels: object, n: int) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.shape != (n,):
        raise ValueError(f"labels: expected shape ({n},), got {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        raise TypeError(f"labels: expected integer cluster ids, got dtype {lab.dtype}")
    if lab.min() < 0:
        raise ValueError("labels: cluster ids must be >= 0")
    return np.unique(lab, return_inverse=True)[1].astype(np.int64)


def cluster_stats(graph: CSRGraph, labels: object) -> dict[str, float]:
    """``n_clusters``, ``edges_cut`` (share of ties between two clusters), ``largest_share``
    (the largest cluster's share of nodes) and ``own_share``: the mean over nodes with ties of
    ``f_i``, the share of ``i``'s neighbours in its own cluster."""
    graph = _check_graph(graph)
    lab = _check_labels(labels, graph.n_nodes)
    e = graph.edge_index()
    same = lab[e[0]] == lab[e[1]]
    d = graph.degree()
    f = np.bincount(e[0], weights=same, minlength=graph.n_nodes)
    has = d > 0
    return {
        "n_clusters": int(lab.max() + 1),
        "edges_cut": float(1.0 - same.mean()) if len(same) else 0.0,
        "largest_share": float(np.bincount(lab).max() / graph.n_nodes),
        "own_share": float((f[has] / d[has]).mean()) if has.any() else 0.0,
    }


# --------------------------------------------------------------------------------------------
# The interference simulator
# --------------------------------------------------------------------------------------------


def members_with_ties(graph: CSRGraph) -> tuple[CSRGraph, np.ndarray]:
    """The subgraph on nodes with at least one tie, re-indexed ``0..m-1``, and the original ids
    of its nodes (``kept[i]`` is new node ``i``): the population of a graph experiment."""
    graph = _check_graph(graph)
    kept = np.flatnonzero(graph.degree() > 0)
    if not len(kept):
        raise ValueError("graph: has no ties")
    remap = np.full(graph.n_nodes, -1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    e = graph.edge_index()
    e = e[:, e[0] < e[1]]
    return CSRGraph.from_edges(remap[e[0]], remap[e[1]], len(kept)), kept


def degree_baseline(degree: object, counts: object, *, max_bucket: int = 7) -> np.ndarray:
    """Each member's expected outcome from its degree alone: the mean of ``counts`` over the
    members of its degree bucket ``min(floor(log2(degree)), max_bucket)`` (degree >= 1).

    Conditioning the simulator's baseline on the real graph this way keeps the real relation
    between degree and connections formed without copying any one member's noisy count."""
    d = _as_1d(degree, "degree")
    y = _as_1d(counts, "counts", len(d))
    if (d < 1).any():
        raise ValueError("degree: every member needs at least one tie (degree >= 1)")
    if not np.isfinite(y).all() or (y < 0).any():
        raise ValueError("counts: expected finite non-negative counts")
    if isinstance(max_bucket, bool) or not isinstance(max_bucket, int | np.integer):
        raise TypeError(f"max_bucket: expected an int, got {type(max_bucket).__name__}")
    if max_bucket < 0:
        raise ValueError(f"max_bucket: expected >= 0, got {max_bucket}")
    b = np.minimum(np.floor(np.log2(d)).astype(np.int64), max_bucket)
    mean = np.bincount(b, weights=y) / np.maximum(np.bincount(b), 1)
    return mean[b]


@dataclass(frozen=True)
class InterferenceSimulator:
    """Outcomes with a direct effect and a spill-over through edges (see the module docstring).

    ``mu0``: each member's expected outcome with no one treated (e.g. connections formed in
    the period); ``direct``: the relative lift of a treated member; ``spill``: the relative
    lift of a member all of whose neighbours are treated (linear in the treated share).
    A member without ties has exposure 0.
    """

    graph: CSRGraph
    mu0: np.ndarray
    direct: float
    spill: float
    _walk: sp.csr_matrix = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_graph(self.graph)
        mu0 = _as_1d(self.mu0, "mu0", self.graph.n_nodes)
        if not np.isfinite(mu0).all() or (mu0 < 0).any():
            raise ValueError("mu0: expected finite non-negative expected outcomes")
        for name in ("direct", "spill"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
                raise TypeError(f"{name}: expected a finite number, got {v!r}")
            if v <= -1:
                raise ValueError(f"{name}: a relative lift must be > -1, got {v}")
        d = self.graph.degree().astype(np.float64)
        inv = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
        walk = sp.diags(inv) @ self.graph.to_scipy().astype(np.float64)  # row i: 1/d_i on N(i)
        object.__setattr__(self, "mu0", mu0)
        object.__setattr__(self, "_walk", walk.tocsr())

    @property
    def n(self) -> int:
        return self.graph.n_nodes

    @property
    def total_effect(self) -> float:
        """The true total treatment effect per member: all treated minus none treated."""
        return float((self.direct + self.spill) * self.mu0.mean())

    def _z(self, z: object) -> np.ndarray:
        arr = np.asarray(z)
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.n:
            raise ValueError(f"z: expected shape (n,) or (reps, n) with n = {self.n}")
        if not (np.issubdtype(arr.dtype, np.bool_) or np.isin(arr, (0, 1)).all()):
            raise ValueError("z: expected a 0/1 or boolean treatment assignment")
        return arr.astype(np.float64)

    def exposure(self, z: object) -> np.ndarray:
        """Share of each member's neighbours treated, ``e_i = mean_{j in N(i)} z_j``."""
        zz = self._z(z)
        return (self._walk @ zz.T).T if zz.ndim == 2 else self._walk @ zz

    def expected_outcome(self, z: object) -> np.ndarray:
        """``mu0_i * (1 + direct * z_i + spill * e_i)``."""
        zz = self._z(z)
        return self.mu0 * (1.0 + self.direct * zz + self.spill * self.exposure(zz))

    def sample(self, z: object, rng: np.random.Generator) -> np.ndarray:
        """Poisson outcomes around :meth:`expected_outcome` (counts: connections formed)."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng: expected a numpy.random.Generator")
        return rng.poisson(self.expected_outcome(z)).astype(np.float64)


def first_order_estimand(sim: InterferenceSimulator, labels: object | None = None) -> float:
    """What the difference in means estimates, to first order, under a design.

    ``labels=None`` (members randomised independently): ``direct * mean(mu0)``. With cluster
    labels: ``direct * mean(mu0) + spill * mean(mu0_i * f_i)``, ``f_i`` the share of ``i``'s
    neighbours in ``i``'s cluster (treated with ``i``); neighbours in other clusters are treated
    with the same probability in both arms and cancel. Ignores the ratio-estimator bias and the
    small correlation complete randomisation induces between clusters.
    """
    if not isinstance(sim, InterferenceSimulator):
        raise TypeError("sim: expected an InterferenceSimulator")
    base = sim.direct * sim.mu0.mean()
    if labels is None:
        return float(base)
    lab = _check_labels(labels, sim.n)
    e = sim.graph.edge_index()
    d = sim.graph.degree()
    same = np.bincount(e[0], weights=lab[e[0]] == lab[e[1]], minlength=sim.n)
    f = np.divide(same, d, out=np.zeros(sim.n), where=d > 0)
    return float(base + sim.spill * (sim.mu0 * f).mean())


def assign(
    n: int,
    n_reps: int,
    rng: np.random.Generator,
    *,
    labels: object | None = None,
    share: float = 0.5,
) -> np.ndarray:
    """``(n_reps, n)`` boolean treatment assignments.

    Without ``labels``: each member independently treated with probability ``share``
    (Bernoulli). With ``labels``: complete randomisation of clusters, ``round(share * C)`` of
    the ``C`` clusters treated in each replication, every member following its cluster.
    """
    n = check_positive_int(n, "n")
    n_reps = check_positive_int(n_reps, "n_reps")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng: expected a numpy.random.Generator")
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise ValueError(f"share: expected a number in (0, 1), got {share!r}")
    if labels is None:
        return rng.random((n_reps, n)) < share
    lab = _check_labels(labels, n)
    c = int(lab.max() + 1)
    n_treat = round(share * c)
    if not 0 < n_treat < c:
        raise ValueError(f"labels: {c} clusters cannot be split with share {share}")
    treated = np.argsort(rng.random((n_reps, c)), axis=1) < n_treat  # a random half per row
    return treated[:, lab]


def difference_in_means(y: object, z: object) -> np.ndarray:
    """Per replication (row): mean of ``y`` over treated minus mean over control members."""
    yy, zz = np.atleast_2d(np.asarray(y, np.float64)), np.atleast_2d(np.asarray(z, bool))
    if yy.shape != zz.shape:
        raise ValueError(f"y, z: shapes differ ({yy.shape} vs {zz.shape})")
    n1, n0 = zz.sum(1), (~zz).sum(1)
    if (n1 == 0).any() or (n0 == 0).any():
        raise ValueError("z: every replication needs treated and control members")
    return (yy * zz).sum(1) / n1 - (yy * ~zz).sum(1) / n0


def iid_se(y: object, z: object) -> np.ndarray:
    """Per replication, the textbook two-sample standard error
    ``sqrt(s1^2 / n1 + s0^2 / n0)``, which assumes members are independent."""
    yy, zz = np.atleast_2d(np.asarray(y, np.float64)), np.atleast_2d(np.asarray(z, bool))
    if yy.shape != zz.shape:
        raise ValueError(f"y, z: shapes differ ({yy.shape} vs {zz.shape})")
    out = np.empty(len(yy))
    for r, (yr, zr) in enumerate(zip(yy, zz, strict=True)):
        a, b = yr[zr], yr[~zr]
        if len(a) < 2 or len(b) < 2:
            raise ValueError("z: each arm needs at least two members")
        out[r] = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return out


def cluster_se(y: object, z: object, labels: object) -> np.ndarray:
    """Per replication, the cluster-robust standard error of the difference in means.

    Each arm's mean is a ratio ``sum_c Y_c / sum_c n_c`` over its clusters; its linearised
    variance is ``m / (m - 1) * sum_c (Y_c - mean * n_c)^2 / (sum_c n_c)^2`` over the arm's
    ``m`` clusters (the CR1 sandwich of a regression of y on z with clustered errors,
    Liang & Zeger 1986), and the two arms are independent.
    """
    yy, zz = np.atleast_2d(np.asarray(y, np.float64)), np.atleast_2d(np.asarray(z, bool))
    if yy.shape != zz.shape:
        raise ValueError(f"y, z: shapes differ ({yy.shape} vs {zz.shape})")
    lab = _check_labels(labels, yy.shape[1])
    c = int(lab.max() + 1)
    onehot = sp.csr_matrix((np.ones(len(lab)), (np.arange(len(lab)), lab)), shape=(len(lab), c))
    size = np.bincount(lab, minlength=c).astype(np.float64)
    ysum = np.asarray((onehot.T @ yy.T).T)  # (reps, C)
    zc = np.asarray((onehot.T @ zz.T.astype(np.float64)).T) / size  # share treated per cluster
    if not np.isin(zc, (0.0, 1.0)).all():
        raise ValueError("labels: z must be constant within each cluster (a cluster design)")
    var = np.zeros(len(yy))
    for arm in (zc == 1.0, zc == 0.0):
        m = arm.sum(1)
        if (m < 2).any():
            raise ValueError("z: each arm needs at least two clusters")
        n_arm = (size * arm).sum(1)
        mean = (ysum * arm).sum(1) / n_arm
        resid = (ysum - mean[:, None] * size) * arm
        var += m / (m - 1) * (resid**2).sum(1) / n_arm**2
    return np.sqrt(var)


def run_design(
    sim: InterferenceSimulator,
    design: str,
    *,
    n_reps: int = 500,
    seed: int = 0,
    labels: object | None = None,
    share: float = 0.5,
    chunk: int = 100,
) -> pd.DataFrame:
    """Replicate one experiment design ``n_reps`` times on the simulator.

    ``design``: ``"member"`` (Bernoulli per member) or ``"cluster"`` (complete randomisation of
    ``labels``' clusters). Each replication draws a fresh assignment and fresh Poisson outcomes
    and records ``estimate`` (difference in means), ``se_iid`` (:func:`iid_se`) and, for the
    cluster design, ``se_cluster`` (:func:`cluster_se`). Seeded: same inputs, same rows.
    """
    if not isinstance(sim, InterferenceSimulator):
        raise TypeError("sim: expected an InterferenceSimulator")
    design = check_choice(design, "design", DESIGNS)
    if design == "cluster" and labels is None:
        raise ValueError("labels: the cluster design needs cluster labels")
    if design == "member" and labels is not None:
        raise ValueError("labels: the member design takes no labels")
    n_reps = check_positive_int(n_reps, "n_reps")
    chunk = check_positive_int(chunk, "chunk")
    rng = np.random.default_rng(seed)
    parts = []
    for start in range(0, n_reps, chunk):
        r = min(chunk, n_reps - start)
        z = assign(sim.n, r, rng, labels=labels, share=share)
        y = sim.sample(z, rng)
        part = {"estimate": difference_in_means(y, z), "se_iid": iid_se(y, z)}
        if design == "cluster":
            part["se_cluster"] = cluster_se(y, z, labels)
        parts.append(pd.DataFrame(part))
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "design", design)
    return out


def design_summary(
    results: pd.DataFrame, truth: float, *, se: str = "se_iid", alpha: float = 0.05
) -> dict[str, float]:
    """Against the known ``truth``: ``mean`` estimate, ``bias``, ``sd`` (the estimate's spread
    over replications, its true standard error), ``rmse``, ``mean_se`` (the average reported
    standard error in column ``se``) and ``coverage``: the share of normal intervals
    ``estimate +/- z_{1-alpha/2} * se`` that contain ``truth``."""
    if not isinstance(results, pd.DataFrame) or "estimate" not in results:
        raise TypeError("results: expected run_design output with an 'estimate' column")
    if se not in results:
        raise ValueError(f"se: {se!r} is not a column of results ({list(results.columns)})")
    if not np.isfinite(truth):
        raise ValueError(f"truth: expected a finite number, got {truth!r}")
    if len(results) < 2:
        raise ValueError("results: need at least two replications")
    est = results["estimate"].to_numpy()
    s = results[se].to_numpy()
    half = norm.ppf(1 - alpha / 2) * s
    return {
        "mean": float(est.mean()),
        "bias": float(est.mean() - truth),
        "sd": float(est.std(ddof=1)),
        "rmse": float(np.sqrt(((est - truth) ** 2).mean())),
        "mean_se": float(s.mean()),
        "coverage": float(((est - half <= truth) & (truth <= est + half)).mean()),
    }
