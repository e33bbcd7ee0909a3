"""The fast path: plain instruction and label lines parsed with regular expressions.

Unrolled kernels are tens of thousands of lines like ``fma.rn.f32 acc[3][4], a[0][3], b[0][4], acc[3][4]``;
Lark would spend seconds on them. ``parse_line`` returns the same nodes the grammar's ``instr`` and
``label`` rules would, or None when the line is anything else (then Lark parses it and reports errors).
"""

from __future__ import annotations

import re

from ..isa.literals import number
from .nodes import MemRef, Name, Num, Pair, SClose, SinkRef, SInstr, SLabel, SOpen, VecRef
from .transform import offset

_INSTR = re.compile(
    r"[ \t]*(?:@[ \t]*(!?)[ \t]*([%$A-Za-z_][\w$]*(?:\[\d+\])*(?:\.[A-Za-z_]\w*)?)[ \t]+)?"
    r"([a-z][a-z0-9_]*)((?:\.[A-Za-z0-9_]+(?:::[A-Za-z0-9_]+)*)*)"
    r"(?:[ \t]+([^;]*))?;?[ \t]*$")  # greedy: a lazy operand group backtracks at every character
_LABEL = re.compile(r"[ \t]*([$%A-Za-z_][\w$]*)[ \t]*:[ \t]*$")
_NAME = re.compile(r"([%$A-Za-z_][\w$]*)((?:\[\d+\])*)(?:\.([A-Za-z_]\w*))?$")
_NUM = re.compile(r"-?(?:0[fF][0-9a-fA-F]{8}|0[dD][0-9a-fA-F]{16}|0[xX][0-9a-fA-F]+U?|0[bB][01]+U?"
                  r"|(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+U?)$")
_MEM = re.compile(r"\[[ \t]*(?:([%$A-Za-z_][\w$]*(?:\[\d+\])*(?:\.[A-Za-z_]\w*)?)[ \t]*"
                  r"(?:\+[ \t]*(-?[ \t]*[0-9][0-9A-Fa-fxXbBU]*)|-[ \t]*([0-9][0-9A-Fa-fxXbBU]*))?"
                  r"|(-?[0-9][0-9A-Fa-fxXbBU]*))[ \t]*\]$")
_IDX = re.compile(r"\[(\d+)\]")


_cache: dict[str, tuple | None] = {}
_CACHE_MAX = 50_000  # about 1.3 KB per line: at most ~65 MB


def parse_line(line: str, li: int):
    """An ``SInstr``, ``SLabel``, ``SOpen`` or ``SClose`` for a plain line, else None (cached by text)."""
    try:
        hit = _cache[line]
    except KeyError:
        if len(_cache) > _CACHE_MAX:
            _cache.clear()
        hit = _cache[line] = _parse(line)
    if hit is None:
        return None
    kind = hit[0]
    if kind == "I":
        return SInstr(hit[1], hit[2], hit[3], hit[4], hit[5], li, hit[6], hit[7], li)
    if kind == "L":
        return SLabel(hit[1], li, hit[2], hit[3])
    return hit[1](li, hit[2], hit[2] + 1)


def _parse(line: str) -> tuple | None:
    m = _INSTR.match(line)
    if m is None:
        m2 = _LABEL.match(line)
        if m2 is not None:
            return ("L", m2.group(1), m2.start(1) + 1, m2.end(1) + 1)
        s = line.strip()
        if s == "{":
            return ("D", SOpen, line.index("{") + 1)
        if s == "}":
            return ("D", SClose, line.index("}") + 1)
        return None
    neg, gname, opcode, mods, rest = m.groups()
    guard = None
    if gname is not None:
        guard = _name(gname, m.start(2) + 1)
    col = len(line) - len(line.lstrip()) + 1 if gname is not None else m.start(3) + 1
    mods_t = tuple(mods[1:].split(".")) if mods else ()
    if rest is not None:
        rest = rest.rstrip()
    if not rest:
        return ("I", guard, neg == "!", opcode, mods_t, (), col, m.end(4) + 1)
    if "(" in rest:
        return None
    ops = _operands(rest, m.start(5))
    if ops is None:
        return None
    return ("I", guard, neg == "!", opcode, mods_t, ops, col, m.start(5) + len(rest) + 1)


def _split(rest: str) -> list[tuple[int, str]] | None:
    """(offset, text) of each top-level comma-separated piece."""
    if "{" not in rest:
        out, off = [], 0
        for piece in rest.split(","):
            out.append((off, piece))
            off += len(piece) + 1
        return out
    out, depth, start = [], 0, 0
    for i, ch in enumerate(rest):
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append((start, rest[start:i]))
            start = i + 1
    if depth:
        return None
    out.append((start, rest[start:]))
    return out


def _operands(rest: str, base: int):
    pieces = _split(rest)
    if pieces is None:
        return None
    ops = []
    for off, piece in pieces:
        text = piece.strip()
        if not text:
            return None
        col = base + off + (len(piece) - len(piece.lstrip())) + 1
        key = (text, col)
        op = _op_cache.get(key)
        if op is None:
            op = _operand(text, col)
            if op is None:
                return None
            if len(_op_cache) > _CACHE_MAX:
                _op_cache.clear()
            _op_cache[key] = op
        ops.append(op)
    return tuple(ops)


_op_cache: dict[tuple[str, int], object] = {}  # (operand text, column) -> node (nodes are immutable)
_name_cache: dict[str, tuple | None] = {}


def _name(text: str, col: int) -> Name | None:
    if text.isidentifier():
        return Name(text, (), None, 0, col, col + len(text))
    parts = _name_cache.get(text)
    if parts is None:
        m = _NAME.match(text)
        if m is None:
            return None
        idx = tuple(int(x) for x in _IDX.findall(m.group(2))) if m.group(2) else ()
        parts = (m.group(1), idx, m.group(3))
        if len(_name_cache) > _CACHE_MAX:
            _name_cache.clear()
        _name_cache[text] = parts
    return Name(parts[0], parts[1], parts[2], 0, col, col + len(text))


def _operand(text: str, col: int):
    c = text[0]
    end = col + len(text)
    if c == "[":
        m = _MEM.match(text)
        if m is None:
            return None
        bname, plus, minus, absolute = m.groups()
        if absolute is not None:
            return MemRef(None, offset(absolute.replace(" ", "")), 0, col, end)
        b = _name(bname, col + text.index(bname))
        if b is None:
            return None
        off = 0
        if plus is not None:
            off = offset(plus.replace(" ", ""))
        elif minus is not None:
            off = -offset(minus)
        return MemRef(b, off, 0, col, end)
    if c == "{":
        if text[-1] != "}":
            return None
        items = []
        inner = text[1:-1]
        off = col + 1
        for piece in inner.split(","):
            t = piece.strip()
            if not t:
                return None
            icol = off + (len(piece) - len(piece.lstrip()))
            item = _vitem(t, icol)
            if item is None:
                return None
            items.append(item)
            off += len(piece) + 1
        return VecRef(tuple(items), 0, col, end)
    if c.isdigit() or c == "-" or c == ".":
        if _NUM.match(text) is None:
            return None
        return Num(number(text), text, 0, col, end)
    if text == "_":
        return SinkRef(0, col, end)
    if "|" in text:
        a, b = text.split("|", 1)
        na = _name(a.strip(), col)
        nb = _name(b.strip(), col + text.index(b.strip(), len(a)))
        if na is None or nb is None:
            return None
        return Pair(na, nb, 0, col, end)
    return _name(text, col)


def _vitem(t: str, col: int):
    if t == "_":
        return SinkRef(0, col, col + 1)
    c = t[0]
    if c.isdigit() or c == "-":
        return Num(number(t), t, 0, col, col + len(t)) if _NUM.match(t) else None
    return _name(t, col)
