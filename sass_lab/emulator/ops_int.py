"""Integer, bit and predicate instructions: add … lop3, mov, selp/slct, setp/set.

Every builder returns ``fn(st, wm, gm)``; numbers wrap at the PTX width (numpy's fixed-width ints),
``mul.hi``/``mul.wide`` go through 64-bit (or split 32×32) products.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from . import values as V
from .decode import Ctx, builder, split_mods

U32, U64, I64 = np.uint32, np.uint64, np.int64


def _alu(ctx: Ctx, ins: ir.Instr, t: str, f, nsrc: int, dst_t: str | None = None, src_ts=None):
    """Generic ``d = f(a, b, …)`` builder."""
    ops = ins.operands
    if len(ops) < nsrc + 1:
        raise ctx.error(f"'{ins.name}' needs {nsrc + 1} operands")
    src_ts = src_ts or [t] * nsrc
    gets = [ctx.src(o, st_) for o, st_ in zip(ops[1:nsrc + 1], src_ts)]
    put = ctx.dst(ops[0], dst_t or t)
    if nsrc == 1:
        (g0,) = gets

        def h1(st, wm, gm):
            put(st, f(g0(st)), wm)
        return h1
    if nsrc == 2:
        g0, g1 = gets

        def h2(st, wm, gm):
            put(st, f(g0(st), g1(st)), wm)
        return h2
    if nsrc == 3:
        g0, g1, g2 = gets

        def h3(st, wm, gm):
            put(st, f(g0(st), g1(st), g2(st)), wm)
        return h3

    def hn(st, wm, gm):
        put(st, f(*[g(st) for g in gets]), wm)
    return hn


def _bits(t: str) -> int:
    return V.dtype(t).itemsize * 8


def _wide(t: str) -> str:
    return {"u16": "u32", "s16": "s32", "u32": "u64", "s32": "s64", "b32": "u64"}.get(t, t)


def mul_hi(a, b, t: str):
    n = _bits(t)
    if n <= 32:
        w = np.int64 if t[0] == "s" else np.uint64
        return ((np.asarray(a).astype(w) * np.asarray(b).astype(w)) >> w(n)).astype(V.dtype(t))
    # 64×64 → high 64 bits from 32-bit halves
    au, bu = np.asarray(a).view(U64), np.asarray(b).view(U64)
    m = U64(0xFFFFFFFF)
    a0, a1, b0, b1 = au & m, au >> U64(32), bu & m, bu >> U64(32)
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> U64(32)) + (p01 & m) + (p10 & m)
    hi = p11 + (p01 >> U64(32)) + (p10 >> U64(32)) + (mid >> U64(32))
    if t[0] == "s":
        hi = hi - np.where(np.asarray(a).view(I64) < 0, bu, U64(0)) - np.where(np.asarray(b).view(I64) < 0, au, U64(0))
    return hi.view(V.dtype(t))


def mul24(a, b, signed: bool, hi: bool):
    """24×24-bit product of the low 24 bits (sign-extended for s32): bits 31..0, or 47..16 with .hi."""
    def low24(x):
        x = np.asarray(x).astype(np.int64) & 0xFFFFFF
        return np.where(x & 0x800000, x - (1 << 24), x) if signed else x
    p = low24(a) * low24(b)
    r = (p >> 16) if hi else p
    return (r & 0xFFFFFFFF).astype(np.uint32).view(np.int32 if signed else np.uint32)


def _sat32(x64):
    return np.clip(x64, -(2**31), 2**31 - 1).astype(np.int32)


def idiv(a, b, signed: bool):
    """C-style truncating division; x/0 gives all ones (as the hardware does for unsigned)."""
    zero = b == 0
    bb = np.where(zero, 1, b).astype(b.dtype)
    if not signed:
        return np.where(zero, ~np.zeros_like(a), a // bb)
    q = np.abs(a.astype(I64)) // np.abs(bb.astype(I64))
    q = np.where((a < 0) != (bb < 0), -q, q)
    return np.where(zero, -1, q).astype(a.dtype)


def irem(a, b, signed: bool):
    q = idiv(a, b, signed)
    r = a - q * b
    return np.where(b == 0, a, r).astype(a.dtype)


@builder("add", "sub", "mul", "mad", "mul24", "mad24", "div", "rem", "abs", "neg", "min", "max",
         "sad", "fma", "sqrt", "rsqrt", "rcp", "ex2", "lg2", "sin", "cos", "tanh", "copysign", "testp")
def arith(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    t = types[-1] if types else ""
    if V.is_float(t) or t in ("f16x2", "bf16x2") or ins.opcode in ("fma", "sqrt", "rsqrt", "rcp", "ex2",
                                                                  "lg2", "sin", "cos", "tanh", "copysign",
                                                                  "testp"):
        from .ops_float import float_arith

        return float_arith(ctx, ins, t, mods)
    if not t:
        raise ctx.error(f"'{ins.name}' has no type")
    op = ins.opcode
    signed = t[0] == "s"
    dt = V.dtype(t)
    if "cc" in mods:
        return carry(ctx, ins)
    if op == "add":
        if "sat" in mods:
            return _alu(ctx, ins, t, lambda a, b: _sat32(a.astype(I64) + b), 2)
        return _alu(ctx, ins, t, np.add, 2)
    if op == "sub":
        if "sat" in mods:
            return _alu(ctx, ins, t, lambda a, b: _sat32(a.astype(I64) - b), 2)
        return _alu(ctx, ins, t, np.subtract, 2)
    if op in ("mul24", "mad24"):
        if t not in ("u32", "s32") or "sat" in mods:
            raise ctx.error(f"'{ins.name}' is not supported by the emulator")
        hi = "hi" in mods
        if op == "mul24":
            return _alu(ctx, ins, t, lambda a, b: mul24(a, b, signed, hi), 2)
        return _alu(ctx, ins, t, lambda a, b, c: mul24(a, b, signed, hi) + c, 3)
    if op == "mul":
        if "wide" in mods:
            w = _wide(t)
            wd = V.dtype(w)
            return _alu(ctx, ins, t, lambda a, b: np.asarray(a).astype(wd) * np.asarray(b).astype(wd), 2, dst_t=w)
        if "hi" in mods:
            return _alu(ctx, ins, t, lambda a, b: mul_hi(a, b, t), 2)
        return _alu(ctx, ins, t, np.multiply, 2)
    if op == "mad":
        if "wide" in mods:
            w = _wide(t)
            wd = V.dtype(w)
            return _alu(ctx, ins, t, lambda a, b, c: np.asarray(a).astype(wd) * np.asarray(b).astype(wd) + c,
                        3, dst_t=w, src_ts=[t, t, w])
        if "hi" in mods:
            if "sat" in mods:
                return _alu(ctx, ins, t, lambda a, b, c: _sat32(mul_hi(a, b, t).astype(I64) + c), 3)
            return _alu(ctx, ins, t, lambda a, b, c: mul_hi(a, b, t) + c, 3)
        return _alu(ctx, ins, t, lambda a, b, c: a * b + c, 3)
    if op == "div":
        return _alu(ctx, ins, t, lambda a, b: idiv(np.asarray(a), np.asarray(b), signed), 2)
    if op == "rem":
        return _alu(ctx, ins, t, lambda a, b: irem(np.asarray(a), np.asarray(b), signed), 2)
    if op == "abs":
        return _alu(ctx, ins, t, np.abs, 1)
    if op == "neg":
        return _alu(ctx, ins, t, np.negative, 1)
    if op == "min":
        return _alu(ctx, ins, t, np.minimum, 2)
    if op == "max":
        return _alu(ctx, ins, t, np.maximum, 2)
    if op == "sad":
        return _alu(ctx, ins, t, lambda a, b, c: np.where(a > b, a - b, b - a).astype(dt) + c, 3)
    raise ctx.error(f"'{ins.name}' is not supported for integer type {t}")


# ------------------------------------------------------------------------------ carry chains


def _add_carry(a, b, cin, n: int):
    """(a + b + cin) mod 2^n and the carry out, on unsigned bit patterns."""
    if n == 32:
        s = a.astype(U64) + b.astype(U64) + cin.astype(U64)
        return (s & U64(0xFFFFFFFF)).astype(np.uint32), (s >> U64(32)).astype(np.uint32)
    s1 = a + b
    s2 = s1 + cin.astype(U64)
    return s2, ((s1 < a) | (s2 < s1)).astype(np.uint32)


@builder("addc", "subc", "madc")
def carry(ctx: Ctx, ins: ir.Instr):
    """add.cc/addc, sub.cc/subc, mad.lo|hi.cc/madc.lo|hi: the carry flag is a hidden u32 register."""
    types, mods = split_mods(ins.mods)
    t = types[-1]
    n = _bits(t)
    if n not in (32, 64):
        raise ctx.error(f"'{ins.name}' needs a 32- or 64-bit type")
    ut = "u32" if n == 32 else "u64"
    udt = V.dtype(ut)
    op = ins.opcode
    use_cin = op in ("addc", "subc", "madc")
    set_cout = "cc" in mods
    kind = op.rstrip("c") if use_cin else op
    nsrc = 3 if kind == "mad" else 2
    gets = [ctx.src(o, ut) for o in ins.operands[1:nsrc + 1]]
    put = ctx.dst(ins.operands[0], ut)
    cc = ctx.dst(ir.Reg("%cc"), "u32")
    gcc = ctx.src(ir.Reg("%cc"), "u32")
    hi = "hi" in mods

    def h(st, wm, gm):
        vals = [np.asarray(g(st)) for g in gets]
        cin = np.asarray(gcc(st)) if use_cin else np.zeros((), np.uint32)
        if kind == "sub":  # a - b - cin = a + ~b + (1 - cin); borrow = not carry
            r, c = _add_carry(vals[0], ~vals[1], (np.uint32(1) - cin), n)
            c = np.uint32(1) - c
        elif kind == "add":
            r, c = _add_carry(vals[0], vals[1], cin, n)
        else:
            p = mul_hi(vals[0], vals[1], ut) if hi else (vals[0] * vals[1]).astype(udt)
            r, c = _add_carry(p, vals[2], cin, n)
        put(st, np.asarray(r, udt), wm)
        if set_cout:
            cc(st, np.asarray(c, np.uint32), wm)
    return h


@builder("shf")
def shf(ctx: Ctx, ins: ir.Instr):
    mods = set(ins.mods)
    left, wrap = "l" in mods, "wrap" in mods

    def f(a, b, c):
        x = (np.asarray(b).astype(U64) << U64(32)) | np.asarray(a).astype(U64)
        c = np.asarray(c).astype(U64)
        k = c & U64(31) if wrap else np.minimum(c, U64(32))
        r = (x << k) >> U64(32) if left else x >> k
        return (r & U64(0xFFFFFFFF)).astype(np.uint32)
    return _alu(ctx, ins, "b32", f, 3, src_ts=["b32", "b32", "u32"])


# ------------------------------------------------------------------------------ bitwise


def _pred_or_bits(t: str) -> str:
    return t or "b32"


@builder("and", "or", "xor", "not", "cnot")
def logic(ctx: Ctx, ins: ir.Instr):
    types, _ = split_mods(ins.mods)
    t = _pred_or_bits(types[-1] if types else "")
    f = {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}.get(ins.opcode)
    if t == "pred":
        f = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}.get(ins.opcode, f)
        if ins.opcode == "not":
            return _alu(ctx, ins, t, np.logical_not, 1)
    if ins.opcode == "not":
        return _alu(ctx, ins, t, np.invert, 1)
    if ins.opcode == "cnot":
        dt = V.dtype(t)
        return _alu(ctx, ins, t, lambda a: (a == 0).astype(dt), 1)
    return _alu(ctx, ins, t, f, 2)


@builder("shl", "shr")
def shifts(ctx: Ctx, ins: ir.Instr):
    types, _ = split_mods(ins.mods)
    t = types[-1]
    n = _bits(t)
    dt = V.dtype(t)
    signed = t[0] == "s"

    if ins.opcode == "shl":
        def f(a, b):
            b = np.asarray(b)
            return np.where(b >= n, dt.type(0), a << np.minimum(b, n - 1).astype(dt)).astype(dt)
    else:
        def f(a, b):
            b = np.asarray(b)
            s = np.minimum(b, n - 1).astype(dt)
            r = a >> s
            return r if signed else np.where(b >= n, dt.type(0), r).astype(dt)
    return _alu(ctx, ins, t, f, 2, src_ts=[t, "u32"])


def bfe(a, pos, ln, t: str):
    n = _bits(t)
    signed = t[0] == "s"
    av = np.asarray(a).view(V.UINT[n // 8]).astype(U64)
    pos = np.asarray(pos).astype(I64) & 0xFF
    ln = np.asarray(ln).astype(I64) & 0xFF
    nvalid = np.clip(n - pos, 0, None)
    nvalid = np.minimum(nvalid, ln)
    sh = np.minimum(pos, 63).astype(U64)
    mask = np.where(nvalid >= 64, U64(0xFFFFFFFFFFFFFFFF), (U64(1) << np.minimum(nvalid, 63).astype(U64)) - U64(1))
    field = (av >> sh) & mask
    if signed:
        sb_pos = np.clip(pos + ln - 1, 0, n - 1).astype(U64)
        sbit = ((av >> sb_pos) & U64(1)).astype(bool) & (ln > 0)
        field = np.where(sbit, field | ~mask, field)
    full = U64((1 << n) - 1) if n < 64 else U64(0xFFFFFFFFFFFFFFFF)
    return (field & full).astype(V.UINT[n // 8]).view(V.dtype(t))


def bfi(f, b, pos, ln, t: str):
    n = _bits(t)
    fu = np.asarray(f).view(V.UINT[n // 8]).astype(U64)
    bu = np.asarray(b).view(V.UINT[n // 8]).astype(U64)
    pos = np.asarray(pos).astype(I64) & 0xFF
    ln = np.asarray(ln).astype(I64) & 0xFF
    ln = np.minimum(ln, np.clip(n - pos, 0, None))
    m = np.where(ln >= 64, U64(0xFFFFFFFFFFFFFFFF), (U64(1) << np.minimum(ln, 63).astype(U64)) - U64(1))
    sh = np.minimum(pos, 63).astype(U64)
    m = m << sh
    r = (bu & ~m) | ((fu << sh) & m)
    return r.astype(V.UINT[n // 8]).view(V.dtype(t))


def clz(a, n: int):
    x = np.asarray(a).view(V.UINT[n // 8]).astype(U64)
    count = np.zeros(x.shape, np.uint32)
    for s in (32, 16, 8, 4, 2, 1):
        if s >= n:
            continue
        top = x >> U64(n - s)
        z = top == 0
        count = count + np.where(z, s, 0).astype(np.uint32)
        x = np.where(z, x << U64(s), x) & U64((1 << n) - 1 if n < 64 else 0xFFFFFFFFFFFFFFFF)
    return count + (x == 0).astype(np.uint32)


def brev(a, n: int):
    x = np.asarray(a).view(V.UINT[n // 8]).astype(U64)
    r = np.zeros(x.shape, U64)
    for i in range(n):
        r |= ((x >> U64(i)) & U64(1)) << U64(n - 1 - i)
    return r.astype(V.UINT[n // 8])


def prmt(a, b, c, mode: str):
    x = (np.asarray(b).astype(U64) << U64(32)) | np.asarray(a).astype(U64)
    c = np.asarray(c).astype(np.uint32)
    if mode:
        c0 = (c & 3).astype(np.uint32)
        sels = {
            "f4e": [(c0 + k) & 7 for k in range(4)],
            "b4e": [(c0 - k) & 7 for k in range(4)],
            "rc8": [c0] * 4,
            "ecl": [np.minimum(c0, k) for k in range(4)],
            "ecr": [np.maximum(c0, k) for k in range(4)],
            "rc16": [(c & 1) * 2, (c & 1) * 2 + 1, (c & 1) * 2, (c & 1) * 2 + 1],
        }[mode]
        out = np.zeros(np.broadcast(x, c).shape, np.uint32)
        for k, s in enumerate(sels):
            byte = (x >> (np.asarray(s).astype(U64) * U64(8))) & U64(0xFF)
            out = out | (byte.astype(np.uint32) << np.uint32(8 * k))
        return out
    out = np.zeros(np.broadcast(x, c).shape, np.uint32)
    for k in range(4):
        sel = (c >> np.uint32(4 * k)) & np.uint32(0xF)
        byte = ((x >> ((sel & 7).astype(U64) * U64(8))) & U64(0xFF)).astype(np.uint32)
        byte = np.where(sel & 8, np.where(byte & 0x80, np.uint32(0xFF), np.uint32(0)), byte)
        out = out | (byte << np.uint32(8 * k))
    return out


def lop3(a, b, c, lut: int):
    if lut == 0:
        return np.zeros(np.broadcast(a, b, c).shape, np.uint32)
    acc = None
    for i in range(8):
        if not (lut >> i) & 1:
            continue
        x = a if i & 4 else ~a
        y = b if i & 2 else ~b
        z = c if i & 1 else ~c
        term = x & y & z
        acc = term if acc is None else acc | term
    return acc


@builder("bfe", "bfi", "popc", "clz", "brev", "prmt", "lop3", "bfind", "fns")
def bitops(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    t = types[-1] if types else "b32"
    n = _bits(t)
    op = ins.opcode
    if op == "bfe":
        return _alu(ctx, ins, t, lambda a, p, ln: bfe(a, p, ln, t), 3, src_ts=[t, "u32", "u32"])
    if op == "bfi":
        return _alu(ctx, ins, t, lambda f, b, p, ln: bfi(f, b, p, ln, t), 4, src_ts=[t, t, "u32", "u32"])
    if op == "popc":
        return _alu(ctx, ins, t, lambda a: np.bitwise_count(np.asarray(a)).astype(np.uint32), 1, dst_t="u32")
    if op == "clz":
        return _alu(ctx, ins, t, lambda a: clz(a, n), 1, dst_t="u32")
    if op == "brev":
        return _alu(ctx, ins, t, lambda a: brev(a, n).view(V.dtype(t)), 1)
    if op == "bfind":
        def bf(a):
            a = np.asarray(a)
            x = np.where(a < 0, ~a, a) if t[0] == "s" else a
            z = clz(x, n).astype(np.int64)
            pos = (n - 1 - z)
            r = np.where(pos < 0, 0xFFFFFFFF, pos if "shiftamt" not in mods else n - 1 - pos)
            return r.astype(np.uint32)
        return _alu(ctx, ins, t, bf, 1, dst_t="u32")
    if op == "prmt":
        mode = next((m for m in mods if m in ("f4e", "b4e", "rc8", "ecl", "ecr", "rc16")), "")
        return _alu(ctx, ins, "b32", lambda a, b, c: prmt(a, b, c, mode), 3)
    if op == "lop3":
        ops = ins.operands
        if len(ops) != 5 or not isinstance(ops[4], ir.Imm):
            raise ctx.error("lop3 needs d, a, b, c, immLut")
        lut = int(ops[4].value) & 0xFF
        return _alu(ctx, ins, "b32", lambda a, b, c: lop3(a, b, c, lut), 3)
    raise ctx.error(f"'{ins.name}' is not supported by the emulator")


# ------------------------------------------------------------------------------ compare / select


def compare(cmp: str, a, b, is_float: bool):
    if cmp in ("eq",):
        return a == b
    if cmp == "ne":
        return (a < b) | (a > b) if is_float else a != b
    if cmp in ("lt", "lo"):
        return a < b
    if cmp in ("le", "ls"):
        return a <= b
    if cmp in ("gt", "hi"):
        return a > b
    if cmp in ("ge", "hs"):
        return a >= b
    if cmp == "equ":
        return (a == b) | np.isnan(a) | np.isnan(b)
    if cmp == "neu":
        return a != b
    if cmp == "ltu":
        return ~(a >= b)
    if cmp == "leu":
        return ~(a > b)
    if cmp == "gtu":
        return ~(a <= b)
    if cmp == "geu":
        return ~(a < b)
    if cmp == "num":
        return ~(np.isnan(a) | np.isnan(b))
    if cmp == "nan":
        return np.isnan(a) | np.isnan(b)
    raise KeyError(cmp)


CMPS = {"eq", "ne", "lt", "le", "gt", "ge", "lo", "ls", "hi", "hs", "equ", "neu", "ltu", "leu", "gtu",
        "geu", "num", "nan"}
BOOLOPS = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}


def _cmp_sources(ctx: Ctx, ins: ir.Instr, t: str):
    """Getters returning comparable arrays (half types widened to f32)."""
    a, b = ins.operands[1], ins.operands[2]
    if t in ("f16", "bf16"):
        ga, gb = ctx.src(a, t), ctx.src(b, t)
        conv = V.bf16_to_f32 if t == "bf16" else (lambda x: np.asarray(x).astype(np.float32))
        return (lambda st: conv(ga(st))), (lambda st: conv(gb(st)))
    return ctx.src(a, t), ctx.src(b, t)


@builder("setp", "set")
def setp(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    cmp = next((m for m in ins.mods if m in CMPS), None)
    if cmp is None:
        raise ctx.error(f"'{ins.name}' has no comparison")
    t = types[-1]
    fl = V.is_float(t)
    if t in ("f16x2", "bf16x2"):
        raise ctx.error(f"'{ins.name}' (packed half compare) is not supported by the emulator")
    boolop = next((BOOLOPS[m] for m in ins.mods if m in BOOLOPS), None)
    ga, gb = _cmp_sources(ctx, ins, t)
    gc = ctx.src(ins.operands[3], "pred") if boolop is not None else None
    d = ins.operands[0]
    if ins.opcode == "set":
        dt_t = types[0]
        one = V.const(1.0, V.dtype(dt_t)) if V.is_float(dt_t) else V.const(-1, V.dtype(dt_t))
        zero = V.const(0, V.dtype(dt_t))
        put = ctx.dst(d, dt_t)

        def hs(st, wm, gm):
            p = compare(cmp, ga(st), gb(st), fl)
            if boolop is not None:
                p = boolop(p, gc(st))
            put(st, np.where(p, one, zero), wm)
        return hs
    pair = isinstance(d, ir.PredPair)
    put_p = ctx.dst(d.first if pair else d, "pred")
    put_q = ctx.dst(d.second, "pred") if pair else None

    def h(st, wm, gm):
        p = compare(cmp, ga(st), gb(st), fl)
        if boolop is None:
            put_p(st, p, wm)
            if put_q is not None:
                put_q(st, ~p, wm)
            return
        c = gc(st)
        put_p(st, boolop(p, c), wm)
        if put_q is not None:
            put_q(st, boolop(~p, c), wm)
    return h


@builder("selp")
def selp(ctx: Ctx, ins: ir.Instr):
    types, _ = split_mods(ins.mods)
    t = types[-1]
    return _alu(ctx, ins, t, lambda a, b, c: np.where(c, a, b), 3, src_ts=[t, t, "pred"])


@builder("slct")
def slct(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    t, ct = types[0], types[-1]
    if ct == "f32" and "ftz" in mods:
        return _alu(ctx, ins, t, lambda a, b, c: np.where(V.ftz32(c) >= 0, a, b), 3, src_ts=[t, t, ct])
    return _alu(ctx, ins, t, lambda a, b, c: np.where(c >= 0, a, b), 3, src_ts=[t, t, ct])


@builder("mov")
def mov(ctx: Ctx, ins: ir.Instr):
    types, _ = split_mods(ins.mods)
    t = types[-1] if types else "b32"
    d, a = ins.operands[0], ins.operands[1]
    n = _bits(t) if t != "pred" else 1
    if isinstance(a, ir.Vec):  # pack {lo, hi, ...} into one wider value
        k = len(a.items)
        part = V.UINT[n // 8 // k]
        gets = [ctx.src(x, {1: "b8", 2: "b16", 4: "b32"}[part.itemsize]) for x in a.items]
        put = ctx.dst(d, t)
        w = V.UINT[n // 8]

        def pack(st, wm, gm):
            acc = None
            for j, g in enumerate(gets):
                v = np.asarray(g(st)).view(part).astype(w) << w.type(8 * part.itemsize * j)
                acc = v if acc is None else acc | v
            put(st, acc.view(V.dtype(t)), wm)
        return pack
    if isinstance(d, ir.Vec):  # unpack into {lo, hi, ...}
        k = len(d.items)
        part_t = {1: "b8", 2: "b16", 4: "b32"}[n // 8 // k]
        part = V.UINT[n // 8 // k]
        g = ctx.src(a, t)
        puts = [ctx.dst(x, part_t) for x in d.items]
        w = V.UINT[n // 8]

        def unpack(st, wm, gm):
            v = np.asarray(g(st)).view(w)
            for j, p in enumerate(puts):
                p(st, ((v >> w.type(8 * part.itemsize * j)) & w.type((1 << (8 * part.itemsize)) - 1)).astype(part), wm)
        return unpack
    return _alu(ctx, ins, t, lambda x: x, 1)  # registers, immediates, specials, symbol addresses
