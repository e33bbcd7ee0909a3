"""Which R registers an instruction reads and writes, and which source slots (A, B, C) hold them.

Widths: an operand suffix ``.64`` is a pair; loads/stores/atomics take their data width from the
opcode's ``.64``/``.128`` modifier (``LDSM``/``STSM`` from their ``.1/.2/.4`` count); D* ops (DFMA, DADD, DMUL,
DSETP, DMNMX) use pairs for every R operand; ``IMAD.WIDE`` writes a pair and reads a pair in
slot C; ``CS2R`` writes a pair; conversions (F2F, F2I, I2F, I2I, FRND) take widths from their type
modifiers (F64/S64/U64 = pair; ``_convert_types`` says which is the destination's); HMMA and HGMMA fragment sizes
come from the shape (``16816``/``1688``; ``64xNx16`` → N/2 F32 or N/4 F16 accumulator registers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Operand, SassInstr

NO_DEST = frozenset({
    "ST", "STG", "STS", "STL", "STAS", "STSM", "RED", "REDG", "BAR", "BRA", "BRX", "JMP", "JMX", "EXIT",
    "RET", "CALL", "BSSY", "BSYNC", "BREAK", "NOP", "DEPBAR", "WARPSYNC", "MEMBAR", "ERRBAR", "CCTL",
    "CCTLL", "LDGSTS", "LDGDEPBAR", "ARRIVES", "WARPGROUP", "UTMALDG", "UTMASTG", "UTMAPF", "UTMACCTL",
    "UBLKCP", "UBLKPF", "UBLKRED", "FENCE", "KILL", "YIELD", "BPT", "CGAERRBAR", "ACQBULK", "BMOV",
    "UCGABAR_ARV", "UCGABAR_WAIT", "NANOSLEEP", "PREEXIT", "USETMAXREG", "WARPGROUPSET",
})
# Ops whose leading predicates are followed by sources (their first non-predicate is read).
SETP_LIKE = frozenset({"FCHK", "PLOP3", "UPLOP3", "PSETP", "R2P", "ELECT", "VOTE", "VOTEU"})
LOADS = frozenset({"LD", "LDG", "LDS", "LDL", "LDC", "LDSM", "ATOM", "ATOMG", "ATOMS", "LDTRAM"})
STORES = frozenset({"ST", "STG", "STS", "STL", "RED", "REDG", "ATOM", "ATOMG", "ATOMS", "STSM"})
DOUBLE = frozenset({"DFMA", "DADD", "DMUL", "DSETP", "DMNMX", "DSET"})
CONVERT = frozenset({"F2F", "F2I", "I2F", "I2I", "FRND"})
WIDE_TYPES = frozenset({"F64", "S64", "U64"})
_GMMA = re.compile(r"(\d+)x(\d+)x(\d+)$")
# Source k -> reuse slot (0 = A, 1 = B, 2 = C) where it is not simply k. FADD's second source is
# read through slot C: its .reuse marker comes with bit 124 (checked on sm_80 and sm_90 listings).
SLOT_ORDER = {"FADD": (0, 2), "HADD2": (0, 2)}  # HADD2 likewise (HADD2.F32 markers, sm_80 and sm_90)
_NOT_SLOT = ("pred", "upred", "label", "name", "reloc", "mem", "group")


@dataclass(frozen=True, slots=True)
class Access:
    """R registers written (``defs``) and read (``uses``); ``conditional`` when a guard may skip it.
    ``slots`` are the R registers of source slots A, B, C (an empty tuple for RZ, a non-register
    or an unused slot). Source operands (after the destinations, skipping predicates, memory
    operands and names) fill A, B, C in order, except for the ops in ``SLOT_ORDER``."""

    defs: frozenset[int]
    uses: frozenset[int]
    conditional: bool
    slots: tuple[tuple[int, ...], ...]


def _span(op: Operand, width: int) -> tuple[int, ...]:
    r = op.reg
    if r is None:
        return ()
    if "64" in op.suffixes:
        width = max(width, 2)
    return tuple(range(r, r + width))


def _mem_width(mods: tuple[str, ...]) -> int:
    if "128" in mods:
        return 4
    if "64" in mods:
        return 2
    return 1


def _convert_types(op: str, mods) -> tuple[str, str]:
    """(destination type, source type) of a conversion. I2F goes from an integer type to a float type
    and F2I back, whichever order nvdisasm prints them in and with F32/S32 left out (``I2F.S64`` is
    S64 → F32, ``I2F.BF16.S64`` S64 → BF16, ``F2I.U64.FLOOR`` F32 → U64); F2F and I2I print the
    destination first; FRND has one type for both."""
    types = [m for m in mods if _TYPE.fullmatch(m)]
    if op in ("I2F", "F2I"):
        floats = [t for t in types if t[0] in "FB"]
        ints = [t for t in types if t[0] in "SU"]
        f, i = (floats or ["F32"])[0], (ints or ["S32"])[0]
        return (f, i) if op == "I2F" else (i, f)
    if op == "FRND":
        t = types[0] if types else "F32"
        return t, t
    return (types[0] if types else "", types[1] if len(types) > 1 else "")


_TYPE = re.compile(r"(?:BF|F|S|U)\d+")


def _widths(ins: SassInstr, n_dest: int) -> tuple[int, list[int]]:
    """(destination width, per-source widths) in registers."""
    op, mods = ins.opcode, ins.modifiers
    n_src = len(ins.operands) - n_dest
    src = [1] * n_src
    dest = 1
    if op in DOUBLE:
        return 2, [2] * n_src
    if op in LOADS or op in STORES:
        dest = _mem_width(mods)
        if op in ("LDSM", "STSM"):
            dest = next((int(m) for m in reversed(mods) if m in ("1", "2", "4")), 1)
        return dest, [dest if o.kind == "reg" else 1 for o in ins.operands[n_dest:]]
    if op in ("IMAD", "IMAD_WIDE") and "WIDE" in mods:
        if n_src >= 3:
            src[2] = 2
        return 2, src
    if op == "CS2R":
        return (1 if "32" in mods else 2), src
    if op in CONVERT:
        d, s = _convert_types(op, mods)
        return (2 if d in WIDE_TYPES else 1), [2 if s in WIDE_TYPES else 1] * n_src
    if op == "HMMA" and mods:
        acc = 4 if "F32" in mods else 2
        a, b = {"16816": (4, 2), "1688": (2, 1), "16832": (4, 2)}.get(mods[0], (1, 1))
        return acc, [a, b, acc] + [1] * max(0, n_src - 3)
    if op.endswith("GMMA") and mods and _GMMA.match(mods[0]):
        n = int(_GMMA.match(mods[0]).group(2))
        acc = n // 2 if "F32" in mods or "S32" in mods else n // 4
        return acc, [4 if o.kind == "reg" and i == 0 else acc if i == 1 else 1
                     for i, o in enumerate(ins.operands[n_dest:])]
    if "64" in mods:
        return 2, [2] * n_src
    return dest, src


def n_dests(ins: SassInstr) -> int:
    """How many leading operands are destinations."""
    ops, op = ins.operands, ins.opcode
    if op in NO_DEST or not ops:
        return 0
    if ops[0].kind not in ("pred", "upred"):
        return 1
    k = 0
    while k < len(ops) and ops[k].kind in ("pred", "upred"):
        k += 1
    setp = op.endswith(("SETP", "SETP2")) or op in SETP_LIKE
    if not setp and k < len(ops) and ops[k].kind in ("reg", "ureg"):
        k += 1
    return k


def access(ins: SassInstr) -> Access:
    """Register reads, writes and source slots of one instruction."""
    nd = n_dests(ins)
    dw, sw = _widths(ins, nd)
    defs: set[int] = set()
    uses: set[int] = set()
    for o in ins.operands[:nd]:
        defs.update(_span(o, dw))
        for p in o.parts:
            uses.update(r for q in p.registers() for r in _span(q, 1))
    slots: list[tuple[int, ...]] = [(), (), ()]
    order = SLOT_ORDER.get(ins.opcode, (0, 1, 2))
    k = 0
    for o, w in zip(ins.operands[nd:], sw):
        if o.kind in ("mem", "const", "group"):
            for q in o.registers():
                uses.update(_span(q, 1))
        if o.kind in _NOT_SLOT:
            continue
        regs = _span(o, w)
        uses.update(regs)
        if k < len(order):
            slots[order[k]] = regs
        k += 1
    return Access(frozenset(defs), frozenset(uses), ins.guard not in (None, "@PT"), tuple(slots))


def marked_reuse(ins: SassInstr) -> int:
    """The reuse mask implied by the ``.reuse`` markers in the text (bit 0 = slot A)."""
    mask, k = 0, 0
    order = SLOT_ORDER.get(ins.opcode, (0, 1, 2))
    for o in ins.operands[n_dests(ins):]:
        if o.kind in _NOT_SLOT:
            continue
        if o.reuse and k < len(order):
            mask |= 1 << order[k]
        k += 1
    return mask


def deps(ins: SassInstr) -> tuple[frozenset[str], frozenset[str]]:
    """Registers written and read (``R5``, ``P0``, ``UR4``, ``UP1``)."""
    acc = access(ins)
    defs = {f"R{r}" for r in acc.defs}
    uses = {f"R{r}" for r in acc.uses}
    nd = n_dests(ins)
    ops = ins.operands
    # carry-out predicates after an R destination (IADD3 R0, P0, P1, …) are written too
    if nd == 1 and ops and ops[0].kind == "reg" and not ins.opcode.endswith("SETP"):
        k = 1
        while k < len(ops) - 1 and ops[k].kind == "pred" and ops[k + 1].kind in ("pred", "reg", "imm", "const", "ureg"):
            if ins.opcode in ("IADD3", "IMAD", "LEA", "VIADD") and "X" not in ins.modifiers:
                nd = k + 1
            k += 1
    wide_u = "64" in ins.modifiers
    for k, o in enumerate(ops):
        target = defs if k < nd else uses
        if o.kind in ("pred", "upred") and o.base not in ("PT", "UPT"):
            target.add(o.base)
        elif o.kind == "ureg" and o.base != "URZ":
            n = o.ureg
            target.add(f"UR{n}")
            if "64" in o.suffixes or (k < nd and wide_u):
                target.add(f"UR{n + 1}")
        elif o.kind == "name" and o.base == "PR":
            target.update(f"P{j}" for j in range(7))
        for q in o.parts:
            for r in (q,) + q.parts:
                if r.kind == "ureg" and r.base != "URZ":
                    uses.add(f"UR{r.ureg}")
                    if "64" in r.suffixes:
                        uses.add(f"UR{r.ureg + 1}")
    if ins.guard:
        g = ins.guard.lstrip("@!")
        if g not in ("PT", "UPT"):
            uses.add(g)
    return frozenset(defs), frozenset(uses)
