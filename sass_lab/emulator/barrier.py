"""Block barriers (bar.sync / barrier.sync / bar.arrive / bar.red) and bar.warp.sync.

A barrier without a thread count is for the whole block. Under min-PC scheduling it runs only when
no live lane of the wave can still reach it from a lower PC, so it never waits: the threads of a
block that are not there (elsewhere in the kernel, or exited) are reported as barrier divergence and
the arrived threads go on.

A barrier with a thread count (``bar.sync a, n`` / ``bar.arrive a, n``, named barriers between
producer and consumer warps) really waits: arrivals are counted per block and barrier id, threads
of a ``bar.sync`` park until ``n`` threads have arrived, and the ``n``-th arrival releases them. If
every live lane ends up parked, the wait can never end: that is reported and the lanes are released.

``bar.warp.sync`` (``__syncwarp``) waits too: on sm_70+ the lanes of a warp may meet at *different*
``bar.warp.sync`` instructions with the same member mask (NVIDIA limits "the same ``__syncwarp()`` in
convergence" to compute capability 6.x and below). Arriving lanes park until every live lane their
mask names has arrived at one, or waits at an exit (as good as exited: not waited for); the last
arrival releases them. If every live lane ends up parked, partners that exited complete the sync and
partners waiting elsewhere are a ``warp-divergence`` finding.

A completed barrier starts a new race-checking epoch for its blocks (a warp sync: for its warps);
``bar.red`` reduces its predicate over each block.
"""

from __future__ import annotations

import numpy as np

from .machine import State
from .ops_warp import LANE, check_member

WAIT_PC = (1 << 30) - 1  # parked lanes sort after every runnable PC, before exited ones
NBARRIERS = 16
WARP_WAIT = -4  # State.wait_bar of a lane parked at bar.warp.sync (named barriers use their id >= 0)


def barrier(st: State, info: tuple, lanes: np.ndarray, T: int, wm, pc: int) -> tuple[np.ndarray, bool]:
    """Run barrier ``info`` = (mode, id getter, count getter, reduction) for the arriving ``lanes``.

    Returns (lanes that must park at this barrier, whether parked lanes were released).
    """
    none = np.zeros(0, np.int64)
    mode, gid, gcount, red = info
    if mode == "warp":
        return _warp_sync(st, lanes, gid(st) if gid is not None else None, pc)
    arrived = np.bincount(st.lane_blk[lanes], minlength=st.nb)
    blocks = np.flatnonzero(arrived)
    if gcount is None and mode == "sync":
        _whole_block(st, blocks, arrived, lanes, T)
        _complete(st, blocks, red, lanes, arrived, wm)
        return none, False
    bid = int(np.max(gid(st))) % NBARRIERS if gid is not None else 0
    need = int(np.max(gcount(st))) if gcount is not None else T
    st.bar_count[:, bid] += arrived
    done = blocks[st.bar_count[blocks, bid] >= need]
    released = False
    if len(done):
        st.bar_count[done, bid] = 0
        waiting = np.flatnonzero((st.wait_bar == bid) & np.isin(st.lane_blk, done))
        if len(waiting):
            st.pcs[waiting] = st.wait_next[waiting]
            st.wait_bar[waiting] = -1
            released = True
        _complete(st, done, red, lanes[np.isin(st.lane_blk[lanes], done)], arrived, wm)
    if mode == "arrive":
        return none, released
    park = lanes[~np.isin(st.lane_blk[lanes], done)]
    if len(park):
        st.wait_bar[park] = bid
        st.wait_next[park] = pc + 1
    return park, released


def _named(st: State, here: np.ndarray, mask) -> np.ndarray:
    """(warps, 32): the live lanes the member masks of the lanes ``here`` name, those waiting at an
    exit left out (as good as exited)."""
    named = st.live.copy()
    exits = st.prog.exit_pcs
    if len(exits):
        named &= ~np.isin(st.pcs, exits)
    named = named.reshape(-1, 32)
    m = np.where(here, mask, np.uint32(0)).reshape(-1, 32)
    bits = np.bitwise_or.reduce(m, axis=1)
    return named & ((bits[:, None] >> LANE.astype(np.uint32)) & np.uint32(1)).astype(bool)


def _warp_sync(st: State, lanes: np.ndarray, mask, pc: int) -> tuple[np.ndarray, bool]:
    """``bar.warp.sync`` for the arriving ``lanes``: (lanes that park, whether parked lanes were released)."""
    none = np.zeros(0, np.int64)
    parked = st.wait_bar == WARP_WAIT
    if lanes is st.all_lanes and not parked.any():  # the whole wave, converged
        if mask is not None:
            check_member(st, None, mask)
        if st.races is not None:
            st.races.warp_sync(np.unique(lanes >> 5))
        return none, False
    arriving = np.zeros(st.L, bool)
    arriving[lanes] = True
    m = np.broadcast_to(np.uint32(0xFFFFFFFF) if mask is None else np.asarray(mask).astype(np.uint32), (st.L,))
    if mask is not None:
        check_member(st, arriving, mask)
    st.wait_mask[lanes] = m[lanes]
    here = arriving | parked
    missing = _named(st, here, st.wait_mask) & ~here.reshape(-1, 32)
    touched = arriving.reshape(-1, 32).any(axis=1)
    done = touched & ~missing.any(axis=1)
    warp = st.all_lanes >> 5
    release = np.flatnonzero(parked & done[warp])
    if len(release):
        st.pcs[release] = st.wait_next[release]
        st.wait_bar[release] = -1
    if st.races is not None and done.any():
        st.races.warp_sync(np.flatnonzero(done))
    park = lanes[~done[lanes >> 5]]
    if len(park):
        st.wait_bar[park] = WARP_WAIT
        st.wait_next[park] = pc + 1
    return park, len(release) > 0


def warp_stall(st: State) -> bool:
    """Every live lane is parked: complete the warp syncs whose missing lanes exited, report those whose
    missing lanes wait elsewhere (``warp-divergence``: the warp would hang), release them all. False:
    no lane waits at a warp sync."""
    parked = st.wait_bar == WARP_WAIT
    if not parked.any():
        return False
    missing = (_named(st, parked, st.wait_mask) & ~parked.reshape(-1, 32)).ravel()
    if missing.any():
        lanes = np.flatnonzero(parked & np.repeat(missing.reshape(-1, 32).any(axis=1), 32))
        st.pc = int(st.wait_next[lanes[0]]) - 1
        st.report("warp-divergence", lanes, lambda lane: f"lane {lane % 32} waits at bar.warp.sync (__syncwarp) for "
                  "lanes its member mask names that wait elsewhere in the kernel and never arrive: the warp would hang")
    sel = np.flatnonzero(parked)
    st.pcs[sel] = st.wait_next[sel]
    st.wait_bar[sel] = -1
    if st.races is not None:
        st.races.warp_sync(np.unique(sel >> 5))
    return True


def release_deadlock(st: State) -> None:
    """Every live lane is parked: report the barriers that can never complete and release them."""
    parked = np.flatnonzero(st.wait_bar >= 0)
    for bid in np.unique(st.wait_bar[parked]):
        sel = parked[st.wait_bar[parked] == bid]
        st.pc = int(st.wait_next[sel[0]]) - 1
        st.report("barrier-divergence", sel, f"threads wait at named barrier {bid} for threads that never "
                  "arrive (every other thread has exited or is waiting too)", key_extra="deadlock")
    st.pcs[parked] = st.wait_next[parked]
    st.wait_bar[parked] = -1
    st.bar_count[:] = 0


def _complete(st: State, blocks, red, lanes, arrived, wm) -> None:
    if st.races is not None and len(blocks):
        st.races.block_barrier(blocks)
    if red is not None:
        _reduce(st, red, lanes, arrived, wm)


def _whole_block(st: State, blocks, arrived, lanes, T: int) -> None:
    short = blocks[arrived[blocks] < T]
    if not len(short):
        return
    missing = np.isin(st.lane_blk, short) & (st.lane_tid < T)
    missing[lanes] = False
    away = missing & st.live
    gone = missing & ~st.live
    if away.any():
        st.report("barrier-divergence", np.flatnonzero(away),
                  lambda lane: "threads of the block are at a different point of the kernel when others reach "
                  f"this barrier (e.g. thread {st.lane_coords(lane)[1]})", key_extra="away")
    if gone.any():
        st.report("barrier-divergence", np.flatnonzero(gone),
                  lambda lane: f"threads of the block exited before this barrier (e.g. thread "
                  f"{st.lane_coords(lane)[1]}); the others would wait forever", key_extra="exited")


def _reduce(st: State, red: tuple, lanes, arrived, wm) -> None:
    op, put, gc = red
    c = np.broadcast_to(gc(st), (st.L,))
    votes = np.bincount(st.lane_blk[lanes], weights=c[lanes], minlength=st.nb).astype(np.int64)
    per = votes[st.lane_blk]
    if op == "popc":
        put(st, per.astype(np.uint32), wm)
    elif op == "and":
        put(st, per == arrived[st.lane_blk], wm)
    else:
        put(st, per > 0, wm)
