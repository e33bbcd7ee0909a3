"""Thread-block clusters: block order, cluster special registers, distributed shared memory, ``mapa``,
``getctarank`` and ``barrier.cluster``.

A launch with ``cluster=(cx, cy, cz)`` groups the grid's blocks into clusters (the grid a multiple of
the cluster shape). The blocks of a cluster always run in the same wave, consecutively: wave slot
``s`` holds the cluster's CTA of rank ``s % C`` (``C`` = cx·cy·cz, rank x fastest), so a lane finds
any CTA of its cluster by slot arithmetic.

Shared::cluster addresses: an address below 2^24 is the executing CTA's own shared memory (shared::cta
addresses are valid shared::cluster addresses, PTX ISA 5.1.4); ``mapa`` of CTA rank r gives
``(r + 1) << 24 | offset``, which every shared access (ld/st/atom, mbarrier, generic addressing)
resolves to that CTA's window. Race checking follows each access's own block epoch.

``barrier.cluster.arrive``/``wait``: a thread arrives once per phase; a phase completes when every
live thread of the cluster has arrived; ``wait`` parks until the phase it arrived in completed. A
wait that can never complete (all live lanes parked) is a ``cluster-deadlock`` finding, never a hang.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from ..errors import EmulatorError
from .decode import Ctx, Sync, builder
from .ops_mem import lanes_of

REMOTE_SHIFT = 24
REMOTE = 1 << REMOTE_SHIFT  # shared::cluster addresses at or above this name another CTA's window
LOCAL_MASK = REMOTE - 1
CLUSTER_WAIT = -3  # State.wait_bar of a lane parked at barrier.cluster.wait
NONE = np.zeros(0, np.int64)
MAX_CLUSTER = 16  # 8 portable, 16 with the non-portable size attribute (sm_90)


def block_order(grid3, cluster3) -> np.ndarray:
    """Linear block ids in launch order: cluster by cluster, each cluster's CTAs by rank."""
    gx, gy, gz = grid3
    cx, cy, cz = cluster3
    bx, by, bz = np.meshgrid(np.arange(cx), np.arange(cy), np.arange(cz), indexing="ij")
    rank = (bx + cx * (by + cy * bz)).ravel()
    local = np.stack([bx.ravel(), by.ravel(), bz.ravel()])[:, np.argsort(rank)]  # rank order
    kx, ky, kz = np.meshgrid(np.arange(gx // cx), np.arange(gy // cy), np.arange(gz // cz), indexing="ij")
    cl = np.stack([kx.ravel(order="F"), ky.ravel(order="F"), kz.ravel(order="F")])  # cluster id, x fastest
    x = cl[0][:, None] * cx + local[0][None]
    y = cl[1][:, None] * cy + local[1][None]
    z = cl[2][:, None] * cz + local[2][None]
    return (x + gx * (y + gy * z)).ravel().astype(np.int64)


def check_cluster(grid3, cluster3, directives: dict, name: str) -> tuple[int, int, int] | None:
    """The cluster shape a launch runs with (None: no cluster), refused when the grid, the PTX's
    ``.reqnctapercluster``/``.explicitcluster``/``.maxclusterrank`` and ``cluster=`` disagree."""
    req = directives.get("reqnctapercluster")
    if req:
        req = tuple((list(req) + [1, 1])[:3])
        if cluster3 is not None and tuple(cluster3) != req:
            raise EmulatorError(f"'{name}' declares .reqnctapercluster {','.join(map(str, req))} but is launched "
                                f"with cluster={tuple(cluster3)}", hint="launch with the cluster shape the kernel declares")
        cluster3 = req
    if cluster3 is None:
        if "explicitcluster" in directives:
            raise EmulatorError(f"'{name}' is .explicitcluster: launch it with cluster=(cx, cy, cz)")
        return None
    size = cluster3[0] * cluster3[1] * cluster3[2]
    if size > MAX_CLUSTER:
        raise EmulatorError(f"cluster {cluster3} has {size} blocks; at most {MAX_CLUSTER} (8 portable)")
    mx = directives.get("maxclusterrank")
    if mx and size > mx[0]:
        raise EmulatorError(f"cluster {cluster3} has {size} blocks but '{name}' declares .maxclusterrank {mx[0]}")
    if any(g % c for g, c in zip(grid3, cluster3)):
        raise EmulatorError(f"grid {grid3} is not a multiple of the cluster shape {cluster3}",
                            hint="each grid dimension must be divisible by the cluster's")
    return tuple(cluster3)


class ClusterState:
    """Clusters of one wave: slots of each cluster and barrier.cluster phases."""

    def __init__(self, st, dims: tuple[int, int, int], explicit: bool):
        self.dims = dims
        self.size = dims[0] * dims[1] * dims[2]
        self.explicit = explicit
        slots = np.arange(st.nb)
        self.first = slots // self.size * self.size  # first slot of each slot's cluster
        self.rank = slots % self.size
        n = -(-st.nb // self.size)
        self.phase = np.zeros(n, np.int64)
        self.arrived = np.zeros(n, np.int64)
        self.lane_phase = np.full(st.L, -1, np.int64)  # the phase each lane arrived in (-1: none pending)

    # ------------------------------------------------------------------ addresses
    def resolve(self, st, off: np.ndarray, lanes: np.ndarray):
        """(lanes, target slot, local offset) of shared::cluster offsets; bad ranks reported and dropped."""
        own = st.lane_blk[lanes]
        remote = off >= REMOTE
        rank = np.where(remote, (off >> REMOTE_SHIFT) - 1, self.rank[own])
        bad = (rank < 0) | (rank >= self.size)
        if bad.any():
            st.report("cluster", lanes[bad], f"a shared::cluster address names CTA rank {int(rank[bad][0])} of a "
                      f"cluster of {self.size}", address=int(off[bad][0]))
            lanes, off, own, rank = lanes[~bad], off[~bad], own[~bad], rank[~bad]
        return lanes, self.first[own] + rank, off & LOCAL_MASK


def cluster(st) -> ClusterState:
    c = st.cluster
    if c is None:
        c = st.cluster = ClusterState(st, (1, 1, 1), False)
    return c


def specials(st, put, b: np.ndarray, cl: ClusterState) -> None:
    """The cluster special registers of blocks ``b`` (per lane)."""
    gx, gy, gz = st.grid
    cid = (b % gx, (b // gx) % gy, b // (gx * gy))
    for a, c, g, v in zip("xyz", cl.dims, st.grid, cid):
        put(f"%cluster_ctaid.{a}", v % c)
        put(f"%cluster_nctaid.{a}", c)
        put(f"%clusterid.{a}", v // c)
        put(f"%nclusterid.{a}", g // c)
    put("%cluster_ctarank", cl.rank[st.lane_blk])
    put("%cluster_nctarank", cl.size)
    put("%is_explicit_cluster", int(cl.explicit))


# ------------------------------------------------------------------------------ instructions


@builder("mapa")
def mapa(ctx: Ctx, ins: ir.Instr):
    """``mapa{.shared::cluster}.u32/.u64 d, a, rank``: the address of ``a``'s variable in CTA ``rank``."""
    from .machine import SHARED_WINDOW

    t = "u64" if "u64" in ins.mods else "u32"
    generic = not any(m.split("::")[0] == "shared" for m in ins.mods)
    d, a, r = ins.operands
    ga, gr, put = ctx.src(a, t), ctx.src(r, "u32"), ctx.dst(d, t)

    def h(st, wm, gm):
        cl = cluster(st)
        lanes = lanes_of(st, gm)
        av = np.broadcast_to(ga(st), (st.L,)).astype(np.int64)
        rv = np.broadcast_to(gr(st), (st.L,)).astype(np.int64)
        off = av - SHARED_WINDOW if generic else av
        bad = (rv[lanes] >= cl.size)
        if bad.any():
            st.report("cluster", lanes[bad], f"mapa to CTA rank {int(rv[lanes][bad][0])} of a cluster of {cl.size}")
        out = ((np.minimum(rv, cl.size - 1) + 1) << REMOTE_SHIFT) | (off & LOCAL_MASK)
        if generic:
            out = out + SHARED_WINDOW
        put(st, out.astype(np.uint64 if t == "u64" else np.uint32), wm)
    return h


@builder("getctarank")
def getctarank(ctx: Ctx, ins: ir.Instr):
    """``getctarank{.shared::cluster}.u32/.u64 d, a``: the rank of the CTA whose shared memory holds ``a``."""
    from .machine import SHARED_WINDOW

    t = "u64" if "u64" in ins.mods else "u32"
    generic = not any(m.split("::")[0] == "shared" for m in ins.mods)
    ga, put = ctx.src(ins.operands[1], t), ctx.dst(ins.operands[0], "u32")

    def h(st, wm, gm):
        cl = cluster(st)
        a = np.broadcast_to(ga(st), (st.L,)).astype(np.int64)
        off = a - SHARED_WINDOW if generic else a
        put(st, np.where(off >= REMOTE, (off >> REMOTE_SHIFT) - 1, cl.rank[st.lane_blk]).astype(np.uint32), wm)
    return h


def barrier_cluster(ctx: Ctx, ins: ir.Instr) -> Sync:
    """``barrier.cluster.arrive{.release|.relaxed}{.aligned}`` / ``barrier.cluster.wait{.acquire}{.aligned}``."""
    mods = set(ins.mods)
    if not mods <= {"cluster", "arrive", "wait", "release", "relaxed", "acquire", "aligned"} or \
            len(mods & {"arrive", "wait"}) != 1:
        raise ctx.error(f"'{ins.name}' is not supported by the emulator",
                        hint="barrier.cluster.arrive{.release|.relaxed}{.aligned} and barrier.cluster.wait{.acquire}")
    if "arrive" in mods:
        return Sync(_arrive)
    return Sync(_wait)


def _arrive(st, wm, gm, pc):
    cl = cluster(st)
    lanes = lanes_of(st, gm)
    again = lanes[cl.lane_phase[lanes] >= 0]
    if len(again):
        st.report("cluster", again, "barrier.cluster.arrive again before the barrier.cluster.wait of the phase "
                  "it arrived in", key_extra="twice")
    lanes = lanes[cl.lane_phase[lanes] < 0]
    c = cl.first[st.lane_blk[lanes]] // cl.size
    cl.lane_phase[lanes] = cl.phase[c]
    np.add.at(cl.arrived, c, 1)
    return NONE, _complete(st, cl)


def _wait(st, wm, gm, pc):
    cl = cluster(st)
    lanes = lanes_of(st, gm)
    none = lanes[cl.lane_phase[lanes] < 0]
    if len(none):
        st.report("cluster", none, "barrier.cluster.wait without a barrier.cluster.arrive before it", key_extra="wait")
    lanes = lanes[cl.lane_phase[lanes] >= 0]
    c = cl.first[st.lane_blk[lanes]] // cl.size
    done = cl.phase[c] > cl.lane_phase[lanes]
    cl.lane_phase[lanes[done]] = -1
    park = lanes[~done]
    if len(park):
        st.wait_bar[park] = CLUSTER_WAIT
        st.wait_next[park] = pc + 1
    return park, False


def _complete(st, cl: ClusterState) -> bool:
    """Complete every cluster phase whose live threads have all arrived; wake its waiters."""
    live_per = np.bincount(st.lane_blk[st.live], minlength=st.nb)
    need = np.add.reduceat(live_per, np.arange(0, st.nb, cl.size)) if st.nb else live_per
    done = np.flatnonzero((cl.arrived >= need) & (cl.arrived > 0))
    if not len(done):
        return False
    cl.phase[done] += 1
    cl.arrived[done] = 0
    blocks = (done[:, None] * cl.size + np.arange(cl.size)).ravel()
    blocks = blocks[blocks < st.nb]
    if st.races is not None:
        st.races.block_barrier(blocks)
    waiting = np.flatnonzero((st.wait_bar == CLUSTER_WAIT) & np.isin(st.lane_blk // cl.size, done))
    if not len(waiting):
        return False
    cl.lane_phase[waiting] = -1
    st.pcs[waiting] = st.wait_next[waiting]
    st.wait_bar[waiting] = -1
    return True


def stall(st, exit_pc: int) -> bool:
    """Every live lane is parked. Complete cluster phases whose remaining threads exited; else report
    each cluster barrier that can never complete and stop its waiters. False: none waits here."""
    parked = np.flatnonzero(st.wait_bar == CLUSTER_WAIT)
    if not len(parked) or st.cluster is None:
        return False
    cl = st.cluster
    if _complete(st, cl):
        return True
    c = st.lane_blk[parked] // cl.size
    for k in np.unique(c):
        sel = parked[c == k]
        st.pc = int(st.wait_next[sel[0]]) - 1
        n = int(np.count_nonzero(st.live & (st.lane_blk // cl.size == k)))
        st.report("cluster-deadlock", sel, f"threads wait at barrier.cluster.wait (phase {int(cl.phase[k])}) but "
                  f"only {int(cl.arrived[k])} of the cluster's {n} live threads arrived, and the others wait elsewhere: "
                  "the kernel would hang", key_extra=int(k))
    st.live[parked] = False
    st.pcs[parked] = exit_pc
    st.wait_bar[parked] = -1
    return True
