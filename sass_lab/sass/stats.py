"""Static statistics of a kernel's SASS: mix, hot-loop math share, stalls, bank conflicts, reuse,
register liveness.

Bank model (:class:`BankModel`): register ``Rn`` lives in bank ``n % banks``; one instruction reads
at most ``ports`` registers of a bank in one cycle, so ``k`` distinct registers in one bank cost
``ceil(k / ports) - 1`` extra cycles. Only source slots A, B, C holding single 32-bit R registers
count (RZ, constants, immediates, uniform registers, 64-bit pairs and vectors are not scored); a
register repeated in several slots is read once. Reuse cache: each slot remembers the register
read there by the last instruction that had that slot's reuse bit set (and did not yield: a
yielding instruction's reuse bits have no effect); a later read of the same
register in the same slot is served from the cache and costs no bank read. A read of a slot
without the reuse bit empties that slot's cache, and so does every branch target (the cache is
not assumed across control flow).

Presets: ``volta`` (Volta…Hopper, the default) — 2 banks, 2 reads per bank per cycle, i.e. a
conflict only when all three sources sit in one bank, as reported by published Volta/Turing
microbenchmarks; ``maxwell`` — 4 banks, 1 read each (maxas's model for Maxwell/Pascal).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .flow import Loop, hottest_loop, live_counts, loops
from .model import SassInstr
from .regs import access

MATH_OPS = frozenset({"FFMA", "FFMA2", "HMMA", "HGMMA", "IMMA", "IGMMA", "QGMMA", "BGMMA", "DMMA", "DFMA"})
TENSOR_OPS = frozenset({"HMMA", "HGMMA", "IMMA", "IGMMA", "QGMMA", "BGMMA", "DMMA"})
MEMORY_PREFIXES = ("LD", "ST", "ATOM", "RED", "UTMA", "UBLK", "CCTL", "SULD", "SUST", "TLD", "TEX")
BARRIER_OPS = frozenset({"BAR", "DEPBAR", "MEMBAR", "WARPGROUP", "SYNCS", "WARPSYNC", "BSYNC", "ERRBAR",
                         "FENCE", "ARRIVES", "LDGDEPBAR", "UCGABAR_ARV", "UCGABAR_WAIT", "CGAERRBAR"})
BRANCH_OPS = frozenset({"BRA", "BRX", "JMP", "JMX", "CALL", "RET", "EXIT", "BSSY", "BREAK"})


@dataclass(frozen=True, slots=True)
class BankModel:
    """``banks`` register banks (``Rn`` in bank ``n % banks``), ``ports`` reads per bank per cycle."""

    name: str = "volta"
    banks: int = 2
    ports: int = 2


BANK_MODELS = {"volta": BankModel("volta", 2, 2), "maxwell": BankModel("maxwell", 4, 1)}


def op_class(ins: SassInstr) -> str:
    """math (FFMA/DFMA), tensor, memory, barrier, branch or other — the listing's colour classes."""
    op = ins.opcode
    if op in TENSOR_OPS:
        return "tensor"
    if op in MATH_OPS:
        return "math"
    if op in BARRIER_OPS:
        return "barrier"
    if op in BRANCH_OPS:
        return "branch"
    if op.startswith(MEMORY_PREFIXES) and op not in ("LOP3", "LEA", "LEPC"):
        return "memory"
    return "other"


def effective_reuse(ins: SassInstr) -> int:
    """Reuse bits that take effect: none on a yielding instruction (nvdisasm then prints no
    ``.reuse`` markers either, though the bits stay set)."""
    return 0 if ins.yield_ else ins.reuse


def bank_conflicts(instrs: list[SassInstr], model: BankModel = BANK_MODELS["volta"]) -> list[int]:
    """Extra register-read cycles of each instruction under ``model`` (see the module docstring)."""
    targets = {ins.target for ins in instrs if ins.target is not None}
    cache: list[int | None] = [None, None, None]
    out = []
    for ins in instrs:
        if ins.address in targets:
            cache = [None, None, None]
        slots = access(ins).slots
        reads: set[int] = set()
        scored = all(len(s) <= 1 for s in slots)
        for k, regs in enumerate(slots):
            if len(regs) != 1:
                if regs:
                    cache[k] = None
                continue
            r = regs[0]
            if cache[k] != r:
                reads.add(r)
            cache[k] = r if (effective_reuse(ins) >> k) & 1 else None
        cost = 0
        if scored and len(reads) > 1:
            per_bank = Counter(r % model.banks for r in reads)
            cost = sum(-(-n // model.ports) - 1 for n in per_bank.values())
        out.append(cost)
    return out


def _slot_reads(instrs: list[SassInstr]) -> tuple[int, int]:
    """(R-register slot reads, how many of them carry a reuse flag)."""
    reads = flagged = 0
    for ins in instrs:
        for k, regs in enumerate(access(ins).slots):
            if regs:
                reads += 1
                flagged += (effective_reuse(ins) >> k) & 1
    return reads, flagged


def trim(instrs: list[SassInstr]) -> list[SassInstr]:
    """``instrs`` without the end padding: trailing NOPs and the ``BRA`` to itself before them."""
    n = len(instrs)
    while n and instrs[n - 1].opcode == "NOP":
        n -= 1
    if n and instrs[n - 1].opcode == "BRA" and instrs[n - 1].target == instrs[n - 1].address:
        n -= 1
    return list(instrs[:n])


def hot_loop_ffma_share(instrs: list[SassInstr], ops: frozenset[str] = MATH_OPS) -> float:
    """Share of issue slots (instructions) that are math ops (FFMA, HMMA, HGMMA, DFMA, …) in the
    hottest loop, or over the whole function (without end padding) when it has no loop; 0.0 for
    no instructions."""
    instrs = trim(instrs)
    lp = hottest_loop(instrs)
    body = instrs[lp.start:lp.end + 1] if lp else instrs
    if not body:
        return 0.0
    return sum(ins.opcode in ops for ins in body) / len(body)


@dataclass(frozen=True, slots=True)
class KernelStats:
    """Everything ``sass_lab sass`` reports for one function (``to_dict`` is the JSON form)."""

    instructions: int
    mix: dict[str, int]
    classes: dict[str, int]
    loops: tuple[Loop, ...]
    hot_loop: Loop | None
    hot_loop_math_share: float
    hot_loop_instructions: int
    stall_cycles: int
    hot_loop_stall_cycles: int
    bank_model: BankModel
    bank_conflicts: int
    hot_loop_bank_conflicts: int
    reuse_rate: float
    hot_loop_reuse_rate: float
    live_peak: int
    live: tuple[int, ...]
    conflicts: tuple[int, ...]

    def to_dict(self) -> dict:
        return {
            "instructions": self.instructions, "mix": self.mix, "classes": self.classes,
            "loops": [lp.to_dict() for lp in self.loops],
            "hot_loop": self.hot_loop.to_dict() if self.hot_loop else None,
            "hot_loop_math_share": round(self.hot_loop_math_share, 6),
            "hot_loop_instructions": self.hot_loop_instructions,
            "stall_cycles": self.stall_cycles, "hot_loop_stall_cycles": self.hot_loop_stall_cycles,
            "bank_model": {"name": self.bank_model.name, "banks": self.bank_model.banks,
                           "ports": self.bank_model.ports},
            "bank_conflicts": self.bank_conflicts, "hot_loop_bank_conflicts": self.hot_loop_bank_conflicts,
            "reuse_rate": round(self.reuse_rate, 6), "hot_loop_reuse_rate": round(self.hot_loop_reuse_rate, 6),
            "live_peak": self.live_peak,
        }


def _rate(instrs: list[SassInstr]) -> float:
    reads, flagged = _slot_reads(instrs)
    return flagged / reads if reads else 0.0


def kernel_stats(instrs: list[SassInstr], model: BankModel | str = "volta") -> KernelStats:
    """Static statistics of one function's instructions. Counts leave out the end padding
    (:func:`trim`); ``live`` and ``conflicts`` still have one entry per instruction given."""
    from ..errors import UsageError

    if isinstance(model, str):
        if model not in BANK_MODELS:
            raise UsageError(f"unknown bank model '{model}'", hint=f"choose {', '.join(BANK_MODELS)}")
        model = BANK_MODELS[model]
    if model.banks < 1 or model.ports < 1:
        raise UsageError("a bank model needs banks >= 1 and ports >= 1")
    pad = len(instrs) - len(trim(instrs))
    instrs = trim(instrs)
    lp = hottest_loop(instrs)
    lo, hi = (lp.start, lp.end + 1) if lp else (0, len(instrs))
    body = instrs[lo:hi]
    conf = bank_conflicts(instrs, model) + [0] * pad
    live = live_counts(instrs) + [0] * pad
    mix = Counter(ins.opcode for ins in instrs)
    return KernelStats(
        instructions=len(instrs),
        mix=dict(mix.most_common()),
        classes=dict(Counter(op_class(i) for i in instrs).most_common()),
        loops=tuple(loops(instrs)),
        hot_loop=lp,
        hot_loop_math_share=hot_loop_ffma_share(instrs),
        hot_loop_instructions=len(body),
        stall_cycles=sum(i.stall for i in instrs),
        hot_loop_stall_cycles=sum(i.stall for i in body),
        bank_model=model,
        bank_conflicts=sum(conf),
        hot_loop_bank_conflicts=sum(conf[lo:hi]),
        reuse_rate=_rate(instrs),
        hot_loop_reuse_rate=_rate(body),
        live_peak=max(live, default=0),
        live=tuple(live),
        conflicts=tuple(conf),
    )
