"""utils.vision: the pretrained EfficientNet-Lite0 embedder, fine-tuning, ONNX cache, MACs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from utils.export import OnnxEncoder, compare_outputs
from utils.image_search import TorchEncoder
from utils.vision.efficientnet import (
    EMBED_DIM,
    EfficientNetEmbedder,
    imagenet_classes,
    load_efficientnet_lite0,
)
from utils.vision.finetune import finetune_embedder
from utils.vision.macs import count_macs
from utils.vision.onnx import cached_onnx


@pytest.fixture(scope="module")
def hopper():
    """matplotlib's photo of Grace Hopper, 224x224 RGB in [0, 1]."""
    import matplotlib.cbook as cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as img:
        arr = np.asarray(img.convert("RGB").resize((224, 224), Image.BILINEAR))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float() / 255.0


def test_pretrained_weights_classify_a_real_photo(hopper):
    classes = imagenet_classes()
    assert len(classes) == 1000 and classes[652] == "military uniform"
    model = EfficientNetEmbedder(224, output="logits")
    with torch.no_grad():
        p = model(hopper).softmax(-1)[0]
    assert classes[int(p.argmax())] == "military uniform"
    # the (x - 127) / 128 scaling the weights were trained with beats ImageNet's mean/std
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    with torch.no_grad():
        bb = model.backbone
        q = bb((hopper - mean) / std).softmax(-1)[0]
    assert float(p[652]) > float(q[652]) + 0.03, (float(p[652]), float(q[652]))


def test_embedder_shapes_grey_equals_rgb_and_preprocessing():
    model = EfficientNetEmbedder(64)
    g = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = model(g)
        b = model(g.expand(-1, 3, -1, -1))
    assert a.shape == (2, EMBED_DIM) and torch.allclose(a, b)
    x = model.preprocess(torch.full((1, 1, 28, 28), 127 / 255))
    assert x.shape == (1, 3, 64, 64) and float(x.abs().max()) < 1e-6
    assert float(model.preprocess(torch.ones(1, 3, 64, 64)).max()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="images must be"):
        model.preprocess(torch.rand(1, 2, 28, 28))


def test_embedder_refuses_swish_and_bad_arguments():
    bb = load_efficientnet_lite0(64)
    bb.set_swish()
    with pytest.raises(ValueError, match="ReLU6"):
        EfficientNetEmbedder(64, backbone=bb)
    with pytest.raises(ValueError, match="output"):
        EfficientNetEmbedder(64, output="probs")
    with pytest.raises(ValueError, match="input_size"):
        load_efficientnet_lite0(16)


def test_count_macs():
    assert count_macs(nn.Linear(10, 5), (1, 10))["total"] == 50
    conv = nn.Conv2d(4, 8, 3, padding=1, groups=2)
    assert count_macs(conv, (2, 4, 5, 5))["conv"] == 8 * 25 * 2 * 9
    macs = count_macs(EfficientNetEmbedder(224, output="logits"), (1, 3, 224, 224))
    assert 3.8e8 < macs["total"] < 4.0e8  # EfficientNet-Lite0: ~0.39 G MACs at 224^2
    with pytest.raises(TypeError, match="module"):
        count_macs("resnet", (1, 3, 8, 8))
    with pytest.raises(ValueError, match="input_shape"):
        count_macs(conv, (0, 4, 5, 5))


def _toy(n_per_class=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n_per_class)
    X = rng.random((2 * n_per_class, 28, 28)).astype(np.float32) * 0.3
    X[y == 1, 8:20, 8:20] += 0.6  # class 1 has a bright square
    return X, y


@pytest.mark.parametrize("mode", ["linear", "last_block", "full"])
def test_finetune_modes_train_what_they_say(mode):
    X, y = _toy()
    ref = EfficientNetEmbedder(32)
    m = finetune_embedder(X, y, mode, input_size=32, dim=8, epochs=2, batch_size=8, lr=1e-2)
    out = TorchEncoder(m)(X)
    assert out.shape == (len(X), 8) and np.isfinite(out).all()
    assert len(m.loss_history) == 2 and m.mode == mode
    bb, rb = m.embedder.backbone, ref.backbone
    stem_same = torch.equal(bb._conv_stem.weight, rb._conv_stem.weight)
    head_same = torch.equal(bb._conv_head.weight, rb._conv_head.weight)
    assert stem_same == (mode != "full")
    assert head_same == (mode == "linear")
    # batch-norm running statistics are ImageNet's in every mode
    assert torch.equal(bb._bn1.running_mean, rb._bn1.running_mean)
    assert all(not p.requires_grad for p in m.parameters())


def test_finetune_is_deterministic_and_checks_arguments():
    X, y = _toy()
    a = finetune_embedder(X, y, "linear", input_size=32, dim=4, epochs=1, batch_size=8, seed=1)
    b = finetune_embedder(X, y, "linear", input_size=32, dim=4, epochs=1, batch_size=8, seed=1)
    assert torch.equal(a.head.weight, b.head.weight)
    with pytest.raises(ValueError, match="mode"):
        finetune_embedder(X, y, "half")
    with pytest.raises(ValueError, match="labels"):
        finetune_embedder(X, y[:-1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        finetune_embedder(X, np.zeros_like(y))
    with pytest.raises(ValueError, match="lr"):
        finetune_embedder(X, y, lr=0)


def test_cached_onnx_matches_torch_and_rebuilds(tmp_path):
    x = np.random.default_rng(0).random((3, 1, 32, 32), dtype=np.float32)
    path = cached_onnx(32, cache=tmp_path)
    ref = TorchEncoder(EfficientNetEmbedder(32))(x)
    assert compare_outputs(ref, OnnxEncoder(path)(x))["min_cosine"] > 0.9999
    assert cached_onnx(32, cache=tmp_path) == path  # reused
    with open(path, "wb") as f:
        f.write(b"garbage")
    assert cached_onnx(32, cache=tmp_path) == path
    assert OnnxEncoder(path)(x).shape == (3, EMBED_DIM)  # rebuilt
    static = cached_onnx(32, "int8_static", calibration=x, cache=tmp_path)
    cos = compare_outputs(ref, OnnxEncoder(static)(x))["mean_cosine"]
    assert 0.9 < cos < 1.0
    with pytest.raises(ValueError, match="calibration"):
        cached_onnx(32, "int8_static", cache=tmp_path)
    with pytest.raises(ValueError, match="calibration"):
        cached_onnx(32, "fp32", calibration=x, cache=tmp_path)
    with pytest.raises(ValueError, match="in_channels"):
        cached_onnx(32, in_channels=2, cache=tmp_path)
    with pytest.raises(ValueError, match="expects"):
        OnnxEncoder(path)(np.zeros((1, 1, 28, 28), dtype=np.float32))
