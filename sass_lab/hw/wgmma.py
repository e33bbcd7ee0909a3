"""wgmma.mma_async: legal shapes and types, register fragment layouts, element decoding and the math.

From the PTX ISA (9.7.15.5 "Asynchronous Warpgroup Level Matrix Multiply-Accumulate"):

- shapes m64nNk16 (f16, bf16), m64nNk8 (tf32), m64nNk32 (e4m3/e5m2, s8/u8); N = 8..256 in steps
  of 8 for floating point, N in {8, 16, 24, 32, 48, 64, …, 256} (steps of 16 past 32) for s8/u8;
- D: .f32 (every float type) or .f16 (f16 and fp8 inputs), .s32 for integers; A and B types equal
  except for fp8 (e4m3 × e5m2 mixes);
- A from registers or a descriptor, B from a descriptor; imm-trans-a/b only for f16/bf16 with the
  operand in shared memory; imm-scale-a/b ∈ {-1, 1} negate (floating point only); scale-d false
  means D = A·B.

Fragments (thread ``t`` of the warpgroup, warp ``w = t // 32``, ``g = (t % 32) // 4``,
``q = t % 4``): accumulator register ``i`` holds D[16w + g + 8·((i // 2) % 2)][8·(i // 4) + 2q + i % 2]
(two per ``.f16x2`` register for f16 D). A in registers: register ``j`` covers row
``16w + g + 8·(j % 2)``; 16-bit types hold K columns ``2q + h + 8·(j // 2)`` (h = half), tf32
``q + 4·(j // 2)``, 8-bit types ``4q + b + 16·(j // 2)`` (b = byte). These are the mma.sync
m16n8k16 / m16n8k8 / m16n8k32 layouts, one 16-row slice per warp.

Precision (ISA "Precision and rounding"): accumulation order and rounding are unspecified. The model
here multiplies exactly, sums in float64 and rounds once to the D type; tf32 inputs keep their top
19 bits (the low 13 register bits are ignored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

FLOAT_N = tuple(range(8, 257, 8))
INT_N = (8, 16, 24, 32) + tuple(range(48, 257, 16))
K_OF = {"f16": 16, "bf16": 16, "tf32": 8, "e4m3": 32, "e5m2": 32, "s8": 32, "u8": 32}
ELEM_BYTES = {"f16": 2, "bf16": 2, "tf32": 4, "e4m3": 1, "e5m2": 1, "s8": 1, "u8": 1}
D_TYPES = {"f16": ("f16", "f32"), "bf16": ("f32",), "tf32": ("f32",), "e4m3": ("f16", "f32"),
           "e5m2": ("f16", "f32"), "s8": ("s32",), "u8": ("s32",)}
_SHAPE = re.compile(r"^m(\d+)n(\d+)k(\d+)$")


@dataclass(frozen=True, slots=True)
class WgmmaShape:
    """One legal ``wgmma.mma_async`` variant."""

    n: int
    k: int
    dtype: str
    atype: str
    btype: str
    satfinite: bool = False
    m: int = 64

    @property
    def is_float(self) -> bool:
        return self.atype not in ("s8", "u8")

    @property
    def acc_regs(self) -> int:
        """Accumulator registers per thread (f16 D packs two per register)."""
        return self.n // 4 if self.dtype == "f16" else self.n // 2

    @property
    def a_regs(self) -> int:
        return 4

    @property
    def elem_bytes(self) -> int:
        return ELEM_BYTES[self.atype]


def parse_shape(mods) -> WgmmaShape:
    """The variant named by ``wgmma.mma_async`` modifiers; ValueError saying why it is not legal."""
    mods = tuple(mods)
    shape = next((m for m in mods if _SHAPE.match(m)), None)
    if shape is None:
        raise ValueError("no .m64nNkK shape")
    m, n, k = (int(x) for x in _SHAPE.match(shape).groups())
    types = [x for x in mods if x in ("f16", "bf16", "tf32", "e4m3", "e5m2", "s8", "u8", "f32", "s32", "b1")]
    if len(types) != 3:
        raise ValueError(f"expected .dtype.atype.btype, got {'.'.join(types) or 'no types'}")
    dtype, atype, btype = types
    if atype not in K_OF:
        raise ValueError(f".{atype} inputs are not supported")
    fp8 = ("e4m3", "e5m2")
    ints = ("s8", "u8")
    if atype in fp8 or atype in ints:
        if not ((atype in fp8 and btype in fp8) or (atype in ints and btype in ints)):
            raise ValueError(f"A .{atype} and B .{btype} do not combine")
    elif btype != atype:
        raise ValueError(f"A .{atype} and B .{btype} must be the same type")
    if dtype not in D_TYPES[atype]:
        raise ValueError(f"D .{dtype} is not allowed with .{atype} inputs (allowed: "
                         f"{', '.join('.' + d for d in D_TYPES[atype])})")
    if m != 64 or k != K_OF[atype]:
        raise ValueError(f"{shape}: .{atype} needs m64nNk{K_OF[atype]}")
    legal = INT_N if atype in ints else FLOAT_N
    if n not in legal:
        raise ValueError(f"{shape}: N={n} is not a legal .{atype} N ({legal[0]}..{legal[-1]})")
    sat = "satfinite" in mods
    if sat and atype not in ints:
        raise ValueError(".satfinite applies to integer wgmma only")
    return WgmmaShape(n, k, dtype, atype, btype, sat)


# ------------------------------------------------------------------------------ fragments

_T = np.arange(128)
_W, _G, _Q = _T // 32, (_T % 32) // 4, _T % 4


def acc_coords(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of each accumulator element, shape (128 threads, N/2 elements) in register order."""
    i = np.arange(n // 2)[None, :]
    row = 16 * _W[:, None] + _G[:, None] + 8 * ((i // 2) % 2)
    col = 8 * (i // 4) + 2 * _Q[:, None] + i % 2
    return row, col


def a_coords(atype: str) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of each A element held in registers, shape (128, elements), registers in order with
    their sub-elements low to high."""
    eb = ELEM_BYTES[atype]
    per = 4 // eb  # elements per 32-bit register
    e = np.arange(4 * per)[None, :]
    j, h = e // per, e % per
    row = 16 * _W[:, None] + _G[:, None] + 8 * (j % 2)
    if eb == 2:
        col = 2 * _Q[:, None] + h + 8 * (j // 2)
    elif eb == 4:
        col = _Q[:, None] + 4 * (j // 2) + 0 * h
    else:
        col = 4 * _Q[:, None] + h + 16 * (j // 2)
    return row, col


# ------------------------------------------------------------------------------ elements


def _fp8_table(exp_bits: int, man_bits: int, bias: int, ieee: bool) -> np.ndarray:
    out = np.empty(256, np.float64)
    for b in range(256):
        s = -1.0 if b & 0x80 else 1.0
        e = (b >> man_bits) & ((1 << exp_bits) - 1)
        f = b & ((1 << man_bits) - 1)
        top = (1 << exp_bits) - 1
        if ieee and e == top:
            out[b] = s * np.inf if f == 0 else np.nan
        elif not ieee and e == top and f == (1 << man_bits) - 1:
            out[b] = np.nan
        elif e == 0:
            out[b] = s * f / (1 << man_bits) * 2.0 ** (1 - bias)
        else:
            out[b] = s * (1 + f / (1 << man_bits)) * 2.0 ** (e - bias)
    return out


E4M3 = _fp8_table(4, 3, 7, ieee=False)  # OCP FP8 E4M3 ("fn"): no infinities, S.1111.111 is NaN, max 448
E5M2 = _fp8_table(5, 2, 15, ieee=True)  # IEEE-like: infinities and NaNs, max 57344


FP8_NAN = 0x7F  # the NaN cvt writes (both formats); F16_NAN when an fp8 NaN widens to f16
F16_NAN = 0x7FFF


def _positive_codes(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes = np.flatnonzero(np.isfinite(table[:128]))  # 0x00.. up to the largest finite: values ascend
    return codes.astype(np.uint8), table[codes]


_POS = {"e4m3": _positive_codes(E4M3), "e5m2": _positive_codes(E5M2)}


def to_fp8(x, t: str, relu: bool = False) -> np.ndarray:
    """float values → e4m3/e5m2 bit patterns as ``cvt.rn.satfinite{.relu}`` does (PTX ISA, cvt): round
    to nearest, ties to the even code; a magnitude beyond the largest finite value (infinity included)
    saturates to it with its sign; NaN → :data:`FP8_NAN`; ``relu`` clamps negatives to +0."""
    v = np.asarray(x, np.float64)
    codes, vals = _POS[t]
    mag = np.minimum(np.abs(v), vals[-1])
    hi = np.minimum(np.searchsorted(vals, mag), len(vals) - 1)
    lo = np.maximum(hi - 1, 0)
    dlo, dhi = mag - vals[lo], vals[hi] - mag
    pick_hi = (dhi < dlo) | ((dhi == dlo) & (codes[hi] % 2 == 0))
    out = np.where(pick_hi, codes[hi], codes[lo]).astype(np.uint8)
    neg = np.signbit(v)
    if relu:
        out = np.where(neg, np.uint8(0), out)
    else:
        out = out | np.where(neg, np.uint8(0x80), np.uint8(0))
    return np.where(np.isnan(v), np.uint8(FP8_NAN), out).astype(np.uint8)


def fp8_to_f16_bits(bits, t: str, relu: bool = False) -> np.ndarray:
    """e4m3/e5m2 bit patterns → f16 bits (``cvt.rn{.relu}.f16x2.{e4m3x2,e5m2x2}``): exact, every fp8
    value is an f16 value; NaN → :data:`F16_NAN`; ``relu`` clamps negatives to +0."""
    v = decode(np.asarray(bits, np.uint8), t)
    if relu:
        v = np.where(v < 0, 0.0, v)
    out = v.astype(np.float16).view(np.uint16)
    return np.where(np.isnan(v), np.uint16(F16_NAN), out).astype(np.uint16)


def decode(bits: np.ndarray, t: str) -> np.ndarray:
    """Element bit patterns of type ``t`` → float64 (int64 for s8/u8)."""
    b = np.asarray(bits)
    if t == "f16":
        return b.astype(np.uint16).view(np.float16).astype(np.float64)
    if t == "bf16":
        return (b.astype(np.uint32) << np.uint32(16)).view(np.float32).astype(np.float64)
    if t == "tf32":
        return (b.astype(np.uint32) & np.uint32(0xFFFFE000)).view(np.float32).astype(np.float64)
    if t == "e4m3":
        return E4M3[b.astype(np.uint8)]
    if t == "e5m2":
        return E5M2[b.astype(np.uint8)]
    if t == "s8":
        return b.astype(np.uint8).view(np.int8).astype(np.int64)
    if t == "u8":
        return b.astype(np.uint8).astype(np.int64)
    raise ValueError(f"unknown element type {t}")


def split_words(words: np.ndarray, t: str) -> np.ndarray:
    """32-bit registers (…, R) → their elements' bit patterns (…, R·per), low element first."""
    w = np.asarray(words).astype(np.uint32)
    eb = ELEM_BYTES[t]
    if eb == 4:
        return w
    per = 4 // eb
    sh = (np.arange(per, dtype=np.uint32) * np.uint32(8 * eb))
    parts = (w[..., None] >> sh) & np.uint32((1 << (8 * eb)) - 1)
    return parts.reshape(*w.shape[:-1], w.shape[-1] * per)


# ------------------------------------------------------------------------------ the operation


def multiply(shape: WgmmaShape, a: np.ndarray, b: np.ndarray, c: np.ndarray | None,
             scale_a: int = 1, scale_b: int = 1) -> np.ndarray:
    """D = (scale_a·A)(scale_b·B)ᵀ + C for decoded A (…, 64, K), B (…, N, K), C (…, 64, N) or None.

    Floats: exact products and sums in float64 rounded once to the D type (f32 or f16). Integers:
    exact s32 arithmetic wrapping modulo 2^32 (or saturating with .satfinite).
    """
    if shape.is_float:
        d = np.matmul(a * scale_a, np.swapaxes(b * scale_b, -1, -2))
        if c is not None:
            d = d + c
        return d.astype(np.float16 if shape.dtype == "f16" else np.float32)
    d = np.matmul(a.astype(np.int64), np.swapaxes(b.astype(np.int64), -1, -2))
    if c is not None:
        d = d + c.astype(np.int64)
    if shape.satfinite:
        return np.clip(d, -(1 << 31), (1 << 31) - 1).astype(np.int32)
    return (d & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
