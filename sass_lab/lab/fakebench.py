"""Fake benchmarks with known behaviour, for tests and for measuring the search without a GPU.

A fake must not be the static model itself, or a search guided by the model finds its optimum by
construction. :func:`fake_speed` departs from the model in a controlled way:

    speed = score × exp(Σ_p effect(p, value)) × exp(σ · z(defines))

- ``effect(p, value)``: a fixed effect per tuning-parameter value, uniform in ``[-bias, +bias]``,
  drawn from a hash of (seed, parameter, value) — what the hardware prefers and the model does not
  know (e.g. a tile shape that suits the memory system), structured, so a search can learn it;
- ``z(defines)``: a standard normal drawn from a hash of (seed, defines) — interactions no additive
  model captures, unstructured.

``score`` is the static model's score of the compiled candidate (pruned ones are never timed).
:func:`spearman` says how far the fake's ranking is from the model's. :class:`FakeBench` is a
picklable ``bench(path, arch, defines, size)`` for sweeps (times in seconds, with optional
multiplicative measurement noise), and :class:`FakeRetimer` re-times candidates interleaved with a
known noise distribution and a drift shared by all candidates.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import signal
from collections.abc import Sequence
from dataclasses import dataclass


def _unit(*parts: object) -> float:
    """A deterministic uniform number in [0, 1) from ``parts``."""
    h = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


def _normal(*parts: object) -> float:
    u1, u2 = max(_unit(*parts, 1), 1e-12), _unit(*parts, 2)
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


def fake_speed(score: float, defines: dict, *, bias: float = 0.1, sigma: float = 0.03, seed: int = 0) -> float:
    """The fake's speed (higher is faster) of a candidate with static ``score``."""
    e = sum((2 * _unit(seed, p, repr(v)) - 1) * bias for p, v in sorted(defines.items()))
    z = _normal(seed, sorted((k, repr(v)) for k, v in defines.items()))
    return max(score, 1e-9) * math.exp(e + sigma * z)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of two equally long sequences (average ranks for ties)."""
    def ranks(x):
        order = sorted(range(len(x)), key=lambda i: x[i])
        r = [0.0] * len(x)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = math.sqrt(sum((x - ma) ** 2 for x in ra))
    vb = math.sqrt(sum((y - mb) ** 2 for y in rb))
    return cov / (va * vb) if va and vb else 0.0


@dataclass(frozen=True)
class FakeBench:
    """``bench(path, arch, defines, size) -> store columns`` from a table of true times (seconds).

    ``times``: ``((defines as sorted items), seconds)`` pairs; candidates not in it take
    ``default_s``. ``fail``: defines (as sorted items) that raise, as a sticky CUDA fault would.
    ``noise``: relative measurement noise (log-normal σ), seeded per call by ``seed`` and the defines.
    """

    times: tuple = ()
    default_s: float = 1e-3
    fail: tuple = ()
    noise: float = 0.0
    seed: int = 0
    kill: tuple = ()  # defines (as sorted items) whose worker process is killed (SIGKILL) mid-task

    def __call__(self, path: str, arch: str, defines: dict, size: dict) -> dict:
        key = tuple(sorted(defines.items()))
        if key in self.fail:
            raise RuntimeError("CUDA_ERROR_ILLEGAL_ADDRESS (fake)")
        if key in self.kill:
            os.kill(os.getpid(), signal.SIGKILL)
        t = dict(self.times).get(key, self.default_s)
        if self.noise:
            t *= math.exp(self.noise * _normal(self.seed, key))
        return {"median_s": t, "p20_s": t * 0.99, "p80_s": t * 1.01, "min_s": t * 0.98, "verified": "pass",
                "extra": {"gpu": os.environ.get("CUDA_VISIBLE_DEVICES")}}


def fake_device(*names: str) -> tuple[str, str]:
    """A GPU worker's (model, driver) from ``names`` by its ``CUDA_VISIBLE_DEVICES`` ordinal (a stand-in
    for the driver query, e.g. ``functools.partial(fake_device, "H100", "A100")`` for a mixed farm)."""
    ordinal = int((os.environ.get("CUDA_VISIBLE_DEVICES") or "0").split(",")[0])
    return names[ordinal % len(names)], "580.00"


@dataclass(frozen=True)
class FakeRetimer:
    """Interleaved re-timing with known distributions: ``true[i]`` seconds for candidate ``i``, times
    log-normal noise ``noise``, times a drift common to every candidate (``drift`` per round, e.g. a
    GPU warming up), so a paired statistic cancels the drift and an unpaired one would not."""

    true: tuple[float, ...]
    noise: float = 0.01
    drift: float = 0.0
    seed: int = 0

    def __call__(self, path: str, arch: str, size: dict, defines: list[dict], rounds: int) -> list[list[float]]:
        rng = random.Random(self.seed)
        out: list[list[float]] = [[] for _ in defines]
        for r in range(rounds):
            shared = math.exp(self.drift * r)
            for i in range(len(defines)):
                out[i].append(self.true[i] * shared * math.exp(rng.gauss(0.0, self.noise)))
        return out


__all__ = ["FakeBench", "FakeRetimer", "fake_device", "fake_speed", "spearman"]
