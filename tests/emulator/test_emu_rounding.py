"""Every rounding mode rounds once: cvt to f16/bf16/f32/f64 from wider floats and 64-bit integers,
directed f32/f64 arithmetic, f16/bf16 fma — against exact rational arithmetic, on the values where a
second rounding (f64 → f32 → f16, int64 → f64 → f32, a float64 sum that drops a tiny addend) goes wrong.
Also the packed-integer SIMD instructions (dp4a, dp2a, vop4/vop2) and the float modifiers the
emulator refuses rather than ignores."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from ptxkit import FMT, round_exact

from sass_lab.emulator import emulate
from sass_lab.errors import EmulatorError

RNG = np.random.default_rng(2026)
NP = {"f16": np.float16, "f32": np.float32, "f64": np.float64}
REG = {"f16": "b16", "bf16": "b16", "f32": "b32", "f64": "b64", "s64": "b64", "u64": "b64", "s32": "b32",
       "u32": "b32", "b32": "b32"}
SIZE = {"b16": 2, "b32": 4, "b64": 8}
def bits_of(x: float, fmt: str) -> int:
    if fmt == "bf16":
        return int(np.float32(x).view(np.uint32)) >> 16  # x is exactly a bf16 value here
    return int(np.array(x, NP[fmt]).view({"f16": np.uint16, "f32": np.uint32, "f64": np.uint64}[fmt]))


def value_of(raw: int, fmt: str) -> float:
    if fmt == "bf16":
        return float(np.uint32(raw << 16).view(np.float32))
    return float(np.array(raw, {"f16": np.uint16, "f32": np.uint32, "f64": np.uint64}[fmt]).view(NP[fmt]))


def run(instr: str, dtype: str, srcs: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """``instr d, s0, s1, …`` once per thread; each source from its own array (raw bits)."""
    n = len(srcs[0][1])
    params = ",\n".join([".param .u64 out"] + [f".param .u64 in{i}" for i in range(len(srcs))])
    dreg = REG[dtype]
    lines = [".version 9.0", ".target sm_90", ".address_size 64", f".visible .entry k({params})", "{",
             ".reg .b64 %a<40>;", ".reg .b32 %t;", f".reg .{dreg} %d;"]
    lines += [f".reg .{REG[t]} %s{i};" for i, (t, _) in enumerate(srcs)]
    lines += ["mov.u32 %t, %tid.x;", "ld.param.u64 %a0, [out];", "cvta.to.global.u64 %a0, %a0;",
              f"mul.wide.u32 %a1, %t, {SIZE[dreg]};", "add.s64 %a0, %a0, %a1;"]
    for i, (t, _) in enumerate(srcs):
        r = REG[t]
        lines += [f"ld.param.u64 %a{2 + 2 * i}, [in{i}];", f"cvta.to.global.u64 %a{2 + 2 * i}, %a{2 + 2 * i};",
                  f"mul.wide.u32 %a{3 + 2 * i}, %t, {SIZE[r]};", f"add.s64 %a{2 + 2 * i}, %a{2 + 2 * i}, %a{3 + 2 * i};",
                  f"ld.global.{r} %s{i}, [%a{2 + 2 * i}];"]
    lines += [f"{instr} %d, {', '.join(f'%s{i}' for i in range(len(srcs)))};", f"st.global.{dreg} [%a0], %d;",
              "ret;", "}"]
    out = np.full(n, 0x5A, np.dtype(f"u{SIZE[dreg]}"))  # poisoned
    emulate("\n".join(lines) + "\n", "k", 1, n, [out, *[np.ascontiguousarray(a) for _, a in srcs]])
    return out


def near_midpoints(fmt: str, n: int, src: str) -> np.ndarray:
    """``src`` values (f32 or f64) just above, at and just below midpoints between ``fmt`` neighbours,
    and just off ``fmt`` values (where a directed mode must step), over the whole exponent range."""
    p, emin, emax = FMT[fmt]
    sp = FMT[src][0]
    out = []
    for _ in range(n):
        e = int(RNG.integers(emin - 3, emax + 1))
        m = int(RNG.integers(1 << (p - 1), 1 << p))
        base = Fraction(m, 1 << (p - 1)) * Fraction(2) ** e
        half = Fraction(2) ** (max(e, emin) - p)
        tiny = Fraction(2) ** (max(e, emin) - p + 1 - (sp - p - 1))  # a few ulps of src below fmt's ulp
        for q in (base + half, base + half + tiny, base + half - tiny, base + tiny, base - tiny):
            v = NP[src](float(q)) if src != "f64" or abs(q) < 2 ** 1000 else None
            if v is not None and np.isfinite(v):
                out.append(v * (1 if RNG.random() < 0.5 else -1))
    return np.array(out, NP[src])


MODES = ["rn", "rz", "rm", "rp"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dst,src", [("f16", "f32"), ("f16", "f64"), ("bf16", "f32"), ("bf16", "f64"),
                                     ("f32", "f64")])
def test_cvt_float_narrowing_rounds_once(dst, src, mode):
    vals = near_midpoints(dst, 120, src)
    vals = np.concatenate([vals, np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 65519.0, 65520.0, -65536.0,
                                           3e38, -3.4e38, 1e-8, -6e-8, 3e-8], NP[src])])
    got = run(f"cvt.{mode}.{dst}.{src}", dst, [(src, vals)])
    for v, g in zip(vals, got):
        want = round_exact(Fraction(float(v)) if np.isfinite(v) and v != 0 else float(v), dst, mode)
        gv = value_of(int(g), dst)
        assert (np.isnan(want) and np.isnan(gv)) or (gv == want and np.signbit(gv) == np.signbit(want)), \
            f"cvt.{mode}.{dst}.{src}({float(v)!r}) = {gv!r}, exact rounding gives {want!r}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dst", ["f16", "bf16", "f32", "f64"])
@pytest.mark.parametrize("src", ["s64", "u64"])
def test_cvt_from_64_bit_integers_rounds_once(dst, src, mode):
    p = FMT[dst][0]
    ints = []
    for _ in range(150):  # k significant bits, then a pattern below the destination's precision
        k = int(RNG.integers(1, 64 if src == "u64" else 63))
        top = int(RNG.integers(1 << max(k - 1, 0), 1 << k))
        low = k - p - 1
        if low > 0:  # midpoint, just above, just below
            top = (top >> low << low) | (1 << (low - 1)) | int(RNG.choice([0, 1, (1 << max(low - 1, 1)) - 1]))
        ints.append(top if src == "u64" else top * (1 if RNG.random() < 0.5 else -1))
    ints += [0, 1, (1 << 63) - 1, (1 << 53) + 1] + ([(1 << 64) - 1] if src == "u64" else [-(1 << 63)])
    raw = np.array([i & ((1 << 64) - 1) for i in ints], np.uint64)
    got = run(f"cvt.{mode}.{dst}.{src}", dst, [(src, raw)])
    for i, g in zip(ints, got):
        want = round_exact(Fraction(i), dst, mode)
        assert value_of(int(g), dst) == want, f"cvt.{mode}.{dst}.{src}({i}) = {value_of(int(g), dst)!r}, not {want!r}"


def _f32(n, scale_lo=-30, scale_hi=30):
    m = RNG.standard_normal(n)
    return (m * 2.0 ** RNG.integers(scale_lo, scale_hi, n)).astype(np.float32)


@pytest.mark.parametrize("mode", ["rz", "rm", "rp"])
@pytest.mark.parametrize("op", ["add", "sub", "fma"])
def test_directed_f32_add_and_fma_keep_a_tiny_addend(op, mode):
    n = 200
    a = _f32(n, -4, 4)
    b = _f32(n, -4, 4) if op == "fma" else (a * np.float32(2.0) ** -60 * RNG.choice([-1, 1], n)).astype(np.float32)
    if op == "fma":
        b[::2] = RNG.choice([0.5, -2.0, 4.0, -0.25], n)[::2]  # a*b exactly an f32 value: a step must show
    c = (a * b * np.float32(2.0) ** -60 * RNG.choice([-1, 1], n)).astype(np.float32)  # below float64's reach
    srcs = [("f32", a.view(np.uint32)), ("f32", b.view(np.uint32))] + ([("f32", c.view(np.uint32))] if op == "fma" else [])
    got = run(f"{op}.{mode}.f32", "f32", srcs).view(np.float32)
    for i in range(n):
        x, y, z = (Fraction(float(v)) for v in (a[i], b[i], c[i]))
        exact = {"add": x + y, "sub": x - y, "fma": x * y + z}[op]
        assert float(got[i]) == round_exact(exact, "f32", mode), (op, mode, float(a[i]), float(b[i]))


def _isqrt_round(a: Fraction, mode: str) -> float:
    """sqrt of a float64 value rounded in ``mode``: the float64 neighbours bracket it by their squares."""
    r = float(np.sqrt(float(a)))
    lo = r if Fraction(r) ** 2 <= a else float(np.nextafter(r, 0))
    hi = lo if Fraction(lo) ** 2 == a else float(np.nextafter(lo, np.inf))
    if lo == hi:
        return lo
    if mode in ("rz", "rm"):
        return lo
    if mode == "rp":
        return hi
    mid = (Fraction(lo) + Fraction(hi)) / 2
    return hi if mid ** 2 < a else lo


@pytest.mark.parametrize("mode", ["rz", "rm", "rp"])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "sqrt", "rcp"])
def test_directed_f64_arithmetic(op, mode):
    n = 150
    a = RNG.standard_normal(n) * 2.0 ** RNG.integers(-60, 60, n)
    b = RNG.standard_normal(n) * 2.0 ** RNG.integers(-60, 60, n)
    b[:20] = a[:20] * 2.0 ** -70  # sums that drop the addend
    a[20:25] = [1.0, 4.0, 2.0, 9.0, 0.25]  # exact results stay exact
    b[20:25] = [1.0, 2.0, 0.5, 3.0, 4.0]
    if op == "sqrt":
        a = np.abs(a)
    one = op in ("sqrt", "rcp")
    srcs = [("f64", a.view(np.uint64))] + ([] if one else [("f64", b.view(np.uint64))])
    got = run(f"{op}.{mode}.f64", "f64", srcs).view(np.float64)
    for i in range(n):
        x, y = Fraction(float(a[i])), Fraction(float(b[i]))
        if op == "sqrt":
            want = _isqrt_round(x, mode)
        else:
            exact = {"add": x + y, "sub": x - y, "mul": x * y, "div": x / y, "rcp": 1 / x}[op]
            want = round_exact(exact, "f64", mode)
        assert float(got[i]) == want, (op, mode, float(a[i]), float(b[i]))


@pytest.mark.parametrize("mode", ["rz", "rm", "rp"])
@pytest.mark.parametrize("op", ["mul", "div", "sqrt", "rcp", "add", "fma"])
def test_directed_f64_at_the_edges_of_the_range(op, mode):
    """Regression: overflow gave ±inf where the mode rounds toward zero on that side (the largest finite
    value is right), results near the subnormals lost their direction (Dekker's product error underflowed)
    and operands above 2^995 lost it too (Veltkamp's split overflowed)."""
    n = 96
    e = RNG.integers(-1074, 1024, (3, n))
    a, b, c = (RNG.standard_normal(n) * 2.0 ** np.clip(e[k], -1074, 1020) for k in range(3))
    a[:8] = [1.7e308, -1.7e308, 5e-324, 1e-300, 2.0 ** 1000, 1e-160, 3.0, -2.0 ** -1000]
    b[:8] = [1.7e308, 1.5, -5e-324, 1e-20, 3.0, 1e-160, 1e-320, 2.0 ** 1000]
    c[:8] = [1.7e308, 5e-324, 5e-324, -1e-310, 1.0, 0.0, -1e308, 2.0 ** -1074]
    if op == "sqrt":
        a = np.abs(a)
    srcs = [a, b, c][:{"sqrt": 1, "rcp": 1, "fma": 3}.get(op, 2)]
    got = run(f"{op}.{mode}.f64", "f64", [("f64", x.view(np.uint64)) for x in srcs]).view(np.float64)
    for i in range(n):
        x, y, z = (Fraction(float(v[i])) for v in (a, b, c))
        if op == "sqrt":
            want = _isqrt_round(x, mode)
        else:
            if (op == "div" and y == 0) or (op == "rcp" and x == 0):
                continue  # division by zero: IEEE's infinities, tested elsewhere
            exact = {"add": x + y, "mul": x * y, "div": x / (y or 1), "rcp": 1 / (x or 1), "fma": x * y + z}[op]
            want = round_exact(exact, "f64", mode) if exact != 0 else float(got[i])  # a zero's sign: elsewhere
        assert float(got[i]) == want, (op, mode, float(a[i]), float(b[i]), float(c[i]))


def _half_values(fmt: str, n: int) -> np.ndarray:
    p, emin, emax = FMT[fmt]
    m = RNG.integers(1 << (p - 1), 1 << p, n)
    e = RNG.integers(emin, min(emax, 6) + 1, n)
    v = m.astype(np.float64) * 2.0 ** (e - p + 1) * RNG.choice([-1, 1], n)
    return v


@pytest.mark.parametrize("fmt", ["f16", "bf16"])
def test_half_fma_rounds_once(fmt):
    """fma.rn of f16/bf16: products at a midpoint plus the smallest addend of the other sign must round
    away from the midpoint (an f32 intermediate lands on it and ties to even)."""
    n = 300
    a, b = _half_values(fmt, n), _half_values(fmt, n)
    p = FMT[fmt][0]
    m = RNG.integers(1 << (p - 1), (1 << (p + 1)) // 3, n) | 1  # odd, and 3m has one bit more than the format
    a[::2] = (m * 2.0 ** RNG.integers(-p - 3, -p + 4, n))[::2]
    b[::2] = RNG.choice([-1.5, 1.5, 0.75, -3.0], n)[::2]  # so a*b sits exactly on a midpoint
    tiny = 2.0 ** (FMT[fmt][1] - FMT[fmt][0] + 1)  # smallest subnormal
    c = np.where(RNG.random(n) < 0.5, tiny, -tiny) * RNG.integers(1, 4, n)
    c[::3] = _half_values(fmt, n)[::3]

    def raw(x):
        return (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16) if fmt == "bf16" \
            else x.astype(np.float16).view(np.uint16)
    got = run(f"fma.rn.{fmt}", fmt, [(fmt, raw(a)), (fmt, raw(b)), (fmt, raw(c))])
    bad = []
    for i in range(n):
        want = round_exact(Fraction(a[i]) * Fraction(b[i]) + Fraction(c[i]), fmt, "rn")
        if value_of(int(got[i]), fmt) != want:
            bad.append((a[i], b[i], c[i], value_of(int(got[i]), fmt), want))
    assert not bad, bad[:5]


def test_half_fma_midpoint_case_by_hand():
    # (1 + 2^-10) * (1.5) = 1.5 + 1.5 * 2^-10: bit 11 set, a midpoint of f16; minus 2^-24 rounds down
    a, b, c = np.float16(1 + 2 ** -10), np.float16(1.5), np.float16(-(2.0 ** -24))
    got = run("fma.rn.f16", "f16", [("f16", np.array([a]).view(np.uint16)), ("f16", np.array([b]).view(np.uint16)),
                                    ("f16", np.array([c]).view(np.uint16))])
    want = round_exact(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)), "f16", "rn")
    assert value_of(int(got[0]), "f16") == want == 1.5 + 2 ** -10


# ------------------------------------------------------------------------------ SIMD integers


def _lanes(x: int, n: int, signed: bool) -> list[int]:
    w = 32 // n
    out = []
    for i in range(n):
        v = (x >> (w * i)) & ((1 << w) - 1)
        out.append(v - (1 << w) if signed and v >> (w - 1) else v)
    return out


@pytest.mark.parametrize("ta", ["u32", "s32"])
@pytest.mark.parametrize("tb", ["u32", "s32"])
@pytest.mark.parametrize("form", ["dp4a", "dp2a.lo", "dp2a.hi"])
def test_dp4a_dp2a(form, ta, tb):
    n = 96
    a, b, c = (RNG.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32) for _ in range(3))
    a[:3] = [0xFFFFFFFF, 0x80808080, 0x7F7F7F7F]
    b[:3] = [0xFFFFFFFF, 0x80808080, 0x80808080]
    got = run(f"{form}.{ta}.{tb}", "b32", [("b32", a), ("b32", b), ("b32", c)])
    for i in range(n):
        sa, sb = ta == "s32", tb == "s32"
        if form == "dp4a":
            va, vb = _lanes(int(a[i]), 4, sa), _lanes(int(b[i]), 4, sb)
        else:
            va = _lanes(int(a[i]), 2, sa)
            vb = _lanes(int(b[i]), 4, sb)[2:] if form.endswith("hi") else _lanes(int(b[i]), 4, sb)[:2]
        want = (sum(x * y for x, y in zip(va, vb)) + int(c[i])) & 0xFFFFFFFF
        assert int(got[i]) == want, (form, hex(a[i]), hex(b[i]), hex(c[i]))


def _vop_ref(op, x, y):
    return {"vadd": x + y, "vsub": x - y, "vabsdiff": abs(x - y), "vmin": min(x, y), "vmax": max(x, y),
            "vavrg": (x + y + 1) >> 1 if x + y >= 0 else (x + y) >> 1}[op]


@pytest.mark.parametrize("op", ["vadd", "vsub", "vabsdiff", "vmin", "vmax", "vavrg"])
@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("types,tail", [("u32.u32.u32", ""), ("s32.s32.s32", ""), ("u32.u32.u32", ".sat"),
                                        ("s32.s32.s32", ".sat"), ("u32.u32.u32", ".add"), ("s32.s32.s32", ".add")])
def test_simd_video_ops(op, n, types, tail):
    m = 64
    a, b, c = (RNG.integers(0, 1 << 32, m, dtype=np.uint64).astype(np.uint32) for _ in range(3))
    got = run(f"{op}{n}.{types}{tail}", "b32", [("b32", a), ("b32", b), ("b32", c)])
    sd = sa = sb = types.startswith("s")
    w = 32 // n
    for i in range(m):
        ts = [_vop_ref(op, x, y) for x, y in zip(_lanes(int(a[i]), n, sa), _lanes(int(b[i]), n, sb))]
        if tail == ".sat":
            lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if sd else (0, (1 << w) - 1)
            ts = [min(max(t, lo), hi) for t in ts]
        if tail == ".add":
            want = (sum(ts) + int(c[i])) & 0xFFFFFFFF
        else:
            want = sum((t & ((1 << w) - 1)) << (w * k) for k, t in enumerate(ts))
        assert int(got[i]) == want, (op, n, types, tail, hex(a[i]), hex(b[i]))


# ------------------------------------------------------------------------------ float modifiers


def test_min_max_nan_propagate_and_relu_clamps():
    a = np.array([1.0, np.nan, -2.0, 3.0, -0.5], np.float32)
    b = np.array([np.nan, 2.0, -3.0, 1.0, -1.0], np.float32)
    ab = [("f32", a.view(np.uint32)), ("f32", b.view(np.uint32))]
    assert np.isnan(run("min.NaN.f32", "f32", ab).view(np.float32)[:2]).all()
    np.testing.assert_array_equal(run("max.NaN.f32", "f32", ab).view(np.float32)[2:], [-2.0, 3.0, -0.5])
    np.testing.assert_array_equal(run("min.f32", "f32", ab).view(np.float32)[:2], [1.0, 2.0])
    h = [("f16", x.astype(np.float16).view(np.uint16)) for x in (a, b, b)]
    r = run("fma.rn.relu.f16", "f16", h).view(np.float16)
    want = np.maximum(a.astype(np.float64) * b + b, 0)
    np.testing.assert_array_equal(r[[2, 3, 4]], want[[2, 3, 4]].astype(np.float16))


@pytest.mark.parametrize("instr", ["min.xorsign.abs.f32", "add.rz.f16", "max.bogus.f32"])
def test_unmodelled_float_modifiers_are_refused(instr):
    t = instr.rsplit(".", 1)[1]
    k = 3 if instr.startswith("fma") else 2
    with pytest.raises(EmulatorError, match="not modelled|not supported"):
        run(instr, t, [(t, np.zeros(4, np.dtype(f"u{SIZE[REG[t]]}")))] * k)


@pytest.mark.parametrize("dst", ["f16", "bf16"])
def test_cvt_relu_and_satfinite(dst):
    v = np.array([-1.5, 2.0, -0.0, 1e6, -1e6, np.inf, -np.inf, np.nan, 3e38, 0.25], np.float32)
    src = [("f32", v.view(np.uint32))]
    top = 65504.0 if dst == "f16" else float(np.uint32(0x7F7F << 16).view(np.float32))
    relu = [value_of(int(g), dst) for g in run(f"cvt.rn.relu.{dst}.f32", dst, src)]
    assert relu[0] == 0 and relu[1] == 2.0 and relu[4] == 0 and np.isnan(relu[7]) and relu[9] == 0.25
    sat = [value_of(int(g), dst) for g in run(f"cvt.rn.satfinite.{dst}.f32", dst, src)]
    if dst == "f16":
        assert sat[3] == top and sat[4] == -top
    assert sat[5] == top and sat[6] == -top and np.isnan(sat[7]) and sat[0] == -1.5
    both = [value_of(int(g), dst) for g in run(f"cvt.rn.relu.satfinite.{dst}.f32", dst, src)]
    assert both[5] == top and both[6] == 0 and both[4] == 0


def test_cvt_pair_relu_satfinite_and_directed():
    a = np.array([-3.0, 1e6, 1.0 + 2 ** -12, np.nan], np.float32)
    b = np.array([5.0, -1e6, -(1.0 + 2 ** -12), 0.5], np.float32)
    ab = [("f32", a.view(np.uint32)), ("f32", b.view(np.uint32))]
    got = run("cvt.rn.relu.satfinite.f16x2.f32", "b32", ab)
    hi = (got >> 16).astype(np.uint16).view(np.float16)
    lo = (got & 0xFFFF).astype(np.uint16).view(np.float16)
    np.testing.assert_array_equal(hi[:3], [0, 65504, 1.0])
    np.testing.assert_array_equal(lo, [5.0, 0, 0, 0.5])
    assert np.isnan(hi[3])
    rz = run("cvt.rz.f16x2.f32", "b32", ab)
    np.testing.assert_array_equal((rz >> 16).astype(np.uint16).view(np.float16)[:3], [-3.0, 65504, 1.0])
    np.testing.assert_array_equal((rz & 0xFFFF).astype(np.uint16).view(np.float16)[:3], [5.0, -65504, -1.0])


def _fns_ref(mask: int, base: int, off: int) -> int:
    if off == 0:
        return base if (mask >> base) & 1 else 0xFFFFFFFF
    count, pos, inc = abs(off) - 1, base, 1 if off > 0 else -1
    while 0 <= pos < 32:
        if (mask >> pos) & 1:
            if count == 0:
                return pos
            count -= 1
        pos += inc
    return 0xFFFFFFFF


def test_fns_finds_the_nth_set_bit():
    n = 400
    mask = RNG.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    mask[:4] = [0xAAAAAAAA, 0xAAAAAAAA, 0xAAAAAAAA, 0xAAAAAAAA]
    mask[4:8] = [0, 0xFFFFFFFF, 1, 0x80000000]
    base = RNG.integers(0, 32, n).astype(np.uint32)
    off = RNG.integers(-34, 35, n).astype(np.int32)
    base[:4], off[:4] = [3, 3, 2, 2], [1, -1, 1, -1]  # the PTX ISA's examples: 3, 3, 3, 1
    got = run("fns.b32", "b32", [("b32", mask), ("u32", base), ("s32", off)])
    assert list(got[:4]) == [3, 3, 3, 1]
    assert [int(g) for g in got] == [_fns_ref(int(m), int(b), int(o)) for m, b, o in zip(mask, base, off)]
