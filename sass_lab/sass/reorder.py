"""Dependency-safe reordering of a listing function: move chosen instructions earlier.

``hoist(fn, instrs, opcodes, distance)`` moves every instruction whose opcode is in ``opcodes`` up
by at most ``distance`` places, past instructions it does not depend on: no register (R, P, UR, UP)
read/write overlap either way, never past a label, a branch or exit, a barrier or fence, a store or
atomic (shared or global), or another hoisted instruction. The result has every control field set
to ``auto``: assemble it with ``--auto-control``. This is the edit the SGEMM example in docs/SASS.md
makes to the main loop (the shared loads of the next k-step issued earlier among the FFMAs).
"""

from __future__ import annotations

from dataclasses import replace

from .model import SassInstr
from .sassfile import Function
from .sched import deps

FENCES = frozenset({"BAR", "MEMBAR", "FENCE", "DEPBAR", "WARPSYNC", "BSSY", "BSYNC", "SYNCS", "ERRBAR",
                    "CCTL", "ARRIVES", "LDGDEPBAR", "WARPGROUP", "NOP"})
FLOW = frozenset({"BRA", "BRX", "JMP", "JMX", "CALL", "RET", "EXIT", "BREAK", "KILL"})
WRITES_MEMORY = ("ST", "ATOM", "RED")


def _blocks(ins: SassInstr) -> bool:
    op = ins.opcode
    return op in FENCES or op in FLOW or op.startswith(WRITES_MEMORY)


def hoist(fn: Function, instrs: list[SassInstr], opcodes: tuple[str, ...] = ("LDS",), distance: int = 8,
          start: int = 0, end: int | None = None) -> tuple[Function, int]:
    """``fn`` with the chosen instructions (indices ``start``..``end``) moved up; also the number of
    places moved in all."""
    items = list(fn.items)
    pos = [k for k, it in enumerate(items) if it.text]  # item index of instruction i
    order = list(range(len(instrs)))  # instruction indices in their new order
    dd = [deps(i) for i in instrs]
    labelled = {i for i, ins in enumerate(instrs) if ins.labels}
    end = len(instrs) if end is None else end
    moved_total = 0
    for i in range(start, end):
        if instrs[i].opcode not in opcodes:
            continue
        at = order.index(i)
        moved = 0
        while moved < distance and at > 0:
            j = order[at - 1]
            if i in labelled or j in labelled or _blocks(instrs[j]) or instrs[j].opcode in opcodes:
                break  # a block start, a fence, or the same kind: keep the order
            dj, uj = dd[j]
            di, ui = dd[i]
            if dj & ui or uj & di or dj & di:
                break
            order[at - 1], order[at] = order[at], order[at - 1]
            at -= 1
            moved += 1
        moved_total += moved
    # rebuild the items: labels stay before the instruction they labelled
    by_instr = [items[p] for p in pos]
    new_items, k = [], 0
    for it in items:
        if it.label:
            new_items.append(it)
            continue
        new_items.append(replace(by_instr[order[k]], ctrl=None))
        k += 1
    return replace(fn, items=tuple(new_items)), moved_total
