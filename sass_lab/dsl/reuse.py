"""The front end for a run of similar sources: reuse the last result where only directive values differ.

A tuning sweep's worker expands the same file for candidate after candidate. Two candidates that
differ only in a define such as ``MAXNREG``, used as ``.maxnreg ${MAXNREG}``, expand to the same
lines but one. :class:`FrontMemo` expands every candidate (the file's Python decides the lines),
then compares the expansion with the last one: when the source map is the same and every line that
differs is, in both, a single-value performance directive alone on its line (``.maxnreg 128`` →
``.maxnreg 255``, same prefix, same width), the last lowered module is reused with those
directives' values replaced. Parsing and lowering such a line can only give that one directive
(the lines before it are the same, so no statement runs into it), and no other statement's span
changes. Anything else parses and lowers from scratch. The reused kernels keep their body objects,
which lets :class:`~sass_lab.passes.PassMemo` reuse the passes' work as well.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .. import ir
from . import FrontResult, expand, lower, parse
from .sourcemap import ChainCache, Expanded

_ONE_VALUE = re.compile(r"^([ \t]*\.(maxnreg|minnctapersm|maxntid|reqntid)[ \t]+)([0-9]+)([ \t]*;?[ \t]*)$")


class FrontMemo:
    """``frontend`` with the last result kept (see the module docstring)."""

    __slots__ = ("_last", "hits")

    def __init__(self) -> None:
        self._last: tuple[str, Expanded, ir.Module] | None = None
        self.hits = 0

    def frontend(self, text: str, file: str = "<string>", defines: dict[str, Any] | None = None) -> FrontResult:
        ex, resolved = expand.expand(text, file, defines or {})
        module = self._reuse(ex, file)
        if module is None:
            module = lower.lower(parse.parse(ex), ex, file)
        else:
            self.hits += 1
        self._last = (file, ex, module)
        return FrontResult(module, resolved, ex)

    def _reuse(self, ex: Expanded, file: str) -> ir.Module | None:
        if self._last is None:
            return None
        lfile, lex, module = self._last
        if lfile != file or len(lex.lines) != len(ex.lines) or lex.origins != ex.origins \
                or lex.sources != ex.sources or lex.loops != ex.loops:
            return None
        changed = [i for i, (a, b) in enumerate(zip(lex.lines, ex.lines)) if a != b]
        if not changed:
            return module
        chains = ChainCache(ex)
        new: dict[int, dict[int, ir.Directive]] = {}  # kernel index -> directive index -> replacement
        for li in changed:
            old, now = _ONE_VALUE.match(lex.lines[li]), _ONE_VALUE.match(ex.lines[li])
            if old is None or now is None or old.group(1) != now.group(1) or old.group(4) != now.group(4) \
                    or len(old.group(3)) != len(now.group(3)):
                return None
            src = ex.sources[ex.origins[li]]
            where = (src.file, src.line, lex.lines[li], chains(li))
            found = [(k, j) for k, kern in enumerate(module.kernels) for j, d in enumerate(kern.directives)
                     if d.span is not None and (d.span.file, d.span.line, d.span.source, d.span.chain) == where]
            if len(found) != 1:
                return None
            k, j = found[0]
            d = module.kernels[k].directives[j]
            if d.name != old.group(2) or d.values != (int(old.group(3)),):
                return None
            new.setdefault(k, {})[j] = ir.Directive(d.name, (int(now.group(3)),), replace(d.span, source=ex.lines[li]))
        kernels = list(module.kernels)
        for k, subs in new.items():
            ds = tuple(subs.get(j, d) for j, d in enumerate(kernels[k].directives))
            kernels[k] = replace(kernels[k], directives=ds)
        return replace(module, kernels=tuple(kernels))


_WORD = re.compile(r"[A-Za-z_]\w*")
_DIRECTIVE_OF = re.compile(r"^[ \t]*\.(?:maxnreg|minnctapersm|maxntid|reqntid)[ \t]+\$\{[ \t]*([A-Za-z_]\w*)[ \t]*\}"
                           r"[ \t]*;?[ \t]*$")


def directive_defines(text: str, file: str) -> frozenset[str]:
    """The defines that only set a directive's value (``.maxnreg ${MAXNREG}`` and nowhere else
    outside comments and the ``.define`` line): candidates that differ only in them are what
    :class:`FrontMemo` reuses, so a sweep gives them to one worker. A hint, never a result."""
    from .codegen import DEFINE_RE

    lines = expand.load_sources(text, file)
    declared: list[str] = []
    for s in lines:
        if DEFINE_RE.match(s.text):
            declared += [w for w in _WORD.findall(s.text.split("//")[0]) if w != "define"]
    used_elsewhere: set[str] = set()
    only: set[str] = set()
    for s in lines:
        if DEFINE_RE.match(s.text):
            continue
        m = _DIRECTIVE_OF.match(s.text)
        if m:
            only.add(m.group(1))
            continue
        used_elsewhere.update(_WORD.findall(s.text.split("//")[0]))
    return frozenset(n for n in only if n in declared and n not in used_elsewhere)
