"""Linear-probe retrieval heads trained on features computed once, for loss and grid comparisons.

:func:`~utils.vision.finetune.finetune_embedder` with ``mode="linear"`` embeds its training
images with the frozen EfficientNet-Lite0 at every call, then trains only the projection head.
Comparing three losses with two settings each that way embeds the same images six times, and the
embedding is almost all the cost. :func:`linear_probe_from_features` takes those 1280-d frozen
features instead (computed once, e.g. with ``TorchEncoder(EfficientNetEmbedder(input_size))``)
and returns the *same* model ``finetune_embedder(images, labels, mode="linear", ...)`` returns:
the weights are seeded the same way and the head is trained by the same loop
(:func:`~utils.models.metric_learning.fit_metric_model`); the tests check that the two agree.

:func:`probe_vectors` applies a trained head to precomputed features, so a gallery embedded once
by the frozen backbone serves every head without another backbone pass (valid because a linear
probe never changes the backbone).
"""

from __future__ import annotations

import numpy as np
import torch

from .._checks import check_positive_int
from .._threads import torch_threads
from ..models.metric_learning import LOSSES, fit_metric_model
from .efficientnet import EMBED_DIM, EfficientNetEmbedder
from .finetune import FineTunedEmbedder

__all__ = ["linear_probe_from_features", "probe_vectors"]


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

    ``features``: (n, 1280) pooled features of the training images from the frozen
    ``EfficientNetEmbedder(input_size)`` (same preprocessing as the images would get);
    ``labels``: (n,) integers, at least 2 classes with 2 images each. The other arguments are
    :func:`~utils.vision.finetune.finetune_embedder`'s. The model is seeded exactly as there
    (``torch.manual_seed(seed)``, then a fresh pretrained embedder and the head), so the returned
    ``FineTunedEmbedder`` maps images to ``dim``-d vectors and can be served or exported as
    usual; ``mode`` is ``"linear"`` and ``loss_history`` the head's mean loss per epoch.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    X = _check_features(features)
    input_size = check_positive_int(input_size, "input_size")
    dim = check_positive_int(dim, "dim")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size < 2:
        raise ValueError("batch_size must be at least 2 (a batch of one has no negative)")
    if isinstance(lr, bool) or not lr > 0:
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"labels must be 1-D with one label per feature row ({X.shape[0]}), got {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(classes) < 2 or counts.min() < 2:
        raise ValueError("labels need at least 2 classes with at least 2 images each")

    with torch_threads(num_threads):
        torch.manual_seed(seed)
        model = FineTunedEmbedder(EfficientNetEmbedder(input_size), dim)
        for p in model.embedder.parameters():
            p.requires_grad_(False)
        fit_metric_model(
            model.head,
            X,
            y_idx,
            loss,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            margin=margin,
            temperature=temperature,
        )
        model.loss_history = model.head.loss_history
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
