"""Lowering: the flat statement list → ``ir.Module`` with every name resolved and checked.

Structure: module-scope variables, ``.func`` definitions (passed through verbatim as ``Module.raw``),
and kernels — PTX ``.entry name(.param ...) { ... }`` or the DSL's ``.kernel name(.u64 A, ...)`` whose
body runs to the next kernel (braces optional). DSL kernel parameters are PTX parameters named
``<name>_param``; the ones the body uses are loaded into registers named ``<name>`` at entry
(``ld.param``, plus ``cvta.to.global.u64`` for ``.u64`` pointers).
"""

from __future__ import annotations

import re

from .. import ir
from ..errors import SourceError, Span
from .context import LowerCtx
from .kernel import lower_kernel
from .nodes import (
    SAuto,
    SClose,
    SEnd,
    SEntry,
    SFunc,
    SInstr,
    SOpen,
    SParam,
    SPerf,
    SPragma,
    SProto,
    SReg,
    SSchedule,
    STargets,
    Stmt,
    SVar,
)
from .sourcemap import Expanded


def lower(stmts: list[Stmt], ex: Expanded, file: str) -> ir.Module:
    """Resolve and check ``stmts`` into an ``ir.Module``."""
    cx = LowerCtx(stmts, ex, file)
    for s in stmts:
        if type(s) in (SFunc, SEntry):  # a kernel's name is its address too (device-side launches take it)
            cx.symbols.add(s.name)
        elif type(s) is SVar:
            cx.symbols.update(n.name for n in s.names)
    kernels: list[ir.Kernel] = []
    mvars: list[ir.VarDecl] = []
    raw: list[ir.Raw] = []
    seen: dict[str, Span] = {}
    i = 0
    while i < len(stmts):
        s = stmts[i]
        match s:
            case SEntry():
                k, i = lower_kernel(cx, i)
                if k.name in seen:
                    raise cx.err(s, f"duplicate kernel '{k.name}'", hint=f"first defined at {seen[k.name]}")
                seen[k.name] = k.span
                kernels.append(k)
                continue
            case SFunc():
                r, i = _func(cx, i)
                raw.append(r)
                continue
            case SVar():
                mvars.extend(cx.vars(s))
            case SAuto():
                cx.auto = True
            case SPragma():
                raw.append(ir.Raw(cx.pragma_text(s), cx.span(s)))
            case SReg():
                raise cx.err(s, "registers are declared inside a kernel",
                             hint="put .reg after the .kernel/.entry line")
            case SOpen() | SClose():
                raise cx.err(s, f"unexpected '{'{' if type(s) is SOpen else '}'}' outside a kernel")
            case SSchedule() | SEnd():
                raise cx.err(s, f"'.{s.kind}' outside a kernel")
            case SPerf() | SParam() | STargets() | SProto():
                raise cx.err(s, "this directive belongs to a kernel", hint="put it after .kernel/.entry")
            case _:
                what = "instruction" if type(s) is SInstr else "label"
                raise cx.err(s, f"{what} outside a kernel",
                             hint="start a kernel with '.kernel name(.u64 A, ...)' or '.entry'")
        i += 1
    _check_var_names(mvars, cx.err)
    return ir.Module(kernels=tuple(kernels), vars=tuple(mvars), raw=tuple(raw), file=cx.file)


_DEBUG_LINE = re.compile(r"^\s*\.(loc|file)\b")


def _func(cx: LowerCtx, i: int) -> tuple[ir.Raw, int]:
    """A ``.func`` definition or prototype, kept verbatim."""
    s = cx.stmts[i]
    first, last = s.first_li, s.last_li
    j = i + 1
    while j < len(cx.stmts) and type(cx.stmts[j]) is SPerf and cx.stmts[j].name == "noreturn":
        last = cx.stmts[j].li  # '.func f() .noreturn' (nvcc -G writes it for functions that never return)
        j += 1
    body = j < len(cx.stmts) and type(cx.stmts[j]) is SOpen
    if body:
        end = cx.match(j)
        last = cx.stmts[end].li
        j = end + 1
    # debug line directives go (the .file table and the .debug_str labels they name are not kept)
    text = "\n".join(x for x in cx.ex.lines[first:last + 1] if not _DEBUG_LINE.match(x))
    if not body and not text.rstrip().endswith(";"):
        text = text.rstrip() + ";"  # a prototype whose ';' stood on a line of its own
    return ir.Raw(text, cx.span(s)), j


def _check_var_names(vs: list[ir.VarDecl], err) -> None:
    seen: dict[str, ir.VarDecl] = {}
    for v in vs:
        if v.name in seen:
            raise SourceError(f"duplicate variable '{v.name}'", v.span,
                              hint=f"first declared at {seen[v.name].span}")
        seen[v.name] = v
