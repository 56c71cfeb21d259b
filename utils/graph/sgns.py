"""Skip-gram with negative sampling (SGNS) over random-walk windows, in torch, and its closed
form (NetMF).

**SGNS** {Mikolov et al. 2013}: every pair (w, c) of nodes at most ``window`` steps apart on a
walk is a positive; for each positive, ``negatives`` nodes n are drawn from the noise
distribution P_n(n) proportional to count(n)^0.75 (count = occurrences in the walk corpus).
With input vectors u and output (context) vectors v, each pair contributes

    loss(w, c) = -log sigma(u_w . v_c) - sum_{n ~ P_n} log sigma(-u_w . v_n)

DeepWalk {Perozzi et al. 2014} trains skip-gram on uniform walks (the paper used a
hierarchical softmax); node2vec {Grover & Leskovec 2016} uses SGNS on its biased walks.
Training here is word2vec's plain SGD with a linearly decaying learning rate, applied to
minibatches of pairs with hand-written gradients (autograd's embedding backward and Adam over
the full tables cost several times more on CPU). Every offset 1..window counts once per
direction (a fixed window, as in the NetMF derivation); word2vec's dynamic window instead
samples the width per token, which weights offset r by (window - r + 1) / window.

**NetMF** {Qiu et al. 2018, Theorem 2.3}: as walks grow long, DeepWalk's SGNS with window T and
b negatives implicitly factorises

    M = vol(G) / (b T) * sum_{r=1}^{T} (D^-1 A)^r D^-1,      vol(G) = sum_ij A_ij,

entry-wise as log M. NetMF computes log(max(M, 1)) (the truncated logarithm) and takes a rank-d
SVD, U_d Sigma_d^{1/2}. T = 1 is LINE's second-order objective {Tang et al. 2015} in the same
framework. The matrix is dense in principle; here rows are built in blocks and stored sparse,
since max(M, 1) leaves most far pairs at log 1 = 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from .walks import _csr, node2vec_walks

__all__ = [
    "TUNED",
    "SGNSResult",
    "embedding_score_fn",
    "fit_node2vec",
    "line_pairs",
    "netmf_embedding",
    "netmf_matrix",
    "noise_distribution",
    "sgns_loss",
    "train_sgns",
    "window_pairs",
]


def window_pairs(walks: np.ndarray, window: int) -> np.ndarray:
    """All (center, context) pairs at offsets 1..window along each walk, both directions.

    ``walks`` is int [n_walks, length] with -1 padding after a dead end; padded positions are
    skipped. Returns int64 [m, 2]. A walk of length L with no padding gives
    2 * sum_{r=1}^{window} (L - r) pairs.
    """
    walks = np.asarray(walks)
    if walks.ndim != 2 or not np.issubdtype(walks.dtype, np.integer):
        raise ValueError(f"walks must be a 2-D int array [n_walks, length], got {walks.shape}")
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    if window >= walks.shape[1]:
        raise ValueError(f"window={window} must be smaller than the walk length {walks.shape[1]}")
    parts = []
    for r in range(1, int(window) + 1):
        a, b = walks[:, :-r].ravel(), walks[:, r:].ravel()
        ok = (a >= 0) & (b >= 0)
        a, b = a[ok], b[ok]
        parts += [np.stack([a, b], 1), np.stack([b, a], 1)]
    return np.concatenate(parts).astype(np.int64)


def line_pairs(graph: Any) -> np.ndarray:
    """LINE's second-order training pairs {Tang et al. 2015}: every directed edge (u, v) of the
    graph once, int64 [2|E|, 2]. SGNS on these pairs is the T = 1 case of NetMF."""
    indptr, indices, n = _csr(graph)
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    return np.stack([src, indices], 1)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """word2vec's negative-sampling distribution: P_n(i) = counts_i^power / sum_j counts_j^power
    (Mikolov et al. 2013 found power 3/4 best). Nodes with zero count are never drawn."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D array, got shape {counts.shape}")
    if (counts < 0).any() or not np.isfinite(counts).all():
        raise ValueError("counts must be finite and non-negative")
    if counts.sum() == 0:
        raise ValueError("counts are all zero: nothing to sample negatives from")
    if not np.isfinite(power) or power < 0:
        raise ValueError(f"power must be a non-negative number, got {power}")
    w = np.where(counts > 0, counts**power, 0.0)
    return w / w.sum()


@dataclass
class SGNSResult:
    """Trained input vectors ``emb_in`` (the node embeddings), output vectors ``emb_out``,
    the mean loss of each epoch, and the number of positive pairs per epoch."""

    emb_in: np.ndarray
    emb_out: np.ndarray
    epoch_loss: list[float] = field(default_factory=list)
    n_pairs: int = 0
    seconds: float = 0.0


def sgns_loss(
    emb_in: np.ndarray, emb_out: np.ndarray, pairs: np.ndarray, negatives: np.ndarray
) -> float:
    """Mean SGNS loss of ``pairs`` [m, 2] with given ``negatives`` [m, k] (the formula in the
    module docstring), for checking training and gradients."""
    u = torch.as_tensor(emb_in)[torch.as_tensor(pairs[:, 0])]
    v = torch.as_tensor(emb_out)[torch.as_tensor(pairs[:, 1])]
    vn = torch.as_tensor(emb_out)[torch.as_tensor(negatives)]
    pos = torch.nn.functional.logsigmoid((u * v).sum(1))
    neg = torch.nn.functional.logsigmoid(-torch.einsum("bd,bkd->bk", u, vn)).sum(1)
    return float(-(pos + neg).mean())


def train_sgns(
    pairs: np.ndarray,
    n_nodes: int,
    *,
    dim: int = 64,
    negatives: int = 5,
    epochs: int = 1,
    batch_size: int = 4096,
    lr: float = 0.025,
    counts: np.ndarray | None = None,
    max_step: float = 0.25,
    seed: int = 0,
) -> SGNSResult:
    """Train SGNS on positive ``pairs`` (int [m, 2] of center, context) with minibatch SGD.

    Input vectors start uniform in [-0.5/dim, 0.5/dim] and output vectors at zero, as in
    word2vec; the learning rate decays linearly from ``lr`` to ``lr * 1e-4`` over all steps.
    The gradient of each pair's loss is applied in full (summed over the batch, not averaged),
    which is what word2vec's per-pair SGD does when a batch has no repeated node; a row's step
    is capped at norm ``max_step`` so that a hub drawn many times in one batch cannot diverge.
    Negatives come from ``noise_distribution(counts)``; ``counts`` defaults to how often each node
    appears as a center. Runs on the caller's torch thread setting; same seed and thread
    count, same result.
    """
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.shape[0] == 0:
        raise ValueError(f"pairs must be a non-empty int array [m, 2], got shape {pairs.shape}")
    if not np.issubdtype(pairs.dtype, np.integer):
        raise TypeError(f"pairs must hold int node ids, got dtype {pairs.dtype}")
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer) or n_nodes < 1:
        raise ValueError(f"n_nodes must be a positive int, got {n_nodes!r}")
    if pairs.min() < 0 or pairs.max() >= n_nodes:
        raise ValueError(f"pairs hold node ids outside [0, {n_nodes})")
    for name, value in (("dim", dim), ("negatives", negatives), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive number, got {lr}")
    if counts is None:
        counts = np.bincount(pairs[:, 0], minlength=n_nodes)
    elif np.shape(counts) != (n_nodes,):
        raise ValueError(f"counts must have shape ({n_nodes},), got {np.shape(counts)}")
    noise_cdf = torch.from_numpy(np.cumsum(noise_distribution(counts)))

    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(int(seed))
    d, k = int(dim), int(negatives)
    U = (torch.rand(n_nodes, d, generator=g, dtype=torch.float32) - 0.5) / d
    V = torch.zeros(n_nodes, d, dtype=torch.float32)
    P = torch.from_numpy(pairs.astype(np.int64))
    m = len(P)
    steps = epochs * ((m + batch_size - 1) // batch_size)
    step = 0
    losses = []
    for _ in range(epochs):
        order = torch.randperm(m, generator=g)
        total = 0.0
        for s in range(0, m, batch_size):
            idx = order[s : s + batch_size]
            c, x = P[idx, 0], P[idx, 1]
            b = len(idx)
            draws = torch.rand(b * k, generator=g, dtype=torch.float64)
            neg = torch.searchsorted(noise_cdf, draws).clamp_(max=n_nodes - 1)
            u, v, vn = U[c], V[x], V[neg].view(b, k, d)
            pos = (u * v).sum(1)
            ng = torch.bmm(vn, u.unsqueeze(2)).squeeze(2)
            total += float(
                -(
                    torch.nn.functional.logsigmoid(pos).sum()
                    + torch.nn.functional.logsigmoid(-ng).sum()
                )
            )
            gp = torch.sigmoid(pos) - 1.0  # d loss / d (u.v_c)
            gn = torch.sigmoid(ng)  # d loss / d (u.v_n)
            grad_u = gp[:, None] * v + torch.bmm(gn.unsqueeze(1), vn).squeeze(1)
            grad_v = gp[:, None] * u
            grad_vn = (gn[:, :, None] * u[:, None, :]).reshape(-1, d)
            a = lr * max(1.0 - step / steps, 1e-4)
            # Sum each row's gradients over the batch (word2vec's per-pair SGD applies them all),
            # but cap the norm of a row's step: a node drawn 100 times in one batch would
            # otherwise move 100 steps on stale vectors at once and can diverge.
            gU = torch.zeros_like(U).index_add_(0, c, grad_u)
            gV = torch.zeros_like(V).index_add_(0, x, grad_v).index_add_(0, neg, grad_vn)
            for M_, G_ in ((U, gU), (V, gV)):
                G_.mul_(a)
                norm = G_.norm(dim=1, keepdim=True)
                M_.sub_(G_ * (max_step / norm.clamp(min=max_step)))
            step += 1
        losses.append(total / m)
    return SGNSResult(U.numpy(), V.numpy(), losses, int(m), seconds=time.perf_counter() - t0)


def netmf_matrix(graph: Any, *, window: int = 5, negative: float = 1.0, block: int = 2048):
    """NetMF's DeepWalk matrix, truncated: log(max(M, 1)) with
    M = vol(G)/(b T) sum_{r=1}^{T} (D^-1 A)^r D^-1 (Qiu et al. 2018), as a sparse CSR matrix.

    Isolated nodes get empty rows. Rows are computed ``block`` at a time (T sparse-dense
    products each), so memory is O(block * n) rather than O(n^2).
    """
    indptr, indices, n = _csr(graph)
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    if not np.isfinite(negative) or negative <= 0:
        raise ValueError(f"negative must be a positive number, got {negative}")
    A = sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n, n))
    deg = np.asarray(A.sum(1)).ravel()
    vol = deg.sum()
    inv_deg = np.divide(1.0, deg, out=np.zeros(n), where=deg > 0)
    P = sp.diags(inv_deg) @ A  # D^-1 A, row-stochastic on non-isolated rows
    PT = P.T.tocsr()
    scale = vol / (negative * window)
    rows = []
    for s in range(0, n, block):
        e = min(s + block, n)
        R = P[s:e].toarray()  # (D^-1 A)^1 rows
        S = R.copy()
        for _ in range(window - 1):
            R = (PT @ R.T).T  # rows of (D^-1 A)^{r+1}
            S += R
        M = scale * S * inv_deg[None, :]
        M = np.log(np.maximum(M, 1.0))
        rows.append(sp.csr_matrix(M))
    return sp.vstack(rows).tocsr()


def netmf_embedding(
    graph: Any, *, dim: int = 64, window: int = 5, negative: float = 1.0, seed: int = 0
) -> np.ndarray:
    """NetMF embedding (Qiu et al. 2018, small-window variant): rank-``dim`` truncated SVD of
    ``netmf_matrix``, returned as U_d Sigma_d^{1/2}, float32 [n_nodes, dim]."""
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    M = netmf_matrix(graph, window=window, negative=negative)
    if dim >= min(M.shape):
        raise ValueError(f"dim={dim} must be smaller than the number of nodes {M.shape[0]}")
    v0 = np.random.default_rng(seed).standard_normal(M.shape[0])
    u, s, _ = spla.svds(M, k=int(dim), v0=v0)
    order = np.argsort(-s)
    return (u[:, order] * np.sqrt(s[order])).astype(np.float32)


# Hyperparameters chosen on the validation phase by the lab of graph chapter 01.
# Budget-bound (a few seconds on one core): 2 walks of 10 steps per node, window 3, 32 dimensions,
# one epoch; word2vec's lr 0.025 is tuned for billions of tokens and barely moves ~1M pairs.
TUNED: dict[str, Any] = {
    "p": 1.0,
    "q": 1.0,
    "dim": 32,
    "walk_length": 10,
    "walks_per_node": 2,
    "window": 3,
    "negatives": 5,
    "epochs": 1,
    "lr": 0.5,
    "batch_size": 4096,
    "scorer": "in_out",
}


def embedding_score_fn(emb_in: np.ndarray, emb_out: np.ndarray, scorer: str = "in_in"):
    """Score function for link prediction from SGNS vectors: ``"in_in"`` ranks candidates by
    u_s . u_c (the usual node2vec dot product); ``"in_out"`` by u_s . v_c, which SGNS fits to
    the shifted PMI of walk co-occurrence; ``"sym"`` by the sum of both directions."""
    U = np.asarray(emb_in, dtype=np.float32)
    V = np.asarray(emb_out, dtype=np.float32)
    if scorer not in ("in_in", "in_out", "sym"):
        raise ValueError(f"scorer must be 'in_in', 'in_out' or 'sym', got {scorer!r}")

    def score(sources: np.ndarray) -> np.ndarray:
        s = np.asarray(sources, dtype=np.int64)
        if s.size and (s.min() < 0 or s.max() >= len(U)):
            raise ValueError(f"sources: node ids must lie in [0, {len(U)})")
        if scorer == "in_in":
            return U[s] @ U.T
        if scorer == "in_out":
            return U[s] @ V.T
        return U[s] @ V.T + V[s] @ U.T

    return score


def fit_node2vec(phase: Any, seed: int = 0, **overrides: Any):
    """Walks + SGNS on ``phase.graph`` with the validation-chosen hyperparameters (``TUNED``;
    any can be overridden by keyword), returning a link-prediction score_fn for
    ``evaluate_link_prediction``. Uses one torch thread for reproducibility.
    """
    unknown = set(overrides) - set(TUNED)
    if unknown:
        raise TypeError(
            f"unknown hyperparameters {sorted(unknown)}; expected some of {sorted(TUNED)}"
        )
    hp = {**TUNED, **overrides}
    graph = getattr(phase, "graph", None)
    if graph is None:
        raise TypeError(
            f"phase must be a LinkSplit Phase with a .graph, got {type(phase).__name__}"
        )
    walks = node2vec_walks(
        graph,
        p=hp["p"],
        q=hp["q"],
        walk_length=hp["walk_length"],
        walks_per_node=hp["walks_per_node"],
        seed=seed,
    )
    pairs = window_pairs(walks, hp["window"])
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = train_sgns(
            pairs,
            graph.n_nodes,
            dim=hp["dim"],
            negatives=hp["negatives"],
            epochs=hp["epochs"],
            lr=hp["lr"],
            batch_size=hp["batch_size"],
            seed=seed,
        )
    finally:
        torch.set_num_threads(before)
    return embedding_score_fn(res.emb_in, res.emb_out, hp["scorer"])
