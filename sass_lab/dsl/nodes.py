"""Parse-level nodes: what ``dsl.parse`` produces and ``dsl.lower`` consumes.

Names are not resolved yet (a ``Name`` may become a register, a parameter, a label or a symbol).
Every node carries ``li``, ``col`` and ``end`` (1-based columns, end exclusive). Statements and
declarations (``SInstr``, ``SLabel``, the directives, ``PDecl``, ``RName``) have ``li`` = index of their
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
    coords: tuple = ()  # tensor coordinates of a TMA operand [tmap, {c0, c1}]


class VecRef(NamedTuple):
    items: tuple
    li: int
    col: int
    end: int


class Pair(NamedTuple):
    first: Name | VecRef  # VecRef: a sparse texture fetch {d0, ...}|p
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


# ----------------------------------------------------------------------------- directives
# One node type per directive; ``kind`` (a class constant, not a field) names it in messages.


class SEntry(NamedTuple):
    """A kernel header: PTX ``.entry name(.param ...)`` or the DSL's ``.kernel name(.u64 A, ...)``."""

    name: str
    params: tuple  # PDecl
    dsl: bool
    visible: bool
    linkage: tuple[str, ...]
    li: int
    col: int
    end: int
    kind = "entry"


class SFunc(NamedTuple):
    """A ``.func`` header (kept verbatim): its text runs from expanded line ``first_li`` to ``last_li``."""

    name: str
    linkage: tuple[str, ...]
    first_li: int
    last_li: int
    li: int
    col: int
    end: int
    kind = "func"


class SReg(NamedTuple):
    """``.reg [.vN] .type name, ...``"""

    type: str
    vec: int
    names: tuple  # RName
    li: int
    col: int
    end: int
    kind = "reg"


class SVar(NamedTuple):
    """A variable: ``[.extern] .shared|.global|.const|.local [.align N] [.vN] .type name[dims] [= init]``."""

    space: str
    type: str
    vec: int
    align: int | None
    extern: bool
    linkage: tuple[str, ...]
    names: tuple  # RName
    attrs: tuple[str, ...]  # .attribute(...) contents
    li: int
    col: int
    end: int
    kind = "var"


class SPerf(NamedTuple):
    """A performance directive: ``.maxntid 256``, ``.reqntid 128,1,1``, ``.maxnreg 64``, ``.noreturn``."""

    name: str
    values: tuple[int, ...]
    li: int
    col: int
    end: int
    kind = "perf"


class SPragma(NamedTuple):
    values: tuple[str, ...]
    li: int
    col: int
    end: int
    kind = "pragma"


class STargets(NamedTuple):
    """``.branchtargets L1, L2``: each target as (name, li, col, end)."""

    targets: tuple[tuple[str, int, int, int], ...]
    li: int
    col: int
    end: int
    kind = "targets"


class SProto(NamedTuple):
    """``name: .callprototype …;`` or ``name: .calltargets …;`` inside a body (for indirect calls), verbatim."""

    name: str
    text: str
    li: int
    col: int
    end: int
    kind = "proto"


class SParam(NamedTuple):
    """A ``.param`` declared inside a body."""

    decl: PDecl
    li: int
    col: int
    end: int
    kind = "param"


class SAuto(NamedTuple):
    """``.reg auto``: undeclared destinations get declared with the instruction's type."""

    li: int
    col: int
    end: int
    kind = "auto"


class SOpen(NamedTuple):
    li: int
    col: int
    end: int
    kind = "open"


class SClose(NamedTuple):
    li: int
    col: int
    end: int
    kind = "close"


class SSchedule(NamedTuple):
    li: int
    col: int
    end: int
    kind = "schedule"


class SEnd(NamedTuple):
    li: int
    col: int
    end: int
    kind = "end"


SDir = SEntry | SFunc | SReg | SVar | SPerf | SPragma | STargets | SProto | SParam | SAuto | SOpen | SClose | SSchedule | SEnd
Stmt = SInstr | SLabel | SDir
OPERANDS = (Name, Num, MemRef, VecRef, Pair, SinkRef, ParenList, NotRef)
