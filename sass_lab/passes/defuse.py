"""``isa.defs_uses`` remembered by instruction identity for the length of one pass pipeline.

Scheduling, liveness (twice when registers are merged), the DAG and renaming all ask the same
question of the same instruction objects; a run over a 20,000-instruction body spends most of its
time there otherwise. Entries keep their instruction alive, so an ``id`` is never reused meanwhile.
"""

from __future__ import annotations

from ..ir import Instr, Reg
from ..isa import defs_uses


class DefUse:
    """Callable cache: ``du(ins) -> (registers written, registers read)``."""

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        self._memo: dict[int, tuple[tuple[Reg, ...], tuple[Reg, ...], Instr]] = {}

    def __call__(self, ins: Instr) -> tuple[tuple[Reg, ...], tuple[Reg, ...]]:
        hit = self._memo.get(id(ins))
        if hit is not None and hit[2] is ins:
            return hit[0], hit[1]
        d, u = defs_uses(ins)
        self._memo[id(ins)] = (d, u, ins)
        return d, u
