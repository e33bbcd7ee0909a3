"""Warp-collective instructions: shfl, vote, activemask, match, elect, redux (mma: ops_matrix).

Warps are 32 consecutive lanes, so per-warp work is a reshape to ``(warps, 32)``. Only the group's
active lanes (``gm``) take part; ``membermask`` further restricts vote/match sources.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from . import values as V
from .decode import Ctx, builder, split_mods
from .ops_mem import dst_lanes, lanes_of

LANE = np.arange(32)


def check_converged(st, gm, mask=None) -> None:
    """Report lanes that ``mask`` names (all lanes when None) which are live but not executing this warp
    instruction with the others (a ``.sync`` instruction needs every named, non-exited lane)."""
    if mask is not None:
        check_member(st, gm, mask)
    if gm is None:
        return
    act = gm.reshape(-1, 32)
    named = st.live.reshape(-1, 32)
    exits = st.prog.exit_pcs
    if len(exits):  # lanes waiting at a ret/exit have as good as exited: they are not waited for
        named = named & ~np.isin(st.pcs, exits).reshape(-1, 32)
    if mask is not None:
        m = np.asarray(mask)
        if m.ndim == 0:
            named = named & ((np.uint32(m) >> LANE.astype(np.uint32)) & np.uint32(1)).astype(bool)
        else:  # per-lane masks (tiles of a warp name their own lanes): the lanes any active lane names
            wm_ = np.bitwise_or.reduce(np.where(act, m.reshape(-1, 32).astype(np.uint32), np.uint32(0)), axis=1)
            named = named & ((wm_[:, None] >> LANE.astype(np.uint32)) & np.uint32(1)).astype(bool)
    missing = named & ~act & act.any(axis=1)[:, None]
    if missing.any():
        lanes = np.flatnonzero(missing.ravel())
        st.report("warp-divergence", lanes, lambda lane: f"lane {lane % 32} of the warp is live and named by the "
                  "member mask but is not executing this instruction with the others (diverged)")


def check_member(st, gm, mask) -> None:
    """A lane executing a ``.sync`` warp instruction whose member mask leaves it out: undefined (PTX ISA)."""
    m = np.asarray(mask).astype(np.uint32)
    if m.ndim == 0 and int(m) == 0xFFFFFFFF:
        return
    bit = ((m >> (st.all_lanes & 31).astype(np.uint32)) & np.uint32(1)) == 0
    out = bit & (st.live if gm is None else gm)
    if out.any():
        st.report("membermask", np.flatnonzero(out), lambda lane: f"lane {lane % 32} executes this .sync warp "
                  "instruction but its member mask does not name it (undefined behaviour)")


def _check_source(st, gm, cols: np.ndarray, col: np.ndarray) -> None:
    """Uniform routing: report active lanes of a block's partial last warp whose in-range source lane
    (``cols``: the warp positions reading one of the missing lanes) does not exist."""
    if not len(cols):
        return
    P = st.nthreads % 32  # threads in each block's last warp
    lanes = st.all_lanes
    reader = (st.lane_tid >= st.nthreads - P) & (st.lane_tid < st.nthreads) & np.isin(lanes & 31, cols)
    if gm is not None:
        reader &= gm
    if reader.any():
        bad = np.flatnonzero(reader)
        _report_source(st, bad, col[bad & 31])


def _report_source(st, lanes: np.ndarray, src: np.ndarray) -> None:
    """A shuffle reading a lane that does not exist (the block's last warp is partial): undefined."""
    first = {int(lane): int(s) for lane, s in zip(lanes[:1], src[:1])}
    st.report("shfl-source", lanes, lambda lane: f"lane {lane % 32} reads lane {first.get(lane, '?')} of its warp, "
              f"which does not exist (a block of {st.nthreads} threads leaves its last warp with "
              f"{st.nthreads % 32} lanes): the value it gets is undefined on the GPU")


def _check_inactive(st, gm, lanes, src, ok, mask) -> None:
    """Active ``lanes`` whose in-range source lane ``src`` (wave index) exists but takes no part in the
    shuffle because it has exited (or waits at ``ret``) or its member mask leaves it out: the value read is
    undefined (PTX ISA). A named, live lane elsewhere is the warp-divergence finding's."""
    sel = ok & ~gm[src] & (st.lane_tid[src] < st.nthreads)
    if not sel.any():
        return
    lanes, src = lanes[sel], src[sel]
    gone = ~st.live[src]
    if len(st.prog.exit_pcs):
        gone |= np.isin(st.pcs[src], st.prog.exit_pcs)
    if mask is not None:
        m = np.asarray(mask).astype(np.uint32)
        gone |= ((m if m.ndim == 0 else m[lanes]) >> (src & 31).astype(np.uint32) & np.uint32(1)) == 0
    if not gone.any():
        return
    lanes, src = lanes[gone], src[gone]
    first = {int(lanes[0]): int(src[0]) & 31}
    st.report("shfl-source", lanes, lambda lane: f"lane {lane % 32} reads lane {first.get(lane, '?')} of its warp, "
              "which takes no part in this shuffle (it has exited, or the member mask leaves it out): the value "
              "it gets is undefined on the GPU")


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
    gmask = ctx.src(ins.operands[4], "u32") if len(ins.operands) > 4 else None

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
        mask = gmask(st) if gmask is not None else None
        check_converged(st, gm, mask)
        b, c = gb(st), gc(st)
        a = ga(st)
        if b.ndim == 0 and c.ndim == 0:  # uniform operands: one 32-lane routing for every warp
            key = (int(b), int(c))
            if key not in cache:
                cache[key] = route(LANE, key[0], key[1])
            col, ok = cache[key]
            if st.tp != st.nthreads:
                _check_source(st, gm, np.flatnonzero(ok & (col >= st.nthreads % 32)), col)
            if gm is not None:
                lanes = np.flatnonzero(gm)
                _check_inactive(st, gm, lanes, (lanes & ~31) + col[lanes & 31], ok[lanes & 31], mask)
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
        if st.tp != st.nthreads:
            missing = ok & (st.lane_tid[(lanes & ~31) + j] >= st.nthreads)
            if missing.any():
                _report_source(st, lanes[missing], j[missing])
        if gm is not None:
            _check_inactive(st, gm, lanes, (lanes & ~31) + j, ok, mask)
        put_l(st, lanes, a if a.ndim == 0 else a[(lanes & ~31) + j])
        if putp_l is not None:
            putp_l(st, lanes, ok)
    return h


def _groups(st, gm, mask):
    """(active lanes, per-lane u32 of the lanes each lane's collective covers, or None when that is every
    active lane of its warp). The member mask may differ per lane: tiles of a warp (cooperative groups'
    ``thread_block_tile<16>``) name their own lanes, and each lane's result covers only its group."""
    act = _active(st, gm)
    if mask is None:
        return act, None
    m = np.asarray(mask).astype(np.uint32, copy=False)
    own = ((_full(st, m) >> (st.lane_tid & 31).astype(np.uint32)) & np.uint32(1)).astype(bool)
    act = act & own  # a lane its own mask leaves out is a finding (check_converged), and no member
    if m.ndim == 0 or (m == m.flat[0]).all():
        return act, None
    return act, _ballot(st, act, act) & _full(st, m)


def _in_group(groups) -> np.ndarray:
    """(warps, 32, 32) bool: lane j of the warp is in lane l's group."""
    g = groups.reshape(-1, 32)
    return ((g[:, :, None] >> LANE.astype(np.uint32)) & np.uint32(1)).astype(bool)


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
        mask = gmask(st) if gmask is not None else None
        check_converged(st, gm, mask)
        act, groups = _groups(st, gm, mask)
        p = _full(st, ga(st))
        ball = _ballot(st, p, act)
        actb = _ballot(st, np.ones(st.L, bool), act)
        if groups is not None:
            ball, actb = ball & groups, groups
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
        mask = gmask(st) if gmask is not None else None
        check_converged(st, gm, mask)
        act, groups = _groups(st, gm, mask)
        v = _full(st, ga(st)).reshape(-1, 32)
        aw = act.reshape(-1, 32)
        member = aw[:, None, :] & aw[:, :, None] if groups is None else _in_group(groups) & aw[:, :, None]
        eq = (v[:, :, None] == v[:, None, :]) & member
        m = (eq.astype(np.uint64) << LANE.astype(np.uint64)).sum(axis=2).astype(np.uint32).ravel()
        actb = _ballot(st, np.ones(st.L, bool), act) if groups is None else groups
        if mode == "any":
            put(st, m, wm)
            if putp is not None:
                putp(st, np.ones(st.L, bool), wm)
        else:
            same = m == actb
            if groups is None:
                allsame = np.repeat(same.reshape(-1, 32)[np.arange(len(aw)), aw.argmax(axis=1)], 32)
            else:  # every lane of the group sees its whole group equal
                allsame = (m & groups) == groups
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
        act, groups = _groups(st, gm, gmask(st))
        aw = act.reshape(-1, 32)
        if groups is None:
            leader = np.repeat(np.where(aw.any(axis=1), aw.argmax(axis=1), 0), 32).astype(np.uint32)
        else:  # the lowest lane of each lane's own group
            g = groups.astype(np.int64)
            leader = np.where(g != 0, np.log2(g & -g, where=g != 0, out=np.zeros(st.L)).astype(np.int64), 0)
            leader = leader.astype(np.uint32)
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

    gmask = ctx.src(ins.operands[2], "u32") if len(ins.operands) > 2 else None

    def h(st, wm, gm):
        mask = gmask(st) if gmask is not None else None
        check_converged(st, gm, mask)
        act, groups = _groups(st, gm, mask)
        v = np.where(act, _full(st, ga(st)), V.const(ident, dt)).reshape(-1, 32)
        if groups is None:
            put(st, np.repeat(red.reduce(v, axis=1).astype(dt), 32), wm)
            return
        each = np.where(_in_group(groups), v[:, None, :], V.const(ident, dt))  # lane l: its group's values
        put(st, red.reduce(each, axis=2).astype(dt).ravel(), wm)
    return h
