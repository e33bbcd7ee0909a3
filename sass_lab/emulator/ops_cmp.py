"""Compare and select (setp/set with every comparison and predicate combination, selp, slct) and mov."""

from __future__ import annotations

import numpy as np

from .. import ir
from . import values as V
from .decode import Ctx, alu, builder, split_mods
from .ops_int import bits

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
    """Getters returning comparable arrays (half types widened to f32; f32 subnormals flushed by .ftz)."""
    a, b = ins.operands[1], ins.operands[2]
    if t == "f32" and "ftz" in ins.mods:
        ga, gb = ctx.src(a, t), ctx.src(b, t)
        return (lambda st: V.ftz32(ga(st))), (lambda st: V.ftz32(gb(st)))
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
        return _packed_compare(ctx, ins, t, types, mods, cmp)
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


def _packed_compare(ctx: Ctx, ins: ir.Instr, t: str, types: list[str], mods: set[str], cmp: str):
    """``setp``/``set`` on ``f16x2``/``bf16x2``: each half compared on its own. ``setp`` writes the low
    half's result to ``p`` and the high half's to ``q``; ``set`` writes 1.0/0.0 per half for a half-pair
    destination, 0xFFFF/0 for ``.u32``/``.s32``. ``.ftz`` flushes subnormal f16 inputs."""
    boolop = next((BOOLOPS[m] for m in ins.mods if m in BOOLOPS), None)
    ga, gb = ctx.src(ins.operands[1], t), ctx.src(ins.operands[2], t)
    gc = ctx.src(ins.operands[3], "pred") if boolop is not None else None
    ftz = "ftz" in mods and t == "f16x2"

    def halves(st):
        out = []
        for x, y in zip(V.unpack_half2(ga(st), t), V.unpack_half2(gb(st), t)):
            if ftz:
                x, y = (v * (np.abs(v) >= np.float32(2.0 ** -14)) for v in (x, y))
            r = compare(cmp, x, y, True)
            out.append(boolop(r, gc(st)) if boolop is not None else r)
        return out
    d = ins.operands[0]
    if ins.opcode == "set":
        dt_t = types[0]
        if dt_t not in ("f16x2", "bf16x2", "u32", "s32"):
            raise ctx.error(f"'{ins.name}': a packed half compare writes f16x2, bf16x2, u32 or s32")
        one = {"f16x2": 0x3C00, "bf16x2": 0x3F80}.get(dt_t, 0xFFFF)
        put = ctx.dst(d, dt_t)

        def hs(st, wm, gm):
            lo, hi = halves(st)
            put(st, V.pack_half2(np.where(lo, one, 0), np.where(hi, one, 0)).astype(V.dtype(dt_t)), wm)
        return hs
    if not isinstance(d, ir.PredPair):
        raise ctx.error(f"'{ins.name}' needs two destination predicates p|q (low half, high half)")
    put_p, put_q = ctx.dst(d.first, "pred"), ctx.dst(d.second, "pred")

    def h(st, wm, gm):
        lo, hi = halves(st)
        put_p(st, lo, wm)
        put_q(st, hi, wm)
    return h


@builder("selp")
def selp(ctx: Ctx, ins: ir.Instr):
    types, _ = split_mods(ins.mods)
    t = types[-1]
    return alu(ctx, ins, t, lambda a, b, c: np.where(c, a, b), 3, src_ts=[t, t, "pred"])


@builder("slct")
def slct(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    t, ct = types[0], types[-1]
    if ct == "f32" and "ftz" in mods:
        return alu(ctx, ins, t, lambda a, b, c: np.where(V.ftz32(c) >= 0, a, b), 3, src_ts=[t, t, ct])
    return alu(ctx, ins, t, lambda a, b, c: np.where(c >= 0, a, b), 3, src_ts=[t, t, ct])


@builder("mov")
def mov(ctx: Ctx, ins: ir.Instr):
    types, _ = split_mods(ins.mods)
    t = types[-1] if types else "b32"
    d, a = ins.operands[0], ins.operands[1]
    n = bits(t) if t != "pred" else 1
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
    return alu(ctx, ins, t, lambda x: x, 1)  # registers, immediates, specials, symbol addresses
