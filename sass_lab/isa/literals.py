"""PTX number literals, read one way everywhere (the DSL front end and the emulator's PTX reader).

``0f3F800000`` (float32 bits), ``0d3FF0000000000000`` (float64 bits), ``0x10``, ``0b101``, ``017``
(octal), ``7U``, ``1.5e3``, with an optional leading ``-``.
"""

from __future__ import annotations

import struct


def number(text: str) -> int | float:
    """The value of a PTX numeric literal."""
    neg = text.startswith("-")
    t = text[1:] if neg else text
    if len(t) > 1 and t[0] == "0" and t[1] in "fF" and len(t) == 10:
        v: int | float = struct.unpack(">f", bytes.fromhex(t[2:]))[0]
    elif len(t) > 1 and t[0] == "0" and t[1] in "dD" and len(t) == 18:
        v = struct.unpack(">d", bytes.fromhex(t[2:]))[0]
    else:
        t = t.rstrip("Uu")
        if t[:2] in ("0x", "0X"):
            v = int(t[2:], 16)
        elif t[:2] in ("0b", "0B"):
            v = int(t[2:], 2)
        elif "." in t or "e" in t or "E" in t:
            v = float(t)
        elif len(t) > 1 and t[0] == "0":
            v = int(t, 8)
        else:
            v = int(t)
    return -v if neg else v
