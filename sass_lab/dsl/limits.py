"""Front-end limits: a hostile or runaway source ends with a clear error, in seconds and bounded memory.

Each limit has a name; an error that hits one names it and the option that raises it
(``--limit NAME=N`` on the command line, ``$SASS_LAB_LIMITS="NAME=N,..."`` anywhere, or
``frontend(..., limits=Limits(...))``). The defaults are far above every real kernel: the shipped
ones expand to < 5,000 lines, nvcc output of a large module to ~30,000.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, fields, replace

from ..errors import UsageError


@dataclass(frozen=True)
class Limits:
    lines: int = 500_000  # expanded lines (and source lines after .include)
    bytes: int = 32 << 20  # expanded text (and a main source file)
    include_depth: int = 32  # nested .include levels
    include_bytes: int = 4 << 20  # bytes read by .include in all (each inclusion counts)
    seconds: float = 30.0  # wall-clock budget for running the file's Python (expansion)
    reg_array: int = 255  # 32-bit registers in one register array (a thread has at most 255)


DESCRIPTION = {
    "lines": "expanded lines", "bytes": "bytes of expanded text", "include_depth": "nested .include levels",
    "include_bytes": "bytes read by .include", "seconds": "seconds of expansion (the file's Python)",
    "reg_array": "32-bit registers in one register array",
}


def parse_limits(text: str, where: str = "$SASS_LAB_LIMITS") -> dict[str, float]:
    """``"lines=2e6,seconds=120"`` → ``{"lines": 2000000, "seconds": 120.0}`` (UsageError if bad)."""
    names = {f.name: f.type for f in fields(Limits)}
    out: dict[str, float] = {}
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in names:
            raise UsageError(f"{where}: unknown limit '{name}'", hint=f"limits: {', '.join(names)}")
        try:
            v = float(value)
        except ValueError:
            v = float("nan")
        if not 0 < v < float("inf"):
            raise UsageError(f"{where}: limit {name} needs a positive number, got '{value.strip()}'",
                             hint=f"e.g. {where.split()[0]} {name}={getattr(Limits(), name)}")
        out[name] = v if names[name] == "float" else int(v)
    return out


def current() -> Limits:
    """The defaults, raised or lowered by ``$SASS_LAB_LIMITS`` (the CLI's ``--limit`` sets it)."""
    return _from_env(os.environ.get("SASS_LAB_LIMITS", ""))


@functools.lru_cache(maxsize=8)
def _from_env(text: str) -> Limits:
    return replace(Limits(), **parse_limits(text)) if text else Limits()


def how_to_raise(name: str, value) -> str:
    """The hint of an error that hit limit ``name``."""
    bigger = f"{value * 4:g}" if isinstance(value, float) else str(value * 4)
    return (f"limit '{name}' ({DESCRIPTION[name]}) is {value:,}; if this is intended, raise it with "
            f"--limit {name}={bigger} (or SASS_LAB_LIMITS={name}={bigger})")
