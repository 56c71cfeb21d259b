"""Data loaders (real data sets, cached) and seeded simulators.

- :func:`load_movielens_100k`: MovieLens-100k ratings, users and items.
- :func:`load_mnist_5k`: 5,000 MNIST digits.
- :func:`load_fashion_mnist`: Fashion-MNIST's 70,000 Zalando product photos (Debian package
  ``dataset-fashion-mnist``), :func:`fashion_retrieval_split` (a class-balanced gallery, query
  and training cut) and :func:`as_product_photo` (dark object on a light background).
- :func:`encode_texts`: MiniLM-L6-v2 sentence embeddings, offline, cached.
- :func:`load_wordpiece_embeddings`: MiniLM's 29.5k learned token vectors (a real ANN set).
- :func:`clustered_vectors` / :func:`uniform_vectors`: seeded vector generators.
- :func:`simulate_position_bias`: impressions and clicks from a position-based click model on
  real ratings (ground truth exposed); :func:`engagement_signals`: watch minutes and likes
  conditioned on real ratings.
- :func:`movielens_clicks`: a click-prediction task (liked = rating >= 4) with user, item and
  point-in-time history features and a per-user temporal split, for the ranking chapters.
- :func:`movielens_side_features`: dense user (demographics) and item (genres, year, MiniLM
  title embedding) features for feature towers.
- :func:`load_sample_photos`: the real photos bundled with scikit-image and scikit-learn (copy
  and near-duplicate detection), with :func:`photo_tiles` and :func:`resize_short_side`.
- :func:`load_films`: the CC0 film database of ``bokeh_sampledata`` (17,470 films, 1940-2014), and
  graphs built from it: :func:`costar_edges`, :func:`collaboration_graph` (repeat
  collaborations, born in the year of the second shared film), :func:`film_hetero_graph`,
  :func:`film_kg_triples`, with per-actor :func:`actor_features` / :func:`actor_profiles` from films
  before a cut-off year.
- :func:`stratified_split`: the benchmark's random split, stratified per item;
  :func:`temporal_split`: a global time cut-off.
"""

from .clicks import GENRE_COLUMNS, ClickTask, movielens_clicks
from .fashion_mnist import (
    FASHION_CLASSES,
    FashionMNIST,
    as_product_photo,
    fashion_retrieval_split,
    fashion_split,
    load_fashion_mnist,
)
from .films import (
    Collaboration,
    CoStar,
    HeteroGraph,
    KGTriples,
    actor_features,
    actor_profiles,
    collaboration_graph,
    costar_edges,
    film_hetero_graph,
    film_kg_triples,
    load_films,
)
from .mnist import load_mnist_5k
from .movielens import GENRES, MovieLens, load_movielens_100k
from .photos import load_sample_photos, photo_tiles, resize_short_side
from .side_features import movielens_item_texts, movielens_side_features
from .spam_assassin import load_spam_assassin, parse_email
from .splits import stratified_split, temporal_split
from .synthetic import (
    attractiveness_from_rating,
    clustered_vectors,
    engagement_signals,
    simulate_position_bias,
    uniform_vectors,
)
from .text import encode_texts, load_wordpiece_embeddings

__all__ = [
    "FASHION_CLASSES",
    "GENRES",
    "GENRE_COLUMNS",
    "ClickTask",
    "CoStar",
    "Collaboration",
    "FashionMNIST",
    "HeteroGraph",
    "KGTriples",
    "MovieLens",
    "actor_features",
    "actor_profiles",
    "as_product_photo",
    "attractiveness_from_rating",
    "clustered_vectors",
    "collaboration_graph",
    "costar_edges",
    "encode_texts",
    "engagement_signals",
    "fashion_retrieval_split",
    "fashion_split",
    "film_hetero_graph",
    "film_kg_triples",
    "load_fashion_mnist",
    "load_films",
    "load_mnist_5k",
    "load_movielens_100k",
    "load_sample_photos",
    "load_spam_assassin",
    "load_wordpiece_embeddings",
    "movielens_clicks",
    "movielens_item_texts",
    "movielens_side_features",
    "parse_email",
    "photo_tiles",
    "resize_short_side",
    "simulate_position_bias",
    "stratified_split",
    "temporal_split",
    "uniform_vectors",
]
