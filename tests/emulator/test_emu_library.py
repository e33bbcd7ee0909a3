"""corpus/library.cu — the CUDA math library as nvcc inlines it, fast-math intrinsics, integer intrinsics,
64-bit division, conversions and min/max — against float64/exact references on fresh random inputs with
specials (±0, ±inf, NaN, subnormals, huge arguments), ragged sizes, poisoned outputs.

Tolerances: library functions within the CUDA Math API's documented maximum ulp errors (the emulator runs
nvcc's own polynomial code, with the `.approx` instructions inside it computed exactly, so it is at least
as accurate as the GPU); fast intrinsics within the PTX ISA / CUDA documented bounds; integer ops,
conversions and IEEE operations bit-exact."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from ptxkit import round_exact
from test_emu_corpus import ARCHS, CORPUS, rng

from sass_lab.emulator import emulate

F32 = np.float32


@pytest.fixture(params=ARCHS)
def arch(request):
    return request.param


def ptx(target: str, fast: bool = False) -> str:
    return (CORPUS / f"library.{target}{'.fast' if fast else ''}.ptx").read_text()


def ulps(got, want):
    """|got − want| in units of the f32 (or f64) spacing at ``want``; 0 where both are the same NaN/inf."""
    got = np.asarray(got)
    dt = got.dtype
    w = np.asarray(want, np.float64)
    with np.errstate(over="ignore"):
        wr = w.astype(dt)  # beyond the format's range the right answer is its infinity
    same = (np.isnan(got) & np.isnan(w)) | (got.astype(np.float64) == w) | (np.isinf(wr) & (got == wr))
    tiny = np.finfo(dt).smallest_subnormal
    sp = np.maximum(np.spacing(np.abs(wr)).astype(np.float64), tiny)
    with np.errstate(invalid="ignore"):
        e = np.abs(got.astype(np.float64) - w) / sp
    return np.where(same, 0.0, np.where(np.isfinite(e), e, np.inf))


def f32_inputs(n, seed):
    r = rng(seed)
    x = (r.standard_normal(n) * 4).astype(F32)
    x[: n // 8] = (r.choice([-1, 1], n // 8) * 10.0 ** r.uniform(2, 30, n // 8)).astype(F32)  # Payne–Hanek range
    y = r.uniform(-6, 6, n).astype(F32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -3e-42, 1.0, -1.0, 0.5, 88.0, -104.0], F32)
    x[n // 8: n // 8 + len(specials)] = specials
    y[n // 8 + 5: n // 8 + 5 + len(specials)] = specials
    return x, y


def vec(f, *a, otype=float):
    return np.array([f(*v) for v in zip(*a)], otype)


def _erfc(v):
    return math.erfc(v) if np.isfinite(v) or np.isinf(v) else math.nan


def _remainder(a, b):
    if np.isnan(a) or np.isnan(b) or np.isinf(a) or b == 0:
        return math.nan
    if np.isinf(b):
        return a
    return math.remainder(a, b)


def _atan2(y, x):
    return math.atan2(y, x) if not (np.isnan(x) or np.isnan(y)) else math.nan


def _hypot(a, b):
    return math.hypot(a, b) if not (np.isnan(a) or np.isnan(b)) or np.isinf(a) or np.isinf(b) else math.nan


def _sinpi(b):
    r = np.fmod(b, 2.0)  # exact
    return np.where(r == np.round(r), 0.0 * np.sign(b), np.sin(np.pi * r))


def f32_reference(x, y):
    """Rows of math_f32 in float64, with each row's documented maximum error in f32 ulp."""
    a, b = x.astype(np.float64), y.astype(np.float64)
    aa = np.abs(a)
    with np.errstate(all="ignore"):
        rows = [
            (np.sin(a), 2), (np.cos(a), 2), (np.tan(a), 4), (np.exp(b), 2), (np.log(aa), 1),
            (np.power(aa, b), 4), (vec(math.erf, b), 2), (vec(_erfc, b), 4),
            (vec(lambda v: 0.5 * _erfc(-v / math.sqrt(2)), b), 5), (np.sqrt(aa), 0), (1 / np.sqrt(aa), 2),
            (np.cbrt(a), 1), (np.fmod(a, b), 0), (vec(_remainder, a, b), 0), (vec(_hypot, a, b), 3),
            (vec(_atan2, b, a), 3), (np.tanh(b), 2), (np.log1p(np.abs(b)), 1), (np.expm1(b), 2.5),
            (a / b, 0), (None, None), (_sinpi(b), 1),
        ]
    with np.errstate(all="ignore"):
        e2, l2 = np.exp2(b), np.log2(aa)
    return rows, (e2, l2)


def within(got, want, bound):
    """Every element of ``got`` within ``bound`` (array or number) f32/f64 ulp of ``want``."""
    e = ulps(got, want)
    bad = np.flatnonzero(~(e <= np.nan_to_num(np.asarray(bound, np.float64), nan=0.0)))
    assert not len(bad), f"{len(bad)} beyond the bound, e.g. #{bad[0]}: got {got[bad[0]]!r}, want {want[bad[0]]!r}"


def check_rows(out, rows, n, names, slack=0.0):
    for k, (want, bound) in enumerate(rows):
        if want is None:
            continue
        e = ulps(out[k * n:(k + 1) * n], want)
        bad = np.flatnonzero(e > max(bound, 0.5) + slack)  # "0 ulp": correctly rounded
        assert not len(bad), f"{names[k]}: {len(bad)} of {n} beyond {bound} ulp, e.g. #{bad[0]}: got " \
                             f"{out[k * n + bad[0]]!r}, want {want[bad[0]]!r} ({e[bad[0]]:.1f} ulp)"


F32_NAMES = ["sinf", "cosf", "tanf", "expf", "logf", "powf", "erff", "erfcf", "normcdff", "sqrtf", "rsqrtf",
             "cbrtf", "fmodf", "remainderf", "hypotf", "atan2f", "tanhf", "log1pf", "expm1f", "div", "exp2f+log2f",
             "sinpif"]


def test_single_precision_library_within_documented_ulp(arch):
    n = 701
    x, y = f32_inputs(n, 20)
    out = np.full(22 * n, np.nan, F32)
    out[::7] = 12345.0  # poisoned
    emulate(ptx(arch), "math_f32", 3, 128, [x, y, out, np.int32(n)])
    rows, (e2, l2) = f32_reference(x, y)
    check_rows(out, rows, n, F32_NAMES)
    # exp2f (2 ulp) + log2f (1 ulp), then one rounding of the sum
    with np.errstate(all="ignore"):
        tol = 2 * np.spacing(np.abs(e2).astype(F32)) + np.spacing(np.abs(l2).astype(F32)) \
            + np.spacing(np.abs(e2 + l2).astype(F32))
        got = out[20 * n:21 * n].astype(np.float64)
        ok = (np.abs(got - (e2 + l2)) <= tol) | (np.isnan(got) & np.isnan(e2 + l2)) | (got == e2 + l2)
    assert ok.all(), np.flatnonzero(~ok)


def test_double_precision_library_within_documented_ulp(arch):
    n = 301
    r = rng(21)
    x = r.standard_normal(n) * 4
    x[:40] = r.choice([-1, 1], 40) * 10.0 ** r.uniform(2, 300, 40)  # the slow reduction path (a call)
    y = r.uniform(-30, 30, n)
    x[40:46] = [0.0, -0.0, np.inf, np.nan, 5e-324, -1.0]
    y[50:56] = [0.0, -0.0, -np.inf, np.nan, 1e-310, 700.0]
    out = np.full(12 * n, np.nan)
    emulate(ptx(arch), "math_f64", 2, 128, [x, y, out, np.int32(n)])
    aa = np.abs(x)
    with np.errstate(all="ignore"):
        # numpy's (glibc's) own error is below 1 ulp: one ulp is added to every documented bound
        rows = [(np.sin(x), 2 + 1), (np.cos(x), 2 + 1), (np.exp(y), 1 + 1), (np.log(aa), 1 + 1),
                (np.power(aa, y), 2 + 1), (np.sqrt(aa), 0), (np.cbrt(x), 1 + 1), (vec(math.erf, y), 2 + 1),
                (vec(_atan2, y, x), 2 + 1), (np.fmod(x, y), 0), (x / y, 0), (1 / np.sqrt(aa), 1 + 1)]
    names = ["sin", "cos", "exp", "log", "pow", "sqrt", "cbrt", "erf", "atan2", "fmod", "div", "rsqrt"]
    check_rows(out, rows, n, names)


def test_fast_intrinsics_within_documented_bounds(arch):
    n = 513
    r = rng(22)
    x = r.uniform(-np.pi, np.pi, n).astype(F32)
    x[:64] = r.uniform(0.5, 2, 64).astype(F32)  # __logf/__log2f: absolute bound on [0.5, 2]
    y = r.uniform(-10, 10, n).astype(F32)
    y[:8] = [0.0, -0.0, 1.5, -2.0, 1e-3, np.inf, np.nan, 0.25]
    out = np.full(14 * n, np.nan, F32)
    emulate(ptx(arch), "intrinsics_f32", 2, 128, [x, y, out, np.int32(n)])
    a, b = x.astype(np.float64), y.astype(np.float64)
    o = out.reshape(14, n).astype(np.float64)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(o[0], np.sin(a), rtol=0, atol=2 ** -21.41)
        np.testing.assert_allclose(o[1], np.cos(a), rtol=0, atol=2 ** -21.41)
        within(out[2 * n:3 * n], np.exp(b), 2 + np.floor(np.abs(1.173 * b)))  # __expf
        ln = np.log(np.abs(a))
        mid = (np.abs(a) >= 0.5) & (np.abs(a) <= 2)
        np.testing.assert_allclose(o[3][mid], ln[mid], rtol=0, atol=2 ** -21.41)
        within(out[3 * n:4 * n][~mid], ln[~mid], 3)
        div = np.abs(b) >= 2.0 ** -126
        within(out[4 * n:5 * n][div], (a / b)[div], 2)  # __fdividef: 2 ulp for 2^-126 <= |y| <= 2^126
        np.testing.assert_array_equal(out[5 * n:6 * n], np.where(np.isnan(y), 0, np.clip(y, 0, 1)))  # NaN → 0
        lg = b * np.log2(np.abs(a))  # __powf = ex2.approx(y · lg2.approx(x)): 2^-22.6 absolute in lg2, 2 ulp in ex2
        p = o[6] / np.power(np.abs(a), b)
        fin = np.isfinite(p) & np.isfinite(lg)
        assert (np.abs(p[fin] - 1) <= 2 ** -21 * (2 + np.abs(b[fin])) + np.abs(lg[fin]) * 2 ** -22).all()
    rs = [round_exact(_sqrt_fraction(1 / Fraction(float(v))), "f32", "rn") if v else math.inf for v in np.abs(a)]
    np.testing.assert_array_equal(out[7 * n:8 * n], np.array(rs, F32))  # __frsqrt_rn: correctly rounded
    sq = [round_exact(_sqrt_fraction(Fraction(float(v))), "f32", "rm") if v else 0.0 for v in np.abs(a)]
    np.testing.assert_array_equal(out[8 * n:9 * n], np.array(sq, F32))  # __fsqrt_rd
    with np.errstate(all="ignore"):
        within(out[9 * n:10 * n], 10.0 ** b, 2 + np.floor(np.abs(2.95 * b)))  # __exp10f
        l2 = np.log2(np.abs(a))
        np.testing.assert_allclose(o[10][mid], l2[mid], rtol=0, atol=2 ** -22)
        within(out[10 * n:11 * n][~mid], l2[~mid], 2)
        c = np.abs(np.cos(a)) > 0.1  # __tanf = __sinf / __cosf
        np.testing.assert_allclose(o[11][c], np.tan(a[c]), rtol=2 ** -19, atol=2 ** -19)
        want = vec(lambda v: round_exact(Fraction(1) / Fraction(float(v)) if v else math.copysign(math.inf, v),
                                         "f32", "rn") if np.isfinite(v) else (0.0 if np.isinf(v) else math.nan), b)
        np.testing.assert_array_equal(out[12 * n:13 * n], want.astype(F32))
        want = vec(lambda u, v: round_exact(Fraction(float(u)) * Fraction(float(v)), "f32", "rz")
                   if np.isfinite(u * v) else u * v, a, b)
        np.testing.assert_array_equal(out[13 * n:14 * n], want.astype(F32))


def _sqrt_fraction(q: Fraction) -> Fraction:
    """√q exactly when it is rational, else a rational within 2^-300 below it (√ of an f32 is never within
    that of an f32 rounding boundary unless it is one: then it is exact)."""
    s = math.isqrt(q.numerator * (1 << 600) // q.denominator)
    return Fraction(s, 1 << 300)


def test_fast_math_build_within_the_approximations_bounds(arch):
    """--use_fast_math: sinf → sin.approx.ftz, expf → ex2.approx.ftz, a / b → div.approx.ftz, sqrtf →
    sqrt.approx.ftz, powf → ex2(y · lg2 x); the rest of the library with .ftz. Bounds (PTX ISA):
    sin/cos.approx 2^-21.41 absolute on [-π, π], beyond it the f32 turn count's rounding, ex2.approx 2 ulp + the rounding
    of its scaled argument, div.approx 2 ulp for |b| in [2^-126, 2^126], sqrt.approx 1 ulp."""
    n = 701
    x, y = f32_inputs(n, 23)
    out = np.full(22 * n, np.nan, F32)
    emulate(ptx(arch, fast=True), "math_f32", 3, 128, [x, y, out, np.int32(n)])
    def flush(v):
        return np.where(np.abs(v) < 2.0 ** -126, 0.0 * v, v)
    rows, _ = f32_reference(flush(x), flush(y))
    rows = [(None if w is None else flush(w), e) for w, e in rows]
    a, b = x.astype(np.float64), y.astype(np.float64)
    o = out.reshape(22, n).astype(np.float64)
    normal = (np.abs(a) >= 2.0 ** -126) | (a == 0) | ~np.isfinite(a)  # subnormal inputs are flushed
    small = normal & (np.abs(a) <= np.pi)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(o[0][small], rows[0][0][small], rtol=0, atol=2 ** -21.41)
        np.testing.assert_allclose(o[1][small], rows[1][0][small], rtol=0, atol=2 ** -21.41)
        # beyond [-π, π] the GPU's turn count x · (1/2π) is rounded to f32 toward zero first: 2π · ulp(turns)
        mid = normal & (np.abs(a) > np.pi) & (np.abs(a) < 1e4)
        # (and the f32 constant's own error: |x| · |c − 1/2π|)
        turns = np.abs(a[mid]) / (2 * np.pi)
        slack = np.spacing(turns.astype(F32)).astype(np.float64) + np.abs(a[mid]) * abs(float(F32(1 / (2 * np.pi)))
                                                                                        - 1 / (2 * np.pi))
        for k in (0, 1):
            assert (np.abs(o[k][mid] - rows[k][0][mid]) <= 2 * np.pi * slack + 2 ** -21.41).all()
        within(out[3 * n:4 * n], rows[3][0], 2 + np.floor(np.abs(1.173 * b)))
        within(out[9 * n:10 * n][normal], rows[9][0][normal], 1)
        div = (np.abs(b) >= 2.0 ** -126) & (np.abs(b) <= 2.0 ** 126) & normal
        within(out[19 * n:20 * n][div], rows[19][0][div], 2)
        both = normal & ((np.abs(b) >= 2.0 ** -126) | (b == 0) | ~np.isfinite(b))  # (tanhf passes a tiny x through)
        for k in (6, 12, 16):  # erff, fmodf, tanhf: the same polynomials or exact steps with .ftz
            within(out[k * n:(k + 1) * n][both], rows[k][0][both], rows[k][1] + 2)
    sub = ~normal & np.isfinite(a)
    assert sub.any()
    np.testing.assert_array_equal(out[9 * n:10 * n][sub], 0)  # sqrt.approx.ftz of a flushed input


def test_flush_to_zero_flushes_inputs_too(arch):
    n = 300
    r = rng(24)
    x = (r.standard_normal(n) * 2.0 ** r.integers(-149, 10, n)).astype(F32)
    x[:6] = [1e-40, -1e-40, 2.0 ** -149, -(2.0 ** -126), 0.0, -0.0]
    plain, fast = np.full(8 * n, np.nan, F32), np.full(8 * n, np.nan, F32)
    emulate(ptx(arch), "denormals", 2, 128, [x, plain, np.int32(n)])
    emulate(ptx(arch, fast=True), "denormals", 2, 128, [x, fast, np.int32(n)])
    a = x.astype(np.float64)
    with np.errstate(all="ignore"):
        want = [a * 2.0 ** 40, a + a, a * 2.0 ** 23 + 1, a > 0, np.sqrt(np.abs(a)), 1 / a, np.minimum(a, 0), a != 0]
    for k, w in enumerate(want):  # IEEE: subnormals are numbers
        np.testing.assert_array_equal(plain[k * n:(k + 1) * n], np.asarray(w, np.float64).astype(F32), err_msg=f"row {k}")
    z = np.where(np.abs(a) < 2.0 ** -126, 0.0 * a, a)  # .ftz: sign-preserving zero, inputs and results
    with np.errstate(all="ignore"):
        want = [z * 2.0 ** 40, z + z, z * 2.0 ** 23 + 1, z > 0, None, 1 / z, np.minimum(z, 0), z != 0]
    for k, w in enumerate(want):
        if w is not None:
            np.testing.assert_array_equal(fast[k * n:(k + 1) * n], np.asarray(w, np.float64).astype(F32),
                                          err_msg=f"row {k}")
    np.testing.assert_array_equal(np.signbit(fast[5 * n:6 * n]), np.signbit(x))  # rcp of ±0 is ±inf


def test_fast_divide_by_a_huge_divisor_is_zero(arch):
    """div.approx.f32 (__fdividef, a / b under fast math) is a · rcp(b), whose result flushes: for
    2^126 < |b| < 2^128 it gives 0, or NaN when a is infinite (PTX ISA, CUDA __fdividef)."""
    x = np.array([1.0, np.inf, 3.0, 2.0, 5.0, 1e30], F32)
    y = np.array([2.0 ** 127, 2.0 ** 127, -1.5 * 2.0 ** 126, 2.0 ** 126, np.inf, 3.0], F32)
    out = np.full(14 * 6, np.nan, F32)
    emulate(ptx(arch), "intrinsics_f32", 1, 32, [x, y, out, np.int32(6)])
    got = out[4 * 6:5 * 6]
    np.testing.assert_array_equal(got[:3], [0.0, np.nan, -0.0])
    assert np.signbit(got[2]) and not np.signbit(got[0])
    assert got[3] == np.float32(2.0 ** -125) and got[4] == 0 and within(got[5:], np.array([1e30 / 3.0]), 2) is None


# ------------------------------------------------------------------------------ integers (bit-exact)

M32, M64 = (1 << 32) - 1, (1 << 64) - 1


def _s(v, bits):
    return v - (1 << bits) if v >> (bits - 1) else v


def _bfe(a, pos, ln, signed, msb=31):
    sbit = 0 if not signed or ln == 0 else (a >> min(pos + ln - 1, msb)) & 1
    d = 0
    for i in range(msb + 1):
        bit = (a >> (pos + i)) & 1 if i < ln and pos + i <= msb else sbit
        d |= bit << i
    return d


def _bfi(f, b, pos, ln, msb=31):
    for i in range(ln):
        if pos + i > msb:
            break
        b = (b & ~(1 << (pos + i))) | (((f >> i) & 1) << (pos + i))
    return b & M32


def _bytes(v, k, signed):
    out = [(v >> (8 * i)) & 0xFF for i in range(k)] if k == 4 else [(v >> (16 * i)) & 0xFFFF for i in range(2)]
    w = 8 if k == 4 else 16
    return [_s(x, w) for x in out] if signed else out


def _pack(parts, w):
    return sum((p & ((1 << w) - 1)) << (w * i) for i, p in enumerate(parts))


def int_reference(x: int, y: int, w: int, v: int):
    s8 = lambda a: _bytes(a, 4, True)  # noqa: E731
    u8 = lambda a: _bytes(a, 4, False)  # noqa: E731
    s16 = lambda a: _bytes(a, 2, True)  # noqa: E731
    u16 = lambda a: _bytes(a, 2, False)  # noqa: E731
    sh, s = (y >> 8) & 31, y >> 8
    pair = (y << 32) | x
    sel = (y >> 16) & 0x7777
    src = [(pair >> (8 * i)) & 0xFF for i in range(8)]
    pos, ln = y & 63, (y >> 6) & 63
    r32 = [
        int(f"{x:032b}"[::-1], 2),
        32 - (x >> (y & 31)).bit_length(),
        ((x & y) & -(x & y)).bit_length(),
        bin(w).count("1"),
        _pack([src[(sel >> (4 * i)) & 7] for i in range(4)], 8),
        ((pair << sh) >> 32) & M32,
        (pair >> sh) & M32,
        (pair >> min(s, 32)) & M32,
        ((_s(x, 32) * _s(y, 32)) >> 32) & M32,
        (x * y) >> 32,
        (abs(_s(x, 32) - _s(y, 32)) + (y >> 20)) & M32,
        _pack([abs(p - q) for p, q in zip(s8(x), s8(y))], 8),
        _pack([p + q for p, q in zip(u16(x), u16(y))], 16) ^ _pack([max(-128, min(127, p - q)) for p, q in zip(s8(x), s8(y))], 8),
        _pack([0xFF * (p > q) for p, q in zip(u8(x), u8(y))], 8) | _pack([max(p, q) for p, q in zip(s16(x), s16(y))], 16),
        _bfe(x, pos, ln, False),
        _bfe(x, pos, ln, True),
        _bfi(y, x, pos, ln),
        (x << pos) & M32 if pos < 32 else 0,  # shl/shr clamp the shift at the width (PTX)
        (_s(x, 32) >> min(pos, 31)) & M32,
    ]
    sw, sv = _s(w, 64), _s(v, 64)
    r64 = [
        (w * v) >> 64,
        ((sw * sv) >> 64) & M64,
        int(f"{w:064b}"[::-1], 2),
        64 - (w >> pos).bit_length(),
        ((w & v) & -(w & v)).bit_length(),
        ((w << pos) & M64) | (v >> (63 - pos)),
        (sw >> pos) & M64,
    ]
    return r32, r64


def test_integer_intrinsics_bit_exact(arch):
    n = 333
    r = rng(25)
    a = r.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    b = r.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    c = r.integers(0, 1 << 63, 2 * n, dtype=np.uint64) * np.uint64(2) + r.integers(0, 2, 2 * n, dtype=np.uint64)
    a[:6] = [0, 0xFFFFFFFF, 0x80000000, 1, 0x7FFFFFFF, 0x00FF00FF]
    b[:6] = [0, 0xFFFFFFFF, 0x0000003F, 0x00000FC0 | 31, 32 | (32 << 6), 0xFFFF0020]
    c[:3] = [0, M64, 1 << 63]
    o32, o64 = np.full(19 * n, 0xDEADBEEF, np.uint32), np.full(7 * n, 0xDEADBEEF, np.uint64)
    emulate(ptx(arch), "int_intrinsics", 2, 128, [a, b, c, o32, o64, np.int32(n)])
    want32, want64 = zip(*[int_reference(int(a[i]), int(b[i]), int(c[i]), int(c[n + i])) for i in range(n)])
    got32, got64 = o32.reshape(19, n).T, o64.reshape(7, n).T
    names = ["brev", "clz", "ffs", "popcll", "byte_perm", "funnelshift_l", "funnelshift_r", "funnelshift_rc", "mulhi",
             "umulhi", "sad", "vabsdiffs4", "vadd2^vsubss4", "vcmpgtu4|vmaxs2", "bfe.u32", "bfe.s32", "bfi", "shl",
             "shr.s32"]
    for k, name in enumerate(names):
        np.testing.assert_array_equal(got32[:, k], np.array([w[k] for w in want32], np.uint32), err_msg=name)
    for k, name in enumerate(["umul64hi", "mul64hi", "brevll", "clzll", "ffsll", "shift pair", "shr.s64"]):
        np.testing.assert_array_equal(got64[:, k], np.array([w[k] for w in want64], np.uint64), err_msg=name)


def _cdiv(x, y):  # C's truncating division and remainder
    q = abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)
    return q, x - q * y


def test_64_bit_division_and_remainder(arch):
    n = 257
    r = rng(26)
    a = r.integers(-(1 << 63), 1 << 63, n, dtype=np.int64)
    b = (r.integers(-(1 << 63), 1 << 63, n, dtype=np.int64) >> r.integers(0, 63, n)).astype(np.int64)
    b[b == 0] = 3
    a[:6] = [0, -1, np.iinfo(np.int64).max, np.iinfo(np.int64).min, 7, -(1 << 32)]
    b[:6] = [5, 7, -1, 3, -(1 << 33), 1 << 32]
    out = np.full(9 * n, 0x5A5A, np.int64)
    emulate(ptx(arch), "int_division", 2, 128, [a, b, out, np.int32(n)])
    want = []
    for x, y in zip(a.tolist(), b.tolist()):
        ux, uy = x & M64, y & M64
        x32 = _s(x & M32, 32)
        y32 = _s((y | 1) & M32, 32)
        q, rm = _cdiv(x, y)
        want.append([_s(q & M64, 64), rm, _s((ux // uy), 64), _s(ux % uy, 64), _cdiv(x, 1000000007)[0], ux % 10,
                     _cdiv(x32, 7)[0] + _cdiv(x32, 13)[1], (x & M32) // 641,
                     _s(_cdiv(x32, y32)[0] & M32, 32) if not (x32 == -(1 << 31) and y32 == -1) else None])
    got = out.reshape(9, n).T
    for k in range(9):
        col = [(i, w[k]) for i, w in enumerate(want) if w[k] is not None]
        np.testing.assert_array_equal(got[[i for i, _ in col], k], np.array([v for _, v in col], np.int64), err_msg=f"row {k}")


def test_packed_16_bit_integer_arithmetic():
    """sm_90's add/sub/min/max on u16x2/s16x2 (nvcc's __vadd2, __vmaxs2 ...): per half-word, wrapping."""
    from ptxkit import kernel
    body = """
    ld.global.u32 %r5, [%rd4];
    ld.global.u32 %r6, [%rd4+1024];
    add.u16x2 %r7, %r5, %r6;
    sub.s16x2 %r8, %r5, %r6;
    min.relu.s16x2 %r9, %r5, %r6;
    max.u16x2 %r10, %r5, %r6;
    st.global.u32 [%rd3], %r7;
    st.global.u32 [%rd3+1024], %r8;
    st.global.u32 [%rd3+2048], %r9;
    st.global.u32 [%rd3+3072], %r10;"""
    r = rng(27)
    x = r.integers(0, 1 << 32, 512, dtype=np.uint64).astype(np.uint32)
    x[:2], x[256:258] = [0xFFFF7FFF, 0x80000001], [0x00010001, 0x0002FFFF]
    out = np.zeros(1024, np.uint32)
    emulate(kernel(body), "k", 1, 256, [out, x, np.int32(256)])
    a, b = x[:256].view(np.uint16).reshape(-1, 2), x[256:].view(np.uint16).reshape(-1, 2)
    sa, sb = a.view(np.int16), b.view(np.int16)
    want = [a + b, (sa - sb).view(np.uint16), np.maximum(np.minimum(sa, sb), 0).view(np.uint16), np.maximum(a, b)]
    for k, w in enumerate(want):
        np.testing.assert_array_equal(out[256 * k:256 * (k + 1)], w.astype(np.uint16).reshape(-1).view(np.uint32))


# ------------------------------------------------------------------------------ conversions (bit-exact)

ROUNDERS = {"rn": lambda v: math.floor(v + Fraction(1, 2)) if (v + Fraction(1, 2)) % 1 else 2 * round(v / 2),
            "rz": math.trunc, "rd": math.floor, "ru": math.ceil}


def _to_int(v, mode, lo, hi):
    """PTX cvt to an integer: round in ``mode``, clamp to [lo, hi], NaN → 0."""
    if math.isnan(v):
        return 0
    if math.isinf(v):
        return hi if v > 0 else lo
    q = Fraction(v)
    k = round(q) if mode == "rn" else ROUNDERS[mode](q)  # Python's round(Fraction) is half-even
    return max(lo, min(hi, k))


def _to_float(v, fmt, mode):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v) or v == 0):
        return v
    return round_exact(Fraction(v), fmt, {"rd": "rm", "ru": "rp"}.get(mode, mode))


def _bits16(v, fmt):
    if fmt == "f16":
        return int(np.float16(v).view(np.uint16))
    f = np.float32(v).view(np.uint32)  # v is already a bf16 value: its f32 bits' top half
    return int(f >> 16)


def conversion_inputs(n, seed):
    r = rng(seed)
    f = (r.standard_normal(n) * 10.0 ** r.integers(-3, 6, n)).astype(F32)
    f[: n // 4] = (r.integers(-300, 300, n // 4) + 0.5).astype(F32)  # ties
    sp = [np.nan, np.inf, -np.inf, -0.0, 1e-40, 3e9, -3e9, 5e9, 1e20, -1e20, 65504.0, 65520.0, 65519.99, -65536.0,
          2.5, -2.5, 0.5, -0.5, 1.5, 3.0e38, -129.5, 255.5, 32767.9, -32768.9, 40000.0]
    f[n // 4: n // 4 + len(sp)] = sp
    d = r.standard_normal(n) * 10.0 ** r.integers(-3, 12, n)
    near = f[:n // 3].astype(np.float64)
    d[n // 2: n // 2 + n // 3] = near + np.spacing(np.abs(near).astype(F32)) * 0.5 * r.choice([-1, 1, 0.999], n // 3)
    dsp = [np.nan, np.inf, -np.inf, -0.0, 1e300, -1e300, 4294967295.7, 4294967296.0, -0.7, 2.0 ** 63, -(2.0 ** 63) - 4096,
           1.8e19, 2.0 ** 64, 1e-320, 3.4028235677973366e38, 3.402823669209385e38]
    d[:len(dsp)] = dsp
    w = (r.integers(-(1 << 63), 1 << 63, n, dtype=np.int64) >> r.integers(0, 63, n)).astype(np.int64)
    w[:4] = [np.iinfo(np.int64).max, np.iinfo(np.int64).min, (1 << 24) + 1, -(1 << 53) - 1]
    return f, d, w


def test_conversions_in_every_rounding_mode(arch):
    n = 257
    f, d, w = conversion_inputs(n, 28)
    oi, ol = np.full(10 * n, 0x5A5A5A5A, np.int32), np.full(5 * n, 0x5A5A5A5A, np.int64)
    of, oh = np.full(10 * n, np.nan, F32), np.full(10 * n, 0xDEAD, np.uint16)
    emulate(ptx(arch), "conversions", 2, 128, [f, d, w, oi, ol, of, oh, np.int32(n)])
    I32, U32, I64, U64 = (-(1 << 31), (1 << 31) - 1), (0, M32), (-(1 << 63), (1 << 63) - 1), (0, M64)
    for i in range(n):
        x, p, q = float(f[i]), float(d[i]), int(w[i])
        ints = [_to_int(x, "rn", *I32), _to_int(x, "rz", *I32), _to_int(x, "rd", *I32), _to_int(x, "ru", *I32),
                _s(_to_int(x, "rd", *U32), 32), _to_int(p, "rd", *I32), _s(_to_int(p, "ru", *U32), 32),
                _to_int(x, "rz", *I32), _s(_to_int(p, "rz", *U32), 32), _s(_to_int(x, "rn", *I32) & 0xFF, 8)]
        longs = [_to_int(x, "ru", *I64), _to_int(p, "rz", *I64), _s(_to_int(p, "rn", *U64), 64), _to_int(x, "rn", *I64),
                 _to_int(p, "rz", *I64)]
        floats = [_to_float(p, "f32", "rd"), _to_float(p, "f32", "ru"), _to_float(p, "f32", "rz"),
                  _to_float(p, "f32", "rn"), _to_float(_s(q & M32, 32), "f32", "rd"), _to_float(q & M32, "f32", "ru"),
                  _to_float(q, "f32", "ru"), _to_float(q & M64, "f32", "rd")]
        for k, v in enumerate(ints):
            assert oi[k * n + i] == v, (k, x, p, oi[k * n + i], v)
        for k, v in enumerate(longs):
            assert ol[k * n + i] == v, (k, x, p, ol[k * n + i], v)
        for k, v in enumerate(floats):
            got = of[k * n + i]
            sign = (math.copysign(1, v) < 0) if v else (k < 4 and math.copysign(1, p) < 0)  # -0.0 stays -0.0
            assert (math.isnan(v) and np.isnan(got)) or (got == v and bool(np.signbit(got)) == sign), (k, p, q, got, v)
        halves = [_to_float(x, "f16", m) for m in ("rz", "rd", "ru", "rn")] \
            + [_to_float(x, "bf16", m) for m in ("rz", "rd", "ru")] + [_to_float(p, "bf16", "rn")]
        for k, v in enumerate(halves):
            got = int(oh[k * n + i])
            if math.isnan(v):
                assert (got & 0x7FFF) > (0x7C00 if k < 4 else 0x7F80), (k, x, hex(got))
            else:
                assert got == _bits16(v, "f16" if k < 4 else "bf16"), (k, x, p, hex(got), v)
        h = _to_float(x, "f16", "rn")
        assert oh[8 * n + i] == _to_int(h, "rz", -(1 << 15), (1 << 15) - 1) & 0xFFFF, (x, oh[8 * n + i])
        v = _to_float(p, "f16", "rn")
        assert (math.isnan(v) and (oh[9 * n + i] & 0x7FFF) > 0x7C00) or oh[9 * n + i] == _bits16(v, "f16"), (p, oh[9 * n + i])
    a = f.astype(np.float64)
    with np.errstate(all="ignore"):
        want8 = [round_exact(Fraction(float(u)) + Fraction(float(t)), "f32", "rn") if np.isfinite(u + t) else u + t
                 for u, t in zip(np.rint(a), np.trunc(f * F32(0.5)).astype(np.float64))]
        want9 = np.where(a < 0, -np.floor(-a + 0.5), np.floor(a + 0.5)) - np.floor(a) + np.ceil(a)
    np.testing.assert_array_equal(of[8 * n:9 * n], np.array(want8, F32))
    np.testing.assert_array_equal(of[9 * n:10 * n], want9.astype(F32))


def test_min_max_nan_copysign_and_fused_multiply_add(arch):
    n = 300
    r = rng(29)
    x, y = r.standard_normal(n).astype(F32), r.standard_normal(n).astype(F32)
    x[:12] = [np.nan, 1.0, np.nan, np.inf, -np.inf, 2.0, 1e-40, -1e-40, 0.0, -0.0, -0.0, 0.0]
    y[:12] = [1.0, np.nan, np.nan, np.nan, 3.0, 2.0, 2e-40, -1e-40, -0.0, 0.0, -0.0, 0.0]
    out, od = np.full(6 * n, np.nan, F32), np.full(2 * n, np.nan)
    emulate(ptx(arch), "minmax", 2, 128, [x, y, out, od, np.int32(n)])
    a, b = x.astype(np.float64), y.astype(np.float64)
    np.testing.assert_array_equal(out[:n], np.fmin(a, b).astype(F32))  # a NaN operand gives the other one
    np.testing.assert_array_equal(out[n:2 * n], np.fmax(a, b).astype(F32))
    np.testing.assert_array_equal(out[2 * n:3 * n].view(np.uint32), np.copysign(x, y).view(np.uint32))
    with np.errstate(all="ignore"):
        p = (a * b).astype(F32).astype(np.float64)
        err = [round_exact(Fraction(u) * Fraction(v) - Fraction(w), "f32", "rn") if np.isfinite(u * v) else math.nan
               for u, v, w in zip(a.tolist(), b.tolist(), p.tolist())]
        np.testing.assert_array_equal(out[3 * n:4 * n], np.array(err, F32))  # fma(a, b, -a·b): the product's error
        np.testing.assert_array_equal(out[4 * n:5 * n], (p + a).astype(F32))  # mul.rn then add: two roundings
        np.testing.assert_array_equal(out[5 * n:6 * n], np.where(a > b, (a - b).astype(F32), np.where(
            np.isnan(a) | np.isnan(b), np.nan, 0)).astype(F32))
    np.testing.assert_array_equal(od[:n], np.fmin(a, b))
    np.testing.assert_array_equal(od[n:], np.fmax(a, b))
    # signed zeros: −0 orders below +0 whatever the operand order (numpy's own fmin/fmax may return either)
    for got in (out[:12], od[:12]):
        assert np.signbit(got[8:12]).tolist() == [True, True, True, False]
    for got in (out[n:n + 12], od[n:n + 12]):
        assert np.signbit(got[8:12]).tolist() == [False, False, True, False]


# ------------------------------------------------------------------------------ half, bf16, directed doubles


def _h(v):  # an intermediate rounded to f16
    return np.asarray(v).astype(np.float16).astype(np.float64)


def test_half_and_bfloat16_math(arch):
    """cuda_fp16/cuda_bf16 functions: f32 approximations rounded to the half type, with fix-ups for single
    inputs picked by packed compares (``set.eq.f16x2``). Within 1 ulp of the half type (hsin/hcos: plus
    sin.approx's 2^-21.41 absolute); comparisons, max/relu exact."""
    n = 400
    r = rng(30)
    x = (r.standard_normal(n) * 3).astype(np.float16)
    x[:6] = [0.0, -0.0, np.inf, np.nan, 6e-5, np.float16(0.007415771484375)]  # 0x1F79: an hexp fix-up point
    y = r.standard_normal(n) * 3
    yb = (y.astype(F32).view(np.uint32) >> 16).astype(np.uint16)  # truncated to bf16
    yv = (yb.astype(np.uint32) << 16).view(F32).astype(np.float64)
    o, ob = np.full(17 * n, np.nan, np.float16), np.full(7 * n, 0xFFFF, np.uint16)
    emulate(ptx(arch), "half_math", 2, 128, [x, o, yb, ob, np.int32(n)])
    a = x.astype(np.float64)
    aa = np.abs(a)
    with np.errstate(all="ignore"):
        rows = [np.exp(a), np.log(aa), np.sin(a), np.cos(a), np.sqrt(aa), 1 / np.sqrt(aa), 1 / a, np.exp2(a),
                np.tanh(a), None, None, np.log2(aa), 10.0 ** a, a / 3, np.sqrt(_h(np.exp(a))), np.sqrt(_h(np.exp(-a))), None]
        for k, w in enumerate(rows):
            if w is None:
                continue
            got = o[k * n:(k + 1) * n]
            if k in (2, 3):
                ok = (np.abs(got.astype(np.float64) - w) <= 2.0 ** -21.41 + np.spacing(np.abs(w).astype(np.float16))) \
                    | (np.isnan(got) & np.isnan(w))
                assert ok.all(), (k, np.flatnonzero(~ok))
            else:
                within(got, w, 1)
    np.testing.assert_array_equal(o[9 * n:10 * n], np.where(np.isnan(a), np.nan, np.maximum(a, 0.5)).astype(np.float16))
    relu = np.maximum((a * a - 1).astype(np.float16), 0)  # one rounding of the exact a·a − 1 (exact in f64)
    np.testing.assert_array_equal(o[10 * n:11 * n], np.where(np.isnan(a * a), np.nan, relu).astype(np.float16))
    np.testing.assert_array_equal(o[16 * n:17 * n], (a < 0.25).astype(np.float16))
    bv = (ob.astype(np.uint32) << 16).view(F32)
    with np.errstate(all="ignore"):
        for k, w in enumerate([np.exp(yv), np.log(np.abs(yv)), np.sin(yv), np.sqrt(np.abs(yv)), 1 / yv, np.tanh(yv),
                               yv / 3]):
            got = bv[k * n:(k + 1) * n].astype(np.float64)
            step = np.spacing(np.abs(w).astype(F32)).astype(np.float64) * 2 ** 16  # one bf16 ulp
            ok = (np.abs(got - w) <= step + (2.0 ** -21.41 if k == 2 else 0)) | (got == w) | (np.isnan(got) & np.isnan(w))
            assert ok.all(), (k, np.flatnonzero(~ok)[:5])


def test_double_directed_fma_and_friends(arch):
    """__fma_rd/ru/rz on doubles (fma.rm/rp/rz.f64, refused before), __dmul_rd, __dsqrt_ru, __drcp_rd:
    bit-exact against exact rational arithmetic, including products that cancel against the addend."""
    n = 300
    r = rng(31)
    x = r.standard_normal(n) * 2.0 ** r.integers(-40, 40, n)
    y = r.standard_normal(n)
    y[:100] = 1 + r.standard_normal(100) * 2.0 ** -40  # a·y − a and a·a − y nearly cancel
    y[100:150] = x[100:150] * x[100:150] * (1 + r.standard_normal(50) * 2.0 ** -50)
    out = np.full(7 * n, np.nan)
    emulate(ptx(arch), "double_directed", 2, 128, [x, y, out, np.int32(n)])
    o = out.reshape(7, n)
    for i in range(n):
        a, b = Fraction(float(x[i])), Fraction(float(y[i]))
        want = [round_exact(a * b - a, "f64", "rm"), round_exact(a * b + 1, "f64", "rp"),
                round_exact(a * a - b, "f64", "rz"), round_exact(a * b, "f64", "rm"),
                round_exact(_sqrt_fraction(abs(a)), "f64", "rp") if a else 0.0, round_exact(1 / b, "f64", "rm"),
                round_exact(a * b + a, "f64", "rn")]
        for k, w in enumerate(want):
            assert o[k, i] == w or (w == 0 and o[k, i] == 0), (k, i, o[k, i], w)


def test_packed_half_compares():
    """setp on f16x2/bf16x2 writes the low half's result to p and the high half's to q; set writes 1.0/0.0
    per half (f16x2/bf16x2 destination) or 0xFFFF/0 (u32); .ftz flushes subnormal f16 inputs."""
    from ptxkit import kernel
    body = """
    ld.global.u32 %r5, [%rd4];
    ld.global.u32 %r6, [%rd4+1024];
    setp.lt.f16x2 %p1|%p2, %r5, %r6;
    selp.u32 %r7, 1, 0, %p1;
    selp.u32 %r8, 2, 0, %p2;
    or.b32 %r7, %r7, %r8;
    set.gtu.f16x2.f16x2 %r9, %r5, %r6;
    set.eq.ftz.u32.f16x2 %r10, %r5, %r6;
    set.ne.and.bf16x2.bf16x2 %r11, %r5, %r6, %p1;
    st.global.u32 [%rd3], %r7;
    st.global.u32 [%rd3+1024], %r9;
    st.global.u32 [%rd3+2048], %r10;
    st.global.u32 [%rd3+3072], %r11;"""
    r = rng(32)
    h = r.integers(-3, 4, 1024).astype(np.float16)
    h[:8] = [np.nan, 1.0, 6e-8, 0.0, -6e-8, 0.0, 2.0, 2.0]
    words = h.view(np.uint32)
    out = np.zeros(1024, np.uint32)
    emulate(kernel(body), "k", 1, 256, [out, words, np.int32(256)])
    a, b = h[:512].reshape(-1, 2).astype(np.float64), h[512:].reshape(-1, 2).astype(np.float64)
    with np.errstate(invalid="ignore"):
        lt = a < b
        np.testing.assert_array_equal(out[:256], lt[:, 0] * 1 + lt[:, 1] * 2)
        gtu = ~(a <= b)
        np.testing.assert_array_equal(out[256:512], (gtu[:, 0] * 0x3C00) | (gtu[:, 1] * 0x3C00) << 16)
        fa, fb = (np.where(np.abs(v) < 2.0 ** -14, 0.0, v) for v in (a, b))
        eq = fa == fb
        np.testing.assert_array_equal(out[512:768], (eq[:, 0] * 0xFFFF) | (eq[:, 1] * 0xFFFF) << 16)
    ab, bb = (((v.astype(np.uint32) & 0xFFFF) << 16).view(F32) for v in (words[:256].view(np.uint16).reshape(-1, 2)[:, 0],
                                                                             words[256:].view(np.uint16).reshape(-1, 2)[:, 0]))
    hb = (words[:256] >> 16 << 16).view(F32), (words[256:] >> 16 << 16).view(F32)
    with np.errstate(invalid="ignore"):
        ne_lo = (ab != bb) & ~np.isnan(ab) & ~np.isnan(bb) & lt[:, 0]
        ne_hi = (hb[0] != hb[1]) & ~np.isnan(hb[0]) & ~np.isnan(hb[1]) & lt[:, 0]
    np.testing.assert_array_equal(out[768:], (ne_lo * 0x3F80) | (ne_hi * 0x3F80) << 16)


def _bmsk_reference(a: int, b: int, clamp: bool) -> int:
    a1, b1 = a & 31, b & 31
    mask0, s = (M32 << a1) & M32, a1 + b1
    mask1 = (M32 << s) & M32
    over = s >= 32
    if clamp and a >= 32:
        over, mask0 = True, 0
    if clamp and b >= 32:
        over = True
    mask1 = 0 if over else (M32 if b1 == 0 else mask1)
    return mask0 & ~mask1 & M32


@pytest.mark.parametrize("mode", ["clamp", "wrap"])
def test_bmsk_every_start_and_width(mode):
    """bmsk (cub's radix digit masks, CCCL 3): the PTX ISA's semantics over starts and widths 0..40 and huge."""
    from ptxkit import kernel
    body = f"""
    ld.global.u32 %r5, [%rd4];
    ld.global.u32 %r6, [%rd4+4096];
    bmsk.{mode}.b32 %r7, %r5, %r6;
    st.global.u32 [%rd3], %r7;"""
    vals = list(range(41)) + [63, 64, 255, 1 << 31, M32]
    pairs = [(a, b) for a in vals for b in vals]
    for at in range(0, len(pairs), 1024):
        chunk = pairs[at:at + 1024]
        a = np.array([p[0] for p in chunk] + [0] * (1024 - len(chunk)), np.uint32)
        b = np.array([p[1] for p in chunk] + [0] * (1024 - len(chunk)), np.uint32)
        out = np.zeros(1024, np.uint32)
        emulate(kernel(body), "k", 1, 1024, [out, np.concatenate([a, b]), np.int32(1024)])
        want = [_bmsk_reference(int(x), int(y), mode == "clamp") for x, y in zip(a, b)]
        np.testing.assert_array_equal(out, np.array(want, np.uint32))
    assert _bmsk_reference(1, 2, False) == 6  # the ISA's example


def test_fast_sine_of_large_arguments_as_the_gpu_computes_it(arch):
    """__sinf/__cosf (sin/cos.approx.f32) compile to FMUL.RZ t, x, 0.15915494 then MUFU.SIN/COS t (checked
    with ptxas + nvdisasm, sm_90): the turn count is an f32 rounded toward zero, so far from zero the result
    is the sine of that rounded turn, not of x — and for |x| ≥ 2^25·π the turn is an integer: sin 0, cos 1."""
    x = np.array([1e30, -3e9, 1000.0, 123456.7, 2.0, -1e-3], F32)
    out = np.full(14 * 6, np.nan, F32)
    emulate(ptx(arch), "intrinsics_f32", 1, 32, [x, np.ones(6, F32), out, np.int32(6)])
    c = float(F32(1 / (2 * np.pi)))
    turns = [round_exact(Fraction(float(v)) * Fraction(c), "f32", "rz") for v in x]
    frac = np.array([t - round(t) for t in turns])
    np.testing.assert_allclose(out[:6], np.sin(2 * np.pi * frac), rtol=0, atol=2 ** -21.41)
    np.testing.assert_allclose(out[6:12], np.cos(2 * np.pi * frac), rtol=0, atol=2 ** -21.41)
    assert out[0] == 0 and out[6] == 1 and abs(out[2] - np.sin(1000.0)) > 1e-5  # not the exact sine


@pytest.mark.parametrize("t", ["f32", "f64"])
def test_exact_zero_sums_round_down_to_minus_zero(t):
    """IEEE 754 (and the GPU): x − x, −0 + +0, a·0 + 0 with a < 0 are −0 under .rm, +0 under the other modes."""
    from ptxkit import kernel
    w, z = (4, "0f00000000") if t == "f32" else (8, "0d0000000000000000")
    r = "%f" if t == "f32" else "%fd"
    body = f"""
    mul.wide.u32 %rd5, %r0, {w};
    add.s64 %rd6, %rd1, %rd5;
    add.s64 %rd7, %rd0, %rd5;
    ld.global.{t} {r}1, [%rd6];
    sub.rm.{t} {r}2, {r}1, {r}1;
    st.global.{t} [%rd7], {r}2;
    add.rm.{t} {r}2, {r}1, {z};
    st.global.{t} [%rd7+{64 * w}], {r}2;
    fma.rm.{t} {r}2, {r}1, {z}, {z};
    st.global.{t} [%rd7+{128 * w}], {r}2;
    sub.rz.{t} {r}2, {r}1, {r}1;
    st.global.{t} [%rd7+{192 * w}], {r}2;"""
    dt = np.float32 if t == "f32" else np.float64
    x = np.array([1.5, -2.0, 0.0, -0.0, 1e-30, -3.0] + [1.0] * 58, dt)
    out = np.full(256, 7, dt)
    emulate(kernel(body), "k", 1, 64, [out, x, np.int32(64)])
    o = out.reshape(4, 64)[:, :6]
    assert np.signbit(o[0]).tolist() == [True] * 6  # x − x
    assert np.signbit(o[1]).tolist() == [False, True, False, True, False, True]  # x + 0: only −0 + +0 is exact zero
    assert np.signbit(o[2]).tolist() == [False, True, False, True, False, True]  # x·0 + 0: −0 + +0 → −0
    assert not np.signbit(o[3]).any()  # .rz: +0
    assert (o[:3] == [x[:6] - x[:6], x[:6], x[:6] * 0]).all()


def test_half_flush_to_zero():
    """.ftz on f16/f16x2 flushes subnormal halves (below 2^-14) in the inputs and the results."""
    from ptxkit import kernel
    body = """
    ld.global.b16 %h1, [%rd4];
    ld.global.b16 %h2, [%rd4+2];
    mul.ftz.f16 %h3, %h1, %h2;
    st.global.b16 [%rd3], %h3;
    mul.f16 %h3, %h1, %h2;
    st.global.b16 [%rd3+2], %h3;"""
    x = np.array([2.0 ** -20, 1024.0, 2.0 ** -8, 2.0 ** -8, 2.0 ** -7, 2.0 ** -7, -(2.0 ** -15), 4.0], np.float16)
    out = np.full(8, 7, np.float16)
    emulate(kernel(body), "k", 1, 4, [out, x, np.int32(4)])
    ftz, plain = out[0::2], out[1::2]
    # 2^-20 · 1024: a subnormal input; 2^-16: a subnormal result; 2^-14: the smallest normal; −2^-15 · 4
    np.testing.assert_array_equal(ftz, np.array([0.0, 0.0, 2.0 ** -14, 0.0], np.float16))
    np.testing.assert_array_equal(plain, np.array([2.0 ** -10, 2.0 ** -16, 2.0 ** -14, -(2.0 ** -13)], np.float16))
    assert np.signbit(ftz[3])  # sign-preserving


def _fp8(v: float, fmt: str) -> int:
    """float → e4m3/e5m2 bits: round to nearest even once, saturate to the largest finite value, NaN → 0x7F."""
    p, emin, top = (4, -6, 448.0) if fmt == "e4m3" else (3, -14, 57344.0)
    if math.isnan(v):
        return 0x7F
    sign = 0x80 if math.copysign(1, v) < 0 else 0
    a = abs(v)
    if a != math.inf:
        q = Fraction(a)
        e = max(math.floor(math.log2(a)) if a else emin, emin)
        step = Fraction(2) ** (e - p + 1)
        k = q / step
        a = float(round(k) * step)  # Python rounds a Fraction half to even
    a = min(a, top)
    if a == 0:
        return sign
    e = max(math.floor(math.log2(a)), emin)
    m = int(Fraction(a) / Fraction(2) ** (e - p + 1))
    if m < (1 << (p - 1)):  # subnormal
        return sign | m
    return sign | ((e - emin + 1) << (p - 1)) | (m - (1 << (p - 1)))


def test_fp8_conversions_software_and_hardware_agree(arch):
    n = 400
    r = rng(33)
    x = (r.standard_normal(n) * 2.0 ** r.integers(-18, 17, n)).astype(F32)
    x[:10] = [np.nan, np.inf, -np.inf, 448.0, 464.0, 57344.0, 61440.0, -0.0, 2.0 ** -9, 2.0 ** -10]
    e4, e5 = np.zeros(n, np.uint8), np.zeros(n, np.uint8)
    back = np.full(3 * n, np.nan, F32)
    emulate(ptx(arch), "fp8_roundtrip", 2, 128, [x, e4, e5, back, np.int32(n)])
    np.testing.assert_array_equal(e4, [_fp8(float(v), "e4m3") for v in x])
    np.testing.assert_array_equal(e5, [_fp8(float(v), "e5m2") for v in x])

    def value(bits, fmt):
        p, emin = (4, -6) if fmt == "e4m3" else (3, -14)
        s, e, m = bits >> 7, (bits >> (p - 1)) & ((1 << (8 - p)) - 1), bits & ((1 << (p - 1)) - 1)
        mag = m * 2.0 ** (emin - p + 1) if e == 0 else (1 + m / 2 ** (p - 1)) * 2.0 ** (e - 1 + emin)
        if fmt == "e4m3" and (bits & 0x7F) == 0x7F or fmt == "e5m2" and e == 31 and m:
            return math.nan
        return -mag if s else mag
    np.testing.assert_array_equal(back[:n], [value(int(b), "e4m3") for b in e4])
    np.testing.assert_array_equal(back[n:2 * n], [value(int(b), "e5m2") for b in e5])
    # the pair's high byte holds .y = −2x; widened to f16 (exact) and to f32
    np.testing.assert_array_equal(back[2 * n:], [value(_fp8(-2.0 * float(v), "e4m3"), "e4m3") for v in x])
