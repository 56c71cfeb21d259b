"""PYMK challenges: cold start, hubs, feedback loops, staleness and hidden-tie inference.

Everything here works on a binary symmetric adjacency matrix (SciPy sparse, or anything
:func:`utils.graph.profile.adjacency_matrix` accepts) and is vectorised with sparse products, so
that a whole member base gets its top-K list in well under a second on the 15k-actor graph.

- :func:`fof_score_matrix`: friends-of-friends scores of every 2-hop pair, excluding each
  member and its current connections: common neighbours ``(A A)[u, v]``, Adamic-Adar
  ``sum_w 1 / log d(w)`` (Adamic & Adar 2003) or resource allocation ``sum_w 1 / d(w)``
  (Zhou, Lu & Zhang 2009), optionally multiplied by ``d(v) ** -degree_penalty`` (a penalty on the
  candidate's own degree, the simplest anti-rich-get-richer rule).
- :func:`top_k_lists`: each row's ``k`` best columns of a sparse score matrix, ties broken at
  random (seeded), padded with ``-1``.
- :func:`hub_slot_share`: the share of shown slots that go to the top ``top_share`` of members
  by degree (a concentration measure of what PYMK shows).
- :func:`gini`: the Gini coefficient of a non-negative vector (mean absolute difference over
  twice the mean), the inequality of the degree distribution.
- :func:`simulate_pymk_growth`: a seeded simulator of repeated PYMK rounds on a real graph
  (see its docstring for the acceptance model, which is an assumption, not data).
- :func:`profile_matrix`, :func:`profile_scores`: profile-only candidates for members without
  connections (cold start): cosine of genre/country/language shares, debut-year proximity and
  shared directors/writers ("same company or school").
- :func:`hidden_tie_exposure`: how often a tie hidden by a member is recoverable from PYMK lists
  (the member's own list, and the lists of the member's friends when the hidden tie is still
  used for candidate generation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

SCORES = ("cn", "aa", "ra")


def _adjacency(adj: object, name: str = "adj") -> sp.csr_matrix:
    """``adj`` as a binary symmetric float64 CSR matrix without self-loops."""
    if hasattr(adj, "indptr") and hasattr(adj, "indices") and hasattr(adj, "n_nodes"):
        n = int(adj.n_nodes)
        a = sp.csr_matrix(
            (np.ones(len(adj.indices)), np.asarray(adj.indices), np.asarray(adj.indptr)),
            shape=(n, n),
        )
    elif sp.issparse(adj):
        a = sp.csr_matrix(adj, dtype=np.float64)
    else:
        raise TypeError(f"{name}: expected a SciPy sparse matrix or a CSRGraph, got {type(adj)}")
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty square matrix, got shape {a.shape}")
    a = a.copy()
    a.data = np.ones_like(a.data)
    a.setdiag(0)
    a.eliminate_zeros()
    if (a != a.T).nnz:
        raise ValueError(f"{name}: expected a symmetric (undirected) adjacency matrix")
    return a


def _rng(seed: object) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an int or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected a positive int, got {k!r}")
    return int(k)


def gini(values: object) -> float:
    """Gini coefficient of non-negative values: ``sum_i sum_j |x_i - x_j| / (2 n^2 mean)``,
    computed from the sorted values as ``(2 sum_i i x_(i)) / (n sum x) - (n + 1) / n``.
    0 = all equal; close to 1 = one value holds everything."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("values: expected at least one value")
    if np.isnan(x).any() or (x < 0).any():
        raise ValueError("values: expected non-negative numbers without NaN")
    total = x.sum()
    if total == 0:
        return 0.0
    x = np.sort(x)
    n = x.size
    i = np.arange(1, n + 1)
    return float(2.0 * (i * x).sum() / (n * total) - (n + 1.0) / n)


def fof_score_matrix(
    adj: object, score: str = "aa", *, degree_penalty: float = 0.0, rows: object = None
) -> sp.csr_matrix:
    """Friends-of-friends scores ``S = A W A`` (``W`` diagonal: 1 for common neighbours,
    ``1 / log d(w)`` for Adamic-Adar, ``1 / d(w)`` for resource allocation), with each member and
    its current connections removed, times ``d(v) ** -degree_penalty`` per candidate column.

    ``rows``: optional member ids; only their rows are computed (the result has one row per id).
    Intermediates of degree 1 lie on no 2-hop path between distinct members, so ``log 1 = 0`` is
    never divided by.
    """
    if score not in SCORES:
        raise ValueError(f"score: expected one of {SCORES}, got {score!r}")
    if not np.isfinite(degree_penalty) or degree_penalty < 0:
        raise ValueError(f"degree_penalty: expected a finite value >= 0, got {degree_penalty!r}")
    a = _adjacency(adj)
    n = a.shape[0]
    d = np.asarray(a.sum(axis=1)).ravel()
    w = np.zeros(n)
    if score == "cn":
        w[d > 0] = 1.0
    elif score == "aa":
        w[d > 1] = 1.0 / np.log(d[d > 1])
    else:
        w[d > 0] = 1.0 / d[d > 0]
    if rows is None:
        ids = np.arange(n)
        left = a
    else:
        ids = np.asarray(rows)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError("rows: expected a 1-D array of int member ids")
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise ValueError(f"rows: member ids must lie in [0, {n})")
        left = a[ids]
    s = sp.csr_matrix(left @ sp.diags(w) @ a)
    # drop self and current connections: zero them via a mask of the same rows
    mask = left + sp.csr_matrix(
        (np.ones(len(ids)), (np.arange(len(ids)), ids)), shape=(len(ids), n)
    )
    s = s - s.multiply(mask > 0)
    s = sp.csr_matrix(s)
    if degree_penalty > 0:
        s = sp.csr_matrix(s @ sp.diags(np.maximum(d, 1.0) ** -float(degree_penalty)))
    s.eliminate_zeros()
    return s


def _pair_jitter(row: np.ndarray, col: np.ndarray, n_cols: int, salt: int) -> np.ndarray:
    """A uniform [0, 1) number per (row, col) pair from the splitmix64 finaliser of
    ``row * n_cols + col + salt``: the same pair gets the same number whatever the storage order
    of the matrix, so the tie order does not depend on how a score matrix was built."""
    with np.errstate(over="ignore"):
        z = (row.astype(np.uint64) * np.uint64(n_cols) + col.astype(np.uint64)) + np.uint64(salt)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def top_k_lists(scores: sp.spmatrix, k: int, *, seed: object = 0) -> np.ndarray:
    """Each row's ``k`` highest-scoring columns of a sparse score matrix, best first, as an int64
    array ``[n_rows, k]`` padded with ``-1`` where a row has fewer than ``k`` stored positive
    scores. Equal scores (within ~2e-9 of the largest score) are ordered at random (seeded), so
    that no id order favours anyone."""
    k = _check_k(k)
    if not sp.issparse(scores):
        raise TypeError(f"scores: expected a SciPy sparse matrix, got {type(scores)}")
    s = sp.csr_matrix(scores)
    if s.nnz and np.isnan(s.data).any():
        raise ValueError("scores: contains NaN")
    s.eliminate_zeros()
    n_rows = s.shape[0]
    out = np.full((n_rows, k), -1, dtype=np.int64)
    if s.nnz == 0:
        return out
    row = np.repeat(np.arange(n_rows), np.diff(s.indptr))
    keep = s.data > 0
    row, col, val = row[keep], s.indices[keep], s.data[keep]
    # One float sort key: the row, then the score descending (scaled into [0, 0.5)), then a
    # pseudo-random jitter of < 1e-9 per (row, col) that orders equal scores at random. One
    # argsort of an almost sorted key is ~10x faster than a lexsort; scores closer than ~2e-9
    # of the largest count as equal, and rows up to ~1e5 keep the resolution (float64 spacing
    # at 1e5 is ~1.5e-11).
    top = float(val.max())
    key = row + 0.5 * (1.0 - val / (top * (1.0 + 1e-9)))
    key += _pair_jitter(row, col, s.shape[1], int(_rng(seed).integers(2**62))) * 1e-9
    order = np.argsort(key)
    row, col = row[order], col[order]
    starts = np.searchsorted(row, np.arange(n_rows))
    rank = np.arange(len(row)) - starts[row]
    sel = rank < k
    out[row[sel], rank[sel]] = col[sel]
    return out


def hub_slot_share(lists: np.ndarray, degree: object, top_share: float = 0.01) -> float:
    """Share of the filled slots of ``lists`` ([n_rows, k], ``-1`` = empty) taken by the
    :func:`top_members` (the top ``top_share`` of members with a connection, by ``degree``)."""
    lists = np.asarray(lists)
    deg = np.asarray(degree, dtype=np.float64).ravel()
    if lists.ndim != 2 or not np.issubdtype(lists.dtype, np.integer):
        raise ValueError("lists: expected a 2-D int array of member ids (-1 = empty)")
    if not 0 < top_share < 1:
        raise ValueError(f"top_share: expected a value in (0, 1), got {top_share!r}")
    if lists.size and lists.max() >= len(deg):
        raise ValueError(f"lists: member ids must lie in [0, {len(deg)}) (len(degree))")
    shown = lists[lists >= 0]
    if shown.size == 0:
        raise ValueError("lists: no filled slot")
    hub = np.zeros(len(deg), dtype=bool)
    hub[top_members(deg, top_share)] = True
    return float(hub[shown].mean())


def list_hits(lists: np.ndarray, rows: object, targets: object) -> pd.DataFrame:
    """Per row of ``lists`` (member ``rows[i]``'s list): how many of its ``targets`` pairs
    (``[m, 2]``, both directions counted) appear in the list. Columns ``member``, ``n_targets``,
    ``n_hit``, ``hit`` (any), ``recall`` (share); members without a target are dropped."""
    lists = np.asarray(lists)
    rows = np.asarray(rows)
    t = np.asarray(targets)
    if lists.ndim != 2 or rows.shape != (len(lists),):
        raise ValueError("lists, rows: expected lists [n, k] and one member id per list row")
    if t.ndim != 2 or t.shape[1] != 2 or not np.issubdtype(t.dtype, np.integer):
        raise ValueError("targets: expected an int array of pairs [m, 2]")
    pairs = np.unique(np.concatenate([t, t[:, ::-1]]), axis=0)
    pos = pd.Series(np.arange(len(rows)), index=rows)
    pairs = pairs[np.isin(pairs[:, 0], rows)]
    if not len(pairs):
        raise ValueError("targets: no pair has a member of rows as an endpoint")
    r = pos.loc[pairs[:, 0]].to_numpy()
    hit = (lists[r] == pairs[:, 1][:, None]).any(axis=1)
    df = pd.DataFrame({"member": pairs[:, 0], "hit": hit})
    per = (
        df.groupby("member")["hit"]
        .agg(["size", "sum"])
        .rename(columns={"size": "n_targets", "sum": "n_hit"})
    )
    per["hit"] = per["n_hit"] > 0
    per["recall"] = per["n_hit"] / per["n_targets"]
    return per.reset_index()


@dataclass(frozen=True)
class GrowthRun:
    """One simulated run: per round (round 0 = the real starting graph) the degree ``gini`` over
    the members, ``accepted`` new ties, ``hub_share`` (share of shown slots taken by the starting
    top 1% of members by degree), and the final ``degree`` vector."""

    gini: np.ndarray
    accepted: np.ndarray
    hub_share: np.ndarray
    degree: np.ndarray

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "gini": self.gini,
                "accepted": self.accepted,
                "cumulative accepted": np.cumsum(self.accepted),
                "hub slot share": self.hub_share,
            }
        ).rename_axis("round")


def simulate_pymk_growth(
    adj: object,
    *,
    rounds: int = 6,
    k: int = 10,
    score: str = "cn",
    accept_per_common: float = 0.02,
    accept_base: float = 0.002,
    explore_slots: int = 0,
    degree_penalty: float = 0.0,
    members: object = None,
    seed: object = 0,
) -> GrowthRun:
    """Simulate ``rounds`` of PYMK-driven growth on a real graph. **A simulator**: the acceptance
    model below is an assumption whose parameters are set by hand, not learned from data.

    Each round, every member (``members``; default: every node with a connection at the start)
    is shown ``k`` people: the ``k - explore_slots`` best friends-of-friends by ``score``
    (:func:`fof_score_matrix`, with ``degree_penalty``), and ``explore_slots`` members drawn
    uniformly at random among non-connections (the exploration rule). Each shown pair ``(u, v)``
    is accepted independently with probability

        ``p = accept_base + (1 - accept_base) * (1 - (1 - accept_per_common) ** cn(u, v))``

    (each common connection is one more independent reason to accept: triadic closure, the
    mechanism behind most real new ties), and accepted pairs become ties before the next round.
    Returns a :class:`GrowthRun`.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
        raise ValueError(f"rounds: expected a positive int, got {rounds!r}")
    k = _check_k(k)
    for name, p in (("accept_per_common", accept_per_common), ("accept_base", accept_base)):
        if not 0 <= p <= 1:
            raise ValueError(f"{name}: expected a probability in [0, 1], got {p!r}")
    if isinstance(explore_slots, bool) or not isinstance(explore_slots, (int, np.integer)):
        raise TypeError(f"explore_slots: expected an int, got {explore_slots!r}")
    if not 0 <= explore_slots <= k:
        raise ValueError(f"explore_slots: expected 0..k ({k}), got {explore_slots}")
    rng = _rng(seed)
    a = _adjacency(adj)
    n = a.shape[0]
    d0 = np.asarray(a.sum(axis=1)).ravel()
    if members is None:
        mem = np.flatnonzero(d0 > 0)
    else:
        mem = np.unique(np.asarray(members))
        if mem.ndim != 1 or not np.issubdtype(mem.dtype, np.integer) or mem.size == 0:
            raise ValueError("members: expected a non-empty 1-D array of int ids")
        if mem.min() < 0 or mem.max() >= n:
            raise ValueError(f"members: ids must lie in [0, {n})")
    top = np.zeros(n, dtype=bool)
    in_mem = np.zeros(n)
    in_mem[mem] = 1.0
    top[top_members(d0 * in_mem, 0.01)] = True
    n_fof = k - int(explore_slots)
    ginis, accepted, shares = [gini(d0[mem])], [0], [np.nan]
    for _ in range(int(rounds)):
        cols = []
        if n_fof:
            s = fof_score_matrix(a, score, degree_penalty=degree_penalty, rows=mem)
            cols.append(top_k_lists(s, n_fof, seed=rng))
        if explore_slots:
            cols.append(mem[rng.integers(0, len(mem), size=(len(mem), int(explore_slots)))])
        lists = np.concatenate(cols, axis=1)
        u = np.repeat(mem, k)
        v = lists.ravel()
        ok = (v >= 0) & (v != u)
        u, v = u[ok], v[ok]
        ok = np.asarray(a[u, v]).ravel() == 0  # an exploration draw may already be a tie
        u, v = u[ok], v[ok]
        shares.append(float(top[v].mean()) if len(v) else np.nan)
        cn = np.asarray((a[u].multiply(a[v])).sum(axis=1)).ravel()
        p = accept_base + (1 - accept_base) * (1 - (1 - accept_per_common) ** cn)
        acc = rng.random(len(u)) < p
        lo, hi = np.minimum(u[acc], v[acc]), np.maximum(u[acc], v[acc])
        key = np.unique(lo * n + hi)
        lo, hi = key // n, key % n
        new = sp.csr_matrix((np.ones(2 * len(key)), (np.r_[lo, hi], np.r_[hi, lo])), shape=(n, n))
        a = a + new
        a.data = np.ones_like(a.data)
        accepted.append(len(key))
        d = np.asarray(a.sum(axis=1)).ravel()
        ginis.append(gini(d[mem]))
    return GrowthRun(
        np.asarray(ginis),
        np.asarray(accepted),
        np.asarray(shares),
        np.asarray(a.sum(axis=1)).ravel(),
    )


@dataclass(frozen=True)
class Profiles:
    """Profile rows for a set of actors: ``x`` (genre, country and language shares of their
    films; rows L2-normalised), ``debut`` (first film year, NaN without films), ``people``
    (sparse actor x director/writer incidence) and the vocabularies used."""

    x: np.ndarray
    debut: np.ndarray
    people: sp.csr_matrix
    vocab: dict


def profile_matrix(
    films: pd.DataFrame,
    actors: Sequence[str],
    *,
    until_year: int | None = None,
    debut_year_only: bool = False,
    vocab: dict | None = None,
) -> Profiles:
    """Profiles of ``actors`` from ``films`` released before ``until_year`` (all if None).

    ``debut_year_only``: use only each actor's films of its first year (what a new member
    declares at sign-up, before any connection). ``vocab`` (from another call) fixes the genre,
    country, language and people vocabularies so that two calls are comparable; without it the
    vocabularies come from the films used (first-listed country and language, as
    :func:`utils.data.actor_features` does). Rows of ``x`` are L2-normalised shares of the
    actor's films per genre, country and language, so ``x_u . x_v`` is their cosine.
    """
    need = {"year", "cast", "genres", "countries", "languages", "directors", "writers"}
    if not isinstance(films, pd.DataFrame) or need - set(films.columns):
        raise ValueError(f"films: expected the film table with columns {sorted(need)}")
    actors = np.asarray(actors, dtype=object)
    if actors.ndim != 1 or len(actors) == 0:
        raise ValueError("actors: expected a non-empty 1-D sequence of names")
    if until_year is not None and (
        isinstance(until_year, bool) or not isinstance(until_year, (int, np.integer))
    ):
        raise TypeError(f"until_year: expected an int year or None, got {until_year!r}")
    f = films if until_year is None else films[films["year"] < until_year]
    f = f.reset_index(drop=True)
    index = pd.Index(actors)
    ex = f[["year", "cast"]].reset_index().explode("cast").dropna(subset=["cast"])
    ex["actor"] = index.get_indexer(ex["cast"])
    ex = ex[ex["actor"] >= 0]
    first = ex.groupby("actor")["year"].min()
    debut = np.full(len(actors), np.nan)
    debut[first.index.to_numpy()] = first.to_numpy()
    if debut_year_only:
        ex = ex[ex["year"].to_numpy() == debut[ex["actor"].to_numpy()]]
    fid, aid = ex["index"].to_numpy(), ex["actor"].to_numpy()
    if vocab is None:
        vocab = {
            "genre": sorted({g for gs in f["genres"] for g in gs}),
            "country": sorted({c[0] for c in f["countries"] if c}),
            "language": sorted({c[0] for c in f["languages"] if c}),
            "people": sorted({p for c in ("directors", "writers") for ps in f[c] for p in ps}),
        }
    blocks = []
    for key, col, first_only in (
        ("genre", "genres", False),
        ("country", "countries", True),
        ("language", "languages", True),
    ):
        ix = {v: j for j, v in enumerate(vocab[key])}
        per_film = [
            [ix[t] for t in (vals[:1] if first_only else vals) if t in ix] for vals in f[col]
        ]
        r, c = [], []
        for a_, fi in zip(aid, fid, strict=True):
            for j in per_film[fi]:
                r.append(a_)
                c.append(j)
        m = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(actors), len(vocab[key])))
        blocks.append(m.toarray())
    x = np.hstack(blocks)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    pix = {p: j for j, p in enumerate(vocab["people"])}
    per_film = [
        sorted({pix[p] for p in (*ds, *ws) if p in pix})
        for ds, ws in zip(f["directors"], f["writers"], strict=True)
    ]
    r, c = [], []
    for a_, fi in zip(aid, fid, strict=True):
        for j in per_film[fi]:
            r.append(a_)
            c.append(j)
    people = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(actors), len(vocab["people"])))
    people.data = np.ones_like(people.data)
    return Profiles(x.astype(np.float64), debut, people, vocab)


def profile_scores(
    query: Profiles,
    pool: Profiles,
    *,
    year_weight: float = 0.5,
    year_scale: float = 5.0,
    people_weight: float = 1.0,
) -> np.ndarray:
    """Profile-only scores ``[n_query, n_pool]``: ``cos(x_u, x_v) + year_weight *
    exp(-|debut_u - debut_v| / year_scale) + people_weight * log(1 + shared directors/writers)``.
    A member without films (NaN debut) gets no year term. Scores are rounded to 1e-9 so that
    equal profiles tie exactly on any CPU. Nothing here uses connections, so it scores members
    who have none (cold start)."""
    if not isinstance(query, Profiles) or not isinstance(pool, Profiles):
        raise TypeError("query, pool: expected Profiles from profile_matrix")
    if query.x.shape[1] != pool.x.shape[1] or query.people.shape[1] != pool.people.shape[1]:
        raise ValueError("query, pool: built with different vocabularies (pass vocab=)")
    for name, v in (("year_weight", year_weight), ("people_weight", people_weight)):
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"{name}: expected a finite value >= 0, got {v!r}")
    if not year_scale > 0:
        raise ValueError(f"year_scale: expected > 0, got {year_scale!r}")
    s = query.x @ pool.x.T
    if year_weight:
        gap = np.abs(query.debut[:, None] - pool.debut[None, :])
        s = s + year_weight * np.nan_to_num(np.exp(-gap / year_scale), nan=0.0)
    if people_weight:
        shared = (query.people @ pool.people.T).toarray()
        s = s + people_weight * np.log1p(shared)
    # round off the last bits that BLAS kernels may order differently on another CPU, so that
    # members with identical profiles stay exactly tied everywhere (the evaluator averages ties)
    return np.round(s, 9)


def hidden_tie_exposure(
    adj: object, hidden: object, *, k: int = 10, score: str = "aa", seed: object = 0
) -> dict[str, float]:
    """How visible ties hidden by their members remain in PYMK lists (all ``hidden`` ties
    ``[m, 2]`` are hidden at once; with ``m`` a small share of the ties the interactions between
    them are negligible).

    - ``own_list``: the share of hidden ties ``(u, v)`` whose ``v`` appears in ``u``'s top-``k``
      (either direction, counted per direction) once the tie is removed from the graph PYMK uses:
      anyone shown ``u``'s list, or able to compute it from public connections, infers the tie.
    - ``friends_list_used`` / ``friends_list_removed``: the share of hidden ties for which ``v``
      appears in the top-``k`` of at least one of ``u``'s other connections (either direction),
      when PYMK keeps using the hidden tie / drops it. The difference is what using a hidden tie
      for candidate generation leaks to the member's friends.
    """
    k = _check_k(k)
    a = _adjacency(adj)
    n = a.shape[0]
    h = np.asarray(hidden)
    if h.ndim != 2 or h.shape[1] != 2 or len(h) == 0 or not np.issubdtype(h.dtype, np.integer):
        raise ValueError("hidden: expected a non-empty int array of pairs [m, 2]")
    if h.min() < 0 or h.max() >= n or (h[:, 0] == h[:, 1]).any():
        raise ValueError(f"hidden: ids must lie in [0, {n}) and pairs must join distinct members")
    if (np.asarray(a[h[:, 0], h[:, 1]]).ravel() == 0).any():
        raise ValueError("hidden: every hidden pair must be a tie of adj")
    rng = _rng(seed)
    m = sp.csr_matrix(
        (np.ones(2 * len(h)), (np.r_[h[:, 0], h[:, 1]], np.r_[h[:, 1], h[:, 0]])), shape=(n, n)
    )
    removed = a - m
    removed.eliminate_zeros()
    lists_removed = top_k_lists(fof_score_matrix(removed, score), k, seed=rng)
    lists_used = top_k_lists(fof_score_matrix(a, score), k, seed=rng)
    u = np.r_[h[:, 0], h[:, 1]]
    v = np.r_[h[:, 1], h[:, 0]]
    own = (lists_removed[u] == v[:, None]).any(axis=1)

    def friends_see(lists: np.ndarray) -> np.ndarray:
        seen = np.zeros(len(u), dtype=bool)
        for i, (s, t) in enumerate(zip(u, v, strict=True)):
            fr = removed.indices[removed.indptr[s] : removed.indptr[s + 1]]
            seen[i] = bool((lists[fr] == t).any())
        return seen

    used = friends_see(lists_used)
    dropped = friends_see(lists_removed)
    half = len(h)
    return {
        "own_list": float(own.mean()),
        "friends_list_used": float((used[:half] | used[half:]).mean()),
        "friends_list_removed": float((dropped[:half] | dropped[half:]).mean()),
        "n_hidden": len(h),
    }


def top_members(degree: object, top_share: float = 0.01) -> np.ndarray:
    """Ids of the ``ceil(top_share * n_members)`` members (degree > 0) of highest degree
    (ties by id), the "hubs" of :func:`hub_two_hop_reach`."""
    deg = np.asarray(degree, dtype=np.float64).ravel()
    if not 0 < top_share < 1:
        raise ValueError(f"top_share: expected a value in (0, 1), got {top_share!r}")
    mem = np.flatnonzero(deg > 0)
    if mem.size == 0:
        raise ValueError("degree: no member has a connection")
    n_top = int(np.ceil(top_share * len(mem)))
    return np.sort(mem[np.argsort(-deg[mem], kind="stable")[:n_top]])


def hub_two_hop_reach(adj: object, top_share: float = 0.01) -> dict[str, float]:
    """What the top ``top_share`` of members by degree (the hubs) do to friends-of-friends.

    ``pairs``: distinct 2-hop pairs (ordered, non-connected); ``pairs_without_hubs``: those left
    when no path may pass through a hub; ``share_only_via_hubs``: the share of 2-hop pairs that
    exist only because of a hub; ``hub_work_share``: the hubs' share of the expansion work
    ``sum_w d(w)^2`` (every member expanding its 2-hop neighbourhood reads hub ``w``'s list once
    per neighbour of ``w``: ``d(w)`` times ``d(w)`` entries); ``min_hub_degree``."""
    a = _adjacency(adj)
    d = np.asarray(a.sum(axis=1)).ravel()
    hubs = top_members(d, top_share)
    keep = np.ones(len(d))
    keep[hubs] = 0.0
    every = fof_score_matrix(a, "cn")
    a_no = sp.csr_matrix(a @ sp.diags(keep))  # paths may not step through a hub
    no_hub = sp.csr_matrix(a_no @ a)
    mask = a + sp.eye(a.shape[0], format="csr")
    no_hub = no_hub - no_hub.multiply(mask > 0)
    no_hub.eliminate_zeros()
    return {
        "pairs": int(every.nnz),
        "pairs_without_hubs": int(no_hub.nnz),
        "share_only_via_hubs": float(1.0 - no_hub.nnz / max(every.nnz, 1)),
        "hub_work_share": float((d[hubs] ** 2).sum() / (d**2).sum()),
        "min_hub_degree": float(d[hubs].min()),
        "n_hubs": len(hubs),
    }


def stale_top_k(
    old_adj: object,
    now_adj: object,
    rows: object,
    *,
    k: int = 10,
    score: str = "aa",
    seed: object = 0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Lists computed on an old snapshot ``old_adj`` and served now.

    Returns ``(raw, filtered, already)``: ``raw``, each member's top-``k`` from the old graph as
    it was precomputed; ``filtered``, the same old scores with the member's *current*
    connections (``now_adj``) removed at serve time before taking the top ``k``; ``already``, the
    share of filled raw slots that show someone the member is connected to by now (wasted slots
    if nothing filters them). Both graphs must have the same members (matrix size)."""
    old = _adjacency(old_adj, "old_adj")
    now = _adjacency(now_adj, "now_adj")
    if old.shape != now.shape:
        raise ValueError(f"old_adj, now_adj: shapes differ ({old.shape} vs {now.shape})")
    tie_seed = int(_rng(seed).integers(2**32))  # one tie order for both lists
    s = fof_score_matrix(old, score, rows=rows)
    ids = np.asarray(rows)
    raw = top_k_lists(s, k, seed=tie_seed)
    filled = raw >= 0
    owner = np.repeat(ids, k).reshape(raw.shape)
    already = np.asarray(now[owner[filled], raw[filled]]).ravel()
    current = now[ids]
    f = sp.csr_matrix(s - s.multiply(current > 0))
    filtered = top_k_lists(f, k, seed=tie_seed)
    return raw, filtered, float(already.mean()) if already.size else 0.0
