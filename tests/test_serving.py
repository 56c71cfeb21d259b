"""The serving pipeline's bookkeeping and the fan-out tail formula."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from utils.serving import Pipeline, fanout_percentile, fanout_tail_support, latency_summary


class FakeClock:
    """A clock that only moves when a stage says so: timings exact whatever the machine's load."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _busy(clock, ms):
    def stage(state):
        clock.now += ms / 1e3
        state.setdefault("trace", []).append(ms)
        return state

    return stage


def test_pipeline_runs_stages_in_order_and_times_them():
    clock = FakeClock()
    pipe = Pipeline([("a", _busy(clock, 2)), ("b", _busy(clock, 5))], clock=clock)
    out, timings = pipe.run({"user": 1})
    assert out["trace"] == [2, 5] and out["user"] == 1
    assert list(timings) == ["a", "b"]
    assert timings == pytest.approx({"a": 2.0, "b": 5.0})


def test_pipeline_uses_the_wall_clock_by_default():
    pipe = Pipeline([("wait", lambda s: (time.sleep(0.002), s)[1])])
    _, timings = pipe.run({})
    assert timings["wait"] >= 1.5  # a sleep never returns early; no upper bound (machine load)


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


def test_fanout_tail_support_counts_the_samples_beyond_the_quantile():
    assert fanout_tail_support(10_000, 1) == pytest.approx(100.0)
    assert fanout_tail_support(10_000, 10) == pytest.approx(10_000 * (1 - 0.99**0.1))
    assert 9.9 < fanout_tail_support(100_000, 100) < 10.1
    lat = np.arange(1.0, 2_001.0)  # with 2,000 samples, 100 shards hit the sample maximum
    assert fanout_tail_support(2_000, 100) < 1
    assert fanout_percentile(lat, 100) > 1_995
    with pytest.raises(ValueError, match="n_shards"):
        fanout_tail_support(10, 0)
    with pytest.raises(ValueError, match="p must be"):
        fanout_tail_support(10, 2, p=0)


@pytest.mark.parametrize(
    ("call", "err", "match"),
    [
        (lambda: Pipeline([]), ValueError, "at least one stage"),
        (lambda: Pipeline([("a", abs), ("a", abs)]), ValueError, "unique"),
        (lambda: Pipeline([("a", 3)]), TypeError, "not callable"),
        (lambda: Pipeline([("a", abs)], clock=1.0), TypeError, "clock must be a callable"),
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
