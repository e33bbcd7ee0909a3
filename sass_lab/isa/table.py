"""The PTX instruction table: operand counts, type rule, latency class and FLOPs per opcode.

One row per base opcode (the part before the first dot). ``latency_class`` and ``flops`` refine the
row with the instruction's types, state space and shape modifiers. Latency classes:

==============  =================================================================================
``alu``         integer and logic ops, moves, compares/selects, ``cvta``, ``vote``/``match``/``elect``
``fma``         FP32/FP16 add, mul, fma, min/max and integer multiply-add (the FMA pipe)
``fp64``        any double-precision arithmetic
``mufu``        transcendentals and approximations: ``rcp``, ``sqrt``, ``ex2``, ``lg2``, ``sin``, ...
``conv``        ``cvt`` (conversions)
``mem_global``  ``ld``/``st``/``atom``/``red`` on global, local or generic memory; ``cp.async``
``mem_shared``  shared-memory access, ``ldmatrix``/``stmatrix``, ``shfl``, ``redux``
``mem_const``   ``ld.const`` and ``ld.param``
``branch``      ``bra``, ``brx``, ``call``, ``ret``, ``exit``, ``trap``
``barrier``     ``bar``, ``barrier``, ``membar``, ``fence``, ``mbarrier``, ``griddepcontrol``, ...
``tensor``      ``mma``, ``wmma``, ``wgmma``
==============  =================================================================================

FLOPs per lane count useful floating-point work only: fma/mad = 2, add/sub/mul = 1 per element
(``.f16x2``/``.bf16x2`` have two), ``mma``/``wmma`` = 2·m·n·k/32, ``wgmma`` = 2·m·n·k/128; everything
else (including transcendentals and integer ops) is 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..ir import Instr, is_type, type_bytes, type_kind

LATENCY_CLASSES = ("alu", "fma", "fp64", "mufu", "conv", "mem_global", "mem_shared", "mem_const",
                   "branch", "barrier", "tensor")


@dataclass(frozen=True, slots=True)
class OpSpec:
    """One opcode: operand count range, type rule (see ``dsl.checks``), base latency class, FLOPs,
    and operand kinds: one letter per position (the last repeats) — ``d`` destination (register,
    ``p|q`` or ``_``), ``D`` the same or a brace list, ``s`` source (register, immediate, special
    register, symbol), ``S`` the same or a brace list, ``m`` memory ``[...]``, ``l`` label, ``a``
    anything; ``""`` leaves operands unchecked."""

    opcode: str
    min_ops: int
    max_ops: int
    rule: str = "none"
    latency: str = "alu"
    flops: int = 0
    kinds: str = ""


def _rows() -> dict[str, OpSpec]:
    rows: list[tuple] = [
        # arithmetic
        ("add", 3, 3, "same", "alu", 1), ("sub", 3, 3, "same", "alu", 1), ("mul", 3, 3, "same", "alu", 1),
        ("addc", 3, 3, "same", "alu", 1), ("subc", 3, 3, "same", "alu", 1),  # carry-in (add.cc/sub.cc chains)
        ("mad", 4, 4, "same", "fma", 2), ("madc", 4, 4, "same", "fma", 2), ("fma", 4, 4, "same", "fma", 2), ("mul24", 3, 3, "same", "fma"),
        ("mad24", 4, 4, "same", "fma"), ("sad", 4, 4, "same"), ("div", 3, 3, "same", "mufu"),
        ("rem", 3, 3, "same"), ("abs", 2, 2, "same"), ("neg", 2, 2, "same"), ("min", 3, 4, "same"),
        ("max", 3, 4, "same"), ("popc", 2, 2, "count"), ("clz", 2, 2, "count"), ("bfind", 2, 2, "count"),
        ("fns", 4, 4, "none"), ("brev", 2, 2, "same"), ("bfe", 4, 4, "bfe"), ("bfi", 5, 5, "bfi"),
        ("szext", 3, 3, "none"), ("bmsk", 3, 3, "none"), ("dp4a", 4, 4, "none"), ("dp2a", 4, 4, "none"),
        ("rcp", 2, 2, "same", "mufu"), ("sqrt", 2, 2, "same", "mufu"), ("rsqrt", 2, 2, "same", "mufu"),
        ("sin", 2, 2, "same", "mufu"), ("cos", 2, 2, "same", "mufu"), ("lg2", 2, 2, "same", "mufu"),
        ("ex2", 2, 2, "same", "mufu"), ("tanh", 2, 2, "same", "mufu"), ("copysign", 3, 3, "same", "fma"),
        ("testp", 2, 2, "testp"),
        # SIMD video instructions on bytes and half-words (vop2/vop4 take d, a, b, c)
        *((f"{v}{n}", 4, 4, "none") for v in ("vadd", "vsub", "vavrg", "vabsdiff", "vmin", "vmax", "vset")
          for n in (2, 4)),
        # scalar video instructions (d, a, b with an optional c)
        *((v, 3, 4, "none") for v in ("vadd", "vsub", "vabsdiff", "vmin", "vmax", "vshl", "vshr", "vmad",
                                       "vset")),
        # compare and select
        ("set", 3, 4, "none"), ("setp", 3, 4, "setp"), ("selp", 4, 4, "selp"), ("slct", 4, 4, "none"),
        # logic and shift
        ("and", 3, 3, "same"), ("or", 3, 3, "same"), ("xor", 3, 3, "same"), ("not", 2, 2, "same"),
        ("cnot", 2, 2, "same"), ("lop3", 5, 7, "none"), ("shf", 4, 4, "none"), ("shl", 3, 3, "shift"),
        ("shr", 3, 3, "shift"), ("prmt", 4, 4, "none"),
        # data movement and conversion
        ("mov", 2, 2, "mov"), ("shfl", 4, 5, "none", "mem_shared"), ("ld", 2, 3, "mem", "mem_global"),
        ("ldu", 2, 2, "mem", "mem_global"), ("st", 2, 3, "mem", "mem_global"),
        ("prefetch", 1, 1, "none", "mem_global"), ("prefetchu", 1, 1, "none", "mem_global"),
        ("isspacep", 2, 2, "none"), ("cvta", 2, 2, "cvta"), ("cvt", 2, 4, "cvt", "conv"),
        ("mapa", 3, 3, "none"), ("getctarank", 2, 2, "none"), ("cp", 0, 8, "none", "mem_global"),
        ("ldmatrix", 2, 2, "none", "mem_shared"), ("stmatrix", 2, 2, "none", "mem_shared"),
        ("movmatrix", 2, 2, "none"), ("tensormap", 2, 3, "none", "mem_global"),
        ("discard", 2, 2, "none", "mem_global"), ("applypriority", 2, 2, "none", "mem_global"),
        ("createpolicy", 2, 4, "none"), ("istypep", 2, 2, "none"), ("alloca", 2, 3, "none"),
        ("stackrestore", 1, 1, "none"), ("stacksave", 1, 1, "none"),
        # atomics and warp-level
        ("atom", 3, 5, "mem", "mem_global"), ("red", 2, 3, "mem", "mem_global"),
        ("vote", 2, 3, "none"), ("match", 3, 4, "none"), ("activemask", 1, 1, "none"),
        ("redux", 3, 3, "none", "mem_shared"), ("elect", 1, 2, "none"),
        # synchronisation
        ("bar", 0, 4, "none", "barrier"), ("barrier", 0, 4, "none", "barrier"),
        ("membar", 0, 0, "none", "barrier"), ("fence", 0, 3, "none", "barrier"),
        ("mbarrier", 1, 4, "none", "barrier"), ("griddepcontrol", 0, 0, "none", "barrier"),
        ("setmaxnreg", 1, 1, "none", "barrier"), ("nanosleep", 1, 1, "none", "barrier"),
        ("pmevent", 1, 1, "none", "barrier"),
        # control flow
        ("bra", 1, 1, "none", "branch"), ("brx", 2, 2, "none", "branch"), ("call", 1, 6, "none", "branch"),
        ("ret", 0, 0, "none", "branch"), ("exit", 0, 0, "none", "branch"), ("trap", 0, 0, "none", "branch"),
        ("brkpt", 0, 0, "none", "branch"),
        # tensor cores
        ("mma", 4, 6, "none", "tensor"), ("wmma", 2, 4, "none", "tensor"), ("wgmma", 0, 9, "none", "tensor"),
        # textures and surfaces (passed through unchecked)
        ("tex", 2, 6, "none", "mem_global"), ("tld4", 2, 4, "none", "mem_global"),
        ("txq", 2, 3, "none", "mem_global"), ("suld", 2, 2, "none", "mem_global"),
        ("sust", 2, 2, "none", "mem_global"), ("sured", 2, 2, "none", "mem_global"),
        ("suq", 2, 2, "none", "mem_global"),
    ]
    out = {}
    for r in rows:
        spec = OpSpec(*r)
        out[spec.opcode] = replace(spec, kinds=_KINDS.get(spec.opcode, ""))
    return out


_KINDS = {
    **dict.fromkeys(("add", "addc", "sub", "subc", "mul", "div", "rem", "min", "max", "and", "or", "xor", "shl", "shr",
                     "copysign", "mul24", "szext", "bmsk", "set", "mapa", "vote", "redux"), "dss"),
    **dict.fromkeys(("mad", "madc", "fma", "mad24", "sad", "bfe", "selp", "slct", "prmt", "dp4a", "dp2a", "shf", "fns",
                     "setp", *(f"{v}{n}" for v in ("vadd", "vsub", "vavrg", "vabsdiff", "vmin", "vmax", "vset")
                               for n in (2, 4))), "dsss"),
    **dict.fromkeys(("abs", "neg", "not", "cnot", "popc", "clz", "bfind", "brev", "rcp", "sqrt", "rsqrt", "sin",
                     "cos", "lg2", "ex2", "tanh", "cvta", "testp", "isspacep", "getctarank", "istypep",
                     "movmatrix"), "ds"),
    "cvt": "dsss", "bfi": "dssss", "shfl": "dssss", "match": "dsss", "activemask": "d",
    "mov": "DS", "ld": "Dma", "ldu": "Dm", "st": "mSa", "atom": "DmSSS", "red": "mSa", "prefetch": "m",
    "prefetchu": "m", "ldmatrix": "Dm", "stmatrix": "mS", "mma": "DSSSSS", "wmma": "a",
    "bra": "l", "ret": "", "exit": "",
}


OPS: dict[str, OpSpec] = _rows()
_SHAPE = re.compile(r"^m(\d+)n(\d+)k(\d+)$")


def spec(opcode: str) -> OpSpec | None:
    """The table row of a base opcode (``fma``), or None for an unknown opcode."""
    return OPS.get(opcode)


def types_of(mods: tuple[str, ...]) -> tuple[str, ...]:
    """The type modifiers of an instruction, in order (``cvt.rn.f32.s32`` → ``("f32", "s32")``)."""
    return tuple(m for m in mods if is_type(m))


def instr_type(mods: tuple[str, ...]) -> str | None:
    """The instruction type: its last type modifier (``fma.rn.f32`` → ``f32``), or None."""
    for m in reversed(mods):
        if is_type(m):
            return m
    return None


_WIDER = {"u16": "u32", "s16": "s32", "u32": "u64", "s32": "s64", "b16": "b32", "b32": "b64",
          "f16": "f32", "f32": "f64"}


def dest_type(opcode: str, mods: tuple[str, ...]) -> str | None:
    """The type an instruction gives its destination register (for ``.reg auto``), or None."""
    if opcode in ("setp", "testp", "isspacep"):
        return "pred"
    if opcode == "elect":  # elect.sync d|p: d the leader's lane (.b32), p whether this is it
        return "b32"
    ts = types_of(mods)
    if not ts:
        return None
    if opcode in ("cvt", "set"):
        return ts[0]
    if opcode in ("popc", "clz", "bfind"):
        return "u32"
    if opcode in ("mul", "mad") and "wide" in mods:
        return _WIDER.get(ts[-1])
    if opcode == "vote" and "ballot" in mods:
        return "b32"
    return ts[-1]


def _space(mods: tuple[str, ...]) -> str:
    for m in mods:
        base = m.split("::")[0]
        if base in ("global", "shared", "local", "param", "const", "generic"):
            return base
    return "generic"


def latency_class(ins: Instr) -> str:
    """The latency class of ``ins`` (one of ``LATENCY_CLASSES``)."""
    s = OPS.get(ins.opcode)
    if s is None:
        return "alu"
    t = instr_type(ins.mods)
    if s.latency.startswith("mem") and ins.opcode in ("ld", "st", "atom", "red", "ldu"):
        space = _space(ins.mods)
        if space == "shared":
            return "mem_shared"
        if space in ("const", "param"):
            return "mem_const"
        return "mem_global"
    if t == "f64" and s.latency in ("alu", "fma", "mufu"):
        return "fp64"
    if s.latency == "alu" and ins.opcode in ("add", "sub", "mul", "min", "max", "abs", "neg") and t \
            and type_kind(t) == "f":
        return "fma"
    if s.latency == "alu" and ins.opcode == "mul" and t and t != "pred":
        return "fma"
    if ins.opcode == "div" and t and type_kind(t) != "f":
        return "alu"
    return s.latency


def flops(ins: Instr) -> int:
    """Useful floating-point operations per lane for one execution of ``ins``."""
    op = ins.opcode
    if op in ("mma", "wmma", "wgmma"):
        for m in ins.mods:
            sm = _SHAPE.match(m)
            if sm:
                m_, n_, k_ = (int(x) for x in sm.groups())
                lanes = 128 if op == "wgmma" else 32
                return 2 * m_ * n_ * k_ // lanes
        return 0
    s = OPS.get(op)
    if s is None or not s.flops:
        return 0
    t = instr_type(ins.mods)
    if t is None or type_kind(t) != "f":
        return 0
    elems = 2 if t.endswith("x2") else 1
    return s.flops * elems


def bits(t: str) -> int:
    """Size of a PTX type in bits (``pred`` is 1)."""
    return 1 if t == "pred" else 8 * type_bytes(t)
