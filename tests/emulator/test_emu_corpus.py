"""The emulator corpus (tests/emulator/corpus/*.cu, our own CUDA C compiled by nvcc for sm_80 and
sm_90 with tools/build_corpus.py) against numpy: fresh random inputs, ragged sizes, poisoned outputs."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from ptxkit import round_exact

from sass_lab.emulator import EmulatorCheckError, emulate
from sass_lab.errors import EmulatorError

CORPUS = Path(__file__).parent / "corpus"
ARCHS = ("sm_80", "sm_90")


def ptx(name: str, arch: str) -> str:
    return (CORPUS / f"{name}.{arch}.ptx").read_text()


@pytest.fixture(params=ARCHS)
def arch(request):
    return request.param


def rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------------ checks.cu


def test_constant_symbols_set_from_the_host(arch):
    n = 1000
    x = rng(1).standard_normal(n).astype(np.float32)
    y = np.full(n, np.nan, np.float32)
    c = np.array([0.5, -1.0, 0.25, 2.0], np.float32)
    emulate(ptx("checks", arch), "poly", 3, 128, [x, y, np.int32(n)], symbols={"coeffs": c})
    v = x.astype(np.float64)
    want = ((c[3] * v + c[2]) * v + c[1]) * v + c[0] + np.array([1, 2, 3])[np.arange(n) % 3]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_symbols_are_checked(arch):
    args = [np.zeros(4, np.float32), np.zeros(4, np.float32), np.int32(4)]
    with pytest.raises(Exception, match="no __constant__ or __device__ variable 'nope'"):
        emulate(ptx("checks", arch), "poly", 1, 32, args, symbols={"nope": np.zeros(1)})
    with pytest.raises(Exception, match="16 bytes; 32 bytes given"):
        emulate(ptx("checks", arch), "poly", 1, 32, args, symbols={"coeffs": np.zeros(4)})


def test_device_symbol_read_back_and_warp_aggregated_atomic(arch):
    n = 3001
    x = rng(2).standard_normal(n).astype(np.float32)
    hits = np.array([5], np.uint32)
    emulate(ptx("checks", arch), "count_positive", 4, 256, [x, np.int32(n)], symbols={"hits": hits})
    assert hits[0] == 5 + np.count_nonzero(x > 0)


def test_assert_reports_message_file_line_and_lanes(arch):
    n = 300
    x = rng(3).random(n).astype(np.float32)
    x[[7, 150, 299]] = -1.0
    y = np.full(n, np.nan, np.float32)
    with pytest.raises(EmulatorCheckError) as e:
        emulate(ptx("checks", arch), "checked_sqrt", 3, 128, [x, y, np.int32(n)])
    (f,) = e.value.findings
    assert f.kind == "assert" and f.count == 3 and f.block == (0, 0, 0) and f.thread == (7, 0, 0)
    assert "checks.cu:20:" in f.message and "Assertion `x[i] >= 0.0f` failed." in f.message
    assert "checked_sqrt" in f.message and "block: [0,0,0], thread: [7,0,0]" in f.message
    ok = np.ones(n, bool)
    ok[[7, 150, 299]] = False
    np.testing.assert_array_equal(y[ok], np.sqrt(x[ok]))  # the other threads ran on
    assert np.isnan(y[~ok]).all()  # a failing thread stops at its assert


def test_printf_output_formatted_from_the_format_string(arch):
    v = np.array([7, 3, 14, -21, 5], np.int32)
    rep = emulate(ptx("checks", arch), "hello", 1, 32, [v, np.int32(len(v))])
    lines = rep.output.splitlines()
    want = []
    for i, x in enumerate(v.tolist()):
        if x % 7 == 0:
            want.append(f"block 0 thread {i}: v={x} hex={x & 0xFFFFFFFF:x} f={x * 0.5:.3f} s=ok c={chr(97 + i % 26)} "
                        f"{x:5d}|{i:<4d}|{x * 1000000000} {x * 1e10:e}")
    assert lines == want


# ------------------------------------------------------------------------------ tensor.cu


def _bf16(x):
    return ((x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16))


WMMA_CASES = [
    ("wmma_f16_f32", lambda r, s: r.standard_normal(s).astype(np.float16), np.float32),
    ("wmma_f16_f16", lambda r, s: (r.standard_normal(s) * 0.5).astype(np.float16), np.float16),
    ("wmma_bf16", lambda r, s: _bf16(r.standard_normal(s)), np.float32),
    ("wmma_u8", lambda r, s: r.integers(0, 256, s).astype(np.uint8), np.int32),
    ("wmma_s8", lambda r, s: r.integers(-128, 128, s).astype(np.int8), np.int32),
]


@pytest.mark.parametrize("name, make, acc", WMMA_CASES)
def test_wmma_tiles_from_shared_memory(arch, name, make, acc):
    # grid 4 x 256 threads, two warps of block 0 compute: 64 lanes x fragment slots == the wave's lanes
    r = rng(4)
    a, b = make(r, 4 * 512), make(r, 4 * 512)
    c = np.zeros(512, acc) if acc != np.float32 else np.full(512, np.nan, np.float32)
    emulate(ptx("tensor", arch), name, 4, 256, [a, b, c])

    def val(x):
        if name == "wmma_bf16":
            return (x.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        return x.astype(np.float64)
    for w in range(2):
        A = val(a[w * 256:(w + 1) * 256]).reshape(16, 16)
        B = val(b[w * 256:(w + 1) * 256]).reshape(16, 16).T  # col-major K x N
        want = A @ B + 1
        got = c[w * 256:(w + 1) * 256].reshape(16, 16).astype(np.float64)
        if acc == np.int32:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=2e-3 if acc == np.float16 else 1e-5, atol=1e-2 if acc == np.float16 else 1e-5)


def test_wmma_tf32(arch):
    r = rng(5)
    a, b = r.standard_normal(4 * 256).astype(np.float32), r.standard_normal(4 * 256).astype(np.float32)
    c = np.full(512, np.nan, np.float32)
    emulate(ptx("tensor", arch), "wmma_tf32", 4, 256, [a, b, c])

    def tf32(x):  # round to nearest, ties away (cvt.rna.tf32.f32)
        return ((x.view(np.uint32) + 0x1000) & 0xFFFFE000).astype(np.uint32).view(np.float32).astype(np.float64)
    for w in range(2):
        A = tf32(a[w * 128:(w + 1) * 128]).reshape(16, 8)
        B = tf32(b[w * 128:(w + 1) * 128]).reshape(16, 8).T
        np.testing.assert_allclose(c[w * 256:(w + 1) * 256].reshape(16, 16), A @ B + 1, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------ async.cu


def _fma(a, x, b):  # nvcc contracts a * x + b into one fma: exact in float64, rounded once
    return (a * x.astype(np.float64) + b).astype(np.float32)


def test_barrier_tree_reduction(arch):
    n, blocks = 10007, 5
    x = rng(6).standard_normal(n).astype(np.float32)
    part = np.full(blocks, np.nan, np.float32)
    emulate(ptx("async", arch), "barrier_reduce", blocks, 256, [x, part, np.int32(n)])
    idx = np.arange(n)
    want = [x[(idx // 256) % blocks == b].astype(np.float64).sum() for b in range(blocks)]
    np.testing.assert_allclose(part, want, rtol=1e-5, atol=1e-4)


def test_block_pipeline_three_stages_ragged(arch):
    n = 256 * 7 + 77
    x = rng(7).standard_normal(n).astype(np.float32)
    y = np.full(n, np.nan, np.float32)
    emulate(ptx("async", arch), "pipeline_reverse_add", 3, 128, [x, y, np.int32(n)])
    want = np.concatenate([x[t:t + 256] + x[t:t + 256][::-1] for t in range(0, n, 256)])
    np.testing.assert_array_equal(y, want)


def test_thread_pipeline_double_buffer(arch):
    n4 = 1000
    x = rng(8).standard_normal(4 * n4).astype(np.float32)
    y = np.full(4 * n4, np.nan, np.float32)
    emulate(ptx("async", arch), "thread_pipeline_square", 3, 128, [x, y, np.int32(n4)])
    np.testing.assert_array_equal(y, x * x)


@pytest.mark.parametrize("tiles", [1, 2, 7])
def test_warp_specialised_rings(arch, tiles):
    r = rng(9)
    x = r.standard_normal(tiles * 128).astype(np.float32)
    y = np.full(tiles * 128, np.nan, np.float32)
    emulate(ptx("async", arch), "ws_ring", 1, 160, [x, y, np.int32(tiles)])
    np.testing.assert_array_equal(y, _fma(3.0, x, 1.0))
    x = r.standard_normal(tiles * 96).astype(np.float32)
    y = np.full(tiles * 96, np.nan, np.float32)
    emulate(ptx("async", arch), "parity_ring", 1, 128, [x, y, np.int32(tiles)])
    t = x.reshape(tiles, 96)
    np.testing.assert_array_equal(y, (t * t[:, ::-1]).ravel())
    x = r.standard_normal(tiles * 128).astype(np.float32)
    y = np.full(tiles * 128, np.nan, np.float32)
    emulate(ptx("async", arch), "role_pipeline", 1, 160, [x, y, np.int32(tiles)])
    t = x.reshape(tiles, 128)
    np.testing.assert_array_equal(y, (t - t[:, ::-1]).ravel())


def test_transaction_count_tile_and_cp_async_ring(arch):
    r = rng(10)
    x = r.standard_normal(3 * 512).astype(np.float32)
    y = np.full(3 * 512, np.nan, np.float32)
    emulate(ptx("async", arch), "tx_tile", 3, 128, [x, y])  # sm_90: bulk copy + complete_tx
    t = x.reshape(3, 512)
    np.testing.assert_array_equal(y, (t[:, ::-1] - t).ravel())
    x = r.standard_normal(7 * 128).astype(np.float32)
    y = np.full(7 * 128, np.nan, np.float32)
    emulate(ptx("async", arch), "primitives_ring", 1, 128, [x, y, np.int32(7)])
    np.testing.assert_array_equal(y, x * np.float32(0.5))


def test_planted_mbarrier_deadlocks(arch):
    with pytest.raises(EmulatorCheckError) as e:
        emulate(ptx("async", arch), "bug_count_too_high", 2, 64, [np.zeros(64, np.float32)])
    (f,) = e.value.findings
    assert f.kind == "mbarrier-deadlock" and f.count == 128
    assert "phase 0 (parity 0): 1 of 65 arrivals pending, tx-count 0" in f.message
    x = rng(11).standard_normal(64).astype(np.float32)
    with pytest.raises(EmulatorCheckError) as e:
        emulate(ptx("async", arch), "bug_early_return", 1, 64, [x, np.zeros(64, np.float32)])
    (f,) = e.value.findings
    gone = int(np.count_nonzero(x < 0))
    assert f.kind == "mbarrier-deadlock" and f.count == 64 - gone
    assert f"{gone} of 64 arrivals pending" in f.message


def test_planted_cp_async_pipeline_bugs(arch):
    x = rng(12).standard_normal(7 * 128).astype(np.float32)
    with pytest.raises(EmulatorCheckError) as e:
        emulate(ptx("async", arch), "bug_ring_overrun", 1, 128, [x, np.zeros(7 * 128, np.float32), np.int32(7)])
    fs = e.value.findings
    assert {f.kind for f in fs} == {"async-in-flight"}
    over = [f for f in fs if f.message.startswith("overwrites")]
    assert over and over[0].instruction.startswith("cp.async") and over[0].count == 128
    assert "ring'+0x0" in over[0].message and "by thread (0, 0, 0)" in over[0].message
    with pytest.raises(EmulatorCheckError) as e:
        emulate(ptx("async", arch), "bug_read_in_flight", 1, 128, [x[:256], np.zeros(128, np.float32)])
    (f,) = e.value.findings
    assert f.kind == "async-in-flight" and f.message.startswith("reads shared") and "buf'+0x200" in f.message


# ------------------------------------------------------------------------------ styles.cu


def test_cooperative_groups_block_sum(arch):
    n, blocks = 5003, 3
    x = rng(13).standard_normal(n).astype(np.float32)
    part = np.full(blocks, np.nan, np.float32)
    emulate(ptx("styles", arch), "cg_block_sum", blocks, 256, [x, part, np.int32(n)])
    idx = np.arange(n)
    want = [x[(idx // 256) % blocks == b].astype(np.float64).sum() for b in range(blocks)]
    np.testing.assert_allclose(part, want, rtol=1e-5, atol=1e-4)


def test_cooperative_groups_tiles_reduce_scan_vote(arch):
    # 16- and 8-thread tiles: redux/vote with a per-lane member mask, shfl.up scans inside the tile
    n = 1000
    x = rng(14).integers(-2000, 2000, n).astype(np.int32)
    tmax, scan = np.full((n + 15) // 16, -7, np.int32), np.full(n, -7, np.int32)
    votes = np.full((n + 7) // 8, 7, np.uint32)
    emulate(ptx("styles", arch), "cg_tiles", 4, 256, [x, tmax, scan, votes, np.int32(n)])
    xp = np.concatenate([x, np.zeros(1024 - n, np.int32)])
    t8, t16 = xp.reshape(-1, 8), xp.reshape(-1, 16)
    np.testing.assert_array_equal(tmax, t16.max(axis=1)[:len(tmax)])
    np.testing.assert_array_equal(scan, np.cumsum(t8, axis=1).ravel()[:n])
    ballot = ((t8 > 0) << np.arange(8)).sum(axis=1)
    anyv, allv = np.repeat((t16 > 1000).any(axis=1), 2), np.repeat((t16 > -1000).all(axis=1), 2)
    np.testing.assert_array_equal(votes, (ballot | anyv * 0x100 | allv * 0x200)[:len(votes)])


def test_warp_aggregated_atomics(arch):
    n = 3001
    r = rng(15)
    x = r.standard_normal(n).astype(np.float32)
    out, count = np.full(n, np.nan, np.float32), np.zeros(1, np.int32)
    # one block: the slots each value gets depend on the order of the atomics between blocks, which
    # (as on a GPU) depends on how many blocks run at once, i.e. on the wave size (see conftest.py)
    emulate(ptx("styles", arch), "filter_positive", 1, 128, [x, out, count, np.int32(n)])
    k = int(np.count_nonzero(x > 0))
    assert count[0] == k and np.isnan(out[k:]).all()
    np.testing.assert_array_equal(np.sort(out[:k]), np.sort(x[x > 0]))  # any order, each value once
    keys, bins = r.integers(0, 10, n).astype(np.int32), np.zeros(10, np.uint32)
    emulate(ptx("styles", arch), "histogram_by_key", 3, 128, [keys, bins, np.int32(n)])
    np.testing.assert_array_equal(bins, np.bincount(keys, minlength=10))


def _bf16_rne(v):
    """float64 → bf16 bits, one rounding to nearest even (normal range)."""
    u = np.asarray(v, np.float64).view(np.uint64)
    u = (u + np.uint64((1 << 44) - 1) + ((u >> np.uint64(45)) & np.uint64(1))) & ~np.uint64((1 << 45) - 1)
    return (u.view(np.float64).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


def _bf(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def test_half2_math(arch):
    n2 = 777
    r = rng(16)
    x, y = r.standard_normal(2 * n2).astype(np.float16), r.standard_normal(2 * n2).astype(np.float16)
    z, relu = np.full(2 * n2, np.nan, np.float16), np.full(2 * n2, np.nan, np.float16)
    emulate(ptx("styles", arch), "h2_axpby_relu", 3, 128, [x, y, z, relu, np.float32(0.75), np.float32(-1.5),
                                                            np.int32(n2)])
    # products of halves are exact in float64, and so is the fma's sum here: one rounding each (numpy's
    # float64 → float16 rounds to nearest even)
    t = (-1.5 * y.astype(np.float64)).astype(np.float16)
    want = (0.75 * x.astype(np.float64) + t).astype(np.float16)
    np.testing.assert_array_equal(z.view(np.uint16), want.view(np.uint16))
    np.testing.assert_array_equal(relu, np.maximum(want, np.float16(0)))
    out = np.zeros(1, np.float32)
    emulate(ptx("styles", arch), "h2_dot", 3, 128, [x, y, out, np.int32(n2)])
    want = (x.astype(np.float64) * y).astype(np.float16).astype(np.float64).sum()
    np.testing.assert_allclose(out[0], want, rtol=1e-5, atol=1e-4)


def test_bf16x2_math(arch):
    n2 = 501
    r = rng(17)
    x = r.standard_normal(2 * n2).astype(np.float32)
    w, c = _bf16_rne(r.standard_normal(2 * n2)), _bf16_rne(r.standard_normal(2 * n2))
    out, packed = np.full(2 * n2, np.nan, np.float32), np.zeros(2 * n2, np.uint16)
    emulate(ptx("styles", arch), "bf2_fma_max", 3, 128, [x, w, c, out, packed, np.int32(n2)])
    xb = _bf16_rne(x.astype(np.float64))
    np.testing.assert_array_equal(packed, xb)
    v = _bf16_rne(_bf(xb) * _bf(w) + _bf(c))  # bf16 products are exact in float64: fma = one rounding
    np.testing.assert_array_equal(out.astype(np.float64), np.maximum(_bf(v), _bf(c)))


def test_packed_atomics(arch):
    # small integers: every partial sum is exact in half and bf16, so the order of the atomics is moot
    n2, bins = 501, 7
    r = rng(18)
    xh = r.integers(-8, 9, 2 * n2).astype(np.float16)
    xb = _bf16_rne(r.integers(-8, 9, 2 * n2).astype(np.float64))
    hb, bb = np.zeros(2 * bins, np.float16), np.zeros(2 * bins, np.uint16)
    emulate(ptx("styles", arch), "packed_atomics", 3, 128, [xh, xb, hb, bb, np.int32(bins), np.int32(n2)])
    i = np.arange(n2) % bins
    wh, wb = np.zeros((bins, 2)), np.zeros((bins, 2))
    np.add.at(wh, i, xh.reshape(-1, 2).astype(np.float64))
    np.add.at(wb, i, _bf(xb).reshape(-1, 2))
    np.testing.assert_array_equal(hb.astype(np.float64), wh.ravel())
    np.testing.assert_array_equal(_bf(bb), wb.ravel())


def test_constant_tables(arch):
    n = 1003
    r = rng(19)
    x, y = r.standard_normal(n).astype(np.float32), np.full(n, np.nan, np.float32)
    taps = r.standard_normal(9).astype(np.float32)
    emulate(ptx("styles", arch), "fir9", 3, 128, [x, y, np.int32(n)], symbols={"taps": taps})
    xp = np.concatenate([np.zeros(4), x, np.zeros(4)])
    np.testing.assert_allclose(y, sum(taps[k].astype(np.float64) * xp[k:k + n] for k in range(9)), rtol=1e-5,
                               atol=1e-5)
    words = r.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    which, v = r.integers(0, 100, n).astype(np.int32), (r.standard_normal(n) * 40).astype(np.float32)
    bits, rot, q = np.full(n, -1, np.int32), np.full(2 * n, np.nan, np.float32), np.full(n, -99, np.int32)
    stages = np.zeros(4, dtype=[("scale", "<f4"), ("bias", "<f4"), ("lo", "<i4"), ("hi", "<i4")])
    stages["scale"], stages["bias"] = [1, 0.5, -2, 3], [0, 1.5, 0.25, -7]
    stages["lo"], stages["hi"] = [-10, -100, -50, 0], [10, 100, 50, 255]
    emulate(ptx("styles", arch), "lookups", 3, 128, [words, which, bits, rot, q, v, np.int32(n)],
            symbols={"stages": stages})
    np.testing.assert_array_equal(bits, [bin(int(w)).count("1") for w in words])
    s = np.float32(0.70710677)
    circle = np.array([(1, 0), (s, s), (0, 1), (-s, s), (-1, 0), (-s, -s), (0, -1), (s, -s)], np.float64)
    u = circle[words & 7]
    np.testing.assert_allclose(rot[0::2], u[:, 0] * v - u[:, 1], rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(rot[1::2], u[:, 1] * v + u[:, 0], rtol=1e-6, atol=1e-5)
    a = stages[which & 3]
    np.testing.assert_array_equal(q, np.clip(np.rint(a["scale"].astype(np.float64) * v + a["bias"]), a["lo"], a["hi"]))


# ------------------------------------------------------------------------------ numerics.cu


def _bytes(x: int, signed: bool) -> list[int]:
    out = [(x >> (8 * k)) & 255 for k in range(4)]
    return [v - 256 if signed and v > 127 else v for v in out]


def test_int8_dot_products_and_byte_distances(arch):
    n = 700
    r = rng(11)
    a, b = (r.integers(-(2**31), 2**31, n).astype(np.int32) for _ in range(2))
    a[:3], b[:3] = [-1, 0x7F7F7F7F, -(2**31)], [-1, -0x7F7F7F80, -(2**31)]
    dot = np.full(2 * n, -7, np.int32)
    sad, near = np.zeros(n, np.uint32), np.zeros(n, np.uint32)
    emulate(ptx("numerics", arch), "int8_dots", 3, 128, [a, b, dot, sad, near, np.int32(n)])
    for i in range(n):
        x, y = int(a[i]) & 0xFFFFFFFF, int(b[i]) & 0xFFFFFFFF
        sx, sy, ux, uy = _bytes(x, True), _bytes(y, True), _bytes(x, False), _bytes(y, False)
        h = [(x >> 16 * k) & 0xFFFF for k in range(2)]
        h = [v - 65536 if v > 32767 else v for v in h]
        want_dot = (sum(p * q for p, q in zip(sx, sy)) + i) & 0xFFFFFFFF
        want_dp2 = (h[0] * sy[2] + h[1] * sy[3] - i) & 0xFFFFFFFF
        assert int(dot[2 * i]) & 0xFFFFFFFF == want_dot and int(dot[2 * i + 1]) & 0xFFFFFFFF == want_dp2, i
        assert int(sad[i]) == sum(abs(p - q) for p, q in zip(ux, uy))
        diff = sum(abs(p - q) << 8 * k for k, (p, q) in enumerate(zip(ux, uy)))
        mx = sum(max(p, q) << 8 * k for k, (p, q) in enumerate(zip(ux, uy)))
        assert int(near[i]) == diff | (mx & 0x80808080)


def test_kth_positive_lane_from_a_ballot(arch):
    blocks = 40
    x = rng(12).standard_normal(blocks * 32).astype(np.float32)
    for k in (1, 3, 17, -2):  # a negative k counts down from bit 0: only bit 0 itself can match
        owner = np.full(blocks, 123, np.int32)
        emulate(ptx("numerics", arch), "kth_positive", blocks, 32, [x, owner, np.int32(k)])
        for blk in range(blocks):
            lanes = np.flatnonzero(x[blk * 32:(blk + 1) * 32] > 0)
            if k > 0:
                want = int(lanes[k - 1]) if len(lanes) >= k else -1
            else:
                want = 0 if k == -1 and 0 in lanes else -1
            assert owner[blk] == want, (k, blk)


def test_rounding_mode_intrinsics(arch):
    n = 256
    r = rng(13)
    f = (r.standard_normal(2 * n) * 2.0 ** r.integers(-20, 20, 2 * n)).astype(np.float32)
    d = r.standard_normal(2 * n) * 2.0 ** r.integers(-30, 30, 2 * n)
    d[0::2][:40] = (np.float16(r.standard_normal(40)).astype(np.float64) * (1 + 2.0 ** -11 + 2.0 ** -40))
    ll = r.integers(-(2**62), 2**62, n) >> r.integers(0, 62, n)
    ll[:8] = [(1 << 53) + 1, -((1 << 60) + 3), (1 << 62) + (1 << 38) + 1, 2049, -2049, 65519, 65521, 0]
    of, od = np.full(6 * n, np.nan, np.float32), np.full(3 * n, np.nan)
    oh = np.full(4 * n, 0x7E01, np.uint16)
    emulate(ptx("numerics", arch), "rounding", 2, 128, [f, d, ll, of, od, oh, np.int32(n)])

    def half(raw, bf=False):
        return float((np.uint32(raw) << 16).view(np.float32)) if bf else float(np.uint16(raw).view(np.float16))
    for i in range(n):
        x, y = Fraction(float(f[2 * i])), Fraction(float(f[2 * i + 1]))
        p, q, w = Fraction(float(d[2 * i])), Fraction(float(d[2 * i + 1])), Fraction(int(ll[i]))
        tiny_x = Fraction(float(np.float32(f[2 * i] * np.float32(1e-30))))
        tiny_y = Fraction(float(np.float32(f[2 * i + 1] * np.float32(1e-20))))
        want_f = [round_exact(x + y, "f32", "rz"), round_exact(x * y + tiny_x, "f32", "rm"),
                  round_exact(1 / y, "f32", "rp"), round_exact(w, "f32", "rz"), round_exact(p, "f32", "rp"),
                  round_exact(x - tiny_y, "f32", "rp")]
        tiny_q = Fraction(float(d[2 * i + 1] * 1e-30))
        want_d = [round_exact(p + tiny_q, "f64", "rm"), round_exact(p / q, "f64", "rp"), round_exact(w, "f64", "rz")]
        want_h = [round_exact(p, "f16", "rn"), round_exact(x, "f16", "rz"), round_exact(q, "bf16", "rn"),
                  round_exact(w, "f16", "rm")]
        assert [float(v) for v in of[6 * i:6 * i + 6]] == want_f, i
        assert [float(v) for v in od[3 * i:3 * i + 3]] == want_d, i
        got_h = [half(oh[4 * i]), half(oh[4 * i + 1]), half(oh[4 * i + 2], True), half(oh[4 * i + 3])]
        assert got_h == want_h, i


def test_struct_parameters_with_a_pointer_member(arch):
    n, block = 300, 128
    r = rng(14)
    src = r.standard_normal(n).astype(np.float32)
    out = np.full(n, np.nan, np.float32)
    offsets = np.array([3, -2, 7], np.int16)
    params = {0: np.float32(1.5), 4: np.int32(n), 8: np.float64(0.25), 16: offsets[0], 18: offsets[1],
              20: offsets[2], 24: src}
    emulate(ptx("numerics", arch), "affine", 3, block, [params, {0: np.int8(-3), 4: np.float32(0.5)}, out],
            dynamic_shared=block * 4)
    i = np.arange(n)
    j = i // block * block + block - 1 - i % block
    tile = np.where(j < n, src[np.minimum(j, n - 1)], 0).astype(np.float64)
    want = tile * 1.5 + 0.25 + offsets[i % 3] - 1.5
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)  # fma contraction: one rounding fewer
    with pytest.raises(Exception, match="overlap"):
        emulate(ptx("numerics", arch), "affine", 1, 32, [{0: np.float64(1), 4: np.int32(1)}, b"\0" * 8, out])
    with pytest.raises(Exception, match="offset 30"):
        emulate(ptx("numerics", arch), "affine", 1, 32, [{30: np.int32(1)}, b"\0" * 8, out])
    with pytest.raises(Exception, match="numpy scalar"):
        emulate(ptx("numerics", arch), "affine", 1, 32, [{0: 1.5}, b"\0" * 8, out])


def test_grid_sync_outside_a_cooperative_launch_says_why(arch):
    x = np.ones(64, np.float32)
    with pytest.raises(EmulatorError) as e:
        emulate(ptx("numerics", arch), "grid_two_phase", 2, 32, [x, np.int32(64)])
    assert "trap executed" in e.value.message and "cooperative=True" in (e.value.hint or "")


@pytest.mark.parametrize("grid, block, n", [(2, 32, 64), (3, 96, 250), (5, 64, 1000), (1, 32, 31)])
def test_grid_sync_under_a_cooperative_launch(arch, grid, block, n):
    """cudaLaunchCooperativeKernel's semantics: every block resident, cg's grid barrier works — each
    thread reads, after g.sync(), what threads of other blocks wrote before it (grid-stride loops,
    ragged n); exact (a doubling and one f32 addition)."""
    r = rng(40 + n)
    x = r.standard_normal(n).astype(np.float32)
    y, out = np.full(n, np.nan, np.float32), np.full(n + 7, np.nan, np.float32)  # poisoned, 7 past the end
    emulate(ptx("numerics", arch), "grid_exchange", grid, block, [x, y, out, np.int32(n)], cooperative=True)
    y2 = x * np.float32(2)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(out[:n], y2[::-1] + np.roll(y2, -1))
    assert np.isnan(out[n:]).all()
    x2 = r.standard_normal(grid * block).astype(np.float32)
    z = x2.copy()
    emulate(ptx("numerics", arch), "grid_two_phase", grid, block, [z, np.int32(n)], cooperative=True)
    np.testing.assert_array_equal(z[:n], (x2[:n] + np.float32(1)) * np.float32(2))
    np.testing.assert_array_equal(z[n:], x2[n:])


def test_a_cooperative_launch_needs_every_block_at_once(arch, monkeypatch):
    from sass_lab.emulator import run

    monkeypatch.setattr(run, "MEMORY_BUDGET", 64 * 16)  # 64 blocks of one 16-byte shared window
    x = np.zeros(100 * 32, np.float32)
    with pytest.raises(EmulatorError, match="cooperative launch runs all 100 blocks at once"):
        emulate(ptx("numerics", arch), "grid_two_phase", 100, 32, [x, np.int32(10)], cooperative=True)


def test_vector_atomics_scatter_add(arch):
    n, buckets = 1000, 7
    r = rng(15)
    x = r.integers(-8, 9, n).astype(np.float32) * 0.25  # exact sums in any order
    bucket = r.integers(0, buckets, n).astype(np.int32)
    s2, s4 = np.zeros((buckets, 2), np.float32), np.zeros((buckets, 4), np.float32)
    emulate(ptx("numerics", arch), "scatter_add", 4, 256, [x, bucket, s2, s4, np.int32(n)])
    for b in range(buckets):
        v = x[bucket == b].astype(np.float64)
        np.testing.assert_array_equal(s2[b], [v.sum(), len(v)])
        np.testing.assert_array_equal(s4[b], [v.sum(), (v * v).sum(), -v.sum(), 2 * len(v)])
    if arch == "sm_90":
        assert "atom.global.add.v4.f32" in ptx("numerics", arch)


def test_wmma_f64_m8n8k4(arch):
    r = rng(16)
    for steps in (1, 5):
        k = 4 * steps
        a, b = r.standard_normal((8, k)), r.standard_normal((8, k))
        c = r.standard_normal((8, 8))
        out = c.copy()
        emulate(ptx("numerics", arch), "wmma_f64", 1, 32, [a, b, out, np.int32(steps)])
        np.testing.assert_allclose(out, c + a @ b.T, rtol=1e-13, atol=1e-13)


def test_atomic_ref_orders_and_a_16_bit_claim(arch):
    n = 200
    x, y = np.zeros(2, np.int32), np.zeros(2, np.uint64)
    slot, won = np.zeros(4, np.uint16), np.full(n, 77, np.uint32)
    emulate(ptx("numerics", arch), "atomic_refs", 2, 128, [x, y, slot, won, np.int32(n)])
    assert x[0] == n * (n - 1) // 2 and x[1] == (1 << 31) - 1
    assert list(y) == [127 * 3, 199 * 3]
    for s in range(4):  # one thread per slot wins; it saw 0, the others saw its value
        lanes = np.arange(s, n, 4)
        assert slot[s] in lanes + 1
        assert np.count_nonzero(won[lanes] == 0) == 1 and set(won[lanes]) <= {0, int(slot[s])}


# ------------------------------------------------------------------------------ every build decodes


REFUSED = {  # (build, kernel): what the decode-time refusal must name
    ("numerics.sm_90.G", "atomic_refs"): "indirect calls are not supported",
    **{(f"training.{b}", "device_heap"): "the device heap" for b in ("sm_80", "sm_90", "sm_80.fast", "sm_90.fast")},
    **{(f"wild.{b}", "tree_depth"): "recursion is not supported" for b in ("sm_80", "sm_90", "sm_90.G")},
    **{(f"wild.{b}", "virtual_area"): "indirect calls are not supported" for b in ("sm_80", "sm_90", "sm_90.G")},
    ("everyday.sm_90", "exchange128"): "of type .b128 is not supported",
    **{(f"textures.{b}", k): "textures and surfaces are not supported" for b in ("sm_80", "sm_90")
       for k in ("_Z14texture_gatheryPKiPfi", "_Z12surface_fillyii", "texture_resample", "texture_box_lod_grad",
                 "texture_volume_march", "texture_layers_cube_gather", "surface_stencil")},
    **{(f"tutorials.{b}", "_Z15thrust_seq_sortPKiPii"): "the device heap" for b in ("sm_80", "sm_90", "sm_90.G")},
    **{(f"tutorials_cdp.{b}", "_Z10cdp_parentPii"): r"dynamic parallelism \(a kernel launched from a kernel\)"
       for b in ("sm_80", "sm_90")},
    **{(f"tutorials_cdp.{b}", "_Z15cdp_runtime_apiPi"): r"the device runtime API \(cudaGetDevice in a kernel\)"
       for b in ("sm_80", "sm_90")},
}


def test_every_corpus_kernel_decodes_or_is_refused_for_its_reason():
    """Every kernel of every committed build (sm_80, sm_90, --use_fast_math, -G) decodes, so nothing nvcc
    emitted for the corpus is refused at run time; the planned refusals name their reason."""
    import re

    from sass_lab.emulator.program import program
    seen = 0
    for path in sorted(CORPUS.glob("*.ptx")):
        text = path.read_text()
        for k in re.findall(r"\.entry\s+(\w+)", text):
            seen += 1
            why = REFUSED.get((path.name[:-4], k))
            if why is None:
                program(text, k)
            else:
                with pytest.raises(EmulatorError, match=why):
                    program(text, k)
    assert seen > 150


@pytest.mark.gpu
def test_grid_sync_on_the_gpu_as_in_the_emulator():
    """The same cooperative launch of grid_exchange on the GPU (cuLaunchKernelEx, cooperative attribute)
    and on the emulator: bit-identical outputs."""
    import sass_lab as sl

    k = sl.assemble(ptx("numerics", "sm_90"), "sm_90")["grid_exchange"]
    n = 5000
    x = rng(47).standard_normal(n).astype(np.float32)
    outs = []
    for run in (k.emulate, k.launch):
        y, out = np.full(n, np.nan, np.float32), np.full(n, np.nan, np.float32)
        run(8, 128, x, y, out, np.int32(n), cooperative=True)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
