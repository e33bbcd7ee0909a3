"""Real nvcc kernels on the emulator, compared with numpy (ragged sizes, NaN-poisoned outputs)."""

from __future__ import annotations

import numpy as np

from sass_lab.emulator import emulate

RNG = np.random.default_rng(7)


def _poison(shape, dtype=np.float32):
    return np.full(shape, np.nan, dtype)


def test_vecadd(ptx_source):
    n = 1000
    a, b = RNG.random(n, np.float32), RNG.random(n, np.float32)
    c = _poison(n)
    rep = emulate(ptx_source("vecadd"), "vecadd", (n + 127) // 128, 128, [a, b, c, np.int32(n)])
    np.testing.assert_array_equal(c, a + b)
    assert rep.stats.thread_instructions > n


def test_reduce(ptx_source):
    n = 3001
    x = RNG.random(n, np.float32)
    out = np.zeros(1, np.float32)
    emulate(ptx_source("reduce"), "reduce_sum", (n + 255) // 256, 256, [x, out, np.int32(n)])
    np.testing.assert_allclose(out[0], x.astype(np.float64).sum(), rtol=1e-5)


def test_transpose(ptx_source):
    rows, cols = 45, 70
    src = RNG.random((rows, cols), np.float32)
    dst = _poison((cols, rows))
    grid = ((cols + 31) // 32, (rows + 31) // 32)
    emulate(ptx_source("transpose"), "transpose", grid, (32, 8), [dst, src, np.int32(rows), np.int32(cols)])
    np.testing.assert_array_equal(dst, src.T)


def test_histogram(ptx_source):
    n = 5000
    data = RNG.integers(0, 1 << 20, n).astype(np.uint32)
    hist = np.zeros(64, np.uint32)
    emulate(ptx_source("histogram"), "histogram", 6, 128, [data, hist, np.int32(n)])
    np.testing.assert_array_equal(hist, np.bincount(data % 64, minlength=64))


def test_sgemm(ptx_source):
    M, N, K = 37, 29, 41
    A, B = RNG.random((M, K), np.float32), RNG.random((K, N), np.float32)
    C = _poison((M, N))
    grid = ((N + 15) // 16, (M + 15) // 16)
    emulate(ptx_source("sgemm"), "sgemm", grid, (16, 16), [A, B, C, np.int32(M), np.int32(N), np.int32(K)])
    np.testing.assert_allclose(C, A.astype(np.float64) @ B, rtol=1e-5)


def test_softmax(ptx_source):
    rows, cols = 5, 300
    x = (RNG.standard_normal((rows, cols)) * 3).astype(np.float32)
    y = _poison((rows, cols))
    emulate(ptx_source("softmax"), "softmax", rows, 128, [x, y, np.int32(rows), np.int32(cols)])
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_conv3x3(ptx_source):
    C, H, W, K = 3, 11, 13, 4
    x = RNG.random((C, H, W), np.float32)
    w = RNG.random((K, C, 3, 3), np.float32)
    out = _poison((K, H, W))
    emulate(ptx_source("conv3x3"), "conv3x3", ((W + 7) // 8, (H + 7) // 8, K), (8, 8),
            [x, w, out, np.int32(C), np.int32(H), np.int32(W), np.int32(K)])
    pad = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1)))
    ref = np.zeros((K, H, W))
    for r in range(3):
        for s in range(3):
            ref += np.einsum("kc,chw->khw", w[:, :, r, s], pad[:, r:r + H, s:s + W])
    np.testing.assert_allclose(out, ref, rtol=1e-5)


def test_mma_gemm(ptx_source):
    M, N, K = 32, 24, 48
    A = RNG.standard_normal((M, K)).astype(np.float16)
    B = RNG.standard_normal((N, K)).astype(np.float16)
    C = _poison((M, N))
    emulate(ptx_source("mma_gemm"), "mma_gemm", (N // 8, M // 16), 32,
            [A, B, C, np.int32(M), np.int32(N), np.int32(K)])
    np.testing.assert_allclose(C, A.astype(np.float64) @ B.T.astype(np.float64), rtol=1e-4, atol=1e-4)


def test_calls_are_inlined(ptx_source):
    ptx = ptx_source("calls")
    n = 300
    x = RNG.random(n, np.float32)
    y = _poison(n)
    emulate(ptx, "noinl", 3, 128, [x, y, np.int32(n)])
    np.testing.assert_allclose(y, (x * 2 + np.arange(n)) + np.float32(4), rtol=1e-6)
    xd = RNG.standard_normal(n) * 1e6
    xd[:4] = [1e300, 3.0, -1e22, 0.0]  # huge arguments take the Payne-Hanek .func (local memory, carries)
    yd = np.full(n, np.nan)
    emulate(ptx, "dsin", 3, 128, [xd, yd, np.int32(n)])
    np.testing.assert_allclose(yd, np.sin(xd) + np.cos(xd * 0.5), rtol=1e-15, atol=1e-15)


def test_wmma_gemm(ptx_source):
    M, N, K = 32, 48, 64
    A = RNG.standard_normal((M, K)).astype(np.float16)
    B = RNG.standard_normal((N, K)).astype(np.float16)
    C0 = RNG.standard_normal((M, N)).astype(np.float32)
    C = C0.copy()
    emulate(ptx_source("wmma"), "wmma_gemm", (N // 16, M // 16), 32,
            [A, B, C, np.int32(M), np.int32(N), np.int32(K), np.float32(0.5)])
    want = C0 + 0.5 * (A.astype(np.float64) @ B.T.astype(np.float64))
    np.testing.assert_allclose(C, want, rtol=1e-4, atol=1e-4)


def test_wmma_bf16_through_shared(ptx_source):
    def bf16(x):
        return (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    A, B = RNG.standard_normal((16, 16)), RNG.standard_normal((16, 16))
    a, b = bf16(A), bf16(B)
    C = _poison(256)
    emulate(ptx_source("wmma"), "wmma_bf16_shared", 1, 32, [a, b, C])
    Aq = (a.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    Bq = (b.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    np.testing.assert_allclose(C.reshape(16, 16).T, Aq @ Bq + 1.0, rtol=1e-5, atol=1e-5)  # stored col-major


def test_cooperative_groups(ptx_source):
    n = 200
    x = RNG.random(n, np.float32)
    out = np.zeros(1, np.float32)
    u = RNG.integers(0, 1000, n).astype(np.uint32)
    uo = np.zeros(n, np.uint32)
    h = RNG.random(2 * n).astype(np.float16)
    ho = np.zeros(2 * n, np.float16)
    emulate(ptx_source("coop"), "cgred", (n + 63) // 64, 64,
            [x, out, u, uo, h.view(np.uint32), ho.view(np.uint32), np.int32(n)])
    warps = [slice(k, min(k + 32, n)) for k in range(0, n, 32)]
    np.testing.assert_allclose(out[0], sum(len(x[w]) * x[w].astype(np.float64).sum() for w in warps), rtol=1e-5)
    np.testing.assert_array_equal(uo, np.concatenate([np.full(len(u[w]), u[w].max() + u[w].sum()) for w in warps]))
    i = np.arange(n)
    q = np.where(i % 4 < 3, np.append(x[1:], 0), x)  # a 4-thread tile's shfl_down(v, 1)
    addend = np.stack([q.astype(np.float16), np.ones(n, np.float16)], 1).ravel()
    want = (h.astype(np.float64) * h + addend.astype(np.float64)).astype(np.float16)
    np.testing.assert_array_equal(ho, want)
