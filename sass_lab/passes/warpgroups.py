"""Register pressure per warpgroup role under ``setmaxnreg``.

A warp-specialised kernel gives each role (a TMA producer, the MMA consumers) its own branch, and
each branch starts with ``setmaxnreg.{inc,dec}.sync.aligned.u32 N``: from there on the role's
threads own N registers. The role's code is everything reachable from that instruction in the
control-flow graph; its peak is the highest pressure (:mod:`.liveness` units) there. A peak above
N means ptxas must spill in that role, even though the kernel-wide ``.maxnreg`` may look fine.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Span
from ..ir import Imm, Instr, Kernel
from .cfg import Block


@dataclass(frozen=True, slots=True)
class RolePressure:
    """One ``setmaxnreg`` and the pressure of the code it governs."""

    span: Span | None
    action: str  # "inc" or "dec"
    limit: int  # registers per thread after the instruction
    peak: int
    peak_span: Span | None
    statements: int  # statements reachable from it

    @property
    def fits(self) -> bool:
        return self.peak <= self.limit

    def describe(self) -> str:
        where = f"{self.span.file}:{self.span.line}: " if self.span is not None else ""
        at = f" at {self.peak_span.file}:{self.peak_span.line}" if self.peak_span is not None else ""
        return (f"{where}setmaxnreg.{self.action} {self.limit}: peak {self.peak} live 32-bit registers{at} "
                f"in the {self.statements} statements it governs")


def _block_of(blocks: tuple[Block, ...], i: int) -> int:
    for b, blk in enumerate(blocks):
        if blk.start <= i < blk.end:
            return b
    return -1


def role_pressure(kernel: Kernel, blocks: tuple[Block, ...], profile: tuple[int, ...]) -> tuple[RolePressure, ...]:
    """Every ``setmaxnreg`` of ``kernel`` with the peak pressure of the statements it reaches."""
    out = []
    body = kernel.body
    for i, st in enumerate(body):
        if not (isinstance(st, Instr) and st.opcode == "setmaxnreg" and st.operands):
            continue
        n = st.operands[0]
        if not isinstance(n, Imm) or not isinstance(n.value, int):
            continue
        action = "inc" if "inc" in st.mods else "dec"
        b0 = _block_of(blocks, i)
        idx = list(range(i, blocks[b0].end)) if b0 >= 0 else [i]
        seen = {b0}
        work = list(blocks[b0].succs) if b0 >= 0 else []
        while work:
            b = work.pop()
            if b in seen:
                continue
            seen.add(b)
            idx.extend(range(blocks[b].start, blocks[b].end))
            work.extend(blocks[b].succs)
        peak_i = max(idx, key=lambda j: profile[j])
        out.append(RolePressure(st.span, action, int(n.value), profile[peak_i],
                                getattr(body[peak_i], "span", None), len(idx)))
    return tuple(out)


def role_warnings(kernel: Kernel, roles: tuple[RolePressure, ...]) -> list[str]:
    """A setmaxnreg count the ISA forbids, or a role whose pressure exceeds its registers."""
    out = []
    for r in roles:
        where = f" at {r.span}" if r.span is not None else ""
        if r.limit % 8 or not 24 <= r.limit <= 256:
            out.append(f"{kernel.name}: setmaxnreg {r.limit}{where} must be a multiple of 8 in [24, 256] "
                       "(PTX ISA, setmaxnreg)")
        elif not r.fits:
            out.append(f"{kernel.name}: the warpgroup role after setmaxnreg.{r.action} {r.limit}{where} has "
                       f"{r.peak} live registers at its peak; ptxas will spill in that role")
    return out
