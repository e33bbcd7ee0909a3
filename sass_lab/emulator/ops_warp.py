"""Warp-collective instructions: shfl, vote, activemask, match, redux, and mma.sync.

Warps are 32 consecutive lanes, so per-warp work is a reshape to ``(warps, 32)``. Only the group's
active lanes (``gm``) take part; ``membermask`` further restricts vote/match/shfl sources.
mma fragments follow the PTX ISA layouts (groupID = lane >> 2, threadID_in_group = lane % 4).
"""

from __future__ import annotations

import numpy as np

from .. import ir
from . import values as V
from .decode import Ctx, builder, split_mods
from .ops_mem import dst_lanes, lanes_of

LANE = np.arange(32)


def _full(st, x, dt=None):
    a = np.broadcast_to(x, (st.L,))
    return a if dt is None else a.astype(dt, copy=False)


def _active(st, gm):
    return np.ones(st.L, bool) if gm is None else gm


@builder("shfl")
def shfl(ctx: Ctx, ins: ir.Instr):
    mode = next((m for m in ins.mods if m in ("up", "down", "bfly", "idx")), None)
    if mode is None:
        raise ctx.error(f"'{ins.name}' needs .up/.down/.bfly/.idx")
    d = ins.operands[0]
    pair = isinstance(d, ir.PredPair)
    put = ctx.dst(d.first if pair else d, "b32")
    putp = ctx.dst(d.second, "pred") if pair else None
    put_l = dst_lanes(ctx, d.first if pair else d, "b32")
    putp_l = dst_lanes(ctx, d.second, "pred") if pair else None
    ga, gb, gc = (ctx.src(o, t) for o, t in zip(ins.operands[1:4], ("b32", "u32", "u32")))

    def route(lane, b, c):
        """Source lane and validity (PTX shfl rules) for lanes ``lane`` with operands b, c."""
        b = b & 31
        cval, seg = c & 31, (c >> 8) & 31
        max_lane = (lane & seg) | (cval & ~seg)
        if mode == "up":
            j = lane - b
            ok = j >= max_lane
        elif mode == "down":
            j = lane + b
            ok = j <= max_lane
        elif mode == "bfly":
            j = lane ^ b
            ok = j <= max_lane
        else:
            j = (lane & seg) | (b & ~seg)
            ok = j <= max_lane
        return np.where(ok, j, lane), ok

    cache: dict = {}

    def h(st, wm, gm):
        b, c = gb(st), gc(st)
        a = ga(st)
        if b.ndim == 0 and c.ndim == 0:  # uniform operands: one 32-lane routing for every warp
            key = (int(b), int(c))
            if key not in cache:
                cache[key] = route(LANE, key[0], key[1])
            col, ok = cache[key]
            if a.ndim:
                a = a.reshape(-1, 32)[:, col].reshape(-1)
            put(st, a, wm)
            if putp is not None:
                putp(st, np.tile(ok, st.L // 32), wm)
            return
        lanes = lanes_of(st, gm)  # per-lane operands: route only the active lanes
        b = b[lanes] if b.ndim else b
        c = c[lanes] if c.ndim else c
        j, ok = route(lanes & 31, np.asarray(b).astype(np.int64), np.asarray(c).astype(np.int64))
        put_l(st, lanes, a if a.ndim == 0 else a[(lanes & ~31) + j])
        if putp_l is not None:
            putp_l(st, lanes, ok)
    return h


def _ballot(st, p, act):
    """Per-lane u32: the ballot of ``p`` over the active lanes of its warp."""
    bits = (p & act).reshape(-1, 32).astype(np.uint64) << LANE.astype(np.uint64)
    return np.repeat(bits.sum(axis=1).astype(np.uint32), 32)


@builder("vote")
def vote(ctx: Ctx, ins: ir.Instr):
    mode = next((m for m in ins.mods if m in ("all", "any", "uni", "ballot")), None)
    if mode is None:
        raise ctx.error(f"'{ins.name}' needs .all/.any/.uni/.ballot")
    d, a = ins.operands[0], ins.operands[1]
    ga = ctx.src(a, "pred")
    gmask = ctx.src(ins.operands[2], "u32") if len(ins.operands) > 2 else None
    put = ctx.dst(d, "b32" if mode == "ballot" else "pred")

    def h(st, wm, gm):
        act = _active(st, gm)
        if gmask is not None:
            act = act & ((_full(st, gmask(st)) >> (st.lane_tid & 31).astype(np.uint32)) & np.uint32(1)).astype(bool)
        p = _full(st, ga(st))
        ball = _ballot(st, p, act)
        actb = _ballot(st, np.ones(st.L, bool), act)
        if mode == "ballot":
            put(st, ball, wm)
        elif mode == "all":
            put(st, ball == actb, wm)
        elif mode == "any":
            put(st, ball != 0, wm)
        else:
            put(st, (ball == actb) | (ball == 0), wm)
    return h


@builder("activemask")
def activemask(ctx: Ctx, ins: ir.Instr):
    put = ctx.dst(ins.operands[0], "b32")

    def h(st, wm, gm):
        act = _active(st, gm) & st.live
        put(st, _ballot(st, act, act), wm)
    return h


@builder("match")
def match(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    mode = "all" if "all" in mods else "any"
    t = types[-1]
    d = ins.operands[0]
    pair = isinstance(d, ir.PredPair)
    put = ctx.dst(d.first if pair else d, "b32")
    putp = ctx.dst(d.second, "pred") if pair else None
    ga = ctx.src(ins.operands[1], t)
    gmask = ctx.src(ins.operands[2], "u32") if len(ins.operands) > 2 else None

    def h(st, wm, gm):
        act = _active(st, gm)
        if gmask is not None:
            act = act & ((_full(st, gmask(st)) >> (st.lane_tid & 31).astype(np.uint32)) & np.uint32(1)).astype(bool)
        v = _full(st, ga(st)).reshape(-1, 32)
        aw = act.reshape(-1, 32)
        eq = (v[:, :, None] == v[:, None, :]) & aw[:, None, :] & aw[:, :, None]
        m = (eq.astype(np.uint64) << LANE.astype(np.uint64)).sum(axis=2).astype(np.uint32).ravel()
        actb = _ballot(st, np.ones(st.L, bool), act)
        if mode == "any":
            put(st, m, wm)
            if putp is not None:
                putp(st, np.ones(st.L, bool), wm)
        else:
            same = m == actb
            allsame = np.repeat(same.reshape(-1, 32)[np.arange(len(aw)), aw.argmax(axis=1)], 32)
            put(st, np.where(allsame, actb, np.uint32(0)), wm)
            if putp is not None:
                putp(st, allsame, wm)
    return h


@builder("elect")
def elect(ctx: Ctx, ins: ir.Instr):
    """elect.sync d|p, membermask: the lowest active member lane is the leader of its warp."""
    d = ins.operands[0]
    pair = isinstance(d, ir.PredPair)
    put = ctx.dst(d.first if pair else d, "u32")
    putp = ctx.dst(d.second, "pred") if pair else None
    gmask = ctx.src(ins.operands[1], "u32")

    def h(st, wm, gm):
        act = _active(st, gm) & ((_full(st, gmask(st)) >> (st.lane_tid & 31).astype(np.uint32)) & np.uint32(1)).astype(bool)
        aw = act.reshape(-1, 32)
        leader = np.repeat(np.where(aw.any(axis=1), aw.argmax(axis=1), 0), 32).astype(np.uint32)
        put(st, leader, wm)
        if putp is not None:
            putp(st, (st.all_lanes & 31) == leader, wm)
    return h


@builder("redux")
def redux(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    t = types[-1]
    op = next((m for m in mods if m in ("add", "min", "max", "and", "or", "xor")), None)
    if op is None or V.is_float(t):
        raise ctx.error(f"'{ins.name}' is not supported by the emulator")
    put = ctx.dst(ins.operands[0], t)
    ga = ctx.src(ins.operands[1], t)
    dt = V.dtype(t)
    ident = {"add": 0, "and": -1, "or": 0, "xor": 0, "min": np.iinfo(dt).max, "max": np.iinfo(dt).min}[op]
    red = {"add": np.add, "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor,
           "min": np.minimum, "max": np.maximum}[op]

    def h(st, wm, gm):
        act = _active(st, gm)
        v = np.where(act, _full(st, ga(st)), V.const(ident, dt)).reshape(-1, 32)
        put(st, np.repeat(red.reduce(v, axis=1).astype(dt), 32), wm)
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
