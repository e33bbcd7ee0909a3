"""Control codes from a scoreboard model: check hand-set codes, or compute them (``--auto-control``).

The model (facts in ``latency.py``): a **fixed-latency** instruction's result may be read
``latency`` issue cycles later (the sum of the stall counts in between); a **variable-latency**
instruction (memory, S2R, MUFU …) hands its result over through a *write barrier* (0–5) that the
consumer waits on; an instruction that **reads late** (stores, atomics) releases its sources through
a *read barrier* that whoever overwrites them waits on. ``DEPBAR.LE SBn, k`` waits until at most
``k`` of the latest instructions on barrier ``n`` are outstanding (ptxas relies on in-order
completion there, and so does this model).

``check_hazards(instrs)`` runs the model over the control-flow graph to a fixed point and reports
every read-after-write, write-after-read and write-after-write through a variable-latency
instruction that no wait covers (and every fixed-latency read issued too early), with both
instructions. ``schedule_control(instrs)`` keeps the order and computes stall, yield, barriers and
waits so that ``check_hazards`` finds nothing.

Registers tracked: R (with pair/vector widths from ``regs``), P, UR, UP. HGMMA accumulators (the
warpgroup barrier ``gsb0``) are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .control import encode
from .flow import successors
from .latency import Table, table
from .model import SassInstr
from .regs import deps

MAX_STALL = 15
YIELD_STALL = 4  # auto-control: an instruction that stalls this long (or waits) lets the warp yield


@dataclass(frozen=True, slots=True)
class Hazard:
    """``consumer`` (index) touches ``reg`` that ``producer`` (index) still owns: RAW, WAR or WAW;
    ``early`` for a fixed-latency read issued before the result is ready."""

    kind: str
    producer: int
    consumer: int
    reg: str
    producer_text: str
    consumer_text: str
    barrier: int | None = None
    cycles: int = 0
    age: int | None = None  # issue cycles since an unbarriered producer (the least over paths)

    def describe(self) -> str:
        if self.kind == "EARLY":
            return (f"'{self.consumer_text}' waits on {self.reg} {self.cycles} cycle(s) too soon after "
                    f"'{self.producer_text}' sets it (a barrier takes effect after the setup time)")
        what = {"RAW": "reads", "WAR": "overwrites", "WAW": "overwrites"}[self.kind]
        if self.cycles:
            return (f"{self.kind}: '{self.consumer_text}' {what} {self.reg} {self.cycles} cycle(s) before "
                    f"'{self.producer_text}' (fixed latency) has written it")
        via = "its write barrier" if self.kind != "WAR" else "its read barrier"
        cover = (f"no wait on barrier {self.barrier}" if self.barrier is not None else
                 f"it sets no barrier and issued {self.age} cycle(s) before" if self.age is not None else
                 "it sets no barrier")
        return (f"{self.kind}: '{self.consumer_text}' {what} {self.reg} of variable-latency "
                f"'{self.producer_text}' ({cover}; wait on {via})")


# state: (pending variable entries, fixed-latency {reg: (cycles left, producer)})
# entry = (producer index, kind "w"/"r", barrier or -1, depth on its barrier, rank in its queue, age)
# age: issue cycles since the producer, up to the setup time (barriers) or AGE_CAP (no barrier: the
# unbarriered bound of ``latency.Table.bound``)
RANK_CAP = 64
AGE_CAP = 1024


def _text(ins: SassInstr) -> str:
    return ins.body


def _depbar(ins: SassInstr) -> tuple[int, int] | None:
    if ins.opcode != "DEPBAR":
        return None
    sb = next((o for o in ins.operands if o.kind == "name" and (o.base or "").startswith("SB")), None)
    k = next((o for o in ins.operands if o.kind == "imm"), None)
    if sb is None:
        return None
    return int(sb.base[2:]), int(k.value) if k is not None else 0


def _retire(pending: frozenset, gone: set, instrs) -> frozenset:
    """``pending`` without the entries in ``gone`` and without every entry of the same kind and
    queue issued before one of them (in-order completion)."""
    if not gone:
        return pending
    oldest: dict[tuple, int] = {}
    for e in gone:
        key = (e[1], _queue_key(instrs[e[0]]))
        oldest[key] = min(oldest.get(key, RANK_CAP + 1), e[4])
    keep = set()
    for e in pending:
        if e in gone:
            continue
        r = oldest.get((e[1], _queue_key(instrs[e[0]])))
        if r is not None and e[4] > r:
            continue
        keep.add(e)
    return frozenset(keep)


_TAB: list = []


def _queue_key(ins: SassInstr) -> str:
    return _TAB[0].queue(ins.opcode)


def _step(k: int, ins: SassInstr, state, tab: Table, dd, report: list | None, instrs):
    """Issue ``ins`` from ``state``; append hazards to ``report``; return the state after it."""
    pending, fixed = state
    defs, uses = dd[k]
    if ins.wait_mask:
        gone = {e for e in pending if e[2] >= 0 and ins.wait_mask >> e[2] & 1}
        if report is not None:  # a wait issued before the barrier is set: reported once, as EARLY
            for e in gone:
                setup = tab.setup_of(instrs[e[0]].opcode)
                if e[5] < setup:
                    report.append(("EARLY", e[0], k, f"barrier {e[2]}", setup - e[5], None))
        pending = _retire(pending, gone, instrs)
    if report is not None:
        for i, kind, b, _d, _r, age in pending:
            pdefs, puses = dd[i]
            if kind == "w":
                # an unbarriered result of that register class past the bound ptxas relies on is there
                done = {r for r in pdefs if b < 0 and age >= tab.bound.get(bound_key(instrs[i].op, r), AGE_CAP + 1)}
                for r in sorted((uses & pdefs) - done):
                    report.append(("RAW", i, k, r, b, age if b < 0 else None))
                for r in sorted((defs & pdefs) - done):
                    report.append(("WAW", i, k, r, b, age if b < 0 else None))
            else:  # predicates (the guard too) are read at issue: only registers are read late
                for r in sorted(defs & puses):
                    if not r.startswith(("P", "UP")):
                        report.append(("WAR", i, k, r, b, None))
        for r, (left, i) in fixed.items():
            if r in uses:
                need = left - (tab.latency(instrs[i].op) - tab.latency(instrs[i].op, ins.opcode))
                if need > 0:
                    report.append(("RAWF", i, k, r, need, None))
    db = _depbar(ins)
    if db is not None:
        bar, keep = db
        gone = {e for e in pending if e[2] == bar and e[3] >= keep}
        pending = _retire(pending, gone, instrs)
    stall = ins.stall
    new_fixed = {}
    for r, (left, i) in fixed.items():
        if r not in defs and left - stall > 0:
            new_fixed[r] = (left - stall, i)
    variable = ins.write_barrier is not None or tab.is_variable(ins.opcode)
    q = tab.queue(ins.opcode) if variable else None
    bars = {b for b in (ins.write_barrier, ins.read_barrier) if b is not None}
    entries = set()
    for e in pending:
        i, kind, b, depth, rank, age = e
        if kind == "w" and dd[i][0] <= defs and not ins.guard:
            continue  # overwritten (a WAW is reported above): the old write no longer matters
        depth += 1 if b >= 0 and b in bars else 0
        if q is not None and _queue_key(instrs[i]) == q:
            rank = min(rank + 1, RANK_CAP)
        entries.add((i, kind, b, depth, rank, min(age + stall, tab.setup if b >= 0 else AGE_CAP)))
    if defs:
        if variable:
            b = -1 if ins.write_barrier is None else ins.write_barrier
            entries.add((k, "w", b, 0, 0, min(stall, tab.setup if b >= 0 else AGE_CAP)))
        else:
            lat = tab.latency(ins.op) or 0
            for r in defs:
                if lat - stall > 0:
                    new_fixed[r] = (lat - stall, k)
    if ins.read_barrier is not None and uses:
        entries.add((k, "r", ins.read_barrier, 0, 0, min(stall, tab.setup)))
    return frozenset(entries), new_fixed


def _merge(a, b):
    if a is None:
        return b
    pa, fa = a
    pb, fb = b
    best: dict[tuple, tuple] = {}
    for e in pa | pb:
        key = e[:3]
        cur = best.get(key)
        best[key] = e if cur is None else (e[0], e[1], e[2], min(cur[3], e[3]), min(cur[4], e[4]), min(cur[5], e[5]))
    fixed = dict(fa)
    for r, (left, i) in fb.items():
        if r not in fixed or fixed[r][0] < left:
            fixed[r] = (left, i)
    return frozenset(best.values()), fixed


def _flow(instrs: list[SassInstr], tab: Table, dd, report: list | None):
    from collections import deque

    _TAB[:] = [tab]
    succ = successors(instrs)
    n = len(instrs)
    state_in = [None] * n
    if n:
        state_in[0] = (frozenset(), {})
    work = deque(range(n))
    queued = set(work)
    while work:
        k = work.popleft()
        queued.discard(k)
        if state_in[k] is None:
            continue
        out = _step(k, instrs[k], state_in[k], tab, dd, None, instrs)
        for s in succ[k]:
            merged = _merge(state_in[s], out)
            if merged != state_in[s]:
                state_in[s] = merged
                if s not in queued:
                    work.append(s)
                    queued.add(s)
    if report is not None:
        for k in range(n):
            if state_in[k] is not None:
                _step(k, instrs[k], state_in[k], tab, dd, report, instrs)
    return state_in


def check_hazards(instrs: list[SassInstr], tab: Table | None = None) -> list[Hazard]:
    """Every hazard the control codes leave open (see the module docstring), in program order."""
    tab = tab or table()
    dd = [deps(i) for i in instrs]
    raw: list = []
    _flow(instrs, tab, dd, raw)
    out, seen = [], set()
    for kind, i, k, r, extra, age in raw:
        key = (kind, i, k, r)
        if key in seen:
            continue
        seen.add(key)
        if kind == "RAWF":
            out.append(Hazard("RAW", i, k, r, _text(instrs[i]), _text(instrs[k]), cycles=extra))
        elif kind == "EARLY":
            out.append(Hazard("EARLY", i, k, r, _text(instrs[i]), _text(instrs[k]), cycles=extra))
        else:
            out.append(Hazard(kind, i, k, r, _text(instrs[i]), _text(instrs[k]), None if extra < 0 else extra,
                              age=age))
    return sorted(out, key=lambda h: (h.consumer, h.producer, h.reg))


def bound_key(op: str, reg: str) -> str:
    """The unbarriered bound of ``op``'s results of ``reg``'s class: predicates (``P``, ``UP``) and
    registers are measured apart (``ATOM … P1, RZ, …``: ptxas reads P1 5 cycles later; that says
    nothing about a register result)."""
    return f"{op} {'P' if reg.startswith(('P', 'UP')) else 'R'}"


def unbarriered_bounds(functions, tab: Table) -> dict[str, int]:
    """Per producer (opcode with modifiers) and result class (``bound_key``): the least age at which
    ptxas reads the result of a variable-latency instruction it gave no write barrier, where nothing
    else in the model covers it — the bound ptxas relies on (``latency.Table.bound``). Reads only: a reader takes its operands at
    issue, so the result was there; an overwrite proves less (the producer's write need only land
    before the overwriter's, a latency later). ``tab`` without bounds."""
    tab = replace(tab, bound={})
    out: dict[str, int] = {}
    for instrs in functions:
        dd = [deps(i) for i in instrs]
        raw: list = []
        _flow(instrs, tab, dd, raw)
        for kind, i, _k, r, b, age in raw:
            if kind == "RAW" and b < 0 and age is not None:
                key = bound_key(instrs[i].op, r)
                out[key] = min(out.get(key, AGE_CAP), age)
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------- auto control


def _with(ins: SassInstr, **fields) -> SassInstr:
    c = replace(ins.ctrl, **fields)
    return SassInstr(address=ins.address, text=ins.text, guard=ins.guard, opcode=ins.opcode,
                     modifiers=ins.modifiers, operands=ins.operands, word=encode(c, ins.word),
                     labels=ins.labels, target=ins.target)


def schedule_control(instrs: list[SassInstr], tab: Table | None = None, reuse: bool = False) -> list[SassInstr]:
    """Control codes for ``instrs`` in their order: barriers on variable-latency producers (and on
    late readers whose sources are overwritten later), waits where the model needs them, the least
    stalls that cover fixed latencies (at least ptxas's least stall for the opcode), yield where an
    instruction waits or stalls ``YIELD_STALL`` cycles or more; reuse flags kept (or recomputed when
    ``reuse``)."""
    tab = tab or table()
    dd = [deps(i) for i in instrs]
    n = len(instrs)
    ends = _live_ends(instrs, dd)
    free_at = [-1] * 6  # barrier -> index after which its producers have all been consumed
    out = []

    def pick(k: int, until: int) -> int:
        b = min(range(6), key=lambda x: (free_at[x] >= k, free_at[x]))  # a free one, else the soonest free
        free_at[b] = max(free_at[b], until)
        return b

    for k, ins in enumerate(instrs):
        var = tab.is_variable(ins.opcode)
        wb = pick(k, ends[k][0]) if dd[k][0] and var else None
        rb = None
        if ins.opcode in tab.reads_late and dd[k][1] and ends[k][1] is not None:
            rb = pick(k, ends[k][1])
        out.append(_with(ins, stall=max(1, tab.min_stall.get(ins.opcode, 1)), yield_=False, write_barrier=wb,
                         read_barrier=rb, wait_mask=0, reuse=ins.reuse if not reuse else 0))
    succ = successors(out)
    preds: list[list[int]] = [[] for _ in range(n)]
    for p, ss in enumerate(succ):
        for q in ss:
            preds[q].append(p)
    for _round in range(4 * n + 8):
        raw: list = []
        _flow(out, tab, dd, raw)
        changed = False
        waits = [0] * n
        stalls = {}
        for kind, _i, k, _r, extra, _age in raw:
            if kind in ("RAWF", "EARLY"):
                for p in preds[k]:
                    stalls[p] = max(stalls.get(p, 0), out[p].stall + extra)
            elif extra >= 0:
                waits[k] |= 1 << extra
        for k in range(n):
            if waits[k] & ~out[k].wait_mask:
                out[k] = _with(out[k], wait_mask=out[k].wait_mask | waits[k])
                changed = True
        for p, s in stalls.items():
            s = min(MAX_STALL, s)
            if s > out[p].stall:
                out[p] = _with(out[p], stall=s)
                changed = True
        if not changed:
            break
    for k, ins in enumerate(out):
        if ins.wait_mask or ins.stall >= YIELD_STALL:
            out[k] = _with(ins, yield_=True)
    if reuse:
        from .names import set_reuse

        out = set_reuse(out)
    else:
        out = [_with(i, reuse=0) if i.yield_ and i.reuse else i for i in out]
    return out


def _live_ends(instrs: list[SassInstr], dd) -> list[tuple[int, int | None]]:
    """For each instruction: the index of the first later instruction that reads or overwrites its
    results, and of the first that overwrites its sources (None: never). A use earlier in the same
    loop (carried round the back edge) keeps it live to the loop's end; no use at all, to the end."""
    n = len(instrs)
    index = {ins.address: k for k, ins in enumerate(instrs)}
    loops = [(index[i.target], k) for k, i in enumerate(instrs)
             if i.target is not None and i.target <= i.address and i.target in index]
    out = []
    for k in range(n):
        d, u = dd[k]
        first_d = next((j for j in range(k + 1, n) if (dd[j][1] | dd[j][0]) & d), None)
        first_u = next((j for j in range(k + 1, n) if dd[j][0] & u), None)
        loop_end = max((e for s, e in loops if s <= k <= e), default=None)
        if first_d is None:
            first_d = loop_end if loop_end is not None else n
        if first_u is None and loop_end is not None and any(dd[j][0] & u for j in range(n)):
            first_u = loop_end
        out.append((first_d, first_u))
    return out
