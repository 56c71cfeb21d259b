"""Tests for utils.pymk.formation: tie-formation distances, their shares, 2-hop work."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from utils.pymk.formation import (
    NEW_MEMBER,
    UNREACHABLE,
    degree_buckets,
    formation_distances,
    formation_shares,
)


def _ties(rows):
    return pd.DataFrame(rows, columns=["u", "v", "born", "first_year"]).astype(np.int64)


@pytest.fixture
def history():
    # 2000: a path 0-1-2 and an isolated pair 5-6
    # 2001: 0-2 closes a triangle (distance 2), 0-3 brings in a new member,
    #       2-5 joins two components (unreachable), 1-2 ... (already present: not used)
    # 2002: 3-6 (3 entered in 2001 via 0; 0..6 connected through 2-5 now): distance
    #       3 -> 0 -> 2 -> 5 -> 6 = 4 hops
    return _ties(
        [
            (0, 1, 2000, 1999),
            (1, 2, 2000, 2000),
            (5, 6, 2000, 2000),
            (0, 2, 2001, 1998),
            (0, 3, 2001, 2001),
            (2, 5, 2001, 2001),
            (3, 6, 2002, 2002),
            (1, 3, 2002, 2000),
        ]
    )


def test_formation_distances_codes(history):
    codes = formation_distances(history, 7, max_dist=3)
    # the first year has no earlier graph: every tie touches a new member
    assert codes[:3].tolist() == [NEW_MEMBER] * 3
    assert codes[3] == 2  # 0-2 via 1
    assert codes[4] == NEW_MEMBER  # 3 had no tie before 2001
    assert codes[5] == UNREACHABLE  # 2 and 5 in different components before 2001
    assert codes[6] == 4  # 3-0-2-5-6 is 4 hops: farther than max_dist=3
    assert codes[7] == 2  # 1-0-3


def test_formation_distances_matches_networkx(history):
    rng = np.random.default_rng(0)
    n = 40
    rows, seen = [], set()
    for year in range(2000, 2006):
        for _ in range(25):
            a, b = sorted(rng.choice(n, size=2, replace=False).tolist())
            if (a, b) not in seen:
                seen.add((a, b))
                rows.append((a, b, year, year))
    ties = _ties(rows)
    codes = formation_distances(ties, n, max_dist=10)
    for i, (a, b, year, _) in enumerate(rows):
        g = nx.Graph()
        g.add_edges_from((r[0], r[1]) for r in rows if r[2] < year)
        if a not in g or b not in g:
            assert codes[i] == NEW_MEMBER
        elif not nx.has_path(g, a, b):
            assert codes[i] == UNREACHABLE
        else:
            assert codes[i] == nx.shortest_path_length(g, a, b)


def test_formation_distances_from_year(history):
    codes = formation_distances(history, 7, from_year=2002)
    assert (codes[:6] == 0).all() and (codes[6:] != 0).all()


def test_formation_shares(history):
    codes = formation_distances(history, 7, max_dist=3)
    table = formation_shares(history, codes, [(2001, 2002)], max_dist=3)
    row = table.loc["2001-2002"]
    assert row["ties"] == 5
    assert row["2 hops"] == pytest.approx(2 / 5)
    assert row["4+ hops"] == pytest.approx(1 / 5)
    assert row["unreachable"] == pytest.approx(1 / 5)
    assert row["new member"] == pytest.approx(1 / 5)
    assert row["3 hops"] == 0
    shares = ["2 hops", "3 hops", "4+ hops", "unreachable", "new member"]
    assert row[shares].sum() == pytest.approx(1.0)
    assert row["2 hops | both known"] == pytest.approx(2 / 4)
    # met before: 0-2 (1998 < 2001) and 1-3 (2000 < 2002)
    assert row["met before"] == pytest.approx(2 / 5)


def test_formation_shares_rejects_unmeasured(history):
    codes = formation_distances(history, 7, from_year=2002)
    with pytest.raises(ValueError, match="unmeasured"):
        formation_shares(history, codes, [(2001, 2002)])


def test_degree_buckets():
    b = degree_buckets(np.array([0, 1, 4, 5, 99, 100, 5000]), [1, 5, 100])
    assert b.astype(str).tolist() == ["<1", "1-4", "1-4", "5-99", "5-99", "100+", "100+"]
    assert list(b.cat.categories) == ["<1", "1-4", "5-99", "100+"]
    assert list(degree_buckets(np.array([3, 70])).cat.categories)[-1] == "60+"  # the default


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda t: formation_distances(t.drop(columns="born"), 7), ValueError, "born"),
        (lambda t: formation_distances(t.iloc[:0], 7), ValueError, "empty"),
        (lambda t: formation_distances(t, 3), ValueError, "ties\\['u'\\]|ties\\['v'\\]"),
        (lambda t: formation_distances(t, 7, max_dist=1), ValueError, "max_dist"),
        (lambda t: formation_distances(t.values, 7), TypeError, "DataFrame"),
        (lambda t: formation_distances(t.astype({"born": float}), 7), TypeError, "born"),
        (lambda t: formation_distances(t, 7, from_year="2001"), TypeError, "from_year"),
        (
            lambda t: formation_shares(t, np.zeros(3, dtype=int), [(2001, 2002)]),
            ValueError,
            "codes",
        ),
        (lambda t: formation_shares(t, np.ones(len(t)), [(2001, 2002)]), TypeError, "codes"),
        (lambda t: formation_shares(t, np.full(len(t), 2), []), ValueError, "periods"),
        (lambda t: formation_shares(t, np.full(len(t), 2), [(2002, 2001)]), ValueError, "periods"),
        (lambda t: formation_shares(t, np.full(len(t), 2), [(1990, 1991)]), ValueError, "periods"),
    ],
)
def test_formation_bad_input(history, call, exc, match):
    with pytest.raises(exc, match=match):
        call(history)


def test_formation_rejects_self_loops():
    with pytest.raises(ValueError, match="self-loops"):
        formation_distances(_ties([(1, 1, 2000, 2000)]), 3)


def test_degree_buckets_bad_input():
    with pytest.raises(ValueError, match="edges"):
        degree_buckets(np.array([1, 2]), [5, 5])
    with pytest.raises(ValueError, match="edges"):
        degree_buckets(np.array([1, 2]), [])
    with pytest.raises(TypeError, match="degrees"):
        degree_buckets(np.array([1.5]), [1])
