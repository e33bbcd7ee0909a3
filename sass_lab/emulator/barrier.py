"""Block barriers (bar.sync / barrier.sync / bar.arrive / bar.red) and bar.warp.sync.

Under min-PC scheduling a barrier runs only when no live lane of the wave can still reach it from a
lower PC, so it never waits: the threads of a block that are not there (elsewhere in the kernel, or
exited) are reported as barrier divergence and the arrived threads go on. A completed barrier starts
a new race-checking epoch for its blocks; ``bar.red`` reduces its predicate over each block.
"""

from __future__ import annotations

import numpy as np

from .machine import State


def barrier(st: State, info: tuple, lanes: np.ndarray, T: int, wm) -> None:
    """Run barrier ``info`` = (mode, id getter, count getter, reduction) for the arriving ``lanes``."""
    mode, _bid, gcount, red = info
    if mode == "warp":
        if st.races is not None:
            st.races.warp_sync(np.unique(lanes >> 5))
        return
    arrived = np.bincount(st.lane_blk[lanes], minlength=st.nb)
    if mode == "arrive":
        st.bar_arrived += arrived
        return
    blocks = np.flatnonzero(arrived)
    if gcount is None:
        _whole_block(st, blocks, arrived, lanes, T)
    else:
        need = int(np.max(gcount(st)))
        short = blocks[(arrived[blocks] + st.bar_arrived[blocks]) < need]
        if len(short):
            st.report("barrier-divergence", np.flatnonzero(np.isin(st.lane_blk, short) & st.live),
                      f"the barrier expects {need} threads, fewer arrive", key_extra="count")
    st.bar_arrived[blocks] = 0
    if st.races is not None:
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
