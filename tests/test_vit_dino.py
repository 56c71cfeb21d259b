"""utils.models.vit (TinyViT, vit_macs, train_classifier, accuracy) and utils.models.dino
(DINO loss, EMA teacher, centring, entropies, two-view augmentation, DINO-lite training)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import entropy as scipy_entropy
from torch.utils.flop_counter import FlopCounterMode

from utils.models.dino import (
    DINO,
    DINOHead,
    cosine_momentum,
    dino_loss,
    ema_update,
    entropy_stats,
    mnist_two_views,
    train_dino,
    update_center,
    view_augmenter,
)
from utils.models.vit import TinyViT, accuracy, train_classifier, vit_macs

# ----------------------------------------------------------------------------------- TinyViT


@pytest.mark.parametrize("patch, n_tokens", [(7, 17), (4, 50), (14, 5)])
def test_vit_shapes(patch, n_tokens):
    torch.manual_seed(0)
    m = TinyViT(28, patch, dim=32, depth=2, heads=4, n_classes=10)
    x = torch.rand(3, 1, 28, 28)
    assert m.n_patches == n_tokens - 1
    assert m.tokens(x).shape == (3, n_tokens, 32)
    assert m.features(x).shape == (3, 32)
    assert m(x).shape == (3, 10)
    backbone = TinyViT(28, patch, dim=32, n_classes=None)
    assert backbone(x).shape == (3, 32)


def test_patch_embedding_is_a_linear_map_of_each_flattened_patch():
    """A conv with kernel = stride = P is the ViT paper's E x_p for every P x P patch."""
    torch.manual_seed(0)
    m = TinyViT(28, 7, in_channels=2, dim=16, heads=4)
    x = torch.rand(2, 2, 28, 28)
    patches = torch.nn.functional.unfold(x, kernel_size=7, stride=7).transpose(1, 2)  # (2,16,98)
    E = m.patch_embed.weight.reshape(16, -1)
    manual = patches @ E.T + m.patch_embed.bias
    conv = m.patch_embed(x).flatten(2).transpose(1, 2)
    assert torch.allclose(conv, manual, atol=1e-5)


def test_without_position_embeddings_the_vit_ignores_where_patches_are():
    """Attention is permutation-equivariant: with zero position embeddings, shuffling the
    patches of an image leaves the [CLS] output unchanged; learned positions break that."""
    torch.manual_seed(0)
    m = TinyViT(28, 7, dim=32, depth=2, heads=4, n_classes=None).eval()
    x = torch.rand(2, 1, 28, 28)
    blocks = x.unfold(2, 7, 7).unfold(3, 7, 7).reshape(2, 1, 16, 7, 7)
    perm = torch.randperm(16)
    shuffled = blocks[:, :, perm].reshape(2, 1, 4, 4, 7, 7).permute(0, 1, 2, 4, 3, 5)
    shuffled = shuffled.reshape(2, 1, 28, 28)
    with torch.no_grad():
        assert not torch.allclose(m(x), m(shuffled), atol=1e-4)
        m.pos_embed.zero_()
        assert torch.allclose(m(x), m(shuffled), atol=1e-5)


def test_vit_rejects_bad_configuration():
    with pytest.raises(ValueError, match="divisible by patch_size"):
        TinyViT(28, 5)
    with pytest.raises(ValueError, match="divisible by heads"):
        TinyViT(28, 7, dim=30, heads=4)
    with pytest.raises(ValueError, match="dim must be positive"):
        TinyViT(28, 7, dim=0)
    with pytest.raises(TypeError, match="patch_size must be an int"):
        TinyViT(28, 7.0)
    with pytest.raises(ValueError, match="mlp_ratio"):
        TinyViT(mlp_ratio=0)
    with pytest.raises(ValueError, match="dropout"):
        TinyViT(dropout=1.0)


@pytest.mark.parametrize(
    "x", [torch.rand(4, 784), torch.rand(4, 3, 28, 28), torch.rand(4, 1, 32, 32), torch.rand(28)]
)
def test_vit_rejects_wrong_image_shapes(x):
    with pytest.raises(ValueError, match=r"x must be a \(batch, 1, 28, 28\) tensor"):
        TinyViT()(x)


def test_vit_rejects_non_tensors():
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        TinyViT()(np.zeros((1, 1, 28, 28), dtype=np.float32))


# ------------------------------------------------------------------------------------ costs


def test_vit_macs_matches_torch_flop_counter_on_vit_b16():
    """torchvision's ViT-B/16 at 224^2, built on the meta device (no memory, no compute):
    torch counts 2 FLOPs per multiply-accumulate, and ViT-B/16 comes out at 17.56 G MACs."""
    from torchvision.models import vit_b_16

    with torch.device("meta"):
        model = vit_b_16()
        x = torch.empty(1, 3, 224, 224)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(x)
    macs = vit_macs()
    assert macs["tokens"] == 197
    assert counter.get_total_flops() == 2 * macs["total"]
    assert 17.5e9 < macs["total"] < 17.6e9


def test_vit_macs_matches_torch_flop_counter_on_tiny_vit():
    with torch.device("meta"):
        m = TinyViT(28, 4, dim=64, depth=3, heads=4, mlp_ratio=2.0, n_classes=10)
        x = torch.empty(2, 1, 28, 28)
    with FlopCounterMode(display=False) as counter:
        m(x)
    expected = vit_macs(28, 4, dim=64, depth=3, mlp_dim=128, in_channels=1, n_classes=10)
    assert counter.get_total_flops() == 2 * 2 * expected["total"]  # 2 images, 2 FLOPs per MAC


def test_vit_macs_attention_is_quadratic_in_tokens():
    a = vit_macs(224, 16)["attention"]
    b = vit_macs(224, 8)["attention"]  # 4x the patches
    assert b / a == pytest.approx((785 / 197) ** 2)
    with pytest.raises(ValueError, match="divisible"):
        vit_macs(224, 15)
    with pytest.raises(ValueError, match="depth must be positive"):
        vit_macs(depth=0)


# ------------------------------------------------------------------------- train / accuracy


def _bars(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: a bright row band, class 1: a bright column band, at random offsets + noise."""
    g = torch.Generator().manual_seed(seed)
    x = 0.1 * torch.rand(n, 1, 28, 28, generator=g)
    y = torch.arange(n) % 2
    for i in range(n):
        o = int(torch.randint(4, 20, (1,), generator=g))
        if y[i] == 0:
            x[i, 0, o : o + 4, :] += 0.9
        else:
            x[i, 0, :, o : o + 4] += 0.9
    return x, y


def test_train_classifier_learns_a_separable_task():
    torch.manual_seed(0)
    x, y = _bars(128)
    xt, yt = _bars(64, seed=1)
    m = TinyViT(28, 7, dim=32, depth=1, heads=4, n_classes=2)
    assert accuracy(m, xt, yt) <= 0.8
    train_classifier(m, x, y, steps=60, batch_size=32, lr=3e-3, seed=0)
    assert not m.training
    assert accuracy(m, xt, yt) >= 0.95


def test_accuracy_counts_correct_predictions():
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return torch.stack([x.flatten(1).sum(1), -x.flatten(1).sum(1)], dim=1)

    x = torch.tensor([1.0, -1.0, 2.0, -3.0]).reshape(4, 1, 1, 1)
    assert accuracy(Fixed(), x, torch.tensor([0, 1, 1, 1])) == pytest.approx(0.75)
    assert accuracy(Fixed(), x, torch.tensor([0, 1, 0, 1]), batch=3) == 1.0


def test_train_and_accuracy_reject_bad_input():
    m = TinyViT(n_classes=2)
    x, y = _bars(4)
    with pytest.raises(ValueError, match="labels must be"):
        train_classifier(m, x, y[:3], steps=1)
    with pytest.raises(ValueError, match="images must be"):
        train_classifier(m, x.reshape(4, -1), y, steps=1)
    with pytest.raises(ValueError, match="steps must be positive"):
        train_classifier(m, x, y, steps=0)
    with pytest.raises(ValueError, match="equal length"):
        accuracy(m, x, y[:2])


# --------------------------------------------------------------------------------- DINO loss


def _np_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_dino_loss_matches_a_hand_computation():
    s = [torch.tensor([[0.2, -0.1, 0.5], [0.0, 0.3, -0.4]]),
         torch.tensor([[-0.3, 0.6, 0.1], [0.4, 0.0, 0.2]])]  # fmt: skip
    t = [torch.tensor([[0.1, 0.2, -0.2], [0.5, -0.5, 0.0]]),
         torch.tensor([[0.3, 0.1, 0.0], [-0.2, 0.4, 0.1]])]  # fmt: skip
    c = torch.tensor([[0.05, -0.02, 0.01]])
    tau_s, tau_t = 0.1, 0.04

    def ce(ti, si):  # mean over the batch of -sum_k p_t log p_s
        p = _np_softmax((ti.numpy() - c.numpy()) / tau_t)
        q = _np_softmax(si.numpy() / tau_s)
        return float(np.mean(-(p * np.log(q)).sum(axis=1)))

    expected = 0.5 * (ce(t[0], s[1]) + ce(t[1], s[0]))  # same-view pairs are skipped
    got = dino_loss(s, t, c, student_temp=tau_s, teacher_temp=tau_t)
    assert float(got) == pytest.approx(expected, rel=1e-5)
    # without centring the teacher logits are used as they are
    expected_nc = 0.5 * (
        ce(t[0] + c, s[1]) + ce(t[1] + c, s[0])
    )  # (t + c) - c = t: reuse ce with the shift undone
    assert float(dino_loss(s, t, None, tau_s, tau_t)) == pytest.approx(expected_nc, rel=1e-5)


def test_dino_loss_with_extra_student_views_averages_all_cross_pairs():
    torch.manual_seed(0)
    s = [torch.randn(4, 5) for _ in range(3)]
    t = [torch.randn(4, 5) for _ in range(2)]
    pairs = [(0, 1), (0, 2), (1, 0), (1, 2)]
    per_pair = []
    for i, j in pairs:
        p = torch.softmax(t[i] / 0.04, dim=1)
        per_pair.append(float(-(p * torch.log_softmax(s[j] / 0.1, dim=1)).sum(1).mean()))
    assert float(dino_loss(s, t)) == pytest.approx(np.mean(per_pair), rel=1e-6)


def test_dino_loss_sends_no_gradient_to_the_teacher():
    s = [torch.randn(3, 4, requires_grad=True) for _ in range(2)]
    t = [torch.randn(3, 4, requires_grad=True) for _ in range(2)]
    dino_loss(s, t).backward()
    assert s[0].grad is not None and s[1].grad is not None
    assert t[0].grad is None and t[1].grad is None


def test_dino_loss_rejects_bad_input():
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    with pytest.raises(ValueError, match="at least two views"):
        dino_loss([a], [b])
    with pytest.raises(ValueError, match="more than student_out"):
        dino_loss([a, b], [a, b, a])
    with pytest.raises(ValueError, match=r"student_out\[1\] must be a \(2, 3\) tensor"):
        dino_loss([a, torch.randn(2, 4)], [b])
    with pytest.raises(ValueError, match="at least one view"):
        dino_loss([], [])
    with pytest.raises(ValueError, match="center must be"):
        dino_loss([a, b], [a], torch.zeros(1, 4))
    with pytest.raises(ValueError, match="teacher_temp must be a positive number"):
        dino_loss([a, b], [a], teacher_temp=0.0)


# --------------------------------------------------------------------- EMA teacher, centring


def test_ema_update_is_the_exponential_moving_average():
    torch.manual_seed(0)
    student, teacher = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.clone() for p in teacher.parameters()]
    ema_update(teacher, student, 0.9)
    for t, t0, s in zip(teacher.parameters(), before, student.parameters(), strict=True):
        assert torch.allclose(t, 0.9 * t0 + 0.1 * s)
    ema_update(teacher, student, 1.0)  # frozen
    ema_update(teacher, student, 0.0)  # copy
    for t, s in zip(teacher.parameters(), student.parameters(), strict=True):
        assert torch.equal(t, s)


def test_ema_update_rejects_mismatched_models_and_bad_momentum():
    with pytest.raises(ValueError, match="same parameter shapes"):
        ema_update(torch.nn.Linear(3, 2), torch.nn.Linear(3, 4), 0.9)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\]"):
        ema_update(torch.nn.Linear(3, 2), torch.nn.Linear(3, 2), 1.5)


def test_update_center_is_an_ema_of_the_batch_mean_over_views():
    c = torch.tensor([[1.0, 0.0, -1.0]])
    t = [torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), torch.tensor([[0.0, 0.0, 0.0]] * 2)]
    new = update_center(c, t, momentum=0.9)
    batch_mean = torch.tensor([[1.0, 1.0, 1.0]])  # mean over 4 rows
    assert torch.allclose(new, 0.9 * c + 0.1 * batch_mean)
    assert torch.allclose(update_center(c, t[0], momentum=0.0), torch.tensor([[2.0, 2.0, 2.0]]))
    with pytest.raises(ValueError, match=r"\(batch, 3\) logits"):
        update_center(c, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="momentum"):
        update_center(c, t, momentum=-0.1)


def test_cosine_momentum_schedule():
    assert cosine_momentum(0, 100, 0.996) == pytest.approx(0.996)
    assert cosine_momentum(50, 100, 0.996) == pytest.approx(0.998)
    assert cosine_momentum(100, 100, 0.996) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="step"):
        cosine_momentum(101, 100)


# ------------------------------------------------------------------------------- entropies


def test_entropy_stats_detects_both_collapses_and_matches_scipy():
    k = 8
    uniform = torch.full((5, k), 1.0 / k)
    assert entropy_stats(uniform) == pytest.approx((math.log(k), math.log(k)))
    one_dim = torch.zeros(5, k)
    one_dim[:, 3] = 1.0
    assert entropy_stats(one_dim) == pytest.approx((0.0, 0.0), abs=1e-12)
    healthy = torch.eye(k)  # each sample confident, batch spread evenly
    assert entropy_stats(healthy) == pytest.approx((0.0, math.log(k)), abs=1e-12)
    p = torch.softmax(torch.randn(6, k), dim=1)
    h_s, h_m = entropy_stats(p)
    assert h_s == pytest.approx(np.mean(scipy_entropy(p.numpy().T)), rel=1e-5)
    assert h_m == pytest.approx(scipy_entropy(p.numpy().mean(0)), rel=1e-5)
    assert h_s <= h_m + 1e-9  # entropy is concave


def test_entropy_stats_rejects_non_distributions():
    with pytest.raises(ValueError, match="probability distributions"):
        entropy_stats(torch.ones(2, 3))
    with pytest.raises(ValueError, match="non-empty"):
        entropy_stats(torch.ones(3))


# ------------------------------------------------------------------------- head, DINO module


@pytest.mark.parametrize("batch_norm", [False, True])
def test_dino_head_outputs_cosines(batch_norm):
    torch.manual_seed(0)
    h = DINOHead(16, out_dim=10, hidden_dim=32, bottleneck_dim=8, batch_norm=batch_norm)
    z = h(torch.randn(5, 16))
    assert z.shape == (5, 10)
    assert float(z.detach().abs().max()) <= 1.0 + 1e-6
    with pytest.raises(ValueError, match=r"\(batch, 16\)"):
        h(torch.randn(5, 15))


def test_dino_module_step_updates_student_center_and_teacher():
    torch.manual_seed(0)
    model = DINO(TinyViT(28, 7, dim=16, depth=1, heads=2, n_classes=None), 16, out_dim=12)
    for a, b in zip(model.teacher.parameters(), model.student.parameters(), strict=True):
        assert torch.equal(a, b) and not a.requires_grad
    views = [torch.rand(6, 1, 28, 28), torch.rand(6, 1, 28, 28)]
    loss, probs = model(views)
    assert loss.ndim == 0 and probs.shape == (12, 12)
    assert torch.allclose(probs.sum(1), torch.ones(12))
    assert not torch.equal(model.center, torch.zeros(1, 12))
    loss.backward()
    torch.optim.SGD(model.student.parameters(), lr=0.5).step()
    t_before = [p.clone() for p in model.teacher.parameters()]
    model.update_teacher(0.5)
    moved = [
        not torch.equal(a, b) for a, b in zip(model.teacher.parameters(), t_before, strict=True)
    ]
    assert any(moved)
    no_c = DINO(TinyViT(28, 7, dim=16, depth=1, heads=2, n_classes=None), 16, centering=False)
    no_c(views)
    assert torch.equal(no_c.center, torch.zeros_like(no_c.center))
    with pytest.raises(ValueError, match="at least two augmented views"):
        model(views[:1])
    with pytest.raises(ValueError, match="center_momentum"):
        DINO(TinyViT(n_classes=None), 64, center_momentum=2.0)


# --------------------------------------------------------------------- views and training


def test_two_views_are_seeded_in_range_and_leave_global_rng_alone():
    x = torch.rand(5, 1, 28, 28)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a1, b1 = mnist_two_views(x, torch.Generator().manual_seed(7))
    assert torch.equal(torch.get_rng_state(), state)
    a2, b2 = mnist_two_views(x, torch.Generator().manual_seed(7))
    assert torch.equal(a1, a2) and torch.equal(b1, b2)
    assert a1.shape == x.shape and not torch.equal(a1, b1)
    assert float(a1.min()) >= 0.0 and float(a1.max()) <= 1.0
    with pytest.raises(ValueError, match="x must be"):
        mnist_two_views(torch.rand(5, 28, 28), torch.Generator())


def test_view_augmenter_draws_a_crop_per_image():
    aug = view_augmenter((0.3, 0.5), noise=0.0)
    x = torch.rand(1, 1, 28, 28).expand(4, 1, 28, 28)
    out = aug(x, torch.Generator().manual_seed(0))
    assert not torch.equal(out[0], out[1])  # same image, different random crops


def test_train_dino_returns_a_history():
    torch.manual_seed(0)
    model = DINO(TinyViT(28, 7, dim=16, depth=1, heads=2, n_classes=None), 16, out_dim=8)
    hist = train_dino(model, torch.rand(40, 1, 28, 28), steps=6, batch_size=8, log_every=2)
    assert list(hist) == ["step", "loss", "kl", "h_sample", "h_mean"]
    assert hist["step"].tolist() == [0, 2, 4, 5]
    assert np.all(hist["h_sample"] <= math.log(8) + 1e-6)
    assert np.all(hist["kl"] >= -1e-6)
    with pytest.raises(ValueError, match="images must be"):
        train_dino(model, torch.rand(4, 1, 28, 28), steps=2, batch_size=8)


def test_train_dino_can_freeze_the_output_layer():
    torch.manual_seed(0)
    model = DINO(TinyViT(28, 7, dim=16, depth=1, heads=2, n_classes=None), 16, out_dim=8)
    before = model.student[1].prototypes.detach().clone()
    train_dino(model, torch.rand(16, 1, 28, 28), steps=3, batch_size=8, freeze_last_layer=3)
    assert torch.equal(model.student[1].prototypes, before)
    train_dino(model, torch.rand(16, 1, 28, 28), steps=2, batch_size=8)
    assert not torch.equal(model.student[1].prototypes, before)
