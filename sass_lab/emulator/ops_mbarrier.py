"""mbarrier instructions, ``cp.async.mbarrier.arrive`` and the plain bulk copy that completes a transaction.

Decoded into :class:`~.decode.Sync` handlers (they may park lanes at a wait or wake parked ones); the
state and its semantics live in :mod:`.mbarrier`. Every mbarrier operation is a shared-memory access of
its 8 bytes for the checks: ``init`` a plain write (other threads must see it after a barrier), the
others atomic ones (they order among themselves).
"""

from __future__ import annotations

import numpy as np

from .. import ir
from .decode import Ctx, Sync, builder
from .machine import SHARED_WINDOW, WINDOW_SIZE
from .mbarrier import MAX_COUNT
from .ops_mem import CP_ASYNC_MORE, address, dst_lanes, lane_addresses, lanes_of

NONE = np.zeros(0, np.int64)
VERBS = ("init", "arrive", "arrive_drop", "expect_tx", "complete_tx", "test_wait", "try_wait", "pending_count",
         "inval")


def _per_lane(st, v, lanes) -> np.ndarray:
    v = np.asarray(v)
    if v.ndim == 0:
        return np.full(len(lanes), int(v), np.int64)
    return (v if lanes is st.all_lanes else v[lanes]).astype(np.int64)


def _target(ctx: Ctx, ins: ir.Instr, mem):
    """A locator ``f(st, lanes, what, atomic) -> (lanes, flat shared index)`` for the mbarrier operand."""
    if not isinstance(mem, ir.Mem):
        raise ctx.error(f"'{ins.name}' needs an mbarrier address [addr]")
    generic = not any(m.split("::")[0] == "shared" for m in ins.mods)
    get, const = address(ctx, mem)
    ctx.note_shared(8)
    ctx.uses_mbarrier = True

    def locate(st, lanes, what, atomic=True):
        a = lane_addresses(st, get, const, lanes)
        if generic:
            a = a - SHARED_WINDOW
            ok = a.astype(np.uint64) < WINDOW_SIZE
            if not ok.all():
                bad = np.flatnonzero(~ok)
                st.report("bad-address", lanes[bad], f"{what}: generic address {int(a[bad[0]]) + SHARED_WINDOW:#x} "
                          "is not in shared memory (mbarrier objects live in shared memory)")
                lanes, a = lanes[ok], a[ok]
        ln, flat = st.shared_index(a, 8, lanes, what)
        if st.races is not None:
            st.races.write(flat, 8, ln, atomic=atomic)
        return ln, flat
    return locate


@builder("mbarrier")
def mbarrier(ctx: Ctx, ins: ir.Instr):
    mods = ins.mods
    verb = mods[0] if mods else ""
    if verb not in VERBS:
        raise ctx.error(f"'{ins.name}' is not supported by the emulator", hint=f"mbarrier operations: {', '.join(VERBS)}")
    ops = ins.operands
    what = f"mbarrier.{verb}"
    if verb == "pending_count":  # count = pending arrivals recorded in the state token
        gs, put = ctx.src(ops[1], "b64"), ctx.dst(ops[0], "u32")

        def hp(st, wm, gm):
            put(st, ((gs(st) >> np.uint64(32)) & np.uint64(MAX_COUNT)).astype(np.uint32), wm)
        return hp
    if verb in ("init", "inval", "expect_tx", "complete_tx"):
        locate = _target(ctx, ins, ops[0])
        gn = ctx.src(ops[1], "u32") if len(ops) > 1 else None
        if verb != "inval" and gn is None:
            raise ctx.error(f"'{ins.name}' needs [addr], count")
        sign = -1 if verb == "complete_tx" else 1

        def hs(st, wm, gm, pc):
            lanes = lanes_of(st, gm)
            ln, flat = locate(st, lanes, what, atomic=verb != "init")
            mb = st.mbar
            if verb == "init":
                return NONE, mb.init(flat, _per_lane(st, gn(st), ln), ln)
            idx, ln = mb.find(flat, ln, what)
            if verb == "inval":
                return NONE, mb.inval(idx)
            return NONE, mb.expect_tx(idx, sign * _per_lane(st, gn(st), ln))
        return Sync(hs)
    if verb in ("arrive", "arrive_drop"):
        return Sync(_arrive(ctx, ins, verb, what))
    return Sync(_wait(ctx, ins, what))


def _arrive(ctx: Ctx, ins: ir.Instr, verb: str, what: str):
    ops = ins.operands
    if len(ops) < 2:
        raise ctx.error(f"'{ins.name}' needs state, [addr]")
    expect = "expect_tx" in ins.mods
    no_complete = "noComplete" in ins.mods
    if (expect or no_complete) and len(ops) < 3:
        raise ctx.error(f"'{ins.name}' needs a {'transaction' if expect else 'arrival'} count")
    locate = _target(ctx, ins, ops[1])
    gn = ctx.src(ops[2], "u32") if len(ops) > 2 else None
    put = dst_lanes(ctx, ops[0], "b64")
    drop = verb == "arrive_drop"

    def h(st, wm, gm, pc):
        lanes = lanes_of(st, gm)
        ln, flat = locate(st, lanes, what)
        idx, ln = st.mbar.find(flat, ln, what)
        n = _per_lane(st, gn(st), ln) if gn is not None else np.ones(len(ln), np.int64)
        if expect:
            tok, woke = st.mbar.arrive(idx, np.ones(len(ln), np.int64), ln, drop=drop, tx=n)
        else:
            tok, woke = st.mbar.arrive(idx, n, ln, drop=drop, no_complete=no_complete)
        put(st, ln, tok)
        return NONE, woke
    return h


def _wait(ctx: Ctx, ins: ir.Instr, what: str):
    """test_wait / try_wait (token or .parity): false → the lane parks until the barrier changes phase."""
    ops = ins.operands
    if len(ops) < 3:
        raise ctx.error(f"'{ins.name}' needs waitComplete, [addr], state")
    parity = "parity" in ins.mods
    locate = _target(ctx, ins, ops[1])
    gt = ctx.src(ops[2], "b32" if parity else "b64")
    put = dst_lanes(ctx, ops[0], "pred")

    def h(st, wm, gm, pc):
        lanes = lanes_of(st, gm)
        ln, flat = locate(st, lanes, what)
        mb = st.mbar
        idx, ln = mb.find(flat, ln, what)
        done = np.ones(len(lanes), bool)  # lanes naming no barrier were reported: let them go on
        pos = np.searchsorted(lanes, ln)
        ok = mb.complete(idx, _per_lane(st, gt(st), ln), parity)
        done[pos] = ok
        put(st, lanes, done)
        park = ~ok
        if not park.any():
            return NONE, False
        mb.park(ln[park], idx[park], pc)
        return ln[park], False
    return h


# ------------------------------------------------------------------------------ cp.async + mbarrier


def cp_async_mbarrier(ctx: Ctx, ins: ir.Instr):
    """``cp.async.mbarrier.arrive{.noinc}`` and ``cp.async.bulk`` global → shared with ``complete_tx``."""
    mods = ins.mods
    if mods[1] == "mbarrier":
        if mods[2:3] != ("arrive",):
            raise ctx.error(f"'{ins.name}' is not supported by the emulator")
        locate = _target(ctx, ins, ins.operands[0])
        noinc = "noinc" in mods

        def ha(st, wm, gm, pc):
            # copies complete at issue, so the tracked arrive-on happens now; without .noinc the pending
            # count was raised by one first, so only .noinc changes the count
            lanes = lanes_of(st, gm)
            ln, flat = locate(st, lanes, "cp.async.mbarrier.arrive")
            idx, ln = st.mbar.find(flat, ln, "cp.async.mbarrier.arrive")
            if st.asyncs is not None:
                st.asyncs.track(ln, idx)
            if not noinc:
                return NONE, False
            return NONE, st.mbar.arrive(idx, np.ones(len(ln), np.int64), ln)[1]
        return Sync(ha)
    return _bulk(ctx, ins)


CP_ASYNC_MORE["bulk"] = CP_ASYNC_MORE["mbarrier"] = cp_async_mbarrier
BULK = ("async", "bulk", "global", "mbarrier::complete_tx::bytes")


def _bulk(ctx: Ctx, ins: ir.Instr):
    """cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [dst], [src], size, [mbar]
    (a CTA's own shared memory: a cluster of one)."""
    mods = [m for m in ins.mods if m not in ("L2::cache_hint",)]
    dst = next((m for m in mods if m.split("::")[0] == "shared"), None)
    if dst is None or sorted(m for m in mods if m != dst) != sorted(BULK) or mods.index("global") < mods.index(dst):
        raise ctx.error(f"'{ins.name}' is not supported by the emulator",
                        hint="of the bulk copies only global → shared with mbarrier::complete_tx::bytes is modelled "
                             "(no .tensor, .multicast, bulk groups or reductions)")
    ops = ins.operands
    gd, cd = address(ctx, ops[0])
    gs, cs = address(ctx, ops[1])
    gn = ctx.src(ops[2], "u32")
    locate = _target(ctx, ins, ops[3])
    ctx.uses_async = True
    ctx.note_global(16, False)

    def h(st, wm, gm, pc):
        lanes = lanes_of(st, gm)
        n = _per_lane(st, gn(st), lanes)
        bad = (n % 16 != 0) | (n <= 0)
        if bad.any():
            st.report("misaligned", lanes[bad], f"cp.async.bulk of {int(n[bad][0])} bytes: the size must be a "
                      "positive multiple of 16")
        dst = lane_addresses(st, gd, cd, lanes)
        src = lane_addresses(st, gs, cs, lanes)
        mis = ((dst | src) & 15) != 0
        if mis.any():
            st.report("misaligned", lanes[mis & ~bad], "cp.async.bulk addresses must be 16-byte aligned")
        keep = ~(bad | mis)
        lanes, n, dst, src = lanes[keep], n[keep], dst[keep], src[keep]
        done = np.zeros(len(lanes), bool)
        for k in np.unique(n):
            sel = np.flatnonzero(n == k)
            k = int(k)
            ln, off = st.global_index(src[sel].view(np.uint64), k, lanes[sel], "cp.async.bulk read", align=16)
            if st.gtrack is not None:
                st.gtrack.access(off, k, ln, False)
            rows = sel[np.searchsorted(lanes[sel], ln)]
            ln2, flat = st.shared_index(dst[rows], k, ln, "cp.async.bulk write", align=16)
            rows2 = rows[np.searchsorted(ln, ln2)]
            data = st.heap[off[np.searchsorted(ln, ln2)][:, None] + np.arange(k)]
            if st.races is not None:
                st.races.write(flat, k, ln2, copy=True)
            st.shared[flat[:, None] + np.arange(k)] = data
            if st.hopper is not None:  # an async-proxy write: no fence.proxy.async needed before async reads
                st.hopper.async_write((flat[:, None] + np.arange(0, k, 16)).ravel())
            done[rows2] = True
        ln, flat = locate(st, lanes[done], "cp.async.bulk")
        idx, ln = st.mbar.find(flat, ln, "cp.async.bulk")
        nb = n[np.searchsorted(lanes, ln)]
        if st.asyncs is not None:
            st.asyncs.track(ln, idx)
        return NONE, st.mbar.expect_tx(idx, -nb)
    return Sync(h)
