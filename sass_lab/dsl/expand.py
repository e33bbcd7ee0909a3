"""Expansion: ``.define``/-D, ``.include``, ``%`` lines, ``%%`` blocks and ``${expr}`` → plain lines.

The source (with includes inlined statically) is compiled into one Python program: every plain line
becomes an ``_x_e(index, text)`` call, ``%`` lines are Python statements closed by ``%end``, and ``%%``
blocks are pasted in as definitions. Running it yields the expanded lines and, for each, the source
line it came from plus the loop iterations it was emitted in: the source map.
"""

from __future__ import annotations

import ast
import math
import os
import re
import struct
import sys
from typing import Any

from ..errors import SasmError, SourceError, Span, UsageError
from ..files import decode
from . import hopper
from .codegen import DEFINE_RE, PY_END, generate
from .sourcemap import ChainCache, Expanded, SrcLine, _chain, loop_text

__all__ = ["ChainCache", "Expanded", "SrcLine", "coerce_define", "expand", "f32", "f64", "load_sources",
           "loop_text"]

GEN = "<sasm-expand>"
_INCLUDE_RE = re.compile(r'^[ \t]*\.include[ \t]+"([^"]*)"[ \t]*;?[ \t]*(//.*)?$')
_LAB_START = re.compile(r"^[ \t]*%%[ \t]*lab[ \t]*$")

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
            in_lab = not PY_END.match(line)
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
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise SourceError(f"cannot include '{m.group(1)}': {e.strerror}", span,
                          hint=f"paths are relative to the including file ({path})") from None
    try:
        body = decode(data, path)
    except UsageError as e:  # binary: say so at the .include line
        raise SourceError(f"cannot include '{m.group(1)}': {e.message}", span, hint=e.hint) from None
    _load(body, path, (f"included from {os.path.basename(file)}:{n}", *chain), (*stack, full), out)


# --------------------------------------------------------------------------- running


class _Runtime:
    """Loop bookkeeping shared with the generated program.

    ``cur`` is the loop stack as a linked list ``((source index, names, values), parent)``, innermost
    first, ``()`` outside loops: every line of one iteration shares it, and inner iterations share
    their parent, so the source map stays small and chains are formatted once per iteration.
    """

    __slots__ = ("parents", "counts", "cur", "failed")

    def __init__(self) -> None:
        self.parents: list[tuple] = []
        self.counts: list[int] = []
        self.cur: tuple = ()
        self.failed: tuple | None = None

    def fail(self) -> None:
        if self.failed is None:
            self.failed = self.cur

    def enter(self) -> None:
        self.parents.append(self.cur)
        self.counts.append(0)

    def it(self, idx: int, names: str | None, values: tuple | None) -> None:
        if names is None:
            self.counts[-1] += 1
            values = self.counts[-1]
        self.cur = ((idx, names, values), self.parents[-1])

    def leave(self) -> None:
        self.counts.pop()
        self.cur = self.parents.pop()


def f32(x: float) -> str:
    """The exact PTX literal of ``x`` rounded to float32: ``f32(0.5)`` → ``0f3F000000``."""
    return f"0f{struct.unpack('>I', struct.pack('>f', float(x)))[0]:08X}"


def f64(x: float) -> str:
    """The exact PTX literal of a float64: ``f64(0.5)`` → ``0d3FE0000000000000``."""
    return f"0d{struct.unpack('>Q', struct.pack('>d', float(x)))[0]:016X}"


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
        first = next((j for j, s in enumerate(sources) if DEFINE_RE.match(s.text)), None)
        span = (Span(sources[first].file, sources[first].line, 1, len(sources[first].text.rstrip()) + 1,
                      sources[first].text, sources[first].chain)
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

    ns: dict[str, Any] = {"_x_e": _e, "_x_s": str, "_x_R": rt, "_x_O": overrides, "_x_D": resolved, "emit": emit,
                          "math": math, "f32": f32, "f64": f64, "__name__": "__sasm__", **hopper.namespace(emit)}
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
