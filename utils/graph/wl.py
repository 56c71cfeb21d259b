"""1-WL colour refinement and the Graph Isomorphism Network (GIN) layer.

Colour refinement (the 1-dimensional Weisfeiler-Leman test; Weisfeiler & Leman 1968) starts from a
colour per node (all equal, or given labels) and repeats

    c_{k+1}(v) = HASH( c_k(v), {{ c_k(u) : u in N(v) }} )

where ``{{...}}`` is a multiset, until the partition of nodes into colour classes stops splitting.
Two graphs whose colour histograms agree at every round are *WL-indistinguishable*. Xu et al.
(2019, "How Powerful are Graph Neural Networks?") prove that no message-passing GNN separates
graphs that 1-WL does not, and that the GIN update

    h_v' = MLP( (1 + eps) * h_v + sum_{u in N(v)} h_u )

reaches that bound, because a sum over a multiset of one-hot (or suitably embedded) features is
injective while mean and max are not: mean sees only the proportions of a multiset, max only its
support.

Graphs are given as an ``edge_index`` int array of shape ``[2, E]`` (source row, destination row,
torch_geometric's convention) together with ``n_nodes``; WL treats the graph as undirected and
symmetrises it. Anything with an ``edge_index()`` method and an ``n_nodes`` attribute (the
foundation's ``CSRGraph``) is accepted in place of the pair.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import nn

__all__ = [
    "GIN",
    "GINLayer",
    "WLResult",
    "aggregate",
    "disjoint_union",
    "wl_distinguishes",
    "wl_histograms",
    "wl_refine",
]


# ---- input checks ------------------------------------------------------------------------------


def _edge_index(
    graph: object, n_nodes: int | None, name: str = "edge_index"
) -> tuple[np.ndarray, int]:
    """Return (edge_index [2, E] int64, n_nodes), accepting a CSRGraph-like object or an array."""
    if hasattr(graph, "edge_index") and callable(graph.edge_index):
        n = int(graph.n_nodes) if n_nodes is None else int(n_nodes)
        ei = np.asarray(graph.edge_index(), dtype=np.int64)
    else:
        if isinstance(graph, torch.Tensor):
            graph = graph.detach().cpu().numpy()
        ei = np.asarray(graph)
        if ei.dtype == object or not np.issubdtype(ei.dtype, np.integer):
            if ei.size == 0:
                ei = ei.astype(np.int64).reshape(2, 0)
            else:
                raise TypeError(f"{name} must hold integers, got dtype {ei.dtype}")
        ei = ei.astype(np.int64)
        if n_nodes is None:
            raise ValueError("n_nodes is required when the graph is given as an edge_index array")
        n = n_nodes
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
        raise ValueError(f"n_nodes must be a positive int, got {n!r}")
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"{name} must have shape [2, E], got {ei.shape}")
    if ei.size and (ei.min() < 0 or ei.max() >= n):
        raise ValueError(f"{name} holds node ids outside [0, {n}): min {ei.min()}, max {ei.max()}")
    return ei, int(n)


def _undirected_csr(ei: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetrise, drop self-loops and duplicates; return (indptr, indices)."""
    src = np.concatenate([ei[0], ei[1]])
    dst = np.concatenate([ei[1], ei[0]])
    keep = src != dst
    key = np.unique(src[keep] * n + dst[keep])
    src, dst = key // n, key % n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst


# ---- colour refinement ---------------------------------------------------------------------------


class WLResult(NamedTuple):
    """Colours per round: ``colours[k]`` is the int colour of every node after k rounds (round 0 is
    the initial colouring); ``stable_round`` is the first round whose partition equals the
    previous one (``None`` if ``iterations`` stopped refinement earlier)."""

    colours: list[np.ndarray]
    stable_round: int | None

    @property
    def final(self) -> np.ndarray:
        return self.colours[-1]

    def n_classes(self, round_: int = -1) -> int:
        return int(np.unique(self.colours[round_]).size)


def wl_refine(
    graph: object,
    n_nodes: int | None = None,
    *,
    initial: np.ndarray | None = None,
    iterations: int | None = None,
) -> WLResult:
    """1-WL colour refinement of an undirected graph.

    Each round maps the signature (own colour, sorted multiset of neighbour colours) to a new
    colour. New colours are numbered by the sorted order of their signatures, so the colouring is
    canonical: isomorphic graphs refined separately get identical histograms (no hashing, hence no
    collisions). Runs until the partition is stable (at most ``n_nodes`` rounds) or for exactly
    ``iterations`` rounds when given.

    ``initial``: optional int labels per node (e.g. node types or atom types); default all zero.
    """
    ei, n = _edge_index(graph, n_nodes, "graph")
    if iterations is not None and (
        isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0
    ):
        raise ValueError(f"iterations must be a non-negative int or None, got {iterations!r}")
    if initial is None:
        colours = np.zeros(n, dtype=np.int64)
    else:
        initial = np.asarray(initial)
        if initial.shape != (n,):
            raise ValueError(f"initial must have shape ({n},), got {initial.shape}")
        if not np.issubdtype(initial.dtype, np.integer):
            raise TypeError(f"initial must hold ints, got dtype {initial.dtype}")
        colours = np.unique(initial, return_inverse=True)[1].astype(np.int64)
    indptr, indices = _undirected_csr(ei, n)
    history = [colours]
    max_rounds = n if iterations is None else iterations
    stable = None
    for k in range(1, max_rounds + 1):
        sigs = [
            (int(colours[v]), tuple(sorted(colours[indices[indptr[v] : indptr[v + 1]]].tolist())))
            for v in range(n)
        ]
        order = {s: i for i, s in enumerate(sorted(set(sigs)))}
        new = np.fromiter((order[s] for s in sigs), dtype=np.int64, count=n)
        history.append(new)
        if np.unique(new).size == np.unique(colours).size:  # refinement never merges classes
            stable = k
            if iterations is None:
                break
        colours = new
    return WLResult(history, stable)


def disjoint_union(graphs: list[tuple[object, int | None]]) -> tuple[np.ndarray, int, np.ndarray]:
    """Disjoint union of graphs given as ``(edge_index or CSRGraph, n_nodes)`` pairs.

    Returns (edge_index, total nodes, graph id per node)."""
    if not graphs:
        raise ValueError("graphs must not be empty")
    parts, owner, offset = [], [], 0
    for g, (graph, n_nodes) in enumerate(graphs):
        ei, n = _edge_index(graph, n_nodes, f"graphs[{g}]")
        parts.append(ei + offset)
        owner.append(np.full(n, g, dtype=np.int64))
        offset += n
    return np.concatenate(parts, axis=1), offset, np.concatenate(owner)


def wl_histograms(
    graphs: list[tuple[object, int | None]],
    *,
    initial: list[np.ndarray] | None = None,
    iterations: int | None = None,
) -> list[list[dict[int, int]]]:
    """Colour histograms per graph per round, refined jointly (one shared palette).

    Refining the disjoint union is the standard way to compare graphs: colours mean the same in
    every graph. ``result[g][k]`` maps colour -> count in graph ``g`` after round ``k``.
    """
    ei, n, owner = disjoint_union(graphs)
    init = None
    if initial is not None:
        if len(initial) != len(graphs):
            raise ValueError(
                f"initial must have one array per graph ({len(graphs)}), got {len(initial)}"
            )
        init = np.concatenate([np.asarray(a) for a in initial])
    res = wl_refine(ei, n, initial=init, iterations=iterations)
    out = []
    for g in range(len(graphs)):
        mask = owner == g
        rounds = []
        for c in res.colours:
            vals, counts = np.unique(c[mask], return_counts=True)
            rounds.append(dict(zip(vals.tolist(), counts.tolist(), strict=True)))
        out.append(rounds)
    return out


def wl_distinguishes(
    g1: tuple[object, int | None],
    g2: tuple[object, int | None],
    *,
    initial: tuple[np.ndarray, np.ndarray] | None = None,
    iterations: int | None = None,
) -> bool:
    """True when 1-WL tells the two graphs apart (their colour histograms differ at some round).

    False means "possibly isomorphic": 1-WL, and hence any message-passing GNN, cannot separate
    them. With ``iterations=None`` refinement runs to the stable partition of the union, which
    is the full power of the test."""
    hist = wl_histograms(
        [g1, g2], initial=list(initial) if initial else None, iterations=iterations
    )
    return any(a != b for a, b in zip(hist[0], hist[1], strict=True))


# ---- aggregation and GIN ---------------------------------------------------------------------


def _check_x_edges(x: torch.Tensor, edge_index: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise TypeError(f"x must be a 2-D torch.Tensor [n_nodes, d], got {type(x).__name__}")
    if not isinstance(edge_index, torch.Tensor) or edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError("edge_index must be a torch.Tensor of shape [2, E]")
    if edge_index.numel() and (edge_index.min() < 0 or edge_index.max() >= x.shape[0]):
        raise ValueError(f"edge_index holds node ids outside [0, {x.shape[0]})")


def aggregate(
    x: torch.Tensor, edge_index: torch.Tensor, how: Literal["sum", "mean", "max"] = "sum"
) -> torch.Tensor:
    """Aggregate messages x[src] at each dst: sum, mean or (element-wise) max over in-neighbours.

    Nodes with no in-neighbours get zeros. ``edge_index[0]`` is the source, ``edge_index[1]`` the
    destination (messages flow source -> target, as in torch_geometric)."""
    _check_x_edges(x, edge_index)
    if how not in ("sum", "mean", "max"):
        raise ValueError(f"unknown how {how!r}; expected one of sum, mean, max")
    src, dst = edge_index[0], edge_index[1]
    n = x.shape[0]
    if how == "max":
        out = torch.full_like(x, float("-inf"))
        out = out.scatter_reduce(0, dst[:, None].expand(-1, x.shape[1]), x[src], reduce="amax")
        return torch.where(torch.isinf(out), torch.zeros_like(out), out)
    out = torch.zeros_like(x).index_add_(0, dst, x[src])
    if how == "mean":
        deg = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(
            0, dst, torch.ones_like(dst, dtype=x.dtype)
        )
        out = out / deg.clamp(min=1)[:, None]
    return out


class GINLayer(nn.Module):
    """One GIN layer (Xu et al. 2019, eq. 4.1): h_v' = MLP((1 + eps) h_v + sum_{u in N(v)} h_u).

    ``mlp`` is any module mapping [n, d_in] -> [n, d_out]; ``eps`` is a fixed float, or learned
    when ``train_eps`` (GIN-eps vs GIN-0 in the paper, which found the two about equal).
    Same semantics as ``torch_geometric.nn.GINConv(mlp, eps, train_eps)``."""

    def __init__(self, mlp: nn.Module, eps: float = 0.0, train_eps: bool = False) -> None:
        super().__init__()
        if not isinstance(mlp, nn.Module):
            raise TypeError(f"mlp must be a torch.nn.Module, got {type(mlp).__name__}")
        self.mlp = mlp
        eps_t = torch.tensor([float(eps)])
        if train_eps:
            self.eps = nn.Parameter(eps_t)
        else:
            self.register_buffer("eps", eps_t)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.mlp((1 + self.eps) * x + aggregate(x, edge_index, "sum"))


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_out), nn.ReLU()
    )


class GIN(nn.Module):
    """A stack of GIN layers with two-layer MLPs and a sum readout over nodes.

    ``forward(x, edge_index)`` returns node embeddings of the last layer. ``readout(x, edge_index,
    batch)`` returns one vector per graph: the concatenation over layers (input included) of the
    sum of node embeddings, as in the paper's graph-classification readout (eq. 4.2).
    ``aggr`` swaps the neighbour sum for mean or max to show what those lose."""

    def __init__(
        self,
        d_in: int,
        d_hidden: int,
        n_layers: int = 3,
        *,
        eps: float = 0.0,
        train_eps: bool = False,
        aggr: Literal["sum", "mean", "max"] = "sum",
    ) -> None:
        super().__init__()
        for name, v in (("d_in", d_in), ("d_hidden", d_hidden), ("n_layers", n_layers)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if aggr not in ("sum", "mean", "max"):
            raise ValueError(f"unknown aggr {aggr!r}; expected one of sum, mean, max")
        self.aggr = aggr
        self.layers = nn.ModuleList(
            GINLayer(_mlp(d_in if i == 0 else d_hidden, d_hidden, d_hidden), eps, train_eps)
            for i in range(n_layers)
        )

    def _layer(self, layer: GINLayer, h: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        if self.aggr == "sum":
            return layer(h, edge_index)
        return layer.mlp((1 + layer.eps) * h + aggregate(h, edge_index, self.aggr))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in self.layers:
            h = self._layer(layer, h, edge_index)
        return h

    def readout(
        self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor | None = None
    ) -> torch.Tensor:
        _check_x_edges(x, edge_index)
        if batch is None:
            batch = torch.zeros(x.shape[0], dtype=torch.long)
        n_graphs = int(batch.max()) + 1
        h, pooled = x, []
        for i in range(len(self.layers) + 1):
            pooled.append(torch.zeros(n_graphs, h.shape[1], dtype=h.dtype).index_add_(0, batch, h))
            if i < len(self.layers):
                h = self._layer(self.layers[i], h, edge_index)
        return torch.cat(pooled, dim=1)
