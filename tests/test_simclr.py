"""utils.models.simclr.train_simclr: repeatable, learns, rejects bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from utils.models.encoders import DigitCNN
from utils.models.simclr import train_simclr


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    images = torch.rand(64, 1, 28, 28)
    views = torch.stack([images, images.flip(-1), (images + 0.05).clamp(0, 1)])  # (3, 64, ...)
    encoder = DigitCNN(dim=16, width=4)
    head = nn.Sequential(nn.ReLU(), nn.Linear(16, 8))
    return encoder, head, views


def test_train_simclr_is_repeatable_and_learns():
    runs = []
    for _ in range(2):
        encoder, head, views = _setup()
        losses = train_simclr(encoder, head, views, epochs=8, batch_size=16, temperature=0.5)
        runs.append((losses, encoder.proj.weight.detach().clone()))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])
    losses = runs[0][0]
    assert len(losses) == 8 * (64 // 16)
    # collapse sits at log(2N - 1) = log(31) = 3.43; the loss must fall well below its start
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 - 0.3


def test_train_simclr_rows_and_progress():
    encoder, head, views = _setup()
    seen = []
    losses = train_simclr(
        encoder,
        head,
        views,
        epochs=2,
        batch_size=8,
        rows=torch.arange(20),
        progress=lambda r: seen.append(1) or r,
    )
    assert len(losses) == 2 * (20 // 8) and seen == [1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"views": torch.rand(64, 1, 28, 28)}, "n_views, n, C, H, W"),
        ({"views": torch.rand(1, 64, 1, 28, 28)}, "at least 2 views"),
        ({"batch_size": 1}, "at least 2"),
        ({"batch_size": 128}, "at least batch_size"),
        ({"rows": torch.tensor([0, 1, 2, 99])}, "index the bank"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_train_simclr_rejects_bad_input(kwargs, match):
    encoder, head, views = _setup()
    args = {"views": views, "epochs": 1, "batch_size": 4} | kwargs
    with pytest.raises(ValueError, match=match):
        train_simclr(encoder, head, args.pop("views"), **args)
