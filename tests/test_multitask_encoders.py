"""utils.models.multitask (SharedBottom, MMoE) and utils.models.encoders (SmallCNN)."""

from __future__ import annotations

import pytest
import torch

from utils.models.encoders import SmallCNN
from utils.models.multitask import MMoE, SharedBottom


def test_mmoe_shapes_and_gates_are_distributions():
    torch.manual_seed(0)
    m = MMoE(in_dim=6, n_tasks=3, n_experts=5, expert_dim=8)
    y = m(torch.randn(7, 6))
    assert y.shape == (7, 3)
    assert m.last_gates.shape == (7, 3, 5)
    assert torch.allclose(m.last_gates.sum(-1), torch.ones(7, 3))


def test_mmoe_output_is_the_tower_of_the_gate_weighted_expert_mix():
    torch.manual_seed(0)
    m = MMoE(in_dim=4, n_tasks=2, n_experts=3, expert_dim=5)
    x = torch.randn(3, 4)
    y = m(x)
    for k in range(2):
        g = torch.softmax(m.gates[k](x), dim=1)
        mix = sum(g[:, i : i + 1] * m.experts[i](x) for i in range(3))
        assert torch.allclose(y[:, k], m.towers[k](mix).squeeze(1), atol=1e-6)


def test_mmoe_learns_two_unrelated_tasks():
    torch.manual_seed(0)
    x = torch.randn(512, 4)
    y = torch.stack([x[:, 0] * x[:, 1], x[:, 2].abs()], dim=1)
    m = MMoE(4, 2, n_experts=4, expert_dim=16)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    first = None
    for _ in range(300):
        loss = torch.nn.functional.mse_loss(m(x), y)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.3 * first


def test_shared_bottom_shapes():
    assert SharedBottom(5, 2)(torch.randn(3, 5)).shape == (3, 2)


@pytest.mark.parametrize("model", [MMoE(4, 2), SharedBottom(4, 2)])
def test_heads_reject_wrong_input_shape(model):
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        model(torch.randn(3, 5))
    with pytest.raises(ValueError, match="x must be"):
        model(torch.randn(4))


@pytest.mark.parametrize("kw", [{"n_tasks": 0}, {"n_experts": 0}, {"expert_dim": -1}])
def test_mmoe_rejects_bad_sizes(kw):
    args = {"in_dim": 4, "n_tasks": 2} | kw
    with pytest.raises(ValueError, match=next(iter(kw))):
        MMoE(**args)


def test_small_cnn_embeds_and_normalises():
    torch.manual_seed(0)
    enc = SmallCNN(dim=16, normalize=True)
    z = enc(torch.randn(5, 1, 28, 28))
    assert z.shape == (5, 16)
    assert torch.allclose(z.norm(dim=1), torch.ones(5), atol=1e-5)
    assert SmallCNN(in_channels=3, dim=8)(torch.randn(2, 3, 32, 32)).shape == (2, 8)


def test_small_cnn_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"\(batch, 1, H, W\)"):
        SmallCNN()(torch.randn(2, 3, 28, 28))


def test_torch_threads_restores_the_count_even_on_error():
    from utils._threads import torch_threads

    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), torch_threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="positive int"), torch_threads(0):
        pass
