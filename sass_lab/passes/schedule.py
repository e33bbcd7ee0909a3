"""List scheduling of ``.schedule`` … ``.end`` regions.

Each region is cut into sub-regions at hard boundaries, which never move: labels, raw lines,
branches/calls/exits, barriers and fences (``sass_lab.isa.is_barrier``), ``cp.async`` commit/wait,
and reads of the clocks (``%clock``, ``%clock64``, ``%globaltimer``). Within a sub-region the
instructions are reordered by a deterministic list scheduler over the dependency DAG
(:mod:`.dag`): at each issue cycle take, among the instructions whose operands are ready, the one
with the longest latency-weighted path to the end (ties: original order); when none is ready, take
the one that becomes ready first. Cost model: in-order, single issue, one instruction per cycle,
an instruction issues once every predecessor's delay has elapsed; ``cycles`` is when the last
result is ready. A sub-region whose new order would cost more than the original keeps its order.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import SourceError, Span
from ..ir import Instr, Kernel, ScheduleBegin, ScheduleEnd, Special, Stmt
from ..isa import is_barrier, is_branch
from .dag import Dag, build_dag
from .defuse import DefUse
from .latency import check_table, latency

_CLOCKS = frozenset({"%clock", "%clock64", "%clock_hi", "%globaltimer", "%globaltimer_lo",
                     "%globaltimer_hi"})
_FIXED = frozenset({"setmaxnreg", "griddepcontrol", "nanosleep", "pmevent", "brkpt", "trap", "exit",
                    "ret", "call", "elect"})


@dataclass(frozen=True, slots=True)
class RegionReport:
    """One ``.schedule`` region: cycles under the in-order single-issue latency model."""

    span: Span | None
    instructions: int
    moved: int  # instructions whose position changed
    cycles_before: int
    cycles_after: int
    critical_path: int  # sum over sub-regions of the DAG's longest path (a lower bound)
    subregions: int
    kept: int  # sub-regions left in original order because the new one was not faster

    @property
    def speedup(self) -> float:
        return self.cycles_before / self.cycles_after if self.cycles_after else 1.0


@dataclass(frozen=True, slots=True)
class ScheduleReport:
    regions: tuple[RegionReport, ...]
    latencies: tuple[tuple[str, int], ...]  # the table used (defaults plus overrides)

    @property
    def moved(self) -> int:
        return sum(r.moved for r in self.regions)

    @property
    def cycles_before(self) -> int:
        return sum(r.cycles_before for r in self.regions)

    @property
    def cycles_after(self) -> int:
        return sum(r.cycles_after for r in self.regions)


def is_boundary(st: Stmt) -> bool:
    """Statements that split a region and never move."""
    if not isinstance(st, Instr):
        return True
    if is_branch(st) or is_barrier(st) or st.opcode in _FIXED:
        return True
    if st.opcode == "cp" and any(m in ("commit_group", "wait_group", "wait_all") for m in st.mods):
        return True
    return any(isinstance(o, Special) and o.name in _CLOCKS for o in st.operands)


def simulate(dag: Dag, order: Sequence[int]) -> int:
    """Cycles for issuing ``order`` in order, one per cycle, honouring the DAG's delays."""
    issue: dict[int, int] = {}
    t = 0
    end = 0
    for j in order:
        at = t
        for i, d in dag.preds[j]:
            at = max(at, issue[i] + d)
        issue[j] = at
        t = at + 1
        end = max(end, at + dag.latency[j])
    return end


def list_schedule(dag: Dag, height: Sequence[int] | None = None) -> list[int]:
    """A deterministic topological order of ``dag`` (critical path first, then original order)."""
    n = len(dag)
    height = dag.heights() if height is None else height
    missing = [len(p) for p in dag.preds]
    earliest = [0] * n
    ready: list[tuple[int, int]] = []  # (-height, index)
    waiting: list[tuple[int, int, int]] = []  # (earliest, -height, index)
    for j in range(n):
        if not missing[j]:
            heapq.heappush(ready, (-height[j], j))
    order: list[int] = []
    t = 0
    while ready or waiting:
        while waiting and waiting[0][0] <= t:
            _, h, j = heapq.heappop(waiting)
            heapq.heappush(ready, (h, j))
        if not ready:
            t = waiting[0][0]
            continue
        _, j = heapq.heappop(ready)
        order.append(j)
        for s, d in dag.succs[j]:
            earliest[s] = max(earliest[s], t + d)
            missing[s] -= 1
            if not missing[s]:
                if earliest[s] <= t + 1:
                    heapq.heappush(ready, (-height[s], s))
                else:
                    heapq.heappush(waiting, (earliest[s], -height[s], s))
        t += 1
    return order


def _regions(body: Sequence[Stmt]) -> list[tuple[int, int]]:
    out, start = [], None
    for i, st in enumerate(body):
        if isinstance(st, ScheduleBegin):
            if start is not None:
                raise SourceError("nested '.schedule' region", span=st.span,
                                  hint="close the outer region with '.end' first")
            start = i
        elif isinstance(st, ScheduleEnd):
            if start is None:
                raise SourceError("'.end' without a '.schedule'", span=st.span,
                                  hint="open the region with '.schedule'")
            out.append((start, i))
            start = None
    if start is not None:
        raise SourceError("'.schedule' region is never closed", span=body[start].span,
                          hint="add '.end' after the last instruction of the region")
    return out


def _schedule_run(run: list[Instr], table: Mapping[str, int],
                  du: DefUse) -> tuple[list[Instr], int, int, int, bool]:
    dag = build_dag(run, [latency(x, table) for x in run], du)
    before = simulate(dag, range(len(run)))
    height = dag.heights()
    order = list_schedule(dag, height)
    after = simulate(dag, order)
    crit = max(height, default=0)
    if after >= before:
        return run, before, before, crit, after > before
    return [run[j] for j in order], before, after, crit, False


def schedule(kernel: Kernel, latencies: Mapping[str, int] | None = None,
             du: DefUse | None = None) -> tuple[Kernel, ScheduleReport]:
    """Reorder the instructions of every ``.schedule`` region; the markers stay in the body."""
    table = check_table(latencies)
    du = du or DefUse()
    body = list(kernel.body)
    reports = []
    for begin, end in _regions(body):
        moved = before = after = crit = subs = kept = count = 0
        run: list[Instr] = []
        start = begin + 1
        for i in range(begin + 1, end + 1):
            st = body[i]
            if i < end and not is_boundary(st):
                if not run:
                    start = i
                run.append(st)
                continue
            if run:
                new, b, a, c, k = _schedule_run(run, table, du)
                moved += sum(x is not y for x, y in zip(new, run))
                before, after, crit, kept = before + b, after + a, crit + c, kept + k
                subs += 1
                count += len(run)
                body[start:start + len(run)] = new
                run = []
            if i < end and isinstance(st, Instr):
                count += 1
        reports.append(RegionReport(body[begin].span, count, moved, before, after, crit, subs, kept))
    new_kernel = Kernel(kernel.name, kernel.params, kernel.regs, kernel.vars, kernel.directives,
                        tuple(body), kernel.entry, kernel.visible, kernel.span)
    return new_kernel, ScheduleReport(tuple(reports), tuple(sorted(table.items())))
