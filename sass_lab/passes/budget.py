"""Warnings when peak register pressure cannot fit the budget a kernel's directives imply.

sm_90 has 65,536 32-bit registers per SM and at most 255 per thread. ``.maxnreg N`` caps a thread at
N; ``.maxntid``/``.reqntid`` (threads per block, T) with ``.minnctapersm`` (blocks per SM, M, default
1) leave each thread ``min(255, 65536 // (T * M))`` rounded down to a multiple of 8 (the allocation
granularity ptxas works in). Pressure counts values only; ptxas needs a few more registers for
addresses and temporaries, so a peak at the budget is already tight.
"""

from __future__ import annotations

from ..ir import Kernel
from .liveness import Pressure
from .warpgroups import role_warnings

REGS_PER_SM = 65536
MAX_PER_THREAD = 255
MAX_WARPS_PER_SM = 64
MAX_BLOCKS_PER_SM = 32
HW_PREDICATES = 7  # P0..P6 (PT is constant true)


def _ints(values) -> list[int] | None:
    out = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    return out if out and len(out) == len(values) else None


def threads_per_block(kernel: Kernel) -> int | None:
    """Threads per block from ``.reqntid`` or ``.maxntid`` (None when neither is given)."""
    for name in ("reqntid", "maxntid"):
        for x in kernel.directives:
            dims = _ints(x.values) if x.name == name else None
            if dims:
                n = 1
                for v in dims:
                    n *= max(1, v)
                return n
    return None


def schedule_limit(kernel: Kernel, peak: int) -> int:
    """Live 32-bit registers the scheduler may use without costing occupancy.

    Registers are allocated per warp in units of 256, i.e. per thread in steps of 8, so rounding
    ``peak`` up to 8 is free. With a known block size, any count that keeps the same number of
    blocks per SM (registers, warps and the 32-block limit) is free too. A directive budget caps
    that, but never below ``peak``.
    """
    limit = min(MAX_PER_THREAD, -(-max(peak, 1) // 8) * 8)
    threads = threads_per_block(kernel)
    if threads:
        warps = -(-threads // 32)
        blocks = min(MAX_BLOCKS_PER_SM, MAX_WARPS_PER_SM // warps, REGS_PER_SM // (warps * 32 * limit))
        if blocks >= 1:
            limit = max(limit, min(MAX_PER_THREAD, REGS_PER_SM // (blocks * warps * 32)) // 8 * 8)
    budget = register_budget(kernel)
    if budget is not None:
        limit = min(limit, budget[0])
    return max(peak, limit)


def register_budget(kernel: Kernel) -> tuple[int, str] | None:
    """(registers per thread, what implies it) from the kernel's directives, or None."""
    d = {x.name: _ints(x.values) for x in kernel.directives}
    limits: list[tuple[int, str]] = []
    if d.get("maxnreg"):
        limits.append((d["maxnreg"][0], f".maxnreg {d['maxnreg'][0]}"))
    dims = d.get("maxntid") or d.get("reqntid")
    if dims:
        threads = 1
        for v in dims:
            threads *= max(1, v)
        blocks = (d.get("minnctapersm") or [1])[0] or 1
        per = min(MAX_PER_THREAD, REGS_PER_SM // (threads * blocks)) // 8 * 8
        which = ".maxntid" if d.get("maxntid") else ".reqntid"
        what = f"{which} {','.join(map(str, dims))}" + (f", .minnctapersm {blocks}"
                                                         if d.get("minnctapersm") else "")
        limits.append((per, what))
    return min(limits) if limits else None


def budget_warnings(kernel: Kernel, pressure: Pressure) -> list[str]:
    """Human-readable warnings (empty when everything fits)."""
    out = []
    budget = register_budget(kernel)
    where = f" at {pressure.peak_span}" if pressure.peak_span is not None else ""
    if budget is not None and pressure.peak > budget[0]:
        out.append(f"{kernel.name}: peak register pressure {pressure.peak}{where} exceeds the "
                   f"{budget[0]}-register budget implied by {budget[1]}; ptxas will spill to local memory")
    out += role_warnings(kernel, pressure.roles)
    if pressure.pred_peak > HW_PREDICATES:
        out.append(f"{kernel.name}: {pressure.pred_peak} predicates live at once (the hardware has "
                   f"{HW_PREDICATES}); ptxas will keep some in general registers")
    return out
