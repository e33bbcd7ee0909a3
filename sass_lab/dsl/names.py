"""Names inside one kernel: declared registers (scalars, arrays, vectors, ``%r<N>`` ranges), kernel
parameters, labels and symbols, and the resolution of parse-level operands to IR operands."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import ir
from ..errors import SourceError, Span
from ..isa.specials import SPECIALS
from .nodes import MemRef, Name, Num, Pair, ParenList, SinkRef, VecRef

VEC_PARTS = {2: ("x", "y"), 4: ("x", "y", "z", "w")}
_COUNTED = re.compile(r"^(.*?)(\d+)$")


def _check_array_size(names, node, name: str, typ: str, dims: tuple[int, ...], vec: int) -> None:
    """A register array larger than a thread's registers can never be held: refused before it is
    flattened (``q[10000000]`` would take minutes and gigabytes)."""
    from .limits import current, how_to_raise

    count = max(1, vec)
    for d in dims:
        count *= d
    words = count * max(1, ir.type_bytes(typ) // 4) if typ != "pred" else count
    limit = current().reg_array
    if words > limit:
        raise names.err(node, f"register array '{name}' needs {words:,} 32-bit registers; a thread has at "
                        f"most 255", hint=how_to_raise("reg_array", limit) + " (only if its elements are "
                        "never all live at once)")


def vec_parts(n: int) -> tuple[str, ...]:
    return VEC_PARTS.get(n) or tuple(str(i) for i in range(n))


@dataclass(frozen=True, slots=True)
class RegInfo:
    """A declared register name: scalar (dims ``()``), array, vector (``vec`` > 0) or both."""

    name: str  # PTX base name (renamed when a nested scope re-declares a name)
    type: str
    dims: tuple[int, ...] = ()
    vec: int = 0
    span: Span | None = None

    def shape(self) -> str:
        d = "x".join(str(x) for x in self.dims)
        return f"{d} .v{self.vec}" if self.vec and d else (d or f".v{self.vec}")


@dataclass
class Names:
    """The name table of one kernel, and the operand resolver."""

    err: Callable[..., SourceError]  # err(node, message, hint=None) -> SourceError
    auto: bool = False
    regs: dict[str, RegInfo] = field(default_factory=dict)
    counted: dict[str, tuple[str, int]] = field(default_factory=dict)  # "%r" -> (type, count)
    params: dict[str, ir.Reg] = field(default_factory=dict)  # DSL .kernel params used as registers
    used_params: set[str] = field(default_factory=set)
    labels: dict[str, Span] = field(default_factory=dict)
    symbols: set[str] = field(default_factory=set)
    flat: dict[str, Span | None] = field(default_factory=dict)  # every PTX register name declared
    decls: list[ir.RegDecl] = field(default_factory=list)
    cache: dict[str, ir.Reg] = field(default_factory=dict)
    version: int = 0  # bumped whenever a name is (un)declared; keys the lowering cache
    ocache: dict = field(default_factory=dict)  # id(operand node) -> (version, operand, node)
    icache: dict = field(default_factory=dict)  # (id ops, id guard, opcode, mods) -> (version, ...)

    # ----------------------------------------------------------------- declarations

    def declare(self, node, name: str, typ: str, dims: tuple[int, ...], vec: int, span: Span,
                scoped: bool = False) -> RegInfo:
        """Declare a register name (scalar/array/vector); ``scoped`` renames on clashes."""
        if name in self.regs or name in self.params or name in self.counted or self._counted_member(name):
            if not scoped:
                first = self._first(name)
                raise self.err(node, f"duplicate name '{name}'",
                               hint=f"first declared at {first}" if first else None)
        if any(d <= 0 for d in dims):
            raise self.err(node, f"register array '{name}' needs positive sizes", hint="e.g. acc[8][8]")
        if dims or vec:
            _check_array_size(self, node, name, typ, dims, vec)
        base = name
        if scoped:
            k = 1
            while base in self.flat or self._counted_member(base) or \
                    any(f.startswith(base + "_") for f in self.flat if dims or vec):
                base = f"{name}_{k}"
                k += 1
        self.version += 1
        info = RegInfo(base, typ, dims, vec, span)
        for flat in _flatten(base, dims, vec):
            if flat in self.flat:
                raise self.err(node, f"register '{flat}' (from '{name}') clashes with an earlier declaration",
                               hint="rename one of them")
            self.flat[flat] = span
            self.decls.append(ir.RegDecl(flat, typ, 0, span, scoped))
        self.regs[name] = info
        return info

    def _counted_member(self, name: str) -> bool:
        """Whether ``name`` is one of the registers of a ``%r<N>`` declaration (``%r0`` … ``%r{N-1}``)."""
        digits = len(name) - len(name.rstrip("0123456789"))
        if not digits or digits == len(name):
            return False
        hit = self.counted.get(name[:-digits])
        return hit is not None and int(name[-digits:]) < hit[1] and (name[-digits:] == "0" or name[-digits] != "0")

    def declare_counted(self, node, prefix: str, typ: str, count: int, span: Span) -> None:
        if prefix in self.counted or prefix in self.regs:
            raise self.err(node, f"duplicate name '{prefix}<{count}>'")
        clash = next((f for f in self.flat if f.startswith(prefix) and f[len(prefix):].isdigit()
                      and int(f[len(prefix):]) < count and (f[len(prefix):] == "0" or f[len(prefix)] != "0")), None)
        if clash:
            raise self.err(node, f"'{prefix}<{count}>' declares '{clash}' again",
                           hint=f"first declared at {self.flat[clash]}" if self.flat[clash] else None)
        self.version += 1
        self.counted[prefix] = (typ, count)
        self.decls.append(ir.RegDecl(prefix, typ, count, span))

    def restore(self, name: str, prev: RegInfo | None) -> None:
        """Leave a scope: drop ``name`` or bring back the outer declaration it shadowed."""
        self.version += 1
        if prev is None:
            self.regs.pop(name, None)
        else:
            self.regs[name] = prev

    def _first(self, name: str) -> str | None:
        info = self.regs.get(name)
        sp = info.span if info else None
        return str(sp) if sp else None

    # ----------------------------------------------------------------- resolution

    def reg(self, name: str, typ: str) -> ir.Reg:
        r = self.cache.get(name)
        if r is None:
            r = self.cache[name] = ir.Reg(name, typ)
        return r

    def operand(self, node, dest_type: str | None = None, label_ok: bool = True) -> ir.Operand:
        """Resolve one parse-level operand. ``dest_type`` is set for a destination under ``.reg auto``."""
        t = type(node)
        if t is Name:
            return self.name(node, dest_type, label_ok)
        if t is Num:
            return ir.Imm(node.value, node.text)
        if t is MemRef:
            base = None
            if node.base is not None:
                base = self.name(node.base, None, False)
                if isinstance(base, ir.Vec | ir.Special | ir.Label):
                    raise self.err(node.base, f"'{_show(node.base)}' cannot be an address",
                                   hint="use a 32- or 64-bit register or a variable name")
            if node.coords:
                return ir.Mem(base, 0, coords=tuple(self.operand(c, None, False) for c in node.coords))
            return ir.Mem(base, node.offset)
        if t is VecRef:
            items = []
            for it in node.items:
                whole = self._whole_array(it)
                r = whole if whole is not None else self.operand(it, dest_type, False)
                items.extend(r.items if isinstance(r, ir.Vec) else (r,))
            return ir.Vec(tuple(items))
        if t is Pair:
            if type(node.first) is VecRef:  # a sparse texture fetch: {d0, d1, d2, d3}|p
                b = self.name(node.second, "pred" if dest_type else None, False)
                if not isinstance(b, ir.Reg):
                    raise self.err(node.second, "the residency predicate after '|' must be a register")
                return ir.PredPair(self.operand(node.first, dest_type, False), b)
            if node.first.text == "_" and not node.first.idx:  # elect.sync _|p: no lane index wanted
                b = self.name(node.second, "pred" if dest_type else None, False)
                return ir.PredPair(ir.Sink(), b)
            a = self.name(node.first, dest_type, False)
            b = self.name(node.second, "pred" if dest_type else None, False)
            if not isinstance(a, ir.Reg) or not isinstance(b, ir.Reg):
                raise self.err(node, "both halves of 'p|q' must be registers")
            return ir.PredPair(a, b)
        if t is SinkRef:
            return ir.Sink()
        if t is ParenList:
            return ir.Vec(tuple(self.operand(i) for i in node.items))
        raise self.err(node, "unsupported operand")  # pragma: no cover

    def name(self, node: Name, dest_type: str | None, label_ok: bool) -> ir.Operand:
        text = node.text
        info = self.regs.get(text)
        if info is not None:
            return self._element(node, info)
        if text in self.params:
            if node.idx or node.part:
                raise self.err(node, f"parameter '{text}' is a scalar", hint="drop the index")
            self.used_params.add(text)
            return self.params[text]
        if text[0] == "%":
            full = f"{text}.{node.part}" if node.part else text
            if full in SPECIALS:
                return ir.Special(full)
            m = _COUNTED.match(text)
            if m and m.group(1) in self.counted and not node.idx and not node.part:
                typ, count = self.counted[m.group(1)]
                if int(m.group(2)) >= count:
                    raise self.err(node, f"register '{text}' is out of range: {m.group(1)}<{count}> declares "
                                         f"{m.group(1)}0..{m.group(1)}{count - 1}")
                return self.reg(text, typ)
        if not node.idx and not node.part:
            if text in self.labels and label_ok:
                return ir.Label(text)
            if text in self.symbols:
                return ir.Sym(text)
        if text == "WARP_SZ":
            return ir.Special(text)
        if self.auto and dest_type and not node.idx and not node.part:
            info = self.declare(node, text, dest_type, (), 0, None)
            return self._element(node, info)
        raise self._undeclared(node, dest_type)

    def _undeclared(self, node: Name, dest_type) -> SourceError:
        text = node.text
        pool = list(self.regs) + list(self.params) + list(self.symbols) + list(self.labels)
        close = difflib.get_close_matches(text, pool, n=1)
        if close:
            hint = f"did you mean '{close[0]}'?"
        elif self.auto and not dest_type:
            hint = "under .reg auto a name is declared by the first instruction that writes it"
        elif text.startswith("%"):
            hint = "declare it (.reg .b32 %r<10>) or use a special register such as %tid.x"
        else:
            hint = f"declare it, e.g. '.reg .b32 {text}'"
        return self.err(node, f"'{_show(node)}' is not declared", hint=hint)

    def _whole_array(self, node) -> ir.Vec | None:
        """A bare array name inside a brace list stands for all its registers in row-major order
        (``{acc}`` for the 64 accumulators of a wgmma), or None when ``node`` is not one."""
        if type(node) is not Name or node.idx or node.part:
            return None
        info = self.regs.get(node.text)
        if info is None or not info.dims:
            return None
        return ir.Vec(tuple(self.reg(n, info.type) for n in _flatten(info.name, info.dims, info.vec)))

    def _element(self, node: Name, info: RegInfo) -> ir.Operand:
        idx = node.idx
        if any(not isinstance(i, int) for i in idx):
            bad = next(i for i in idx if not isinstance(i, int))
            raise self.err(node, f"index '{bad}' of '{node.text}' is not a constant",
                           hint=f"indices must be numbers after expansion: write {node.text}[${{{bad}}}]")
        nd = len(info.dims)
        part = node.part
        if len(idx) == nd + 1 and info.vec and part is None:
            part, idx = idx[-1], idx[:-1]
        if len(idx) != nd:
            if nd == 0:
                raise self.err(node, f"'{node.text}' is not an array", hint="drop the index")
            raise self.err(node, f"'{node.text}' is a {info.shape()} array: give {nd} "
                                 f"ind{'ex' if nd == 1 else 'ices'}, got {len(idx)}")
        for i, (x, d) in enumerate(zip(idx, info.dims)):
            if x >= d:
                raise self.err(node, f"register '{_show(node)}' is out of range: {node.text} is {info.shape()}",
                               hint=f"index {i} must be below {d}")
        base = info.name + "".join(f"_{x}" for x in idx)
        if info.vec:
            parts = vec_parts(info.vec)
            if part is None:
                return ir.Vec(tuple(self.reg(f"{base}_{p}", info.type) for p in parts))
            if isinstance(part, int) or part.isdigit():
                k = int(part)
                if k >= info.vec:
                    raise self.err(node, f"'{_show(node)}': {node.text} has {info.vec} parts")
                part = parts[k]
            if part not in parts:
                raise self.err(node, f"'{_show(node)}': no part '.{part}' in a .v{info.vec} register",
                               hint=f"parts are {', '.join('.' + p for p in parts)}")
            return self.reg(f"{base}_{part}", info.type)
        if part is not None:
            raise self.err(node, f"'{node.text}' is not a vector register", hint=f"drop '.{part}'")
        return self.reg(base, info.type)


def _flatten(base: str, dims: tuple[int, ...], vec: int) -> list[str]:
    names = [base]
    for d in dims:
        names = [f"{n}_{i}" for n in names for i in range(d)]
    if vec:
        names = [f"{n}_{p}" for n in names for p in vec_parts(vec)]
    return names


def _show(node: Name) -> str:
    s = node.text + "".join(f"[{i}]" for i in node.idx)
    return f"{s}.{node.part}" if node.part else s
