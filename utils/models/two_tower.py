"""A two-tower retrieval model trained with in-batch sampled softmax (PyTorch).

User tower: ``u = normalise(MLP([f_user, mean_{j in H(u)} h_j]) + e_user)``; item tower:
``[v, b] = MLP(f_item) + e_item``, ``v`` normalised, ``b`` a scalar bias logit (``item_bias``).
``f`` are dense feature rows supplied by the caller (demographics; genres, year, MiniLM title
embedding), ``h`` a learned item table averaged over the user's history ``H(u)`` (the items in the
training matrix), ``e`` id embeddings. The history mean is a dense (batch, items) @ (items, d)
product, fine for MovieLens; at catalogue scale it would be an EmbeddingBag over the CSR rows.

Training (Yi et al., RecSys 2019, "Sampling-bias-corrected neural modeling"): a batch of B
(user, item) positives; logits ``s_ij = <u_i, v_j> / tau + b_j`` against every item of the
batch, corrected by ``- log q_j`` when ``logq=True`` (``q_j`` = the item's share of the training
stream, its probability of showing up as an in-batch negative); cross-entropy with the diagonal
as the target. In-batch copies of a row's own positive are masked (they are not negatives).
While training, the target item is removed from the user's history mean (otherwise the tower
learns to find the item in its own input).

Cold start (after DropoutNet, Volkovs et al., NeurIPS 2017): with probability ``id_dropout`` an
id embedding is zeroed in training, and with probability ``history_dropout`` a user's history, so
the towers learn to work from features alone. Users and items never seen in training are served
with a zero id embedding from their features (and, for users, whatever history they have)
through :meth:`encode_users` / :meth:`encode_items`. Serving score: ``<u, v> / tau + b`` (the
logQ term is a training correction only).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .._checks import as_matrix, check_positive_int
from .recommenders import Recommender


def _features(f: object, n: int, name: str) -> np.ndarray:
    if f is None:
        return np.zeros((n, 0), dtype=np.float32)
    f = as_matrix(f, name)
    if not np.isfinite(f).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    if len(f) != n:
        raise ValueError(f"{name} has {len(f)} rows, expected {n} (one per row of X)")
    return f


class TwoTower(Recommender):
    """Feature towers + in-batch softmax with temperature and optional logQ correction."""

    name = "two-tower"

    def __init__(
        self,
        user_features: object = None,
        item_features: object = None,
        *,
        dim: int = 32,
        hidden: int = 64,
        temperature: float = 0.1,
        logq: bool = True,
        use_ids: bool = True,
        item_bias: bool = True,
        id_dropout: float = 0.2,
        history_dropout: float = 0.1,
        epochs: int = 6,
        batch_size: int = 512,
        lr: float = 5e-3,
        weight_decay: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.user_features, self.item_features = user_features, item_features
        self.dim = check_positive_int(dim, "dim")
        self.hidden = check_positive_int(hidden, "hidden")
        self.epochs = check_positive_int(epochs, "epochs")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        if batch_size < 2:
            raise ValueError("batch_size must be >= 2: in-batch softmax needs negatives")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        for name, p in (("id_dropout", id_dropout), ("history_dropout", history_dropout)):
            if not 0 <= p < 1:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        self.history_dropout = float(history_dropout)
        if not lr > 0 or not weight_decay >= 0:
            raise ValueError(f"lr must be > 0 and weight_decay >= 0, got {lr}, {weight_decay}")
        self.temperature, self.logq, self.use_ids = float(temperature), bool(logq), bool(use_ids)
        self.item_bias = bool(item_bias)
        self.id_dropout, self.lr, self.wd = float(id_dropout), float(lr), float(weight_decay)
        self.seed = int(seed)

    # --- the network ------------------------------------------------------------------------
    def _build(self, du: int, di: int) -> None:
        import torch
        from torch import nn

        d, h = self.dim, self.hidden
        self.net_ = nn.ModuleDict(
            {
                "user_mlp": nn.Sequential(nn.Linear(du + d, h), nn.ReLU(), nn.Linear(h, d)),
                "item_mlp": nn.Sequential(nn.Linear(max(di, 1), h), nn.ReLU(), nn.Linear(h, d + 1)),
                "hist": nn.Embedding(self.n_items, d),
                "user_id": nn.Embedding(self.n_users, d),
                "item_id": nn.Embedding(self.n_items, d + 1),
            }
        )
        for key in ("hist", "user_id", "item_id"):
            nn.init.normal_(self.net_[key].weight, std=0.01)
        self._torch = torch

    def _user_vec(self, feats, hist_mean, id_emb):
        u = self.net_["user_mlp"](self._torch.cat([feats, hist_mean], 1))
        if id_emb is not None:
            u = u + id_emb
        return self._torch.nn.functional.normalize(u, dim=1)

    def _item_vec(self, feats, id_emb):
        """(unit item vectors, item biases): the last output column is the bias logit."""
        if feats.shape[1] == 0:
            feats = self._torch.zeros(len(feats), 1)
        v = self.net_["item_mlp"](feats)
        if id_emb is not None:
            v = v + id_emb
        bias = v[:, -1] if self.item_bias else self._torch.zeros(len(v))
        return self._torch.nn.functional.normalize(v[:, :-1], dim=1), bias

    def _drop(self, emb, gen):
        if not self.use_ids:
            return None
        if self.id_dropout == 0:
            return emb
        keep = self._torch.rand(len(emb), 1, generator=gen) >= self.id_dropout
        return emb * keep

    # --- training -----------------------------------------------------------------------------
    def _fit(self, X: sparse.csr_matrix) -> None:
        import torch

        self.Fu_ = _features(self.user_features, self.n_users, "user_features")
        self.Fi_ = _features(self.item_features, self.n_items, "item_features")
        gen = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        self._build(self.Fu_.shape[1], self.Fi_.shape[1])
        Fu, Fi = torch.from_numpy(self.Fu_), torch.from_numpy(self.Fi_)
        coo = X.tocoo()
        dense = torch.from_numpy(X.toarray().astype(np.float32))  # 943 x 1,682: 6 MB here
        deg = dense.sum(1)
        users = torch.from_numpy(coo.row.astype(np.int64))
        items = torch.from_numpy(coo.col.astype(np.int64))
        counts = np.bincount(coo.col, minlength=self.n_items).astype(np.float64)
        log_q = torch.from_numpy(np.log(np.maximum(counts, 1) / counts.sum()).astype(np.float32))
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr, weight_decay=self.wd)
        self.losses_ = []
        self.net_.train()
        for _ in range(self.epochs):
            perm = torch.randperm(len(users), generator=gen)
            total = 0.0
            for start in range(0, len(perm) - 1, self.batch_size):
                idx = perm[start : start + self.batch_size]
                u, i = users[idx], items[idx]
                hist_sum = dense[u] @ self.net_["hist"].weight  # (B, n_items) @ (n_items, d)
                own = self.net_["hist"](i)  # leave the target out of its own history
                hist_mean = (hist_sum - own) / (deg[u] - 1).clamp(min=1)[:, None]
                if self.history_dropout:  # some rows see no history, as a new user does
                    keep = torch.rand(len(u), 1, generator=gen) >= self.history_dropout
                    hist_mean = hist_mean * keep
                uv = self._user_vec(Fu[u], hist_mean, self._drop(self.net_["user_id"](u), gen))
                iv, ib = self._item_vec(Fi[i], self._drop(self.net_["item_id"](i), gen))
                logits = uv @ iv.T / self.temperature + ib[None, :]
                if self.logq:
                    logits = logits - log_q[i][None, :]
                same = (i[:, None] == i[None, :]) & ~torch.eye(len(i), dtype=torch.bool)
                logits = logits.masked_fill(same, float("-inf"))
                loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(i)))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(i)
            self.losses_.append(total / len(perm))
        self.net_.eval()
        self.item_vectors_, self.item_bias_ = self.encode_items(np.arange(self.n_items))

    # --- serving ------------------------------------------------------------------------------
    def _history_mean(self, history: list) -> object:
        torch = self._torch
        table = self.net_["hist"].weight
        out = torch.zeros(len(history), self.dim)
        for row, items in enumerate(history):
            items = np.asarray(items, dtype=np.int64)
            if items.size:
                if items.min() < 0 or items.max() >= self.n_items:
                    raise ValueError(
                        f"history row {row} holds an item outside 0..{self.n_items - 1}"
                    )
                out[row] = table[torch.from_numpy(items)].mean(0)
        return out

    def encode_users(
        self, users: object = None, *, features: object = None, history: list | None = None
    ) -> np.ndarray:
        """Unit user vectors. Known users: ``users`` = row indices (training history and id
        embedding). Cold users: ``users=None``, ``features`` (n, n_user_features) and optionally
        ``history`` (a list of n item-index arrays, possibly empty); no id embedding."""
        if not hasattr(self, "net_"):
            raise ValueError("two-tower is not fitted; call fit(X) first")
        torch = self._torch
        with torch.no_grad():
            if users is not None:
                users = np.asarray(users, dtype=np.int64)
                if users.size and (users.min() < 0 or users.max() >= self.n_users):
                    raise ValueError(
                        f"unknown user index in users: the model knows 0..{self.n_users - 1}; "
                        "serve new users with users=None and their features"
                    )
                feats = torch.from_numpy(self.Fu_[users])
                hist = self._history_mean([self.X_[u].indices for u in users])
                ids = self.net_["user_id"](torch.from_numpy(users)) if self.use_ids else None
            else:
                f = _features(features, len(features) if features is not None else 0, "features")
                if f.shape[1] != self.Fu_.shape[1]:
                    raise ValueError(
                        f"features must have {self.Fu_.shape[1]} columns, got {f.shape[1]}"
                    )
                if history is not None and len(history) != len(f):
                    raise ValueError(f"history has {len(history)} rows, features {len(f)}")
                feats = torch.from_numpy(f)
                hist = self._history_mean(history if history is not None else [[]] * len(f))
                ids = None
            return self._user_vec(feats, hist, ids).numpy()

    def encode_items(
        self, items: object = None, *, features: object = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(unit item vectors, item biases) for known ``items`` (indices) or for cold items from
        ``features`` alone. Serving score: ``<u, v> / temperature + bias``."""
        if not hasattr(self, "net_"):
            raise ValueError("two-tower is not fitted; call fit(X) first")
        torch = self._torch
        with torch.no_grad():
            if items is not None:
                items = np.asarray(items, dtype=np.int64)
                if items.size and (items.min() < 0 or items.max() >= self.n_items):
                    raise ValueError(f"unknown item index: the model knows 0..{self.n_items - 1}")
                feats = torch.from_numpy(self.Fi_[items])
                ids = self.net_["item_id"](torch.from_numpy(items)) if self.use_ids else None
            else:
                f = _features(features, len(features) if features is not None else 0, "features")
                if f.shape[1] != self.Fi_.shape[1]:
                    raise ValueError(
                        f"features must have {self.Fi_.shape[1]} columns, got {f.shape[1]}"
                    )
                feats, ids = torch.from_numpy(f), None
            v, b = self._item_vec(feats, ids)
            return v.numpy(), b.numpy()

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.encode_users(users) @ self.item_vectors_.T / self.temperature + self.item_bias_
