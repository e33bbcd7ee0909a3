"""TMA and bulk copies: ``cp.async.bulk.tensor`` loads (multicast too), stores and reductions in tile
mode, bulk stores/reductions from shared memory, bulk groups, and the tensor prefetches.

A tensor map operand is the generic address of 128 bytes the emulator encoded (a TensorMap passed by
value lives in the parameter space, by pointer in global memory); its box semantics are
:mod:`sass_lab.hw.tma`. Copies complete at issue: a load writes the destination CTAs' shared memory
(swizzled by absolute address), marks it written by the async proxy, and completes its byte count on
each destination CTA's mbarrier (``complete_tx``); a store reads shared memory (a chunk still holding an
unfenced ordinary store is a ``fence-proxy-async`` finding) and writes the in-bounds elements.
Bulk groups (``cp.async.bulk.commit_group``/``wait_group{.read}``) are therefore already complete.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from ..hw.tensormap import TmaDesc
from ..hw.tma import box_map, gather
from . import values as V
from .cluster import LOCAL_MASK, REMOTE, cluster
from .decode import Ctx, Sync, builder
from .hopper import hopper, report_unfenced, whole_rows
from .machine import GLOBAL_BASE, PARAM_WINDOW, WINDOW_SIZE
from .ops_mem import address, lane_addresses, lanes_of
from .ptx import Paren

NONE = np.zeros(0, np.int64)
REDUCE_OPS = ("add", "min", "max", "inc", "dec", "and", "or", "xor")
NOP_MODS = ("L2::cache_hint", "cp_mask")
ROWS = True  # the race tracker sees whole 16-byte rows of a box where they run in order (False: elements)


@builder("cp.bulk")  # reached from ops_mem.cp_async for the TMA/bulk family
def build(ctx: Ctx, ins: ir.Instr):
    mods = ins.mods
    if "prefetch" in mods:
        return lambda st, wm, gm: None  # cp.async.bulk.prefetch{.tensor}: an L2 hint
    if "commit_group" in mods or "wait_group" in mods:
        return lambda st, wm, gm: None  # bulk copies complete at issue
    if any(m in mods for m in ("im2col", "im2col_no_offs", "tile::gather4", "tile::scatter4")):
        raise ctx.error(f"'{ins.name}': only tile mode is modelled by the emulator (not im2col or gather4)")
    reduce = mods[0] == "reduce"
    op = next((m for m in mods if m in REDUCE_OPS), None) if reduce else None
    if reduce and op is None:
        raise ctx.error(f"'{ins.name}' needs a reduction operation ({', '.join(REDUCE_OPS)})")
    tensor = "tensor" in mods
    spaces = [m for m in mods if m.split("::")[0] in ("global", "shared")]
    if len(spaces) != 2:
        raise ctx.error(f"'{ins.name}' needs .dst.src state spaces")
    to_global = spaces[0] == "global"
    if tensor and not to_global:
        return _tensor_load(ctx, ins)
    if tensor:
        return _tensor_store(ctx, ins, op)
    if to_global and spaces[1].startswith("shared"):
        return _bulk_store(ctx, ins, op)
    raise ctx.error(f"'{ins.name}' is not supported by the emulator",
                    hint="bulk copies modelled: global → shared (mbarrier), shared → global (bulk_group), tensor tile "
                         "loads (multicast too), stores and reductions")


# ------------------------------------------------------------------------------ operands


def _tensor_operand(ctx: Ctx, ins: ir.Instr, op):
    """(map address getter → u64 generic, coordinate getters) of ``[tmap, {c0, …}]``."""
    if not isinstance(op, Paren) or len(op.items) != 2 or not isinstance(op.items[1], ir.Vec):
        raise ctx.error(f"'{ins.name}' needs a tensor operand [tensorMap, {{c0, ...}}]")
    m, coords = op.items
    if isinstance(m, ir.Reg) and ctx.space_of(m.name) == "param" and m.name not in ctx.regs:
        c = np.uint64(PARAM_WINDOW + ctx.address_of(m.name))
        gmap = lambda st: c  # noqa: E731 - the parameter itself, by name
    else:
        gmap = ctx.src(m, "u64")
    dims = next((int(x[0]) for x in ins.mods if len(x) == 2 and x[1] == "d" and x[0] in "12345"), None)
    if dims is None or len(coords.items) != dims:
        raise ctx.error(f"'{ins.name}': a .{dims}d copy takes {dims} coordinates")
    return gmap, [ctx.src(c, "s32") for c in coords.items]


def read_maps(st, addr: np.ndarray, lanes: np.ndarray, what: str) -> list[TmaDesc | None]:
    """The tensor map at each lane's generic address (None where there is none: reported)."""
    out: list[TmaDesc | None] = [None] * len(lanes)
    for a in np.unique(addr):
        sel = np.flatnonzero(addr == a)
        a = int(a)
        raw = None
        if 0 <= a - PARAM_WINDOW < WINDOW_SIZE:
            o = a - PARAM_WINDOW
            raw = bytes(st.param[o:o + 128]) if o + 128 <= len(st.param) else None
        else:
            ln, off = st.global_index(np.array([a] * len(sel), np.uint64), 128, lanes[sel], f"{what} tensor map read",
                                      align=64)
            if len(ln):
                raw = bytes(st.heap[int(off[0]):int(off[0]) + 128])
        d = TmaDesc.decode(raw) if raw is not None else None
        if d is None and raw is not None:
            st.report("tma", lanes[sel], f"{what}: the 128 bytes at {a:#x} are not a tensor map (pass a TensorMap: "
                      "a CUtensorMap is opaque, and the emulator reads its own encoding)", address=a)
        for i in sel:
            out[i] = d
    return out


def _global(st, d: TmaDesc, goff: np.ndarray, lane: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(element indexes kept, heap offsets) of in-tensor elements; outside every buffer is reported."""
    e = d.elem_bytes
    addr = (d.address + goff).astype(np.uint64)
    ln, off = st.global_index(addr, e, np.full(len(goff), lane, np.int64), what)
    if len(off) == len(goff):
        return np.arange(len(goff)), off
    # some elements outside the buffers (reported above): keep the others, by the same rule
    dev = addr.view(np.int64) - GLOBAL_BASE
    bi = np.searchsorted(st.buf_starts, dev, side="right") - 1
    bic = np.maximum(bi, 0)
    ok = (bi >= 0) & (dev + e <= st.buf_ends[bic]) & (dev % e == 0)
    return np.flatnonzero(ok), dev[ok] - st.buf_deltas[bic[ok]]


def _slot_and_offset(st, a: int, lane: int) -> tuple[int, int]:
    """(wave slot, local shared offset) of a shared::cluster address used by ``lane``."""
    slot = int(st.lane_blk[lane])
    if a >= REMOTE:
        cl = cluster(st)
        rank = (a >> 24) - 1
        if rank >= cl.size:
            return -1, a & LOCAL_MASK
        slot = int(cl.first[slot]) + rank
    return slot, a & LOCAL_MASK


# ------------------------------------------------------------------------------ loads


def _tensor_load(ctx: Ctx, ins: ir.Instr) -> Sync:
    ops = ins.operands
    if len(ops) < 3 or not isinstance(ops[0], ir.Mem) or not isinstance(ops[2], ir.Mem):
        raise ctx.error(f"'{ins.name}' takes [dstMem], [tensorMap, {{coords}}], [mbar]{{, ctaMask}}")
    if "mbarrier::complete_tx::bytes" not in ins.mods:
        raise ctx.error(f"'{ins.name}': a tensor load completes through .mbarrier::complete_tx::bytes")
    gd, cd = address(ctx, ops[0])
    gb, cb = address(ctx, ops[2])
    gmap, gcoords = _tensor_operand(ctx, ins, ops[1])
    multicast = "multicast::cluster" in ins.mods
    gmask = ctx.src(ops[3], "u16") if multicast else None
    if multicast and len(ops) < 4:
        raise ctx.error(f"'{ins.name}' needs a ctaMask operand")
    ctx.note_shared(8)
    ctx.uses_mbarrier = True
    ctx.uses_async = True
    name = "cp.async.bulk.tensor"

    def h(st, wm, gm, pc):
        lanes = lanes_of(st, gm)
        dst = lane_addresses(st, gd, cd, lanes)
        bar = lane_addresses(st, gb, cb, lanes)
        maps = read_maps(st, lane_addresses(st, gmap, 0, lanes).astype(np.uint64), lanes, name)
        coords = [np.broadcast_to(g(st), (st.L,))[lanes].astype(np.int64) for g in gcoords]
        mask = np.broadcast_to(gmask(st), (st.L,))[lanes].astype(np.int64) if gmask is not None else None
        hs = hopper(st)
        keys, ls, nbytes = [], [], []
        for j, lane in enumerate(lanes):
            d = maps[j]
            if d is None:
                continue
            lane = int(lane)
            if d.rank != len(coords):
                st.report("tma", np.array([lane]), f"a .{len(coords)}d copy with a {d.rank}-d tensor map")
                continue
            slot, off = _slot_and_offset(st, int(dst[j]), lane)
            if off % 128:
                st.report("misaligned", np.array([lane]), f"{name} destination at shared offset {off:#x} is not "
                          "128-byte aligned")
                continue
            if multicast:
                cl = cluster(st)
                m = int(mask[j])
                ranks = [r for r in range(16) if m >> r & 1]
                if not ranks or max(ranks) >= cl.size:
                    st.report("cluster", np.array([lane]), f"{name} ctaMask {m:#x} names CTAs outside the cluster of "
                              f"{cl.size}")
                    continue
                slots = [int(cl.first[int(st.lane_blk[lane])]) + r for r in ranks]
            else:
                slots = [slot]
            saddr, goff, inb = box_map(d, [int(c[j]) for c in coords], off)
            if saddr.min() < 0 or saddr.max() + d.elem_bytes > st.sh_limit:
                st.report("oob-shared", np.array([lane]), f"{name}: the box ({d.box_bytes} bytes, rows of "
                          f"{d.row_pitch}) at shared offset {off:#x} passes the block's {st.sh_limit} bytes")
                continue
            keep, hoff = _global(st, d, goff[inb], lane, f"{name} read")
            sel = np.flatnonzero(inb)[keep]
            inb2 = np.zeros(len(goff), bool)
            inb2[sel] = True
            goff2 = np.zeros(len(goff), np.int64)
            goff2[sel] = hoff
            data = gather(d, st.heap, 0, goff2, inb2)
            for s in slots:
                flat = s * st.sh_size + saddr
                # the writer, for the race and in-flight checks: the issuing thread in its own CTA, the
                # destination CTA's thread 0 in another (epochs are per block)
                who = lane if s == int(st.lane_blk[lane]) else s * st.tp
                if st.races is not None:
                    rows = whole_rows(flat, d.elem_bytes) if ROWS else None  # one 16-byte write per row
                    at, size = (flat, d.elem_bytes) if rows is None else (rows, 16)
                    st.races.write(at, size, np.full(len(at), who, np.int64), copy=True)
                st.shared[flat[:, None] + np.arange(d.elem_bytes)] = data
                hs.async_write(flat)
                bslot, boff = _slot_and_offset(st, int(bar[j]), lane)
                keys.append(s * st.sh_size + boff if multicast or bslot < 0 else bslot * st.sh_size + boff)
                ls.append(who)
                nbytes.append(d.box_bytes)
        if not keys:
            return NONE, False
        if st.mbar is None:
            st.report("mbarrier", np.array(ls), f"{name} completes on an mbarrier that was never initialised")
            return NONE, False
        idx, tx, who = [], [], []
        for k, lane, nb in zip(keys, ls, nbytes):  # one by one: a bad barrier drops only its own copy
            i, _ = st.mbar.find(np.array([k], np.int64), np.array([lane], np.int64), name)
            if len(i):
                idx.append(int(i[0]))
                tx.append(nb)
                who.append(lane)
        if st.asyncs is not None and idx:  # the copies are in flight until those phases complete
            st.asyncs.track(np.array(who, np.int64), np.array(idx, np.int64))
        if not idx:
            return NONE, False
        return NONE, st.mbar.expect_tx(np.array(idx, np.int64), -np.array(tx, np.int64))
    return Sync(h)


# ------------------------------------------------------------------------------ stores


def _tensor_store(ctx: Ctx, ins: ir.Instr, op: str | None):
    ops = ins.operands
    if len(ops) < 2 or not isinstance(ops[1], ir.Mem):
        raise ctx.error(f"'{ins.name}' takes [tensorMap, {{coords}}], [srcMem]")
    gmap, gcoords = _tensor_operand(ctx, ins, ops[0])
    gs, cs = address(ctx, ops[1])
    ctx.note_shared(4)
    name = "cp.reduce.async.bulk.tensor" if op else "cp.async.bulk.tensor"

    def h(st, wm, gm):
        lanes = lanes_of(st, gm)
        src = lane_addresses(st, gs, cs, lanes)
        maps = read_maps(st, lane_addresses(st, gmap, 0, lanes).astype(np.uint64), lanes, name)
        coords = [np.broadcast_to(g(st), (st.L,))[lanes].astype(np.int64) for g in gcoords]
        for j, lane in enumerate(lanes):
            d = maps[j]
            if d is None:
                continue
            lane = int(lane)
            off = int(src[j]) & LOCAL_MASK
            if off % 128:
                st.report("misaligned", np.array([lane]), f"{name} source at shared offset {off:#x} is not "
                          "128-byte aligned")
                continue
            saddr, goff, inb = box_map(d, [int(c[j]) for c in coords], off)
            if saddr.min() < 0 or saddr.max() + d.elem_bytes > st.sh_limit:
                st.report("oob-shared", np.array([lane]), f"{name}: the box at shared offset {off:#x} passes the "
                          f"block's {st.sh_limit} bytes")
                continue
            flat = int(st.sh_base[lane]) + saddr
            if st.races is not None:
                rows = whole_rows(flat, d.elem_bytes) if ROWS else None  # one 16-byte read per row
                at, size = (flat, d.elem_bytes) if rows is None else (rows, 16)
                st.races.read(at, size, np.full(len(at), lane, np.int64))
            report_unfenced(st, flat, np.array([lane]), f"{name} (a TMA store)")
            e = d.elem_bytes
            vals = st.shared[flat[inb][:, None] + np.arange(e)]
            keep, hoff = _global(st, d, goff[inb], lane, f"{name} write")
            vals = vals[keep]
            idx = hoff[:, None] + np.arange(e)
            if op is not None:
                vals = reduce_values(d.dtype, op, st.heap[idx], vals)
            st.heap[idx] = vals
    return h


def _bulk_store(ctx: Ctx, ins: ir.Instr, op: str | None):
    """cp{.reduce}.async.bulk.global.shared::cta.bulk_group{.op.type} [dstMem], [srcMem], size."""
    ops = ins.operands
    gd, cd = address(ctx, ops[0])
    gs, cs = address(ctx, ops[1])
    gn = ctx.src(ops[2], "u32")
    t = next((m for m in ins.mods if m in V.TYPES), "b8")
    ctx.note_shared(4)

    def h(st, wm, gm):
        lanes = lanes_of(st, gm)
        dst = lane_addresses(st, gd, cd, lanes)
        src = lane_addresses(st, gs, cs, lanes)
        n = np.broadcast_to(gn(st), (st.L,))[lanes].astype(np.int64)
        for j, lane in enumerate(lanes):
            k = int(n[j])
            one = np.array([int(lane)])
            if k % 16 or (int(dst[j]) | int(src[j])) & 15:
                st.report("misaligned", one, "cp.async.bulk size and addresses must be multiples of 16 bytes")
                continue
            ln, flat = st.shared_index(np.array([int(src[j]) & LOCAL_MASK]), k, one, "cp.async.bulk read", align=16)
            ln2, off = st.global_index(np.array([int(dst[j])], np.uint64), k, one, "cp.async.bulk write", align=16)
            if not len(ln) or not len(ln2):
                continue
            f = int(flat[0]) + np.arange(k)
            if st.races is not None:
                st.races.read(f[::4], 4, np.full(k // 4, int(lane), np.int64))
            report_unfenced(st, f, one, "cp.async.bulk (a bulk store)")
            vals = st.shared[f]
            g = int(off[0]) + np.arange(k)
            if op is not None:
                e = V.dtype(t).itemsize
                vals = reduce_values(_TENSOR_TYPE.get(t, t), op, st.heap[g].reshape(-1, e), vals.reshape(-1, e))
            st.heap[g] = vals.reshape(-1)
    return h


_TENSOR_TYPE = {"f16": "float16", "bf16": "bfloat16", "f32": "float32", "f64": "float64", "s32": "int32",
                "s64": "int64", "u32": "uint32", "u64": "uint64", "b32": "uint32", "b64": "uint64"}
_FLOAT = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
_SIGNED = {"int32": np.int32, "int64": np.int64}
_INT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def reduce_values(dtype: str, op: str, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """``old op new`` for raw element bytes (n, e) of tensor-map type ``dtype``; floats round once."""
    shape = old.shape
    old, new = np.ascontiguousarray(old), np.ascontiguousarray(new)
    if dtype == "bfloat16":
        o = V.bf16_to_f32(old.view(np.uint16))
        n = V.bf16_to_f32(new.view(np.uint16))
        return V.f32_to_bf16(_float_op(op, o, n)).view(np.uint8).reshape(shape)
    t = _FLOAT.get(dtype) or _SIGNED.get(dtype) or _INT[shape[-1]]
    o, n = old.view(t), new.view(t)
    if np.dtype(t).kind == "f":
        r = _float_op(op, o, n)
    else:
        r = {"add": lambda: o + n, "min": lambda: np.minimum(o, n), "max": lambda: np.maximum(o, n),
             "and": lambda: o & n, "or": lambda: o | n, "xor": lambda: o ^ n,
             "inc": lambda: np.where(o >= n, 0, o + 1), "dec": lambda: np.where((o == 0) | (o > n), n, o - 1)}[op]()
    return np.asarray(r, t).view(np.uint8).reshape(shape)


def _float_op(op: str, o, n):
    if op == "add":
        return o + n
    if op in ("min", "max"):
        return np.fmin(o, n) if op == "min" else np.fmax(o, n)
    raise ValueError(f"reduction .{op} is not defined on floating-point data")


# ------------------------------------------------------------------------------ st.async


@builder("st.async")  # reached from ops_mem.st_
def st_async(ctx: Ctx, ins: ir.Instr) -> Sync:
    """``st.async.shared::cluster.mbarrier::complete_tx::bytes{.v2,.v4}.type [a], b, [mbar]``: a store into
    (usually another CTA's) shared memory that completes its bytes on the mbarrier of that CTA."""
    mods = set(ins.mods)
    types = [m for m in ins.mods if m in V.TYPES]
    if "mbarrier::complete_tx::bytes" not in mods or len(ins.operands) != 3 or len(types) != 1:
        raise ctx.error(f"'{ins.name}' is not supported by the emulator",
                        hint="st.async.shared::cluster.mbarrier::complete_tx::bytes{.v2|.v4}.type [a], b, [mbar]")
    t = types[0]
    mem, val, bar = ins.operands
    items = val.items if isinstance(val, ir.Vec) else (val,)
    e = V.dtype(t).itemsize
    size = e * len(items)
    ga, ca = address(ctx, mem)
    gb, cb = address(ctx, bar)
    gets = [ctx.src(x, t) for x in items]
    udt = np.dtype(f"u{e}")
    ctx.note_shared(min(e, 4))
    ctx.uses_mbarrier = True

    def h(st, wm, gm, pc):
        lanes = lanes_of(st, gm)
        a = lane_addresses(st, ga, ca, lanes)
        ln, flat = st.shared_index(a & 0xFFFFFFFF, size, lanes, "st.async")
        if st.races is not None:
            st.races.write(flat, size, ln)
        rows = np.searchsorted(lanes, ln)
        for k, g in enumerate(gets):
            v = np.broadcast_to(g(st), (st.L,))[lanes][rows]
            st.shared[(flat + k * e)[:, None] + np.arange(e)] = np.asarray(v).view(udt).view(np.uint8).reshape(-1, e)
        b = lane_addresses(st, gb, cb, lanes)[rows]
        ln2, bflat = st.shared_index(b & 0xFFFFFFFF, 8, ln, "st.async mbarrier")
        if st.mbar is None or not len(ln2):
            return NONE, False
        idx, ln3 = st.mbar.find(bflat, ln2, "st.async")
        return NONE, st.mbar.expect_tx(idx, -np.full(len(idx), size, np.int64))
    return Sync(h)
