"""The IR every stage shares: frozen, slotted dataclasses with source spans.

``dsl.lower`` builds it from the parse tree; ``passes`` return new IR; ``backend.ptx`` prints it.
After lowering, every register operand is a scalar PTX register (arrays and vector parts are
flattened to names such as ``acc_3_4`` or ``q_x``), so later stages never see DSL sugar.

Types are PTX type names without the dot: ``"f32"``, ``"u64"``, ``"b32"``, ``"pred"``, ...
"""

from __future__ import annotations

from dataclasses import field

from .errors import Span
from .frozen import frozen

# --------------------------------------------------------------------------- operands


@frozen
class Reg:
    """A scalar register (PTX name as it will be printed, e.g. ``acc_0_0`` or ``%r5``)."""

    name: str
    type: str = ""
    span: Span | None = field(default=None, compare=False, repr=False)


@frozen
class Imm:
    """An immediate. ``text`` is the literal to print back (``0f3F800000``, ``0x10``, ``-1``)."""

    value: int | float
    text: str
    span: Span | None = field(default=None, compare=False, repr=False)


@frozen
class Special:
    """A special register or constant: ``%tid.x``, ``%laneid``, ``%clock64``, ``WARP_SZ``."""

    name: str
    span: Span | None = field(default=None, compare=False, repr=False)


@frozen
class Sym:
    """A named address: a parameter, a shared/global/const variable, or a function."""

    name: str
    span: Span | None = field(default=None, compare=False, repr=False)


@frozen
class Label:
    """A branch target."""

    name: str
    span: Span | None = field(default=None, compare=False, repr=False)


@frozen
class Mem:
    """A memory operand ``[base+offset]``; base is a register or a symbol (or None for ``[imm]``).

    ``coords`` holds the tensor coordinates of a TMA operand ``[tmap, {c0, c1}]`` (then offset is 0).
    """

    base: Reg | Sym | None
    offset: int = 0
    span: Span | None = field(default=None, compare=False, repr=False)
    coords: tuple = ()


@frozen
class Sink:
    """The ``_`` placeholder in a vector or destination."""

    span: Span | None = field(default=None, compare=False, repr=False)


@frozen
class Vec:
    """A brace list ``{a, b, c, d}`` (vector loads/stores, mma fragments)."""

    items: tuple[Operand, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@frozen
class PredPair:
    """The ``p|q`` destination of ``setp``/``set`` with two predicate results, or ``{d0, d1, d2, d3}|p``: a
    sparse texture fetch's results and its residency predicate."""

    first: Reg | Sink | Vec
    second: Reg
    span: Span | None = field(default=None, compare=False, repr=False)


Operand = Reg | Imm | Special | Sym | Label | Mem | Sink | Vec | PredPair

# --------------------------------------------------------------------------- statements


@frozen
class Guard:
    """``@p`` or ``@!p``."""

    reg: Reg
    negate: bool = False


@frozen
class Instr:
    """One instruction: ``opcode.mods operands`` with an optional guard."""

    opcode: str  # "fma"
    mods: tuple[str, ...]  # ("rn", "f32")
    operands: tuple[Operand, ...]
    guard: Guard | None = None
    span: Span | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The full dotted opcode, e.g. ``fma.rn.f32``."""
        return ".".join((self.opcode, *self.mods))


@frozen
class LabelDef:
    name: str
    span: Span | None = field(default=None, compare=False, repr=False)


@frozen
class Raw:
    """A line passed through to PTX verbatim (``.pragma``, ``.loc``, scoping braces, ...)."""

    text: str
    span: Span | None = field(default=None, compare=False, repr=False)


@frozen
class ScheduleBegin:
    """Start of a ``.schedule`` region; the region ends at the matching ``ScheduleEnd``."""

    span: Span | None = field(default=None, compare=False, repr=False)


@frozen
class ScheduleEnd:
    span: Span | None = field(default=None, compare=False, repr=False)


Stmt = Instr | LabelDef | Raw | ScheduleBegin | ScheduleEnd

# --------------------------------------------------------------------------- declarations


@frozen
class Param:
    """A kernel parameter. ``array`` > 0 for byte-array params (``.param .align 8 .b8 p[16]``)."""

    name: str
    type: str
    align: int | None = None
    array: int = 0
    span: Span | None = field(default=None, compare=False, repr=False)

    @property
    def size(self) -> int:
        return self.array * type_bytes(self.type) if self.array else type_bytes(self.type)


@frozen
class RegDecl:
    """A scalar register ``name`` of ``type``; ``count`` > 0 declares PTX's ``%r<count>`` range; ``scoped``:
    declared inside a nested ``{ }`` block (nvcc's inline-asm scopes), hoisted under a unique name."""

    name: str
    type: str
    count: int = 0
    span: Span | None = field(default=None, compare=False, repr=False)
    scoped: bool = False


@frozen
class VarDecl:
    """A shared/global/const/local variable: ``.shared .align 16 .f32 sA[2][8][128]``."""

    space: str  # "shared", "global", "const", "local"
    name: str
    type: str
    dims: tuple[int, ...] = ()  # () = scalar; extern arrays have dims == (0,)
    align: int | None = None
    extern: bool = False
    init: str | None = None  # initialiser text, printed back verbatim
    span: Span | None = field(default=None, compare=False, repr=False)
    attrs: tuple[str, ...] = ()  # attributes as written, e.g. (".attribute(.managed)",)

    @property
    def size(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n * type_bytes(self.type)


@frozen
class Directive:
    """A performance directive: ``maxntid``, ``reqntid``, ``minnctapersm``, ``maxnreg``, ``pragma``."""

    name: str
    values: tuple[int | str, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@frozen
class Kernel:
    """One ``.entry`` (or ``.func`` when ``entry`` is False) after lowering."""

    name: str
    params: tuple[Param, ...]
    regs: tuple[RegDecl, ...]
    vars: tuple[VarDecl, ...]  # function-scope shared/local variables
    directives: tuple[Directive, ...]
    body: tuple[Stmt, ...]
    entry: bool = True
    visible: bool = True
    span: Span | None = field(default=None, compare=False, repr=False)


@frozen
class Module:
    """A whole translation unit: module-scope variables/raw text and the kernels."""

    kernels: tuple[Kernel, ...]
    vars: tuple[VarDecl, ...] = ()
    raw: tuple[Raw, ...] = ()  # module-scope text passed through (.func declarations, ...)
    file: str = "<string>"


# --------------------------------------------------------------------------- type helpers

_TYPE_BYTES = {
    "pred": 0, "b8": 1, "u8": 1, "s8": 1, "b16": 2, "u16": 2, "s16": 2, "f16": 2, "bf16": 2,
    "e4m3": 1, "e5m2": 1,
    "b32": 4, "u32": 4, "s32": 4, "f32": 4, "f16x2": 4, "bf16x2": 4, "tf32": 4,
    "b64": 8, "u64": 8, "s64": 8, "f64": 8, "b128": 16,
}


def type_bytes(t: str) -> int:
    """Size in bytes of a PTX type name (``pred`` is 0)."""
    return _TYPE_BYTES[t]


def type_kind(t: str) -> str:
    """``"b"``, ``"u"``, ``"s"``, ``"f"`` or ``"pred"``."""
    if t == "pred":
        return "pred"
    if t.startswith("bf") or t in ("tf32", "e4m3", "e5m2"):
        return "f"
    return t[0]


def is_type(t: str) -> bool:
    return t in _TYPE_BYTES
