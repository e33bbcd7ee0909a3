"""Control flow over SASS: basic blocks, loops from backward branches, register liveness.

A loop is a backward branch at address ``e`` to a local label at ``t <= e``; its body is every
instruction in ``[t, e]``. A branch to itself (the ``BRA`` trap after ``EXIT``) is not a loop. The
hottest loop is the innermost one (no other loop strictly inside it) with the largest body; ties go
to the earliest.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import SassInstr
from .regs import access

BRANCHES = frozenset({"BRA", "BRX", "JMP", "JMX"})
ENDS = frozenset({"EXIT", "RET", "KILL"})


@dataclass(frozen=True, slots=True)
class Loop:
    """Instruction indices ``start..end`` inclusive (``end`` is the backward branch)."""

    start: int
    end: int
    start_address: int
    end_address: int

    @property
    def size(self) -> int:
        return self.end - self.start + 1

    def contains(self, other: Loop) -> bool:
        return self.start <= other.start and other.end <= self.end and self != other

    def to_dict(self) -> dict:
        return {"start": self.start_address, "end": self.end_address, "instructions": self.size}


def loops(instrs: list[SassInstr]) -> list[Loop]:
    """Every loop (backward branch), in address order of the branch."""
    index = {ins.address: i for i, ins in enumerate(instrs)}
    out = []
    for i, ins in enumerate(instrs):
        if ins.opcode in BRANCHES and ins.target is not None and ins.target < ins.address:
            j = index.get(ins.target)
            if j is not None:
                out.append(Loop(j, i, ins.target, ins.address))
    return out


def hottest_loop(instrs: list[SassInstr]) -> Loop | None:
    """The innermost loop with the largest body (None when the code has no loop)."""
    ls = loops(instrs)
    inner = [lp for lp in ls if not any(lp.contains(o) for o in ls)]
    if not inner:
        return None
    return max(inner, key=lambda lp: (lp.size, -lp.start))


def _conditional(ins: SassInstr) -> bool:
    """A branch with its own condition operand (``BRA P1, …``, ``BRA.DIV UR4, …``) may fall through."""
    return ins.opcode in BRANCHES and any(
        o.kind in ("pred", "upred", "reg", "ureg") and o.base not in ("PT", "UPT") for o in ins.operands)


def successors(instrs: list[SassInstr]) -> list[tuple[int, ...]]:
    """Successor instruction indices of each instruction (indirect branches: none known)."""
    index = {ins.address: i for i, ins in enumerate(instrs)}
    out = []
    for i, ins in enumerate(instrs):
        guarded = ins.guard not in (None, "@PT") or _conditional(ins)
        nxt = (i + 1,) if i + 1 < len(instrs) else ()
        if ins.opcode in BRANCHES:
            tgt = (index[ins.target],) if ins.target in index else ()
            out.append(tgt + nxt if guarded else tgt)
        elif ins.opcode in ENDS:
            out.append(nxt if guarded else ())
        else:
            out.append(nxt)
    return out


def liveness(instrs: list[SassInstr]) -> tuple[list[frozenset[int]], list[frozenset[int]]]:
    """Live-in and live-out R registers of each instruction (backward data flow to a fixpoint).

    A guarded definition does not kill (the old value survives when the guard is false)."""
    acc = [access(ins) for ins in instrs]
    succ = successors(instrs)
    n = len(instrs)
    live_in: list[frozenset[int]] = [frozenset()] * n
    live_out: list[frozenset[int]] = [frozenset()] * n
    changed = True
    while changed:
        changed = False
        for i in range(n - 1, -1, -1):
            out = frozenset().union(*(live_in[s] for s in succ[i])) if succ[i] else frozenset()
            a = acc[i]
            kill = frozenset() if a.conditional else a.defs
            new_in = a.uses | (out - kill)
            if out != live_out[i] or new_in != live_in[i]:
                live_out[i], live_in[i] = out, new_in
                changed = True
    return live_in, live_out


def live_counts(instrs: list[SassInstr]) -> list[int]:
    """Registers live across each instruction: ``|live_out ∪ defs|`` (a dead result still needs a
    register when written); the peak over a kernel is ``max(counts + |live_in|)``."""
    live_in, live_out = liveness(instrs)
    return [max(len(live_out[i] | access(ins).defs), len(live_in[i])) for i, ins in enumerate(instrs)]
