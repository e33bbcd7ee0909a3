"""Packed-integer SIMD: ``dp4a``/``dp2a`` dot products and the ``vop4``/``vop2`` byte and half-word
instructions (``vadd4 vsub4 vavrg4 vabsdiff4 vmin4 vmax4`` and their ``…2`` forms) with the default
operand selectors, an optional ``.sat``, the merge with ``c`` under a mask, or the ``.add`` accumulate.

PTX ISA 9.0, "Integer Arithmetic Instructions: dp4a/dp2a" and "SIMD video instructions": every lane
is extracted and sign- or zero-extended by its operand's type, computed exactly in 64 bits, and the
32-bit result wraps. Non-default operand selectors (``a.b0123``) are refused at decode time.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from .decode import Ctx, alu, builder, split_mods

I64 = np.int64


def lanes(x, n: int, signed: bool) -> list[np.ndarray]:
    """The ``n`` lanes of 32-bit words ``x`` (8-bit lanes for n = 4, 16-bit for n = 2), extended to i64."""
    w = 32 // n
    u = np.asarray(x).astype(np.uint32).astype(I64)
    out = []
    for i in range(n):
        v = (u >> (w * i)) & ((1 << w) - 1)
        out.append(np.where(v >= (1 << (w - 1)), v - (1 << w), v) if signed else v)
    return out


def dot(a, b, c, signed_a: bool, signed_b: bool, n: int, hi: bool = False):
    """``dp4a`` (n = 4) and ``dp2a.lo/.hi`` (n = 2: a's two 16-bit lanes times two bytes of b)."""
    if n == 4:
        va, vb = lanes(a, 4, signed_a), lanes(b, 4, signed_b)
    else:
        va = lanes(a, 2, signed_a)
        vb = lanes(b, 4, signed_b)[2:] if hi else lanes(b, 4, signed_b)[:2]
    s = np.asarray(c).astype(np.uint32).astype(I64)
    for x, y in zip(va, vb):
        s = s + x * y
    return (s & 0xFFFFFFFF).astype(np.uint32)


@builder("dp4a", "dp2a")
def dp(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    if len(types) != 2 or any(t not in ("u32", "s32") for t in types) or mods - {"lo", "hi"}:
        raise ctx.error(f"'{ins.name}' is not a form of {ins.opcode} the PTX ISA defines",
                        hint=f"{ins.opcode}{'.lo' if ins.opcode == 'dp2a' else ''}.atype.btype with u32/s32 types")
    if ins.opcode == "dp2a" and len(mods) != 1:
        raise ctx.error(f"'{ins.name}' needs .lo or .hi (which two bytes of b)")
    sa, sb = types[0] == "s32", types[1] == "s32"
    n, hi = (4, False) if ins.opcode == "dp4a" else (2, "hi" in mods)
    return alu(ctx, ins, "u32", lambda a, b, c: dot(a, b, c, sa, sb, n, hi), 3)


VOPS = {"vadd": np.add, "vsub": np.subtract, "vabsdiff": lambda a, b: np.abs(a - b),
        "vmin": np.minimum, "vmax": np.maximum,
        "vavrg": lambda a, b: np.where(a + b >= 0, (a + b + 1) >> 1, (a + b) >> 1)}


def vop(a, b, c, op: str, n: int, sa: bool, sb: bool, sd: bool, sat: bool, add: bool, mask: str = ""):
    """One ``vop4``/``vop2``: lane-wise op, optional saturation, then accumulate or merge with c under
    ``mask`` (lane digits, e.g. "3210"; the default is every lane)."""
    w = 32 // n
    ts = [VOPS[op](x, y) for x, y in zip(lanes(a, n, sa), lanes(b, n, sb))]
    if sat:
        lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if sd else (0, (1 << w) - 1)
        ts = [np.clip(t, lo, hi) for t in ts]
    on = [not mask or str(i) in mask for i in range(n)]
    if add:
        s = np.asarray(c).astype(np.uint32).astype(I64)
        for t, keep in zip(ts, on):
            if keep:
                s = s + t
        return (s & 0xFFFFFFFF).astype(np.uint32)
    cl = lanes(c, n, False)
    d = np.zeros(np.shape(ts[0]), I64)
    for i, (t, keep) in enumerate(zip(ts, on)):
        d = d | (((t if keep else cl[i]) & ((1 << w) - 1)) << (w * i))
    return d.astype(np.uint32)


@builder(*(f"{o}{n}" for o in VOPS for n in (2, 4)))
def simd(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    n = int(ins.opcode[-1])
    op = ins.opcode[:-1]
    if len(types) != 3 or any(t not in ("u32", "s32") for t in types):
        raise ctx.error(f"'{ins.name}' needs three u32/s32 types (dtype, atype, btype)")
    if mods - {"sat", "add"} or len(ins.operands) != 4 or ("sat" in mods and "add" in mods):
        raise ctx.error(f"'{ins.name}' is not supported by the emulator (the default operand selectors "
                        "with .sat or .add are; masks, selectors and other modifiers are not modelled)")
    sd, sa, sb = (t == "s32" for t in types)
    sat, add = "sat" in mods, "add" in mods
    return alu(ctx, ins, "u32", lambda a, b, c: vop(a, b, c, op, n, sa, sb, sd, sat, add), 3)
