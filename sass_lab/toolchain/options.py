"""How a module is compiled: one frozen options object, one table from its fields to compiler flags.

Compile options and ``.define`` values never share a namespace: ``assemble(..., options=...,
defines={...})`` keeps them apart, so a define may be called ``schedule`` or ``file``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError

COMPILERS = ("ptxas", "nvjitlink")  # the ptxas command line (whole program), nvJitLink (relocatable)

# field -> the nvJitLink-style flag it turns into (``{}`` takes the value); fields not listed here
# steer the passes or pick the compiler and have no flag
FLAGS: dict[str, str] = {
    "maxrregcount": "-maxrregcount={}",
    "lineinfo": "-lineinfo",
    "warn_spills": "-Xptxas=-warn-spills",
}


@dataclass(frozen=True, slots=True)
class CompileOptions:
    """Everything besides the source, its defines and the arch that changes the binary."""

    schedule: bool = True  # reorder .schedule regions (passes.schedule)
    share_registers: bool = True  # share named registers whose live ranges do not meet (passes.regalloc)
    compiler: str | None = None  # "ptxas" (None: $SASS_LAB_COMPILER, else ptxas) or "nvjitlink"
    timeout: float | None = None  # seconds before a compile is killed (None: $SASS_LAB_COMPILE_TIMEOUT, else 300)
    maxrregcount: int | None = None  # -maxrregcount=N: cap registers per thread (16..255)
    lineinfo: bool = False  # -lineinfo, and .loc directives in the PTX naming the .sasm lines
    warn_spills: bool = False  # ptxas -warn-spills: a warning per spilling kernel, mapped to its .entry
    extra: tuple[str, ...] = ()  # further nvJitLink-style options, e.g. ("-Xptxas=-O1",)

    def __post_init__(self) -> None:
        if self.maxrregcount is not None and not 16 <= self.maxrregcount <= 255:
            raise UsageError(f"maxrregcount {self.maxrregcount} out of range", hint="use 16..255")
        if self.compiler is not None and self.compiler not in COMPILERS:
            raise UsageError(f"unknown compiler '{self.compiler}'", hint=f"choose one of {', '.join(COMPILERS)}")
        if self.timeout is not None:
            seconds(self.timeout, "the compile timeout")

    def flags(self) -> tuple[str, ...]:
        """The compiler flags these options ask for, in table order, then ``extra``."""
        out = []
        for name, flag in FLAGS.items():
            value = getattr(self, name)
            if value is None or value is False:
                continue
            out.append(flag.format(value) if "{}" in flag else flag)
        return (*out, *self.extra)



def seconds(value, what: str) -> float:
    """``value`` as a positive, finite number of seconds (UsageError naming ``what`` otherwise)."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        t = float("nan")
    if not 0 < t < float("inf"):
        raise UsageError(f"{what} must be a positive number of seconds, got {value!r}")
    return t
