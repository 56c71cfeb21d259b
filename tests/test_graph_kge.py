"""Tests for utils.graph.kge: scoring formulas, loss, filtered ranking on a hand-built KG."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from utils.graph.kge import (
    RotatE,
    TransE,
    filtered_ranks,
    kge_loss,
    ranking_metrics,
    relation_cardinality,
    split_triples,
    train_kge,
)

# A tiny film KG. Entities: 0 film A, 1 film B, 2 film C, 3 Drama, 4 Comedy, 5 Horror, 6 France
# Relation 0 has_genre (film A: Drama + Comedy, film B: Drama, film C: Horror); 1 from_country.
KNOWN = np.array([[0, 0, 3], [0, 0, 4], [1, 0, 3], [2, 0, 5], [0, 1, 6], [1, 1, 6]])
N_ENT = 7

# A fixed scorer: for (film A, has_genre, ?) it prefers Comedy > Drama > Horror > the rest.
TAIL_TABLE = {(0, 0): [0.0, 0.0, 0.0, 2.0, 3.0, 1.0, 0.0]}


def table_scorer(anchors, rels, side):
    out = torch.zeros(len(anchors), N_ENT)
    for i, (a, r) in enumerate(zip(anchors.tolist(), rels.tolist(), strict=True)):
        if side == "tail" and (a, r) in TAIL_TABLE:
            out[i] = torch.tensor(TAIL_TABLE[(a, r)])
    return out


def test_filtered_rank_removes_other_true_answers():
    test = np.array([[0, 0, 3]])  # (film A, has_genre, Drama): Comedy scores higher but is true
    raw = filtered_ranks(table_scorer, test, KNOWN, N_ENT, sides=("tail",), filtered=False)
    filt = filtered_ranks(table_scorer, test, KNOWN, N_ENT, sides=("tail",))
    assert raw["rank"].tolist() == [2.0]
    assert filt["rank"].tolist() == [1.0]
    # Horror's test rank: Comedy and Drama are true for film A, so filtered they drop out
    test_h = np.array([[0, 0, 5]])
    assert filtered_ranks(table_scorer, test_h, KNOWN, N_ENT, sides=("tail",))["rank"].item() == 1.0
    assert (
        filtered_ranks(table_scorer, test_h, KNOWN, N_ENT, sides=("tail",), filtered=False)[
            "rank"
        ].item()
        == 3.0
    )


def test_ties_get_the_mean_rank():
    # a constant scorer ranks the answer mid-way among the candidates left after filtering
    const = lambda a, r, side: torch.zeros(len(a), N_ENT)  # noqa: E731
    test = np.array([[1, 0, 3]])  # film B has one genre: nothing to filter but the answer
    rank = filtered_ranks(const, test, KNOWN, N_ENT, sides=("tail",))["rank"].item()
    assert rank == pytest.approx(1 + (N_ENT - 1) / 2)
    # head side of (?, has_genre, Drama): films A and B are both true heads; filtering A leaves 6
    rank_h = filtered_ranks(const, test, KNOWN, N_ENT, sides=("head",))["rank"].item()
    assert rank_h == pytest.approx(1 + (N_ENT - 2) / 2)


def test_filtered_ranks_with_model_scores_matches_brute_force():
    torch.manual_seed(0)
    model = TransE(N_ENT, 2, dim=4)
    df = filtered_ranks(model.score_all, KNOWN, KNOWN, N_ENT)
    for row in df.itertuples():
        h, r, t = row.head, row.relation, row.tail
        with torch.no_grad():
            if row.side == "tail":
                cands = [e for e in range(N_ENT) if e == t or [h, r, e] not in KNOWN.tolist()]
                s = model.score(
                    torch.full((len(cands),), h), torch.full((len(cands),), r), torch.tensor(cands)
                )
                target = s[cands.index(t)]
            else:
                cands = [e for e in range(N_ENT) if e == h or [e, r, t] not in KNOWN.tolist()]
                s = model.score(
                    torch.tensor(cands), torch.full((len(cands),), r), torch.full((len(cands),), t)
                )
                target = s[cands.index(h)]
        expected = 1 + (s > target).sum().item() + ((s == target).sum().item() - 1) / 2
        assert row.rank == pytest.approx(expected)


def test_ranking_metrics_by_hand():
    m = ranking_metrics([1, 2, 4, 20])
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0.25 + 0.05) / 4)
    assert m["hits@1"] == 0.25 and m["hits@10"] == 0.75 and m["n"] == 4
    with pytest.raises(ValueError, match="ranks"):
        ranking_metrics([])
    with pytest.raises(ValueError, match="ranks"):
        ranking_metrics([0.5])


def test_transe_distance_formula():
    m = TransE(3, 1, dim=2, gamma=5.0, p=1)
    with torch.no_grad():
        m.entities.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [3.0, 0.0]]))
        m.relations.copy_(torch.tensor([[1.0, 1.0]]))
    s = m.score(torch.tensor([0, 0]), torch.tensor([0, 0]), torch.tensor([1, 2]))
    torch.testing.assert_close(s, torch.tensor([5.0, 5.0 - 3.0]))  # |(1,1)-(3,0)|_1 = 2 + 1
    m2 = TransE(3, 1, dim=2, gamma=5.0, p=2)
    with torch.no_grad():
        m2.entities.copy_(m.entities)
        m2.relations.copy_(m.relations)
    s2 = m2.score(torch.tensor([0]), torch.tensor([0]), torch.tensor([2]))
    torch.testing.assert_close(s2, torch.tensor([5.0 - math.sqrt(5.0)]))


def test_rotate_distance_is_complex_rotation():
    torch.manual_seed(0)
    m = RotatE(4, 2, dim=3, gamma=6.0)
    h, t = m.entities[0].detach(), m.entities[1].detach()
    hc = torch.complex(h[:3], h[3:])
    tc = torch.complex(t[:3], t[3:])
    rc = m.rotation()[0]
    expected = (hc * rc - tc).abs().sum()
    got = m.distance(h, m.relations[0].detach(), t)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert torch.allclose(m.rotation().abs(), torch.ones(2, 3))


def test_rotate_models_symmetry_transe_cannot():
    # RotatE: theta = pi makes r o r = 1, so (h, r, t) and (t, r, h) fit together when t = -h
    m = RotatE(2, 1, dim=2, gamma=1.0)
    with torch.no_grad():
        m.entities.copy_(torch.tensor([[1.0, 0.5, 0.0, 0.2], [-1.0, -0.5, 0.0, -0.2]]))
        m.relations.fill_(math.pi)
    d_ht = m.distance(m.entities[0], m.relations[0], m.entities[1])
    d_th = m.distance(m.entities[1], m.relations[0], m.entities[0])
    assert d_ht.item() < 1e-5 and d_th.item() < 1e-5
    # TransE: both directions at distance 0 need r = 0 and then h = t
    tr = TransE(2, 1, dim=2, gamma=1.0, p=2)
    with torch.no_grad():
        tr.entities.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
        tr.relations.copy_(torch.tensor([[1.0, 0.0]]))
    fwd = tr.distance(tr.entities[0], tr.relations[0], tr.entities[1])
    bwd = tr.distance(tr.entities[1], tr.relations[0], tr.entities[0])
    assert fwd.item() == 0.0 and bwd.item() == pytest.approx(2.0)


def test_kge_loss_uniform_vs_self_adversarial():
    pos = torch.tensor([2.0])
    neg = torch.tensor([[-3.0, 1.0]])
    uni = kge_loss(pos, neg, adversarial_temperature=None)
    expected = (
        -(torch.nn.functional.logsigmoid(pos) + torch.nn.functional.logsigmoid(-neg).mean()) / 2
    )
    torch.testing.assert_close(uni, expected.squeeze())
    adv = kge_loss(pos, neg, adversarial_temperature=1.0)
    w = torch.softmax(neg, dim=1)
    expected_adv = (
        -(torch.nn.functional.logsigmoid(pos) + (w * torch.nn.functional.logsigmoid(-neg)).sum())
        / 2
    )
    torch.testing.assert_close(adv, expected_adv.squeeze())
    assert adv > uni  # the hard negative (score 1.0) gets most of the weight
    with pytest.raises(ValueError, match="adversarial_temperature"):
        kge_loss(pos, neg, adversarial_temperature=0.0)
    with pytest.raises(ValueError, match="neg_score"):
        kge_loss(pos, neg[0])


def test_training_fits_a_tiny_kg_and_rotate_gets_symmetry():
    # symmetric relation over 20 pairs: train on one direction plus half the reverses
    n = 40
    pairs = np.arange(n).reshape(-1, 2)
    fwd = np.column_stack([pairs[:, 0], np.zeros(20, int), pairs[:, 1]])
    bwd = fwd[:, ::-1]
    train = np.vstack([fwd, bwd[:10]])
    test = bwd[10:]
    known = np.vstack([fwd, bwd])
    results = {}
    for name, cls in (("transe", TransE), ("rotate", RotatE)):
        torch.manual_seed(0)
        model = cls(n, 1, dim=8, gamma=3.0)
        losses = train_kge(model, train, epochs=150, batch_size=64, n_negatives=16, lr=0.05, seed=0)
        assert losses[-1] < losses[0]
        ranks = filtered_ranks(model.score_all, test, known, n, sides=("tail",))
        results[name] = ranking_metrics(ranks["rank"])["mrr"]
    assert results["rotate"] > 0.9
    assert results["transe"] < results["rotate"] - 0.3


def test_split_triples_keeps_entities_seen():
    rng = np.random.default_rng(0)
    triples = np.unique(
        np.column_stack(
            [rng.integers(50, size=400), rng.integers(3, size=400), rng.integers(50, size=400)]
        ),
        axis=0,
    )
    tr, va, te = split_triples(triples, seed=1)
    assert len(tr) + len(va) + len(te) == len(triples)
    seen = set(tr[:, 0]) | set(tr[:, 2])
    assert set(te[:, 0]) <= seen and set(te[:, 2]) <= seen
    with pytest.raises(ValueError, match="frac"):
        split_triples(triples, test_frac=0.0)


def test_relation_cardinality_categories():
    card = relation_cardinality(KNOWN).set_index("relation")
    # has_genre: 4/3 genres per film, 2/3... Drama has 2 films
    assert card.loc[0, "tails_per_head"] == pytest.approx(4 / 3)
    assert card.loc[1, "heads_per_tail"] == pytest.approx(2.0)
    assert card.loc[1, "category"] == "N-to-1"


@pytest.mark.parametrize(
    ("triples", "err"),
    [
        (np.array([[0, 0]]), ValueError),
        (np.array([[0.0, 0.0, 1.0]]), TypeError),
        (np.zeros((0, 3), dtype=int), ValueError),
        (np.array([[0, 0, 99]]), ValueError),
    ],
)
def test_bad_triples(triples, err):
    with pytest.raises(err):
        filtered_ranks(table_scorer, triples, KNOWN, N_ENT)


def test_bad_model_args():
    with pytest.raises(ValueError, match="p must"):
        TransE(3, 1, p=3)
    with pytest.raises(ValueError, match="dim"):
        RotatE(3, 1, dim=0)
    with pytest.raises(ValueError, match="gamma"):
        RotatE(3, 1, gamma=-1.0)
    with pytest.raises(ValueError, match="side"):
        RotatE(3, 1, dim=2).score_all(torch.tensor([0]), torch.tensor([0]), "middle")
    with pytest.raises(ValueError, match="relation ids"):
        train_kge(TransE(3, 1, dim=2), np.array([[0, 4, 1]]), epochs=1)


def test_rotate_score_all_matches_generic_scoring():
    torch.manual_seed(1)
    m = RotatE(9, 2, dim=4, gamma=5.0)
    anchors, rels = torch.tensor([0, 3, 8]), torch.tensor([1, 0, 1])
    for side in ("head", "tail"):
        fast = m.score_all(anchors, rels, side)
        slow = super(RotatE, m).score_all(anchors, rels, side)
        torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-4)
