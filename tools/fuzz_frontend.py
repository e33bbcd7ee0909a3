"""Grammar-driven fuzzer of the .sasm front end, with a value round trip.

Each input is a kernel whose instructions are generated from the DSL grammar's shapes and the ISA
table's operand rules (typed registers, register arrays and vectors, kernel parameters, special
registers, guards, labels, memory operands, immediates), never token soup. Every immediate and memory
offset is drawn as a value first and then written in one of PTX's literal forms (decimal, hex, octal,
binary, ``U`` suffix, negative, ``0f``/``0d`` bit patterns, decimal floats), so the oracle knows what
each literal means:

- a valid input must lower, every immediate and offset must come out of the front end with the value
  drawn (a hex literal read as decimal fails), and the emitted PTX, read back by the emulator's PTX
  reader, must carry the same values on the same lines;
- an input with one planted mistake (a register of the wrong type, an unknown name, a float in an
  integer instruction or offset, a missing or extra operand, an unknown opcode or type, an index out
  of range, a malformed literal, a guard that is not a predicate, an undefined label) must be refused
  with a SourceError located on the mutated line of the file;
- anything else is a finding: an internal error (any other exception), a hang (an input over the
  time limit) or a crash (the worker process dies).

    python tools/fuzz_frontend.py --n 20000            # the long run (the test suite runs a short one)
    python tools/fuzz_frontend.py --n 2000 --seed 7 -v # print each finding's input

Exit status 0 when there is no finding.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import random
import struct
import sys
import time
from dataclasses import dataclass, field

FILE = "fuzz.sasm"
HEAD = """.kernel fz(.u64 P, .u32 N, .f32 F)
.reg .u32 u0, u1, u2, ua[4]
.reg .s32 s0, s1
.reg .u64 q0, q1
.reg .b32 b0, b1
.reg .f32 f0, f1, f2, fa[4]
.reg .f64 d0, d1
.reg .pred p0, p1
.reg .v4 .f32 vv
.reg .u32 %r<4>
"""
REGS = {
    "u32": ["u0", "u1", "u2", "ua[0]", "ua[1]", "ua[2]", "ua[3]", "N", "%r1", "%r3"],
    "s32": ["s0", "s1"],
    "u64": ["q0", "q1", "P"],
    "b32": ["b0", "b1"],
    "f32": ["f0", "f1", "f2", "fa[0]", "fa[1]", "fa[3]", "vv.x", "vv.w", "F"],
    "f64": ["d0", "d1"],
    "pred": ["p0", "p1"],
}
DESTS = {t: [r for r in rs if r not in ("N", "P", "F")] for t, rs in REGS.items()}
INT_RANGE = {"u32": (0, 2**32 - 1), "s32": (-2**31, 2**31 - 1), "u64": (0, 2**64 - 1), "b32": (0, 2**32 - 1)}
CMPS = {"int": ["eq", "ne", "lt", "le", "gt", "ge"], "float": ["eq", "ne", "lt", "le", "gt", "ge", "equ", "neu"]}
OTHER_TYPE = {"u32": "f32", "s32": "f64", "u64": "f32", "b32": "f64", "f32": "u64", "f64": "u32", "pred": "u32"}


@dataclass
class Line:
    """One generated instruction: its text, the values its literals must read as, and how to plant a
    mistake in it (alternative texts that must be refused)."""

    text: str
    imms: list = field(default_factory=list)  # expected immediate values, operand order
    offsets: list = field(default_factory=list)  # expected memory offsets, operand order
    bad: list = field(default_factory=list)  # (kind, text) mutations that must be a SourceError


# ----------------------------------------------------------------------------------------- literals


def int_literal(rng: random.Random, v: int) -> str:
    """``v`` in one of PTX's integer forms (C syntax: decimal, 0x, 0 octal, 0b; U suffix)."""
    a = abs(v)
    forms = [str(a), f"0x{a:x}", f"0X{a:X}", f"0b{a:b}"]
    if a > 0:
        forms.append(f"0{a:o}")
    body = rng.choice(forms)
    if v >= 0 and rng.random() < 0.15:
        body += "U"
    return ("-" + body) if v < 0 else body


def float_literal(rng: random.Random, v: float, typ: str) -> tuple[str, float]:
    """A literal for ``v`` and the value it stands for (exact bits for 0f/0d forms)."""
    r = rng.random()
    if r < 0.45:
        if typ == "f32":
            bits = struct.unpack(">I", struct.pack(">f", v))[0]
            return f"0f{bits:08X}", struct.unpack(">f", struct.pack(">I", bits))[0]
        bits = struct.unpack(">Q", struct.pack(">d", v))[0]
        return f"0d{bits:016X}", v
    text = repr(float(v))
    if "e" not in text and "." not in text:
        text += ".0"
    if "inf" in text or "nan" in text:
        return float_literal(rng, 1.0, typ)
    return text, float(text)


def draw_int(rng: random.Random, typ: str) -> int:
    lo, hi = INT_RANGE[typ]
    r = rng.random()
    if r < 0.3:
        return rng.randint(max(lo, -16), min(hi, 64))
    if r < 0.5:
        return rng.choice([lo, hi, 0, 1, 7, 8, 9, 255, 256])
    return rng.randint(lo, hi)


def draw_float(rng: random.Random, typ: str) -> float:
    r = rng.random()
    if r < 0.3:
        return rng.choice([0.0, -0.0, 1.0, -1.5, 0.5, 1e-3, 3.25, 65504.0])
    x = rng.uniform(-1e4, 1e4) * (10 ** rng.randint(-8, 8))
    if typ == "f32":
        x = struct.unpack(">f", struct.pack(">f", max(-3e38, min(3e38, x))))[0]
    return x


# ------------------------------------------------------------------------------------- instructions


def _src(rng: random.Random, typ: str, line: Line, imm_ok: bool = True) -> str:
    """A source operand of ``typ``: a register or (when allowed) an immediate with its value recorded."""
    if imm_ok and typ != "pred" and rng.random() < 0.4:
        if typ in ("f32", "f64"):
            text, v = float_literal(rng, draw_float(rng, typ), typ)
        else:
            v = draw_int(rng, typ)
            if typ in ("u32", "u64", "b32"):
                v = abs(v)
            text = int_literal(rng, v)
        line.imms.append(v)
        return text
    return rng.choice(REGS[typ])


def _mem(rng: random.Random, line: Line, align: int) -> tuple[str, str]:
    """A memory operand ``[base]``, ``[base+off]`` or ``[base-off]`` (offset recorded) and its base."""
    off = rng.choice([0, align, -align, align * rng.randint(0, 4096), -align * rng.randint(0, 64)])
    base = rng.choice(["q0", "q1", "P"])
    line.offsets.append(off)
    if off == 0 and rng.random() < 0.5:
        return f"[{base}]", base
    lit = int_literal(rng, abs(off))
    return (f"[{base}+{lit}]" if off >= 0 else f"[{base}-{lit}]"), base


def gen_instr(rng: random.Random) -> Line:
    """One instruction from the shapes of the grammar's ``instr`` rule and the ISA table."""
    kind = rng.choice(["arith", "arith", "fma", "mad", "logic", "shift", "setp", "selp", "mov", "cvt",
                       "ld", "st", "ldv", "special", "wide", "minmax", "setp2", "setpbool", "stv", "ldabs"])
    line = Line("")
    if kind == "arith":
        t = rng.choice(["u32", "s32", "u64", "f32", "f64"])
        op = rng.choice(["add", "sub"] + (["mul.lo"] if t[0] in "us" else ["mul", "mul.rn", "add.rn"]))
        d, a, b = rng.choice(DESTS[t]), _src(rng, t, line, False), _src(rng, t, line)
        line.text = f"{op}.{t} {d}, {a}, {b}"
        line.bad += [("wrong type", f"{op}.{t} {d}, {rng.choice(REGS[OTHER_TYPE[t]])}, {b}"),
                     ("missing operand", f"{op}.{t} {d}, {a}"),
                     ("extra operand", f"{op}.{t} {d}, {a}, {b}, {a}")]
        if t[0] in "us":
            line.bad.append(("float immediate", f"{op}.{t} {d}, {a}, 1.5"))
    elif kind == "fma":
        t = rng.choice(["f32", "f64"])
        d, a, b, c = rng.choice(DESTS[t]), _src(rng, t, line, False), _src(rng, t, line), _src(rng, t, line)
        line.text = f"fma.rn.{t} {d}, {a}, {b}, {c}"
        line.bad.append(("wrong type", f"fma.rn.{t} {d}, {a}, {b}, {rng.choice(REGS['pred'])}"))
    elif kind == "mad":
        t = rng.choice(["u32", "s32"])
        d, a, b, c = rng.choice(DESTS[t]), _src(rng, t, line, False), _src(rng, t, line), _src(rng, t, line)
        line.text = f"mad.lo.{t} {d}, {a}, {b}, {c}"
        line.bad.append(("unknown opcode", f"mda.lo.{t} {d}, {a}, {b}, {c}"))
    elif kind == "logic":
        op = rng.choice(["and", "or", "xor"])
        d, a, b = rng.choice(DESTS["b32"] + DESTS["u32"]), _src(rng, "b32", line, False), _src(rng, "b32", line)
        line.text = f"{op}.b32 {d}, {a}, {b}"
        line.bad.append(("unknown type", f"{op}.b33 {d}, {a}, {b}"))
    elif kind == "shift":
        t = rng.choice(["u32", "s32", "b32"])
        op = "shl" if t == "b32" else "shr"
        d, a = rng.choice(DESTS[t]), _src(rng, t, line, False)
        n = rng.randint(0, 31)
        line.imms.append(n)
        line.text = f"{op}.{t} {d}, {a}, {int_literal(rng, n)}"
        line.bad.append(("unknown register", f"{op}.{t} {d}, zz9, {n}"))
    elif kind == "setp":
        t = rng.choice(["u32", "s32", "f32", "u64"])
        cmp = rng.choice(CMPS["float" if t[0] == "f" else "int"])
        p, a, b = rng.choice(DESTS["pred"]), _src(rng, t, line, False), _src(rng, t, line)
        line.text = f"setp.{cmp}.{t} {p}, {a}, {b}"
        line.bad.append(("destination not a predicate", f"setp.{cmp}.{t} {rng.choice(DESTS['f32'])}, {a}, {b}"))
    elif kind == "selp":
        t = rng.choice(["u32", "s32", "f32"])
        d, a, b = rng.choice(DESTS[t]), _src(rng, t, line), _src(rng, t, line)
        pr = rng.choice(REGS["pred"])
        line.text = f"selp.{t} {d}, {a}, {b}, {pr}"
        line.bad.append(("selector not a predicate", f"selp.{t} {d}, {a}, {b}, {rng.choice(DESTS['f32'])}"))
    elif kind == "mov":
        t = rng.choice(["u32", "s32", "u64", "f32", "f64", "b32"])
        d = rng.choice(DESTS[t])
        line.text = f"mov.{t} {d}, {_src(rng, t, line)}"
        line.bad.append(("index out of range", f"mov.{t} ua[9], {rng.choice(REGS['u32'])}"
                         if t in ("u32", "b32", "s32") else f"mov.{t} fa[4], {rng.choice(REGS['f32'])}"))
    elif kind == "cvt":
        form = rng.choice([("rn.f32.s32", "f32", "s32"), ("rzi.s32.f32", "s32", "f32"), ("u64.u32", "u64", "u32"),
                           ("rn.f64.f32", "f64", "f32"), ("rn.f32.f64", "f32", "f64")])
        d, a = rng.choice(DESTS[form[1]]), rng.choice(REGS[form[2]])
        line.text = f"cvt.{form[0]} {d}, {a}"
        line.bad.append(("unknown opcode", f"cvtt.{form[0]} {d}, {a}"))
    elif kind == "ld":
        t = rng.choice(["u32", "f32", "s32", "f64", "u64"])
        sp = rng.choice(["global", "shared", "local", ""])
        d = rng.choice(DESTS[t])
        mem, base = _mem(rng, line, 8 if t in ("f64", "u64") else 4)
        op = f"ld.{sp}.{t}" if sp else f"ld.{t}"
        line.text = f"{op} {d}, {mem}"
        line.bad.append(("float offset", f"{op} {d}, [{base}+1.5]"))
        line.bad.append(("address not an integer", f"{op} {d}, [{rng.choice(REGS['f32'])}]"))
    elif kind == "st":
        t = rng.choice(["u32", "f32", "s32", "f64"])
        mem, base = _mem(rng, line, 8 if t == "f64" else 4)
        v = _src(rng, t, line)
        line.text = f"st.global.{t} {mem}, {v}"
        line.bad.append(("float offset", f"st.global.{t} [{base}+0.25], {v}"))
        line.bad.append(("missing operand", f"st.global.{t} {mem}"))
    elif kind == "ldv":
        mem, base = _mem(rng, line, 16)
        vec = "{" + ", ".join(f"fa[{i}]" for i in range(4)) + "}"
        op = rng.choice(["ld.global.v4.f32", "ld.shared.v4.f32"])
        line.text = f"{op} {vec}, {mem}"
        line.bad.append(("float offset", f"{op} {vec}, [{base}+2.5]"))
        line.bad.append(("index out of range", f"{op} {{fa[0], fa[1], fa[2], fa[4]}}, {mem}"))
    elif kind == "special":
        sr = rng.choice(["%tid.x", "%tid.y", "%ntid.x", "%ctaid.x", "%nctaid.y", "%laneid", "%warpid"])
        d = rng.choice(DESTS["u32"])
        line.text = f"mov.u32 {d}, {sr}"
        line.bad.append(("malformed literal", f"add.u32 {d}, {d}, 0x"))
    elif kind == "wide":
        t = rng.choice(["u32", "s32"])
        d = rng.choice(DESTS["u64"]) if t == "u32" else rng.choice(DESTS["u64"])
        a, b = rng.choice(REGS[t]), _src(rng, t, line)
        line.text = f"mul.wide.{t} {d}, {a}, {b}"
        line.bad.append(("malformed literal", f"mul.wide.{t} {d}, {a}, 0b102"))
    elif kind == "setp2":  # a predicate pair destination
        t = rng.choice(["u32", "s32", "f32"])
        cmp = rng.choice(CMPS["float" if t[0] == "f" else "int"])
        a, b = _src(rng, t, line, False), _src(rng, t, line)
        line.text = f"setp.{cmp}.{t} p0|p1, {a}, {b}"
        line.bad.append(("pair of non-predicates", f"setp.{cmp}.{t} p0|u1, {a}, {b}"))
    elif kind == "setpbool":  # a combining predicate, maybe negated
        t = rng.choice(["u32", "f32"])
        cmp = rng.choice(CMPS["float" if t[0] == "f" else "int"])
        a, b = _src(rng, t, line, False), _src(rng, t, line)
        c = f"{'!' if rng.random() < 0.5 else ''}{rng.choice(REGS['pred'])}"
        bop = rng.choice(["and", "or", "xor"])
        line.text = f"setp.{cmp}.{bop}.{t} {rng.choice(DESTS['pred'])}, {a}, {b}, {c}"
        line.bad.append(("undeclared register", f"setp.{cmp}.{bop}.{t} p0, {a}, {b}, !p7"))
    elif kind == "stv":  # a brace list with immediates
        mem, base = _mem(rng, line, 8)
        x, y = _src(rng, "f32", line), _src(rng, "f32", line)
        line.text = f"st.global.v2.f32 {mem}, {{{x}, {y}}}"
        line.bad.append(("float offset", f"st.global.v2.f32 [{base}+0.5], {{{x}, {y}}}"))
        line.bad.append(("unknown register", f"st.global.v2.f32 {mem}, {{{x}, %r9}}"))
    elif kind == "ldabs":  # an absolute address
        a = rng.choice([0, 4, 256, 4096 * rng.randint(1, 1000)])
        line.offsets.append(a)
        d = rng.choice(DESTS["u32"])
        line.text = f"ld.global.u32 {d}, [{int_literal(rng, a)}]"
        line.bad.append(("float offset", f"ld.global.u32 {d}, [4.5]"))
    else:  # minmax
        t = rng.choice(["u32", "s32", "f32"])
        op = rng.choice(["min", "max"])
        d, a, b = rng.choice(DESTS[t]), _src(rng, t, line, False), _src(rng, t, line)
        line.text = f"{op}.{t} {d}, {a}, {b}"
        line.bad.append(("malformed literal", f"{op}.{t} {d}, {a}, 08"))
    if rng.random() < 0.2:  # a guard on any instruction
        g = f"@{'!' if rng.random() < 0.5 else ''}{rng.choice(REGS['pred'])} "
        line.bad.append(("guard not a predicate", f"@{rng.choice(DESTS['u32'])} {line.text}"))
        line.text = g + line.text
        line.bad = [(k, t if t.startswith("@") else g + t) for k, t in line.bad]
    return line


@dataclass
class Program:
    text: str
    lines: dict[int, Line]  # source line number -> generated instruction
    mutated: int | None = None  # the line that carries a planted mistake
    mutation: str = ""


def gen_program(rng: random.Random, mutate: bool) -> Program:
    """A kernel of generated instructions; with ``mutate``, one of them replaced by a mistake."""
    body = [gen_instr(rng) for _ in range(rng.randint(1, 12))]
    head = HEAD.splitlines()
    out, lines = list(head), {}
    label_at = rng.randrange(len(body) + 1)
    for i, ln in enumerate(body):
        if i == label_at:
            out.append("L_end:")
        if rng.random() < 0.1:
            out.append(f"@{rng.choice(REGS['pred'])} bra L_end")
        out.append("    " + ln.text)
        lines[len(out)] = ln
    if label_at == len(body):
        out.append("L_end:")
    out.append("    ret")
    prog = Program("\n".join(out) + "\n", lines)
    if mutate:
        candidates = [(n, b) for n, ln in lines.items() for b in ln.bad]
        candidates.append((None, ("undefined label", "bra L_nowhere")))
        n, (kind, text) = rng.choice(candidates)
        if n is None:
            out.insert(len(head), "    bra L_nowhere")
            n = len(head) + 1
        else:
            out[n - 1] = "    " + text
        prog = Program("\n".join(out) + "\n", {}, n, kind)
    return prog


# ------------------------------------------------------------------------------------------- oracle


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, float) and isinstance(b, float)):
            return False
        return struct.pack(">d", a) == struct.pack(">d", b) or (math.isnan(a) and math.isnan(b))
    return a == b


def _opcode(text: str) -> str:
    words = text.split()
    return (words[1] if words[0].startswith("@") else words[0]).split(".")[0]


def _values(instr) -> tuple[list, list]:
    from sass_lab import ir

    imms, offs = [], []

    def walk(op):
        if isinstance(op, ir.Imm):
            imms.append(op.value)
        elif isinstance(op, ir.Mem):
            offs.append(op.offset)
        elif isinstance(op, ir.Vec):
            for x in op.items:
                walk(x)

    for op in instr.operands:
        walk(op)
    return imms, offs


def check(prog: Program) -> str | None:
    """None when the front end behaves, else a one-line finding."""
    from sass_lab import ir
    from sass_lab.backend.ptx import emit
    from sass_lab.dsl import frontend
    from sass_lab.emulator.ptx import parse_ptx
    from sass_lab.errors import SourceError

    try:
        front = frontend(prog.text, FILE, {})
    except SourceError as e:
        if prog.mutated is None:
            return f"valid input refused: {e.render().splitlines()[0]}"
        if e.span is None or e.span.file != FILE:
            return f"{prog.mutation}: error without a location in the file: {e.message}"
        if e.span.line != prog.mutated:
            return f"{prog.mutation}: error at line {e.span.line}, mistake on line {prog.mutated}: {e.message}"
        e.render()
        return None
    if prog.mutated is not None:
        return f"{prog.mutation} on line {prog.mutated} accepted"
    kernel = front.module.kernels[0]
    seen = {}
    for x in kernel.body:
        if isinstance(x, ir.Instr) and x.span is not None and x.span.line in prog.lines:
            seen[x.span.line] = x
    for n, ln in prog.lines.items():
        if n not in seen:
            return f"line {n} lost: {ln.text}"
        imms, offs = _values(seen[n])
        if len(imms) != len(ln.imms) or not all(_same(a, b) for a, b in zip(imms, ln.imms)):
            return f"line {n} `{ln.text}`: immediates read as {imms}, written as {ln.imms}"
        if offs != ln.offsets:
            return f"line {n} `{ln.text}`: offsets read as {offs}, written as {ln.offsets}"
    emitted = emit(front.module, "sm_90")
    back = parse_ptx(emitted.text).kernels[0]
    for x in back.body:
        if not isinstance(x, ir.Instr) or x.span is None:
            continue
        src = emitted.line_map[x.span.line - 1] if x.span.line <= len(emitted.line_map) else None
        ln = prog.lines.get(src.line) if src is not None and src.file == FILE else None
        if ln is None or x.opcode != _opcode(ln.text):
            continue  # a helper the backend adds on the same line (not.pred for a `!p` operand)
        imms, offs = _values(x)
        if len(imms) != len(ln.imms) or not all(_same(a, b) for a, b in zip(imms, ln.imms)):
            return f"PTX round trip, line {src.line} `{ln.text}`: the PTX reader sees {imms}, written {ln.imms}"
        if offs != ln.offsets:
            return f"PTX round trip, line {src.line} `{ln.text}`: the PTX reader sees offsets {offs}, written {ln.offsets}"
    return None


def make(seed: int, i: int) -> Program:
    rng = random.Random(seed * 1_000_003 + i)
    return gen_program(rng, mutate=rng.random() < 0.5)


def run_one(seed: int, i: int) -> tuple[str, str | None]:
    """("ok"|"finding"|"internal", message) for input ``i``."""
    prog = make(seed, i)
    try:
        msg = check(prog)
    except Exception as e:  # noqa: BLE001 - exactly what the fuzzer looks for
        return "internal", f"{type(e).__name__}: {e}"
    return ("finding", msg) if msg else ("ok", None)


# ------------------------------------------------------------------------------------------- runner


def _worker(conn, seed: int, start: int, stop: int) -> None:
    for i in range(start, stop):
        conn.send(("start", i))
        conn.send(("done", i, *run_one(seed, i)))
    conn.send(("end",))


def fuzz(n: int, seed: int = 0, timeout: float = 20.0, verbose: bool = False) -> dict:
    """Run inputs 0..n-1 in a worker process; a hang or a crash costs one input and a fresh worker."""
    counts = {"inputs": 0, "valid": 0, "values": 0, "refused": 0, "findings": 0, "internal": 0, "hangs": 0,
              "crashes": 0}
    examples: list[str] = []
    ctx = mp.get_context("fork")
    i = 0
    t0 = time.perf_counter()
    while i < n:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, seed, i, n), daemon=True)
        proc.start()
        child.close()
        current = i
        while True:
            if not parent.poll(timeout):
                proc.kill()
                counts["hangs"] += 1
                examples.append(f"hang: input {current}")
                i = current + 1
                break
            try:
                msg = parent.recv()
            except EOFError:
                counts["crashes"] += 1
                examples.append(f"crash (exit {proc.exitcode}): input {current}")
                i = current + 1
                break
            if msg[0] == "start":
                current = msg[1]
            elif msg[0] == "done":
                _, idx, status, text = msg
                counts["inputs"] += 1
                if status == "internal":
                    counts["internal"] += 1
                elif status == "finding":
                    counts["findings"] += 1
                elif (prog := make(seed, idx)).mutated is None:
                    counts["valid"] += 1
                    counts["values"] += sum(len(ln.imms) + len(ln.offsets) for ln in prog.lines.values())
                else:
                    counts["refused"] += 1
                if status != "ok":
                    examples.append(f"{status}: input {idx}: {text}")
                    if verbose:
                        print(f"--- input {idx} ({status}): {text}\n{make(seed, idx).text}", file=sys.stderr)
                i = idx + 1
            else:
                i = n
                break
        proc.join(1)
        if proc.is_alive():
            proc.kill()
    counts["seconds"] = round(time.perf_counter() - t0, 1)
    counts["examples"] = examples[:20]
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20000, help="inputs (default 20000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds one input may take (a hang past it)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each finding's input")
    args = ap.parse_args(argv)
    c = fuzz(args.n, args.seed, args.timeout, args.verbose)
    print(f"{c['inputs']} inputs in {c['seconds']} s: {c['valid']} valid ({c['values']} literal values "
          "round-tripped through the front end and the emitted PTX), "
          f"{c['refused']} with a planted mistake refused on its line; findings {c['findings']}, "
          f"internal errors {c['internal']}, hangs {c['hangs']}, crashes {c['crashes']}")
    for e in c["examples"]:
        print("  " + e)
    bad = c["findings"] + c["internal"] + c["hangs"] + c["crashes"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
