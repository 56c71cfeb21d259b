"""Graph convolutional networks (Kipf & Welling, 2017) in plain torch, and over-smoothing probes.

One GCN layer computes ``H' = Â H W + b`` with the *renormalised* adjacency

    Â = D̃^{-1/2} (A + I) D̃^{-1/2},   D̃_ii = 1 + deg(i),

so node i receives ``sum_{j in N(i) ∪ {i}} h_j W / sqrt(d̃_i d̃_j)``. Kipf & Welling obtain it from
a first-order Chebyshev approximation of a spectral filter, ``θ (I + D^{-1/2} A D^{-1/2})``,
whose eigenvalues lie in [0, 2] and explode when stacked; adding the self-loops before
normalising ("renormalisation trick") keeps them in (-1, 1]. Our layer follows
``torch_geometric.nn.GCNConv`` exactly (linear map first, then propagation, then bias;
degrees counted at the target node of each directed edge; existing self-loops replaced by one
of weight 1), so the unit tests can copy weights across and compare outputs.

Cost of one layer: the sparse product ``Â (HW)`` is O(|E| d) and the dense ``HW`` is
O(|V| d_in d_out). Full-batch training keeps every layer's activations, O(L |V| d) floats.

Over-smoothing (Li, Han & Wu, 2018): ``Â^k X`` converges, on each connected component, to a
matrix whose rows are all proportional to one vector (times sqrt(d̃_i)), so representations
become indistinguishable as depth grows. Two probes measure it: the mean pairwise cosine
similarity of node representations (-> 1) and the Dirichlet energy ``tr(Hᵀ (I - Â) H)``
(Cai & Wang, 2020), which -> 0 relative to ``||H||_F^2``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

__all__ = [
    "GCN_DEFAULTS",
    "GCNConv",
    "GCNEncoder",
    "dirichlet_energy",
    "fit_gcn",
    "gcn_layer_flops",
    "mean_pairwise_cosine",
    "normalized_adjacency",
    "propagation_smoothing",
    "train_gcn",
]


# ----------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------
def _as_edge_index(edge_index: object, name: str = "edge_index") -> torch.Tensor:
    """Return ``edge_index`` as an int64 torch tensor of shape [2, E], or raise naming it."""
    if isinstance(edge_index, np.ndarray):
        if not np.issubdtype(edge_index.dtype, np.integer):
            raise TypeError(f"{name} must hold integers, got dtype {edge_index.dtype}")
        edge_index = torch.from_numpy(np.ascontiguousarray(edge_index, dtype=np.int64))
    if not isinstance(edge_index, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor or np.ndarray, got {type(edge_index).__name__}"
        )
    if edge_index.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name} must hold integers, got dtype {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"{name} must have shape [2, E], got {tuple(edge_index.shape)}")
    return edge_index.long()


def _check_n_nodes(n_nodes: object, edge_index: torch.Tensor) -> int:
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer):
        raise TypeError(f"n_nodes must be an int, got {type(n_nodes).__name__}")
    if n_nodes <= 0:
        raise ValueError(f"n_nodes must be positive, got {n_nodes}")
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= n_nodes):
        raise ValueError(
            f"edge_index holds node ids outside [0, {int(n_nodes)}): "
            f"min {int(edge_index.min())}, max {int(edge_index.max())}"
        )
    return int(n_nodes)


def _as_features(x: object, name: str = "x") -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.array(x, dtype=np.float32, order="C"))  # a copy: x may be read-only
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or np.ndarray, got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{name} must be 2-D [n_nodes, d], got shape {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        x = x.float()
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


# ----------------------------------------------------------------------------------------------
# Normalised propagation
# ----------------------------------------------------------------------------------------------
def normalized_adjacency(
    edge_index: object,
    n_nodes: int,
    *,
    add_self_loops: bool = True,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The GCN propagation matrix ``Â = D̃^{-1/2} (A + I) D̃^{-1/2}`` as a sparse COO tensor.

    ``edge_index[0]`` are sources and ``edge_index[1]`` targets (the torch_geometric
    convention): ``Â[i, j] = 1 / sqrt(d̃_i d̃_j)`` for each edge ``j -> i``, where ``d̃`` is the
    in-degree counting the self-loop. Pass both directions for an undirected graph (as
    ``CSRGraph.edge_index()`` does). Existing self-loops are dropped and one self-loop of
    weight 1 is added per node (torch_geometric's ``add_remaining_self_loops``); duplicate edges
    add up. With ``add_self_loops=False`` this is ``D^{-1/2} A D^{-1/2}`` and isolated nodes get
    an all-zero row. ``dtype`` is the dtype of the values (float64 for the probes).
    """
    ei = _as_edge_index(edge_index)
    n = _check_n_nodes(n_nodes, ei)
    src, dst = ei[0], ei[1]
    keep = src != dst
    src, dst = src[keep], dst[keep]
    w = torch.ones(src.numel(), dtype=dtype)
    if add_self_loops:
        loop = torch.arange(n, dtype=torch.int64)
        src, dst = torch.cat([src, loop]), torch.cat([dst, loop])
        w = torch.cat([w, torch.ones(n, dtype=dtype)])
    deg = torch.zeros(n, dtype=dtype).index_add_(0, dst, w)
    inv_sqrt = deg.pow(-0.5)
    inv_sqrt[deg == 0] = 0.0
    values = inv_sqrt[dst] * w * inv_sqrt[src]
    adj = torch.sparse_coo_tensor(torch.stack([dst, src]), values, (n, n), check_invariants=False)
    return adj.coalesce()


def _adjacency_for(edge_index: object, n_nodes: int) -> torch.Tensor:
    """Accept a precomputed sparse Â (from :func:`normalized_adjacency`) or an edge_index."""
    if isinstance(edge_index, torch.Tensor) and edge_index.is_sparse:
        if tuple(edge_index.shape) != (n_nodes, n_nodes):
            raise ValueError(
                f"adjacency must be [{n_nodes}, {n_nodes}] to match x, "
                f"got {tuple(edge_index.shape)}"
            )
        return edge_index
    return normalized_adjacency(edge_index, n_nodes)


class GCNConv(nn.Module):
    """One graph convolution ``H' = Â (H W) + b`` (Kipf & Welling, 2017, eq. 2).

    Parameters mirror ``torch_geometric.nn.GCNConv``: ``lin.weight`` is [out_dim, in_dim]
    (Glorot-initialised) and ``bias`` [out_dim] (zeros), so weights copy across one to one.
    ``forward(x, edge_index)`` takes an int64 edge_index [2, E] (sources, targets), or the
    sparse ``Â`` from :func:`normalized_adjacency` to skip renormalising every call.
    The number of parameters, ``in_dim * out_dim + out_dim``, does not depend on the graph:
    the same W is shared by every node (weight sharing), as a CNN shares a kernel over pixels.
    """

    def __init__(self, in_dim: int, out_dim: int, *, bias: bool = True) -> None:
        super().__init__()
        for name, v in (("in_dim", in_dim), ("out_dim", out_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        self.in_dim, self.out_dim = in_dim, out_dim
        self.lin = nn.Linear(in_dim, out_dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.lin.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor, edge_index: object) -> torch.Tensor:
        x = _as_features(x)
        if x.shape[1] != self.in_dim:
            raise ValueError(f"x must have {self.in_dim} columns, got {x.shape[1]}")
        return self.propagate(x, _adjacency_for(edge_index, x.shape[0]))

    def propagate(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """``Â (x W) + b`` for an already checked ``x`` and sparse ``Â`` (no validation)."""
        out = torch.sparse.mm(adj, self.lin(x))
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}, bias={self.bias is not None}"


class GCNEncoder(nn.Module):
    """A stack of ``n_layers`` GCN layers: ``encoder(x, edge_index) -> Z`` [n_nodes, out_dim].

    Input per node is ``[x_i, e_i]``: the given features ``x`` (may have zero columns) and,
    when ``emb_dim > 0``, a learnable embedding ``e_i`` (an ``nn.Embedding(n_nodes, emb_dim)``).
    The embedding table is the only part whose size grows with the graph and the only part that
    cannot serve a node unseen in training; the GCN weights themselves are shared by all nodes.
    ReLU and dropout between layers, none after the last (Kipf & Welling's two-layer model is
    ``Â ReLU(Â X W0) W1``). The normalised adjacency is cached for the last edge_index seen
    (compared by identity), so training on a fixed graph normalises once.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int = 64,
        n_layers: int = 2,
        *,
        out_dim: int | None = None,
        n_nodes: int | None = None,
        emb_dim: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if isinstance(in_dim, bool) or not isinstance(in_dim, int) or in_dim < 0:
            raise ValueError(f"in_dim must be a non-negative int, got {in_dim!r}")
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be an int >= 1, got {n_layers!r}")
        if isinstance(emb_dim, bool) or not isinstance(emb_dim, int) or emb_dim < 0:
            raise ValueError(f"emb_dim must be a non-negative int, got {emb_dim!r}")
        if emb_dim > 0 and (not isinstance(n_nodes, int) or n_nodes <= 0):
            raise ValueError(f"n_nodes must be a positive int when emb_dim > 0, got {n_nodes!r}")
        if in_dim + emb_dim == 0:
            raise ValueError("in_dim + emb_dim must be positive: the encoder has no input")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        out_dim = hidden_dim if out_dim is None else out_dim
        self.in_dim, self.emb_dim, self.n_nodes = in_dim, emb_dim, n_nodes
        self.n_layers, self.dropout = n_layers, float(dropout)
        self.emb = nn.Embedding(n_nodes, emb_dim) if emb_dim > 0 else None
        if self.emb is not None:
            nn.init.normal_(self.emb.weight, std=0.1)
        dims = [in_dim + emb_dim] + [hidden_dim] * (n_layers - 1) + [out_dim]
        self.convs = nn.ModuleList(GCNConv(a, b) for a, b in itertools.pairwise(dims))
        self._cache: tuple[object, torch.Tensor] | None = None

    def adjacency(self, edge_index: object, n_nodes: int) -> torch.Tensor:
        """``Â`` for ``edge_index``, reused while the same edge_index object is passed."""
        if isinstance(edge_index, torch.Tensor) and edge_index.is_sparse:
            return _adjacency_for(edge_index, n_nodes)
        if self._cache is None or self._cache[0] is not edge_index:
            self._cache = (edge_index, normalized_adjacency(edge_index, n_nodes))
        adj = self._cache[1]
        if adj.shape[0] != n_nodes:
            raise ValueError(f"x has {n_nodes} rows but the graph has {adj.shape[0]} nodes")
        return adj

    def _input(self, x: object) -> torch.Tensor:
        x = _as_features(x)
        if x.shape[1] != self.in_dim:
            raise ValueError(f"x must have {self.in_dim} columns, got {x.shape[1]}")
        if self.emb is None:
            return x
        if x.shape[0] != self.n_nodes:
            raise ValueError(f"x must have n_nodes={self.n_nodes} rows, got {x.shape[0]}")
        return torch.cat([x, self.emb.weight], dim=1) if self.in_dim else self.emb.weight

    def layer_outputs(self, x: object, edge_index: object) -> list[torch.Tensor]:
        """Every layer's output (after its activation), last one = the encoder's output."""
        h = self._input(x)
        adj = self.adjacency(edge_index, h.shape[0])
        outs = []
        for i, conv in enumerate(self.convs):
            h = nn.functional.dropout(h, self.dropout, self.training)
            h = conv.propagate(h, adj)
            if i < self.n_layers - 1:
                h = torch.relu(h)
            outs.append(h)
        return outs

    def forward(self, x: object, edge_index: object) -> torch.Tensor:
        return self.layer_outputs(x, edge_index)[-1]


# ----------------------------------------------------------------------------------------------
# Over-smoothing probes
# ----------------------------------------------------------------------------------------------
def _as_float64_matrix(z: object, name: str = "z") -> np.ndarray:
    if isinstance(z, torch.Tensor):
        z = z.detach().cpu().numpy()
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array [n_nodes, d], got shape {z.shape}")
    if not np.issubdtype(z.dtype, np.number):
        raise TypeError(f"{name} must hold numbers, got dtype {z.dtype}")
    z = z.astype(np.float64)
    if not np.isfinite(z).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return z


def mean_pairwise_cosine(z: object) -> float:
    """Mean cosine similarity over all ordered pairs i != j of rows of ``z`` with non-zero norm.

    Exact in O(n d): with unit rows u_i, ``sum_{i != j} u_i·u_j = ||sum_i u_i||^2 - n``, so the
    mean is ``(||sum u_i||^2 - n) / (n (n - 1))``. 1 means all representations point the same
    way (fully over-smoothed); near 0, spread out. Zero rows (dead ReLUs) have no direction and
    are left out; a ValueError is raised if fewer than two rows remain.
    """
    z = _as_float64_matrix(z)
    norms = np.linalg.norm(z, axis=1)
    u = z[norms > 0] / norms[norms > 0, None]
    n = u.shape[0]
    if n < 2:
        raise ValueError(f"z needs at least two non-zero rows, got {n}")
    s = u.sum(axis=0)
    return float((s @ s - n) / (n * (n - 1)))


def dirichlet_energy(
    z: object, edge_index: object, n_nodes: int | None = None, *, relative: bool = False
) -> float:
    """Dirichlet energy ``tr(Zᵀ (I - Â) Z)`` with the GCN's renormalised ``Â`` (Cai & Wang, 2020).

    Equal to ``1/2 sum_{(i, j)} ||z_i / sqrt(1 + d_i) - z_j / sqrt(1 + d_j)||^2`` over ordered
    adjacent pairs (both directions of every undirected edge, no self-loops): how much the
    representation varies across edges after degree scaling. It is 0 exactly when every row is
    ``sqrt(1 + d_i)`` times one vector per connected component, the fixed point of repeated GCN
    propagation. With ``relative=True`` it is divided by ``||Z||_F^2`` (a Rayleigh quotient in
    [0, 2)), which removes the scale so different depths compare.
    """
    zz = _as_float64_matrix(z)
    n = zz.shape[0] if n_nodes is None else n_nodes
    if n != zz.shape[0]:
        raise ValueError(f"n_nodes={n} does not match z's {zz.shape[0]} rows")
    adj = normalized_adjacency(edge_index, n, dtype=torch.float64)
    az = torch.sparse.mm(adj, torch.from_numpy(zz)).numpy()
    energy = float((zz * zz).sum() - (zz * az).sum())
    energy = max(energy, 0.0)  # round-off can leave -1e-16 at the fixed point
    if relative:
        total = float((zz * zz).sum())
        if total == 0.0:
            raise ValueError("z is all zeros: relative energy is undefined")
        return energy / total
    return energy


def propagation_smoothing(
    x: object, edge_index: object, depths: Sequence[int], *, nodes: object = None
) -> list[dict[str, float]]:
    """Over-smoothing of parameter-free propagation ``Â^k X`` (an SGC-style GCN without weights).

    For each k in ``depths`` returns ``{"depth": k, "mean_cosine": ..., "relative_energy": ...}``
    for ``Â^k X``. Depth 0 is the raw features. Isolates the propagation operator from training:
    whatever a trained deep GCN does, its input to the last layer is a function of ``Â^k``-mixed
    signals. ``nodes`` (optional int array) restricts the cosine to those rows, e.g. the largest
    connected component: rows in different components converge to different directions.
    """
    xt = _as_features(x).double()
    rows_sel = None
    if nodes is not None:
        rows_sel = np.asarray(nodes)
        if rows_sel.ndim != 1 or not np.issubdtype(rows_sel.dtype, np.integer) or not len(rows_sel):
            raise ValueError("nodes must be a non-empty 1-D integer array of node ids")
        if rows_sel.min() < 0 or rows_sel.max() >= xt.shape[0]:
            raise ValueError(f"nodes must lie in [0, {xt.shape[0]})")
    ks = [int(k) for k in depths]
    if not ks or min(ks) < 0 or ks != sorted(ks):
        raise ValueError(f"depths must be a non-empty increasing list of ints >= 0, got {depths}")
    adj = normalized_adjacency(edge_index, xt.shape[0], dtype=torch.float64)
    rows, h, done = [], xt, 0
    for k in ks:
        while done < k:
            h = torch.sparse.mm(adj, h)
            done += 1
        rows.append(
            {
                "depth": k,
                "mean_cosine": mean_pairwise_cosine(h if rows_sel is None else h[rows_sel]),
                "relative_energy": dirichlet_energy(h, edge_index, relative=True),
            }
        )
    return rows


def gcn_layer_flops(n_nodes: int, n_edges: int, d_in: int, d_out: int) -> dict[str, float]:
    """Multiply-adds of one GCN layer: ``HW`` costs |V| d_in d_out, ``Â(HW)`` costs
    (|E| + |V|) d_out (one per stored entry of Â, self-loops included). ``n_edges`` counts
    stored directed entries (2 per undirected edge)."""
    for name, v in (("n_nodes", n_nodes), ("n_edges", n_edges), ("d_in", d_in), ("d_out", d_out)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise ValueError(f"{name} must be a non-negative int, got {v!r}")
    dense = float(n_nodes) * d_in * d_out
    sparse = float(n_edges + n_nodes) * d_out
    return {"dense_transform": dense, "sparse_propagate": sparse, "total": dense + sparse}


# ----------------------------------------------------------------------------------------------
# The benchmark entry point
# ----------------------------------------------------------------------------------------------
INPUTS = ("features", "embedding", "both")

#: Hyperparameters chosen on the validation phase (lab: notebooks/ml_algorithms/graph/02_gcn).
GCN_DEFAULTS: dict[str, object] = {
    "inputs": "embedding",
    "n_layers": 1,
    "hidden_dim": 64,
    "emb_dim": 64,
    "epochs": 100,
    "lr": 0.01,
    "weight_decay": 0.0,
    "dropout": 0.0,
}


def _check_phase(phase: object) -> None:
    for attr in ("graph", "targets", "feature_year"):
        if not hasattr(phase, attr):
            raise TypeError(
                f"phase must be a Phase from temporal_link_split(...).phase(); no .{attr}"
            )


def train_gcn(
    phase: object, x: object = None, seed: int = 0, **hyper: object
) -> tuple[GCNEncoder, torch.Tensor]:
    """Train a :class:`GCNEncoder` on ``phase.graph`` with the foundation's ``train_link_encoder``.

    ``x`` is the actor feature matrix for the phase (``actor_features(..., until_year=
    phase.feature_year)``); it may be None when ``inputs="embedding"``. ``hyper`` overrides
    :data:`GCN_DEFAULTS` (``inputs`` one of "features", "embedding", "both"; ``n_layers``,
    ``hidden_dim``, ``emb_dim``, ``epochs``, ``lr``, ``weight_decay``, ``dropout``). Full-batch
    training: one Adam step per epoch on every observed tie against as many uniform negatives.
    Returns the trained encoder (eval mode) and the input tensor to call it with.
    """
    from utils.graph.train import train_link_encoder

    _check_phase(phase)
    unknown = set(hyper) - set(GCN_DEFAULTS)
    if unknown:
        raise TypeError(
            f"unknown hyperparameter(s) {sorted(unknown)}; known: {sorted(GCN_DEFAULTS)}"
        )
    h = {**GCN_DEFAULTS, **hyper}
    if h["inputs"] not in INPUTS:
        raise ValueError(f"inputs must be one of {INPUTS}, got {h['inputs']!r}")
    n = phase.graph.n_nodes
    if x is None and h["inputs"] != "embedding":
        raise ValueError(f"x is required when inputs={h['inputs']!r}")
    if x is not None:
        xt = _as_features(x)
        if xt.shape[0] != n:
            raise ValueError(f"x must have {n} rows (one per node), got {xt.shape[0]}")
    if h["inputs"] == "embedding":  # features unused: the encoder sees only its embedding table
        xt = torch.zeros(n, 0)
    torch.manual_seed(seed)
    enc = GCNEncoder(
        xt.shape[1],
        hidden_dim=int(h["hidden_dim"]),
        n_layers=int(h["n_layers"]),
        n_nodes=n,
        emb_dim=0 if h["inputs"] == "features" else int(h["emb_dim"]),
        dropout=float(h["dropout"]),
    )
    train_link_encoder(
        enc,
        xt,
        phase.graph,
        epochs=int(h["epochs"]),
        lr=float(h["lr"]),
        seed=seed,
        weight_decay=float(h["weight_decay"]),
    )
    return enc, xt


def fit_gcn(phase: object, x: object = None, seed: int = 0, **hyper: object) -> Callable:
    """Train a GCN on ``phase`` (see :func:`train_gcn`) and return its link-prediction score_fn.

    ``score_fn(sources) -> [len(sources), n_nodes]`` scores by the dot product of the final
    representations, ready for ``evaluate_link_prediction(score_fn, phase.graph,
    phase.targets)``. Defaults are :data:`GCN_DEFAULTS`, chosen on the validation phase.
    """
    from utils.graph.train import encoder_scorer

    enc, xt = train_gcn(phase, x, seed, **hyper)
    return encoder_scorer(enc, xt, phase.graph)
