"""Multi-task heads over a dense input, one screen each (PyTorch).

- :class:`SharedBottom`: one shared ReLU layer feeding one small tower per task (Caruana, 1997).
- :class:`MMoE`: Multi-gate Mixture-of-Experts (Ma et al., KDD 2018). ``n_experts`` ReLU
  experts ``f_i(x)``; each task ``k`` has its own softmax gate ``g^k(x) = softmax(W_k x)`` and
  tower ``h^k``; output ``y_k = h^k(sum_i g^k_i(x) f_i(x))``. The gates of the last forward
  pass are kept in ``last_gates`` (batch, n_tasks, n_experts) for inspection.

Both return raw outputs of shape (batch, n_tasks): logits for binary tasks, values for
regression tasks; the caller picks each task's loss.
"""

from __future__ import annotations

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
