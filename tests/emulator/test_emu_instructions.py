"""Instruction semantics against numpy, one lane per input element (hand-written PTX)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from ptxkit import kernel

from sass_lab.emulator import emulate

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

N = 64
RNG = np.random.default_rng(3)
U = RNG.integers(0, 2**32, N, dtype=np.uint64).astype(np.uint32)
U[:6] = [0, 1, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 12345]
F = np.concatenate([np.array([0.0, -0.0, 1.5, -2.5, np.inf, -np.inf, np.nan, 1e-40, 3.0e38, 0.49999997,
                              2.5, -3.5], np.float32), RNG.standard_normal(N - 12).astype(np.float32) * 100])
LOAD = "ld.global.u32 %r5, [%rd4];"
LOADF = "ld.global.f32 %f1, [%rd4];"
STORE = "st.global.u32 [%rd3], %r6;"
STOREF = "st.global.f32 [%rd3], %f2;"


def run(body: str, inp: np.ndarray, n: int = N, block: int | None = None) -> np.ndarray:
    out = np.zeros(n, np.uint32)
    emulate(kernel(body), "k", 1, block or n, [out, np.ascontiguousarray(inp).view(np.uint32), np.uint32(n)])
    return out


def s32(x):
    return x.view(np.int32)


INT_CASES = {
    "add.s32 %r6, %r5, 7;": lambda u: u + np.uint32(7),
    "sub.u32 %r6, 3, %r5;": lambda u: np.uint32(3) - u,
    "mul.lo.s32 %r6, %r5, -3;": lambda u: (s32(u) * np.int32(-3)).view(np.uint32),
    "mul.hi.u32 %r6, %r5, %r5;": lambda u: ((u.astype(np.uint64) ** 2) >> 32).astype(np.uint32),
    "mul.hi.s32 %r6, %r5, 1000003;": lambda u: ((s32(u).astype(np.int64) * 1000003) >> 32).astype(np.int32).view(np.uint32),
    "mad.lo.u32 %r6, %r5, 5, %r5;": lambda u: u * np.uint32(5) + u,
    "mul24.lo.u32 %r6, %r5, 3;": lambda u: (u & np.uint32(0xFFFFFF)) * np.uint32(3),
    "mul24.hi.s32 %r6, %r5, %r5;": lambda u: np.array(
        [((((int(x) & 0xFFFFFF) ^ 0x800000) - 0x800000) ** 2 >> 16) & 0xFFFFFFFF for x in u], np.uint32),
    "mad24.lo.s32 %r6, %r5, -2, 7;": lambda u: np.array(
        [(((((int(x) & 0xFFFFFF) ^ 0x800000) - 0x800000) * -2) + 7) & 0xFFFFFFFF for x in u], np.uint32),
    "div.u32 %r6, %r5, 7;": lambda u: u // np.uint32(7),
    "div.s32 %r6, %r5, -7;": lambda u: np.trunc(s32(u) / -7.0).astype(np.int32).view(np.uint32),
    "rem.s32 %r6, %r5, 10;": lambda u: np.fmod(s32(u).astype(np.int64), 10).astype(np.int32).view(np.uint32),
    "min.s32 %r6, %r5, 0;": lambda u: np.minimum(s32(u), 0).view(np.uint32),
    "max.u32 %r6, %r5, 100;": lambda u: np.maximum(u, np.uint32(100)),
    "abs.s32 %r6, %r5;": lambda u: np.abs(s32(u)).view(np.uint32),
    "neg.s32 %r6, %r5;": lambda u: (-s32(u)).view(np.uint32),
    "add.sat.s32 %r6, %r5, 2147483000;": lambda u: np.clip(s32(u).astype(np.int64) + 2147483000, -2**31, 2**31 - 1).astype(np.int32).view(np.uint32),
    "and.b32 %r6, %r5, 0xF0F0;": lambda u: u & np.uint32(0xF0F0),
    "or.b32 %r6, %r5, 1;": lambda u: u | np.uint32(1),
    "xor.b32 %r6, %r5, -1;": lambda u: ~u,
    "not.b32 %r6, %r5;": lambda u: ~u,
    "cnot.b32 %r6, %r5;": lambda u: (u == 0).astype(np.uint32),
    "shl.b32 %r6, %r5, 5;": lambda u: u << np.uint32(5),
    "shr.u32 %r6, %r5, 33;": lambda u: np.zeros_like(u),
    "shr.s32 %r6, %r5, 40;": lambda u: (s32(u) >> 31).view(np.uint32),
    "shr.s32 %r6, %r5, 3;": lambda u: (s32(u) >> 3).view(np.uint32),
    "popc.b32 %r6, %r5;": lambda u: np.array([bin(int(x)).count("1") for x in u], np.uint32),
    "clz.b32 %r6, %r5;": lambda u: np.array([32 - int(x).bit_length() for x in u], np.uint32),
    "brev.b32 %r6, %r5;": lambda u: np.array([int(f"{int(x):032b}"[::-1], 2) for x in u], np.uint32),
    "bfe.u32 %r6, %r5, 4, 8;": lambda u: (u >> np.uint32(4)) & np.uint32(0xFF),
    "bfe.s32 %r6, %r5, 28, 8;": lambda u: (s32(u) >> 28).view(np.uint32),
    "bfe.s32 %r6, %r5, 4, 4;": lambda u: ((s32(u) << 24) >> 28).view(np.uint32),
    "bfi.b32 %r6, %r5, 0xFFFFFFFF, 8, 8;": lambda u: (np.uint32(0xFFFF00FF) | ((u & np.uint32(0xFF)) << np.uint32(8))),
    "prmt.b32 %r6, %r5, 0x11223344, 0x4321;": lambda u: np.array(
        [int.from_bytes(bytes([(int(x).to_bytes(4, "little") + bytes.fromhex("44332211"))[i] for i in (1, 2, 3, 4)]),
                        "little") for x in u], np.uint32),
    "prmt.b32 %r6, %r5, 0, 0x8880;": lambda u: np.array(
        [(int(x) & 0xFF) | (0xFFFFFF00 if int(x) & 0x80 else 0) for x in u], np.uint32),
    "lop3.b32 %r6, %r5, 0xFF00FF00, 0x0FF00FF0, 0x96;": lambda u: u ^ np.uint32(0xFF00FF00) ^ np.uint32(0x0FF00FF0),
    "lop3.b32 %r6, %r5, 0xFF00FF00, 0x0FF00FF0, 0xE8;": lambda u: (u & np.uint32(0xFF00FF00)) | (
        u & np.uint32(0x0FF00FF0)) | (np.uint32(0xFF00FF00) & np.uint32(0x0FF00FF0)),
    "mul.wide.u32 %rd5, %r5, %r5; shr.u64 %rd5, %rd5, 16; cvt.u32.u64 %r6, %rd5;": lambda u: (
        (u.astype(np.uint64) * u) >> np.uint64(16)).astype(np.uint32),
    "mul.wide.s32 %rd5, %r5, -2; shr.s64 %rd5, %rd5, 1; cvt.u32.u64 %r6, %rd5;": lambda u: (
        (s32(u).astype(np.int64) * -2) >> 1).astype(np.int32).view(np.uint32),
    "mad.wide.u32 %rd5, %r5, 3, 5; shr.u64 %rd5, %rd5, 32; cvt.u32.u64 %r6, %rd5;": lambda u: (
        (u.astype(np.uint64) * 3 + 5) >> np.uint64(32)).astype(np.uint32),
    "mad.hi.u32 %r6, %r5, %r5, 1;": lambda u: ((u.astype(np.uint64) ** 2) >> 32).astype(np.uint32) + np.uint32(1),
    "cvt.u64.u32 %rd5, %r5; mul.hi.u64 %rd6, %rd5, %rd5; cvt.u32.u64 %r6, %rd6;": lambda u: (
        np.zeros_like(u)),  # u32 × u32 < 2^64: the high 64 bits are 0
    "cvt.s64.s32 %rd5, %r5; mul.lo.s64 %rd5, %rd5, 0x100000001; mul.hi.s64 %rd6, %rd5, %rd5; cvt.u32.u64 %r6, %rd6;":
        lambda u: np.array([((int(x) * 0x100000001) ** 2 >> 64) & 0xFFFFFFFF for x in s32(u)], np.uint32),
    "cvt.u16.u32 %h1, %r5; cvt.s32.s16 %r6, %h1;": lambda u: (u & np.uint32(0xFFFF)).astype(np.uint16).view(np.int16).astype(np.int32).view(np.uint32),
    "cvt.sat.s8.s32 %h1, %r5; cvt.s32.s8 %r6, %h1;": lambda u: np.clip(s32(u), -128, 127).astype(np.uint32),
    "cvt.sat.u8.s32 %h1, %r5; cvt.u32.u8 %r6, %h1;": lambda u: np.clip(s32(u), 0, 255).astype(np.uint32),
    "setp.lt.s32 %p1, %r5, 0; selp.u32 %r6, 1, 2, %p1;": lambda u: np.where(s32(u) < 0, 1, 2).astype(np.uint32),
    "setp.lo.u32 %p1|%p2, %r5, 1000; selp.u32 %r6, 7, 9, %p2;": lambda u: np.where(u < 1000, 9, 7).astype(np.uint32),
    "setp.gt.s32 %p1, %r5, 0; setp.ne.and.u32 %p2, %r5, 5, !%p1; selp.u32 %r6, 1, 0, %p2;": lambda u: (
        (u != 5) & ~(s32(u) > 0)).astype(np.uint32),
    "slct.u32.s32 %r6, 10, 20, %r5;": lambda u: np.where(s32(u) >= 0, 10, 20).astype(np.uint32),
    "set.hs.u32.u32 %r6, %r5, 100;": lambda u: np.where(u >= 100, 0xFFFFFFFF, 0).astype(np.uint32),
    "mov.b64 %rd5, {%r5, %r0}; mov.b64 {%r7, %r6}, %rd5;": lambda u: np.arange(N, dtype=np.uint32),
    "mov.b32 {%h1, %h2}, %r5; mov.b32 %r6, {%h2, %h1};": lambda u: (u >> np.uint32(16)) | (u << np.uint32(16)),
}


@pytest.mark.parametrize("body", list(INT_CASES))
def test_integer(body):
    np.testing.assert_array_equal(run(LOAD + body + STORE, U), INT_CASES[body](U.copy()))


def _f(x):
    return np.asarray(x, np.float32).view(np.uint32)


def fma_ref(a, b, c):
    """Exact a*b+c rounded once to f32 (via Python fractions: slow, small N)."""
    from fractions import Fraction

    out = []
    for x, y, z in zip(a, b, c):
        if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(z)):
            out.append(np.float32(np.float64(x) * y + z))
            continue
        exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        lo = np.float32(float(exact))
        # correct the double rounding of float(exact) → f32 by checking the neighbours
        cands = [np.nextafter(lo, np.float32(-np.inf)), lo, np.nextafter(lo, np.float32(np.inf))]
        cands = [c for c in cands if np.isfinite(c)]
        best = min(cands, key=lambda c: (abs(Fraction(float(c)) - exact), int(np.float32(c).view(np.uint32)) & 1))
        out.append(best)
    return np.array(out, np.float32)


FLOAT_CASES = {
    "add.f32 %f2, %f1, 0f3F800000;": lambda f: f + np.float32(1),
    "mul.rn.f32 %f2, %f1, %f1;": lambda f: f * f,
    "sub.f32 %f2, %f1, 0f40000000;": lambda f: f - np.float32(2),
    "div.rn.f32 %f2, 0f3F800000, %f1;": lambda f: np.float32(1) / f,
    "neg.f32 %f2, %f1;": lambda f: -f,
    "abs.f32 %f2, %f1;": lambda f: np.abs(f),
    "min.f32 %f2, %f1, 0f00000000;": lambda f: np.fmin(f, np.float32(0)),
    "max.f32 %f2, %f1, 0f7FC00000;": lambda f: f,
    "sqrt.rn.f32 %f2, %f1;": lambda f: np.sqrt(f),
    "mul.ftz.f32 %f2, %f1, 0f3F800000;": lambda f: np.where(np.abs(f) < 1.1754944e-38, f * 0, f),
    "add.sat.f32 %f2, %f1, 0f00000000;": lambda f: np.where(np.isnan(f), 0, np.clip(f, 0, 1)).astype(np.float32),
    "copysign.f32 %f2, %f1, 0f40000000;": lambda f: np.copysign(np.float32(2), f),
    "cvt.rni.f32.f32 %f2, %f1;": lambda f: np.rint(f),
    "cvt.rzi.f32.f32 %f2, %f1;": lambda f: np.trunc(f),
    "cvt.rmi.f32.f32 %f2, %f1;": lambda f: np.floor(f),
    "cvt.rpi.f32.f32 %f2, %f1;": lambda f: np.ceil(f),
    "cvt.sat.f32.f32 %f2, %f1;": lambda f: np.where(np.isnan(f), 0, np.clip(f, 0, 1)).astype(np.float32),
    "cvt.rn.f16.f32 %h1, %f1; cvt.f32.f16 %f2, %h1;": lambda f: f.astype(np.float16).astype(np.float32),
    "cvt.rn.bf16.f32 %h1, %f1; cvt.f32.bf16 %f2, %h1;": lambda f: _bf16_round(f),
    "cvt.f64.f32 %fd1, %f1; mul.f64 %fd1, %fd1, %fd1; cvt.rn.f32.f64 %f2, %fd1;": lambda f: (
        f.astype(np.float64) ** 2).astype(np.float32),
    "cvt.rz.f32.f64 %f2, 0d3FF0000000000001;": lambda f: np.full_like(f, 1.0),
    "cvt.rp.f32.f64 %f2, 0d3FF0000000000001;": lambda f: np.full_like(f, np.nextafter(np.float32(1), np.float32(2))),
    "fma.rn.f32 %f2, %f1, 0f3F800001, 0f33800000;": lambda f: fma_ref(f, np.full(N, np.float32(1.0000001)),
                                                                    np.full(N, np.float32(2**-24))),
    "mov.b32 %r6, 0f3F800000; mov.b32 %f2, %r6;": lambda f: np.ones_like(f),
    "ex2.approx.ftz.f32 %f2, %f1;": lambda f: np.exp2(f),
    "lg2.approx.f32 %f2, %f1;": lambda f: np.log2(f),
    "rcp.rn.f32 %f2, %f1;": lambda f: np.float32(1) / f,
    "rsqrt.approx.f32 %f2, %f1;": lambda f: (1 / np.sqrt(f.astype(np.float64))).astype(np.float32),
    "sin.approx.f32 %f2, %f1;": lambda f: _sin_approx(f),
    "tanh.approx.f32 %f2, %f1;": lambda f: np.tanh(f),
    "cvt.rn.f16x2.f32 %r6, %f1, 0f40000000; mov.b32 {%h1, %h2}, %r6; cvt.f32.f16 %f2, %h2;": lambda f: (
        f.astype(np.float16).astype(np.float32)),
    "cvt.rn.f16x2.f32 %r6, %f1, %f1; add.rn.f16x2 %r6, %r6, %r6; mov.b32 {%h1, %h2}, %r6; cvt.f32.f16 %f2, %h1;":
        lambda f: (f.astype(np.float16) * np.float16(2)).astype(np.float32),
    "cvt.rn.f16.f32 %h1, %f1; fma.rn.f16 %h2, %h1, %h1, %h1; cvt.f32.f16 %f2, %h2;": lambda f: (
        (f.astype(np.float16).astype(np.float64) ** 2 + f.astype(np.float16)).astype(np.float16).astype(np.float32)),
}


def _sin_approx(f):
    """sin.approx.f32 as ptxas compiles it: FMUL.RZ by the f32 1/2π, MUFU.SIN of the turn's fraction."""
    x = f.astype(np.float64) * float(np.float32(1 / (2 * np.pi)))  # exact: a 24 × 24-bit product
    t = x.astype(np.float32)
    t = np.where(np.abs(t.astype(np.float64)) > np.abs(x), np.nextafter(t, np.float32(0)), t).astype(np.float64)
    with np.errstate(invalid="ignore"):
        turn = t - np.round(t)
    return np.sin(2 * np.pi * np.where(turn == 0, np.copysign(turn, t), turn))


def _bf16_round(f):
    b = f.view(np.uint32).astype(np.uint64)
    r = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint32) << np.uint32(16)
    return np.where(np.isnan(f), np.float32(np.nan), r.view(np.float32))


@pytest.mark.parametrize("body", list(FLOAT_CASES))
def test_float(body):
    got = run(LOADF + body + STOREF, F).view(np.float32)
    want = FLOAT_CASES[body](F.copy()).astype(np.float32)
    approx = "approx" in body or "f16" in body and "fma" in body
    if approx:
        np.testing.assert_allclose(got, want, rtol=2e-6 if "f16" not in body else 1e-3, atol=1e-30)
    else:
        np.testing.assert_array_equal(got, want)


def test_fma_single_rounding_hard_cases():
    # cases where rounding a*b+c in float64 and then to f32 would round twice
    a = np.float32(1 + 2**-23)
    b = np.float32(1 + 2**-23)
    c = np.float32(-(1 + 2**-22))
    cases = [(a, b, c), (np.float32(1.0000001), np.float32(0.99999994), np.float32(2**-25)),
             (np.float32(16777215), np.float32(1.0), np.float32(0.5))]
    for x, y, z in cases:
        body = (f"mov.b32 %f3, 0f{int(np.float32(y).view(np.uint32)):08X}; mov.b32 %f4, "
                f"0f{int(np.float32(z).view(np.uint32)):08X}; fma.rn.f32 %f2, %f1, %f3, %f4;")
        got = run(LOADF + body + STOREF, np.full(1, x, np.float32), n=1).view(np.float32)[0]
        assert got == fma_ref([x], [y], [z])[0]


CMP = ["eq", "ne", "lt", "le", "gt", "ge", "equ", "neu", "ltu", "leu", "gtu", "geu", "num", "nan"]


@pytest.mark.parametrize("cmp", CMP)
def test_setp_float_ordered_and_unordered(cmp):
    body = f"setp.{cmp}.f32 %p1, %f1, 0f3FC00000; selp.u32 %r6, 1, 0, %p1;" + STORE
    got = run(LOADF + body, F).astype(bool)
    a, b = F.astype(np.float64), 1.5
    nan = np.isnan(a)
    base = {"eq": a == b, "ne": (a != b) & ~nan, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}
    if cmp in base:
        want = base[cmp]
    elif cmp == "num":
        want = ~nan
    elif cmp == "nan":
        want = nan
    else:
        want = base[cmp[:-1]] | nan
    np.testing.assert_array_equal(got, want)


FLOAT_TO_INT = {
    "cvt.rni.s32.f32": lambda f: np.rint(f),
    "cvt.rzi.s32.f32": np.trunc,
    "cvt.rmi.s32.f32": np.floor,
    "cvt.rpi.u32.f32": np.ceil,
}


@pytest.mark.parametrize("op", list(FLOAT_TO_INT))
def test_cvt_float_to_int_saturates(op):
    got = run(LOADF + f"{op} %r6, %f1;" + STORE, F)
    signed = ".s32." in op
    v = FLOAT_TO_INT[op](F.astype(np.float64))
    lo, hi = (-(2**31), 2**31 - 1) if signed else (0, 2**32 - 1)
    want = np.where(np.isnan(v), 0, np.clip(v, lo, hi)).astype(np.int64)
    np.testing.assert_array_equal(got.view(np.int32) if signed else got, want)


def test_int_to_float_roundings():
    u = U
    got = run(LOAD + "cvt.rn.f32.u32 %f2, %r5;" + STOREF, u).view(np.float32)
    np.testing.assert_array_equal(got, u.astype(np.float32))
    got = run(LOAD + "cvt.rz.f32.s32 %f2, %r5;" + STOREF, u).view(np.float32)
    want = np.array([np.float32(x) if abs(int(np.float32(x))) <= abs(x) else np.nextafter(np.float32(x), np.float32(0))
                     for x in s32(u).astype(np.int64)], np.float32)
    np.testing.assert_array_equal(got, want)


def test_literals_and_specials():
    body = ("mov.u32 %r6, %laneid; mov.u32 %r7, %warpid; shl.b32 %r7, %r7, 8; or.b32 %r6, %r6, %r7;"
            "mov.u32 %r8, %ntid.x; shl.b32 %r8, %r8, 16; or.b32 %r6, %r6, %r8;" + STORE)
    got = run(body, U, n=64)
    t = np.arange(64)
    np.testing.assert_array_equal(got, (t % 32) | ((t // 32) << 8) | (64 << 16))
    assert struct.pack("<f", 1.0).hex() == "0000803f"


def test_cvt_s64_to_f32_rounds_once():
    # 2^62 + 2^38 + 1: rounding through float64 first would land on the tie and round to even
    body = ("mov.b64 %rd5, 4611686293305294849; cvt.rn.f32.s64 %f2, %rd5;" + STOREF)
    got = run(body, F, n=1).view(np.float32)[0]
    assert got == np.array([2**62 + 2**38 + 1], np.int64).astype(np.float32)[0]
    assert got != np.float32(np.float64(2**62 + 2**38 + 1))


def test_fma_f64_is_fused():
    # (1 + 2^-30)^2 - (1 + 2^-29) = 2^-60 exactly; an unfused multiply-add gives 0
    body = ("mov.f64 %fd1, 0d3FF0000000400000; mov.f64 %fd2, 0dBFF0000000800000;"
            "fma.rn.f64 %fd3, %fd1, %fd1, %fd2; mov.b64 %rd5, %fd3; cvt.u32.u64 %r6, %rd5; shr.u64 %rd5, %rd5, 32;"
            "cvt.u32.u64 %r7, %rd5; st.global.u32 [%rd3], %r7;")
    got = run(body, F, n=1)
    assert got[0] == np.array([2.0 ** -60]).view(np.uint64)[0] >> 32


def test_nested_scope_registers_shadow_outer_ones():
    # the inner block's %r5 and %r6 are new registers: the outer %r5 keeps the loaded value
    body = (LOAD + "{ .reg .b32 %r5, %r6; mov.u32 %r5, 1000; mov.u32 %r6, %r5; mov.u32 %r7, %r6; }"
            "add.u32 %r6, %r5, %r7;" + STORE)
    np.testing.assert_array_equal(run(body, U), U + np.uint32(1000))


def test_brx_idx_jump_table_diverges_and_reconverges():
    body = (LOAD + "and.b32 %r7, %r0, 3; mov.u32 %r6, 0;"
            "$L_brx: .branchtargets C0, C1, C2, C3; brx.idx %r7, $L_brx;"
            "C0: add.u32 %r6, %r6, 1; bra.uni J; C1: add.u32 %r6, %r6, 10; bra.uni J;"
            "C2: add.u32 %r6, %r6, 100; C3: add.u32 %r6, %r6, 1000;"
            "J: shfl.sync.bfly.b32 %r8, %r6, 1, 0x1f, -1; add.u32 %r6, %r6, %r8;" + STORE)
    got = run(body, U)
    own = np.array([1, 10, 1100, 1000])[np.arange(N) % 4]
    np.testing.assert_array_equal(got, own + own[np.arange(N) ^ 1])
    uniform = LOAD + "mov.u32 %r7, 2;" + body[len(LOAD) + len("and.b32 %r7, %r0, 3;"):]
    np.testing.assert_array_equal(run(uniform, U), np.full(N, 2200))


PRMT_MODES = {  # d.b3 d.b2 d.b1 d.b0 per selector c[1:0] = 0..3 (PTX ISA prmt table)
    "f4e": ["3210", "4321", "5432", "6543"], "b4e": ["5670", "6701", "7012", "0123"],
    "rc8": ["0000", "1111", "2222", "3333"], "ecl": ["3210", "3211", "3222", "3333"],
    "ecr": ["0000", "1110", "2210", "3210"], "rc16": ["1010", "3232", "1010", "3232"],
}


@pytest.mark.parametrize("mode", sorted(PRMT_MODES))
def test_prmt_modes(mode):
    body = f"and.b32 %r7, %r0, 3; prmt.b32.{mode} %r6, 0x33221100, 0x77665544, %r7;" + STORE
    got = run(body, U, n=4)
    want = [int("".join(f"{int(ch) * 0x11:02x}" for ch in sel), 16) for sel in PRMT_MODES[mode]]
    assert [int(v) for v in got] == want
