"""A tiny text → ir.Kernel builder for pass tests (not the DSL: no sugar, one statement per line).

    .reg .f32 a, b        named registers        .reg .b32 %r<8>   a PTX register range
    .maxntid 256          a directive            .schedule / .end  a scheduling region
    L1:                   a label                @!p bra L1        guarded instruction
    ld.shared.f32 a, [q+4]   st.global.v2.f32 [q], {a, b}   setp.lt.f32 p|r, a, b
"""

from __future__ import annotations

import re

from sass_lab import ir
from sass_lab.errors import Span

_RANGE = re.compile(r"^(%?\w+)<(\d+)>$")
_NUM = re.compile(r"^-?(0[xX][0-9a-fA-F]+|0[fFdD][0-9a-fA-F]+|\d+(\.\d*)?)$")


def _split(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


class _Builder:
    def __init__(self) -> None:
        self.regs: list[ir.RegDecl] = []
        self.named: dict[str, str] = {}
        self.ranges: dict[str, str] = {}
        self.directives: list[ir.Directive] = []
        self.body: list[ir.Stmt] = []

    def reg(self, name: str) -> ir.Reg | None:
        if name in self.named:
            return ir.Reg(name, self.named[name])
        m = re.match(r"^(%?[A-Za-z_]+)(\d+)$", name)
        if m and m.group(1) in self.ranges:
            return ir.Reg(name, self.ranges[m.group(1)])
        return None

    def operand(self, text: str, opcode: str, span: Span) -> ir.Operand:
        if text == "_":
            return ir.Sink(span)
        if text.startswith("{"):
            return ir.Vec(tuple(self.operand(t, opcode, span) for t in _split(text[1:-1])), span)
        if text.startswith("["):
            inner = text[1:-1].replace(" ", "")
            base, _, off = inner.partition("+")
            if _NUM.match(base):
                return ir.Mem(None, int(base, 0), span)
            return ir.Mem(self.reg(base) or ir.Sym(base, span), int(off, 0) if off else 0, span)
        if "|" in text:
            a, b = text.split("|")
            return ir.PredPair(self.reg(a.strip()), self.reg(b.strip()), span)
        if _NUM.match(text):
            v = float(text) if "." in text else (0 if text[1:2] in "fFdD" else int(text, 0))
            return ir.Imm(v, text, span)
        r = self.reg(text)
        if r is not None:
            return ir.Reg(r.name, r.type, span)
        if text.startswith("%"):
            return ir.Special(text, span)
        if opcode in ("bra", "brx"):
            return ir.Label(text, span)
        return ir.Sym(text, span)

    def line(self, n: int, line: str) -> None:
        text = line.split("//")[0].strip()
        if not text:
            return
        span = Span("t.sasm", n, 1, source=line)
        if text.startswith(".reg"):
            parts = text.split(None, 2)
            t = parts[1].lstrip(".")
            for name in _split(parts[2]):
                m = _RANGE.match(name)
                if m:
                    self.ranges[m.group(1)] = t
                    self.regs.append(ir.RegDecl(m.group(1), t, int(m.group(2)), span))
                else:
                    self.named[name] = t
                    self.regs.append(ir.RegDecl(name, t, 0, span))
        elif text == ".schedule":
            self.body.append(ir.ScheduleBegin(span))
        elif text == ".end":
            self.body.append(ir.ScheduleEnd(span))
        elif text.startswith(".raw "):
            self.body.append(ir.Raw(text[5:], span))
        elif text.startswith("."):
            name, *vals = text[1:].replace(",", " ").split()
            self.directives.append(ir.Directive(name, tuple(int(v) for v in vals), span))
        elif text.endswith(":"):
            self.body.append(ir.LabelDef(text[:-1], span))
        else:
            guard = None
            if text.startswith("@"):
                g, text = text.split(None, 1)
                neg = g.startswith("@!")
                guard = ir.Guard(self.reg(g[2:] if neg else g[1:]), neg)
            head, _, rest = text.partition(" ")
            opcode, *mods = head.split(".")
            ops = tuple(self.operand(t, opcode, span) for t in _split(rest))
            self.body.append(ir.Instr(opcode, tuple(mods), ops, guard, span))


def kernel(text: str, name: str = "k") -> ir.Kernel:
    """Build an ``ir.Kernel`` from the mini syntax above."""
    b = _Builder()
    for n, line in enumerate(text.splitlines(), 1):
        b.line(n, line)
    return ir.Kernel(name, (), tuple(b.regs), (), tuple(b.directives), tuple(b.body))


def instrs(k: ir.Kernel) -> list[str]:
    """The body's instructions as short strings (``opcode.mods op, op``) for assertions."""
    return [render(s) for s in k.body if isinstance(s, ir.Instr)]


def render(s: ir.Stmt) -> str:
    if isinstance(s, ir.LabelDef):
        return f"{s.name}:"
    if not isinstance(s, ir.Instr):
        return type(s).__name__
    g = "" if s.guard is None else f"@{'!' if s.guard.negate else ''}{s.guard.reg.name} "
    return f"{g}{s.name} " + ", ".join(_op(o) for o in s.operands)


def _op(o: ir.Operand) -> str:
    if isinstance(o, (ir.Reg, ir.Special, ir.Sym, ir.Label)):
        return o.name
    if isinstance(o, ir.Imm):
        return o.text
    if isinstance(o, ir.Mem):
        base = "" if o.base is None else o.base.name
        return f"[{base}+{o.offset}]" if o.offset else f"[{base}]"
    if isinstance(o, ir.Vec):
        return "{" + ", ".join(_op(i) for i in o.items) + "}"
    if isinstance(o, ir.PredPair):
        return f"{o.first.name}|{o.second.name}"
    return "_"
