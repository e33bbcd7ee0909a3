"""Warp-wide matrix instructions: ldmatrix/stmatrix (8×8 b16 tiles through shared memory) and mma.sync.

mma fragments follow the PTX ISA layouts (groupID = lane >> 2, threadID_in_group = lane % 4); the
products accumulate in float64 and round to f32 once.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from . import values as V
from .decode import Ctx, builder, split_mods
from .machine import SHARED_WINDOW
from .ops_mem import address, dst_lanes, lane_addresses, lanes_of
from .ops_warp import check_converged

LANE = np.arange(32)


# ------------------------------------------------------------------------------ ldmatrix


def _m8n8(ctx: Ctx, ins: ir.Instr, regs, role: str) -> tuple[tuple, bool]:
    """(register list, .trans) of an ldmatrix/stmatrix .m8n8 .b16 with .x1/.x2/.x4 registers."""
    mods = set(ins.mods)
    num = 4 if "x4" in mods else 2 if "x2" in mods else 1
    if "m8n8" not in mods or "b16" not in mods:
        raise ctx.error(f"'{ins.name}': only {ins.opcode} .m8n8 .b16 is supported by the emulator")
    items = regs.items if isinstance(regs, ir.Vec) else (regs,)
    if len(items) != num:
        raise ctx.error(f"'{ins.name}' needs {num} {role} registers")
    return items, "trans" in mods


@builder("ldmatrix")
def ldmatrix(ctx: Ctx, ins: ir.Instr):
    d, mem = ins.operands
    items, trans = _m8n8(ctx, ins, d, "destination")
    num = len(items)
    ctx.note_shared(2)
    get, const = address(ctx, mem)
    puts = [dst_lanes(ctx, x, "b32") for x in items]
    generic = not any(m.split("::")[0] == "shared" for m in ins.mods)
    t = np.arange(32)
    row, colp = t // 4, 2 * (t % 4)

    def h(st, wm, gm):
        check_converged(st, gm)  # .sync.aligned: the whole warp executes it together
        lanes = lanes_of(st, gm)
        warps = np.unique(lanes >> 5)
        src_lanes = (warps[:, None] * 32 + np.arange(8 * num)).ravel()
        a = lane_addresses(st, get, const, src_lanes)
        if generic:
            a = a - SHARED_WINDOW
        ln, flat = st.shared_index(a, 16, src_lanes, "ldmatrix read")
        if len(ln) != len(src_lanes):
            return
        if st.races is not None:
            st.races.read(flat, 16, ln)
        m = st.sv[2][(flat >> 1)[:, None] + np.arange(8)].reshape(len(warps), num, 8, 8)
        for i, p in enumerate(puts):
            mi = m[:, i]
            if trans:
                lo, hi = mi[:, colp, row], mi[:, colp + 1, row]
            else:
                lo, hi = mi[:, row, colp], mi[:, row, colp + 1]
            val = (lo.astype(np.uint32) | (hi.astype(np.uint32) << np.uint32(16))).ravel()
            wl = (warps[:, None] * 32 + t).ravel()
            keep = np.isin(wl, lanes, assume_unique=True) if len(wl) != len(lanes) else slice(None)
            p(st, wl[keep], val[keep])
    return h


@builder("stmatrix")
def stmatrix(ctx: Ctx, ins: ir.Instr):
    """stmatrix.sync.aligned.m8n8.x1/x2/x4{.trans}.shared.b16 [p], {r…}: the inverse of ldmatrix."""
    mem, s = ins.operands
    items, trans = _m8n8(ctx, ins, s, "source")
    num = len(items)
    ctx.note_shared(2)
    get, const = address(ctx, mem)
    gets = [ctx.src(x, "b32") for x in items]
    generic = not any(m.split("::")[0] == "shared" for m in ins.mods)
    t = np.arange(32)
    row, colp = t // 4, 2 * (t % 4)

    def h(st, wm, gm):
        check_converged(st, gm)  # .sync.aligned: the whole warp executes it together
        lanes = lanes_of(st, gm)
        warps = np.unique(lanes >> 5)
        nw = len(warps)
        wl = (warps[:, None] * 32 + t).ravel()
        m = np.zeros((nw, num, 8, 8), np.uint16)
        for i, g in enumerate(gets):
            v = np.broadcast_to(np.asarray(g(st)).view(np.uint32), (st.L,))[wl].reshape(nw, 32)
            lo, hi = (v & np.uint32(0xFFFF)).astype(np.uint16), (v >> np.uint32(16)).astype(np.uint16)
            w = np.arange(nw)[:, None]
            if trans:
                m[w, i, colp, row], m[w, i, colp + 1, row] = lo, hi
            else:
                m[w, i, row, colp], m[w, i, row, colp + 1] = lo, hi
        src_lanes = (warps[:, None] * 32 + np.arange(8 * num)).ravel()
        a = lane_addresses(st, get, const, src_lanes)
        if generic:
            a = a - SHARED_WINDOW
        ln, flat = st.shared_index(a, 16, src_lanes, "stmatrix write")
        if len(ln) != len(src_lanes):
            return
        if st.races is not None:
            st.races.write(flat, 16, ln)
        st.sv[2][(flat >> 1)[:, None] + np.arange(8)] = m.reshape(-1, 8)
    return h


# ------------------------------------------------------------------------------ mma.sync

G, T4 = LANE >> 2, LANE & 3


def _layouts(shape: str, kind: str):
    """(A coords [reg][half] → (row, k), B coords → (k, col), elements per reg) for one shape."""
    if kind in ("f16", "bf16"):
        if shape == "m16n8k16":
            a = [(G, 2 * T4), (G, 2 * T4 + 1), (G + 8, 2 * T4), (G + 8, 2 * T4 + 1),
                 (G, 2 * T4 + 8), (G, 2 * T4 + 9), (G + 8, 2 * T4 + 8), (G + 8, 2 * T4 + 9)]
            b = [(2 * T4, G), (2 * T4 + 1, G), (2 * T4 + 8, G), (2 * T4 + 9, G)]
            return a, b, 16
        if shape == "m16n8k8":
            a = [(G, 2 * T4), (G, 2 * T4 + 1), (G + 8, 2 * T4), (G + 8, 2 * T4 + 1)]
            b = [(2 * T4, G), (2 * T4 + 1, G)]
            return a, b, 8
    if kind == "tf32":
        if shape == "m16n8k8":
            return [(G, T4), (G + 8, T4), (G, T4 + 4), (G + 8, T4 + 4)], [(T4, G), (T4 + 4, G)], 8
        if shape == "m16n8k4":
            return [(G, T4), (G + 8, T4)], [(T4, G)], 4
    return None


C_LAYOUT = [(G, 2 * T4), (G, 2 * T4 + 1), (G + 8, 2 * T4), (G + 8, 2 * T4 + 1)]


def _elems(words: list, kind: str) -> list:
    """Fragment registers (u32 per lane) → element arrays (f64) in layout order."""
    out = []
    for w in words:
        if kind == "tf32":
            out.append((w & np.uint32(0xFFFFE000)).view(np.float32).astype(np.float64))
        else:
            lo, hi = V.unpack_half2(w, "bf16x2" if kind == "bf16" else "f16x2")
            out += [lo.astype(np.float64), hi.astype(np.float64)]
    return out


@builder("mma")
def mma(ctx: Ctx, ins: ir.Instr):
    mods = ins.mods
    shape = next((m for m in mods if m.startswith("m") and "n" in m and "k" in m), "")
    types, _ = split_mods(mods)
    if len(types) != 4 or types[0] != "f32" or types[3] != "f32" or "row" not in mods or "col" not in mods:
        raise ctx.error(f"'{ins.name}' is not supported by the emulator",
                        hint="supported: mma.sync.aligned.{m16n8k8,m16n8k16}.row.col.f32.{f16,bf16}.{f16,bf16}.f32 "
                             "and m16n8k8/m16n8k4 .tf32")
    kind = types[1]
    lay = _layouts(shape, kind)
    if lay is None or types[2] != kind:
        raise ctx.error(f"'{ins.name}': shape {shape} with {kind} inputs is not supported by the emulator")
    a_lay, b_lay, k = lay
    d, a, b, c = ins.operands
    per = 1 if kind == "tf32" else 2
    if len(a.items) * per != len(a_lay) or len(b.items) * per != len(b_lay) or len(c.items) != 4:
        raise ctx.error(f"'{ins.name}': wrong fragment sizes")
    ga = [ctx.src(x, "b32") for x in a.items]
    gb = [ctx.src(x, "b32") for x in b.items]
    gc = [ctx.src(x, "f32") for x in c.items]
    puts = [dst_lanes(ctx, x, "f32") for x in d.items]

    def h(st, wm, gm):
        check_converged(st, gm)  # .sync.aligned: the whole warp executes it together
        lanes = lanes_of(st, gm)
        warps = np.unique(lanes >> 5)
        wl = (warps[:, None] * 32 + LANE).ravel()
        nw = len(warps)

        def grab(gs, dt):
            return [np.broadcast_to(g(st), (st.L,))[wl].astype(dt, copy=False) for g in gs]
        A = np.zeros((nw, 16, k))
        B = np.zeros((nw, k, 8))
        C = np.zeros((nw, 16, 8))
        wi = np.repeat(np.arange(nw), 32)
        li = np.tile(LANE, nw)
        for (r, cc), v in zip(a_lay, _elems(grab(ga, np.uint32), kind)):
            A[wi, r[li], cc[li]] = v
        for (r, cc), v in zip(b_lay, _elems(grab(gb, np.uint32), kind)):
            B[wi, r[li], cc[li]] = v
        for (r, cc), v in zip(C_LAYOUT, grab(gc, np.float32)):
            C[wi, r[li], cc[li]] = v
        D = (np.matmul(A, B) + C).astype(np.float32)
        keep = np.isin(wl, lanes, assume_unique=True) if len(wl) != len(lanes) else slice(None)
        for (r, cc), p in zip(C_LAYOUT, puts):
            p(st, wl[keep], D[wi, r[li], cc[li]][keep])
    return h
