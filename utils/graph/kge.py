"""Knowledge-graph embeddings: TransE and RotatE, negative sampling, filtered ranking.

A triple (h, r, t) is scored by a distance d_r(h, t); lower is more plausible.

- TransE (Bordes et al. 2013): entities and relations in R^k, ``d_r(h, t) = ||h + r - t||_p``
  (p = 1 or 2). A relation is a translation.
- RotatE (Sun et al. 2019): entities in C^k, each relation a rotation ``r_i = exp(i theta_i)``
  (|r_i| = 1), ``d_r(h, t) = ||h o r - t||`` with ``o`` the element-wise product; the norm sums
  the moduli of the k complex coordinates, as the authors' code does.

Both are trained with the loss of Sun et al. (2019, eq. 5), for a margin gamma:

    L = -log sigma(gamma - d_r(h, t)) - sum_i w_i log sigma(d_r(h'_i, t'_i) - gamma)

over n negatives (h'_i, r, t'_i) made by replacing the head or the tail by a random entity.
Uniform sampling sets w_i = 1/n. Self-adversarial sampling (their eq. 4) weights each negative
by how plausible the current model finds it, w_i = softmax_i(alpha * -d_r(h'_i, t'_i)), treated
as a constant (no gradient through the weights), so easy negatives stop diluting the gradient.

Evaluation (Bordes et al. 2013, "filtered" setting): for a test triple, score every entity as
the missing tail (and head), drop the candidates that form a *known true* triple (in train,
validation or test) other than the test answer itself, and rank the answer among the rest.
Without the filter, a model is penalised for ranking another correct answer first: with a 1-to-N
relation (a film has several genres) the raw rank is at least the number of other true tails
scored above it. Ties are ranked at the mean of their optimistic and pessimistic positions, so a
constant scorer gets the middle rank rather than rank 1.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "KGEModel",
    "RotatE",
    "TransE",
    "filtered_ranks",
    "kge_loss",
    "ranking_metrics",
    "relation_cardinality",
    "split_triples",
    "train_kge",
]


def _check_triples(
    triples: object, name: str, n_entities: int | None = None, n_relations: int | None = None
) -> np.ndarray:
    t = np.asarray(triples)
    if t.dtype == object or not np.issubdtype(t.dtype, np.integer):
        raise TypeError(
            f"{name} must be an int array of (head, relation, tail) rows, got dtype {t.dtype}"
        )
    if t.ndim != 2 or t.shape[1] != 3:
        raise ValueError(f"{name} must have shape [n, 3], got {t.shape}")
    if t.shape[0] == 0:
        raise ValueError(f"{name} must not be empty")
    if t.min() < 0:
        raise ValueError(f"{name} holds negative ids")
    if n_entities is not None and max(t[:, 0].max(), t[:, 2].max()) >= n_entities:
        raise ValueError(f"{name} holds entity ids >= n_entities ({n_entities})")
    if n_relations is not None and t[:, 1].max() >= n_relations:
        raise ValueError(f"{name} holds relation ids >= n_relations ({n_relations})")
    return t.astype(np.int64)


class KGEModel(nn.Module):
    """Base class: subclasses define ``distance(h_emb, r_emb, t_emb)`` on broadcastable tensors."""

    def __init__(self, n_entities: int, n_relations: int, dim: int, gamma: float) -> None:
        super().__init__()
        for name, v in (("n_entities", n_entities), ("n_relations", n_relations), ("dim", dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not gamma > 0:
            raise ValueError(f"gamma must be positive, got {gamma}")
        self.n_entities, self.n_relations, self.dim, self.gamma = (
            n_entities,
            n_relations,
            dim,
            float(gamma),
        )
        # the authors' initialisation: uniform in +-(gamma + 2) / dim
        self.init_range = (self.gamma + 2.0) / dim

    def distance(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def entity(self, ids: torch.Tensor) -> torch.Tensor:
        return self.entities[ids]

    def relation(self, ids: torch.Tensor) -> torch.Tensor:
        return self.relations[ids]

    def score(self, heads: torch.Tensor, rels: torch.Tensor, tails: torch.Tensor) -> torch.Tensor:
        """Plausibility gamma - d_r(h, t) of each triple (higher is more plausible)."""
        return self.gamma - self.distance(
            self.entity(heads), self.relation(rels), self.entity(tails)
        )

    @torch.no_grad()
    def score_all(
        self, anchors: torch.Tensor, rels: torch.Tensor, side: Literal["head", "tail"]
    ) -> torch.Tensor:
        """Scores of every entity as the missing ``side``: [len(anchors), n_entities].

        side="tail": anchors are heads, score (h, r, e) for all e; side="head": anchors are
        tails, score (e, r, t)."""
        a = self.entity(anchors)[:, None, :]
        r = self.relation(rels)[:, None, :]
        e = self.entities[None, :, :]
        if side == "tail":
            return self.gamma - self.distance(a, r, e)
        if side == "head":
            return self.gamma - self.distance(e, r, a)
        raise ValueError(f"unknown side {side!r}; expected head or tail")


class TransE(KGEModel):
    """TransE (Bordes et al. 2013): d_r(h, t) = ||h + r - t||_p."""

    def __init__(
        self, n_entities: int, n_relations: int, dim: int = 64, *, gamma: float = 12.0, p: int = 1
    ) -> None:
        super().__init__(n_entities, n_relations, dim, gamma)
        if p not in (1, 2):
            raise ValueError(f"p must be 1 or 2, got {p!r}")
        self.p = p
        self.entities = nn.Parameter(
            torch.empty(n_entities, dim).uniform_(-self.init_range, self.init_range)
        )
        self.relations = nn.Parameter(
            torch.empty(n_relations, dim).uniform_(-self.init_range, self.init_range)
        )

    def distance(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(h + r - t, ord=self.p, dim=-1)


class RotatE(KGEModel):
    """RotatE (Sun et al. 2019): entities in C^dim (stored as [re | im]), relations as phases
    theta with r = exp(i theta); d_r(h, t) = sum_i |h_i r_i - t_i|."""

    def __init__(
        self, n_entities: int, n_relations: int, dim: int = 64, *, gamma: float = 12.0
    ) -> None:
        super().__init__(n_entities, n_relations, dim, gamma)
        self.entities = nn.Parameter(
            torch.empty(n_entities, 2 * dim).uniform_(-self.init_range, self.init_range)
        )
        # phases uniform in [-pi, pi)
        self.relations = nn.Parameter(torch.empty(n_relations, dim).uniform_(-math.pi, math.pi))

    def distance(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        d = self.dim
        h_re, h_im = h[..., :d], h[..., d:]
        t_re, t_im = t[..., :d], t[..., d:]
        c, s = torch.cos(r), torch.sin(r)
        re = h_re * c - h_im * s - t_re
        im = h_re * s + h_im * c - t_im
        return torch.sqrt(re * re + im * im + 1e-12).sum(-1)

    @torch.no_grad()
    def score_all(
        self, anchors: torch.Tensor, rels: torch.Tensor, side: Literal["head", "tail"]
    ) -> torch.Tensor:
        """As :meth:`KGEModel.score_all`, using |r_i| = 1: the head side
        d(e o r, t) = |e - t o conj(r)|, so both sides are one distance to a fixed point."""
        if side not in ("head", "tail"):
            raise ValueError(f"unknown side {side!r}; expected head or tail")
        d = self.dim
        a = self.entity(anchors)
        theta = self.relation(rels) * (1.0 if side == "tail" else -1.0)
        c, s = torch.cos(theta), torch.sin(theta)
        p_re = a[:, :d] * c - a[:, d:] * s
        p_im = a[:, :d] * s + a[:, d:] * c
        re = p_re[:, None, :] - self.entities[None, :, :d]
        im = p_im[:, None, :] - self.entities[None, :, d:]
        return self.gamma - torch.sqrt(re * re + im * im + 1e-12).sum(-1)

    def rotation(self) -> torch.Tensor:
        """The relations as unit complex numbers, [n_relations, dim] (complex64)."""
        return torch.polar(torch.ones_like(self.relations), self.relations.detach())


def kge_loss(
    pos_score: torch.Tensor, neg_score: torch.Tensor, *, adversarial_temperature: float | None = 1.0
) -> torch.Tensor:
    """Sun et al. (2019) eq. 5 with scores s = gamma - d (so sigma(gamma - d) = sigma(s)).

    ``pos_score`` [B], ``neg_score`` [B, n]. ``adversarial_temperature=None`` weights negatives
    uniformly; a float alpha uses the self-adversarial weights softmax(alpha * s_neg), detached."""
    if neg_score.ndim != 2 or neg_score.shape[0] != pos_score.shape[0]:
        raise ValueError("neg_score must have shape [len(pos_score), n_negatives]")
    if adversarial_temperature is None:
        w = torch.full_like(neg_score, 1.0 / neg_score.shape[1])
    else:
        if not adversarial_temperature > 0:
            raise ValueError(
                f"adversarial_temperature must be positive or None, got {adversarial_temperature}"
            )
        w = torch.softmax(adversarial_temperature * neg_score, dim=1).detach()
    pos = F.logsigmoid(pos_score)
    neg = (w * F.logsigmoid(-neg_score)).sum(1)
    return -(pos.mean() + neg.mean()) / 2


def train_kge(
    model: KGEModel,
    train: np.ndarray,
    *,
    epochs: int = 50,
    batch_size: int = 1024,
    n_negatives: int = 64,
    lr: float = 1e-3,
    adversarial_temperature: float | None = 1.0,
    seed: int = 0,
) -> list[float]:
    """Train with Adam on ``train`` triples; each positive gets ``n_negatives`` corruptions of its
    head or its tail (a fair coin per positive; corrupted entity uniform over all entities, and a
    sampled negative that happens to be true is kept, as is usual). Returns the loss per epoch."""
    train = _check_triples(train, "train", model.n_entities, model.n_relations)
    for name, v in (("epochs", epochs), ("batch_size", batch_size), ("n_negatives", n_negatives)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    gen = torch.Generator().manual_seed(seed)
    data = torch.as_tensor(train)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(data), generator=gen)
        total = 0.0
        for start in range(0, len(data), batch_size):
            b = data[perm[start : start + batch_size]]
            h, r, t = b[:, 0], b[:, 1], b[:, 2]
            neg = torch.randint(model.n_entities, (len(b), n_negatives), generator=gen)
            ch = torch.rand(len(b), generator=gen) < 0.5  # corrupt the head of these rows
            he, re_, te = model.entity(h), model.relation(r), model.entity(t)
            neg_score = torch.empty(len(b), n_negatives)
            if bool(ch.any()):
                ne = model.entity(neg[ch])
                neg_score[ch] = model.gamma - model.distance(ne, re_[ch, None], te[ch, None])
            if bool((~ch).any()):
                ne = model.entity(neg[~ch])
                neg_score[~ch] = model.gamma - model.distance(he[~ch, None], re_[~ch, None], ne)
            pos_score = model.gamma - model.distance(he, re_, te)
            loss = kge_loss(pos_score, neg_score, adversarial_temperature=adversarial_temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        losses.append(total / len(data))
    model.eval()
    return losses


def split_triples(
    triples: np.ndarray, *, valid_frac: float = 0.1, test_frac: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random split of triples into train / valid / test. Triples whose head or tail never
    appears in the training part are moved to train (an embedding model cannot score an entity
    it never saw; that cold-start case needs an inductive model)."""
    triples = _check_triples(triples, "triples")
    if not (0 <= valid_frac < 1 and 0 < test_frac < 1 and valid_frac + test_frac < 1):
        raise ValueError(
            f"need 0 <= valid_frac, 0 < test_frac and a sum < 1, got {valid_frac}, {test_frac}"
        )
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(triples))
    n_test, n_valid = round(test_frac * len(triples)), round(valid_frac * len(triples))
    test, valid, train = perm[:n_test], perm[n_test : n_test + n_valid], perm[n_test + n_valid :]
    seen = np.zeros(int(max(triples[:, 0].max(), triples[:, 2].max())) + 1, dtype=bool)
    seen[triples[train, 0]] = True
    seen[triples[train, 2]] = True
    parts = []
    for idx in (valid, test):
        ok = seen[triples[idx, 0]] & seen[triples[idx, 2]]
        train = np.concatenate([train, idx[~ok]])
        parts.append(idx[ok])
    return triples[np.sort(train)], triples[np.sort(parts[0])], triples[np.sort(parts[1])]


def filtered_ranks(
    score_all: object,
    test: np.ndarray,
    known: np.ndarray,
    n_entities: int,
    *,
    sides: tuple[str, ...] = ("head", "tail"),
    filtered: bool = True,
    batch_size: int = 256,
) -> pd.DataFrame:
    """Rank of each test answer among all entities, per side.

    ``score_all(anchors, rels, side) -> [len(anchors), n_entities]`` scores (higher = better),
    e.g. ``model.score_all``. ``known``: every true triple (train + valid + test). With
    ``filtered``, candidates e != answer such that (h, r, e) (tail side) or (e, r, t) (head side)
    is in ``known`` are removed before ranking. rank = 1 + #(better) + #(tied)/2.

    Returns a DataFrame with columns head, relation, tail, side, rank."""
    test = _check_triples(test, "test", n_entities)
    known = _check_triples(known, "known", n_entities)
    for s in sides:
        if s not in ("head", "tail"):
            raise ValueError(f"unknown side {s!r}; expected head or tail")
    # known answers per (anchor, relation, side)
    answers: dict[tuple[str, int, int], list[int]] = {}
    for h, r, t in known.tolist():
        answers.setdefault(("tail", h, r), []).append(t)
        answers.setdefault(("head", t, r), []).append(h)
    rows = []
    for side in sides:
        anchor_col, answer_col = (0, 2) if side == "tail" else (2, 0)
        for start in range(0, len(test), batch_size):
            b = test[start : start + batch_size]
            anchors = torch.as_tensor(b[:, anchor_col])
            rels = torch.as_tensor(b[:, 1])
            scores = torch.as_tensor(score_all(anchors, rels, side)).double()
            if scores.shape != (len(b), n_entities):
                raise ValueError(
                    f"score_all returned shape {tuple(scores.shape)}, "
                    f"expected {(len(b), n_entities)}"
                )
            if torch.isnan(scores).any():
                raise ValueError("score_all returned NaN scores")
            answer = torch.as_tensor(b[:, answer_col])
            target = scores.gather(1, answer[:, None])
            if filtered:
                rows_i, cols = [], []
                for i, (a, r) in enumerate(
                    zip(b[:, anchor_col].tolist(), b[:, 1].tolist(), strict=True)
                ):
                    others = answers.get((side, a, r), [])
                    rows_i.extend([i] * len(others))
                    cols.extend(others)
                mask = torch.zeros_like(scores, dtype=torch.bool)
                if cols:
                    mask[torch.as_tensor(rows_i), torch.as_tensor(cols)] = True
                mask[torch.arange(len(b)), answer] = False
                scores = scores.masked_fill(mask, float("-inf"))
            better = (scores > target).sum(1)
            ties = (scores == target).sum(1) - 1  # the answer ties with itself
            rank = 1.0 + better.double() + ties.double() / 2.0
            rows.append(
                pd.DataFrame(
                    {
                        "head": b[:, 0],
                        "relation": b[:, 1],
                        "tail": b[:, 2],
                        "side": side,
                        "rank": rank.numpy(),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def ranking_metrics(ranks: object, ks: tuple[int, ...] = (1, 10)) -> dict[str, float]:
    """MRR = mean(1 / rank) and Hits@k = share of ranks <= k."""
    r = np.asarray(ranks, dtype=float)
    if r.ndim != 1 or r.size == 0:
        raise ValueError("ranks must be a non-empty 1-D array")
    if np.isnan(r).any() or (r < 1).any():
        raise ValueError("ranks must be >= 1 and not NaN")
    out = {"mrr": float(np.mean(1.0 / r))}
    for k in ks:
        out[f"hits@{k}"] = float(np.mean(r <= k))
    out["n"] = int(r.size)
    return out


def relation_cardinality(triples: np.ndarray) -> pd.DataFrame:
    """Per relation: mean tails per head and mean heads per tail, and the usual 1-1 / 1-N / N-1 /
    N-N category (threshold 1.5, as Bordes et al. 2013 used for FB15k)."""
    t = _check_triples(triples, "triples")
    df = pd.DataFrame(t, columns=["h", "r", "t"])
    rows = []
    for r, g in df.groupby("r"):
        tph = g.groupby("h").size().mean()
        hpt = g.groupby("t").size().mean()
        cat = f"{'N' if hpt >= 1.5 else '1'}-to-{'N' if tph >= 1.5 else '1'}"
        rows.append(
            {
                "relation": int(r),
                "tails_per_head": tph,
                "heads_per_tail": hpt,
                "category": cat,
                "n": len(g),
            }
        )
    return pd.DataFrame(rows)
