"""utils.models.ranking: feature embedding and its checks, LR, DCN-v2, DIN, the MMoE ranker,
the pairwise loss, the training loop and the FLOP count."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.metrics import roc_auc_score
from torch.nn import functional as F

from utils.models.multitask import MMoE
from utils.models.ranking import (
    DIN,
    SPARSE_FIELDS,
    ClickFeatures,
    DCNv2,
    FeatureEmbedding,
    LogisticRegression,
    MultiTaskRanker,
    auc_from_logits,
    click_cardinalities,
    encode_clicks,
    fit_ranker,
    flops_per_candidate,
    group_auc,
    paired_auc_bootstrap,
    pairwise_logistic_loss,
    predict_logits,
    predict_proba,
    weighted_auc,
)

CARD = {"user": 5, "item": 7, "occupation": 3}
N_DENSE, L = 4, 6


def _batch(n: int = 8, seed: int = 0, hist_len: int = L):
    g = torch.Generator().manual_seed(seed)
    sparse = torch.stack([torch.randint(0, c, (n,), generator=g) for c in CARD.values()], 1)
    dense = torch.randn(n, N_DENSE, generator=g)
    history = torch.randint(0, CARD["item"], (n, hist_len), generator=g)  # no padding (7)
    return sparse, dense, history


def _models():
    torch.manual_seed(0)
    return [
        LogisticRegression(CARD, N_DENSE),
        DCNv2(CARD, N_DENSE, dim=4),
        DCNv2(CARD, N_DENSE, dim=4, structure="parallel"),
        DIN(CARD, N_DENSE, dim=4),
        DIN(CARD, N_DENSE, dim=4, pooling="mean"),
        MultiTaskRanker(CARD, N_DENSE, n_tasks=2, dim=4),
    ]


# ---------------------------------------------------------------- data encoding


@pytest.fixture(scope="module")
def clicks(movielens):
    from utils.data import movielens_clicks

    return movielens_clicks(movielens)


def test_encode_clicks_shapes_and_standardisation(clicks):
    frame, hist = clicks.part("train")
    mean, std = frame["year"].mean(), frame["year"].std()
    X = encode_clicks(frame, hist, year_mean=mean, year_std=std)
    n = len(frame)
    assert X.sparse.shape == (n, len(SPARSE_FIELDS)) and X.sparse.dtype == torch.int64
    assert X.dense.shape == (n, 20) and X.dense.dtype == torch.float32
    assert X.history.shape == (n, 20) and X.label.shape == (n,)
    assert abs(float(X.dense[:, 0].mean())) < 1e-3 and abs(float(X.dense[:, 0].std()) - 1) < 1e-3
    card = click_cardinalities(clicks)
    assert tuple(card) == SPARSE_FIELDS
    assert (X.sparse.max(0).values < torch.tensor(list(card.values()))).all()
    assert int(X.history.max()) == clicks.pad  # padded, never beyond the pad id
    assert torch.equal(X.label, torch.as_tensor(frame["label"].to_numpy(np.float32)))


def test_encode_clicks_rejects_bad_input(clicks):
    frame, hist = clicks.part("val")
    with pytest.raises(ValueError, match="history"):
        encode_clicks(frame, hist[:-1], year_mean=0.0, year_std=1.0)
    with pytest.raises(ValueError, match="year_std"):
        encode_clicks(frame, hist, year_mean=0.0, year_std=0.0)
    with pytest.raises(ValueError, match="labels"):
        encode_clicks(frame, hist, year_mean=0.0, year_std=1.0, labels=np.zeros(3))


# ---------------------------------------------------------------- feature embedding and checks


def test_feature_embedding_concatenates_tables_and_dense():
    torch.manual_seed(0)
    fe = FeatureEmbedding(CARD, N_DENSE, dim=3)
    sparse, dense, _ = _batch()
    x0 = fe(sparse, dense)
    assert x0.shape == (8, 3 * 3 + N_DENSE) == (8, fe.out_dim)
    assert torch.equal(x0[:, 3:6], fe.tables["item"](sparse[:, 1]))
    assert torch.equal(x0[:, -N_DENSE:], dense)


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_models_reject_bad_features(model):
    sparse, dense, history = _batch()
    with pytest.raises(ValueError, match=r"sparse must be \(batch, 3\)"):
        model(sparse[:, :2], dense, history)
    with pytest.raises(ValueError, match=r"dense must be \(batch, 4\)"):
        model(sparse, dense[:, :3], history)
    with pytest.raises(ValueError, match="rows"):
        model(sparse, dense[:5], history)
    bad = dense.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(sparse, bad, history)
    bad[2, 1] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinite"):
        model(sparse, bad, history)
    unknown = sparse.clone()
    unknown[0, 1] = CARD["item"]  # one past the last item id
    with pytest.raises(ValueError, match=r"\('item'\) has unknown id 7"):
        model(unknown, dense, history)
    unknown = sparse.clone()
    unknown[3, 0] = -1
    with pytest.raises(ValueError, match=r"\('user'\) has unknown id -1"):
        model(unknown, dense, history)
    with pytest.raises(TypeError, match="sparse"):
        model(sparse.float(), dense, history)
    with pytest.raises(TypeError, match="dense"):
        model(sparse, dense.numpy(), history)


def test_feature_embedding_rejects_bad_configuration():
    with pytest.raises(ValueError, match="cardinalities"):
        FeatureEmbedding({}, 2)
    with pytest.raises(ValueError, match=r"cardinalities\['user'\]"):
        FeatureEmbedding({"user": 0}, 2)
    with pytest.raises(ValueError, match="n_dense"):
        FeatureEmbedding(CARD, 0)


# ---------------------------------------------------------------- models


def test_logistic_regression_is_a_sum_of_id_weights():
    torch.manual_seed(0)
    lr = LogisticRegression(CARD, N_DENSE)
    for t in lr.features.tables.values():
        torch.nn.init.normal_(t.weight)
    sparse, dense, _ = _batch()
    manual = lr.dense(dense).squeeze(1)
    for j, name in enumerate(CARD):
        manual = manual + lr.features.tables[name].weight[sparse[:, j], 0]
    assert torch.allclose(lr(sparse, dense), manual, atol=1e-6)


def test_logistic_regression_matches_sklearn():
    """Same model class as sklearn's L2 logistic regression on one-hot ids: after training,
    the two agree on every row's probability to within a small tolerance."""
    rng = np.random.default_rng(0)
    n = 3000
    sparse = np.column_stack([rng.integers(0, c, n) for c in CARD.values()])
    dense = rng.standard_normal((n, N_DENSE)).astype(np.float32)
    w = [rng.normal(0, 1, c) for c in CARD.values()]
    logit = sum(w[j][sparse[:, j]] for j in range(3)) + dense @ np.array([1.0, -1.0, 0.5, 0.0])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    onehot = np.column_stack([np.eye(c)[sparse[:, j]] for j, c in enumerate(CARD.values())])
    sk = SkLogisticRegression(C=1e4, max_iter=2000).fit(np.hstack([onehot, dense]), y)
    p_sk = sk.predict_proba(np.hstack([onehot, dense]))[:, 1]
    data = ClickFeatures(
        torch.as_tensor(sparse),
        torch.as_tensor(dense),
        torch.zeros(n, 1, dtype=torch.int64),
        torch.as_tensor(y),
    )
    torch.manual_seed(0)
    model = LogisticRegression(CARD, N_DENSE)
    fit_ranker(model, data, data, epochs=60, batch_size=500, lr=0.05, patience=60)
    p = predict_proba(model, data)
    assert np.abs(p - p_sk).max() < 0.03
    assert abs(roc_auc_score(y, p) - roc_auc_score(y, p_sk)) < 0.002


def test_dcnv2_cross_layer_formula():
    torch.manual_seed(0)
    m = DCNv2(CARD, N_DENSE, dim=4, n_cross=2, hidden=(8,))
    sparse, dense, _ = _batch()
    x0 = m.features(sparse, dense)
    x1 = x0 * m.cross[0](x0) + x0
    x2 = x0 * m.cross[1](x1) + x1
    assert m.cross[0].weight.shape == (x0.shape[1], x0.shape[1])  # full rank
    assert torch.allclose(m(sparse, dense), m.deep(x2).squeeze(1), atol=1e-6)
    p = DCNv2(CARD, N_DENSE, dim=4, n_cross=1, hidden=(8,), structure="parallel")
    xp = p.features(sparse, dense)
    cross = xp * p.cross[0](xp) + xp
    assert torch.allclose(
        p(sparse, dense), p.out(torch.cat([cross, p.deep(xp)], 1)).squeeze(1), atol=1e-6
    )
    with pytest.raises(ValueError, match="structure"):
        DCNv2(CARD, N_DENSE, structure="sideways")


def test_dcnv2_learns_a_cross_that_lr_cannot():
    """label = (user is odd) XOR (item is odd): no sum of per-id weights separates it."""
    g = torch.Generator().manual_seed(1)
    n = 2000
    # ids drawn with balanced parity (users 0-3, items 0-5), so no single id predicts the label
    sparse = torch.stack([torch.randint(0, c, (n,), generator=g) for c in (4, 6, 3)], 1)
    y = ((sparse[:, 0] % 2) ^ (sparse[:, 1] % 2)).float()
    data = ClickFeatures(sparse, torch.zeros(n, N_DENSE), torch.zeros(n, 1, dtype=torch.int64), y)
    aucs = {}
    for name, make in (
        ("lr", lambda: LogisticRegression(CARD, N_DENSE)),
        ("dcn", lambda: DCNv2(CARD, N_DENSE, dim=4, hidden=())),
    ):
        torch.manual_seed(0)
        model = make()
        fit_ranker(model, data, data, epochs=30, batch_size=256, lr=0.03, patience=30)
        aucs[name] = roc_auc_score(y.numpy(), predict_proba(model, data))
    assert aucs["lr"] < 0.6 and aucs["dcn"] > 0.95, aucs


def test_din_attention_is_unnormalised_masked_and_order_free():
    torch.manual_seed(0)
    m = DIN(CARD, N_DENSE, dim=4, hidden=(8,))
    sparse, dense, history = _batch()
    history[:, :2] = m.pad  # left padding
    history[0] = m.pad  # a row with no history at all
    out = m(sparse, dense, history)
    w = m.last_attention
    assert torch.isfinite(out).all()
    assert (w[history == m.pad] == 0).all()
    # the weights are the activation unit's raw output, not a softmax over the history
    table = m.features.tables["item"]
    e = table(history[1:2, 2:])
    v = table(sparse[1:2, 1])[:, None].expand_as(e)
    a = m.att(torch.cat([e, v, e - v, e * v], -1)).squeeze(-1)
    assert torch.allclose(w[1, 2:], a[0], atol=1e-6)
    assert not torch.allclose(w[1].sum(), torch.tensor(1.0))
    # u = sum_j w_j e_j enters the MLP next to x0
    u = (w[1, 2:, None] * e[0]).sum(0)
    x0 = m.features(sparse[1:2], dense[1:2])
    assert torch.allclose(out[1], m.mlp(torch.cat([x0[0], u])).squeeze(), atol=1e-5)
    # a set function of the history: permuting the slots changes nothing
    perm = history[:, torch.randperm(L, generator=torch.Generator().manual_seed(3))]
    assert torch.allclose(m(sparse, dense, perm), out, atol=1e-6)


def test_din_mean_pool_weights():
    torch.manual_seed(0)
    m = DIN(CARD, N_DENSE, dim=4, pooling="mean")
    sparse, dense, history = _batch()
    history[:, :4] = m.pad
    m(sparse, dense, history)
    w = m.last_attention
    assert torch.allclose(w[:, 4:], torch.full((8, 2), 0.5)) and (w[:, :4] == 0).all()


def test_din_rejects_bad_history():
    m = DIN(CARD, N_DENSE, dim=4)
    sparse, dense, history = _batch()
    with pytest.raises(ValueError, match=r"history ids must be in \[0, 7\]"):
        m(sparse, dense, torch.where(history == 0, m.pad + 1, history))
    with pytest.raises(ValueError, match="history ids"):
        m(sparse, dense, history - 8)
    with pytest.raises(ValueError, match=r"history must be \(8, L\)"):
        m(sparse, dense, history[:5])
    with pytest.raises(TypeError, match="history"):
        m(sparse, dense, history.float())
    with pytest.raises(TypeError, match="history"):
        m(sparse, dense, None)
    with pytest.raises(ValueError, match="item_field"):
        DIN(CARD, N_DENSE, item_field="video")
    with pytest.raises(ValueError, match="pooling"):
        DIN(CARD, N_DENSE, pooling="max")


def test_multitask_ranker_uses_the_shared_mmoe():
    torch.manual_seed(0)
    m = MultiTaskRanker(CARD, N_DENSE, n_tasks=3, dim=4, n_experts=5)
    sparse, dense, _ = _batch()
    out = m(sparse, dense)
    assert isinstance(m.mmoe, MMoE) and out.shape == (8, 3)
    assert m.mmoe.last_gates.shape == (8, 3, 5)
    assert torch.allclose(out, m.mmoe(m.features(sparse, dense)))


# ---------------------------------------------------------------- losses, metrics, training


def test_pairwise_loss_matches_the_pair_average():
    s = torch.tensor([2.0, -1.0, 0.5, 0.0])
    y = torch.tensor([1.0, 0.0, 1.0, 0.0])
    pairs = [(0, 1), (0, 3), (2, 1), (2, 3)]
    manual = np.mean([np.log1p(np.exp(-(s[i] - s[j]).item())) for i, j in pairs])
    assert pairwise_logistic_loss(s, y).item() == pytest.approx(manual, rel=1e-6)
    assert pairwise_logistic_loss(s + 5.0, y).item() == pytest.approx(manual, rel=1e-6)
    zero = pairwise_logistic_loss(s.requires_grad_(), torch.ones(4))
    assert zero.item() == 0.0 and zero.requires_grad


def test_pairwise_loss_with_groups_keeps_only_within_group_pairs():
    s = torch.tensor([2.0, -1.0, 0.5, 0.0, 3.0])
    y = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0])
    g = torch.tensor([0, 0, 1, 1, 0])
    pairs = [(0, 1), (0, 4), (2, 3)]  # (pos, neg) pairs that share a group
    manual = np.mean([np.log1p(np.exp(-(s[i] - s[j]).item())) for i, j in pairs])
    assert pairwise_logistic_loss(s, y, g).item() == pytest.approx(manual, rel=1e-6)
    # shifting one group's scores leaves the within-group loss unchanged, not the batch loss
    shifted = s + 10.0 * (g == 1)
    assert pairwise_logistic_loss(shifted, y, g).item() == pytest.approx(manual, rel=1e-6)
    assert pairwise_logistic_loss(shifted, y).item() != pytest.approx(
        pairwise_logistic_loss(s, y).item(), rel=1e-3
    )
    none = pairwise_logistic_loss(s.requires_grad_(), y, torch.arange(5))  # no shared group
    assert none.item() == 0.0 and none.requires_grad
    with pytest.raises(ValueError, match="groups"):
        pairwise_logistic_loss(s, y, g[:3])


def test_weighted_auc_matches_sklearn_sample_weight():
    rng = np.random.default_rng(1)
    y = rng.random(300) < 0.3
    s = np.round(rng.standard_normal(300) + y, 1)  # ties
    w = rng.integers(0, 4, size=(3, 300)).astype(float)
    got = weighted_auc(y, s, w)
    want = [roc_auc_score(y, s, sample_weight=wi) for wi in w]
    assert got.shape == (3,) and np.allclose(got, want, atol=1e-12)
    assert float(weighted_auc(y, s, np.ones(300))) == pytest.approx(roc_auc_score(y, s))
    with pytest.raises(ValueError, match="both classes"):
        weighted_auc(y, s, np.where(y, 0.0, 1.0))


def test_paired_auc_bootstrap_interval():
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(60), 20)
    y = rng.random(1200) < 0.4
    a = y + rng.standard_normal(1200)  # informative
    b = y * 0.3 + rng.standard_normal(1200)  # weaker
    gap, low, high = paired_auc_bootstrap(y, a, b, g, n_boot=300)
    assert gap == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b), abs=1e-12)
    assert 0 < low < gap < high  # a clear win: the interval excludes 0
    same = paired_auc_bootstrap(y, a, a, g, n_boot=50)
    assert same == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="groups"):
        paired_auc_bootstrap(y, a, b, g[:-1])


def test_auc_from_logits_matches_sklearn():
    rng = np.random.default_rng(0)
    s, y = rng.standard_normal(500), (rng.random(500) < 0.4).astype(np.float32)
    got = auc_from_logits(torch.as_tensor(s), torch.as_tensor(y))
    assert got == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    with pytest.raises(ValueError, match="both classes"):
        auc_from_logits(torch.as_tensor(s), torch.ones(500))


def test_group_auc_matches_sklearn_per_group():
    rng = np.random.default_rng(0)
    g = rng.integers(0, 30, 600)
    y = rng.random(600) < 0.4
    s = np.round(rng.standard_normal(600) + y, 1)  # rounding creates ties
    want, weight = [], []
    for k in np.unique(g):
        m = g == k
        if 0 < y[m].sum() < m.sum():
            want.append(roc_auc_score(y[m], s[m]))
            weight.append(m.sum())
    assert group_auc(y, s, g) == pytest.approx(np.average(want, weights=weight), abs=1e-12)
    table = group_auc(y, s, g, per_group=True)
    assert np.allclose(table["auc"], want, atol=1e-12) and list(table["n"]) == weight
    # a score that only separates groups: high global AUC, chance within every group
    g2 = np.repeat([0, 1], 50)
    y2 = np.r_[np.zeros(40), np.ones(10), np.zeros(10), np.ones(40)]
    assert (
        roc_auc_score(y2, g2) == pytest.approx(0.8) and group_auc(y2, g2.astype(float), g2) == 0.5
    )
    with pytest.raises(ValueError, match="equal lengths"):
        group_auc(y, s[:-1], g)
    with pytest.raises(ValueError, match="NaN"):
        group_auc(y, np.where(y, np.nan, s), g)
    with pytest.raises(ValueError, match="both classes"):
        group_auc(np.ones(5), np.arange(5.0), np.zeros(5))


def _toy_task(n: int = 1500, seed: int = 0) -> ClickFeatures:
    g = torch.Generator().manual_seed(seed)
    sparse, dense, history = _batch(n, seed)
    logit = dense[:, 0] * 2 + (sparse[:, 1] == 3).float() * 2 - 1
    y = (torch.rand(n, generator=g) < torch.sigmoid(logit)).float()
    return ClickFeatures(sparse, dense, history, y)


@pytest.mark.parametrize("loss", ["pointwise", "pairwise"])
def test_fit_ranker_learns_and_keeps_the_best_epoch(loss):
    train, val = _toy_task(seed=0), _toy_task(seed=1)
    torch.manual_seed(0)
    m = DIN(CARD, N_DENSE, dim=4)
    before = roc_auc_score(val.label.numpy(), predict_logits(m, val).numpy())
    fit = fit_ranker(m, train, val, epochs=5, batch_size=128, lr=0.01, loss=loss)
    after = predict_logits(m, val)
    assert roc_auc_score(val.label.numpy(), after.numpy()) > max(before, 0.75)
    assert fit.best_epoch == int(np.argmin(fit.val_loss)) + 1
    kept = (
        F.binary_cross_entropy_with_logits(after, val.label).item()
        if loss == "pointwise"
        else 1 - group_auc(val.label.numpy(), after.numpy(), val.sparse[:, 0].numpy())
    )
    assert kept == pytest.approx(min(fit.val_loss), abs=1e-6)


def test_fit_ranker_pairwise_batches_hold_whole_groups():
    from utils.models.ranking import _group_order

    groups = torch.tensor([3, 1, 3, 2, 1, 3, 2, 2, 9])
    order = _group_order(groups, torch.Generator().manual_seed(0))
    assert sorted(order.tolist()) == list(range(9))
    seq = groups[order].tolist()
    runs = [k for i, k in enumerate(seq) if i == 0 or seq[i - 1] != k]
    assert len(runs) == len(set(seq))  # each group's rows are contiguous
    train = _toy_task()
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="group_col"):
        fit_ranker(LogisticRegression(CARD, N_DENSE), train, train, loss="pairwise", group_col=7)
    # across-batch pairs (group_col=None) keep the global-AUC criterion
    m = LogisticRegression(CARD, N_DENSE)
    fit = fit_ranker(m, train, train, epochs=1, loss="pairwise", group_col=None)
    assert fit.val_loss[0] == pytest.approx(
        1 - auc_from_logits(predict_logits(m, train), train.label), abs=1e-9
    )


def test_fit_ranker_multitask_and_bad_arguments():
    train = _toy_task()
    two = train._replace(label=torch.stack([train.label, 1 - train.label], 1))
    torch.manual_seed(0)
    m = MultiTaskRanker(CARD, N_DENSE, n_tasks=2, dim=4)
    fit = fit_ranker(m, two, two, epochs=2, batch_size=256)
    assert len(fit.val_loss) == 2
    p = predict_proba(m, two)
    assert p.shape == (len(train.label), 2) and ((p > 0) & (p < 1)).all()
    with pytest.raises(ValueError, match="loss"):
        fit_ranker(m, two, two, loss="listwise")
    with pytest.raises(ValueError, match="epochs"):
        fit_ranker(m, two, two, epochs=0)


def test_flops_per_candidate_counts_linear_layers():
    lr = LogisticRegression(CARD, N_DENSE)
    assert flops_per_candidate(lr) == 2 * N_DENSE
    d = 3 * 4 + N_DENSE
    dcn = DCNv2(CARD, N_DENSE, dim=4, n_cross=2, hidden=(8,))
    assert flops_per_candidate(dcn) == 2 * (2 * d * d + d * 8 + 8)
    din = DIN(CARD, N_DENSE, dim=4, hidden=(8,), att_hidden=6)
    att = 2 * (16 * 6 + 6)
    mlp = 2 * ((d + 4) * 8 + 8)
    assert flops_per_candidate(din, history_len=0) == mlp
    assert flops_per_candidate(din, history_len=20) == mlp + 20 * att
    mean_pool = DIN(CARD, N_DENSE, dim=4, hidden=(8,), pooling="mean")
    assert mean_pool.att is None and flops_per_candidate(mean_pool, history_len=20) == mlp
