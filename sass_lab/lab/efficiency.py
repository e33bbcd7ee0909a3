"""Static efficiency: the FFMA share of the instructions in a kernel's main loop.

A GEMM-like kernel can issue at most one instruction per cycle per scheduler, so the share of FFMAs
among the instructions of its hot loop is a ceiling on its FP32 efficiency. maxas' SGEMM reached
98.8 % (:data:`MAXAS_ANCHOR`). The count comes from the SASS listing when ``sass_lab.sass.stats`` can
give it (labelled ``"SASS"``), and otherwise from the emitted PTX (labelled ``"PTX"``): the main loop
is the loop holding the most FFMAs (PTX: the backward-branch region ``L: ... bra L`` with the most
``fma.f32``), the tightest such loop when several tie (a kernel with a fast path for interior blocks
has one loop per path), or the whole kernel when it has no loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAXAS_ANCHOR = 0.988  # maxas SGEMM main loop: FFMA share of issue slots (Maxwell)

_LABEL_RE = re.compile(r"^\s*([A-Za-z_$%][\w$%]*)\s*:")
_BRA_RE = re.compile(r"^\s*(?:@!?%?[\w$]+\s+)?bra(?:\.uni)?\s+([A-Za-z_$%][\w$%]*)\s*;")
_FFMA_RE = re.compile(r"^\s*(?:@!?%?[\w$]+\s+)?(?:fma|mad)(?:\.\w+)*\.f32\s")
_ENTRY_RE = re.compile(r"\.entry\s+([\w$]+)")


@dataclass(frozen=True)
class StaticEff:
    """FFMA share of the main loop and where the count came from."""

    share: float  # ffma / loop_instrs, 0..1
    source: str  # "SASS" or "PTX"
    loop_instrs: int
    ffma: int

    @property
    def vs_anchor(self) -> float:
        """This share over maxas' 98.8 %."""
        return self.share / MAXAS_ANCHOR

    def to_dict(self) -> dict:
        return {"share": self.share, "source": self.source, "loop_instrs": self.loop_instrs,
                "ffma": self.ffma, "anchor": MAXAS_ANCHOR}

    def __str__(self) -> str:
        return (f"{self.share * 100:.1f} % FFMA ({self.ffma}/{self.loop_instrs} {self.source} "
                f"instructions in the main loop; maxas anchor {MAXAS_ANCHOR * 100:.1f} %)")


def kernel_ptx_lines(ptx: str, name: str) -> list[str]:
    """The body lines of ``.entry name`` in a PTX module (between its outer braces)."""
    lines = ptx.splitlines()
    start = None
    for i, line in enumerate(lines):
        m = _ENTRY_RE.search(line)
        if m and m.group(1) == name:
            start = i
            break
    if start is None:
        return []
    depth, body, opened = 0, [], False
    for line in lines[start:]:
        code = line.split("//")[0]
        for ch in code:
            if ch == "{":
                depth += 1
                opened = True
            elif ch == "}":
                depth -= 1
        if opened:
            body.append(code)
            if depth == 0:
                break
    return body


def _is_instr(code: str) -> bool:
    s = code.strip()
    if not s or s in ("{", "}") or s.startswith((".", "//")):
        return False
    if _LABEL_RE.match(s) and s.rstrip().endswith(":"):
        return False
    return s.endswith(";")


def ptx_loop_share(lines: list[str]) -> tuple[int, int]:
    """(instructions, FFMAs) of the hottest backward-branch loop in PTX body ``lines``."""
    labels: dict[str, int] = {}
    loops: list[tuple[int, int]] = []
    for i, line in enumerate(lines):
        s = line.strip()
        m = _LABEL_RE.match(s)
        if m:
            labels[m.group(1)] = i
            s = s[m.end():].strip()
        b = _BRA_RE.match(s)
        if b and b.group(1) in labels:
            loops.append((labels[b.group(1)], i))
    regions = loops or [(0, len(lines) - 1)]
    best = None
    for a, b in regions:
        instrs = [ln for ln in lines[a:b + 1] if _is_instr(_LABEL_RE.sub("", ln.strip(), count=1))]
        ffma = sum(1 for ln in instrs if _FFMA_RE.match(_LABEL_RE.sub("", ln.strip(), count=1)))
        key = (ffma, -len(instrs))
        if best is None or key > best[0]:
            best = (key, len(instrs), ffma)
    return best[1], best[2]


def _from_sass(kernel) -> StaticEff | None:
    try:
        from ..sass.flow import loops
        from ..sass.stats import hot_loop_ffma_share  # noqa: F401 - the SASS view's own figure
    except ImportError:
        return None
    try:
        instrs: list[Any] = list(kernel.sass)
    except Exception:  # noqa: BLE001 - no nvdisasm or an unreadable cubin: fall back to PTX
        return None
    if not instrs:
        return None
    best = None
    for lp in loops(instrs) or [None]:
        body = instrs[lp.start:lp.end + 1] if lp else instrs
        ffma = sum(1 for ins in body if ins.opcode == "FFMA")
        if best is None or (ffma, -len(body)) > (best[1], -best[0]):
            best = (len(body), ffma)
    return StaticEff(best[1] / best[0], "SASS", best[0], best[1])


def static_efficiency(kernel, prefer_sass: bool = True) -> StaticEff:
    """FFMA share of ``kernel``'s main loop (an ``api.Kernel``): SASS when available, else PTX."""
    if prefer_sass:
        eff = _from_sass(kernel)
        if eff is not None:
            return eff
    return ptx_static_efficiency(kernel.ptx, kernel.name)


def ptx_static_efficiency(ptx: str, name: str) -> StaticEff:
    """The PTX-level count for kernel ``name`` of a PTX module."""
    loop, ffma = ptx_loop_share(kernel_ptx_lines(ptx, name))
    return StaticEff(ffma / loop if loop else 0.0, "PTX", loop, ffma)
