"""Training pairs for a "people you may know" ranker: positives, three kinds of negatives, and a
seeded impression simulator conditioned on the real graph.

A PYMK ranker learns :math:`P(\\text{connect} \\mid \\text{shown})` from (source, candidate)
pairs. Its positives are the ties a source formed in a label window; what it learns depends
mostly on where its negatives come from:

- :func:`random_negatives`: members drawn uniformly among the source's non-connections. Almost
  none of them shares a connection with the source, so "has mutual connections" alone separates
  them from the positives: an easy task that teaches little about ranking friends of friends.
- :func:`hard_negatives`: friends of friends (two hops away) that did not connect in the window.
  They share connections with the source by construction, so the model must learn which shared
  neighbourhood matters. If positives also include pairs with no mutual connection, this pool
  teaches the reverse shortcut ("no mutual connections: positive").
- :func:`candidate_negatives`: pairs drawn from the candidate generator's own output, the
  distribution the ranker scores when serving (hard, and matched to serving).
- **impressed-not-accepted** (:func:`simulate_impressions`): the candidates a logging policy
  showed that the source did not accept. They exist only for pairs the policy chose to show, at
  the positions it chose, so they carry the policy's selection and position bias.

The collaboration graph has no impressions, so :func:`simulate_impressions` makes them up in a
documented way, with the ground truth exposed. For each source a policy's shown list (its top
``k``, e.g. Adamic-Adar over friends of friends: :func:`shown_lists`) is examined with the
position-based model of click logs (Craswell et al. 2008; used for unbiased learning to rank by
Joachims et al. 2017):

.. math::

    P(\\text{examined at position } i) = (1 + i)^{-\\eta}, \\qquad i = 0, 1, \\ldots, k - 1,

    P(\\text{accept} \\mid \\text{examined}) = \\begin{cases} p_\\text{tie} & \\text{if the pair
    forms a tie in the label window (ground truth)},\\\\ p_\\text{noise} & \\text{otherwise},
    \\end{cases}

and a pair is accepted when it is both examined and accepted, each an independent Bernoulli draw
from one seeded generator. ``eta`` sets the position bias (0: none), ``p_noise`` the rate of
accepts with no real tie behind them. A real tie that the policy did not show is never observed:
the log's blind spot.

:func:`positive_pairs` lists the label window's ties as (source, partner) pairs and
:func:`labelled_pairs` stacks positives and negatives into one training set.
:class:`CandidateScores` scores every candidate of a set of sources with any pair model, so one
candidate feature matrix serves several models, and can compute the features on a different
graph than the one candidates come from (the graph-feature leakage experiment).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils.graph.csr import CSRGraph, check_node_ids
from utils.pymk.candidates import ORIGIN_FOF, Candidates, candidate_score_fn

__all__ = [
    "CandidateScores",
    "ImpressionLog",
    "candidate_negatives",
    "hard_negatives",
    "labelled_pairs",
    "positive_pairs",
    "random_negatives",
    "shown_lists",
    "simulate_impressions",
]


def _check_graph(graph: object) -> CSRGraph:
    if not isinstance(graph, CSRGraph):
        raise TypeError(f"graph: expected a CSRGraph, got {type(graph).__name__}")
    return graph


def _check_pairs(name: str, pairs: object, n_nodes: int) -> np.ndarray:
    p = np.asarray(pairs)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"{name}: expected an int array of shape [m, 2], got shape {p.shape}")
    if len(p) and not np.issubdtype(p.dtype, np.integer):
        raise TypeError(f"{name}: expected integer node ids, got dtype {p.dtype}")
    p = p.astype(np.int64)
    if len(p) and (p.min() < 0 or p.max() >= n_nodes):
        raise ValueError(f"{name}: node ids must lie in [0, {n_nodes})")
    return p


def _check_count(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def _check_prob(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name}: expected a probability (float), got {type(value).__name__}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {value}")
    return float(value)


def _pair_keys(pairs: np.ndarray, n: int) -> np.ndarray:
    return pairs[:, 0] * n + pairs[:, 1]


def positive_pairs(targets: object, n_nodes: int, sources: object = None) -> np.ndarray:
    """The label window's ties as directed (source, partner) pairs, both directions of each tie,
    unique and sorted; with ``sources``, only pairs whose source is one of them."""
    n = _check_count("n_nodes", n_nodes)
    t = _check_pairs("targets", targets, n)
    if len(t) == 0:
        raise ValueError("targets: expected at least one tie")
    p = np.unique(np.concatenate([t, t[:, ::-1]]), axis=0)
    if sources is not None:
        s = check_node_ids("sources", sources, n)
        p = p[np.isin(p[:, 0], s)]
    return p


def _sources_and_exclusions(graph: CSRGraph, sources: object, exclude: object) -> tuple:
    s = np.unique(check_node_ids("sources", sources, graph.n_nodes))
    if len(s) == 0:
        raise ValueError("sources: expected at least one source node")
    n = graph.n_nodes
    ex = np.empty(0, np.int64)
    if exclude is not None:
        e = _check_pairs("exclude", exclude, n)
        ex = np.unique(np.concatenate([_pair_keys(e, n), _pair_keys(e[:, ::-1], n)]))
    return s, ex


def random_negatives(
    graph: CSRGraph, sources: object, n_per_source: int, *, exclude: object = None, seed: int = 0
) -> np.ndarray:
    """``n_per_source`` members per source drawn uniformly without replacement from everyone who
    is not the source, not already connected to it in ``graph``, and not in ``exclude`` (pairs,
    either direction: pass the label window's ties so that no positive becomes a negative).
    Returns pairs [m, 2] sorted by source; fewer than ``n_per_source`` only when the pool is
    smaller. Seeded: the same arguments give the same pairs."""
    g = _check_graph(graph)
    k = _check_count("n_per_source", n_per_source)
    s, ex = _sources_and_exclusions(g, sources, exclude)
    rng = np.random.default_rng(seed)
    n = g.n_nodes
    out = []
    for u in s:
        banned = np.concatenate([[u], g.indices[g.indptr[u] : g.indptr[u + 1]]])
        lo, hi = np.searchsorted(ex, [u * n, (u + 1) * n])
        banned = np.unique(np.concatenate([banned, ex[lo:hi] - u * n]))
        pool = n - len(banned)
        take = min(k, pool)
        if take <= 0:
            continue
        # draw among the allowed ids by rank: the j-th allowed id is j + #banned ids <= it
        ranks = np.sort(rng.choice(pool, size=take, replace=False))
        picked = ranks.copy()
        for b in banned:  # banned is sorted: shift every rank at or past each banned id
            picked[picked >= b] += 1
        out.append(np.stack([np.full(take, u), picked], axis=1))
    return np.concatenate(out) if out else np.empty((0, 2), np.int64)


def hard_negatives(
    graph: CSRGraph, sources: object, n_per_source: int, *, exclude: object = None, seed: int = 0
) -> np.ndarray:
    """``n_per_source`` friends of friends per source (members two hops away in ``graph``, not
    connected to it, not itself, not in ``exclude``), drawn uniformly without replacement; all of
    them when there are fewer. Returns pairs [m, 2] sorted by source. Seeded."""
    g = _check_graph(graph)
    k = _check_count("n_per_source", n_per_source)
    s, ex = _sources_and_exclusions(g, sources, exclude)
    rng = np.random.default_rng(seed)
    n = g.n_nodes
    adj = g.to_scipy().astype(np.float32).tocsr()
    out = []
    for lo in range(0, len(s), 512):
        batch = s[lo : lo + 512]
        two = (adj[batch] @ adj).tocsr()
        for i, u in enumerate(batch):
            cand = two.indices[two.indptr[i] : two.indptr[i + 1]]
            nbrs = g.indices[g.indptr[u] : g.indptr[u + 1]]
            cand = np.setdiff1d(cand, np.concatenate([[u], nbrs]))
            if len(ex):
                cand = cand[~np.isin(u * n + cand, ex)]
            if len(cand) > k:
                cand = np.sort(rng.choice(cand, size=k, replace=False))
            out.append(np.stack([np.full(len(cand), u), cand], axis=1))
    out = [o for o in out if len(o)]
    return np.concatenate(out).astype(np.int64) if out else np.empty((0, 2), np.int64)


def candidate_negatives(
    graph: CSRGraph,
    sources: object,
    n_per_source: int,
    context=None,
    *,
    exclude: object = None,
    seed: int = 0,
    **candidate_params,
) -> np.ndarray:
    """``n_per_source`` negatives per source drawn uniformly from what the ranker will be asked
    to score: the output of :func:`utils.graph.linkpred.candidate_pairs` on ``graph`` (2-hop by
    Adamic-Adar, truncated Katz, past co-stars; ``candidate_params`` as there), minus the pairs
    in ``exclude``. Negatives that match the serving distribution, as
    :class:`utils.graph.linkpred.StructuralRanker` samples them. Returns pairs [m, 2]. Seeded."""
    from utils.graph.linkpred import candidate_pairs

    g = _check_graph(graph)
    k = _check_count("n_per_source", n_per_source)
    s, ex = _sources_and_exclusions(g, sources, exclude)
    src, cand, _ = candidate_pairs(g, s, context, feature_groups=("structure",), **candidate_params)
    keep = ~np.isin(src * g.n_nodes + cand, ex)
    src, cand = src[keep], cand[keep]
    rng = np.random.default_rng(seed)
    lo, hi = np.searchsorted(src, s), np.searchsorted(src, s, side="right")
    out = []
    for a, b in zip(lo, hi, strict=True):
        if b > a:
            idx = a + np.sort(rng.choice(b - a, size=min(k, b - a), replace=False))
            out.append(np.stack([src[idx], cand[idx]], axis=1))
    return np.concatenate(out).astype(np.int64) if out else np.empty((0, 2), np.int64)


def labelled_pairs(
    positives: object, negatives: object, *, on_conflict: str = "raise"
) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``positives`` (label 1) and ``negatives`` (label 0) into ``(pairs, labels)``
    sorted by source then candidate. A pair listed as both raises ``ValueError`` unless
    ``on_conflict="positive"``, which keeps it as a positive only (a shown-and-ignored pair
    that connected anyway in the label window is a positive, not a negative)."""
    if on_conflict not in ("raise", "positive"):
        raise ValueError(f"on_conflict: expected 'raise' or 'positive', got {on_conflict!r}")
    p = np.asarray(positives)
    q = np.asarray(negatives)
    n = int(max(p.max(initial=0), q.max(initial=0))) + 1
    p, q = _check_pairs("positives", p, n), _check_pairs("negatives", q, n)
    if len(p) == 0 or len(q) == 0:
        raise ValueError("positives, negatives: expected at least one pair of each")
    clash = np.isin(_pair_keys(q, n), _pair_keys(p, n))
    if clash.any() and on_conflict == "raise":
        raise ValueError("negatives: some pairs are also positives (see on_conflict)")
    q = q[~clash]
    if len(q) == 0:
        raise ValueError("negatives: every negative is also a positive")
    pairs = np.concatenate([p, q])
    labels = np.concatenate([np.ones(len(p), np.int8), np.zeros(len(q), np.int8)])
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order], labels[order]


def shown_lists(
    score_fn: Callable[[np.ndarray], np.ndarray],
    graph: CSRGraph,
    sources: object,
    k: int = 10,
    *,
    batch_size: int = 512,
) -> np.ndarray:
    """What a logging policy shows: each source's top ``k`` members by ``score_fn`` among those
    with a positive score, excluding itself and its connections in ``graph`` (for a path-count
    heuristic such as Adamic-Adar, exactly its friends of friends). Returns int64
    [len(sources), k] in the order of ``sources``, best first, ties broken by smaller id,
    padded with -1 where fewer than ``k`` members score above zero."""
    g = _check_graph(graph)
    k = _check_count("k", k)
    s = check_node_ids("sources", sources, g.n_nodes)
    if len(s) == 0:
        raise ValueError("sources: expected at least one source node")
    out = np.full((len(s), k), -1, dtype=np.int64)
    for lo in range(0, len(s), batch_size):
        b = s[lo : lo + batch_size]
        sc = np.asarray(score_fn(b), dtype=np.float64)
        if sc.shape != (len(b), g.n_nodes):
            raise ValueError(f"score_fn: expected shape {(len(b), g.n_nodes)}, got {sc.shape}")
        if np.isnan(sc).any():
            raise ValueError("score_fn: returned NaN scores")
        for i, u in enumerate(b):
            row = sc[i].copy()
            row[u] = -np.inf
            row[g.indices[g.indptr[u] : g.indptr[u + 1]]] = -np.inf
            ok = np.flatnonzero(row > 0)
            order = ok[np.lexsort((ok, -row[ok]))][:k]
            out[lo + i, : len(order)] = order
    return out


@dataclass(frozen=True)
class ImpressionLog:
    """One row per impression (a shown (source, candidate) pair), with the simulator's ground
    truth: ``position`` (0 = top), ``relevant`` (the pair forms a tie in the label window),
    ``p_examine`` and ``p_accept`` (the true probabilities), ``examined`` and ``accepted``
    (the draws; only ``accepted`` would be logged by a real system, and only for shown pairs)."""

    src: np.ndarray
    cand: np.ndarray
    position: np.ndarray
    relevant: np.ndarray
    p_examine: np.ndarray
    p_accept: np.ndarray
    examined: np.ndarray
    accepted: np.ndarray

    def __len__(self) -> int:
        return len(self.src)

    def to_frame(self) -> pd.DataFrame:
        """The log as a DataFrame, one row per impression."""
        return pd.DataFrame({f: getattr(self, f) for f in self.__dataclass_fields__})

    def pairs(self, accepted: bool | None = None) -> np.ndarray:
        """Shown pairs [m, 2]; ``accepted=True`` / ``False`` keeps accepted / not accepted."""
        keep = np.ones(len(self), bool) if accepted is None else self.accepted == bool(accepted)
        return np.stack([self.src[keep], self.cand[keep]], axis=1)

    def by_position(self) -> pd.DataFrame:
        """Per position: impressions, observed accept rate, share relevant (ground truth) and
        the accept rate among relevant pairs (what position bias does to a true tie)."""
        f = self.to_frame()
        g = f.groupby("position")
        out = pd.DataFrame(
            {
                "impressions": g.size(),
                "accept_rate": g["accepted"].mean(),
                "share_relevant": g["relevant"].mean(),
                "p_examine": g["p_examine"].first(),
            }
        )
        rel = f[f["relevant"]].groupby("position")["accepted"].mean()
        out["accept_rate_if_relevant"] = rel.reindex(out.index)
        return out


def simulate_impressions(
    shown: object,
    sources: object,
    targets: object,
    *,
    eta: float = 1.0,
    p_tie: float = 0.7,
    p_noise: float = 0.03,
    seed: int = 0,
) -> ImpressionLog:
    """Simulate accept / ignore for shown lists (see the module docstring for the model).

    ``shown``: int [n_sources, k] candidate ids per source, best first, -1 = empty slot (from
    :func:`shown_lists`); ``sources``: the [n_sources] source ids in the same order;
    ``targets``: ties [m, 2] formed in the label window (either direction), the ground truth.
    ``eta`` >= 0 is the position-bias exponent, ``p_tie`` the acceptance probability of an
    examined true tie and ``p_noise`` that of an examined pair with no tie behind it.
    """
    sh = np.asarray(shown)
    if sh.ndim != 2 or sh.shape[1] < 1:
        raise ValueError(f"shown: expected an int array [n_sources, k], got shape {sh.shape}")
    if sh.size and not np.issubdtype(sh.dtype, np.integer):
        raise TypeError(f"shown: expected integer node ids, got dtype {sh.dtype}")
    src = np.asarray(sources)
    if src.ndim != 1 or len(src) != len(sh):
        raise ValueError(f"sources: expected shape ({len(sh)},) to match shown, got {src.shape}")
    if isinstance(eta, bool) or not isinstance(eta, (int, float, np.floating, np.integer)):
        raise TypeError(f"eta: expected a float, got {type(eta).__name__}")
    if not (np.isfinite(eta) and eta >= 0):
        raise ValueError(f"eta: expected a finite float >= 0, got {eta}")
    p_tie, p_noise = _check_prob("p_tie", p_tie), _check_prob("p_noise", p_noise)
    sh = sh.astype(np.int64)
    n = int(max(sh.max(initial=0), src.max(initial=0), np.asarray(targets).max(initial=0))) + 1
    src = check_node_ids("sources", src, n)
    if (sh < -1).any():
        raise ValueError("shown: ids must be node ids or -1 for an empty slot")
    t = _check_pairs("targets", targets, n)
    keys = np.unique(np.concatenate([_pair_keys(t, n), _pair_keys(t[:, ::-1], n)]))
    rows, pos = np.nonzero(sh >= 0)
    u, v = src[rows], sh[rows, pos]
    relevant = np.isin(u * n + v, keys)
    p_exam = (1.0 + pos) ** (-float(eta))
    p_acc = np.where(relevant, p_tie, p_noise)
    rng = np.random.default_rng(seed)
    examined = rng.random(len(u)) < p_exam
    accepted = examined & (rng.random(len(u)) < p_acc)
    return ImpressionLog(u, v, pos.astype(np.int64), relevant, p_exam, p_acc, examined, accepted)


class CandidateScores:
    """Every candidate of ``sources`` with its pair features, computed once, scored by any model.

    Candidates and features come from :func:`utils.graph.linkpred.candidate_pairs` on ``graph``
    (2-hop, Katz and past co-stars: the graph part's candidate generator). With
    ``feature_graph`` the features are recomputed by
    :func:`utils.graph.linkpred.pair_feature_matrix` on that graph instead, for the same
    candidates: pass a graph that includes later ties to measure graph-feature leakage.
    :meth:`score_fn` turns a model's ``predict(features) -> scores`` into the evaluator's
    ``score_fn(sources) -> [len(sources), n_nodes]``: candidates get the model's score mapped to
    (0, 1) by a logistic; every other member ranks below them, by degree (as
    :class:`utils.graph.linkpred.StructuralRanker` does).
    """

    def __init__(
        self,
        graph: CSRGraph,
        sources: object,
        context=None,
        *,
        feature_groups: Sequence[str] = ("structure",),
        feature_graph: CSRGraph | None = None,
        **candidate_params,
    ) -> None:
        from utils.graph.linkpred import candidate_pairs, pair_feature_matrix

        self.graph = _check_graph(graph)
        self.sources = np.unique(check_node_ids("sources", sources, graph.n_nodes))
        if len(self.sources) == 0:
            raise ValueError("sources: expected at least one source node")
        self.src, self.cand, self.features = candidate_pairs(
            graph, self.sources, context, feature_groups=feature_groups, **candidate_params
        )
        if feature_graph is not None:
            fg = _check_graph(feature_graph)
            if fg.n_nodes != graph.n_nodes:
                raise ValueError(f"feature_graph: expected {graph.n_nodes} nodes, got {fg.n_nodes}")
            pairs = np.stack([self.src, self.cand], axis=1)
            self.features = pair_feature_matrix(fg, pairs, context, feature_groups=feature_groups)
        self._row = {int(u): i for i, u in enumerate(self.sources)}

    def __len__(self) -> int:
        return len(self.src)

    def recall(self, targets: object) -> float:
        """Share of (source, partner) target pairs of these sources that are candidates."""
        n = self.graph.n_nodes
        p = positive_pairs(targets, n, self.sources)
        return float(np.isin(_pair_keys(p, n), self.src * n + self.cand).mean())

    def score_fn(
        self, predict: Callable[[np.ndarray], np.ndarray]
    ) -> Callable[[np.ndarray], np.ndarray]:
        """The evaluator's score function for a model's ``predict(features)``; scores only the
        sources given at construction (another source raises ``ValueError``)."""
        if not callable(predict):
            raise TypeError(f"predict: expected a callable, got {type(predict).__name__}")
        raw = np.asarray(predict(self.features), dtype=np.float64).ravel()
        if raw.shape != (len(self.src),):
            raise ValueError(f"predict: expected {len(self.src)} scores, got {raw.shape}")
        n_pairs = len(self.src)
        cands = Candidates(
            self.src,
            self.cand,
            raw,
            np.full(n_pairs, np.nan),
            np.full(n_pairs, np.nan),
            np.full(n_pairs, ORIGIN_FOF, dtype=np.int8),
            self.sources,
            np.zeros(len(self.sources), dtype=np.int64),
        )
        rows = candidate_score_fn(self.graph, cands, raw)

        def score(sources: np.ndarray) -> np.ndarray:
            s = check_node_ids("sources", sources, self.graph.n_nodes)
            missing = [int(u) for u in s if int(u) not in self._row]
            if missing:
                raise ValueError(f"sources: {missing[:5]} were not given to CandidateScores")
            return rows(s)

        return score
