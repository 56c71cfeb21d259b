"""Profiling a graph before modelling it: degrees, tails, clustering, homophily, reach, memory.

Chapter 00 of the graph part measures the repeat-collaboration graph with these functions. Every
function takes a graph as either a :class:`utils.graph.CSRGraph` (anything with ``indptr``,
``indices`` and ``n_nodes``) or a square SciPy sparse matrix, and treats it as a simple
undirected graph (the adjacency must be symmetric; weights and self-loops are ignored).

- :func:`degree_ccdf`, :func:`fit_degree_tail`: the complementary CDF and a maximum-likelihood
  power-law fit with its lower cut-off chosen by the KS distance, compared with a lognormal by
  Vuong's likelihood-ratio test (Clauset, Shalizi and Newman 2009).
- :func:`clustering`: average local clustering (Watts and Strogatz 1998) and global
  transitivity; :func:`configuration_model_edges` and :func:`expected_clustering` for the
  baselines (erased configuration model, Erdős–Rényi).
- :func:`mixing`: edge homophily, its expectation under random mixing and Newman's (2003)
  attribute assortativity coefficient.
- :func:`neighbour_vote_accuracy`: how well a node's label is predicted by its neighbours' labels
  (why i.i.d. models leave signal on the table, and why random node splits leak).
- :func:`pair_distances`: hop distance of node pairs, capped (the share of future ties that
  close a triangle); :func:`random_tie_split`, the leaky split the part does not use.
- :func:`components`, :func:`growth_by_year`, :func:`csr_nbytes`, :func:`representation_bytes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import optimize, special
from scipy.sparse.csgraph import connected_components

from .csr import CSRGraph

__all__ = [
    "MixingResult",
    "TailFit",
    "adjacency_matrix",
    "clustering",
    "components",
    "configuration_model_edges",
    "csr_nbytes",
    "degree_ccdf",
    "expected_clustering",
    "fit_degree_tail",
    "growth_by_year",
    "mixing",
    "neighbour_vote_accuracy",
    "pair_distances",
    "random_tie_split",
    "representation_bytes",
]


# ---------------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------------


def adjacency_matrix(graph) -> sp.csr_matrix:
    """Return the graph's binary symmetric adjacency as a ``float64`` SciPy CSR matrix.

    ``graph`` is a CSRGraph-like object (``indptr``, ``indices``, ``n_nodes``) or a square SciPy
    sparse matrix. Duplicate entries are merged, values set to 1 and the diagonal dropped.
    Raises ``ValueError`` if the adjacency is not square or not symmetric, ``TypeError`` for
    anything else.
    """
    if sp.issparse(graph):
        a = sp.csr_matrix(graph, dtype=np.float64, copy=True)
    elif all(hasattr(graph, name) for name in ("indptr", "indices", "n_nodes")):
        n = int(graph.n_nodes)
        indptr = np.asarray(graph.indptr)
        indices = np.asarray(graph.indices)
        if indptr.shape != (n + 1,):
            raise ValueError(
                f"graph.indptr must have n_nodes + 1 = {n + 1} entries, got {indptr.shape}"
            )
        a = sp.csr_matrix(
            (np.ones(len(indices), dtype=np.float64), indices, indptr), shape=(n, n), copy=True
        )
    else:
        raise TypeError(
            "graph must be a CSRGraph-like object (indptr, indices, n_nodes) or a SciPy sparse "
            f"matrix, got {type(graph).__name__}"
        )
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"graph adjacency must be square, got shape {a.shape}")
    a.sum_duplicates()
    a.data[:] = 1.0
    a.setdiag(0)
    a.eliminate_zeros()
    if (a != a.T).nnz:
        raise ValueError("graph adjacency must be symmetric (an undirected graph)")
    return a


def _degrees(degrees) -> np.ndarray:
    d = np.asarray(degrees)
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"degrees must be a non-empty 1-D array, got shape {d.shape}")
    if not np.issubdtype(d.dtype, np.number) or np.any(~np.isfinite(d)) or np.any(d < 0):
        raise ValueError("degrees must be finite non-negative numbers")
    if np.any(d != np.round(d)):
        raise ValueError("degrees must be whole numbers")
    return d.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Degree distribution and its tail
# ---------------------------------------------------------------------------------------------


def degree_ccdf(degrees) -> tuple[np.ndarray, np.ndarray]:
    """Empirical complementary CDF of the positive degrees: ``(k, P(D >= k))`` at each distinct k.

    Zero degrees are dropped (they cannot sit on a log axis). Plotted on log-log axes, a power
    law ``p(k) ~ k^-alpha`` appears as a straight line of slope ``1 - alpha``.
    """
    d = _degrees(degrees)
    d = d[d > 0]
    if d.size == 0:
        raise ValueError("degrees must contain at least one positive value")
    k, counts = np.unique(d, return_counts=True)
    ccdf = counts[::-1].cumsum()[::-1] / d.size
    return k, ccdf


@dataclass(frozen=True)
class TailFit:
    """A power-law fit of a degree tail and its comparison with a lognormal (see fit_degree_tail).

    ``alpha`` is the density exponent (``p(k) ~ k^-alpha``), so the CCDF slope on log-log axes is
    ``1 - alpha``. ``llr`` is the summed log-likelihood ratio power law minus lognormal on the
    tail: negative favours the lognormal; ``p_value`` is Vuong's two-sided p-value for it (small
    means the sign is significant).
    """

    k_min: int
    n_tail: int
    tail_share: float
    alpha: float
    alpha_se: float
    ks: float
    lognormal_mu: float
    lognormal_sigma: float
    llr: float
    llr_normalized: float
    p_value: float

    @property
    def ccdf_slope(self) -> float:
        """The slope of the fitted line on the log-log CCDF, ``1 - alpha``."""
        return 1.0 - self.alpha

    @property
    def preferred(self) -> str:
        """``"power law"``, ``"lognormal"`` or ``"undecided"`` (Vuong p >= 0.1)."""
        if self.p_value >= 0.1:
            return "undecided"
        return "power law" if self.llr > 0 else "lognormal"


def _power_law_alpha(x: np.ndarray, b: float) -> float:
    # Continuous MLE on [b, inf) (Clauset et al. 2009, eq. 3.1); for integer data b = k_min - 1/2,
    # their eq. 3.7 approximation of the discrete MLE.
    return 1.0 + x.size / np.log(x / b).sum()


def _power_law_cdf(x: np.ndarray, alpha: float, b: float) -> np.ndarray:
    return 1.0 - (x / b) ** (1.0 - alpha)


def _power_law_logpdf(x: np.ndarray, alpha: float, b: float) -> np.ndarray:
    return np.log(alpha - 1.0) - np.log(b) - alpha * np.log(x / b)


def _lognormal_fit(x: np.ndarray, b: float) -> tuple[float, float, np.ndarray]:
    """MLE of a lognormal truncated to [b, inf); returns mu, sigma and per-point log-pdf."""
    lx = np.log(x)
    lb = math.log(b)

    def logpdf(params: np.ndarray) -> np.ndarray:
        mu, log_sigma = params
        sigma = math.exp(log_sigma)
        z = (lx - mu) / sigma
        tail = special.log_ndtr(-(lb - mu) / sigma)  # log P(X >= b) for the untruncated lognormal
        return -0.5 * z**2 - lx - math.log(sigma) - 0.5 * math.log(2 * math.pi) - tail

    start = np.array([lx.mean(), math.log(max(lx.std(), 0.1))])
    best = None
    for mu0 in (start[0], start[0] - 2.0, lb - 1.0):
        res = optimize.minimize(
            lambda p: -logpdf(p).sum(),
            np.array([mu0, start[1]]),
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
        )
        if best is None or res.fun < best.fun:
            best = res
    mu, log_sigma = best.x
    return float(mu), float(math.exp(log_sigma)), logpdf(best.x)


def fit_degree_tail(
    degrees,
    k_min: int | None = None,
    *,
    k_min_range: tuple[int, int] | None = None,
    min_tail: int = 50,
) -> TailFit:
    """Fit ``p(k) ~ k^-alpha`` for ``k >= k_min`` by MLE and test it against a lognormal.

    Method of Clauset, Shalizi and Newman (2009), "Power-law distributions in empirical data":

    - ``alpha = 1 + n / sum_i ln(k_i / (k_min - 1/2))`` over the n degrees ``k_i >= k_min``
      (their eq. 3.7, the continuous MLE with the half-integer correction for integer data);
      standard error ``(alpha - 1) / sqrt(n)``.
    - If ``k_min`` is None it is chosen in ``k_min_range`` (default: 2 to the degree above which
      only ``min_tail`` nodes remain) to minimise the Kolmogorov–Smirnov distance between the
      empirical tail CDF and the fitted one.
    - The alternative is a lognormal truncated to the same range, fitted by MLE. ``llr`` is the
      summed pointwise log-likelihood ratio (power law minus lognormal); Vuong's test gives
      ``p = erfc(|llr| / sqrt(2 n s^2))`` with ``s^2`` the variance of the pointwise ratios.

    Both models are continuous densities on ``[k_min - 1/2, inf)``, so their likelihoods are
    comparable. A straight-ish CCDF does not make a power law: report the slope with its range,
    and say whether the lognormal fits as well.
    """
    d = _degrees(degrees)
    d = d[d > 0]
    if d.size < min_tail:
        raise ValueError(
            f"degrees must hold at least min_tail={min_tail} positive values, got {d.size}"
        )
    if k_min is not None:
        if not isinstance(k_min, int | np.integer) or k_min < 1:
            raise ValueError(f"k_min must be a positive int, got {k_min!r}")
        candidates = [int(k_min)]
    else:
        srt = np.sort(d)
        hi_default = int(srt[-min_tail])
        lo, hi = k_min_range if k_min_range is not None else (2, hi_default)
        if lo < 1 or hi < lo:
            raise ValueError(f"k_min_range must be (lo, hi) with 1 <= lo <= hi, got {(lo, hi)}")
        candidates = [int(k) for k in np.unique(d) if lo <= k <= hi]
        if not candidates:
            raise ValueError(f"no observed degree lies in k_min_range {(lo, hi)}")
    best = None
    for k in candidates:
        x = np.sort(d[d >= k]).astype(np.float64)
        if x.size < min_tail:
            if k_min is not None:
                raise ValueError(f"only {x.size} degrees are >= k_min={k_min}; need {min_tail}")
            continue
        b = k - 0.5
        alpha = _power_law_alpha(x, b)
        # KS on the integer support: empirical CDF just after each distinct value vs the model
        # at the next half-integer (the continuous model's mass for that integer).
        vals, counts = np.unique(x, return_counts=True)
        emp = counts.cumsum() / x.size
        model = _power_law_cdf(vals + 0.5, alpha, b)
        ks = float(np.max(np.abs(emp - model)))
        if best is None or ks < best[0]:
            best = (ks, k, x, alpha)
    if best is None:
        raise ValueError(f"no k_min candidate leaves at least min_tail={min_tail} degrees")
    ks, k, x, alpha = best
    b = k - 0.5
    n = x.size
    mu, sigma, ln_logpdf = _lognormal_fit(x, b)
    ratio = _power_law_logpdf(x, alpha, b) - ln_logpdf
    llr = float(ratio.sum())
    s = float(ratio.std())
    z = llr / (math.sqrt(n) * s) if s > 0 else 0.0
    p = float(special.erfc(abs(z) / math.sqrt(2.0))) if s > 0 else 1.0
    return TailFit(
        k_min=int(k),
        n_tail=int(n),
        tail_share=n / d.size,
        alpha=float(alpha),
        alpha_se=float((alpha - 1.0) / math.sqrt(n)),
        ks=ks,
        lognormal_mu=mu,
        lognormal_sigma=sigma,
        llr=llr,
        llr_normalized=float(z),
        p_value=p,
    )


# ---------------------------------------------------------------------------------------------
# Clustering and its null models
# ---------------------------------------------------------------------------------------------


def clustering(graph) -> dict[str, float]:
    """Average local clustering and global transitivity, from sparse matrix products.

    With ``t_i`` the triangles through node i, ``t_i = (A^2 ∘ A) 1 / 2``, and ``k_i`` its degree:

    - local ``C_i = 2 t_i / (k_i (k_i - 1))``, 0 when ``k_i < 2``; ``avg_clustering`` is its mean
      over all nodes, as in networkx's ``average_clustering`` (Watts and Strogatz 1998);
    - ``transitivity = 3 x triangles / connected triples = sum_i 2 t_i / sum_i k_i (k_i - 1)``
      (networkx's ``transitivity``), which weights hubs by their number of wedges.

    Returns ``avg_clustering``, ``transitivity``, ``n_triangles`` and ``n_wedges``.
    """
    a = adjacency_matrix(graph)
    if a.shape[0] == 0:
        raise ValueError("graph must have at least one node")
    k = np.asarray(a.sum(axis=1)).ravel()
    t = np.asarray((a @ a).multiply(a).sum(axis=1)).ravel() / 2.0
    wedges = k * (k - 1) / 2.0
    local = np.divide(t, wedges, out=np.zeros_like(t), where=wedges > 0)
    total_wedges = wedges.sum()
    return {
        "avg_clustering": float(local.mean()),
        "transitivity": float(t.sum() / total_wedges) if total_wedges > 0 else 0.0,
        "n_triangles": float(t.sum() / 3.0),
        "n_wedges": float(total_wedges),
    }


def expected_clustering(degrees) -> dict[str, float]:
    """Clustering expected in random graphs with the same size and density or degrees.

    - Erdős–Rényi G(n, p) with ``p = <k> / (n - 1)``: every pair is a tie independently, so both
      the local and the global coefficient equal p.
    - Configuration model with the same degree sequence (Newman 2003, "The structure and
      function of complex networks", random graphs with given degrees):
      ``C = (<k^2> - <k>)^2 / (n <k>^3)``; it grows with the degree variance, so hubs alone
      create some clustering.
    """
    d = _degrees(degrees).astype(np.float64)
    n = d.size
    if n < 2 or d.sum() == 0:
        raise ValueError("degrees must describe at least two nodes and one edge")
    k1, k2 = d.mean(), (d**2).mean()
    return {
        "erdos_renyi": float(k1 / (n - 1)),
        "configuration": float((k2 - k1) ** 2 / (n * k1**3)),
    }


def configuration_model_edges(degrees, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random simple graph with (almost) the given degrees: the erased configuration model.

    Each node gets ``k_i`` stubs; a uniform random matching of the stubs gives a multigraph
    (Molloy and Reed 1995), and erasing self-loops and repeated edges makes it simple. Erasure
    removes a few edges, mostly between hubs; compare ``sum(degrees) / 2`` with the number
    returned. Returns ``(u, v)`` with ``u < v``, sorted, unique.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    d = _degrees(degrees)
    if d.sum() % 2:
        raise ValueError(f"degrees must sum to an even number, got {d.sum()}")
    stubs = rng.permutation(np.repeat(np.arange(d.size, dtype=np.int64), d))
    u, v = stubs[0::2], stubs[1::2]
    keep = u != v
    lo, hi = np.minimum(u, v)[keep], np.maximum(u, v)[keep]
    pairs = np.unique(lo * d.size + hi)
    return pairs // d.size, pairs % d.size


# ---------------------------------------------------------------------------------------------
# Homophily and assortativity
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MixingResult:
    """Mixing by a node label (see :func:`mixing`)."""

    edge_homophily: float
    expected_homophily: float
    assortativity: float
    n_edges: int
    n_classes: int
    matrix: pd.DataFrame

    @property
    def lift(self) -> float:
        """``edge_homophily / expected_homophily``: same-label ties as a multiple of chance."""
        return self.edge_homophily / self.expected_homophily


def mixing(graph, labels) -> MixingResult:
    """Edge homophily and Newman's attribute assortativity for a categorical node label.

    Let ``e_ij`` be the fraction of edge ends joining label i to label j (each undirected edge
    counted in both directions, so ``e`` is symmetric) and ``a_i = sum_j e_ij``. Then

    - edge homophily ``h = sum_i e_ii``, the share of edges whose ends share a label;
    - its expectation under random mixing with the same degree totals per label is
      ``sum_i a_i^2`` (ends paired at random in proportion to degree);
    - the assortativity coefficient (Newman 2003, "Mixing patterns in networks", eq. 2) is
      ``r = (sum_i e_ii - sum_i a_i^2) / (1 - sum_i a_i^2)``: 0 for random mixing, 1 for perfect
      sorting. It is networkx's ``attribute_assortativity_coefficient``.

    Edges with an unlabelled end (``None`` or NaN) are left out. ``labels`` has one entry per
    node.
    """
    a = adjacency_matrix(graph)
    lab = pd.Series(np.asarray(labels, dtype=object))
    if len(lab) != a.shape[0]:
        raise ValueError(f"labels must have one entry per node ({a.shape[0]}), got {len(lab)}")
    codes, uniques = pd.factorize(lab, use_na_sentinel=True)
    coo = a.tocoo()
    cu, cv = codes[coo.row], codes[coo.col]
    ok = (cu >= 0) & (cv >= 0)
    if not ok.any():
        raise ValueError("no edge has labels on both ends")
    m = np.zeros((len(uniques), len(uniques)))
    np.add.at(m, (cu[ok], cv[ok]), 1.0)
    e = m / m.sum()
    ai = e.sum(axis=1)
    h = float(np.trace(e))
    h0 = float((ai**2).sum())
    r = (h - h0) / (1.0 - h0) if h0 < 1.0 else float("nan")
    return MixingResult(
        edge_homophily=h,
        expected_homophily=h0,
        assortativity=float(r),
        n_edges=int(ok.sum() // 2),
        n_classes=len(uniques),
        matrix=pd.DataFrame(e, index=list(uniques), columns=list(uniques)),
    )


def neighbour_vote_accuracy(graph, labels) -> dict[str, float]:
    """Accuracy of predicting each node's label by the majority label of its neighbours.

    For every labelled node with at least one labelled neighbour, predict the label held by most
    of its neighbours (ties go to the label more frequent overall, then to the one seen first).
    The baseline an i.i.d. model without features reaches is the overall majority label on the
    same nodes.
    Returns ``accuracy``, ``majority_baseline`` and ``n_nodes`` (nodes scored). Labels ``None``
    or NaN count as missing.
    """
    a = adjacency_matrix(graph)
    lab = pd.Series(np.asarray(labels, dtype=object))
    if len(lab) != a.shape[0]:
        raise ValueError(f"labels must have one entry per node ({a.shape[0]}), got {len(lab)}")
    codes, uniques = pd.factorize(lab, use_na_sentinel=True)
    known = codes >= 0
    if not known.any():
        raise ValueError("labels must have at least one non-missing entry")
    c = len(uniques)
    y = sp.csr_matrix(
        (np.ones(known.sum()), (np.flatnonzero(known), codes[known])), shape=(a.shape[0], c)
    )
    counts = np.asarray((a @ y).todense())
    freq = np.bincount(codes[known], minlength=c).astype(np.float64)
    rank = np.lexsort((-np.arange(c), freq)).argsort()  # by frequency, then first seen
    tie_break = rank / (c + 1.0)  # < 1: only decides exact ties
    scored = known & (counts.sum(axis=1) > 0)
    if not scored.any():
        raise ValueError("no labelled node has a labelled neighbour")
    pred = (counts[scored] + tie_break).argmax(axis=1)
    truth = codes[scored]
    return {
        "accuracy": float((pred == truth).mean()),
        "majority_baseline": float((truth == freq.argmax()).mean()),
        "n_nodes": int(scored.sum()),
    }


# ---------------------------------------------------------------------------------------------
# Reach: components and hop distances
# ---------------------------------------------------------------------------------------------


def components(graph) -> tuple[int, np.ndarray, np.ndarray]:
    """Connected components: ``(n_components, labels per node, sizes sorted descending)``."""
    a = adjacency_matrix(graph)
    n_comp, lab = connected_components(a, directed=False)
    sizes = np.sort(np.bincount(lab))[::-1]
    return int(n_comp), lab, sizes


def pair_distances(graph, pairs, max_dist: int = 4, *, batch_size: int = 256) -> np.ndarray:
    """Hop distance between each pair ``(s, t)``, capped: the triangle-closure test for new ties.

    Breadth-first search from each distinct source, run as ``max_dist`` sparse-dense products per
    batch of sources. Returns int64 distances: the exact distance when it is at most ``max_dist``,
    ``max_dist + 1`` when t is farther but in the same component, and ``-1`` when t is
    unreachable. A future tie at distance 2 closes a triangle (the pair has a common neighbour).
    """
    a = adjacency_matrix(graph)
    n = a.shape[0]
    p = np.asarray(pairs)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"pairs must have shape (m, 2), got {p.shape}")
    if not np.issubdtype(p.dtype, np.integer):
        raise TypeError(f"pairs must hold integer node ids, got dtype {p.dtype}")
    if p.size and (p.min() < 0 or p.max() >= n):
        raise ValueError(f"pairs hold node ids outside [0, {n})")
    if not isinstance(max_dist, int | np.integer) or max_dist < 1:
        raise ValueError(f"max_dist must be a positive int, got {max_dist!r}")
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    out = np.full(len(p), max_dist + 1, dtype=np.int64)
    if len(p) == 0:
        return out
    _, comp, _ = components(a)
    out[comp[p[:, 0]] != comp[p[:, 1]]] = -1
    out[p[:, 0] == p[:, 1]] = 0
    sources, inverse = np.unique(p[:, 0], return_inverse=True)
    at = a.T.tocsr().astype(np.float32)
    for start in range(0, len(sources), batch_size):
        src = sources[start : start + batch_size]
        rows = np.flatnonzero((inverse >= start) & (inverse < start + len(src)))
        rows = rows[out[rows] == max_dist + 1]
        if rows.size == 0:
            continue
        col = inverse[rows] - start  # column of each pair's source in this batch
        tgt = p[rows, 1]
        visited = np.zeros((n, len(src)), dtype=bool)
        visited[src, np.arange(len(src))] = True
        frontier = visited.astype(np.float32)
        found = np.zeros(rows.size, dtype=bool)
        for hop in range(1, max_dist + 1):
            reach = (at @ frontier) > 0
            new = reach & ~visited
            visited |= new
            hit = ~found & new[tgt, col]
            out[rows[hit]] = hop
            found |= hit
            if found.all() or not new.any():
                break
            frontier = new.astype(np.float32)
    return out


def random_tie_split(
    ties: pd.DataFrame, n_nodes: int, n_held_out: int, rng: np.random.Generator
) -> tuple[CSRGraph, np.ndarray]:
    """The leaky split: hold out ``n_held_out`` ties drawn uniformly, whatever their birth year.

    Returns the graph of the remaining ties and the held-out pairs ``[m, 2]`` whose two ends
    both keep a tie (the same filter as the temporal protocol). Held-out ties sit next to ties
    born later than them, and most close a triangle whose other two sides stay observed: this
    is how a random split leaks the future into training.
    """
    for col in ("u", "v"):
        if col not in ties.columns:
            raise ValueError(f"ties must have a column {col!r}; it has {list(ties.columns)}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not isinstance(n_held_out, int | np.integer) or not 0 < n_held_out < len(ties):
        raise ValueError(f"n_held_out must be an int in (0, {len(ties)}), got {n_held_out!r}")
    held = np.zeros(len(ties), dtype=bool)
    held[rng.choice(len(ties), size=int(n_held_out), replace=False)] = True
    u, v = ties["u"].to_numpy(np.int64), ties["v"].to_numpy(np.int64)
    graph = CSRGraph.from_edges(u[~held], v[~held], n_nodes)
    deg = graph.degree()
    pairs = np.stack([u[held], v[held]], axis=1)
    return graph, pairs[(deg[pairs[:, 0]] > 0) & (deg[pairs[:, 1]] > 0)]


# ---------------------------------------------------------------------------------------------
# Growth and memory
# ---------------------------------------------------------------------------------------------


def growth_by_year(ties: pd.DataFrame, born: str = "born") -> pd.DataFrame:
    """Ties born and nodes entering the graph per year.

    ``ties`` has columns ``u``, ``v`` and ``born`` (year). A node enters in the year of its first
    tie. Returns a DataFrame indexed by year with ``new_ties``, ``new_nodes``, ``cum_ties``,
    ``cum_nodes`` and ``new_tie_share_new_nodes`` (share of that year's ties touching a node
    that entered that year: the cold-start share).
    """
    for col in ("u", "v", born):
        if col not in ties.columns:
            raise ValueError(f"ties must have a column {col!r}; it has {list(ties.columns)}")
    if len(ties) == 0:
        raise ValueError("ties must not be empty")
    ends = pd.concat(
        [
            ties[["u", born]].rename(columns={"u": "node"}),
            ties[["v", born]].rename(columns={"v": "node"}),
        ]
    )
    entry = ends.groupby("node")[born].min()
    years = np.arange(int(ties[born].min()), int(ties[born].max()) + 1)
    new_ties = ties[born].value_counts().reindex(years, fill_value=0)
    new_nodes = entry.value_counts().reindex(years, fill_value=0)
    fresh = (ties[born].to_numpy() == entry.loc[ties["u"]].to_numpy()) | (
        ties[born].to_numpy() == entry.loc[ties["v"]].to_numpy()
    )
    fresh_share = pd.Series(fresh, index=ties.index).groupby(ties[born]).mean().reindex(years)
    out = pd.DataFrame(
        {
            "new_ties": new_ties.to_numpy(),
            "new_nodes": new_nodes.to_numpy(),
            "cum_ties": new_ties.cumsum().to_numpy(),
            "cum_nodes": new_nodes.cumsum().to_numpy(),
            "new_tie_share_new_nodes": fresh_share.to_numpy(),
        },
        index=pd.Index(years, name="year"),
    )
    return out


def csr_nbytes(graph) -> int:
    """Bytes of a CSR graph's ``indptr`` and ``indices`` arrays (as stored, both directions)."""
    if sp.issparse(graph):
        g = graph.tocsr()
        return int(g.indptr.nbytes + g.indices.nbytes)
    if not all(hasattr(graph, name) for name in ("indptr", "indices")):
        raise TypeError(f"graph must be CSR-like (indptr, indices), got {type(graph).__name__}")
    return int(np.asarray(graph.indptr).nbytes + np.asarray(graph.indices).nbytes)


def representation_bytes(n_nodes: float, avg_degree: float) -> pd.DataFrame:
    """Memory of an undirected graph's adjacency under common layouts, from n and average degree.

    ``avg_degree`` counts neighbours per node, so ``nnz = n * avg_degree`` directed entries
    (each undirected edge twice) and ``m = nnz / 2`` edges.

    - edge list, int64 pairs, each edge once: ``16 m``; int32 pairs: ``8 m``;
    - CSR, int64 ``indptr`` ((n + 1) x 8) + int64 ``indices`` (8 nnz);
    - CSR, int64 ``indptr`` + int32 ``indices`` (4 nnz), valid while ``n < 2^31``; ``indptr``
      stays int64 once ``nnz >= 2^31``;
    - dense bitmap, one bit per ordered pair: ``n^2 / 8``; dense float32: ``4 n^2``.

    Returns one row per layout with ``bytes`` and ``bytes_per_node``.
    """
    if not (np.isfinite(n_nodes) and n_nodes >= 1):
        raise ValueError(f"n_nodes must be a finite number >= 1, got {n_nodes!r}")
    if not (np.isfinite(avg_degree) and 0 <= avg_degree <= n_nodes - 1):
        raise ValueError(f"avg_degree must lie in [0, n_nodes - 1], got {avg_degree!r}")
    n = float(n_nodes)
    nnz = n * float(avg_degree)
    m = nnz / 2.0
    rows = {
        "edge list (int64 pairs)": 16.0 * m,
        "edge list (int32 pairs)": 8.0 * m,
        "CSR (int64 indptr, int64 indices)": 8.0 * (n + 1) + 8.0 * nnz,
        "CSR (int64 indptr, int32 indices)": 8.0 * (n + 1) + 4.0 * nnz,
        "dense bitmap (1 bit per pair)": n * n / 8.0,
        "dense float32": 4.0 * n * n,
    }
    out = pd.DataFrame({"bytes": pd.Series(rows)})
    out["bytes_per_node"] = out["bytes"] / n
    out.index.name = "layout"
    return out
