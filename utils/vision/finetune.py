"""Fine-tune the pretrained EfficientNet-Lite0 into a retrieval embedding, three ways.

:func:`finetune_embedder` adds a linear projection head (1280 -> ``dim``) and trains it with one
of the book's metric-learning losses (:data:`utils.models.metric_learning.LOSSES`, the loop of
:func:`~utils.models.metric_learning.fit_metric_model`), training more or less of the backbone:

- ``"linear"``: only the head (a *linear probe* for retrieval). The 1280-d features are computed
  once, without gradients, so an epoch costs a matrix product;
- ``"last_block"``: the last MBConv block, the 1x1 head convolution and its batch norm, plus the
  projection. The input of the last block is computed once for every training image;
- ``"full"``: every layer, on the images, at ``backbone_lr`` (10x smaller than the head's by
  default, the usual guard against wiping out what pretraining learnt).

Batch-norm layers of the backbone stay in eval mode (their ImageNet running statistics are kept):
with batches of 64 images from ten classes their batch statistics would be noisy, the standard
practice when fine-tuning on small batches. The result is an ``nn.Module`` from images in [0, 1]
to ``dim``-d vectors, so it wraps in :class:`utils.image_search.TorchEncoder` and exports to ONNX
like the frozen :class:`~utils.vision.efficientnet.EfficientNetEmbedder`.

:func:`linear_probe_from_features` trains the same ``"linear"`` model from features computed
once (to compare losses without re-embedding), and :func:`probe_vectors` applies its head to
precomputed gallery features.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._checks import check_choice, check_positive_int
from .._threads import torch_threads
from ..image_search import TorchEncoder, check_images
from ..models.metric_learning import LOSSES, fit_metric_model
from .efficientnet import EMBED_DIM, EfficientNetEmbedder

__all__ = [
    "MODES",
    "FineTunedEmbedder",
    "finetune_embedder",
    "linear_probe_from_features",
    "probe_vectors",
]

MODES = ("linear", "last_block", "full")


class FineTunedEmbedder(nn.Module):
    """A pretrained embedder followed by a linear projection: images -> ``dim``-d vectors."""

    def __init__(self, embedder: EfficientNetEmbedder, dim: int) -> None:
        super().__init__()
        self.embedder = embedder
        self.head = nn.Linear(EMBED_DIM, dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedder(images))


class _Top(nn.Module):
    """The part of the network after a frozen trunk (for ``"last_block"``)."""

    def __init__(self, model: FineTunedEmbedder) -> None:
        super().__init__()
        self.model = model
        bb = model.embedder.backbone
        self.block, self.conv_head, self.bn1, self.act = (
            bb._blocks[-1],
            bb._conv_head,
            bb._bn1,
            bb._swish,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn1(self.conv_head(self.block(x))))
        return self.model.head(x.mean(dim=(2, 3)))


def _trunk(embedder: EfficientNetEmbedder, images: torch.Tensor) -> torch.Tensor:
    """Input of the last MBConv block (stem + all blocks but the last), no gradients."""
    bb = embedder.backbone
    x = bb._swish(bb._bn0(bb._conv_stem(embedder.preprocess(images))))
    for block in bb._blocks[:-1]:
        x = block(x)
    return x


def _batched(fn, X: torch.Tensor, batch: int = 32) -> torch.Tensor:
    # batches of 32 keep the 64-96 px activations in cache: 2x faster than 128 on one core
    with torch.no_grad():
        return torch.cat([fn(X[s : s + batch]) for s in range(0, len(X), batch)])


def _freeze_bn(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


def finetune_embedder(
    images: object,
    labels: object,
    mode: str = "linear",
    *,
    loss: str = "normsoftmax",
    input_size: int = 64,
    dim: int = 128,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 1e-3,
    backbone_lr: float | None = None,
    temperature: float = 0.2,
    margin: float = 0.2,
    seed: int = 0,
    num_threads: int | None = None,
) -> FineTunedEmbedder:
    """Train a retrieval embedding on labelled images on top of pretrained EfficientNet-Lite0.

    ``images``: (n, H, W), (n, C, H, W) or (n, H, W, C) uint8 or [0, 1] float, C in {1, 3};
    ``labels``: (n,) integers, at least 2 classes with 2 images each. ``mode``: see the module
    docstring. ``backbone_lr`` (``"last_block"`` and ``"full"``) defaults to ``lr / 10``.
    ``num_threads``: torch intra-op threads while training (``None``: torch's setting).
    Deterministic for a given seed and thread count. Returns the model in eval mode with
    ``loss_history`` and ``mode``.
    """
    mode = check_choice(mode, "mode", MODES)
    X = torch.from_numpy(np.ascontiguousarray(TorchEncoder.to_nchw(check_images(images))))
    if X.ndim != 4 or X.shape[1] not in (1, 3):
        raise ValueError(f"images must be grey or RGB images, got shape {tuple(X.shape)}")
    input_size, dim, epochs, batch_size, y_idx = _check_training(
        labels, X.shape[0], "image", input_size, dim, epochs, batch_size, lr, backbone_lr
    )
    blr = lr / 10 if backbone_lr is None else backbone_lr

    with torch_threads(num_threads):
        torch.manual_seed(seed)
        model = FineTunedEmbedder(EfficientNetEmbedder(input_size), dim)
        for p in model.embedder.parameters():
            p.requires_grad_(mode == "full")
        kwargs = _loop_kwargs(epochs, batch_size, lr, seed, margin, temperature)
        if mode == "linear":
            _fit_head(model, _batched(model.embedder, X), y_idx, loss, kwargs)
        elif mode == "last_block":
            top = _Top(model)
            for p in (*top.block.parameters(), *top.conv_head.parameters(), *top.bn1.parameters()):
                p.requires_grad_(True)
            inputs = _batched(lambda b: _trunk(model.embedder, b), X)
            backbone = [*top.block.parameters(), *top.conv_head.parameters(), *top.bn1.parameters()]
            groups = [{"params": model.head.parameters()}, {"params": backbone, "lr": blr}]
            _train_frozen_bn(top, inputs, y_idx, loss, groups, kwargs)
            model.loss_history = top.loss_history
        else:
            groups = [
                {"params": model.head.parameters()},
                {"params": model.embedder.parameters(), "lr": blr},
            ]
            _train_frozen_bn(model, X, y_idx, loss, groups, kwargs)
        for p in model.parameters():
            p.requires_grad_(False)
    model.mode = mode
    return model.eval()


def _train_frozen_bn(module, X, y_idx, loss, groups, kwargs) -> None:
    """fit_metric_model with the backbone's batch-norm statistics kept (train() then BN eval)."""
    train = module.train

    def train_keep_bn(flag: bool = True):
        out = train(flag)
        if flag:
            _freeze_bn(module)
        return out

    module.train = train_keep_bn
    try:
        fit_metric_model(module, X, y_idx, loss, param_groups=groups, **kwargs)
    finally:
        del module.train


def _check_training(labels, n, what, input_size, dim, epochs, batch_size, lr, backbone_lr=None):
    """Shared argument checks; returns the validated ints and the class indices of ``labels``."""
    input_size = check_positive_int(input_size, "input_size")
    dim = check_positive_int(dim, "dim")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size < 2:
        raise ValueError("batch_size must be at least 2 (a batch of one has no negative)")
    for name, value in (("lr", lr), ("backbone_lr", backbone_lr)):
        if value is not None and (isinstance(value, bool) or not value > 0):
            raise ValueError(f"{name} must be a number > 0, got {value!r}")
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"labels must be 1-D with one label per {what} ({n}), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(classes) < 2 or counts.min() < 2:
        raise ValueError("labels need at least 2 classes with at least 2 images each")
    return input_size, dim, epochs, batch_size, y_idx


def _loop_kwargs(epochs, batch_size, lr, seed, margin, temperature) -> dict:
    """The keyword arguments every mode passes to ``fit_metric_model``."""
    return dict(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        margin=margin,
        temperature=temperature,
    )


def _fit_head(model: FineTunedEmbedder, feats: torch.Tensor, y_idx, loss: str, kwargs) -> None:
    """Train only the projection head on frozen 1280-d features (the ``"linear"`` mode)."""
    fit_metric_model(model.head, feats, y_idx, loss, **kwargs)
    model.loss_history = model.head.loss_history


def _check_features(features: object, name: str = "features") -> torch.Tensor:
    if type(features).__module__.startswith("torch"):
        features = features.detach().cpu().numpy()
    arr = np.asarray(features)
    if arr.ndim != 2 or arr.shape[1] != EMBED_DIM:
        raise ValueError(
            f"{name} must be (n, {EMBED_DIM}) EfficientNet-Lite0 features, got shape {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name} must hold float features, got dtype {arr.dtype}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one row")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def linear_probe_from_features(
    features: object,
    labels: object,
    *,
    loss: str = "normsoftmax",
    input_size: int = 64,
    dim: int = 128,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 1e-3,
    temperature: float = 0.2,
    margin: float = 0.2,
    seed: int = 0,
    num_threads: int | None = None,
) -> FineTunedEmbedder:
    """``finetune_embedder(images, labels, mode="linear", ...)`` from precomputed features.

    Comparing several losses or settings embeds the same training images once per call with
    :func:`finetune_embedder`; the embedding is almost all the cost. Here ``features`` are the
    (n, 1280) pooled features of the training images from the frozen
    ``EfficientNetEmbedder(input_size)`` (same preprocessing), computed once. The model is seeded
    and trained exactly as in :func:`finetune_embedder` (the tests check the two agree), so the
    returned ``FineTunedEmbedder`` maps images to ``dim``-d vectors and serves or exports as usual.
    """
    loss = check_choice(loss, "loss", LOSSES)
    X = _check_features(features)
    input_size, dim, epochs, batch_size, y_idx = _check_training(
        labels, X.shape[0], "feature row", input_size, dim, epochs, batch_size, lr
    )
    kwargs = _loop_kwargs(epochs, batch_size, lr, seed, margin, temperature)
    with torch_threads(num_threads):
        torch.manual_seed(seed)
        model = FineTunedEmbedder(EfficientNetEmbedder(input_size), dim)
        for p in model.embedder.parameters():
            p.requires_grad_(False)
        _fit_head(model, X, y_idx, loss, kwargs)
        for p in model.parameters():
            p.requires_grad_(False)
    model.mode = "linear"
    return model.eval()


def probe_vectors(model: FineTunedEmbedder, features: object) -> np.ndarray:
    """The head of a linear probe applied to precomputed frozen features: (n, 1280) -> (n, dim).

    Equal to embedding the images with ``model`` itself (up to float rounding) when ``features``
    come from the same frozen embedder, because a linear probe leaves the backbone untouched.
    """
    if not isinstance(model, FineTunedEmbedder):
        raise TypeError(f"model must be a FineTunedEmbedder, got {type(model).__name__}")
    if getattr(model, "mode", None) != "linear":
        raise ValueError(
            "model must be a linear probe (mode 'linear'): a trained backbone gives other features"
        )
    X = _check_features(features)
    with torch.no_grad():
        return model.head(X).numpy()
