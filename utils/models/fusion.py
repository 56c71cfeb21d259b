"""Multimodal fusion heads that tolerate missing modalities (PyTorch), and their lab's data.

Every model takes ``xs``, a list of M per-modality feature tensors ``(batch, dims[m])``, and a
presence ``mask`` ``(batch, M)`` (True = the modality is there; ``None`` = all present), and
returns class logits ``(batch, n_classes)`` for ``cross_entropy``. Rows of a missing modality are
ignored (zero-filled first, so they may hold NaN placeholders); a sample with no modality at all
is an error, since nothing could be predicted for it.

- :class:`EarlyFusion`: concatenate zero-filled features and the mask bits, then one MLP
  (feature-level fusion; the mask bits let the MLP tell "absent" from "all zeros").
- :class:`LateFusion`: one MLP per modality; combine the present modalities' class
  distributions, by the mean of log-probabilities (a normalised product of experts, the default)
  or the log of the mean probability (a mixture). Missing modalities are skipped.
- :class:`AttentionFusion`: project each modality to ``tokens_per_modality`` tokens (plus a
  learned modality-type embedding), optionally mix them with Transformer encoder layers
  (Vaswani et al., 2017), then pool with a learned query that attends over the tokens of the
  present modalities only (``key_padding_mask``), as in attention-based fusion models such as
  Nagrani et al. (2021, bottleneck tokens) and the learned-query pooling of Lee et al. (2019).

``modality_dropout=p`` (training mode only): each sample, with probability p, loses one of its
present modalities, chosen uniformly, never its last one (Neverova et al., 2016, ModDrop).

For the lab: :func:`simulate_digit_captions` (a seeded caption simulator whose ground truth is
exposed), :func:`caption_posterior` (the Bayes-optimal text-only posterior under it),
:func:`presence_mask`, :func:`train_classifier` and :func:`predict_proba`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from .._checks import check_choice, check_positive_int

__all__ = [
    "AttentionFusion",
    "EarlyFusion",
    "LateFusion",
    "caption_posterior",
    "combine_logprobs",
    "drop_modalities",
    "predict_proba",
    "presence_mask",
    "simulate_digit_captions",
    "train_classifier",
]


def _check_rate(p: object, name: str) -> float:
    if isinstance(p, bool) or not isinstance(p, int | float | np.floating) or not 0 <= p <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {p!r}")
    return float(p)


def _check_mask(mask: object, batch: int, n_modalities: int) -> torch.Tensor:
    """Presence mask as a bool tensor (batch, M); 0/1 numbers are accepted; no empty rows."""
    if mask is None:
        return torch.ones(batch, n_modalities, dtype=torch.bool)
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor or None, got {type(mask).__name__}")
    if tuple(mask.shape) != (batch, n_modalities):
        raise ValueError(
            f"mask must have shape (batch, n_modalities) = ({batch}, {n_modalities}), "
            f"got {tuple(mask.shape)}"
        )
    if mask.dtype != torch.bool:
        if not ((mask == 0) | (mask == 1)).all():
            raise ValueError("mask must be boolean or hold only 0 and 1")
        mask = mask != 0
    empty = torch.nonzero(~mask.any(dim=1)).flatten()
    if empty.numel():
        raise ValueError(
            f"sample {int(empty[0])} has no modality present (mask row all False); "
            "drop such samples or route them to a fallback before the model"
        )
    return mask


def drop_modalities(mask: torch.Tensor, p: float) -> torch.Tensor:
    """Modality dropout (Neverova et al., 2016): with probability ``p`` per sample, remove one
    present modality chosen uniformly at random; samples with a single present modality are left
    alone, so no sample ends up empty. Uses torch's global RNG; returns a new bool mask."""
    p = _check_rate(p, "p")
    if not isinstance(mask, torch.Tensor) or mask.ndim != 2:
        raise ValueError("mask must be a (batch, n_modalities) tensor")
    mask = _check_mask(mask, *mask.shape)
    scores = torch.rand(mask.shape).masked_fill(~mask, -1.0)  # uniform over present ones
    which = scores.argmax(dim=1)
    drop = (torch.rand(mask.shape[0]) < p) & (mask.sum(dim=1) >= 2)
    out = mask.clone()
    rows = torch.nonzero(drop).flatten()
    out[rows, which[rows]] = False
    return out


def combine_logprobs(
    logp: torch.Tensor, mask: torch.Tensor, how: str = "mean_logprob"
) -> torch.Tensor:
    """Combine per-modality log-probabilities ``logp`` (B, M, C) over the present modalities
    ``P`` of each row of ``mask`` (B, M): ``mean_logprob`` gives ``(1/|P|) sum_{m in P} log p_m``
    (unnormalised: a softmax of it is the normalised geometric mean, i.e. a product of experts,
    Hinton 2002), ``mean_prob`` gives ``log((1/|P|) sum_{m in P} p_m)`` (a mixture). Both are
    valid logits for ``cross_entropy``/``softmax``; missing modalities get zero weight."""
    how = check_choice(how, "how", ("mean_logprob", "mean_prob"))
    if not isinstance(logp, torch.Tensor) or logp.ndim != 3:
        raise ValueError("logp must be a (batch, n_modalities, n_classes) tensor")
    mask = _check_mask(mask, logp.shape[0], logp.shape[1])
    w = mask.to(logp.dtype) / mask.sum(dim=1, keepdim=True)  # (B, M), rows sum to 1
    keep = mask.unsqueeze(2)
    if how == "mean_logprob":
        # where() rather than w * logp: a missing modality may carry -inf or NaN log-probs
        return torch.where(keep, w.unsqueeze(2) * logp, 0.0).sum(dim=1)
    return torch.logsumexp(torch.where(keep, torch.log(w).unsqueeze(2) + logp, -torch.inf), dim=1)


def _mlp(in_dim: int, hidden: int, out_dim: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, out_dim)
    )


class _Fusion(nn.Module):
    """Shared argument checks, input validation and modality dropout."""

    def __init__(self, dims: Sequence[int], n_classes: int, modality_dropout: float):
        super().__init__()
        if isinstance(dims, int | str) or not isinstance(dims, Sequence) or len(dims) == 0:
            raise TypeError(f"dims must be a non-empty sequence of ints, got {dims!r}")
        self.dims = [check_positive_int(d, f"dims[{i}]") for i, d in enumerate(dims)]
        self.n_modalities = len(self.dims)
        self.n_classes = check_positive_int(n_classes, "n_classes")
        self.modality_dropout = _check_rate(modality_dropout, "modality_dropout")

    def _prepare(
        self, xs: Sequence[torch.Tensor], mask: torch.Tensor | None
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        if isinstance(xs, torch.Tensor) or not isinstance(xs, list | tuple):
            raise TypeError("xs must be a list or tuple of per-modality tensors")
        if len(xs) != self.n_modalities:
            raise ValueError(f"xs must hold {self.n_modalities} modalities, got {len(xs)}")
        batch = None
        for m, (x, d) in enumerate(zip(xs, self.dims, strict=True)):
            if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != d:
                shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise ValueError(f"xs[{m}] must be a (batch, {d}) tensor, got {shape}")
            if batch is None:
                batch = x.shape[0]
            elif x.shape[0] != batch:
                raise ValueError(f"xs[{m}] has {x.shape[0]} rows, xs[0] has {batch}")
        mask = _check_mask(mask, batch, self.n_modalities)
        if self.training and self.modality_dropout > 0:
            mask = drop_modalities(mask, self.modality_dropout)
        out = []
        for m, x in enumerate(xs):
            present = mask[:, m : m + 1]
            if not torch.isfinite(x[mask[:, m]]).all():
                raise ValueError(f"xs[{m}] has NaN or infinite values in rows marked present")
            out.append(torch.where(present, x.float(), torch.zeros((), dtype=torch.float32)))
        return out, mask


class EarlyFusion(_Fusion):
    """Feature-level fusion: ``MLP([x_1 * m_1, ..., x_M * m_M, m])`` with ``m`` the presence bits.
    With a single modality it is a plain two-layer MLP (the lab's unimodal baselines)."""

    def __init__(
        self,
        dims: Sequence[int],
        n_classes: int,
        hidden: int = 64,
        dropout: float = 0.0,
        modality_dropout: float = 0.0,
    ):
        super().__init__(dims, n_classes, modality_dropout)
        hidden = check_positive_int(hidden, "hidden")
        dropout = _check_rate(dropout, "dropout")
        self.net = _mlp(sum(self.dims) + self.n_modalities, hidden, self.n_classes, dropout)

    def forward(self, xs: Sequence[torch.Tensor], mask: torch.Tensor | None = None):
        xs, mask = self._prepare(xs, mask)
        return self.net(torch.cat([*xs, mask.float()], dim=1))


class LateFusion(_Fusion):
    """Decision-level fusion: one MLP per modality, ``log p_m = log_softmax(f_m(x_m))``, combined
    over the present set ``P``: ``mean_logprob`` returns ``(1/|P|) sum_{m in P} log p_m`` (logits
    of the normalised geometric mean), ``mean_prob`` returns ``log((1/|P|) sum_{m in P} p_m)``.
    The per-modality log-probabilities of the last call are kept in ``last_logprobs`` (B, M, C).
    """

    def __init__(
        self,
        dims: Sequence[int],
        n_classes: int,
        hidden: int = 64,
        dropout: float = 0.0,
        combine: str = "mean_logprob",
        modality_dropout: float = 0.0,
    ):
        super().__init__(dims, n_classes, modality_dropout)
        hidden = check_positive_int(hidden, "hidden")
        dropout = _check_rate(dropout, "dropout")
        self.combine = check_choice(combine, "combine", ("mean_logprob", "mean_prob"))
        self.heads = nn.ModuleList(_mlp(d, hidden, self.n_classes, dropout) for d in self.dims)
        self.last_logprobs: torch.Tensor | None = None

    def forward(self, xs: Sequence[torch.Tensor], mask: torch.Tensor | None = None):
        xs, mask = self._prepare(xs, mask)
        logp = torch.stack(
            [F.log_softmax(h(x), dim=1) for h, x in zip(self.heads, xs, strict=True)], dim=1
        )
        self.last_logprobs = logp.detach()
        return combine_logprobs(logp, mask, self.combine)


class AttentionFusion(_Fusion):
    """Token-level fusion: ``t_m = reshape(W_m x_m) + e_m`` gives ``tokens_per_modality`` tokens
    of width ``d_model`` per modality; ``n_layers`` pre-norm Transformer encoder layers let them
    attend to each other; a learned query ``q`` pools them,
    ``z = MHA(q, T, T, key_padding_mask = tokens of missing modalities)``, and an MLP maps ``z``
    to logits. Attention weights per modality (summed over its tokens, averaged over heads) of
    the last call are kept in ``last_weights`` (B, M)."""

    def __init__(
        self,
        dims: Sequence[int],
        n_classes: int,
        d_model: int = 32,
        n_heads: int = 2,
        tokens_per_modality: int = 2,
        n_layers: int = 1,
        hidden: int = 64,
        dropout: float = 0.0,
        modality_dropout: float = 0.0,
    ):
        super().__init__(dims, n_classes, modality_dropout)
        self.d_model = check_positive_int(d_model, "d_model")
        n_heads = check_positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.tokens = check_positive_int(tokens_per_modality, "tokens_per_modality")
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 0:
            raise ValueError(f"n_layers must be an int >= 0, got {n_layers!r}")
        hidden = check_positive_int(hidden, "hidden")
        dropout = _check_rate(dropout, "dropout")
        self.proj = nn.ModuleList(nn.Linear(d, self.tokens * d_model) for d in self.dims)
        self.type_emb = nn.Parameter(0.02 * torch.randn(self.n_modalities, self.tokens, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, 2 * d_model, dropout, batch_first=True, norm_first=True
        )
        self.encoder = (
            nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False) if n_layers else None
        )
        self.query = nn.Parameter(0.02 * torch.randn(1, 1, d_model))
        self.pool = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.head = nn.Sequential(nn.LayerNorm(d_model), _mlp(d_model, hidden, n_classes, dropout))
        self.last_weights: torch.Tensor | None = None

    def forward(self, xs: Sequence[torch.Tensor], mask: torch.Tensor | None = None):
        xs, mask = self._prepare(xs, mask)
        B, T = xs[0].shape[0], self.tokens
        tokens = torch.cat(
            [
                p(x).view(B, T, self.d_model) + self.type_emb[m]
                for m, (p, x) in enumerate(zip(self.proj, xs, strict=True))
            ],
            dim=1,
        )  # (B, M*T, d_model)
        pad = (~mask).repeat_interleave(T, dim=1)  # True = ignore this key
        if self.encoder is not None:
            tokens = self.encoder(tokens, src_key_padding_mask=pad)
        z, w = self.pool(self.query.expand(B, -1, -1), tokens, tokens, key_padding_mask=pad)
        self.last_weights = w.detach().view(B, self.n_modalities, T).sum(dim=2)
        return self.head(z.squeeze(1))


# --- training and evaluation helpers -------------------------------------------------------


def _as_inputs(
    xs: Sequence[object], mask: object
) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    if isinstance(xs, np.ndarray | torch.Tensor) or not isinstance(xs, list | tuple):
        raise TypeError("xs must be a list or tuple of per-modality arrays")
    if len(xs) == 0:
        raise ValueError("xs must hold at least one modality")
    ts = [torch.as_tensor(np.asarray(x, dtype=np.float32)) for x in xs]
    m = None if mask is None else torch.as_tensor(np.asarray(mask))  # checked by the model
    return ts, m


def train_classifier(
    model: _Fusion,
    xs: Sequence[object],
    y: object,
    mask: object = None,
    *,
    epochs: int = 30,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> list[float]:
    """Fit ``model`` with Adam(W) on softmax cross-entropy in shuffled mini-batches; the
    shuffling and modality dropout draw from torch's RNG seeded with ``seed``. Returns the mean
    training loss of each epoch. Seed torch before building the model for reproducible init."""
    if not isinstance(model, _Fusion):
        raise TypeError(f"model must be a fusion model, got {type(model).__name__}")
    ts, m = _as_inputs(xs, mask)
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class ids, got dtype {y.dtype}")
    y = torch.as_tensor(y).long()
    n = ts[0].shape[0]
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(
            f"y must be a 1-D array with one label per row ({n}), got {tuple(y.shape)}"
        )
    if n == 0:
        raise ValueError("xs must not be empty")
    if (y < 0).any() or (y >= model.n_classes).any():
        raise ValueError(f"y must hold class ids in [0, {model.n_classes})")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    with torch.no_grad():
        model(ts, m)  # validates shapes and mask once, up front
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(
                model([t[idx] for t in ts], None if m is None else m[idx]), y[idx]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / n)
    model.eval()
    return losses


@torch.no_grad()
def predict_proba(model: _Fusion, xs: Sequence[object], mask: object = None) -> np.ndarray:
    """Class probabilities (n, n_classes) in eval mode (no modality dropout)."""
    if not isinstance(model, _Fusion):
        raise TypeError(f"model must be a fusion model, got {type(model).__name__}")
    ts, m = _as_inputs(xs, mask)
    was_training = model.training
    model.eval()
    p = torch.softmax(model(ts, m), dim=1).numpy()
    model.train(was_training)
    return p


def presence_mask(
    n: int, n_modalities: int, missing: int | None = None, rate: float = 0.0, seed: int = 0
) -> np.ndarray:
    """A (n, n_modalities) bool mask with modality ``missing`` absent in ``round(rate * n)``
    randomly chosen rows (seeded) and everything else present."""
    n = check_positive_int(n, "n")
    n_modalities = check_positive_int(n_modalities, "n_modalities")
    rate = _check_rate(rate, "rate")
    mask = np.ones((n, n_modalities), dtype=bool)
    if missing is None:
        if rate > 0:
            raise ValueError("rate > 0 needs the index of the missing modality")
        return mask
    if isinstance(missing, bool) or not isinstance(missing, int) or not 0 <= missing < n_modalities:
        raise ValueError(
            f"missing must be a modality index in [0, {n_modalities}), got {missing!r}"
        )
    if n_modalities == 1 and rate > 0:
        raise ValueError("cannot remove the only modality: every sample would be empty")
    rows = np.random.default_rng(seed).permutation(n)[: round(rate * n)]
    mask[rows, missing] = False
    return mask


# --- the lab's caption simulator --------------------------------------------------------------

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_PARITY = {
    True: ("an even number", "the digit is even"),
    False: ("an odd number", "the digit is odd"),
}
_SIZE = {
    True: ("five or more", "a large digit, at least five"),
    False: ("less than five", "a small digit, below five"),
}
_NAME = ("looks like a {}", "probably a {}")


def simulate_digit_captions(
    labels: object,
    *,
    p_parity: float = 0.6,
    p_size: float = 0.6,
    p_name: float = 0.25,
    name_accuracy: float = 0.7,
    seed: int = 0,
) -> tuple[list[str], pd.DataFrame]:
    """Short captions that carry partial, sometimes wrong, information about a digit label.

    Ground truth, per sample and independently: the parity ("even"/"odd") is stated with
    probability ``p_parity``; the size (``>= 5`` or ``< 5``) with ``p_size``; a digit name with
    ``p_name``, which is the true digit with probability ``name_accuracy`` and otherwise one of
    the nine others uniformly. Parity and size are always true when stated. Each clue is worded
    with one of two templates chosen uniformly. A caption with no clue reads "a handwritten
    digit". Returns ``(captions, truth)``; ``truth`` has one row per sample with columns
    ``label, parity_stated, size_stated, name_stated, named_digit`` (-1 when no name).
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError("labels must be a non-empty 1-D array of integer digits")
    if (y < 0).any() or (y > 9).any():
        raise ValueError("labels must be digits in [0, 9]")
    for name, p in [
        ("p_parity", p_parity),
        ("p_size", p_size),
        ("p_name", p_name),
        ("name_accuracy", name_accuracy),
    ]:
        _check_rate(p, name)
    rng = np.random.default_rng(seed)
    n = y.size
    parity = rng.random(n) < p_parity
    size = rng.random(n) < p_size
    named = rng.random(n) < p_name
    correct = rng.random(n) < name_accuracy
    other = (y + rng.integers(1, 10, size=n)) % 10  # uniform over the nine other digits
    named_digit = np.where(named, np.where(correct, y, other), -1)
    templates = rng.integers(0, 2, size=(n, 3))
    captions = []
    for i in range(n):
        clues = []
        if named[i]:
            clues.append(_NAME[templates[i, 2]].format(DIGIT_WORDS[named_digit[i]]))
        if parity[i]:
            clues.append(_PARITY[bool(y[i] % 2 == 0)][templates[i, 0]])
        if size[i]:
            clues.append(_SIZE[bool(y[i] >= 5)][templates[i, 1]])
        captions.append(
            "a handwritten digit: " + ", ".join(clues) if clues else "a handwritten digit"
        )
    truth = pd.DataFrame(
        {
            "label": y.astype(np.int64),
            "parity_stated": parity,
            "size_stated": size,
            "name_stated": named,
            "named_digit": named_digit.astype(np.int64),
        }
    )
    return captions, truth


def caption_posterior(truth: pd.DataFrame, name_accuracy: float = 0.7) -> np.ndarray:
    """Bayes posterior ``P(digit | caption)`` (n, 10) under the simulator, with a uniform prior:
    stated parity and size rule digits out; a stated name ``k`` has likelihood ``name_accuracy``
    for digit k and ``(1 - name_accuracy) / 9`` for each other digit. Its argmax accuracy is the
    best any text-only model can reach on these captions."""
    need = {"label", "parity_stated", "size_stated", "name_stated", "named_digit"}
    if not isinstance(truth, pd.DataFrame) or not need <= set(truth.columns):
        raise ValueError(
            f"truth must be the DataFrame from simulate_digit_captions ({sorted(need)})"
        )
    a = _check_rate(name_accuracy, "name_accuracy")
    y = truth["label"].to_numpy()
    digits = np.arange(10)
    like = np.ones((len(truth), 10))
    par = truth["parity_stated"].to_numpy()
    like[par] *= (digits[None] % 2) == (y[par, None] % 2)
    siz = truth["size_stated"].to_numpy()
    like[siz] *= (digits[None] >= 5) == (y[siz, None] >= 5)
    nam = truth["name_stated"].to_numpy()
    k = truth["named_digit"].to_numpy()[nam]
    like[nam] *= np.where(digits[None] == k[:, None], a, (1 - a) / 9)
    return like / like.sum(axis=1, keepdims=True)
