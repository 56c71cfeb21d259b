"""utils.models.fusion: early, late and attention fusion with missing modalities."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from utils.models.fusion import (
    DIGIT_WORDS,
    AttentionFusion,
    EarlyFusion,
    LateFusion,
    caption_posterior,
    combine_logprobs,
    drop_modalities,
    predict_proba,
    presence_mask,
    simulate_digit_captions,
    train_classifier,
)

DIMS = [5, 3]


def _inputs(batch: int = 6, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, d, generator=g) for d in DIMS]


def _models() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [
        EarlyFusion(DIMS, 4, hidden=8),
        LateFusion(DIMS, 4, hidden=8),
        LateFusion(DIMS, 4, hidden=8, combine="mean_prob"),
        AttentionFusion(DIMS, 4, d_model=8, n_heads=2, hidden=8),
        AttentionFusion(DIMS, 4, d_model=8, n_heads=2, tokens_per_modality=1, n_layers=0),
    ]


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_shapes_and_missing_rows_are_ignored(model):
    model.eval()
    xs = _inputs()
    mask = torch.tensor([[1, 1], [1, 0], [0, 1], [1, 1], [0, 1], [1, 0]], dtype=torch.bool)
    out = model(xs, mask)
    assert out.shape == (6, 4) and torch.isfinite(out).all()
    # whatever sits in a missing modality's rows (garbage, NaN) must not change the output
    junk = [x.clone() for x in xs]
    junk[0][~mask[:, 0]] = float("nan")
    junk[1][~mask[:, 1]] = 1e6
    assert torch.allclose(model(junk, mask), out, atol=1e-5)
    # a present modality does matter
    moved = [xs[0] + 1.0, xs[1]]
    assert not torch.allclose(model(moved, mask)[mask[:, 0]], out[mask[:, 0]])


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_no_mask_means_all_present(model):
    model.eval()
    xs = _inputs()
    assert torch.allclose(model(xs), model(xs, torch.ones(6, 2, dtype=torch.bool)))
    assert torch.allclose(model(xs), model(xs, torch.ones(6, 2)))  # 0/1 floats are accepted


def test_early_fusion_is_an_mlp_on_zero_filled_features_and_mask_bits():
    torch.manual_seed(0)
    m = EarlyFusion(DIMS, 4, hidden=8).eval()
    xs = _inputs(2)
    mask = torch.tensor([[True, False], [True, True]])
    expected = m.net(torch.cat([xs[0], torch.cat([torch.zeros(1, 3), xs[1][1:]]), mask.float()], 1))
    assert torch.allclose(m(xs, mask), expected)


def test_late_fusion_with_one_modality_is_that_head():
    torch.manual_seed(0)
    xs = _inputs(4)
    mask = torch.tensor([[True, False]] * 4)
    for combine in ("mean_logprob", "mean_prob"):
        m = LateFusion(DIMS, 4, hidden=8, combine=combine).eval()
        head = torch.log_softmax(m.heads[0](xs[0]), dim=1)
        assert torch.allclose(m(xs, mask), head, atol=1e-6)
        assert m.last_logprobs.shape == (4, 2, 4)


def test_combine_logprobs_matches_numpy():
    rng = np.random.default_rng(0)
    raw = rng.standard_normal((5, 3, 4))
    logp = raw - logsumexp(raw, axis=2, keepdims=True)
    mask = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]], dtype=bool)
    t = torch.tensor(logp)
    geo = combine_logprobs(t, torch.tensor(mask)).numpy()
    mix = combine_logprobs(t, torch.tensor(mask), "mean_prob").numpy()
    for i in range(5):
        present = logp[i, mask[i]]
        np.testing.assert_allclose(geo[i], present.mean(axis=0), atol=1e-12)
        np.testing.assert_allclose(mix[i], np.log(np.exp(present).mean(axis=0)), atol=1e-12)
    # a missing modality may carry -inf log-probabilities without poisoning the result
    t2 = t.clone()
    t2[2, 0] = -torch.inf
    assert torch.isfinite(combine_logprobs(t2, torch.tensor(mask))).all()
    assert torch.isfinite(combine_logprobs(t2, torch.tensor(mask), "mean_prob")).all()
    with pytest.raises(ValueError, match="how"):
        combine_logprobs(t, torch.tensor(mask), "max")
    with pytest.raises(ValueError, match="logp"):
        combine_logprobs(t[0], torch.tensor(mask))


def test_attention_weights_skip_missing_modalities():
    torch.manual_seed(0)
    m = AttentionFusion(DIMS, 4, d_model=8, n_heads=2).eval()
    mask = torch.tensor([[True, True], [True, False], [False, True]])
    m(_inputs(3), mask)
    w = m.last_weights
    assert w.shape == (3, 2)
    assert torch.allclose(w.sum(dim=1), torch.ones(3), atol=1e-6)
    assert w[1, 1] == 0 and w[2, 0] == 0 and (w[0] > 0).all()


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_bad_inputs_get_clear_errors(model):
    xs = _inputs(4)
    with pytest.raises(ValueError, match="2 modalities"):
        model(xs[:1])
    with pytest.raises(ValueError, match=r"xs\[1\] must be a \(batch, 3\)"):
        model([xs[0], torch.randn(4, 7)])
    with pytest.raises(ValueError, match=r"xs\[1\] has 3 rows"):
        model([xs[0], xs[1][:3]])
    with pytest.raises(TypeError, match="list or tuple"):
        model(torch.randn(4, 8))
    with pytest.raises(ValueError, match=r"mask must have shape .* \(4, 2\)"):
        model(xs, torch.ones(4, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="only 0 and 1"):
        model(xs, torch.full((4, 2), 0.5))
    with pytest.raises(TypeError, match="mask"):
        model(xs, np.ones((4, 2), dtype=bool))
    with pytest.raises(ValueError, match="sample 2 has no modality"):
        model(xs, torch.tensor([[1, 1], [1, 0], [0, 0], [0, 1]], dtype=torch.bool))
    bad = [xs[0].clone(), xs[1]]
    bad[0][1, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(bad)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dims": []},
        {"dims": 5},
        {"dims": [5, 0]},
        {"n_classes": 0},
        {"modality_dropout": 1.5},
        {"hidden": -1},
        {"dropout": -0.1},
    ],
)
def test_constructor_arguments_are_checked(kwargs):
    args = {"dims": DIMS, "n_classes": 4, **kwargs}
    for cls in (EarlyFusion, LateFusion, AttentionFusion):
        with pytest.raises((ValueError, TypeError)):
            cls(**args)


def test_model_specific_arguments_are_checked():
    with pytest.raises(ValueError, match="combine"):
        LateFusion(DIMS, 4, combine="vote")
    with pytest.raises(ValueError, match="divisible"):
        AttentionFusion(DIMS, 4, d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="n_layers"):
        AttentionFusion(DIMS, 4, n_layers=-1)
    with pytest.raises(ValueError, match="tokens_per_modality"):
        AttentionFusion(DIMS, 4, tokens_per_modality=0)


def test_drop_modalities_never_empties_a_sample():
    torch.manual_seed(0)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0], [0, 1, 0]] * 2000, dtype=torch.bool)
    out = drop_modalities(mask, 1.0)
    assert out.any(dim=1).all()
    assert not (out & ~mask).any()  # only removes
    removed = (mask.sum(1) - out.sum(1)).numpy()
    assert (removed[mask.sum(1).numpy() >= 2] == 1).all() and (removed[2::3] == 0).all()
    # the dropped modality is uniform over the present ones
    share = (~out[0::3]).float().mean(dim=0).numpy()
    np.testing.assert_allclose(share, [1 / 3] * 3, atol=0.04)
    assert torch.equal(drop_modalities(mask, 0.0), mask)
    frac = (drop_modalities(mask, 0.3).sum(1) < mask.sum(1))[mask.sum(1) >= 2].float().mean()
    assert abs(float(frac) - 0.3) < 0.03
    with pytest.raises(ValueError, match="p must"):
        drop_modalities(mask, 2.0)
    with pytest.raises(ValueError, match="mask"):
        drop_modalities(torch.ones(3, dtype=torch.bool), 0.5)


def test_modality_dropout_acts_in_training_mode_only():
    torch.manual_seed(0)
    m = EarlyFusion(DIMS, 4, hidden=8, modality_dropout=1.0)
    xs = _inputs(8)
    m.eval()
    full = m(xs)
    m.train()
    dropped = m(xs)  # every sample lost one of its two modalities
    one_missing = [
        m.eval()(xs, torch.tensor([[True, False]] * 8)),
        m.eval()(xs, torch.tensor([[False, True]] * 8)),
    ]
    for i in range(8):
        assert any(torch.allclose(dropped[i], o[i], atol=1e-6) for o in one_missing)
        assert not torch.allclose(dropped[i], full[i])


def _toy_task(n: int = 600, seed: int = 0):
    """Label = 2 * (sign of x_a[0]) + (sign of x_b[0]): each modality holds one bit."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, 5)).astype(np.float32)
    b = rng.standard_normal((n, 3)).astype(np.float32)
    y = 2 * (a[:, 0] > 0) + (b[:, 0] > 0)
    return [a, b], y.astype(np.int64)


@pytest.mark.parametrize("cls", [EarlyFusion, LateFusion, AttentionFusion])
def test_training_learns_a_task_that_needs_both_modalities(cls):
    xs, y = _toy_task()
    torch.manual_seed(0)
    m = cls(DIMS, 4)
    losses = train_classifier(m, xs, y, epochs=40, lr=1e-2, seed=0)
    assert losses[-1] < 0.5 * losses[0]
    acc = (predict_proba(m, xs).argmax(1) == y).mean()
    assert acc > 0.9, acc
    # without modality b only the first bit is recoverable: accuracy near 1/2, far above 1/4
    acc_a = (predict_proba(m, xs, presence_mask(len(y), 2, 1, 1.0)).argmax(1) == y).mean()
    assert acc_a < 0.75, acc_a


def test_training_is_deterministic_and_predict_proba_is_a_distribution():
    xs, y = _toy_task(200)
    probs = []
    for _ in range(2):
        torch.manual_seed(1)
        m = LateFusion(DIMS, 4, modality_dropout=0.3)
        train_classifier(m, xs, y, epochs=3, seed=5)
        probs.append(predict_proba(m, xs, presence_mask(200, 2, 0, 0.5, seed=1)))
    np.testing.assert_array_equal(probs[0], probs[1])
    np.testing.assert_allclose(probs[0].sum(axis=1), 1.0, atol=1e-5)
    m.train()
    predict_proba(m, xs)
    assert m.training  # the caller's mode is restored


def test_train_classifier_checks_its_arguments():
    xs, y = _toy_task(50)
    m = EarlyFusion(DIMS, 4)
    with pytest.raises(ValueError, match="y must be a 1-D"):
        train_classifier(m, xs, y[:10])
    with pytest.raises(ValueError, match="class ids"):
        train_classifier(m, xs, y + 4)
    with pytest.raises(TypeError, match="fusion model"):
        train_classifier(torch.nn.Linear(2, 2), xs, y)
    with pytest.raises(TypeError, match="epochs"):
        train_classifier(m, xs, y, epochs=1.5)
    with pytest.raises(ValueError, match="sample 0 has no modality"):
        train_classifier(m, xs, y, mask=np.zeros((50, 2), dtype=bool))
    with pytest.raises(TypeError, match="integer class ids"):
        train_classifier(m, xs, y.astype(float))
    with pytest.raises(ValueError, match="only 0 and 1"):
        train_classifier(m, xs, y, mask=np.full((50, 2), 0.5))
    with pytest.raises(ValueError, match="at least one modality"):
        predict_proba(m, [])
    with pytest.raises(TypeError, match="list or tuple"):
        predict_proba(m, np.zeros((50, 8)))


def test_presence_mask():
    m = presence_mask(100, 2, missing=0, rate=0.25, seed=3)
    assert m.shape == (100, 2) and m.dtype == bool
    assert (~m[:, 0]).sum() == 25 and m[:, 1].all()
    assert np.array_equal(m, presence_mask(100, 2, missing=0, rate=0.25, seed=3))
    assert presence_mask(10, 2).all() and (~presence_mask(10, 2, 1, 1.0)[:, 1]).all()
    with pytest.raises(ValueError, match="missing must"):
        presence_mask(10, 2, missing=2, rate=0.5)
    with pytest.raises(ValueError, match="rate"):
        presence_mask(10, 2, missing=0, rate=1.5)
    with pytest.raises(ValueError, match="needs the index"):
        presence_mask(10, 2, rate=0.5)
    with pytest.raises(ValueError, match="only modality"):
        presence_mask(10, 1, missing=0, rate=0.5)


def test_caption_simulator_follows_its_ground_truth():
    y = np.repeat(np.arange(10), 400)
    caps, truth = simulate_digit_captions(y, seed=1)
    assert len(caps) == len(y) and (truth["label"].to_numpy() == y).all()
    assert caps == simulate_digit_captions(y, seed=1)[0]
    assert caps != simulate_digit_captions(y, seed=2)[0]
    par, siz, nam = (truth[c].to_numpy() for c in ("parity_stated", "size_stated", "name_stated"))
    for rate, p in ((par.mean(), 0.6), (siz.mean(), 0.6), (nam.mean(), 0.25)):
        assert abs(rate - p) < 0.03
    named = truth["named_digit"].to_numpy()
    assert abs((named[nam] == y[nam]).mean() - 0.7) < 0.04
    assert (named[~nam] == -1).all()
    for c, label, p, s, k in zip(caps, y, par, siz, named, strict=True):
        if p:
            assert bool(re.search(r"\beven\b", c)) == (label % 2 == 0)
            assert bool(re.search(r"\bodd\b", c)) == (label % 2 == 1)
        else:
            assert not re.search(r"\b(even|odd)\b", c)
        if s:
            assert ("five or more" in c or "at least five" in c) == (label >= 5)
        if k >= 0:
            assert f" {DIGIT_WORDS[k]}" in c
    assert "a handwritten digit" in caps[int(np.flatnonzero(~(par | siz | nam))[0])]


def test_caption_simulator_rejects_bad_labels():
    with pytest.raises(ValueError, match="digits"):
        simulate_digit_captions(np.array([1, 10]))
    with pytest.raises(ValueError, match="1-D"):
        simulate_digit_captions(np.array([[1, 2]]))
    with pytest.raises(ValueError, match="1-D"):
        simulate_digit_captions(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="p_name"):
        simulate_digit_captions(np.array([1, 2]), p_name=1.2)


def test_caption_posterior_is_the_bayes_posterior():
    y = np.repeat(np.arange(10), 300)
    _, truth = simulate_digit_captions(y, seed=0)
    post = caption_posterior(truth)
    np.testing.assert_allclose(post.sum(axis=1), 1.0)
    assert (post[np.arange(len(y)), y] > 0).all()  # the truth is never ruled out
    row = truth.index[
        truth.parity_stated & truth.size_stated & ~truth.name_stated & (truth.label == 6)
    ][0]
    np.testing.assert_allclose(post[row], np.isin(np.arange(10), [6, 8]) / 2)
    silent = truth.index[~(truth.parity_stated | truth.size_stated | truth.name_stated)][0]
    np.testing.assert_allclose(post[silent], 0.1)
    # expected Bayes accuracy (mean max posterior) agrees with the empirical argmax accuracy
    assert abs(post.max(axis=1).mean() - (post.argmax(axis=1) == y).mean()) < 0.03
    with pytest.raises(ValueError, match="truth"):
        caption_posterior(truth.drop(columns="named_digit"))
