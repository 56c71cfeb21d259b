"""A learned link predictor built the way production "people you may know" systems are.

Two stages, as in production friend recommenders (candidates, then a ranker over pair features):

1. **Candidate generation.** A third of new ties close a triangle and most of the rest were
   co-stars once already, so each source's candidates are
   the union of (a) its 2-hop neighbours, the ``n_two_hop`` best by Adamic-Adar, (b) the
   ``n_katz`` non-neighbours with the highest truncated Katz index (paths of length 2 and 3,
   so 3-hop nodes can enter), and (c) up to
   ``n_costar`` actors it has already shared exactly one film with (the next shared film is what
   makes a tie, so these pairs are one step from the label). Everything else is ranked below the
   candidates by degree (a popularity backfill), so the score is defined for every node.
2. **A learned scorer over pair features.** For each (source, candidate) pair: common neighbours
   :math:`|N(u) \\cap N(v)|`, Adamic-Adar :math:`\\sum_{w} 1/\\log d_w` {cite}`adamic2003friends`,
   resource allocation :math:`\\sum_w 1/d_w` {cite}`zhou2009ra`, Jaccard, the number of paths of
   length 3 (the next term of Katz's index {cite}`katz1953`), both degrees; the co-star history
   (films shared so far, years since the last one); each actor's
   activity (films so far, films and new ties in the last ``recent_years`` years, years since
   the last film, career length); and profile similarity (cosine of the
   :func:`utils.data.actor_features` rows, same top genre / country / language, debut-year
   gap). A LightGBM classifier (binary log-loss, the validation-chosen default) or ranker
   (lambdarank, grouped by source) learns to order them.

Training is honest in time. For a phase whose features stop at year ``Y`` (the test phase:
``Y = 2010``), the model is trained on the **previous window**: features from the graph of ties
born before ``Y - window`` and from films released before ``Y - window``, labels = ties born in
``[Y - window, Y)``. For the test phase that window is exactly the validation phase
(features before 2008, labels 2008-2009); for the validation phase it is 2006-2007 from before
2006, so hyperparameters are chosen on validation metrics without touching 2010+.

Public API: :class:`PairContext`, :class:`LinkHistory`, :func:`candidate_pairs`,
:func:`pair_feature_matrix`, :class:`StructuralRanker`, :func:`fit_structural`,
:func:`candidate_recall`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .csr import check_node_ids

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "structure": ("cn", "aa", "ra", "jaccard", "paths3", "deg_u", "deg_v"),
    "costar": ("costar_films", "years_since_costar"),
    "activity": (
        "films_u",
        "films_v",
        "recent_films_u",
        "recent_films_v",
        "recent_ties_u",
        "recent_ties_v",
        "idle_years_u",
        "idle_years_v",
        "career_u",
        "career_v",
    ),
    "profile": ("x_cosine", "same_genre", "same_country", "same_language", "debut_gap"),
}
"""Pair features by group; ``feature_groups`` selects groups (the lab's ablation)."""

_NODE_COLUMNS = ("films", "recent_films", "recent_ties", "idle_years", "career", "debut")
_NO_HISTORY = 99.0  # "years since" when there is no such event yet


# --------------------------------------------------------------------------------------------
# Side information known before a cut-off year
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairContext:
    """What is known about nodes and pairs before ``year``, in the graph's node index space.

    ``node``: float array [n, 6] with columns films, recent_films, recent_ties, idle_years,
    career, debut (see ``_NODE_COLUMNS``); ``x``: optional [n, d] features whose row cosine is a
    pair feature; ``cats``: optional int array [n, 3] of top genre / country / language codes
    (-1 = unknown); ``costar``: optional symmetric CSR [n, n] of films shared before ``year`` and
    ``costar_last`` with the same pattern holding the year of the last one.
    """

    year: int
    node: np.ndarray | None = None
    x: np.ndarray | None = None
    cats: np.ndarray | None = None
    costar: sp.csr_matrix | None = None
    costar_last: sp.csr_matrix | None = None

    def check(self, n_nodes: int) -> None:
        """Raise ``ValueError`` if any array does not have ``n_nodes`` rows."""
        for name in ("node", "x", "cats", "costar", "costar_last"):
            arr = getattr(self, name)
            if arr is not None and arr.shape[0] != n_nodes:
                raise ValueError(
                    f"context.{name}: expected {n_nodes} rows (the graph's nodes), "
                    f"got shape {arr.shape}"
                )
        if (self.costar is None) != (self.costar_last is None):
            raise ValueError("context: costar and costar_last must be given together")


def _symmetric_csr(u: np.ndarray, v: np.ndarray, data: np.ndarray, n: int) -> sp.csr_matrix:
    m = sp.coo_matrix(
        (np.concatenate([data, data]), (np.concatenate([u, v]), np.concatenate([v, u]))),
        shape=(n, n),
    ).tocsr()
    m.sort_indices()
    return m


def _first_codes(column: pd.Series) -> np.ndarray:
    """Codes of each row's first listed value in name order (-1 for an empty tuple), so that
    ties in a count break alphabetically, as :func:`utils.data.actor_profiles` does."""
    first = column.map(lambda c: c[0] if c else None)
    codes, _ = pd.factorize(first, sort=True, use_na_sentinel=True)
    return codes.astype(np.int64)


@dataclass
class LinkHistory:
    """The film data behind the repeat-collaboration graph, able to build a
    :class:`PairContext` and a training phase for any cut-off year without looking past it.

    ``costar``: DataFrame (u, v, year), one row per pair per shared film, in the collaboration
    graph's actor index space (pairs of actors who both have a tie at some point);
    ``appearances``: DataFrame (actor, film, year, genre, country, language), one row per actor
    per film per genre (country and language: the film's first listed, -1 if none), as codes.
    """

    films: pd.DataFrame
    actors: np.ndarray
    ties: pd.DataFrame
    costar: pd.DataFrame
    appearances: pd.DataFrame
    recent_years: int = 3
    _contexts: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_films(
        cls, films: pd.DataFrame | None = None, collab=None, *, recent_years: int = 3
    ) -> LinkHistory:
        """Build from :func:`utils.data.load_films` (loaded when ``films`` is None) and its
        :func:`utils.data.collaboration_graph` (built when ``collab`` is None)."""
        from utils.data import collaboration_graph, costar_edges, load_films

        if isinstance(recent_years, bool) or not isinstance(recent_years, (int, np.integer)):
            raise TypeError(f"recent_years: expected an int, got {recent_years!r}")
        if recent_years < 1:
            raise ValueError(f"recent_years: expected >= 1, got {recent_years}")
        films = load_films() if films is None else films
        collab = collaboration_graph(films) if collab is None else collab
        co = costar_edges(films)
        pos = np.searchsorted(co.actors, collab.actors)
        if not np.array_equal(co.actors[np.minimum(pos, len(co.actors) - 1)], collab.actors):
            raise ValueError("collab: its actors are not a subset of the films' cast")
        remap = np.full(len(co.actors), -1, dtype=np.int64)
        remap[pos] = np.arange(len(collab.actors))
        u, v = remap[co.edges["u"].to_numpy()], remap[co.edges["v"].to_numpy()]
        keep = (u >= 0) & (v >= 0)
        costar = pd.DataFrame(
            {"u": u[keep], "v": v[keep], "year": co.edges["year"].to_numpy()[keep]}
        )
        index = pd.Index(collab.actors)
        per_film = pd.DataFrame(
            {
                "film": np.arange(len(films), dtype=np.int64),
                "cast": films["cast"].to_numpy(),
                "year": films["year"].to_numpy(),
                "genre": films["genres"].to_numpy(),
                "country": _first_codes(films["countries"]),
                "language": _first_codes(films["languages"]),
            }
        )
        app = per_film.explode("cast").dropna(subset=["cast"])
        app["actor"] = index.get_indexer(app["cast"])
        app = app[app["actor"] >= 0].explode("genre")
        genre_codes = pd.Categorical(app["genre"].fillna(""))
        appearances = pd.DataFrame(
            {
                "actor": app["actor"].to_numpy(np.int64),
                "film": app["film"].to_numpy(np.int64),
                "year": app["year"].to_numpy(np.int64),
                "genre": np.where(app["genre"].isna(), -1, genre_codes.codes).astype(np.int64),
                "country": app["country"].to_numpy(np.int64),
                "language": app["language"].to_numpy(np.int64),
            }
        )
        return cls(films, collab.actors, collab.ties, costar, appearances, int(recent_years))

    @property
    def n_nodes(self) -> int:
        return len(self.actors)

    def _top_code(self, past: pd.DataFrame, column: str) -> np.ndarray:
        """Each actor's most frequent code in ``column`` (-1 without any)."""
        d = past[past[column] >= 0]
        out = np.full(self.n_nodes, -1, dtype=np.int64)
        if len(d) == 0:
            return out
        width = int(d[column].max()) + 1
        keys, counts = np.unique(
            d["actor"].to_numpy() * width + d[column].to_numpy(), return_counts=True
        )
        actor, code = keys // width, keys % width
        order = np.lexsort((code, -counts, actor))  # per actor: most frequent, then smallest code
        first = np.ones(len(order), dtype=bool)
        first[1:] = actor[order][1:] != actor[order][:-1]
        out[actor[order][first]] = code[order][first]
        return out

    def context(self, year: int, x: np.ndarray | None = None) -> PairContext:
        """Node activity, profile codes, co-star history and (if ``x`` is None)
        :func:`utils.data.actor_features`, all from films released before ``year``."""
        from utils.data import actor_features

        if isinstance(year, bool) or not isinstance(year, (int, np.integer)):
            raise TypeError(f"year: expected an int, got {year!r}")
        year = int(year)
        if year not in self._contexts:
            n = self.n_nodes
            app = self.appearances[self.appearances["year"] < year]
            films_once = app.drop_duplicates(["actor", "film"])
            a = films_once["actor"].to_numpy()
            yrs = films_once["year"].to_numpy()
            n_films = np.bincount(a, minlength=n).astype(float)
            recent = yrs >= year - self.recent_years
            recent_films = np.bincount(a[recent], minlength=n).astype(float)
            first = np.full(n, np.inf)
            last = np.full(n, -np.inf)
            np.minimum.at(first, a, yrs)
            np.maximum.at(last, a, yrs)
            has = n_films > 0
            born = self.ties["born"].to_numpy()
            r = (born >= year - self.recent_years) & (born < year)
            ends = np.concatenate([self.ties["u"].to_numpy()[r], self.ties["v"].to_numpy()[r]])
            recent_ties = np.bincount(ends, minlength=n).astype(float)
            node = np.stack(
                [
                    n_films,
                    recent_films,
                    recent_ties,
                    np.where(has, year - last, _NO_HISTORY),
                    np.where(has, last - first, 0.0),
                    np.where(has, first, np.nan),
                ],
                axis=1,
            )
            cats = np.stack(
                [self._top_code(app, c) for c in ("genre", "country", "language")], axis=1
            )
            past = self.costar[self.costar["year"] < year]
            key = past["u"].to_numpy() * n + past["v"].to_numpy()
            uniq, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
            last_pair = np.zeros(len(uniq))
            np.maximum.at(last_pair, inv, past["year"].to_numpy().astype(float))
            cu, cv = uniq // n, uniq % n
            costar = _symmetric_csr(cu, cv, counts.astype(np.float64), n)
            last_m = _symmetric_csr(cu, cv, last_pair, n)
            feats, _ = actor_features(self.films, self.actors, until_year=year)
            self._contexts[year] = PairContext(year, node, feats, cats, costar, last_m)
        ctx = self._contexts[year]
        if x is not None:
            x = _check_x(x, self.n_nodes)
            ctx = PairContext(ctx.year, ctx.node, x, ctx.cats, ctx.costar, ctx.costar_last)
        return ctx

    def phase_before(self, year: int, window: int = 2):
        """The training phase for a phase whose features stop at ``year``: observe ties born
        before ``year - window``, predict those born in ``[year - window, year)`` between actors
        already in the observed graph (the protocol of :func:`utils.graph.splits`)."""
        from utils.graph.splits import temporal_link_split

        if not isinstance(window, (int, np.integer)) or window < 1:
            raise ValueError(f"window: expected an int >= 1 year, got {window!r}")
        start = int(year) - int(window)
        past = self.ties[self.ties["born"] < int(year)]
        split = temporal_link_split(past, self.n_nodes, test_from=start, val_from=start - 1)
        return split.phase("test")


@functools.lru_cache(maxsize=1)
def default_history() -> LinkHistory:
    """The film data's :class:`LinkHistory` (built once per process, about 5 s)."""
    return LinkHistory.from_films()


def _check_x(x: object, n_nodes: int) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != n_nodes:
        raise ValueError(f"x: expected shape [{n_nodes}, d], got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("x: contains NaN or inf")
    return arr


# --------------------------------------------------------------------------------------------
# Candidates and pair features
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _GraphOps:
    """Precomputed sparse operators of one observed graph."""

    adj: sp.csr_matrix
    deg: np.ndarray
    w_aa: sp.csr_matrix  # diag(1 / log d) A
    w_ra: sp.csr_matrix  # diag(1 / d) A

    @classmethod
    def of(cls, graph) -> _GraphOps:
        if not all(hasattr(graph, a) for a in ("to_scipy", "n_nodes")):
            raise TypeError(f"graph: expected a CSRGraph, got {type(graph).__name__}")
        adj = graph.to_scipy().astype(np.float64).tocsr()
        deg = np.asarray(adj.sum(axis=1)).ravel()
        inv_log = np.where(deg > 1, 1.0 / np.log(np.maximum(deg, 2)), 0.0)
        inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1), 0.0)
        return cls(adj, deg, sp.diags(inv_log) @ adj, sp.diags(inv) @ adj)

    def rows(self, sources: np.ndarray) -> dict[str, np.ndarray]:
        """Dense [len(sources), n] rows of the path-count scores of ``sources``:
        ``cn`` (:math:`A^2`), ``aa``, ``ra`` and ``p3`` (:math:`A^3`)."""
        a_s = self.adj[sources]
        a2 = a_s @ self.adj
        return {
            "cn": a2.toarray(),
            "aa": (a_s @ self.w_aa).toarray(),
            "ra": (a_s @ self.w_ra).toarray(),
            "p3": (a2 @ self.adj).toarray(),
        }


def _validate_sources(sources: object, n_nodes: int) -> np.ndarray:
    return check_node_ids("sources", sources, n_nodes)


def _top(values: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` ids with the largest values (ties at the cut broken by smaller id)."""
    if len(ids) <= k:
        return ids
    kth = np.partition(values, len(values) - k)[len(values) - k]
    above = ids[values > kth]
    at = ids[values == kth]  # ids arrive sorted, so the smallest ids come first
    return np.concatenate([above, at[: k - len(above)]])


def _katz(rows: dict[str, np.ndarray], beta: float) -> np.ndarray:
    """Truncated Katz index of non-neighbours, :math:`\\beta^2 (A^2 + \\beta A^3)` up to the
    constant factor (the :math:`\\beta A` term is zero off the neighbours)."""
    return rows["cn"] + beta * rows["p3"]


@dataclass(frozen=True)
class _Batch:
    src_pos: np.ndarray  # index into the batch's sources
    cand: np.ndarray  # candidate node ids
    features: np.ndarray  # [pairs, n_features]


def _batch(
    ops: _GraphOps,
    sources: np.ndarray,
    ctx: PairContext | None,
    *,
    n_two_hop: int,
    n_katz: int,
    n_costar: int,
    katz_beta: float,
    groups: Sequence[str],
) -> _Batch:
    n = ops.adj.shape[0]
    rows = ops.rows(sources)
    katz = _katz(rows, katz_beta)
    cn, aa = rows["cn"], rows["aa"]
    src_pos, cands = [], []
    blocked = np.zeros(n, dtype=bool)
    for i, s in enumerate(sources):
        nb = ops.adj.indices[ops.adj.indptr[s] : ops.adj.indptr[s + 1]]
        blocked[nb] = True
        blocked[s] = True
        parts = []
        if n_two_hop > 0:
            two = np.flatnonzero(cn[i] > 0)
            two = two[~blocked[two]]
            parts.append(_top(aa[i, two], two, n_two_hop))
        if n_katz > 0:
            reach = np.flatnonzero(katz[i] > 0)
            reach = reach[~blocked[reach]]
            parts.append(_top(katz[i, reach], reach, n_katz))
        if n_costar > 0 and ctx is not None and ctx.costar_last is not None:
            lo, hi = ctx.costar_last.indptr[s], ctx.costar_last.indptr[s + 1]
            partners = ctx.costar_last.indices[lo:hi]
            ok = ~blocked[partners]
            parts.append(_top(ctx.costar_last.data[lo:hi][ok], partners[ok], n_costar))
        blocked[nb] = False
        blocked[s] = False
        c = np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)
        cands.append(c.astype(np.int64))
        src_pos.append(np.full(len(c), i, dtype=np.int64))
    src_pos = np.concatenate(src_pos) if src_pos else np.empty(0, np.int64)
    cand = np.concatenate(cands) if cands else np.empty(0, np.int64)
    feats = _features(ops, sources, src_pos, cand, ctx, rows, groups)
    return _Batch(src_pos, cand, feats)


def _features(ops, sources, src_pos, cand, ctx, rows, groups) -> np.ndarray:
    u = sources[src_pos]
    cols: list[np.ndarray] = []
    if "structure" in groups:
        c = rows["cn"][src_pos, cand]
        du, dv = ops.deg[u], ops.deg[cand]
        cols += [
            c,
            rows["aa"][src_pos, cand],
            rows["ra"][src_pos, cand],
            c / np.maximum(du + dv - c, 1),
            rows["p3"][src_pos, cand],
            du,
            dv,
        ]
    if "costar" in groups:
        if ctx is None or ctx.costar is None:
            raise ValueError("feature_groups: 'costar' needs a context with costar history")
        films = np.asarray(ctx.costar[u, cand]).ravel() if len(u) else np.empty(0)
        last = np.asarray(ctx.costar_last[u, cand]).ravel() if len(u) else np.empty(0)
        cols += [films, np.where(last > 0, ctx.year - last, _NO_HISTORY)]
    if "activity" in groups:
        if ctx is None or ctx.node is None:
            raise ValueError("feature_groups: 'activity' needs a context with node activity")
        for j in range(5):  # films, recent_films, recent_ties, idle_years, career
            cols += [ctx.node[u, j], ctx.node[cand, j]]
    if "profile" in groups:
        if ctx is None or ctx.x is None or ctx.cats is None or ctx.node is None:
            raise ValueError("feature_groups: 'profile' needs a context with x, cats and node")
        xu, xv = ctx.x[u].astype(np.float64), ctx.x[cand].astype(np.float64)
        norm = np.linalg.norm(xu, axis=1) * np.linalg.norm(xv, axis=1)
        cos = np.where(norm > 0, (xu * xv).sum(axis=1) / np.maximum(norm, 1e-12), 0.0)
        cols.append(cos)
        for j in range(3):
            cu, cv = ctx.cats[u, j], ctx.cats[cand, j]
            cols.append(((cu == cv) & (cu >= 0)).astype(float))
        deb_u, deb_v = ctx.node[u, 5], ctx.node[cand, 5]
        cols.append(np.where(np.isnan(deb_u) | np.isnan(deb_v), np.nan, np.abs(deb_u - deb_v)))
    if not cols:
        return np.empty((len(cand), 0), dtype=np.float32)
    return np.stack(cols, axis=1).astype(np.float32)


def _check_groups(feature_groups: Sequence[str]) -> tuple[str, ...]:
    if isinstance(feature_groups, str):
        feature_groups = (feature_groups,)
    groups = tuple(feature_groups)
    unknown = set(groups) - set(FEATURE_GROUPS)
    if unknown or not groups:
        raise ValueError(
            f"feature_groups: expected a non-empty subset of {sorted(FEATURE_GROUPS)}, "
            f"got {groups!r}"
        )
    return tuple(g for g in FEATURE_GROUPS if g in groups)  # canonical order


def feature_names(feature_groups: Sequence[str] = tuple(FEATURE_GROUPS)) -> list[str]:
    """Column names of :func:`candidate_pairs` features for ``feature_groups``."""
    return [f for g in _check_groups(feature_groups) for f in FEATURE_GROUPS[g]]


_CAND_DEFAULTS = {"n_two_hop": 200, "n_katz": 50, "n_costar": 100, "katz_beta": 0.05}


def candidate_pairs(
    graph,
    sources: object,
    context: PairContext | None = None,
    *,
    feature_groups: Sequence[str] = ("structure",),
    batch_size: int = 256,
    **candidate_params,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates and their pair features for each source.

    Returns ``(src, cand, features)``: node ids of each pair and the float32 feature matrix whose
    columns are :func:`feature_names` ``(feature_groups)``. Candidate parameters: ``n_two_hop``
    (default 200), ``n_katz`` (50), ``n_costar`` (100; needs a context with co-star history),
    ``katz_beta`` (0.05). Pairs come sorted by source, then candidate.
    """
    params = _candidate_params(candidate_params)
    groups = _check_groups(feature_groups)
    ops = _GraphOps.of(graph)
    s_all = np.unique(_validate_sources(sources, graph.n_nodes))
    if context is not None:
        context.check(graph.n_nodes)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
    out_s, out_c, out_f = [], [], []
    for lo in range(0, len(s_all), batch_size):
        s = s_all[lo : lo + batch_size]
        b = _batch(ops, s, context, groups=groups, **params)
        out_s.append(s[b.src_pos])
        out_c.append(b.cand)
        out_f.append(b.features)
    if not out_s:
        width = len(feature_names(groups))
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, width), np.float32)
    return np.concatenate(out_s), np.concatenate(out_c), np.concatenate(out_f)


def pair_feature_matrix(
    graph,
    pairs: object,
    context: PairContext | None = None,
    *,
    feature_groups: Sequence[str] = ("structure",),
) -> np.ndarray:
    """Features of given (u, v) pairs, array [m, 2], as seen from ``u``: the columns of
    :func:`feature_names` ``(feature_groups)``, as :func:`candidate_pairs` computes them."""
    p = np.asarray(pairs)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"pairs: expected shape [m, 2], got {p.shape}")
    groups = _check_groups(feature_groups)
    ops = _GraphOps.of(graph)
    u = _validate_sources(p[:, 0], graph.n_nodes)
    v = _validate_sources(p[:, 1], graph.n_nodes)
    if context is not None:
        context.check(graph.n_nodes)
    srcs, pos = np.unique(u, return_inverse=True)
    out = np.empty((len(p), len(feature_names(groups))), dtype=np.float32)
    for lo in range(0, len(srcs), 256):
        s = srcs[lo : lo + 256]
        sel = np.flatnonzero((pos >= lo) & (pos < lo + 256))
        out[sel] = _features(ops, s, pos[sel] - lo, v[sel], context, ops.rows(s), groups)
    return out


def _candidate_params(params: dict) -> dict:
    unknown = set(params) - set(_CAND_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown candidate parameter(s) {sorted(unknown)}")
    out = {**_CAND_DEFAULTS, **params}
    for k in ("n_two_hop", "n_katz", "n_costar"):
        if isinstance(out[k], bool) or not isinstance(out[k], (int, np.integer)) or out[k] < 0:
            raise ValueError(f"{k}: expected an int >= 0, got {out[k]!r}")
    if not 0 < out["katz_beta"] < 1:
        raise ValueError(f"katz_beta: expected a damping factor in (0, 1), got {out['katz_beta']}")
    if out["n_two_hop"] + out["n_katz"] + out["n_costar"] == 0:
        raise ValueError("n_two_hop, n_katz, n_costar: at least one must be positive")
    return out


def _target_keys(targets: np.ndarray, n_nodes: int) -> np.ndarray:
    t = np.asarray(targets)
    if t.ndim != 2 or t.shape[1] != 2 or len(t) == 0:
        raise ValueError(f"targets: expected a non-empty int array [m, 2], got shape {t.shape}")
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"targets: expected integer node ids, got dtype {t.dtype}")
    t = t.astype(np.int64)
    if t.min() < 0 or t.max() >= n_nodes:
        raise ValueError(f"targets: node ids must lie in [0, {n_nodes})")
    return np.unique(np.concatenate([t[:, 0] * n_nodes + t[:, 1], t[:, 1] * n_nodes + t[:, 0]]))


def candidate_recall(graph, targets: object, context: PairContext | None = None, **params) -> float:
    """Share of (source, target) pairs, both directions of each target tie, that the candidate
    generator returns: the ceiling on the scorer's recall."""
    keys = _target_keys(targets, graph.n_nodes)
    sources = np.unique(keys // graph.n_nodes)
    s, c, _ = candidate_pairs(graph, sources, context, **params)
    return float(np.isin(keys, s * graph.n_nodes + c).mean())


# --------------------------------------------------------------------------------------------
# The learned scorer
# --------------------------------------------------------------------------------------------
# Chosen on the validation phase (trained on 2006-2007 ties from the pre-2006 graph, scored on
# 2008-2009): binary log-loss and lambdarank tie (Hits@20 0.550 vs 0.546 at 100 trees), 300 trees
# are no better than 100 (0.544), and binary trains about 2x faster.
_MODEL_DEFAULTS = {
    "objective": "binary",
    "n_estimators": 100,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 50,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "neg_per_source": 50,
    "num_threads": 1,
}

# Candidate features do not depend on the seed: memoise them so that several seeds (or several
# model settings) on one phase pay for candidate generation once. Keyed by the identity of the
# graph and context objects, so a new graph never reuses stale features.
_FEATURE_CACHE: dict[tuple, object] = {}
_FEATURE_CACHE_MAX = 64


def _cached(key: tuple, make: Callable[[], object]) -> object:
    if key not in _FEATURE_CACHE:
        if len(_FEATURE_CACHE) >= _FEATURE_CACHE_MAX:
            _FEATURE_CACHE.pop(next(iter(_FEATURE_CACHE)))
        _FEATURE_CACHE[key] = make()
    return _FEATURE_CACHE[key]


def clear_feature_cache() -> None:
    """Drop memoised candidate features (they are also evicted oldest-first)."""
    _FEATURE_CACHE.clear()


class StructuralRanker:
    """Candidate generation + a LightGBM scorer over pair features (see the module docstring).

    ``fit(graph, targets, context)`` learns from one phase (features of ``graph`` and
    ``context``, labels ``targets``); ``score_fn(graph, context)`` scores another phase.
    Per source the positives are its target partners among its candidates and the negatives a
    seeded sample of ``neg_per_source`` other candidates.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        feature_groups: Sequence[str] = tuple(FEATURE_GROUPS),
        candidate_params: dict | None = None,
        **model_params,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
        unknown = set(model_params) - set(_MODEL_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown model parameter(s) {sorted(unknown)}")
        self.seed = int(seed)
        self.groups = _check_groups(feature_groups)
        self.candidate_params = _candidate_params(candidate_params or {})
        self.params = {**_MODEL_DEFAULTS, **model_params}
        if self.params["objective"] not in ("lambdarank", "binary"):
            raise ValueError(
                f"objective: expected 'lambdarank' or 'binary', got {self.params['objective']!r}"
            )
        self.model = None
        self.fit_stats: dict[str, float] = {}

    def fit(self, graph, targets: object, context: PairContext | None = None) -> StructuralRanker:
        import lightgbm as lgb

        n = graph.n_nodes
        keys = _target_keys(targets, n)
        sources = np.unique(keys // n)
        key = (
            "fit",
            id(graph),
            id(context),
            self.groups,
            tuple(sorted(self.candidate_params.items())),
            sources.tobytes(),
        )
        s, c, f = _cached(
            key,
            lambda: candidate_pairs(
                graph, sources, context, feature_groups=self.groups, **self.candidate_params
            ),
        )
        y = np.isin(s * n + c, keys)
        rng = np.random.default_rng(self.seed)
        keep = y.copy()
        order = np.argsort(s, kind="stable")
        bounds = np.searchsorted(s[order], sources)
        ends = np.append(bounds[1:], len(s))
        for lo, hi in zip(bounds, ends, strict=True):
            idx = order[lo:hi]
            neg = idx[~y[idx]]
            if not y[idx].any():
                continue  # no positive candidate: nothing to rank
            take = min(self.params["neg_per_source"], len(neg))
            keep[rng.choice(neg, size=take, replace=False)] = True
        sel = np.flatnonzero(keep)  # sorted by (source, candidate): groups are contiguous
        if y[sel].sum() == 0:
            raise ValueError("targets: no target tie is among the candidates; nothing to learn")
        self.fit_stats = {
            "candidates": float(len(s)),
            "candidate_recall": float(np.isin(keys, s * n + c).mean()),
            "train_rows": float(len(sel)),
            "positives": float(y[sel].sum()),
        }
        p = self.params
        common = {
            "n_estimators": p["n_estimators"],
            "learning_rate": p["learning_rate"],
            "num_leaves": p["num_leaves"],
            "min_child_samples": p["min_child_samples"],
            "subsample": p["subsample"],
            "subsample_freq": 1 if p["subsample"] < 1 else 0,
            "colsample_bytree": p["colsample_bytree"],
            "random_state": self.seed,
            "n_jobs": p["num_threads"],
            "deterministic": True,
            "force_col_wise": True,
            "verbose": -1,
        }
        names = feature_names(self.groups)
        frame = pd.DataFrame(f[sel], columns=names)
        if p["objective"] == "lambdarank":
            _, counts = np.unique(s[sel], return_counts=True)
            self.model = lgb.LGBMRanker(objective="lambdarank", **common)
            self.model.fit(frame, y[sel].astype(int), group=counts)
        else:
            self.model = lgb.LGBMClassifier(objective="binary", **common)
            self.model.fit(frame, y[sel].astype(int))
        return self

    def predict_pairs(self, features: np.ndarray) -> np.ndarray:
        """Raw model scores of feature rows (higher = more likely to become a tie)."""
        if self.model is None:
            raise RuntimeError("StructuralRanker: call fit() before scoring")
        frame = pd.DataFrame(features, columns=feature_names(self.groups))
        if self.params["objective"] == "binary":
            return self.model.predict(frame, raw_score=True)
        return self.model.predict(frame)

    def score_fn(
        self, graph, context: PairContext | None = None
    ) -> Callable[[np.ndarray], np.ndarray]:
        """``score_fn(sources) -> [len(sources), n_nodes]``: candidates get
        :math:`\\sigma(\\text{model score}) \\in (0, 1)`; every other node gets
        :math:`-1 + d_v / (1 + \\max d) \\in [-1, 0)`, so it ranks below all candidates and by
        degree among themselves (a popularity backfill)."""
        if self.model is None:
            raise RuntimeError("StructuralRanker: call fit() before score_fn()")
        if context is not None:
            context.check(graph.n_nodes)
        ops = _GraphOps.of(graph)
        n = graph.n_nodes
        backfill = -1.0 + ops.deg / (float(ops.deg.max()) + 1.0)

        def score(sources: np.ndarray) -> np.ndarray:
            s = _validate_sources(sources, n)
            key = (
                "score",
                id(graph),
                id(context),
                self.groups,
                tuple(sorted(self.candidate_params.items())),
                s.tobytes(),
            )
            b = _cached(
                key, lambda: _batch(ops, s, context, groups=self.groups, **self.candidate_params)
            )
            out = np.tile(backfill, (len(s), 1))
            if len(b.cand):
                raw = self.predict_pairs(b.features)
                out[b.src_pos, b.cand] = 1.0 / (1.0 + np.exp(-raw))
            return out

        return score


def fit_structural(
    phase,
    x: np.ndarray | None = None,
    seed: int = 0,
    *,
    history: LinkHistory | None = None,
    window: int = 2,
    feature_groups: Sequence[str] = tuple(FEATURE_GROUPS),
    candidate_params: dict | None = None,
    **model_params,
) -> Callable[[np.ndarray], np.ndarray]:
    """Train the two-stage link predictor for ``phase`` and return its ``score_fn``.

    The model is fitted on the previous window, ``history.phase_before(phase.feature_year,
    window)`` (observed graph before ``feature_year - window``, labels = ties born in the
    ``window`` years up to ``feature_year``), with side information from films before
    ``feature_year - window``; it then scores ``phase.graph`` with side information from films
    before ``phase.feature_year``. ``x`` (optional, [n_nodes, d]) replaces the actor features of
    the scored phase; it must be computed before ``phase.feature_year``. ``history`` defaults
    to the film data (:func:`default_history`). The score function carries ``fit_stats``.
    """
    for attr in ("graph", "targets", "feature_year"):
        if not hasattr(phase, attr):
            raise TypeError(f"phase: expected a Phase with .{attr}, got {type(phase).__name__}")
    history = default_history() if history is None else history
    if phase.graph.n_nodes != history.n_nodes:
        raise ValueError(
            f"phase: graph has {phase.graph.n_nodes} nodes, history has {history.n_nodes}"
        )
    if x is not None:
        x = _check_x(x, phase.graph.n_nodes)
    t0 = time.perf_counter()
    year = int(phase.feature_year)
    train = history.phase_before(year, window)
    ranker = StructuralRanker(
        seed, feature_groups=feature_groups, candidate_params=candidate_params, **model_params
    )
    ranker.fit(train.graph, train.targets, history.context(year - window))
    fn = ranker.score_fn(phase.graph, history.context(year, x))
    fn.fit_stats = {**ranker.fit_stats, "fit_seconds": time.perf_counter() - t0}  # type: ignore[attr-defined]
    fn.ranker = ranker  # type: ignore[attr-defined]
    return fn
