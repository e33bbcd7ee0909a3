"""Kernel → :class:`~.decode.Program`: symbol layout, labels, and one handler per instruction."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

import numpy as np

from .. import ir
from ..errors import EmulatorError
from ..hw.arch import ARCHS
from ..hw.devices import reference
from . import (  # noqa: F401
    cluster,
    ops_bits,
    ops_cmp,
    ops_float,
    ops_host,
    ops_int,
    ops_matrix,
    ops_mbarrier,
    ops_mem,
    ops_simd,
    ops_sync,
    ops_tma,
    ops_warp,
    ops_wgmma,
    ops_wmma,
)
from . import values as V
from .decode import (
    ALLOCA_BYTES,
    BARRIER,
    BRANCH,
    BRX,
    BUILDERS,
    EXIT,
    NORMAL,
    SYNC,
    Ctx,
    Layout,
    Op,
    Program,
    Sync,
)
from .inline import inline_calls
from .ptx import BranchTargets, parse_ptx


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _init_or_refusal(v: ir.VarDecl, lay: Layout) -> bytes:
    """The variable's initial bytes; one whose initialiser names a symbol (a vtable's function addresses,
    a pointer table) gets zeros and a refusal, raised when a kernel names the variable (the others run)."""
    try:
        return _init_bytes(v)
    except EmulatorError as e:
        lay.unusable[v.name] = e.args[0].split(" is not supported")[0]
        return bytes(v.size)


def _init_bytes(v: ir.VarDecl) -> bytes:
    size = v.size
    if not v.init:
        return bytes(size)
    dt = V.dtype(v.type)
    vals = []
    for x in v.init.split(","):
        x = x.strip()
        try:
            vals.append(float(x) if ("." in x or "e" in x.lower()) and not x.startswith("0x") else int(x, 0))
        except ValueError:
            raise EmulatorError(f"initialiser '{x}' of '{v.name}' is not supported by the emulator",
                                v.span) from None
    arr = np.zeros(max(size // dt.itemsize, len(vals)), dt)
    for i, x in enumerate(vals):
        arr[i] = V.const(x, dt)
    return arr.tobytes()[:size] if size else arr.tobytes()


def layout(module: ir.Module, kernel: ir.Kernel) -> Layout:
    lay = Layout()
    off = 0
    extern: list[ir.VarDecl] = []
    for v in (*module.vars, *kernel.vars):
        if v.space == "shared":
            if v.extern or v.dims[:1] == (0,):
                extern.append(v)
                continue
            off = _align(off, v.align or V.dtype(v.type).itemsize)
            lay.shared[v.name] = off
            off += v.size
        elif v.space == "local":
            lay.local_size = _align(lay.local_size, v.align or max(4, V.dtype(v.type).itemsize))
            lay.local[v.name] = lay.local_size
            lay.local_size += v.size
    if any(isinstance(s, ir.Instr) and s.opcode == "alloca" for s in kernel.body):
        lay.alloca_base = _align(lay.local_size, 16)
        lay.local_size = lay.alloca_base + ALLOCA_BYTES
    lay.shared_static = off
    ext_off = _align(off, max([16, *(v.align or 1 for v in extern)]))
    lay.extern_offset = ext_off
    for v in extern:
        lay.shared[v.name] = ext_off
    goff, coff, cbytes = 0, 0, bytearray()
    for v in module.vars:
        if v.space == "global":
            goff = _align(goff, max(v.align or 1, 16))
            lay.globals_[v.name] = (goff, v.size, _init_or_refusal(v, lay))
            goff += v.size
        elif v.space == "const":
            coff = _align(coff, v.align or V.dtype(v.type).itemsize)
            cbytes.extend(bytes(coff - len(cbytes)))
            lay.const[v.name] = coff
            lay.const_sizes[v.name] = v.size
            cbytes.extend(_init_or_refusal(v, lay))
            coff = len(cbytes)
    lay.global_size = goff
    lay.const_bytes = bytes(cbytes)
    poff = 0
    for p in kernel.params:
        a = p.align or V.dtype(p.type).itemsize or 1
        poff = _align(poff, a)
        lay.params[p.name] = (poff, p)
        poff += p.size
    lay.param_size = poff
    return lay


KNOWN_MODS = frozenset("""
rn rz rm rp rna rni rzi rmi rpi ftz sat approx full lo hi wide uni to
global shared local param const generic cta cluster gpu sys
v2 v4 volatile relaxed acquire release acq_rel weak sc mmio ca cg cs lu cv nc wb wt
sync aligned up down bfly idx all any ballot add min max exch cas and or xor inc dec
eq ne lt le gt ge lo ls hi hs equ neu ltu leu gtu geu num nan
m8n8 x1 x2 x4 trans row col m16n8k4 m16n8k8 m16n8k16 async commit_group wait_group wait_all
warp arrive red popc f4e b4e rc8 ecl ecr rc16 shiftamt finite infinite number notanumber normal
subnormal sys cc l r wrap clamp idx load store mma a b c d m16n16k16 m32n8k16 m8n32k16 m16n16k8
m16n8k32 m16n8k64 m8n8k16 m8n8k32 m8n8k4 satfinite s4 u4
init arrive arrive_drop expect_tx complete_tx test_wait try_wait parity pending_count inval noComplete noinc
mbarrier bulk noftz relu NaN
tensor 1d 2d 3d 4d 5d tile multicast bulk_group reduce prefetch read tensormap
""".split())


SELF_CHECKED = frozenset({"wgmma", "setmaxnreg"})  # their builders check every modifier themselves


def _check_mods(ctx: Ctx, ins: ir.Instr) -> None:
    """Reject modifiers the emulator does not model, so they never change a result silently."""
    if ins.opcode == "cvt" and {"e4m3x2", "e5m2x2"} & set(ins.mods):
        return  # the fp8 conversions check every modifier themselves (ops_float._cvt_fp8)
    for m in ins.mods:
        base = m.split("::")[0]
        if m in V.TYPES or base in KNOWN_MODS or base in ("L1", "L2") or m.startswith("level"):
            continue
        if ins.opcode in ("membar", "fence", "prefetch", "prefetchu", "discard", "applypriority", "nanosleep", "createpolicy",
                          "griddepcontrol", "pmevent") or ins.opcode in SELF_CHECKED:
            continue
        raise ctx.error(f"modifier '.{m}' of '{ins.name}' is not supported by the emulator",
                        hint="the emulator refuses what it cannot model rather than guess")


def _barrier(ctx: Ctx, ins: ir.Instr) -> tuple:
    """(mode, barrier-id getter, thread-count getter, reduction or None) for the run loop."""
    mods = ins.mods
    if ins.opcode == "bar" and mods[:1] == ("warp",):
        return ("warp", ctx.src(ins.operands[0], "u32") if ins.operands else None, None, None)
    mode = "arrive" if "arrive" in mods else "sync"
    ops = list(ins.operands)
    red = None
    if "red" in mods:  # bar.red.popc.u32 d, a{, b}, {!}c  /  bar.red.{and,or}.pred p, a{, b}, {!}c
        op = next((m for m in mods if m in ("popc", "and", "or")), None)
        if op is None or len(ops) < 3:
            raise ctx.error(f"'{ins.name}' needs .popc/.and/.or and d, a, c operands")
        red = (op, ctx.dst(ops[0], "u32" if op == "popc" else "pred"), ctx.src(ops[-1], "pred"))
        ops = ops[1:-1]
    count = ctx.src(ops[1], "u32") if len(ops) > 1 else None
    bid = ctx.src(ops[0], "u32") if ops else None
    return (mode, bid, count, red)


def build(module: ir.Module, kernel: ir.Kernel) -> Program:
    kernel = inline_calls(module, kernel)
    lay = layout(module, kernel)
    ctx = Ctx(kernel, lay)
    instrs: list[ir.Instr] = []
    tables: dict[str, tuple[str, ...]] = {}
    last_label = None
    for s in kernel.body:
        if isinstance(s, ir.LabelDef):
            ctx.labels[s.name] = len(instrs)
            last_label = s.name
        elif isinstance(s, BranchTargets) and last_label is not None:
            tables[last_label] = s.targets
        elif isinstance(s, ir.Instr):
            instrs.append(s)
    ops: list[Op] = []
    for ins in instrs:
        ctx.instr = ins
        guard, neg = -1, False
        if ins.guard is not None:
            gi, gt = ctx.reg(ins.guard.reg.name)
            if gt != "pred":
                raise ctx.error(f"guard '{ins.guard.reg.name}' is not a predicate register")
            guard, neg = gi, ins.guard.negate
        op = ins.opcode
        if (op in BUILDERS or op in ("bra", "ret", "exit", "bar", "barrier")) and not (op == "barrier" and "cluster" in ins.mods):
            _check_mods(ctx, ins)
        if op == "brx":
            tab = ins.operands[1] if len(ins.operands) == 2 else None
            if not isinstance(tab, ir.Reg) or tab.name not in tables:
                raise ctx.error(f"'{ins.name}' needs a .branchtargets table label")
            pcs = tuple(ctx.label(ir.Reg(t)) for t in tables[tab.name])
            ops.append(Op(BRX, (ctx.src(ins.operands[0], "u32"), np.array(pcs, np.int64)), -1, guard, neg))
        elif op == "bra":
            ops.append(Op(BRANCH, None, ctx.label(ins.operands[0]), guard, neg))
        elif op in ("ret", "exit"):
            ops.append(Op(EXIT, None, -1, guard, neg))
        elif op == "barrier" and "cluster" in ins.mods:
            ops.append(Op(SYNC, cluster.barrier_cluster(ctx, ins).fn, -1, guard, neg))
        elif op in ("bar", "barrier"):
            ops.append(Op(BARRIER, _barrier(ctx, ins), -1, guard, neg))
        elif op in BUILDERS:
            try:
                fn = BUILDERS[op](ctx, ins)
            except EmulatorError:
                raise
            except (KeyError, IndexError, ValueError, AttributeError, TypeError):
                raise ctx.error(f"'{ins.name}' with these operands is not supported by the emulator") from None
            ops.append(Op(SYNC, fn.fn, -1, guard, neg) if isinstance(fn, Sync) else Op(NORMAL, fn, -1, guard, neg))
        elif op in TEXTURE_OPS:
            raise ctx.error(f"'{ins.name}': textures and surfaces are not supported by the emulator",
                            hint="it models no texture or surface objects: no samplers, filtering, normalised "
                                 "coordinates, boundary modes or texture caches, so any result would be a guess; "
                                 "pass the data as a global buffer (a pointer parameter) and read it with ld.global")
        else:
            raise ctx.error(f"instruction '{ins.name}' is not supported by the emulator",
                            hint="see docs/EMULATOR.md for the supported instruction set")
    ctx.instr = None
    ops = ops_wgmma.guard_async(ctx, instrs, ops)
    gran = max(1, min(4, ctx.min_shared))
    uses_proxy = any(i.opcode == "wgmma" or (i.opcode in ("cp", "fence") and ("bulk" in i.mods or "proxy" in i.mods))
                     for i in instrs)
    return Program(kernel.name, tuple(ops), tuple(instrs), len(ctx.dtypes), tuple(ctx.dtypes),
                   dict(ctx.special), lay, kernel.params, gran, ctx.uses_shared, ctx.uses_mbarrier, ctx.uses_async,
                   exit_pcs=_exit_pcs(ops, instrs),
                   uses_proxy=uses_proxy, global_gran=ctx.min_global, global_writes=ctx.global_writes,
                   cg_scratch=ctx.cg_scratch)


TEXTURE_OPS = frozenset({"tex", "tld4", "txq", "suld", "sust", "sured", "suq", "istypep"})
WARP_SYNC = frozenset({"shfl", "vote", "match", "redux", "elect", "ldmatrix", "stmatrix", "mma", "wmma"})


def _exit_pcs(ops: list[Op], instrs: list[ir.Instr]) -> np.ndarray:
    """PCs from which every path exits without another barrier or ``.sync`` warp instruction.

    A lane waiting at one has as good as exited: on sm_70+ warp collectives and ``bar.warp.sync``
    wait only for threads that have not exited, and this lane never joins another one."""
    n = len(ops)
    ok = [not (op.kind == BARRIER or instrs[pc].opcode in WARP_SYNC) for pc, op in enumerate(ops)]
    changed = True
    while changed:  # greatest fixpoint: clear PCs with a successor that may sync
        changed = False
        for pc in range(n - 1, -1, -1):
            if not ok[pc]:
                continue
            op = ops[pc]
            if op.kind == EXIT:
                succ = [] if op.guard < 0 else [pc + 1]
            elif op.kind == BRANCH:
                succ = [op.target] if op.guard < 0 else [op.target, pc + 1]
            elif op.kind == BRX:
                succ = [int(t) for t in op.fn[1]] + ([pc + 1] if op.guard >= 0 else [])
            else:
                succ = [pc + 1]
            if any(s >= n or not ok[s] for s in succ):
                ok[pc] = False
                changed = True
    return np.flatnonzero(ok).astype(np.int64)


def machine_of(ptx: str) -> tuple[int, int]:
    """(%nsmid, reserved shared bytes per block) for the PTX's ``.target`` from the hw tables
    (the SM count of the arch's reference device, ``hw.devices.reference``; sm_90 for another target)."""

    m = _TARGET.search(ptx)
    arch = m.group(1) if m and m.group(1) in ARCHS else "sm_90"
    return reference(arch).sms, ARCHS[arch].reserved_shared_per_block


_TARGET = re.compile(r"^[ \t]*\.target[ \t]+(sm_\d+)", re.M)


@lru_cache(maxsize=32)
def program(ptx: str, kernel: str) -> Program:
    """Parse (cached) and decode (cached) ``kernel`` of ``ptx``."""
    module = parse_ptx(ptx)
    for k in module.kernels:
        if k.name == kernel:
            if not k.entry:
                raise EmulatorError(f"'{kernel}' is a .func, not a kernel (.entry)", k.span)
            try:
                return replace(build(module, k), machine=machine_of(ptx))
            except EmulatorError:
                raise
            except Exception as e:  # an emulator bug: a refusal that says so, never a traceback
                raise EmulatorError(f"internal emulator error while decoding '{kernel}': {type(e).__name__}: {e}",
                                    k.span, hint="please report it with the PTX") from e
    names = ", ".join(k.name for k in module.kernels if k.entry) or "(none)"
    raise EmulatorError(f"no kernel '{kernel}' in the PTX", hint=f"kernels: {names}")
