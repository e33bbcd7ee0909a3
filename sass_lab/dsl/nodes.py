"""Parse-level nodes: what ``dsl.parse`` produces and ``dsl.lower`` consumes.

Names are not resolved yet (a ``Name`` may become a register, a parameter, a label or a symbol).
Every node carries ``li``, ``col`` and ``end`` (1-based columns, end exclusive). Statements and
declarations (``SInstr``, ``SLabel``, ``SDir``, ``PDecl``, ``RName``) have ``li`` = index of their
expanded line; operands (``OPERANDS``) have ``li`` relative to their instruction's ``base`` line, so
identical lines share operand nodes (the fast path caches them by text). They are NamedTuples because
the fast path builds tens of thousands of them.
"""

from __future__ import annotations

from typing import NamedTuple


class Name(NamedTuple):
    """``acc``, ``acc[3][4]``, ``q.x``, ``%r5``, ``%tid.x``: indices and part kept apart."""

    text: str
    idx: tuple  # ints (or a str for a non-constant index, reported by lower)
    part: str | None
    li: int
    col: int
    end: int


class Num(NamedTuple):
    value: int | float
    text: str
    li: int
    col: int
    end: int


class MemRef(NamedTuple):
    base: Name | None
    offset: int
    li: int
    col: int
    end: int


class VecRef(NamedTuple):
    items: tuple
    li: int
    col: int
    end: int


class Pair(NamedTuple):
    first: Name
    second: Name
    li: int
    col: int
    end: int


class SinkRef(NamedTuple):
    li: int
    col: int
    end: int


class NotRef(NamedTuple):
    """``!p``: a negated predicate source (lowered to ``not.pred`` into a register first)."""

    name: Name
    li: int
    col: int
    end: int


class ParenList(NamedTuple):
    """``(a, b)`` in ``call`` operands."""

    items: tuple
    li: int
    col: int
    end: int


class SInstr(NamedTuple):
    guard: Name | None
    negate: bool
    opcode: str
    mods: tuple
    ops: tuple
    li: int
    col: int
    end: int
    base: int  # expanded line its operands' ``li`` count from


class SLabel(NamedTuple):
    name: str
    li: int
    col: int
    end: int


class PDecl(NamedTuple):
    """A parameter: PTX ``.param .align 8 .b8 p[16]`` or DSL ``.u64 A``."""

    name: str
    type: str
    align: int | None
    array: int
    li: int
    col: int
    end: int


class RName(NamedTuple):
    """One declared name: ``x``, ``acc[8][8]``, ``%r<54>`` (count), ``smem[]`` (dims (0,))."""

    name: str
    dims: tuple
    count: int
    init: str | None
    li: int
    col: int
    end: int


class SDir(NamedTuple):
    """A directive statement. ``kind`` picks the meaning of ``data`` (a dict).

    kinds: entry (name, params, entry, visible, dsl, linkage), func (name, linkage, first_li, last_li),
    reg (type, vec, names), auto, var (space, type, vec, align, extern, linkage, names),
    perf (name, values), pragma (values), targets (targets: .branchtargets), open, close, schedule, end,
    param (decl: a body-scope .param).
    """

    kind: str
    data: dict
    li: int
    col: int
    end: int


Stmt = SInstr | SLabel | SDir
OPERANDS = (Name, Num, MemRef, VecRef, Pair, SinkRef, ParenList, NotRef)
