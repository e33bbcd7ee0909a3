"""Operand spans on demand.

Register operands in the IR are shared objects without spans (see docs/DSL.md); an instruction's
span keeps its expanded source text, so the span of operand ``i`` is recovered by parsing that one
line again. Passes use this to point a diagnostic at the operand rather than the instruction.
"""

from __future__ import annotations

from .. import ir
from ..errors import SourceError, Span
from . import fastparse
from .nodes import SInstr
from .parse import parse_logical, strip_comments


def _find(source: str, col: int) -> SInstr | None:
    text = strip_comments([source])[0]
    node = fastparse.parse_line(text, 0)
    if isinstance(node, SInstr):
        return node if node.col == col else None
    try:
        stmts = parse_logical(text, 0)
    except SourceError:
        return None
    return next((s for s in stmts if isinstance(s, SInstr) and s.col == col), None)


def operand_span(ins: ir.Instr, i: int) -> Span | None:
    """The span of operand ``i`` of ``ins`` (the instruction's span when it cannot be narrowed,
    e.g. for parameter loads and special-register moves the front end inserted)."""
    sp = ins.span
    if sp is None or not sp.source:
        return sp
    node = _find(sp.source, sp.col)
    if node is None or node.opcode != ins.opcode or not 0 <= i < len(node.ops) \
            or len(node.ops) != len(ins.operands):
        return sp
    op = node.ops[i]
    return Span(sp.file, sp.line, op.col, op.end, sp.source, sp.chain)


def guard_span(ins: ir.Instr) -> Span | None:
    """The span of the guard predicate of ``ins`` (or the instruction's span)."""
    sp = ins.span
    if sp is None or not sp.source or ins.guard is None:
        return sp
    node = _find(sp.source, sp.col)
    if node is None or node.guard is None:
        return sp
    g = node.guard
    return Span(sp.file, sp.line, g.col, g.end, sp.source, sp.chain)
