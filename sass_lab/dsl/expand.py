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
from ..usercode import OverBudget, contained, is_user_exit
from . import hopper
from .codegen import DEFINE_RE, PY_END, generate
from .limits import Limits, how_to_raise
from .limits import current as current_limits
from .sourcemap import ChainCache, Expanded, SrcLine, _chain, loop_text
from .sources import read_bounded

__all__ = ["ChainCache", "Expanded", "SrcLine", "coerce_define", "expand", "f32", "f64", "load_sources",
           "loop_text"]

GEN = "<sasm-expand>"
_INCLUDE_RE = re.compile(r'^[ \t]*\.include[ \t]+"([^"]*)"[ \t]*;?[ \t]*(//.*)?$')
_LAB_START = re.compile(r"^[ \t]*%%[ \t]*lab[ \t]*$")

# --------------------------------------------------------------------------- includes


def load_sources(text: str, file: str, limits: Limits | None = None) -> list[SrcLine]:
    """Split ``text`` into lines, inline ``.include`` files and drop ``%% lab`` blocks.

    Bounded by ``limits``: include depth, bytes read by includes (each inclusion counts), and lines.
    """
    loader = _Loader(limits or current_limits())
    loader.load(text.replace("\r\n", "\n"), file, (), (os.path.abspath(file),))
    return loader.out


class _Loader:
    """Inlines includes. Each file is read and scanned once; an include bomb (files that include the
    next one twice) is stopped by the byte budget, each inclusion costing only its lines."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.out: list[SrcLine] = []
        self.included = 0  # bytes read by .include so far (each inclusion counts)
        self.files: dict[str, tuple[list, int]] = {}  # full path -> (scanned lines, bytes)
        self.paths: dict[tuple[str, str], tuple[str, str]] = {}  # (file, target) -> (path, full path)

    def load(self, text: str, file: str, chain: tuple[str, ...], stack: tuple[str, ...]) -> None:
        self.run(_scan(text), file, chain, stack)

    def run(self, entries: list, file: str, chain: tuple[str, ...], stack: tuple[str, ...]) -> None:
        out, limit = self.out, self.limits.lines
        for n, line, m in entries:
            if m is not None:
                self.include(m, file, n, line, chain, stack)
                continue
            out.append(SrcLine(file, n, line, chain))
            if len(out) > limit:
                raise SourceError(f"the source has more than {limit:,} lines with its includes",
                                  Span(file, n, 1, None, line, chain), hint=how_to_raise("lines", limit))

    def include(self, m, file, n, line, chain, stack) -> None:
        lim = self.limits
        target = m.group(1)
        where = self.paths.get((file, target))
        if where is None:
            base = os.path.dirname(file) if file and not file.startswith("<") else os.getcwd()
            path = os.path.normpath(os.path.join(base, target))
            where = self.paths[(file, target)] = (path, os.path.abspath(path))
        path, full = where

        def span() -> Span:
            return Span(file, n, line.index('"') + 1, len(line.rstrip()) + 1, line, chain)

        if "\0" in path:
            raise SourceError("the include path contains a NUL character", span(), hint="remove it from the path")
        if full in stack:
            cycle = " -> ".join(os.path.basename(p) for p in (*stack, full))
            raise SourceError(f"include cycle: {cycle}", span(), hint="remove one of the .include lines")
        if len(stack) > lim.include_depth:
            raise SourceError(f".include nested more than {lim.include_depth} levels deep", span(),
                              hint=how_to_raise("include_depth", lim.include_depth))
        inner = (f"included from {os.path.basename(file)}:{n}", *chain)
        known = self.files.get(full)
        if known is None:
            data = read_bounded(path, lim.include_bytes - self.included, "include_bytes", span(),
                                f"paths are relative to the including file ({path})", name=target)
            try:
                body = decode(data, path)
            except UsageError as e:  # binary: say so at the .include line
                raise SourceError(f"cannot include '{target}': {e.message}", span(), hint=e.hint) from None
            except SourceError as e:  # bad UTF-8: at its place in the included file
                sp = e.span
                raise SourceError(e.message, Span(sp.file, sp.line, sp.col, sp.end_col, sp.source, inner),
                                  hint=e.hint) from None
            known = self.files[full] = (_scan(body), len(data))
        self.included += known[1]
        if self.included > lim.include_bytes:
            raise SourceError(f".include read more than {lim.include_bytes:,} bytes in all (a file included "
                              "many times counts each time)", span(), hint=how_to_raise("include_bytes", lim.include_bytes))
        self.run(known[0], path, inner, (*stack, full))


def _scan(text: str) -> list[tuple[int, str, re.Match | None]]:
    """(line number, text, ``.include`` match or None) per line, ``%% lab`` blocks dropped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    in_lab = False
    for n, line in enumerate(lines, 1):
        if in_lab:
            in_lab = not PY_END.match(line)
            continue
        if "%%" in line and _LAB_START.match(line):
            in_lab = True
            continue
        m = _INCLUDE_RE.match(line) if ".include" in line else None
        out.append((n, line, m))
    return out


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
        except (ValueError, SyntaxError, RecursionError, MemoryError):
            return v
    return v


class _Over(BaseException):  # noqa: N818 - BaseException: user code's `except Exception` cannot swallow it
    """An expansion limit was hit; carries the SourceError to raise."""


def expand(text: str, file: str = "<string>", defines: dict | None = None,
           limits: Limits | None = None) -> tuple[Expanded, dict]:
    """Expand ``text``; returns the expanded lines with their source map and the resolved defines.

    The file's Python runs :func:`~sass_lab.usercode.contained` (state restored, ``SystemExit``
    reported at its line, a wall-clock budget); ``limits`` bounds lines, bytes and time.
    """
    lim = limits or current_limits()
    sources = load_sources(text, file, lim)
    code, gmap, names, gcols, prog = _program(sources)
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
    size = [0]
    max_lines, max_bytes = lim.lines, lim.bytes

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
        size[0] += len(t) + 1
        if len(lines) > max_lines or size[0] > max_bytes:
            over = ("lines", f"{max_lines:,} lines", max_lines) if len(lines) > max_lines \
                else ("bytes", f"{max_bytes:,} bytes", max_bytes)
            s = sources[idx]
            raise _Over(SourceError(f"expansion produced more than {over[1]}",
                                    Span(s.file, s.line, 1, None, s.text, _chain(sources, rt.cur, s)),
                                    hint=how_to_raise(over[0], over[2])))

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
    box = contained(budget=lim.seconds)
    try:
        with box:
            exec(prog, ns)
    except SasmError:
        raise
    except _Over as e:
        raise e.args[0] from None
    except OverBudget as e:
        err = _python_error(e, gmap, gcols, sources, rt)
        raise SourceError(f"expansion ran longer than {lim.seconds:g} s (the file's Python did not finish)",
                          err.span, hint=how_to_raise("seconds", lim.seconds)) from None
    except Exception as e:  # noqa: BLE001 - user Python: report at its .sasm line
        raise _python_error(e, gmap, gcols, sources, rt) from None
    except BaseException as e:
        if not is_user_exit(e, box):
            raise
        raise _python_error(e, gmap, gcols, sources, rt, hint="a kernel file cannot end the tool: raise an "
                            "exception with a message instead") from None
    return Expanded(tuple(lines), tuple(origins), tuple(loops), tuple(sources)), resolved


_LAST: list = []  # [(sources, program)]: the last file's program, for the next expansion of the same lines


def _program(sources: list[SrcLine]) -> tuple:
    """(Python program, source index per program line, define names, columns, code object) of
    ``sources``; the last one is kept, so expanding one file with other defines (a tuning sweep)
    generates and compiles its program once."""
    if _LAST and _LAST[0][0] == sources:
        return _LAST[0][1]
    code, gmap, names, gcols = generate(sources)
    out = (code, gmap, tuple(names), gcols, _compile(code, gmap, gcols, sources))
    _LAST[:] = [(sources, out)]
    return out


def _compile(code: str, gmap, gcols, sources):
    """The generated program as a code object; a Python syntax error (or an expression too deep
    for Python's compiler) is a SourceError at its .sasm line."""
    try:
        return compile(code, GEN, "exec")
    except SyntaxError as e:
        g = (e.lineno or 1) - 1
        s = sources[gmap[g]]
        col, end = gcols[g]
        raise SourceError(f"Python syntax error: {e.msg}", Span(s.file, s.line, col, end, s.text, s.chain),
                          hint="lines starting with '%', '%%' blocks and ${...} are Python") from None
    except (RecursionError, MemoryError, ValueError) as e:
        g = _culprit(code.splitlines())
        s = sources[gmap[g]]
        col, end = gcols[g]
        raise SourceError(f"Python cannot compile this line: {type(e).__name__}: {e}",
                          Span(s.file, s.line, col, end, s.text, s.chain),
                          hint="an expression nested or chained this deep is beyond Python's compiler: "
                               "build it with a loop") from None


def _culprit(code_lines: list[str]) -> int:
    """The program line Python's compiler cannot take (compiled one by one; the longest if none)."""
    for g, line in enumerate(code_lines):
        if len(line) < 1000:
            continue
        try:
            compile(line.strip(), GEN, "exec")
        except (RecursionError, MemoryError, ValueError):
            return g
        except SyntaxError:
            continue
    return max(range(len(code_lines)), key=lambda g: len(code_lines[g]))


def _python_error(e: BaseException, gmap, gcols, sources, rt, hint: str | None = None) -> SourceError:
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
    if hint is None and isinstance(e, NameError):
        hint = "undefined name: is it a .define or set in a '%' line?"
    return SourceError(f"Python error: {type(e).__name__}: {e}", span, hint=hint)
