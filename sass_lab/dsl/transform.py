"""The inline Lark transformer: grammar rules → ``dsl.nodes`` (no parse tree is ever built)."""

from __future__ import annotations

from lark import Token, Transformer, v_args

from ..isa.literals import number
from .nodes import (
    MemRef,
    Name,
    NotRef,
    Num,
    Pair,
    ParenList,
    PDecl,
    RName,
    SAuto,
    SClose,
    SEnd,
    SEntry,
    SFunc,
    SinkRef,
    SInstr,
    SLabel,
    SOpen,
    SParam,
    SPerf,
    SPragma,
    SReg,
    SSchedule,
    STargets,
    SVar,
    VecRef,
)


def offset(text: str) -> int:
    """A memory offset: an integer literal (``[a+1.5]`` or ``[a+0f7FC00000]`` is an error, not a round)."""
    v = number(text)
    if not isinstance(v, int):
        raise ValueError(f"memory offset {text} is not an integer")
    return v


@v_args(inline=True)
class ToNodes(Transformer):
    """Callbacks for sass_lab/grammars/sasm.lark. Stateless: every ``li`` it makes counts from the first
    line of the logical line (0); ``parse.parse_logical`` moves statements to their expanded line."""

    def _loc(self, tok: Token) -> tuple[int, int, int]:
        return tok.line - 1, tok.column, tok.end_column

    def _rloc(self, tok: Token) -> tuple[int, int, int]:
        """Location of an operand token: line relative to the logical line."""
        return tok.line - 1, tok.column, tok.end_column

    def _span_of(self, *nodes) -> tuple[int, int, int]:
        first = next(n for n in nodes if n is not None)
        last = [n for n in nodes if n is not None][-1]
        a = self._rloc(first) if isinstance(first, Token) else (first.li, first.col, first.end)
        b = self._rloc(last) if isinstance(last, Token) else (last.li, last.col, last.end)
        return a[0], a[1], b[2] if a[0] == b[0] else a[2]

    def start(self, *parts):
        out = []
        for p in parts:
            if type(p) is list:
                out.extend(p)
            elif p is not None:
                out.append(p)
        return out

    def stmt_open(self, stmt):
        return [*(stmt if type(stmt) is list else [stmt]), SOpen(0, 1, 2)]

    def stmt_close(self, stmt):
        return [*(stmt if type(stmt) is list else [stmt]), SClose(0, 1, 2)]

    def entry_perf(self, entry, *perfs):
        return [entry, *perfs]

    def empty(self):
        return None

    def open(self):
        return SOpen(0, 1, 2)

    def close(self):
        return SClose(0, 1, 2)

    def schedule(self):
        return SSchedule(0, 1, 10)

    def sched_end(self):
        return SEnd(0, 1, 5)

    def label(self, tok):
        li, col, _ = self._loc(tok)
        name = tok.rstrip(":").rstrip()
        return SLabel(name, li, col, col + len(name))

    # ----------------------------------------------------------------- operands

    def ref(self, name, *rest):
        part = None
        idx = []
        end_tok = name
        for r in rest:
            if isinstance(r, Token):  # PART
                part = r[1:]
                end_tok = r
            else:
                idx.append(r[0])
                end_tok = r[1]
        li, col, _ = self._rloc(name)
        end = end_tok[3] if isinstance(end_tok, tuple) else self._rloc(end_tok)[2]
        return Name(str(name), tuple(idx), part, li, col, end)

    def index(self, tok):
        v = int(tok.rstrip("U")) if tok.type == "INT" else str(tok)
        li, col, end = self._rloc(tok)
        return (v, (li, col, end, end + 1))

    def num(self, minus, tok):
        text = ("-" if minus is not None else "") + tok
        li, col, end = self._rloc(minus if minus is not None else tok)
        return Num(number(text), text, li, col, self._rloc(tok)[2])

    def mem_reg(self, lb, ref):
        li, col, _ = self._rloc(lb)
        return MemRef(ref, 0, li, col, ref.end + 1)

    def mem_reg_off(self, lb, ref, num):
        li, col, _ = self._rloc(lb)
        return MemRef(ref, offset(num.text), li, col, num.end + 1)

    def mem_reg_neg(self, lb, ref, minus, tok):
        li, col, _ = self._rloc(lb)
        return MemRef(ref, -offset(str(tok)), li, col, self._rloc(tok)[2] + 1)

    def mem_tensor(self, lb, ref, vec):
        li, col, _ = self._rloc(lb)
        return MemRef(ref, 0, li, col, vec.end + 1, tuple(vec.items))

    def mem_abs(self, lb, num):
        li, col, _ = self._rloc(lb)
        return MemRef(None, offset(num.text), li, col, num.end + 1)

    def vec(self, *items):
        li, col, end = self._span_of(*items)
        return VecRef(tuple(items), li, col - 1, end + 1)

    def pair(self, a, b):
        return Pair(a, b, a.li, a.col, b.end)

    def sink(self, tok):
        return SinkRef(*self._rloc(tok))

    def notref(self, bang, ref):
        li, col, _ = self._rloc(bang)
        return NotRef(ref, li, col, ref.end)

    def plist(self, *items):
        items = tuple(i for i in items if i is not None)
        if not items:
            return ParenList((), 0, 1, 2)
        li, col, end = self._span_of(*items)
        return ParenList(items, li, col - 1, end + 1)

    def guard(self, at, bang, ref):
        return ref, bang is not None, self._rloc(at)[1]

    def instr(self, g, op, *operands):
        guard, neg = (g[0], g[1]) if g is not None else (None, False)
        ops = tuple(o for o in operands if o is not None)
        opcode, *mods = op.split(".")
        li, col, end = self._loc(op)
        last = ops[-1].end if ops and ops[-1].li == op.line - 1 else end
        if g is not None:
            col = g[2]
        return SInstr(guard, neg, opcode, tuple(mods), ops, li, col, last, 0)

    # ----------------------------------------------------------------- kernels

    def linkage(self, tok):
        return str(tok)

    def entry(self, *kids):
        links = [k for k in kids if isinstance(k, str) and not isinstance(k, Token)]
        name = next(k for k in kids if isinstance(k, Token))
        params = tuple(k for k in kids if isinstance(k, PDecl))
        li, col, end = self._loc(name)
        return SEntry(str(name), params, False, ".visible" in links, tuple(links), li, col, end)

    def kernel(self, name, *params):
        li, col, end = self._loc(name)
        return SEntry(str(name), tuple(p for p in params if p is not None), True, True, (".visible",),
                      li, col, end)

    def func(self, *kids):
        links = [k for k in kids if isinstance(k, str) and not isinstance(k, Token)]
        name = next(k for k in kids if isinstance(k, Token) and k.type == "NAME")
        li, col, end = self._loc(name)
        last = max([li] + [k.li for k in kids if isinstance(k, PDecl)])
        return SFunc(str(name), tuple(links), 0, last, li, col, end)

    def _pdecl(self, kids) -> PDecl:
        align, typ, name, array = None, None, None, 0
        for k in kids:
            if isinstance(k, tuple) and k and k[0] == "align":
                align = k[1]
            elif isinstance(k, Token) and k.type == "TYPE":
                typ = k[1:]
            elif isinstance(k, Token) and k.type == "NAME":
                name = k
            elif isinstance(k, Token) and k.type == "INT":
                array = int(k.rstrip("U"))
        li, col, end = self._loc(name)
        return PDecl(str(name), typ, align, array, li, col, end)

    def pdecl(self, *kids):
        return self._pdecl(kids)

    def pdecl_reg(self, typ, name):
        return self._pdecl((typ, name))

    def palign(self, tok):
        return ("align", int(tok.rstrip("U")))

    def pother(self, *_):
        return ("other", None)

    def kparam(self, typ, name):
        li, col, end = self._loc(name)
        return PDecl(str(name), typ[1:], None, 0, li, col, end)

    def kparam_tmap(self, name):
        li, col, end = self._loc(name)
        return PDecl(str(name), "tensormap", 128, 128, li, col, end)

    def body_param(self, *kids):
        p = self._pdecl(kids)
        return SParam(p, p.li, p.col, p.end)

    # ----------------------------------------------------------------- declarations

    def reg(self, *kids):
        vec = 0
        k = 0
        if kids[0].type == "VEC":
            vec = int(kids[0][2:])
            k = 1
        typ = kids[k]
        names = tuple(kids[k + 1:])
        li, col, _ = self._loc(typ)
        return SReg(typ[1:], vec, names, li, col, names[-1].end)

    def reg_auto(self):
        return SAuto(0, 1, 10)

    def rname_count(self, name, n):
        li, col, _ = self._loc(name)
        return RName(str(name), (), int(n.rstrip("U")), None, li, col, self._loc(n)[2] + 1)

    def rname_dims(self, name, *dims):
        li, col, end = self._loc(name)
        return RName(str(name), tuple(d[1] for d in dims), 0, None, li, col, end + 3 * len(dims))

    def dim(self, tok=None):
        return ("dim", int(tok.rstrip("U")) if tok is not None else 0)

    def var(self, *kids):
        links = [k for k in kids if isinstance(k, str) and not isinstance(k, Token)]
        space = next(k for k in kids if isinstance(k, Token) and k.type == "SPACE")
        typ = next(k for k in kids if isinstance(k, Token) and k.type == "TYPE")
        align = next((k[1] for k in kids if isinstance(k, tuple) and k[0] == "align"), None)
        vec = next((k[1] for k in kids if isinstance(k, tuple) and k[0] == "vec"), 0)
        attrs = tuple(k[1] for k in kids if isinstance(k, tuple) and k[0] == "attr")
        names = tuple(k for k in kids if isinstance(k, RName))
        li, col, _ = self._loc(space)
        return SVar(space[1:].split("::")[0], typ[1:], vec, align, ".extern" in links, tuple(links), names, attrs,
                    li, col, names[-1].end if names else col + len(space))

    def valign(self, tok):
        return ("align", int(tok.rstrip("U")))

    def vattr_attr(self, tok):
        return ("attr", str(tok))

    def vvec(self, tok):
        return ("vec", int(tok[2:]))

    def vname(self, name, *rest):
        dims = tuple(r[1] for r in rest if isinstance(r, tuple) and r and r[0] == "dim")
        init = next((r for r in rest if not (isinstance(r, tuple) and r and r[0] == "dim")), None)
        if isinstance(init, Num):
            init = init.text
        li, col, end = self._loc(name)
        return RName(str(name), dims, 0, init, li, col, end)

    def init_name(self, tok):
        return str(tok)

    def init_list(self, *items):
        items = [i.text if isinstance(i, Num) else i for i in items if i is not None]
        return "{" + ", ".join(items) + "}"

    # ----------------------------------------------------------------- performance directives

    def perf(self, name, *vals):
        li, col, end = self._loc(name)
        return SPerf(name[1:], tuple(int(v.rstrip("U")) for v in vals), li, col, self._loc(vals[-1])[2])

    def perf_flag(self, name):
        li, col, end = self._loc(name)
        return SPerf(name[1:], (), li, col, end)

    def branchtargets(self, *names):
        li, col, _ = self._loc(names[0])
        targets = tuple((str(n), *self._loc(n)) for n in names)
        return STargets(targets, li, col, self._loc(names[-1])[2])

    def pragma(self, *strings):
        li, col, end = self._loc(strings[0])
        return SPragma(tuple(str(s)[1:-1] for s in strings), li, col, end)
