"""Register sharing: named registers whose live ranges never overlap share one PTX register.

Only named registers (``RegDecl.count == 0``) take part, and only with others of exactly the same
type; PTX ranges (``%r<N>``, nvcc's numbering), names that appear in raw pass-through text and the
operands of ``wgmma`` (asynchronous: it uses them after it issues) are left alone. Two registers interfere when one is written (guarded or not) while the other occupies space
(see :mod:`.liveness`: live and maybe defined). Registers are coloured greedily in declaration order,
each joining the first earlier group it does not interfere with; the group keeps the name of its
first member, so the PTX stays readable. Renamed operands keep their own spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..ir import Guard, Instr, Kernel, Mem, Operand, PredPair, Raw, Reg, Vec
from ..isa import defs_uses
from .defuse import DefUse
from .liveness import Flow, flow

_WORD = re.compile(r"%?[A-Za-z_$][\w$]*")
# Opcodes that keep reading or writing their registers after they issue (wgmma.mma_async until the
# matching wgmma.wait_group): their registers are never shared, since liveness cannot see that.
ASYNC_OPERANDS = frozenset({"wgmma"})


@dataclass(frozen=True, slots=True)
class Sharing:
    """What register sharing did: ``groups`` lists each shared register, survivor first."""

    merged: int  # names that disappeared into another
    groups: tuple[tuple[str, ...], ...]
    candidates: int  # named registers considered

    @property
    def renames(self) -> dict[str, str]:
        return {m: g[0] for g in self.groups for m in g[1:]}


def _interference(fl: Flow, cand: int) -> dict[int, int]:
    """Bit ``d`` → registers (within ``cand``) occupying space while ``d`` is written."""
    inter: dict[int, int] = {}
    for defs, occ in zip(fl.defs, fl.occupied):
        d = defs & cand
        if not d:
            continue
        others = occ & cand
        while d:
            low = d & -d
            i = low.bit_length() - 1
            inter[i] = inter.get(i, 0) | (others & ~low)
            d ^= low
    return inter


def _groups(kernel: Kernel, fl: Flow) -> tuple[list[list[str]], int]:
    raw_words = set()
    for st in kernel.body:
        if isinstance(st, Raw):
            raw_words.update(_WORD.findall(st.text))
        elif isinstance(st, Instr) and st.opcode in ASYNC_OPERANDS:
            raw_words.update(r.name for part in defs_uses(st) for r in part)
    index = fl.regs.index
    order = [d for d in kernel.regs if d.count == 0 and not d.scoped and d.name in index
             and d.name not in raw_words and (fl.referenced >> index[d.name]) & 1]
    cand = 0
    for d in order:
        cand |= 1 << index[d.name]
    inter = _interference(fl, cand)
    groups: list[tuple[str, list[str]]] = []
    masks: list[int] = []  # members of each group
    reach: list[int] = []  # union of the members' interference
    for d in order:
        i = index[d.name]
        mine = inter.get(i, 0)
        for g, (t, members) in enumerate(groups):
            if t == d.type and not (mine & masks[g]) and not (reach[g] >> i) & 1:
                members.append(d.name)
                masks[g] |= 1 << i
                reach[g] |= mine
                break
        else:
            groups.append((d.type, [d.name]))
            masks.append(1 << i)
            reach.append(mine)
    return [m for _, m in groups], len(order)


def _rename_reg(r: Reg, mapping: dict[str, str]) -> Reg:
    new = mapping.get(r.name)
    return r if new is None else Reg(new, r.type, r.span)


def _rename_op(op: Operand, mapping: dict[str, str]) -> Operand:
    if isinstance(op, Reg):
        return _rename_reg(op, mapping)
    if isinstance(op, Vec):
        return Vec(tuple(_rename_op(x, mapping) for x in op.items), op.span)
    if isinstance(op, PredPair):
        first = _rename_op(op.first, mapping)
        return PredPair(first, _rename_reg(op.second, mapping), op.span)
    if isinstance(op, Mem):
        base = _rename_reg(op.base, mapping) if isinstance(op.base, Reg) else op.base
        return Mem(base, op.offset, op.span, tuple(_rename_op(c, mapping) for c in op.coords))
    return op


def rename(kernel: Kernel, mapping: dict[str, str], du: DefUse | None = None, fl: Flow | None = None) -> Kernel:
    """Rename registers in every instruction and drop the declarations of renamed names.

    ``fl``: the kernel's solved flow with ``du`` (its per-statement masks say which instructions
    touch a renamed register; a wait's are a superset, which only costs an identical copy)."""
    if not mapping:
        return kernel
    du = du or DefUse()
    if fl is None:  # number every register before building the mask of renamed ones
        touched = []
        for st in kernel.body:
            dm, um = du.masks(st) if isinstance(st, Instr) else (0, 0)
            touched.append(dm | um)
    else:
        touched = [d | u for d, u in zip(fl.defs, fl.uses)]
    renamed = 0
    for name in mapping:
        if name in du.index:
            renamed |= 1 << du.index[name]
    body = []
    done: dict[int, tuple] = {}  # id(operands or guard) -> (renamed, original): shared objects stay shared
    for st, bits in zip(kernel.body, touched):
        if isinstance(st, Instr):
            if bits & renamed:
                hit = done.get(id(st.operands))
                if hit is None or hit[1] is not st.operands:
                    hit = done[id(st.operands)] = (tuple(_rename_op(o, mapping) for o in st.operands), st.operands)
                ops = hit[0]
                g = st.guard
                if g is not None and g.reg.name in mapping:
                    hit = done.get(id(g))
                    if hit is None or hit[1] is not g:
                        hit = done[id(g)] = (Guard(_rename_reg(g.reg, mapping), g.negate), g)
                    g = hit[0]
                new = Instr(st.opcode, st.mods, ops, g, st.span)
                du.derive(st, new, mapping)
                st = new
        body.append(st)
    regs = tuple(d for d in kernel.regs if d.count or d.name not in mapping)
    return Kernel(kernel.name, kernel.params, regs, kernel.vars, kernel.directives, tuple(body),
                  kernel.entry, kernel.visible, kernel.span)


def share_registers(kernel: Kernel, fl: Flow | None = None,
                    du: DefUse | None = None) -> tuple[Kernel, Sharing]:
    """Merge non-interfering named registers of the same type; returns the new kernel and a report."""
    du = du or DefUse()
    fl = fl if fl is not None else flow(kernel, du)
    groups, considered = _groups(kernel, fl)
    shared = tuple(tuple(g) for g in groups if len(g) > 1)
    report = Sharing(merged=sum(len(g) - 1 for g in shared), groups=shared, candidates=considered)
    return rename(kernel, report.renames, du, fl), report
