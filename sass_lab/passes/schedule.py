"""List scheduling of ``.schedule`` … ``.end`` regions.

Each region is cut into sub-regions at hard boundaries, which never move: labels, raw lines,
branches/calls/exits, barriers and fences (``sass_lab.isa.is_barrier``), ``cp.async`` commit/wait,
and reads of the clocks (``%clock``, ``%clock64``, ``%globaltimer``). Within a sub-region the
instructions are reordered by a deterministic list scheduler over the dependency DAG
(:mod:`.dag`): at each issue cycle take, among the instructions whose operands are ready, the one
with the longest latency-weighted path to the end (ties: original order); when none is ready, take
the one that becomes ready first. While doing so it counts live registers (:mod:`.runpressure`)
and, near the limit, prefers instructions that add none. Cost model: in-order, single issue, one
instruction per cycle, an instruction issues once every predecessor's delay has elapsed;
``cycles`` is when the last result is ready. A sub-region keeps its order when the new one is not
cheaper or goes over the pressure limit where the original did not; when the original is already
over the limit, an order with a lower peak is taken even if it costs cycles.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import SourceError, Span
from ..ir import Instr, Kernel, ScheduleBegin, ScheduleEnd, Special, Stmt
from ..isa import is_barrier, is_branch
from ..isa.specials import CLOCKS
from .budget import schedule_limit
from .dag import Dag, build_dag
from .defuse import DefUse
from .latency import check_table, latency
from .liveness import Flow, flow, pressure_of
from .runpressure import RunPressure, run_pressure

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
    kept: int  # sub-regions left in original order: the new one was slower or over the pressure limit
    peak_before: int = 0  # highest live 32-bit registers inside the region, original order
    peak_after: int = 0  # ... in the emitted order (0 when scheduling was not pressure-aware)
    free_cycles: int = 0  # cycles reachable without the pressure limit (== cycles_after if it never bound)
    free_peak: int = 0  # live registers that would take

    @property
    def speedup(self) -> float:
        return self.cycles_before / self.cycles_after if self.cycles_after else 1.0

    def describe(self) -> str:
        """One line: ``file:line: .schedule: 9 instructions, 2 moved, 1218 -> 818 cycles ...``."""
        where = f"{self.span.file}:{self.span.line}: " if self.span is not None else ""
        text = (f"{where}.schedule: {self.instructions} instructions, {self.moved} moved, "
                f"{self.cycles_before} -> {self.cycles_after} cycles (critical path {self.critical_path})")
        if self.peak_before or self.peak_after:
            text += f", live registers {self.peak_before} -> {self.peak_after}"
        if self.kept:
            text += f", {self.kept} of {self.subregions} sub-regions kept"
        if self.free_cycles < self.cycles_after:
            text += (f"; held back by the register limit: {self.free_cycles} cycles possible with "
                     f"{self.free_peak} live registers")
        return text


@dataclass(frozen=True, slots=True)
class ScheduleReport:
    """Every region's report, the latency table used and the pressure limit applied."""

    regions: tuple[RegionReport, ...]
    latencies: tuple[tuple[str, int], ...]  # the table used (defaults plus overrides)
    pressure_limit: int | None = None  # 32-bit registers no region was allowed to exceed
    same_from: int | None = None  # every limit from this one up gives this same schedule (None: unknown)

    @property
    def moved(self) -> int:
        return sum(r.moved for r in self.regions)

    @property
    def cycles_before(self) -> int:
        return sum(r.cycles_before for r in self.regions)

    @property
    def cycles_after(self) -> int:
        return sum(r.cycles_after for r in self.regions)

    def lines(self) -> list[str]:
        """One line per region (see :meth:`RegionReport.describe`), then the limit if any."""
        out = [r.describe() for r in self.regions]
        if self.regions and self.pressure_limit is not None:
            out.append(f"register limit while scheduling: {self.pressure_limit}")
        return out


def is_boundary(st: Stmt) -> bool:
    """Statements that split a region and never move."""
    if not isinstance(st, Instr):
        return True
    if _fixed_shape(st.opcode, st.mods):
        return True
    for o in st.operands:  # reading a clock: the instruction marks a point in time
        if isinstance(o, Special) and o.name in CLOCKS:
            return True
    return False


@functools.cache
def _fixed_shape(opcode: str, mods: tuple[str, ...]) -> bool:
    """Whether every instruction with this opcode and these modifiers is a boundary (branches,
    barriers and the other fixed points depend on nothing else)."""
    probe = Instr(opcode, mods, ())
    if is_branch(probe) or is_barrier(probe) or opcode in _FIXED:
        return True
    return opcode == "cp" and any(m in ("commit_group", "wait_group", "wait_all") for m in mods)


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


def list_schedule(dag: Dag, height: Sequence[int] | None = None, pressure: RunPressure | None = None,
                  limit: int | None = None) -> list[int]:
    """A deterministic topological order of ``dag`` (see :func:`list_schedule_bound`)."""
    return list_schedule_bound(dag, height, pressure, limit)[0]


def list_schedule_bound(dag: Dag, height: Sequence[int] | None = None, pressure: RunPressure | None = None,
                        limit: int | None = None) -> tuple[list[int], bool]:
    """A deterministic topological order of ``dag``: critical path first, then original order.

    With a ``pressure`` model and a ``limit`` (32-bit registers), an instruction that would take the
    live count past the limit is passed over for one that does not add to it (ready ones first,
    then the highest, then the earliest), or failing that for the one that adds the least. The
    flag says whether that ever happened (the limit bound the schedule).
    """
    order, bound, _ = _list_schedule(dag, height, pressure, limit)
    return order, bound


def _list_schedule(dag: Dag, height: Sequence[int] | None, pressure: RunPressure | None,
                   limit: int | None) -> tuple[list[int], bool, int]:
    """:func:`list_schedule_bound` plus the highest live count it compared with the limit: when the
    limit never bound, any limit at least that high gives the same order."""
    n = len(dag)
    height = dag.heights() if height is None else height
    missing = [len(p) for p in dag.preds]
    earliest = [0] * n
    done = [False] * n
    ready: list[tuple[int, int]] = []  # (-height, index)
    waiting: list[tuple[int, int, int]] = []  # (earliest, -height, index)
    watch = pressure is not None and limit is not None
    remaining = pressure.start() if pressure is not None else []
    delta = [pressure.delta(j, remaining) for j in range(n)] if pressure is not None else [0] * n
    live = pressure.base if pressure is not None else 0
    cap = limit if limit is not None else 0
    calm: set[int] = set()  # available nodes that add no live registers
    for j in range(n):
        if not missing[j]:
            heapq.heappush(ready, (-height[j], j))
            if watch and delta[j] <= 0:
                calm.add(j)
    order: list[int] = []
    bound = False
    need = 0
    t = 0
    while len(order) < n:
        while waiting and (done[waiting[0][2]] or waiting[0][0] <= t):
            _, h, j = heapq.heappop(waiting)
            if not done[j]:
                heapq.heappush(ready, (h, j))
        while ready and done[ready[0][1]]:
            heapq.heappop(ready)
        j = -1
        if ready:
            if watch:
                need = max(need, live + delta[ready[0][1]])
            if not watch or live + delta[ready[0][1]] <= cap:
                j = heapq.heappop(ready)[1]
        else:
            if watch:
                need = max(need, live + delta[waiting[0][2]])
            if not watch or live + delta[waiting[0][2]] <= cap:
                t = waiting[0][0]
                continue
        if j < 0:  # over the limit
            bound = True
            pool = calm or {e[-1] for e in ready if not done[e[-1]]} | {e[-1] for e in waiting if not done[e[-1]]}
            best = None
            for c in pool:
                k = (0 if calm else delta[c], earliest[c] > t, -height[c], c)
                if best is None or k < best:
                    best = k
            j = best[-1]
            t = max(t, earliest[j])
        done[j] = True
        calm.discard(j)
        order.append(j)
        if pressure is not None:
            live += delta[j]
            for v in pressure.uses[j]:
                remaining[v] -= 1
                if remaining[v] == 1 and not pressure.live_out[v]:
                    r = next(r for r in pressure.reader_nodes[v] if not done[r])
                    delta[r] -= pressure.units[v]
                    if watch and delta[r] <= 0 and not missing[r]:
                        calm.add(r)
        for s, d in dag.succs[j]:
            earliest[s] = max(earliest[s], t + d)
            missing[s] -= 1
            if not missing[s]:
                if earliest[s] <= t + 1:
                    heapq.heappush(ready, (-height[s], s))
                else:
                    heapq.heappush(waiting, (earliest[s], -height[s], s))
                if watch and delta[s] <= 0:
                    calm.add(s)
        t += 1
    return order, bound, need


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


@dataclass(frozen=True, slots=True)
class _Run:
    order: list[Instr]
    before: int
    after: int
    critical: int
    kept: bool
    peak_before: int
    peak_after: int
    free_cycles: int  # cycles without the pressure limit when that is fewer, else ``after``
    free_peak: int  # live registers at that
    same_from: int | None = None  # the same result for every limit from this one up (None: this limit only)


def _schedule_run(run: list[Instr], table: Mapping[str, int], du: DefUse,
                  model: RunPressure | None, limit: int | None) -> _Run:
    dag = build_dag(run, [latency(x, table) for x in run], du)
    same = range(len(run))
    before = simulate(dag, same)
    height = dag.heights()
    order, bound, need = _list_schedule(dag, height, model, limit)
    after = simulate(dag, order)
    crit = max(height, default=0)
    p0 = model.peak(same) if model is not None else 0
    p1 = model.peak(order) if model is not None else 0
    if limit is not None and p0 > limit and p1 < p0:
        take = True  # over the limit already: relief comes first, even at some cost in cycles
    elif limit is not None and p1 > max(limit, p0):
        take = False  # would go over the limit where the original did not
    else:
        take = after < before
    out, cycles, peak = ([run[j] for j in order], after, p1) if take else (run, before, p0)
    free_cycles, free_peak = cycles, peak
    if bound and model is not None:  # what the limit cost: the same DAG scheduled without it
        free = list_schedule(dag, height)
        if simulate(dag, free) < cycles:
            free_cycles, free_peak = simulate(dag, free), model.peak(free)
    kept = not take and (after != before or p1 > p0)
    # a limit never reached (checks all passed, both orders within it) decided nothing: any limit
    # from the highest of those figures up gives this same result
    same_from = max(need, p0, p1) if limit is not None and not bound and max(p0, p1) <= limit else None
    return _Run(out, before, cycles, crit, kept, p0, peak, free_cycles, free_peak, same_from)


_MEMO: dict[tuple, list[tuple[int | None, int | None, tuple[int, ...], _Run]]] = {}
_MEMO_MAX = 512


def _memo_run(run: list[Instr], table: Mapping[str, int], du: DefUse, fl: Flow | None, before: int, after: int,
              types: dict[str, str] | None, limit: int | None) -> _Run:
    """:func:`_schedule_run`, remembered by the run's content: a tuning sweep compiles the same
    region again and again (the SGEMM's 64 candidates have 8 distinct runs among 256), and a run's
    schedule depends only on its instructions (spans included), the latency table, the pressure
    limit and the registers live around it (those it touches, and the units of the others passing
    through). A result the limit did not decide (``_Run.same_from``) serves every limit from that
    figure up. The result is kept as a permutation, applied to this run's objects."""
    key: tuple = (tuple(run), tuple(sorted(table.items())))
    if fl is not None:  # the pressure model sees the run's own registers and the units merely passing through
        regs = fl.regs
        used_bits = 0
        for x in run:
            d, u = du.masks(x)
            used_bits |= d | u
        into_bits, out_bits = fl.live_after[before], fl.live_after[after]  # what occupies registers around it
        used = regs.decode(used_bits)
        key += (regs.decode(into_bits & used_bits), regs.decode(out_bits & used_bits),
                regs.count(out_bits & ~used_bits), tuple(sorted((n, types.get(n)) for n in used)))
    seen = _MEMO.get(key)
    for at, frm, perm, r in seen or ():
        if at == limit or (frm is not None and limit is not None and limit >= frm):
            return _Run([run[j] for j in perm], *(getattr(r, f) for f in _Run.__slots__[1:]))
    model = run_pressure(run, du, fl.regs.decode(into_bits), fl.regs.decode(out_bits), types) \
        if fl is not None else None
    r = _schedule_run(run, table, du, model, limit)
    pos = {id(x): j for j, x in enumerate(run)}
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.clear()
    _MEMO.setdefault(key, []).append((limit, r.same_from, tuple(pos[id(x)] for x in r.order), r))
    return r


def _context(kernel: Kernel, du: DefUse, max_pressure: int | None,
             fl: Flow | None = None) -> tuple[Flow, dict[str, str], int]:
    fl = fl if fl is not None else flow(kernel, du)
    types = dict(zip(fl.regs.names, fl.regs.types))
    limit = schedule_limit(kernel, pressure_of(kernel, fl).peak) if max_pressure is None else max_pressure
    return fl, types, limit


def schedule(kernel: Kernel, latencies: Mapping[str, int] | None = None, du: DefUse | None = None,
             max_pressure: int | None = None, pressure_aware: bool = True) -> tuple[Kernel, ScheduleReport]:
    """Reorder the instructions of every ``.schedule`` region (see :func:`schedule_with_flow`)."""
    k, rep, _ = schedule_with_flow(kernel, latencies, du, max_pressure, pressure_aware)
    return k, rep


def schedule_with_flow(kernel: Kernel, latencies: Mapping[str, int] | None = None, du: DefUse | None = None,
                       max_pressure: int | None = None, pressure_aware: bool = True,
                       fl: Flow | None = None) -> tuple[Kernel, ScheduleReport, Flow | None]:
    """Reorder the instructions of every ``.schedule`` region; the markers stay in the body.

    With ``pressure_aware`` (the default) no region may take live registers past ``max_pressure``
    32-bit registers; the default (:func:`.budget.schedule_limit`) is the most the kernel can use
    without losing occupancy relative to its peak before scheduling, within any directive budget.
    ``fl``: the kernel's flow, when the caller has it (solved with ``du``).
    """
    table = check_table(latencies)
    du = du or DefUse()
    body = list(kernel.body)
    regions = _regions(body)
    types = limit = None
    aware = bool(regions) and pressure_aware
    if aware:
        fl, types, limit = _context(kernel, du, max_pressure, fl)
    reports = []
    same_from: int | None = 0 if aware and limit is not None else None
    for begin, end in regions:
        moved = before = after = crit = subs = kept = count = pb = pa = fc = fp = 0
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
                r = _memo_run(run, table, du, fl if aware else None, start - 1, start + len(run) - 1, types,
                              limit)
                if same_from is not None:
                    same_from = None if r.same_from is None else max(same_from, r.same_from)
                moved += sum(x is not y for x, y in zip(r.order, run))
                before, after, crit = before + r.before, after + r.after, crit + r.critical
                kept, subs, count = kept + r.kept, subs + 1, count + len(run)
                pb, pa = max(pb, r.peak_before), max(pa, r.peak_after)
                fc, fp = fc + r.free_cycles, max(fp, r.free_peak)
                body[start:start + len(run)] = r.order
                run = []
            if i < end and isinstance(st, Instr):
                count += 1
        reports.append(RegionReport(body[begin].span, count, moved, before, after, crit, subs, kept, pb, pa,
                                    fc, fp))
    report = ScheduleReport(tuple(reports), tuple(sorted(table.items())), limit, same_from)
    if not report.moved:
        return kernel, report, fl
    new_kernel = Kernel(kernel.name, kernel.params, kernel.regs, kernel.vars, kernel.directives,
                        tuple(body), kernel.entry, kernel.visible, kernel.span)
    return new_kernel, report, None
