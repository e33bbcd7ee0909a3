"""PTX constant expressions: ``((128 >> 4) << 16)`` folded to its value before parsing.

PTX allows C-style integer constant expressions wherever an integer constant goes (operands,
offsets, array sizes, initialisers). Both PTX readers (the DSL grammar and the emulator's) accept
plain numbers only, so :func:`fold` replaces each parenthesised group made of integer literals and
operators by its value, padded with spaces to the group's width so that columns stay put.
Arithmetic follows the PTX ISA: 64-bit, signed unless an operand has the ``U`` suffix.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9]\d*)([uU]?)(?![\w.])"
                    r"|(<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!()<>?:]))")
_CANDIDATE = re.compile(r"\(")
_MASK = (1 << 64) - 1


class _Bad(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, object, bool]] | None:
    out, pos = [], 0
    n = len(text)
    while pos < n:
        if text[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            return None
        if m.group(1) is not None:
            lit = m.group(1)
            v = int(lit, 8) if lit[0] == "0" and lit[1:2].isdigit() else int(lit, 0)
            out.append(("n", v, bool(m.group(2))))
        else:
            out.append(("o", m.group(3), False))
        pos = m.end()
    return out


_BIN = {  # precedence (C)
    "*": 10, "/": 10, "%": 10, "+": 9, "-": 9, "<<": 8, ">>": 8, "<": 7, ">": 7, "<=": 7, ">=": 7,
    "==": 6, "!=": 6, "&": 5, "^": 4, "|": 3, "&&": 2, "||": 1,
}


def _wrap(v: int, unsigned: bool) -> int:
    v &= _MASK
    return v if unsigned or v < 1 << 63 else v - (1 << 64)


class _Parser:
    def __init__(self, toks):
        self.t = toks
        self.i = 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else ("e", None, False)

    def take(self, op=None):
        tok = self.peek()
        if op is not None and tok[1] != op:
            raise _Bad
        self.i += 1
        return tok

    def expr(self, level=0):
        v, u = self.unary()
        while True:
            kind, op, _ = self.peek()
            if kind == "o" and op == "?" and level == 0:
                self.take()
                a = self.expr()
                self.take(":")
                b = self.expr()
                v, u = (a if v else b)
                continue
            if kind != "o" or op not in _BIN or _BIN[op] <= level:
                return v, u
            self.take()
            w, wu = self.expr(_BIN[op])
            v, u = self.apply(op, v, u, w, wu)

    @staticmethod
    def apply(op, a, au, b, bu):
        u = au or bu
        if u:
            a, b = a & _MASK, b & _MASK
        if op in ("/", "%"):
            if b == 0:
                raise _Bad
            q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
            r = q if op == "/" else a - q * b
        elif op == "<<":
            r = a << (b & 63)
        elif op == ">>":
            r = (a & _MASK if u else a) >> (b & 63)
        elif op in ("<", ">", "<=", ">=", "==", "!=", "&&", "||"):
            r = int({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b, "==": a == b, "!=": a != b,
                     "&&": bool(a) and bool(b), "||": bool(a) or bool(b)}[op])
            return r, False
        else:
            r = {"*": a * b, "+": a + b, "-": a - b, "&": a & b, "^": a ^ b, "|": a | b}[op]
        return _wrap(r, u), u

    def unary(self):
        kind, tok, u = self.take()
        if kind == "n":
            return _wrap(tok, u), u
        if tok == "(":
            v = self.expr()
            self.take(")")
            return v
        if tok in ("-", "+", "~", "!"):
            v, vu = self.unary()
            r = {"-": -v, "+": v, "~": ~v, "!": int(not v)}[tok]
            return _wrap(r, vu), vu
        raise _Bad


def evaluate(text: str) -> int | None:
    """The value of a constant expression, or None when ``text`` is not one."""
    toks = _tokens(text)
    if not toks:
        return None
    p = _Parser(toks)
    try:
        v, _ = p.expr()
    except (_Bad, IndexError, TypeError):
        return None
    return v if p.i == len(toks) else None


def _close(line: str, i: int) -> int:
    depth = 0
    for j in range(i, len(line)):
        c = line[j]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
        elif c in ',;"[]{}':
            return -1
    return -1


def fold(line: str) -> str:
    """``line`` with every parenthesised integer constant expression replaced by its value."""
    if "(" not in line:
        return line
    out, pos = [], 0
    i = line.find("(")
    while i >= 0:
        if line.count('"', 0, i) % 2:  # inside a string
            break
        j = _close(line, i)
        if j < 0:
            i = line.find("(", i + 1)
            continue
        inner = line[i + 1:j]
        toks = _tokens(inner)
        v = evaluate(inner) if toks and any(k == "o" for k, _, _ in toks) else None
        if v is None:
            i = line.find("(", i + 1)
            continue
        text = str(v)
        out.append(line[pos:i])
        out.append(text.ljust(j + 1 - i))
        pos = j + 1
        i = line.find("(", pos)
    if not out:
        return line
    out.append(line[pos:])
    return "".join(out)
