"""Decode a kernel once into a program of handler tuples (register indexes resolved, types fixed).

Each instruction becomes ``Op(kind, fn, target, guard, neg)``; ``fn(st, wm, gm)`` runs it on the lanes
of ``gm`` (a bool mask, or None for every lane of the wave) writing registers under ``wm`` (None when
no other live lane must be preserved). Unsupported instructions and unknown names raise
:class:`EmulatorError` here, before anything runs. Op builders live in the ``ops_*`` modules and are
looked up by opcode in :data:`BUILDERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import ir
from ..errors import EmulatorError
from ..isa.specials import special_type
from . import values as V
from .ptx import AddrOf

NORMAL, BRANCH, EXIT, BARRIER, BRX, SYNC = 0, 1, 2, 3, 4, 5


@dataclass(frozen=True, slots=True)
class Sync:
    """A builder's handler that may park lanes or wake parked ones (mbarrier operations):
    ``fn(st, wm, gm, pc) -> (lanes to park, whether parked lanes were woken)``."""

    fn: Callable

SPECIALS = ("%tid.x", "%tid.y", "%tid.z", "%ntid.x", "%ntid.y", "%ntid.z", "%ctaid.x", "%ctaid.y",
            "%ctaid.z", "%nctaid.x", "%nctaid.y", "%nctaid.z", "%laneid", "%warpid", "%nwarpid",
            "%smid", "%nsmid", "%gridid", "%lanemask_eq", "%lanemask_lt", "%lanemask_le",
            "%lanemask_gt", "%lanemask_ge", "%dynamic_smem_size", "%total_smem_size", "WARP_SZ",
            "%reserved_smem_offset_begin", "%reserved_smem_offset_end", "%reserved_smem_offset_cap",
            "%reserved_smem_offset_1",
            *(f"%envreg{i}" for i in range(32)),
            *(f"%{r}.{a}" for r in ("cluster_ctaid", "cluster_nctaid", "clusterid", "nclusterid") for a in "xyz"),
            "%cluster_ctarank", "%cluster_nctarank", "%is_explicit_cluster")
ALLOCA_BYTES = 4096  # each thread's arena for alloca (dynamic stack allocation); past it is a refusal
SPECIAL_TYPE = {s: special_type(s) for s in SPECIALS}  # the specials the emulator implements
# time: the step counter (%clock, %clock64, %clock_hi) and nanoseconds = steps (%globaltimer*)
DYNAMIC_SPECIALS = {"%clock": (0, 32), "%clock64": (0, 64), "%clock_hi": (32, 32), "%globaltimer": (0, 64),
                    "%globaltimer_lo": (0, 32), "%globaltimer_hi": (32, 32)}


@dataclass(frozen=True, slots=True)
class Op:
    kind: int
    fn: Callable | None
    target: int = -1
    guard: int = -1
    neg: bool = False


@dataclass
class Layout:
    """Symbol addresses fixed at decode time."""

    shared: dict[str, int] = field(default_factory=dict)  # name -> offset
    shared_static: int = 0
    extern_offset: int = 0  # where extern (dynamic) shared arrays start
    local: dict[str, int] = field(default_factory=dict)
    local_size: int = 0
    globals_: dict[str, tuple[int, int, bytes]] = field(default_factory=dict)  # name -> (heap off, size, init)
    global_size: int = 0
    const: dict[str, int] = field(default_factory=dict)
    const_sizes: dict[str, int] = field(default_factory=dict)
    const_bytes: bytes = b""
    params: dict[str, tuple[int, ir.Param]] = field(default_factory=dict)
    param_size: int = 0
    unusable: dict[str, str] = field(default_factory=dict)  # variable -> why its initial value is not modelled
    alloca_base: int = -1  # where each thread's alloca arena starts in its local frame (-1: no alloca)


@dataclass(frozen=True, slots=True)
class Program:
    name: str
    ops: tuple[Op, ...]
    instrs: tuple[ir.Instr, ...]
    nregs: int
    reg_dtypes: tuple[np.dtype, ...]
    special_index: dict[str, int]
    layout: Layout
    params: tuple[ir.Param, ...]
    granularity: int  # smallest shared access in bytes (race/initialisation tracking unit)
    uses_shared: bool
    uses_mbarrier: bool = False
    uses_async: bool = False  # cp.async or bulk copies into shared memory (in-flight tracking)
    machine: tuple[int, int] = (132, 1024)  # (%nsmid, reserved shared bytes per block) of the .target
    exit_pcs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # unguarded ret/exit (or a bra to one)
    uses_proxy: bool = False
    global_gran: int = 4  # smallest plain global access in bytes (a vector whole, at most 16): the race unit
    cg_scratch: bool = False  # reads %reserved_smem_offset_1 (cooperative groups' multi-warp scratch)
    global_writes: bool = False  # plain global stores exist (else no global race is possible)  # wgmma, bulk copies or proxy fences: Hopper async state, generic-proxy writes


class Ctx:
    """Name resolution and operand access for one kernel."""

    def __init__(self, kernel: ir.Kernel, layout: Layout):
        self.kernel = kernel
        self.layout = layout
        self.regs: dict[str, tuple[int, str]] = {}
        self.dtypes: list[np.dtype] = []
        for r in kernel.regs:
            if r.type not in V.TYPES:
                raise EmulatorError(f"register '{r.name.split('$')[0]}' of type .{r.type} is not supported by the emulator"
                                    + (" (128-bit values: mov.b128 and sm_90's atom.exch/atom.cas.b128, what nvcc "
                                       "emits for atomicExch/atomicCAS on a 16-byte type)" if r.type == "b128" else ""),
                                    r.span, hint="registers are modelled up to 64 bits")
            names = [f"{r.name}{i}" for i in range(r.count)] if r.count else [r.name]
            for n in names:
                if n not in self.regs:
                    self.regs[n] = (len(self.dtypes), r.type)
                    self.dtypes.append(V.dtype(r.type))
        self.regs["%cc"] = (len(self.dtypes), "u32")  # the carry flag of add.cc/addc/...
        self.dtypes.append(V.dtype("u32"))
        self.regs["%alloca_sp"] = (len(self.dtypes), "u64")  # bytes of the alloca arena in use (per thread)
        self.dtypes.append(V.dtype("u64"))
        self.special: dict[str, int] = {}
        for s in SPECIALS:
            self.special[s] = len(self.dtypes)
            self.dtypes.append(V.dtype(SPECIAL_TYPE[s]))
        self.labels: dict[str, int] = {}
        self.instr: ir.Instr | None = None
        self.min_shared = 16
        self.uses_shared = False
        self.uses_mbarrier = False
        self.uses_async = False
        self.cg_scratch = False  # reads %reserved_smem_offset_1: cooperative groups' scratch in reserved shared
        self.min_global = 16
        self.global_writes = False

    # ------------------------------------------------------------------ errors
    def error(self, msg: str, hint: str | None = None) -> EmulatorError:
        ins = self.instr
        span = ins.span if ins is not None else None
        where = f" (PTX line {span.line})" if span else ""
        return EmulatorError(f"{msg}{where}", span, hint=hint)

    def note_global(self, size: int, write: bool) -> None:
        """A plain (non-atomic) global access of ``size``-byte elements (the race tracking unit)."""
        self.min_global = min(self.min_global, size)
        self.global_writes |= write

    def note_shared(self, size: int) -> None:
        self.uses_shared = True
        self.min_shared = min(self.min_shared, size)

    # ------------------------------------------------------------------ sources
    def reg(self, name: str) -> tuple[int, str]:
        if name in self.regs:
            return self.regs[name]
        if name in self.special:
            return self.special[name], SPECIAL_TYPE[name]
        raise self.error(f"unknown register '{name}'", hint="declare it with .reg")

    def src(self, op, t: str, signed: bool | None = None) -> Callable:
        """A getter ``g(st) -> array`` reading ``op`` as PTX type ``t``."""
        dt = V.dtype(t)
        if signed is None:
            signed = t in V.SIGNED_TYPES
        if isinstance(op, ir.Imm):
            c = V.imm_bits(op.text, op.value, dt)
            return lambda st: c
        if isinstance(op, AddrOf):
            c = V.const(self.address_of(op.name) + op.offset, dt)
            return lambda st: c
        if isinstance(op, ir.Reg):
            name = op.name
            if name.startswith("!"):
                i, rt = self.reg(name[1:])
                return lambda st: ~st.regs[i]
            if name in self.regs or name in self.special:
                self.cg_scratch |= name == "%reserved_smem_offset_1"
                i, rt = self.reg(name)
                rdt = V.dtype(rt)
                if rdt == dt:
                    return lambda st: st.regs[i]
                if rdt.itemsize == dt.itemsize:
                    return lambda st: st.regs[i].view(dt)
                sgn = signed or rt in V.SIGNED_TYPES and rdt.itemsize < dt.itemsize
                return lambda st: V.as_type(st.regs[i], rdt, dt, sgn)
            if name in DYNAMIC_SPECIALS:
                shift, width = DYNAMIC_SPECIALS[name]
                return lambda st: V.const((st.steps >> shift) & ((1 << width) - 1), dt)
            if name.startswith("%reserved_smem_offset_") or name.startswith("%pm") or name in (
                    "%aggr_smem_size", "%current_graph_exec"):
                raise self.error(f"special register '{name}' is not modelled by the emulator",
                                 hint="supported: %reserved_smem_offset_begin/end/cap and %reserved_smem_offset_1 "
                                      "(where cooperative groups keep their multi-warp scratch); what the other "
                                      "per-index offsets of the system's reserved region hold is not documented, and "
                                      "no performance counters or graph handles are modelled")
            if self.is_symbol(name):
                c = V.const(self.address_of(name), dt)
                return lambda st: c
            raise self.error(f"unknown name '{name}'", hint="not a declared register, symbol or special")
        raise self.error(f"unsupported operand {op!r}")

    def is_symbol(self, name: str) -> bool:
        lay = self.layout
        return (name in lay.shared or name in lay.local or name in lay.globals_ or name in lay.const
                or name in lay.params)

    def address_of(self, name: str) -> int:
        """The state-space address of a symbol (``mov`` of a variable gives its own space's address)."""
        from .machine import GLOBAL_BASE

        lay = self.layout
        if name in lay.unusable:
            raise self.error(f"'{name}' is initialised with the address of a function or variable "
                             f"({lay.unusable[name]}), which the emulator does not model",
                             hint="a vtable (virtual functions) or a table of pointers in global/constant memory; "
                                  "kernels that do not name it run")
        if name in lay.shared:
            return lay.shared[name]
        if name in lay.local:
            return lay.local[name]
        if name in lay.globals_:
            return GLOBAL_BASE + lay.globals_[name][0]
        if name in lay.const:
            return lay.const[name]
        if name in lay.params:
            return lay.params[name][0]
        raise self.error(f"unknown symbol '{name}'")

    def space_of(self, name: str) -> str | None:
        lay = self.layout
        for space, table in (("shared", lay.shared), ("local", lay.local), ("global", lay.globals_),
                             ("const", lay.const), ("param", lay.params)):
            if name in table:
                return space
        return None

    # ------------------------------------------------------------------ destinations
    def dst(self, op, t: str, signed: bool | None = None) -> Callable:
        """A setter ``s(st, value, wm)`` writing a value of PTX type ``t`` into register ``op``."""
        if isinstance(op, ir.Sink):
            return lambda st, v, wm: None
        if not isinstance(op, ir.Reg) or op.name not in self.regs:
            name = getattr(op, "name", op)
            raise self.error(f"destination '{name}' is not a declared register")
        i, rt = self.regs[op.name]
        rdt = V.dtype(rt)
        dt = V.dtype(t)
        if signed is None:
            signed = t in V.SIGNED_TYPES

        if rdt == dt:
            def conv(v):
                return v
        elif rdt.itemsize == dt.itemsize:
            def conv(v):
                return v.view(rdt)
        else:
            def conv(v):
                return V.as_type(np.asarray(v, dtype=dt), dt, rdt, signed)

        def setter(st, v, wm, i=i, conv=conv, dt=dt):
            v = conv(np.asarray(v, dtype=dt) if v.dtype != dt else v)
            if wm is None:
                st.regs[i] = v
            else:
                st.regs[i] = np.where(wm, v, st.regs[i])
        return setter

    def label(self, op) -> int:
        if isinstance(op, ir.Reg) and op.name in self.labels:
            return self.labels[op.name]
        raise self.error(f"unknown label '{getattr(op, 'name', op)}'")


def split_mods(mods: tuple[str, ...]) -> tuple[list[str], set[str]]:
    """(types in order, other modifiers)."""
    types = [m for m in mods if m in V.TYPES]
    return types, {m for m in mods if m not in V.TYPES}


BUILDERS: dict[str, Callable[[Ctx, ir.Instr], Op | Callable]] = {}


def builder(*names: str):
    def deco(f):
        for n in names:
            BUILDERS[n] = f
        return f
    return deco


def alu(ctx: Ctx, ins: ir.Instr, t: str, f, nsrc: int, dst_t: str | None = None, src_ts=None):
    """Generic ``d = f(a, b, …)`` handler: sources read as ``src_ts`` (default ``t``), result as ``dst_t``."""
    ops = ins.operands
    if len(ops) < nsrc + 1:
        raise ctx.error(f"'{ins.name}' needs {nsrc + 1} operands")
    src_ts = src_ts or [t] * nsrc
    gets = [ctx.src(o, st_) for o, st_ in zip(ops[1:nsrc + 1], src_ts)]
    put = ctx.dst(ops[0], dst_t or t)
    if nsrc == 1:
        (g0,) = gets

        def h1(st, wm, gm):
            put(st, f(g0(st)), wm)
        return h1
    if nsrc == 2:
        g0, g1 = gets

        def h2(st, wm, gm):
            put(st, f(g0(st), g1(st)), wm)
        return h2
    if nsrc == 3:
        g0, g1, g2 = gets

        def h3(st, wm, gm):
            put(st, f(g0(st), g1(st), g2(st)), wm)
        return h3

    def hn(st, wm, gm):
        put(st, f(*[g(st) for g in gets]), wm)
    return hn
