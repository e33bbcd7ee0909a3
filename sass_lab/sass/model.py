"""Parsed SASS: operands and instructions (frozen, slotted, no behaviour beyond small queries)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .control import Control, decode

_RNUM = re.compile(r"R(\d+)$")
_URNUM = re.compile(r"UR(\d+)$")


@dataclass(frozen=True, slots=True)
class Operand:
    """One operand. ``kind``: reg, ureg, pred, upred, imm, float, const (``c[..][..]``), mem
    (``[..]``, ``desc[..][..]``, ``gdesc[..]``), label, reloc, name (SR_TID.X, gsb0, B0, …) or group.
    ``parts`` are the address components of const/mem operands and the items of a group."""

    kind: str
    text: str
    base: str | None = None
    suffixes: tuple[str, ...] = ()
    reuse: bool = False
    neg: bool = False
    absolute: bool = False
    inverted: bool = False
    value: int | float | None = None
    parts: tuple[Operand, ...] = ()

    @property
    def reg(self) -> int | None:
        """The R register number (None for RZ and non-registers)."""
        m = _RNUM.match(self.base or "") if self.kind == "reg" else None
        return int(m.group(1)) if m else None

    @property
    def ureg(self) -> int | None:
        m = _URNUM.match(self.base or "") if self.kind == "ureg" else None
        return int(m.group(1)) if m else None

    def registers(self) -> tuple[Operand, ...]:
        """R/UR register operands inside this one (itself, or its address parts)."""
        if self.kind in ("reg", "ureg"):
            return (self,)
        return tuple(r for p in self.parts for r in p.registers())


@dataclass(frozen=True, slots=True)
class SassInstr:
    """One instruction: address, text as nvdisasm prints it, parsed fields and the raw word.

    ``word`` is the 128-bit instruction, ``lo | hi << 64`` (nvdisasm prints ``lo`` first);
    ``target`` is the resolved address of a branch label, when the operand is a local label."""

    address: int
    text: str
    guard: str | None
    opcode: str
    modifiers: tuple[str, ...]
    operands: tuple[Operand, ...]
    word: int
    labels: tuple[str, ...] = ()
    target: int | None = None
    ctrl: Control = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ctrl", decode(self.word))

    @property
    def op(self) -> str:
        """Opcode with modifiers, e.g. ``FSETP.GEU.AND``."""
        return ".".join((self.opcode, *self.modifiers))

    @property
    def lo(self) -> int:
        return self.word & ((1 << 64) - 1)

    @property
    def hi(self) -> int:
        return self.word >> 64

    @property
    def word_hex(self) -> str:
        """32 hex digits, high word first (the word as one big-endian number)."""
        return f"{self.word:032x}"

    @property
    def stall(self) -> int:
        return self.ctrl.stall

    @property
    def yield_(self) -> bool:
        return self.ctrl.yield_

    @property
    def write_barrier(self) -> int | None:
        return self.ctrl.write_barrier

    @property
    def read_barrier(self) -> int | None:
        return self.ctrl.read_barrier

    @property
    def wait_mask(self) -> int:
        return self.ctrl.wait_mask

    @property
    def reuse(self) -> int:
        return self.ctrl.reuse

    @property
    def body(self) -> str:
        """The text without the trailing ``;`` and spacing."""
        return " ".join(self.text.rstrip(" ;").split())

    def to_dict(self) -> dict:
        """The JSON record (keys fixed by the ``sass --json`` contract)."""
        return {"address": self.address, "text": self.body, "word": self.word_hex, **self.ctrl.to_dict()}
