"""People You May Know: candidate generation, ranking, serving, experiments and scaling on the
repeat-collaboration graph (book part ``book/people_you_may_know``).

Modules: ``candidates`` (friends of friends with hub caps, embedding neighbours, union, recall),
``ranker`` (the two-stage ranker). Import from the module path, e.g.
``from utils.pymk.candidates import fof_candidates``.
"""
