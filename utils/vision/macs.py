"""Multiply-accumulates (MACs) of one forward pass, counted from the layers that actually run.

:func:`count_macs` runs the module once on a zero batch of one image and adds, through forward
hooks, ``out_elements x (in_channels / groups) x kernel_area`` for every ``Conv2d`` and
``in_features x out_features`` for every ``Linear`` (bias additions, batch norms, activations and
pooling are left out: they are a few percent at most in these networks). One MAC is one multiply
and one add: **two FLOPs**. Vision papers often write "FLOPs" for MACs (ResNet-50's "3.8 x 10^9
FLOPs" in He et al., 2016, are multiply-adds), so check which one a figure means before sizing
hardware with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["count_macs"]


def count_macs(module: nn.Module, input_shape: Sequence[int]) -> dict[str, int]:
    """MACs of ``module`` on one input of ``input_shape`` (e.g. ``(1, 3, 224, 224)``).

    Returns ``{"conv": ..., "linear": ..., "total": ...}`` (ints). The module runs in eval mode
    under ``no_grad`` (its mode is restored).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    shape = tuple(input_shape)
    if len(shape) < 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"input_shape must be positive ints (batch, ...), got {input_shape!r}")
    counts = {"conv": 0, "linear": 0}

    def conv_hook(m: nn.Conv2d, _inp, out) -> None:
        kh, kw = m.kernel_size
        counts["conv"] += out.numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Linear, _inp, out) -> None:
        counts["linear"] += out.numel() * m.in_features

    handles = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(torch.zeros(shape))
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    batch = shape[0]
    out = {k: v // batch for k, v in counts.items()}
    out["total"] = out["conv"] + out["linear"]
    return out
