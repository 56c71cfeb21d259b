"""Harmful-content detection (the harmful-content part; import the modules).

- :mod:`.metrics`: operating points fixed by recall (:func:`~.metrics.threshold_at_recall`),
  precision at another prevalence (:func:`~.metrics.precision_at_prevalence`) and Wilson
  intervals for rates measured on few items (:func:`~.metrics.wilson_interval`).
- :mod:`.detectors`: the compared detectors (word, character and header n-gram logistic
  regression, MiniLM + logistic regression, LightGBM on metadata stacked with the n-gram scores,
  and a stack of all of them; stacking is nested), out-of-fold scores for every message
  (:func:`~.detectors.oof_scores`, cached) and hard-ham / easy-ham false-positive rates at a
  spam-recall target (:func:`~.detectors.rates_at_recall`).
- :mod:`.perturb`: a seeded obfuscation generator (leetspeak, zero-width characters, homoglyphs,
  spacing, HTML splits; :func:`~.perturb.perturb`) and the defence that undoes what can be undone
  without a dictionary (:func:`~.perturb.normalize`).
- :mod:`.queue`: a seeded discrete-event day of moderation with per-action thresholds and a
  capacity-limited review queue (:func:`~.queue.simulate_moderation_day`): harmful exposure,
  false removals, reviewer utilisation, waits.
- :mod:`.actions`: remove / review / allow thresholds that minimise expected cost on calibrated
  probabilities (:func:`~.actions.cost_thresholds`, :func:`~.actions.decide`) and the cost of a
  policy (:func:`~.actions.policy_cost`; an unknown action is an error that names it).
- :mod:`.audit`: calibration (reliability, ECE, cross-fitted Platt / isotonic, prior shift) and
  prevalence audits (Neyman allocation, stratified estimates with Wald or exact intervals).
- :mod:`.selection`: nested choice of ``C`` for the n-gram models and a paired bootstrap of two
  detectors' false-positive rates with the threshold re-set in every resample.
- :mod:`.traffic`: a day's items drawn from real out-of-fold scores at a chosen prevalence.
- :mod:`.hosting`: servable fitted detectors, per-message and batched latency, and a cascade
  whose uncertain band is set on validation folds.
- :mod:`.hashing`: exact fingerprints, SimHash of text, brute-force Hamming search and exact
  multi-index hashing.
"""
