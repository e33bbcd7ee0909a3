"""Rankings that survive noise: re-time the top candidates interleaved, and say how sure the winner is.

After a sweep the fastest K candidates are timed again in rounds, ``A B C A B C …`` (each round
times every candidate once, in a rotated order), on one GPU in one process, so slow drifts — clocks,
temperature, a neighbour's load — hit every candidate alike within a round.

**The statistic.** For the winner W (lowest median over the rounds) and the runner-up R, each
round gives a paired ratio ``r_i = t_R,i / t_W,i``; drift common to the round cancels in it. The
effect is the median of the ``r_i``; its confidence interval comes from a percentile bootstrap
over rounds (2,000 resamples, seeded, so a verdict is reproducible) at 95 % for two candidates and
wider for K (Bonferroni: the winner is the best of K, so each of its K-1 comparisons gets
2.5 %/(K-1) in the lower tail), and the confidence is the share of bootstrap medians above 1. W is
**separated** when the interval's lower end is above 1, else the two are a **tie** and the report
says so: the sweep cannot tell them apart at this noise, and either may be used.
A sign test on the same pairs is reported beside it (exact binomial p-value of W being faster in
that many rounds by chance), a distribution-free check that needs no resampling.

The bootstrap of paired medians suits timings: they are skewed (a long right tail of interruptions)
and the median ignores the tail, and pairing by round removes the shared drift that would otherwise
widen an unpaired interval. ``tests/lab/test_noise.py`` checks it on fake benches with known
distributions: equal candidates are called a tie at least 95 % of the time, a 3 % gap under 1 %
noise is separated every time, and a strong drift does not fool it.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

RESAMPLES = 2000


@dataclass(frozen=True)
class Verdict:
    """The re-timed top candidates and what can be said about the winner."""

    defines: tuple[dict, ...]  # best first, by median re-timed time
    medians_s: tuple[float, ...]
    rounds: int
    ratio: float  # median paired ratio runner-up / winner (> 1: the winner is faster)
    low: float  # 95 % bootstrap interval of that ratio
    high: float
    confidence: float  # share of bootstrap medians > 1
    sign_p: float  # one-sided sign-test p-value
    tie: bool

    def describe(self) -> str:
        w = " ".join(f"{k}={v}" for k, v in self.defines[0].items())
        gap = f"runner-up {100 * (self.ratio - 1):+.1f} % (95 % CI {100 * (self.low - 1):+.1f} … " \
              f"{100 * (self.high - 1):+.1f} %), {self.rounds} interleaved rounds"
        if self.tie:
            return f"tie: {w} is not separated from the runner-up ({gap}); confidence {self.confidence:.0%}"
        return f"winner: {w} with confidence {self.confidence:.0%} ({gap})"

    def to_dict(self) -> dict:
        return {"defines": list(self.defines), "medians_s": list(self.medians_s), "rounds": self.rounds,
                "ratio": self.ratio, "ci": [self.low, self.high], "confidence": self.confidence,
                "sign_p": self.sign_p, "tie": self.tie}


def decide(samples: Sequence[Sequence[float]], defines: Sequence[dict], seed: int = 0) -> Verdict:
    """The verdict from ``samples[i][round]`` (seconds) of candidates ``defines[i]``."""
    if len(samples) < 2 or min(len(s) for s in samples) < 2:
        raise ValueError("need at least two candidates and two rounds")
    n = min(len(s) for s in samples)
    meds = [statistics.median(s[:n]) for s in samples]
    order = sorted(range(len(samples)), key=lambda i: meds[i])
    w, r = order[0], order[1]
    ratios = [samples[r][k] / samples[w][k] for k in range(n)]
    rng = random.Random(seed)
    boots = sorted(statistics.median(rng.choices(ratios, k=n)) for _ in range(RESAMPLES))
    tail = 0.025 / (len(samples) - 1)  # the winner is the best of K: Bonferroni over its K-1 rivals
    low, high = boots[int(tail * RESAMPLES)], boots[math.ceil((1 - tail) * RESAMPLES) - 1]
    conf = sum(b > 1.0 for b in boots) / RESAMPLES
    wins = sum(x > 1.0 for x in ratios)
    p = sum(math.comb(n, k) for k in range(wins, n + 1)) / 2.0**n
    return Verdict(tuple(dict(defines[i]) for i in order), tuple(meds[i] for i in order), n,
                   statistics.median(ratios), low, high, conf, p, tie=not low > 1.0)


def interleave(measure: Callable[[int], float], k: int, rounds: int) -> list[list[float]]:
    """``measure(i)`` for candidates ``0..k-1`` in ``rounds`` rounds, each in a rotated order."""
    out: list[list[float]] = [[] for _ in range(k)]
    for r in range(rounds):
        for j in range(k):
            i = (j + r) % k
            out[i].append(measure(i))
    return out


def retime_on_gpu(path: str, arch: str, size: dict, defines: list[dict], rounds: int,
                  rep_ms: float = 20.0) -> list[list[float]]:
    """Load every candidate on this process's GPU, then time them interleaved (seconds per run)."""
    import numpy as np

    from .. import runtime as rt
    from ..api import assemble_file
    from ..runtime.timing import CudaTimer
    from .bench import BenchConfig, do_bench
    from .spec import load_spec

    rt.probe()
    timer = CudaTimer.create()
    cfg = BenchConfig(warmup_ms=5.0, rep_ms=rep_ms, min_reps=5, verify=False)
    preps, buffers = [], []
    try:
        for d in defines:
            mod = assemble_file(path, arch, defines=d)
            spec = load_spec(path, resolved=mod.defines)
            k = mod[spec.kernel_name(list(mod.kernels))]
            s = spec.with_size(size)
            host = spec.inputs(s, np.random.default_rng(0))
            dev = {}
            for n, v in host.items():
                if isinstance(v, np.ndarray) and v.ndim > 0:
                    dev[n] = rt.to_device(v)
                    buffers.append(dev[n])
                else:
                    dev[n] = v
            preps.append(rt.prepare(k, spec.grid(s), spec.block(s), *rt.args_from_dict(k.params, dev, k.name),
                                    dynamic_shared=spec.shared(s), stream=timer.stream))
        return interleave(lambda i: do_bench([preps[i].enqueue], timer, cfg).stats.median * 1e-3,
                          len(defines), rounds)
    finally:
        for p in preps:
            p.free()
        for b in buffers:
            b.free()
        timer.close()


def retime_top(runner, path: str, arch: str, size: dict, outcomes: list, k: int, rounds: int,
               retimer: Callable | None = None) -> Verdict | None:
    """Re-time the ``k`` fastest ok outcomes on one of the runner's GPUs; None when fewer than two."""
    top = [o.static.defines for o in outcomes if o.status == "ok" and o.values.get("median_s")][:k]
    if len(top) < 2:
        return None
    fn = retimer or retime_on_gpu
    if retimer is not None and getattr(runner, "kind", "local") == "local":
        samples = fn(path, arch, size, top, rounds)
    else:
        from .runners import tasks_for

        f, tasks = tasks_for(runner, path, fn, [(arch, size, top, rounds)])
        (r,) = list(runner.run(f, tasks, gpu=True))
        if not r.ok:
            raise r.error if r.error is not None else RuntimeError(f"re-timing failed: {r.crash}")
        samples = r.value
    return decide(samples, top)


__all__ = ["Verdict", "decide", "interleave", "retime_on_gpu", "retime_top"]
