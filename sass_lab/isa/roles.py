"""Which operands an instruction writes and which it reads (the one rule every pass shares).

PTX puts the destination first. Instructions whose first operand is a memory operand (``st``, ``red``,
``cp.async``, ``mbarrier.init``, ``stmatrix``, ...) and the opcodes in ``NO_DEST`` write no register.
Registers inside a memory operand and guard predicates are always read. ``wgmma`` accumulators are
read and written.
"""

from __future__ import annotations

from ..ir import Guard, Instr, Mem, Operand, PredPair, Reg, Vec

NO_DEST = frozenset({
    "bra", "brx", "ret", "exit", "bar", "barrier", "membar", "fence", "trap", "brkpt", "call",
    "prefetch", "prefetchu", "nanosleep", "griddepcontrol", "setmaxnreg", "pmevent", "st", "red",
    "cp", "stmatrix", "discard", "applypriority", "createpolicy_noop",
})
# Opcodes whose destination is also read (accumulate in place).
DEST_IS_READ = frozenset({"wgmma"})


def _regs(op: Operand):
    if isinstance(op, Reg):
        yield op
    elif isinstance(op, Vec):
        for it in op.items:
            yield from _regs(it)
    elif isinstance(op, PredPair):
        yield from _regs(op.first)
        yield op.second
    elif isinstance(op, Mem):
        if isinstance(op.base, Reg):
            yield op.base
        for c in op.coords:
            yield from _regs(c)


def writes_register(ins: Instr) -> bool:
    """True when the first operand is a destination register (or register list)."""
    if not ins.operands or ins.opcode in NO_DEST or isinstance(ins.operands[0], Mem):
        return False
    if ins.opcode == "cp" or (ins.opcode == "mbarrier" and "init" in ins.mods):
        return False
    if ins.opcode == "wgmma" and ins.mods[:1] != ("mma_async",):
        return False  # wgmma.fence / commit_group / wait_group
    return True


def defs_uses(ins: Instr) -> tuple[tuple[Reg, ...], tuple[Reg, ...]]:
    """(registers written, registers read) by ``ins``, guard included, in operand order."""
    ops = ins.operands
    defs: list[Reg] = []
    uses: list[Reg] = []
    start = 0
    if writes_register(ins):
        first = ops[0]
        if isinstance(first, Mem):  # pragma: no cover - excluded above
            uses.extend(_regs(first))
        else:
            defs.extend(_regs(first))
            if ins.opcode in DEST_IS_READ:
                uses.extend(_regs(first))
        start = 1
    for op in ops[start:]:
        uses.extend(_regs(op))
    if isinstance(ins.guard, Guard):
        uses.append(ins.guard.reg)
    return tuple(defs), tuple(uses)


def async_registers(ins: Instr) -> tuple[Reg, ...]:
    """Registers the hardware reads or writes after the instruction issued (until the
    ``wgmma.wait_group`` that covers it): a ``wgmma.mma_async``'s accumulators and A fragment.
    Descriptors and ``scale-d`` are read at issue."""
    if ins.opcode != "wgmma" or ins.mods[:1] != ("mma_async",) or not ins.operands:
        return ()
    out = list(_regs(ins.operands[0]))
    if len(ins.operands) > 1 and isinstance(ins.operands[1], Vec):
        out.extend(_regs(ins.operands[1]))
    return tuple(out)


def is_async_wait(ins: Instr) -> bool:
    """``wgmma.wait_group``: the point where async accumulators become the program's again."""
    return ins.opcode == "wgmma" and ins.mods[:1] == ("wait_group",)


def arch_specific(ins: Instr) -> bool:
    """An instruction of sm_90a's arch-specific feature set (PTX ISA: wgmma, setmaxnreg)."""
    return ins.opcode in ("wgmma", "setmaxnreg")


def is_branch(ins: Instr) -> bool:
    return ins.opcode in ("bra", "brx", "ret", "exit", "call", "trap")


def is_barrier(ins: Instr) -> bool:
    return ins.opcode in ("bar", "barrier", "membar", "fence") or (
        ins.opcode == "wgmma" and ins.mods[:1] != ("mma_async",)) or ins.opcode == "mbarrier"


def state_space(ins: Instr) -> str | None:
    """The memory state space an instruction touches (``global``, ``shared``, ...), or None."""
    if ins.opcode in ("ld", "st", "atom", "red", "ldu", "prefetch", "cp", "ldmatrix", "stmatrix",
                      "mbarrier", "cvta"):
        for m in ins.mods:
            base = m.split("::")[0]
            if base in ("global", "shared", "local", "param", "const", "generic"):
                return base
        return "generic"
    return None
