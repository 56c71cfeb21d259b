"""Multi-task heads over a dense input, one screen each (PyTorch).

- :class:`SharedBottom`: one shared ReLU layer feeding one small tower per task (Caruana, 1997).
- :class:`MMoE`: Multi-gate Mixture-of-Experts (Ma et al., KDD 2018). ``n_experts`` ReLU
  experts ``f_i(x)``; each task ``k`` has its own softmax gate ``g^k(x) = softmax(W_k x)`` and
  tower ``h^k``; output ``y_k = h^k(sum_i g^k_i(x) f_i(x))``. The gates of the last forward
  pass are kept in ``last_gates`` (batch, n_tasks, n_experts) for inspection.
- :class:`CGC`: Customized Gate Control, the single-level Progressive Layered Extraction (PLE;
  Tang et al., RecSys 2020). Each task ``k`` owns ``n_specific`` experts ``E^k_j`` and all tasks
  share ``n_shared`` experts ``E^s_j``; task ``k``'s gate mixes only its own and the shared ones:
  ``y_k = h^k(sum_j g^k_j(x) S^k_j(x))`` with ``S^k = [E^k_1..E^k_ns, E^s_1..E^s_nsh]`` and
  ``g^k(x) = softmax(W_k x)``. Task-specific experts cannot be claimed by the other task, which is
  PLE's remedy for the "seesaw" (one task improving at the other's expense).

All return raw outputs of shape (batch, n_tasks): logits for binary tasks, values for
regression tasks; the caller picks each task's loss. :func:`fit_mse_many` trains several
same-architecture heads at once (one per seed or data set) with full-batch Adam on the MSE.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .._checks import check_positive_int


def _tower(in_dim: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def _check_input(x: torch.Tensor, in_dim: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != in_dim:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a (batch, {in_dim}) tensor, got {shape}")


class SharedBottom(nn.Module):
    """Hard parameter sharing: ``y_k = h^k(relu(W x))``."""

    def __init__(self, in_dim: int, n_tasks: int, bottom_dim: int = 64, tower_dim: int = 16):
        super().__init__()
        self.in_dim = check_positive_int(in_dim, "in_dim")
        self.n_tasks = check_positive_int(n_tasks, "n_tasks")
        self.bottom = nn.Sequential(
            nn.Linear(in_dim, check_positive_int(bottom_dim, "bottom_dim")), nn.ReLU()
        )
        self.towers = nn.ModuleList(
            _tower(bottom_dim, check_positive_int(tower_dim, "tower_dim")) for _ in range(n_tasks)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_dim)
        h = self.bottom(x)
        return torch.cat([t(h) for t in self.towers], dim=1)


class MMoE(nn.Module):
    """Multi-gate Mixture-of-Experts: shared experts, one softmax gate and tower per task."""

    def __init__(
        self,
        in_dim: int,
        n_tasks: int,
        n_experts: int = 4,
        expert_dim: int = 32,
        tower_dim: int = 16,
    ):
        super().__init__()
        self.in_dim = check_positive_int(in_dim, "in_dim")
        self.n_tasks = check_positive_int(n_tasks, "n_tasks")
        self.n_experts = check_positive_int(n_experts, "n_experts")
        expert_dim = check_positive_int(expert_dim, "expert_dim")
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(in_dim, expert_dim), nn.ReLU()) for _ in range(n_experts)
        )
        self.gates = nn.ModuleList(nn.Linear(in_dim, n_experts) for _ in range(n_tasks))
        self.towers = nn.ModuleList(
            _tower(expert_dim, check_positive_int(tower_dim, "tower_dim")) for _ in range(n_tasks)
        )
        self.last_gates: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_dim)
        E = torch.stack([e(x) for e in self.experts], dim=1)  # (B, n_experts, expert_dim)
        G = torch.stack([torch.softmax(g(x), dim=1) for g in self.gates], dim=1)  # (B, T, E)
        self.last_gates = G.detach()
        mixed = G @ E  # (B, T, expert_dim): task k's gate-weighted sum of expert outputs
        return torch.cat([t(mixed[:, k]) for k, t in enumerate(self.towers)], dim=1)


class CGC(nn.Module):
    """Customized Gate Control (single-level PLE): per-task experts plus shared experts, one
    gate per task over its own and the shared experts. ``last_gates`` is (batch, n_tasks,
    n_specific + n_shared): the task's own experts first, then the shared ones."""

    def __init__(
        self,
        in_dim: int,
        n_tasks: int,
        n_specific: int = 2,
        n_shared: int = 2,
        expert_dim: int = 32,
        tower_dim: int = 16,
    ):
        super().__init__()
        self.in_dim = check_positive_int(in_dim, "in_dim")
        self.n_tasks = check_positive_int(n_tasks, "n_tasks")
        self.n_specific = check_positive_int(n_specific, "n_specific")
        self.n_shared = check_positive_int(n_shared, "n_shared")
        expert_dim = check_positive_int(expert_dim, "expert_dim")
        n_all = n_tasks * n_specific + n_shared  # task k owns experts k*ns .. (k+1)*ns - 1
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(in_dim, expert_dim), nn.ReLU()) for _ in range(n_all)
        )
        self.gates = nn.ModuleList(nn.Linear(in_dim, n_specific + n_shared) for _ in range(n_tasks))
        self.towers = nn.ModuleList(
            _tower(expert_dim, check_positive_int(tower_dim, "tower_dim")) for _ in range(n_tasks)
        )
        self.last_gates: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_dim)
        E = torch.stack([e(x) for e in self.experts], dim=1)  # (B, n_all, expert_dim)
        G = torch.stack([torch.softmax(g(x), dim=1) for g in self.gates], dim=1)  # (B, T, ns+nsh)
        self.last_gates = G.detach()
        n_own = self.n_tasks * self.n_specific
        shared = E[:, n_own:]
        outs = []
        for k, tower in enumerate(self.towers):
            own = E[:, k * self.n_specific : (k + 1) * self.n_specific]
            S = torch.cat([own, shared], dim=1)  # (B, ns + nsh, expert_dim)
            outs.append(tower((G[:, k, :, None] * S).sum(dim=1)))
        return torch.cat(outs, dim=1)


def fit_mse_many(
    models: Sequence[nn.Module],
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    steps: int = 500,
    lr: float = 1e-2,
    batch_size: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Train ``len(models)`` same-architecture models in lockstep, model ``i`` on ``(X[i], Y[i])``,
    by Adam on its mean squared error over samples and tasks; the trained weights are written
    back into ``models``. Each step uses all ``n`` samples (``batch_size=None``) or the same
    ``batch_size`` random rows for every model (drawn with replacement from a generator seeded
    by ``seed``). Returns the (n_models, steps) training-loss curves (per batch).

    The models' parameters are stacked and the forward pass vectorised with ``torch.func.vmap``.
    Adam is elementwise and the summed loss gives each model the gradient of its own loss, so
    this equals training each model alone, only with far fewer (bigger) tensor operations.
    """
    if len(models) == 0:
        raise ValueError("models must hold at least one model")
    if len({type(m) for m in models}) != 1:
        raise TypeError("models must all be of the same class")
    steps = check_positive_int(steps, "steps")
    if not isinstance(lr, int | float) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not isinstance(X, torch.Tensor) or X.ndim != 3 or X.shape[0] != len(models):
        raise ValueError(f"X must be a (n_models={len(models)}, n, in_dim) tensor")
    if not isinstance(Y, torch.Tensor) or Y.ndim != 3 or Y.shape[:2] != X.shape[:2]:
        raise ValueError(f"Y must be a (n_models, n, n_tasks) tensor matching X {tuple(X.shape)}")
    if not (torch.isfinite(X).all() and torch.isfinite(Y).all()):
        raise ValueError("X and Y must be finite")
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
    gen = torch.Generator().manual_seed(seed)
    params, buffers = torch.func.stack_module_state(list(models))
    base = copy.deepcopy(models[0]).to("meta")

    def one(p: dict, b: dict, x: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(base, (p, b), (x,))

    forward = torch.func.vmap(one)
    opt = torch.optim.Adam(params.values(), lr=lr)
    curves = np.empty((len(models), steps))
    for step in range(steps):
        if batch_size is None:
            xb, yb = X, Y
        else:
            rows = torch.randint(0, X.shape[1], (batch_size,), generator=gen)
            xb, yb = X[:, rows], Y[:, rows]
        per_model = ((forward(params, buffers, xb) - yb) ** 2).mean(dim=(1, 2))
        opt.zero_grad()
        per_model.sum().backward()
        opt.step()
        curves[:, step] = per_model.detach().numpy()
    with torch.no_grad():
        for i, m in enumerate(models):
            for name, param in m.named_parameters():
                param.copy_(params[name][i])
    return curves
