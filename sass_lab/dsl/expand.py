"""Expansion: ``.define``/-D, ``.include``, ``%`` lines, ``%%`` blocks and ``${expr}`` → plain lines.

The source (with includes inlined statically) is compiled into one Python program: every plain line
becomes an ``_e(index, text)`` call, ``%`` lines are Python statements closed by ``%end``, and ``%%``
blocks are pasted in as definitions. Running it yields the expanded lines and, for each, the source
line it came from plus the loop iterations it was emitted in: the source map.
"""

from __future__ import annotations

import ast
import io
import math
import os
import re
import sys
import tokenize
from dataclasses import dataclass
from typing import Any

from ..errors import SasmError, SourceError, Span

GEN = "<sasm-expand>"
_INCLUDE_RE = re.compile(r'^[ \t]*\.include[ \t]+"([^"]*)"[ \t]*;?[ \t]*(//.*)?$')
_DEFINE_RE = re.compile(r"^[ \t]*\.define[ \t]+(.*?)[ \t]*;?[ \t]*$")
_LAB_START = re.compile(r"^[ \t]*%%[ \t]*lab[ \t]*$")
_PY_END = re.compile(r"^[ \t]*%%[ \t]*$")
_FOR_RE = re.compile(r"^for\s+(.+?)\s+in\s")
_CONT = ("elif", "else", "except", "finally")


@dataclass(frozen=True, slots=True)
class SrcLine:
    """One line of the include-resolved source."""

    file: str
    line: int
    text: str
    chain: tuple[str, ...] = ()  # ("included from main.sasm:3",)


@dataclass(frozen=True, slots=True)
class Expanded:
    """The expanded lines and their source map.

    ``lines[i]`` came from ``sources[origins[i]]``; ``loops[i]`` is the stack of loop iterations
    (outermost first) active when it was emitted, each ``(source index, names, values)``.
    """

    lines: tuple[str, ...]
    origins: tuple[int, ...]
    loops: tuple[tuple, ...]
    sources: tuple[SrcLine, ...]

    def chain(self, i: int) -> tuple[str, ...]:
        """The loop and include chain of expanded line ``i`` (innermost first)."""
        return _chain(self.sources, self.loops[i], self.sources[self.origins[i]])

    def span(self, i: int, col: int = 1, end_col: int | None = None) -> Span:
        """A span in expanded line ``i``: file/line of its source, text and columns of the expansion."""
        src = self.sources[self.origins[i]]
        return Span(src.file, src.line, col, end_col, self.lines[i], self.chain(i))

    def where(self, i: int) -> str:
        src = self.sources[self.origins[i]]
        return f"{src.file}:{src.line}"


def loop_text(sources, entry: tuple) -> str:
    """``in loop k=3 at sgemm.sasm:40`` for one loop-stack entry."""
    sidx, names, values = entry
    s = sources[sidx]
    at = f"{os.path.basename(s.file)}:{s.line}"
    if names is None:
        return f"in loop iteration {values} at {at}"
    shown = values[0] if len(values) == 1 else tuple(values)
    return f"in loop {names}={shown!r} at {at}"


def _chain(sources, loops, src: SrcLine) -> tuple[str, ...]:
    return (*(loop_text(sources, e) for e in reversed(loops)), *src.chain)


class ChainCache:
    """Builds span chains fast: each loop entry is formatted once (entries are shared by lines)."""

    __slots__ = ("ex", "by_entry", "heads", "last")

    def __init__(self, ex: Expanded):
        self.ex = ex
        self.by_entry: dict[int, str] = {}
        self.heads: dict[tuple[int, str | None], tuple[str, str]] = {}
        self.last: tuple = (None, -1, ())

    def _entry(self, e: tuple) -> str:
        sidx, names, values = e
        if names is None or len(values) != 1:
            return loop_text(self.ex.sources, e)
        head = self.heads.get((sidx, names))
        if head is None:
            s = self.ex.sources[sidx]
            head = self.heads[(sidx, names)] = (f"in loop {names}=", f" at {os.path.basename(s.file)}:{s.line}")
        return head[0] + repr(values[0]) + head[1]

    def __call__(self, li: int) -> tuple[str, ...]:
        ex = self.ex
        lp = ex.loops[li]
        oi = ex.origins[li]
        if not lp:
            return ex.sources[oi].chain
        last = self.last
        if last[0] is lp and last[1] == oi:
            return last[2]
        parts = []
        by_entry = self.by_entry
        for e in reversed(lp):
            t = by_entry.get(id(e))
            if t is None:
                t = by_entry[id(e)] = self._entry(e)
            parts.append(t)
        ch = (*parts, *ex.sources[oi].chain)
        self.last = (lp, oi, ch)
        return ch


# --------------------------------------------------------------------------- includes


def load_sources(text: str, file: str) -> list[SrcLine]:
    """Split ``text`` into lines, inline ``.include`` files and drop ``%% lab`` blocks."""
    out: list[SrcLine] = []
    _load(text.replace("\r\n", "\n"), file, (), (os.path.abspath(file),), out)
    return out


def _load(text: str, file: str, chain: tuple[str, ...], stack: tuple[str, ...], out: list[SrcLine]) -> None:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    in_lab = False
    for n, line in enumerate(lines, 1):
        if in_lab:
            in_lab = not _PY_END.match(line)
            continue
        if "%%" in line and _LAB_START.match(line):
            in_lab = True
            continue
        if ".include" in line:
            m = _INCLUDE_RE.match(line)
            if m:
                _include(m, file, n, line, chain, stack, out)
                continue
        out.append(SrcLine(file, n, line, chain))


def _include(m, file, n, line, chain, stack, out) -> None:
    base = os.path.dirname(file) if file and not file.startswith("<") else os.getcwd()
    path = os.path.normpath(os.path.join(base, m.group(1)))
    span = Span(file, n, line.index('"') + 1, len(line.rstrip()) + 1, line, chain)
    full = os.path.abspath(path)
    if full in stack:
        cycle = " -> ".join(os.path.basename(p) for p in (*stack, full))
        raise SourceError(f"include cycle: {cycle}", span, hint="remove one of the .include lines")
    try:
        with open(path) as f:
            body = f.read().replace("\r\n", "\n")
    except OSError as e:
        raise SourceError(f"cannot include '{m.group(1)}': {e.strerror}", span,
                          hint=f"paths are relative to the including file ({path})") from None
    _load(body, path, (f"included from {os.path.basename(file)}:{n}", *chain), (*stack, full), out)


# --------------------------------------------------------------------------- code generation


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
    """``_e(i, text)`` with the splices evaluated; several splices get one program line each so a
    Python error points at the right ``${...}``."""
    exprs = [p for p in pieces if p[0] == "expr"]
    if len(exprs) == 1:
        _, src, col, end = exprs[0]
        body = ", ".join(repr(p[1]) if p[0] == "lit" else f"_s(({src}))" for p in pieces)
        put(f"_e({i}, ''.join(({body},)))", i, level, col, end)
        return
    out, k = [], 0
    for p in pieces:
        if p[0] == "lit":
            out.append(repr(p[1]))
        else:
            put(f"_t{k} = ({p[1]})", i, level, p[2], p[3])
            out.append(f"_s(_t{k})")
            k += 1
    put(f"_e({i}, ''.join(({', '.join(out)},)))", i, level)


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
            while i < len(sources) and not _PY_END.match(sources[i].text):
                body.append(i)
                i += 1
            if i >= len(sources):
                raise SourceError("'%%' block is not closed", span(start), hint="end it with a line '%%'")
            _paste_block(sources, body, level, put)
        elif stripped.startswith("%"):
            level = _py_line(stripped[1:].strip(), i, level, frames, put, span)
        elif stripped.startswith(".define") and _DEFINE_RE.match(text):
            _define(_DEFINE_RE.match(text).group(1), i, level, put, span, names, text)
        else:
            pieces = _splices(text, lambda a, b, i=i: span(i, a, b))
            if pieces is None:
                put(f"_e({i})", i, level)
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
            put("_R.fail()", i, f.level)
            put("raise", i, f.level)
            put("finally:", i, f.level - 1)
            put("_R.leave()", i, f.level)
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
        put("_R.enter()", i, level)
        put("try:", i, level)
        put(stmt, i, level + 1)
        m = _FOR_RE.match(stmt)
        if word == "for" and m:
            targets = m.group(1).strip().strip("()")
            vals = ", ".join(t.strip() for t in targets.split(",") if t.strip())
            put(f"_R.it({i}, {targets!r}, ({vals},))", i, level + 2)
        else:
            put(f"_R.it({i}, None, None)", i, level + 2)
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
    for part in _split_top(body):
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
        put(f"{name} = _O[{name!r}] if {name!r} in _O else ({expr})", i, level)
        put(f"_D[{name!r}] = {name}", i, level)


def _split_top(s: str) -> list[str]:
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


# --------------------------------------------------------------------------- running


class _Runtime:
    """Loop bookkeeping shared with the generated program."""

    __slots__ = ("stack", "cur", "failed")

    def __init__(self) -> None:
        self.stack: list[tuple] = []
        self.cur: tuple = ()
        self.failed: tuple | None = None

    def fail(self) -> None:
        if self.failed is None:
            self.failed = self.cur

    def enter(self) -> None:
        self.stack.append((0, None, 0))

    def it(self, idx: int, names: str | None, values: tuple | None) -> None:
        if names is None:
            values = self.stack[-1][2] + 1 if self.stack[-1][0] == idx else 1
        self.stack[-1] = (idx, names, values)
        self.cur = tuple(self.stack)

    def leave(self) -> None:
        self.stack.pop()
        self.cur = tuple(self.stack)


def coerce_define(v: Any) -> Any:
    """-D values arrive as strings from the command line: read numbers and literals as Python."""
    if isinstance(v, str):
        try:
            return ast.literal_eval(v)
        except (ValueError, SyntaxError):
            return v
    return v


def expand(text: str, file: str = "<string>", defines: dict | None = None) -> tuple[Expanded, dict]:
    """Expand ``text``; returns the expanded lines with their source map and the resolved defines."""
    sources = load_sources(text, file)
    code, gmap, names, gcols = generate(sources)
    overrides = {k: coerce_define(v) for k, v in (defines or {}).items()}
    unknown = [k for k in overrides if k not in names]
    if unknown:
        first = next((j for j, s in enumerate(sources) if _DEFINE_RE.match(s.text)), None)
        span = (Span(sources[first].file, sources[first].line, 1, None, sources[first].text, sources[first].chain)
                if first is not None else Span(file, 1, 1, None, sources[0].text if sources else ""))
        known = ", ".join(dict.fromkeys(names)) or "(none)"
        raise SourceError(f"unknown define{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}",
                          span, hint=f"this file defines: {known}")
    lines: list[str] = []
    origins: list[int] = []
    loops: list[tuple] = []
    rt = _Runtime()
    resolved: dict[str, Any] = {}

    def _e(idx: int, t: str | None = None) -> None:
        if t is None:
            t = sources[idx].text
        elif "\n" in t:
            for piece in t.split("\n"):
                _e(idx, piece)
            return
        lines.append(t)
        origins.append(idx)
        loops.append(rt.cur)

    def emit(*texts: Any) -> None:
        """Write lines to the expanded output (from Python in ``%%`` blocks or ``%`` lines)."""
        f = sys._getframe(1)
        while f is not None and f.f_code.co_filename != GEN:
            f = f.f_back
        idx = gmap[f.f_lineno - 1] if f is not None else 0
        for t in texts:
            _e(idx, str(t))

    ns: dict[str, Any] = {"_e": _e, "_s": str, "_R": rt, "_O": overrides, "_D": resolved, "emit": emit,
                          "math": math, "__name__": "__sasm__"}
    try:
        prog = compile(code, GEN, "exec")
    except SyntaxError as e:
        g = (e.lineno or 1) - 1
        s = sources[gmap[g]]
        col, end = gcols[g]
        raise SourceError(f"Python syntax error: {e.msg}", Span(s.file, s.line, col, end, s.text, s.chain),
                          hint="lines starting with '%', '%%' blocks and ${...} are Python") from None
    try:
        exec(prog, ns)
    except SasmError:
        raise
    except Exception as e:  # noqa: BLE001 - user Python: report at its .sasm line
        raise _python_error(e, gmap, gcols, sources, rt) from None
    return Expanded(tuple(lines), tuple(origins), tuple(loops), tuple(sources)), resolved


def _python_error(e: Exception, gmap, gcols, sources, rt) -> SourceError:
    tb, lineno = e.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == GEN:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    idx = gmap[lineno - 1] if lineno else 0
    col, end = gcols[lineno - 1] if lineno else (1, None)
    s = sources[idx]
    loops = rt.failed if rt.failed is not None else rt.cur
    span = Span(s.file, s.line, col, end, s.text, _chain(sources, loops, s))
    hint = "undefined name: is it a .define or set in a '%' line?" if isinstance(e, NameError) else None
    return SourceError(f"Python error: {type(e).__name__}: {e}", span, hint=hint)
