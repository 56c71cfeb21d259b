"""utils.models.moe (sparse top-k MoE, balancing loss), utils.models.multitask (CGC,
fit_mse_many) and utils.data.multitask_sim (the MMoE paper's synthetic tasks)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from utils.data.multitask_sim import check_correlation, mmoe_synthetic_tasks
from utils.models.moe import (
    SparseMoE,
    capacity_mask,
    expert_capacity,
    expert_load,
    load_balancing_loss,
    load_cv,
    top_k_route,
)
from utils.models.multitask import CGC, MMoE, SharedBottom, fit_mse_many

# ---------------------------------------------------------------- routing and load metrics


def test_top_k_route_picks_k_largest_with_renormalised_weights():
    torch.manual_seed(0)
    logits = torch.randn(50, 6)
    w, idx = top_k_route(logits, 2)
    assert w.shape == idx.shape == (50, 2)
    assert torch.allclose(w.sum(1), torch.ones(50))
    assert (idx[:, 0] != idx[:, 1]).all()  # k distinct experts per token
    assert torch.equal(idx[:, 0], logits.argmax(1))
    # the kept weights are the full softmax restricted to the chosen experts, renormalised
    p = torch.softmax(logits, 1).gather(1, idx)
    assert torch.allclose(w, p / p.sum(1, keepdim=True), atol=1e-6)
    # every non-chosen logit is <= the smallest chosen one
    rest = logits.scatter(1, idx, -torch.inf)
    assert (rest.max(1).values <= logits.gather(1, idx).min(1).values).all()


@pytest.mark.parametrize("k, err", [(7, ValueError), (0, ValueError), (2.0, TypeError)])
def test_top_k_route_rejects_bad_k(k, err):
    with pytest.raises(err, match="k"):
        top_k_route(torch.randn(4, 6), k)


@pytest.mark.parametrize(
    "logits", [torch.randn(6), torch.randn(0, 4), torch.tensor([[0.0, float("nan")]]), [[1.0]]]
)
def test_top_k_route_rejects_bad_logits(logits):
    with pytest.raises(ValueError, match="logits"):
        top_k_route(logits, 1)


def test_expert_load_counts_assignments():
    idx = torch.tensor([[0, 1], [0, 2], [0, 1]])
    assert torch.allclose(expert_load(idx, 4), torch.tensor([3, 2, 1, 0]) / 6.0)
    with pytest.raises(ValueError, match="expert ids"):
        expert_load(torch.tensor([[0, 4]]), 4)
    with pytest.raises(ValueError, match="expert ids"):
        expert_load(torch.tensor([[0.0, 1.0]]), 4)
    with pytest.raises(ValueError, match="idx"):
        expert_load(torch.tensor([0, 1]), 4)


def test_load_cv_extremes():
    assert load_cv(torch.full((8,), 0.125)) == pytest.approx(0.0)
    one_hot = torch.zeros(8)
    one_hot[3] = 1.0
    assert load_cv(one_hot) == pytest.approx(math.sqrt(7))
    assert load_cv(torch.tensor([0.5, 0.3, 0.2])) == pytest.approx(
        np.std([0.5, 0.3, 0.2]) / np.mean([0.5, 0.3, 0.2])
    )
    with pytest.raises(ValueError, match="load"):
        load_cv(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="positive mean"):
        load_cv(torch.zeros(4))


@pytest.mark.parametrize("n, k", [(8, 2), (8, 1), (6, 3)])
def test_load_cv_worst_case_under_top_k_routing(n, k):
    """k distinct experts per token: the worst load is k experts sharing everything."""
    idx = torch.arange(k).repeat(50, 1)  # every token picks experts 0..k-1
    load = expert_load(idx, n)
    assert load.max() == pytest.approx(1 / k)
    assert float(load.max()) * n == pytest.approx(n / k)
    assert load_cv(load) == pytest.approx(math.sqrt(n / k - 1))
    # any other top-k routing is at or below that bound
    gen = torch.Generator().manual_seed(0)
    skewed = torch.stack([torch.randperm(n, generator=gen)[:k] for _ in range(200)])
    skewed[:150] = torch.arange(k)
    assert load_cv(expert_load(skewed, n)) <= math.sqrt(n / k - 1) + 1e-6


def test_balancing_loss_matches_hand_computation():
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.5, 0.1, 0.4], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    idx = torch.tensor([[0, 1], [0, 2], [2, 1], [0, 1]])
    # f = counts / (T k) = [3, 3, 2] / 8; P = column means of probs
    f = np.array([3, 3, 2]) / 8
    P = np.array([2.0, 0.9, 1.1]) / 4
    expected = 3 * float(np.sum(f * P))
    assert float(load_balancing_loss(probs, idx)) == pytest.approx(expected, rel=1e-6)


def test_balancing_loss_is_one_when_uniform_and_n_when_collapsed():
    n, T = 4, 8
    uniform = torch.full((T, n), 1 / n)
    idx = torch.arange(T).remainder(n)[:, None]
    assert float(load_balancing_loss(uniform, idx)) == pytest.approx(1.0)
    collapsed = torch.zeros(T, n)
    collapsed[:, 2] = 1.0
    assert float(load_balancing_loss(collapsed, torch.full((T, 1), 2))) == pytest.approx(n)


def test_balancing_loss_gradient_pushes_probability_off_the_busy_expert():
    logits = torch.zeros(6, 3, requires_grad=True)
    idx = torch.tensor([[0], [0], [0], [0], [1], [2]])  # expert 0 overloaded
    load_balancing_loss(torch.softmax(logits, 1), idx).backward()
    g = logits.grad.sum(0)
    assert g[0] > 0 and g[1] < 0 and g[2] < 0  # gradient descent lowers expert 0's logit


def test_balancing_loss_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="rows"):
        load_balancing_loss(torch.full((4, 3), 1 / 3), torch.zeros(5, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="probs"):
        load_balancing_loss(torch.ones(3), torch.zeros(3, 1, dtype=torch.long))


def test_expert_capacity_and_mask():
    assert expert_capacity(100, 8, 2, 1.25) == math.ceil(1.25 * 2 * 100 / 8)  # 32
    assert expert_capacity(10, 4, 1, 1.0) == 3
    with pytest.raises(ValueError, match="capacity_factor"):
        expert_capacity(10, 4, 1, 0.0)
    with pytest.raises(ValueError, match="k"):
        expert_capacity(10, 4, 5, 1.0)
    # expert 0 is everyone's first choice; capacity 2: tokens 0 and 1 get it, token 2 does not;
    # second choices are served after all first choices
    idx = torch.tensor([[0, 1], [0, 1], [0, 1], [2, 1]])
    kept = capacity_mask(idx, 3, 2)
    assert kept.tolist() == [[True, True], [True, True], [False, False], [True, False]]


# ---------------------------------------------------------------- the layer


def _manual_moe(layer: SparseMoE, x: torch.Tensor) -> torch.Tensor:
    w, idx = top_k_route(layer.router(x), layer.k)
    out = torch.zeros(x.shape[0], layer.out_dim)
    for t in range(x.shape[0]):
        for j in range(layer.k):
            out[t] += w[t, j] * layer.experts[int(idx[t, j])](x[t : t + 1])[0]
    return out


def test_sparse_moe_output_is_the_weighted_sum_of_its_top_k_experts():
    torch.manual_seed(0)
    layer = SparseMoE(5, 3, n_experts=6, k=2, hidden_dim=4).eval()
    x = torch.randn(20, 5)
    y = layer(x)
    assert y.shape == (20, 3)
    assert torch.allclose(y, _manual_moe(layer, x), atol=1e-5)
    assert layer.last_idx.shape == (20, 2)
    assert torch.allclose(layer.last_weights.sum(1), torch.ones(20))
    assert torch.allclose(layer.last_probs.sum(1), torch.ones(20))
    # the aux loss reaches the router
    layer.aux_loss.backward()
    assert layer.router.weight.grad is not None and layer.router.weight.grad.abs().sum() > 0


def test_sparse_moe_noise_only_in_training():
    torch.manual_seed(0)
    layer = SparseMoE(4, 2, n_experts=4, k=1)
    with torch.no_grad():
        layer.noise.weight.fill_(3.0)  # large noise scale: routing is mostly random in training
    x = torch.randn(200, 4).abs()
    layer.eval()
    layer(x)
    clean = layer.last_idx.clone()
    layer(x)
    assert torch.equal(layer.last_idx, clean)  # no noise at evaluation
    layer.train()
    layer(x)
    assert (layer.last_idx != clean).float().mean() > 0.2
    assert SparseMoE(4, 2, noisy=False).noise is None


def test_sparse_moe_capacity_drops_overflow():
    torch.manual_seed(0)
    layer = SparseMoE(3, 2, n_experts=4, k=1, noisy=False, capacity_factor=1.0)
    with torch.no_grad():
        layer.router.weight.zero_()
        layer.router.weight[0, 0] = 10.0  # every token with x0 > 0 prefers expert 0
    x = torch.randn(40, 3).abs()  # all prefer expert 0
    y = layer(x)
    cap = expert_capacity(40, 4, 1, 1.0)
    assert int(layer.last_kept.sum()) == cap
    assert (y[~layer.last_kept[:, 0]] == 0).all()  # dropped tokens get no expert output


@pytest.mark.parametrize(
    "kw, err",
    [
        ({"k": 5}, ValueError),
        ({"k": 0}, ValueError),
        ({"n_experts": 0}, ValueError),
        ({"hidden_dim": -1}, ValueError),
        ({"capacity_factor": -1.0}, ValueError),
        ({"in_dim": 2.5}, TypeError),
    ],
)
def test_sparse_moe_rejects_bad_arguments(kw, err):
    args = {"in_dim": 4, "out_dim": 2, "n_experts": 4, "k": 2} | kw
    with pytest.raises(err):
        SparseMoE(**args)


def test_sparse_moe_rejects_bad_input():
    layer = SparseMoE(4, 2)
    with pytest.raises(ValueError, match=r"\(tokens, 4\)"):
        layer(torch.randn(3, 5))
    with pytest.raises(ValueError, match="x must be"):
        layer(torch.randn(4))
    with pytest.raises(ValueError, match="at least one token"):
        layer(torch.randn(0, 4))


def test_balancing_loss_spreads_a_collapsing_router():
    """Train the router alone to imitate a skewed target routing; the aux loss evens it."""

    def final_cv(alpha: float) -> float:
        torch.manual_seed(0)
        layer = SparseMoE(8, 1, n_experts=4, k=1, noisy=False)
        opt = torch.optim.Adam(layer.parameters(), lr=0.05)
        x = torch.randn(256, 8).abs() + 0.5  # positive inputs: a bias-free router can collapse
        for _ in range(60):
            logits = layer.router(x)
            pull = -torch.log_softmax(logits, 1)[:, 0].mean()  # everyone wants expert 0
            layer(x)
            loss = pull + alpha * layer.aux_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        layer.eval()
        layer(x)
        return load_cv(expert_load(layer.last_idx, 4))

    assert final_cv(0.0) > 1.5  # collapsed onto expert 0 (max is sqrt(3) = 1.73)
    assert final_cv(10.0) < 0.5


# ---------------------------------------------------------------- CGC and lockstep training


def test_cgc_shapes_gates_and_task_isolation():
    torch.manual_seed(0)
    m = CGC(6, 2, n_specific=2, n_shared=3, expert_dim=4)
    x = torch.randn(5, 6)
    y = m(x)
    assert y.shape == (5, 2)
    assert m.last_gates.shape == (5, 2, 5)
    assert torch.allclose(m.last_gates.sum(-1), torch.ones(5, 2))
    # task 1's own experts (ids 2, 3) cannot affect task 0's output
    m2 = copy.deepcopy(m)
    with torch.no_grad():
        for e in (2, 3):
            m2.experts[e][0].weight.add_(1.0)
    y2 = m2(x)
    assert torch.allclose(y[:, 0], y2[:, 0]) and not torch.allclose(y[:, 1], y2[:, 1])
    with pytest.raises(ValueError, match=r"\(batch, 6\)"):
        m(torch.randn(5, 7))


@pytest.mark.parametrize("kw", [{"n_tasks": 0}, {"n_specific": 0}, {"n_shared": 0}])
def test_cgc_rejects_bad_sizes(kw):
    with pytest.raises(ValueError):
        CGC(**({"in_dim": 4, "n_tasks": 2} | kw))


@pytest.mark.parametrize("make", [lambda: MMoE(4, 2, 3, 5), lambda: SharedBottom(4, 2, 8)])
@pytest.mark.parametrize("batch_size", [None, 16])
def test_fit_mse_many_equals_training_each_model_alone(make, batch_size):
    torch.manual_seed(0)
    X, Y = torch.randn(2, 40, 4), torch.randn(2, 40, 2)
    models = [make(), make()]
    alone = copy.deepcopy(models[1])
    curves = fit_mse_many(models, X, Y, steps=5, lr=1e-2, batch_size=batch_size, seed=3)
    assert curves.shape == (2, 5)
    gen = torch.Generator().manual_seed(3)
    opt = torch.optim.Adam(alone.parameters(), lr=1e-2)
    for _ in range(5):
        rows = slice(None) if batch_size is None else torch.randint(0, 40, (16,), generator=gen)
        loss = ((alone(X[1, rows]) - Y[1, rows]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for a, b in zip(models[1].parameters(), alone.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_fit_mse_many_rejects_bad_input():
    ms = [SharedBottom(4, 2), SharedBottom(4, 2)]
    X, Y = torch.randn(2, 10, 4), torch.randn(2, 10, 2)
    with pytest.raises(ValueError, match="at least one"):
        fit_mse_many([], X, Y)
    with pytest.raises(TypeError, match="same class"):
        fit_mse_many([SharedBottom(4, 2), MMoE(4, 2)], X, Y)
    with pytest.raises(ValueError, match="X must be"):
        fit_mse_many(ms, X[:1], Y)
    with pytest.raises(ValueError, match="Y must be"):
        fit_mse_many(ms, X, Y[:, :5])
    with pytest.raises(ValueError, match="lr"):
        fit_mse_many(ms, X, Y, lr=0)
    with pytest.raises(ValueError, match="finite"):
        fit_mse_many(ms, X, Y.index_fill(1, torch.tensor([0]), float("nan")))


# ---------------------------------------------------------------- the synthetic tasks


def test_synthetic_tasks_construction():
    d = mmoe_synthetic_tasks(500, 0.5, dim=20, c=2.0, m=4, seed=7)
    assert d.X.shape == (500, 20) and d.Y.shape == (500, 2)
    assert d.X.dtype == d.Y.dtype == np.float32
    w1, w2 = d.weights
    assert np.linalg.norm(w1) == pytest.approx(2.0)
    assert np.linalg.norm(w2) == pytest.approx(2.0)
    assert w1 @ w2 / 4.0 == pytest.approx(0.5)  # cosine = p
    # labels follow y_k = w_k.x + sum_i sin(alpha_i w_k.x + beta_i) + small noise
    z = d.X.astype(float) @ d.weights.T
    clean = z + np.sin(z[:, :, None] * d.alphas + d.betas).sum(2)
    assert np.abs(d.Y - clean).max() < 0.06  # noise_std = 0.01
    assert np.allclose(d.alphas, [1, 2, 3, 4]) and np.allclose(d.betas, [0, 1, 4, 9])


def test_synthetic_tasks_share_inputs_across_p_and_correlation_rises_with_p():
    ds = [mmoe_synthetic_tasks(3000, p, dim=16, seed=1) for p in (0.0, 0.5, 0.9, 1.0)]
    for d in ds[1:]:
        assert np.array_equal(d.X, ds[0].X)
        assert np.array_equal(d.Y[:, 0], ds[0].Y[:, 0])  # task 1 does not depend on p
    corr = [d.label_correlation for d in ds]
    assert corr == sorted(corr) and corr[-1] > 0.999 and abs(corr[0]) < 0.1


@pytest.mark.parametrize(
    "p, err", [(1.01, ValueError), (-2, ValueError), (float("nan"), ValueError), (True, TypeError)]
)
def test_synthetic_tasks_reject_bad_correlation(p, err):
    with pytest.raises(err, match="p"):
        mmoe_synthetic_tasks(10, p)


@pytest.mark.parametrize(
    "kw, err",
    [
        ({"n": 0}, ValueError),
        ({"dim": 1}, ValueError),
        ({"m": 0}, ValueError),
        ({"c": 0.0}, ValueError),
        ({"noise_std": -0.1}, ValueError),
        ({"alphas": np.ones(3)}, ValueError),
    ],
)
def test_synthetic_tasks_reject_bad_arguments(kw, err):
    args = {"n": 10, "p": 0.5} | kw
    with pytest.raises(err):
        mmoe_synthetic_tasks(**args)


def test_check_correlation_accepts_the_closed_interval():
    assert check_correlation(-1) == -1.0 and check_correlation(np.float32(1.0)) == 1.0


def test_regime_tokens_and_moe_regressor():
    from utils.data.multitask_sim import regime_tokens
    from utils.models.moe import MoERegressor

    X, Y, r = regime_tokens(400, dim=6, out_dim=3, n_regimes=4, seed=2)
    assert X.shape == (400, 6) and Y.shape == (400, 3) and r.shape == (400,)
    assert X.dtype == Y.dtype == np.float32 and set(np.unique(r)) == {0, 1, 2, 3}
    assert np.abs(Y).max() < 1.0  # tanh targets
    X2, _, _ = regime_tokens(400, dim=6, out_dim=3, n_regimes=4, seed=2)
    assert np.array_equal(X, X2)  # seeded
    with pytest.raises(ValueError, match="separation"):
        regime_tokens(10, separation=-1.0)
    with pytest.raises(ValueError, match="n_regimes"):
        regime_tokens(10, n_regimes=0)
    net = MoERegressor(6, 3, width=8, n_experts=4, k=2, hidden_dim=4)
    assert net(torch.from_numpy(X)).shape == (400, 3)
    assert net.moe.last_idx.shape == (400, 2)
    with pytest.raises(ValueError, match=r"\(tokens, 6\)"):
        net(torch.randn(3, 5))
    with pytest.raises(ValueError, match="k"):
        MoERegressor(6, 3, n_experts=2, k=3)
