"""SimCLR's training loop (Chen et al., ICML 2020) over a bank of precomputed augmented views.

Augmenting 28x28 digits one by one costs more than a training step on them, so the labs draw
``V`` views per image once (:func:`utils.augment.augment_views` gives a ``(V, n, C, H, W)``
bank) and every step pairs two *different* views of each image in the batch: ``V (V - 1)``
ordered pairs per image instead of fresh augmentations. The loss is NT-Xent
(:func:`utils.losses.nt_xent_loss`) on the projection head's output ``g(h)``; the encoder's
output ``h`` is the representation kept afterwards.

The caller builds (and seeds) the encoder and the head; the batches and view pairs come from
torch's global generator, so ``torch.manual_seed`` before the call makes the run repeatable.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_positive_int
from ..losses import nt_xent_loss

__all__ = ["train_simclr"]


def train_simclr(
    encoder: nn.Module,
    head: nn.Module,
    views: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    temperature: float = 0.1,
    lr: float = 3e-3,
    rows: torch.Tensor | None = None,
    progress=None,
) -> list[float]:
    """Train ``encoder`` and ``head`` in place with Adam; return the loss of every step.

    ``views``: (V, n, C, H, W) with V >= 2 views of n images; ``rows``: the images (indices
    into the bank's second axis) to train on, default all. Each epoch shuffles ``rows`` and
    drops the last incomplete batch. ``progress``: optional wrapper for the epoch range (e.g.
    ``functools.partial(tqdm, desc=...)``).
    """
    if not isinstance(views, torch.Tensor) or views.ndim != 5:
        raise ValueError("views must be a (n_views, n, C, H, W) tensor; see augment_views")
    n_views, n = views.shape[:2]
    if n_views < 2:
        raise ValueError(f"views needs at least 2 views per image, got {n_views}")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size < 2:
        raise ValueError("batch_size must be at least 2 (a batch of one has no negative)")
    rows = torch.arange(n) if rows is None else torch.as_tensor(rows, dtype=torch.long)
    if rows.ndim != 1 or len(rows) < batch_size:
        raise ValueError(f"rows must be 1-D with at least batch_size={batch_size} entries")
    if rows.min() < 0 or rows.max() >= n:
        raise ValueError(f"rows must index the bank's {n} images")
    params = [*encoder.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    losses: list[float] = []
    epoch_range = range(epochs) if progress is None else progress(range(epochs))
    for _ in epoch_range:
        encoder.train()
        head.train()
        order = rows[torch.randperm(len(rows))]
        for start in range(0, len(order) - batch_size + 1, batch_size):
            batch = order[start : start + batch_size]
            a = torch.randint(0, n_views, (len(batch),))
            b = (a + torch.randint(1, n_views, (len(batch),))) % n_views  # another view
            loss = nt_xent_loss(
                head(encoder(views[a, batch])), head(encoder(views[b, batch])), temperature
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses
