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

SHAPES = {"m16n16k16", "m32n8k16", "m8n32k16", "m16n16k8"}
HALVES = ("f16", "bf16")


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
    """Fragment registers (u32 arrays over lanes) → element values (f64), shape (lanes, slots)."""
    cols = []
    for w in words:
        w = np.asarray(w).view(np.uint32)
        if t in HALVES:
            lo, hi = V.unpack_half2(w, "bf16x2" if t == "bf16" else "f16x2")
            cols += [lo, hi]
        elif t == "tf32":
            cols.append((w & np.uint32(0xFFFFE000)).view(np.float32))
        else:
            cols.append(w.view(np.float32))
    return np.stack(cols, axis=1).astype(np.float64)


def _words(vals: np.ndarray, t: str, nregs: int) -> list:
    """Element values (lanes, slots) → fragment register words (u32 per lane)."""
    if t in HALVES:
        bits = V.to_half_bits(vals.astype(np.float32), t)
        return [V.pack_half2(bits[:, 2 * k], bits[:, 2 * k + 1]) for k in range(nregs)]
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
    per = 2 if t in HALVES else 1
    slots = len(regs) * per
    if slots * 32 < rows * cols:
        raise ctx.error(f"'{ins.name}': {len(regs)} registers cannot hold a {rows}x{cols} tile")
    esize = 2 if t in HALVES else 4
    space = space_of(ctx, ins, mem)
    if space in ("shared", "generic"):
        ctx.note_shared(esize)
    get, const = address(ctx, mem)
    gstride = ctx.src(ins.operands[2], "u32") if len(ins.operands) > 2 else None
    r_of, c_of = _slots_layout(rows, cols, slots)
    udt = np.dtype(f"u{esize}")
    puts = [dst_lanes(ctx, x, "b32") for x in regs] if load else None
    gets = None if load else [ctx.src(x, "b32") for x in regs]

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
            raw = views[esize][idx >> int(np.log2(esize))].reshape(len(lanes), slots)
            if per == 2:
                words = [V.pack_half2(raw[:, 2 * k], raw[:, 2 * k + 1]) for k in range(len(regs))]
            else:
                words = [raw[:, k].view(np.uint32) for k in range(len(regs))]
            for p, w in zip(puts, words):
                p(st, lanes, w)
            return
        if shared and st.races is not None:
            st.races.write(idx, esize, ok_lanes)
        vals = [np.broadcast_to(np.asarray(g(st)).view(np.uint32), (st.L,))[lanes] for g in gets]
        if per == 2:
            parts = []
            for w in vals:
                parts += [(w & np.uint32(0xFFFF)).astype(np.uint16), (w >> np.uint32(16)).astype(np.uint16)]
            raw = np.stack(parts, axis=1)
        else:
            raw = np.stack(vals, axis=1)
        views[esize][idx >> int(np.log2(esize))] = raw.reshape(-1).view(udt) if raw.dtype != udt else raw.reshape(-1)
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
    if at not in (*HALVES, "tf32") or dt not in ("f32", "f16") or ct not in ("f32", "f16") or "satfinite" in mods:
        raise ctx.error(f"'{ins.name}' is not supported by the emulator")
    d, a, b, c = ins.operands
    ga = [ctx.src(x, "b32") for x in a.items]
    gb = [ctx.src(x, "b32") for x in b.items]
    gc = [ctx.src(x, "b32") for x in c.items]
    puts = [dst_lanes(ctx, x, "b32") for x in d.items]
    per = {t: (2 if t in HALVES else 1) for t in (at, bt, ct, dt)}
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
            return [np.broadcast_to(np.asarray(g(st)).view(np.uint32), (st.L,))[wl] for g in gs]

        def tile(words, t, lay, shape):
            out = np.zeros((nw, *shape))
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
        for p, w in zip(puts, _words(vals, dt, len(puts))):
            p(st, wl[keep], w[keep])
    return h
