"""Static efficiency: what a kernel's main loop allows before it runs.

Compute-bound kernels: a GEMM-like kernel can issue at most one instruction per cycle per scheduler,
so the share of FFMAs (and tensor-core instructions) among the instructions of its hot loop is a
ceiling on its efficiency. maxas' SGEMM reached 98.8 % (:data:`MAXAS_ANCHOR`). Memory-bound kernels:
that share says nothing (a copy has none), so the figure is the global-memory bytes a thread moves
per instruction it issues in its hot loop (wide loads and few instructions per byte keep the memory
system busy with fewer warps).

The count comes from the SASS listing when ``sass_lab.sass`` can give it (labelled ``"SASS"``), and
otherwise from the emitted PTX (labelled ``"PTX"``): the main loop is the loop holding the most math
(PTX: the backward-branch region ``L: ... bra L`` with the most ``fma.f32``/``mma``), the tightest
such loop when several tie (a kernel with a fast path for interior blocks has one loop per path), or
the whole kernel when it has no loop; the memory figure takes the loop moving the most bytes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

MAXAS_ANCHOR = 0.988  # maxas SGEMM main loop: FFMA share of issue slots (Maxwell)

_LABEL_RE = re.compile(r"^\s*([A-Za-z_$%][\w$%]*)\s*:")
_BRA_RE = re.compile(r"^\s*(?:@!?%?[\w$]+\s+)?bra(?:\.uni)?\s+([A-Za-z_$%][\w$%]*)\s*;")
_FFMA_RE = re.compile(r"^\s*(?:@!?%?[\w$]+\s+)?(?:fma|mad)(?:\.\w+)*\.f32\s")
_TENSOR_RE = re.compile(r"^\s*(?:@!?%?[\w$]+\s+)?(?:mma|wmma\.mma|wgmma\.mma_async)\.")
_GLOBAL_RE = re.compile(r"^\s*(?:@!?%?[\w$]+\s+)?(?:ld|st|ldu)\.global((?:\.\w+)*)\s")
_ASYNC_RE = re.compile(r"^\s*(?:@!?%?[\w$]+\s+)?cp\.async\.\w+\.shared(?:::\w+)?\.global\S*\s+[^,]+,[^,]+,\s*(\d+)")
_BITS_RE = re.compile(r"^[bsuf](\d+)$")
_SASS_GLOBAL = ("LDG", "STG", "LDGSTS")
_SASS_TENSOR = ("HMMA", "HGMMA", "IMMA", "DMMA", "BMMA")
_ENTRY_RE = re.compile(r"\.entry\s+([\w$]+)")
# issue slots one HMMA.16816 (4096 FLOPs) occupies at the dense FP16/BF16 tensor peak, per SM
# sub-partition: 4096 / (peak FLOP/clk/SM / 4). A100: 312 TFLOP/s, 108 SMs, 1.41 GHz -> 8;
# H100 SXM: 989 TFLOP/s, 132 SMs, 1.83 GHz -> 4 (mma.sync; wgmma is needed for the rest of the peak).
HMMA_SLOTS = {"sm_80": 8, "sm_90": 4}


@dataclass(frozen=True)
class StaticEff:
    """Math share of the main loop, bytes moved per instruction, and where the counts came from."""

    share: float  # (ffma + tensor) / loop_instrs, 0..1
    source: str  # "SASS" or "PTX"
    loop_instrs: int
    ffma: int
    tensor: int = 0  # tensor-core instructions (HMMA/HGMMA/... or mma/wgmma) in the same loop
    mem_instrs: int = 0  # instructions of the loop that moves the most global bytes
    global_bytes: int = 0  # bytes per thread that loop loads from or stores to global memory

    @property
    def vs_anchor(self) -> float:
        """This share over maxas' 98.8 %."""
        return self.share / MAXAS_ANCHOR

    def ceiling(self, arch: str = "sm_90") -> float:
        """Issue-slot ceiling on efficiency: the FFMA share; for a tensor-core loop, the tensor share
        times the issue slots one HMMA.16816 takes at the dense FP16 rate of ``arch`` (capped at 1:
        the FFMAs of such a loop are epilogue work, not the tensor peak's)."""
        if not self.loop_instrs:
            return 0.0
        if not self.tensor:
            return self.ffma / self.loop_instrs
        return min(1.0, self.tensor * HMMA_SLOTS.get(arch[:5], 4) / self.loop_instrs)

    @property
    def bytes_per_instr(self) -> float:
        """Global bytes a thread moves per instruction it issues (memory-bound kernels' figure)."""
        return self.global_bytes / self.mem_instrs if self.mem_instrs else 0.0

    def to_dict(self) -> dict:
        return {"share": self.share, "source": self.source, "loop_instrs": self.loop_instrs,
                "ffma": self.ffma, "tensor": self.tensor, "bytes_per_instr": self.bytes_per_instr,
                "anchor": MAXAS_ANCHOR}

    def __str__(self) -> str:
        what = "FFMA" if not self.tensor else "FFMA+tensor"
        return (f"{self.share * 100:.1f} % {what} ({self.ffma + self.tensor}/{self.loop_instrs} {self.source} "
                f"instructions in the main loop; maxas anchor {MAXAS_ANCHOR * 100:.1f} %); "
                f"{self.bytes_per_instr:.2f} global bytes per instruction")


def kernel_ptx_lines(ptx: str, name: str) -> list[str]:
    """The body lines of ``.entry name`` in a PTX module (between its outer braces)."""
    at = next((m.start() for m in _ENTRY_RE.finditer(ptx) if m.group(1) == name), None)
    if at is None:
        return []
    depth, body, opened = 0, [], False
    for line in ptx[ptx.rfind("\n", 0, at) + 1:].splitlines():
        code = line.split("//")[0] if "//" in line else line
        if "{" in code or "}" in code:
            depth += code.count("{") - code.count("}")  # only the depth at the line's end matters
            opened = opened or "{" in code
        if opened:
            body.append(code)
            if depth == 0:
                break
    return body


@functools.lru_cache(maxsize=1 << 16)  # a sweep's candidates share most of their lines
def _is_instr(code: str) -> bool:
    s = code.strip()
    if not s or s in ("{", "}") or s.startswith((".", "//")):
        return False
    if _LABEL_RE.match(s) and s.rstrip().endswith(":"):
        return False
    return s.endswith(";")


@functools.lru_cache(maxsize=1 << 16)
def _ptx_counts(code: str) -> tuple[int, int, int]:
    """(FFMA, tensor, global bytes) of one PTX instruction."""
    if ("fma" in code or "mad" in code) and _FFMA_RE.match(code):  # each pattern needs its word
        return 1, 0, 0
    if "mma" in code and _TENSOR_RE.match(code):
        return 0, 1, 0
    if ".global" not in code:
        return 0, 0, 0
    m = _GLOBAL_RE.match(code)
    if m:
        mods = m.group(1).split(".")
        vec = next((int(x[1:]) for x in mods if x in ("v2", "v4", "v8")), 1)
        bits = next((int(b.group(1)) for x in mods if (b := _BITS_RE.match(x))), 32)
        return 0, 0, vec * bits // 8
    m = _ASYNC_RE.match(code)
    return (0, 0, int(m.group(1))) if m else (0, 0, 0)


def _hottest(counted) -> tuple[int, tuple[int, int, int]]:
    """(instructions, (ffma, tensor, bytes)) of the body with the most math, tightest on a tie
    (``counted``: each body's per-instruction counts)."""
    best = None
    for body in counted:
        n = len(body)
        ffma = tensor = nbytes = 0
        for f, t, b in body:
            ffma, tensor, nbytes = ffma + f, tensor + t, nbytes + b
        math_key = (ffma + tensor, -n)
        if best is None or math_key > best[0]:
            best = (math_key, n, (ffma, tensor, nbytes))
    return best[1], best[2]


def _busiest(counted) -> tuple[int, int]:
    """(instructions, global bytes) of the body moving the most bytes, tightest on a tie."""
    best = None
    for body in counted:
        nbytes = sum(c[2] for c in body)
        if best is None or (nbytes, -len(body)) > best[0]:
            best = ((nbytes, -len(body)), len(body), nbytes)
    return best[1], best[2]


def _ptx_bodies(lines: list[str]) -> list[list[str]]:
    """The instructions of each backward-branch loop of PTX body ``lines`` (the whole body if none)."""
    labels: dict[str, int] = {}
    loops: list[tuple[int, int]] = []
    for i, line in enumerate(lines):
        s = line.strip()
        m = _LABEL_RE.match(s) if ":" in s else None
        if m:
            labels[m.group(1)] = i
            s = s[m.end():].strip()
        b = _BRA_RE.match(s) if "bra" in s else None
        if b and b.group(1) in labels:
            loops.append((labels[b.group(1)], i))
    regions = loops or [(0, len(lines) - 1)]
    out = []
    for a, b in regions:
        codes = [_LABEL_RE.sub("", ln.strip(), count=1) if ":" in ln else ln.strip() for ln in lines[a:b + 1]]
        out.append([c for c in codes if _is_instr(c)])
    return out


def ptx_loop_share(lines: list[str]) -> tuple[int, int]:
    """(instructions, FFMAs) of the hottest backward-branch loop in PTX body ``lines``."""
    n, (ffma, _tensor, _bytes) = _hottest([[_ptx_counts(x) for x in body] for body in _ptx_bodies(lines)])
    return n, ffma


def _sass_counts(ins) -> tuple[int, int, int]:
    """(FFMA, tensor, global bytes) of one SASS instruction."""
    op = ins.opcode
    if op == "FFMA":
        return 1, 0, 0
    if op in _SASS_TENSOR:
        return 0, 1, 0
    if op in _SASS_GLOBAL:
        mods = set(ins.modifiers)
        width = 16 if "128" in mods else 8 if "64" in mods else 2 if mods & {"U16", "S16"} else \
            1 if mods & {"U8", "S8"} else 4
        return 0, 0, width
    return 0, 0, 0


def _from_sass(kernel) -> StaticEff | None:
    try:
        from ..sass.flow import loops
    except ImportError:
        return None
    try:
        instrs: list[Any] = list(kernel.sass)
    except Exception:  # noqa: BLE001 - no nvdisasm or an unreadable cubin: fall back to PTX
        return None
    if not instrs:
        return None
    bodies = [instrs[lp.start:lp.end + 1] for lp in loops(instrs)] or [instrs]
    return _eff("SASS", bodies, _sass_counts)


def _eff(source: str, bodies, count) -> StaticEff:
    counted = [[count(x) for x in body] for body in bodies]  # once, for both questions
    n, (ffma, tensor, _b) = _hottest(counted)
    mem_n, nbytes = _busiest(counted)
    return StaticEff((ffma + tensor) / n if n else 0.0, source, n, ffma, tensor, mem_n if nbytes else 0, nbytes)


def static_efficiency(kernel, prefer_sass: bool = True) -> StaticEff:
    """Static efficiency of ``kernel``'s main loop (an ``api.Kernel``): SASS when available, else PTX."""
    if prefer_sass:
        eff = _from_sass(kernel)
        if eff is not None:
            return eff
    return ptx_static_efficiency(kernel.ptx, kernel.name)


def ptx_static_efficiency(ptx: str, name: str) -> StaticEff:
    """The PTX-level count for kernel ``name`` of a PTX module."""
    return _ptx_eff(tuple(kernel_ptx_lines(ptx, name)))


@functools.lru_cache(maxsize=4)
def _ptx_eff(lines: tuple[str, ...]) -> StaticEff:
    """Remembered by the body's lines: a sweep's candidates that differ only in a directive share it."""
    return _eff("PTX", _ptx_bodies(list(lines)), _ptx_counts)
