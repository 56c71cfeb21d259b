"""Search: lexical retrieval, fusion and query simulation for the video-search part.

- :mod:`.bm25`: :func:`~.bm25.tokenize`, :class:`~.bm25.BM25` (Okapi BM25, Lucene variant) and
  :class:`~.bm25.BM25F` (per-field weights and length normalisation), cross-checked against the
  ``bm25s`` package in the tests.
- :mod:`.fusion`: :func:`~.fusion.reciprocal_rank_fusion` (RRF, k = 60) and
  :func:`~.fusion.score_fusion` (weighted min-max or z-score fusion), deterministic ties.
- :mod:`.queries`: a documented query simulator over the real film catalogue
  (:func:`~.queries.simulate_queries`: known-item with typos, partial titles, facets, people,
  vocabulary mismatch through a reviewed thesaurus; graded relevance from the metadata) and a
  position-based click model (:func:`~.queries.simulate_clicks`).
- :mod:`.spell`: query spelling correction over the catalogue's own vocabulary
  (:class:`~.spell.SpellCorrector`: symmetric-delete candidates, optimal-string-alignment
  distance, ties broken by the query's other words).
- :mod:`.engine`: the engine every video-search lab shares: the catalogue sample
  (:func:`~.engine.video_catalogue`), BM25F + MiniLM dense retrieval with RRF
  (:class:`~.engine.VideoSearchEngine`), ranker features, LightGBM lambdarank
  (:func:`~.engine.fit_ranker`) and per-query evaluation (:func:`~.engine.evaluate`).
"""
