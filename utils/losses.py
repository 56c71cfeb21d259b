"""Contrastive losses for embedding learning, one function per loss.

Every loss takes L2-normalisable embeddings (rows), compares them by cosine similarity
``s_ij = u_i·v_j / (‖u_i‖‖v_j‖)`` and returns a scalar tensor (the mean over anchors):

- :func:`info_nce_loss`: InfoNCE (van den Oord et al., 2018) for query/key pairs with in-batch
  negatives and an optional bank of extra negatives (a MoCo queue, He et al., 2020).
- :func:`nt_xent_loss`: NT-Xent, SimCLR's normalised temperature-scaled cross-entropy over
  2N augmented views (Chen et al., ICML 2020).
- :func:`clip_loss`: CLIP's symmetric cross-entropy over the image-text similarity matrix
  (Radford et al., ICML 2021), fixed or learnable temperature.
- :func:`sigmoid_pair_loss`: SigLIP's pairwise sigmoid loss (Zhai et al., ICCV 2023).

Supervised metric-learning losses on a labelled batch ``(emb, labels)``:

- :func:`triplet_semi_hard_loss`: FaceNet's triplet loss with in-batch semi-hard negative mining
  (Schroff et al., CVPR 2015).
- :func:`normalized_softmax_loss`: a cosine classifier with temperature, "classification is a
  strong baseline for deep metric learning" (Zhai & Wu, BMVC 2019; arXiv 2018).

A batch of one pair has no negative, so every loss rejects it; so are mismatched shapes,
non-finite values and a temperature that is not positive.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

__all__ = [
    "clip_loss",
    "info_nce_loss",
    "normalized_softmax_loss",
    "nt_xent_loss",
    "sigmoid_pair_loss",
    "triplet_semi_hard_loss",
]


def _check_pair(a: object, b: object, names: tuple[str, str]) -> None:
    for x, name in zip((a, b), names, strict=True):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D (batch, dim), got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape (row i of one is the positive of"
            f" row i of the other), got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.shape[0] < 2:
        raise ValueError(
            f"the batch needs at least 2 pairs (a single pair has no negative and the loss is"
            f" undefined), got {a.shape[0]}"
        )
    if a.shape[1] == 0:
        raise ValueError(f"{names[0]} has 0 columns")
    for x, name in zip((a, b), names, strict=True):
        if not torch.isfinite(x.detach()).all():
            raise ValueError(f"{name} contains NaN or infinite values")


def _check_temperature(temperature: object) -> torch.Tensor | float:
    """A positive float, or a positive scalar tensor (a learnable temperature keeps its grad)."""
    if isinstance(temperature, torch.Tensor):
        if temperature.numel() != 1:
            raise ValueError(f"temperature must be a scalar, got shape {tuple(temperature.shape)}")
        value = float(temperature.detach())
    elif isinstance(temperature, int | float) and not isinstance(temperature, bool):
        value = float(temperature)
    else:
        raise TypeError(f"temperature must be a float or a scalar tensor, not {temperature!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {value}")
    return temperature.reshape(()) if isinstance(temperature, torch.Tensor) else value


def info_nce_loss(
    queries: torch.Tensor,
    keys: torch.Tensor,
    temperature: float | torch.Tensor = 0.1,
    *,
    negatives: torch.Tensor | None = None,
) -> torch.Tensor:
    """InfoNCE: each query must pick its own key out of all keys (van den Oord et al., 2018).

    With cosine similarities ``s(q, k)`` and temperature ``τ``, query ``i``'s loss is

        ℓ_i = −log  exp(s(q_i, k_i)/τ) / [Σ_j exp(s(q_i, k_j)/τ) + Σ_m exp(s(q_i, n_m)/τ)]

    where ``j`` runs over the N keys of the batch (the other rows are in-batch negatives) and
    ``m`` over the optional ``negatives`` (M, d), e.g. a MoCo queue of keys from earlier batches
    (He et al., 2020). Returns the mean over the N queries. One direction only: the
    symmetric, two-direction form is :func:`clip_loss`.
    """
    _check_pair(queries, keys, ("queries", "keys"))
    tau = _check_temperature(temperature)
    q, k = F.normalize(queries, dim=1), F.normalize(keys, dim=1)
    logits = q @ k.T
    if negatives is not None:
        if not isinstance(negatives, torch.Tensor) or negatives.ndim != 2:
            raise ValueError("negatives must be a 2-D tensor (M, dim)")
        if negatives.shape[1] != q.shape[1]:
            raise ValueError(
                f"negatives must have {q.shape[1]} columns like queries, got {negatives.shape[1]}"
            )
        if not torch.isfinite(negatives.detach()).all():
            raise ValueError("negatives contains NaN or infinite values")
        logits = torch.cat([logits, q @ F.normalize(negatives, dim=1).T], dim=1)
    targets = torch.arange(q.shape[0], device=q.device)
    return F.cross_entropy(logits / tau, targets)


def nt_xent_loss(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float | torch.Tensor = 0.5
) -> torch.Tensor:
    """NT-Xent, the SimCLR loss (Chen et al., ICML 2020, eq. 1).

    ``z1[i]`` and ``z2[i]`` are two augmented views of example ``i``. Stack the 2N views as
    ``z = [z1; z2]``; with cosine similarity ``s_ab`` and temperature ``τ``, view ``a``'s positive
    ``p(a)`` is the other view of its example and

        ℓ_a = −log  exp(s_{a,p(a)}/τ) / Σ_{b ≠ a} exp(s_ab/τ),      L = (1/2N) Σ_a ℓ_a.

    The denominator runs over the 2N − 1 other views (the self-similarity ``s_aa = 1`` is masked
    out), so each anchor has 2(N − 1) negatives. If every embedding is the same vector (collapse)
    all logits are equal and ``L = log(2N − 1)``.
    """
    _check_pair(z1, z2, ("z1", "z2"))
    tau = _check_temperature(temperature)
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    logits = (z @ z.T) / tau
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    idx = torch.arange(n, device=z.device)
    targets = torch.cat([idx + n, idx])
    return F.cross_entropy(logits, targets)


def clip_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, temperature: float | torch.Tensor = 0.07
) -> torch.Tensor:
    """CLIP's symmetric contrastive loss (Radford et al., ICML 2021, Figure 3).

    Row ``i`` of ``image_emb`` and of ``text_emb`` form a pair. With the cosine-similarity logits
    ``S_ij = s(I_i, T_j)/τ``, the loss is the mean of the image→text cross-entropy (each row of S
    classifies its text) and the text→image one (each column classifies its image):

        L = ½ [CE(S, diag) + CE(Sᵀ, diag)].

    CLIP learns ``τ`` as ``exp(−t)`` with ``t`` initialised at log(1/0.07) and the logit scale
    ``1/τ`` clipped at 100; pass a scalar tensor to learn it, a float to fix it. Duplicate texts in
    a batch (two images of the same class with one caption) are false negatives for each other.
    """
    _check_pair(image_emb, text_emb, ("image_emb", "text_emb"))
    tau = _check_temperature(temperature)
    logits = F.normalize(image_emb, dim=1) @ F.normalize(text_emb, dim=1).T / tau
    targets = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


def sigmoid_pair_loss(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    temperature: float | torch.Tensor = 0.1,
    bias: float | torch.Tensor = -10.0,
) -> torch.Tensor:
    """SigLIP's sigmoid loss: every (image, text) pair is its own binary problem (Zhai et al.,
    ICCV 2023, Algorithm 1).

    With ``z_ij = 1`` on the diagonal (matching pair) and −1 elsewhere,

        L = −(1/N) Σ_i Σ_j log σ(z_ij · (s(I_i, T_j)/τ + b)).

    No softmax over the batch, so no all-to-all normaliser; the bias ``b`` (initialised at −10
    in the paper, with ``1/τ`` at 10) offsets the N² − N negatives' head start. Pass tensors for
    a learnable ``τ`` and ``b``.
    """
    _check_pair(image_emb, text_emb, ("image_emb", "text_emb"))
    tau = _check_temperature(temperature)
    if isinstance(bias, torch.Tensor):
        if bias.numel() != 1 or not torch.isfinite(bias.detach()).all():
            raise ValueError("bias must be a finite scalar")
        bias = bias.reshape(())
    elif not isinstance(bias, int | float) or isinstance(bias, bool) or not math.isfinite(bias):
        raise TypeError(f"bias must be a finite float or a scalar tensor, not {bias!r}")
    n = image_emb.shape[0]
    logits = F.normalize(image_emb, dim=1) @ F.normalize(text_emb, dim=1).T / tau + bias
    signs = 2.0 * torch.eye(n, dtype=logits.dtype, device=logits.device) - 1.0
    return -F.logsigmoid(signs * logits).sum() / n


def _check_labelled(emb: object, labels: object, min_batch: int) -> None:
    if not isinstance(emb, torch.Tensor) or not emb.is_floating_point():
        raise TypeError(f"emb must be a floating-point torch.Tensor, got {type(emb).__name__}")
    if emb.ndim != 2 or emb.shape[1] == 0:
        raise ValueError(f"emb must be 2-D (batch, dim), got shape {tuple(emb.shape)}")
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.is_complex():
        raise TypeError("labels must be an integer torch.Tensor (one class id per row)")
    if labels.ndim != 1 or labels.shape[0] != emb.shape[0]:
        raise ValueError(
            f"labels must be 1-D with one label per row of emb ({emb.shape[0]}), got shape"
            f" {tuple(labels.shape)}"
        )
    if emb.shape[0] < min_batch:
        raise ValueError(
            f"the batch needs at least {min_batch} rows for this loss to be defined, got"
            f" {emb.shape[0]}"
        )
    if not torch.isfinite(emb.detach()).all():
        raise ValueError("emb contains NaN or infinite values")


def triplet_semi_hard_loss(
    emb: torch.Tensor, labels: torch.Tensor, margin: float = 0.2, *, normalize: bool = True
) -> torch.Tensor:
    """FaceNet's triplet loss with semi-hard negatives mined in the batch (Schroff et al., 2015).

    Embeddings are L2-normalised (``normalize=True``, as FaceNet's ``‖f(x)‖ = 1``) and compared
    by squared Euclidean distance ``d``. Every anchor-positive pair ``(a, p)``, ``a ≠ p`` with
    the same label, is used (FaceNet, section 3.2), with the negative ``n`` chosen as

    - semi-hard: the closest negative that is still farther than the positive,
      ``n = argmin {d(a, n) : d(a, n) > d(a, p)}``. If it lies inside the margin
      (``d(a, p) < d(a, n) < d(a, p) + α``, FaceNet's eq. 4) the pair contributes; if even the
      closest such negative is beyond the margin, the triplet is satisfied and contributes 0;
    - fallback, when no negative is farther than the positive (every negative is "hard"): the
      hardest negative, ``argmin d(a, n)``. (TF-Addons' ``triplet_semihard_loss`` takes the
      farthest negative there instead; hardest negatives early in training can collapse the
      embedding, FaceNet section 3.2, but here they only appear for pairs already out of order.)

        L = mean over (a, p) of  max(0, d(a, p) − d(a, n) + α),   α = ``margin`` (FaceNet: 0.2).

    The selection is made on detached distances; gradients flow through the chosen ``d``.
    Raises ``ValueError`` for a batch of one, a batch without any positive pair (every label
    distinct) or without any negative (one label only): the loss is undefined there.
    """
    _check_labelled(emb, labels, 2)
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not margin > 0:
        raise ValueError(f"margin must be a number > 0, got {margin!r}")
    z = F.normalize(emb, dim=1) if normalize else emb
    sq = (z * z).sum(1)
    dist = (sq[:, None] + sq[None, :] - 2.0 * z @ z.T).clamp_min(0.0)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    anchor, positive = torch.nonzero(same & ~eye, as_tuple=True)
    if anchor.numel() == 0:
        raise ValueError("labels has no two rows with the same label: no anchor-positive pair")
    if bool(same.all()):
        raise ValueError("labels holds a single class: no negative, the triplet loss is undefined")
    d_ap = dist[anchor, positive]
    with torch.no_grad():
        d_an = dist.detach()[anchor]  # (pairs, batch)
        is_neg = ~same[anchor]
        inf = torch.tensor(float("inf"), dtype=d_an.dtype, device=d_an.device)
        farther = is_neg & (d_an > d_ap.detach()[:, None])
        semi = torch.where(farther, d_an, inf).argmin(1)
        hardest = torch.where(is_neg, d_an, inf).argmin(1)
        neg = torch.where(farther.any(1), semi, hardest)
    return F.relu(d_ap - dist[anchor, neg] + margin).mean()


def normalized_softmax_loss(
    emb: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor,
    temperature: float | torch.Tensor = 0.05,
) -> torch.Tensor:
    """Normalised softmax: cross-entropy of a cosine classifier (Zhai & Wu, 2018, eq. 2-3).

    With unit embeddings ``x̂`` and unit class weights (proxies) ``ŵ_c`` (rows of ``weight``,
    (n_classes, dim), a learnable parameter), the logits are cosines divided by ``τ``:

        L = −(1/B) Σ_i log  exp(x̂_i·ŵ_{y_i}/τ) / Σ_c exp(x̂_i·ŵ_c/τ).

    Zhai & Wu use ``τ = 0.05``: cosines live in [−1, 1], and without the temperature the softmax
    cannot become confident, so the loss plateaus and the classes stay loosely packed. Each class
    weight acts as a proxy that every image of the class is pulled to, so no pair or triplet
    mining is needed and a batch of any size (even one row) has a defined loss; the other
    classes' weights are the negatives. Labels must lie in ``[0, n_classes)``.
    """
    _check_labelled(emb, labels, 1)
    tau = _check_temperature(temperature)
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
        raise ValueError("weight must be a 2-D tensor (n_classes, dim)")
    if weight.shape[1] != emb.shape[1]:
        raise ValueError(f"weight must have {emb.shape[1]} columns like emb, got {weight.shape[1]}")
    if weight.shape[0] < 2:
        raise ValueError(f"weight needs at least 2 classes (rows), got {weight.shape[0]}")
    if int(labels.min()) < 0 or int(labels.max()) >= weight.shape[0]:
        raise ValueError(
            f"labels must lie in [0, {weight.shape[0]}) (rows of weight), got"
            f" [{int(labels.min())}, {int(labels.max())}]"
        )
    if not torch.isfinite(weight.detach()).all():
        raise ValueError("weight contains NaN or infinite values")
    logits = F.normalize(emb, dim=1) @ F.normalize(weight, dim=1).T / tau
    return F.cross_entropy(logits, labels.long())
