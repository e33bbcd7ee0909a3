"""SASS instruction text → variant key and operand fields, for learning and re-encoding encodings.

An instruction's **variant** is its opcode with modifiers, the guard kind and the operand *shape*:
the text with every register, predicate, number and label replaced by a placeholder, operand flags
(``-``, ``|..|``, ``!``, ``~``) and ``.reuse`` markers removed. Its **fields** are the replaced atoms
in order, each a small integer (or a number/label whose bits depend on a mode, see ``values``):

====  =======================================  =====  ==========================
kind  atom                                     width  value
====  =======================================  =====  ==========================
R     ``R0``…``R254``, ``RZ``                      8  n, RZ = 255
U     ``UR0``…``UR62``, ``URZ``                    6  n, URZ = 63
P     ``P0``…``P6``, ``PT`` (guard too)             3  n, PT = 7
Q     ``UP0``…``UP6``, ``UPT``                      3  n, UPT = 7
B     convergence barrier ``B0``…``B15``           4  n
S     scoreboard ``SB0``…``SB5``                   3  n
F     flags of the next R/U/P/Q/c atom             3  bit 0 ``-``, bit 1 ``|..|``, bit 2 ``!``/``~``
N     number (hex, decimal, float, INF/NAN)     mode  see :func:`number_bits`
L     local label ```(.L_x_3)``                 mode  see :func:`label_bits`
====  =======================================  =====  ==========================

Function names (```(__cuda_sm20_…)``), relocated operands (``32@lo((k + .L_x_0@srel))``, ``32@hi(__cudart_i2opi_d)``), special
registers (``SR_TID.X``, ``SRZ``) and other names stay in the shape: they are part of the variant.
The guard always gives two fields (``P``/``Q`` and ``F``), so unguarded instructions share their
variant with guarded ones (no guard = ``@PT``).
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass

WIDTH = {"R": 8, "U": 6, "P": 3, "Q": 3, "B": 4, "S": 3, "F": 3}
ZERO = {"R": 255, "U": 63, "P": 7, "Q": 7}
NUMBER_MODES = ("i", "f", "d", "h", "b")  # int (64-bit), fp32, fp64 high word, fp16, bf16 bits
LABEL_MODES = ("n", "s", "a")  # target - (address + 16), target - address, target
MODE_WIDTH = {"i": 64, "f": 32, "d": 32, "h": 16, "b": 16, "n": 64, "s": 64, "a": 64}
_M64 = (1 << 64) - 1

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<label>`\((?P<lname>[^)]*)\))
  | (?P<reloc>\d+@\w+\((?:\(.*?\)|[^()]*)\))
  | (?P<reg>R(?:\d+|Z))(?![\w])
  | (?P<ureg>UR(?:\d+|Z))(?![\w])
  | (?P<upred>UP(?:[0-7]|T))(?![\w])
  | (?P<pred>P(?:[0-7]|T))(?![\w])
  | (?P<sb>SB[0-7])(?![\w])
  | (?P<bar>B(?:\d+))(?![\w])
  | (?P<num>(?:-|\+(?=[A-Z]))?(?:0x[0-9a-fA-F]+|(?:\d+\.\d*|\d+)(?:[eE][-+]?\d+)?|INF|QNAN|SNAN|NAN)(?![\w]))
  | (?P<suffix>\.\w+)
  | (?P<name>[A-Za-z_]\w*(?:\.\w+)*)
  | (?P<flag>[-!~|])
  | (?P<punct>[\[\]{}+,*])
""", re.X)
_GUARD = re.compile(r"^\s*@(?P<not>!?)(?P<p>U?P(?:[0-7]|T))\s+")
_OPCODE = re.compile(r"^\s*(?P<op>[A-Z][A-Z0-9_]*(?:\.[A-Za-z0-9_]+)*)")
_FLAGGABLE = {"reg": "R", "ureg": "U", "pred": "P", "upred": "Q"}
_KIND = {"reg": "R", "ureg": "U", "pred": "P", "upred": "Q", "sb": "S", "bar": "B"}


class FieldError(ValueError):
    """The text is not an instruction this module can split (the message says why)."""


@dataclass(frozen=True, slots=True)
class Split:
    """One instruction's variant key, family key (key without the opcode's modifiers) and atoms.

    ``atoms`` are ``(kind, raw)`` pairs: ``raw`` is an int for R/U/P/Q/B/S/F, the token for N and the
    label name for L. ``reuse`` counts the ``.reuse`` markers (they live in the control bits)."""

    key: str
    family: str
    opcode: str
    atoms: tuple[tuple[str, object], ...]
    reuse: tuple[int, ...] = ()
    symbols: tuple[str, ...] = ()  # relocated operands and called functions, as written

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(raw for kind, raw in self.atoms if kind == "L")


def _reg_value(kind: str, tok: str) -> int:
    digits = tok.lstrip("URSPB")
    return ZERO[kind] if digits in ("Z", "T") else int(digits)


def split(text: str, local: frozenset[str] | set[str] | dict | None = None) -> Split:
    """Split one instruction text (as nvdisasm prints it, with or without the trailing ``;``).

    A backquoted name is a label atom (``L``) when it starts with ``.L`` or is in ``local`` (labels
    of the same section, e.g. a subroutine that ``CALL.REL``/``RET.REL`` reach by offset); any other
    name is a function filled in by a relocation and stays in the shape."""
    body = text.strip()
    if body.endswith(";"):
        body = body[:-1]
    atoms: list[tuple[str, object]] = []
    g = _GUARD.match(body)
    gkind = "P"
    if g:
        gkind = "Q" if g.group("p").startswith("U") else "P"
        atoms += [(gkind, _reg_value(gkind, g.group("p"))), ("F", 4 if g.group("not") else 0)]
        body = body[g.end():]
    else:
        atoms += [("P", 7), ("F", 0)]
    m = _OPCODE.match(body)
    if not m:
        raise FieldError(f"no opcode in '{text.strip()}'")
    opcode = m.group("op")
    rest = body[m.end():]
    shape: list[str] = []
    flags = 0
    in_abs = False
    reuse: list[int] = []
    symbols: list[str] = []
    pos = 0
    while pos < len(rest):
        t = _TOKEN.match(rest, pos)
        if not t:
            raise FieldError(f"cannot read '{rest[pos:]}' in '{text.strip()}'")
        pos = t.end()
        kind = t.lastgroup if t.lastgroup != "lname" else "label"
        tok = t.group(0)
        if kind == "ws":
            if shape and shape[-1] not in (" ", ",", "[", "{") and pos < len(rest):
                shape.append(" ")
            continue
        if kind == "flag":
            if tok == "|":
                in_abs = not in_abs
                if in_abs:
                    flags |= 2
                continue
            flags |= 1 if tok == "-" else 4
            continue
        if kind in _FLAGGABLE or (kind == "name" and tok in ("c", "cx")):
            atoms.append(("F", flags | (2 if in_abs and not flags & 2 else 0)))
            flags = 0
        elif flags:
            raise FieldError(f"operand flag before '{tok}' in '{text.strip()}'")
        if kind in _KIND:
            k = _KIND[kind]
            atoms.append((k, _reg_value(k, tok)))
            shape.append(k)
        elif kind == "num":
            atoms.append(("N", tok))
            shape.append("N")
        elif kind == "label":
            name = t.group("lname")
            if name.startswith(".L") or (local is not None and name in local):
                atoms.append(("L", name))
                shape.append("L")
            else:  # a function: filled in by a relocation
                symbols.append(tok)
                shape.append("`(F)")
        elif kind == "suffix":
            if tok == ".reuse":
                reuse.append(sum(1 for a in atoms if a[0] != "F"))
                continue
            shape.append(tok)
        elif kind == "reloc":  # 32@lo((k + .L_x_0@srel)): the field is filled by a relocation
            symbols.append(tok)
            shape.append(tok[:tok.index("(")] + "(X)")
        else:  # name, punct
            shape.append(tok)
    if in_abs or flags:
        raise FieldError(f"unbalanced operand flags in '{text.strip()}'")
    shape_s = "".join(shape).replace(" ,", ",").replace(",", ", ").replace(",  ", ", ")
    gk = "@U" if gkind == "Q" else ""
    op_base = opcode.split(".")[0]
    return Split(key=f"{gk}{opcode} {shape_s}".rstrip(), family=f"{gk}{op_base} {shape_s}".rstrip(),
                 opcode=opcode, atoms=tuple(atoms), reuse=tuple(reuse), symbols=tuple(symbols))


# --------------------------------------------------------------------------- values

_SPECIAL = {"INF": math.inf, "NAN": math.nan, "QNAN": math.nan, "SNAN": math.nan}


def _float(tok: str) -> float:
    sign = -1.0 if tok.startswith("-") else 1.0
    t = tok.lstrip("+-")
    return sign * _SPECIAL[t] if t in _SPECIAL else sign * float(t)


def number_bits(tok: str, mode: str) -> int | None:
    """The bits a number token stands for under ``mode`` (None when it cannot):

    * ``i``: an integer as 64-bit two's complement (hex and decimal; no floats);
    * ``f``: fp32 bits of a decimal/float (``-0`` keeps its sign; NAN/QNAN = 0x7fffffff, the
      canonical NaN nvdisasm prints); hex = the raw bits;
    * ``d``: the high 32 bits of the fp64 value (low 32 bits must be 0); hex = the raw bits;
    * ``h``/``b``: fp16 / bf16 bits (the value must be exact); hex = the raw bits.

    NaN tokens (``QNAN``, ``+QNAN``…) name no payload: nvdisasm prints ``+QNAN`` for 0x7fffffff and for
    0x7ff00000 alike, so they have no value here (the editable listing writes NaNs as hex bits)."""
    t = tok.lstrip("+-")
    neg = tok.startswith("-")
    if t.startswith(("0x", "0X")):
        v = int(t, 16)
        v = -v if neg else v
        if mode == "i":
            return v & _M64
        w = 16 if mode in ("h", "b") else 32
        return v & ((1 << w) - 1) if -(1 << (w - 1)) <= v < (1 << w) else None
    is_int = t.isdigit()
    if mode == "i":
        return (-int(t) if neg else int(t)) & _M64 if is_int else None
    x = _float(tok)
    if math.isnan(x):
        return None
    if mode == "f":
        try:
            bits = struct.unpack("<I", struct.pack("<f", x))[0]
        except OverflowError:
            return None
        back = struct.unpack("<f", struct.pack("<I", bits))[0]
        if not math.isinf(x) and (math.isinf(back) or (is_int and back != x)):
            return None
        return bits
    if mode == "d":
        bits = struct.unpack("<Q", struct.pack("<d", x))[0]
        return bits >> 32 if bits & 0xFFFFFFFF == 0 else None
    if mode == "h":
        try:
            bits = struct.unpack("<H", struct.pack("<e", x))[0]
        except OverflowError:
            return None
        return bits if struct.unpack("<e", struct.pack("<H", bits))[0] == x or math.isinf(x) else None
    if mode == "b":
        try:
            bits = struct.unpack("<I", struct.pack("<f", x))[0]
        except OverflowError:  # beyond fp32 (an fp64 immediate such as 8.98e+307)
            return None
        return bits >> 16 if bits & 0xFFFF == 0 and struct.unpack("<f", struct.pack("<I", bits))[0] == x \
            or math.isinf(x) else None
    raise ValueError(mode)


def label_bits(target: int, address: int, mode: str) -> int:
    """A branch target under ``mode``: ``n`` relative to the next instruction, ``s`` to this one,
    ``a`` absolute (section offset); 64-bit two's complement."""
    v = {"n": target - address - 16, "s": target - address, "a": target}[mode]
    return v & _M64


def modes(kind: str) -> tuple[str, ...]:
    """The value modes of an atom kind ('' for plain integer fields)."""
    return NUMBER_MODES if kind == "N" else LABEL_MODES if kind == "L" else ("",)


def width(kind: str, mode: str) -> int:
    return MODE_WIDTH[mode] if mode else WIDTH[kind]


def atom_bits(kind: str, raw, mode: str, address: int = 0, labels: dict | None = None) -> int | None:
    """The integer an atom contributes under ``mode`` (None when it has no value in that mode)."""
    if kind == "N":
        return number_bits(raw, mode)
    if kind == "L":
        if labels is None or raw not in labels:
            return None
        return label_bits(labels[raw], address, mode)
    return raw
