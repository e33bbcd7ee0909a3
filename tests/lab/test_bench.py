"""The bench harness on a fake clock: statistics, budgets, flush placement, rotation, graphs, figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sass_lab.hw.peaks import Peaks
from sass_lab.lab.bench import (
    BenchConfig,
    BenchResult,
    PeerResult,
    do_bench,
    figures,
    rep_counts,
    rotation_count,
    summarize,
)


class FakeTimer:
    """A device whose clock advances by the cost of each enqueued run and flush."""

    def __init__(self, flush_ms: float = 5.0):
        self.now = 0.0
        self.stream = "s0"
        self.flush_ms = flush_ms
        self.log: list[str] = []
        self.captured = 0
        self.syncs = 0

    def flush(self):
        self.now += self.flush_ms
        self.log.append("flush")

    def start(self):
        self.log.append("start")
        return self.now

    def stop(self, start):
        self.log.append("stop")
        return (start, self.now)

    def elapsed_ms(self, token):
        return token[1] - token[0]

    def sync(self):
        self.syncs += 1

    def capture(self, run):
        self.captured += 1

        def replay(stream):
            self.log.append("graph")
            run(stream)
        return replay


def costed(timer: FakeTimer, cost_ms: float, tag: str, calls: list):
    def run(stream):
        assert stream == timer.stream
        calls.append(tag)
        timer.now += cost_ms
    return run


@pytest.mark.parametrize("times, med, p20, p80, lo", [
    ([1.0], 1.0, 1.0, 1.0, 1.0),
    ([3.0, 1.0, 2.0], 2.0, 1.4, 2.6, 1.0),
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3.5, 2.0, 5.0, 1.0),
    ([2.0] * 10 + [100.0], 2.0, 2.0, 2.0, 2.0),
])
def test_summarize(times, med, p20, p80, lo):
    st = summarize(times)
    assert st.n == len(times)
    assert st.median == pytest.approx(med) and st.p20 == pytest.approx(p20)
    assert st.p80 == pytest.approx(p80) and st.min == lo
    assert st.mean == pytest.approx(sum(times) / len(times))


@pytest.mark.parametrize("times", [[], [1.0, float("nan")], [-1.0]])
def test_summarize_rejects_bad_input(times):
    with pytest.raises(ValueError):
        summarize(times)


@pytest.mark.parametrize("est, warm, reps", [
    (1.0, 25, 100),      # budgets fill exactly
    (0.001, 25000, 5000),  # capped by max_reps
    (50.0, 1, 10),       # at least one warm-up and min_reps
    (0.0, 25_000_000, 5000),
])
def test_rep_counts(est, warm, reps):
    assert rep_counts(est, BenchConfig()) == (warm, reps)


@pytest.mark.parametrize("inp, l2, cap, n", [(0, 50, 8, 1), (200, 50, 8, 1), (100, 50, 8, 1), (30, 50, 8, 4),
                                             (1, 50, 8, 8), (10, 50, 3, 3)])
def test_rotation_count(inp, l2, cap, n):
    assert rotation_count(inp, l2, cap) == n


def test_do_bench_times_only_the_run_and_flushes_outside():
    t = FakeTimer(flush_ms=7.0)
    calls: list[str] = []
    res = do_bench([costed(t, 2.0, "a", calls)], t, BenchConfig(warmup_ms=10, rep_ms=40))
    # estimate: 5 × (flush 7 + run 2) = 9 ms per run → 1 warm-up, min_reps 10 (40/9 = 4 < 10)
    assert res.estimate_ms == pytest.approx(9.0)
    assert (res.warmup, res.reps) == (1, 10)
    assert all(x == pytest.approx(2.0) for x in res.times)  # the flush is outside every window
    assert res.stats.median == pytest.approx(2.0)
    timed = t.log[t.log.index("stop") + 1:]  # after the estimate's event pair
    assert timed == ["flush", "start", "stop"] * 10
    assert len(calls) == 1 + 5 + 1 + 10 and t.syncs == 2


def test_do_bench_without_flush_and_rotation():
    t = FakeTimer()
    calls: list[str] = []
    runs = [costed(t, 1.0, "a", calls), costed(t, 3.0, "b", calls), costed(t, 1.0, "c", calls)]
    res = do_bench(runs, t, BenchConfig(warmup_ms=0, rep_ms=12, min_reps=6, flush_l2=False))
    assert "flush" not in t.log
    assert res.sets == 3 and res.reps == 6  # estimate (1+3+1+1+3)/5 = 1.8 ms → int(12/1.8) = 6
    assert calls[-6:] == ["a", "b", "c", "a", "b", "c"]
    assert res.times == (1.0, 3.0, 1.0, 1.0, 3.0, 1.0)


def test_do_bench_graph_replays_captured_runs():
    t = FakeTimer()
    calls: list[str] = []
    res = do_bench([costed(t, 1.0, "a", calls), costed(t, 1.0, "b", calls)], t,
                   BenchConfig(rep_ms=5, min_reps=2, graph=True, flush_l2=False))
    assert t.captured == 2 and res.graph
    assert t.log.count("graph") == len(calls)


def test_do_bench_needs_runs():
    with pytest.raises(ValueError):
        do_bench([], FakeTimer())


def test_figures_against_both_peaks():
    sheet = Peaks(fp32_flops=100e12, bandwidth=4e12, source="datasheet")
    meas = Peaks(fp32_flops=50e12, bandwidth=2e12, source="measured")
    f = figures(2.0, flops=20e9, nbytes=4e9, datasheet=sheet, measured=meas)
    assert f.flop_rate == pytest.approx(10e12) and f.byte_rate == pytest.approx(2e12)
    assert f.flops_vs_datasheet == pytest.approx(0.1) and f.flops_vs_measured == pytest.approx(0.2)
    assert f.bytes_vs_datasheet == pytest.approx(0.5) and f.bytes_vs_measured == pytest.approx(1.0)
    g = figures(1.0, 1.0, 1.0)
    assert g.flops_vs_datasheet is None and g.bytes_vs_measured is None


def test_result_ratio_and_json():
    t = FakeTimer()
    ours = do_bench([costed(t, 2.0, "k", [])], t, BenchConfig(rep_ms=10, min_reps=3, flush_l2=False))
    theirs = do_bench([costed(t, 3.0, "p", [])], t, BenchConfig(rep_ms=10, min_reps=3, flush_l2=False))
    r = BenchResult("k.sasm", "k", "Fake GPU", {"n": 4}, {"BM": 64, "f": np.float32(1)}, (1, 1, 1),
                    (32, 1, 1), 8.0, 32.0, ours, 1e-7)
    assert r.ratio is None
    r.peer = PeerResult("cuBLAS SGEMM (fake)", theirs)
    assert r.ratio == pytest.approx(1.5)
    d = r.to_dict()
    assert d["ratio_vs_peer"] == pytest.approx(1.5) and d["peer"]["name"].startswith("cuBLAS")
    assert d["time_ms"]["median"] == pytest.approx(2.0) and isinstance(d["defines"]["f"], str)
    assert math.isclose(d["max_rel_err"], 1e-7)
