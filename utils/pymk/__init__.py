"""People You May Know: the part ``book/people_you_may_know`` on the repeat-collaboration graph.

Import from the module path (``from utils.pymk.candidates import fof_candidates``); nothing is
loaded until a module is used (Ray only by ``distributed``, LightGBM only by ``ranker``).

- ``candidates``: friends of friends by sparse products (common neighbours, Adamic-Adar) with a
  hash-sampled hub cap and its 2-hop work, embedding neighbours (exact or any ``utils.ann``
  index), union by best rank, candidate recall, and scored candidates as an evaluator score
  function.
- ``ranker``: ``PYMKRanker``, the two-stage model (FoF, embedding and past-colleague candidates;
  point-in-time pair features with shared crew; LightGBM lambdarank on the previous window).
- ``formation``: where new ties are at formation (hop distance in the graph before the tie),
  degree buckets.
- ``impressions``: negative samplers and a seeded impression/accept simulator.
- ``offline``: nDCG from the evaluator's ranks, feature-group importance, leaky snapshots.
- ``interference``: segments with bootstrap intervals, graph clusters, an A/B simulator with
  spill-over, member vs cluster randomisation.
- ``serving``: per-request FoF, precomputed lists, latency by group, a service on
  ``utils.serving.Pipeline``.
- ``feedback``: cold start from profiles, hub concentration, a PYMK growth simulator (Gini),
  staleness, hidden-tie exposure.
- ``distributed``: partitions, edge cut, incremental refresh, Ray tasks sharded by source.
"""
