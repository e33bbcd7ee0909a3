"""Checks on one lowered instruction: known opcode, operand count, and PTX's operand type rules.

Type compatibility (PTX ISA "Type checking"): a register matches an instruction type when the
types are equal, or the sizes are equal and either side is a ``.b`` type, or both are integers
(``.u``/``.s``). Float registers only match the same float type (or a ``.b`` type of that size).
``ld``/``st``/``atom``/``red``/``cvt`` allow an integer register wider than the instruction type;
``mov`` only checks sizes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

from .. import ir
from ..ir import is_type, type_bytes, type_kind
from ..isa.table import OPS, instr_type, types_of

_WIDE = {"u16": "u32", "s16": "s32", "u32": "u64", "s32": "s64", "b32": "b64", "b16": "b32"}
TYPE_HINT = ("a register matches when the types are equal, or the sizes match and one is .b, "
             "or both are integers (.u/.s); floats need the same float type")


def compatible(reg: str, want: str) -> bool:
    """PTX's rule for a register of type ``reg`` in an operand of type ``want``."""
    if reg == want:
        return True
    if reg == "pred" or want == "pred":
        return False
    if type_bytes(reg) != type_bytes(want):
        return False
    rk, wk = type_kind(reg), type_kind(want)
    return rk == "b" or wk == "b" or (rk in "us" and wk in "us")


def relaxed(reg: str, want: str) -> bool:
    """ld/st/cvt: also an integer-kind register wider than an integer type."""
    if compatible(reg, want):
        return True
    return (reg != "pred" and want != "pred" and type_kind(want) in "bus" and type_kind(reg) in "bus"
            and type_bytes(reg) > type_bytes(want))


_TYPE_LIKE = re.compile(r"[bfsu]\d+")
_SUB_BYTE = frozenset({"b1", "s4", "u4", "s2", "u2"})  # mma/wmma operand types
_TYPE_NAMES = ("pred b8 b16 b32 b64 b128 u8 u16 u32 u64 s8 s16 s32 s64 f16 f16x2 bf16 bf16x2 f32 f64 tf32"
               .split())


def check_opcode(opcode: str, err: Callable, node, mods: tuple[str, ...] = ()) -> None:
    """Unknown opcodes, and type modifiers that are not PTX types (``.f23``)."""
    if opcode not in OPS:
        close = difflib.get_close_matches(opcode, list(OPS), n=1)
        raise err(node, f"unknown instruction '{opcode}'",
                  hint=f"did you mean '{close[0]}'?" if close else "see the PTX ISA for instruction names")
    for m in mods:
        if _TYPE_LIKE.fullmatch(m) and not is_type(m) and m not in _SUB_BYTE:
            close = difflib.get_close_matches(m, _TYPE_NAMES, n=1)
            raise err(node, f"unknown type '.{m}' in '{opcode}.{'.'.join(mods)}'",
                      hint=f"did you mean '.{close[0]}'?" if close else "PTX types: .b32, .u32, .s32, .f32, ...")


def _sig(op) -> object:
    """What the checks look at in one operand: its class and register types."""
    t = type(op)
    if t is ir.Reg:
        return op.type
    if t is ir.Imm:
        return "F" if isinstance(op.value, float) else "I"
    if t is ir.Mem:
        return ("M", op.base.type if type(op.base) is ir.Reg else None)
    if t is ir.Vec:
        return tuple(_sig(i) for i in op.items)
    if t is ir.PredPair:
        return ("P", getattr(op.first, "type", None), op.second.type)
    return t.__name__


_passed: set = set()  # signatures (opcode, mods, operand sigs) that passed every check


def check(ins: ir.Instr, nodes: tuple, err: Callable, stmt) -> None:
    """Raise ``err(node, message, hint)`` for a bad operand count, kind or type."""
    key = (ins.opcode, ins.mods, tuple(_sig(o) for o in ins.operands))
    if key in _passed:
        return
    _check(ins, nodes, err, stmt)
    if len(_passed) > 100_000:
        _passed.clear()
    _passed.add(key)


def _check(ins: ir.Instr, nodes: tuple, err: Callable, stmt) -> None:
    spec = OPS[ins.opcode]
    n = len(ins.operands)
    if not spec.min_ops <= n <= spec.max_ops:
        want = str(spec.min_ops) if spec.min_ops == spec.max_ops else f"{spec.min_ops} to {spec.max_ops}"
        raise err(stmt, f"'{ins.name}' takes {want} operand{'s' if spec.max_ops != 1 else ''}, got {n}",
                  hint=None)
    if spec.kinds:
        _check_kinds(ins, spec.kinds, nodes, err)
    rule = spec.rule
    if rule == "none":
        return
    t = instr_type(ins.mods)
    if t is None:
        return
    want = _expected(rule, ins, t)
    if want is None:
        return
    for i, (op, node) in enumerate(zip(ins.operands, nodes)):
        w = want(i)
        if w is None:
            continue
        _check_operand(ins, op, node, w, rule, err)


_KIND_OK = {
    "d": (ir.Reg, ir.PredPair, ir.Sink),
    "D": (ir.Reg, ir.Vec, ir.PredPair, ir.Sink),
    "s": (ir.Reg, ir.Imm, ir.Special, ir.Sym),
    "S": (ir.Reg, ir.Imm, ir.Special, ir.Sym, ir.Vec),
    "m": (ir.Mem,),
    "l": (ir.Label,),
}
_KIND_NAME = {"d": "a destination register", "D": "a destination register or brace list",
              "s": "a scalar register, immediate or symbol", "S": "a register, immediate, symbol or brace list",
              "m": "a memory operand [...]", "l": "a label"}


def _check_kinds(ins: ir.Instr, kinds: str, nodes: tuple, err: Callable) -> None:
    for i, (op, node) in enumerate(zip(ins.operands, nodes)):
        k = kinds[i] if i < len(kinds) else kinds[-1]
        ok = _KIND_OK.get(k)
        if ok is None or isinstance(op, ok):
            continue
        what = {ir.Imm: "an immediate", ir.Mem: "a memory operand", ir.Special: "a special register",
                ir.Sym: "a symbol", ir.Label: "a label", ir.Sink: "'_'", ir.Reg: "a register",
                ir.Vec: "a brace list", ir.PredPair: "a predicate pair"}.get(type(op), "this operand")
        hint = None
        if k == "m" and isinstance(op, ir.Reg | ir.Sym):
            hint = f"write [{op.name}]"
        elif k == "d" and isinstance(op, ir.Special):
            hint = "special registers are read-only"
        elif k in "dDsS" and isinstance(op, ir.Vec):
            hint = "a vector register stands for all its parts here: name one part (q.x) or use a .v2/.v4 ld/st/mov"
        elif k in "sS" and isinstance(op, ir.Mem):
            hint = "only ld/st/atom/red and friends address memory: load the value first"
        raise err(node, f"operand {i + 1} of '{ins.name}' must be {_KIND_NAME[k]}, not {what}", hint=hint)


def _expected(rule: str, ins: ir.Instr, t: str):
    """A function operand index → (expected type, relaxation) or None when unchecked."""
    mods = ins.mods
    if rule == "same":
        if "wide" in mods and ins.opcode in ("mul", "mad"):
            wide = _WIDE.get(t, t)
            return lambda i: (wide, "eq") if i == 0 or i == 3 else (t, "eq")
        return lambda i: (t, "eq")
    if rule == "count":
        return lambda i: ("b32", "eq") if i == 0 else (t, "eq")
    if rule == "shift":
        return lambda i: (t, "eq") if i < 2 else ("b32", "eq")
    if rule == "bfe":
        return lambda i: (t, "eq") if i < 2 else ("b32", "eq")
    if rule == "bfi":
        return lambda i: (t, "eq") if i < 3 else ("b32", "eq")
    if rule == "setp":
        return lambda i: ("pred", "eq") if i == 0 or i == 3 else (t, "eq")
    if rule == "selp":
        return lambda i: ("pred", "eq") if i == 3 else (t, "eq")
    if rule == "testp":
        return lambda i: ("pred", "eq") if i == 0 else (t, "eq")
    if rule == "cvt":
        ts = types_of(mods)
        if len(ts) < 2 or len(ins.operands) != 2:
            return None
        return lambda i: (ts[0], "relaxed") if i == 0 else (ts[1], "relaxed")
    if rule == "mem":  # with .L2::cache_hint the last operand is a 64-bit cache policy (createpolicy)
        policy = len(ins.operands) - 1 if any(m.startswith("L2::cache_hint") for m in mods) else -1
        return lambda i: ("u64", "addr") if isinstance(ins.operands[i], ir.Mem) else \
            ("b64", "size") if i == policy else (t, "relaxed")
    if rule in ("mov", "cvta"):
        return lambda i: (t, "size")
    return None


def _regs_with_nodes(op, node):
    if isinstance(op, ir.Reg):
        yield op, node
    elif isinstance(op, ir.Vec):
        items = getattr(node, "items", None)
        if items is not None and len(items) == len(op.items):
            for o, nd in zip(op.items, items):
                yield from _regs_with_nodes(o, nd)
        else:
            for o in op.items:
                yield from _regs_with_nodes(o, node)
    elif isinstance(op, ir.PredPair) and isinstance(op.first, ir.Reg):
        yield op.first, getattr(node, "first", node)


def _check_operand(ins: ir.Instr, op, node, want, rule: str, err: Callable) -> None:
    typ, mode = want
    if isinstance(op, ir.Mem):
        if isinstance(op.base, ir.Reg):
            b = op.base.type
            if b == "pred" or type_kind(b) == "f" or type_bytes(b) not in (4, 8):
                raise err(node.base if node.base is not None else node,
                          f"address register '{op.base.name}' is .{b}",
                          hint="addresses are 32- or 64-bit integer registers (.u64, .b64, .u32 ...)")
        return
    if isinstance(op, ir.Imm):
        if typ != "pred" and type_kind(typ) in "us" and isinstance(op.value, float) and rule != "mov":
            raise err(node, f"float immediate '{op.text}' in integer instruction '{ins.name}'",
                      hint="write an integer literal")
        return
    if isinstance(op, ir.PredPair):
        if typ == "pred" or rule == "setp":
            for r, nd in ((op.first, node.first), (op.second, node.second)):
                if isinstance(r, ir.Reg) and r.type != "pred":
                    raise err(nd, f"'{r.name}' is .{r.type}, '{ins.name}' writes a predicate here",
                              hint="declare it with .reg .pred")
        return
    if mode == "size" and isinstance(op, ir.Vec):
        return  # mov.b32 r, {lo, hi} packs; mov.b64 {lo, hi}, r unpacks
    for r, nd in _regs_with_nodes(op, node):
        if not r.type:
            continue
        if mode == "size":
            ok = (r.type == "pred") == (typ == "pred") and (typ == "pred" or type_bytes(r.type) == type_bytes(typ))
        elif mode == "relaxed":
            ok = relaxed(r.type, typ)
        else:
            ok = compatible(r.type, typ)
        if not ok:
            if typ == "pred":
                msg = f"'{r.name}' is .{r.type}, '{ins.name}' needs a predicate here"
                hint = "declare it with .reg .pred"
            elif mode == "size":
                msg = f"'{r.name}' is .{r.type} ({_bits(r.type)} bits), '{ins.name}' moves {_bits(typ)} bits"
                hint = "mov needs a register of the instruction's size"
            else:
                msg = f"type mismatch: '{r.name}' is .{r.type}, '{ins.name}' expects .{typ} here"
                hint = _type_hint(r.type, typ)
            raise err(nd, msg, hint=hint)


def _type_hint(have: str, want: str) -> str:
    """What to do about a register of type ``have`` where ``want`` is needed."""
    if have != "pred" and want != "pred" and type_kind(have) != type_kind(want) and "f" in (
            type_kind(have), type_kind(want)) and type_bytes(have) == type_bytes(want):
        rnd = "rn" if type_kind(want) == "f" else "rzi"
        return (f"convert with cvt (cvt.{rnd}.{want}.{have}), or reinterpret the bits with "
                f"mov.b{8 * type_bytes(want)}; {TYPE_HINT}")
    if have != "pred" and want != "pred" and type_bytes(have) != type_bytes(want):
        return f"sizes differ ({_bits(have)} vs {_bits(want)} bits): convert with cvt; {TYPE_HINT}"
    return TYPE_HINT


def _bits(t: str) -> int:
    return 1 if t == "pred" else 8 * type_bytes(t)
