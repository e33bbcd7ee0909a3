"""Volta…Hopper control fields: decode, re-encode and print them.

Bit numbers are over the whole 128-bit instruction word (``lo | hi << 64``; nvdisasm prints ``lo``
first). Checked against nvdisasm output for sm_80 and sm_90:

========  ========  =====================================================
field     bits      meaning
========  ========  =====================================================
stall     105–108   cycles to wait before issuing the next instruction
yield     109       0 = the scheduler may switch warps here ("Y")
write     110–112   scoreboard barrier set when the result is written (7 = none)
read      113–115   scoreboard barrier set when the sources are read (7 = none)
wait      116–121   mask of barriers to wait on before issuing
reuse     122–124   operand reuse cache: A, B, C
========  ========  =====================================================

The listing notation (after maxas) is ``wait:read:write:yield:stall``, e.g. ``01:-:1:Y:5``: the wait
mask as two hex digits (``--`` when zero; bit *i* is barrier *i*), the read and write barrier numbers
0–5 (``-`` when none), ``Y`` when the instruction yields (``-`` otherwise) and the stall count in
decimal. Barrier numbers are the hardware's (0-based), unlike maxas which printed them 1-based.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError

STALL_LO, YIELD_BIT, WRITE_LO, READ_LO, WAIT_LO, REUSE_LO = 105, 109, 110, 113, 116, 122
CTRL_MASK = ((1 << 20) - 1) << STALL_LO  # bits 105..124
NO_BARRIER = 7
REUSE_SLOTS = "ABC"
FIELDS = ("stall", "yield", "write_barrier", "read_barrier", "wait_mask", "reuse")


@dataclass(frozen=True, slots=True)
class Control:
    """Decoded control fields. ``yield_`` is True when the instruction yields (bit 109 == 0);
    barriers are None when unset (raw value 7); ``reuse`` is a 3-bit mask, bit 0 = slot A."""

    stall: int
    yield_: bool
    write_barrier: int | None
    read_barrier: int | None
    wait_mask: int
    reuse: int

    def notation(self) -> str:
        """maxas-style ``wait:read:write:yield:stall``."""
        wait = f"{self.wait_mask:02x}" if self.wait_mask else "--"
        rd = "-" if self.read_barrier is None else str(self.read_barrier)
        wr = "-" if self.write_barrier is None else str(self.write_barrier)
        return f"{wait}:{rd}:{wr}:{'Y' if self.yield_ else '-'}:{self.stall}"

    def to_dict(self) -> dict:
        return {"stall": self.stall, "yield": self.yield_, "write_barrier": self.write_barrier,
                "read_barrier": self.read_barrier, "wait_mask": self.wait_mask, "reuse": self.reuse}


def join_words(lo: int, hi: int) -> int:
    """The 128-bit instruction from nvdisasm's two 64-bit words (printed low first)."""
    return (hi << 64) | lo


def decode(word: int) -> Control:
    """Control fields of a 128-bit instruction word."""
    wr = (word >> WRITE_LO) & 7
    rd = (word >> READ_LO) & 7
    return Control(
        stall=(word >> STALL_LO) & 0xF,
        yield_=not (word >> YIELD_BIT) & 1,
        write_barrier=None if wr == NO_BARRIER else wr,
        read_barrier=None if rd == NO_BARRIER else rd,
        wait_mask=(word >> WAIT_LO) & 0x3F,
        reuse=(word >> REUSE_LO) & 7,
    )


def _check(name: str, value: int, limit: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
        raise UsageError(f"control field {name}={value!r} out of range", hint=f"0 <= {name} < {limit}")
    return value


def encode(ctrl: Control, word: int) -> int:
    """``word`` with bits 105–124 replaced by ``ctrl``; every other bit is kept."""
    wr = NO_BARRIER if ctrl.write_barrier is None else _check("write_barrier", ctrl.write_barrier, 7)
    rd = NO_BARRIER if ctrl.read_barrier is None else _check("read_barrier", ctrl.read_barrier, 7)
    bits = (_check("stall", ctrl.stall, 16) << STALL_LO
            | (0 if ctrl.yield_ else 1) << YIELD_BIT
            | wr << WRITE_LO | rd << READ_LO
            | _check("wait_mask", ctrl.wait_mask, 64) << WAIT_LO
            | _check("reuse", ctrl.reuse, 8) << REUSE_LO)
    return (word & ~CTRL_MASK) | bits


def with_field(ctrl: Control, field: str, value) -> Control:
    """A copy of ``ctrl`` with one field (JSON name: stall, yield, write_barrier, …) changed."""
    from dataclasses import replace

    if field not in FIELDS:
        raise UsageError(f"unknown control field '{field}'", hint=f"fields: {', '.join(FIELDS)}")
    if field == "yield":
        return replace(ctrl, yield_=bool(value))
    if field in ("write_barrier", "read_barrier") and value is not None and value == NO_BARRIER:
        value = None
    return replace(ctrl, **{field: value})


def parse_value(field: str, text: str):
    """A field value from CLI text: ints (0x.. ok), ``-``/``none`` for no barrier, Y/N for yield."""
    t = text.strip().lower()
    if field == "yield":
        if t in ("1", "y", "yes", "true"):
            return True
        if t in ("0", "n", "no", "false", "-"):
            return False
        raise UsageError(f"bad yield value '{text}'", hint="use Y or N")
    if field == "reuse" and t and set(t) <= set("abc-"):
        return sum(1 << REUSE_SLOTS.lower().index(c) for c in t if c != "-")
    if field in ("write_barrier", "read_barrier") and t in ("-", "none"):
        return None
    try:
        return int(t, 0)
    except ValueError:
        raise UsageError(f"bad value '{text}' for {field}") from None
