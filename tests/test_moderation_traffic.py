"""utils.moderation.traffic: a stream at a chosen prevalence from a labelled pool of scores."""

from __future__ import annotations

import numpy as np
import pytest

from utils.moderation.traffic import sample_traffic


def test_sample_traffic_prevalence_and_classes():
    scores = np.r_[np.linspace(0.6, 1.0, 30), np.linspace(0.0, 0.5, 70)]
    labels = np.r_[np.ones(30, int), np.zeros(70, int)]
    h, s, src = sample_traffic(scores, labels, 50_000, 0.02, seed=1)
    assert h.shape == s.shape == src.shape == (50_000,)
    assert abs(h.mean() - 0.02) < 0.003
    assert (labels[src] == h).all() and np.array_equal(scores[src], s)
    assert (s[h == 1] >= 0.6).all() and (s[h == 0] <= 0.5).all()
    h2, s2, _ = sample_traffic(scores, labels, 50_000, 0.02, seed=1)
    assert np.array_equal(h, h2) and np.array_equal(s, s2)


def test_sample_traffic_rejects_bad_input():
    s, y = np.array([0.1, 0.9]), np.array([0, 1])
    with pytest.raises(ValueError, match="prevalence"):
        sample_traffic(s, y, 10, 0.0)
    with pytest.raises(ValueError, match="n_items"):
        sample_traffic(s, y, 0, 0.1)
    with pytest.raises(ValueError, match="both"):
        sample_traffic(s, np.array([1, 1]), 10, 0.1)
    with pytest.raises(ValueError, match="finite"):
        sample_traffic(np.array([np.nan, 0.9]), y, 10, 0.1)
    with pytest.raises(ValueError, match="one length"):
        sample_traffic(s, np.array([0, 1, 1]), 10, 0.1)
    with pytest.raises(ValueError, match="labels"):
        sample_traffic(s, np.array([0, 2]), 10, 0.1)
