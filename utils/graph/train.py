"""Training a graph encoder for link prediction (the loop every GNN chapter shares).

The encoder maps node features and an ``edge_index`` to embeddings ``Z``; a pair is scored by
the dot product ``z_u . z_v``. The loss is binary cross-entropy on the observed ties (label 1)
against ``neg_per_pos`` uniformly sampled node pairs per tie (label 0), the set-up of GAE (Kipf &
Welling 2016) and of the OGB link-prediction baselines. Uniform negatives are almost always
true non-ties in a sparse graph; a sampled pair that happens to be a tie is left in as noise.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .csr import CSRGraph
from .evaluate import ScoreFn


def _tensor(x: object) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not isinstance(x, torch.Tensor) else x
    if t.ndim != 2:
        raise ValueError(f"x: expected a [n_nodes, d] feature matrix, got shape {tuple(t.shape)}")
    return t.float()


def train_link_encoder(
    encoder: torch.nn.Module,
    x: object,
    graph: CSRGraph,
    *,
    epochs: int,
    lr: float,
    seed: int,
    weight_decay: float = 0.0,
    neg_per_pos: int = 1,
    batch_size: int | None = None,
) -> torch.nn.Module:
    """Fit ``encoder(x, edge_index) -> Z`` on ``graph``'s ties; returns it in eval mode.

    Each epoch visits every observed tie once, in mini-batches of ``batch_size`` ties (all at
    once when None), re-encoding the full graph per step (full-batch message passing).
    """
    x = _tensor(x)
    if x.shape[0] != graph.n_nodes:
        raise ValueError(f"x: {x.shape[0]} rows for a graph of {graph.n_nodes} nodes")
    if epochs < 1 or lr <= 0 or neg_per_pos < 1:
        raise ValueError(f"epochs/lr/neg_per_pos: got {epochs}, {lr}, {neg_per_pos}")
    if graph.n_edges == 0:
        raise ValueError("graph: no ties to train on")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    ei = torch.as_tensor(graph.edge_index())
    pos = ei[:, ei[0] < ei[1]]
    m = pos.shape[1]
    step = m if batch_size is None else int(batch_size)
    opt = torch.optim.Adam(encoder.parameters(), lr=lr, weight_decay=weight_decay)
    encoder.train()
    for _ in range(epochs):
        order = torch.randperm(m, generator=gen)
        for b0 in range(0, m, step):
            batch = pos[:, order[b0 : b0 + step]]
            neg = torch.randint(0, graph.n_nodes, (2, batch.shape[1] * neg_per_pos), generator=gen)
            z = encoder(x, ei)
            pos_logit = (z[batch[0]] * z[batch[1]]).sum(-1)
            neg_logit = (z[neg[0]] * z[neg[1]]).sum(-1)
            loss = F.binary_cross_entropy_with_logits(
                pos_logit, torch.ones_like(pos_logit)
            ) + F.binary_cross_entropy_with_logits(neg_logit, torch.zeros_like(neg_logit))
            opt.zero_grad()
            loss.backward()
            opt.step()
    encoder.eval()
    return encoder


@torch.no_grad()
def encode(encoder: torch.nn.Module, x: object, graph: CSRGraph) -> np.ndarray:
    """Embeddings ``Z`` of every node under ``graph``'s message passing (no gradients)."""
    encoder.eval()
    return encoder(_tensor(x), torch.as_tensor(graph.edge_index())).numpy()


def encoder_scorer(encoder: torch.nn.Module, x: object, graph: CSRGraph) -> ScoreFn:
    """A score function ranking candidates by ``z_u . z_v`` (see :func:`embedding_scorer`)."""
    from .heuristics import embedding_scorer

    return embedding_scorer(encode(encoder, x, graph))
