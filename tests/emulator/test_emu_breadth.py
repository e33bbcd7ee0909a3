"""corpus/breadth.cu (our own kernels in idioms third-party code uses) against numpy, on six builds: sm_80 and
sm_90, -G, --use_fast_math and -lineinfo. Integer results are exact; float results are checked against a
float64 reference within the error bound documented for each operation (cited at each check)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from ptxkit import corpus_ptx

from sass_lab.emulator import emulate

BUILDS = ("sm_80", "sm_90", "sm_90.G", "sm_80.fast", "sm_90.fast", "sm_90.lineinfo")
EXACT = ("sm_80", "sm_90", "sm_90.G", "sm_90.lineinfo")  # IEEE builds (no --use_fast_math)


def _ptx(build: str) -> str:
    return corpus_ptx("breadth", build)


def entry(ptx: str, pattern: str) -> str:
    """The one mangled ``.entry`` name of ``ptx`` matching ``pattern``."""
    (name,) = [k for k in re.findall(r"\.entry\s+(\w+)", ptx) if re.search(pattern, k)]
    return name


def run(ptx: str, name: str, *a, **kw):
    """``emulate`` the kernel whose mangled name starts with ``name`` (or matches it, for templates)."""
    return emulate(ptx, entry(ptx, name if "I" in name else rf"^_Z\d+{name}P"), *a, **kw)


@pytest.fixture(params=BUILDS)
def ptx(request):
    return _ptx(request.param)


@pytest.fixture(params=EXACT)
def ptx_ieee(request):
    return _ptx(request.param)


def rng(seed):
    return np.random.default_rng(seed)


def u32(seed, n):
    return rng(seed).integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)


def lanes(x, width):
    """Unsigned ``width``-bit lanes of uint32 ``x`` (low lane first), as int64, shape (n, 32 // width)."""
    x = x.astype(np.int64)
    return np.stack([(x >> (width * k)) & ((1 << width) - 1) for k in range(32 // width)], axis=1)


def signed(v, width):
    return ((v + (1 << (width - 1))) & ((1 << width) - 1)) - (1 << (width - 1))


def pack(v, width):
    v = np.asarray(v, np.int64) & ((1 << width) - 1)
    return sum(v[:, k] << (width * k) for k in range(v.shape[1])).astype(np.uint32)


# ------------------------------------------------------------------------------ SIMD video, bit tricks


@pytest.mark.parametrize("n, grid, block", [(300, 2, 64), (33, 1, 32)])
def test_simd_video_intrinsics(ptx, n, grid, block):
    a, b = u32(n, n), u32(n + 1, n)
    a[:8] = b[:8]  # equal lanes for the compares
    out = np.full(16 * n, 0xDEADBEEF, np.uint32)
    run(ptx, "simd_video", grid, block, [a, b, out, np.int32(n)])
    a4, b4, a2, b2 = lanes(a, 8), lanes(b, 8), lanes(a, 16), lanes(b, 16)
    sa4, sb4, sa2, sb2 = signed(a4, 8), signed(b4, 8), signed(a2, 16), signed(b2, 16)
    ref = [pack(a4 + b4, 8), pack(a4 - b4, 8), pack(abs(a4 - b4), 8), pack((a2 > b2) * 0xFFFF, 16),
           pack(np.maximum(a4, b4), 8), pack(np.minimum(sa2, sb2), 16), pack((a4 + b4 + 1) >> 1, 8),
           pack((a2 + b2) >> 1, 16), pack(np.clip(sa4 + sb4, -128, 127), 8), pack(np.maximum(a2 - b2, 0), 16),
           abs(a4 - b4).sum(axis=1).astype(np.uint32), pack((a4 == b4) * 0xFF, 8), pack(a4 < b4, 8),
           pack(np.minimum(abs(sa2), 32767), 16), pack(-a4, 8), pack(abs(sa2 - sb2), 16)]
    got = out.reshape(n, 16)
    for k, r in enumerate(ref):
        np.testing.assert_array_equal(got[:, k], r, err_msg=f"o[{k}]")


def _byte_perm(x, y, s):
    src = np.concatenate([lanes(x, 8), lanes(y, 8)], axis=1)
    sel = lanes(np.asarray(s, np.uint32) & 0xFFFF, 4)[:, :4] & 7
    return pack(np.take_along_axis(src, sel, axis=1), 8)


@pytest.mark.parametrize("n, grid, block", [(200, 2, 128), (5, 1, 32)])
def test_bit_tricks(ptx, n, grid, block):
    a, b = u32(2 * n, n), u32(2 * n + 1, n)
    c = rng(n).integers(0, 1 << 63, n, dtype=np.uint64) >> rng(n + 5).integers(0, 64, n).astype(np.uint64)
    c[0] = 0
    out = np.full(14 * n, 0xDEADBEEF, np.uint32)
    run(ptx, "bit_tricks", grid, block, [a, b, c, out, np.int32(n)])
    x, y = a.astype(np.int64), b.astype(np.int64)
    sx, sy = signed(x, 32), signed(y, 32)
    M = (1 << 32) - 1
    xy = (y << 32) | x
    z = [int(v) for v in c]
    ffs = np.array([(v & -v).bit_length() for v in z])
    pop = np.array([bin(v).count("1") for v in z])
    clz = np.array([64 - v.bit_length() for v in z])
    hi64 = np.array([(v * ((int(p) * int(q)) & (2**64 - 1)) >> 64) >> 7 & M for v, p, q in zip(z, x, y)], np.int64)
    ref = [_byte_perm(a, b, 0x5140 + 0 * a), _byte_perm(a, 0 * a, 0x0123 + 0 * a), _byte_perm(a, b, b & 0x7777),
           np.array([(int(v) << (int(s) >> 27)) >> 32 & M for v, s in zip(xy, y)]),
           np.array([int(v) >> min(int(s) >> 26, 32) & M for v, s in zip(xy, y)]),
           np.array([int(f"{int(v):032b}"[::-1], 2) for v in x ^ y]),
           ffs + 100 * pop + 10000 * clz, (abs(sx - sy) + 7) & M, (abs(x - y) + 11) & M, (sx * sy >> 32) & M,
           (a.astype(np.uint64) * b.astype(np.uint64) >> np.uint64(32)).astype(np.int64), hi64, ((sx + sy) >> 1) & M, ((sx + sy + 1) >> 1) & M]
    got = out.reshape(n, 14).astype(np.int64)
    for k, r in enumerate(ref):
        np.testing.assert_array_equal(got[:, k], np.asarray(r, np.int64), err_msg=f"o[{k}]")


@pytest.mark.parametrize("M, N, K", [(37, 21, 72), (16, 16, 64)])
def test_int8_gemm_dp4a_and_dp2a(ptx, M, N, K):
    r = rng(M * N + K)
    A8 = r.integers(-128, 128, (M, K), dtype=np.int64).astype(np.int8)
    B8 = r.integers(-128, 128, (N, K), dtype=np.int64).astype(np.int8)
    U = u32(K, M * N)
    K4 = K // 4
    A, B = A8.view(np.int32).copy(), B8.view(np.int32).copy()
    C = np.full(M * N, -7, np.int32)
    CU = np.full(M * N, 7, np.uint32)
    grid = ((N + 15) // 16, (M + 15) // 16)
    run(ptx, "gemm_dp4a", grid, (16, 16), [A.ravel(), B.ravel(), C, U, CU, np.int32(M), np.int32(N),
                                               np.int32(K4)])
    np.testing.assert_array_equal(C.reshape(M, N), A8.astype(np.int64) @ B8.astype(np.int64).T)
    ah = A8.view(np.uint16).reshape(M, K4, 2).astype(np.int64)  # a's two unsigned halves per word
    bb = B8.view(np.uint8).reshape(N, K4, 4).astype(np.int64)  # b's bytes 2 and 3 (dp2a.hi)
    dp2 = np.einsum("mkh,nkh->mn", ah, bb[:, :, 2:])
    np.testing.assert_array_equal(CU.reshape(M, N), (dp2 + U.reshape(M, N)) & 0xFFFFFFFF)


# ------------------------------------------------------------------------------ special functions


def _bisect(f, target, lo, hi, increasing=True):
    """Solve f(y) = target elementwise by bisection in float64 (f monotone on [lo, hi])."""
    lo, hi = np.full(len(target), lo, np.float64), np.full(len(target), hi, np.float64)
    fv = np.frompyfunc(f, 1, 1)
    for _ in range(64):
        mid = (lo + hi) / 2
        above = fv(mid).astype(np.float64) > target
        if not increasing:
            above = ~above
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
    return (lo + hi) / 2


def _trapezoid_pi(g, x, m=256):
    """(1/pi) * integral over [0, pi] of g(x, t) dt: the trapezoid rule, spectrally exact for these periodic
    integrands."""
    t = np.linspace(0, np.pi, m + 1)
    v = g(x[:, None], t[None, :])
    return (v[:, 1:-1].sum(axis=1) + (v[:, 0] + v[:, -1]) / 2) / m


def _ulps(got, ref):
    return np.abs(got.astype(np.float64) - ref) / np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)


@pytest.mark.parametrize("n", [150])
def test_special_functions_within_their_documented_ulp_bounds(ptx_ieee, n):
    """Bounds from the CUDA Math API's accuracy tables (single precision)."""
    v = rng(n).uniform(-0.999, 0.999, n).astype(np.float32)
    out = np.full(12 * n, np.nan, np.float32)
    run(ptx_ieee, "special_f32", 2, 96, [v, out, np.int32(n)])
    o = out.reshape(n, 12)
    vd = v.astype(np.float64)
    w = 8.0 * vd
    assert (_ulps(o[:, 0], _bisect(math.erf, vd, -6, 6)) <= 2).all()  # erfinvf: 2 ulp
    a = (v + np.float32(1)).astype(np.float64)
    assert (_ulps(o[:, 1], _bisect(math.erfc, a, -6, 6, increasing=False)) <= 4).all()  # erfcinvf: 4 ulp
    r = np.mod(w, 2.0)
    assert (np.abs(o[:, 2] - np.sin(np.pi * r)) <= np.spacing(np.float32(1)) / 2).all()  # sinpi: 1 ulp,
    assert (np.abs(o[:, 3] - np.cos(np.pi * r)) <= np.spacing(np.float32(1)) / 2).all()  # |result| <= 1
    j0 = _trapezoid_pi(lambda x, t: np.cos(x * np.sin(t)), w)
    assert (np.abs(o[:, 4] - j0) <= 2.2e-6).all()  # j0f: absolute 2.2e-6 for |x| < 8
    lg = np.array([math.lgamma(float(np.float32(abs(x) + np.float32(0.25)))) for x in w.astype(np.float32)])
    assert (_ulps(o[:, 5], lg) <= 6).all()  # lgammaf: 6 ulp outside [-10.001, -2.264]
    m, e = np.frexp(w.astype(np.float32) * np.float32(1000))
    np.testing.assert_array_equal(o[:, 6], m + e.astype(np.float32))  # exact, then one f32 add
    k = np.floor(np.log2(w.astype(np.float32) + np.float32(9))).astype(np.int32)
    np.testing.assert_array_equal(o[:, 7], np.ldexp(v, k) + v / np.float32(8))
    e1, l1 = np.expm1(vd), np.log1p((v * np.float32(0.5)).astype(np.float64))
    tol = 2.0 ** -23 * (np.abs(e1) + np.abs(l1)) + np.abs(np.spacing(o[:, 8])) / 2  # 1 ulp each, one f32 add
    assert (np.abs(o[:, 8] - (e1 + l1)) <= tol).all()
    i0 = _trapezoid_pi(lambda x, t: np.exp(x * np.cos(t)), (w.astype(np.float32) * np.float32(0.5)).astype(float))
    assert (_ulps(o[:, 9], i0) <= 6).all()  # cyl_bessel_i0f: 6 ulp
    p = (0.5 + np.float64(np.float32(0.49)) * vd).astype(np.float32).astype(np.float64)  # one fma
    ncdfinv = math.sqrt(2) * _bisect(math.erf, 2 * p - 1, -6, 6)
    assert (_ulps(o[:, 10], ncdfinv) <= 5).all()  # normcdfinvf: 5 ulp
    np.testing.assert_array_equal(o[:, 11], np.nextafter(v, np.float32(2)) - v)


# ------------------------------------------------------------------------------ half2 / bf16


def _bf16(x):
    """float64 -> bfloat16 value (round to nearest even; normal range), as float64."""
    m, e = np.frexp(np.asarray(x, np.float64))
    return np.ldexp(np.rint(m * 256), e - 8)


def _bf16_bits(x):
    return (_bf16(x).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


@pytest.mark.parametrize("n, grid, block", [(140, 2, 96), (9, 1, 32)])
def test_half2_and_bf16_fused_ops(ptx, n, grid, block):
    r = rng(n)
    a, b, c = (r.uniform(-4, 4, 2 * n).astype(np.float16) for _ in range(3))
    a[[0, 5]], b[[2, 3]] = np.nan, np.nan
    pb = _bf16_bits(r.uniform(-4, 4, 2 * n))
    qb = _bf16_bits(r.uniform(-4, 4, 2 * n))
    out = np.full(12 * n, 0x7777, np.uint16).view(np.float16)
    bout = np.full(6 * n, 0x7777, np.uint16)
    run(ptx, "half2_fused", grid, block, [a, b, c, out, pb, qb, bout, np.int32(n)])
    o = out.reshape(n, 6, 2).astype(np.float64)
    A, B, C = (x.reshape(n, 2).astype(np.float64) for x in (a, b, c))

    def same(got, want, what):
        ok = (got == want) | (np.isnan(got) & np.isnan(want))
        assert ok.all(), (what, np.argwhere(~ok)[:4], got[~ok][:4], want[~ok][:4])

    f16 = lambda x: np.asarray(x, np.float64).astype(np.float16).astype(np.float64)  # noqa: E731 (one rounding)
    same(o[:, 0], np.maximum(f16(A * B + C), 0) + 0 * A * B, "__hfma2_relu")  # NaN stays NaN
    same(o[:, 1], np.maximum(A, B), "__hmax2_nan")
    same(o[:, 2], np.minimum(A, C), "__hmin2_nan")
    same(o[:, 3], np.nan_to_num(np.clip(f16(A - B), 0, 1), nan=0.0), "__hsub2_sat")
    same(o[:, 4], f16(A * C), "__hmul2_rn")
    # __hcmadd (cuda_fp16.hpp): two half fmas per part, each rounded once
    re_ = f16(f16(A[:, 0] * B[:, 0] + C[:, 0]) - A[:, 1] * B[:, 1])
    im_ = f16(f16(A[:, 0] * B[:, 1] + C[:, 1]) + A[:, 1] * B[:, 0])
    same(o[:, 5], np.stack([re_, im_], axis=1), "__hcmadd")
    P = (pb.astype(np.uint32) << 16).view(np.float32).astype(np.float64).reshape(n, 2)
    Q = (qb.astype(np.uint32) << 16).view(np.float32).astype(np.float64).reshape(n, 2)
    bo = (bout.astype(np.uint32) << 16).view(np.float32).astype(np.float64).reshape(n, 3, 2)
    same(bo[:, 0], np.maximum(_bf16(P * Q + P), 0), "bf16 __hfma2_relu")
    same(bo[:, 1], np.maximum(P, Q), "bf16 __hmax2_nan")
    same(bo[:, 2, 0], _bf16(P[:, 0] * Q[:, 1]), "bf16 product")
    same(bo[:, 2, 1], np.where(np.isnan(A[:, 0]), np.nan, _bf16(np.nan_to_num(A[:, 0]))), "half -> bf16")


# ------------------------------------------------------------------------------ norms, attention


@pytest.mark.parametrize("rows, cols, block", [(7, 300, 128), (4, 45, 64)])
def test_layernorm_welford_warp_per_row(ptx, rows, cols, block):
    r = rng(rows * cols)
    x = (r.standard_normal((rows, cols)) * 3 + 1).astype(np.float32)
    g, b = r.uniform(0.5, 2, cols).astype(np.float32), r.standard_normal(cols).astype(np.float32)
    y, stats = np.full((rows, cols), np.nan, np.float32), np.full(2 * rows, np.nan, np.float32)
    wpb = block // 32
    run(ptx, "layernorm_welford", (rows + wpb - 1) // wpb, block, [x, g, b, y, stats, np.int32(rows), np.int32(cols)])
    xd = x.astype(np.float64)
    mu, var = xd.mean(axis=1), xd.var(axis=1)
    rstd = 1 / np.sqrt(var + 1e-5)
    # f32 Welford over <= 300 values and a 5-level merge: relative error well under 1e-5 of the row's spread
    np.testing.assert_allclose(stats[0::2], mu, rtol=0, atol=1e-5 * np.sqrt(var).max())
    np.testing.assert_allclose(stats[1::2], rstd, rtol=2e-5)  # rsqrt.approx: 2 ulp, plus the variance's error
    ref = (xd - mu[:, None]) * rstd[:, None] * g + b
    np.testing.assert_allclose(y, ref, rtol=0, atol=5e-5 * np.abs(ref).max())


@pytest.mark.parametrize("rows, cols, block", [(9, 70, 64), (3, 16, 48)])
def test_rmsnorm_half_warp_groups_in_partial_warps(ptx, rows, cols, block):
    r = rng(rows + cols)
    x = r.uniform(-2, 2, (rows, cols)).astype(np.float16)
    w = r.uniform(0.5, 1.5, cols).astype(np.float32)
    y = np.full((rows, cols), np.nan, np.float16)
    grid = (16 * rows + block - 1) // block
    run(ptx, "rmsnorm_half_warp", grid, block, [x, w, y, np.int32(rows), np.int32(cols)])
    xd = x.astype(np.float64)
    ref = xd / np.sqrt((xd ** 2).mean(axis=1, keepdims=True) + 1e-6) * w
    # one rounding to half (2^-11 relative) after f32 arithmetic (~1e-6 relative)
    assert (np.abs(y - ref) <= 2.0 ** -11 * np.abs(ref) * 1.01 + 1e-7).all()


@pytest.mark.parametrize("Lq, Lk", [(40, 37), (32, 16), (5, 70)])
def test_flash_attention_tile_ldmatrix_mma(ptx, Lq, Lk):
    r = rng(Lq * Lk)
    Q, K, V = (r.uniform(-1, 1, (L, 16)).astype(np.float16) for L in (Lq, Lk, Lk))
    out = np.full((Lq, 16), np.nan, np.float32)
    scale_log2 = np.float32(0.25 * math.log2(math.e))
    run(ptx, "flash_tile", (Lq + 31) // 32, 64, [Q, K, V, out, np.int32(Lq), np.int32(Lk), scale_log2])
    S = Q.astype(np.float64) @ K.astype(np.float64).T * float(scale_log2)
    P = np.exp2(S - S.max(axis=1, keepdims=True))
    ref = P @ V.astype(np.float64) / P.sum(axis=1, keepdims=True)
    # P is rounded to half before P @ V: 2^-11 relative per weight, |V| <= 1; exp2f's 2 ulp is far smaller
    np.testing.assert_allclose(out, ref, rtol=0, atol=2.0 ** -10)


# ------------------------------------------------------------------------------ scan, sort, locks


@pytest.mark.parametrize("variant", ["ILb0E", "ILb1E"])
@pytest.mark.parametrize("n, block", [(1000, 128), (64, 64), (97, 32)])
def test_decoupled_lookback_scan(ptx, variant, n, block):
    x = rng(n).integers(-1000, 1000, n).astype(np.int32)
    tiles = (n + block - 1) // block
    out = np.full(n, -7, np.int32)
    status, ticket = np.zeros(tiles, np.uint64), np.zeros(1, np.uint32)
    run(ptx, f"scan_lookback{variant}", tiles, block, [x, out, status, ticket, np.int32(n)])
    np.testing.assert_array_equal(out, np.cumsum(x, dtype=np.int64).astype(np.int32))
    assert ticket[0] == tiles and (status >> np.uint64(32) == 2).all()


@pytest.mark.parametrize("n, block", [(256, 256), (100, 128), (1, 32)])
def test_warp_split_radix_sort_is_stable(ptx, n, block):
    r = rng(n)
    keys = (r.integers(0, 1 << 32, n, dtype=np.uint64) >> r.integers(0, 30, n).astype(np.uint64)).astype(np.uint32)
    keys[: n // 3] = keys[n // 3: 2 * (n // 3)]  # duplicates: stability shows
    vals = np.arange(n, dtype=np.int32)
    ok, ov = np.zeros(n, np.uint32), np.full(n, -7, np.int32)
    nw = block // 32
    run(ptx, "radix_sort_block", 1, block, [keys, vals, ok, ov, np.int32(n)], dynamic_shared=4 * (2 * block + 16 * nw))
    order = np.argsort(keys, kind="stable")
    np.testing.assert_array_equal(ok, keys[order])
    np.testing.assert_array_equal(ov, order)


@pytest.mark.parametrize("n, grid, block", [(1000, 4, 256), (30, 2, 32)])
def test_spin_lock_per_block(ptx, n, grid, block):
    x = rng(n).integers(-100, 100, n).astype(np.int32)
    mutex, total, blocks = np.zeros(1, np.int32), np.zeros(1, np.float64), np.zeros(1, np.int32)
    run(ptx, "lock_per_block", grid, block, [x, mutex, total, blocks, np.int32(n)])
    assert total[0] == x.sum() and blocks[0] == grid and mutex[0] == 0


@pytest.mark.parametrize("n, grid, block", [(70, 2, 64), (33, 1, 64)])
def test_spin_lock_per_thread_needs_independent_thread_scheduling(ptx_ieee, n, grid, block):
    """Every thread takes one global lock: a lane spinning in its warp must let the holder run on."""
    x = rng(n).integers(1, 50, n).astype(np.int32)
    mutex, total, order = np.zeros(1, np.int32), np.zeros(1, np.int64), np.full(n, -1, np.int32)
    run(ptx_ieee, "lock_per_thread", grid, block, [x, mutex, total, order, np.int32(n)])
    assert total[0] == x.sum() and mutex[0] == 0
    seq = np.argsort(order)  # the order the threads held the lock: each saw the sum of those before it
    np.testing.assert_array_equal(order[seq], np.concatenate([[0], np.cumsum(x[seq])[:-1]]))


# ------------------------------------------------------------------------------ inline PTX, pointers


@pytest.mark.parametrize("n4, nt, grid", [(300, 77, 3), (5, 1000, 1)])
def test_cutlass_style_inline_ptx_cache_hints_and_zero_fill(ptx, n4, nt, grid):
    r = rng(n4 + nt)
    src = r.standard_normal(4 * n4).astype(np.float32)
    tail = (r.integers(-4000, 4000, nt) / 4).astype(np.float32)  # few bits: 2t, 3t, 4t, 5t exact
    dst = np.full(4 * n4, np.nan, np.float32)
    tout = np.full(nt, np.nan, np.float32)
    run(ptx, "hinted_copy", grid, 128, [src, dst, tail, tout, np.int32(n4), np.int32(nt)])
    np.testing.assert_array_equal(dst, 2 * src)
    np.testing.assert_array_equal(tout, 5 * tail)


@pytest.mark.parametrize("n, block, sel", [(200, 128, 2), (7, 32, 5)])
def test_generic_pointers_into_shared_global_local_and_constant(ptx, n, block, sel):
    g = rng(n).integers(-1000, 1000, n).astype(np.float32)
    g0 = g.copy()
    out = np.full(3 * n, np.nan, np.float32)
    run(ptx, "pointer_spaces", (n + block - 1) // block, block, [g, out, np.int32(sel), np.int32(n)])
    i = np.arange(n)
    tid = (i % block).astype(np.float64)
    old = np.select([i % 3 == 0, i % 3 == 1], [tid, g0], (sel & 3) * i)
    flag = np.select([i % 3 == 0, i % 3 == 1], [1000, 2000], 4000)
    o = out.reshape(n, 3)
    np.testing.assert_array_equal(o[:, 0], old + flag)
    np.testing.assert_array_equal(o[:, 1], old + 0.5 + 2.0 ** (i & 3))
    np.testing.assert_array_equal(o[:, 2], 4 * tid)
    np.testing.assert_array_equal(g, np.where(i % 3 == 1, g0 + 0.5, g0))


# ------------------------------------------------------------------------------ printf, assert


def test_printf_from_a_shared_helper(ptx):
    n = 40
    x = rng(n).integers(0, 60, n).astype(np.int32)
    y = np.full(n, -7, np.int32)
    rep = run(ptx, "report_helpers", 2, 32, [x, y, np.int32(n), np.int32(0), np.int32(100)])
    np.testing.assert_array_equal(y, 2 * x)
    want = []
    for i in range(3):
        tag, v, big, h = ("zero" if i == 0 else "other"), x[i] * 0.125, -1234567890123 * (i + 1), 65535 - i
        want.append(f"{tag:<5s}|{i:3d}|{v:.3e}|{v:g}|{v:10.4f}|{_c_hexfloat(v)}|{big}|{big & (2**64 - 1):x}|{h}|"
                    f"{chr(65 + i % 26)}|{tag[:2]:>5s}|%")
    assert sorted(rep.output.splitlines()) == sorted(want)


def _c_hexfloat(v: float) -> str:
    """C's %a of a double: the shortest hex mantissa, no trailing zeros (0x0p+0 for zero)."""
    if v == 0:
        return "0x0p+0"
    h = float(v).hex()  # e.g. '0x1.8000000000000p+1'
    mant, exp = h.split("p")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}p{exp}"


@pytest.mark.parametrize("v, spec, want", [(3.0, "%a", "0x1.8p+1"), (3.0, "%.0a", "0x2p+1"), (0.0, "%a", "0x0p+0"),
                                           (-0.1, "%.3A", "-0X1.99AP-4"), (1.0, "%#.0a", "0x1.p+0"),
                                           (2.5, "%-10a|", "0x1.4p+1  |"), (2.5, "%010a", "0x001.4p+1"),
                                           (5e-324, "%a", "0x0.0000000000001p-1022"), (-np.inf, "%6a", "  -inf")])
def test_hex_float_printf_as_glibc_writes_it(v, spec, want):
    """The host's C library formats device printf: %a drops trailing zeros (Python's float.hex() does not)."""
    from sass_lab.emulator.ops_host import c_hexfloat
    m = re.fullmatch(r"%([-+ #0]*)(\d*)(?:\.(\d*))?([aA])(.*)", spec)
    flags, width, prec, conv, rest = m.groups()
    assert c_hexfloat(flags, width or None, prec, conv, v) + rest == want


def test_assert_in_a_helper_called_from_two_places(ptx):
    n = 64
    x = rng(n).integers(0, 50, n).astype(np.int32)
    x[5] = 77  # fails the first call (v < hi)
    x[9] = 60  # passes the first (60 < 61), fails the second (120 >= 61 + 50)
    y = np.full(n, -7, np.int32)
    with pytest.raises(Exception) as e:
        run(ptx, "report_helpers", 2, 32, [x, y, np.int32(n), np.int32(0), np.int32(61)])
    fs = e.value.findings
    assert {f.kind for f in fs} == {"assert"} and sum(f.count for f in fs) == 2
    assert all("breadth.cu:" in f.message and "v >= lo && v < hi" in f.message for f in fs)
    ok = np.ones(n, bool)
    ok[[5, 9]] = False
    np.testing.assert_array_equal(y[ok], 2 * x[ok])
    assert y[5] == -7 and y[9] == 120  # thread 9 stopped at its second check


# ------------------------------------------------------------------------------ templates


VEC_CASES = [("IaLi4E5AddOp", np.int8, lambda a, b: a + b, {}),
             ("ItLi2E5MaxOp", np.uint16, np.maximum, {}),
             ("IiLi4E5MaxOp", np.int32, np.maximum, {}),
             ("IfLi4E6AxpyOp", np.float32, None, {0: np.float32(1.5)}),
             ("IfLi1E5AddOp", np.float32, lambda a, b: a + b, {}),
             ("IdLi2E6AxpyOp", np.float64, None, {0: np.float32(-0.75)}),
             ("I6__halfLi8E5AddOp", np.float16, lambda a, b: a + b, {}),
             ("IxLi2E5AddOp", np.int64, lambda a, b: a + b, {})]


@pytest.mark.parametrize("mangled, dt, op, functor", VEC_CASES, ids=[c[0] for c in VEC_CASES])
@pytest.mark.parametrize("n", [1000, 13])
def test_one_template_many_instantiations(ptx, mangled, dt, op, functor, n):
    r = rng(n)
    if np.dtype(dt).kind == "f":
        a, b = (r.integers(-64, 64, n) / 4).astype(dt), (r.integers(-64, 64, n) / 4).astype(dt)
    else:
        info = np.iinfo(dt)
        a, b = (r.integers(max(info.min, -1 << 40), min(info.max, 1 << 40), n).astype(dt) for _ in range(2))
    c = np.zeros(n, dt) + (np.array(7).astype(dt))
    run(ptx, f"binary_vec{mangled}", 2, 128, [a, b, c, functor, np.int32(n)])
    if op is None:  # axpy in float: (T)(alpha * (float)a + (float)b), exact for these quarter-integers
        alpha = float(functor[0])
        want = (alpha * a.astype(np.float64) + b.astype(np.float64)).astype(dt)
    else:
        with np.errstate(over="ignore"):
            want = op(a, b).astype(dt)
    np.testing.assert_array_equal(c, want)


@pytest.mark.parametrize("T, dt", [("IiE", np.int32), ("IdE", np.float64), ("IyE", np.uint64)])
def test_templated_dynamic_shared_memory_idiom(ptx, T, dt):
    n, grid, block = 3000, 3, 128
    x = rng(n).integers(0, 1 << 20, n).astype(dt)
    out = np.zeros(grid, dt)
    run(ptx, f"block_sum_dyn{T}", grid, block, [x, out, np.int32(n)], dynamic_shared=block * np.dtype(dt).itemsize)
    i = np.arange(n)
    want = [x[(i // block) % grid == b].sum() for b in range(grid)]
    np.testing.assert_array_equal(out, np.array(want, dt))


def test_programmatic_dependent_launch_calls_are_no_ops_alone(ptx):
    n = 300
    x = rng(n).standard_normal(n).astype(np.float32)
    y = np.full(n, np.nan, np.float32)
    run(ptx, "pdl_scale", 3, 128, [x, y, np.float32(3.0), np.int32(n)])
    np.testing.assert_array_equal(y, np.float32(3.0) * x)
