"""PTX types as numpy dtypes, and the bit-level conversions between them.

Registers hold arrays over lanes (or 0-d arrays for values uniform across the wave) in the dtype of
their declared type; ``bf16`` is kept as its ``uint16`` bits, packed ``f16x2``/``bf16x2`` as ``uint32``.
Reading a register as another type of the same width is a free ``view``; wider registers (allowed by
PTX for ``ld``/``st``/``cvt``) are truncated or extended.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

DTYPES: dict[str, np.dtype] = {
    "pred": np.dtype(np.bool_),
    "b8": np.dtype(np.uint8), "u8": np.dtype(np.uint8), "s8": np.dtype(np.int8),
    "b16": np.dtype(np.uint16), "u16": np.dtype(np.uint16), "s16": np.dtype(np.int16),
    "f16": np.dtype(np.float16), "bf16": np.dtype(np.uint16),
    "b32": np.dtype(np.uint32), "u32": np.dtype(np.uint32), "s32": np.dtype(np.int32),
    "f32": np.dtype(np.float32), "f16x2": np.dtype(np.uint32), "bf16x2": np.dtype(np.uint32),
    "tf32": np.dtype(np.uint32), "u16x2": np.dtype(np.uint32), "s16x2": np.dtype(np.uint32),
    "b64": np.dtype(np.uint64), "u64": np.dtype(np.uint64), "s64": np.dtype(np.int64),
    "f64": np.dtype(np.float64), "e4m3": np.dtype(np.uint8), "e5m2": np.dtype(np.uint8),
    "e4m3x2": np.dtype(np.uint16), "e5m2x2": np.dtype(np.uint16),
}
TYPES = frozenset(DTYPES)
UINT = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16), 4: np.dtype(np.uint32), 8: np.dtype(np.uint64)}
SINT = {1: np.dtype(np.int8), 2: np.dtype(np.int16), 4: np.dtype(np.int32), 8: np.dtype(np.int64)}
FLOAT_TYPES = frozenset({"f16", "bf16", "f32", "f64", "tf32"})
SIGNED_TYPES = frozenset({"s8", "s16", "s32", "s64"})


def dtype(t: str) -> np.dtype:
    return DTYPES[t]


def is_float(t: str) -> bool:
    return t in FLOAT_TYPES


def as_type(val, src: np.dtype, dst: np.dtype, signed: bool = False):
    """Reinterpret ``val`` (dtype ``src``) as ``dst``: a view when widths match, else truncate/extend.

    Extension is sign extension when ``signed`` (the narrower side is a signed PTX type).
    """
    if src == dst:
        return val
    if src.itemsize == dst.itemsize:
        return val.view(dst)
    if dst == np.bool_:
        return val.view(UINT[src.itemsize]) != 0
    if src == np.bool_:
        return val.astype(UINT[dst.itemsize]).view(dst)
    tab = SINT if signed else UINT
    bits = val.view(tab[src.itemsize]) if val.dtype.kind != ("i" if signed else "u") else val
    return bits.astype(tab[dst.itemsize]).view(dst)


def const(value: int | float, dt: np.dtype) -> np.ndarray:
    """A 0-d array of ``value`` in ``dt``: ints wrap to the width, floats round once."""
    if dt == np.bool_:
        return np.array(bool(value))
    if dt.kind == "f":
        return np.array(value, dtype=dt)
    if isinstance(value, float):
        value = int(value)
    mask = (1 << (8 * dt.itemsize)) - 1
    return np.array(int(value) & mask, dtype=UINT[dt.itemsize]).view(dt)


def imm_bits(text: str, value: int | float, dt: np.dtype) -> np.ndarray:
    """An immediate for an instruction of dtype ``dt`` (hex float literals keep their bits)."""
    if text[:2] in ("0f", "0F", "0d", "0D"):
        if dt.kind == "f":
            return const(value, dt)
        bits = int(text[2:], 16)
        return const(bits, dt)
    if dt.kind == "f" and isinstance(value, int):
        return const(float(value), dt)
    return const(value, dt)


# ------------------------------------------------------------------------- bf16 / tf32


def bf16_to_f32(bits) -> np.ndarray:
    return (np.asarray(bits).astype(np.uint32) << np.uint32(16)).view(np.float32)


def f32_to_bf16(x, mode: str = "rn") -> np.ndarray:
    """Round f32 to bf16 bits (``rn`` nearest-even, ``rz`` toward zero, ``rm``/``rp`` toward ∓∞);
    NaN stays NaN."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32)
    if mode == "rn":
        r = (b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    else:  # truncate, then one step away from zero where rm/rp say so and bits were dropped
        r = b >> np.uint32(16)
        if mode in ("rm", "rp"):
            inexact = (b & np.uint32(0xFFFF)) != 0
            neg = (b >> np.uint32(31)) == 1
            r = r + (inexact & (neg if mode == "rm" else ~neg)).astype(np.uint32)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    return np.where(nan, np.uint32(0x7FC0), r).astype(np.uint16)


def f32_to_tf32(x, mode: str = "rna") -> np.ndarray:
    """Round f32 to tf32 (kept as f32 bits with the low 13 bits clear)."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32)
    if mode == "rz":
        r = b & np.uint32(0xFFFFE000)
    elif mode == "rn":
        r = (b + np.uint32(0xFFF) + ((b >> np.uint32(13)) & np.uint32(1))) & np.uint32(0xFFFFE000)
    else:
        r = (b + np.uint32(0x1000)) & np.uint32(0xFFFFE000)
    finite = np.isfinite(np.asarray(x, dtype=np.float32))
    return np.where(finite, r, b)


def unpack_half2(bits, kind: str):
    """Split packed ``f16x2``/``bf16x2`` bits into (low, high) f32 arrays."""
    b = np.asarray(bits).view(np.uint32)
    lo = (b & np.uint32(0xFFFF)).astype(np.uint16)
    hi = (b >> np.uint32(16)).astype(np.uint16)
    if kind == "bf16x2":
        return bf16_to_f32(lo), bf16_to_f32(hi)
    return lo.view(np.float16).astype(np.float32), hi.view(np.float16).astype(np.float32)


def to_half_bits(x, kind: str, mode: str = "rn") -> np.ndarray:
    """f32/f64 values → f16 or bf16 bits (uint16), rounded once with a PTX mode (rn/rz/rm/rp).

    f64 goes to f16 directly (numpy rounds float64 → float16 in one step) and to bf16 through a
    round-to-odd f32, so no value is rounded twice."""
    x = np.asarray(x)
    if kind in ("bf16", "bf16x2"):
        return f32_to_bf16(f64_to_f32_odd(x) if x.dtype == np.float64 else x.astype(np.float32), mode)
    r = x.astype(np.float16)
    if mode in ("rz", "rm", "rp"):
        back = r.astype(x.dtype)
        fix = {"rz": np.abs(back) > np.abs(x), "rm": back > x, "rp": back < x}[mode]
        if fix.any():
            to = {"rz": 0.0, "rm": -np.inf, "rp": np.inf}[mode]
            r = np.where(fix, np.nextafter(r, np.float16(to)), r)
    return np.asarray(r, np.float16).view(np.uint16)


def two_sum(a, b):
    """``s = fl(a + b)`` and its exact error ``e`` (``a + b == s + e``) in float64 (Knuth's TwoSum)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def round_odd(s, e):
    """The exact value ``s + e`` (``s`` its nearest float64) rounded to odd: ``s`` when exact, else the
    one of the two float64 neighbours of ``s + e`` whose last bit is 1. Rounding that value to any
    format of at most 51 bits, in any mode, gives the correctly rounded ``s + e`` (no double rounding)."""
    s, e = np.asarray(s, np.float64), np.asarray(e, np.float64)
    fix = (e != 0) & ((s.view(np.uint64) & np.uint64(1)) == 0) & np.isfinite(s)
    if not fix.any():
        return s
    return np.where(fix, np.nextafter(s, np.where(e > 0, np.inf, -np.inf)), s)


def f64_to_f32_odd(x) -> np.ndarray:
    """float64 → float32 rounded to odd (truncate; set the last bit when bits were dropped)."""
    x = np.asarray(x, np.float64)
    r = round_f32(x, "rz")
    inexact = (r.astype(np.float64) != x) & np.isfinite(x)
    return (r.view(np.uint32) | inexact.astype(np.uint32)).view(np.float32)


def int64_to_f64_odd(x) -> np.ndarray:
    """64-bit integers → float64 rounded to odd (exact below 2^53), so that one more rounding to f32,
    f16 or bf16 in any mode is the correctly rounded conversion of the integer."""
    x = np.asarray(x)
    hi, lo = x >> x.dtype.type(11) << x.dtype.type(11), x & x.dtype.type(0x7FF)
    return round_odd(*two_sum(hi.astype(np.float64), lo.astype(np.float64)))


def round_rational_f64(q: Fraction, mode: str) -> float:
    """The exact rational ``q`` (nonzero) rounded once to float64 in ``mode``, subnormals and overflow
    included (int/int true division in CPython is correctly rounded to nearest)."""
    big = float(np.finfo(np.float64).max)
    try:
        r = float(q)
    except OverflowError:
        r = math.inf if q > 0 else -math.inf
    if math.isinf(r):
        lo, hi = (big, r) if r > 0 else (r, -big)
    elif Fraction(r) == q:
        return r
    elif Fraction(r) > q:
        lo, hi = float(np.nextafter(r, -np.inf)), r
    else:
        lo, hi = r, float(np.nextafter(r, np.inf))
    pick = {"rn": r, "rm": lo, "rp": hi, "rz": lo if q > 0 else hi}[mode]
    return pick


def directed_f64(s, e, mode: str):
    """Round the exact value ``s + e`` (``s`` its nearest float64, ``e`` the exact error or any value
    of the error's sign) to float64 in ``mode``."""
    s, e = np.asarray(s, np.float64), np.asarray(e, np.float64)
    if mode == "rn":
        return s
    down = (e < 0) & np.isfinite(s)
    up = (e > 0) & np.isfinite(s)
    if mode == "rz":
        down, up = down & (s > 0), up & (s < 0)
    elif mode == "rm":
        up = np.zeros_like(up)
    elif mode == "rp":
        down = np.zeros_like(down)
    r = np.where(down, np.nextafter(s, -np.inf), s)
    return np.where(up, np.nextafter(s, np.inf), r)


def pack_half2(lo_bits, hi_bits) -> np.ndarray:
    return (np.asarray(hi_bits).astype(np.uint32) << np.uint32(16)) | np.asarray(lo_bits).astype(np.uint32)


def ftz32(x):
    """Flush f32 subnormals to sign-preserving zero."""
    return x * (np.abs(x) >= np.float32(1.1754944e-38))


def round_f32(x64, mode: str):
    """Round float64 values to float32 with a PTX rounding mode (rn/rz/rm/rp)."""
    r = x64.astype(np.float32)
    if mode == "rn":
        return r
    back = r.astype(np.float64)
    if mode == "rz":
        fix = np.abs(back) > np.abs(x64)
        return np.where(fix, np.nextafter(r, np.float32(0)), r)
    if mode == "rm":
        return np.where(back > x64, np.nextafter(r, np.float32(-np.inf)), r)
    if mode == "rp":
        return np.where(back < x64, np.nextafter(r, np.float32(np.inf)), r)
    return r
