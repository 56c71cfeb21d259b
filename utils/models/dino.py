"""DINO-lite: self-distillation with no labels (Caron et al., "Emerging Properties in
Self-Supervised Vision Transformers", ICCV 2021), small enough to train on MNIST on a CPU.

A student network ``g_s`` (backbone + :class:`DINOHead`) and a teacher ``g_t`` of the same shape
see different augmented views of one image. The teacher's output, **centred** (``- c``) and
**sharpened** (a low temperature ``tau_t``), is the target of the student's softmax:

    P_t(x) = softmax((g_t(x) - c) / tau_t),   P_s(x') = softmax(g_s(x') / tau_s)
    loss   = mean over view pairs (v != v') of  H(P_t(x_v), P_s(x_v')) = -sum_k P_t log P_s

Only the student gets gradients. The teacher is an exponential moving average of the student,
``theta_t <- m theta_t + (1 - m) theta_s`` (:func:`ema_update`), and the centre is an EMA of
the teacher's batch-mean output, ``c <- m_c c + (1 - m_c) mean_i g_t(x_i)``
(:func:`update_center`). Centring stops one output dimension from dominating but pushes towards
the uniform distribution; sharpening does the opposite; together they avoid both collapses.
:func:`entropy_stats` measures which one happened. The paper's defaults are ``tau_s = 0.1``,
``tau_t = 0.04`` (after a warm-up from 0.04 to 0.07 in its longer runs), ``m_c = 0.9`` and a
teacher momentum following a cosine schedule from 0.996 to 1.

:func:`view_augmenter` / :func:`mnist_two_views` are a small augmentation pipeline
(torchvision.transforms.v2 ``RandomResizedCrop`` drawn per image, plus Gaussian pixel noise); v2
transforms draw one set of random parameters per call, so a whole batch passed at once would get
the same crop. :func:`train_dino` is the training loop with its collapse diagnostics.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._checks import check_positive_int


def _check_temperature(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _check_momentum(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


class DINOHead(nn.Module):
    """DINO's projection head: MLP -> L2-normalised bottleneck -> weight-normalised linear layer
    to ``out_dim`` logits (the last layer's rows have unit norm, DINO's ``norm_last_layer``), so
    each logit is a cosine in [-1, 1] and the temperatures alone set how peaked the softmax is."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int = 64,
        hidden_dim: int = 128,
        bottleneck_dim: int = 32,
        batch_norm: bool = False,
    ):
        super().__init__()
        self.in_dim = check_positive_int(in_dim, "in_dim")
        self.out_dim = check_positive_int(out_dim, "out_dim")
        hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        bottleneck_dim = check_positive_int(bottleneck_dim, "bottleneck_dim")
        norm = nn.BatchNorm1d if batch_norm else nn.Identity
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden_dim),
            norm(hidden_dim),
            nn.GELU(),
            nn.Linear(hidden_dim, hidden_dim),
            norm(hidden_dim),
            nn.GELU(),
            nn.Linear(hidden_dim, bottleneck_dim),
        )
        self.prototypes = nn.Parameter(torch.randn(out_dim, bottleneck_dim) / bottleneck_dim**0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.in_dim:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a (batch, {self.in_dim}) tensor, got {shape}")
        z = F.normalize(self.mlp(x), dim=1)
        return z @ F.normalize(self.prototypes, dim=1).T


def dino_loss(
    student_out: Sequence[torch.Tensor],
    teacher_out: Sequence[torch.Tensor],
    center: torch.Tensor | None = None,
    student_temp: float = 0.1,
    teacher_temp: float = 0.04,
) -> torch.Tensor:
    """Cross-entropy of the student's softmax against the centred, sharpened teacher softmax.

    ``student_out``: logits of V views, each (B, K); ``teacher_out``: logits of the first
    ``len(teacher_out)`` of those views (DINO's global crops). Pairs where teacher and student
    saw the same view are skipped; the loss is the mean over the remaining pairs of
    ``mean_b -sum_k softmax((t_b - c) / tau_t)_k log softmax(s_b / tau_s)_k``. The teacher
    side is detached. ``center=None`` means no centring (c = 0).
    """
    student_temp = _check_temperature(student_temp, "student_temp")
    teacher_temp = _check_temperature(teacher_temp, "teacher_temp")
    if len(student_out) == 0 or len(teacher_out) == 0:
        raise ValueError("student_out and teacher_out must each hold at least one view")
    if len(teacher_out) > len(student_out):
        raise ValueError(
            f"teacher_out has {len(teacher_out)} views, more than student_out "
            f"({len(student_out)}); the teacher's views must be the student's first ones"
        )
    shape = student_out[0].shape
    for name, outs in (("student_out", student_out), ("teacher_out", teacher_out)):
        for v, o in enumerate(outs):
            if not isinstance(o, torch.Tensor) or o.ndim != 2 or o.shape != shape:
                got = tuple(o.shape) if isinstance(o, torch.Tensor) else type(o).__name__
                raise ValueError(f"{name}[{v}] must be a {tuple(shape)} tensor, got {got}")
    if center is None:
        center = torch.zeros(1, shape[1], dtype=student_out[0].dtype)
    if not isinstance(center, torch.Tensor) or center.shape[-1] != shape[1] or center.ndim > 2:
        raise ValueError(f"center must be a (1, {shape[1]}) or ({shape[1]},) tensor")
    targets = [F.softmax((t.detach() - center) / teacher_temp, dim=1) for t in teacher_out]
    log_ps = [F.log_softmax(s / student_temp, dim=1) for s in student_out]
    terms = [
        -(p * log_ps[j]).sum(dim=1).mean()
        for i, p in enumerate(targets)
        for j in range(len(log_ps))
        if j != i
    ]
    if not terms:
        raise ValueError("need at least two views: one for the teacher, another for the student")
    return torch.stack(terms).mean()


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """In place: ``theta_t <- m theta_t + (1 - m) theta_s`` for every parameter (buffers such as
    BatchNorm statistics are copied from the student). ``m = 1`` freezes the teacher, ``m = 0``
    copies the student."""
    momentum = _check_momentum(momentum, "momentum")
    pt, ps = list(teacher.parameters()), list(student.parameters())
    if len(pt) != len(ps) or any(a.shape != b.shape for a, b in zip(pt, ps, strict=True)):
        raise ValueError("teacher and student must have the same parameter shapes")
    for a, b in zip(pt, ps, strict=True):
        a.mul_(momentum).add_(b.detach(), alpha=1.0 - momentum)
    for a, b in zip(teacher.buffers(), student.buffers(), strict=False):
        a.copy_(b)


@torch.no_grad()
def update_center(
    center: torch.Tensor, teacher_out: Sequence[torch.Tensor] | torch.Tensor, momentum: float = 0.9
) -> torch.Tensor:
    """Return ``m c + (1 - m) * mean of the teacher logits over all views and the batch``."""
    momentum = _check_momentum(momentum, "momentum")
    t = torch.cat(list(teacher_out)) if not isinstance(teacher_out, torch.Tensor) else teacher_out
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] != center.shape[-1]:
        raise ValueError(
            f"teacher_out must be (batch, {center.shape[-1]}) logits, got {tuple(t.shape)}"
        )
    return center * momentum + t.mean(dim=0, keepdim=True) * (1.0 - momentum)


def entropy_stats(probs: torch.Tensor) -> tuple[float, float]:
    """(mean per-row entropy, entropy of the mean row) of a (B, K) matrix of distributions, in
    nats. Healthy DINO targets: the first low, the second near log K. Collapse to one dimension:
    both near 0. Collapse to uniform: both near log K."""
    if not isinstance(probs, torch.Tensor) or probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError("probs must be a non-empty (batch, K) tensor")
    p = probs.detach().double()
    if (p < 0).any() or not torch.allclose(p.sum(1), torch.ones(len(p), dtype=p.dtype), atol=1e-4):
        raise ValueError("probs rows must be probability distributions")
    h = -(p * torch.log(p.clamp_min(1e-30))).sum(1)
    m = p.mean(0)
    return float(h.mean()), float(-(m * torch.log(m.clamp_min(1e-30))).sum())


def view_augmenter(scale: tuple[float, float] = (0.35, 1.0), noise: float = 0.1):
    """Return ``augment(x, generator) -> view`` for (B, C, H, W) batches in [0, 1]: a random
    resized crop drawn per image (torchvision.transforms.v2, back to H x W, no flips: digits are
    not mirror-symmetric) plus Gaussian pixel noise, clipped to [0, 1].

    v2 transforms draw their parameters from torch's global RNG, once per call: a whole batch
    passed at once would get one crop. So each image is cropped in its own call, under a forked
    RNG seeded from ``generator``, which leaves the caller's global RNG state untouched."""
    from torchvision.transforms import v2

    lo, hi = scale
    if not 0.0 < lo <= hi <= 1.0:
        raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}")
    if not noise >= 0.0:
        raise ValueError(f"noise must be >= 0, got {noise}")

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise ValueError(
                f"x must be a (batch, channels, H, W) tensor, got {getattr(x, 'shape', x)}"
            )
        crop = v2.RandomResizedCrop(tuple(x.shape[-2:]), scale=scale, antialias=True)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
            v = torch.stack([crop(xi) for xi in x])
        v = v + noise * torch.randn(v.shape, generator=generator)
        return v.clamp_(0.0, 1.0)

    return augment


def mnist_two_views(
    x: torch.Tensor,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.35, 1.0),
    noise: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independently augmented views of a (B, 1, H, W) batch (see :func:`view_augmenter`)."""
    augment = view_augmenter(scale, noise)
    return augment(x, generator), augment(x, generator)


class DINO(nn.Module):
    """Student (backbone + head) and EMA teacher, with the centre as a buffer.

    ``backbone`` maps images to (B, embed_dim) features. ``centering=False`` removes the centre
    (c stays 0); ``teacher_temp = student_temp`` removes sharpening. The teacher's backbone is
    the one to evaluate (k-NN or linear probe), as in the paper. ``head_batch_norm=True`` adds
    BatchNorm to the head's hidden layers (DINO's ``use_bn_in_head``; the paper keeps ViT heads
    BN-free): BN standardises features across the batch, which itself resists collapse.
    """

    def __init__(
        self,
        backbone: nn.Module,
        embed_dim: int,
        out_dim: int = 64,
        student_temp: float = 0.1,
        teacher_temp: float = 0.04,
        centering: bool = True,
        center_momentum: float = 0.9,
        head_hidden: int = 128,
        head_bottleneck: int = 32,
        head_batch_norm: bool = False,
    ):
        super().__init__()
        self.student_temp = _check_temperature(student_temp, "student_temp")
        self.teacher_temp = _check_temperature(teacher_temp, "teacher_temp")
        self.center_momentum = _check_momentum(center_momentum, "center_momentum")
        self.centering = bool(centering)
        head = DINOHead(embed_dim, out_dim, head_hidden, head_bottleneck, head_batch_norm)
        self.student = nn.Sequential(backbone, head)
        self.teacher = copy.deepcopy(self.student).requires_grad_(False)
        self.register_buffer("center", torch.zeros(1, out_dim))

    def forward(self, views: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (loss, the teacher's target probabilities for the teacher views, (2B, K))."""
        if len(views) < 2:
            raise ValueError(f"views must hold at least two augmented views, got {len(views)}")
        s = [self.student(v) for v in views]
        with torch.no_grad():
            t = [self.teacher(v) for v in views[:2]]
        c = self.center.clone() if self.centering else None
        loss = dino_loss(s, t, c, self.student_temp, self.teacher_temp)
        with torch.no_grad():
            logits = torch.cat(t) - (c if c is not None else 0.0)
            probs = F.softmax(logits / self.teacher_temp, dim=1)
        if self.centering:
            self.center.copy_(update_center(self.center, t, self.center_momentum))
        return loss, probs

    def update_teacher(self, momentum: float) -> None:
        ema_update(self.teacher, self.student, momentum)


def cosine_momentum(step: int, total: int, base: float = 0.996) -> float:
    """DINO's teacher momentum schedule: ``1 - (1 - base) (cos(pi step / total) + 1) / 2``,
    from ``base`` at step 0 to 1 at the end."""
    if total <= 0 or not 0 <= step <= total:
        raise ValueError(f"need 0 <= step <= total and total > 0, got step={step}, total={total}")
    return 1.0 - (1.0 - _check_momentum(base, "base")) * (math.cos(math.pi * step / total) + 1) / 2


def train_dino(
    model: DINO,
    images: torch.Tensor,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    base_momentum: float = 0.99,
    seed: int = 0,
    log_every: int = 5,
    freeze_last_layer: int = 0,
    crop_scale: tuple[float, float] = (0.35, 1.0),
    noise: float = 0.1,
) -> dict[str, np.ndarray]:
    """Train ``model`` on unlabeled ``images`` (N, C, H, W) with AdamW; two views per image
    from :func:`mnist_two_views`. Returns a history: step, loss and the teacher's
    :func:`entropy_stats` (``h_sample``, ``h_mean``) every ``log_every`` steps, and
    ``kl = loss - h_sample``: the KL divergence from teacher to student targets (with two
    views the loss is exactly the mean teacher entropy plus the mean KL). A KL near 0 means the
    student matches the teacher trivially: DINO's sign of collapse."""
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    log_every = check_positive_int(log_every, "log_every")
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or len(images) < batch_size:
        raise ValueError(f"images must be (N >= batch_size, C, H, W), got {tuple(images.shape)}")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.student.parameters(), lr=lr, weight_decay=0.04)
    hist: dict[str, list[float]] = {"step": [], "loss": [], "kl": [], "h_sample": [], "h_mean": []}
    model.train()
    for step in range(steps):
        idx = torch.randint(len(images), (batch_size,), generator=gen)
        loss, probs = model(mnist_two_views(images[idx], gen, crop_scale, noise))
        opt.zero_grad()
        loss.backward()
        if step < freeze_last_layer:  # DINO keeps the output layer fixed at first
            model.student[1].prototypes.grad = None
        opt.step()
        model.update_teacher(cosine_momentum(step, steps, base_momentum))
        if step % log_every == 0 or step == steps - 1:
            h_s, h_m = entropy_stats(probs)
            ce = float(loss.detach())  # H(P_t, P_s) = h(P_t) + KL(P_t || P_s), DINO's eq. 5
            for k, v in zip(hist, (step, ce, ce - h_s, h_s, h_m), strict=True):
                hist[k].append(v)
    return {k: np.asarray(v) for k, v in hist.items()}
