"""utils.metrics: hand-computed cases, a cross-check against scikit-learn, properties, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from utils.metrics import (
    ann_recall_at_k,
    average_precision_at_k,
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

# Three queries worked by hand (binary relevance):
#   q0: ranked 1 2 3 4 5, relevant {1, 3, 6}: hits at ranks 1 and 3
#   q1: ranked 7 8 9,     relevant {9}:       one hit at rank 3 (list shorter than k = 5)
#   q2: ranked 1 2,       relevant {5}:       no hit
RANKED = [[1, 2, 3, 4, 5], [7, 8, 9], [1, 2]]
RELEVANT = [{1, 3, 6}, {9}, {5}]
LOG3 = math.log2(3)


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-12)


class TestHandComputed:
    def test_precision_divides_by_k_even_for_short_lists(self):
        per_query = precision_at_k(RANKED, RELEVANT, 5, reduce="none")
        np.testing.assert_allclose(per_query, [2 / 5, 1 / 5, 0.0])
        assert precision_at_k(RANKED, RELEVANT, 5) == approx((2 / 5 + 1 / 5) / 3)
        assert precision_at_k(RANKED, RELEVANT, 1) == approx(1 / 3)

    def test_recall(self):
        np.testing.assert_allclose(recall_at_k(RANKED, RELEVANT, 5, reduce="none"), [2 / 3, 1, 0])
        np.testing.assert_allclose(recall_at_k(RANKED, RELEVANT, 2, reduce="none"), [1 / 3, 0, 0])
        assert recall_at_k(RANKED, RELEVANT, 5) == approx((2 / 3 + 1) / 3)

    def test_hit_rate(self):
        np.testing.assert_array_equal(hit_rate_at_k(RANKED, RELEVANT, 5, reduce="none"), [1, 1, 0])
        np.testing.assert_array_equal(hit_rate_at_k(RANKED, RELEVANT, 2, reduce="none"), [1, 0, 0])
        assert hit_rate_at_k(RANKED, RELEVANT, 5) == approx(2 / 3)

    def test_mrr(self):
        np.testing.assert_allclose(mrr_at_k(RANKED, RELEVANT, 5, reduce="none"), [1, 1 / 3, 0])
        np.testing.assert_allclose(mrr_at_k([[4, 3, 1]], [{1, 3}], 3, reduce="none"), [1 / 2])
        assert mrr_at_k(RANKED, RELEVANT, 2) == approx(1 / 3)  # q1's hit at rank 3 is cut off

    def test_average_precision_divided_by_the_number_of_relevant_items(self):
        ap = average_precision_at_k(RANKED, RELEVANT, 5)  # reduce="none" by default
        np.testing.assert_allclose(ap, [(1 / 1 + 2 / 3) / 3, (1 / 3) / 1, 0.0])
        # k = 2 keeps only the hit at rank 1 of q0: 1 / |rel| = 1/3
        np.testing.assert_allclose(average_precision_at_k(RANKED, RELEVANT, 2), [1 / 3, 0, 0])

    def test_average_precision_divided_by_min_k_and_relevant(self):
        ap = average_precision_at_k(RANKED, RELEVANT, 2, ap_denominator="min")
        np.testing.assert_allclose(ap, [1 / 2, 0, 0])  # q0: 1 / min(2, 3)
        ap5 = average_precision_at_k(RANKED, RELEVANT, 5, ap_denominator="min")
        np.testing.assert_allclose(ap5, [(1 + 2 / 3) / 3, 1 / 3, 0.0])  # min(5, |rel|) = |rel|

    def test_map_is_the_mean_of_ap(self):
        assert map_at_k(RANKED, RELEVANT, 5) == approx(((1 + 2 / 3) / 3 + 1 / 3) / 3)
        assert map_at_k(RANKED, RELEVANT, 2, ap_denominator="min") == approx(1 / 6)
        assert average_precision_at_k(RANKED, RELEVANT, 5, reduce="mean") == approx(
            map_at_k(RANKED, RELEVANT, 5)
        )

    def test_ndcg_binary(self):
        dcg0 = 1 / math.log2(2) + 1 / math.log2(4)
        idcg0 = 1 + 1 / LOG3 + 1 / math.log2(4)
        expected = [dcg0 / idcg0, (1 / math.log2(4)) / 1, 0.0]
        np.testing.assert_allclose(ndcg_at_k(RANKED, RELEVANT, 5, reduce="none"), expected)
        assert ndcg_at_k(RANKED, RELEVANT, 5) == approx(sum(expected) / 3)
        # k = 1: q0's top item is relevant, and the ideal list has one slot
        np.testing.assert_allclose(ndcg_at_k(RANKED, RELEVANT, 1, reduce="none"), [1, 0, 0])

    def test_ndcg_graded_linear_and_exponential(self):
        ranked = [["a", "b", "c"]]
        gains = [{"a": 1, "b": 3, "c": 0, "d": 2}]
        linear = (1 + 3 / LOG3) / (3 + 2 / LOG3 + 1 / 2)
        expo = (1 + 7 / LOG3) / (7 + 3 / LOG3 + 1 / 2)  # 2^g - 1: 1, 7, 0 / ideal 7, 3, 1
        assert ndcg_at_k(ranked, gains, 3) == approx(linear)
        assert ndcg_at_k(ranked, gains, 3, gains="exponential") == approx(expo)
        assert linear != approx(expo)
        # k = 2: ideal is (3, 2), found (1, 3)
        assert ndcg_at_k(ranked, gains, 2) == approx((1 + 3 / LOG3) / (3 + 2 / LOG3))

    def test_zero_gains_do_not_count_as_relevant(self):
        ranked, rel = [[2, 1]], [{1: 1.0, 2: 0.0}]
        assert recall_at_k(ranked, rel, 1) == 0.0
        assert recall_at_k(ranked, rel, 2) == 1.0
        assert precision_at_k(ranked, rel, 2) == 0.5

    def test_numpy_2d_ranked_equals_lists(self):
        ranked = np.array([[1, 2, 3], [3, 2, 1]])
        rel = [{3}, {3, 2}]
        for f in (precision_at_k, recall_at_k, mrr_at_k, ndcg_at_k):
            assert f(ranked, rel, 2) == approx(f(ranked.tolist(), rel, 2))
        assert ndcg_at_k(ranked, rel, 2, reduce="none")[1] == approx(1.0)

    def test_mean_returns_a_float_and_none_an_array(self):
        assert isinstance(recall_at_k(RANKED, RELEVANT, 3), float)
        per = recall_at_k(RANKED, RELEVANT, 3, reduce="none")
        assert isinstance(per, np.ndarray) and per.shape == (3,)


@pytest.mark.parametrize("k", [1, 3, 5, 10, 20])
def test_ndcg_matches_sklearn_per_query(k):
    rng = np.random.default_rng(k)
    n_queries, n_items = 25, 20
    y_true = rng.integers(0, 4, size=(n_queries, n_items)).astype(float)
    y_true[rng.random(y_true.shape) < 0.5] = 0.0  # sparse, graded relevance
    y_true[:, 0] = np.maximum(y_true[:, 0], 1.0)  # at least one relevant item per query
    ranked, relevant, y_score = [], [], np.empty_like(y_true)
    for q in range(n_queries):
        order = rng.permutation(n_items)
        ranked.append(order.tolist())
        y_score[q, order] = np.arange(n_items, 0, -1)  # distinct scores: the order is the ranking
        relevant.append({i: y_true[q, i] for i in range(n_items)})
    ours = ndcg_at_k(ranked, relevant, k, reduce="none")
    theirs = [ndcg_score(y_true[q : q + 1], y_score[q : q + 1], k=k) for q in range(n_queries)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert ndcg_at_k(ranked, relevant, k) == pytest.approx(ndcg_score(y_true, y_score, k=k))
    # binary relevance too: sets of the positive items
    binary = [{i for i, g in rel.items() if g > 0} for rel in relevant]
    yb = (y_true > 0).astype(float)
    np.testing.assert_allclose(
        ndcg_at_k(ranked, binary, k, reduce="none"),
        [ndcg_score(yb[q : q + 1], y_score[q : q + 1], k=k) for q in range(n_queries)],
        rtol=1e-10,
    )


# --- properties -------------------------------------------------------------------------------

ITEMS = st.integers(0, 29)


@st.composite
def binary_case(draw):
    n_queries = draw(st.integers(1, 4))
    ranked = [draw(st.lists(ITEMS, min_size=1, max_size=20, unique=True)) for _ in range(n_queries)]
    relevant = [draw(st.sets(ITEMS, min_size=1, max_size=10)) for _ in range(n_queries)]
    return ranked, relevant, draw(st.integers(1, 25))


@st.composite
def graded_case(draw):
    gains = draw(st.dictionaries(ITEMS, st.integers(1, 4), min_size=1, max_size=10))
    others = [i for i in range(30) if i not in gains]
    filler = draw(st.lists(st.sampled_from(others), unique=True, max_size=5)) if others else []
    return gains, filler, draw(st.integers(1, 25))


SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)


@SETTINGS
@given(binary_case())
def test_metrics_lie_in_unit_interval(case):
    ranked, relevant, k = case
    values = [
        precision_at_k(ranked, relevant, k, reduce="none"),
        recall_at_k(ranked, relevant, k, reduce="none"),
        hit_rate_at_k(ranked, relevant, k, reduce="none"),
        mrr_at_k(ranked, relevant, k, reduce="none"),
        average_precision_at_k(ranked, relevant, k),
        average_precision_at_k(ranked, relevant, k, ap_denominator="min"),
        ndcg_at_k(ranked, relevant, k, reduce="none"),
        ndcg_at_k(ranked, relevant, k, gains="exponential", reduce="none"),
    ]
    for v in values:
        assert np.all((v >= 0) & (v <= 1 + 1e-12))


@SETTINGS
@given(binary_case())
def test_precision_and_recall_count_the_same_hits(case):
    ranked, relevant, k = case
    p = precision_at_k(ranked, relevant, k, reduce="none")
    r = recall_at_k(ranked, relevant, k, reduce="none")
    hits = [len(set(items[:k]) & rel) for items, rel in zip(ranked, relevant, strict=True)]
    sizes = np.array([len(rel) for rel in relevant])
    np.testing.assert_allclose(p * k, hits, atol=1e-9)
    np.testing.assert_allclose(r * sizes, hits, atol=1e-9)
    hit = hit_rate_at_k(ranked, relevant, k, reduce="none")
    np.testing.assert_array_equal(hit, np.array(hits) > 0)
    assert np.all(mrr_at_k(ranked, relevant, k, reduce="none") <= hit)
    ap_rel = average_precision_at_k(ranked, relevant, k)
    ap_min = average_precision_at_k(ranked, relevant, k, ap_denominator="min")
    assert np.all(ap_min >= ap_rel - 1e-12)


@SETTINGS
@given(graded_case())
def test_perfect_ranking_has_ndcg_one(case):
    gains, filler, k = case
    ideal = sorted(gains, key=lambda i: -gains[i]) + filler
    for g in ("linear", "exponential"):
        assert ndcg_at_k([ideal], [gains], k, gains=g) == pytest.approx(1.0)
    binary = [set(gains)]
    assert ndcg_at_k([ideal], binary, k) == pytest.approx(1.0)
    assert average_precision_at_k([ideal], binary, k, ap_denominator="min")[0] == pytest.approx(1)
    # the worst order (relevant items last, beyond k when possible) never beats the ideal
    worst = filler + sorted(gains, key=lambda i: gains[i])
    assert ndcg_at_k([worst], [gains], k) <= 1.0 + 1e-12


# --- ann_recall_at_k --------------------------------------------------------------------------


class TestAnnRecall:
    def test_counts_the_overlap_per_query(self):
        found = np.array([[1, 2, 3], [4, 5, 6]])
        true = np.array([[1, 2, 9], [6, 5, 4]])  # order inside the top k does not matter
        assert ann_recall_at_k(found, true) == pytest.approx(5 / 6)
        assert ann_recall_at_k(true, true) == 1.0

    def test_padding_ids_count_as_misses(self):
        assert ann_recall_at_k([[1, -1, -1]], [[1, 2, 3]]) == pytest.approx(1 / 3)
        assert ann_recall_at_k([[-1, -1, -1]], [[1, 2, 3]]) == 0.0

    def test_duplicates_in_found_count_once(self):
        assert ann_recall_at_k([[1, 1, 1]], [[1, 2, 3]]) == pytest.approx(1 / 3)

    def test_k_cuts_both_arrays(self):
        found, true = [[1, 2, 3, 4]], [[2, 1, 7, 8]]
        assert ann_recall_at_k(found, true, 2) == 1.0
        assert ann_recall_at_k(found, true) == 0.5  # k defaults to true.shape[1] = 4
        assert ann_recall_at_k([[9, 1, 2, 3]], [[1, 2]], None) == 0.5  # found[:, :2] = 9, 1

    def test_wrong_ndim(self):
        with pytest.raises(ValueError, match="found and true must be 2-D"):
            ann_recall_at_k(np.array([1, 2]), np.array([[1, 2]]))
        with pytest.raises(ValueError, match="found and true must be 2-D"):
            ann_recall_at_k(np.zeros((1, 2, 2)), np.zeros((1, 2)))

    def test_mismatched_queries(self):
        with pytest.raises(ValueError, match="found has 2 queries but true has 1"):
            ann_recall_at_k([[1], [2]], [[1]])

    def test_no_queries(self):
        with pytest.raises(ValueError, match="at least one query"):
            ann_recall_at_k(np.empty((0, 3)), np.empty((0, 3)))

    def test_bad_k(self):
        with pytest.raises(ValueError, match=r"k=5 is larger than the number of result columns"):
            ann_recall_at_k([[1, 2, 3]], [[1, 2, 3]], 5)
        with pytest.raises(ValueError, match="k must be positive"):
            ann_recall_at_k([[1, 2, 3]], [[1, 2, 3]], 0)
        with pytest.raises(TypeError, match="k must be an int"):
            ann_recall_at_k([[1, 2, 3]], [[1, 2, 3]], True)
        with pytest.raises(ValueError, match="found has 2 columns, fewer than k=3"):
            ann_recall_at_k([[1, 2]], [[1, 2, 3]])


# --- bad input --------------------------------------------------------------------------------

RANKING_METRICS = [precision_at_k, recall_at_k, hit_rate_at_k, mrr_at_k, ndcg_at_k, map_at_k]
RANKING_METRICS.append(average_precision_at_k)


@pytest.mark.parametrize("metric", RANKING_METRICS, ids=lambda f: f.__name__)
class TestBadInput:
    def test_mismatched_lengths(self, metric):
        with pytest.raises(ValueError, match="ranked has 2 queries but relevant has 1"):
            metric([[1], [2]], [{1}], 1)

    def test_empty_ranked(self, metric):
        with pytest.raises(ValueError, match="ranked must not be empty"):
            metric([], [], 1)

    @pytest.mark.parametrize("k", [0, -3, True, 2.0, None])
    def test_bad_k(self, metric, k):
        with pytest.raises(ValueError, match="k must be a positive int"):
            metric([[1, 2]], [{1}], k)

    def test_empty_relevant_set(self, metric):
        with pytest.raises(ValueError, match=r"relevant\[1\] is empty"):
            metric([[1], [2]], [{1}, set()], 1)
        with pytest.raises(ValueError, match=r"relevant\[0\] is empty"):
            metric([[1]], [{1: 0.0, 2: 0}], 1)  # only zero gains

    @pytest.mark.parametrize("gain", [float("nan"), -1.0, float("inf")])
    def test_bad_gains(self, metric, gain):
        with pytest.raises(ValueError, match=r"relevant\[1\] has a NaN, infinite or negative"):
            metric([[1], [2]], [{1: 1.0}, {2: gain}], 1)

    def test_repeated_items(self, metric):
        with pytest.raises(ValueError, match=r"ranked\[0\] repeats an item"):
            metric([[1, 2, 1]], [{1}], 3)

    def test_ranked_not_a_sequence_of_lists(self, metric):
        with pytest.raises(TypeError, match="ranked must be a sequence"):
            metric("abc", [{1}], 1)
        with pytest.raises(ValueError, match="ranked must be 2-D"):
            metric(np.array([1, 2, 3]), [{1}], 1)
        with pytest.raises(TypeError, match="relevant must be a sequence"):
            metric([[1]], {1}, 1)


@pytest.mark.parametrize(
    "metric", [precision_at_k, recall_at_k, hit_rate_at_k, mrr_at_k, ndcg_at_k]
)
def test_unknown_reduce(metric):
    with pytest.raises(ValueError, match="unknown reduce 'sum'"):
        metric([[1]], [{1}], 1, reduce="sum")


def test_unknown_gains():
    with pytest.raises(ValueError, match="unknown gains 'log'"):
        ndcg_at_k([[1]], [{1}], 1, gains="log")


def test_unknown_ap_denominator():
    with pytest.raises(ValueError, match="unknown ap_denominator 'k'"):
        average_precision_at_k([[1]], [{1}], 1, ap_denominator="k")
    with pytest.raises(ValueError, match="unknown ap_denominator 'k'"):
        map_at_k([[1]], [{1}], 1, ap_denominator="k")
