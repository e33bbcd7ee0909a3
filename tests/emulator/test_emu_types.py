"""Every integer width and every cvt type pair: no crashes, and values as Python integers/floats say."""

from __future__ import annotations

import numpy as np
import pytest
from ptxkit import HEAD

from sass_lab.emulator import emulate

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
INTS = ["u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64"]
FLOATS = ["f16", "bf16", "f32", "f64"]
REG = {1: "b16", 2: "b16", 4: "b32", 8: "b64"}  # PTX has no 8-bit registers: bytes live in 16-bit ones
N = 64
RNG = np.random.default_rng(17)


def _bits(t):
    return int("".join(ch for ch in t if ch.isdigit()))


def _kernel(body: str, dregs: str, sregs: str) -> str:
    decl = f".reg .{dregs} %d<3>;\n    .reg .{sregs} %s<3>;\n"
    return HEAD.replace("    mov.u32 %r0, %tid.x;", decl + "    mov.u32 %r0, %tid.x;") + body + "\n    ret;\n}\n"


def _run(body, dt_bytes, st_bytes, src: np.ndarray) -> np.ndarray:
    out = np.zeros(N, np.dtype(f"u{max(dt_bytes, 2)}"))
    ptx = _kernel(body, REG[dt_bytes], REG[st_bytes])
    emulate(ptx, "k", 1, N, [out, src, np.uint32(N)])
    return out


def _int_values(t):
    bits = _bits(t)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if t[0] == "s" else (0, (1 << bits) - 1)
    vals = [lo, hi, 0, 1, -1 if t[0] == "s" else 2, hi // 3]
    vals += [int(v) for v in RNG.integers(lo, hi, N - len(vals), dtype=np.int64 if bits < 64 else np.int64)
             ] if bits < 64 else [int(RNG.integers(0, 1 << 62)) * (1 if t[0] == "u" else -1) for _ in range(N - len(vals))]
    return vals


@pytest.mark.parametrize("op", ["add", "sub", "mul.lo", "mul.hi", "min", "max", "div", "rem"])
@pytest.mark.parametrize("t", ["u16", "u32", "u64", "s16", "s32", "s64"])
def test_integer_ops_every_width(op, t):
    bits = _bits(t)
    a = _int_values(t)
    b = list(reversed(a))
    b = [x if x != 0 else 3 for x in b]
    size = bits // 8
    src = np.zeros(2 * N, np.dtype(f"u{size}"))
    mask = (1 << bits) - 1
    src[:N] = [x & mask for x in a]
    src[N:] = [x & mask for x in b]
    body = (f"mul.wide.u32 %rd5, %r0, {size}; add.s64 %rd6, %rd1, %rd5; add.s64 %rd7, %rd0, %rd5;"
            f"ld.global.{t} %s0, [%rd6]; ld.global.{t} %s1, [%rd6+{N * size}];"
            f"{op}.{t} %d0, %s0, %s1; st.global.{t} [%rd7], %d0;")
    out = np.zeros(N, np.dtype(f"u{size}"))
    emulate(_kernel(body, REG[size], REG[size]), "k", 1, N, [out, src, np.uint32(N)])

    def ref(x, y):
        if op == "add":
            r = x + y
        elif op == "sub":
            r = x - y
        elif op == "mul.lo":
            r = x * y
        elif op == "mul.hi":
            r = (x * y) >> bits
        elif op == "min":
            r = min(x, y)
        elif op == "max":
            r = max(x, y)
        elif op == "div":
            r = abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)
        else:
            r = x - (abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)) * y
        return r & mask
    want = [ref(x, y) for x, y in zip(a, b)]
    assert [int(v) for v in out] == want


def _convert_ref(v, dt: str, st: str):
    if dt in INTS:
        bits = _bits(dt)
        if st in FLOATS:
            if np.isnan(v):
                return 0
            lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if dt[0] == "s" else (0, (1 << bits) - 1)
            return int(min(max(np.trunc(float(v)), lo), hi)) & ((1 << bits) - 1)
        return int(v) & ((1 << bits) - 1)
    return None  # float targets compared numerically below


PAIRS = [(d, s_) for d in INTS + FLOATS for s_ in INTS + FLOATS if d != s_]


@pytest.mark.parametrize("dt,st", PAIRS)
def test_cvt_every_pair(dt, st):
    ssize = {"f16": 2, "bf16": 2, "f32": 4, "f64": 8}.get(st) or max(_bits(st) // 8, 1)
    dsize = {"f16": 2, "bf16": 2, "f32": 4, "f64": 8}.get(dt) or max(_bits(dt) // 8, 1)
    if st in FLOATS:
        vals = np.array([0.0, -0.0, 1.5, -2.5, 3.75, -1e4, 1e30, -1e30, np.nan, np.inf, 65504.0, 0.333]
                        + list(RNG.standard_normal(N - 12) * 300), np.float64)
        if st == "bf16":
            raw = (vals.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
            vals = (raw.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            raw = vals.astype({"f16": np.float16, "f32": np.float32, "f64": np.float64}[st])
            vals = raw.astype(np.float64)
        src = np.ascontiguousarray(raw).view(np.dtype(f"u{ssize}"))
    else:
        ints = _int_values(st)
        src = np.array([x & ((1 << _bits(st)) - 1) for x in ints], np.dtype(f"u{max(ssize, 1)}"))
        vals = ints
    mod = ""
    if st in FLOATS and dt in INTS:
        mod = ".rzi"
    elif dt in FLOATS and (st in INTS or FLOATS.index(dt) < FLOATS.index(st) or {dt, st} == {"f16", "bf16"}):
        mod = ".rn"
    lt = st if st in FLOATS else ("b" + str(_bits(st)) if _bits(st) > 8 else "u8")
    ldt = {"f16": "b16", "bf16": "b16"}.get(lt, lt)
    stt = {"f16": "b16", "bf16": "b16"}.get(dt, dt if dt in FLOATS else "b" + str(max(_bits(dt), 8)))
    body = (f"mul.wide.u32 %rd5, %r0, {ssize}; add.s64 %rd6, %rd1, %rd5; mul.wide.u32 %rd8, %r0, {max(dsize, 2)};"
            f"add.s64 %rd7, %rd0, %rd8; ld.global.{ldt} %s0, [%rd6];"
            f"cvt{mod}.{dt}.{st} %d0, %s0; st.global.{stt if stt != 'b8' else 'b16'} [%rd7], %d0;")
    out = _run(body, dsize, ssize, src)
    if dt in INTS:
        want = [_convert_ref(v, dt, st) for v in vals]
        mask = (1 << max(_bits(dt), 16)) - 1 if _bits(dt) == 8 else (1 << _bits(dt)) - 1
        got = [int(x) & ((1 << _bits(dt)) - 1) & mask for x in out]
        assert got == want
    else:
        if dt == "bf16":
            g = (out.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            g = out.view({"f16": np.float16, "f32": np.float32, "f64": np.float64}[dt]).astype(np.float64)
        w = np.array(vals, np.float64)
        rel = {"f16": 1e-3, "bf16": 8e-3, "f32": 1e-7, "f64": 1e-15}[dt]
        big = np.abs(w) > {"f16": 65520.0, "bf16": 3.4e38, "f32": 3.4e38, "f64": np.inf}[dt]
        np.testing.assert_allclose(g[~big], w[~big], rtol=rel, equal_nan=True)
        assert np.all(np.isinf(g[big]))


@pytest.mark.parametrize("dt,st", [(d, s_) for d, s_ in PAIRS if d in INTS and s_ in INTS])
def test_cvt_sat_integers(dt, st):
    ssize, dsize = _bits(st) // 8, _bits(dt) // 8
    ints = _int_values(st)
    src = np.array([x & ((1 << _bits(st)) - 1) for x in ints], np.dtype(f"u{ssize}"))
    ldt = "b" + str(_bits(st)) if _bits(st) > 8 else "u8"
    body = (f"mul.wide.u32 %rd5, %r0, {ssize}; add.s64 %rd6, %rd1, %rd5; mul.wide.u32 %rd8, %r0, {max(dsize, 2)};"
            f"add.s64 %rd7, %rd0, %rd8; ld.global.{ldt} %s0, [%rd6];"
            f"cvt.sat.{dt}.{st} %d0, %s0; st.global.b{max(_bits(dt), 16)} [%rd7], %d0;")
    out = _run(body, dsize, ssize, src)
    bits = _bits(dt)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if dt[0] == "s" else (0, (1 << bits) - 1)
    want = [min(max(v, lo), hi) & ((1 << bits) - 1) for v in ints]
    assert [int(x) & ((1 << bits) - 1) for x in out] == want


def _round_to(x64: np.ndarray, t: str) -> np.ndarray:
    """float64 values rounded once (to nearest even) to type t, returned as float64."""
    if t == "bf16":
        f = x64.astype(np.float32)
        b = f.view(np.uint32).astype(np.uint64)
        r = (((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16).astype(np.uint32).view(np.float32)
        return np.where(np.isnan(f), np.nan, r).astype(np.float64)
    return x64.astype({"f16": np.float16, "f32": np.float32, "f64": np.float64}[t]).astype(np.float64)


def _exact_fma(a, b, c):
    from fractions import Fraction

    out = []
    for x, y, z in zip(a, b, c):
        if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(z)):
            out.append(float(x) * float(y) + float(z))
        else:
            out.append(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z)))
    return out


def _fraction_round(vals, t):
    """Correctly rounded Fractions (or floats) → type t (float64 result)."""
    from fractions import Fraction

    res = []
    for v in vals:
        if not isinstance(v, Fraction):
            res.append(_round_to(np.array([v]), t)[0])
            continue
        guess = _round_to(np.array([float(v)]), t)[0]
        cands = [guess]
        for d in (-1, 1):
            nb = _round_to(np.array([np.nextafter(guess, d * np.inf)]), t)[0]
            step = nb
            for _ in range(3):  # the neighbour in type t
                if step != guess:
                    break
                step = _round_to(np.array([np.nextafter(step, d * np.inf) * (1 + d * 1e-3)]), t)[0]
            cands.append(step)
        finite = [x for x in cands if np.isfinite(x)]
        res.append(min(finite, key=lambda x: abs(Fraction(float(x)) - v)) if finite else guess)
    return np.array(res, np.float64)


FOPS = ["add", "sub", "mul", "min", "max", "div", "fma", "neg", "abs", "sqrt"]


@pytest.mark.parametrize("t,op", [(t, op) for t in FLOATS for op in FOPS
                                  if not (op in ("div", "sqrt") and t in ("f16", "bf16"))])  # no half div/sqrt
def test_float_ops_every_type(op, t):
    size = {"f16": 2, "bf16": 2, "f32": 4, "f64": 8}[t]
    base = np.concatenate([[0.0, -0.0, 1.0, -1.5, np.inf, -np.inf, np.nan, 3.0, 0.1, 1e-3],
                           RNG.standard_normal(N - 10) * 50])
    a, b, c = (_round_to(np.roll(base, k) * s, t) for k, s in ((0, 1.0), (7, 0.7), (13, 1.3)))

    def raw(x):
        if t == "bf16":
            return (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
        return x.astype({"f16": np.float16, "f32": np.float32, "f64": np.float64}[t])
    src = np.concatenate([raw(a), raw(b), raw(c)]).view(np.dtype(f"u{size}"))
    rt = "b16" if size == 2 else t
    nargs = {"neg": 1, "abs": 1, "sqrt": 1, "fma": 3}.get(op, 2)
    rnd = ".rn" if op in ("add", "sub", "mul", "div", "fma", "sqrt") else ""
    args = ", ".join(f"%s{i}" for i in range(nargs))
    body = (f"mul.wide.u32 %rd5, %r0, {size}; add.s64 %rd6, %rd1, %rd5; add.s64 %rd7, %rd0, %rd5;"
            f"ld.global.{rt} %s0, [%rd6]; ld.global.{rt} %s1, [%rd6+{N * size}]; ld.global.{rt} %s2, [%rd6+{2 * N * size}];"
            f"{op}{rnd}.{t} %d0, {args}; st.global.{rt} [%rd7], %d0;")
    out = np.zeros(N, np.dtype(f"u{size}"))
    ptx = _kernel(body, REG[size], REG[size]).replace(".reg .b16 %s<3>", ".reg .b16 %s<3>")
    emulate(ptx, "k", 1, N, [out, src, np.uint32(N)])
    got = (out.astype(np.uint32) << 16).view(np.float32).astype(np.float64) if t == "bf16" else \
        out.view({"f16": np.float16, "f32": np.float32, "f64": np.float64}[t]).astype(np.float64)
    with np.errstate(all="ignore"):
        if op == "fma":
            want = _fraction_round(_exact_fma(a, b, c), t)
        else:
            exact = {"add": a + b, "sub": a - b, "mul": a * b, "min": np.fmin(a, b), "max": np.fmax(a, b),
                     "div": a / b, "neg": -a, "abs": np.abs(a), "sqrt": np.sqrt(a)}[op]
            want = _round_to(exact, t) if t != "f64" or op not in ("div", "sqrt") else exact
    np.testing.assert_array_equal(got, want)


def _bitref(op, t, x, y):
    bits = _bits(t)
    m = (1 << bits) - 1
    sx = x - (1 << bits) if t[0] == "s" and x >> (bits - 1) else x
    sh = y  # PTX clamps the whole unsigned amount (no masking)
    if op == "shl":
        return (x << sh) & m if sh < bits else 0
    if op == "shr":
        if t[0] == "s":
            return (sx >> min(sh, bits - 1)) & m
        return x >> sh if sh < bits else 0
    if op == "and":
        return x & y
    if op == "or":
        return x | y
    if op == "xor":
        return x ^ y
    if op == "not":
        return ~x & m
    if op == "popc":
        return bin(x).count("1")
    if op == "clz":
        return bits - x.bit_length()
    if op == "brev":
        return int(f"{x:0{bits}b}"[::-1], 2)
    if op == "bfe":
        pos, ln = y & 0xFF, (y >> 8) & 0xFF
        out = 0
        sbit = (x >> min(pos + ln - 1, bits - 1)) & 1 if t[0] == "s" and ln else 0
        for i in range(bits):
            out |= ((x >> (pos + i)) & 1 if i < ln and pos + i < bits else sbit) << i
        return out
    raise KeyError(op)


BITOPS = ["shl", "shr", "and", "or", "xor", "not", "popc", "clz", "brev", "bfe"]


def _bit_cases():
    for t in ["b16", "b32", "b64", "u16", "u32", "u64", "s16", "s32", "s64"]:
        for op in BITOPS:
            if op == "shr" and t[0] == "b" or op != "shr" and op != "bfe" and t[0] != "b":
                continue  # shr takes .u/.s; the other bit ops take .b
            if op == "bfe" and (t[0] == "b" or _bits(t) < 32) or op in ("popc", "clz", "brev") and _bits(t) < 32:
                continue
            yield t, op


@pytest.mark.parametrize("t,op", list(_bit_cases()))
def test_bit_ops_every_width(op, t):
    bits = _bits(t)
    size = bits // 8
    xs = [int(v) for v in RNG.integers(0, 1 << 62, N, dtype=np.int64)]
    xs = [(v * 0x9E3779B97F4A7C15) & ((1 << bits) - 1) for v in xs]
    xs[:4] = [0, (1 << bits) - 1, 1 << (bits - 1), 1]
    ys = [int(v) for v in RNG.integers(0, 1 << 16, N)]
    ys[:6] = [0, bits - 1, bits, bits + 5, 255, 3]
    if op in ("and", "or", "xor"):
        ys = list(reversed(xs))
    if op == "bfe":
        ys = [(p % (bits + 8)) | ((ln % (bits + 8)) << 8) for p, ln in zip(ys, reversed(ys))]
    src = np.array(xs, np.dtype(f"u{size}"))
    yv = np.array([y & ((1 << bits) - 1) for y in ys], np.dtype(f"u{size}"))
    unary = op in ("not", "popc", "clz", "brev")
    dst_t = "b32" if op in ("popc", "clz") else t
    if op in ("shl", "shr"):
        expr = f"ld.global.u32 %r9, [%rd9]; {op}.{t} %d0, %s0, %r9;"
    elif op == "bfe":
        expr = f"ld.global.u32 %r9, [%rd9]; and.b32 %r10, %r9, 255; shr.u32 %r11, %r9, 8; bfe.{t} %d0, %s0, %r10, %r11;"
    elif unary:
        expr = f"{op}.{t} %d0, %s0;" if op not in ("popc", "clz") else f"{op}.{t} %r12, %s0; cvt.u{bits}.u32 %d0, %r12;"
    else:
        expr = f"ld.global.{t} %s1, [%rd6+{N * size}]; {op}.{t} %d0, %s0, %s1;"
    del dst_t
    ys32 = np.array([y & 0xFFFFFFFF for y in ys], np.uint32)
    data = np.concatenate([src.view(np.uint8), yv.view(np.uint8), ys32.view(np.uint8)])
    body = (f"mul.wide.u32 %rd5, %r0, {size}; add.s64 %rd6, %rd1, %rd5; add.s64 %rd7, %rd0, %rd5;"
            f"mul.wide.u32 %rd8, %r0, 4; add.s64 %rd9, %rd1, %rd8; add.s64 %rd9, %rd9, {2 * N * size};"
            f"ld.global.{'b' + str(bits)} %s0, [%rd6]; {expr} st.global.b{bits} [%rd7], %d0;")
    out = np.zeros(N, np.dtype(f"u{size}"))
    ptx = _kernel(body, REG[size], REG[size])
    emulate(ptx, "k", 1, N, [out, data, np.uint32(N)])
    want = [_bitref(op, t, x, y) for x, y in zip(xs, ys)]
    assert [int(v) for v in out] == want


def test_fma_f32_never_double_rounds_at_a_float64_tie():
    # (1 + 2^-12)^2 + 2^-80: the float64 sum drops 2^-80 and lands exactly halfway between two f32
    # values; the exact result lies above it, so the single rounding goes up (a naive f64 round goes even)
    from sass_lab.emulator.ops_float import fma_f32

    a = np.float32(1 + 2.0 ** -12)
    tiny = np.float32(2.0 ** -80)
    want = np.float32(1 + 2.0 ** -11 + 2.0 ** -23)
    lanes = np.array([a, -a, a, a], np.float32)
    c = np.array([tiny, -tiny, 0, tiny], np.float32)
    got = fma_f32(lanes, np.array([a, a, a, np.float32(1)], np.float32), c)
    assert got[0] == want and got[1] == -want
    assert got[2] == np.float32(1 + 2.0 ** -11)  # an exact tie: to even
    assert got[3] == a  # no tie
    assert fma_f32(np.array(a), np.array(a), np.array(tiny)) == want  # uniform (0-d) operands
