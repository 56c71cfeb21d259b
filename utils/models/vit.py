"""A tiny Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021).

- :class:`TinyViT`: an image is cut into non-overlapping ``P x P`` patches by a convolution with
  kernel = stride = ``P`` (one linear projection per patch), a learnable ``[CLS]`` token is
  prepended, learnable position embeddings are added, and ``depth`` pre-norm transformer encoder
  blocks (``x + MSA(LN(x))``, then ``x + MLP(LN(x))``, torch's ``TransformerEncoderLayer`` with
  ``norm_first=True``) mix the ``N + 1`` tokens, ``N = (H / P) * (W / P)``. The final
  LayerNorm'd ``[CLS]`` token is the image embedding; a linear head on it gives class logits.
- :func:`vit_macs`: multiply-accumulates of one forward pass, per component. Per block,
  ``12 N d^2`` for the QKV/output projections and a ``4d`` MLP (``2 N d m`` in general) plus
  ``2 N^2 d`` for ``Q K^T`` and ``A V``: linear in the token count for the projections,
  quadratic for attention. Vision papers quote MACs as "FLOPs" (ViT-B/16 at 224^2 is about
  17.6 G of them); a hardware FLOP count is twice that.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_positive_int


class TinyViT(nn.Module):
    """(batch, in_channels, image_size, image_size) images -> (batch, n_classes) logits.

    With ``n_classes=None`` the model returns the ``dim``-dimensional ``[CLS]`` embedding instead
    (a backbone for self-supervised training). ``features(x)`` always returns the embedding.
    """

    def __init__(
        self,
        image_size: int = 28,
        patch_size: int = 7,
        in_channels: int = 1,
        dim: int = 64,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        n_classes: int | None = 10,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.image_size = check_positive_int(image_size, "image_size")
        self.patch_size = check_positive_int(patch_size, "patch_size")
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.dim = check_positive_int(dim, "dim")
        depth = check_positive_int(depth, "depth")
        heads = check_positive_int(heads, "heads")
        if image_size % patch_size:
            raise ValueError(
                f"image_size={image_size} must be divisible by patch_size={patch_size}"
            )
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        if not mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be positive, got {mlp_ratio}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.n_patches = (image_size // patch_size) ** 2
        self.patch_embed = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.n_patches + 1, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d_model=dim,
                nhead=heads,
                dim_feedforward=round(mlp_ratio * dim),
                dropout=dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        if n_classes is None:
            self.head: nn.Module = nn.Identity()
        else:
            self.head = nn.Linear(dim, check_positive_int(n_classes, "n_classes"))

    def _check(self, x: object) -> None:
        want = (self.in_channels, self.image_size, self.image_size)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(
                f"x must be a (batch, {', '.join(map(str, want))}) tensor, got {tuple(x.shape)}"
            )

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, N + 1, dim): [CLS] + patch tokens after the encoder blocks."""
        self._check(x)
        z = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, N, dim), row-major patches
        z = torch.cat([self.cls_token.expand(len(z), -1, -1), z], dim=1) + self.pos_embed
        for block in self.blocks:
            z = block(z)
        return self.norm(z)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, dim): the final [CLS] token."""
        return self.tokens(x)[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def vit_macs(
    image_size: int = 224,
    patch_size: int = 16,
    dim: int = 768,
    depth: int = 12,
    mlp_dim: int = 3072,
    in_channels: int = 3,
    n_classes: int = 1000,
) -> dict[str, int]:
    """Multiply-accumulates of one ViT forward pass (one image), by component.

    ``N = (image_size / patch_size)^2`` patches plus one [CLS] token, ``T = N + 1``:
    patch embedding ``N * P^2 C d``; per block QKV + output projections ``4 T d^2``, MLP
    ``2 T d m``, attention scores and mixing ``2 T^2 d``; head ``d * n_classes``. LayerNorm,
    softmax, GELU and biases are left out (under 1% at ViT-B sizes). The defaults are ViT-B/16.
    """
    for name, v in [
        ("image_size", image_size),
        ("patch_size", patch_size),
        ("dim", dim),
        ("depth", depth),
        ("mlp_dim", mlp_dim),
        ("in_channels", in_channels),
        ("n_classes", n_classes),
    ]:
        check_positive_int(v, name)
    if image_size % patch_size:
        raise ValueError(f"image_size={image_size} must be divisible by patch_size={patch_size}")
    n = (image_size // patch_size) ** 2
    t = n + 1
    out = {
        "tokens": t,
        "patch_embed": n * patch_size**2 * in_channels * dim,
        "projections": depth * 4 * t * dim**2,
        "mlp": depth * 2 * t * dim * mlp_dim,
        "attention": depth * 2 * t**2 * dim,
        "head": dim * n_classes,
    }
    out["total"] = sum(v for k, v in out.items() if k != "tokens")
    return out


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    seed: int = 0,
) -> nn.Module:
    """Train ``model`` (images -> logits) with AdamW on cross-entropy for ``steps`` mini-batches
    drawn with replacement by a seeded generator, with a cosine learning-rate decay to 0 (the
    usual ViT recipe, without warm-up at this size). Returns the model in eval mode."""
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(
            f"images must be an (N, C, H, W) tensor, got {getattr(images, 'shape', images)}"
        )
    if not isinstance(labels, torch.Tensor) or labels.shape != (len(images),):
        raise ValueError(f"labels must be a ({len(images)},) tensor to match images")
    if len(images) == 0:
        raise ValueError("images must not be empty")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(images), (min(batch_size, len(images)),), generator=gen)
        loss = nn.functional.cross_entropy(model(images[idx]), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


@torch.no_grad()
def accuracy(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000
) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on ``images``, in batches."""
    if len(images) == 0 or len(images) != len(labels):
        raise ValueError("images and labels must be non-empty and of equal length")
    model.eval()
    pred = torch.cat([model(images[i : i + batch]).argmax(1) for i in range(0, len(images), batch)])
    return float((pred == labels).float().mean())
