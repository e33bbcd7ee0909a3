"""Liveness over the control-flow graph and the register-pressure profile.

Registers are numbered in order of first appearance; every set is a Python int used as a bitset.
Two dataflow problems are solved to a fixpoint (loops converge by iteration):

* backward liveness: ``in = use | (out & ~kill)``. A guarded write (``@p mov x, 1``) may leave the
  old value in place, so it does not kill;
* forward "maybe defined": a register holds a value only after some path from the entry wrote it.

A register occupies space at a point when it is live there *and* maybe defined, so values read
before any write (garbage) do not inflate the figures. The pressure at statement ``i`` is what
occupies registers just after it plus what it writes (a dead result still needs a register), in
32-bit units: 64-bit types count 2, ``b128`` 4, 8/16/32-bit types 1. Predicates are counted apart.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..errors import Span
from ..ir import Instr, Kernel, Reg, type_bytes
from ..isa import async_registers, is_async_wait
from .cfg import Block, build_cfg
from .defuse import DefUse
from .warpgroups import role_pressure

_RANGE_NAME = re.compile(r"^(.*?)(\d+)$")


@functools.cache
def reg_units(t: str) -> int:
    """32-bit register units a register of PTX type ``t`` occupies (0 for ``pred``)."""
    if t == "pred":
        return 0
    try:
        n = type_bytes(t)
    except KeyError:
        return 1
    return max(1, (n + 3) // 4)


@dataclass(frozen=True, slots=True)
class RegTable:
    """Register numbering: ``names[i]``/``types[i]`` for bit ``i``; masks by width class."""

    names: tuple[str, ...]
    index: dict[str, int]
    types: tuple[str, ...]
    unit_masks: tuple[tuple[int, int], ...]  # (units, mask) for every width present
    pred_mask: int

    def count(self, bits: int) -> int:
        """32-bit units held by the registers in ``bits``."""
        return sum(u * (bits & m).bit_count() for u, m in self.unit_masks)

    def decode(self, bits: int) -> frozenset[str]:
        out = []
        while bits:
            low = bits & -bits
            out.append(self.names[low.bit_length() - 1])
            bits ^= low
        return frozenset(out)


@dataclass(frozen=True, slots=True)
class Flow:
    """Dataflow facts for one kernel body (internal; shared with register sharing)."""

    regs: RegTable
    blocks: tuple[Block, ...]
    defs: tuple[int, ...]  # per statement
    uses: tuple[int, ...]
    occupied: tuple[int, ...]  # per statement: (live after | written) & maybe-defined
    live_after: tuple[int, ...]  # per statement: live after & maybe-defined
    referenced: int  # every register the body reads or writes
    live_in: tuple[int, ...]  # per block
    live_out: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Pressure:
    """Register pressure of a kernel body (32-bit units; predicates apart)."""

    peak: int
    peak_span: Span | None
    peak_index: int  # body index of the peak statement (-1 for an empty body)
    profile: tuple[int, ...]  # per body statement
    pred_peak: int
    pred_profile: tuple[int, ...]
    peak_live: frozenset[str]  # registers occupying space at the peak
    blocks: tuple[Block, ...]
    live_in: tuple[frozenset[str], ...]  # per block
    live_out: tuple[frozenset[str], ...]
    registers: int  # distinct registers referenced by the body
    roles: tuple = ()  # warpgroups.RolePressure per setmaxnreg: each role's own peak

    def describe(self) -> str:
        """One line: ``peak 125 live 32-bit registers at sgemm.sasm:287 (16 predicates)``."""
        where = f" at {self.peak_span.file}:{self.peak_span.line}" if self.peak_span is not None else ""
        return f"peak {self.peak} live 32-bit registers{where} ({self.pred_peak} predicates)"


def _declared_types(kernel: Kernel) -> tuple[dict[str, str], dict[str, str]]:
    named, ranges = {}, {}
    for d in kernel.regs:
        (ranges if d.count else named)[d.name] = d.type
    return named, ranges


def _type_of(name: str, hint: str, named: dict[str, str], ranges: dict[str, str]) -> str:
    if name in named:
        return named[name]
    m = _RANGE_NAME.match(name)
    if m and m.group(1) in ranges:
        return ranges[m.group(1)]
    return hint or "b32"


def _number(kernel: Kernel, du: DefUse) -> tuple[RegTable, list[int], list[int], list[int]]:
    defs, uses, kills = [], [], []
    masks = du.masks
    for st in kernel.body:
        if type(st) is Instr or isinstance(st, Instr):
            d, u = masks(st)
            defs.append(d)
            uses.append(u)
            kills.append(0 if st.guard is not None else d)
        else:
            defs.append(0)
            uses.append(0)
            kills.append(0)
    _async_window(kernel, du, uses)
    named, ranges = _declared_types(kernel)
    types = [_type_of(n, h, named, ranges) for n, h in zip(du.names, du.hints)]
    by_units: dict[int, int] = {}
    pred = 0
    for i, t in enumerate(types):
        u = reg_units(t)
        if u == 0:
            pred |= 1 << i
        else:
            by_units[u] = by_units.get(u, 0) | (1 << i)
    table = RegTable(tuple(du.names), dict(du.index), tuple(types), tuple(sorted(by_units.items())), pred)
    return table, defs, uses, kills


def _async_window(kernel: Kernel, du: DefUse, uses: list[int]) -> None:
    """Keep the registers a ``wgmma.mma_async`` works on asynchronously (accumulators, A fragment)
    live up to every ``wgmma.wait_group``: each wait reads them all, so nothing else is given their
    registers while the tensor cores may still write or read them (conservative: every wait)."""
    regs: list[Reg] = []
    for st in kernel.body:
        if isinstance(st, Instr):
            regs.extend(async_registers(st))
    if not regs:
        return
    mask = du.masks(Instr("wgmma", ("wait_group",), tuple(dict.fromkeys(regs))))[1]
    for i, st in enumerate(kernel.body):
        if isinstance(st, Instr) and is_async_wait(st):
            uses[i] |= mask


def _solve(blocks, defs, uses, kills) -> tuple[list[int], list[int], list[int]]:
    """Block-level fixpoints: (live_in, live_out, maybe-defined on entry)."""
    n = len(blocks)
    gen, kill, written = [0] * n, [0] * n, [0] * n
    for b, blk in enumerate(blocks):
        g = k = w = 0
        for i in range(blk.end - 1, blk.start - 1, -1):
            g = (g & ~kills[i]) | uses[i]
            k |= kills[i]
            w |= defs[i]
        gen[b], kill[b], written[b] = g, k, w
    live_in, live_out = [0] * n, [0] * n
    work = list(range(n))  # popped from the end: last block first
    queued = [True] * n
    while work:
        b = work.pop()
        queued[b] = False
        out = 0
        for s in blocks[b].succs:
            out |= live_in[s]
        live_out[b] = out
        new_in = gen[b] | (out & ~kill[b])
        if new_in != live_in[b]:
            live_in[b] = new_in
            for p in blocks[b].preds:
                if not queued[p]:
                    queued[p] = True
                    work.append(p)
    def_in, def_out = [0] * n, [0] * n
    work = list(range(n - 1, -1, -1))  # first block first
    queued = [True] * n
    while work:
        b = work.pop()
        queued[b] = False
        din = 0
        for p in blocks[b].preds:
            din |= def_out[p]
        def_in[b] = din
        new_out = din | written[b]
        if new_out != def_out[b]:
            def_out[b] = new_out
            for s in blocks[b].succs:
                if not queued[s]:
                    queued[s] = True
                    work.append(s)
    return live_in, live_out, def_in


def _reachable(blocks) -> list[bool]:
    """Blocks some path from the entry reaches (``brx`` edges included: the CFG gives it every label)."""
    seen = [False] * len(blocks)
    stack = [0] if blocks else []
    while stack:
        b = stack.pop()
        if not seen[b]:
            seen[b] = True
            stack.extend(s for s in blocks[b].succs if not seen[s])
    return seen


def flow(kernel: Kernel, du: DefUse | None = None, blocks: tuple[Block, ...] | None = None) -> Flow:
    """Number registers, build the CFG and solve liveness and maybe-defined to a fixpoint.

    ``blocks``: the CFG of a body with the same statements but for register names (a renamed copy).
    """
    body = kernel.body
    blocks = build_cfg(body) if blocks is None else blocks
    table, defs, uses, kills = _number(kernel, du or DefUse())
    live_in, live_out, def_in = _solve(blocks, defs, uses, kills)
    occupied = [0] * len(body)
    after = [0] * len(body)
    reach = _reachable(blocks)
    for b, blk in enumerate(blocks):
        if not reach[b]:  # never executes: occupies nothing (and so constrains no sharing)
            continue
        live = live_out[b]
        for i in range(blk.end - 1, blk.start - 1, -1):
            after[i] = live
            live = (live & ~kills[i]) | uses[i]
        d = def_in[b]
        for i in range(blk.start, blk.end):
            d |= defs[i]
            after[i] &= d
            occupied[i] = after[i] | defs[i]
    referenced = 0
    for d, u in zip(defs, uses):
        referenced |= d | u
    return Flow(table, blocks, tuple(defs), tuple(uses), tuple(occupied), tuple(after), referenced,
                tuple(live_in), tuple(live_out))


def pressure_of(kernel: Kernel, fl: Flow) -> Pressure:
    """Summarise a solved :class:`Flow` as a :class:`Pressure` report."""
    regs = fl.regs
    units = regs.unit_masks
    pm = regs.pred_mask
    occupied = fl.occupied
    if len(units) == 1:  # the usual cases spelled out: this runs once per statement
        (u1, m1), = units
        profile = [u1 * (o & m1).bit_count() for o in occupied]
    elif len(units) == 2:
        (u1, m1), (u2, m2) = units
        profile = [u1 * (o & m1).bit_count() + u2 * (o & m2).bit_count() for o in occupied]
    else:
        profile = [sum(u * (o & m).bit_count() for u, m in units) for o in occupied]
    preds = [(o & pm).bit_count() for o in occupied]
    peak = max(profile, default=0)
    idx = profile.index(peak) if profile else -1
    span = None
    if idx >= 0:
        span = getattr(kernel.body[idx], "span", None)
    return Pressure(
        peak=peak, peak_span=span, peak_index=idx, profile=tuple(profile),
        pred_peak=max(preds, default=0), pred_profile=tuple(preds),
        peak_live=regs.decode(fl.occupied[idx] & ~pm) if idx >= 0 else frozenset(),
        blocks=fl.blocks, live_in=tuple(regs.decode(x) for x in fl.live_in),
        live_out=tuple(regs.decode(x) for x in fl.live_out), registers=fl.referenced.bit_count(),
        roles=role_pressure(kernel, fl.blocks, tuple(profile)))


def liveness(kernel: Kernel) -> Pressure:
    """Liveness and register pressure of ``kernel`` (see the module docstring for the units)."""
    return pressure_of(kernel, flow(kernel))


def line_profile(kernel: Kernel, pressure: Pressure) -> dict[tuple[str, int], int]:
    """Highest pressure per source line ``(file, line)``, for annotating a listing.

    Lines that expand to many statements (``%for`` bodies, includes) keep their maximum.
    """
    out: dict[tuple[str, int], int] = {}
    for st, p in zip(kernel.body, pressure.profile):
        span = getattr(st, "span", None)
        if span is not None:
            key = (span.file, span.line)
            if p > out.get(key, -1):
                out[key] = p
    return out
