"""Basic blocks and the control-flow graph of a lowered kernel body.

Blocks start at the first statement, at every label and after every control transfer (``bra``,
``brx``, ``ret``, ``exit``, ``trap``). ``call`` returns to the next statement, so it ends nothing.
A guarded transfer also falls through; an unguarded one does not. ``brx.idx`` jumps through a
``.branchtargets`` table the IR does not model, so it may reach every label (safe for liveness).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import SourceError
from ..ir import Instr, Label, LabelDef, Stmt

TERMINATORS = frozenset({"bra", "brx", "ret", "exit", "trap"})


@dataclass(frozen=True, slots=True)
class Block:
    """Statements ``body[start:end]``; ``succs``/``preds`` are block numbers."""

    start: int
    end: int
    succs: tuple[int, ...]
    preds: tuple[int, ...]


def is_terminator(stmt: Stmt) -> bool:
    """True for an instruction after which control may not reach the next statement."""
    return isinstance(stmt, Instr) and stmt.opcode in TERMINATORS


def _leaders(body: Sequence[Stmt]) -> list[int]:
    leaders = {0} if body else set()
    for i, st in enumerate(body):
        if isinstance(st, LabelDef):
            leaders.add(i)
        elif is_terminator(st) and i + 1 < len(body):
            leaders.add(i + 1)
    return sorted(leaders)


def _targets(ins: Instr, label_block: dict[str, int]) -> list[int]:
    if ins.opcode == "brx":
        return sorted(set(label_block.values()))
    out = []
    for op in ins.operands:
        if isinstance(op, Label):
            if op.name not in label_block:
                raise SourceError(f"branch to undefined label '{op.name}'", span=op.span or ins.span,
                                  hint="define the label in the same kernel (`name:` on its own line)")
            out.append(label_block[op.name])
    return out


def build_cfg(body: Sequence[Stmt]) -> tuple[Block, ...]:
    """Split ``body`` into basic blocks and link successors and predecessors."""
    leaders = _leaders(body)
    bounds = list(zip(leaders, leaders[1:] + [len(body)]))
    label_block = {}
    for b, (start, end) in enumerate(bounds):
        for i in range(start, end):
            if isinstance(body[i], LabelDef):
                label_block[body[i].name] = b
    succs: list[list[int]] = []
    for b, (_start, end) in enumerate(bounds):
        last = body[end - 1]
        nxt = [b + 1] if b + 1 < len(bounds) else []
        if is_terminator(last):
            s = _targets(last, label_block) if last.opcode in ("bra", "brx") else []
            if last.guard is not None:
                s += nxt
        else:
            s = nxt
        succs.append(sorted(set(s)))
    preds: list[list[int]] = [[] for _ in bounds]
    for b, ss in enumerate(succs):
        for s in ss:
            preds[s].append(b)
    return tuple(Block(start, end, tuple(succs[b]), tuple(preds[b]))
                 for b, (start, end) in enumerate(bounds))
