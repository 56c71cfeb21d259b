"""Models: top-k recommenders for implicit feedback and their offline evaluation; multi-task
heads (:mod:`.multitask`) and image encoders (:mod:`.encoders`) are imported from their modules
(they need torch, which the recommenders do not import at package import time)."""

from .evaluate import evaluate_topk, popularity_percentile, relevant_sets
from .recommenders import BPRMF, EASE, Blend, ItemKNN, Popularity, Recommender, interaction_matrix

__all__ = [
    "BPRMF",
    "EASE",
    "Blend",
    "ItemKNN",
    "Popularity",
    "Recommender",
    "evaluate_topk",
    "interaction_matrix",
    "popularity_percentile",
    "relevant_sets",
]
