"""corpus/everyday.cu (our own) against numpy: a __grid_constant__ table, cuda::std::complex products and
quotients, signed __int128 division, long double, cooperative_groups::memcpy_async, 64-bit bit intrinsics,
shuffles of double and long long, a struct returned by a __noinline__ function, __syncthreads_count/and/or,
cub's BlockMergeSort, a planted uninit-shared bug, alloca, 128-bit atomics (refused).
Integer results are exact; complex results within the tolerance their few roundings allow."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from ptxkit import kernel

from sass_lab.emulator import EmulatorCheckError, emulate
from sass_lab.errors import EmulatorError

CORPUS = Path(__file__).parent / "corpus"
M64 = (1 << 64) - 1


@pytest.fixture(params=("sm_80", "sm_90"))
def ptx(request):
    return (CORPUS / f"everyday.{request.param}.ptx").read_text()


def rng(seed):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("n, grid, block", [(300, 3, 128), (5, 1, 32)])
def test_grid_constant_table_read_through_its_address(ptx, n, grid, block):
    r = rng(n)
    v = r.standard_normal(64).astype(np.float32)
    idx = r.integers(0, 1 << 20, n).astype(np.int32)
    table = {4 * k: np.float32(v[k]) for k in range(64)} | {256: np.int32(-3)}
    out = np.full(n, np.nan, np.float32)
    emulate(ptx, "grid_constant_lut", grid=grid, block=block, args=[table, idx, out, np.int32(n)])
    np.testing.assert_array_equal(out, v[idx & 63] * np.float32(-3))


@pytest.mark.parametrize("n", [200, 7])
def test_complex_products_and_quotients(ptx, n):
    r = rng(n)
    a = (r.standard_normal(n) + 1j * r.standard_normal(n)).astype(np.complex64)
    b = (r.standard_normal(n) + 1j * r.standard_normal(n)).astype(np.complex64)
    b[:2] = [1e-20 + 3e-21j, 4e18 - 1e19j]  # tiny and huge divisors: the library scales them (no overflow)
    prod, quot = np.zeros(n, np.complex64), np.zeros(n, np.complex64)
    emulate(ptx, "complex_ops", grid=(n + 127) // 128, block=128, args=[a, b, prod, quot, np.int32(n)])
    A, B = a.astype(np.complex128), b.astype(np.complex128)
    # a product is two roundings per part (fma-contracted), a quotient a few more: bound by the parts'
    # magnitudes, not the result (cancellation), 8 units of 2^-24
    mag_p = np.abs(A.real * B.real) + np.abs(A.imag * B.imag) + np.abs(A.real * B.imag) + np.abs(A.imag * B.real)
    assert (np.abs(prod - A * B) <= 8 * 2.0 ** -24 * mag_p).all()
    mag_q = np.abs(A) / np.abs(B) * 4
    assert (np.abs(quot - A / B) <= 8 * 2.0 ** -24 * mag_q).all()


def _to128(vals):
    return np.array([[v % (1 << 128) & M64, (v % (1 << 128)) >> 64] for v in vals], np.uint64)


def _from128(arr):
    out = []
    for lo, hi in arr.tolist():
        x = lo | hi << 64
        out.append(x - (1 << 128) if x >> 127 else x)
    return out


@pytest.mark.parametrize("n", [150, 3])
def test_signed_int128_division_and_long_double(ptx, n):
    g = random.Random(n)
    a = [g.randint(-(1 << 127), (1 << 127) - 1) for _ in range(n)]
    b = [g.choice([g.randint(-(1 << 127), (1 << 127) - 1), g.randint(-(1 << 63), 1 << 63), g.randint(-999, 999)]) or 5
         for _ in range(n)]
    a[0], b[0] = -(1 << 127), 7  # the most negative dividend
    x = rng(n).standard_normal(n)
    q, r, y = np.zeros((n, 2), np.uint64), np.zeros((n, 2), np.uint64), np.zeros(n)
    emulate(ptx, "int128_divmod", grid=(n + 63) // 64, block=64, args=[_to128(a), _to128(b), q, r, x, y, np.int32(n)])
    for i, (u, v, qq, rr) in enumerate(zip(a, b, _from128(q), _from128(r))):
        t = abs(u) // abs(v) * (1 if (u < 0) == (v < 0) else -1)  # C truncates toward zero
        assert (qq, rr) == (t, u - t * v), i
    # long double is double; nvcc contracts v * v - 0.5 into one fma: the exact value rounded once
    np.testing.assert_array_equal(y, [float(Fraction(v) * Fraction(v) - Fraction(1, 2)) for v in x.tolist()])


@pytest.mark.parametrize("n, block", [(300, 128), (100, 64), (64, 64)])
def test_cg_memcpy_async_ragged_chunks(ptx, n, block):
    g = rng(n).standard_normal(n).astype(np.float32)
    out = np.full(n, np.nan, np.float32)
    grid = (n + block - 1) // block
    emulate(ptx, "cg_memcpy_reverse", grid=grid, block=block, args=[g, out, np.int32(n)], dynamic_shared=4 * block)
    ref = np.concatenate([g[s:s + block][::-1] for s in range(0, n, block)])
    np.testing.assert_array_equal(out, ref)


def _bits_ref(v):
    y = v ^ 0x9E3779B97F4A7C15
    lo32 = lambda z: z & 0xFFFFFFFF  # noqa: E731
    s32 = lambda z: lo32(z) - (1 << 32) if lo32(z) >> 31 else lo32(z)  # noqa: E731
    s64 = lambda z: z - (1 << 64) if z >> 63 else z  # noqa: E731
    clz = 64 - v.bit_length()
    ffs = (v & -v).bit_length()
    sad = (abs(s32(v) - s32(y)) + 7) & 0xFFFFFFFF
    w0 = bin(v).count("1") | clz << 8 | ffs << 16 | sad << 32
    w1 = int(f"{v:064b}"[::-1], 2)
    w2 = (v * y) >> 64
    mulhi = ((s64(v) * s64(y)) >> 64) & M64
    rh = ((s32(v) + s32(v >> 32) + 1) >> 1) & 0xFFFFFFFF
    urh = (lo32(v) + lo32(y) + 1) >> 1
    return [w0, w1, w2, mulhi ^ rh ^ (urh << 32)]


@pytest.mark.parametrize("n, grid, block", [(200, 2, 128), (40, 1, 64)])
def test_bit_intrinsics_shuffles_struct_return_and_syncthreads_votes(ptx, n, grid, block):
    r = rng(n)
    x = r.integers(0, 1 << 64, n, dtype=np.uint64)
    x[:3] = [0, 1 << 63, M64]
    d = r.standard_normal(n)
    rows = r.standard_normal(8 * n).astype(np.float32)
    bits, dn, ln = np.zeros(4 * n, np.uint64), np.zeros(n), np.zeros(n, np.int64)
    st, votes = np.zeros(3 * n, np.float32), np.full(3 * grid, -7, np.int32)
    emulate(ptx, "bits_shfl_struct", grid=grid, block=block, args=[x, d, rows, bits, dn, ln, st, votes, np.int32(n)])
    assert [int(b) for b in bits] == [w for v in x.tolist() for w in _bits_ref(v)]
    xs = np.zeros(grid * block, np.uint64)
    xs[:n] = x
    ds = np.zeros(grid * block)
    ds[:n] = d
    i = np.arange(n)
    np.testing.assert_array_equal(dn, np.where(i % 32 == 31, ds[i], ds[np.minimum(i + 1, grid * block - 1)]))
    np.testing.assert_array_equal(ln, np.where(i % 32 == 0, xs[i], xs[np.maximum(i - 1, 0)]).view(np.int64))
    for k in range(n):
        m = 1 + (k & 7)
        p = rows[8 * k:8 * k + m]
        s = np.float32(0)
        for e in p:  # the loop's own order of float additions
            s = np.float32(s + e)
        np.testing.assert_array_equal(st[3 * k:3 * k + 3], [p.min(), p.max(), s])
    for b in range(grid):
        blk = xs[b * block:(b + 1) * block]
        live = np.arange(b * block, (b + 1) * block) < n
        assert votes[3 * b] == int((live & (blk & 1 == 1)).sum())
        assert votes[3 * b + 1] == int(((~live) | (blk != 0)).all())
        assert votes[3 * b + 2] == int((live & (blk >> 63 == 1)).any())


@pytest.mark.parametrize("n", [256 * 2 + 77, 256])
def test_cub_merge_sort_reads_unwritten_slots_it_discards_without_a_finding(ptx, n):
    """cub's merge reads keys_shared[end] (its TempStorage has ITEMS_PER_TILE + 1 keys) and drops the value:
    the launch re-run with never-written shared bytes set to 0xFF and 0x41 ends the same, so no finding."""
    x = rng(n).integers(-50, 50, n).astype(np.int32)  # many equal keys
    out = np.full(n, -7, np.int32)
    grid = (n + 255) // 256
    rep = emulate(ptx, "cub_merge_sort_desc", grid=grid, block=64, args=[x, out, np.int32(n)])
    assert rep.findings == ()
    ref = np.concatenate([np.sort(x[s:s + 256])[::-1] for s in range(0, n, 256)])
    np.testing.assert_array_equal(out, ref)


def test_reading_never_written_shared_memory_that_reaches_the_output_is_a_finding(ptx):
    n = 300
    x = rng(n).integers(-50, 50, n).astype(np.int32)
    out = np.zeros(n, np.int32)
    with pytest.raises(EmulatorCheckError) as e:
        emulate(ptx, "shifted_stage", grid=3, block=128, args=[x, out, np.int32(n)])
    (f,) = e.value.findings
    assert f.kind == "uninit-shared" and f.thread == (127, 0, 0) and "+0x200" in f.message


@pytest.mark.parametrize("n", [300, 9])
def test_alloca_in_a_loop(ptx, n):
    x = rng(n).integers(-(1 << 20), 1 << 20, n).astype(np.int32)
    out = np.zeros(n, np.int32)
    emulate(ptx, "alloca_rounds", grid=(n + 127) // 128, block=128, args=[x, out, np.int32(n)])
    ref = []
    for v in x.tolist():
        acc = 0
        for rnd in range(3):
            m = 1 + ((v >> (3 * rnd)) & 7)
            buf = [v * (k + rnd) for k in range(m)]
            acc += sum(buf[m - 1 - k] ^ k for k in range(m))
        ref.append(acc)
    np.testing.assert_array_equal(out, np.array(ref, np.int64).astype(np.int32))


def test_alloca_stacksave_stackrestore_and_the_arena_limit():
    body = """
    alloca.u64 %rd5, 20, 8;
    stacksave.u64 %rd6;
    alloca.u64 %rd7, 16, 16;
    stackrestore.u64 %rd6;
    alloca.u64 %rd8, 4, 4;
    sub.s64 %rd9, %rd7, %rd5;
    sub.s64 %rd10, %rd8, %rd5;
    sub.s64 %rd11, %rd6, %rd5;
    cvt.u32.u64 %r5, %rd9;
    cvt.u32.u64 %r6, %rd10;
    cvt.u32.u64 %r7, %rd11;
    shl.b32 %r6, %r6, 8;
    shl.b32 %r7, %r7, 16;
    or.b32 %r5, %r5, %r6;
    or.b32 %r5, %r5, %r7;
    st.local.u32 [%rd8], %r5;
    ld.local.u32 %r8, [%rd8];
    st.global.u32 [%rd3], %r8;
"""
    out = np.zeros(2, np.uint32)
    emulate(kernel(body), "k", grid=1, block=2, args=[out, np.zeros(2, np.uint32), np.int32(2)])
    # the 16-aligned block after 20 bytes starts 32 in; after the restore a 4-byte block starts at byte 20,
    # where the saved top was
    np.testing.assert_array_equal(out, 32 | 20 << 8 | 20 << 16)
    with pytest.raises(EmulatorError, match=r"alloca at PTX line \d+ by block \(0, 0, 0\) thread \(0, 0, 0\) needs "
                                            r"more than the emulator's 4096-byte arena"):
        emulate(kernel("alloca.u64 %rd5, 5000, 8;"), "k", grid=1, block=1,
                args=[out, np.zeros(2, np.uint32), np.int32(2)])


def test_128_bit_atomics_are_refused_with_the_reason():
    ptx = (CORPUS / "everyday.sm_90.ptx").read_text()
    args = [np.zeros((4, 2), np.int64), np.zeros((8, 2), np.int64), np.zeros((8, 2), np.int64), np.int32(8)]
    with pytest.raises(EmulatorError, match=r"register '%dst' of type \.b128 is not supported by the emulator "
                                            r"\(128-bit values: mov\.b128 and sm_90's atom\.exch/atom\.cas\.b128"):
        emulate(ptx, "exchange128", grid=1, block=8, args=args)


def test_an_unexpected_error_while_decoding_is_a_refusal_that_says_so(monkeypatch):
    from sass_lab.emulator import program as prog

    def broken(module, kernel):
        raise KeyError("boom")
    monkeypatch.setattr(prog, "build", broken)
    ptx = (CORPUS / "everyday.sm_80.ptx").read_text()
    with pytest.raises(EmulatorError, match=r"internal emulator error while decoding 'alloca_rounds': KeyError"):
        prog.program.__wrapped__(ptx, "alloca_rounds")
