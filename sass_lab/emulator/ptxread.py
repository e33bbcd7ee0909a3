"""A fast PTX reader: one regular-expression scan and a recursive-descent parser over the grammar of
``sass_lab/grammars/ptx.lark``, calling the same transformer callbacks (:class:`.ptx._Build`) with the
same tokens, so the IR it builds is the IR the Lark parser builds (tested on every PTX file of the
project). Anything it does not expect raises :class:`Fallback`, and :func:`.ptx.parse_ptx` hands the
text to Lark, whose errors carry the official messages. About 10× faster than Lark on nvcc's output.
"""

from __future__ import annotations

import bisect
import re

from lark import Token

TYPES = frozenset("""pred b128 b64 b32 b16 b8 u64 u32 u16 u8 s64 s32 s16 s8 f16x2 bf16x2 bf16 f16 f32 f64 tf32
e4m3 e5m2""".split())
PERF = frozenset("maxntid reqntid minnctapersm maxnctapersm maxnreg noreturn explicitcluster reqnctapercluster "
                 "maxclusterrank".split())
LINKAGE = frozenset({".visible", ".extern", ".weak", ".common"})
SPACES = frozenset({".shared", ".global", ".const", ".local", ".tex", ".param"})
VECS = frozenset({".v2", ".v4", ".v8"})

_SCAN = re.compile(r"""
 (?P<ws>[ \t\r\n\f]+)
|(?P<skip>//[^\n]*|/\*(?:.|\n)*?\*/|\.(?:version|target|address_size|file|loc|pragma)(?![\w])[^\n;]*;?
   |\.section[^{]*\{[^}]*\}|[$%A-Za-z_][\w$]*[ \t]*:[ \t]*\.(?:callprototype|calltargets)(?![\w])[^;]*;)
|(?P<dot>\.[A-Za-z_]\w*)
|(?P<guard>@!?[%$A-Za-z_][\w$]*)
|(?P<float>0[fF][0-9a-fA-F]{8}(?![\w])|0[dD][0-9a-fA-F]{16}(?![\w])|\d+\.\d*(?:[eE][+-]?\d+)?)
|(?P<int>0[xX][0-9a-fA-F]+U?|0[bB][01]+U?|\d+U?)
|(?P<word>[%$A-Za-z_][\w$]*(?:\.[A-Za-z0-9_]+(?:::[A-Za-z0-9_]+)*)*)
|(?P<p>[{}()\[\],;<>|!+\-=:])
""", re.X)
_INSTR = re.compile(r"(?:(@!?[%$A-Za-z_][\w$]*)[ \t]+)?([a-z][a-z0-9_]*(?:\.[A-Za-z0-9_]+(?:::[A-Za-z0-9_]+)*)*)"
                    r"(?:[ \t]+([^;\n]*?))?[ \t]*;")
_SPLIT = re.compile(r"(?:\[[^\]]*\]|\{[^}]*\}|\([^)]*\)|[^,\[{(])+")
_OPCODE = re.compile(r"[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+(::[A-Za-z0-9_]+)*)*\Z")
_IDENT = re.compile(r"[%$A-Za-z_][\w$]*(\.[xyzw])?\Z")


class Fallback(Exception):
    """The fast reader met something it does not handle: parse with Lark instead."""


def _raw(build, name: str):
    """The transformer's callback ``name`` without Lark's per-call ``v_args`` wrapper."""
    f = type(build).__dict__[name]
    return getattr(f, "base_func", f).__get__(build)


CALLBACKS = ("start function ret_params params param perf body reg_decl reg_name local_var module_var align dims "
             "init branchtargets label instr op_name op_pair op_not op_symoff op_imm number neg_number op_mem "
             "op_vec op_vec_pair op_paren addr_base addr_plus addr_minus addr_list addr_abs").split()


class _Callbacks:
    def __init__(self, build):
        for name in CALLBACKS:
            setattr(self, name, _raw(build, name))


class Reader:
    def __init__(self, text: str, build, ops: dict | None = None):
        self.text = text
        self.pos = 0  # scan position of the next token not yet in ``buf``
        self.buf: list[tuple[str, str, int]] = []  # look-ahead tokens
        self.b = build if isinstance(build, _Callbacks) else _Callbacks(build)
        self.nl = [m.start() for m in re.finditer("\n", text)]
        self.ops = {} if ops is None else ops  # operand text -> IR (operands carry no spans)

    # ------------------------------------------------------------------ tokens
    def _scan(self) -> tuple[str, str, int]:
        text, n, match = self.text, len(self.text), _SCAN.match
        while self.pos < n:
            m = match(text, self.pos)
            if m is None:
                raise Fallback(self.pos)
            self.pos = m.end()
            kind = m.lastgroup
            if kind != "ws" and kind != "skip":
                return (kind, m.group(), m.start())
        return ("eof", "", n)

    def peek(self, d: int = 0) -> tuple[str, str, int]:
        while len(self.buf) <= d:
            self.buf.append(self._scan())
        return self.buf[d]

    def skip(self, k: int = 1) -> None:
        self.peek(k - 1)
        del self.buf[:k]

    def line_col(self, pos: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.nl, pos - 1) + 1
        start = self.nl[line - 2] + 1 if line > 1 else 0
        return line, pos - start + 1

    def tok(self, typ: str, k: int | None = None) -> Token:
        """The current token as a Lark token of type ``typ``."""
        _kind, text, pos = self.peek()
        line, col = self.line_col(pos)
        return Token(typ, text, pos, line, col)

    def take(self, typ: str) -> Token:
        t = self.tok(typ)
        self.skip()
        return t

    def expect(self, text: str) -> None:
        if self.peek()[1] != text:
            raise Fallback(self.peek())
        self.skip()

    def at(self, text: str) -> bool:
        if self.peek()[1] == text:
            self.skip()
            return True
        return False

    def int_tok(self) -> Token:
        if self.peek()[0] != "int":
            raise Fallback(self.peek())
        return self.take("INT")

    def ident(self) -> Token:
        kind, text, _ = self.peek()
        if kind != "word" or not _IDENT.match(text):
            raise Fallback(self.peek())
        return self.take("IDENT")

    # ------------------------------------------------------------------ top level
    def module(self):
        items = []
        while self.peek()[0] != "eof":
            if self.at(";"):
                continue
            j = 0
            while self.peek(j)[1] in LINKAGE:
                j += 1
            nxt = self.peek(j)[1]
            if nxt in (".entry", ".func"):
                items.append(self.function())
            elif nxt in SPACES:
                items.append(self.var(module=True))
            else:
                raise Fallback(self.peek())
        return self.b.start(*items)

    def function(self):
        items = []
        while self.peek()[1] in LINKAGE:
            items.append(self.take("LINKAGE"))
        items.append(self.take("FUNC_KIND"))
        if self.peek()[1] == "(":
            items.append(self.b.ret_params(*self.param_list()))
        items.append(self.ident())
        if self.peek()[1] == "(":
            items.append(self.b.params(*self.param_list()))
        while self.peek()[0] == "dot" and self.peek()[1][1:] in PERF:
            name = self.take("PERF_NAME")
            vals = []
            if self.peek()[0] == "int":
                vals.append(self.int_tok())
                while self.at(","):
                    vals.append(self.int_tok())
            items.append(self.b.perf(name, *vals))
        if not self.at(";"):
            items.append(self.body())
        return self.b.function(*items)

    def param_list(self) -> list:
        self.expect("(")
        ps = []
        if not self.at(")"):
            ps.append(self.param())
            while self.at(","):
                ps.append(self.param())
            self.expect(")")
        return ps

    def param(self):
        items = []
        t = self.peek()[1]
        if t in SPACES:
            items.append(self.take("SPACE"))
        elif not self.at(".reg"):
            raise Fallback(self.peek())
        items += self.attrs(param=True)
        items.append(self.type_tok())
        items += self.attrs(param=True)
        items.append(self.ident())
        if self.peek()[1] == "[":
            items.append(self.dims())
        return self.b.param(*items)

    def attrs(self, param: bool) -> list:
        out = []
        while True:
            t = self.peek()[1]
            if t == ".align":
                self.skip()
                out.append(self.b.align(self.int_tok()))
            elif param and t == ".ptr":
                out.append(self.take("PTR"))
            elif param and t in SPACES:
                out.append(self.take("SPACE"))
            elif not param and t in VECS:
                out.append(self.take("VEC"))
            elif not param and t == ".attribute":  # .attribute(.managed): ignored, as by the grammar
                self.skip()
                self.expect("(")
                while not self.at(")"):
                    if self.peek()[1] in (";", "\n", ""):
                        raise Fallback(self.peek())
                    self.skip()
            else:
                return out

    def type_tok(self) -> Token:
        kind, text, _ = self.peek()
        if kind != "dot" or text[1:] not in TYPES:
            raise Fallback(self.peek())
        return self.take("TYPE")

    def dims(self):
        ns = []
        while self.at("["):
            if self.peek()[0] == "int":
                ns.append(self.int_tok())
            self.expect("]")
        return self.b.dims(*ns)

    # ------------------------------------------------------------------ declarations
    def var(self, module: bool):
        items = []
        while module and self.peek()[1] in LINKAGE:
            items.append(self.take("LINKAGE"))
        if self.peek()[1] not in SPACES:
            raise Fallback(self.peek())
        items.append(self.take("SPACE"))
        items += self.attrs(param=False)
        items.append(self.type_tok())
        items += self.attrs(param=False)
        items.append(self.ident())
        if self.peek()[1] == "[":
            items.append(self.dims())
        if self.at("="):
            items.append(self.init())
        self.expect(";")
        return self.b.module_var(*items) if module else self.b.local_var(*items)

    def init(self):
        if self.at("{"):
            items = []
            if not self.at("}"):
                items.append(self.init())
                while self.at(","):
                    items.append(self.init())
                self.expect("}")
            return self.b.init(*items)
        kind = self.peek()[0]
        if kind in ("int", "float"):
            return self.b.init(self.b.number(self.take(kind.upper())))
        if self.at("-"):
            kind = self.peek()[0]
            if kind not in ("int", "float"):
                raise Fallback(self.peek())
            return self.b.init(self.b.neg_number(self.take(kind.upper())))
        return self.b.init(self.ident())

    def reg_decl(self):
        self.expect(".reg")
        items = []
        if self.peek()[1] == ".align":
            self.skip()
            items.append(self.b.align(self.int_tok()))
        if self.peek()[1] in VECS:
            items.append(self.take("VEC"))
        items.append(self.type_tok())
        items.append(self.reg_name())
        while self.at(","):
            items.append(self.reg_name())
        self.expect(";")
        return self.b.reg_decl(*items)

    def reg_name(self):
        name = self.ident()
        if self.at("<"):
            n = self.int_tok()
            self.expect(">")
            return self.b.reg_name(name, n)
        return self.b.reg_name(name)

    # ------------------------------------------------------------------ bodies
    def body(self):
        self.expect("{")
        stmts = []
        while True:
            kind, text, _ = self.peek()
            if text == "}":
                self.skip()
                return self.b.body(*stmts)
            if text == ";":
                self.skip()
            elif text == ".reg":
                stmts.append(self.reg_decl())
            elif text in SPACES:
                stmts.append(self.var(module=False))
            elif text == "{":
                stmts.append(self.body())
            elif text == ".branchtargets":
                self.skip()
                names = [self.ident()]
                while self.at(","):
                    names.append(self.ident())
                self.expect(";")
                stmts.append(self.b.branchtargets(*names))
            elif kind == "word" and self.peek(1)[1] == ":" and self.peek(1)[2] == self.peek()[2] + len(text) \
                    and "." not in text:
                stmts.append(self.label())
            elif kind in ("word", "guard"):
                stmts.append(self.fast_instr() or self.instr())
            else:
                raise Fallback(self.peek())

    def label(self):
        _kind, text, pos = self.peek()
        t = self.tok("LABEL")
        self.skip(2)
        return self.b.label(Token("LABEL", text + ":", pos, t.line, t.column))

    def fast_instr(self):
        """An instruction on one line, its operands parsed once per distinct text; None: not that shape."""
        start = self.peek()[2]
        m = _INSTR.match(self.text, start)
        if m is None:
            return None
        guard, opcode, ops = m.group(1), m.group(2), m.group(3)
        operands = []
        if ops:
            parts = _SPLIT.findall(ops)
            if ",".join(parts) != ops:
                return None
            memo = self.ops
            for raw in parts:
                t = raw.strip()
                op = memo.get(t)
                if op is None:
                    sub = Reader(t, self.b, memo)
                    op = sub.operand()
                    if sub.peek()[0] != "eof":
                        raise Fallback(t)
                    memo[t] = op
                operands.append(op)
        items = []
        if guard:
            items.append(Token("GUARD", guard, start, *self.line_col(start)))
        pos = m.start(2)
        items.append(Token("OPCODE", opcode, pos, *self.line_col(pos)))
        self.pos = m.end()
        self.buf.clear()
        return self.b.instr(*items, *operands)

    def instr(self):
        items = []
        if self.peek()[0] == "guard":
            items.append(self.take("GUARD"))
        kind, text, _ = self.peek()
        if kind != "word" or not _OPCODE.match(text):
            raise Fallback(self.peek())
        items.append(self.take("OPCODE"))
        if not self.at(";"):
            items.append(self.operand())
            while self.at(","):
                items.append(self.operand())
            self.expect(";")
        return self.b.instr(*items)

    def operand(self):
        b = self.b
        kind, text, _ = self.peek()
        if kind == "word":
            name = self.ident()
            nxt = self.peek()[1]
            if nxt == "|":
                self.skip()
                return b.op_pair(name, self.ident())
            if nxt == "+" and self.peek(1)[0] == "int":
                self.skip()
                return b.op_symoff(name, self.int_tok())
            return b.op_name(name)
        if kind in ("int", "float"):
            return b.op_imm(b.number(self.take(kind.upper())))
        if text == "-":
            self.skip()
            kind = self.peek()[0]
            if kind not in ("int", "float"):
                raise Fallback(self.peek())
            return b.op_imm(b.neg_number(self.take(kind.upper())))
        if text == "!":
            self.skip()
            return b.op_not(self.ident())
        if text == "[":
            self.skip()
            m = self.address()
            self.expect("]")
            return b.op_mem(m)
        if text == "{":
            self.skip()
            items = [self.operand()]
            while self.at(","):
                items.append(self.operand())
            self.expect("}")
            if self.at("|"):  # a sparse texture fetch's residency predicate
                return b.op_vec_pair(*items, self.ident())
            return b.op_vec(*items)
        if text == "(":
            self.skip()
            items = []
            if not self.at(")"):
                items.append(self.operand())
                while self.at(","):
                    items.append(self.operand())
                self.expect(")")
            return b.op_paren(*items)
        raise Fallback(self.peek())

    def address(self):
        b = self.b
        if self.peek()[0] == "int":
            return b.addr_abs(self.int_tok())
        name = self.ident()
        t = self.peek()[1]
        if t == "+":
            self.skip()
            if self.at("-"):
                return b.addr_minus(name, self.int_tok())
            return b.addr_plus(name, self.int_tok())
        if t == "-":
            self.skip()
            return b.addr_minus(name, self.int_tok())
        if t == ",":
            items = []
            while self.at(","):
                items.append(self.operand())
            return b.addr_list(name, *items)
        return b.addr_base(name)


def read(text: str, build):
    """The module of ``text`` built with the transformer ``build`` (raises :class:`Fallback`)."""
    try:
        return Reader(text, build).module()
    except Fallback:
        raise
    except (IndexError, StopIteration, ValueError, TypeError, AttributeError) as e:
        raise Fallback(str(e)) from None
