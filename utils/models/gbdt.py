"""Gradient-boosted decision trees from scratch: Newton boosting with histogram splits.

Boosting is gradient descent in function space (Friedman, 2001): the model is a sum of trees,
``F_m = F_{m-1} + η f_m``, and each new tree ``f_m`` is fitted to a step that lowers the loss
of the current ``F_{m-1}``. Second-order (Newton) boosting, as in LogitBoost (Friedman, Hastie
and Tibshirani, 2000), XGBoost (Chen and Guestrin, 2016) and LightGBM (Ke et al., 2017),
expands the loss to second order around ``F_{m-1}``. For the logistic loss
``l(y, F) = log(1 + e^F) - y F`` with ``p = σ(F)``:

    g_i = p_i - y_i,    h_i = p_i (1 - p_i).

A tree with value ``w_j`` in leaf ``j`` changes the loss by about
``Σ_j [G_j w_j + ½ (H_j + λ) w_j²]`` (``G_j``, ``H_j``: sums of ``g``, ``h`` over the leaf's
rows; ``λ``: L2 penalty on leaf values), which is minimised by the Newton leaf value and
lowers the loss by

    w_j* = -G_j / (H_j + λ),        ½ G_j² / (H_j + λ).

A split of a node into L and R therefore gains ``½ [G_L²/(H_L+λ) + G_R²/(H_R+λ) - G²/(H+λ)]``.
With ``λ = 0`` this is exactly the weighted-variance reduction of a regression tree fitted to
the Newton step ``-g/h`` with sample weights ``h``, so sklearn's ``DecisionTreeRegressor`` fitted
that way grows the same tree (the tests check it).

Split finding uses histograms (Ke et al., 2017; XGBoost's ``hist``): each feature is cut once
into at most ``max_bins`` quantile bins, then for every node the ``g``, ``h`` and row counts are
summed per bin (O(rows) per feature) and all ``bins - 1`` boundaries are scored from prefix
sums. Trees grow level-wise to ``max_depth``; a node splits when its best gain is positive and
both children keep ``min_samples_leaf`` rows and ``min_child_weight`` hessian.

Configured equivalently (``num_leaves = 2**max_depth``, same ``max_depth``, ``lambda_l2``,
``min_data_in_leaf``, ``min_sum_hessian_in_leaf``, learning rate, no bagging), LightGBM's binary
objective grows the same kind of tree; only the bin boundaries differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .._checks import as_matrix, check_positive_int

__all__ = [
    "NewtonBoostedTrees",
    "NewtonTree",
    "apply_bins",
    "fit_newton_tree",
    "logistic_grad_hess",
    "quantile_bin_edges",
]


def _check_labels(y: object, n: int, name: str = "y") -> np.ndarray:
    """Binary labels as float64, or a ValueError naming ``name``."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} labels but X has {n} rows; they must match")
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN labels")
    if not np.isin(arr, (0.0, 1.0)).all():
        bad = np.unique(arr[~np.isin(arr, (0.0, 1.0))])[:5]
        raise ValueError(f"{name} must be binary labels in {{0, 1}}, found {bad.tolist()}")
    return arr


def _check_nonneg(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def logistic_grad_hess(y: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and hessian of the logistic loss in the raw score: ``g = p - y``,
    ``h = p (1 - p)`` with ``p = σ(raw)``."""
    p = 1.0 / (1.0 + np.exp(-raw))
    return p - y, p * (1.0 - p)


def quantile_bin_edges(X: np.ndarray, max_bins: int = 64) -> list[np.ndarray]:
    """Per feature, the thresholds that cut it into at most ``max_bins`` bins.

    A feature with at most ``max_bins`` distinct values gets the midpoints between consecutive
    values (exact splits); otherwise the thresholds are its distinct empirical quantiles.
    """
    X = as_matrix(X, "X", dtype=np.float64)
    if isinstance(max_bins, bool) or not isinstance(max_bins, int | np.integer):
        raise TypeError(f"max_bins must be an int, got {type(max_bins).__name__}")
    if not 2 <= max_bins <= 256:
        raise ValueError(f"max_bins must be in [2, 256], got {max_bins}")
    edges = []
    for col in X.T:
        values = np.unique(col)
        if len(values) <= max_bins:
            cuts = (values[:-1] + values[1:]) / 2
        else:
            cuts = np.unique(np.quantile(col, np.linspace(0, 1, max_bins + 1)[1:-1]))
        edges.append(cuts)
    return edges


def apply_bins(X: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """Bin index of every value (uint8):
    bin ``b`` of feature ``j`` holds ``edges[j][b-1] <= x < edges[j][b]``."""
    X = as_matrix(X, "X", dtype=np.float64)
    if X.shape[1] != len(edges):
        raise ValueError(f"X has {X.shape[1]} features but the bins were cut for {len(edges)}")
    out = np.empty(X.shape, dtype=np.uint8)
    for j, cuts in enumerate(edges):
        out[:, j] = np.searchsorted(cuts, X[:, j], side="right")
    return out


@dataclass
class NewtonTree:
    """A fitted tree in flat arrays. Node ``k`` is a leaf when ``feature[k] == -1``; otherwise
    rows with ``bin <= threshold[k]`` on ``feature[k]`` go to ``left[k]``, the rest to
    ``right[k]``. ``value`` holds leaf outputs (already multiplied by the learning rate)."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    @property
    def n_leaves(self) -> int:
        return int((self.feature < 0).sum())

    def apply(self, Xb: np.ndarray) -> np.ndarray:
        """Leaf (node id) reached by every row of the binned matrix ``Xb``."""
        node = np.zeros(len(Xb), dtype=np.int64)
        while True:
            inner = np.flatnonzero(self.feature[node] >= 0)
            if len(inner) == 0:
                return node
            k = node[inner]
            go_left = Xb[inner, self.feature[k]] <= self.threshold[k]
            node[inner] = np.where(go_left, self.left[k], self.right[k])

    def predict(self, Xb: np.ndarray) -> np.ndarray:
        return self.value[self.apply(Xb)]


@numba.njit(cache=True, nogil=True)
def _histograms(Xb, rows, loc, g, h, n_nodes, n_bins):  # pragma: no cover (compiled)
    """Sums of g, h and row counts per (node, feature, bin): one pass over the rows."""
    out = np.zeros((3, n_nodes, Xb.shape[1], n_bins))
    for r in range(len(rows)):
        i, k = rows[r], loc[r]
        for j in range(Xb.shape[1]):
            b = Xb[i, j]
            out[0, k, j, b] += g[i]
            out[1, k, j, b] += h[i]
            out[2, k, j, b] += 1.0
    return out


def fit_newton_tree(
    Xb: np.ndarray,
    g: np.ndarray,
    h: np.ndarray,
    *,
    max_depth: int = 4,
    reg_lambda: float = 0.0,
    min_samples_leaf: int = 20,
    min_child_weight: float = 1e-3,
    learning_rate: float = 1.0,
    n_bins: int = 256,
) -> NewtonTree:
    """Grow one tree level-wise on binned features with histogram split finding and Newton
    leaf values ``-η G / (H + λ)`` (see the module docstring)."""
    Xb, g, h = np.asarray(Xb), np.asarray(g, dtype=np.float64), np.asarray(h, dtype=np.float64)
    if Xb.ndim != 2 or not np.issubdtype(Xb.dtype, np.integer):
        raise ValueError(f"Xb must be a 2-D array of bin indices, got {Xb.dtype} {Xb.shape}")
    n = len(Xb)
    if n == 0 or g.shape != (n,) or h.shape != (n,):
        raise ValueError(
            f"g and h must be 1-D with one value per row of Xb ({n}), got {g.shape} and {h.shape}"
        )
    if Xb.min() < 0 or Xb.max() >= n_bins:
        raise ValueError(f"Xb holds bin indices outside [0, n_bins={n_bins})")
    feature, threshold, left, right = [-1], [0], [-1], [-1]
    G, H, N = [float(g.sum())], [float(h.sum())], [n]
    node = np.zeros(n, dtype=np.int64)  # node id of every row
    frontier = [0]
    for _ in range(max_depth):
        pos = np.full(len(feature), -1)
        pos[frontier] = np.arange(len(frontier))
        rows = np.flatnonzero(pos[node] >= 0)
        loc, k = pos[node[rows]], len(frontier)
        hist = _histograms(Xb, rows, loc, g, h, k, n_bins)  # (3, nodes, features, bins)
        gl, hl, nl = np.cumsum(hist, axis=3)[..., :-1]  # left child = bins <= b
        gt = np.array([G[i] for i in frontier])[:, None, None]
        ht = np.array([H[i] for i in frontier])[:, None, None]
        nt = np.array([N[i] for i in frontier])[:, None, None]
        with np.errstate(divide="ignore", invalid="ignore"):  # empty bins: masked below
            gain = gl**2 / (hl + reg_lambda) + (gt - gl) ** 2 / (ht - hl + reg_lambda)
            gain = 0.5 * (gain - gt**2 / (ht + reg_lambda))
        ok = (nl >= min_samples_leaf) & (nt - nl >= min_samples_leaf)
        ok &= (hl >= min_child_weight) & (ht - hl >= min_child_weight)
        gain = np.where(ok, gain, -np.inf).reshape(k, -1)
        best = gain.argmax(axis=1)
        to_left = np.full(k, -1)
        to_right, split_f, split_b = to_left.copy(), to_left.copy(), to_left.copy()
        for i, parent in enumerate(frontier):
            if not gain[i, best[i]] > 1e-12:
                continue  # stays a leaf
            f, b = divmod(int(best[i]), n_bins - 1)
            feature[parent], threshold[parent] = f, b
            for part, total in ((gl, G), (hl, H), (nl, N)):
                s = float(part[i, f, b])
                total.extend([s, total[parent] - s])
            left[parent], right[parent] = len(feature), len(feature) + 1
            feature += [-1, -1]
            threshold += [0, 0]
            left += [-1, -1]
            right += [-1, -1]
            to_left[i], to_right[i], split_f[i], split_b[i] = left[parent], right[parent], f, b
        moving = split_f[loc] >= 0
        if not moving.any():
            break
        r, i = rows[moving], loc[moving]
        node[r] = np.where(Xb[r, split_f[i]] <= split_b[i], to_left[i], to_right[i])
        frontier = [c for i in range(k) if to_left[i] >= 0 for c in (to_left[i], to_right[i])]
    G_, H_ = np.asarray(G), np.asarray(H)
    feat = np.asarray(feature, dtype=np.int64)
    value = np.where(feat < 0, -learning_rate * G_ / (H_ + reg_lambda), 0.0)
    return NewtonTree(
        feat,
        np.asarray(threshold, dtype=np.int64),
        np.asarray(left, dtype=np.int64),
        np.asarray(right, dtype=np.int64),
        value,
    )


class NewtonBoostedTrees:
    """Binary classifier: logistic loss, Newton trees on histogram splits, shrinkage.

    ``fit`` starts from the log-odds of the base rate (as LightGBM's ``boost_from_average``),
    then for each of ``n_rounds`` rounds computes ``g = p - y`` and ``h = p (1 - p)``, grows one
    tree with :func:`fit_newton_tree` and adds ``learning_rate`` times its Newton leaf values
    to the raw score. ``train_loss_`` (and ``eval_loss_`` when ``eval_set`` is given) record the
    mean log-loss after every round, so the best round count can be chosen on validation data.
    """

    def __init__(
        self,
        n_rounds: int = 100,
        learning_rate: float = 0.1,
        *,
        max_depth: int = 4,
        reg_lambda: float = 0.0,
        min_samples_leaf: int = 20,
        min_child_weight: float = 1e-3,
        max_bins: int = 64,
    ) -> None:
        self.n_rounds = check_positive_int(n_rounds, "n_rounds")
        if isinstance(learning_rate, bool) or not isinstance(
            learning_rate, int | float | np.integer | np.floating
        ):
            raise TypeError(f"learning_rate must be a number, got {type(learning_rate).__name__}")
        if not (np.isfinite(learning_rate) and 0 < learning_rate <= 1):
            raise ValueError(f"learning_rate must be in (0, 1], got {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.max_depth = check_positive_int(max_depth, "max_depth")
        if self.max_depth > 16:
            raise ValueError(f"max_depth must be at most 16, got {max_depth}")
        self.reg_lambda = _check_nonneg(reg_lambda, "reg_lambda")
        self.min_samples_leaf = check_positive_int(min_samples_leaf, "min_samples_leaf")
        self.min_child_weight = _check_nonneg(min_child_weight, "min_child_weight")
        if isinstance(max_bins, bool) or not isinstance(max_bins, int | np.integer):
            raise TypeError(f"max_bins must be an int, got {type(max_bins).__name__}")
        if not 2 <= max_bins <= 256:
            raise ValueError(f"max_bins must be in [2, 256], got {max_bins}")
        self.max_bins = int(max_bins)
        self.trees_: list[NewtonTree] = []

    def fit(
        self, X: np.ndarray, y: np.ndarray, *, eval_set: tuple[np.ndarray, np.ndarray] | None = None
    ) -> NewtonBoostedTrees:
        X = as_matrix(X, "X", dtype=np.float64)
        y = _check_labels(y, len(X))
        if y.min() == y.max():
            raise ValueError("y must contain both classes 0 and 1")
        self.edges_ = quantile_bin_edges(X, self.max_bins)
        Xb = apply_bins(X, self.edges_)
        if eval_set is not None:
            Xe = as_matrix(eval_set[0], "eval_set[0]", dim=X.shape[1], dtype=np.float64)
            ye = _check_labels(eval_set[1], len(Xe), "eval_set[1]")
            Xe_b = apply_bins(Xe, self.edges_)
        rate = y.mean()
        self.base_score_ = float(np.log(rate / (1 - rate)))
        raw = np.full(len(y), self.base_score_)
        raw_e = np.full(len(ye), self.base_score_) if eval_set is not None else None
        self.trees_, self.train_loss_, self.eval_loss_ = [], [], []
        for _ in range(self.n_rounds):
            g, h = logistic_grad_hess(y, raw)
            tree = fit_newton_tree(
                Xb,
                g,
                h,
                max_depth=self.max_depth,
                reg_lambda=self.reg_lambda,
                min_samples_leaf=self.min_samples_leaf,
                min_child_weight=self.min_child_weight,
                learning_rate=self.learning_rate,
                n_bins=self.max_bins,
            )
            self.trees_.append(tree)
            raw += tree.predict(Xb)
            self.train_loss_.append(_log_loss(y, raw))
            if raw_e is not None:
                raw_e += tree.predict(Xe_b)
                self.eval_loss_.append(_log_loss(ye, raw_e))
        return self

    def decision_function(self, X: np.ndarray, n_rounds: int | None = None) -> np.ndarray:
        """Raw score (log-odds) using the first ``n_rounds`` trees (all by default)."""
        if not self.trees_:
            raise ValueError("this model is not fitted yet; call fit first")
        Xb = apply_bins(as_matrix(X, "X", dim=len(self.edges_), dtype=np.float64), self.edges_)
        m = len(self.trees_) if n_rounds is None else check_positive_int(n_rounds, "n_rounds")
        if m > len(self.trees_):
            raise ValueError(f"n_rounds={m} is more than the {len(self.trees_)} fitted trees")
        raw = np.full(len(Xb), self.base_score_)
        for tree in self.trees_[:m]:
            raw += tree.predict(Xb)
        return raw

    def predict_proba(self, X: np.ndarray, n_rounds: int | None = None) -> np.ndarray:
        """P(y = 1) for every row (a 1-D array)."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(X, n_rounds)))


def _log_loss(y: np.ndarray, raw: np.ndarray) -> float:
    """Mean logistic loss from raw scores, computed stably: log(1 + e^F) - y F."""
    return float(np.mean(np.logaddexp(0.0, raw) - y * raw))
