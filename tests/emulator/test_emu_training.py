"""corpus/training.cu — kernels in the style of a training codebase and of the vendor samples, against
float64/exact numpy references on fresh random inputs, ragged sizes, poisoned outputs.

Tolerances: bf16 outputs within one bf16 ulp of the float64 value (the kernel rounds a float32 result once,
the reference a float64 one: they may straddle a rounding boundary); float32 reductions within the float32
error bound of their length; integer, sorting, scan, histogram, RNG, transpose and exact-sum results
bit-exact."""

from __future__ import annotations

import numpy as np
import pytest
from test_emu_corpus import ARCHS, CORPUS, rng

from sass_lab.emulator import emulate

F32 = np.float32


@pytest.fixture(params=[*ARCHS, "sm_90.fast"])
def arch(request):
    """sm_80, sm_90 and the sm_90 --use_fast_math build (what a training codebase ships): the same
    tolerances hold, the approximations being within them."""
    return request.param


@pytest.fixture(params=ARCHS)
def target(request):
    return request.param


def ptx(target: str) -> str:
    return (CORPUS / f"training.{target}.ptx").read_text()


def bf16(x):
    """float → bf16 bits, round to nearest even (via float32)."""
    u = np.asarray(x, np.float64).astype(F32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def unbf16(b):
    return (b.astype(np.uint32) << 16).view(F32).astype(np.float64)


def assert_bf16_close(got_bits, want64, ulps=1, atol=0.0):
    """Each bf16 within ``ulps`` bf16 ulp (plus ``atol``) of the float64 value."""
    got = unbf16(got_bits)
    step = np.spacing(np.abs(unbf16(bf16(want64))).astype(F32)).astype(np.float64) * 2 ** 16  # one bf16 ulp
    err = np.abs(got - want64)
    bad = np.flatnonzero(~(err <= ulps * step + atol))
    assert not len(bad), f"{len(bad)} bf16 values off, e.g. #{bad[0]}: {got[bad[0]]} vs {want64[bad[0]]}"


def test_layernorm_bf16_packets(arch):
    N, C = 11, 200  # C a multiple of 8 (16-byte packets), not of 256: ragged last packet round
    r = rng(40)
    x, w, b = bf16(r.standard_normal((N, C)) * 2 + 0.5), bf16(r.standard_normal(C)), bf16(r.standard_normal(C))
    out = np.full(N * C, 0xFFFF, np.uint16)
    mean, rstd = np.full(N, np.nan, F32), np.full(N, np.nan, F32)
    emulate(ptx(arch), "layernorm_bf16", 3, 128, [out, mean, rstd, x.ravel(), w, b, np.int32(N), np.int32(C)])
    xv = unbf16(x)
    m = xv.mean(axis=1)
    s = 1 / np.sqrt(((xv - m[:, None]) ** 2).mean(axis=1) + 1e-5)
    np.testing.assert_allclose(mean, m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rstd, s, rtol=1e-5)
    assert_bf16_close(out, ((xv - m[:, None]) * s[:, None] * unbf16(w) + unbf16(b)).ravel())


def test_online_softmax_ragged_rows(arch):
    N, C = 9, 77
    r = rng(41)
    x = (r.standard_normal((N, C)) * 5).astype(F32)
    x[3, 5] = 80.0  # a dominant logit
    out = np.full(N * C, np.nan, F32)
    emulate(ptx(arch), "softmax_online", 2, 160, [out, x.ravel(), np.int32(N), np.int32(C)])
    e = np.exp(x.astype(np.float64) - x.max(axis=1, keepdims=True))
    # expf within 2 ulp per term, a 77-term float32 sum: relative error below 77 · 2^-23 ≈ 1e-5
    np.testing.assert_allclose(out.reshape(N, C), e / e.sum(axis=1, keepdims=True), rtol=2e-5, atol=1e-9)


def test_gelu_bf16_packets(arch):
    n = 1000  # a multiple of 8; the tail of the buffer stays poisoned
    r = rng(42)
    x = bf16(r.standard_normal(1024) * 3)
    out = np.full(1024, 0xABCD, np.uint16)
    emulate(ptx(arch), "gelu_bf16", 2, 32, [out, x, np.int32(n)])
    v = unbf16(x[:n])
    # 1 + tanhf(u) cancels for u ≪ 0: tanhf's 2 ulp near −1 (2^-23) times 0.5|x| is an absolute error
    assert_bf16_close(out[:n], 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3))),
                      atol=np.abs(v) * 2.0 ** -23)
    assert (out[n:] == 0xABCD).all()


def test_adamw_step(arch):
    n = 1001
    r = rng(43)
    p = r.standard_normal(n).astype(F32)
    g = bf16(r.standard_normal(n) * 0.1)
    m, v = (r.standard_normal(n) * 0.01).astype(F32), (r.random(n) * 1e-3).astype(F32)
    p0, m0, v0 = p.astype(np.float64), m.astype(np.float64), v.astype(np.float64)
    lr, b1, b2, t, eps, wd = 1e-3, 0.9, 0.999, 7, 1e-8, 0.01
    emulate(ptx(arch), "adamw", 8, 128, [p, g, m, v, np.int64(n), F32(lr), F32(b1), F32(b2), np.int32(t), F32(eps),
                                          F32(wd)])
    gv = unbf16(g)
    B1, B2 = float(F32(b1)), float(F32(b2))
    mw = B1 * m0 + (1 - B1) * gv
    vw = B2 * v0 + (1 - B2) * gv * gv
    np.testing.assert_allclose(m, mw, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(v, vw, rtol=1e-6, atol=1e-12)
    mh, vh = mw / (1 - B1 ** t), vw / (1 - B2 ** t)
    # float32 arithmetic throughout: the update (≤ lr · 10) carries a relative error of ~1e-5 (1 − β2^t cancels)
    np.testing.assert_allclose(p, p0 - float(F32(lr)) * (mh / (np.sqrt(vh) + eps) + float(F32(wd)) * p0),
                               rtol=1e-6, atol=1e-7)


def test_bias_gradient_bf16x2_atomics(arch):
    N, C2 = 50, 70  # sm_80: a compare-and-swap loop; sm_90: atom.add.noftz.bf16x2
    r = rng(44)
    dout = bf16(r.integers(-3, 4, (N, 2 * C2)))
    dbias = bf16(r.integers(-5, 5, 2 * C2))
    before = unbf16(dbias)
    emulate(ptx(arch), "bias_grad_bf162", (2, 4), 64, [dbias, dout.ravel(), np.int32(N), np.int32(C2)])
    # small integers: every partial sum is exact in bf16, so any order of the atomics gives the same bits
    np.testing.assert_array_equal(unbf16(dbias), before + unbf16(dout).sum(axis=0))


@pytest.mark.parametrize("descending", [0, 1])
def test_bitonic_sort_in_shared_memory(arch, descending):
    blocks, threads = 3, 128
    L = 2 * threads
    r = rng(45 + descending)
    keys = r.integers(0, 1 << 32, blocks * L, dtype=np.uint64).astype(np.uint32)
    keys[:40] = 7  # duplicates
    vals = np.arange(blocks * L, dtype=np.uint32)
    k0 = keys.copy()
    emulate(ptx(arch), "bitonic_sort", blocks, threads, [keys, vals, np.int32(descending)], dynamic_shared=2 * L * 4)
    for b in range(blocks):
        want = np.sort(k0[b * L:(b + 1) * L])
        np.testing.assert_array_equal(keys[b * L:(b + 1) * L], want[::-1] if descending else want)
        np.testing.assert_array_equal(np.sort(vals[b * L:(b + 1) * L]), np.arange(b * L, (b + 1) * L))
    np.testing.assert_array_equal(k0[vals], keys)  # each value travelled with its key


def test_shuffle_scan(arch):
    n, threads = 1000, 256
    x = rng(47).integers(-50, 50, n).astype(np.int32)
    out, sums = np.full(n, -1, np.int32), np.full(4, -1, np.int32)
    emulate(ptx(arch), "scan_blocks", 4, threads, [x, out, sums, np.int32(n)])
    xp = np.concatenate([x, np.zeros(4 * threads - n, np.int32)]).reshape(4, threads)
    np.testing.assert_array_equal(out, np.cumsum(xp, axis=1).ravel()[:n])
    np.testing.assert_array_equal(sums, xp.sum(axis=1))


def test_histogram256_per_warp_sub_histograms(arch):
    nwords = 3001
    r = rng(48)
    data = r.integers(0, 1 << 32, nwords, dtype=np.uint64).astype(np.uint32)
    data[:100] = 0x41414141  # a hot bin
    hist = np.zeros(256, np.uint32)
    emulate(ptx(arch), "histogram256", 3, 128, [data, hist, np.int32(nwords)], dynamic_shared=256 * 4 * 4)
    np.testing.assert_array_equal(hist, np.bincount(data.view(np.uint8), minlength=256))


def test_transpose_padded_tiles_ragged(arch):
    rows, cols = 45, 70
    x = rng(49).standard_normal(rows * cols).astype(F32)
    out = np.full(rows * cols, np.nan, F32)
    emulate(ptx(arch), "transpose_padded", (3, 2), (32, 8), [out, x, np.int32(rows), np.int32(cols)])
    np.testing.assert_array_equal(out.reshape(cols, rows), x.reshape(rows, cols).T)


def test_black_scholes_polynomial_cnd(arch):
    n = 777
    r = rng(50)
    S, X, T = r.uniform(5, 30, n).astype(F32), r.uniform(1, 100, n).astype(F32), r.uniform(0.25, 10, n).astype(F32)
    call, put = np.full(n, np.nan, F32), np.full(n, np.nan, F32)
    R, V = 0.02, 0.30
    emulate(ptx(arch), "black_scholes", 2, 128, [call, put, S, X, T, F32(R), F32(V), np.int32(n)])
    s, x, t = S.astype(np.float64), X.astype(np.float64), T.astype(np.float64)
    R, V = float(F32(R)), float(F32(V))

    def cnd(d):
        k = 1 / (1 + 0.2316419 * np.abs(d))
        c = 0.3989422804014327 * np.exp(-0.5 * d * d) * k * (0.31938153 + k * (-0.356563782 + k * (
            1.781477937 + k * (-1.821255978 + k * 1.330274429))))
        return np.where(d > 0, 1 - c, c)
    d1 = (np.log(s / x) + (R + 0.5 * V * V) * t) / (V * np.sqrt(t))
    d2 = d1 - V * np.sqrt(t)
    e = np.exp(-R * t)
    # __logf/__expf/__fdividef: ~2^-21 relative each, prices up to 30 → absolute error well below 1e-4
    np.testing.assert_allclose(call, s * cnd(d1) - x * e * cnd(d2), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(put, x * e * (1 - cnd(d2)) - s * (1 - cnd(d1)), rtol=1e-4, atol=1e-4)


M32 = 0xFFFFFFFF


def _mix32(x):
    x &= M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    return x ^ (x >> 16)


def test_xorwow_and_philox(arch):
    n, draws, seed = 200, 5, 987654321
    xw, ph = np.zeros(draws * n, np.uint32), np.zeros(4 * n, np.uint32)
    emulate(ptx(arch), "rngs", 2, 128, [xw, ph, np.uint32(seed), np.int32(draws), np.int32(n)])
    for i in range(n):
        s = [_mix32(seed ^ i), _mix32(seed + 2 * i + 1), _mix32(~seed ^ (3 * i)), _mix32(seed * 5 + i), _mix32(i + 77)]
        d = 6615241 + i
        for k in range(draws):
            t = s[0] ^ (s[0] >> 2)
            s = s[1:] + [((s[4] ^ (s[4] << 4)) ^ (t ^ (t << 1))) & M32]
            d += 362437
            assert xw[k * n + i] == (s[4] + d) & M32, (i, k)
        c = [i, 0, seed, 0xDEADBEEF]
        key = [seed, seed ^ 0x12345678]
        for _ in range(10):
            p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
            c = [(p1 >> 32) ^ c[1] ^ key[0], p1 & M32, (p0 >> 32) ^ c[3] ^ key[1], p0 & M32]
            key = [(key[0] + 0x9E3779B9) & M32, (key[1] + 0xBB67AE85) & M32]
        assert ph[4 * i:4 * i + 4].tolist() == c, i


@pytest.mark.parametrize("name, bs", [("matmul16", 16), ("matmul32", 32)])
def test_templated_tiled_matmul_ragged(arch, name, bs):
    M, N, K = 37, 45, 51
    r = rng(51)
    A, B = r.standard_normal((M, K)).astype(F32), r.standard_normal((K, N)).astype(F32)
    C = np.full(M * N, np.nan, F32)
    grid = ((N + bs - 1) // bs, (M + bs - 1) // bs)
    emulate(ptx(arch), name, grid, (bs, bs), [C, A.ravel(), B.ravel(), np.int32(M), np.int32(N), np.int32(K)])
    want = A.astype(np.float64) @ B.astype(np.float64)
    bound = K * 2.0 ** -23 * (np.abs(A).astype(np.float64) @ np.abs(B))  # float32 dot product error bound
    assert (np.abs(C.reshape(M, N) - want) <= bound).all()


def test_printf_conversions_widths_precisions(arch):
    v = np.array([5, -7, 300, 65536, -1], np.int32)
    d = np.array([3.14159, -2.5e-3, 1e10, 0.0, -0.5])
    big = -(1 << 40)
    rep = emulate(ptx(arch), "report", 1, 32, [v, d, np.int64(big), np.int32(len(v))])
    fmt = "[%3d] %-6s|%+d|%u|%08.3f|%.2e|%g|%s|%X|%10s|%-4c|%d|%d|%5.1f%%|%.0f|%G"  # %s: C's %#x (0 → "0")
    want = []
    for i in range(len(v)):
        tag = "odd" if i % 2 else "even"
        x = int(v[i])
        hx = "%#x" % (x & 0xFFFF) if x & 0xFFFF else "0"
        want.append(fmt % (i, tag, x, x & M32, d[i], d[i] * 1e6, d[i] / 7, hx, x & 0xFFF, tag, 97 + i % 26,
                           big * i, (big & (2 ** 64 - 1)) + i, d[i] * 10, d[i], d[i] * 1e-9))
    # C's integer conversions where Python's % differs: %#o, %#x of 0, %.0d of 0, %+u, % u, precision with 0
    assert rep.output.splitlines() == want + ["ptr set", "010|0||5|5|     0ff|010   |0XFF|-00042"]


def test_cub_block_reduce_scan_radix_sort(arch):
    n = 300
    r = rng(52)
    x = r.integers(-1000, 1000, n).astype(np.int32)
    prefix, sums = np.full(n, -7, np.int32), np.full(3, -7, np.int32)
    keys = r.integers(0, 1 << 32, 3 * 512, dtype=np.uint64).astype(np.uint32)
    keys[:64] = keys[0]  # duplicates
    k0 = keys.copy()
    emulate(ptx(arch), "cub_block", 3, 128, [x, prefix, sums, keys, np.int32(n)])
    xp = np.concatenate([x, np.zeros(3 * 128 - n, np.int32)]).reshape(3, 128)
    np.testing.assert_array_equal(sums, xp.sum(axis=1))
    np.testing.assert_array_equal(prefix, (np.cumsum(xp, axis=1) - xp).ravel()[:n])
    np.testing.assert_array_equal(keys.reshape(3, 512), np.sort(k0.reshape(3, 512), axis=1))
    x = r.standard_normal(256).astype(F32)
    out = np.full(8, np.nan, F32)
    emulate(ptx(arch), "cub_warp_max", 2, 128, [x, out])
    np.testing.assert_array_equal(out, x.reshape(8, 32).max(axis=1))


def test_device_heap_is_refused_with_the_reason(arch):
    from sass_lab.errors import EmulatorError
    with pytest.raises(EmulatorError, match=r"to 'malloc'.*the device heap \(in-kernel malloc/new\) is not modelled"):
        emulate(ptx(arch), "device_heap", 1, 32, [np.zeros(32, np.int32)])


# ------------------------------------------------------------------------------ curand.cu (the cuRAND device API)


def _xorwow_step(v):
    t = v[0] ^ (v[0] >> 2)
    return v[1:] + [((v[4] ^ ((v[4] << 4) & M32)) ^ (t ^ ((t << 1) & M32))) & M32]


def _box_muller(x, y):
    """cuRAND's pair from two 32-bit draws, evaluated in float64 from the same float32 inputs."""
    u = float(F32(F32(x) * F32(2.0 ** -32) + F32(2.0 ** -33)))
    two_pi_inv = float(F32(2 * np.pi * 2.0 ** -32))
    v = float(F32(F32(y) * F32(two_pi_inv) + F32(two_pi_inv / 2)))
    s = np.sqrt(-2 * np.log(u))
    return s * np.sin(v), s * np.cos(v)


def test_curand_xorwow_sequences_from_the_precomputed_tables(target):
    """curand_init(seed, i, 0) jumps 2^67·i draws with the library's __device__ skip-ahead tables: checked
    against the XORWOW transition matrix over GF(2) raised to 2^67 by squaring (an independent path)."""
    n, seed = 24, 0x123456789
    raw, uni, nor = np.zeros(n, np.uint32), np.full(n, np.nan, F32), np.full(2 * n, np.nan, F32)
    emulate((CORPUS / f"curand.{target}.ptx").read_text(), "curand_xorwow", 1, 64,
            [np.uint64(seed), raw, uni, nor, np.int32(n)])
    A = np.zeros((160, 160), np.int64)  # one step: column k is the image of state bit k
    for k in range(160):
        e = [0] * 5
        e[k // 32] = 1 << (k % 32)
        nxt = _xorwow_step(e)
        A[:, k] = [(nxt[j] >> b) & 1 for j in range(5) for b in range(32)]
    for _ in range(67):
        A = (A @ A) % 2
    t0 = (1099087573 * ((seed & M32) ^ 0xAAD26B49)) & M32
    t1 = (2591861531 * ((seed >> 32) ^ 0xF7DCEFDD)) & M32
    d = (6615241 + t1 + t0) & M32
    state = [(123456789 + t0) & M32, 362436069 ^ t0, (521288629 + t1) & M32, 88675123 ^ t1, (5783321 + t0) & M32]
    bits = np.array([(state[j] >> b) & 1 for j in range(5) for b in range(32)], np.int64)
    for i in range(n):
        v = [int(sum(int(bits[32 * j + b]) << b for b in range(32))) for j in range(5)]
        draws = []
        for k in range(4):
            v = _xorwow_step(v)
            draws.append((v[4] + d + 362437 * (k + 1)) & M32)
        assert raw[i] == draws[0], i
        assert uni[i] == F32(F32(draws[1]) * F32(2.0 ** -32) + F32(2.0 ** -33)), i
        np.testing.assert_allclose(nor[2 * i:2 * i + 2], _box_muller(draws[2], draws[3]), rtol=1e-5, atol=1e-6)
        bits = (A @ bits) % 2


def _philox(c, k):
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & M32, (p0 >> 32) ^ c[3] ^ k[1], p0 & M32]
        k = [(k[0] + 0x9E3779B9) & M32, (k[1] + 0xBB67AE85) & M32]
    return c


def test_curand_philox_with_an_offset(target):
    n, seed = 64, 0xFEDCBA987
    raw, nor = np.zeros(4 * n, np.uint32), np.full(4 * n, np.nan, F32)
    emulate((CORPUS / f"curand.{target}.ptx").read_text(), "curand_philox", 1, 64,
            [np.uint64(seed), raw, nor, np.int32(n)])
    key = [seed & M32, seed >> 32]
    for i in range(n):  # counter (offset / 4, 0, subsequence): offset 7 starts at word 3 of block 1
        words = _philox([1, 0, i, 0], key) + _philox([2, 0, i, 0], key) + _philox([3, 0, i, 0], key)
        assert raw[4 * i:4 * i + 4].tolist() == words[3:7], i
        want = [*_box_muller(words[7], words[8]), *_box_muller(words[9], words[10])]
        np.testing.assert_allclose(nor[4 * i:4 * i + 4], want, rtol=1e-5, atol=1e-6)
