"""The ``wmma`` API (load/store/mma of whole 16×16-class tiles by a warp).

wmma fragments are opaque: the PTX ISA does not say which lane holds which element, only that
``wmma.load``, ``wmma.mma`` and ``wmma.store`` agree. The emulator uses its own layout: lane ``l``
holds elements ``l*cnt … l*cnt+cnt-1`` of the row-major tile (``cnt`` = elements / 32), repeated when
the fragment has more slots than that. Element-wise code on fragments (fill, scale) works with any
layout, as in CUDA.
"""

from __future__ import annotations

import re

import numpy as np

from .. import ir
from . import values as V
from .decode import Ctx, builder, split_mods
from .ops_mem import address, dst_lanes, lane_addresses, lanes_of, locate, space_of
from .ops_warp import check_converged

SHAPES = {"m16n16k16", "m32n8k16", "m8n32k16", "m16n16k8", "m8n8k4"}  # m8n8k4: f64 only
HALVES = ("f16", "bf16")
INTS = ("s8", "u8")
PER = {"f16": 2, "bf16": 2, "s8": 4, "u8": 4, "tf32": 1, "f32": 1, "s32": 1, "f64": 1}  # elements per register
ESIZE = {"f16": 2, "bf16": 2, "s8": 1, "u8": 1, "tf32": 4, "f32": 4, "s32": 4, "f64": 8}


def _reg(t: str) -> str:
    """The register type of a fragment of ``t`` (f64 fragments are .f64 registers, the rest .b32)."""
    return "b64" if t == "f64" else "b32"


def _shape(ctx: Ctx, ins: ir.Instr) -> tuple[int, int, int]:
    sh = next((m for m in ins.mods if m in SHAPES), None)
    if sh is None:
        raise ctx.error(f"'{ins.name}': shape not supported by the emulator", hint=f"shapes: {', '.join(sorted(SHAPES))}")
    m, n, k = (int(x) for x in re.findall(r"\d+", sh))
    return m, n, k


def _slots_layout(rows: int, cols: int, slots: int):
    """(row, col) of every (lane, slot) of a fragment: arrays of shape (32, slots)."""
    cnt = rows * cols // 32
    e = np.arange(32)[:, None] * cnt + (np.arange(slots) % cnt)[None, :]
    return e // cols, e % cols


def _elements(words: list, t: str) -> np.ndarray:
    """Fragment registers (u32 arrays over lanes) → element values (f64, or int64 for integer
    types), shape (lanes, slots)."""
    cols = []
    for w in words:
        w = np.ascontiguousarray(w).view(np.uint64 if t == "f64" else np.uint32)
        if t in HALVES:
            lo, hi = V.unpack_half2(w, "bf16x2" if t == "bf16" else "f16x2")
            cols += [lo.astype(np.float64), hi.astype(np.float64)]
        elif t == "tf32":
            cols.append((w & np.uint32(0xFFFFE000)).view(np.float32).astype(np.float64))
        elif t in INTS:
            b = w[:, None].view(np.int8 if t == "s8" else np.uint8).reshape(len(w), 4)
            cols += [b[:, j].astype(np.int64) for j in range(4)]
        elif t == "s32":
            cols.append(w.view(np.int32).astype(np.int64))
        elif t == "f64":
            cols.append(np.ascontiguousarray(w).view(np.float64))
        else:
            cols.append(w.view(np.float32).astype(np.float64))
    return np.stack(cols, axis=1)


def _words(vals: np.ndarray, t: str, nregs: int, sat: bool = False) -> list:
    """Element values (lanes, slots) → fragment register words (u32 per lane)."""
    if t in HALVES:
        bits = np.asarray(vals).astype(np.float16).view(np.uint16) if t == "f16" else \
            V.to_half_bits(vals.astype(np.float32), t)  # f16: one rounding from the f64 sum
        return [V.pack_half2(bits[:, 2 * k], bits[:, 2 * k + 1]) for k in range(nregs)]
    if t == "s32":
        v = np.clip(vals, -2**31, 2**31 - 1) if sat else vals & 0xFFFFFFFF
        return [v[:, k].astype(np.int64).astype(np.uint32) for k in range(nregs)]
    if t == "f64":
        return [np.ascontiguousarray(vals[:, k]).astype(np.float64).view(np.uint64) for k in range(nregs)]
    return [vals[:, k].astype(np.float32).view(np.uint32) for k in range(nregs)]


@builder("wmma")
def wmma(ctx: Ctx, ins: ir.Instr):
    kind = ins.mods[0] if ins.mods else ""
    if kind in ("load", "store"):
        return _load_store(ctx, ins, kind == "load")
    if kind == "mma":
        return _mma(ctx, ins)
    raise ctx.error(f"'{ins.name}' is not supported by the emulator")


def _load_store(ctx: Ctx, ins: ir.Instr, load: bool):
    M, N, K = _shape(ctx, ins)
    which = ins.mods[1]
    types, mods = split_mods(ins.mods)
    t = types[-1]
    rows, cols = {"a": (M, K), "b": (K, N), "c": (M, N), "d": (M, N)}[which]
    row_major = "row" in mods
    frag, mem = (ins.operands[0], ins.operands[1]) if load else (ins.operands[1], ins.operands[0])
    regs = frag.items if isinstance(frag, ir.Vec) else (frag,)
    if t not in PER:
        raise ctx.error(f"'{ins.name}': {t} fragments are not supported by the emulator",
                        hint="wmma types: f16, bf16, tf32, f32, s8, u8, s32, f64 (m8n8k4)")
    if (t == "f64") != ((M, N, K) == (8, 8, 4)):
        raise ctx.error(f"'{ins.name}': m8n8k4 is the f64 shape and f64 has only m8n8k4 (PTX ISA, wmma)")
    per = PER[t]
    slots = len(regs) * per
    if slots * 32 < rows * cols:
        raise ctx.error(f"'{ins.name}': {len(regs)} registers of {per} {t} elements cannot hold a {rows}x{cols} tile")
    esize = ESIZE[t]
    space = space_of(ctx, ins, mem)
    if space in ("shared", "generic"):
        ctx.note_shared(esize)
    if space in ("global", "generic"):
        ctx.note_global(esize, not load)
    get, const = address(ctx, mem)
    gstride = ctx.src(ins.operands[2], "u32") if len(ins.operands) > 2 else None
    r_of, c_of = _slots_layout(rows, cols, slots)
    udt = np.dtype(f"u{esize}")
    puts = [dst_lanes(ctx, x, _reg(t)) for x in regs] if load else None
    gets = None if load else [ctx.src(x, _reg(t)) for x in regs]
    wdt = np.uint64 if t == "f64" else np.uint32

    def h(st, wm, gm):
        check_converged(st, gm)  # .sync.aligned: the whole warp executes it together
        lanes = lanes_of(st, gm)
        base = lane_addresses(st, get, const, lanes)
        stride = cols if row_major else rows
        if gstride is not None:
            s = gstride(st)
            stride = np.broadcast_to(s, (st.L,))[lanes].astype(np.int64)[:, None] if s.ndim else int(s)
        lr, lc = r_of[lanes & 31], c_of[lanes & 31]
        off = (lr * stride + lc) if row_major else (lc * stride + lr)
        addrs = (base[:, None] + off * esize).ravel()
        ln = np.repeat(lanes, slots)
        found = locate(st, space, addrs, esize, ln, "wmma load" if load else "wmma store", not load)
        if sum(len(f[1]) for f in found) != len(addrs) or len(found) != 1:
            return  # out-of-bounds (reported) or split across spaces: leave the fragment alone
        views, ok_lanes, idx, shared = found[0]
        if load:
            if shared and st.races is not None:
                st.races.read(idx, esize, ok_lanes)
            raw = np.ascontiguousarray(views[esize][idx >> int(np.log2(esize))].reshape(len(lanes), slots))
            packed = raw.view(wdt)  # `per` elements per register, low first (little-endian)
            words = [packed[:, k] for k in range(len(regs))]
            for p, w in zip(puts, words):
                p(st, lanes, w)
            return
        if shared and st.races is not None:
            st.races.write(idx, esize, ok_lanes)
        vals = [np.broadcast_to(np.asarray(g(st)).view(wdt), (st.L,))[lanes] for g in gets]
        raw = np.ascontiguousarray(np.stack(vals, axis=1)).view(udt)  # (lanes, slots) elements
        views[esize][idx >> int(np.log2(esize))] = raw.reshape(-1)
    return h


def _mma(ctx: Ctx, ins: ir.Instr):
    M, N, K = _shape(ctx, ins)
    types, mods = split_mods(ins.mods)
    if len(types) == 2:
        dt, ct = types
        at = bt = "f16"
    elif len(types) == 4:
        dt, at, bt, ct = types
    else:
        raise ctx.error(f"'{ins.name}': unexpected types")
    integer = at in INTS
    f64 = at == "f64"
    if f64:
        ok = bt == ct == dt == "f64" and (M, N, K) == (8, 8, 4) and not {"rz", "rm", "rp"} & mods
    elif integer:
        ok = bt in INTS and dt == ct == "s32"
    else:
        ok = at in (*HALVES, "tf32") and dt in ("f32", "f16") and ct in ("f32", "f16") and "satfinite" not in mods
    if not ok:
        raise ctx.error(f"'{ins.name}' is not supported by the emulator",
                        hint="wmma.mma: f16/bf16/tf32 with f16 or f32 accumulators, s8/u8 with s32, "
                             "f64 m8n8k4 (.rn)")
    sat = "satfinite" in mods
    d, a, b, c = ins.operands
    ga = [ctx.src(x, _reg(at)) for x in a.items]
    gb = [ctx.src(x, _reg(bt)) for x in b.items]
    gc = [ctx.src(x, _reg(ct)) for x in c.items]
    puts = [dst_lanes(ctx, x, _reg(dt)) for x in d.items]
    wdt = np.uint64 if f64 else np.uint32
    acc = np.int64 if integer else (np.longdouble if f64 else np.float64)  # f64: as mma.sync's m8n8k4
    per = {t: PER[t] for t in (at, bt, ct, dt)}
    lay_a = _slots_layout(M, K, len(ga) * per[at])
    lay_b = _slots_layout(K, N, len(gb) * per[bt])
    lay_c = _slots_layout(M, N, len(gc) * per[ct])
    lay_d = _slots_layout(M, N, len(puts) * per[dt])

    def h(st, wm, gm):
        check_converged(st, gm)  # .sync.aligned: the whole warp executes it together
        lanes = lanes_of(st, gm)
        warps = np.unique(lanes >> 5)
        wl = (warps[:, None] * 32 + np.arange(32)).ravel()
        nw = len(warps)

        def grab(gs):
            return [np.broadcast_to(np.asarray(g(st)).view(wdt), (st.L,))[wl] for g in gs]

        def tile(words, t, lay, shape):
            out = np.zeros((nw, *shape), acc)
            vals = _elements(words, t).reshape(nw, 32, -1)
            r, cc = lay
            out[np.arange(nw)[:, None, None], r[None], cc[None]] = vals
            return out
        A = tile(grab(ga), at, lay_a, (M, K))
        B = tile(grab(gb), bt, lay_b, (K, N))
        C = tile(grab(gc), ct, lay_c, (M, N))
        D = np.matmul(A, B) + C
        r, cc = lay_d
        vals = D[np.arange(nw)[:, None, None], r[None], cc[None]].reshape(nw * 32, -1)
        vals = vals.astype(np.float32) if dt == "f32" else vals
        keep = np.isin(wl, lanes, assume_unique=True)
        for p, w in zip(puts, _words(vals, dt, len(puts), sat)):
            p(st, wl[keep], w[keep])
    return h
