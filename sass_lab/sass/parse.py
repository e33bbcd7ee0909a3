"""SASS instruction text → :class:`Operand` tuples, with the Lark grammar ``sass_lab/grammars/sass.lark``.

The parser is LALR with an inline transformer (no tree is built); one call parses a whole
section's instructions, one per line.
"""

from __future__ import annotations

import functools

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError

from ..errors import ToolchainError
from ..paths import grammar
from .model import Operand

_FLOAT_NAMES = {"INF", "QNAN", "NAN", "SNAN"}


def _simple(kind: str):
    def f(self, tok: Token) -> Operand:
        return Operand(kind=kind, text=str(tok), base=str(tok))
    return f


@v_args(inline=True)
class _ToOperands(Transformer):
    reg = _simple("reg")
    ureg = _simple("ureg")
    pred = _simple("pred")
    upred = _simple("upred")
    label = _simple("label")
    reloc = _simple("reloc")

    def hex(self, tok):
        return Operand(kind="imm", text=str(tok), value=int(tok, 16))

    def dec(self, tok):
        return Operand(kind="imm", text=str(tok), value=int(tok))

    def float(self, tok):
        return Operand(kind="float", text=str(tok), value=float(tok))

    def name(self, tok):
        s = str(tok)
        if s in _FLOAT_NAMES:
            return Operand(kind="float", text=s, value=float("nan" if "NAN" in s else "inf"))
        return Operand(kind="name", text=s, base=s)

    def suffix(self, tok):
        return str(tok)

    def absolute(self, inner: Operand) -> Operand:
        return _replace(inner, absolute=True, text=f"|{inner.text}|")

    def bracket(self, addr):
        return addr

    def addr(self, *items):
        text = "".join(str(i) if isinstance(i, Token) else i.text for i in items)
        return text, tuple(i for i in items if isinstance(i, Operand))

    def bracketed(self, *items):
        name = str(items[0]) if isinstance(items[0], Token) else None
        brackets = [i for i in items if not isinstance(i, Token)]
        text = (name or "") + "".join(f"[{t}]" for t, _ in brackets)
        parts = tuple(p for _, ps in brackets for p in ps)
        kind = "const" if name in ("c", "cx") else "mem"
        return Operand(kind=kind, text=text, base=name, parts=parts)

    def group(self, *ops):
        return Operand(kind="group", text="{" + ", ".join(o.text for o in ops) + "}", parts=ops)

    def prefixed(self, *items):
        if len(items) == 1:  # the common case: a bare operand
            return items[0]
        prefixes = [str(i) for i in items if isinstance(i, Token) and i.type == "PREFIX"]
        op = next(i for i in items if isinstance(i, Operand))
        sufs = tuple(i for i in items if isinstance(i, str) and not isinstance(i, Token))
        reuse = "reuse" in sufs
        sufs = tuple(s for s in sufs if s != "reuse")
        text = "".join(prefixes) + op.text + "".join(f".{s}" for s in sufs)
        return _replace(op, text=text, suffixes=op.suffixes + sufs, reuse=op.reuse or reuse,
                        neg=op.neg or "-" in prefixes, inverted=op.inverted or bool({"!", "~"} & set(prefixes)),
                        value=-op.value if "-" in prefixes and op.value is not None else op.value)

    addr_term = prefixed

    def operands(self, *ops):
        return ops

    def instr(self, *items):
        guard = str(items[0]) if items and isinstance(items[0], Token) and items[0].type == "GUARD" else None
        rest = items[1:] if guard else items
        opcode = str(rest[0])
        ops = rest[1] if len(rest) > 1 else ()
        return guard, opcode, tuple(ops)

    def start(self, *instrs):
        return list(instrs)


def _replace(op: Operand, **kw) -> Operand:
    from dataclasses import replace

    return replace(op, **kw)


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    return Lark(grammar("sass.lark"), parser="lalr", transformer=_ToOperands())


def parse_instructions(texts: list[str], where: str = "") -> list[tuple[str | None, str, tuple[Operand, ...]]]:
    """``(guard, opcode-with-modifiers, operands)`` for each instruction text (each ending in ``;``)."""
    try:
        return parser().parse("\n".join(texts))
    except LarkError as e:
        line = getattr(e, "line", None)
        bad = texts[line - 1] if isinstance(line, int) and 0 < line <= len(texts) else ""
        raise ToolchainError(f"cannot parse nvdisasm output{' in ' + where if where else ''}",
                             log=f"{bad}\n{e}") from None
