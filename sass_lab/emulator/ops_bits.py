"""Bit instructions: and/or/xor/not/cnot, shl/shr, shf, bfe/bfi, popc/clz/brev/bfind, prmt, lop3."""

from __future__ import annotations

import numpy as np

from .. import ir
from . import values as V
from .decode import Ctx, alu, builder, split_mods
from .ops_int import I64, U64, bits


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
    return alu(ctx, ins, "b32", f, 3, src_ts=["b32", "b32", "u32"])


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
            return alu(ctx, ins, t, np.logical_not, 1)
    if ins.opcode == "not":
        return alu(ctx, ins, t, np.invert, 1)
    if ins.opcode == "cnot":
        dt = V.dtype(t)
        return alu(ctx, ins, t, lambda a: (a == 0).astype(dt), 1)
    return alu(ctx, ins, t, f, 2)


@builder("shl", "shr")
def shifts(ctx: Ctx, ins: ir.Instr):
    types, _ = split_mods(ins.mods)
    t = types[-1]
    n = bits(t)
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
    return alu(ctx, ins, t, f, 2, src_ts=[t, "u32"])


def bfe(a, pos, ln, t: str):
    n = bits(t)
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
    n = bits(t)
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
            "ecl": [np.maximum(c0, k) for k in range(4)],  # edge clamp left: bytes below c repeat byte c
            "ecr": [np.minimum(c0, k) for k in range(4)],  # edge clamp right: bytes above c repeat byte c
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


def fns(mask, base, offset):
    """``fns.b32``: the position of the |offset|-th set bit of ``mask`` counting from bit ``base`` up
    (offset > 0) or down (offset < 0); offset 0 asks for ``base`` itself; 0xffffffff when none."""
    m = np.asarray(mask).astype(np.uint32).astype(np.int64)
    b = np.asarray(base).astype(np.int64) & 0xFFFFFFFF
    off = np.asarray(offset).astype(np.int32).astype(np.int64)
    m, b, off = np.broadcast_arrays(m, b, off)
    out = np.full(m.shape, 0xFFFFFFFF, np.int64)
    at_base = (off == 0) & (b < 32) & (((m >> np.minimum(b, 31)) & 1) == 1)
    out = np.where(at_base, b, out)
    need = np.abs(off)  # set bits still to pass, walking one position per step
    found = off == 0
    for step in range(32):
        pos = np.where(off > 0, b + step, b - step)
        inside = (pos >= 0) & (pos < 32) & ~found
        hit = inside & (((m >> np.clip(pos, 0, 31)) & 1) == 1)
        need = need - hit
        done = hit & (need == 0)
        out = np.where(done, pos, out)
        found |= done
    return out.astype(np.uint32)


def bmsk(a, b, clamp: bool):
    """PTX ``bmsk``: a mask of ``b`` bits from bit ``a`` (``.wrap``: both mod 32; ``.clamp``: a start ≥ 32
    is an empty mask, a width ≥ 32 or a start + width ≥ 32 runs to bit 31)."""
    a, b = np.asarray(a, np.uint32), np.asarray(b, np.uint32)
    a1, b1 = a & np.uint32(31), b & np.uint32(31)
    ones = np.uint64(0xFFFFFFFF)
    mask0 = (ones << a1.astype(np.uint64)) & ones
    s = a1.astype(np.uint64) + b1
    mask1 = (ones << np.minimum(s, np.uint64(32))) & ones
    overflow = s >= 32
    if clamp:
        mask0 = np.where(a >= 32, np.uint64(0), mask0)
        overflow = overflow | (a >= 32) | (b >= 32)
    mask1 = np.where(overflow, np.uint64(0), np.where(b1 == 0, ones, mask1))
    return (mask0 & ~mask1 & ones).astype(np.uint32)


@builder("bmsk")
def bmsk_op(ctx: Ctx, ins: ir.Instr):
    _, mods = split_mods(ins.mods)
    if mods not in ({"clamp"}, {"wrap"}):
        raise ctx.error(f"'{ins.name}' needs one mode, .clamp or .wrap")
    clamp = "clamp" in mods
    return alu(ctx, ins, "b32", lambda a, b: bmsk(a, b, clamp), 2, src_ts=["u32", "u32"])


def szext(a, b, clamp: bool, signed: bool):
    """PTX ``szext``: sign- (``.s32``) or zero-extend (``.u32``) the low ``b`` bits of ``a`` (``.wrap``: b mod 32,
    where 0 bits give 0; ``.clamp``: b ≥ 32 keeps ``a`` whole), as the ISA's pseudocode."""
    a, b = np.asarray(a, np.uint32), np.asarray(b, np.uint32)
    b1 = (b & np.uint32(31)).astype(np.uint64)
    big = (b >= 32) if clamp else np.zeros(b.shape, bool)
    mask = np.where(big, np.uint64(0), (np.uint64(0xFFFFFFFF) << b1) & np.uint64(0xFFFFFFFF))
    sign = ((a.astype(np.uint64) >> ((b1 + np.uint64(31)) & np.uint64(31))) & np.uint64(1)).astype(bool)
    sign &= signed & (b1 != 0) & ~big
    return ((a & ~mask.astype(np.uint32)) | np.where(sign, mask, np.uint64(0)).astype(np.uint32)).astype(np.uint32)


@builder("szext")
def szext_op(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    if mods not in ({"clamp"}, {"wrap"}) or types not in (["s32"], ["u32"]):
        raise ctx.error(f"'{ins.name}' needs one mode (.clamp or .wrap) and a type (.s32 or .u32)")
    clamp, signed = "clamp" in mods, types[0] == "s32"
    return alu(ctx, ins, "b32", lambda a, b: szext(a, b, clamp, signed), 2, src_ts=["u32", "u32"])


@builder("bfe", "bfi", "popc", "clz", "brev", "prmt", "lop3", "bfind", "fns")
def bitops(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    t = types[-1] if types else "b32"
    n = bits(t)
    op = ins.opcode
    if op == "bfe":
        return alu(ctx, ins, t, lambda a, p, ln: bfe(a, p, ln, t), 3, src_ts=[t, "u32", "u32"])
    if op == "bfi":
        return alu(ctx, ins, t, lambda f, b, p, ln: bfi(f, b, p, ln, t), 4, src_ts=[t, t, "u32", "u32"])
    if op == "popc":
        return alu(ctx, ins, t, lambda a: np.bitwise_count(np.asarray(a)).astype(np.uint32), 1, dst_t="u32")
    if op == "clz":
        return alu(ctx, ins, t, lambda a: clz(a, n), 1, dst_t="u32")
    if op == "brev":
        return alu(ctx, ins, t, lambda a: brev(a, n).view(V.dtype(t)), 1)
    if op == "bfind":
        def bf(a):
            a = np.asarray(a)
            x = np.where(a < 0, ~a, a) if t[0] == "s" else a
            z = clz(x, n).astype(np.int64)
            pos = (n - 1 - z)
            r = np.where(pos < 0, 0xFFFFFFFF, pos if "shiftamt" not in mods else n - 1 - pos)
            return r.astype(np.uint32)
        return alu(ctx, ins, t, bf, 1, dst_t="u32")
    if op == "prmt":
        mode = next((m for m in mods if m in ("f4e", "b4e", "rc8", "ecl", "ecr", "rc16")), "")
        return alu(ctx, ins, "b32", lambda a, b, c: prmt(a, b, c, mode), 3)
    if op == "fns":
        return alu(ctx, ins, "b32", fns, 3, src_ts=["b32", "u32", "s32"])
    if op == "lop3":
        ops = ins.operands
        if len(ops) != 5 or not isinstance(ops[4], ir.Imm):
            raise ctx.error("lop3 needs d, a, b, c, immLut")
        lut = int(ops[4].value) & 0xFF
        return alu(ctx, ins, "b32", lambda a, b, c: lop3(a, b, c, lut), 3)
    raise ctx.error(f"'{ins.name}' is not supported by the emulator")
