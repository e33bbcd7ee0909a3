"""nvcc's library math and integer intrinsics (tests/emulator/data/intrinsics.cu) against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from sass_lab.emulator import emulate

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
N = 100  # two blocks of 64: the second block's last 28 threads exit at once


def _inputs():
    rng = np.random.default_rng(21)
    x = (rng.standard_normal(N) * 4).astype(np.float32)
    x[:6] = [0.0, -3.0, 0.5, 2.5, -2.5, 1e-30]
    x[6:12] = [123456.7, -987654.3, 3.0e6, 2.0e5, 105616.0, -4.5e7]  # sinf's slow reduction path
    u = rng.integers(0, 2**32, N * 4 + 4, dtype=np.uint64).astype(np.uint32)
    u[:4] = [0, 1, 0xFFFFFFFF, 0x80000000]
    u[N * 4:] = [0x7FFFFFFF, 0, 0, 0]
    d = rng.standard_normal(N) * 10
    return x, u, d


def _bf16(x):
    b = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return (((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16).astype(np.uint32).view(np.float32)


def _ref_ints(u0):
    a = u0[:N].astype(np.uint64)
    i = np.arange(N, dtype=np.uint64)
    m32 = np.uint64(0xFFFFFFFF)
    popc = np.array([bin(int(v)).count("1") for v in a], np.uint64)
    clz = np.array([32 - int(v).bit_length() for v in a], np.uint64)
    brev = np.array([int(f"{int(v):032b}"[::-1], 2) for v in a], np.uint64)
    b3 = (a * 3) & m32
    src = [(int(lo).to_bytes(4, "little") + int(hi).to_bytes(4, "little")) for lo, hi in zip(a, b3)]
    perm = np.array([int.from_bytes(bytes(s[k] for k in (0, 4, 1, 5)), "little") for s in src], np.uint64)
    r0 = (popc + clz + brev + perm) & m32
    hi7 = (a * 7) & m32
    fl = ((((hi7 << np.uint64(32)) | a) << (i & np.uint64(31))) >> np.uint64(32)) & m32
    fr = ((((~a & m32) << np.uint64(32)) | a) >> (i & np.uint64(7))) & m32
    rem = np.fmod(a.astype(np.uint32).view(np.int32).astype(np.int64), 13).astype(np.int32).view(np.uint32)
    r1 = fl ^ fr ^ (a // np.uint64(7)) ^ rem.astype(np.uint64)
    r2 = []
    for t in range(N):
        w = range(t - t % 32, min(t - t % 32 + 32, N))
        ball = sum(1 << (s % 32) for s in w if a[s] & 1)
        anyv = int(any(a[s] > 5 for s in w))
        match = sum(1 << (s % 32) for s in w if a[s] & 3 == a[t] & 3)
        r2.append((ball + anyv + match) & 0xFFFFFFFF)
    return r0.astype(np.uint32), r1.astype(np.uint32), np.array(r2, np.uint32)


@pytest.fixture
def result(ptx_source):
    ptx = ptx_source("intrinsics")
    x, u, d = _inputs()
    y = np.full(N * 8, np.nan, np.float32)
    uo, do = u.copy(), d.copy()
    emulate(ptx, "intrinsics", 2, 64, [x, y, u, uo, do, np.int32(N)])
    return x, u, d, y.reshape(N, 8), uo, do


def test_float_math(result):
    x, _, _, y, _, _ = result
    v = x.astype(np.float64)
    np.testing.assert_allclose(y[:, 0], np.sin(v) + np.cos(v), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(y[:, 1], np.exp(v * 1e-5) + np.log(np.abs(v) + 1), rtol=2e-6)
    np.testing.assert_allclose(y[:, 2], np.abs(v) ** 1.5 + np.sqrt(np.abs(v)) + 1 / np.sqrt(np.abs(v) + 1),
                               rtol=2e-6)
    from math import erf
    want3 = v / (v + 3) + np.tanh(v) + np.array([erf(t) for t in v])
    np.testing.assert_allclose(y[:, 3], want3, rtol=1e-5, atol=2e-6)
    h = (x * np.float32(1e-3)).astype(np.float16).astype(np.float64)
    b = _bf16(x).astype(np.float64)
    want4 = (h * h + h).astype(np.float16).astype(np.float32) + _bf16((b * b).astype(np.float32))
    np.testing.assert_array_equal(y[:, 4], want4)
    fma = (v * v + 1).astype(np.float32)  # exact in f64 for these inputs' magnitudes, rounded once
    rnd = np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5)).astype(np.float32)
    want5 = (((np.clip(x, 0, 1) + fma) + np.minimum(x, 0)) + np.trunc(x)) + rnd
    np.testing.assert_allclose(y[:, 5], want5, rtol=1e-6)


def test_integer_intrinsics_and_atomics(result):
    x, u, d, y, uo, do = result
    r0, r1, r2 = _ref_ints(u)
    got = uo[:N * 4].reshape(N, 4)
    np.testing.assert_array_equal(got[:, 0], r0)
    np.testing.assert_array_equal(got[:, 1], r1)
    np.testing.assert_array_equal(got[:, 2], r2)
    a = u[:N].astype(np.uint64)
    t1 = ((a * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)).astype(np.float32)
    t2 = ((a * a) >> np.uint64(32)).astype(np.float32)
    m24 = (a & np.uint64(0xFFFFFF)).astype(np.int64)
    m24 = np.where(m24 & 0x800000, m24 - (1 << 24), m24)
    t3 = ((m24 * 3) & 0xFFFFFFFF).astype(np.uint32).view(np.int32).astype(np.float32)
    np.testing.assert_array_equal(y[:, 6], (t1 + t2) + t3)
    ai = u[:N].view(np.int32)
    assert uo[N * 4] == np.uint32(min(0x7FFFFFFF, ai.min()))
    cas = next(int(v) for v in u[:N] if v != 0)  # in thread order, the first nonzero a wins 0 -> a
    assert uo[N * 4 + 1] == cas
    inc = 0
    for _ in range(N):
        inc = 0 if inc >= 17 else inc + 1
    assert uo[N * 4 + 2] == inc
    assert uo[N * 4 + 3] == u[N - 1]
    want_d = np.exp(d * 1e-3) / (d + 2.0) + np.sqrt(np.abs(d)) + np.trunc(d * 1e6)
    np.testing.assert_allclose(do, want_d, rtol=1e-15)
