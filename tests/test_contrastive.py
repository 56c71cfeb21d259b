"""utils.losses (InfoNCE, NT-Xent, CLIP, sigmoid), utils.augment and utils.models.clip."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from utils.augment import as_image_batch, augment_views, digit_augmentations
from utils.losses import clip_loss, info_nce_loss, nt_xent_loss, sigmoid_pair_loss
from utils.models.clip import TinyCLIP
from utils.models.encoders import SmallCNN


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _nt_xent_loops(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    """SimCLR eq. 1 written out: every one of the 2N views against the 2N - 1 others."""
    z = np.concatenate([z1, z2])
    n2 = len(z)
    total = 0.0
    for a in range(n2):
        pos = (a + n2 // 2) % n2
        denom = sum(math.exp(_cos(z[a], z[b]) / tau) for b in range(n2) if b != a)
        total += -math.log(math.exp(_cos(z[a], z[pos]) / tau) / denom)
    return total / n2


def _clip_loops(img: np.ndarray, txt: np.ndarray, tau: float) -> float:
    n = len(img)
    s = np.array([[_cos(img[i], txt[j]) / tau for j in range(n)] for i in range(n)])
    i2t = sum(-s[i, i] + math.log(sum(math.exp(s[i, j]) for j in range(n))) for i in range(n))
    t2i = sum(-s[j, j] + math.log(sum(math.exp(s[i, j]) for i in range(n))) for j in range(n))
    return 0.5 * (i2t + t2i) / n


@pytest.fixture
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(
        5, 4, generator=g, dtype=torch.float64
    )


@pytest.mark.parametrize("tau", [0.07, 0.5, 2.0])
def test_nt_xent_matches_a_loop_over_views(pair, tau):
    z1, z2 = pair
    expected = _nt_xent_loops(z1.numpy(), z2.numpy(), tau)
    assert float(nt_xent_loss(z1, z2, tau)) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("tau", [0.07, 1.0])
def test_clip_loss_matches_a_loop_in_both_directions(pair, tau):
    img, txt = pair
    assert float(clip_loss(img, txt, tau)) == pytest.approx(
        _clip_loops(img.numpy(), txt.numpy(), tau), rel=1e-10
    )


def test_info_nce_matches_cross_entropy_by_hand_and_adds_queue_negatives(pair):
    q, k = pair
    tau = 0.2
    qn, kn = q / q.norm(dim=1, keepdim=True), k / k.norm(dim=1, keepdim=True)
    s = (qn @ kn.T).numpy() / tau
    by_hand = np.mean([np.log(np.exp(s[i]).sum()) - s[i, i] for i in range(len(s))])
    assert float(info_nce_loss(q, k, tau)) == pytest.approx(by_hand, rel=1e-10)
    # A queue of extra negatives only adds terms to each denominator: the loss can only grow.
    queue = torch.randn(7, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    sq = (qn @ (queue / queue.norm(dim=1, keepdim=True)).T).numpy() / tau
    with_queue = np.mean(
        [np.log(np.exp(s[i]).sum() + np.exp(sq[i]).sum()) - s[i, i] for i in range(len(s))]
    )
    got = float(info_nce_loss(q, k, tau, negatives=queue))
    assert got == pytest.approx(with_queue, rel=1e-10)
    assert got > float(info_nce_loss(q, k, tau))


def test_clip_loss_is_the_mean_of_two_info_nce_directions(pair):
    img, txt = pair
    both = 0.5 * (info_nce_loss(img, txt, 0.1) + info_nce_loss(txt, img, 0.1))
    assert float(clip_loss(img, txt, 0.1)) == pytest.approx(float(both), rel=1e-12)


@pytest.mark.parametrize("n", [2, 8, 64])
def test_collapsed_embeddings_give_log_2n_minus_1(n):
    z = torch.ones(n, 16)  # every view is the same vector: all logits equal
    assert float(nt_xent_loss(z, z, 0.1)) == pytest.approx(math.log(2 * n - 1), rel=1e-6)
    assert float(clip_loss(z, z, 0.1)) == pytest.approx(math.log(n), rel=1e-6)


def test_aligned_orthogonal_pairs_have_a_closed_form_and_vanish_at_low_temperature():
    """Positives identical, negatives orthogonal: each of the 2N views sees one logit 1/tau and
    2N - 2 logits 0, so the loss is log(1 + (2N - 2) exp(-1/tau))."""
    n = 8
    z = torch.eye(n, dtype=torch.float64)
    for tau in (0.1, 0.5, 100.0):
        expected = math.log1p((2 * n - 2) * math.exp(-1 / tau))
        assert float(nt_xent_loss(z, z, tau)) == pytest.approx(expected, rel=1e-9)
        assert float(clip_loss(z, z, tau)) == pytest.approx(
            math.log1p((n - 1) * math.exp(-1 / tau)), rel=1e-9
        )
    assert float(nt_xent_loss(z, z, 0.01)) < 1e-12  # low temperature: near 0
    assert float(nt_xent_loss(z, z, 1e4)) == pytest.approx(math.log(2 * n - 1), rel=1e-3)


def test_losses_are_scale_invariant_and_symmetric_under_view_swap(pair):
    z1, z2 = pair
    ref = float(nt_xent_loss(z1, z2, 0.3))
    assert float(nt_xent_loss(3.0 * z1, 0.5 * z2, 0.3)) == pytest.approx(ref, rel=1e-12)
    assert float(nt_xent_loss(z2, z1, 0.3)) == pytest.approx(ref, rel=1e-12)
    perm = torch.randperm(5, generator=torch.Generator().manual_seed(3))
    assert float(nt_xent_loss(z1[perm], z2[perm], 0.3)) == pytest.approx(ref, rel=1e-12)


def test_sigmoid_loss_matches_a_loop(pair):
    img, txt = pair
    tau, b = 0.1, -3.0
    i, t = img.numpy(), txt.numpy()
    n = len(i)
    total = 0.0
    for a in range(n):
        for c in range(n):
            z = 1.0 if a == c else -1.0
            total += math.log1p(math.exp(-z * (_cos(i[a], t[c]) / tau + b)))
    assert float(sigmoid_pair_loss(img, txt, tau, b)) == pytest.approx(total / n, rel=1e-10)


def test_learnable_temperature_gets_a_gradient(pair):
    img, txt = pair
    log_inv_tau = torch.tensor(math.log(1 / 0.07), dtype=torch.float64, requires_grad=True)
    clip_loss(img, txt, 1.0 / log_inv_tau.exp()).backward()
    assert log_inv_tau.grad is not None and torch.isfinite(log_inv_tau.grad)


@pytest.mark.parametrize("loss", [nt_xent_loss, clip_loss, info_nce_loss, sigmoid_pair_loss])
def test_losses_reject_bad_batches(loss):
    with pytest.raises(ValueError, match="at least 2 pairs"):
        loss(torch.randn(1, 4), torch.randn(1, 4))
    with pytest.raises(ValueError, match="same shape"):
        loss(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match="same shape"):
        loss(torch.randn(3, 4), torch.randn(4, 4))
    with pytest.raises(ValueError, match="2-D"):
        loss(torch.randn(3), torch.randn(3))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        loss(np.ones((3, 4)), torch.randn(3, 4))
    with pytest.raises(ValueError, match="NaN"):
        loss(torch.full((3, 4), float("nan")), torch.randn(3, 4))
    for bad_tau in (0.0, -0.1, float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            loss(torch.randn(3, 4), torch.randn(3, 4), bad_tau)
    with pytest.raises(TypeError, match="temperature"):
        loss(torch.randn(3, 4), torch.randn(3, 4), "0.1")


def test_info_nce_rejects_bad_queue():
    with pytest.raises(ValueError, match="columns"):
        info_nce_loss(torch.randn(3, 4), torch.randn(3, 4), negatives=torch.randn(5, 3))


# --- augmentations ----------------------------------------------------------------------------


def test_as_image_batch_reshapes_and_validates():
    X = np.random.default_rng(0).random((3, 784))
    imgs = as_image_batch(X)
    assert imgs.shape == (3, 1, 28, 28) and imgs.dtype == torch.float32
    assert torch.equal(imgs.reshape(3, -1), torch.from_numpy(X.astype(np.float32)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        as_image_batch(X * 255)
    with pytest.raises(ValueError, match="784"):
        as_image_batch(np.zeros((3, 100)))
    with pytest.raises(TypeError, match="numbers"):
        as_image_batch(np.array([["a"] * 784]))


def test_augment_views_are_seeded_per_image_and_in_range():
    imgs = as_image_batch(np.random.default_rng(1).random((6, 784)))
    torch.manual_seed(0)
    a = augment_views(imgs, 2)
    torch.manual_seed(0)
    b = augment_views(imgs, 2)
    assert a.shape == (2, 6, 1, 28, 28)
    assert torch.equal(a, b)  # same seed, same views
    assert not torch.equal(a[0], a[1])  # two views differ
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    # Each image draws its own parameters: the same image repeated gets different views.
    same = augment_views(imgs[:1].repeat(4, 1, 1, 1), 1)[0]
    assert not torch.equal(same[0], same[1])


def test_augmentations_keep_the_digit_roughly_in_place():
    """A view of a real-looking stroke stays correlated with the original (no flips, small
    rotations); a left-right flip of an asymmetric stroke does not."""
    img = torch.zeros(1, 28, 28)
    img[0, 4:24, 8:11] = 1.0  # a vertical bar on the left: asymmetric under a flip
    img[0, 4:7, 8:20] = 1.0
    torch.manual_seed(0)
    views = augment_views(img[None], 20)[:, 0]
    corr = [np.corrcoef(v.ravel().numpy(), img.ravel().numpy())[0, 1] for v in views]
    flipped = np.corrcoef(img.flip(-1).ravel().numpy(), img.ravel().numpy())[0, 1]
    assert np.median(corr) > flipped


def test_digit_augmentations_reject_bad_parameters():
    with pytest.raises(ValueError, match="crop_scale"):
        digit_augmentations(crop_scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="blur_p"):
        digit_augmentations(blur_p=2.0)
    with pytest.raises(ValueError, match="n_views"):
        augment_views(torch.zeros(2, 1, 28, 28), 0)
    with pytest.raises(ValueError, match="images"):
        augment_views(torch.zeros(2, 28, 28))


# --- tiny CLIP ---------------------------------------------------------------------------------


def test_tiny_clip_shapes_temperature_and_zero_shot():
    torch.manual_seed(0)
    model = TinyCLIP(text_dim=12, embed_dim=8, width=4, temperature=0.07)
    images, text = torch.rand(6, 1, 28, 28), torch.randn(6, 12)
    img, txt = model(images, text)
    assert img.shape == txt.shape == (6, 8)
    assert torch.allclose(img.norm(dim=1), torch.ones(6), atol=1e-5)
    assert float(model.tau.detach()) == pytest.approx(0.07, rel=1e-5)
    loss = model.loss(images, text)
    loss.backward()
    assert model.log_inv_tau.grad is not None
    prompts = torch.randn(3, 2, 12)  # 3 classes x 2 prompts
    classes = model.class_text_embeddings(prompts)
    assert classes.shape == (3, 8)
    preds = model.zero_shot_predict(images, prompts, batch_size=4)
    expected = (model.eval().encode_image(images) @ classes.T).argmax(1)
    assert torch.equal(preds, expected)
    # The logit scale is clipped at 100 (CLIP), whatever the parameter says.
    with torch.no_grad():
        model.log_inv_tau.fill_(10.0)
    assert float(model.tau.detach()) == pytest.approx(0.01)


def test_tiny_clip_fixed_temperature_and_custom_tower():
    model = TinyCLIP(
        text_dim=5,
        embed_dim=3,
        image_encoder=SmallCNN(dim=7, width=4),
        learn_temperature=False,
        temperature=0.5,
    )
    assert not model.log_inv_tau.requires_grad
    assert model.encode_image(torch.rand(2, 1, 28, 28)).shape == (2, 3)


def test_tiny_clip_learns_to_pair_images_with_texts():
    """Two image classes (bright top vs bright bottom) paired with two text vectors: a few steps
    of the CLIP loss must separate them zero-shot."""
    torch.manual_seed(0)
    imgs = torch.zeros(32, 1, 28, 28)
    imgs[:16, :, :14] = 1.0
    imgs[16:, :, 14:] = 1.0
    imgs += 0.1 * torch.rand_like(imgs)
    labels = torch.tensor([0] * 16 + [1] * 16)
    text_vecs = torch.eye(2, 6)
    model = TinyCLIP(text_dim=6, embed_dim=4, width=4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        loss = model.loss(imgs, text_vecs[labels])
        opt.zero_grad()
        loss.backward()
        opt.step()
    preds = model.zero_shot_predict(imgs, text_vecs[:, None, :])
    assert float((preds == labels).float().mean()) == 1.0


def test_tiny_clip_rejects_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        TinyCLIP(temperature=0.001)
    with pytest.raises(TypeError, match=r"\.dim"):
        TinyCLIP(image_encoder=torch.nn.Identity())
    model = TinyCLIP(text_dim=5, embed_dim=3, width=4)
    with pytest.raises(ValueError, match="5 columns"):
        model.encode_text(torch.randn(2, 4))
    with pytest.raises(ValueError, match="n_classes, n_prompts"):
        model.class_text_embeddings(torch.randn(3, 5))


def test_locked_tower_is_frozen_and_accepts_cached_features():
    torch.manual_seed(0)
    tower = SmallCNN(dim=6, width=4)
    model = TinyCLIP(text_dim=5, embed_dim=3, image_encoder=tower, lock_image_tower=True)
    assert not any(p.requires_grad for p in model.image_encoder.parameters())
    images = torch.rand(4, 1, 28, 28)
    feats = model.image_features(images)
    assert torch.allclose(model.encode_image(feats), model.encode_image(images), atol=1e-6)
    model.loss(feats, torch.randn(4, 5)).backward()
    assert model.image_proj.weight.grad is not None and model.text_proj.weight.grad is not None
    with pytest.raises(ValueError, match="columns"):
        model.encode_image(torch.randn(4, 7))
    with pytest.raises(ValueError, match="locked"):
        TinyCLIP(text_dim=5, embed_dim=3, width=4).encode_image(torch.randn(4, 64))


def test_sigmoid_clip_trains_its_bias():
    torch.manual_seed(0)
    model = TinyCLIP(text_dim=5, embed_dim=3, width=4, loss="sigmoid", temperature=0.1)
    assert model.logit_bias.requires_grad
    model.loss(torch.rand(4, 1, 28, 28), torch.randn(4, 5)).backward()
    assert model.logit_bias.grad is not None
    assert not TinyCLIP(text_dim=5, embed_dim=3, width=4).logit_bias.requires_grad
    with pytest.raises(ValueError, match="loss"):
        TinyCLIP(loss="hinge")
