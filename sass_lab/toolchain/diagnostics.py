"""ptxas / nvJitLink diagnostics mapped to .sasm spans, with hints, raised as ToolchainError.

Every message that names a PTX line goes through the emitter's ``line_map``; line-less messages are
placed by what they name (an entry, a called function), and directive complaints that ptxas pins on
a kernel's closing brace are moved to the directive itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import Span, ToolchainError
from . import log as logparse


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A ptxas message mapped to the source: ``span`` is the .sasm span (or the PTX line's)."""

    severity: str  # "error" | "warning" | "fatal" | "advisory"
    message: str
    span: Span | None
    ptx_line: int | None = None

    def __str__(self) -> str:
        return f"{self.span or '<ptx>'}: {self.severity}: {self.message}"


def _kernel_line(ptx_lines: Sequence[str], kernel: str) -> int | None:
    pat = re.compile(rf"\.(?:entry|func)\s+{re.escape(kernel)}\s*\(")
    return next((i + 1 for i, t in enumerate(ptx_lines) if pat.search(t)), None)


_DIRECTIVE = re.compile(r"\.(maxntid|reqntid|minnctapersm|maxnreg|maxclusterrank|reqnctapercluster|"
                        r"explicitcluster|noreturn|pragma)\b")


def _directive_line(ptx_lines: Sequence[str], line: int, message: str) -> int:
    """ptxas blames a kernel's closing brace for directive problems: find the directive instead."""
    m = _DIRECTIVE.search(message)
    if not m:
        return line
    for i in range(min(line, len(ptx_lines)) - 1, -1, -1):
        t = ptx_lines[i].strip()
        if t.startswith("." + m.group(1)):
            return i + 1
        if ".entry" in t or ".func" in t:
            break
    return line


def _symbol_line(ptx_lines: Sequence[str], name: str) -> int | None:
    """The first call of ``name``, else the first line that mentions it (a declaration)."""
    word = re.compile(rf"(?<![\w$%]){re.escape(name)}(?![\w$])")
    hits = [i + 1 for i, t in enumerate(ptx_lines) if word.search(t) and not t.lstrip().startswith("//")]
    calls = [i for i in hits if re.match(r"\s*(@!?\w+\s+)?call\b", ptx_lines[i - 1])]
    return (calls or hits or [None])[0]


_UNRESOLVED = re.compile(r"Undefined reference|Unresolved extern")


def map_diagnostic(d: logparse.LogDiag, ptx_lines: Sequence[str],
                   line_map: Sequence[Span | None] | None) -> Diagnostic:
    """Attach the best span: the .sasm span of the PTX line, else the PTX line itself."""
    line = d.line
    if line is None and d.symbol and _UNRESOLVED.search(d.message):  # a missing callee: its call
        line = _symbol_line(ptx_lines, d.symbol)
    elif line is None and d.kernel:
        line = _kernel_line(ptx_lines, d.kernel)
    elif line is None and d.symbol:
        line = _symbol_line(ptx_lines, d.symbol)
    elif line is not None:
        line = _directive_line(ptx_lines, line, d.message)
    span = None
    if line is not None:
        ptx_text = ptx_lines[line - 1] if 0 < line <= len(ptx_lines) else ""
        src = line_map[line - 1] if line_map and 0 < line <= len(line_map) else None
        if src is not None:
            span = Span(src.file, src.line, src.col, src.end_col, src.source,
                        (*src.chain, f"PTX line {line}: {ptx_text.strip()}"))
        else:
            col = len(ptx_text) - len(ptx_text.lstrip()) + 1
            span = Span("<ptx>", line, col, len(ptx_text.rstrip()) + 1, ptx_text)
    return Diagnostic(d.severity, d.message, span, d.line)


def _rewrite_log(log: str, diags: Sequence[Diagnostic]) -> str:
    """Append the mapped location to each diagnostic line of the raw log."""
    by_line = {}
    for d in diags:
        if d.ptx_line is not None and d.span is not None and d.span.file != "<ptx>":
            by_line[d.ptx_line] = d.span
    if not by_line:
        return log

    def sub(m: re.Match) -> str:
        span = by_line.get(int(m.group(1)))
        return f"line {m.group(1)} ({span.file}:{span.line});" if span else m.group(0)

    return re.sub(r"line (\d+);", sub, log)


_HINTS = (
    (re.compile(r"not supported on \.target '(sm_\d+)'"),
     "needs a newer target; Hopper-only instructions (wgmma, setmaxnreg) need arch='sm_90a'"),
    (re.compile(r"requires \.target (sm_\w+)"), "compile for that target or newer (arch=...)"),
    (re.compile(r"cannot be compiled for architecture|higher than default SM version"),
     "the PTX's .target is newer than the arch compiled for: pass the same arch to emit and compile"),
    (re.compile(r"Unknown symbol"), "declare it: a .reg, a parameter, a variable or a label"),
    (re.compile(r"Unresolved extern function '__cudaCDP2"),
     "that is the CUDA device runtime (a kernel launched from a kernel, or a cuda* call in device code: nvcc "
     "-rdc=true and libcudadevrt), which sass_lab does not link: launch the kernels from the host"),
    (_UNRESOLVED, "define the function in this module (an .extern needs a body)"),
    (re.compile(r"Not a name of any known instruction"), "check the opcode spelling (PTX ISA 9.0)"),
    (re.compile(r"Arguments mismatch"), "check the operand count and each operand's type against the opcode"),
    (re.compile(r"Parsing error|syntax error"), "PTX syntax: check brackets, commas and the trailing ';'"),
    (re.compile(r"[Ee]ntry function .* uses too much (shared|local)"),
     "reduce the shared/local arrays or split the kernel"),
)


def hint_for(message: str) -> str | None:
    """A what-to-do line for common ptxas messages."""
    return next((h for pat, h in _HINTS if pat.search(message)), None)


def raise_errors(log: str, ptx: str, line_map: Sequence[Span | None] | None, tool: str) -> None:
    """Raise the first error of ``log`` as ToolchainError at its .sasm span (never returns)."""
    ptx_lines = ptx.splitlines()
    raw = logparse.diagnostics(log)
    diags = [map_diagnostic(d, ptx_lines, line_map) for d in raw]
    bad = [d for d in diags if d.severity in ("error", "fatal") and "aborted due to errors" not in d.message]
    # earliest line first; on one line an unknown name is the cause of an "arguments mismatch"
    errors = sorted(bad, key=lambda d: (d.span is None, d.ptx_line or 0, "Unknown symbol" not in d.message))
    first = errors[0] if errors else None
    others = [clip(str(d)) for d in errors[1:10]]
    parts = [h] if first and (h := hint_for(first.message)) else []
    if others:
        parts.append("also: " + "; ".join(others))
    hint = clip(" | ".join(parts) or "see the ptxas log below", 2000)
    msg = f"ptxas: {clip(first.message)}" if first else f"{tool} failed"
    text = "\n".join(clip(x) for x in _rewrite_log(log, diags).splitlines()[:200])
    raise ToolchainError(msg, span=first.span if first else None, hint=hint, log=text)


def clip(text: str, width: int = 300) -> str:
    """``text`` cut to ``width`` characters (a 100 kB token in a message stays readable)."""
    return text if len(text) <= width else f"{text[:width]}… ({len(text):,} characters)"
