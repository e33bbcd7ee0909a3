"""corpus/asmstyle.cu and textures.cu (our own kernels written the way tensor-core libraries and hand-tuned code are: inline
PTX) against numpy, on sm_80, sm_90 and sm_90 -G. Integer and bit results are exact (references follow
the PTX ISA's definitions); mma results use inputs whose products and sums are exact, or a bound on the
f32 accumulation; textures and surfaces are refused at decode time with that reason."""

from __future__ import annotations

import re

import numpy as np
import pytest
from ptxkit import corpus_ptx
from ptxkit import run_mangled as run

from sass_lab.errors import EmulatorError

BUILDS = ("sm_80", "sm_90", "sm_90.G")


def _ptx(build: str) -> str:
    return corpus_ptx("asmstyle", build)


@pytest.fixture(params=BUILDS)
def ptx(request):
    return _ptx(request.param)


def rng(seed):
    return np.random.default_rng(seed)


def tf32(x):
    """cvt.rna.tf32.f32: 10 mantissa bits, round to nearest, ties away from zero (as float32)."""
    u = np.asarray(x, np.float32).view(np.uint32)
    return ((u + np.uint32(0x1000)) & np.uint32(0xFFFFE000)).view(np.float32)


# ------------------------------------------------------------------------------ mma.sync


@pytest.mark.parametrize("M, N, K", [(16, 8, 8), (37, 21, 29)])
def test_mma_tf32_m16n8k8_from_global(ptx, M, N, K):
    r = rng(M * N * K)
    A, B = r.standard_normal((M, K)).astype(np.float32), r.standard_normal((K, N)).astype(np.float32)
    C = np.full((M, N), np.nan, np.float32)
    run(ptx, "mma_tf32", ((N + 7) // 8, (M + 15) // 16), 32, [A, B, C, np.int32(M), np.int32(N), np.int32(K)])
    At, Bt = tf32(A).astype(np.float64), tf32(B).astype(np.float64)
    ref = At @ Bt
    # tf32 products are exact in f32; the f32 accumulation over K terms adds at most K roundings
    np.testing.assert_array_less(np.abs(C - ref), (K + 1) * 2.0 ** -24 * (np.abs(At) @ np.abs(Bt)) + 1e-30)
    assert not np.array_equal(tf32(A), A)  # the inputs really were rounded


def test_mma_s8_m16n8k32_and_f16_m16n8k8_with_f16_accumulate(ptx):
    r = rng(5)
    A, B = r.integers(-128, 128, (16, 32)).astype(np.int8), r.integers(-128, 128, (8, 32)).astype(np.int8)
    H, G = r.integers(-3, 4, (16, 8)).astype(np.float16), r.integers(-3, 4, (8, 8)).astype(np.float16)
    C, D = np.zeros((16, 8), np.int32), np.full((16, 8), np.nan, np.float16)
    run(ptx, "mma_s8_f16", 1, 32, [A, B, C, H, G, D])
    init = np.where(np.arange(16)[:, None] < 8, 1, 2) * np.where(np.arange(8) % 2 == 0, 1, -1)
    np.testing.assert_array_equal(C, A.astype(np.int64) @ B.astype(np.int64).T + init)
    np.testing.assert_array_equal(D, (H.astype(np.float64) @ G.astype(np.float64).T).astype(np.float16))  # exact


def test_ldmatrix_x1_x2_trans_and_stmatrix(ptx):
    src = rng(7).integers(0, 1 << 16, 128).astype(np.uint16)
    out, back = np.zeros(32 * 5, np.uint32), np.zeros(128, np.uint16)
    run(ptx, "ldmatrix_forms", 1, 32, [src, out, back])
    M = src.reshape(2, 8, 8).astype(np.uint32)  # two 8x8 matrices: rows 0-7 and 8-15
    lane = np.arange(32)
    row, col = lane // 4, 2 * (lane % 4)

    def frag(m):
        return m[row, col] | m[row, col + 1] << 16

    o = out.reshape(32, 5)
    for k, want in enumerate([frag(M[0]), frag(M[0]), frag(M[1]), frag(M[0].T), frag(M[1].T)]):
        np.testing.assert_array_equal(o[:, k], want, err_msg=f"register {k}")
    np.testing.assert_array_equal(back.reshape(2, 8, 8), M.transpose(0, 2, 1))


# ------------------------------------------------------------------------------ conversions and bit fields


def _bytes(a, b):
    x = (b.astype(np.uint64) << np.uint64(32)) | a.astype(np.uint64)
    return np.stack([(x >> np.uint64(8 * k)) & np.uint64(0xFF) for k in range(8)], axis=1).astype(np.int64)


def _pack(cols):
    return sum(np.asarray(c, np.int64) << (8 * k) for k, c in enumerate(cols)).astype(np.uint32)


def _bits(v, lo, n):
    return (v >> lo) & ((1 << n) - 1)


def _bf16_bits(x):
    m, e = np.frexp(np.asarray(x, np.float64))
    return (np.ldexp(np.rint(m * 256), e - 8).astype(np.float32).view(np.uint32) >> 16).astype(np.int64)


@pytest.mark.parametrize("n, block", [(100, 64), (7, 32)])
def test_packed_conversions_prmt_modes_and_bit_fields(ptx, n, block):
    r = rng(n)
    f = (r.standard_normal(2 * n) * 4).astype(np.float32)
    u = r.integers(0, 1 << 32, 2 * n, dtype=np.uint64).astype(np.uint32)
    out = np.full(20 * n, 0xDEADBEEF, np.uint32)
    run(ptx, "pack_bits", (n + block - 1) // block, block, [f, u, out, np.int32(n)])
    o = out.reshape(n, 20).astype(np.int64)
    x, y = f[0::2], f[1::2]
    a, b = u[0::2], u[1::2]
    ai, bi = a.astype(np.int64), b.astype(np.int64)
    i = np.arange(n, dtype=np.int64)
    h = lambda v: v.astype(np.float16).view(np.uint16).astype(np.int64)  # noqa: E731 (one rounding)
    np.testing.assert_array_equal(o[:, 0], h(x) << 16 | h(y))  # a goes to the upper half
    np.testing.assert_array_equal(o[:, 1], _bf16_bits(x) << 16 | _bf16_bits(y))
    np.testing.assert_array_equal(o[:, 2], h(np.maximum(x, 0)) << 16 | h(np.maximum(y, 0)))
    np.testing.assert_array_equal(o[:, 3], tf32(x).view(np.uint32))
    np.testing.assert_array_equal(o[:, 4], (ai >> 16) << 16 | ((ai & 0xFFFF) ^ 0x5A5A))
    src, s = _bytes(a, b), i & 3
    pick = lambda k: src[np.arange(n), k % 8]  # noqa: E731
    np.testing.assert_array_equal(o[:, 5], _pack([pick(s + k) for k in range(4)]), err_msg="f4e")
    np.testing.assert_array_equal(o[:, 6], _pack([pick(s - k) for k in range(4)]), err_msg="b4e")
    np.testing.assert_array_equal(o[:, 7], _pack([pick(s)] * 4), err_msg="rc8")
    np.testing.assert_array_equal(o[:, 8], _pack([pick(np.maximum(k, s)) for k in range(4)]), err_msg="ecl")
    np.testing.assert_array_equal(o[:, 9], _pack([pick(np.minimum(k, s)) for k in range(4)]), err_msg="ecr")
    lo = 2 * (s & 1)
    np.testing.assert_array_equal(o[:, 10], _pack([pick(lo), pick(lo + 1)] * 2), err_msg="rc16")
    nib = [_bits(bi, 4 * k, 4) for k in range(4)]
    byt = [pick(v & 7) for v in nib]
    np.testing.assert_array_equal(o[:, 11], _pack([np.where(v & 8, np.where(x_ & 0x80, 0xFF, 0), x_)
                                                   for v, x_ in zip(nib, byt)]), err_msg="prmt default")
    np.testing.assert_array_equal(o[:, 12], ai ^ bi ^ i)
    np.testing.assert_array_equal(o[:, 13], (ai & bi) | (ai & i) | (bi & i))
    pos, ln = bi & 31, (bi >> 5) & 31
    want = []
    for av, p, n_ in zip(ai.tolist(), pos.tolist(), ln.tolist()):  # bfe.s32 (PTX ISA pseudocode)
        sbit = 0 if n_ == 0 else (av >> min(p + n_ - 1, 31)) & 1
        want.append(sum(((av >> (p + k)) & 1 if k < n_ and p + k <= 31 else sbit) << k for k in range(32)))
    np.testing.assert_array_equal(o[:, 14], want, err_msg="bfe.s32")
    pos, ln = (ai >> 8) & 31, (ai >> 13) & 15
    want = []
    for av, bv, p, n_ in zip(ai.tolist(), bi.tolist(), pos.tolist(), ln.tolist()):  # bfi.b32
        d = bv
        for k in range(n_):
            if p + k <= 31:
                d = (d & ~(1 << (p + k))) | (((av >> k) & 1) << (p + k))
        want.append(d)
    np.testing.assert_array_equal(o[:, 15], want, err_msg="bfi.b32")
    st, wd = ai & 31, ((bi >> 10) & 63) & 31
    np.testing.assert_array_equal(o[:, 16], (((1 << wd) - 1) << st) & 0xFFFFFFFF, err_msg="bmsk.wrap")
    nb = (bi >> 16) & 63
    low = np.where(nb >= 32, ai, ai & ((1 << np.minimum(nb, 31)) - 1))
    neg = (nb > 0) & (nb < 32) & ((ai >> np.maximum(nb - 1, 0)) & 1 == 1)
    np.testing.assert_array_equal(o[:, 17], np.where(neg, low | (0xFFFFFFFF ^ ((1 << nb.clip(0, 31)) - 1)), low),
                                  err_msg="szext.clamp.s32")
    pair = (bi << 32) | ai
    np.testing.assert_array_equal(o[:, 18], [((int(p) << int(c & 31)) >> 32) & 0xFFFFFFFF
                                             for p, c in zip(pair, bi >> 7)], err_msg="shf.l.wrap")
    np.testing.assert_array_equal(o[:, 19], [(int(p) >> min(int(c), 32)) & 0xFFFFFFFF
                                             for p, c in zip(pair, bi >> 20)], err_msg="shf.r.clamp")


# ------------------------------------------------------------------------------ asynchronous copies


@pytest.mark.parametrize("n, grid", [(300, 2), (5, 1)])
def test_small_cp_async_with_zero_fill(ptx, n, grid):
    src = rng(n).integers(-1000, 1000, n).astype(np.int32)
    T = grid * 128
    dst = np.full(3 * T, -7, np.int32)
    run(ptx, "cp_async_small", grid, 128, [src, dst, np.int32(n)])
    pad = np.zeros(2 * T + 2, np.int32)
    pad[:n] = src
    i = np.arange(T)
    d = dst.reshape(T, 3)
    np.testing.assert_array_equal(d[:, 0], pad[i])
    np.testing.assert_array_equal(d[:, 1], pad[2 * i])
    np.testing.assert_array_equal(d[:, 2], np.where(2 * i + 1 < n, pad[2 * i + 1], 0))


@pytest.mark.parametrize("chunks", [3, 1])
def test_bulk_copy_1d_on_an_mbarrier(ptx, chunks):
    src = rng(chunks).standard_normal(256 * chunks).astype(np.float32)
    dst = np.full(256 * chunks, np.nan, np.float32)
    run(ptx, "bulk_copy_1d", chunks, 64, [src, dst, np.int32(chunks)])
    np.testing.assert_array_equal(dst, 2 * src)


# ------------------------------------------------------------------------------ atomics, lambdas


@pytest.mark.parametrize("n, grid, block", [(36, 2, 32), (9, 1, 32)])
def test_16_and_64_bit_atomics(ptx, n, grid, block):
    v = rng(n).integers(-5000, 5000, n).astype(np.int32)
    h16 = np.full(8, 65530, np.uint16)  # the 16-bit counters wrap
    u64 = np.array([2**64 - 1, 0, 0x0123456789ABCDEF, 2**63], np.uint64)
    s64 = np.array([2**62, -(2**62)], np.int64)
    bsum = np.zeros(4, np.uint16)
    run(ptx, "atomics_16_64", grid, block, [v, h16, u64, s64, bsum, np.int32(n)])
    vi = v.astype(np.int64)
    np.testing.assert_array_equal(h16, (65530 + np.bincount(vi & 7, minlength=8)) % 65536)
    assert s64[0] == min(2**62, (vi * 1000000007).min()) and s64[1] == max(-(2**62), (vi * 1000000007).max())
    M = 2**64 - 1
    bits = lambda k: 1 << int(k)  # noqa: E731
    and_ = M
    or_ = 0
    xor_ = 0x0123456789ABCDEF
    for x in vi.tolist():
        and_ &= ~bits(x & 63) & M
        or_ |= bits((x >> 3) & 63)
        xor_ ^= (x << 20) & M
    assert [int(w) for w in u64] == [and_, or_, xor_, (2**63 + int((vi & 0xFFFFFFFF).sum())) & M]
    sums = np.bincount(vi & 3, weights=(vi >> 2) & 7, minlength=4)  # integers <= 252: exact in bf16
    np.testing.assert_array_equal((bsum.astype(np.uint32) << 16).view(np.float32), sums.astype(np.float32))


@pytest.mark.parametrize("n", [200, 2])
def test_device_lambdas_and_if_constexpr(ptx, n):
    k = 3
    xi = rng(n).integers(-1000, 1000, n).astype(np.int32)
    xd = rng(n + 1).integers(-1000, 1000, n).astype(np.float64) / 8
    yi, yd = np.zeros(n, np.int32), np.zeros(n, np.float64)
    run(ptx, "transform_nIi", 2, 64, [xi, yi, np.int32(n), {0: np.int32(k)}])
    run(ptx, "transform_nId", 2, 64, [xd, yd, np.int32(n), {0: np.int32(k)}])
    pi, pd = np.concatenate([xi, [0, 0]]).astype(np.int64), np.concatenate([xd, [0, 0]])
    np.testing.assert_array_equal(yi, (pi[:n] * k + pi[2:n + 2]) - pi[1:n + 1])
    np.testing.assert_array_equal(yd, (pd[:n] * k - pd[1:n + 1]) + pd[2:n + 2])


# ------------------------------------------------------------------------------ refusals, traps


TEXTURE_KERNELS = [  # (kernel, its first texture/surface instruction, its parameters)
    ("texture_gather", "tex.1d.v4.f32.s32", "u64 p p i"), ("surface_fill", "sust.b.2d.b32.trap", "u64 i i"),
    ("texture_resample", "tex.2d.v4.f32.f32", "u64 p i i f"), ("texture_box_lod_grad", "tex.2d.v4.f32.f32", "u64 u64 p i i"),
    ("texture_volume_march", "tex.3d.v4.f32.f32", "u64 p i i i"),
    ("texture_layers_cube_gather", "tex.a2d.v4.f32.f32", "u64 u64 u64 p p i i"),
    ("surface_stencil", "suld.b.2d.b32.trap", "u64 u64 u64 u64 i i"),
]


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("name, op, params", TEXTURE_KERNELS, ids=[k[0] for k in TEXTURE_KERNELS])
def test_textures_and_surfaces_are_refused_with_the_reason(arch, name, op, params):
    """corpus/textures.cu (the assembler builds it: tests/dsl/test_nvcc.py)."""
    ptx = corpus_ptx("textures", arch)
    make = {"u64": lambda: np.uint64(1), "p": lambda: np.zeros(4, np.float32), "i": lambda: np.int32(4),
            "f": lambda: np.float32(0.5)}
    args = [make[p]() for p in params.split()]
    if name == "texture_gather":
        args[1] = np.zeros(4, np.int32)
    with pytest.raises(EmulatorError, match=rf"'{re.escape(op)}': textures and surfaces are not supported"):
        run(ptx, name, 1, 32, args)


def test_trap_on_bad_input_stops_the_kernel_and_names_the_thread(ptx):
    n, m = 64, 10
    idx = rng(3).integers(0, m, n).astype(np.int32)
    v = np.arange(m, dtype=np.float32) * 1.5
    out = np.full(n, np.nan, np.float32)
    run(ptx, "checked_gather", 2, 32, [idx, v, out, np.int32(n), np.int32(m)])
    np.testing.assert_array_equal(out, v[idx])
    idx[37] = m
    with pytest.raises(EmulatorError, match=r"trap") as e:
        run(ptx, "checked_gather", 2, 32, [idx, v, out, np.int32(n), np.int32(m)])
    assert "block (1, 0, 0) thread (5, 0, 0)" in str(e.value)


def _fp8(codes, exp_bits: int, man_bits: int, bias: int):
    """Finite fp8 codes -> values (sign, biased exponent, mantissa; subnormals at exponent 0)."""
    c = codes.astype(np.int64)
    e, f = (c >> man_bits) & ((1 << exp_bits) - 1), c & ((1 << man_bits) - 1)
    mag = np.where(e == 0, f / 2.0 ** man_bits * 2.0 ** (1 - bias), (1 + f / 2.0 ** man_bits) * 2.0 ** (e - bias))
    return np.where(c & 0x80, -mag, mag)


@pytest.mark.parametrize("build", ["sm_90", "sm_90.G"])
def test_mma_fp8_e4m3_by_e5m2_m16n8k32(build):
    """sm_89+; the emulator sums in float64 and rounds once (docs/EMULATOR.md)."""
    r = rng(11)
    A = r.integers(0, 256, (16, 32)).astype(np.uint8)
    B = r.integers(0, 256, (8, 32)).astype(np.uint8)
    A[(A & 0x7F) == 0x7F] = 0x38  # no e4m3 NaN (S.1111.111): 1.0 instead
    B[(B & 0x7C) == 0x7C] = 0x3C  # no e5m2 infinity or NaN (exponent 11111): 1.0 instead
    D = np.full((16, 8), np.nan, np.float32)
    run(_ptx(build), "mma_fp8", 1, 32, [A, B, D])
    init = np.where(np.arange(16)[:, None] < 8, 0.5, 0.25) * np.where(np.arange(8) % 2 == 0, 1, -1)
    a, b = _fp8(A, 4, 3, 7), _fp8(B, 5, 2, 15)
    ref = a @ b.T + init
    # one rounding to f32 (half an ulp), plus float64 summation-order slack far below it
    assert (np.abs(D - ref) <= 2.0 ** -24 * np.abs(ref) + 2.0 ** -45 * (np.abs(a) @ np.abs(b).T + 1)).all()
    assert np.isfinite(ref).all() and np.abs(ref).max() > 1
