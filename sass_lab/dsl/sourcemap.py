"""The source map of an expansion: every expanded line → its source line and loop/include chain."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import Span


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
    active when it was emitted, as a linked list ``(entry, parent)`` (innermost first, ``()`` for
    none) with entries ``(source index, names, values)``; ``iter_loops`` walks it.
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

    def text(self, annotate: bool = False) -> str:
        """The expanded source; ``annotate`` appends ``// file:line`` (and the loop chain) to each line."""
        if not annotate:
            return "\n".join(self.lines) + "\n"
        out = []
        for i, line in enumerate(self.lines):
            src = self.sources[self.origins[i]]
            chain = "; ".join(self.chain(i))
            note = f"{os.path.basename(src.file)}:{src.line}" + (f" ({chain})" if chain else "")
            out.append(f"{line.rstrip():<60}  // {note}")
        return "\n".join(out) + "\n"


def loop_text(sources, entry: tuple) -> str:
    """``in loop k=3 at sgemm.sasm:40`` for one loop-stack entry."""
    sidx, names, values = entry
    s = sources[sidx]
    at = f"{os.path.basename(s.file)}:{s.line}"
    if names is None:
        return f"in loop iteration {values} at {at}"
    shown = values[0] if len(values) == 1 else tuple(values)
    return f"in loop {names}={shown!r} at {at}"


def iter_loops(lp: tuple):
    """The entries of a linked loop stack, innermost first."""
    while lp:
        entry, lp = lp
        yield entry


def _chain(sources, loops, src: SrcLine) -> tuple[str, ...]:
    return (*(loop_text(sources, e) for e in iter_loops(loops)), *src.chain)


class ChainCache:
    """Builds span chains fast: each loop iteration is formatted once and shared by its lines."""

    __slots__ = ("ex", "by_lp", "heads", "last")

    def __init__(self, ex: Expanded):
        self.ex = ex
        self.by_lp: dict[int, tuple[str, ...]] = {}
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

    def _loops(self, lp: tuple) -> tuple[str, ...]:
        got = self.by_lp.get(id(lp))  # ids are stable: ex.loops keeps every stack alive
        if got is None:
            entry, parent = lp
            got = self.by_lp[id(lp)] = (self._entry(entry), *(self._loops(parent) if parent else ()))
        return got

    def __call__(self, li: int) -> tuple[str, ...]:
        ex = self.ex
        lp = ex.loops[li]
        oi = ex.origins[li]
        if not lp:
            return ex.sources[oi].chain
        last = self.last
        if last[0] is lp and last[1] == oi:
            return last[2]
        inc = ex.sources[oi].chain
        ch = self._loops(lp)
        if inc:
            ch = (*ch, *inc)
        self.last = (lp, oi, ch)
        return ch
