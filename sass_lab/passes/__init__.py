"""IR passes: scheduling of ``.schedule`` regions, liveness/pressure, register sharing, budget checks.

``run_passes(kernel)`` runs them in that order and returns the new kernel and a :class:`PassReport`.
See docs/PASSES.md for the algorithms, the units and the latency table. A :class:`PassMemo` lets a
tuning sweep's worker reuse the work for kernels that differ only in their directives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ..ir import Kernel
from .budget import budget_warnings, register_budget, schedule_limit
from .defuse import DefUse
from .latency import DEFAULT_LATENCIES, classify
from .liveness import Pressure, flow, line_profile, liveness, pressure_of
from .regalloc import Sharing
from .regalloc import share_registers as share_named_registers
from .schedule import RegionReport, ScheduleReport, schedule_with_flow
from .schedule import schedule as schedule_regions


@dataclass(frozen=True, slots=True)
class PassReport:
    """What the passes found: pressure of the final kernel, scheduling, sharing, warnings."""

    pressure: Pressure
    schedule: ScheduleReport
    sharing: Sharing
    warnings: list[str] = field(default_factory=list)


class PassMemo:
    """The passes' work on one body, kept for the next kernel with the same body (the same objects).

    Passes read a kernel's directives in two places only: the scheduler's register limit
    (:func:`.budget.schedule_limit`, from the peak pressure before scheduling) and the budget
    warnings. So a kernel that differs from the last one only in its directives (a tuning sweep's
    ``.maxnreg`` candidates, whose front end shares the body) gets the same result whenever its
    limit is the same: the stored kernel with its own directives, the warnings recomputed. Otherwise
    the flow before scheduling (a function of the body and declarations) is still reused. A schedule
    that its limit did not decide (``ScheduleReport.same_from``) serves every limit from there up.
    Only the kernels of the last module are kept (:meth:`begin`): a sweep's candidates name their
    kernels after their shape, and a worker would otherwise keep one body per name it ever saw.
    """

    __slots__ = ("_kernels", "_seen")

    def __init__(self) -> None:
        self._kernels: dict[str, tuple[Kernel, DefUse, list, dict]] = {}  # name -> (kernel, du, [flow, peak], results)
        self._seen: set[str] = set()  # names asked for since :meth:`begin`

    def begin(self) -> None:
        """A new module: forget the kernels the last one did not have."""
        self._kernels = {n: e for n, e in self._kernels.items() if n in self._seen}
        self._seen = set()

    def entry(self, kernel: Kernel) -> tuple[DefUse, list, dict]:
        """(DefUse, [flow or None, peak or None], results by settings) for ``kernel``'s body."""
        self._seen.add(kernel.name)
        hit = self._kernels.get(kernel.name)
        if hit is not None:
            k = hit[0]
            if (k.body is kernel.body and k.regs is kernel.regs and k.params is kernel.params
                    and k.vars is kernel.vars and k.entry == kernel.entry and k.visible == kernel.visible):
                return hit[1:]
        ent = self._kernels[kernel.name] = (kernel, DefUse(), [None, None], {})
        return ent[1:]


def run_passes(kernel: Kernel, schedule: bool = True, share_registers: bool = True,
               latencies: Mapping[str, int] | None = None, max_pressure: int | None = None,
               pressure_aware: bool = True, memo: PassMemo | None = None) -> tuple[Kernel, PassReport]:
    """Schedule regions, share registers, and report pressure of the kernel that comes out.

    ``latencies`` overrides the latency table; ``max_pressure`` (32-bit registers) replaces the
    scheduler's occupancy-neutral limit; ``pressure_aware=False`` lets it use any number.
    ``memo`` reuses the work done for the last kernel with the same body (:class:`PassMemo`).
    """
    if memo is None:
        return _run_passes(kernel, schedule, share_registers, latencies, max_pressure, pressure_aware,
                           DefUse(), None)
    du, before, results = memo.entry(kernel)
    if before[0] is None:
        before[0] = flow(kernel, du)
    if max_pressure is None and schedule and pressure_aware:
        if before[1] is None:
            before[1] = pressure_of(kernel, before[0]).peak
        max_pressure = schedule_limit(kernel, before[1])  # what the scheduler would take: the same
    key = (schedule, share_registers, tuple(sorted(latencies.items())) if latencies else None, max_pressure,
           pressure_aware)
    hit = results.get(key)
    if hit is None and max_pressure is not None:  # a schedule its limit did not decide serves this one too
        for k, (out, rep) in results.items():
            frm = rep.schedule.same_from
            if k[:3] == key[:3] and k[4] == pressure_aware and frm is not None and max_pressure >= frm:
                hit = results[key] = (out, replace(rep, schedule=replace(rep.schedule, pressure_limit=max_pressure)))
                break
    if hit is None:
        hit = results[key] = _run_passes(kernel, schedule, share_registers, latencies, max_pressure,
                                         pressure_aware, du, before[0])
    out, rep = hit
    if out.directives is kernel.directives:
        return hit
    out = replace(out, directives=kernel.directives, span=kernel.span)  # passes never change them
    return out, replace(rep, warnings=budget_warnings(out, rep.pressure))


def _run_passes(kernel: Kernel, schedule: bool, share_registers: bool, latencies: Mapping[str, int] | None,
                max_pressure: int | None, pressure_aware: bool, du: DefUse, fl) -> tuple[Kernel, PassReport]:
    if schedule:
        kernel, srep, fl = schedule_with_flow(kernel, latencies, du, max_pressure, pressure_aware, fl)
    else:
        srep = ScheduleReport((), ())
    if fl is None:
        fl = flow(kernel, du)
    if share_registers:
        kernel, sharing = share_named_registers(kernel, fl, du)
        if sharing.merged:
            fl = flow(kernel, du, fl.blocks)  # renaming registers leaves the CFG as it was
    else:
        sharing = Sharing(0, (), 0)
    pressure = pressure_of(kernel, fl)
    return kernel, PassReport(pressure, srep, sharing, budget_warnings(kernel, pressure))


__all__ = [
    "DEFAULT_LATENCIES", "PassMemo", "PassReport", "Pressure", "RegionReport", "ScheduleReport", "Sharing",
    "budget_warnings", "classify", "flow", "line_profile", "liveness", "register_budget", "run_passes",
    "schedule_regions", "share_named_registers",
]
