"""Harmful-content detection (the harmful-content part; import the modules).

- :mod:`.metrics`: operating points fixed by recall (:func:`~.metrics.threshold_at_recall`),
  precision at another prevalence (:func:`~.metrics.precision_at_prevalence`) and Wilson
  intervals for rates measured on few items (:func:`~.metrics.wilson_interval`).
"""
