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
    """Callable cache ``du(ins) -> (registers written, registers read)`` plus register numbering."""

    __slots__ = ("_memo", "_masks", "index", "names", "hints")

    def __init__(self) -> None:
        self._memo: dict[int, tuple[tuple[Reg, ...], tuple[Reg, ...], Instr]] = {}
        self._masks: dict[int, tuple[int, int]] = {}
        self.index: dict[str, int] = {}  # register name -> bit
        self.names: list[str] = []
        self.hints: list[str] = []  # the operand's own type at first sight

    def __call__(self, ins: Instr) -> tuple[tuple[Reg, ...], tuple[Reg, ...]]:
        hit = self._memo.get(id(ins))
        if hit is not None and hit[2] is ins:
            return hit[0], hit[1]
        d, u = defs_uses(ins)
        self._memo[id(ins)] = (d, u, ins)
        return d, u

    def derive(self, old: Instr, new: Instr, mapping: dict[str, str]) -> None:
        """Record ``new`` (``old`` with registers renamed by ``mapping``) without re-deriving it."""
        d, u = self(old)
        d2 = tuple(Reg(mapping[r.name], r.type, r.span) if r.name in mapping else r for r in d)
        u2 = tuple(Reg(mapping[r.name], r.type, r.span) if r.name in mapping else r for r in u)
        self._memo[id(new)] = (d2, u2, new)

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
        dm = um = 0
        for r in ds:
            dm |= 1 << self._bit(r)
        for r in us:
            um |= 1 << self._bit(r)
        self._masks[key] = (dm, um)
        return dm, um
