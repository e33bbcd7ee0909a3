"""What capping registers costs: compile one PTX module under several ``-maxrregcount`` values.

Each point records the registers ptxas used, the spill traffic and stack it needed, and the occupancy
that register count allows, so a tuner or the console can see where spills begin and where the next
occupancy step is. Compiles run one after another (nvJitLink holds the GIL).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import UsageError
from ..hw.launch import default_threads, kernel_occupancy
from .compile import compile_ptx
from .options import CompileOptions

DEFAULT_CAPS = (32, 40, 48, 56, 64, 72, 80, 96, 128, 168, 255)


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One ``-maxrregcount`` setting for one kernel."""

    cap: int
    registers: int
    spill_stores: int
    spill_loads: int
    stack_bytes: int
    blocks_per_sm: int
    occupancy: float  # percent
    limiters: tuple[str, ...]


def register_sweep(ptx: str, arch: str, kernel: str, *, caps: Iterable[int] = DEFAULT_CAPS,
                   threads: int | None = None, dynamic_shared: int = 0) -> tuple[SweepPoint, ...]:
    """Compile ``ptx`` once per cap and describe ``kernel`` at ``threads`` per block."""
    points = []
    for cap in sorted(set(caps)):
        res = compile_ptx(ptx, arch, options=CompileOptions(maxrregcount=cap)).resources
        if kernel not in res:
            raise UsageError(f"no kernel '{kernel}' in the PTX", hint=f"kernels: {', '.join(res) or '(none)'}")
        r = res[kernel]
        t = default_threads(r) if threads is None else threads
        occ = kernel_occupancy(arch, r, t, dynamic_shared)
        points.append(SweepPoint(cap, r.registers, r.spill_stores, r.spill_loads, r.stack_bytes,
                                 occ.blocks_per_sm, occ.percent, occ.limiters))
    return tuple(points)


def spill_free_minimum(points: Iterable[SweepPoint]) -> SweepPoint | None:
    """The lowest cap that still compiles without spills (None if every point spills)."""
    return next((p for p in sorted(points, key=lambda p: p.cap) if not (p.spill_stores or p.spill_loads)),
                None)
