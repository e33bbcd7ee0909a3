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
            if "." in text:
                v: int | float = float(text)
            elif text.lstrip("-")[:2].lower() in ("0f", "0d"):
                v = 0  # the interpreter works on ints; float bit patterns are not needed
            else:
                v = int(text, 0)
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
        if o.base is None:
            return f"[{o.offset}]"
        return f"[{o.base.name}+{o.offset}]" if o.offset else f"[{o.base.name}]"
    if isinstance(o, ir.Vec):
        return "{" + ", ".join(_op(i) for i in o.items) + "}"
    if isinstance(o, ir.PredPair):
        return f"{o.first.name}|{o.second.name}"
    return "_"


# --------------------------------------------------------------------------- a tiny interpreter

_MASK = (1 << 32) - 1


def _val(o: ir.Operand, regs: dict[str, int]) -> int:
    if isinstance(o, ir.Imm):
        return int(o.value)
    if isinstance(o, ir.Reg):
        return regs.get(o.name, 0)
    if isinstance(o, ir.Special):
        return 7
    raise TypeError(o)


def _addr(o: ir.Mem, regs: dict[str, int]) -> int:
    base = regs.get(o.base.name, 0) if isinstance(o.base, ir.Reg) else 0
    return (base + o.offset) & _MASK


def execute(k: ir.Kernel, regs: dict[str, int] | None = None, steps: int = 10_000) -> dict:
    """Run a body of mov/add/sub/mul/fma/xor/setp/selp/ld/st/bra/ret over ints; returns memory.

    Memory is keyed by (space, address); a ``generic`` store writes both ``shared`` and ``global``
    and a generic load reads their sum, so it conflicts with both, as the scheduler assumes.
    """
    regs = dict(regs or {})
    mem: dict[tuple[str, int], int] = {}
    labels = {s.name: i for i, s in enumerate(k.body) if isinstance(s, ir.LabelDef)}
    pc = 0
    while pc < len(k.body) and steps > 0:
        steps -= 1
        s = k.body[pc]
        pc += 1
        if not isinstance(s, ir.Instr):
            continue
        if s.guard is not None and bool(regs.get(s.guard.reg.name, 0)) == s.guard.negate:
            continue
        op, ops = s.opcode, s.operands
        if op == "bra":
            pc = labels[ops[0].name]
        elif op in ("ret", "exit"):
            break
        elif op in ("bar", "membar"):
            continue
        elif op == "st":
            space = next((m for m in s.mods if m in ("shared", "global")), "generic")
            v = _val(ops[1], regs)
            for sp in (("shared", "global") if space == "generic" else (space,)):
                mem[(sp, _addr(ops[0], regs))] = v
        elif op == "ld":
            space = next((m for m in s.mods if m in ("shared", "global")), "generic")
            a = _addr(ops[1], regs)
            v = sum(mem.get((sp, a), a) for sp in (("shared", "global") if space == "generic" else (space,)))
            regs[ops[0].name] = v & _MASK
        else:
            args = [_val(o, regs) for o in ops[1:]]
            if op == "mov":
                v = args[0]
            elif op == "add":
                v = args[0] + args[1]
            elif op == "sub":
                v = args[0] - args[1]
            elif op == "mul":
                v = args[0] * args[1]
            elif op == "fma":
                v = args[0] * args[1] + args[2]
            elif op == "xor":
                v = args[0] ^ args[1]
            elif op == "selp":
                v = args[0] if args[2] else args[1]
            elif op == "setp":
                cmp = {"lt": args[0] < args[1], "ge": args[0] >= args[1], "ne": args[0] != args[1]}
                v = int(cmp[s.mods[0]])
            else:
                raise NotImplementedError(s.name)
            regs[ops[0].name] = v & _MASK
    return {"mem": mem, "steps": steps}
