"""Loads, stores, atomics, ``cp.async`` and ``ldmatrix`` on global/shared/local/param/const memory.

Memory handlers act only on the group's lanes (``gm``); every access goes through the checked index
functions of :class:`~.machine.State` (bounds, alignment, and on shared memory the race and
initialisation tracking). Atomics are applied in lane (thread) order: distinct addresses at once,
repeated addresses round by round.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from . import values as V
from .decode import ALLOCA_BYTES, BUILDERS, Ctx, builder, split_mods
from .machine import CONST_WINDOW, LOCAL_WINDOW, PARAM_WINDOW, SHARED_WINDOW, SHIFT, UVIEW, WINDOW_SIZE

SPACES = ("global", "shared", "local", "param", "const")


def space_of(ctx: Ctx, ins: ir.Instr, mem: ir.Mem) -> str:
    for m in ins.mods:
        s = m.split("::")[0]
        if s in SPACES:
            if s == "param" and isinstance(mem.base, ir.Reg) and mem.base.name in ctx.layout.local:
                return "local"  # call arguments and results: .param variables of a function body
            return s
    if isinstance(mem.base, ir.Reg) and ctx.space_of(mem.base.name) in ("param", "const"):
        return ctx.space_of(mem.base.name)
    return "generic"


def address(ctx: Ctx, mem) -> tuple:
    """(getter of int64 addresses or None, constant part)."""
    if not isinstance(mem, ir.Mem):
        raise ctx.error("expected a memory operand [addr]")
    base = mem.base
    if base is None:
        return None, mem.offset
    if ctx.is_symbol(base.name) and base.name not in ctx.regs:
        return None, ctx.address_of(base.name) + mem.offset
    return ctx.src(base, "s64" if V.dtype(ctx.reg(base.name)[1]).itemsize == 8 else "u32"), mem.offset


def lane_addresses(st, get, const: int, lanes):
    if get is None:
        return np.full(len(lanes), const, np.int64)
    a = get(st)
    if a.ndim == 0:
        return np.full(len(lanes), int(a) + const, np.int64)
    a = a if lanes is st.all_lanes else a[lanes]
    return a.astype(np.int64) + const if const else a.astype(np.int64, copy=False)


def lanes_of(st, gm):
    return st.all_lanes if gm is None else np.flatnonzero(gm)


def put_lanes(st, i: int, rdt, lanes, vals, conv):
    v = conv(vals)
    if lanes is st.all_lanes:
        st.regs[i] = v
        return
    new = np.array(np.broadcast_to(st.regs[i], (st.L,)), dtype=rdt)
    new[lanes] = v
    st.regs[i] = new


def dst_lanes(ctx: Ctx, op, t: str):
    """A setter ``s(st, lanes, values)`` for partial (per-lane) register writes."""
    if isinstance(op, ir.Sink):
        return lambda st, lanes, vals: None
    if not isinstance(op, ir.Reg) or op.name not in ctx.regs:
        raise ctx.error(f"destination '{getattr(op, 'name', op)}' is not a declared register")
    i, rt = ctx.regs[op.name]
    rdt, dt = V.dtype(rt), V.dtype(t)
    signed = t in V.SIGNED_TYPES

    def conv(v):
        return V.as_type(v, dt, rdt, signed)
    return lambda st, lanes, vals: put_lanes(st, i, rdt, lanes, vals, conv)


# ------------------------------------------------------------------------------ space access


def _aligned(st, space: str, off, size, lanes, what):
    """Drop (and report) the accesses not aligned to their size: the GPU faults on them."""
    if size > 1 and off.size:
        mis = off % size != 0
        if mis.any():
            st.report("misaligned", lanes[mis], f"{size}-byte {space} {what} at offset {int(off[mis][0]):#x} "
                      f"is not {size}-byte aligned")
            return lanes[~mis], off[~mis]
    return lanes, off


def _local_index(st, off, size, lanes, what):
    bad = (off < 0) | (off + size > st.local_size)
    if bad.any():
        st.report("oob-local", lanes[bad], f"{size}-byte local {what} at offset {int(off[bad][0]):#x} is "
                  f"outside the {st.local_size}-byte local frame")
        lanes, off = lanes[~bad], off[~bad]
    lanes, off = _aligned(st, "local", off, size, lanes, what)
    return lanes, lanes.astype(np.int64) * st.local_size + off


def _bank_index(st, buf_name, off, size, lanes, what):
    lay = st.prog.layout
    limit = max(lay.param_size, 1) if buf_name == "param" else len(lay.const_bytes)
    bad = (off < 0) | (off + size > limit)
    if bad.any():
        st.report("oob-const", lanes[bad], f"{size}-byte .{buf_name} {what} at offset {int(off[bad][0]):#x} "
                  f"is outside the {limit}-byte bank")
        lanes, off = lanes[~bad], off[~bad]
    return _aligned(st, f".{buf_name}", off, size, lanes, what)


def locate(st, space: str, a, size: int, lanes, what: str, write: bool, strong: bool = False):
    """→ list of (views by itemsize, lanes, byte index, is_shared) for the addresses ``a``. ``strong``: a
    volatile or gpu/system-scope relaxed/acquire/release access, which (like an atomic) never races with
    another strong one in the PTX memory model, so the global race tracker does not record it."""
    if space == "generic":
        sh = (a - SHARED_WINDOW).astype(np.uint64) < WINDOW_SIZE
        lo = (a - LOCAL_WINDOW).astype(np.uint64) < WINDOW_SIZE
        pa = (a - PARAM_WINDOW).astype(np.uint64) < WINDOW_SIZE
        co = (a - CONST_WINDOW).astype(np.uint64) < WINDOW_SIZE
        if not sh.any() and not lo.any() and not pa.any() and not co.any():
            space = "global"
        else:
            out = []
            for m, window, bank, name in ((pa, PARAM_WINDOW, "param", "the kernel parameters"),
                                          (co, CONST_WINDOW, "const", "constant memory")):
                if not m.any():
                    continue
                if write:
                    st.report("bad-address", lanes[m], f"{what} through a generic address into {name}, "
                              "which is read-only")
                else:
                    out += locate(st, bank, a[m] - window, size, lanes[m], what, write)
            gl = ~(sh | lo | pa | co)
            if gl.any():
                out += locate(st, "global", a[gl], size, lanes[gl], what, write, strong)
            if sh.any():
                out += locate(st, "shared", a[sh] - SHARED_WINDOW, size, lanes[sh], what, write)
            if lo.any():
                out += locate(st, "local", a[lo] - LOCAL_WINDOW, size, lanes[lo], what, write)
            return out
    if space == "global":
        ln, idx = st.global_index(a.view(np.uint64) if a.dtype == np.int64 else a, size, lanes, what)
        if st.gtrack is not None:
            if what == "atomic":
                st.gtrack.acquire(ln)
            elif not strong:
                st.gtrack.access(idx, size, ln, write)
        return [(st.hv, ln, idx, False)]
    if space == "shared":
        ln, idx = st.shared_index(a, size, lanes, what)
        return [(st.sv, ln, idx, True)]
    if space == "local":
        ln, idx = _local_index(st, a, size, lanes, what)
        return [(st.lv, ln, idx, False)]
    bank = st.param if space == "param" else st.const
    ln, idx = _bank_index(st, space, a, size, lanes, what)
    return [(bank_views(bank), ln, idx, False)]


def bank_views(bank):  # noqa: N802 - tiny helper: views of a byte bank
    return {s: bank.view(np.dtype(f"u{s}")) for s in (1, 2, 4, 8)}


# ------------------------------------------------------------------------------ ld / st


def is_strong(mods) -> bool:
    """Volatile (relaxed, system scope) or relaxed/acquire/release at gpu or system scope: morally strong
    between any two blocks of a grid (cta- and cluster-scope ones are not, and stay tracked)."""
    return "volatile" in mods or (("relaxed" in mods or "acquire" in mods or "release" in mods)
                                  and ("gpu" in mods or "sys" in mods))


@builder("ld", "ldu")
def ld(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    t = types[-1]
    d, mem = ins.operands[0], ins.operands[1]
    items = d.items if isinstance(d, ir.Vec) else (d,)
    e = V.dtype(t).itemsize
    if e not in SHIFT or e > 8:
        raise ctx.error(f"'{ins.name}': {t} loads are not supported by the emulator")
    size = e * len(items)
    space = space_of(ctx, ins, mem)
    if space in ("shared", "generic"):  # a generic access may land in shared memory
        ctx.note_shared(e)
    if space in ("global", "generic"):
        ctx.note_global(size, False)
    acquire = "acquire" in mods and ("gpu" in mods or "sys" in mods)
    strong = is_strong(mods)
    get, const = address(ctx, mem)
    puts = [dst_lanes(ctx, x, t) for x in items]
    sh = SHIFT[e]
    udt = np.dtype(f"u{e}")
    tdt = V.dtype(t)
    if space == "param" and get is None:  # uniform parameter read
        def hp(st, wm, gm):
            raw = st.param[const:const + size].view(udt)
            lanes = lanes_of(st, gm)
            for k, p in enumerate(puts):
                p(st, lanes, np.full(len(lanes), raw[k:k + 1].view(tdt)[0]))
        return hp

    def h(st, wm, gm):
        lanes = lanes_of(st, gm)
        a = lane_addresses(st, get, const, lanes)
        for views, ln, idx, shared in locate(st, space, a, size, lanes, "load", False, strong):
            if shared and st.races is not None:
                st.races.read(idx, size, ln)
            w = idx >> sh
            view = views[e]
            for k, p in enumerate(puts):
                p(st, ln, view[w + k].view(tdt))
        if acquire and st.gtrack is not None:
            st.gtrack.acquire(lanes)
    return h


@builder("st")
def st_(ctx: Ctx, ins: ir.Instr):
    if "async" in ins.mods:  # st.async: a cluster store completing on an mbarrier (ops_tma)
        return BUILDERS["st.async"](ctx, ins)
    types, mods = split_mods(ins.mods)
    t = types[-1]
    mem, s = ins.operands[0], ins.operands[1]
    items = s.items if isinstance(s, ir.Vec) else (s,)
    e = V.dtype(t).itemsize
    if e > 8:
        raise ctx.error(f"'{ins.name}': {t} stores are not supported by the emulator")
    size = e * len(items)
    space = space_of(ctx, ins, mem)
    if space in ("param", "const"):
        raise ctx.error(f"'{ins.name}': stores to .{space} are not supported")
    if space in ("shared", "generic"):  # a generic access may land in shared memory
        ctx.note_shared(e)
    if space in ("global", "generic"):
        ctx.note_global(size, True)
    get, const = address(ctx, mem)
    udt = np.dtype(f"u{e}")
    gets = [None if isinstance(x, ir.Sink) else ctx.src(x, t) for x in items]
    sh = SHIFT[e]
    strong = is_strong(mods)
    release = "release" in mods and ("gpu" in mods or "sys" in mods)

    def h(st, wm, gm):
        lanes = lanes_of(st, gm)
        if release and st.gtrack is not None:  # a release store publishes the block's earlier writes
            st.gtrack.fence(lanes)
        a = lane_addresses(st, get, const, lanes)
        for views, ln, idx, shared in locate(st, space, a, size, lanes, "store", True, strong):
            if shared and st.races is not None:
                st.races.write(idx, size, ln)
            if shared and st.hopper is not None:
                st.hopper.generic_write(idx, size, ln)
            w = idx >> sh
            view = views[e]
            for k, g in enumerate(gets):
                if g is None:
                    continue
                v = g(st)
                v = np.broadcast_to(v, (st.L,))[ln] if v.ndim == 0 or ln is not st.all_lanes else v
                view[w + k] = np.asarray(v).view(udt)
    return h


# ------------------------------------------------------------------------------ atomics


def serial_apply(view, idx, f, b, c):
    """Apply ``new = f(old, b, c)`` at ``view[idx]`` in lane order; return the old values."""
    n = len(idx)
    if n == 0:
        return view[idx]
    order = np.argsort(idx, kind="stable")
    sidx = idx[order]
    first = np.empty(n, bool)
    first[0] = True
    np.not_equal(sidx[1:], sidx[:-1], out=first[1:])
    if first.all():
        old = view[idx]
        view[idx] = f(old, b, c)
        return old
    pos = np.arange(n)
    start = np.maximum.accumulate(np.where(first, pos, 0))
    rank = np.empty(n, np.int64)
    rank[order] = pos - start
    old = np.empty(n, view.dtype)
    for r in range(int(rank.max()) + 1):
        sel = np.flatnonzero(rank == r)
        i = idx[sel]
        o = view[i]
        old[sel] = o
        view[i] = f(o, b[sel], None if c is None else c[sel])
    return old


def _half_add(t: str):
    """add.noftz on f16/bf16 (bits or float16 views) and packed pairs: each half computed in f32 (exact for
    a sum of two halves) and rounded to nearest once; subnormals kept."""
    if t == "f16":
        return lambda o, b, c: (o.astype(np.float32) + b.astype(np.float32)).astype(np.float16)
    if t == "bf16":
        return lambda o, b, c: V.f32_to_bf16(V.bf16_to_f32(o) + V.bf16_to_f32(b))

    def pair(o, b, c):
        (ol, oh), (bl, bh) = V.unpack_half2(o, t), V.unpack_half2(b, t)
        return V.pack_half2(V.to_half_bits(ol + bl, t), V.to_half_bits(oh + bh, t))
    return pair


def _atom_fn(op: str, t: str, ctx: Ctx):
    dt = V.dtype(t)
    if t in ("f16", "bf16", "f16x2", "bf16x2"):
        return _half_add(t)
    if op == "add":
        return lambda o, b, c: (o + b).astype(dt)
    if op == "min":
        return lambda o, b, c: np.minimum(o, b)
    if op == "max":
        return lambda o, b, c: np.maximum(o, b)
    if op == "exch":
        return lambda o, b, c: b
    if op == "cas":
        return lambda o, b, c: np.where(o == b, c, o)
    if op == "and":
        return lambda o, b, c: o & b
    if op == "or":
        return lambda o, b, c: o | b
    if op == "xor":
        return lambda o, b, c: o ^ b
    if op == "inc":
        return lambda o, b, c: np.where(o >= b, dt.type(0), o + dt.type(1)).astype(dt)
    if op == "dec":
        return lambda o, b, c: np.where((o == 0) | (o > b), b, o - dt.type(1)).astype(dt)
    raise ctx.error(f"atomic operation '.{op}' is not supported by the emulator")


@builder("atom", "red")
def atom(ctx: Ctx, ins: ir.Instr):
    """Atomics; one with release semantics at gpu or system scope (``atom.add.release.gpu``, how
    cooperative groups' grid barrier arrives) also publishes its block's global writes, as a fence
    does, and one on a cooperative launch's grid workspace is an arrival at the grid barrier (see gmem)."""
    h = _atom(ctx, ins)
    if not {"release", "acq_rel"} & set(ins.mods) or {"cta", "cluster"} & set(ins.mods):
        return h
    get, const = address(ctx, ins.operands[1] if ins.opcode == "atom" else ins.operands[0])

    def hr(st, wm, gm):
        h(st, wm, gm)
        if st.gtrack is not None:
            lanes = lanes_of(st, gm)
            st.gtrack.fence(lanes)
            if st.gtrack.workspace:  # a cooperative launch: is this an arrival at cg's grid barrier?
                st.gtrack.arrive(lanes, lane_addresses(st, get, const, lanes))
    return hr


def _atom(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    t = types[-1]
    op = next((m for m in ins.mods if m in ("add", "min", "max", "exch", "cas", "and", "or", "xor",
                                             "inc", "dec")), None)
    half = t in ("f16", "bf16", "f16x2", "bf16x2")
    if "async" in ins.mods:
        raise ctx.error(f"'{ins.name}' (red.async) is not supported by the emulator")
    vec = next((int(m[1]) for m in ("v2", "v4", "v8") if m in mods), 1)
    if op is None or len(types) > 1:
        raise ctx.error(f"'{ins.name}' is not supported by the emulator")
    if half and (op != "add" or "noftz" not in mods):
        raise ctx.error(f"'{ins.name}' is not supported by the emulator",
                        hint="half-precision atomics: add.noftz on f16, bf16, f16x2 and bf16x2")
    has_d = ins.opcode == "atom"
    ops = ins.operands
    mem = ops[1] if has_d else ops[0]
    rest = ops[2:] if has_d else ops[1:]
    space = space_of(ctx, ins, mem)
    e = V.dtype(t).itemsize
    if vec > 1:
        return _vector_atom(ctx, ins, op, t, vec, space, ops, mem, rest, has_d)
    if space in ("shared", "generic"):  # a generic access may land in shared memory
        ctx.note_shared(e)
    get, const = address(ctx, mem)
    gb = ctx.src(rest[0], t)
    gc = ctx.src(rest[1], t) if op == "cas" else None
    put = dst_lanes(ctx, ops[0], t) if has_d else None
    f = _atom_fn(op, t, ctx)
    tdt = V.dtype(t)
    sh = SHIFT[e]

    def h(st, wm, gm):
        lanes = lanes_of(st, gm)
        a = lane_addresses(st, get, const, lanes)
        b = np.broadcast_to(gb(st), (st.L,))
        c = np.broadcast_to(gc(st), (st.L,)) if gc is not None else None
        for views, ln, idx, shared in locate(st, space, a, e, lanes, "atomic", True):
            if shared and st.races is not None:
                st.races.write(idx, e, ln, atomic=True)
            if shared and st.hopper is not None:
                st.hopper.generic_write(idx, e, ln)
            view = views[e].view(tdt)
            old = serial_apply(view, idx >> sh, f, b[ln], None if c is None else c[ln])
            if put is not None:
                put(st, ln, old)
    return h


def _vector_atom(ctx: Ctx, ins: ir.Instr, op: str, t: str, n: int, space: str, ops, mem, rest, has_d: bool):
    """``atom/red.global.add.v2/.v4.f32`` and ``.v2/.v4/.v8`` of f16/bf16 (``.v2/.v4`` of the x2 pairs), as
    sm_90 defines them: each element an atomic add of its own, the vector aligned to its whole size."""
    e = V.dtype(t).itemsize
    ok = op == "add" and space in ("global", "generic") and (
        (t == "f32" and n in (2, 4)) or (t in ("f16", "bf16") and n in (2, 4, 8))
        or (t in ("f16x2", "bf16x2") and n in (2, 4)))
    if not ok or not isinstance(rest[0], ir.Vec) or len(rest[0].items) != n or (
            has_d and (not isinstance(ops[0], ir.Vec) or len(ops[0].items) != n)):
        raise ctx.error(f"'{ins.name}' is not supported by the emulator",
                        hint="vector atomics: global .add of .v2/.v4 f32, .v2/.v4/.v8 f16/bf16, .v2/.v4 f16x2/bf16x2, "
                             "with brace lists of that many registers")
    get, const = address(ctx, mem)
    gbs = [ctx.src(x, t) for x in rest[0].items]
    puts = [dst_lanes(ctx, x, t) for x in ops[0].items] if has_d else []
    f = _atom_fn(op, t, ctx)
    tdt = V.dtype(t)
    sh = SHIFT[e]

    def h(st, wm, gm):
        lanes = lanes_of(st, gm)
        a = lane_addresses(st, get, const, lanes)
        for views, ln, idx, shared in locate(st, space, a, n * e, lanes, "atomic", True):
            if shared or views is st.lv:  # a generic address outside global memory
                st.report("bad-address", ln, f"'{ins.name}': vector atomics work on global memory only")
                continue
            view = views[e].view(tdt)
            for k, g in enumerate(gbs):
                b = np.broadcast_to(g(st), (st.L,))
                old = serial_apply(view, (idx + k * e) >> sh, f, b[ln], None)
                if puts:
                    puts[k](st, ln, old)
    return h


# ------------------------------------------------------------------------------ cp.async


CP_ASYNC_MORE: dict = {}  # cp.async.<mod> builders registered by other modules (ops_mbarrier: bulk, mbarrier)


@builder("cp")
def cp_async(ctx: Ctx, ins: ir.Instr):
    mods = ins.mods
    if _tma(mods):  # TMA and the bulk copy family beyond the plain global → shared load: ops_tma
        return BUILDERS["cp.bulk"](ctx, ins)
    if not mods or mods[0] != "async":
        raise ctx.error(f"'{ins.name}' is not supported by the emulator")
    if len(mods) > 1 and mods[1] in ("commit_group", "wait_group", "wait_all"):
        return _cp_async_group(ctx, ins, mods[1])  # copies complete at issue; groups matter to the checks
    if len(mods) > 1 and mods[1] in CP_ASYNC_MORE:
        return CP_ASYNC_MORE[mods[1]](ctx, ins)
    ops = ins.operands
    ctx.note_shared(4)
    ctx.uses_async = True
    gd, cd = address(ctx, ops[0])
    if isinstance(ops[2], ir.Imm):
        ctx.note_global(int(ops[2].value), False)
    gs, cs = address(ctx, ops[1])
    if not isinstance(ops[2], ir.Imm):
        raise ctx.error("cp.async needs an immediate copy size")
    cp = int(ops[2].value)
    gsz = ctx.src(ops[3], "u32") if len(ops) > 3 and not (ins.operands[3:] and _is_pred(ctx, ops[3])) else None
    gign = ctx.src(ops[-1], "pred") if len(ops) > 3 and _is_pred(ctx, ops[-1]) else None

    def h(st, wm, gm):
        lanes = lanes_of(st, gm)
        dst = lane_addresses(st, gd, cd, lanes)
        src = lane_addresses(st, gs, cs, lanes)
        n = np.full(len(lanes), cp, np.int64)
        if gsz is not None:
            n = np.minimum(np.broadcast_to(gsz(st), (st.L,))[lanes].astype(np.int64), cp)
        if gign is not None:
            n = np.where(np.broadcast_to(gign(st), (st.L,))[lanes], 0, n)
        whole = n == cp
        if (whole | (n == 0)).all():  # whole copies and zero fills: aligned words (16 bytes: two u64) at once
            some = whole.all()
            rd_lanes = lanes if some else lanes[whole]
            ln, off = st.global_index(src.view(np.uint64) if some else src[whole].view(np.uint64), cp, rd_lanes,
                                      "cp.async read")
            if st.gtrack is not None:
                st.gtrack.access(off, cp, ln, False)
            words = np.take(_words(st.heap, cp), off // cp, axis=0)
            if len(ln) != len(lanes):  # zero fills and dropped reads write zeros
                w = np.zeros((len(lanes),) + words.shape[1:], words.dtype)
                w[np.searchsorted(lanes, ln)] = words
                words = w
            ln2, flat = st.shared_index(dst, cp, lanes, "cp.async write")
            if st.races is not None:
                st.races.write(flat, cp, ln2, copy=True)
            if len(ln2) != len(lanes):
                words = words[np.searchsorted(lanes, ln2)]
            _words(st.shared, cp)[flat // cp] = words
            return
        data = np.zeros((len(lanes), cp), np.uint8)
        for k in np.unique(n):
            sel = n == k
            if k == 0:
                continue
            ln, off = st.global_index(src[sel].view(np.uint64), int(k), lanes[sel], "cp.async read", align=cp)
            if st.gtrack is not None:
                st.gtrack.access(off, int(k), ln, False)
            rows = np.searchsorted(lanes, ln)
            data[rows, :k] = st.heap[off[:, None] + np.arange(k)]
        ln, flat = st.shared_index(dst, cp, lanes, "cp.async write")
        if st.races is not None:
            st.races.write(flat, cp, ln, copy=True)
        rows = np.searchsorted(lanes, ln)
        st.shared[flat[:, None] + np.arange(cp)] = data[rows]
    return h


def _words(buf: np.ndarray, size: int) -> np.ndarray:
    """``buf`` as aligned ``size``-byte words (16: rows of two u64)."""
    n = len(buf) // size * size
    if size == 16:
        return buf[:n].view(np.uint64).reshape(-1, 2)
    return buf[:n].view(UVIEW[size])


def _cp_async_group(ctx: Ctx, ins: ir.Instr, verb: str):
    if verb == "wait_group":
        if not ins.operands or not isinstance(ins.operands[0], ir.Imm):
            raise ctx.error(f"'{ins.name}' needs an immediate group count")
        n = int(ins.operands[0].value)

    def h(st, wm, gm):
        if st.asyncs is None:
            return
        lanes = lanes_of(st, gm)
        if verb == "commit_group":
            st.asyncs.commit(lanes)
        else:
            st.asyncs.wait(lanes, n if verb == "wait_group" else None)
    return h


def _is_pred(ctx: Ctx, op) -> bool:
    return isinstance(op, ir.Reg) and op.name.lstrip("!") in ctx.regs and ctx.regs[op.name.lstrip("!")][1] == "pred"


@builder("membar")
def membar(ctx: Ctx, ins: ir.Instr):
    """``membar.gl/.sys`` (``__threadfence``) publishes the block's global writes (see gmem)."""
    if not {"gl", "sys"} & set(ins.mods):
        return lambda st, wm, gm: None

    def h(st, wm, gm):
        if st.gtrack is not None:
            st.gtrack.fence(lanes_of(st, gm))
    return h


def _tma(mods: tuple[str, ...]) -> bool:
    return (mods[:1] == ("reduce",) or "tensor" in mods or "prefetch" in mods or "bulk_group" in mods
            or "multicast::cluster" in mods
            or (mods[1:2] == ("bulk",) and any(m in mods for m in ("commit_group", "wait_group"))))


@builder("prefetch", "prefetchu", "discard", "applypriority", "createpolicy",
         "griddepcontrol", "nanosleep", "pmevent")
def nop(ctx: Ctx, ins: ir.Instr):
    if ins.opcode == "createpolicy":  # an opaque L2 cache policy: only ever a hint to later accesses
        if not ins.operands or not isinstance(ins.operands[0], ir.Reg):
            raise ctx.error(f"'{ins.name}' needs a destination register")
        from .decode import alu
        return alu(ctx, ins, "b64", lambda *a: np.uint64(0), len(ins.operands) - 1,
                   src_ts=["f32" if isinstance(o, ir.Imm) and isinstance(o.value, float) else "b64"
                           for o in ins.operands[1:]])
    return lambda st, wm, gm: None


@builder("trap", "brkpt")
def trap(ctx: Ctx, ins: ir.Instr):
    """A thread that executes ``trap`` (a failed device assert) stops the run with an error."""
    from ..errors import EmulatorError

    span = ins.span
    line = span.line if span else "?"
    hint = "a device-side assert failed or the kernel trapped"
    if _reads_grid_workspace(ctx.kernel):
        hint = ("this kernel reads cooperative groups' grid workspace (%envreg1/%envreg2), which is 0 outside a "
                "cooperative launch, as on the GPU: grid.sync() needs cudaLaunchCooperativeKernel — "
                "emulate(..., cooperative=True) runs it so (every block resident at once)")

    def h(st, wm, gm):
        lanes = lanes_of(st, gm)
        if len(lanes):
            blk, thr = st.lane_coords(int(lanes[0]))
            raise EmulatorError(f"'{st.kernel}': {ins.name} executed by block {blk} thread {thr} "
                                f"(PTX line {line})", span, hint=hint)
    return h


def _reads_grid_workspace(kernel: ir.Kernel) -> bool:
    """Whether the kernel reads %envreg1/%envreg2, where a cooperative launch passes cg's grid workspace."""
    return any(getattr(o, "name", None) in ("%envreg1", "%envreg2") for s in kernel.body
               if isinstance(s, ir.Instr) for o in s.operands)


@builder("isspacep")
def isspacep(ctx: Ctx, ins: ir.Instr):
    space = next((m for m in ins.mods if m in ("global", "shared", "local", "const", "param")), None)
    if space is None:
        raise ctx.error(f"'{ins.name}' needs a state space")
    ga = ctx.src(ins.operands[1], "u64")
    put = ctx.dst(ins.operands[0], "pred")

    def h(st, wm, gm):
        a = ga(st).view(np.int64)
        sh = (a - SHARED_WINDOW).astype(np.uint64) < WINDOW_SIZE
        lo = (a - LOCAL_WINDOW).astype(np.uint64) < WINDOW_SIZE
        pa = (a - PARAM_WINDOW).astype(np.uint64) < WINDOW_SIZE
        co = (a - CONST_WINDOW).astype(np.uint64) < WINDOW_SIZE
        put(st, {"shared": sh, "local": lo, "param": pa, "const": co,
                 "global": ~(sh | lo | pa | co)}[space], wm)
    return h


@builder("alloca", "stacksave", "stackrestore")
def alloca(ctx: Ctx, ins: ir.Instr):
    """``alloca.u64 p, size{, align}``: a local-memory block from the thread's arena (``ALLOCA_BYTES`` after
    its static frame; more is refused at run time, naming the thread); ``stacksave``/``stackrestore`` read
    and reset the arena's top. ``p`` is a local-space address, as on the GPU (nvcc applies ``cvta.local``)."""
    from ..errors import EmulatorError

    base = ctx.layout.alloca_base
    types, _mods = split_mods(ins.mods)
    t = types[-1] if types else "u64"
    sp_get, sp_put = ctx.src(ir.Reg("%alloca_sp"), "u64"), ctx.dst(ir.Reg("%alloca_sp"), "u64")
    top0 = np.uint64(max(base, 0))  # the arena's top as a local address: base + bytes in use
    if ins.opcode == "stacksave":
        put = ctx.dst(ins.operands[0], t)
        return lambda st, wm, gm: put(st, (np.asarray(sp_get(st), np.uint64) + top0).astype(V.dtype(t)), wm)
    if ins.opcode == "stackrestore":
        get = ctx.src(ins.operands[0], t)
        return lambda st, wm, gm: sp_put(st, np.asarray(get(st)).astype(np.uint64) - top0, wm)
    if base < 0:
        raise ctx.error(f"'{ins.name}' outside the kernel's body")
    put = ctx.dst(ins.operands[0], t)
    size = ctx.src(ins.operands[1], t)
    align = int(ins.operands[2].value) if len(ins.operands) > 2 else 8
    if align & (align - 1) or align > 16:
        raise ctx.error(f"'{ins.name}' alignment {align} is not a power of two up to 16",
                        hint="the emulator aligns alloca blocks within a 16-byte aligned arena")
    line = ins.span.line if ins.span else "?"

    def h(st, wm, gm):
        start = (np.asarray(sp_get(st), np.uint64) + np.uint64(align - 1)) & ~np.uint64(align - 1)
        top = start + np.asarray(size(st)).astype(np.uint64)
        lanes = lanes_of(st, gm)
        over = np.broadcast_to(top, (st.L,))[lanes] > ALLOCA_BYTES
        if over.any():
            blk, thr = st.lane_coords(int(lanes[over][0]))
            raise EmulatorError(f"'{st.kernel}': alloca at PTX line {line} by block {blk} thread {thr} needs more "
                                f"than the emulator's {ALLOCA_BYTES}-byte arena per thread", ins.span,
                                hint="the emulator gives each thread a fixed arena for dynamic stack allocation")
        put(st, (start + np.uint64(base)).astype(V.dtype(t)), wm)
        sp_put(st, top, wm)
    return h
