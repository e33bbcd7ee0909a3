"""Block barriers (bar.sync / barrier.sync / bar.arrive / bar.red) and bar.warp.sync.

A barrier without a thread count is for the whole block. Under min-PC scheduling it runs only when
no live lane of the wave can still reach it from a lower PC, so it never waits: the threads of a
block that are not there (elsewhere in the kernel, or exited) are reported as barrier divergence and
the arrived threads go on.

A barrier with a thread count (``bar.sync a, n`` / ``bar.arrive a, n``, named barriers between
producer and consumer warps) really waits: arrivals are counted per block and barrier id, threads
of a ``bar.sync`` park until ``n`` threads have arrived, and the ``n``-th arrival releases them. If
every live lane ends up parked, the wait can never end: that is reported and the lanes are released.

A completed barrier starts a new race-checking epoch for its blocks; ``bar.red`` reduces its
predicate over each block.
"""

from __future__ import annotations

import numpy as np

from .machine import State
from .ops_warp import check_converged

WAIT_PC = (1 << 30) - 1  # parked lanes sort after every runnable PC, before exited ones
NBARRIERS = 16


def barrier(st: State, info: tuple, lanes: np.ndarray, T: int, wm, pc: int) -> tuple[np.ndarray, bool]:
    """Run barrier ``info`` = (mode, id getter, count getter, reduction) for the arriving ``lanes``.

    Returns (lanes that must park at this barrier, whether parked lanes were released).
    """
    none = np.zeros(0, np.int64)
    mode, gid, gcount, red = info
    if mode == "warp":
        if lanes is not st.all_lanes:
            gm = np.zeros(st.L, bool)
            gm[lanes] = True
            check_converged(st, gm, gid(st) if gid is not None else None)
        if st.races is not None:
            st.races.warp_sync(np.unique(lanes >> 5))
        return none, False
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
