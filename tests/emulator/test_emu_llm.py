"""corpus/llm.cu (our own kernels in the style of inference and image codebases) against numpy, on sm_80,
sm_90, sm_90 -G and --use_fast_math. Integer, packing and correctly rounded results are exact;
sums of floats are checked within a bound on their f32 roundings."""

from __future__ import annotations

import numpy as np
import pytest
from ptxkit import corpus_ptx
from ptxkit import run_mangled as run

BUILDS = ("sm_80", "sm_90", "sm_90.G", "sm_80.fast", "sm_90.fast")


def _ptx(build: str) -> str:
    return corpus_ptx("llm", build)


@pytest.fixture(params=BUILDS)
def ptx(request):
    return _ptx(request.param)


@pytest.fixture(params=BUILDS[:3])
def ptx_ieee(request):  # builds without --use_fast_math
    return _ptx(request.param)


def rng(seed):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("words, group, block", [(100, 32, 64), (3, 8, 32)])
def test_int4_dequantisation_with_lop3_magic(ptx, words, group, block):
    r = rng(words)
    packed = r.integers(0, 1 << 32, words, dtype=np.uint64).astype(np.uint32)
    scales = r.uniform(0.01, 2, (8 * words + group - 1) // group).astype(np.float16)
    out = np.full(8 * words, np.nan, np.float16)
    run(ptx, "dequant_int4", (words + block - 1) // block, block, [packed, scales, out, np.int32(words),
                                                                   np.int32(group)])
    q = (packed[:, None].astype(np.int64) >> (4 * np.arange(8))) & 15
    want = ((q - 8) * scales[(8 * np.arange(words) // group)][:, None].astype(np.float64)).astype(np.float16)
    np.testing.assert_array_equal(out.reshape(words, 8), want)  # (q - 8) exact in half, one rounding


@pytest.mark.parametrize("tokens, heads, dim", [(5, 3, 16), (2, 1, 64)])
def test_rotary_embeddings_from_a_frequency_table(ptx_ieee, tokens, heads, dim):
    r = rng(tokens * dim)
    x = r.standard_normal((tokens, heads, dim)).astype(np.float32)
    inv = (10000.0 ** (-np.arange(dim // 2) * 2.0 / dim)).astype(np.float32)
    pos = r.integers(0, 500, tokens).astype(np.int32)
    y = x.copy()
    n = tokens * heads * dim // 2
    run(ptx_ieee, "rope", (n + 63) // 64, 64, [y, inv, pos, np.int32(tokens), np.int32(heads), np.int32(dim)])
    ang = (pos[:, None].astype(np.float32) * inv[None, :]).astype(np.float64)[:, None, :]  # one f32 multiply
    c, s = np.cos(ang), np.sin(ang)
    a, b = x[..., : dim // 2].astype(np.float64), x[..., dim // 2:].astype(np.float64)
    tol = 6 * 2.0 ** -24 * (np.abs(a) + np.abs(b))  # sincosf: 2 ulp each; a multiply, an add or fma
    assert (np.abs(y[..., : dim // 2] - (a * c - b * s)) <= tol).all()
    assert (np.abs(y[..., dim // 2:] - (a * s + b * c)) <= tol).all()


@pytest.mark.parametrize("n, k, block", [(200, 8, 64), (40, 32, 32), (7, 3, 32)])
def test_warp_bitonic_top_k(ptx, n, k, block):
    x = rng(n).standard_normal(n).astype(np.float32)
    if n > 9:
        x[5] = x[6] = x[9]  # ties: the lower index first
    warps = (n + 31) // 32
    vals, idxs = np.full(warps * k, np.nan, np.float32), np.full(warps * k, -7, np.int32)
    run(ptx, "warp_topk", (32 * warps + block - 1) // block, block, [x, vals, idxs, np.int32(n), np.int32(k)])
    for w in range(warps):
        seg = np.arange(32 * w, min(32 * w + 32, n))
        order = seg[np.lexsort((seg, -x[seg]))]
        want = np.concatenate([order, [-1] * 32])[:k]
        np.testing.assert_array_equal(idxs[w * k:(w + 1) * k], want)
        np.testing.assert_array_equal(vals[w * k:(w + 1) * k], np.where(want >= 0, x[want], -np.inf))


@pytest.mark.parametrize("n, grid", [(5000, 4), (33, 1)])
def test_argmax_through_one_64_bit_atomic_max(ptx, n, grid):
    x = rng(n).standard_normal(n).astype(np.float32) - 3
    x[[n // 3, n // 2]] = x.max() + 1  # a tie: the lower index wins
    best = np.zeros(1, np.uint64)
    run(ptx, "argmax_packed", grid, 128, [x, best, np.int32(n)])
    assert (~int(best[0])) & 0xFFFFFFFF == n // 3


@pytest.mark.parametrize("n, block", [(1000, 128), (64, 32), (5, 32)])
def test_blelloch_scan_with_conflict_free_padding(ptx, n, block):
    x = rng(n).integers(-100, 100, n).astype(np.int32)
    m = 2 * block
    blocks = (n + m - 1) // m
    out, sums = np.full(n, -7, np.int32), np.zeros(blocks, np.int32)
    run(ptx, "blelloch_scan", blocks, block, [x, out, sums, np.int32(n)], dynamic_shared=4 * (m + (m >> 5)))
    xp = np.zeros(blocks * m, np.int64)
    xp[:n] = x
    seg = xp.reshape(blocks, m)
    np.testing.assert_array_equal(out, (np.cumsum(seg, axis=1) - seg).ravel()[:n])
    np.testing.assert_array_equal(sums, seg.sum(axis=1))


@pytest.mark.parametrize("w, h", [(37, 21), (16, 16)])
def test_conv2d_with_a_constant_mask_set_from_the_host(ptx, w, h):
    r = rng(w * h)
    img = r.standard_normal((h, w)).astype(np.float32)
    mask = r.standard_normal(25).astype(np.float32)
    out = np.full((h, w), np.nan, np.float32)
    run(ptx, "conv2d_const", ((w + 15) // 16, (h + 15) // 16), (16, 16), [img, out, np.int32(w), np.int32(h)],
        symbols={"conv_mask": mask})
    yy, xx = np.arange(h)[:, None], np.arange(w)[None, :]
    ref, mag = np.zeros((h, w)), np.zeros((h, w))
    for i in range(5):
        for j in range(5):
            t = img[np.clip(yy + i - 2, 0, h - 1), np.clip(xx + j - 2, 0, w - 1)].astype(np.float64)
            ref += mask[5 * i + j] * t
            mag += abs(mask[5 * i + j] * t)
    assert (np.abs(out - ref) <= 25 * 2.0 ** -24 * mag).all()  # 25 fmas, each rounded once


@pytest.mark.parametrize("w, h", [(29, 13), (8, 8)])
def test_sobel_on_uchar4_pixels_bit_exact(ptx_ieee, w, h):
    img = rng(w + h).integers(0, 256, (h, w, 4)).astype(np.uint8)
    out = np.zeros((h, w, 4), np.uint8)
    run(ptx_ieee, "sobel_rgba", ((w + 15) // 16, (h + 7) // 8), (16, 8), [img, out, np.int32(w), np.int32(h)])
    px = img.astype(np.int64)
    lum = px[..., 0] + 2 * px[..., 1] + px[..., 2]
    p = np.pad(lum, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    mag = np.sqrt((gx * gx + gy * gy).astype(np.float32))  # cvt.rn, sqrt.rn: correctly rounded in numpy too
    e = np.rint(np.float32(255) * np.clip(mag / np.float32(2040), 0, 1)).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 0], e)
    np.testing.assert_array_equal(out[..., 2], e)
    np.testing.assert_array_equal(out[..., 3], img[..., 3])


@pytest.mark.parametrize("rows, cols", [(50, 300), (3, 7)])
def test_csr_spmv_warp_per_row(ptx, rows, cols):
    r = rng(rows * cols)
    dense = np.where(r.random((rows, cols)) < 0.2, r.standard_normal((rows, cols)), 0).astype(np.float32)
    dense[1 % rows] = 0  # an empty row
    nz = np.nonzero(dense)
    rowptr = np.concatenate([[0], np.cumsum(np.bincount(nz[0], minlength=rows))]).astype(np.int32)
    cols_, vals = nz[1].astype(np.int32), dense[nz].astype(np.float32)
    x = r.standard_normal(cols).astype(np.float32)
    y = np.full(rows, np.nan, np.float32)
    run(ptx, "spmv_csr_warp", (rows * 32 + 127) // 128, 128, [rowptr, cols_, vals, x, y, np.int32(rows)])
    A = dense.astype(np.float64)
    nnz = np.diff(rowptr)
    # each lane's products and sums, then 5 shuffle adds: at most nnz/32 + 6 roundings per term
    assert (np.abs(y - A @ x) <= (nnz / 32 + 7) * 2.0 ** -24 * (np.abs(A) @ np.abs(x)) + 1e-30).all()
