"""The serving pipeline's bookkeeping and the fan-out tail formula."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from utils.serving import Pipeline, fanout_percentile, latency_summary


def _sleepy(ms):
    def stage(state):
        time.sleep(ms / 1e3)
        state.setdefault("trace", []).append(ms)
        return state

    return stage


def test_pipeline_runs_stages_in_order_and_times_them():
    pipe = Pipeline([("a", _sleepy(2)), ("b", _sleepy(5))])
    out, timings = pipe.run({"user": 1})
    assert out["trace"] == [2, 5] and out["user"] == 1
    assert list(timings) == ["a", "b"]
    assert timings["a"] >= 1.5 and timings["b"] >= 4.5 and timings["b"] > timings["a"]


def test_serve_and_summary():
    pipe = Pipeline([("double", lambda s: {**s, "x": 2 * s["x"]})])
    outs, table = pipe.serve([{"x": i} for i in range(5)])
    assert [o["x"] for o in outs] == [0, 2, 4, 6, 8]
    assert list(table.columns) == ["double", "total"] and len(table) == 5
    summary = latency_summary(table)
    assert list(summary.columns) == ["p50", "p99"] and (summary["p99"] >= summary["p50"]).all()


def test_fanout_percentile_matches_the_closed_form():
    lat = np.random.default_rng(0).exponential(1.0, 200_000)
    # for Exp(1): P(max of N <= t) = (1 - e^-t)^N, so the p99 is -ln(1 - 0.99^(1/N))
    for n in (1, 10, 100):
        expected = -np.log(1 - 0.99 ** (1 / n))
        assert fanout_percentile(lat, n, n_draws=50_000) == pytest.approx(expected, rel=0.08)
    assert fanout_percentile(lat, 100) > fanout_percentile(lat, 10) > fanout_percentile(lat, 1)


@pytest.mark.parametrize(
    ("call", "err", "match"),
    [
        (lambda: Pipeline([]), ValueError, "at least one stage"),
        (lambda: Pipeline([("a", abs), ("a", abs)]), ValueError, "unique"),
        (lambda: Pipeline([("a", 3)]), TypeError, "not callable"),
        (lambda: Pipeline([("a", lambda s: None)]).run({}), TypeError, "state dict"),
        (lambda: Pipeline([("a", lambda s: s)]).serve([]), ValueError, "must not be empty"),
        (lambda: latency_summary(pd.DataFrame()), ValueError, "must not be empty"),
        (lambda: fanout_percentile([], 3), ValueError, "non-empty"),
        (lambda: fanout_percentile([1.0], 0), ValueError, "n_shards"),
        (lambda: fanout_percentile([1.0], 2, p=100), ValueError, "p must be"),
    ],
)
def test_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()
