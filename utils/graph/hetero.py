"""Heterogeneous graphs: typed nodes, typed relations, R-GCN and a light HGT-style layer.

R-GCN (Schlichtkrull et al. 2018, eq. 2) gives every relation r its own weight matrix and
normalises by the per-relation in-degree c_{i,r} = |N_i^r|:

    h_i' = W_0 h_i + b + sum_r sum_{j in N_i^r} (1 / c_{i,r}) W_r h_j

With many relations the W_r overfit and cost R * d_in * d_out parameters, so the paper shares
them through a basis decomposition (eq. 3): W_r = sum_{b=1..B} a_{rb} V_b, with B bases shared
by all relations and R * B coefficients. This matches ``torch_geometric.nn.RGCNConv`` with
``aggr="mean"``, ``root_weight=True`` and ``num_bases=B``.

The HGT-style layer (Hu et al. 2020, "Heterogeneous Graph Transformer") keeps type-specific
key/query/value projections K_tau, Q_tau, V_tau for each node type tau and relation-specific
matrices W_att_phi, W_msg_phi and a prior mu_phi per attention head for each relation phi:

    att(s, e, t) = softmax over the in-edges of t of
                   K_tau(s)(h_s) W_att_phi Q_tau(t)(h_t)^T * mu_phi / sqrt(d_k)
    h_t' = A_tau(t)( GELU( sum_{(s,e)} att(s, e, t) * V_tau(s)(h_s) W_msg_phi ) ) + h_t

(the paper's relative temporal encoding is left out). Attention is normalised over the target's
neighbours of *every* relation, so relations compete for the target's attention.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "RGCN",
    "HGTLayer",
    "RGCNLayer",
    "RelationalGraph",
    "fit_node_classifier",
    "prune_leaves",
    "relational_adjacency",
    "to_relational",
]


class RelationalGraph(NamedTuple):
    """A heterogeneous graph flattened to one id space.

    Node ``offsets[t] + i`` is node ``i`` of type ``t``; ``node_type[v]`` indexes ``type_names``;
    edge ``e`` runs ``edge_index[0, e] -> edge_index[1, e]`` with relation ``edge_type[e]``
    (an index into ``relation_names``)."""

    n_nodes: int
    node_type: np.ndarray
    type_names: list[str]
    offsets: dict[str, int]
    edge_index: np.ndarray
    edge_type: np.ndarray
    relation_names: list[str]

    def nodes_of(self, type_name: str) -> np.ndarray:
        """Global ids of the nodes of one type."""
        if type_name not in self.offsets:
            raise ValueError(f"unknown type_name {type_name!r}; expected one of {self.type_names}")
        return np.flatnonzero(self.node_type == self.type_names.index(type_name))

    def homogeneous(self) -> RelationalGraph:
        """The same edges with one relation type: what a plain GNN sees."""
        return self._replace(edge_type=np.zeros_like(self.edge_type), relation_names=["any"])


def to_relational(
    hg: object, *, drop_relations: tuple[str, ...] = (), add_reverse: bool = True
) -> RelationalGraph:
    """Flatten a ``HeteroGraph`` (``nodes``: type -> names, ``edges``: (src_type, relation,
    dst_type) -> DataFrame(src, dst)) into a :class:`RelationalGraph`.

    ``drop_relations`` removes relations by name (e.g. the one that holds the labels);
    ``add_reverse`` adds ``rev_<relation>`` edges so that messages flow both ways, as R-GCN does
    for directed knowledge graphs."""
    nodes = getattr(hg, "nodes", None)
    edges = getattr(hg, "edges", None)
    if not isinstance(nodes, dict) or not isinstance(edges, dict):
        raise TypeError("hg must have dict attributes nodes and edges (a HeteroGraph)")
    if not nodes:
        raise ValueError("hg has no node types")
    known = {rel for (_, rel, _) in edges}
    unknown = set(drop_relations) - known
    if unknown:
        raise ValueError(
            f"drop_relations names unknown relations {sorted(unknown)}; known {sorted(known)}"
        )
    type_names = list(nodes)
    offsets, node_type, start = {}, [], 0
    for i, t in enumerate(type_names):
        offsets[t] = start
        node_type.append(np.full(len(nodes[t]), i, dtype=np.int64))
        start += len(nodes[t])
    srcs, dsts, types, rel_names = [], [], [], []
    for (st, rel, dt), df in edges.items():
        if rel in drop_relations:
            continue
        if st not in offsets or dt not in offsets:
            raise ValueError(f"edge type {(st, rel, dt)} names a node type that hg.nodes lacks")
        s = df["src"].to_numpy(np.int64) + offsets[st]
        d = df["dst"].to_numpy(np.int64) + offsets[dt]
        for name, a, b in [(rel, s, d)] + ([(f"rev_{rel}", d, s)] if add_reverse else []):
            rel_names.append(name)
            srcs.append(a)
            dsts.append(b)
            types.append(np.full(len(a), len(rel_names) - 1, dtype=np.int64))
    if not srcs:
        raise ValueError("no relations left after drop_relations")
    return RelationalGraph(
        n_nodes=start,
        node_type=np.concatenate(node_type),
        type_names=type_names,
        offsets=offsets,
        edge_index=np.stack([np.concatenate(srcs), np.concatenate(dsts)]),
        edge_type=np.concatenate(types),
        relation_names=rel_names,
    )


def prune_leaves(hg: object, keep_type: str, min_degree: int = 2) -> object:
    """Drop nodes of every type except ``keep_type`` that touch fewer than ``min_degree`` edges.

    An actor who appears in one film connects nothing to anything else; in a transductive model
    its learned embedding gets gradient only from that film, which is noise for the film's
    held-out neighbours. Returns a HeteroGraph of the same class, with ids renumbered."""
    nodes, edges = hg.nodes, hg.edges
    if keep_type not in nodes:
        raise ValueError(f"unknown keep_type {keep_type!r}; expected one of {list(nodes)}")
    if isinstance(min_degree, bool) or not isinstance(min_degree, int) or min_degree < 1:
        raise ValueError(f"min_degree must be a positive int, got {min_degree!r}")
    deg = {t: np.zeros(len(v), dtype=np.int64) for t, v in nodes.items()}
    for (st, _, dt), df in edges.items():
        deg[st] += np.bincount(df["src"].to_numpy(), minlength=len(nodes[st]))
        deg[dt] += np.bincount(df["dst"].to_numpy(), minlength=len(nodes[dt]))
    keep = {
        t: (np.ones(len(v), bool) if t == keep_type else deg[t] >= min_degree)
        for t, v in nodes.items()
    }
    new_id = {t: np.cumsum(k) - 1 for t, k in keep.items()}
    new_nodes = {t: np.asarray(v)[keep[t]] for t, v in nodes.items()}
    new_edges = {}
    for (st, rel, dt), df in edges.items():
        s, d = df["src"].to_numpy(), df["dst"].to_numpy()
        m = keep[st][s] & keep[dt][d]
        new_edges[(st, rel, dt)] = pd.DataFrame({"src": new_id[st][s[m]], "dst": new_id[dt][d[m]]})
    return type(hg)(new_nodes, new_edges)


def _as_long(a: object, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a)
    if t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name} must hold integers, got {t.dtype}")
    return t.long()


def relational_adjacency(
    edge_index: torch.Tensor, edge_type: torch.Tensor, n_nodes: int, n_relations: int
) -> torch.Tensor:
    """Sparse [n_nodes, n_nodes * n_relations] matrix whose entry (i, j * R + r) is
    (number of r-edges j -> i) / c_{i,r}. Its product with the [n_nodes * R, d] matrix whose
    row j * R + r is h_j W_r (that is, ``(X @ [W_1 | ... | W_R]).reshape(n * R, d)``) is
    sum_r sum_{j in N_i^r} W_r h_j / c_{i,r}: R-GCN's message term in one sparse product."""
    src, dst = edge_index
    key = dst * n_relations + edge_type
    count = torch.bincount(key, minlength=n_nodes * n_relations).to(torch.float32)
    vals = 1.0 / count[key]
    idx = torch.stack([dst, src * n_relations + edge_type])
    return torch.sparse_coo_tensor(idx, vals, (n_nodes, n_relations * n_nodes)).coalesce()


class _SpMM(torch.autograd.Function):
    """A @ X with a precomputed CSR transpose for the backward pass (torch's own COO backward
    re-sorts A^T on every call, which dominated the lab's training time)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, a_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.a_t = a_t
        return torch.sparse.mm(a, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, None, torch.sparse.mm(ctx.a_t, grad)


def _edge_key(edge_index: torch.Tensor, edge_type: torch.Tensor, n: int, r: int) -> tuple:
    w = torch.arange(1, edge_type.numel() + 1, dtype=torch.int64) % 9973
    check = int(((edge_index[0] * 31 + edge_index[1] * 17 + edge_type * 7) * w).sum())
    return (n, r, edge_type.numel(), check)


class RGCNLayer(nn.Module):
    """One R-GCN layer (Schlichtkrull et al. 2018, eqs. 2-3); see the module docstring.

    ``n_bases=None`` gives every relation a full matrix; otherwise W_r = sum_b comp[r, b] V_b.
    Messages x_j W_r are averaged per (target, relation) and summed over relations."""

    def __init__(
        self,
        d_in: int,
        d_out: int,
        n_relations: int,
        *,
        n_bases: int | None = None,
        self_loop: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        for name, v in (("d_in", d_in), ("d_out", d_out), ("n_relations", n_relations)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if n_bases is not None and (not isinstance(n_bases, int) or not 1 <= n_bases):
            raise ValueError(f"n_bases must be a positive int or None, got {n_bases!r}")
        self.d_in, self.d_out, self.n_relations, self.n_bases = d_in, d_out, n_relations, n_bases
        if n_bases is None:
            self.weight = nn.Parameter(torch.empty(n_relations, d_in, d_out))
            self.comp = None
        else:
            self.weight = nn.Parameter(torch.empty(n_bases, d_in, d_out))  # the bases V_b
            self.comp = nn.Parameter(torch.empty(n_relations, n_bases))
        self.root = nn.Parameter(torch.empty(d_in, d_out)) if self_loop else None
        self.bias = nn.Parameter(torch.zeros(d_out)) if bias else None
        self._adj_cache: tuple | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.d_in)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.comp is not None:
            nn.init.uniform_(self.comp, -1.0, 1.0)
        if self.root is not None:
            nn.init.uniform_(self.root, -bound, bound)

    def relation_weights(self) -> torch.Tensor:
        """W_r for every relation, shape [n_relations, d_in, d_out]."""
        if self.comp is None:
            return self.weight
        return torch.einsum("rb,bio->rio", self.comp, self.weight)

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_type: torch.Tensor
    ) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.d_in:
            raise ValueError(f"x must be a tensor of shape [n_nodes, {self.d_in}]")
        edge_index = _as_long(edge_index, "edge_index")
        edge_type = _as_long(edge_type, "edge_type")
        if edge_index.ndim != 2 or edge_index.shape[0] != 2:
            raise ValueError(f"edge_index must have shape [2, E], got {tuple(edge_index.shape)}")
        if edge_type.shape != (edge_index.shape[1],):
            raise ValueError("edge_type must have one entry per edge")
        n = x.shape[0]
        if edge_index.numel() and (edge_index.min() < 0 or edge_index.max() >= n):
            raise ValueError(f"edge_index holds node ids outside [0, {n})")
        if edge_type.numel() and (edge_type.min() < 0 or edge_type.max() >= self.n_relations):
            raise ValueError(f"edge_type holds relations outside [0, {self.n_relations})")
        key = _edge_key(edge_index, edge_type, n, self.n_relations)
        if self._adj_cache is None or self._adj_cache[0] != key:  # the graph is usually fixed
            adj = relational_adjacency(edge_index, edge_type, n, self.n_relations)
            self._adj_cache = (key, adj.to_sparse_csr(), adj.t().coalesce().to_sparse_csr())
        _, adj, adj_t = self._adj_cache
        w = self.relation_weights()  # [R, d_in, d_out]
        w_cat = w.permute(1, 0, 2).reshape(self.d_in, self.n_relations * self.d_out)
        xw = (x @ w_cat).reshape(n * self.n_relations, self.d_out)
        out = _SpMM.apply(adj, adj_t, xw)  # sum_r A_r X W_r, A_r row-normalised per relation
        if self.root is not None:
            out = out + x @ self.root
        if self.bias is not None:
            out = out + self.bias
        return out


class RGCN(nn.Module):
    """R-GCN node classifier on a :class:`RelationalGraph`.

    Input per node: a learned embedding where ``learn_embedding`` is True (ids with no features:
    actors, directors), plus a linear projection of ``features`` (zeros where a node has none).
    Then ``n_layers`` R-GCN layers (ReLU and dropout between them); the last one outputs logits.
    A node with no learned embedding and no features (a test film with no attributes) starts at
    zero and is described only by what its neighbours send.

    ``labels`` (optional, [n_nodes, n_classes] 0/1) with ``label_known`` (bool [n_nodes]) adds the
    *label trick* (Shi et al. 2021, UniMP): the known labels of training nodes are an input,
    projected like features. ``forward(..., hide=idx)`` zeroes the labels of ``idx``; training
    hides a random part of the training nodes each step and predicts exactly those, so a node
    never sees its own label (see :func:`fit_node_classifier`'s ``label_trick``). Validation and
    test nodes must have ``label_known`` False."""

    def __init__(
        self,
        n_nodes: int,
        n_relations: int,
        d_hidden: int,
        d_out: int,
        *,
        n_layers: int = 2,
        n_bases: int | None = None,
        features: torch.Tensor | None = None,
        learn_embedding: np.ndarray | torch.Tensor | None = None,
        dropout: float = 0.0,
        labels: torch.Tensor | None = None,
        label_known: np.ndarray | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be a positive int, got {n_layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        mask = (
            torch.ones(n_nodes, dtype=torch.bool)
            if learn_embedding is None
            else torch.as_tensor(learn_embedding)
        )
        if mask.shape != (n_nodes,) or mask.dtype != torch.bool:
            raise ValueError(f"learn_embedding must be a bool array of shape ({n_nodes},)")
        self.register_buffer("mask", mask[:, None].float())
        self.embedding = nn.Embedding(n_nodes, d_hidden)
        nn.init.normal_(self.embedding.weight, std=0.1)
        if features is not None:
            features = torch.as_tensor(features, dtype=torch.float32)
            if features.ndim != 2 or features.shape[0] != n_nodes:
                raise ValueError(
                    f"features must have shape [{n_nodes}, f], got {tuple(features.shape)}"
                )
            self.register_buffer("features", features)
            self.project = nn.Linear(features.shape[1], d_hidden)
        else:
            self.features, self.project = None, None
        if labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.float32)
            known = torch.as_tensor(label_known) if label_known is not None else None
            if labels.ndim != 2 or labels.shape[0] != n_nodes:
                raise ValueError(f"labels must have shape [{n_nodes}, n_classes]")
            if known is None or known.shape != (n_nodes,) or known.dtype != torch.bool:
                raise ValueError(f"label_known must be a bool array of shape ({n_nodes},)")
            self.register_buffer("labels", labels * known[:, None].float())
            self.label_proj = nn.Linear(labels.shape[1], d_hidden)
        else:
            self.labels, self.label_proj = None, None
        self.layers = nn.ModuleList(
            RGCNLayer(
                d_hidden, d_out if i == n_layers - 1 else d_hidden, n_relations, n_bases=n_bases
            )
            for i in range(n_layers)
        )
        self.dropout = dropout

    def forward(
        self, edge_index: torch.Tensor, edge_type: torch.Tensor, hide: torch.Tensor | None = None
    ) -> torch.Tensor:
        h = self.embedding.weight * self.mask
        if self.project is not None:
            h = h + self.project(self.features)
        if self.label_proj is not None:
            visible = self.labels
            if hide is not None:
                visible = visible.clone()
                visible[torch.as_tensor(hide, dtype=torch.long)] = 0.0
            h = h + self.label_proj(visible)
        elif hide is not None:
            raise ValueError("hide needs a model built with labels")
        for i, layer in enumerate(self.layers):
            h = F.dropout(h, self.dropout, self.training)
            h = layer(h, edge_index, edge_type)
            if i < len(self.layers) - 1:
                h = F.relu(h)
        return h


class HGTLayer(nn.Module):
    """A light HGT layer (Hu et al. 2020): type-specific K/Q/V, relation-specific attention and
    message matrices with a learned prior per relation and head; softmax over all in-edges of a
    target; a type-specific output projection and a residual connection. See module docstring."""

    def __init__(self, d: int, n_types: int, n_relations: int, n_heads: int = 2) -> None:
        super().__init__()
        for name, v in (
            ("d", d),
            ("n_types", n_types),
            ("n_relations", n_relations),
            ("n_heads", n_heads),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if d % n_heads:
            raise ValueError(f"d={d} must be divisible by n_heads={n_heads}")
        self.d, self.h, self.dk = d, n_heads, d // n_heads
        self.n_types, self.n_relations = n_types, n_relations
        self.k = nn.ModuleList(nn.Linear(d, d) for _ in range(n_types))
        self.q = nn.ModuleList(nn.Linear(d, d) for _ in range(n_types))
        self.v = nn.ModuleList(nn.Linear(d, d) for _ in range(n_types))
        self.a = nn.ModuleList(nn.Linear(d, d) for _ in range(n_types))
        eye = torch.eye(self.dk).repeat(n_relations, n_heads, 1, 1)
        self.w_att = nn.Parameter(eye.clone())
        self.w_msg = nn.Parameter(eye.clone())
        self.mu = nn.Parameter(torch.ones(n_relations, n_heads))

    def _per_type(
        self, mods: nn.ModuleList, x: torch.Tensor, node_type: torch.Tensor
    ) -> torch.Tensor:
        out = torch.zeros_like(x)
        for t in range(self.n_types):
            m = node_type == t
            if bool(m.any()):
                out[m] = mods[t](x[m])
        return out

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_type: torch.Tensor,
        node_type: torch.Tensor,
        *,
        return_attention: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"x must be a tensor of shape [n_nodes, {self.d}]")
        edge_index, edge_type = _as_long(edge_index, "edge_index"), _as_long(edge_type, "edge_type")
        node_type = _as_long(node_type, "node_type")
        n = x.shape[0]
        if node_type.shape != (n,) or (
            n and (node_type.min() < 0 or node_type.max() >= self.n_types)
        ):
            raise ValueError(f"node_type must have shape ({n},) with values in [0, {self.n_types})")
        if edge_type.shape != (edge_index.shape[1],) or (
            edge_type.numel() and (edge_type.min() < 0 or edge_type.max() >= self.n_relations)
        ):
            raise ValueError(f"edge_type must have one value in [0, {self.n_relations}) per edge")
        src, dst = edge_index
        k = self._per_type(self.k, x, node_type).view(n, self.h, self.dk)
        q = self._per_type(self.q, x, node_type).view(n, self.h, self.dk)
        v = self._per_type(self.v, x, node_type).view(n, self.h, self.dk)
        k_e = torch.einsum("ehi,ehij->ehj", k[src], self.w_att[edge_type])
        logits = (k_e * q[dst]).sum(-1) * self.mu[edge_type] / math.sqrt(self.dk)  # [E, H]
        idx = dst[:, None].expand(-1, self.h)
        mx = torch.full((n, self.h), float("-inf")).scatter_reduce(0, idx, logits, reduce="amax")
        ex = torch.exp(logits - mx[dst])
        att = ex / torch.zeros(n, self.h).index_add(0, dst, ex)[dst]
        msg = torch.einsum("ehi,ehij->ehj", v[src], self.w_msg[edge_type]) * att[..., None]
        agg = torch.zeros(n, self.h, self.dk).index_add(0, dst, msg).view(n, self.d)
        out = self._per_type(self.a, F.gelu(agg), node_type) + x
        return (out, att) if return_attention else out


def fit_node_classifier(
    model: nn.Module,
    inputs: tuple,
    y: torch.Tensor,
    train_idx: np.ndarray,
    *,
    val_idx: np.ndarray | None = None,
    epochs: int = 100,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    seed: int = 0,
    multilabel: bool = True,
    patience: int | None = None,
    label_trick: float | None = None,
    eval_every: int = 1,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Full-batch training of ``model(*inputs) -> logits [n_nodes, n_classes]`` on ``train_idx``.

    Loss: binary cross-entropy per label when ``multilabel`` (``y`` a 0/1 float matrix), else
    cross-entropy (``y`` int classes). With ``val_idx`` the validation loss is logged each epoch
    and the weights of the best validation epoch are restored at the end (early stopping after
    ``patience`` validation checks without improvement when given); ``eval_every`` thins the
    validation checks. ``label_trick`` (a fraction in (0, 1)) hides the labels of that random
    share of the training nodes each epoch (``model(*inputs, hide=...)``) and computes the loss
    on those only. Returns (model, history)."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    train_idx = torch.as_tensor(np.asarray(train_idx), dtype=torch.long)
    if train_idx.numel() == 0:
        raise ValueError("train_idx must not be empty")
    if label_trick is not None and not 0.0 < label_trick < 1.0:
        raise ValueError(f"label_trick must be in (0, 1) or None, got {label_trick}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = F.binary_cross_entropy_with_logits if multilabel else F.cross_entropy
    history, best, best_state, stale = [], float("inf"), None, 0
    for epoch in range(epochs):
        model.train()
        opt.zero_grad()
        if label_trick is None:
            target = train_idx
            logits = model(*inputs)
        else:
            perm = train_idx[torch.randperm(len(train_idx), generator=gen)]
            target = perm[: max(1, int(label_trick * len(perm)))]
            logits = model(*inputs, hide=target)
        loss = loss_fn(logits[target], y[target])
        loss.backward()
        opt.step()
        row = {"epoch": epoch, "train_loss": float(loss.detach())}
        if val_idx is not None and (epoch % eval_every == eval_every - 1 or epoch == epochs - 1):
            model.eval()
            with torch.no_grad():
                vl = float(loss_fn(model(*inputs)[val_idx], y[val_idx]))
            row["val_loss"] = vl
            if vl < best:
                best, stale = vl, 0
                best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
            else:
                stale += 1
        history.append(row)
        if patience is not None and stale >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, history
