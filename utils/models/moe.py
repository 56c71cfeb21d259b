"""A sparse top-k Mixture-of-Experts layer with a load-balancing loss, and its load metrics.

Routing (Shazeer et al., ICLR 2017, "Outrageously Large Neural Networks"): a linear router gives
logits ``h(x) = x W_g`` over ``n`` experts; during training the noisy variant adds
``eps * softplus(x W_noise)`` with ``eps ~ N(0, 1)``. Each token keeps its top ``k`` logits and
the gate weights are the softmax over those ``k`` alone, which equals the full softmax restricted
to the chosen experts and renormalised to sum to 1. Output: ``y = sum_{i in topk} g_i E_i(x)``.
Only ``k`` of the ``n`` experts run per token: compute scales with ``k``, parameters with ``n``.

Load balancing (Fedus, Zoph & Shazeer, JMLR 2022, "Switch Transformers", eq. 4-6):
``L_aux = n * sum_i f_i P_i``, with ``f_i`` the fraction of routing assignments dispatched to
expert ``i`` (not differentiable) and ``P_i`` the mean router probability of expert ``i`` over
the batch (differentiable). Switch routes to one expert; with ``k`` experts per token we count
all ``T k`` assignments, so ``sum_i f_i = 1`` and ``L_aux = 1`` under perfectly uniform routing.
Minimising it pushes probability away from overloaded experts. The training loss adds
``alpha * L_aux`` (Switch uses ``alpha = 0.01``).

Capacity (Switch, section 2.2; GShard, Lepikhin et al. 2021): an expert processes at most
``ceil(capacity_factor * k * T / n)`` assignments per batch; the rest are dropped (their weight
is zeroed, so the token passes through the caller's residual connection unchanged). First
choices are served before second choices, as in GShard.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .._checks import check_k, check_positive_int


def _check_logits(logits: object, name: str = "logits") -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or 0 in logits.shape:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"{name} must be a non-empty (tokens, n_experts) tensor, got {shape}")
    if not torch.isfinite(logits).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return logits


def top_k_route(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick each token's ``k`` largest logits. Returns ``(weights, idx)``, both (tokens, k):
    ``weights`` = softmax over the chosen logits (rows sum to 1), ``idx`` = expert ids, best
    first."""
    logits = _check_logits(logits)
    k = check_k(k, logits.shape[1], "k", "n_experts")
    top, idx = logits.topk(k, dim=1)
    return torch.softmax(top, dim=1), idx


def expert_load(idx: torch.Tensor, n_experts: int) -> torch.Tensor:
    """Fraction of routing assignments per expert: ``f_i = #{(t, j): idx[t, j] = i} / (T k)``."""
    n_experts = check_positive_int(n_experts, "n_experts")
    if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.numel() == 0:
        raise ValueError("idx must be a non-empty (tokens, k) tensor of expert ids")
    if idx.dtype.is_floating_point or idx.min() < 0 or idx.max() >= n_experts:
        raise ValueError(f"idx must hold integer expert ids in [0, {n_experts})")
    counts = torch.bincount(idx.reshape(-1), minlength=n_experts).to(torch.float32)
    return counts / idx.numel()


def load_cv(load: torch.Tensor) -> float:
    """Coefficient of variation of a load vector, std / mean (population std): 0 when perfectly
    balanced, ``sqrt(n - 1)`` when one of ``n`` experts takes everything.

    Under top-``k`` routing a token's ``k`` picks are distinct experts, so no expert receives
    more than ``1/k`` of the assignments (``expert_load``): the worst case is ``k`` experts
    sharing all of them, a CV of ``sqrt(n / k - 1)`` and a busiest expert at ``n / k`` times its
    fair share (``sqrt(3)`` and 4x for 8 experts, top-2)."""
    if not isinstance(load, torch.Tensor) or load.ndim != 1 or load.numel() < 2:
        raise ValueError("load must be a 1-D tensor over at least 2 experts")
    mean = load.float().mean()
    if not mean > 0:
        raise ValueError("load must have a positive mean")
    return float(load.float().std(unbiased=False) / mean)


def load_balancing_loss(probs: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Switch Transformer auxiliary loss ``n * sum_i f_i P_i`` (see module docstring).

    ``probs`` (tokens, n) are the router's full softmax probabilities; ``idx`` (tokens, k) the
    experts each token was dispatched to. Equals 1 under uniform routing, ``n`` when every token
    goes to one expert with probability 1.
    """
    if not isinstance(probs, torch.Tensor) or probs.ndim != 2 or probs.numel() == 0:
        raise ValueError("probs must be a non-empty (tokens, n_experts) tensor")
    if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.shape[0] != probs.shape[0]:
        raise ValueError("idx must be a (tokens, k) tensor with as many rows as probs")
    n = probs.shape[1]
    f = expert_load(idx, n).to(probs.dtype)
    return n * torch.sum(f * probs.mean(dim=0))


def expert_capacity(n_tokens: int, n_experts: int, k: int, capacity_factor: float) -> int:
    """Assignments one expert may take per batch: ``ceil(capacity_factor * k * T / n)``."""
    n_tokens = check_positive_int(n_tokens, "n_tokens")
    n_experts = check_positive_int(n_experts, "n_experts")
    k = check_k(k, n_experts, "k", "n_experts")
    if not isinstance(capacity_factor, int | float) or not capacity_factor > 0:
        raise ValueError(f"capacity_factor must be a positive number, got {capacity_factor!r}")
    return math.ceil(capacity_factor * k * n_tokens / n_experts)


def capacity_mask(idx: torch.Tensor, n_experts: int, capacity: int) -> torch.Tensor:
    """Boolean (tokens, k) mask of the assignments that fit: each expert serves first choices
    in token order, then second choices, ..., up to ``capacity``."""
    expert_load(idx, n_experts)  # validates idx
    capacity = check_positive_int(capacity, "capacity")
    order = idx.t().reshape(-1)  # choice-major: all first choices, then all second choices
    one_hot = F.one_hot(order, n_experts)
    position = (one_hot.cumsum(dim=0) * one_hot).sum(dim=1) - 1  # queue slot in its expert
    return (position < capacity).reshape(idx.shape[1], idx.shape[0]).t()


class SparseMoE(nn.Module):
    """Top-k routed MoE layer: ``n_experts`` two-layer ReLU MLPs ``in_dim -> hidden -> out_dim``.

    ``forward(x)`` maps (tokens, in_dim) to (tokens, out_dim) and records, for the last call,
    ``last_probs`` (tokens, n) router softmax, ``last_idx`` (tokens, k) chosen experts,
    ``last_weights`` (tokens, k) renormalised gates, ``last_kept`` (tokens, k) capacity mask and
    ``aux_loss`` (the differentiable balancing loss, to be added to the task loss by the caller).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        n_experts: int = 8,
        k: int = 2,
        hidden_dim: int = 32,
        *,
        noisy: bool = True,
        capacity_factor: float | None = None,
    ):
        super().__init__()
        self.in_dim = check_positive_int(in_dim, "in_dim")
        self.out_dim = check_positive_int(out_dim, "out_dim")
        self.n_experts = check_positive_int(n_experts, "n_experts")
        self.k = check_k(k, self.n_experts, "k", "n_experts")
        hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        if capacity_factor is not None:
            expert_capacity(1, self.n_experts, self.k, capacity_factor)  # validates it
        self.capacity_factor = capacity_factor
        self.noisy = bool(noisy)
        self.router = nn.Linear(in_dim, n_experts, bias=False)
        self.noise = nn.Linear(in_dim, n_experts, bias=False) if noisy else None
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))
            for _ in range(n_experts)
        )
        self.aux_loss = torch.zeros(())
        self.last_probs = self.last_idx = self.last_weights = self.last_kept = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.in_dim:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a (tokens, {self.in_dim}) tensor, got {shape}")
        if x.shape[0] == 0:
            raise ValueError("x must hold at least one token")
        logits = self.router(x)
        if self.noisy and self.training:
            logits = logits + torch.randn_like(logits) * F.softplus(self.noise(x))
        probs = torch.softmax(logits, dim=1)
        weights, idx = top_k_route(logits, self.k)
        kept = torch.ones_like(idx, dtype=torch.bool)
        if self.capacity_factor is not None:
            cap = expert_capacity(x.shape[0], self.n_experts, self.k, self.capacity_factor)
            kept = capacity_mask(idx, self.n_experts, cap)
        weights = weights * kept
        self.aux_loss = load_balancing_loss(probs, idx)
        self.last_probs, self.last_idx = probs.detach(), idx.detach()
        self.last_weights, self.last_kept = weights.detach(), kept
        y = x.new_zeros(x.shape[0], self.out_dim)
        for e, expert in enumerate(self.experts):  # each expert runs on its own tokens only
            rows, slot = torch.nonzero((idx == e) & kept, as_tuple=True)
            if rows.numel():
                y = y.index_add(0, rows, weights[rows, slot, None] * expert(x[rows]))
        return y


class MoERegressor(nn.Module):
    """``x -> h = relu(W_in x) -> h + SparseMoE(h) -> W_out h'``: a residual block whose
    feed-forward layer is the sparse MoE, where Switch and Mixtral put it. Tokens an expert
    drops at capacity pass through the residual. The ReLU makes the router's inputs share a
    positive mean, as real hidden states share a common direction, which is what lets a router
    send most tokens to a few experts."""

    def __init__(self, in_dim: int, out_dim: int, width: int = 32, **moe_kwargs):
        super().__init__()
        in_dim, width = check_positive_int(in_dim, "in_dim"), check_positive_int(width, "width")
        self.inp = nn.Linear(in_dim, width)
        self.moe = SparseMoE(width, width, **moe_kwargs)
        self.out = nn.Linear(width, check_positive_int(out_dim, "out_dim"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.inp.in_features:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a (tokens, {self.inp.in_features}) tensor, got {shape}")
        h = torch.relu(self.inp(x))
        return self.out(h + self.moe(h))
