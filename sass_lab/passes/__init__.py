"""IR passes: scheduling of ``.schedule`` regions, liveness/pressure, register sharing, budget checks.

``run_passes(kernel)`` runs them in that order and returns the new kernel and a :class:`PassReport`.
See docs/PASSES.md for the algorithms, the units and the latency table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..ir import Kernel
from .budget import budget_warnings, register_budget
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


def run_passes(kernel: Kernel, schedule: bool = True, share_registers: bool = True,
               latencies: Mapping[str, int] | None = None, max_pressure: int | None = None,
               pressure_aware: bool = True) -> tuple[Kernel, PassReport]:
    """Schedule regions, share registers, and report pressure of the kernel that comes out.

    ``latencies`` overrides the latency table; ``max_pressure`` (32-bit registers) replaces the
    scheduler's occupancy-neutral limit; ``pressure_aware=False`` lets it use any number.
    """
    du = DefUse()
    fl = None
    if schedule:
        kernel, srep, fl = schedule_with_flow(kernel, latencies, du, max_pressure, pressure_aware)
    else:
        srep = ScheduleReport((), ())
    if fl is None:
        fl = flow(kernel, du)
    if share_registers:
        kernel, sharing = share_named_registers(kernel, fl, du)
        if sharing.merged:
            fl = flow(kernel, du)
    else:
        sharing = Sharing(0, (), 0)
    pressure = pressure_of(kernel, fl)
    return kernel, PassReport(pressure, srep, sharing, budget_warnings(kernel, pressure))


__all__ = [
    "DEFAULT_LATENCIES", "PassReport", "Pressure", "RegionReport", "ScheduleReport", "Sharing",
    "budget_warnings", "classify", "flow", "line_profile", "liveness", "register_budget", "run_passes",
    "schedule_regions", "share_named_registers",
]
