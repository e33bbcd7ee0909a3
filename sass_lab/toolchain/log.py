"""Parse ptxas / nvJitLink logs: diagnostics (with PTX line numbers) and ``-v`` resource lines.

Diagnostics look like ``ptxas application ptx input, line 24; error   : Unknown symbol 'y'`` (nvJitLink)
or ``ptxas k.ptx, line 24; warning : ...`` (CLI); some carry no line (``ptxas warning : For entry w
adjusting ...``, ``ptxas fatal : ...``). Resource lines come in two dialects, both parsed:

- ptxas: ``Function properties for k`` / ``N bytes stack frame, N bytes spill stores, N bytes spill
  loads`` / ``Used N registers, used N barriers, N bytes smem, N bytes cmem[0]`` (static smem only);
- nvJitLink's link step: ``info : Function properties for 'k':`` / ``info : used N registers, used N
  barriers, N stack, N bytes smem, N bytes cmem[0], N bytes lmem`` (smem includes the reserved 1 KB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DIAG = re.compile(r"^ptxas\s+(?:(?P<src>[^,]*?),\s*line\s+(?P<line>\d+);\s*)?"
                   r"(?P<sev>error|warning|fatal|info)\s*:\s*(?P<msg>.*)$")
_ADVISORY = re.compile(r"^ptxas\s+info\s*:\s*\((?P<code>C\d+)\)\s*(?P<msg>.*)$")
_PROPS = re.compile(r"(?:ptxas\s+info\s*:\s*|^info\s*:\s*)Function properties for '?(?P<k>[^':\s]+)'?:?\s*$")
_COMPILING = re.compile(r"Compiling entry function '(?P<k>[^']+)'")
_STACK = re.compile(r"(?P<stack>\d+) bytes stack frame, (?P<ss>\d+) bytes spill stores, "
                    r"(?P<sl>\d+) bytes spill loads")
_USED = re.compile(r"^(?P<tool>ptxas\s+info|info)\s*:\s*[Uu]sed (?P<regs>\d+) registers(?P<rest>.*)$")
_BARRIERS = re.compile(r"used (\d+) barriers")
_SMEM = re.compile(r"(\d+) bytes smem")
_CMEM = re.compile(r"(\d+) bytes cmem\[(\d+)\]")
_LMEM = re.compile(r"(\d+) bytes lmem")
_STACK_SHORT = re.compile(r"(\d+) stack\b")
_ON_LINE = re.compile(r"\bon line (\d+)")
_LINKER = re.compile(r"^(?P<sev>error|warning)\s*:\s*(?P<msg>.*)$")
_QUOTED = re.compile(r"'([A-Za-z_$%][\w$]*)'")
_ENTRY = re.compile(r"(?:entry|function)\s+'?([A-Za-z_$%][\w$]*)'?")


@dataclass(frozen=True, slots=True)
class LogDiag:
    """One error/warning line: severity, message, PTX line (None when the tool gave none)."""

    severity: str  # "error" | "warning" | "fatal" | "advisory" (coded info, e.g. C7504)
    message: str
    line: int | None
    text: str  # the raw log line

    @property
    def kernel(self) -> str | None:
        """The entry named in a line-less message (``For entry w adjusting ...``), if any."""
        m = _ENTRY.search(self.message)
        return m.group(1) if m else None

    @property
    def symbol(self) -> str | None:
        """The first quoted name in the message (``Undefined reference to 'foo'``)."""
        m = _QUOTED.search(self.message)
        return m.group(1) if m else None


@dataclass(slots=True)
class LogResources:
    """Resource figures of one function as the log states them (None = not stated)."""

    name: str
    registers: int | None = None
    barriers: int | None = None
    stack_bytes: int | None = None
    spill_stores: int | None = None
    spill_loads: int | None = None
    shared_static: int | None = None  # ptxas dialect: without the reserved area
    shared_linked: int | None = None  # nvJitLink dialect: with the reserved area
    local_bytes: int | None = None
    const_bytes: dict[int, int] = field(default_factory=dict)
    entry: bool = False


def diagnostics(log: str) -> list[LogDiag]:
    """Every error, warning and fatal line of ``log`` in order, plus coded advisories
    (``ptxas info : (C7504) Potential Performance Loss: 'setmaxnreg' ignored ...``); other info lines
    are skipped."""
    out = []
    for raw in log.splitlines():
        if a := _ADVISORY.match(raw.strip()):
            out.append(LogDiag("advisory", f"({a.group('code')}) {a.group('msg').strip()}", None, raw.strip()))
            continue
        if lk := _LINKER.match(raw.strip()):  # nvJitLink's own link step
            out.append(LogDiag(lk.group("sev"), lk.group("msg").strip(), None, raw.strip()))
            continue
        m = _DIAG.match(raw.strip())
        if m and m.group("sev") != "info":
            line = int(m.group("line")) if m.group("line") else None
            if line is None and (ol := _ON_LINE.search(m.group("msg"))):
                line = int(ol.group(1))  # "Unexpected non-ASCII character encountered on line 2"
            out.append(LogDiag(m.group("sev"), m.group("msg").strip(), line, raw.strip()))
    return out


def resources(log: str) -> dict[str, LogResources]:
    """Per-function figures from a ``-verbose`` / ``-v`` log, both dialects merged by name."""
    out: dict[str, LogResources] = {}
    entries: set[str] = set()
    cur: LogResources | None = None
    for raw in log.splitlines():
        s = raw.strip()
        if m := _COMPILING.search(s):
            entries.add(m.group("k"))
            continue
        if m := _PROPS.search(s):
            cur = out.setdefault(m.group("k"), LogResources(m.group("k")))
            continue
        if cur is None:
            continue
        if m := _STACK.search(s):
            cur.stack_bytes = int(m.group("stack"))
            cur.spill_stores, cur.spill_loads = int(m.group("ss")), int(m.group("sl"))
        elif m := _USED.match(s):
            cur.registers = int(m.group("regs"))
            rest = m.group("rest")
            if b := _BARRIERS.search(rest):
                cur.barriers = int(b.group(1))
            smem = _SMEM.search(rest)
            linker = m.group("tool") == "info"
            if linker:
                cur.shared_linked = int(smem.group(1)) if smem else 0
                if st := _STACK_SHORT.search(rest):
                    cur.stack_bytes = int(st.group(1))
            else:
                cur.shared_static = int(smem.group(1)) if smem else 0
            if lm := _LMEM.search(rest):
                cur.local_bytes = int(lm.group(1))
            for c in _CMEM.finditer(rest):
                cur.const_bytes[int(c.group(2))] = int(c.group(1))
            cur = None
    for name in entries & out.keys():
        out[name].entry = True
    return out
