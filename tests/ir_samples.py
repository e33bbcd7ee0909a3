"""Small hand-built IR modules with real spans, for tests and examples that must not need the DSL.

``kernel_from_lines`` turns plain PTX-like statement lines into an ``ir.Kernel`` whose every statement
carries the span of its line in a pretend .sasm file, so emission + compile + error mapping can be
checked end to end. It understands just enough operand syntax for these samples: registers,
immediates, specials (``%tid.x``), symbols, labels, ``[base+off]``, ``{a, b}``, ``p|q`` and ``_``.
"""

from __future__ import annotations

import re

from sass_lab import ir
from sass_lab.errors import Span

_IMM = re.compile(r"-?(?:0[fFdD][0-9a-fA-F]+|0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)U?\Z")
_BRANCHES = ("bra", "call")


def _span(file: str, line: int, text: str) -> Span:
    col = len(text) - len(text.lstrip()) + 1
    return Span(file, line, col, len(text.rstrip()) + 1, text)


def _split(ops: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in ops:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def parse_operand(text: str, syms: frozenset[str], span: Span | None = None,
                  label: bool = False) -> ir.Operand:
    """One operand in PTX syntax (``syms``: names that are symbols, not registers)."""
    t = text.strip()
    if t == "_":
        return ir.Sink(span)
    if t.startswith("{"):
        return ir.Vec(tuple(parse_operand(x, syms, span) for x in _split(t[1:-1])), span)
    if t.startswith("["):
        inner = t[1:-1].replace(" ", "")
        base, _, off = inner.partition("+")
        if _IMM.match(base):
            return ir.Mem(None, int(base, 0), span)
        b = ir.Sym(base, span) if base in syms else ir.Reg(base, span=span)
        return ir.Mem(b, int(off, 0) if off else 0, span)
    if "|" in t:
        a, b = t.split("|")
        return ir.PredPair(ir.Reg(a, span=span), ir.Reg(b, span=span), span)
    if _IMM.match(t):
        v = float(t) if "." in t and not t.lower().startswith("0f") else 0
        return ir.Imm(v, t, span)
    if label:
        return ir.Label(t, span)
    if t in syms:
        return ir.Sym(t, span)
    if t.startswith("%") and "." in t or t in ("%laneid", "%warpid", "%clock", "%clock64", "WARP_SZ"):
        return ir.Special(t, span)
    return ir.Reg(t, span=span)


def stmt_from_line(text: str, span: Span, syms: frozenset[str]) -> ir.Stmt:
    """One body line → LabelDef / Raw (``.pragma``, braces, comments) / Instr."""
    s = text.strip().rstrip(";").strip()
    if s.endswith(":") and " " not in s:
        return ir.LabelDef(s[:-1], span)
    if s.startswith((".", "{", "}", "//")):
        return ir.Raw(text.strip(), span)
    guard = None
    if s.startswith("@"):
        g, s = s.split(None, 1)
        neg = g.startswith("@!")
        guard = ir.Guard(ir.Reg(g[2:] if neg else g[1:], span=span), neg)
    head, _, rest = s.partition(" ")
    opcode, *mods = head.split(".")
    is_branch = opcode in _BRANCHES
    ops = tuple(parse_operand(o, syms, span, label=is_branch) for o in _split(rest))
    return ir.Instr(opcode, tuple(mods), ops, guard, span)


def kernel_from_lines(name: str, params: list[tuple[str, str]], regs: list[tuple[str, str]],
                      body: str, *, file: str = "sample.sasm", first_line: int = 1,
                      vars: tuple[ir.VarDecl, ...] = (), directives: tuple[ir.Directive, ...] = (),
                      extra_syms: tuple[str, ...] = ()) -> ir.Kernel:
    """A kernel whose body statements get spans ``file:first_line+i`` (blank lines count, unused)."""
    syms = frozenset([p for p, _ in params] + [v.name for v in vars] + list(extra_syms))
    stmts = []
    for i, line in enumerate(body.splitlines()):
        if line.strip():
            stmts.append(stmt_from_line(line, _span(file, first_line + i, line), syms))
    head_span = Span(file, max(1, first_line - 1), 1)
    return ir.Kernel(
        name=name,
        params=tuple(ir.Param(p, t, span=head_span) for p, t in params),
        regs=tuple(ir.RegDecl(r, t, span=head_span) for r, t in regs),
        vars=vars, directives=directives, body=tuple(stmts), span=head_span)


SAXPY_BODY = """\
ld.param.u64 x, [X];
ld.param.u64 y, [Y];
ld.param.f32 a, [A];
ld.param.u32 n, [N];
mov.u32 i, %ctaid.x;
mov.u32 t, %ntid.x;
mul.lo.u32 i, i, t;
mov.u32 t, %tid.x;
add.u32 i, i, t;
setp.ge.u32 p, i, n;
@p bra DONE;
cvta.to.global.u64 x, x;
cvta.to.global.u64 y, y;
mul.wide.u32 off, i, 4;
add.u64 x, x, off;
add.u64 y, y, off;
ld.global.f32 xv, [x];
ld.global.f32 yv, [y];
fma.rn.f32 yv, a, xv, yv;
st.global.f32 [y], yv;
DONE:
ret;"""


def saxpy(file: str = "saxpy.sasm", body: str = SAXPY_BODY) -> ir.Module:
    """``y = a*x + y``: params X, Y (u64), A (f32), N (u32); body lines start at line 2."""
    k = kernel_from_lines(
        "saxpy", [("X", "u64"), ("Y", "u64"), ("A", "f32"), ("N", "u32")],
        [("x", "u64"), ("y", "u64"), ("off", "u64"), ("i", "u32"), ("t", "u32"), ("n", "u32"),
         ("a", "f32"), ("xv", "f32"), ("yv", "f32"), ("p", "pred")],
        body, file=file, first_line=2)
    return ir.Module(kernels=(k,), file=file)
