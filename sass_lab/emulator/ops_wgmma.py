"""wgmma: ``fence``, ``mma_async``, ``commit_group``, ``wait_group`` for a warpgroup (4 warps, 128 threads).

``mma_async`` reads A (registers, or shared memory through a descriptor) and B (a descriptor) exactly
as :mod:`sass_lab.hw.smem` and :mod:`sass_lab.hw.wgmma` say the hardware does, so a wrong LBO, SBO,
swizzle or base offset gives the wrong numbers the GPU would give. The result is written at issue;
the async bookkeeping (:mod:`.hopper`) reports a program that touches the registers before the
covering ``wait_group`` or issues without a ``wgmma.fence``. Checks: every thread of the warpgroup
executes the instruction (``.aligned``), the descriptors agree across the warpgroup, operands lie in
the block's shared memory, and shared data written by ordinary stores was fenced to the async proxy.
"""

from __future__ import annotations

import re

import numpy as np

from .. import ir
from ..hw.smem import SmemDescriptor, operand_addresses
from ..hw.wgmma import a_coords, acc_coords, decode, multiply, parse_shape, split_words
from ..isa import async_registers, defs_uses
from .decode import NORMAL, Ctx, Op, builder
from .hopper import hopper, report_unfenced, whole_rows
from .ops_mem import lanes_of

UDT = {1: np.uint8, 2: np.uint16, 4: np.uint32}
SHIFT = {1: 0, 2: 1, 4: 2}
ROWS = True  # operands read as 16-byte rows, accumulators through strided views (False: per element, index arrays)


def warpgroups(st, lanes: np.ndarray) -> np.ndarray:
    """Wave-wide warpgroup index of each lane (block slot × warpgroups per block + tid // 128)."""
    return st.lane_blk[lanes] * -(-st.tp // 128) + st.lane_tid[lanes] // 128


def _aligned(st, lanes: np.ndarray, wgs: np.ndarray, name: str, kind: str = "wgmma") -> np.ndarray:
    """Warpgroups of ``lanes``; report any whose live threads are not all here, or that the block
    does not fill (a warpgroup is 128 threads)."""
    u = np.unique(wgs)
    per = -(-st.tp // 128)
    T = st.block[0] * st.block[1] * st.block[2]
    short = u[(u % per + 1) * 128 > T]
    if len(short):
        st.report(kind, lanes[np.isin(wgs, short)], f"{name} needs a whole warpgroup of 128 threads, but the "
                  f"block has {T} threads", key_extra="short")
    mine = np.zeros(st.L, bool)
    mine[lanes] = True
    allw = warpgroups(st, st.all_lanes)
    away = np.flatnonzero(np.isin(allw, u) & st.live & ~mine)
    if len(away):
        st.report(kind, away, lambda lane: f"{name} is .sync.aligned: thread {st.lane_coords(lane)[1]} of the "
                  "warpgroup is live but not executing it with the others", key_extra="diverged")
    return u


VERB_MODS = {"fence": {"sync", "aligned"}, "commit_group": {"sync", "aligned"}, "wait_group": {"sync", "aligned"},
             "mma_async": {"sync", "aligned", "satfinite", "f16", "bf16", "tf32", "e4m3", "e5m2", "s8", "u8", "f32",
                           "s32"}}


@builder("wgmma")
def wgmma(ctx: Ctx, ins: ir.Instr):
    verb = ins.mods[0] if ins.mods else ""
    name = f"wgmma.{verb}"
    extra = [m for m in ins.mods[1:] if m not in VERB_MODS.get(verb, ()) and not re.match(r"m64n\d+k\d+$", m)]
    if verb not in VERB_MODS or extra or not {"sync", "aligned"} <= set(ins.mods):
        raise ctx.error(f"'{ins.name}' is not supported by the emulator",
                        hint="wgmma.fence/commit_group/wait_group/mma_async .sync.aligned (sparse .sp is not modelled)")
    if verb == "fence":
        def hf(st, wm, gm):
            lanes = lanes_of(st, gm)
            wgs = _aligned(st, lanes, warpgroups(st, lanes), name)
            hopper(st).dirty[wgs] = False
        return hf
    if verb == "commit_group":
        def hc(st, wm, gm):
            lanes = lanes_of(st, gm)
            hopper(st).commit(_aligned(st, lanes, warpgroups(st, lanes), name))
        return hc
    if verb == "wait_group":
        if len(ins.operands) != 1 or not isinstance(ins.operands[0], ir.Imm):
            raise ctx.error(f"'{ins.name}' needs an immediate group count")
        n = int(ins.operands[0].value)

        def hw(st, wm, gm):
            lanes = lanes_of(st, gm)
            hopper(st).wait(_aligned(st, lanes, warpgroups(st, lanes), name), n)
        return hw
    if verb != "mma_async":
        raise ctx.error(f"'{ins.name}' is not supported by the emulator")
    return _mma_async(ctx, ins)


def _mma_async(ctx: Ctx, ins: ir.Instr):
    try:
        shape = parse_shape(ins.mods)
    except ValueError as e:
        raise ctx.error(f"'{ins.name}': {e}", hint="see the PTX ISA, wgmma.mma_async shapes and types") from None
    ops = ins.operands
    d = ops[0]
    if not isinstance(d, ir.Vec) or len(d.items) != shape.acc_regs:
        raise ctx.error(f"'{ins.name}' needs {shape.acc_regs} accumulator registers in braces")
    regs_a = isinstance(ops[1], ir.Vec)
    fl = shape.is_float
    want = 4 + (2 if fl else 0) + (2 if fl and shape.atype in ("f16", "bf16") else 0) - (1 if regs_a and fl and shape.atype in ("f16", "bf16") else 0)
    if len(ops) != want:
        raise ctx.error(f"'{ins.name}' takes {want} operands, got {len(ops)}")
    imms = ops[4:]
    if not all(isinstance(x, ir.Imm) for x in imms):
        raise ctx.error(f"'{ins.name}': scale and transpose operands must be immediates")
    vals = [int(x.value) for x in imms]
    scale_a, scale_b = (vals[0], vals[1]) if fl else (1, 1)
    if fl and (scale_a not in (1, -1) or scale_b not in (1, -1)):
        raise ctx.error(f"'{ins.name}': imm-scale-a/b must be 1 or -1")
    trans = vals[2:] if fl else []
    trans_a = 0 if regs_a or not trans else trans[0]
    trans_b = trans[-1] if trans else 0
    if any(t not in (0, 1) for t in trans):
        raise ctx.error(f"'{ins.name}': imm-trans-a/b must be 0 or 1")
    eb = shape.elem_bytes
    f16acc = shape.dtype == "f16"
    acc = [ctx.reg(r.name)[0] for r in d.items]
    if regs_a:
        if len(ops[1].items) != 4:
            raise ctx.error(f"'{ins.name}': A in registers is 4 .b32 registers")
        a_regs = [ctx.reg(r.name)[0] for r in ops[1].items]
        ga = None
    else:
        a_regs, ga = [], ctx.src(ops[1], "b64")
    gb = ctx.src(ops[2], "b64")
    gsd = ctx.src(ops[3], "pred")
    ctx.note_shared(eb)
    arow, acol = acc_coords(shape.n)
    if regs_a:
        frow, fcol = a_coords(shape.atype)
    owned = frozenset(acc + a_regs)
    n, kel = shape.n, shape.k

    def operand(st, first, desc_vals, rows, k_major, what):
        """Decoded (nwg, rows, K) of the operand each warpgroup's descriptor names; None on a bad one."""
        out = np.empty((len(first), rows, kel), np.float64 if fl else np.int64)
        for v in np.unique(desc_vals):
            sel = np.flatnonzero(desc_vals == v)
            desc = SmemDescriptor.decode(int(v))
            addr = operand_addresses(desc, rows, eb, k_major)
            if addr.min() < 0 or addr.max() + eb > st.sh_limit:
                st.report("oob-shared", first[sel], f"wgmma operand {what}: the descriptor (start {desc.start:#x}, "
                          f"LBO {desc.lbo}, SBO {desc.sbo}, swizzle {desc.swizzle}) reaches shared offset "
                          f"{int(addr.max()):#x}, outside the block's {st.sh_limit} bytes", address=int(addr.max()))
                return None
            flat = st.sh_base[first[sel]][:, None, None] + addr[None]
            if st.races is not None:
                if ROWS and st.sh_size % 16 == 0 and whole_rows(addr, eb) is not None:
                    row16 = flat.reshape(-1)[::16 // eb]  # whole 16-byte rows in element order (K-major): one read each
                    st.races.read(row16, 16, np.repeat(first[sel], len(row16) // len(sel)))
                else:
                    st.races.read(flat.reshape(-1), eb, np.repeat(first[sel], addr.size))
            report_unfenced(st, flat.reshape(-1), first[sel], f"wgmma.mma_async operand {what}")
            if ROWS:  # every element address is a multiple of its size (a descriptor's start is 16-byte aligned)
                bits = np.take(st.shared[:len(st.shared) // eb * eb].view(UDT[eb]), flat >> SHIFT[eb])
            else:
                raw = st.shared[flat[..., None] + np.arange(eb)]
                bits = np.ascontiguousarray(raw).view(UDT[eb]).reshape(flat.shape)
            out[sel] = decode(bits, shape.atype if what == "A" else shape.btype)
        return out

    def h(st, wm, gm):
        lanes = lanes_of(st, gm)
        wg_all = warpgroups(st, lanes)
        wgs = _aligned(st, lanes, wg_all, "wgmma.mma_async")
        per = -(-st.tp // 128)
        T = st.block[0] * st.block[1] * st.block[2]
        wgs = wgs[(wgs % per + 1) * 128 <= T]  # short warpgroups were reported: they compute nothing
        if not len(wgs):
            return
        hs = hopper(st)
        if hs.dirty[wgs].any():
            bad = wgs[hs.dirty[wgs]]
            st.report("wgmma-fence", lanes[np.isin(wg_all, bad)], "wgmma.mma_async uses registers accessed since "
                      "the warpgroup's last wgmma.fence (or is its first wgmma with no fence before it): the "
                      "tensor cores may see stale values")
        first = lanes[np.searchsorted(wg_all, wgs)]  # lanes ascend, so warpgroups do too
        inwg = np.isin(wg_all, wgs)
        pos = np.searchsorted(wgs, wg_all[inwg])
        for what, g in (("B", gb), ("A", ga)):
            if g is not None:
                v = np.broadcast_to(g(st), (st.L,))
                if not (v[lanes[inwg]] == v[first][pos]).all():
                    st.report("wgmma", lanes, f"the {what} descriptor differs between threads of a warpgroup (it "
                              "must be the same in all its warps)", key_extra=what)
        wl = (wgs // per)[:, None] * st.tp + (wgs % per)[:, None] * 128 + np.arange(128)  # (nwg, 128) lanes
        B = operand(st, first, np.broadcast_to(gb(st), (st.L,))[first], n, not trans_b, "B")
        if B is None:
            return
        if regs_a:
            words = np.stack([np.broadcast_to(st.regs[i], (st.L,))[wl].view(np.uint32) for i in a_regs], -1)
            el = decode(split_words(words, shape.atype), shape.atype)  # (nwg, 128, elements)
            A = np.zeros((len(wgs), 64, kel), el.dtype)
            A[:, frow, fcol] = el
        else:
            A = operand(st, first, np.broadcast_to(ga(st), (st.L,))[first], 64, not trans_a, "A")
            if A is None:
                return
        sd = np.broadcast_to(gsd(st), (st.L,))[first]
        C = None
        if sd.any():
            C = (_acc_in if ROWS else _acc_in_gather)(st, wl)
            C[~sd] = 0
        D = multiply(shape, A, B, C, scale_a, scale_b)
        act = np.zeros(st.L, bool)
        act[lanes] = True
        keep = act[wl]
        every = bool(keep.all())
        tl = wl.reshape(-1) if every else wl[keep]
        for i, vals in zip(acc, (_acc_out if ROWS else _acc_out_gather)(D)):  # (nwg, 128) per register
            new = np.array(np.broadcast_to(st.regs[i], (st.L,)))
            new[tl] = (vals.reshape(-1) if every else vals[keep]).view(new.dtype)
            st.regs[i] = new
        hs.issue(wgs, st.pc, owned)

    def _acc_in(st, wl):
        """C (nwg, 64, N) from the accumulator registers of the lanes ``wl`` (nwg, 128): each register
        straight into its strided place (thread 32w + 4g + q, register (c, h, e) -> row 16w + 8h + g,
        column 8c + 2q + e; an f16x2 register holds e = 0, 1)."""
        C = np.empty((len(wl), 64, n), np.float64 if fl else np.int64)
        V = C.reshape(len(wl), 4, 2, 8, n // 8, 4, 2)  # (w, h, g, c, q, e)
        flat = wl.reshape(-1)
        for j, i in enumerate(acc):
            x = st.regs[i]
            x = np.full(len(flat), x) if x.ndim == 0 else np.take(x, flat)
            if f16acc:
                V[:, :, j % 2, :, j // 2] = x.view(np.uint32).view(np.float16).reshape(len(wl), 4, 8, 4, 2)
            else:
                V[:, :, (j // 2) % 2, :, j // 4, :, j % 2] = x.view(np.float32 if fl else np.int32).reshape(
                    len(wl), 4, 8, 4)
        return C

    def _acc_out(D):
        """Each accumulator register's values (nwg, 128) off D (nwg, 64, N): the inverse of ``_acc_in``."""
        V = D.reshape(len(D), 4, 2, 8, n // 8, 4, 2)
        for j in range(len(acc)):
            if f16acc:
                yield np.ascontiguousarray(V[:, :, j % 2, :, j // 2]).view(np.uint32).reshape(len(D), 128)
            else:
                yield V[:, :, (j // 2) % 2, :, j // 4, :, j % 2].reshape(len(D), 128)

    def _acc_in_gather(st, wl):
        """``_acc_in`` by the accumulator layout's index arrays (the general path)."""
        raw = np.stack([np.broadcast_to(st.regs[i], (st.L,))[wl] for i in acc], -1)
        if f16acc:
            w32 = raw.view(np.uint32)
            half = np.stack([w32 & np.uint32(0xFFFF), w32 >> np.uint32(16)], -1).astype(np.uint16)
            vals = half.view(np.float16).reshape(*w32.shape[:-1], -1).astype(np.float64)
        else:
            vals = raw.view(np.float32).astype(np.float64) if fl else raw.view(np.int32).astype(np.int64)
        C = np.zeros((len(wl), 64, n), vals.dtype)
        C[:, arow, acol] = vals
        return C

    def _acc_out_gather(D):
        out = D[:, arow, acol]  # (nwg, 128, N/2) in register order
        if f16acc:
            b16 = out.view(np.uint16).astype(np.uint32)
            out = b16[..., 0::2] | (b16[..., 1::2] << np.uint32(16))
        return [out[..., j] for j in range(len(acc))]
    return h


# ------------------------------------------------------------------------------ async register checks


def guard_async(ctx: Ctx, instrs, ops: list[Op]) -> list[Op]:
    """Wrap every other instruction that touches a register some ``wgmma.mma_async`` works on, so it
    marks its warpgroup's registers as accessed (``wgmma.fence`` needed) and reports touching one the
    tensor cores still own (before the covering ``wait_group``)."""
    owned: set[int] = set()
    for ins in instrs:
        for r in async_registers(ins):
            owned.add(ctx.reg(r.name)[0])
    if not owned:
        return ops
    names = {i: n for n, (i, _t) in ctx.regs.items()}
    out = []
    for ins, op in zip(instrs, ops):
        if op.kind != NORMAL or ins.opcode == "wgmma":
            out.append(op)
            continue
        dd, uu = defs_uses(ins)
        mine = frozenset(ctx.reg(r.name)[0] for r in (*dd, *uu) if r.name in ctx.regs) & owned
        if not mine:
            out.append(op)
            continue
        written = frozenset(ctx.reg(r.name)[0] for r in dd if r.name in ctx.regs) & owned
        out.append(Op(NORMAL, _checked(op.fn, mine, written, names), op.target, op.guard, op.neg))
    return out


def _checked(fn, mine: frozenset[int], written: frozenset[int], names: dict[int, str]):
    def h(st, wm, gm):
        hs = st.hopper
        if hs is not None:
            lanes = lanes_of(st, gm)
            wg = warpgroups(st, lanes)
            wgs = np.unique(wg)
            hs.dirty[wgs] = True
            if hs.busy_any:
                busy = hs.busy(wgs)
                hit = sorted(r for r in mine if r in busy)
                if hit:
                    r = hit[0]
                    mma = st.prog.instrs[busy[r]]
                    line = mma.span.line if mma.span else "?"
                    how = "writes" if r in written else "reads"
                    st.report("wgmma-async", lanes, f"{how} {names.get(r, r)}, which the wgmma.mma_async at PTX line "
                              f"{line} still owns: wait for it with wgmma.wait_group first", key_extra=r)
        else:
            hopper(st)  # the warpgroup's registers are now accessed: a fence is due before any wgmma
        fn(st, wm, gm)
    return h
