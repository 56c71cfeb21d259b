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

Models live in their own modules (``walks``, ``sgns``, ``gcn``, ``sage``, ``gat``, ``wl``,
``hetero``, ``kge``, ``linkpred``); import them from there.
"""

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
from .train import encode, encoder_scorer, train_link_encoder

__all__ = [
    "CSRGraph",
    "LinkSplit",
    "Phase",
    "ScoreFn",
    "adamic_adar",
    "common_neighbours",
    "embedding_scorer",
    "encode",
    "encoder_scorer",
    "evaluate_link_prediction",
    "jaccard",
    "katz",
    "link_prediction_ranks",
    "pair_features",
    "per_source_metrics",
    "personalized_pagerank",
    "resource_allocation",
    "temporal_link_split",
    "train_link_encoder",
]
