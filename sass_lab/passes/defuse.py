"""``isa.defs_uses`` and register numbering shared by every pass of one pipeline run.

Scheduling, liveness (up to three times), the DAG and renaming all ask the same question of the
same instruction objects; on a 20,000-instruction body that question is most of the cost. A
:class:`DefUse` remembers each answer by instruction identity (entries keep their instruction
alive, so an ``id`` is never reused meanwhile) and numbers registers once for the whole run, so the
bit masks liveness builds per instruction stay valid from one kernel version to the next.
"""

from __future__ import annotations

from ..ir import Instr, Reg
from ..isa import defs_uses


class DefUse:
    """Callable cache ``du(ins) -> (registers written, registers read)`` plus register numbering.

    Besides the instruction itself, an answer is remembered by the instruction's shape: opcode,
    modifiers, and the very operand tuple and guard objects (the front end shares them between
    identical lines, so an unrolled body has a few hundred shapes for thousands of instructions).
    """

    __slots__ = ("_memo", "_masks", "_shapes", "index", "names", "hints")

    def __init__(self) -> None:
        self._memo: dict[int, tuple[tuple[Reg, ...], tuple[Reg, ...], Instr]] = {}
        self._masks: dict[int, tuple[int, int]] = {}
        # (opcode, mods, id(operands), id(guard)) -> [defs, uses, masks or None, operands, guard]
        self._shapes: dict[tuple, list] = {}
        self.index: dict[str, int] = {}  # register name -> bit
        self.names: list[str] = []
        self.hints: list[str] = []  # the operand's own type at first sight

    def _shape(self, ins: Instr) -> list:
        key = (ins.opcode, ins.mods, id(ins.operands), id(ins.guard))
        hit = self._shapes.get(key)
        if hit is None or hit[3] is not ins.operands or hit[4] is not ins.guard:
            d, u = defs_uses(ins)
            hit = self._shapes[key] = [d, u, None, ins.operands, ins.guard]  # keeps the ids in use
        return hit

    def __call__(self, ins: Instr) -> tuple[tuple[Reg, ...], tuple[Reg, ...]]:
        hit = self._memo.get(id(ins))
        if hit is not None and hit[2] is ins:
            return hit[0], hit[1]
        sh = self._shape(ins)
        self._memo[id(ins)] = (sh[0], sh[1], ins)
        return sh[0], sh[1]

    def derive(self, old: Instr, new: Instr, mapping: dict[str, str]) -> None:
        """Record ``new`` (``old`` with registers renamed by ``mapping``) without re-deriving it."""
        key = (new.opcode, new.mods, id(new.operands), id(new.guard))
        sh = self._shapes.get(key)
        if sh is None or sh[3] is not new.operands or sh[4] is not new.guard:
            d, u = self(old)
            d2 = tuple(Reg(mapping[r.name], r.type, r.span) if r.name in mapping else r for r in d)
            u2 = tuple(Reg(mapping[r.name], r.type, r.span) if r.name in mapping else r for r in u)
            sh = self._shapes[key] = [d2, u2, None, new.operands, new.guard]
        self._memo[id(new)] = (sh[0], sh[1], new)

    def _bit(self, r: Reg) -> int:
        i = self.index.get(r.name)
        if i is None:
            i = self.index[r.name] = len(self.names)
            self.names.append(r.name)
            self.hints.append(r.type)
        return i

    def masks(self, ins: Instr) -> tuple[int, int]:
        """(written, read) as bit masks over :attr:`index`."""
        key = id(ins)
        hit = self._masks.get(key)
        if hit is not None and self._memo[key][2] is ins:
            return hit
        ds, us = self(ins)
        sh = self._shapes.get((ins.opcode, ins.mods, id(ins.operands), id(ins.guard)))
        same = sh is not None and sh[3] is ins.operands and sh[4] is ins.guard and sh[0] is ds and sh[1] is us
        if same and sh[2] is not None:
            self._masks[key] = sh[2]
            return sh[2]
        dm = um = 0
        for r in ds:
            dm |= 1 << self._bit(r)
        for r in us:
            um |= 1 << self._bit(r)
        self._masks[key] = (dm, um)
        if same:
            sh[2] = (dm, um)
        return dm, um
