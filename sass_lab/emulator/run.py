"""``emulate()``: bind arguments, lay out memory, run the grid wave by wave, write buffers back.

Scheduling is per-lane PC with min-PC selection: the lanes at the smallest PC form a group that runs
with a scalar PC until it reaches the next-smallest PC of any other lane (then groups merge), a branch
splits it, or it exits. Structured code therefore reconverges at the join point; a loop's early
leavers wait below it. Barriers never block: under min-PC order, a barrier is reached only when no
live lane of the wave can still arrive from below, so missing threads are divergence (reported).
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import EmulatorError, Span
from ..hw.launch import block_problem, extent_problem
from .args import bind_args, bind_symbols, build_heap, place_tensor_maps
from .asyncs import AsyncCopies
from .barrier import NBARRIERS, WAIT_PC, barrier, release_deadlock, warp_stall
from .cluster import ClusterState, block_order, check_cluster
from .cluster import specials as cluster_specials
from .cluster import stall as cluster_stall
from .decode import BARRIER, BRANCH, BRX, EXIT, NORMAL, SYNC, Program
from .gmem import GlobalRaces
from .hopper import HopperState
from .machine import EXIT_PC, GLOBAL_BASE, State, views
from .mbarrier import MBarriers, stall
from .program import WARP_SYNC, program
from .ptx import PTX_FILE, parse_ptx
from .races import RaceTracker
from .report import Collector, EmulatorCheckError, Report, Stats

DEFAULT_MAX_STEPS = 2_000_000
DEFAULT_WAVE_LANES = 1 << 16
MEMORY_BUDGET = 1 << 28  # bytes of local or shared memory per wave
# cooperative groups (cooperative_groups/details/memory.h) keep a multi-warp tile's barrier words and one
# 8-byte exchange slot per warp in the reserved shared region at %reserved_smem_offset_1 on sm_80+, and
# assert that "at least 288 bytes" are available there: that much of the region is theirs to use
CG_SCRATCH_BYTES = 288


# A group that keeps taking a backward branch while other lanes could run may be spinning on what those
# lanes will write (a lock, a flag, a wide tile's barrier): after SPIN_YIELD such branches the lowest lanes
# ahead of it run until they branch, meet another group or park, so a spin-wait ends as it does under
# sm_70+'s independent thread scheduling instead of starving the lanes it waits for.
SPIN_YIELD = 64
SAME_BLOCK_HINT = ("threads of one block spin on what other threads of the block will write (a flag in shared or "
                   "global memory): with check=True the emulator does not let them run ahead, because its shared-"
                   "memory race checker orders accesses by barriers and warp syncs only and would report the "
                   "handoff as races; run with check=False (the values are then those of the GPU), or raise "
                   "max_steps if the loop is merely long")
SPIN_HINT = ("this kernel uses a cooperative-groups tile wider than a warp, whose barrier spins on a word in "
             "reserved shared memory until the tile's other warps arrive; where those warps must first pass warp "
             "collectives with lanes that diverged around the spin (as in -G builds), the emulator cannot schedule "
             "them and the loop never ends. A spin on a block of a later wave, or an endless loop of the kernel's "
             "own, are the other possibilities; raise max_steps for long kernels")


def cg_scratch_offset(reserved_begin: int) -> int:
    """%reserved_smem_offset_1: the start of cooperative groups' scratch (16-byte aligned, in the reserved region)."""
    return (reserved_begin + 15) // 16 * 16


WORKSPACE_BYTES = 64  # what cudaLaunchCooperativeKernel passes for cooperative groups' grid barrier (zeroed)


def _dim3(v, what: str) -> tuple[int, int, int]:
    if isinstance(v, (int, np.integer)):
        v = (int(v),)
    try:
        if isinstance(v, str):
            raise TypeError
        t = tuple(int(x) for x in v)
    except (TypeError, ValueError):
        raise EmulatorError(f"{what} must be an int or a tuple of up to 3 ints, not {v!r}") from None
    if not 1 <= len(t) <= 3 or any(x < 1 for x in t):
        raise EmulatorError(f"{what} {v!r} must have 1-3 positive sizes")
    return (t + (1, 1))[:3]


def _bank(data: bytes) -> np.ndarray:
    """A byte bank padded to a multiple of 8 (+16) so that 2/4/8-byte views of it exist."""
    return np.frombuffer(data + bytes(16 + -len(data) % 8), np.uint8).copy()


# ---------------------------------------------------------------------------------- waves


def _init_wave(st: State, prog: Program, first: int, nb: int, T: int, dynamic_shared: int,
               order: np.ndarray | None = None, cluster3: tuple[int, int, int] | None = None,
               shared_fill: int = 0) -> None:
    tp = st.tp
    L = nb * tp
    st.L = L
    st.first_block = first
    lane = np.arange(L, dtype=np.int64)
    st.all_lanes = lane
    st.lane_blk = lane // tp
    st.lane_tid = (lane % tp).astype(np.int32)
    st.live = st.lane_tid < T
    st.regs = [np.zeros((), dt) for dt in prog.reg_dtypes]
    st.memo = {}
    st.scratch = {}
    bx, by, bz = st.block
    gx, gy, gz = st.grid
    tid = st.lane_tid.astype(np.uint32)
    st.block_ids = order[first:first + nb] if order is not None else np.arange(first, first + nb)
    b = st.block_ids[st.lane_blk].astype(np.uint32)
    sp = prog.special_index

    def put(name, v):
        st.regs[sp[name]] = np.asarray(v, np.uint32) if np.ndim(v) else np.array(v, np.uint32)
    put("%tid.x", tid % bx)
    put("%tid.y", (tid // bx) % by)
    put("%tid.z", tid // (bx * by))
    put("%ctaid.x", b % gx)
    put("%ctaid.y", (b // gx) % gy)
    put("%ctaid.z", b // (gx * gy))
    nsm, reserved = prog.machine
    for n, v in (("%ntid.x", bx), ("%ntid.y", by), ("%ntid.z", bz), ("%nctaid.x", gx), ("%nctaid.y", gy),
                 ("%nctaid.z", gz), ("%nwarpid", (T + 31) // 32), ("%nsmid", nsm), ("WARP_SZ", 32),
                 ("%dynamic_smem_size", dynamic_shared), ("%total_smem_size", st.sh_reserved + reserved),
                 ("%reserved_smem_offset_begin", st.sh_reserved),
                 ("%reserved_smem_offset_end", st.sh_reserved + reserved), ("%reserved_smem_offset_cap", reserved),
                 ("%reserved_smem_offset_1", cg_scratch_offset(st.sh_reserved)), *((f"%envreg{i}", st.envregs.get(i, 0)) for i in range(32))):
        put(n, v)
    put("%laneid", tid & 31)
    put("%warpid", tid >> 5)
    put("%smid", b % nsm)
    ln = (tid & 31).astype(np.uint64)
    one = np.uint64(1)
    put("%lanemask_eq", (one << ln).astype(np.uint32))
    put("%lanemask_lt", ((one << ln) - one).astype(np.uint32))
    put("%lanemask_le", ((one << (ln + one)) - one).astype(np.uint32))
    put("%lanemask_gt", (~((one << (ln + one)) - one) & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    put("%lanemask_ge", (~((one << ln) - one) & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    st.regs[sp["%gridid"]] = np.array(0, np.uint64)
    S = st.sh_size
    st.sh_base = st.lane_blk * S
    st.shared = np.full(nb * S + 16, shared_fill, np.uint8)
    st.sv = views(st.shared)
    st.local = np.zeros(L * st.local_size + 16, np.uint8)
    st.lv = views(st.local)
    st.bar_count = np.zeros((nb, NBARRIERS), np.int64)
    st.wait_bar = np.full(L, -1, np.int64)
    st.wait_next = np.zeros(L, np.int64)
    st.wait_mask = np.zeros(L, np.uint32)
    st.races = RaceTracker(st, (nb * S) // st.gran + 1) if st.check and prog.uses_shared else None
    st.hopper = HopperState(st) if prog.uses_proxy else None
    st.mbar = MBarriers(st) if prog.uses_mbarrier else None
    st.wait_key = np.full(L, -1, np.int64) if prog.uses_mbarrier else None
    st.asyncs = None
    if st.races is not None and prog.uses_async:
        st.asyncs = st.races.asyncs = AsyncCopies(st, len(st.races.wr))
        if st.mbar is not None:
            st.mbar.on_complete.append(st.asyncs.completed)
    st.cluster = ClusterState(st, cluster3, True) if cluster3 is not None else None
    cluster_specials(st, put, b, st.cluster or ClusterState(st, (1, 1, 1), False))


def run_wave(st: State, prog: Program, T: int, max_steps: int) -> int:
    """Run the wave in ``st`` to completion; returns thread-instructions executed."""
    try:
        return _run_wave(st, prog, T, max_steps)
    except EmulatorError:
        raise
    except Exception as e:  # an emulator bug: still say where, as an EmulatorError
        ins = prog.instrs[st.pc] if 0 <= st.pc < len(prog.instrs) else None
        where = f"'{ins.name}' (PTX line {ins.span.line})" if ins is not None and ins.span else "an instruction"
        raise EmulatorError(f"internal emulator error in {where}: {type(e).__name__}: {e}",
                            ins.span if ins is not None else None,
                            hint="the instruction decoded but failed on these operands; please report it") from e


def _yield_stops(prog: Program) -> np.ndarray:
    """Per PC, where a group run ahead of a spinning one stops: 2 before a block barrier unless it holds
    whole blocks (lanes elsewhere — the spinning lanes' block — have not arrived), 1 before a warp collective
    unless it holds whole warps (waits such as ``bar.warp.sync`` park until their partners come, so they
    need no stop)."""
    return np.array([2 if op.kind == BARRIER else int(op.kind != SYNC and ins.opcode in WARP_SYNC)
                     for op, ins in zip(prog.ops, prog.instrs)] + [2], np.int8)


def _whole_blocks(st: State, gm) -> bool:
    """Whether group ``gm`` holds every live lane of each block it touches (its block barrier then completes
    at once, waiting for no lane elsewhere — such as the lanes a yield ran it ahead of)."""
    if gm is None:
        return True
    inb = np.isin(st.lane_blk, np.unique(st.lane_blk[gm]))
    return not bool((inb & st.live & ~gm).any())


def _splits_warps(st: State, gm) -> bool:
    """Whether group ``gm`` leaves out a live lane of one of its warps (not one waiting at an exit)."""
    if gm is None:
        return False
    g = gm.reshape(-1, 32)
    live = st.live & ~np.isin(st.pcs, st.prog.exit_pcs) if len(st.prog.exit_pcs) else st.live
    touched = g.any(axis=1)
    return bool((live.reshape(-1, 32)[touched] & ~g[touched]).any())


def _run_wave(st: State, prog: Program, T: int, max_steps: int) -> int:
    ops = prog.ops
    L = st.L
    pcs = st.pcs = np.where(st.live, 0, EXIT_PC).astype(np.int64)
    ti = 0
    yield_pc = -1  # a spinning group yielded at this PC: run the lanes ahead of it next
    stops = None  # PCs a yielded-to group stops before (barriers and warp collectives)
    same_block = False  # a yield to lanes of the spinning lanes' own block was withheld (check=True)
    while True:
        minpc = int(pcs.min())
        in_yield = False
        if yield_pc >= 0:
            if stops is None:
                stops = _yield_stops(prog)
            spinning = st.lane_blk[pcs == yield_pc] if st.races is not None else None
            for c in np.unique(pcs[(pcs > yield_pc) & (pcs < WAIT_PC)]).tolist():
                if (stops[c] == 2 and not _whole_blocks(st, pcs == c)) or (
                        stops[c] == 1 and _splits_warps(st, pcs == c)):
                    continue
                if spinning is not None and np.isin(st.lane_blk[pcs == c], spinning).any():
                    same_block = True  # a handoff inside a block: the shared race checker cannot order it
                    continue
                minpc, in_yield = c, True  # the lowest lanes ahead that can make progress
                break
            yield_pc = -1
        if minpc >= EXIT_PC:
            break
        if minpc == WAIT_PC:  # every live lane waits: mbarrier waiters retry once, else it can never complete
            if not stall(st) and not cluster_stall(st, EXIT_PC) and not warp_stall(st):
                release_deadlock(st)
            continue
        gmask = pcs == minpc
        n_group = int(np.count_nonzero(gmask))
        if n_group == L:
            gm, other_min = None, EXIT_PC
        else:
            gm = gmask
            rest = pcs[pcs > minpc]  # after a yield, the spinning lanes below wait for the next round
            other_min = int(rest.min()) if len(rest) else EXIT_PC
        spins = 0
        nlive = int(np.count_nonzero(st.live))
        wm = None if n_group == nlive else gm
        pc = minpc
        written = False
        while pc < other_min:
            if in_yield and stops[pc] and (_splits_warps(st, gm) if stops[pc] == 1 else not _whole_blocks(st, gm)):
                break  # lanes run ahead only up to where they would wait for others
            op = ops[pc]
            st.steps += 1
            ti += n_group
            if st.steps > max_steps:
                st.pc = pc
                ins = prog.instrs[pc]
                raise EmulatorError(f"'{prog.name}' ran past max_steps={max_steps} (PTX line "
                                    f"{ins.span.line if ins.span else '?'}: {ins.name})", ins.span,
                                    hint=SPIN_HINT if prog.cg_scratch else SAME_BLOCK_HINT if same_block else
                                    "an endless loop, or a spin-wait for a thread that never runs here (a block in a later "
                                    "wave, which a GPU need not run at the same time either)? raise max_steps for "
                                    "long kernels")
            g = op.guard
            p = None
            if g >= 0:
                p = st.regs[g]
                if op.neg:
                    p = ~p
                if p.ndim == 0:
                    if not p:
                        pc += 1
                        continue
                    p = None
                    gwm, ggm = wm, gm
                else:
                    ggm = p if gm is None else gm & p
                    gwm = p if wm is None else wm & p
            else:
                gwm, ggm = wm, gm
            kind = op.kind
            if kind == NORMAL:
                st.pc = pc
                op.fn(st, gwm, ggm)
                pc += 1
            elif kind == BRANCH:
                taken = n_group if p is None else int(np.count_nonzero(ggm))
                if taken == n_group and op.target <= pc and other_min < WAIT_PC:
                    spins += 1  # a backward branch while other lanes could run: a spin-wait may need them
                    if spins > SPIN_YIELD:
                        if gm is None:
                            pcs[:] = op.target
                        else:
                            pcs[gm] = op.target
                        yield_pc, written = op.target, True
                        break
                if taken == n_group:
                    pc = op.target
                elif taken == 0:
                    pc += 1
                else:
                    if gm is None:
                        pcs[:] = pc + 1
                    else:
                        pcs[gm] = pc + 1
                    pcs[ggm] = op.target
                    written = True
                    break
            elif kind == EXIT:
                sel = (gm if gm is not None else np.ones(L, bool)) if p is None else ggm
                st.live &= ~sel
                if p is not None:
                    if gm is None:
                        pcs[:] = pc + 1
                    else:
                        pcs[gm] = pc + 1
                pcs[sel] = EXIT_PC
                written = True
                break
            elif kind == BRX:
                gidx, table = op.fn
                idx = gidx(st)
                lanes = st.all_lanes if ggm is None else np.flatnonzero(ggm)
                sel = idx if idx.ndim == 0 else idx[lanes]
                if np.any(sel >= len(table)):
                    st.pc = pc
                    raise EmulatorError(f"'{prog.name}': brx.idx index out of range of its {len(table)} targets "
                                        f"(PTX line {prog.instrs[pc].span.line})", prog.instrs[pc].span)
                tgt = table[sel]
                if len(lanes) == 0:
                    pc += 1
                    continue
                if len(lanes) == n_group and (tgt.ndim == 0 or (tgt == tgt[0]).all()):
                    pc = int(tgt if tgt.ndim == 0 else tgt[0])
                    continue
                if gm is None:
                    pcs[:] = pc + 1
                else:
                    pcs[gm] = pc + 1
                pcs[lanes] = tgt
                written = True
                break
            else:  # BARRIER or SYNC
                st.pc = pc
                if kind == SYNC:
                    park, released = op.fn(st, gwm, ggm, pc)
                else:
                    lanes = st.all_lanes if ggm is None else np.flatnonzero(ggm)
                    park, released = barrier(st, op.fn, lanes, T, gwm, pc)
                if len(park) or released:  # lanes park here, or parked lanes rejoin: re-form the groups
                    if gm is None:
                        pcs[:] = pc + 1
                    else:
                        pcs[gm] = pc + 1
                    pcs[park] = WAIT_PC
                    written = True
                    break
                pc += 1
        if not written:
            if gm is None:
                pcs[:] = pc
            else:
                pcs[gm] = pc
    return ti


# ---------------------------------------------------------------------------------- entry point


def emulate(ptx: str, kernel: str, grid, block, args, dynamic_shared: int = 0, check: bool = True,
            line_map: tuple[Span | None, ...] | None = None, max_steps: int = DEFAULT_MAX_STEPS,
            wave_lanes: int = DEFAULT_WAVE_LANES, symbols: dict | None = None, cluster=None,
            cooperative: bool = False) -> Report:
    """Run ``kernel`` of ``ptx`` over ``grid`` × ``block`` threads on the CPU.

    ``args``: list in parameter order or dict by name; numpy arrays are global buffers (copied in,
    written back), numpy scalars must match the ``.param`` types. Returns a :class:`Report`; with
    ``check=True`` findings raise :class:`EmulatorCheckError`. ``max_steps`` bounds the instructions
    issued per wave. Errors located on a PTX line point at the ``.sasm`` span when ``line_map`` has one.
    ``symbols`` sets ``__constant__``/``__device__`` variables by PTX name before the run (arrays for
    ``.global`` ones are written back after it), like ``cudaMemcpyToSymbol``/``FromSymbol``.
    ``cluster=(cx, cy, cz)`` launches thread-block clusters (it must agree with ``.reqnctapercluster``).
    ``cooperative=True`` launches as ``cudaLaunchCooperativeKernel`` does: every block is resident at
    once (one wave) and cooperative groups' grid workspace is passed (``%envreg1``/``%envreg2``), so
    ``this_grid().sync()`` works; without it that call traps, as on the GPU.
    """
    try:
        return _emulate(ptx, kernel, grid, block, args, dynamic_shared, check, line_map, max_steps, wave_lanes,
                        symbols, cluster, cooperative)
    except EmulatorCheckError:
        raise
    except EmulatorError as e:
        raise _at_source(e, line_map) from None


def _at_source(e: EmulatorError, line_map) -> EmulatorError:
    """``e`` re-pointed from its PTX line to the .sasm span of that line (the PTX line goes in the hint)."""
    sp = e.span
    if not line_map or sp is None or sp.file != PTX_FILE or not 0 < sp.line <= len(line_map):
        return e
    src = line_map[sp.line - 1]
    if src is None:
        return e
    ptx_hint = f"PTX line {sp.line}: {sp.source.strip()}"
    return type(e)(e.message, src, hint=f"{e.hint}; {ptx_hint}" if e.hint else ptx_hint, log=e.log)


def _check_launch(ptx: str, prog, grid3, block3, cluster=None) -> tuple[int, int, int] | None:
    """The launch rule the GPU applies (hw.launch.block_problem): hardware extents, .maxntid, .reqntid;
    returns the cluster shape (None without clusters), checked against the cluster directives."""
    k = next(k for k in parse_ptx(ptx).kernels if k.name == prog.name)
    d = {x.name: tuple(int(v) for v in x.values) for x in k.directives if x.name in ("maxntid", "reqntid")}
    p = block_problem(block3, d.get("maxntid", ()), d.get("reqntid", ()))
    if p is not None:
        raise EmulatorError(f"'{prog.name}': {p.what}", hint=p.hint or None)
    g = extent_problem(grid3, "grid")
    if g is not None:
        raise EmulatorError(f"'{prog.name}': {g}", hint="split the work over fewer blocks in that axis")
    dirs = {x.name: tuple(int(v) for v in x.values) for x in k.directives
            if x.name in ("reqnctapercluster", "explicitcluster", "maxclusterrank")}
    return check_cluster(grid3, _dim3(cluster, "cluster") if cluster is not None else None, dirs, prog.name)


# never-written shared memory holds 0 in a run; the probes fill it with these instead (all bits set: -1,
# NaN; and a positive finite float / large int)
PROBE_FILLS = (0xFF, 0x41)


def _unread_values(heap: np.ndarray, output: str, run_args: tuple) -> bool:
    """Whether the never-written shared bytes a launch read changed nothing it produced: the launch re-run
    (before anything is written back) with those bytes filled with each of ``PROBE_FILLS`` ends with the
    same global memory and printf output. Code that reads a slot it then discards (cub's BlockMergeSort
    reads one past a merge range; its TempStorage holds that extra key) is then no finding."""
    for fill in PROBE_FILLS:
        try:
            h, out = _launch(*run_args, shared_fill=fill, probe=True)
        except EmulatorError:  # the garbage led somewhere else (a trap, a runaway loop): it matters
            return False
        if out != output or not np.array_equal(h, heap):
            return False
    return True


def _emulate(ptx, kernel, grid, block, args, dynamic_shared, check, line_map, max_steps, wave_lanes,
             symbols=None, cluster=None, cooperative=False) -> Report:
    return _launch(ptx, kernel, grid, block, args, dynamic_shared, check, line_map, max_steps, wave_lanes,
                   symbols, cluster, cooperative)


def _launch(ptx, kernel, grid, block, args, dynamic_shared, check, line_map, max_steps, wave_lanes,
            symbols=None, cluster=None, cooperative=False, shared_fill: int = 0, probe: bool = False):
    """The run behind :func:`emulate`. ``probe=True`` (with ``shared_fill``, the byte never-written shared
    memory holds) writes nothing back and returns the final global heap and the printf output instead."""
    t0 = time.perf_counter()
    if not isinstance(ptx, str) or not isinstance(kernel, str):
        raise EmulatorError("emulate() takes the PTX text and the kernel name as strings")
    if not isinstance(dynamic_shared, (int, np.integer)) or dynamic_shared < 0:
        raise EmulatorError(f"dynamic_shared must be a byte count >= 0, not {dynamic_shared!r}")
    prog = program(ptx, kernel)
    grid3, block3 = _dim3(grid, "grid"), _dim3(block, "block")
    T = block3[0] * block3[1] * block3[2]
    cluster3 = _check_launch(ptx, prog, grid3, block3, cluster)
    pb, bufs, maps = bind_args(prog, args)
    if cooperative:  # the grid barrier's counter lives in a workspace the launch allocates
        bufs = [*bufs, (None, np.zeros(WORKSPACE_BYTES, np.uint8), "cooperative grid workspace")]
    hp = build_heap(prog, bufs)
    heap, offs = hp.heap, hp.offs
    for (poff, _a, _n), d in zip(bufs, hp.addrs):
        if poff is not None:
            pb[poff:poff + 8] = int(GLOBAL_BASE + d).to_bytes(8, "little")
    place_tensor_maps(maps, offs, hp.addrs, pb, heap, GLOBAL_BASE)
    lay = prog.layout
    st = State()
    st.kernel, st.grid, st.block, st.prog, st.check, st.line_map = prog.name, grid3, block3, prog, check, line_map
    st.heap, st.hv = heap, views(heap)
    ws = GLOBAL_BASE + hp.addrs[-1] if cooperative else 0
    st.envregs = {1: ws >> 32, 2: ws & 0xFFFFFFFF}  # cg's grid workspace: high word, low word
    st.buf_starts, st.buf_ends, st.buf_deltas, st.buf_names = hp.starts, hp.ends, hp.deltas, hp.names
    st.param = _bank(bytes(pb))
    st.const = _bank(lay.const_bytes)
    symbols_back = bind_symbols(prog, symbols, heap, st.const)
    st.sh_reserved = lay.extern_offset + dynamic_shared if dynamic_shared else lay.shared_static
    # the reserved region starts after the block's own shared memory; cooperative groups' multi-warp scratch
    # (at %reserved_smem_offset_1) is the part of it a kernel that reads that register may use
    st.sh_limit = cg_scratch_offset(st.sh_reserved) + CG_SCRATCH_BYTES if prog.cg_scratch else st.sh_reserved
    st.sh_size = (st.sh_limit + 15) // 16 * 16 or 16
    st.local_size = (lay.local_size + 15) // 16 * 16
    st.gran = prog.granularity
    st.findings = Collector(prog.name)
    nblocks = grid3[0] * grid3[1] * grid3[2]
    st.gtrack = GlobalRaces(st, len(heap), prog.global_gran, nblocks) if check and prog.global_writes else None
    if st.gtrack is not None and cooperative:
        st.gtrack.workspace = (ws, ws + WORKSPACE_BYTES)
    st.output = []
    st.steps, st.pc = 0, -1
    st.tp = (T + 31) // 32 * 32
    st.nthreads = T
    # lanes per wave: as asked, but keep local frames and shared windows within a memory budget
    lanes = min(wave_lanes, MEMORY_BUDGET // max(1, st.local_size), MEMORY_BUDGET // st.sh_size * st.tp)
    per = max(1, lanes // st.tp)
    csize = cluster3[0] * cluster3[1] * cluster3[2] if cluster3 else 1
    per = max(csize, per // csize * csize)  # a cluster's blocks share a wave
    if cooperative:
        if nblocks * st.tp > min(MEMORY_BUDGET // max(1, st.local_size), MEMORY_BUDGET // st.sh_size * st.tp):
            raise EmulatorError(f"'{prog.name}': a cooperative launch runs all {nblocks} blocks at once, and "
                                f"{nblocks * st.tp} threads exceed the emulator's memory budget for one wave",
                                hint="emulate a smaller grid (grid.sync() needs every block resident, as on the GPU)")
        per = nblocks
    order = block_order(grid3, cluster3) if cluster3 else None
    ti, waves = 0, 0
    with np.errstate(all="ignore"):
        for first in range(0, nblocks, per):
            st.nb = min(per, nblocks - first)
            _init_wave(st, prog, first, st.nb, T, dynamic_shared, order, cluster3, shared_fill)
            ti += run_wave(st, prog, T, max_steps * (waves + 1))
            waves += 1
    if probe:
        return heap, "".join(st.output)
    if st.gtrack is not None:
        st.gtrack.report()
    findings = st.findings.findings()
    if any(f.kind == "uninit-shared" for f in findings) and _unread_values(
            heap, "".join(st.output), (ptx, kernel, grid, block, args, dynamic_shared, False, line_map, max_steps,
                                       wave_lanes, symbols, cluster, cooperative)):
        findings = tuple(f for f in findings if f.kind != "uninit-shared")
    for (_poff, arr, _name), o in zip(bufs, offs):
        if arr.flags.writeable and arr.nbytes:
            arr[...] = heap[o:o + arr.nbytes].view(arr.dtype).reshape(arr.shape)
    for arr, o in symbols_back:
        arr.reshape(-1).view(np.uint8)[...] = heap[o:o + arr.nbytes]
    stats = Stats(st.steps, ti, waves, per * st.tp, time.perf_counter() - t0)
    report = Report(prog.name, grid3, block3, findings, stats, "".join(st.output))
    if check and report.findings:
        n = len(report.findings)
        raise EmulatorCheckError(f"'{prog.name}': the emulator's checks found {n} problem(s)",
                                 report.findings[0].span, hint="see the findings below; check=False returns them "
                                 "in the report instead", findings=report.findings, report=report)
    return report
