"""linear_probe_from_features: probes from precomputed features equal finetune_embedder's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils.image_search import TorchEncoder
from utils.vision.efficientnet import EMBED_DIM, EfficientNetEmbedder
from utils.vision.finetune import finetune_embedder, linear_probe_from_features, probe_vectors

SIZE = 32


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 6)
    # a class-dependent blob on noise, so that the classes are learnable
    images = rng.integers(0, 60, size=(24, 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 4 + 5 * c : 10 + 5 * c, 6:22] = 230
    feats = TorchEncoder(EfficientNetEmbedder(SIZE), batch_size=128, num_threads=1)(images)
    return images, labels, feats


@pytest.mark.parametrize("loss", ["triplet", "infonce", "normsoftmax"])
def test_matches_finetune_embedder_linear(data, loss):
    images, labels, feats = data
    kw = dict(loss=loss, input_size=SIZE, dim=16, epochs=2, batch_size=8, seed=3, num_threads=1)
    ref = finetune_embedder(images, labels, "linear", **kw)
    got = linear_probe_from_features(feats, labels, **kw)
    assert got.mode == "linear" and not got.training
    assert len(got.loss_history) == 2
    np.testing.assert_allclose(got.loss_history, ref.loss_history, rtol=1e-4, atol=1e-5)
    for a, b in zip(got.head.parameters(), ref.head.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert not any(p.requires_grad for p in got.parameters())
    # the head on precomputed features = the whole model on the images
    vec = probe_vectors(got, feats)
    full = TorchEncoder(got, batch_size=128, num_threads=1)(images)
    assert vec.shape == (24, 16)
    np.testing.assert_allclose(vec, full, rtol=1e-4, atol=1e-4)


def test_seed_changes_the_head(data):
    _, labels, feats = data
    a = linear_probe_from_features(feats, labels, input_size=SIZE, dim=8, epochs=1, seed=0)
    b = linear_probe_from_features(feats, labels, input_size=SIZE, dim=8, epochs=1, seed=1)
    assert not torch.equal(a.head.weight, b.head.weight)


def test_bad_input(data):
    _, labels, feats = data
    with pytest.raises(ValueError, match="features must be"):
        linear_probe_from_features(feats[:, :100], labels)
    with pytest.raises(TypeError, match="float"):
        linear_probe_from_features(np.zeros((24, EMBED_DIM), dtype=np.int64), labels)
    bad = feats.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        linear_probe_from_features(bad, labels)
    with pytest.raises(ValueError, match="one label per"):
        linear_probe_from_features(feats, labels[:-1])
    with pytest.raises(TypeError, match="integers"):
        linear_probe_from_features(feats, labels.astype(float))
    with pytest.raises(ValueError, match="2 classes"):
        linear_probe_from_features(feats, np.zeros(24, dtype=int))
    with pytest.raises(ValueError, match="unknown loss"):
        linear_probe_from_features(feats, labels, loss="arcface")
    with pytest.raises(ValueError, match="batch_size"):
        linear_probe_from_features(feats, labels, batch_size=1)
    with pytest.raises(ValueError, match="lr"):
        linear_probe_from_features(feats, labels, lr=0)
    with pytest.raises(TypeError, match="FineTunedEmbedder"):
        probe_vectors(torch.nn.Linear(EMBED_DIM, 4), feats)
    model = finetune_embedder(
        np.zeros((4, 28, 28), np.uint8),
        np.array([0, 0, 1, 1]),
        "linear",
        input_size=SIZE,
        dim=4,
        epochs=1,
    )
    model.mode = "last_block"
    with pytest.raises(ValueError, match="linear probe"):
        probe_vectors(model, feats)
