"""PTX text → :mod:`sass_lab.ir` (kernels, declarations, instructions with PTX-line spans).

Lark LALR over ``sass_lab/grammars/ptx.lark`` with an inline transformer, so no parse tree is built; the
parsed module is cached per PTX text. Names stay unresolved here (every identifier operand is an
``ir.Reg``); :mod:`.decode` decides whether a name is a register, symbol, label or special.
Operand forms the IR lacks get two small types here: :class:`AddrOf` (``sym+4`` as a value) and
:class:`Paren` (``call`` argument lists). A negated predicate operand ``!p`` is ``Reg('!p')``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .. import ir
from ..errors import EmulatorError, Span
from ..isa.constexpr import fold
from ..isa.literals import number
from ..paths import grammar
from .ptxread import Fallback, read

PTX_FILE = "<ptx>"


@dataclass(frozen=True, slots=True)
class AddrOf:
    """``sym`` or ``sym+off`` used as a value (``mov.u64 %rd1, smem+16``)."""

    name: str
    offset: int = 0
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BranchTargets:
    """``.branchtargets L1, L2, …`` (the table of a ``brx.idx``), named by the label before it."""

    targets: tuple[str, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Paren:
    """A parenthesised operand list (``call`` return values and arguments)."""

    items: tuple


def parse_int(text: str) -> int:
    return int(number(text))


def parse_float(text: str) -> float:
    return float(number(text))


def _imm(tok: Token, neg: bool = False) -> ir.Imm:
    text = str(tok)
    value: int | float = parse_float(text) if tok.type == "FLOAT" else parse_int(text)
    if neg:
        value = -value
        text = "-" + text
    return ir.Imm(value, text)


class _Block(list):
    """The statements of one ``{ … }`` body (told apart from Lark's plain child lists)."""


def rename(op, names: dict[str, str]):
    """``op`` with register/symbol names replaced through ``names`` (``!p`` keeps its negation)."""
    if isinstance(op, ir.Reg):
        n = op.name
        neg = n.startswith("!")
        base = n[1:] if neg else n
        return ir.Reg(("!" if neg else "") + names[base], op.type) if base in names else op
    if isinstance(op, ir.Mem):
        return ir.Mem(rename(op.base, names) if op.base is not None else None, op.offset)
    if isinstance(op, ir.Vec):
        return ir.Vec(tuple(rename(x, names) for x in op.items))
    if isinstance(op, ir.PredPair):
        return ir.PredPair(rename(op.first, names), rename(op.second, names))
    if isinstance(op, AddrOf):
        return AddrOf(names.get(op.name, op.name), op.offset)
    if isinstance(op, Paren):
        return Paren(tuple(rename(x, names) for x in op.items))
    return op


@v_args(inline=True)
class _Build(Transformer):
    """Inline transformer: each rule returns IR pieces directly."""

    lines: list[str] = []
    scope_id = 0

    def _span(self, tok: Token) -> Span:
        line = tok.line or 1
        src = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return Span(PTX_FILE, line, tok.column or 1, (tok.column or 1) + len(tok), src)

    # ----------------------------------------------------------------- top level
    def start(self, *items):
        kernels = tuple(i for i in items if isinstance(i, ir.Kernel))
        gvars = tuple(i for i in items if isinstance(i, ir.VarDecl))
        return ir.Module(kernels=kernels, vars=gvars, file=PTX_FILE)

    def function(self, *items):
        linkage = [str(i) for i in items if isinstance(i, Token) and i.type == "LINKAGE"]
        kind = next(i for i in items if isinstance(i, Token) and i.type == "FUNC_KIND")
        name = next(i for i in items if isinstance(i, Token) and i.type == "IDENT")
        params: tuple = ()
        rets: tuple = ()
        directives = []
        body = None
        for i in items:
            if isinstance(i, tuple) and i and i[0] == "params":
                params = i[1]
            elif isinstance(i, tuple) and i and i[0] == "ret":
                rets = i[1]
            elif isinstance(i, ir.Directive):
                directives.append(i)
            elif isinstance(i, list):
                body = i
        regs, vars_, stmts = [], [], []
        for s in body or ():
            if isinstance(s, ir.RegDecl):
                regs.append(s)
            elif isinstance(s, ir.VarDecl):
                vars_.append(s)
            else:
                stmts.append(s)
        if rets:  # a .func's return parameters come first, counted by a "__ret__" directive
            params = (*rets, *params)
            directives.append(ir.Directive("__ret__", (len(rets),)))
        return ir.Kernel(name=str(name), params=params, regs=tuple(regs), vars=tuple(vars_),
                         directives=tuple(directives), body=tuple(stmts),
                         entry=str(kind) == ".entry" and body is not None,
                         visible=".visible" in linkage, span=self._span(name))

    def ret_params(self, *ps):
        return ("ret", ps)

    def params(self, *ps):
        return ("params", ps)

    def param(self, *items):
        align, typ, name, dims = None, "", "", None
        for i in items:
            if isinstance(i, int) and not isinstance(i, Token):
                align = i
            elif isinstance(i, Token) and i.type == "TYPE":
                typ = str(i)[1:]
            elif isinstance(i, Token) and i.type == "IDENT":
                name = i
            elif isinstance(i, tuple):
                dims = i
        array = dims[0] if dims else 0
        return ir.Param(name=str(name), type=typ, align=align, array=array, span=self._span(name))

    def perf(self, name, *values):
        return ir.Directive(str(name)[1:], tuple(parse_int(v) for v in values), span=self._span(name))

    def body(self, *stmts):
        items: list = []

        def walk(xs):
            for x in xs:
                if isinstance(x, _Block):
                    items.append(x)
                elif isinstance(x, list):
                    walk(x)
                elif isinstance(x, tuple):
                    items.extend(x)
                elif x is not None and not isinstance(x, Token):
                    items.append(x)
        walk(stmts)
        out = _Block()
        for x in items:
            out.extend(self._scoped(x) if isinstance(x, _Block) else (x,))
        return out

    def _scoped(self, block: _Block) -> list:
        """A nested ``{ … }`` block: its registers and variables shadow outer ones (nvcc declares
        ``.param .b64 param0`` in one call's block and ``.param .b32 param0`` in the next), so give
        them unique names."""
        self.scope_id += 1
        names: dict[str, str] = {}
        decls = []
        for x in block:
            if isinstance(x, ir.RegDecl):
                for n in ([f"{x.name}{i}" for i in range(x.count)] if x.count else [x.name]):
                    names[n] = f"{n}${self.scope_id}"
                    decls.append(ir.RegDecl(names[n], x.type, 0, x.span))
            elif isinstance(x, ir.VarDecl):
                names[x.name] = f"{x.name}${self.scope_id}"
                decls.append(replace(x, name=names[x.name]))
        if not names:
            return list(block)
        out = []
        for x in block:
            if isinstance(x, ir.Instr):
                g = x.guard and ir.Guard(rename(x.guard.reg, names), x.guard.negate)
                out.append(ir.Instr(x.opcode, x.mods, tuple(rename(o, names) for o in x.operands), g, x.span))
            elif not isinstance(x, ir.RegDecl | ir.VarDecl):
                out.append(x)
        return decls + out

    def reg_decl(self, *items):
        typ = next(str(i)[1:] for i in items if isinstance(i, Token) and i.type == "TYPE")
        return tuple(ir.RegDecl(name=n, type=typ, count=c, span=sp)
                     for n, c, sp in (i for i in items if isinstance(i, tuple)))

    def reg_name(self, name, count=None):
        return (str(name), parse_int(count) if count is not None else 0, self._span(name))

    def _var(self, items, module: bool):
        space, typ, name, dims, align, init, extern = "", "", None, (), None, None, False
        for i in items:
            if isinstance(i, Token):
                if i.type == "SPACE":
                    space = str(i)[1:]
                elif i.type == "TYPE":
                    typ = str(i)[1:]
                elif i.type == "IDENT":
                    name = i
                elif i.type == "LINKAGE" and str(i) == ".extern":
                    extern = True
            elif isinstance(i, int):
                align = i
            elif isinstance(i, tuple):
                dims = i
            elif isinstance(i, list):
                init = ",".join(str(x) for x in i)
        return ir.VarDecl(space=space, name=str(name), type=typ, dims=dims, align=align,
                          extern=extern or dims[:1] == (0,), init=init, span=self._span(name))

    def local_var(self, *items):
        return self._var(items, False)

    def module_var(self, *items):
        return self._var(items, True)

    def align(self, n):
        return parse_int(n)

    def dims(self, *ns):
        return tuple(parse_int(n) for n in ns) if ns else (0,)

    def init(self, *items):
        flat: list = []
        for i in items:
            if isinstance(i, list):
                flat.extend(i)
            else:
                flat.append(i.value if isinstance(i, ir.Imm) else str(i))
        return flat

    def branchtargets(self, *names):
        return BranchTargets(tuple(str(n) for n in names), span=self._span(names[0]))

    def label(self, tok):
        return ir.LabelDef(str(tok)[:-1], span=self._span(tok))

    # ----------------------------------------------------------------- instructions
    def instr(self, *items):
        guard = None
        i = 0
        if items[0].type == "GUARD":
            g = str(items[0])[1:]
            neg = g.startswith("!")
            guard = ir.Guard(ir.Reg(g[1:] if neg else g), neg)
            i = 1
        op = items[i]
        parts = str(op).split(".")
        return ir.Instr(parts[0], tuple(parts[1:]), tuple(items[i + 1:]), guard, span=self._span(op))

    def op_name(self, tok):
        name = str(tok)
        if name == "_":
            return ir.Sink()
        return ir.Reg(name)

    def op_pair(self, a, b):
        return ir.PredPair(ir.Sink() if str(a) == "_" else ir.Reg(str(a)), ir.Reg(str(b)))  # elect.sync _|p

    def op_vec_pair(self, *items):
        return ir.PredPair(ir.Vec(tuple(items[:-1])), ir.Reg(str(items[-1])))  # sparse tex {d…}|p

    def op_not(self, tok):
        return ir.Reg("!" + str(tok))

    def op_symoff(self, name, off):
        return AddrOf(str(name), parse_int(off))

    def op_imm(self, imm):
        return imm

    def number(self, tok):
        return _imm(tok)

    def neg_number(self, tok):
        return _imm(tok, neg=True)

    def op_mem(self, m):
        return m

    def op_vec(self, *items):
        return ir.Vec(tuple(items))

    def op_paren(self, *items):
        return Paren(tuple(items))

    def addr_base(self, name):
        return ir.Mem(ir.Reg(str(name)), 0)

    def addr_plus(self, name, off):
        return ir.Mem(ir.Reg(str(name)), parse_int(off))

    def addr_minus(self, name, off):
        return ir.Mem(ir.Reg(str(name)), -parse_int(off))

    def addr_list(self, name, *items):
        return Paren((ir.Reg(str(name)), *items))

    def addr_abs(self, off):
        return ir.Mem(None, parse_int(off))


_BUILD = _Build()
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _parser() -> Lark:
    """The LALR parser with the inline transformer; its tables are cached on disk by Lark (~5x faster)."""
    opts = dict(parser="lalr", lexer="contextual", maybe_placeholders=False, transformer=_BUILD)
    try:
        return Lark(grammar("ptx.lark"), cache=True, **opts)
    except OSError:  # no writable temp directory
        return Lark(grammar("ptx.lark"), **opts)


def _error_span(lines: list[str], e: UnexpectedInput) -> Span:
    line = getattr(e, "line", 1) or 1
    col = getattr(e, "column", 1) or 1
    src = lines[line - 1] if 0 < line <= len(lines) else ""
    return Span(PTX_FILE, line, col, col + 1, src)


READER = "fast"  # "lark": the previous path only (tools/bench_emulator.py --first-call compares them)


@lru_cache(maxsize=32)
def parse_ptx(text: str) -> ir.Module:
    """Parse PTX text (cached by content) with the fast reader, or Lark where the fast reader gives up
    (so syntax errors → :class:`EmulatorError` with Lark's message and the line)."""
    lines = text.splitlines()
    if "(" in text:  # PTX constant expressions ((128 >> 4) << 16): folded in place, columns kept
        folded = [fold(x) if "(" in x else x for x in lines]
        if folded != lines:
            text = "\n".join(folded)
    if READER == "fast":
        build = _Build()
        build.lines = lines
        try:
            return read(text, build)
        except Fallback:
            pass
    return _parse_lark(text, lines)


def _parse_lark(text: str, lines: list[str]) -> ir.Module:
    parser = _parser()
    try:
        with _LOCK:
            _BUILD.lines = lines
            _BUILD.scope_id = 0
            return parser.parse(text)
    except UnexpectedToken as e:
        raise EmulatorError(f"PTX syntax error: unexpected '{e.token}'", _error_span(lines, e),
                            hint=f"expected one of: {', '.join(sorted(e.expected)[:8])}") from None
    except UnexpectedCharacters as e:
        raise EmulatorError("PTX syntax error: unexpected character", _error_span(lines, e),
                            hint="the emulator's PTX grammar is sass_lab/grammars/ptx.lark") from None
    except UnexpectedInput as e:
        raise EmulatorError("PTX syntax error", _error_span(lines, e)) from None
