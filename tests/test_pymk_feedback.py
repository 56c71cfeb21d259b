"""utils.pymk.feedback: cold start, hubs, the PYMK growth simulator, staleness, hidden ties."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from utils.graph.csr import CSRGraph
from utils.pymk.feedback import (
    GrowthRun,
    fof_score_matrix,
    gini,
    hidden_tie_exposure,
    hub_slot_share,
    hub_two_hop_reach,
    list_hits,
    profile_matrix,
    profile_scores,
    simulate_pymk_growth,
    stale_top_k,
    top_k_lists,
    top_members,
)


@pytest.fixture(scope="module")
def nxg() -> nx.Graph:
    return nx.powerlaw_cluster_graph(200, 3, 0.4, seed=5)


@pytest.fixture(scope="module")
def adj(nxg: nx.Graph) -> sp.csr_matrix:
    return sp.csr_matrix(nx.to_scipy_sparse_array(nxg, nodelist=range(200), format="csr"))


def test_gini_known_values_and_pairwise_formula() -> None:
    assert gini([3, 3, 3]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 1]) == pytest.approx(0.75)
    assert gini([0, 0]) == 0.0
    x = np.random.default_rng(0).exponential(size=50)
    pairwise = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert gini(x) == pytest.approx(pairwise)


@pytest.mark.parametrize("bad", [[], [1.0, -1.0], [np.nan, 1.0]])
def test_gini_rejects_bad_values(bad: list) -> None:
    with pytest.raises(ValueError, match="values"):
        gini(bad)


@pytest.mark.parametrize("score", ["cn", "aa", "ra"])
def test_fof_scores_match_networkx(nxg: nx.Graph, adj: sp.csr_matrix, score: str) -> None:
    s = fof_score_matrix(adj, score).tocsr()
    fn = {
        "aa": nx.adamic_adar_index,
        "ra": nx.resource_allocation_index,
        "cn": lambda g, pairs: ((u, v, len(list(nx.common_neighbors(g, u, v)))) for u, v in pairs),
    }[score]
    pairs = [(u, v) for u, v in itertools.combinations(range(40), 2) if not nxg.has_edge(u, v)]
    for u, v, p in fn(nxg, pairs):
        assert s[u, v] == pytest.approx(p)
    # self and current connections are never candidates
    assert s.diagonal().sum() == 0
    assert s.multiply(adj).nnz == 0


def test_fof_rows_subset_and_degree_penalty(adj: sp.csr_matrix) -> None:
    full = fof_score_matrix(adj, "cn").toarray()
    rows = np.array([5, 0, 17])
    part = fof_score_matrix(adj, "cn", rows=rows).toarray()
    np.testing.assert_allclose(part, full[rows])
    d = np.asarray(adj.sum(axis=1)).ravel()
    pen = fof_score_matrix(adj, "cn", degree_penalty=1.0).toarray()
    np.testing.assert_allclose(pen, full / d[None, :])
    g = CSRGraph.from_edges(*sp.triu(adj).nonzero(), 200)
    np.testing.assert_allclose(fof_score_matrix(g, "cn").toarray(), full)


def test_fof_rejects_bad_input(adj: sp.csr_matrix) -> None:
    with pytest.raises(ValueError, match="score"):
        fof_score_matrix(adj, "katz")
    with pytest.raises(ValueError, match="degree_penalty"):
        fof_score_matrix(adj, "cn", degree_penalty=-1.0)
    with pytest.raises(ValueError, match="rows"):
        fof_score_matrix(adj, "cn", rows=np.array([500]))
    with pytest.raises(TypeError, match="adj"):
        fof_score_matrix(np.eye(3), "cn")
    with pytest.raises(ValueError, match="symmetric"):
        fof_score_matrix(sp.csr_matrix(np.triu(np.ones((3, 3)), 1)), "cn")


def test_top_k_lists_order_padding_and_random_ties() -> None:
    s = sp.csr_matrix(np.array([[0.0, 3.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0]]))
    out = top_k_lists(s, 3, seed=0)
    assert out[0].tolist() == [1, 3, 2]
    assert out[1].tolist() == [-1, -1, -1]
    assert sorted(out[2].tolist()) == [0, 1, 2]
    firsts = {int(top_k_lists(s, 1, seed=i)[2, 0]) for i in range(30)}
    assert firsts == {0, 1, 2}  # equal scores: no id order wins every time
    with pytest.raises(ValueError, match="k"):
        top_k_lists(s, 0)
    with pytest.raises(TypeError, match="scores"):
        top_k_lists(s.toarray(), 2)


def test_top_members_and_hub_slot_share() -> None:
    deg = np.array([0, 50, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert top_members(deg, 0.05).tolist() == [1]  # ceil(0.05 * 11 members) = 1
    lists = np.array([[1, 2, -1], [1, 3, 4]])
    assert hub_slot_share(lists, deg, 0.05) == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="top_share"):
        hub_slot_share(lists, deg, 1.5)
    with pytest.raises(ValueError, match="no filled slot"):
        hub_slot_share(np.full((2, 2), -1), deg)


def test_list_hits() -> None:
    lists = np.array([[1, 2], [0, 3]])
    rows = np.array([0, 5])
    targets = np.array([[0, 2], [0, 4], [3, 5], [7, 8]])
    per = list_hits(lists, rows, targets).set_index("member")
    assert per.loc[0, "n_targets"] == 2 and per.loc[0, "n_hit"] == 1
    assert per.loc[5, "hit"] and per.loc[5, "recall"] == 1.0
    with pytest.raises(ValueError, match="targets"):
        list_hits(lists, rows, np.array([[7, 8]]))


def test_hub_two_hop_reach_star() -> None:
    # a star: every 2-hop pair goes through the centre, the only hub
    star = nx.star_graph(20)
    a = sp.csr_matrix(nx.to_scipy_sparse_array(star, format="csr"))
    r = hub_two_hop_reach(a, 0.01)
    assert r["pairs"] == 20 * 19 and r["pairs_without_hubs"] == 0
    assert r["share_only_via_hubs"] == 1.0 and r["n_hubs"] == 1


def test_simulator_is_seeded_and_grows(adj: sp.csr_matrix) -> None:
    a = simulate_pymk_growth(adj, rounds=3, seed=1, accept_per_common=0.1)
    b = simulate_pymk_growth(adj, rounds=3, seed=1, accept_per_common=0.1)
    assert isinstance(a, GrowthRun)
    np.testing.assert_array_equal(a.accepted, b.accepted)
    np.testing.assert_allclose(a.gini, b.gini)
    assert a.accepted[0] == 0 and a.accepted[1:].sum() > 0
    d0 = np.asarray(adj.sum(axis=1)).ravel()
    assert a.degree.sum() == d0.sum() + 2 * a.accepted.sum()
    assert list(a.table().columns)[:2] == ["gini", "accepted"]


def test_simulator_no_accepts_and_rules(adj: sp.csr_matrix) -> None:
    none = simulate_pymk_growth(adj, rounds=2, accept_per_common=0.0, accept_base=0.0)
    assert none.accepted.sum() == 0 and np.allclose(none.gini, none.gini[0])
    base = simulate_pymk_growth(adj, rounds=2, seed=0)
    pen = simulate_pymk_growth(adj, rounds=2, seed=0, degree_penalty=1.0)
    assert np.nanmean(pen.hub_share) < np.nanmean(base.hub_share)
    explore = simulate_pymk_growth(adj, rounds=1, seed=0, explore_slots=10, accept_base=1.0)
    assert explore.accepted[1] > 0  # every shown non-connection accepted
    with pytest.raises(ValueError, match="explore_slots"):
        simulate_pymk_growth(adj, explore_slots=11)
    with pytest.raises(ValueError, match="accept_base"):
        simulate_pymk_growth(adj, accept_base=2.0)
    with pytest.raises(ValueError, match="rounds"):
        simulate_pymk_growth(adj, rounds=0)
    with pytest.raises(TypeError, match="seed"):
        simulate_pymk_growth(adj, seed="x")


def test_stale_top_k(adj: sp.csr_matrix) -> None:
    rows = np.arange(30)
    raw, filt, already = stale_top_k(adj, adj, rows, k=5)
    assert already == 0.0
    np.testing.assert_array_equal(raw, filt)  # nothing to filter: the same lists
    # old snapshot missing some ties: the raw list may show people connected by now
    coo = sp.triu(adj).tocoo()
    keep = np.arange(coo.nnz) % 3 != 0
    old = sp.csr_matrix((np.ones(keep.sum()), (coo.row[keep], coo.col[keep])), shape=adj.shape)
    old = old + old.T
    raw, filt, already = stale_top_k(old, adj, rows, k=10)
    assert already > 0
    assert not (
        np.asarray(adj[np.repeat(rows, 10), filt.ravel().clip(0)]).ravel()[filt.ravel() >= 0]
    ).any()
    with pytest.raises(ValueError, match="shapes"):
        stale_top_k(adj, adj[:10, :10], rows)


def test_hidden_tie_exposure(adj: sp.csr_matrix) -> None:
    e = np.stack(sp.triu(adj).nonzero(), axis=1)
    out = hidden_tie_exposure(adj, e[:20], k=10)
    assert out["n_hidden"] == 20
    assert out["friends_list_used"] >= out["friends_list_removed"]
    # a tie inside a clique is always recoverable from the member's own list
    clique = sp.csr_matrix(np.ones((6, 6)) - np.eye(6))
    assert hidden_tie_exposure(clique, np.array([[0, 1]]), k=2)["own_list"] == 1.0
    with pytest.raises(ValueError, match="must be a tie"):
        hidden_tie_exposure(adj, np.array([[0, 199]]) if adj[0, 199] == 0 else np.array([[0, 0]]))
    with pytest.raises(ValueError, match="hidden"):
        hidden_tie_exposure(adj, np.zeros((0, 2), dtype=int))


@pytest.fixture(scope="module")
def films() -> pd.DataFrame:
    rows = [
        (2000, ("A", "B"), ("Drama",), ("US",), ("English",), ("Dir1",), ("W1",)),
        (2001, ("B", "C"), ("Comedy",), ("FR",), ("French",), ("Dir2",), ()),
        (2005, ("D",), ("Drama",), ("US",), ("English",), ("Dir1",), ()),
        (2011, ("N", "X"), ("Drama",), ("US",), ("English",), ("Dir1",), ()),
        (2013, ("N",), ("Comedy",), ("FR",), ("French",), ("Dir2",), ()),
    ]
    cols = ["year", "cast", "genres", "countries", "languages", "directors", "writers"]
    return pd.DataFrame(rows, columns=cols)


def test_profile_matrix_and_scores(films: pd.DataFrame) -> None:
    actors = ["A", "B", "C", "D", "N"]
    pool = profile_matrix(films, actors, until_year=2010)
    assert np.isnan(pool.debut[4]) and pool.debut[1] == 2000
    assert np.allclose(np.linalg.norm(pool.x[:4], axis=1), 1.0)
    assert not pool.x[4].any()  # N has no film before 2010
    new = profile_matrix(films, ["N"], debut_year_only=True, vocab=pool.vocab)
    assert new.debut[0] == 2011
    # only the 2011 film (Drama, US, English, Dir1) counts for N at sign-up
    s = profile_scores(new, pool, year_weight=0.0, people_weight=0.0)
    assert s[0, 0] == pytest.approx(1.0) and s[0, 2] == pytest.approx(0.0)
    s2 = profile_scores(new, pool, year_weight=0.0, people_weight=1.0)
    assert s2[0, 3] - s[0, 3] == pytest.approx(np.log(2))  # D shares Dir1
    assert s2[0, 2] == pytest.approx(0.0)  # C shares nobody
    s3 = profile_scores(new, pool, year_weight=1.0, year_scale=5.0, people_weight=0.0)
    assert s3[0, 3] - s[0, 3] == pytest.approx(np.exp(-6 / 5))
    assert s3[0, 4] == s[0, 4]  # no debut, no year term


def test_profile_rejects_bad_input(films: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="films"):
        profile_matrix(films.drop(columns="writers"), ["A"])
    with pytest.raises(ValueError, match="actors"):
        profile_matrix(films, [])
    with pytest.raises(TypeError, match="until_year"):
        profile_matrix(films, ["A"], until_year=2010.5)
    a = profile_matrix(films, ["A"])
    b = profile_matrix(films, ["A"], until_year=2001)
    with pytest.raises(ValueError, match="vocab"):
        profile_scores(a, b)
    with pytest.raises(TypeError, match="Profiles"):
        profile_scores(a, "b")
    with pytest.raises(ValueError, match="people_weight"):
        profile_scores(a, a, people_weight=-1.0)
