"""Floating-point instructions (f16/bf16/f32/f64 and packed x2) and ``cvt``/``cvta``.

f32 ``fma`` is the exact product plus the addend in float64, rounded once to f32; the rare float64
result that lies exactly halfway between two f32 values is recomputed with the exact error term so
double rounding never happens. Half types compute in f32 and round once per result. ``.ftz`` flushes
f32 results; ``.sat`` clamps to [0, 1].
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .. import ir
from . import values as V
from .decode import Ctx, alu, builder, split_mods

F32, F64 = np.float32, np.float64
ROUND = ("rn", "rz", "rm", "rp")


def fma_f32(a, b, c):
    """Single-rounding f32 fused multiply-add."""
    s = np.multiply(a, b, dtype=F64)
    s = np.add(s, c, dtype=F64, out=s if s.ndim else None)
    r = s.astype(F32)
    tie = np.equal(np.bitwise_and(s.view(np.uint64), np.uint64(0x1FFFFFFF)), np.uint64(0x10000000))
    if tie.any():
        # exact error of the f64 sum (TwoSum) at the ties only; nudge each tie toward it, then round
        if s.ndim == 0:
            i, pick = (), (lambda x: np.asarray(x, F64))
        else:
            i = np.flatnonzero(tie)
            shape = s.shape

            def pick(x):
                x = np.asarray(x)
                return (x if x.ndim == 0 else np.broadcast_to(x, shape).reshape(-1)[i]).astype(F64)
        p = pick(a) * pick(b)
        si = s.reshape(-1)[i] if s.ndim else s
        c64 = pick(c)
        bb = si - p
        err = (p - (si - bb)) + (c64 - bb)
        if np.any(err != 0):
            nudged = np.where(err > 0, np.nextafter(si, np.inf), np.where(err < 0, np.nextafter(si, -np.inf), si))
            if s.ndim == 0:
                return nudged.astype(F32)
            r.reshape(-1)[i] = nudged.astype(F32)
    return r


def _half_wrap(t: str, f):
    """Lift an f32 function to a storage type (f16 values, bf16 bits, packed pairs)."""
    if t in ("f32", "f64", ""):
        return f
    if t == "f16":
        def g16(*a):
            return np.asarray(f(*[np.asarray(x).astype(F32) for x in a])).astype(np.float16)
        return g16
    if t == "bf16":
        def gb16(*a):
            return V.to_half_bits(f(*[V.bf16_to_f32(x) for x in a]), "bf16")
        return gb16
    if t in ("f16x2", "bf16x2"):
        def g2(*a):
            parts = [V.unpack_half2(x, t) for x in a]
            lo = f(*[p[0] for p in parts])
            hi = f(*[p[1] for p in parts])
            return V.pack_half2(V.to_half_bits(lo, t), V.to_half_bits(hi, t))
        return g2
    raise KeyError(t)


def _flush64(x):
    x = np.asarray(x)
    return x * (np.abs(x) >= np.float64(2.0 ** -1022))


def _flush16(limit: float):
    def fl(x):
        x = np.asarray(x)
        return x * (np.abs(x) >= x.dtype.type(limit))
    return fl


# .ftz per type: (inputs, results before their rounding). An f16 result flushes when it would round to a
# subnormal half, i.e. below 2^-14 minus half the subnormal spacing (2^-25).
FLUSH = {"f32": (V.ftz32, V.ftz32), "f16": (_flush16(2.0 ** -14), _flush16(2.0 ** -14 - 2.0 ** -25))}
FLUSH["f16x2"] = FLUSH["f16"]
FLUSH["f64"] = (_flush64, _flush64)  # rcp/rsqrt.approx.ftz.f64


def _post(f, mods: set[str], t: str):
    """Apply .ftz (f32, and the f64 rcp/rsqrt approximations) to the inputs and the results of ``f``, then
    .sat and .relu: with .ftz a subnormal input is a sign-preserving zero (PTX ISA), so ``mul.ftz.f32
    1e-40, 2^40`` is 0, not 1.1e-28."""
    flush_in, flush_out = FLUSH.get(t, (None, None))
    ftz = "ftz" in mods and flush_in is not None
    sat = "sat" in mods
    relu = "relu" in mods
    if not (ftz or sat or relu):
        return f

    def g(*a):
        r = f(*[flush_in(x) for x in a]) if ftz else f(*a)
        if ftz:
            r = flush_out(r)
        if sat:
            r = np.where(np.isnan(r), r.dtype.type(0), np.clip(r, 0, 1)).astype(r.dtype)
        if relu:  # negative results clamp to 0; NaN stays NaN
            r = np.where(r < 0, r.dtype.type(0), r).astype(r.dtype)
        return r
    return g


def _rounded(op: str, mode: str, f64f):
    """An f32 function with a directed rounding mode: compute in f64, round once. ``mul``, ``div``,
    ``rcp`` and ``sqrt`` of f32 values are exact or never land on an f32 value in f64; ``add``/``sub``
    and ``fma`` keep their exact error (round to odd) so the last rounding sees it."""
    def g(*a):
        return V.round_f32(f64f(*[np.asarray(x, F64) for x in a]), mode)
    return g


def _exact_sum(op: str):
    """f64 functions of f32 (or f16/bf16) values whose result, rounded once in any mode, is the
    correctly rounded exact result: the float64 sum/fma rounded to odd."""
    if op == "add":
        return lambda a, b: V.round_odd(*V.two_sum(a, b))
    if op == "sub":
        return lambda a, b: V.round_odd(*V.two_sum(a, np.negative(b)))
    return lambda a, b, c: V.round_odd(*V.two_sum(np.multiply(a, b, dtype=F64), c))  # product exact


def _directed64(op: str, mode: str):
    """An f64 add/sub/mul/div/sqrt/rcp with a directed rounding mode: the nearest result and the sign
    of its exact error (TwoSum, Dekker's product, the exact remainder of a quotient or a root)."""
    def err_mul(a, b, p):
        ah, al = _split(a)
        bh, bl = _split(b)
        return ((ah * bh - p) + ah * bl + al * bh) + al * bl

    def g(*x):
        a = np.asarray(x[0], F64)
        if op in ("add", "sub"):
            b = np.asarray(x[1], F64)
            s, e = V.two_sum(a, b if op == "add" else -b)
        elif op == "mul":
            b = np.asarray(x[1], F64)
            s = a * b
            e = err_mul(a, b, s)
        elif op in ("div", "rcp"):
            num, b = (a, np.asarray(x[1], F64)) if op == "div" else (np.ones_like(a), a)
            s = num / b
            p = s * b
            e = ((num - p) - err_mul(s, b, p)) * np.sign(b)  # num − s·b exactly; its sign (÷ b) → error's
        else:  # sqrt: a tiny radicand is scaled by 2^108 (its root by 2^54, exactly) so s·s does not underflow
            tiny = np.abs(a) < 2.0 ** -900
            a = np.where(tiny, a * 2.0 ** 108, a)
            s = np.sqrt(a)
            p = s * s
            e = (a - p) - err_mul(s, s, p)
            return V.directed_f64(s, np.where(np.isfinite(e), e, 0.0), mode) * np.where(tiny, 2.0 ** -54, 1.0)
        r = V.directed_f64(s, np.where(np.isfinite(e), e, 0.0), mode)
        if op != "add" and op != "sub":  # Dekker's error is not exact where a product is near the subnormals
            u, v = (a, b) if op == "mul" else (num, b)
            near = (np.abs(s) < TINY64) | ((np.abs(p) < TINY64) if op != "mul" else False) | _huge(u, v, s)
            r = _exact_where(near & (u != 0), r, mode, (u, v), (lambda q, w: q * w) if op == "mul" else
                             (lambda q, w: q / w))
        fin = np.isfinite(a) & (np.isfinite(x[1]) & (x[1] != 0) if op == "div" else np.isfinite(a) & (a != 0)
                                if op == "rcp" else np.isfinite(x[1]) if len(x) > 1 else True)
        return _overflow_to_max(r, mode, fin)
    return g


TINY64 = 2.0 ** -960  # below this a product's Dekker error (26-bit halves) may underflow


def _huge(*xs):
    """Lanes where Veltkamp's split (×(2^27 + 1)) overflows."""
    out = np.False_
    for x in xs:
        out = out | (np.abs(x) > 2.0 ** 995)
    return out


def _exact_where(mask, r, mode: str, args, fn):
    """``r`` with the lanes of ``mask`` replaced by ``fn`` of the exact rationals of ``args`` rounded once in
    ``mode`` (rare lanes near the subnormals, where the float error terms are not exact)."""
    mask = np.asarray(mask) & (np.asarray(args[-1]) != 0)
    for x in args:
        mask = mask & np.isfinite(x)
    if not mask.any():
        return r
    r = np.array(np.broadcast_to(r, mask.shape), F64)
    cols = [np.broadcast_to(np.asarray(x, F64), mask.shape) for x in args]
    for i in zip(*np.nonzero(mask)):
        q = fn(*(Fraction(float(c[i])) for c in cols))
        if q != 0:
            r[i] = V.round_rational_f64(q, mode)
    return r


def _overflow_to_max(r, mode: str, finite_inputs):
    """An infinite result of finite inputs is an overflow: modes that round toward zero on its side
    give the largest finite value (IEEE 754 §7.4), not infinity."""
    if mode == "rn":
        return r
    big = np.float64(np.finfo(F64).max)
    to_max = (np.isinf(r) & finite_inputs & ((mode == "rz") | ((r > 0) if mode == "rm" else (r < 0) if mode == "rp"
                                                                 else False)))
    return np.where(to_max, np.copysign(big, r), r)


INV_2PI_F32 = float(F32(0.15915493667125701904))  # the f32 1/2π that ptxas multiplies by


def _sincos_approx(fn):
    """sin/cos.approx.f32 as ptxas compiles them: ``FMUL.RZ t, x, 1/2π`` (f32, rounded toward zero), then
    ``MUFU.SIN/COS t`` of the fraction of a turn. Exact within [-π, π] to the documented 2^-21.41; beyond,
    the error of the rounded turn count grows with |x| as on the GPU (|x| ≥ 2^25·π: t is an integer, so
    sin gives ±0 and cos 1). MUFU's own last-bit error is not modelled."""
    def g(x):
        x = np.asarray(x)
        t = V.round_f32(x.astype(F64) * INV_2PI_F32, "rz").astype(F64)  # the f32 product is exact in f64
        with np.errstate(invalid="ignore"):
            turn = t - np.round(t)
        turn = np.where(turn == 0, np.copysign(turn, t), turn)  # sin(−0) is −0
        return fn(2 * np.pi * turn).astype(x.dtype)
    return g


def _exact_zero_down(f, op: str):
    """IEEE 754: an exact zero sum of operands that are not both +0 is −0 when rounding toward −∞
    (``x − x`` → −0, ``−0 + +0`` → −0); the float64 paths give +0."""
    def g(*a):
        r = f(*a)
        if op in ("fma", "mad"):
            x, y = np.multiply(a[0], a[1], dtype=F64), np.asarray(a[2])
        else:
            x, y = np.asarray(a[0]), (np.negative(a[1]) if op == "sub" else np.asarray(a[1]))
        both_plus = (x == 0) & ~np.signbit(x) & (y == 0) & ~np.signbit(y)
        return np.where((r == 0) & ~both_plus, r.dtype.type(-0.0), r).astype(r.dtype)
    return g


def _signed_zero_minmax(f, is_min: bool):
    """min/max ordering −0 below +0 (IEEE 754-2019; LLVM lowers llvm.minimum/maximum to min/max.NaN on
    sm_80+, which relies on it): numpy's fmin/fmax return either zero depending on the host's SIMD path."""
    def g(a, b):
        r = f(a, b)
        z = (a == 0) & (b == 0)
        if not np.any(z):
            return r
        pick_a = np.signbit(a) if is_min else ~np.signbit(a)
        return np.where(z, np.where(pick_a, a, b), r).astype(r.dtype)
    return g


def _div_approx(a, b):
    """div.approx.f32 is a · (1/b) with a flushing reciprocal (PTX ISA): for 2^126 < |b| < 2^128 the
    result is 0 (NaN when a is infinite); elsewhere within 2 ulp, here the correctly rounded quotient."""
    a, b = np.asarray(a, F32), np.asarray(b, F32)
    q = np.divide(a, b)
    big = (np.abs(b) > F32(2.0 ** 126)) & np.isfinite(b)
    return np.where(big, a * np.copysign(F32(0), b), q).astype(F32) if np.any(big) else q


def _approx(fn):
    def g(x):
        return fn(np.asarray(x)).astype(np.asarray(x).dtype)
    return g


def float_arith(ctx: Ctx, ins: ir.Instr, t: str, mods: set[str]):
    op = ins.opcode
    if not t:
        raise ctx.error(f"'{ins.name}' has no type")
    mode = next((m for m in ROUND if m in mods), "rn")
    known = {*ROUND, "ftz", "sat", "approx", "full"} | ({"relu"} if op in ("fma", "min", "max") else set()) \
        | ({"NaN"} if op in ("min", "max") else set())
    if op != "testp" and mods - known:
        raise ctx.error(f"'{ins.name}': modifier(s) {', '.join('.' + m for m in sorted(mods - known))} "
                        "are not modelled by the emulator")
    f = None
    n = 2
    if op == "add":
        f = np.add
    elif op == "sub":
        f = np.subtract
    elif op == "mul":
        f = np.multiply
    elif op in ("fma", "mad"):
        n = 3
        if t == "f32":
            f = fma_f32 if mode == "rn" else _rounded(op, mode, _exact_sum("fma"))
        elif t == "f64":
            f = _fma64 if mode == "rn" else _fma64_directed(mode)
        else:  # f16/bf16 (and pairs): exact product, sum rounded to odd, one rounding to the half type
            f = _exact_sum("fma")
    elif op == "div":
        f = _div_approx if "approx" in mods and t == "f32" else np.divide
    elif op == "min":
        f = _signed_zero_minmax(np.minimum if "NaN" in mods else np.fmin, True)  # .NaN: a NaN input gives NaN
    elif op == "max":
        f = _signed_zero_minmax(np.maximum if "NaN" in mods else np.fmax, False)
    elif op == "neg":
        f, n = np.negative, 1
    elif op == "abs":
        f, n = np.abs, 1
    elif op == "sqrt":
        f, n = np.sqrt, 1
    elif op == "rsqrt":
        f, n = (lambda x: (1 / np.sqrt(np.asarray(x, F64))).astype(np.asarray(x).dtype)), 1
    elif op == "rcp":
        f, n = (lambda x: (np.asarray(x).dtype.type(1) / x)), 1
    elif op == "ex2":
        f, n = _approx(np.exp2), 1
    elif op == "lg2":
        f, n = _approx(np.log2), 1
    elif op == "sin":
        f, n = _sincos_approx(np.sin), 1
    elif op == "cos":
        f, n = _sincos_approx(np.cos), 1
    elif op == "tanh":
        f, n = _approx(np.tanh), 1
    elif op == "copysign":
        def f(a, b):  # PTX: copysign d, a (sign), b (magnitude)
            return np.copysign(b, a)
    elif op == "testp":
        return _testp(ctx, ins, t, mods)
    if f is None:
        raise ctx.error(f"'{ins.name}' is not supported by the emulator")
    if mode != "rn" and t == "f32" and op in ("add", "sub", "mul", "div", "sqrt", "rcp"):
        f64f = {"add": _exact_sum("add"), "sub": _exact_sum("sub"), "mul": np.multiply, "div": np.divide,
                "sqrt": np.sqrt, "rcp": lambda a: 1.0 / a}[op]
        f = _rounded(op, mode, f64f)
    elif mode != "rn" and t == "f64" and op in ("add", "sub", "mul", "div", "sqrt", "rcp"):
        f = _directed64(op, mode)
    elif mode != "rn" and op in ("add", "sub", "mul", "div", "sqrt", "rcp"):
        raise ctx.error(f"'{ins.name}': rounding mode .{mode} on {t} is not modelled by the emulator")
    if mode == "rm" and op in ("add", "sub", "fma", "mad") and t in ("f32", "f64"):
        f = _exact_zero_down(f, op)
    f = _post(f, mods, t)
    return alu(ctx, ins, t, _half_wrap(t, f), n)


def _split(x):
    """Veltkamp split of float64 values into two 26-bit halves."""
    c = 134217729.0 * x
    hi = c - (c - x)
    return hi, x - hi


def _fma64(a, b, c):
    """float64 fma: exact product (Dekker) and sum (TwoSum) errors folded in before the last rounding."""
    a, b, c = np.asarray(a, F64), np.asarray(b, F64), np.asarray(c, F64)
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = p + c
    bb = s - p
    es = (p - (s - bb)) + (c - bb)
    r = s + (e + es)
    return np.where(np.isfinite(r) & np.isfinite(p), r, p + c)


def _fma64_directed(mode: str):
    """fma.{rz,rm,rp}.f64 (``__fma_rd`` …): step from the nearest result while the exact value
    a·b + c (= s1 + e1 + ep: TwoSum of the rounded product and c, plus Dekker's product error) lies on
    the wrong side of it. The sign of the three-term remainder is exact (two TwoSums)."""
    def sign_of_rest(a, b, c, r):
        p = a * b
        ah, al = _split(a)
        bh, bl = _split(b)
        ep = ((ah * bh - p) + ah * bl + al * bh) + al * bl
        s1, e1 = V.two_sum(p, c)
        h, lo = V.two_sum(s1 - r, e1)
        h2, lo2 = V.two_sum(h, ep)
        e = np.where(h2 != 0, h2, lo + lo2)
        return np.sign(np.where(np.isfinite(e), e, 0.0))

    def g(a, b, c):
        a, b, c = np.asarray(a, F64), np.asarray(b, F64), np.asarray(c, F64)
        r = _fma64(a, b, c)
        for _ in range(2):  # the nearest result is at most one step off; a second pass confirms
            e = sign_of_rest(a, b, c, r)
            down = (e < 0) if mode == "rm" else (e < 0) & (r > 0) if mode == "rz" else np.zeros_like(e, bool)
            up = (e > 0) if mode == "rp" else (e > 0) & (r < 0) if mode == "rz" else np.zeros_like(e, bool)
            fin = np.isfinite(r)
            r = np.where(down & fin, np.nextafter(r, -np.inf), np.where(up & fin, np.nextafter(r, np.inf), r))
        p = a * b
        near = ((np.abs(p) < TINY64) & (a != 0) & (b != 0)) | (np.abs(r) < TINY64) | _huge(a, b, c, p)
        r = _exact_where(near, r, mode, (c, a, b), lambda z, u, v: u * v + z)
        return _overflow_to_max(r, mode, np.isfinite(a) & np.isfinite(b) & np.isfinite(c))
    return g


def _testp(ctx: Ctx, ins: ir.Instr, t: str, mods: set[str]):
    what = next(m for m in mods if m in ("finite", "infinite", "number", "notanumber", "normal", "subnormal"))
    tiny = np.finfo(V.dtype(t)).tiny

    def f(a):
        a = np.asarray(a)
        return {"finite": np.isfinite(a), "infinite": np.isinf(a), "number": ~np.isnan(a),
                "notanumber": np.isnan(a), "normal": np.isfinite(a) & (np.abs(a) >= tiny),
                "subnormal": (np.abs(a) < tiny) & (a != 0)}[what]
    return alu(ctx, ins, t, f, 1, dst_t="pred", src_ts=[t])


# ------------------------------------------------------------------------------ cvt

INT_RND = {"rni": np.rint, "rzi": np.trunc, "rmi": np.floor, "rpi": np.ceil}


def _to_float_domain(x, t: str):
    """Raw values of type t → numpy float (f32 for halves, float64 for ints)."""
    if t == "bf16":
        return V.bf16_to_f32(x)
    if t == "f16":
        return np.asarray(x).astype(F32)
    if t in ("f32", "f64"):
        return np.asarray(x)
    return np.asarray(x).astype(F64)


def cvt_value(x, dt_t: str, st_t: str, mods: set[str]):
    """Convert raw values of ``st_t`` to raw values of ``dt_t`` under cvt's modifiers."""
    ddt = V.dtype(dt_t)
    sat = "sat" in mods
    irnd = next((m for m in mods if m in INT_RND), None)
    frnd = next((m for m in mods if m in ("rn", "rz", "rm", "rp", "rna")), "rn")
    src_float = V.is_float(st_t)
    dst_float = V.is_float(dt_t)
    if not src_float and not dst_float:  # int → int
        sdt = V.dtype(st_t)
        x = np.asarray(x)
        if sat:
            info = np.iinfo(ddt)
            if sdt.kind == "u" and ddt.kind == "i":
                lo = 0
            else:
                lo = max(info.min, np.iinfo(sdt).min)
            x64 = x.astype(np.int64) if not (sdt == np.uint64) else x
            return np.clip(x64, lo, min(info.max, np.iinfo(sdt).max)).astype(ddt)
        return V.as_type(x, sdt, ddt, st_t in V.SIGNED_TYPES or (sdt.itemsize < ddt.itemsize and sdt.kind == "i"))
    if src_float and not dst_float:  # float → int: round, saturate, NaN → 0
        v = _to_float_domain(x, st_t).astype(F64)
        if "ftz" in mods and st_t == "f32":
            v = V.ftz32(v.astype(F32)).astype(F64)
        v = INT_RND.get(irnd or "rzi", np.trunc)(v)
        info = np.iinfo(ddt)
        v = np.where(np.isnan(v), 0, np.clip(v, info.min, info.max))
        if ddt.itemsize == 8:  # float64 cannot hold the 64-bit limits: saturate explicitly
            if ddt.kind == "u":
                over = v >= 2.0 ** 64
                v = np.where(over, 0.0, v)
                big = v >= 2.0 ** 63
                lo = np.where(big, v - 2.0 ** 63, v).astype(np.int64).view(np.uint64)
                r = np.where(big, lo + np.uint64(1 << 63), lo)
                return np.where(over, np.uint64(0xFFFFFFFFFFFFFFFF), r)
            over = v >= 2.0 ** 63
            r = np.where(over, 0.0, v).astype(np.int64)
            return np.where(over, np.int64(2**63 - 1), r)
        return v.astype(ddt)
    # → float: every path rounds the exact source value once (64-bit integers through round-to-odd)
    wide_int = not src_float and V.dtype(st_t).itemsize == 8
    if src_float:
        v = _to_float_domain(x, st_t)
        if irnd:
            v = INT_RND[irnd](v)
    elif wide_int:
        if dt_t == "f64":
            xi = np.asarray(x)
            hi = xi >> xi.dtype.type(11) << xi.dtype.type(11)
            s, e = V.two_sum(hi.astype(F64), (xi & xi.dtype.type(0x7FF)).astype(F64))
            v = V.directed_f64(s, e, frnd if frnd != "rna" else "rn")
        else:
            v = V.int64_to_f64_odd(x)
    else:
        v = np.asarray(x).astype(F64)  # exact for 8/16/32-bit integers
    rnd = frnd if frnd != "rna" else "rn"
    if "relu" in mods:  # negative inputs give +0 (NaN stays NaN)
        v = np.where(np.asarray(v) < 0, np.asarray(v).dtype.type(0), v)
    if dt_t == "f32":
        r = V.round_f32(np.asarray(v, F64), rnd) if v.dtype == F64 else v.astype(F32)
        if "ftz" in mods:
            r = V.ftz32(r)
    elif dt_t == "f64":
        r = np.asarray(v).astype(F64)
    elif dt_t == "f16":
        r = V.to_half_bits(v, "f16", rnd).view(np.float16)
    elif dt_t == "bf16":
        r = V.to_half_bits(v, "bf16", rnd)
    elif dt_t == "tf32":
        r = V.f32_to_tf32(np.asarray(v).astype(F32), frnd)
    else:
        raise KeyError(dt_t)
    if "satfinite" in mods and dt_t in ("f16", "bf16"):
        r = satfinite_half(np.asarray(r).view(np.uint16), dt_t).view(r.dtype)
    if sat:
        rv = _to_float_domain(r, dt_t)
        rv = np.where(np.isnan(rv), 0, np.clip(rv, 0, 1))
        r = cvt_value(rv.astype(F32), dt_t, "f32", {"rn"}) if dt_t != "f64" else rv
    return r


def satfinite_half(bits, t: str):
    """``.satfinite``: ±infinity becomes the largest finite f16/bf16 of its sign; NaN stays NaN."""
    inf, top = (0x7C00, 0x7BFF) if t in ("f16", "f16x2") else (0x7F80, 0x7F7F)
    b = np.asarray(bits, np.uint16)
    return np.where((b & np.uint16(0x7FFF)) == inf, (b & np.uint16(0x8000)) | np.uint16(top), b).astype(np.uint16)


CVT_MODS = {"rn", "rz", "rm", "rp", "rna", "rni", "rzi", "rmi", "rpi", "ftz", "sat", "relu", "satfinite"}


@builder("cvt")
def cvt(ctx: Ctx, ins: ir.Instr):
    types, mods = split_mods(ins.mods)
    if len(types) != 2:
        raise ctx.error(f"'{ins.name}' needs a destination and a source type")
    dt_t, st_t = types
    if dt_t in FP8X2 or st_t in FP8X2:
        return _cvt_fp8(ctx, ins, dt_t, st_t, mods)
    if mods - CVT_MODS or ({"relu", "satfinite"} & mods and not (
            dt_t in ("f16", "bf16", "f16x2", "bf16x2") and st_t == "f32")):
        raise ctx.error(f"'{ins.name}': this form of cvt is not modelled by the emulator",
                        hint=".relu/.satfinite are modelled for f32 → f16/bf16(x2)")
    if dt_t in ("f16x2", "bf16x2"):  # cvt.rn.f16x2.f32 d, a, b: a → upper half, b → lower
        half = "bf16" if dt_t == "bf16x2" else "f16"
        rnd = next((m for m in ("rz", "rm", "rp") if m in mods), "rn")

        def one(x):
            x = np.asarray(x, F32)
            if "relu" in mods:
                x = np.where(x < 0, F32(0), x)
            h = V.to_half_bits(x, half, rnd)
            return satfinite_half(h, half) if "satfinite" in mods else h

        def pack(a, b):
            return V.pack_half2(one(b), one(a))
        return alu(ctx, ins, dt_t, pack, 2, src_ts=[st_t, st_t])
    try:
        V.dtype(dt_t), V.dtype(st_t)
    except KeyError:
        raise ctx.error(f"'{ins.name}' converts a type the emulator does not support") from None
    if dt_t in ("e4m3", "e5m2") or st_t in ("e4m3", "e5m2", "tf32"):
        raise ctx.error(f"'{ins.name}' is not supported by the emulator")
    return alu(ctx, ins, dt_t, lambda a: cvt_value(a, dt_t, st_t, mods), 1, src_ts=[st_t])


FP8X2 = {"e4m3x2": "e4m3", "e5m2x2": "e5m2"}


def _cvt_fp8(ctx: Ctx, ins: ir.Instr, dt_t: str, st_t: str, mods: set[str]):
    """``cvt.rn.satfinite{.relu}.{e4m3x2,e5m2x2}.f32 d, a, b`` (a → the upper byte),
    ``cvt.rn.satfinite{.relu}.{e4m3x2,e5m2x2}.f16x2 d, a`` and ``cvt.rn{.relu}.f16x2.{e4m3x2,e5m2x2} d, a``
    (the upper element → the upper half), exactly as :func:`~sass_lab.hw.wgmma.to_fp8` says."""
    from ..hw.wgmma import fp8_to_f16_bits, to_fp8

    relu = "relu" in mods
    if dt_t in FP8X2 and st_t in ("f32", "f16x2"):
        if not {"rn", "satfinite"} <= mods or mods - {"rn", "satfinite", "relu"}:
            raise ctx.error(f"'{ins.name}': a conversion to {dt_t} is cvt.rn.satfinite{{.relu}} (PTX ISA, cvt)")
        t = FP8X2[dt_t]

        def pair(hi, lo):
            return ((to_fp8(hi, t, relu).astype(np.uint16) << np.uint16(8)) | to_fp8(lo, t, relu)).astype(np.uint16)
        if st_t == "f32":
            return alu(ctx, ins, "b16", pair, 2, src_ts=["f32", "f32"])
        return alu(ctx, ins, "b16", lambda a: pair(*V.unpack_half2(a, "f16x2")[::-1]), 1, src_ts=["b32"])
    if dt_t == "f16x2" and st_t in FP8X2:
        if "rn" not in mods or mods - {"rn", "relu"}:
            raise ctx.error(f"'{ins.name}': a conversion from {st_t} is cvt.rn{{.relu}}.f16x2 (PTX ISA, cvt)")
        t = FP8X2[st_t]

        def widen(a):
            a = np.asarray(a).astype(np.uint16)
            lo = fp8_to_f16_bits((a & np.uint16(0xFF)).astype(np.uint8), t, relu)
            hi = fp8_to_f16_bits((a >> np.uint16(8)).astype(np.uint8), t, relu)
            return V.pack_half2(lo, hi)
        return alu(ctx, ins, "b32", widen, 1, src_ts=["b16"])
    raise ctx.error(f"'{ins.name}' is not supported by the emulator",
                    hint="fp8 pairs convert from .f32 or .f16x2 and to .f16x2")


@builder("cvta")
def cvta(ctx: Ctx, ins: ir.Instr):
    from .machine import CONST_WINDOW, LOCAL_WINDOW, PARAM_WINDOW, SHARED_WINDOW

    types, mods = split_mods(ins.mods)
    t = types[-1] if types else "u64"
    to = "to" in mods
    space = next((m for m in ("global", "shared", "local", "const", "param") if m in mods), None)
    if space is None:
        raise ctx.error(f"'{ins.name}' has no state space")
    base = {"shared": SHARED_WINDOW, "local": LOCAL_WINDOW, "param": PARAM_WINDOW, "const": CONST_WINDOW}.get(space, 0)
    if base == 0:
        return alu(ctx, ins, t, lambda a: a, 1)
    dt = V.dtype(t)
    b = V.const(base, dt) if dt.itemsize == 8 else None
    if to:
        if b is None:
            return alu(ctx, ins, t, lambda a: a, 1)
        return alu(ctx, ins, t, lambda a: a - b, 1)
    if b is None:
        raise ctx.error(f"'{ins.name}': a generic address needs 64 bits")
    return alu(ctx, ins, t, lambda a: a + b, 1)
