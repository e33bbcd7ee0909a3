"""Integer arithmetic (add … sad, mul.hi/.wide, mul24/mad24) and carry chains (add.cc … madc).

Every builder returns ``fn(st, wm, gm)``; numbers wrap at the PTX width (numpy's fixed-width ints),
``mul.hi``/``mul.wide`` go through 64-bit (or split 32×32) products. The carry flag of ``.cc``
instructions is a hidden ``u32`` register ``%cc``.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from . import values as V
from .decode import Ctx, alu, builder, split_mods

U32, U64, I64 = np.uint32, np.uint64, np.int64


def bits(t: str) -> int:
    return V.dtype(t).itemsize * 8


def _wide(t: str) -> str:
    return {"u16": "u32", "s16": "s32", "u32": "u64", "s32": "s64", "b32": "u64"}.get(t, t)


def mul_hi(a, b, t: str):
    n = bits(t)
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
    udt = V.UINT[a.dtype.itemsize]
    ua, ub = a.view(udt), bb.view(udt)
    mag_a = np.where(a < 0, ~ua + udt.type(1), ua)  # |INT_MIN| fits the unsigned width
    mag_b = np.where(bb < 0, ~ub + udt.type(1), ub)
    q = (mag_a // mag_b).astype(udt)
    q = np.where((a < 0) != (bb < 0), ~q + udt.type(1), q).astype(udt).view(a.dtype)
    return np.where(zero, a.dtype.type(-1), q).astype(a.dtype)


def irem(a, b, signed: bool):
    q = idiv(a, b, signed)
    r = a - q * b
    return np.where(b == 0, a, r).astype(a.dtype)


@builder("add", "sub", "mul", "mad", "mul24", "mad24", "div", "rem", "abs", "neg", "min", "max",
         "sad", "fma", "sqrt", "rsqrt", "rcp", "ex2", "lg2", "sin", "cos", "tanh", "copysign", "testp")
def arith(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    t = types[-1] if types else ""
    if t in ("u16x2", "s16x2"):
        return _packed16(ctx, ins, t, mods)
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
            return alu(ctx, ins, t, lambda a, b: _sat32(a.astype(I64) + b), 2)
        return alu(ctx, ins, t, np.add, 2)
    if op == "sub":
        if "sat" in mods:
            return alu(ctx, ins, t, lambda a, b: _sat32(a.astype(I64) - b), 2)
        return alu(ctx, ins, t, np.subtract, 2)
    if op in ("mul24", "mad24"):
        if t not in ("u32", "s32") or "sat" in mods:
            raise ctx.error(f"'{ins.name}' is not supported by the emulator")
        hi = "hi" in mods
        if op == "mul24":
            return alu(ctx, ins, t, lambda a, b: mul24(a, b, signed, hi), 2)
        return alu(ctx, ins, t, lambda a, b, c: mul24(a, b, signed, hi) + c, 3)
    if op == "mul":
        if "wide" in mods:
            w = _wide(t)
            wd = V.dtype(w)
            return alu(ctx, ins, t, lambda a, b: np.asarray(a).astype(wd) * np.asarray(b).astype(wd), 2, dst_t=w)
        if "hi" in mods:
            return alu(ctx, ins, t, lambda a, b: mul_hi(a, b, t), 2)
        return alu(ctx, ins, t, np.multiply, 2)
    if op == "mad":
        if "wide" in mods:
            w = _wide(t)
            wd = V.dtype(w)
            return alu(ctx, ins, t, lambda a, b, c: np.asarray(a).astype(wd) * np.asarray(b).astype(wd) + c,
                        3, dst_t=w, src_ts=[t, t, w])
        if "hi" in mods:
            if "sat" in mods:
                return alu(ctx, ins, t, lambda a, b, c: _sat32(mul_hi(a, b, t).astype(I64) + c), 3)
            return alu(ctx, ins, t, lambda a, b, c: mul_hi(a, b, t) + c, 3)
        return alu(ctx, ins, t, lambda a, b, c: a * b + c, 3)
    if op == "div":
        return alu(ctx, ins, t, lambda a, b: idiv(np.asarray(a), np.asarray(b), signed), 2)
    if op == "rem":
        return alu(ctx, ins, t, lambda a, b: irem(np.asarray(a), np.asarray(b), signed), 2)
    if op == "abs":
        return alu(ctx, ins, t, np.abs, 1)
    if op == "neg":
        return alu(ctx, ins, t, np.negative, 1)
    if op == "min":
        return alu(ctx, ins, t, np.minimum, 2)
    if op == "max":
        return alu(ctx, ins, t, np.maximum, 2)
    if op == "sad":
        return alu(ctx, ins, t, lambda a, b, c: np.where(a > b, a - b, b - a).astype(dt) + c, 3)
    raise ctx.error(f"'{ins.name}' is not supported for integer type {t}")


def _packed16(ctx: Ctx, ins: ir.Instr, t: str, mods: set[str]):
    """sm_90's packed ``add/sub/min/max{.relu}.{u16x2,s16x2}``: each half-word on its own (add and sub
    wrap; ``.relu`` clamps a negative signed minimum or maximum to 0)."""
    op = ins.opcode
    relu = op in ("min", "max") and t == "s16x2"
    if op not in ("add", "sub", "min", "max") or mods - ({"relu"} if relu else set()):
        raise ctx.error(f"'{ins.name}' is not supported by the emulator",
                        hint="packed 16-bit integers: add, sub, min, max (.relu on s16x2)")
    half = np.int16 if t == "s16x2" else np.uint16
    f = {"add": np.add, "sub": np.subtract, "min": np.minimum, "max": np.maximum}[op]

    def g(a, b):
        x = np.ascontiguousarray(a, np.uint32)[..., None].view(np.uint16).view(half)
        y = np.ascontiguousarray(b, np.uint32)[..., None].view(np.uint16).view(half)
        r = f(x, y).astype(half)
        if "relu" in mods:
            r = np.maximum(r, half(0))
        return r.view(np.uint16).view(np.uint32)[..., 0]
    return alu(ctx, ins, t, g, 2)


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
    n = bits(t)
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
        if kind == "sub":  # a + ~b + 1 (sub.cc) or a + ~b + CF (subc): CF holds the carry, i.e. 1 - borrow
            r, c = _add_carry(vals[0], ~vals[1], cin if use_cin else np.ones((), np.uint32), n)
        elif kind == "add":
            r, c = _add_carry(vals[0], vals[1], cin, n)
        else:
            p = mul_hi(vals[0], vals[1], ut) if hi else (vals[0] * vals[1]).astype(udt)
            r, c = _add_carry(p, vals[2], cin, n)
        put(st, np.asarray(r, udt), wm)
        if set_cout:
            cc(st, np.asarray(c, np.uint32), wm)
    return h
