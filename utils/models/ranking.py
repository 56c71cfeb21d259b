"""Ranking models for the MovieLens click task, one screen each (PyTorch).

Every model scores ``(sparse, dense, history)`` rows and returns raw logits:

- :class:`FeatureEmbedding`: one embedding table per categorical field, concatenated with the dense
  features into ``x0`` (the "Embedding & MLP" input of the papers below). It owns the input checks:
  wrong shapes, NaN or infinite dense values and ids outside a field's vocabulary raise a
  ``ValueError`` naming the argument. Policy for unknown ids: **reject**; map unseen users or items
  to a reserved out-of-vocabulary id upstream, never let them index a neighbour's row.
- :class:`LogisticRegression`: ``logit = b + sum_f w_f[x_f] + v . dense`` (one weight per id).
- :class:`DCNv2`: full-rank cross layers ``x_{l+1} = x0 * (W_l x_l + b_l) + x_l`` with a deep ReLU
  MLP, stacked or in parallel (Wang et al., "DCN V2", WWW 2021).
- :class:`DIN`: target attention over the behaviour history with the local activation unit,
  ``u = sum_j a(e_j, v_t) e_j`` with **no softmax** and padded slots masked (Zhou et al., "Deep
  Interest Network", KDD 2018); ``pooling="mean"`` is the mean-pool ablation.
- :class:`MultiTaskRanker`: the shared feature embedding under :class:`utils.models.multitask.MMoE`
  (Ma et al., KDD 2018), one logit per engagement label.

:func:`encode_clicks` turns a :class:`utils.data.ClickTask` part into tensors, :func:`fit_ranker`
trains with early stopping on a validation split (pointwise, or RankNet pairs within each user),
:func:`predict_proba` scores, :func:`group_auc` averages the AUC within users,
:func:`paired_auc_bootstrap` puts a paired cluster-bootstrap interval on the AUC gap of two
models, and :func:`flops_per_candidate` counts the dense FLOPs (2 per multiply-add) of one
scored candidate.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from .._checks import check_choice, check_positive_int
from ..data.clicks import GENRE_COLUMNS
from .multitask import MMoE

SPARSE_FIELDS = ("user", "item", "occupation", "gender", "age")
AGE_EDGES = (18, 25, 35, 45, 50, 56)  # MovieLens-1M's age groups: 7 buckets


class ClickFeatures(NamedTuple):
    """Model inputs for n rows: ``sparse`` (n, 5) int64 ids in :data:`SPARSE_FIELDS` order,
    ``dense`` (n, 20) float32 (standardised release year, 19 genre flags), ``history`` (n, L)
    int64 liked items left-padded with ``n_items``, ``label`` (n,) or (n, tasks) float32."""

    sparse: torch.Tensor
    dense: torch.Tensor
    history: torch.Tensor
    label: torch.Tensor


def encode_clicks(
    frame: pd.DataFrame, history: np.ndarray, *, year_mean: float, year_std: float, labels=None
) -> ClickFeatures:
    """Tensors for rows of :func:`utils.data.movielens_clicks` (``labels`` default: ``label``).
    Standardise ``year`` with statistics of the training part only."""
    if len(frame) == 0 or len(history) != len(frame):
        raise ValueError(f"frame ({len(frame)} rows) and history ({len(history)}) must match, > 0")
    if not year_std > 0:
        raise ValueError(f"year_std must be positive, got {year_std}")
    age = np.searchsorted(AGE_EDGES, frame["age"].to_numpy(), side="right")
    ids = np.column_stack([frame["user"], frame["item"], frame["occupation"], frame["gender"], age])
    year = (frame["year"].to_numpy(np.float32) - year_mean) / year_std
    dense = np.column_stack([year, frame[list(GENRE_COLUMNS)].to_numpy(np.float32)])
    y = frame["label"].to_numpy() if labels is None else np.asarray(labels)
    if len(y) != len(frame):
        raise ValueError(f"labels has {len(y)} rows, expected {len(frame)}")
    return ClickFeatures(
        torch.as_tensor(ids.astype(np.int64)),
        torch.as_tensor(dense.astype(np.float32)),
        torch.as_tensor(np.asarray(history, dtype=np.int64)),
        torch.as_tensor(y.astype(np.float32)),
    )


def click_cardinalities(task) -> dict[str, int]:
    """Vocabulary size of each field in :data:`SPARSE_FIELDS` for a ClickTask."""
    return dict(
        zip(SPARSE_FIELDS, (task.n_users, task.n_items, task.n_occupations, 2, 7), strict=True)
    )


class FeatureEmbedding(nn.Module):
    """``x0 = [E_1[x_1], ..., E_F[x_F], dense]``: (batch, F * dim + n_dense), after checks."""

    def __init__(self, cardinalities: Mapping[str, int], n_dense: int, dim: int = 16):
        super().__init__()
        if not cardinalities:
            raise ValueError("cardinalities must name at least one field")
        self.names = tuple(cardinalities)
        self.sizes = tuple(
            check_positive_int(v, f"cardinalities[{k!r}]") for k, v in cardinalities.items()
        )
        self.n_dense = check_positive_int(n_dense, "n_dense")
        self.dim = check_positive_int(dim, "dim")
        self.tables = nn.ModuleDict(
            {k: nn.Embedding(n, dim) for k, n in zip(self.names, self.sizes, strict=True)}
        )
        for t in self.tables.values():
            nn.init.normal_(t.weight, std=0.05)
        self.out_dim = len(self.names) * dim + self.n_dense

    def check(self, sparse: torch.Tensor, dense: torch.Tensor) -> None:
        for name, x, dtype_ok in (
            ("sparse", sparse, lambda t: not t.is_floating_point() and t.dtype != torch.bool),
            ("dense", dense, torch.Tensor.is_floating_point),
        ):
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
            if not dtype_ok(x):
                raise TypeError(
                    f"{name} has dtype {x.dtype}: sparse takes integer ids, dense floats"
                )
        want = {"sparse": len(self.names), "dense": self.n_dense}
        for name, x in (("sparse", sparse), ("dense", dense)):
            if x.ndim != 2 or x.shape[1] != want[name] or x.shape[0] == 0:
                raise ValueError(f"{name} must be (batch, {want[name]}), got {tuple(x.shape)}")
        if sparse.shape[0] != dense.shape[0]:
            raise ValueError(f"sparse has {sparse.shape[0]} rows but dense {dense.shape[0]}")
        if not torch.isfinite(dense).all():
            raise ValueError("dense contains NaN or infinite values")
        lo, hi = sparse.min(0).values, sparse.max(0).values
        for j, (name, n) in enumerate(zip(self.names, self.sizes, strict=True)):
            if lo[j] < 0 or hi[j] >= n:
                bad = int(lo[j]) if lo[j] < 0 else int(hi[j])
                raise ValueError(
                    f"sparse column {j} ({name!r}) has unknown id {bad}, outside [0, {n}); "
                    "map unseen ids to an out-of-vocabulary id upstream"
                )

    def embed(self, sparse: torch.Tensor) -> torch.Tensor:
        """(batch, F, dim) field embeddings (no checks: call :meth:`check` first)."""
        return torch.stack([t(sparse[:, j]) for j, t in enumerate(self.tables.values())], 1)

    def forward(self, sparse: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        self.check(sparse, dense)
        return torch.cat([self.embed(sparse).flatten(1), dense], dim=1)


def mlp(in_dim: int, hidden: Sequence[int]) -> nn.Sequential:
    """ReLU MLP ``in_dim -> hidden... -> 1``."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(in_dim, check_positive_int(h, "hidden")), nn.ReLU()]
        in_dim = h
    return nn.Sequential(*layers, nn.Linear(in_dim, 1))


class LogisticRegression(nn.Module):
    """One weight per id of every field plus a linear term on the dense features."""

    def __init__(self, cardinalities: Mapping[str, int], n_dense: int):
        super().__init__()
        self.features = FeatureEmbedding(cardinalities, n_dense, dim=1)
        for t in self.features.tables.values():
            nn.init.zeros_(t.weight)
        self.dense = nn.Linear(n_dense, 1)

    def forward(self, sparse, dense, history=None) -> torch.Tensor:
        self.features.check(sparse, dense)
        return self.features.embed(sparse).sum((1, 2)) + self.dense(dense).squeeze(1)


class DCNv2(nn.Module):
    """Cross network ``x_{l+1} = x0 * (W_l x_l + b_l) + x_l`` (full-rank ``W_l``) and a deep MLP:
    ``stacked`` feeds the cross output to the MLP, ``parallel`` concatenates cross and MLP."""

    def __init__(
        self,
        cardinalities: Mapping[str, int],
        n_dense: int,
        dim: int = 16,
        n_cross: int = 2,
        hidden: Sequence[int] = (64, 32),
        structure: str = "stacked",
    ):
        super().__init__()
        self.features = FeatureEmbedding(cardinalities, n_dense, dim)
        d = self.features.out_dim
        self.structure = check_choice(structure, "structure", ("stacked", "parallel"))
        self.cross = nn.ModuleList(
            nn.Linear(d, d) for _ in range(check_positive_int(n_cross, "n_cross"))
        )
        if self.structure == "stacked":
            self.deep = mlp(d, hidden)
        else:
            self.deep = mlp(d, hidden)[:-1]  # drop the MLP's output layer: concat, then one logit
            self.out = nn.Linear(d + (hidden[-1] if hidden else d), 1)

    def forward(self, sparse, dense, history=None) -> torch.Tensor:
        x0 = self.features(sparse, dense)
        x = x0
        for layer in self.cross:
            x = x0 * layer(x) + x
        if self.structure == "stacked":
            return self.deep(x).squeeze(1)
        return self.out(torch.cat([x, self.deep(x0)], dim=1)).squeeze(1)


class DIN(nn.Module):
    """Deep Interest Network: ``u = sum_j a(e_j, v_t) e_j`` over the history, then an MLP on
    ``[x0, u]``. The activation unit ``a`` is an MLP on ``[e_j, v_t, e_j - v_t, e_j * v_t]`` (the
    element-wise form of the authors' released code; the paper's figure draws an outer product),
    with PReLU and 36 hidden units as in the paper; weights are not softmax-normalised, padded
    slots get weight 0. ``last_attention`` keeps the (batch, L) weights of the last call."""

    def __init__(
        self,
        cardinalities: Mapping[str, int],
        n_dense: int,
        dim: int = 16,
        hidden: Sequence[int] = (64, 32),
        att_hidden: int = 36,
        item_field: str = "item",
        pooling: str = "attention",
    ):
        super().__init__()
        self.features = FeatureEmbedding(cardinalities, n_dense, dim)
        self.item_col = self.features.names.index(
            check_choice(item_field, "item_field", self.features.names)
        )
        self.pad = self.features.sizes[self.item_col]  # history padding id = n_items
        self.pooling = check_choice(pooling, "pooling", ("attention", "mean"))
        self.att = (
            nn.Sequential(
                nn.Linear(4 * dim, check_positive_int(att_hidden, "att_hidden")),
                nn.PReLU(),
                nn.Linear(att_hidden, 1),
            )
            if self.pooling == "attention"
            else None  # the mean-pool ablation has no activation unit
        )
        self.mlp = mlp(self.features.out_dim + dim, hidden)
        self.last_attention: torch.Tensor | None = None

    def forward(self, sparse, dense, history) -> torch.Tensor:
        x0 = self.features(sparse, dense)
        if not isinstance(history, torch.Tensor) or history.is_floating_point():
            raise TypeError("history must be an integer torch.Tensor of item ids")
        if history.ndim != 2 or history.shape[0] != sparse.shape[0] or history.shape[1] == 0:
            raise ValueError(f"history must be ({sparse.shape[0]}, L), got {tuple(history.shape)}")
        if (history < 0).any() or (history > self.pad).any():
            raise ValueError(f"history ids must be in [0, {self.pad}] ({self.pad} = padding)")
        table = self.features.tables[self.features.names[self.item_col]]
        mask = (history != self.pad).float()  # (B, L)
        e = table(history.clamp(max=self.pad - 1))  # (B, L, d); padded rows are masked below
        v = table(sparse[:, self.item_col])[:, None].expand_as(e)  # target item, (B, L, d)
        if self.pooling == "mean":
            w = mask / mask.sum(1, keepdim=True).clamp(min=1.0)
        else:
            w = self.att(torch.cat([e, v, e - v, e * v], dim=-1)).squeeze(-1) * mask
        self.last_attention = w.detach()
        u = (w[..., None] * e).sum(1)  # (B, d): interest representation for this target
        return self.mlp(torch.cat([x0, u], dim=1)).squeeze(1)


class MultiTaskRanker(nn.Module):
    """Shared :class:`FeatureEmbedding` under :class:`~utils.models.multitask.MMoE`: (batch, tasks)
    logits; the MMoE gates of the last call are in ``mmoe.last_gates``."""

    def __init__(
        self, cardinalities: Mapping[str, int], n_dense: int, n_tasks: int, dim: int = 16, **mmoe_kw
    ):
        super().__init__()
        self.features = FeatureEmbedding(cardinalities, n_dense, dim)
        self.mmoe = MMoE(self.features.out_dim, n_tasks, **mmoe_kw)

    def forward(self, sparse, dense, history=None) -> torch.Tensor:
        return self.mmoe(self.features(sparse, dense))


def pairwise_logistic_loss(
    logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor | None = None
) -> torch.Tensor:
    """RankNet loss ``mean log(1 + exp(-(s_i - s_j)))`` over the pairs with ``y_i = 1, y_j = 0``
    (Burges et al., ICML 2005). With ``groups`` (one request or user id per row) only pairs
    *within* a group count, as in learning to rank, where a pair is two candidates of one
    request; without it every (positive, negative) pair of the batch counts, which also rewards
    separating groups. Only score differences matter, so the logits carry no probability scale."""
    if groups is not None and groups.shape != logits.shape:
        raise ValueError(f"groups must have shape {tuple(logits.shape)}, got {tuple(groups.shape)}")
    pos = labels > 0.5
    if groups is None:
        diff = logits[~pos][None, :] - logits[pos][:, None]  # (positives, negatives): s_j - s_i
        if diff.numel() == 0:
            return logits.sum() * 0.0  # no pair in this batch
        return F.softplus(diff).mean()
    i, j = torch.nonzero(groups[pos][:, None] == groups[~pos][None, :], as_tuple=True)
    if len(i) == 0:
        return logits.sum() * 0.0  # no within-group pair in this batch
    return F.softplus(logits[~pos][j] - logits[pos][i]).mean()


class FitResult(NamedTuple):
    best_epoch: int  # 1-based epoch whose weights were kept
    val_loss: list[float]  # validation criterion after each epoch (see fit_ranker)


def auc_from_logits(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney U) statistic; ties are not averaged (use
    ``sklearn.metrics.roc_auc_score`` for reporting)."""
    pos = labels > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("labels must contain both classes to compute an AUC")
    ranks = torch.empty_like(logits, dtype=torch.float64)
    ranks[torch.argsort(logits)] = torch.arange(1, len(logits) + 1, dtype=torch.float64)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def group_auc(
    labels: object, scores: object, groups: object, *, per_group: bool = False
) -> float | pd.DataFrame:
    """Impression-weighted mean of per-group ROC AUC ("GAUC", Zhou et al., KDD 2018), over the
    groups (users, requests) that hold both classes; ties share their average rank. A ranker
    orders candidates *within* a request, so this ignores what only separates groups (a user who
    likes everything), which the global AUC rewards. ``per_group=True`` returns the per-group
    table instead (index: group; columns ``auc`` and ``n``, the group's rows), for a bootstrap
    over groups."""
    y, s, g = (np.asarray(a).ravel() for a in (labels, scores, groups))
    if not len(y) == len(s) == len(g) or len(y) == 0:
        raise ValueError(
            f"labels, scores and groups must be non-empty, equal lengths: {len(y)}, "
            f"{len(s)}, {len(g)}"
        )
    if not np.isfinite(s.astype(np.float64)).all():
        raise ValueError("scores contain NaN or infinite values")
    df = pd.DataFrame({"y": y > 0.5, "s": s, "g": g})
    df["rank"] = df.groupby("g")["s"].rank(method="average")
    per = df.groupby("g").agg(n=("y", "size"), pos=("y", "sum"))
    per["rank_pos"] = df[df["y"]].groupby("g")["rank"].sum()
    per = per[(per["pos"] > 0) & (per["pos"] < per["n"])]
    if per.empty:
        raise ValueError("no group holds both classes")
    neg = per["n"] - per["pos"]
    auc = (per["rank_pos"] - per["pos"] * (per["pos"] + 1) / 2) / (per["pos"] * neg)
    if per_group:
        return pd.DataFrame({"auc": auc, "n": per["n"]})
    return float(np.average(auc, weights=per["n"]))


def weighted_auc(labels: object, scores: object, weights: object) -> np.ndarray:
    """ROC AUC with row weights, ties counted one half: ``sum_{i pos, j neg} w_i w_j
    ([s_i > s_j] + [s_i = s_j] / 2) / (W_pos W_neg)``. ``weights`` is (n,) or (B, n) for B
    weightings at once (the bootstrap's resamples); returns a float array of shape () or (B,)."""
    from scipy import sparse as sp

    y, s = np.asarray(labels).ravel() > 0.5, np.asarray(scores, dtype=np.float64).ravel()
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if len(y) != len(s) or w.shape[1] != len(s) or len(s) == 0:
        raise ValueError(f"labels {len(y)}, scores {len(s)} and weights {w.shape} must match")
    _, level = np.unique(s, return_inverse=True)
    onehot = sp.csr_matrix((np.ones(len(s)), (np.arange(len(s)), level)))
    neg = np.asarray((w * ~y) @ onehot)  # (B, levels): negative weight at each score level
    pos = np.asarray((w * y) @ onehot)
    below = np.cumsum(neg, axis=1) - neg
    denom = pos.sum(1) * neg.sum(1)
    if (denom <= 0).any():
        raise ValueError("each weighting must give weight to both classes")
    auc = (pos * (below + 0.5 * neg)).sum(1) / denom
    return auc[0] if np.ndim(weights) == 1 else auc


def paired_auc_bootstrap(
    labels: object,
    scores_a: object,
    scores_b: object,
    groups: object,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(gap, low, high)``: AUC(a) - AUC(b) on the same rows and a percentile interval from a
    paired cluster bootstrap, resampling whole groups (users) with replacement and scoring both
    models on each resample, so noise shared by the two models cancels. The interval covers
    test-set sampling only, not retraining noise (seeds)."""
    y, g = np.asarray(labels).ravel(), np.asarray(groups).ravel()
    n_boot = check_positive_int(n_boot, "n_boot")
    if len(g) != len(y):
        raise ValueError(f"groups has {len(g)} rows, labels {len(y)}")
    _, gi = np.unique(g, return_inverse=True)
    n_groups = int(gi.max()) + 1
    rng = np.random.default_rng(seed)
    gaps = []
    for start in range(0, n_boot, 100):  # bound the (resamples, rows) weight matrix
        b = min(100, n_boot - start)
        draw = rng.integers(0, n_groups, size=(b, n_groups)) + n_groups * np.arange(b)[:, None]
        counts = np.bincount(draw.ravel(), minlength=b * n_groups).reshape(b, n_groups)
        w = counts[:, gi]
        gaps.append(weighted_auc(y, scores_a, w) - weighted_auc(y, scores_b, w))
    ones = np.ones(len(y))
    gap = float(weighted_auc(y, scores_a, ones) - weighted_auc(y, scores_b, ones))
    low, high = np.quantile(np.concatenate(gaps), [alpha / 2, 1 - alpha / 2])
    return gap, float(low), float(high)


def _group_order(groups: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Row indices with the groups in random order and each group's rows contiguous (shuffled
    within), so that consecutive batches hold whole groups and keep their within-group pairs."""
    rows = torch.randperm(len(groups), generator=gen)
    _, g = torch.unique(groups, return_inverse=True)
    key = torch.randperm(int(g.max()) + 1, generator=gen)[g[rows]]
    return rows[torch.argsort(key, stable=True)]


def _batches(data: ClickFeatures, idx: torch.Tensor, batch_size: int):
    for s in range(0, len(idx), batch_size):
        b = idx[s : s + batch_size]
        yield data.sparse[b], data.dense[b], data.history[b], data.label[b]


def predict_logits(model: nn.Module, data: ClickFeatures, batch_size: int = 8192) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        idx = torch.arange(len(data.label))
        out = [model(s, d, h) for s, d, h, _ in _batches(data, idx, batch_size)]
    return torch.cat(out)


def predict_proba(model: nn.Module, data: ClickFeatures, batch_size: int = 8192) -> np.ndarray:
    """Sigmoid of the logits: (n,) or (n, tasks) probabilities."""
    return torch.sigmoid(predict_logits(model, data, batch_size)).numpy().astype(np.float64)


def fit_ranker(
    model: nn.Module,
    train: ClickFeatures,
    val: ClickFeatures,
    *,
    epochs: int = 4,
    batch_size: int = 1024,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    loss: str = "pointwise",
    group_col: int | None = 0,
    patience: int = 1,
    seed: int = 0,
) -> FitResult:
    """Adam on ``pointwise`` log-loss (binary cross-entropy, per task) or the ``pairwise``
    RankNet loss. For ``pairwise``, ``group_col`` names the sparse column whose id is the group
    (default 0, the user in :data:`SPARSE_FIELDS`): batches are built from whole groups in random
    order and only pairs within a group count; ``None`` pairs across the shuffled batch instead.
    After each epoch a validation criterion decides early stopping (stop after ``patience``
    epochs without improvement) and the best epoch's weights are restored: the log-loss for
    ``pointwise``; for ``pairwise`` (its logits have no probability scale) ``1 - GAUC`` over
    the same groups, or ``1 - AUC`` when ``group_col`` is None. Shuffling is seeded; seed the
    model's initialisation before building it."""
    epochs, batch_size = (
        check_positive_int(epochs, "epochs"),
        check_positive_int(batch_size, "batch_size"),
    )
    check_choice(loss, "loss", ("pointwise", "pairwise"))
    grouped = loss == "pairwise" and group_col is not None
    if grouped and not (isinstance(group_col, int) and 0 <= group_col < train.sparse.shape[1]):
        raise ValueError(
            f"group_col must be a sparse column in [0, {train.sparse.shape[1]}) or None, "
            f"got {group_col!r}"
        )
    gen = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    best, best_state, history = np.inf, None, []
    for _ in range(epochs):
        model.train()
        if grouped:
            order = _group_order(train.sparse[:, group_col], gen)
        else:
            order = torch.randperm(len(train.label), generator=gen)
        for s, d, h, y in _batches(train, order, batch_size):
            out = model(s, d, h)
            if loss == "pointwise":
                step_loss = F.binary_cross_entropy_with_logits(out, y)
            else:
                step_loss = pairwise_logistic_loss(out, y, s[:, group_col] if grouped else None)
            opt.zero_grad()
            step_loss.backward()
            opt.step()
        out = predict_logits(model, val)
        if loss == "pointwise":
            vl = float(F.binary_cross_entropy_with_logits(out, val.label))
        elif grouped:
            vl = 1.0 - group_auc(val.label.numpy(), out.numpy(), val.sparse[:, group_col].numpy())
        else:
            vl = 1.0 - auc_from_logits(out, val.label)
        history.append(vl)
        if vl < best:
            best, best_state = vl, copy.deepcopy(model.state_dict())
        elif len(history) - 1 - int(np.argmin(history)) >= patience:
            break
    model.load_state_dict(best_state)
    return FitResult(int(np.argmin(history)) + 1, history)


def flops_per_candidate(model: nn.Module, history_len: int = 0) -> int:
    """Dense FLOPs (2 per multiply-add of every ``nn.Linear``) to score one candidate; DIN's
    activation unit runs once per history slot, so it counts ``history_len`` times. Embedding
    look-ups and element-wise operations are left out (they are memory-bound, not FLOPs)."""
    total = 0
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            reps = history_len if name.startswith("att.") else 1
            total += 2 * m.in_features * m.out_features * reps
    return total
