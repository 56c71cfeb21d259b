"""A tiny CLIP (Radford et al., ICML 2021): an image tower and a projection of frozen text vectors.

- Image tower: :class:`~utils.models.encoders.SmallCNN` (or any module mapping images to
  ``image_encoder.dim`` features) and a linear projection into the joint space.
- Text tower: the text encoder is frozen and run once, offline (MiniLM sentence embeddings,
  384-d, from :func:`utils.data.encode_texts`); only a linear projection into the joint space is
  learnt. The reverse of LiT (Zhai et al., 2022), which locks the image tower.
- Both sides are L2-normalised; the logits are ``cos(I_i, T_j) / τ`` with ``τ = exp(−t)``,
  ``t`` initialised at ``log(1/temperature)`` and, as in CLIP, ``1/τ`` clipped at 100.
- ``lock_image_tower=True`` freezes the image encoder (LiT's "locked" tower, here with the text
  side locked too, so only the two projections learn); its features can then be computed once
  and passed to :meth:`TinyCLIP.encode_image` instead of the images.
- ``loss="softmax"`` trains with CLIP's symmetric cross-entropy, ``loss="sigmoid"`` with
  SigLIP's pairwise sigmoid loss (Zhai et al., 2023) and its learnable bias (initialised at −10).

:func:`class_text_embeddings` builds one zero-shot classifier weight per class by prompt
ensembling: project and normalise each prompt's text vector, average over the prompts,
normalise again (Radford et al., 2021, section 3.1.4).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .._checks import check_choice, check_positive_int
from ..losses import clip_loss, sigmoid_pair_loss
from .encoders import SmallCNN

MAX_LOGIT_SCALE = 100.0


class TinyCLIP(nn.Module):
    """Images (B, 1, H, W) and frozen text vectors (B, text_dim) -> unit vectors (B, embed_dim).

    ``.loss(images, text_emb)`` is the training loss of a batch of matching pairs;
    ``.zero_shot_predict(images, prompt_emb)`` classifies with prompt-ensembled class vectors.
    """

    def __init__(
        self,
        text_dim: int = 384,
        embed_dim: int = 64,
        *,
        image_encoder: nn.Module | None = None,
        width: int = 32,
        temperature: float = 0.07,
        learn_temperature: bool = True,
        loss: str = "softmax",
        bias: float = -10.0,
        lock_image_tower: bool = False,
    ):
        super().__init__()
        self.loss_kind = check_choice(loss, "loss", ("softmax", "sigmoid"))
        self.text_dim = check_positive_int(text_dim, "text_dim")
        self.embed_dim = check_positive_int(embed_dim, "embed_dim")
        if not (isinstance(temperature, int | float) and 1 / MAX_LOGIT_SCALE <= temperature):
            raise ValueError(
                f"temperature must be a float >= {1 / MAX_LOGIT_SCALE}, got {temperature}"
            )
        if image_encoder is None:
            image_encoder = SmallCNN(1, dim=embed_dim, width=width)
        feat_dim = getattr(image_encoder, "dim", None)
        if not isinstance(feat_dim, int):
            raise TypeError("image_encoder must expose its output size as an int attribute .dim")
        self.image_encoder = image_encoder
        self.feat_dim = feat_dim
        self.lock_image_tower = bool(lock_image_tower)
        if self.lock_image_tower:
            image_encoder.requires_grad_(False)
        self.image_proj = nn.Linear(feat_dim, embed_dim, bias=False)
        self.text_proj = nn.Linear(text_dim, embed_dim, bias=False)
        self.log_inv_tau = nn.Parameter(
            torch.tensor(math.log(1.0 / temperature)), requires_grad=bool(learn_temperature)
        )
        # SigLIP's bias offsets the N^2 - N negatives; unused (and untrained) by the softmax loss.
        self.logit_bias = nn.Parameter(torch.tensor(float(bias)), requires_grad=loss == "sigmoid")

    @property
    def tau(self) -> torch.Tensor:
        """The temperature ``τ = 1 / min(exp(t), 100)`` (a tensor: it carries the gradient)."""
        return 1.0 / self.log_inv_tau.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()

    def image_features(self, images: torch.Tensor) -> torch.Tensor:
        """Tower features (B, image_encoder.dim); a locked tower runs in eval mode, no grad."""
        if not self.lock_image_tower:
            return self.image_encoder(images)
        was_training = self.image_encoder.training
        self.image_encoder.eval()
        try:
            with torch.no_grad():
                return self.image_encoder(images)
        finally:
            self.image_encoder.train(was_training)

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) -> unit vectors; with a locked tower, ``x`` may instead be its
        cached features (B, image_encoder.dim), as from :meth:`image_features`."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim == 2:
            if not self.lock_image_tower:
                raise ValueError(
                    "2-D input is read as cached tower features, which only a locked tower"
                    " (lock_image_tower=True) can use; pass the images"
                )
            if x.shape[1] != self.feat_dim:
                raise ValueError(
                    f"cached features must have {self.feat_dim} columns, got {x.shape[1]}"
                )
            feats = x
        else:
            feats = self.image_features(x)
        return F.normalize(self.image_proj(feats), dim=1)

    def encode_text(self, text_emb: torch.Tensor) -> torch.Tensor:
        if not isinstance(text_emb, torch.Tensor) or text_emb.ndim != 2:
            raise ValueError("text_emb must be a 2-D tensor (batch, text_dim)")
        if text_emb.shape[1] != self.text_dim:
            raise ValueError(f"text_emb must have {self.text_dim} columns, got {text_emb.shape[1]}")
        return F.normalize(self.text_proj(text_emb), dim=1)

    def forward(
        self, images: torch.Tensor, text_emb: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_image(images), self.encode_text(text_emb)

    def loss(self, images: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """The training loss of a batch of matching (image, caption vector) pairs: CLIP's
        symmetric cross-entropy or SigLIP's sigmoid loss (``loss`` at construction)."""
        img, txt = self(images, text_emb)
        if self.loss_kind == "sigmoid":
            return sigmoid_pair_loss(img, txt, self.tau, self.logit_bias)
        return clip_loss(img, txt, self.tau)

    @torch.no_grad()
    def class_text_embeddings(self, prompt_emb: torch.Tensor) -> torch.Tensor:
        """(n_classes, n_prompts, text_dim) prompt vectors -> (n_classes, embed_dim) unit vectors
        (the prompt ensemble: mean of the normalised projections, renormalised)."""
        if not isinstance(prompt_emb, torch.Tensor) or prompt_emb.ndim != 3:
            raise ValueError("prompt_emb must be a (n_classes, n_prompts, text_dim) tensor")
        c, p, d = prompt_emb.shape
        if c < 2 or p < 1:
            raise ValueError(f"need >= 2 classes and >= 1 prompt, got shape {(c, p, d)}")
        per_prompt = self.encode_text(prompt_emb.reshape(c * p, d)).reshape(c, p, -1)
        return F.normalize(per_prompt.mean(dim=1), dim=1)

    @torch.no_grad()
    def zero_shot_predict(
        self, images: torch.Tensor, prompt_emb: torch.Tensor, batch_size: int = 1024
    ) -> torch.Tensor:
        """Class index per image: the class whose prompt-ensemble vector is most similar."""
        batch_size = check_positive_int(batch_size, "batch_size")
        classes = self.class_text_embeddings(prompt_emb)
        was_training = self.training
        self.eval()
        try:
            preds = [
                (self.encode_image(images[s : s + batch_size]) @ classes.T).argmax(dim=1)
                for s in range(0, len(images), batch_size)
            ]
        finally:
            self.train(was_training)
        return torch.cat(preds)
