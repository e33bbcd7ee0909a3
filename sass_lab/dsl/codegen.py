"""Code generation for expansion: the include-resolved source → one Python program.

Plain lines become ``_x_e(index, text)`` calls (``${...}`` splices evaluated in them), ``%`` lines are
Python statements whose blocks ``%end`` closes (``for``/``while`` loops record their iterations for
the source map through ``_x_R``), ``%%`` blocks are pasted in, ``.define`` lines assign defaults unless
overridden (``_x_O``) and record the value (``_x_D``). Names starting ``_x_`` are the expander's.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

from ..errors import SourceError, Span
from .sourcemap import SrcLine

DEFINE_RE = re.compile(r"^[ \t]*\.define[ \t]+(.*?)[ \t]*;?[ \t]*$")
PY_END = re.compile(r"^[ \t]*%%[ \t]*$")
# a PTX register alone on a line before ',' or ')' (nvcc splits an indirect call's operands over lines:
# "call", "%rd3,", "(", ...): PTX, not a '%' Python line (no Python statement looks like that)
PTX_OPERAND_LINE = re.compile(r"^%[A-Za-z_$][\w$]*(\.[A-Za-z_]\w*)?[ \t]*[,)][ \t]*(//.*)?$")
_FOR_RE = re.compile(r"^for\s+(.+?)\s+in\s")
_CONT = ("elif", "else", "except", "finally")


def _splices(text: str, span_of) -> list[tuple] | None:
    """The pieces of a line with ``${...}``: ``("lit", text)`` and ``("expr", source, col, end_col)``."""
    if "${" not in text:
        return None
    parts, i = [], 0
    while True:
        j = text.find("${", i)
        if j < 0:
            parts.append(("lit", text[i:]))
            return parts
        parts.append(("lit", text[i:j]))
        k, depth, quote = j + 2, 1, ""
        while k < len(text):
            c = text[k]
            if quote:
                if c == quote:
                    quote = ""
            elif c in "'\"":
                quote = c
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        if depth:
            raise SourceError("unterminated '${'", span_of(j + 1, j + 3), hint="close it with '}'")
        expr = text[j + 2:k].strip()
        if not expr:
            raise SourceError("empty '${}'", span_of(j + 1, k + 2), hint="put a Python expression inside")
        parts.append(("expr", expr, j + 1, k + 2))
        i = k + 1


def _put_spliced(pieces: list[tuple], i: int, level: int, put) -> None:
    """``_x_e(i, text)`` with the splices evaluated; several splices get one program line each so a
    Python error points at the right ``${...}``."""
    exprs = [p for p in pieces if p[0] == "expr"]
    if len(exprs) == 1:
        _, src, col, end = exprs[0]
        body = ", ".join(repr(p[1]) if p[0] == "lit" else f"_x_s(({src}))" for p in pieces)
        put(f"_x_e({i}, ''.join(({body},)))", i, level, col, end)
        return
    out, k = [], 0
    for p in pieces:
        if p[0] == "lit":
            out.append(repr(p[1]))
        else:
            put(f"_x_t{k} = ({p[1]})", i, level, p[2], p[3])
            out.append(f"_x_s(_x_t{k})")
            k += 1
    put(f"_x_e({i}, ''.join(({', '.join(out)},)))", i, level)


def _opens_block(stmt: str) -> bool:
    """True when a Python statement ends with ':' (ignoring a trailing comment)."""
    s = stmt.rstrip()
    if s.endswith(":"):
        return True
    if "#" not in s:
        return False
    try:
        toks = [t for t in tokenize.generate_tokens(io.StringIO(s).readline)
                if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER)]
    except (tokenize.TokenError, SyntaxError):
        return False
    return bool(toks) and toks[-1].string == ":"


@dataclass
class _Frame:
    kind: str  # "for", "while", "block"
    level: int  # indentation level of the header line
    src: int


def generate(sources: list[SrcLine]) -> tuple[str, list[int], list[str], list[tuple[int, int | None]]]:
    """(Python program, source index per program line, define names, (col, end_col) per program line)."""
    code: list[str] = []
    gmap: list[int] = []
    gcols: list[tuple[int, int | None]] = []
    frames: list[_Frame] = []
    names: list[str] = []
    level = 0

    def put(text: str, idx: int, lvl: int, col: int = 1, end: int | None = None) -> None:
        code.append("    " * lvl + text)
        gmap.append(idx)
        gcols.append((col, end))

    def span(idx, col=1, end=None):
        s = sources[idx]
        return Span(s.file, s.line, col, end, s.text, s.chain)

    i = 0
    while i < len(sources):
        src = sources[i]
        text = src.text
        stripped = text.lstrip()
        if stripped.startswith("%%"):
            start, body = i, []
            i += 1
            while i < len(sources) and not PY_END.match(sources[i].text):
                body.append(i)
                i += 1
            if i >= len(sources):
                raise SourceError("'%%' block is not closed", span(start), hint="end it with a line '%%'")
            _paste_block(sources, body, level, put)
        elif stripped.startswith("%") and not PTX_OPERAND_LINE.match(stripped.rstrip()):
            level = _py_line(stripped[1:].strip(), i, level, frames, put, span)
        elif stripped.startswith(".define") and DEFINE_RE.match(text):
            _define(DEFINE_RE.match(text).group(1), i, level, put, span, names, text)
        else:
            pieces = _splices(text, lambda a, b, i=i: span(i, a, b))
            if pieces is None:
                put(f"_x_e({i})", i, level)
            else:
                _put_spliced(pieces, i, level, put)
        i += 1
    if frames:
        f = frames[-1]
        raise SourceError(f"'%{sources[f.src].text.lstrip()[1:].strip()}' is not closed", span(f.src),
                          hint="close the block with '%end'")
    return "\n".join(code) + "\n", gmap, names, gcols


def _paste_block(sources, body, level, put) -> None:
    texts = [sources[j].text for j in body]
    widths = [len(t) - len(t.lstrip()) for t in texts if t.strip()]
    cut = min(widths) if widths else 0
    for j, t in zip(body, texts):
        put(t[cut:] if t.strip() else "", j, level)
    put("pass", body[-1] if body else 0, level)


def _py_line(stmt: str, i, level, frames, put, span) -> int:
    word = re.match(r"[A-Za-z_]*", stmt).group(0)
    if word == "end" and stmt.strip() in ("end", "end;"):
        if not frames:
            raise SourceError("'%end' without an open block", span(i), hint="remove it")
        f = frames.pop()
        if f.kind != "block":
            put("except BaseException:", i, f.level - 1)
            put("_x_R.fail()", i, f.level)
            put("raise", i, f.level)
            put("finally:", i, f.level - 1)
            put("_x_R.leave()", i, f.level)
        return f.level if f.kind == "block" else f.level - 1
    if word in _CONT and _opens_block(stmt):
        if not frames:
            raise SourceError(f"'%{word}' without an open block", span(i), hint="add the matching '%if'/'%for'")
        f = frames[-1]
        put(stmt, i, f.level)
        put("pass", i, f.level + 1)
        return f.level + 1
    if not _opens_block(stmt):
        put(stmt, i, level)
        return level
    if word in ("for", "while"):
        put("_x_R.enter()", i, level)
        put("try:", i, level)
        put(stmt, i, level + 1)
        m = _FOR_RE.match(stmt)
        if word == "for" and m:
            targets = m.group(1).strip().strip("()")
            vals = ", ".join(t.strip() for t in targets.split(",") if t.strip())
            put(f"_x_R.it({i}, {targets!r}, ({vals},))", i, level + 2)
        else:
            put(f"_x_R.it({i}, None, None)", i, level + 2)
        frames.append(_Frame(word, level + 1, i))
        return level + 2
    put(stmt, i, level)
    put("pass", i, level + 1)
    frames.append(_Frame("block", level, i))
    return level + 1


def _strip_comment(s: str) -> str:
    """``s`` without a trailing ``//`` comment (``//`` inside quotes is kept)."""
    quote = ""
    for k, ch in enumerate(s):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "/" and s.startswith("//", k):
            return s[:k]
    return s


def _define(body: str, i, level, put, span, names, text) -> None:
    body = _strip_comment(body)
    for part in split_top(body):
        if "=" not in part:
            col = text.find(part.strip()) + 1
            raise SourceError(f"'.define {part.strip()}' has no value", span(i, col, col + len(part.strip())),
                              hint="write .define NAME = value")
        name, expr = (p.strip() for p in part.split("=", 1))
        if not name.isidentifier():
            col = text.find(name) + 1
            raise SourceError(f"bad define name '{name}'", span(i, col, col + len(name)),
                              hint="names are Python identifiers")
        names.append(name)
        put(f"{name} = _x_O[{name!r}] if {name!r} in _x_O else ({expr})", i, level)
        put(f"_x_D[{name!r}] = {name}", i, level)


def split_top(s: str) -> list[str]:
    """Split at commas outside brackets and string quotes (a `.define` list)."""
    parts, depth, cur, quote = [], 0, [], ""
    for ch in s:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]
