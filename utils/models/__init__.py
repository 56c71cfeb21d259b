"""Models: top-k recommenders for implicit feedback and their offline evaluation."""

from .evaluate import evaluate_topk, popularity_percentile, relevant_sets
from .recommenders import BPRMF, EASE, ItemKNN, Popularity, Recommender, interaction_matrix

__all__ = [
    "BPRMF",
    "EASE",
    "ItemKNN",
    "Popularity",
    "Recommender",
    "evaluate_topk",
    "interaction_matrix",
    "popularity_percentile",
    "relevant_sets",
]
