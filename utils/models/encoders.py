"""Image encoders built from torchvision / torch building blocks.

- :class:`SmallCNN`: two conv-BN-ReLU-pool stages (torchvision's ``Conv2dNormActivation``) and a
  linear projection to ``dim`` (about 23k parameters at the defaults; global average pooling
  makes it accept any image size). ``normalize=True`` returns unit vectors (for
  cosine retrieval and contrastive losses).
- :class:`DigitCNN`: two *strided* conv-BN-ReLU stages and a linear projection of the whole 7x7
  feature map (its layout kept, not averaged away): about 0.4 M multiply-adds per 28x28 image,
  a training step ~10x faster than SmallCNN's on one core, and the better retrieval embedding
  for digits, where the position of a stroke separates a 4 from a 9.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import Conv2dNormActivation

from .._checks import check_positive_int


class _ConvEncoder(nn.Module):
    """What the conv encoders share: argument checks, the input check and ``proj(features(x))``,
    L2-normalised when ``normalize``. Subclasses build ``self.features`` and ``self.proj``."""

    def __init__(self, in_channels: int, dim: int, normalize: bool):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.dim = check_positive_int(dim, "dim")
        self.normalize = bool(normalize)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != self.in_channels:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a (batch, {self.in_channels}, H, W) tensor, got {shape}")
        z = self.proj(self.features(x))
        return nn.functional.normalize(z, dim=1) if self.normalize else z


class SmallCNN(_ConvEncoder):
    """(batch, in_channels, H, W) images -> (batch, dim) embeddings."""

    def __init__(
        self, in_channels: int = 1, dim: int = 64, width: int = 32, normalize: bool = False
    ):
        super().__init__(in_channels, dim, normalize)
        width = check_positive_int(width, "width")
        self.features = nn.Sequential(
            Conv2dNormActivation(in_channels, width, kernel_size=3),
            nn.MaxPool2d(2),
            Conv2dNormActivation(width, 2 * width, kernel_size=3),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.proj = nn.Linear(2 * width, dim)


class DigitCNN(_ConvEncoder):
    """(batch, in_channels, H, W) -> (batch, dim): two strided conv-BN-ReLU stages, then a linear
    projection of the whole 7x7 feature map (its layout kept, not averaged away).

    conv 5x5 stride 2 (1 -> width) -> conv 3x3 stride 2 (width -> 2 width) -> adaptive pool to
    7x7 (the identity for 28x28 input) -> flatten (98 width) -> linear to ``dim``. At width 16:
    about 105k parameters and 0.4 M multiply-adds per 28x28 image. Same constructor as SmallCNN.
    """

    def __init__(
        self, in_channels: int = 1, dim: int = 64, width: int = 16, normalize: bool = False
    ):
        super().__init__(in_channels, dim, normalize)
        width = check_positive_int(width, "width")
        self.features = nn.Sequential(
            Conv2dNormActivation(in_channels, width, kernel_size=5, stride=2),
            Conv2dNormActivation(width, 2 * width, kernel_size=3, stride=2),
            nn.AdaptiveAvgPool2d(7),
            nn.Flatten(),
        )
        self.proj = nn.Linear(2 * width * 49, dim)
