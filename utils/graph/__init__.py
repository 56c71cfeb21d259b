"""Graph learning: CSR graphs, the temporal link-prediction protocol, heuristics and GNN training.

- :class:`CSRGraph`: compressed sparse row adjacency, with builders and checks.
- :func:`temporal_link_split`: the part's protocol (ties born before 2010 observed, 2010+
  predicted; validation one step earlier: before 2008 observed, 2008-2009 predicted).
- :func:`evaluate_link_prediction`: Hits@K, Recall@K and MRR per source, ranking every
  non-neighbour.
- Heuristics (common neighbours, Jaccard, Adamic-Adar, resource allocation, truncated Katz,
  personalised PageRank) as score functions, :func:`pair_features` for learned scorers, and
  :func:`embedding_scorer`.
- :func:`train_link_encoder`: the shared training loop for GNN encoders (dot-product decoder).

Models live in their own modules and are re-exported here lazily (importing ``utils.graph`` does
not load torch, numba or LightGBM until one of them is used): ``profile`` (graph statistics),
``walks`` and ``sgns`` (DeepWalk/node2vec, SGNS, NetMF), ``gcn``, ``sage``, ``gat`` (GNN layers and
their link-prediction fits), ``wl`` (WL test, GIN), ``hetero`` (R-GCN, HGT), ``kge`` (TransE,
RotatE), ``linkpred`` (the candidate + learned-ranker model) and ``benchmark`` (every method of
the part on one protocol).
"""

import importlib

from .csr import CSRGraph
from .evaluate import ScoreFn, evaluate_link_prediction, link_prediction_ranks, per_source_metrics
from .heuristics import (
    adamic_adar,
    common_neighbours,
    embedding_scorer,
    jaccard,
    katz,
    pair_features,
    personalized_pagerank,
    resource_allocation,
)
from .splits import LinkSplit, Phase, temporal_link_split

_LAZY = {
    "train": ("encode", "encoder_scorer", "train_link_encoder"),
    "profile": (
        "clustering",
        "components",
        "degree_ccdf",
        "fit_degree_tail",
        "growth_by_year",
        "mixing",
        "neighbour_vote_accuracy",
        "pair_distances",
        "random_tie_split",
        "representation_bytes",
    ),
    "walks": ("node2vec_walks", "random_walks", "transition_probabilities", "walk_statistics"),
    "sgns": ("fit_node2vec", "netmf_embedding", "train_sgns"),
    "gcn": ("GCNConv", "GCNEncoder", "fit_gcn", "train_gcn"),
    "sage": ("NeighborSampler", "SAGE", "SAGEConv", "fit_graphsage", "sample_neighbors"),
    "gat": ("GATConv", "GATEncoder", "GATv2Conv", "attention_weights", "fit_gat"),
    "wl": ("GIN", "GINLayer", "wl_distinguishes", "wl_refine"),
    "hetero": ("HGTLayer", "RGCN", "RGCNLayer"),
    "kge": ("RotatE", "TransE", "filtered_ranks", "train_kge"),
    "linkpred": ("fit_structural", "candidate_pairs", "pair_feature_matrix"),
    "benchmark": ("run_benchmark", "run_method", "summarize"),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'utils.graph' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = [
    "CSRGraph",
    "LinkSplit",
    "Phase",
    "ScoreFn",
    "adamic_adar",
    "common_neighbours",
    "embedding_scorer",
    "evaluate_link_prediction",
    "jaccard",
    "katz",
    "link_prediction_ranks",
    "pair_features",
    "per_source_metrics",
    "personalized_pagerank",
    "resource_allocation",
    "temporal_link_split",
    *_WHERE,
]
