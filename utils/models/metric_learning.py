"""Train an image embedding with one of three metric-learning losses (one function).

:func:`train_embedding` trains an encoder on labelled images, either
:class:`utils.models.encoders.SmallCNN` (``arch="smallcnn"``) or :class:`DigitCNN`
(``arch="digitcnn"``, the default), with

- ``"triplet"``: :func:`utils.losses.triplet_semi_hard_loss` (FaceNet, Schroff et al., 2015) on
  shuffled batches; with few classes every batch holds positives for every class;
- ``"infonce"``: :func:`utils.losses.info_nce_loss` (van den Oord et al., 2018) on *supervised
  pairs*: the key of query image ``i`` is another image of the same class, drawn at random from
  the training set (both augmented when ``augment`` is given). A step takes B/2 queries and
  their B/2 keys, so every loss forwards the same B images a step (equal compute). The other
  keys of the batch are the negatives, so a key of the query's own class is a false negative:
  with C balanced classes about 1/C of the negatives (here 10%) collide;
- ``"normsoftmax"``: :func:`utils.losses.normalized_softmax_loss` (Zhai & Wu, 2018), a cosine
  classifier whose class weights are learnt with the encoder and thrown away afterwards.

Why the default encoder is :class:`~utils.models.encoders.DigitCNN`: SmallCNN runs its 3x3
convolutions at full 28x28 and 14x14 resolution (about 4 M multiply-adds an image at width 32)
and then averages the feature map away (global average pooling discards *where* a stroke is,
which is most of what separates a 4 from a 9).
:class:`DigitCNN` downsamples with strided convolutions first and keeps the 7x7 layout in a
linear projection: about 0.4 M multiply-adds an image, one training step on 128 digits ~10x
faster than SmallCNN's on one core (measured), and in our runs a higher mAP@100 in a tenth of
the training time.

Training runs on one intra-op thread (restored afterwards): at 28x28 the convolutions are too
small to split, and on a busy 2-core machine two threads were 5-10x slower than one (measured).

Deterministic: the batches come from ``numpy.random.default_rng(seed)``, the weights and the
augmentations from ``torch.manual_seed(seed)``; at a fixed thread count two calls give the same
model bit for bit. The returned model is in eval mode and carries ``loss_history`` (mean loss
per epoch).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._checks import check_choice, check_positive_int
from .._threads import torch_threads
from ..augment import as_image_batch, augment_views
from ..losses import info_nce_loss, normalized_softmax_loss, triplet_semi_hard_loss
from .encoders import DigitCNN, SmallCNN

__all__ = ["LOSSES", "DigitCNN", "fit_metric_model", "train_embedding"]

LOSSES = ("triplet", "infonce", "normsoftmax")
ARCHS = ("digitcnn", "smallcnn")


def train_embedding(
    images: object,
    labels: object,
    loss: str = "triplet",
    *,
    epochs: int = 8,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    augment=None,
    dim: int = 64,
    width: int = 16,
    margin: float = 0.2,
    temperature: float | None = None,
    arch: str = "digitcnn",
) -> nn.Module:
    """Train ``DigitCNN(1, dim, width)`` (or ``SmallCNN`` with ``arch="smallcnn"``) on (n, 784)
    or (n, 1, 28, 28) images in [0, 1]; returns the encoder (raw, unnormalised outputs).

    ``labels``: (n,) integer class ids (at least 2 classes, each with at least 2 images).
    ``augment``: ``None`` or a per-image transform (e.g. ``utils.augment.digit_augmentations()``)
    applied to every training image, independently for the query and the key of InfoNCE.
    ``temperature``: InfoNCE's or normalised softmax's, default 0.2 for both (chosen on a
    validation split of MNIST-5k in chapter 06's lab, over {0.1, 0.2} and {0.05, 0.2}: Zhai &
    Wu's 0.05 overfits 10 classes); ``margin``: the triplet margin (FaceNet: 0.2 on unit
    vectors). Adam with a constant ``lr``; 8 epochs of a 3,500-image set take ~2-4 s.
    """
    loss = check_choice(loss, "loss", LOSSES)
    arch = check_choice(arch, "arch", ARCHS)
    X = as_image_batch(images)
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"labels must be 1-D with one label per image ({X.shape[0]}), got {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(classes) < 2 or counts.min() < 2:
        raise ValueError("labels need at least 2 classes with at least 2 images each")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size < 2:
        raise ValueError("batch_size must be at least 2 (a batch of one has no negative)")
    if not (isinstance(lr, int | float) and lr > 0):
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    if augment is not None and not callable(augment):
        raise TypeError("augment must be None or a callable transform (image -> image)")
    if temperature is None:
        temperature = 0.2

    with torch_threads(1):  # 28x28 convolutions are too small to split across threads
        torch.manual_seed(seed)
        model = (DigitCNN if arch == "digitcnn" else SmallCNN)(1, dim=dim, width=width)
        return fit_metric_model(
            model,
            X,
            y_idx,
            loss,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            augment=augment,
            margin=margin,
            temperature=temperature,
        )


def fit_metric_model(
    model: nn.Module,
    X: torch.Tensor,
    y_idx: np.ndarray,
    loss: str,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    augment=None,
    margin: float = 0.2,
    temperature: float = 0.2,
    param_groups: list[dict] | None = None,
) -> nn.Module:
    """The training loop of :func:`train_embedding`, for any ``model`` (inputs -> vectors).

    ``X``: a float tensor whose first axis indexes the training rows (images, or features a
    frozen trunk computed once); ``y_idx``: (n,) class indices ``0..C-1``. ``param_groups``
    (optional, Adam's format) replaces ``model.parameters()``, e.g. a smaller learning rate for a
    pretrained backbone; the normalised-softmax proxies always train at ``lr``. Runs on the
    caller's torch thread setting; seeds the batches with ``seed`` (the caller seeds the weights).
    Returns ``model`` in eval mode with ``loss_history`` (mean loss per epoch).
    """
    loss = check_choice(loss, "loss", LOSSES)
    n_classes = int(y_idx.max()) + 1
    dim = None
    rng = np.random.default_rng(seed)
    params = list(param_groups) if param_groups is not None else [{"params": model.parameters()}]
    weight = None
    if loss == "normsoftmax":
        with torch.no_grad():
            was = model.training
            model.eval()
            dim = model(X[:2]).shape[1]
            model.train(was)
        weight = torch.nn.Parameter(torch.randn(n_classes, dim) * 0.1)
        params.append({"params": [weight]})
    opt = torch.optim.Adam(params, lr=lr)
    y_t = torch.from_numpy(y_idx.astype(np.int64))
    by_class = [np.flatnonzero(y_idx == c) for c in range(n_classes)]

    def view(idx: np.ndarray) -> torch.Tensor:
        batch = X[torch.from_numpy(idx)]
        return batch if augment is None else augment_views(batch, 1, augment)[0]

    n = X.shape[0]
    model.loss_history = []
    model.train()
    for _ in range(epochs):
        order = rng.permutation(n)
        total, steps = 0.0, 0
        for start in range(0, n - 1, batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2:
                continue
            if loss == "infonce":
                # B/2 queries + their B/2 same-class keys: B forwards a step, like the others
                q = idx[: max(len(idx) // 2, 2)]
                pairs = zip(q, y_idx[q], strict=True)
                keys = np.array([_other(rng, by_class[c], i) for i, c in pairs])
                both = model(view(np.concatenate([q, keys])))
                value = info_nce_loss(both[: len(q)], both[len(q) :], temperature)
            elif loss == "triplet":
                lab = y_t[idx]
                if len(torch.unique(lab)) == len(lab):  # tiny last batch without a positive
                    continue
                value = triplet_semi_hard_loss(model(view(idx)), lab, margin)
            else:
                value = normalized_softmax_loss(model(view(idx)), y_t[idx], weight, temperature)
            opt.zero_grad()
            value.backward()
            opt.step()
            total += float(value.detach())
            steps += 1
        model.loss_history.append(total / max(steps, 1))
    model.eval()
    return model


def _other(rng: np.random.Generator, members: np.ndarray, i: int) -> int:
    """A random member of ``members`` other than ``i`` (the class has at least 2 images)."""
    while True:
        j = int(members[rng.integers(len(members))])
        if j != i:
            return j
