"""An in-process serving pipeline that times every stage of every request.

A :class:`Pipeline` is an ordered list of named stages; each stage is a function
``state -> state`` over a dict that starts as the request. :meth:`Pipeline.run` returns the
final state and the wall-clock milliseconds spent in each stage; :meth:`Pipeline.serve` runs
many requests one at a time and returns a table of per-stage latencies, from which
:func:`latency_summary` computes percentiles. :func:`fanout_percentile` answers "what is the
p-th percentile of a request that waits for the slowest of N shards?" from measured latencies
(Dean & Barroso, 2013), and :func:`fanout_tail_support` says how many measured samples that
answer rests on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from ._checks import check_positive_int

Stage = Callable[[dict], dict]


class Pipeline:
    """Ordered, named stages; every run records per-stage latency in milliseconds.

    ``clock`` returns seconds (default :func:`time.perf_counter`); tests pass a fake one so that
    nothing they check depends on how busy the machine is.
    """

    def __init__(
        self, stages: Sequence[tuple[str, Stage]], *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        if len(stages) == 0:
            raise ValueError("a pipeline needs at least one stage")
        names = [n for n, _ in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique, got {names}")
        for name, fn in stages:
            if not callable(fn):
                raise TypeError(f"stage {name!r} is not callable")
        if not callable(clock):
            raise TypeError("clock must be a callable returning seconds")
        self.stages = list(stages)
        self.clock = clock

    def run(self, request: dict) -> tuple[dict, dict[str, float]]:
        state = dict(request)
        timings: dict[str, float] = {}
        for name, fn in self.stages:
            start = self.clock()
            state = fn(state)
            timings[name] = (self.clock() - start) * 1e3
            if not isinstance(state, dict):
                raise TypeError(f"stage {name!r} must return the state dict")
        return state, timings

    def serve(self, requests: Iterable[dict]) -> tuple[list[dict], pd.DataFrame]:
        """Run requests one at a time; returns the outputs and a (requests x stages) table of
        milliseconds with a ``total`` column."""
        outputs, rows = [], []
        for request in requests:
            out, timings = self.run(request)
            outputs.append(out)
            rows.append(timings)
        if not rows:
            raise ValueError("requests must not be empty")
        table = pd.DataFrame(rows)
        table["total"] = table.sum(axis=1)
        return outputs, table


def latency_summary(table: pd.DataFrame, percentiles: Sequence[float] = (50, 99)):
    """Per-column latency percentiles (rows: stages, columns: p50, p99, ...)."""
    if table.empty:
        raise ValueError("table must not be empty")
    return pd.DataFrame({f"p{p:g}": table.quantile(p / 100.0) for p in percentiles})


def fanout_percentile(
    latencies: object, n_shards: int, *, p: float = 99.0, n_draws: int = 20_000, seed: int = 0
) -> float:
    """p-th percentile of ``max`` over ``n_shards`` independent draws from ``latencies``.

    A request that fans out to N shards and waits for all of them is as slow as its slowest
    shard, so its tail is the N-th power of the per-shard CDF: ``P(max <= t) = F(t)^N``. The
    answer is the per-shard ``(p/100)^(1/N)`` quantile of the sample and cannot exceed its
    largest value; check :func:`fanout_tail_support` before trusting it at large N.
    """
    lat = np.asarray(latencies, dtype=np.float64)
    if lat.ndim != 1 or lat.size == 0 or not np.isfinite(lat).all():
        raise ValueError("latencies must be a non-empty 1-D array of finite values")
    n_shards = check_positive_int(n_shards, "n_shards")
    if not 0 < p < 100:
        raise ValueError(f"p must be in (0, 100), got {p}")
    rng = np.random.default_rng(seed)
    draws = rng.choice(lat, size=(n_draws, n_shards)).max(axis=1)
    return float(np.percentile(draws, p))


def fanout_tail_support(n_samples: int, n_shards: int, *, p: float = 99.0) -> float:
    """Expected number of measured latencies above the per-shard quantile that sets the p-th
    percentile of an N-shard fan-out: ``n_samples * (1 - (p/100)^(1/N))``. Below about 10 the
    estimate from :func:`fanout_percentile` is one or two outliers (it saturates at the sample
    maximum); at p = 99, N = 100 needs about 10^5 samples for 10."""
    n_samples = check_positive_int(n_samples, "n_samples")
    n_shards = check_positive_int(n_shards, "n_shards")
    if not 0 < p < 100:
        raise ValueError(f"p must be in (0, 100), got {p}")
    return float(n_samples * -np.expm1(np.log(p / 100.0) / n_shards))
