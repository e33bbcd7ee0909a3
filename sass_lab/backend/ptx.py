"""IR → PTX text, with a map from every PTX line back to the .sasm statement that produced it.

``emit(module, arch)`` prints ``.version 9.0`` / ``.target`` / ``.address_size 64``, module variables
and raw text, then each kernel: signature, performance directives, ``.reg`` declarations grouped by
type, shared/local variables and the body. ``Emitted.line_map[i]`` is the span of PTX line ``i + 1``
(``None`` for boilerplate), which the toolchain uses to point ptxas messages at the .sasm source.

Extern (dynamic) shared arrays are hoisted to module scope: ptxas rejects ``.extern`` inside a body.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from .. import ir
from ..errors import SourceError, Span, UsageError
from ..hw.arch import TARGETS
from ..isa.specials import SPECIALS

PTX_VERSION = "9.0"
# CUDA 13 dropped Volta: only a CUDA 12 ptxas (PTX ISA <= 8.8) can still build sm_70, and 8.0 is enough
VERSION_FOR = {"sm_70": "8.0"}

_IDENT = re.compile(r"(?:[A-Za-z][A-Za-z0-9_$]*|[_$%][A-Za-z0-9_$]+)\Z")
_NAMES_PER_LINE = 12
_RESERVED = frozenset(n.partition(".")[0] for n in SPECIALS)  # WARP_SZ, %clock, %tid (of %tid.x), ...


@dataclass(frozen=True, slots=True)
class Emitted:
    """PTX text plus ``line_map[i]`` = span of the statement behind PTX line ``i + 1``."""

    text: str
    line_map: tuple[Span | None, ...]
    kernel_lines: tuple[tuple[str, int, int], ...] = ()  # (kernel, first line, last line), 1-based

    def span_of(self, line: int) -> Span | None:
        """The .sasm span behind 1-based PTX ``line`` (None for boilerplate or out of range)."""
        return self.line_map[line - 1] if 0 < line <= len(self.line_map) else None

    def lines_of(self, file: str, line: int) -> tuple[int, ...]:
        """1-based PTX lines produced by ``file:line`` (several when a loop unrolled it)."""
        return tuple(i + 1 for i, s in enumerate(self.line_map)
                     if s is not None and s.line == line and s.file == file)

    def by_source(self) -> dict[tuple[str, int], tuple[int, ...]]:
        """``(file, line)`` → PTX lines, for every source line at once (one pass)."""
        out: dict[tuple[str, int], list[int]] = {}
        for i, s in enumerate(self.line_map):
            if s is not None:
                out.setdefault((s.file, s.line), []).append(i + 1)
        return {k: tuple(v) for k, v in out.items()}


class _Out:
    """Accumulates lines and their spans."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.spans: list[Span | None] = []

    def add(self, text: str, span: Span | None = None) -> None:
        if not text.isascii():
            text = _ascii(text, span)
        if "\n" not in text:
            self.lines.append(text)
            self.spans.append(span)
            return
        for part in text.split("\n"):
            self.lines.append(part)
            self.spans.append(span)


def _ascii(text: str, span: Span | None) -> str:
    """ptxas rejects any non-ASCII byte: mask it inside ``//`` comments, refuse it elsewhere."""
    out = []
    for line in text.split("\n"):
        code, sep, comment = line.partition("//")
        if not code.isascii():
            bad = next(c for c in code if not c.isascii())
            raise SourceError(f"non-ASCII character {bad!r} in PTX text", span=span,
                              hint="PTX is ASCII only: keep non-ASCII characters in comments")
        out.append(code + sep + "".join(c if c.isascii() else "?" for c in comment))
    return "\n".join(out)


# --------------------------------------------------------------------------- names and operands


def check_name(name: str, span: Span | None, what: str = "name") -> str:
    """Return ``name`` if it is a valid PTX identifier, else raise SourceError at ``span``."""
    if not _IDENT.match(name):
        raise SourceError(f"'{name}' is not a valid PTX {what}", span=span,
                          hint="PTX identifiers are letters, digits, '_' and '$' (arrays lower to a_1_2)")
    if name in _RESERVED:
        raise SourceError(f"'{name}' is a predefined PTX name and cannot be a {what}", span=span,
                          hint="rename it (WARP_SZ and %tid, %clock, ... are built in)")
    return name


def _imm(op: ir.Imm) -> str:
    """The original literal; without one, ints in decimal and floats as PTX ``0fXXXXXXXX`` (f32)."""
    if op.text:
        return op.text
    if isinstance(op.value, float):
        bits = struct.unpack("<I", struct.pack("<f", op.value))[0]
        return f"0f{bits:08X}"
    return str(op.value)


def _mem(op: ir.Mem) -> str:
    if op.coords:
        return f"[{op.base.name}, {{{', '.join(operand(c) for c in op.coords)}}}]"
    if op.base is None:
        return f"[{op.offset}]"
    return f"[{op.base.name}+{op.offset}]" if op.offset else f"[{op.base.name}]"


_OPERAND = {
    ir.Reg: lambda op: op.name,
    ir.Special: lambda op: op.name,
    ir.Sym: lambda op: op.name,
    ir.Label: lambda op: op.name,
    ir.Imm: _imm,
    ir.Mem: _mem,
    ir.Vec: lambda op: "{" + ", ".join(operand(i) for i in op.items) + "}",
    ir.PredPair: lambda op: f"{operand(op.first)}|{op.second.name}",
    ir.Sink: lambda op: "_",
}


def operand(op: ir.Operand) -> str:
    """PTX text of one operand."""
    t = type(op)
    if t is ir.Reg:
        return op.name
    try:
        return _OPERAND[t](op)
    except KeyError:
        raise TypeError(f"not an operand: {op!r}") from None


def instr(ins: ir.Instr) -> str:
    """``@!p opcode.mods a, b, c;`` (no indentation)."""
    guard = f"@{'!' if ins.guard.negate else ''}{ins.guard.reg.name} " if ins.guard else ""
    ops = ", ".join([operand(o) for o in ins.operands])
    mods = "." + ".".join(ins.mods) if ins.mods else ""
    return f"{guard}{ins.opcode}{mods}{' ' + ops if ops else ''};"


def var_decl(v: ir.VarDecl) -> str:
    """``[.extern] .space [.attribute(...)] [.align N] .type name[d]... [= init];``"""
    parts = [".extern"] if v.extern else []
    parts.append(f".{v.space}")
    parts.extend(v.attrs)
    if v.align:
        parts.append(f".align {v.align}")
    parts.append(f".{v.type}")
    dims = "".join("[]" if d == 0 else f"[{d}]" for d in v.dims)
    text = " ".join(parts) + f" {v.name}{dims}"
    if v.init is not None:
        text += f" = {v.init}"
    return text + ";"


def param_decl(p: ir.Param) -> str:
    align = f".align {p.align} " if p.align else ""
    arr = f"[{p.array}]" if p.array else ""
    return f".param {align}.{p.type} {p.name}{arr}"


def _ascii_name(text: str) -> str:
    return "".join(c if c.isascii() else "?" for c in text)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def directive(d: ir.Directive) -> str:
    if d.name == "pragma":
        return ".pragma " + ", ".join(f'"{v}"' if isinstance(v, str) and not v.startswith('"') else str(v)
                                      for v in d.values) + ";"
    vals = ", ".join(str(v) for v in d.values)
    return f".{d.name}{' ' + vals if vals else ''}"


# --------------------------------------------------------------------------- declarations


def _reg_lines(regs: Iterable[ir.RegDecl]) -> list[tuple[str, Span | None]]:
    """Scalar regs grouped by (type, source line) in first-seen order; ranges one per line."""
    groups: dict[tuple[str, object], list[ir.RegDecl]] = {}
    out: list[tuple[str, Span | None]] = []
    order: list[tuple[str, object] | ir.RegDecl] = []
    for r in regs:
        if r.count:
            order.append(r)
            continue
        key = (r.type, (r.span.file, r.span.line) if r.span else None)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    for item in order:
        if isinstance(item, ir.RegDecl):
            check_name(item.name, item.span, "register range")
            out.append((f"\t.reg .{item.type} {item.name}<{item.count}>;", item.span))
            continue
        decls = groups[item]
        for i in range(0, len(decls), _NAMES_PER_LINE):
            chunk = decls[i:i + _NAMES_PER_LINE]
            names = ", ".join(check_name(r.name, r.span, "register name") for r in chunk)
            out.append((f"\t.reg .{item[0]} {names};", chunk[0].span))
    return out


def _files(module: ir.Module) -> dict[str, int]:
    """``.file`` numbers for every source file named by a body statement's span."""
    files: dict[str, int] = {}
    for k in module.kernels:
        for s in k.body:
            if s.span is not None and s.span.file not in files:
                files[s.span.file] = len(files) + 1
    return files


def _emit_kernel(out: _Out, k: ir.Kernel, files: dict[str, int] | None = None) -> tuple[str, int, int]:
    first = len(out.lines) + 1
    check_name(k.name, k.span, "kernel name")
    head = ".visible " if k.visible else ""
    head += ".entry " if k.entry else ".func "
    if not k.params:
        out.add(f"{head}{k.name}()", k.span)
    else:
        out.add(f"{head}{k.name}(", k.span)
        for i, p in enumerate(k.params):
            check_name(p.name, p.span, "parameter name")
            comma = "," if i < len(k.params) - 1 else ""
            out.add(f"\t{param_decl(p)}{comma}", p.span or k.span)
        out.add(")", k.span)
    for d in k.directives:
        out.add(directive(d), d.span or k.span)
    lines, spans = _block(k, files)
    out.lines += lines
    out.spans += spans
    return (k.name, first, len(out.lines))


# The last kernel block printed: a sweep's candidates that differ only in a directive (.maxnreg) share
# their body, registers and variables (the same objects), and so their block's text.
_LAST_BLOCK: list = [None]


def _block(k: ir.Kernel, files: dict[str, int] | None) -> tuple[list[str], list[Span | None]]:
    """The lines from ``{`` to the line after ``}`` of kernel ``k`` (declarations and body), with spans."""
    where = (k.span, tuple(files.items()) if files else ())
    hit = _LAST_BLOCK[0]
    if hit is not None and hit[0] is k.body and hit[1] is k.regs and hit[2] is k.vars and hit[3] == where:
        return hit[4], hit[5]
    out = _Out()
    out.add("{", k.span)
    for text, span in _reg_lines(k.regs):
        out.add(text, span)
    for v in k.vars:
        if not v.extern:
            check_name(v.name, v.span, "variable name")
            out.add("\t" + var_decl(v), v.span)
    if k.regs or k.vars:
        out.add("", None)
    last = None
    for s in k.body:
        if isinstance(s, ir.Instr):
            if files and s.span is not None and (s.span.file, s.span.line) != last:
                last = (s.span.file, s.span.line)
                out.add(f"\t.loc {files[s.span.file]} {s.span.line} {s.span.col}", s.span)
            out.add("\t" + instr(s), s.span)
        elif isinstance(s, ir.LabelDef):
            out.add(f"{check_name(s.name, s.span, 'label')}:", s.span)
        elif isinstance(s, ir.Raw):
            out.add(s.text, s.span)
        elif isinstance(s, ir.ScheduleBegin):
            out.add("\t// .schedule", s.span)
        elif isinstance(s, ir.ScheduleEnd):
            out.add("\t// .end schedule", s.span)
        else:
            raise TypeError(f"not a statement: {s!r}")
    out.add("}", k.span)
    out.add("", None)
    _LAST_BLOCK[0] = (k.body, k.regs, k.vars, where, out.lines, out.spans)
    return out.lines, out.spans


def _is_prototype(text: str) -> bool:
    """A module-scope ``.func`` declaration without a body (``.func (...) name (...);``)."""
    return ".func" in text and "{" not in text and text.rstrip().endswith(";")


def emit(module: ir.Module, arch: str, *, lineinfo: bool = False, version: str | None = None) -> Emitted:
    """Print ``module`` as PTX for ``arch`` (sm_70 … sm_90a).

    ``lineinfo=True`` adds ``.file``/``.loc`` directives naming the .sasm lines, so a cubin compiled
    with ``-lineinfo`` lets nvdisasm (``--print-line-info``) attribute each SASS instruction.
    ``version`` overrides ``.version``; the default is 9.0, except 8.0 for sm_70 (only a CUDA 12
    ptxas, which reads PTX ISA 8.x, still compiles Volta).
    """
    version = version or VERSION_FOR.get(arch, PTX_VERSION)
    if not re.fullmatch(r"\d\.\d", version):
        raise UsageError(f"bad PTX version '{version}'", hint="e.g. '9.0' or '8.0'")
    if arch not in TARGETS:
        raise UsageError(f"unknown arch '{arch}'", hint=f"choose one of {', '.join(TARGETS)}")
    out = _Out()
    out.add(f"//\n// Generated by sass_lab from {module.file}\n//")
    out.add(f".version {version}\n.target {arch}\n.address_size 64\n")
    files = _files(module) if lineinfo else {}
    for name, num in files.items():
        out.add(f'.file {num} "{_quote(_ascii_name(name))}"', None)
    if files:
        out.add("", None)
    protos = [r for r in module.raw if _is_prototype(r.text)]
    for r in protos:  # function prototypes first: a variable's initialiser may name one (a vtable)
        out.add(r.text, r.span)
    externs: dict[str, ir.VarDecl] = {}
    for v in (*module.vars, *(v for k in module.kernels for v in k.vars if v.extern)):
        check_name(v.name, v.span, "variable name")
        if v.extern and v.name in externs:
            if externs[v.name] != v:
                raise SourceError(f"extern '{v.name}' declared twice with different types", span=v.span,
                                  hint="dynamic shared arrays share one name space per module")
            continue
        if v.extern:
            externs[v.name] = v
        out.add(var_decl(v), v.span)
    for r in module.raw:
        if not any(r is p for p in protos):
            out.add(r.text, r.span)
    if module.vars or module.raw or externs:
        out.add("", None)
    ranges = tuple(_emit_kernel(out, k, files) for k in module.kernels)
    return Emitted(text="\n".join(out.lines) + "\n", line_map=tuple(out.spans), kernel_lines=ranges)
