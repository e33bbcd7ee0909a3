"""Latency classes and the default latency table the scheduler plans with (cycles, sm_90).

The figures are planning numbers, not a timing model: dependent-issue latencies from published
microbenchmarks of Volta…Hopper (see docs/PASSES.md for the sources and reasoning). Override any of
them per call: ``schedule(kernel, latencies={"ld.global": 250, "fma.rn.f32": 5})``. A key may be a
class name below, an opcode (``"fma"``) or a full dotted name (``"fma.rn.f32"``); the most specific
key wins. The coarser class names of ``sass_lab.isa.table.LATENCY_CLASSES`` (``mem_global``,
``fp64``, ``tensor``, ...) are accepted as override keys and set every class they cover (``ALIASES``);
the scheduler classifies with :func:`classify`, which splits loads from stores, ``div`` from ``mufu``
and ``shfl`` from shared loads, because those differ by an order of magnitude; opcodes it does not
name fall back to ``isa.latency_class`` mapped through ``ALIASES``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .. import isa
from ..errors import UsageError
from ..ir import Instr, Special

DEFAULT_LATENCIES: dict[str, int] = {
    "alu": 4,  # integer add/logic/shift/compare/select/move (IADD3, LOP3, ISETP, SEL, MOV)
    "fma": 4,  # fp32 / packed fp16 add, mul, fma (FFMA, FADD, HFMA2)
    "imad": 4,  # 32-bit integer mul/mad (IMAD); 64-bit forms are short sequences of IMADs
    "f64": 8,  # fp64 add/mul/fma (DFMA)
    "cvt": 6,  # conversions (F2F, I2F, F2I)
    "mufu": 16,  # special-function unit: ex2, lg2, sin, cos, rsqrt, rcp/sqrt .approx, tanh
    "div": 40,  # IEEE div/rcp/sqrt and integer div/rem: multi-instruction sequences
    "shfl": 24,  # shfl, vote, match, redux (crossbar round trip)
    "s2r": 20,  # reading a special register (%tid, %ctaid, %laneid, ...): S2R is variable-latency
    "ld.shared": 30,  # ld.shared / ldmatrix
    "ld.global": 400,  # a global load that misses L1 (L2 ~250, HBM ~450-500)
    "ld.local": 40,  # spills and local arrays: usually L1 hits
    "ld.const": 10,  # ld.const / ld.param (constant cache hit)
    "store": 4,  # st, red, cp.async issue: no register result
    "atom": 400,  # atom with a returned value
    "mma": 32,  # mma.sync (HMMA)
    "wgmma": 128,  # wgmma.mma_async (asynchronous; the wait is a scheduling boundary)
    "tex": 400,  # tex/tld4/suld
    "control": 1,  # branches, barriers and anything else the scheduler never moves
}

# sass_lab.isa.table.LATENCY_CLASSES → the classes here that each one covers.
ALIASES: dict[str, tuple[str, ...]] = {
    "fp64": ("f64",), "conv": ("cvt",), "mem_global": ("ld.global", "ld.local", "atom", "tex"),
    "mem_shared": ("ld.shared", "shfl"), "mem_const": ("ld.const",), "branch": ("control",),
    "barrier": ("control",), "tensor": ("mma", "wgmma"),
}  # alu, fma and mufu are names here too, with the narrower meaning of this module

_ALU = frozenset({
    "add", "sub", "min", "max", "and", "or", "xor", "not", "cnot", "shl", "shr", "shf", "mov", "setp",
    "set", "selp", "slct", "neg", "abs", "lop3", "prmt", "bfe", "bfi", "popc", "clz", "brev", "bfind",
    "fns", "copysign", "testp", "addc", "subc", "sad", "dp4a", "dp2a", "cvta", "isspacep", "mapa",
    "elect", "activemask",
})
_FLOAT_ARITH = frozenset({"add", "sub", "mul", "fma", "mad", "min", "max", "neg", "abs"})
_MUFU = frozenset({"ex2", "lg2", "sin", "cos", "rsqrt", "tanh"})
_SHFL = frozenset({"shfl", "vote", "match", "redux"})
_TEX = frozenset({"tex", "tld4", "suld", "sust", "sured", "txq", "suq"})
_KEY = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_:]+)*$")


def _elem_type(ins: Instr) -> str:
    for m in reversed(ins.mods):
        if m[:1] in "fbsue" and m[1:2].isdigit() or m in ("bf16", "bf16x2", "tf32", "pred"):
            return m
    return ""


def classify(ins: Instr) -> str:
    """The latency class of ``ins`` (a key of :data:`DEFAULT_LATENCIES`)."""
    op, t = ins.opcode, _elem_type(ins)
    if op == "wmma" and ("load" in ins.mods or "store" in ins.mods):
        if "store" in ins.mods:
            return "store"
        return "ld.shared" if any(m.startswith("shared") for m in ins.mods) else "ld.global"
    if op in ("ld", "ldu", "ldmatrix"):
        space = isa.state_space(ins)
        if op == "ldmatrix" or space == "shared":
            return "ld.shared"
        if space in ("const", "param"):
            return "ld.const"
        return "ld.local" if space == "local" else "ld.global"
    if op in ("st", "red", "cp", "stmatrix", "prefetch", "prefetchu"):
        return "store"
    if op == "atom":
        return "atom"
    if op in ("mma", "wmma"):
        return "mma"
    if op == "wgmma":
        return "wgmma"
    if op in _TEX:
        return "tex"
    if op in _SHFL:
        return "shfl"
    if op in _MUFU or (op in ("rcp", "sqrt") and "approx" in ins.mods):
        return "mufu"
    if op in ("div", "rem", "rcp", "sqrt"):
        return "div"
    if op in ("mov", "cvt") and any(isinstance(o, Special) for o in ins.operands[1:]):
        return "s2r"
    if op == "cvt":
        return "cvt"
    if t == "f64" and op in _FLOAT_ARITH:
        return "f64"
    if t.startswith(("f", "bf")) and op in _FLOAT_ARITH:
        return "fma"
    if op in ("mul", "mad", "mul24", "mad24"):
        return "imad"
    if op in _ALU:
        return "alu"
    if isa.is_branch(ins) or isa.is_barrier(ins):
        return "control"
    return _from_isa(ins)


def _from_isa(ins: Instr) -> str:
    """For opcodes not named above, the ISA table's coarser class, mapped onto ours (else ``alu``)."""
    ext = getattr(isa, "latency_class", None)
    try:
        cls = ext(ins) if ext is not None else "alu"
    except Exception:  # noqa: BLE001 - a gap in the ISA table must not break scheduling
        return "alu"
    if cls in DEFAULT_LATENCIES:
        return cls
    if cls.startswith("mem") and not isa.writes_register(ins):
        return "store"  # no register result: only memory order follows it
    return ALIASES.get(cls, ("alu",))[0]


def check_table(latencies: Mapping[str, int] | None) -> dict[str, int]:
    """The default table updated with ``latencies``; bad keys or values raise :class:`UsageError`."""
    table = dict(DEFAULT_LATENCIES)
    items = sorted((latencies or {}).items(), key=lambda kv: (str(kv[0]) not in ALIASES, str(kv[0])))
    for k, v in items:  # aliases first, so an exact class key given alongside wins
        if not isinstance(k, str) or not _KEY.match(k):
            raise UsageError(f"bad latency key {k!r}",
                             hint=f"use a class ({', '.join(DEFAULT_LATENCIES)}), an opcode or 'fma.rn.f32'")
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise UsageError(f"latency for '{k}' must be a non-negative integer, not {v!r}")
        for c in ALIASES.get(k, (k,)):
            table[c] = v
    return table


def latency(ins: Instr, table: Mapping[str, int]) -> int:
    """Cycles until a dependent instruction may issue, by the most specific key in ``table``."""
    name = ins.name
    if name in table:
        return table[name]
    if ins.opcode in table:
        return table[ins.opcode]
    return table[classify(ins)]
