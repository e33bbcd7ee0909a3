"""corpus/vendor2.cu (vendor-library and vendor-sample idioms, our own code) against numpy.

CUB's device-wide kernels (DeviceReduce::Sum, DeviceScan::InclusiveSum/ExclusiveSum with 8- and 16-byte
look-back status words, DeviceSelect::If) are launched the way CUB's host dispatch launches them: the same
init kernel, grid and parameter structs (GridEvenShare, ScanTileState, the streaming context), with the
tile sizes the policies compiled into the PTX (checked against the PTX's constant). cuRAND's MRG32k3a is
checked against the recurrence raised to the skip-ahead powers mod m (an independent path from the
library's tables), Sobol32 against the Gray-code construction. Integer results are exact; float sums use
values whose sums are exact in every order; the rest within a stated bound."""

from __future__ import annotations

import re
import statistics

import numpy as np
import pytest
from ptxkit import corpus_ptx

from sass_lab.emulator import EmulatorCheckError, emulate
from sass_lab.errors import EmulatorError

F32 = np.float32
M32 = 0xFFFFFFFF
WAVES = (32, 1000, 1 << 16)


@pytest.fixture(params=("sm_80", "sm_90"))
def arch(request):
    return request.param


def rng(seed):
    return np.random.default_rng(seed)


def entry(ptx: str, *parts: str) -> str:
    """The one ``.entry`` whose name contains every one of ``parts``."""
    (k,) = [k for k in re.findall(r"\.entry\s+(\w+)", ptx) if all(p in k for p in parts)]
    return k


def threads(ptx: str, kernel: str) -> int:
    """The kernel's ``.maxntid`` (CUB launches its block size: the policy's BLOCK_THREADS)."""
    start = ptx.index(f".entry {kernel}(")
    head = ptx[start:ptx.index("{", start)]
    return int(re.search(r"\.maxntid\s+(\d+)", head).group(1))


def tile_items(ptx: str, kernel: str) -> int:
    """BLOCK_THREADS × ITEMS_PER_THREAD of the policy: the first ``tile_idx * TILE_ITEMS`` in the kernel."""
    body = ptx[ptx.index(f".entry {kernel}("):]
    return int(re.search(r"mul\.lo\.s32\s+%r\d+, %r\d+, (\d+);", body).group(1))


# ------------------------------------------------------------------------------------ CUB device-wide
# tile sizes of the compiled policies: (arch, kernel) -> items per tile (asserted against the PTX below)
TILES = {("sm_80", "scan_i32"): 3840, ("sm_90", "scan_i32"): 3072, ("sm_80", "scan_i64"): 3168,
         ("sm_90", "scan_i64"): 2688, ("sm_80", "select"): 4608, ("sm_90", "select"): 6528}
REDUCE_TILE = 4096  # 256 threads × 16 items (shl 12 in both builds)


@pytest.mark.parametrize("n, max_grid", [(3 * 4096 + 1234, 3), (4096 * 5 - 7, 2), (700, 1)])
def test_cub_device_reduce_sum_two_pass(arch, n, max_grid):
    """DeviceReduceKernel over a GridEvenShare (filled as DispatchInit does), then the single-tile kernel over the
    partials; and the single-tile kernel straight on the input (the host's path for small n)."""
    ptx = corpus_ptx("vendor2", arch)
    x = rng(n).integers(-(1 << 20), 1 << 20, n).astype(np.int32)
    first = entry(ptx, "DeviceReduceKernel")
    assert threads(ptx, first) == 256 and "shl.b32" in ptx
    total_tiles = -(-n // REDUCE_TILE)
    grid = min(total_tiles, max_grid)
    avg = total_tiles // grid
    big = total_tiles - avg * grid
    even = {0: np.int32(total_tiles), 4: np.int32(big), 8: np.uint32(avg * REDUCE_TILE + REDUCE_TILE),
            12: np.uint32(avg * REDUCE_TILE), 16: np.uint32(big * REDUCE_TILE), 20: np.uint32(n),
            24: np.int32(grid), 28: np.uint32(n), 32: np.uint32(n), 36: np.uint32(0)}
    partials = np.full(grid + 1, -12345, np.int32)
    emulate(ptx, first, grid, 256, [x, partials, np.uint32(n), even, {}, {}])
    # AgentReduce maps tiles GRID_MAPPING_STRIP_MINE: block b takes tiles b, b + grid, b + 2·grid, …
    tiles = [x[t * REDUCE_TILE:(t + 1) * REDUCE_TILE].astype(np.int64).sum() for t in range(total_tiles)]
    want = [int(sum(tiles[b::grid])) for b in range(grid)]
    assert partials[:grid].tolist() == want and partials[grid] == -12345
    second = entry(ptx, "DeviceReduceSingleTileKernel", "EPiSC_iS9_")
    out = np.full(2, -777, np.int32)
    emulate(ptx, second, 1, threads(ptx, second), [partials, out, np.int32(grid), {}, np.int32(5), {}])
    assert out.tolist() == [np.int32(x.astype(np.int64).sum() + 5), -777]
    direct = entry(ptx, "DeviceReduceSingleTileKernel", "EPKiPij")
    out = np.full(2, -777, np.int32)
    emulate(ptx, direct, 1, threads(ptx, direct), [x, out, np.uint32(n), {}, np.int32(0), {}])
    assert out.tolist() == [np.int32(x.astype(np.int64).sum()), -777]


def _scan_state(num_tiles, word):
    return np.full((32 + num_tiles) * word, 0xAB, np.uint8)  # init kernel writes every slot the scan reads


@pytest.mark.parametrize("tiles, tail", [(3, 517), (1, 1), (2, 0)])
def test_cub_device_inclusive_sum_decoupled_lookback(arch, tiles, tail):
    """DeviceScanInitKernel then DeviceScanKernel over every tile: the 8-byte {status, value} words."""
    ptx = corpus_ptx("vendor2", arch)
    init = entry(ptx, "DeviceScanInitKernel", "ScanTileStateIiLb1")
    scan = entry(ptx, "DeviceScanKernel", "policy_hubIiiij")
    tile = TILES[(arch, "scan_i32")]
    assert tile_items(ptx, scan) == tile
    n = (tiles - 1) * tile + (tail or tile)
    x = rng(n + tiles).integers(-(1 << 16), 1 << 16, n).astype(np.int32)
    state = _scan_state(tiles, 8)
    emulate(ptx, init, -(-tiles // 128), 128, [{0: state}, np.int32(tiles)])
    out = np.full(n + 5, -99, np.int32)
    emulate(ptx, scan, tiles, threads(ptx, scan), [x, out, {0: state}, np.int32(0), {}, {}, np.uint32(n)])
    np.testing.assert_array_equal(out[:n], np.cumsum(x.astype(np.int64)).astype(np.int32))
    assert (out[n:] == -99).all()


@pytest.mark.parametrize("tiles, tail", [(3, 100), (2, 1)])
def test_cub_device_exclusive_sum_i64_with_sixteen_byte_status_words(arch, tiles, tail):
    """long long values: {status, value} is 16 bytes, loaded as one ``ld.relaxed.gpu.v2.u64``; the initial
    value comes through InputValue<long long> by value (bool tag, then the value at offset 8)."""
    ptx = corpus_ptx("vendor2", arch)
    init = entry(ptx, "DeviceScanInitKernel", "ScanTileStateIxLb1")
    scan = entry(ptx, "DeviceScanKernel", "policy_hubIxxxj")
    tile = TILES[(arch, "scan_i64")]
    assert tile_items(ptx, scan) == tile
    n = (tiles - 1) * tile + tail
    x = rng(n).integers(-(1 << 40), 1 << 40, n).astype(np.int64)
    state = _scan_state(tiles, 16)
    emulate(ptx, init, -(-tiles // 128), 128, [{0: state}, np.int32(tiles)])
    out = np.full(n + 3, -99, np.int64)
    init_value = {0: np.uint8(0), 8: np.int64(7 << 33)}
    emulate(ptx, scan, tiles, threads(ptx, scan), [x, out, {0: state}, np.int32(0), {}, init_value, np.uint32(n)])
    want = np.concatenate([[0], np.cumsum(x)[:-1]]) + (7 << 33)
    np.testing.assert_array_equal(out[:n], want)
    assert (out[n:] == -99).all()


@pytest.mark.parametrize("tiles, tail", [(2, 999), (1, 33)])
def test_cub_device_select_if(arch, tiles, tail):
    """DeviceCompactInitKernel then DeviceSelectSweepKernel (a single partition: first and last) with the
    functor by value; the selected items keep their order, the count lands in d_num_selected_out."""
    ptx = corpus_ptx("vendor2", arch)
    init = entry(ptx, "DeviceCompactInitKernel", "ScanTileStateIiLb1")
    sweep = entry(ptx, "DeviceSelectSweepKernel")
    tile = TILES[(arch, "select")]
    assert tile_items(ptx, sweep) == tile
    n = (tiles - 1) * tile + tail
    x = rng(n).integers(-1000, 1000, n).astype(np.int32)
    state = _scan_state(tiles, 8)
    count = np.full(1, -5, np.int32)
    emulate(ptx, init, -(-tiles // 128), 128, [{0: state}, np.int32(tiles), count])
    out = np.full(n + 2, -4242, np.int32)
    scratch = np.zeros(2, np.int64)
    ctx = {0: np.uint8(1), 1: np.uint8(1), 8: np.int64(n), 16: np.int64(0), 24: scratch, 32: scratch}
    emulate(ptx, sweep, tiles, threads(ptx, sweep),
            [x, np.uint64(0), out, count, {0: state}, {}, {}, np.int32(n), np.int32(tiles), ctx, {0: np.uint64(0)}])
    keep = x[(x & 1).astype(bool) & (x % 3 == 0)]
    assert count[0] == len(keep)
    np.testing.assert_array_equal(out[:len(keep)], keep)
    assert (out[len(keep):] == -4242).all()


RADIX = {"sm_80": 8064, "sm_90": 8832}  # onesweep tile: 384 threads × 21 (sm_80) or 23 (sm_90) keys


@pytest.mark.parametrize("n", [500, 4864])
def test_cub_radix_sort_pairs_single_tile(arch, n):
    """Up to one tile (256 × 19 keys) CUB sorts in DeviceRadixSortSingleTileKernel: stable, all 32 bits."""
    ptx = corpus_ptx("vendor2", arch)
    k = entry(ptx, "DeviceRadixSortSingleTileKernel")
    assert tile_items(ptx, k) == 19 and threads(ptx, k) == 256
    r = rng(n)
    keys = r.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    keys[: n // 4] = keys[n // 2: n // 2 + n // 4]  # duplicates: the values show stability
    vals = np.arange(n, dtype=np.int32)
    ko, vo = np.full(n + 1, 7, np.uint32), np.full(n + 1, -7, np.int32)
    emulate(ptx, k, 1, 256, [keys, ko, vals, vo, np.uint32(n), np.int32(0), np.int32(32), {}])
    order = np.argsort(keys, kind="stable")
    np.testing.assert_array_equal(ko[:n], keys[order])
    np.testing.assert_array_equal(vo[:n], vals[order])
    assert ko[n] == 7 and vo[n] == -7


@pytest.mark.parametrize("tiles, tail, bits", [(2, 1001, 32), (1, 17, 13)])
def test_cub_radix_sort_pairs_onesweep(arch, tiles, tail, bits):
    """Beyond one tile CUB's dispatch runs DeviceRadixSortHistogramKernel (every pass's digit counts at once,
    global atomics), DeviceRadixSortExclusiveSumKernel (one block per pass) and, per 8-bit pass,
    DeviceRadixSortOnesweepKernel (decoupled look-back over the digit counts of earlier tiles, one atomic
    tile counter per pass); buffers ping-pong between passes. A 13-bit sort orders by the low bits only."""
    ptx = corpus_ptx("vendor2", arch)
    histo, scan = entry(ptx, "DeviceRadixSortHistogramKernel"), entry(ptx, "DeviceRadixSortExclusiveSumKernel")
    sweep = entry(ptx, "DeviceRadixSortOnesweepKernel")
    tile = RADIX[arch]
    assert threads(ptx, sweep) == 384 and f", {tile};" in ptx
    n = (tiles - 1) * tile + tail
    r = rng(n + bits)
    keys = r.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    keys[::3] = keys[1::3][: len(keys[::3])] if n > 2 else keys[::3]
    vals = np.arange(n, dtype=np.int32)
    passes = -(-bits // 8)
    bins = np.zeros(passes * 256, np.uint32)
    emulate(ptx, histo, 3, threads(ptx, histo), [bins, keys, np.uint32(n), np.int32(0), np.int32(bits), {}])
    digits = [np.bincount((keys >> (8 * p)) & ((1 << min(8, bits - 8 * p)) - 1), minlength=256) for p in range(passes)]
    for p in range(passes):  # CUB counts a partial tile's padding keys (~0) too, in the top digit: harmless,
        digits[p][(1 << min(8, bits - 8 * p)) - 1] += -n % 2048  # the exclusive sums before it stay right
    np.testing.assert_array_equal(bins.reshape(passes, 256), digits)  # (tiles of 128 threads × 16 keys)
    emulate(ptx, scan, passes, 256, [bins])
    np.testing.assert_array_equal(bins.reshape(passes, 256), [np.cumsum(d) - d for d in digits])
    ctrs = np.zeros(passes, np.int32)
    cur_k, cur_v = keys.copy(), vals.copy()
    for p in range(passes):
        blocks = -(-n // tile)
        lookback = np.zeros(blocks * 256, np.int32)
        alt_k, alt_v = np.full(n, 0xEEEEEEEE, np.uint32), np.full(n, -3, np.int32)
        emulate(ptx, sweep, blocks, 384, [lookback, ctrs[p:], np.uint64(0), bins[256 * p:], alt_k, cur_k, alt_v,
                                          cur_v, np.int32(n), np.int32(8 * p), np.int32(min(8, bits - 8 * p)), {}])
        cur_k, cur_v = alt_k, alt_v
    order = np.argsort(keys & np.uint32((1 << bits) - 1 if bits < 32 else 0xFFFFFFFF), kind="stable")
    np.testing.assert_array_equal(cur_k, keys[order])
    np.testing.assert_array_equal(cur_v, vals[order])
    assert ctrs.tolist() == [-(-n // tile)] * passes  # each pass's blocks took their tile numbers atomically


@pytest.mark.parametrize("segments", [7, 1])
def test_cub_segmented_reduce_sum(arch, segments):
    """DeviceSegmentedReduceKernel: one block per segment between begin/end offsets (empty ones give init)."""
    ptx = corpus_ptx("vendor2", arch)
    k = entry(ptx, "DeviceSegmentedReduceKernel")
    r = rng(segments)
    sizes = r.integers(0, 3000, segments)
    sizes[0] = 0 if segments > 1 else 5000
    ends = np.cumsum(sizes).astype(np.int32)
    begins = (ends - sizes).astype(np.int32)
    x = r.integers(-(1 << 20), 1 << 20, int(ends[-1]) + 3).astype(np.int32)
    out = np.full(segments + 1, -1, np.int32)
    emulate(ptx, k, segments, threads(ptx, k), [x, out, begins, ends, {}, np.int32(11)])
    want = [int(x[b:e].astype(np.int64).sum()) + 11 for b, e in zip(begins, ends)]
    assert out.tolist() == [*want, -1]


@pytest.mark.parametrize("tiles, tail", [(4, 333), (1, 640)])
def test_cub_inclusive_scan_of_a_struct_three_array_tile_state(arch, tiles, tail):
    """A 12-byte {min, max, sum} value is not one machine word: ScanTileState<T, false> keeps a status word and
    separate partial/inclusive arrays, published with __threadfence (the look-back reads them after the
    status); 128 threads × 5 items per tile."""
    ptx = corpus_ptx("vendor2", arch)
    init = entry(ptx, "DeviceScanInitKernel", "MinMaxSum")
    scan = entry(ptx, "DeviceScanKernel", "MinMaxSum")
    assert tile_items(ptx, scan) == 640 and threads(ptx, scan) == 128
    n = (tiles - 1) * 640 + tail
    v = rng(n).integers(-(1 << 20), 1 << 20, n).astype(np.int32)
    x = np.stack([v, v, v], axis=1)
    slots = 32 + tiles
    state = {0: np.full(slots, 0xABABABAB, np.uint32), 8: np.full(3 * slots, -5, np.int32),
             16: np.full(3 * slots, -5, np.int32)}
    emulate(ptx, init, -(-tiles // 128), 128, [state, np.int32(tiles)])
    out = np.full((n + 1, 3), -9, np.int32)
    emulate(ptx, scan, tiles, 128, [x, out, state, np.int32(0), {}, {}, np.uint32(n)])
    np.testing.assert_array_equal(out[:n, 0], np.minimum.accumulate(v))
    np.testing.assert_array_equal(out[:n, 1], np.maximum.accumulate(v))
    np.testing.assert_array_equal(out[:n, 2], np.cumsum(v.astype(np.int64)).astype(np.int32))
    assert (out[n] == -9).all()


@pytest.mark.parametrize("tiles, tail", [(3, 77), (1, 1)])
def test_cub_reduce_by_key(arch, tiles, tail):
    """DeviceCompactInitKernel then DeviceReduceByKeyKernel: {run count, partial sum} pairs in 16-byte tile
    status words; runs cross tile boundaries; values are quarters, so every order sums exactly."""
    ptx = corpus_ptx("vendor2", arch)
    init = entry(ptx, "DeviceCompactInitKernel", "ReduceByKeyScanTileState")
    k = entry(ptx, "DeviceReduceByKeyKernel")
    tile = {"sm_80": 3840, "sm_90": 4608}[arch]
    assert tile_items(ptx, k) == tile and threads(ptx, k) == 256
    n = (tiles - 1) * tile + tail
    r = rng(n)
    keys = np.cumsum(r.random(n) < 0.02).astype(np.int32) * 3 - 7  # long runs, some across tiles
    vals = (r.integers(-40, 41, n) * 0.25).astype(F32)
    state = np.full((32 + tiles) * 16, 0xCD, np.uint8)
    runs = np.full(1, -1, np.int32)
    emulate(ptx, init, -(-tiles // 128), 128, [{0: state}, np.int32(tiles), runs])
    uniq, sums = np.full(n + 1, 12345, np.int32), np.full(n + 1, np.nan, F32)
    emulate(ptx, k, tiles, 256, [keys, uniq, vals, sums, runs, {0: state}, np.int32(0), {}, {}, np.uint32(n)])
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    want = np.add.reduceat(vals.astype(np.float64), starts)
    assert runs[0] == len(starts)
    np.testing.assert_array_equal(uniq[:len(starts)], keys[starts])
    np.testing.assert_array_equal(sums[:len(starts)], want)
    assert uniq[len(starts)] == 12345 and np.isnan(sums[len(starts)])


# ------------------------------------------------------------------------------------------ cuRAND

MRG_M1, MRG_M2 = 4294967087, 4294944443
A1 = [[0, 1, 0], [0, 0, 1], [(-810728) % MRG_M1, 1403580, 0]]
A2 = [[0, 1, 0], [0, 0, 1], [(-1370589) % MRG_M2, 0, 527612]]


def _matmul(a, b, m):
    return [[sum(a[i][k] * b[k][j] for k in range(3)) % m for j in range(3)] for i in range(3)]


def _matpow(a, e, m):
    r = [[int(i == j) for j in range(3)] for i in range(3)]
    while e:
        if e & 1:
            r = _matmul(r, a, m)
        a = _matmul(a, a, m)
        e >>= 1
    return r


def _apply(a, v, m):
    return [sum(a[i][k] * v[k] for k in range(3)) % m for i in range(3)]


class Mrg:
    """MRG32k3a from curand_init's seeding, skipped by matrix powers (subsequences are 2^76 draws)."""

    def __init__(self, seed, sub, offset):
        s1, s2 = [12345] * 3, [12345] * 3
        if seed:
            x1, x2 = (seed & M32) ^ 0x55555555, ((seed >> 32) ^ 0xAAAAAAAA) & M32
            s1 = [x1 * 12345 % MRG_M1, x2 * 12345 % MRG_M1, x1 * 12345 % MRG_M1]
            s2 = [x2 * 12345 % MRG_M2, x1 * 12345 % MRG_M2, x2 * 12345 % MRG_M2]
        e = (sub << 76) + offset
        self.s1, self.s2 = _apply(_matpow(A1, e, MRG_M1), s1, MRG_M1), _apply(_matpow(A2, e, MRG_M2), s2, MRG_M2)

    def next(self) -> int:  # the integer in [1, m1] curand_MRG32k3a returns (as a double)
        p1 = (1403580 * self.s1[1] - 810728 * self.s1[0]) % MRG_M1
        p2 = (527612 * self.s2[2] - 1370589 * self.s2[0]) % MRG_M2
        self.s1, self.s2 = self.s1[1:] + [p1], self.s2[1:] + [p2]
        return p1 - p2 + (MRG_M1 if p1 <= p2 else 0)

    def uniform(self) -> np.float32:
        return F32(self.next() * 2.3283065498378288e-10)


def _knuth(p0, us):
    k, p = 0, F32(p0)
    for u in us:
        k += 1
        p = F32(p * u)
        if not p > 1.0:
            return k - 1
    raise AssertionError("ran out of draws")


def test_curand_mrg32k3a_skipahead_lognormal_and_poisson(arch):
    n, seed, offset, lam = 40, 0x9E3779B97F4A7C15, 5, 3.5
    raw, u = np.zeros(2 * n + 1, np.uint32), np.full(n, np.nan)
    logn, pois = np.full(n, np.nan, F32), np.full(n, 0xFFFFFFFF, np.uint32)
    emulate(corpus_ptx("vendor2", arch), "mrg32k3a_draws", 2, 32,
            [np.uint64(seed), np.uint64(offset), raw, u, logn, pois, F32(lam), np.int32(n)])
    assert raw[2 * n] == 0
    for i in range(n):
        g = Mrg(seed, i, offset)
        assert raw[2 * i:2 * i + 2].tolist() == [int(g.next() * 1.000000048662) for _ in range(2)], i
        assert u[i] == g.next() * 2.3283065498378288e-10, i
        x, y = float(g.uniform()), float(F32(g.uniform() * F32(2 * np.pi)))
        want = np.exp(0.5 + 0.25 * np.sqrt(-2 * np.log(x)) * np.sin(y))
        assert abs(logn[i] - want) <= 4e-6 * want, (i, logn[i], want)  # __sincosf, logf, expf: < 2^-17.9
        draws = [g.uniform() for _ in range(64)]
        e = np.exp(F32(lam))
        ks = {_knuth(np.nextafter(e, k * np.inf, dtype=F32) if k else e, draws) for k in (-1, 0, 1)}
        assert pois[i] in ks, (i, pois[i], ks)  # expf within 2 ulp: either count where that decides


def _sobol_directions(dims, r):
    v = np.zeros((dims, 32), np.uint32)
    v[0] = [1 << (31 - k) for k in range(32)]  # dimension 0: van der Corput
    for d in range(1, dims):  # other dimensions: any odd-diagonal upper-triangular generator
        for k in range(32):
            v[d, k] = (int(r.integers(0, 1 << 31)) >> (k)) | (1 << (31 - k))
    return v


def test_curand_sobol32_gray_code_uniform_and_inverse_cnd(arch):
    dims, per, offset = 3, 70, 1000
    v = _sobol_directions(dims, rng(7))
    raw = np.zeros(dims * per, np.uint32)
    uni, nor = np.full(dims * per, np.nan, F32), np.full(dims * per, np.nan, F32)
    emulate(corpus_ptx("vendor2", arch), "sobol32_draws", (2, dims), 64,
            [v.ravel(), np.uint32(offset), raw, uni, nor, np.int32(dims), np.int32(per)])
    inv = F32(2.0 ** -32)
    for d in range(dims):
        for t in range(per):
            seq = []
            for i in (offset + t, offset + t + 1, offset + t + 2):
                g = i ^ (i >> 1)
                x = 0
                for k in range(32):
                    if g >> k & 1:
                        x ^= int(v[d, k])
                seq.append(x)
            j = d * per + t
            assert raw[j] == seq[0], (d, t)
            fu = F32(seq[1]) * inv
            assert uni[j] in (F32(fu + inv / 2), F32(float(F32(seq[1])) * float(inv) + float(inv) / 2)), (d, t)
            p = (float(F32(seq[2])) + 0.5) * 2.0 ** -32
            want = statistics.NormalDist().inv_cdf(p)
            assert abs(nor[j] - want) <= 2e-6 * max(1.0, abs(want)), (d, t, nor[j], want)


# ------------------------------------------------------------------------------- sorting, merging


@pytest.mark.parametrize("n, block", [(1000, 128), (256, 128), (77, 64)])
def test_oddeven_merge_sort_blocks(arch, n, block):
    r = rng(n)
    keys = r.integers(0, 500, n).astype(np.uint32)
    vals = np.arange(n, dtype=np.uint32)
    k, v = keys.copy(), vals.copy()
    L = 2 * block
    grid = -(-n // L)
    emulate(corpus_ptx("vendor2", arch), "oddeven_merge_sort", grid, block, [k, v, np.int32(n)],
            dynamic_shared=2 * L * 4)
    for b in range(grid):
        s = slice(b * L, min(n, b * L + L))
        np.testing.assert_array_equal(k[s], np.sort(keys[s]))
        assert sorted(zip(k[s].tolist(), v[s].tolist())) == sorted(zip(keys[s].tolist(), vals[s].tolist()))


@pytest.mark.parametrize("na, nb", [(300, 211), (1, 64), (0, 5)])
def test_merge_by_binary_search_ranks_is_stable(arch, na, nb):
    r = rng(na + nb)
    a, b = np.sort(r.integers(-50, 50, na)).astype(np.int32), np.sort(r.integers(-50, 50, nb)).astype(np.int32)
    out, src = np.full(na + nb + 1, 7777, np.int32), np.full(na + nb + 1, 7777, np.int32)
    emulate(corpus_ptx("vendor2", arch), "merge_by_rank", -(-(na + nb) // 96), 96,
            [a if na else np.zeros(1, np.int32), np.int32(na), b, np.int32(nb), out, src])
    keyed = sorted([(int(x), 0, i) for i, x in enumerate(a)] + [(int(x), 1, j) for j, x in enumerate(b)])
    assert out[:-1].tolist() == [k for k, _, _ in keyed] and out[-1] == 7777
    assert src[:-1].tolist() == [i if w == 0 else -1 - i for _, w, i in keyed]


# ---------------------------------------------------------------------------------------- histograms


@pytest.mark.parametrize("nwords, grid", [(5000, 2), (64 * 63 * 2 + 11, 2), (9, 1)])
def test_histogram64_packed_byte_counters(arch, nwords, grid):
    data = rng(nwords).integers(0, 1 << 32, nwords, dtype=np.uint64).astype(np.uint32)
    if nwords > 100:
        data[: nwords // 3] = 0x04040404 * 5  # a hot bin, so byte counters run close to their limit
    part = np.full(grid * 64, 0xDEADBEEF, np.uint32)
    emulate(corpus_ptx("vendor2", arch), "histogram64_packed", grid, 64, [data, np.int32(nwords), part])
    counted = np.zeros(nwords, bool)  # each thread counts at most 63 words
    stride = grid * 64
    for t in range(stride):
        counted[t:t + 63 * stride:stride] = True
    d = data[counted]
    want = sum(np.bincount((d >> s) & 63, minlength=64) for s in (2, 10, 18, 26))
    np.testing.assert_array_equal(part.reshape(grid, 64).sum(axis=0), want)


# ---------------------------------------------------------------------------------------- transforms


def _walsh(x):
    x = x.astype(np.float64).copy()
    h = 1
    while h < len(x):
        y = x.reshape(-1, 2, h)
        x = np.stack([y[:, 0] + y[:, 1], y[:, 0] - y[:, 1]], axis=1).reshape(-1)
        h *= 2
    return x


@pytest.mark.parametrize("log2n, vectors, block", [(9, 2, 64), (10, 1, 128), (3, 3, 32)])
def test_fast_walsh_transform_exact(arch, log2n, vectors, block):
    N = 1 << log2n
    x = rng(N).integers(-1000, 1000, (vectors, N)).astype(F32)
    y = x.copy()
    emulate(corpus_ptx("vendor2", arch), "fwt_shared", vectors, block, [y, np.int32(log2n)], dynamic_shared=N * 4)
    for v in range(vectors):  # integers below 2^24 at every stage: exact
        np.testing.assert_array_equal(y[v], _walsh(x[v]))


@pytest.mark.parametrize("log2n, signals", [(7, 2), (1, 1), (9, 1)])
def test_haar_wavelet_decomposition(arch, log2n, signals):
    N = 1 << log2n
    x = rng(N).standard_normal((signals, N)).astype(F32)
    c = np.full((signals, N), np.nan, F32)
    emulate(corpus_ptx("vendor2", arch), "haar_decompose", signals, N // 2, [x, c, np.int32(log2n)],
            dynamic_shared=N * 4)
    r = float(F32(0.70710678118654752))
    for s in range(signals):
        h, want, mag = x[s].astype(np.float64), np.zeros(N), np.zeros(N)
        m = np.abs(h)
        while len(h) > 1:
            a, d = (h[0::2] + h[1::2]) * r, (h[0::2] - h[1::2]) * r
            ma = (m[0::2] + m[1::2]) * r
            want[len(h) // 2:len(h)], mag[len(h) // 2:len(h)] = d, ma
            h, m = a, ma
        want[0], mag[0] = h[0], m[0]
        assert (np.abs(c[s] - want) <= 2 * (log2n + 1) * 2.0 ** -24 * mag).all()  # two roundings per level


# ------------------------------------------------------------------------------- separable convolution


def _conv1d(x, taps, axis):
    R = (len(taps) - 1) // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (R, R)
    xp = np.pad(x.astype(np.float64), pad)
    out, mag = np.zeros(x.shape), np.zeros(x.shape)
    for k in range(-R, R + 1):
        sl = np.take(xp, np.arange(R + k, R + k + x.shape[axis]), axis=axis)
        out += taps[R - k] * sl
        mag += abs(taps[R - k]) * np.abs(sl)
    return out, mag


@pytest.mark.parametrize("w, h", [(77, 13), (32, 4), (130, 37)])
def test_separable_convolution_rows_then_columns(arch, w, h):
    ptx = corpus_ptx("vendor2", arch)
    r = rng(w * h)
    img = r.standard_normal((h, w)).astype(F32)
    taps = r.standard_normal(9).astype(F32)
    mid, out = np.full((h, w), np.nan, F32), np.full((h, w), np.nan, F32)
    emulate(ptx, "conv_rows", (-(-w // 32), -(-h // 4)), (32, 4), [mid, img, np.int32(w), np.int32(h)],
            symbols={"c_taps": taps})
    want, mag = _conv1d(img, taps.astype(np.float64), 1)
    assert (np.abs(mid - want) <= 10 * 2.0 ** -24 * mag).all()  # 9 roundings of a running sum
    emulate(ptx, "conv_cols", (-(-w // 16), -(-h // 16)), (16, 16), [out, mid, np.int32(w), np.int32(h)],
            symbols={"c_taps": taps})
    want2, mag2 = _conv1d(mid, taps.astype(np.float64), 0)
    assert (np.abs(out - want2) <= 10 * 2.0 ** -24 * mag2).all()


# --------------------------------------------------------------------------------- finance, numerics


def test_binomial_options_double(arch):
    n, steps = 4, 200
    r = rng(4)
    S, X, T = r.uniform(5, 30, n), r.uniform(1, 100, n), r.uniform(0.25, 10, n)
    R, V = 0.06, 0.10
    call = np.full(n, np.nan)
    emulate(corpus_ptx("vendor2", arch), "binomial_options", n, 64,
            [S, X, T, np.float64(R), np.float64(V), np.int32(steps), call], dynamic_shared=(steps + 1) * 8)
    for o in range(n):
        dt = T[o] / steps
        vdt, rdt = V * np.sqrt(dt), R * dt
        u, d = np.exp(vdt), np.exp(-vdt)
        pu = (np.exp(rdt) - d) / (u - d)
        puDf, pdDf = pu * np.exp(-rdt), (1 - pu) * np.exp(-rdt)
        v = np.maximum(S[o] * np.exp(vdt * (2.0 * np.arange(steps + 1) - steps)) - X[o], 0)
        for k in range(steps, 0, -1):
            v = puDf * v[1:k + 1] + pdDf * v[:k]
        assert abs(call[o] - v[0]) <= 1e-12 * S[o], (o, call[o], v[0])  # a convex average: errors stay tiny


def test_inverse_cnd_quasirandom_grid(arch):
    n = 3001
    out = np.full(n + 1, np.nan, F32)
    emulate(corpus_ptx("vendor2", arch), "inverse_cnd_grid", 4, 128, [out, np.int32(n)])
    p = np.arange(1, n + 1, dtype=F32) / F32(n + 1)  # the kernel's float quotient (1 - p is exact in float)
    want = np.array([statistics.NormalDist().inv_cdf(float(q)) for q in p])
    # Moro is within 3e-9 in exact arithmetic; in float, the rational's and the nested logs' roundings
    assert (np.abs(out[:n] - want) <= 2e-6 * np.maximum(1, np.abs(want))).all()
    assert np.isnan(out[n])


@pytest.mark.parametrize("w, h", [(70, 40), (33, 1)])
def test_recursive_gaussian_iir_per_column(arch, w, h):
    x = rng(w).standard_normal((h, w)).astype(F32)
    coef = [F32(0.3), F32(0.2), F32(-0.7), F32(0.15)]  # poles inside the unit circle
    out = np.full((h, w), np.nan, F32)
    emulate(corpus_ptx("vendor2", arch), "recursive_filter_cols", -(-w // 64), 64,
            [x, out, np.int32(w), np.int32(h), *coef])
    a0, a1, b1, b2 = (float(c) for c in coef)
    X = x.astype(np.float64)
    y1, y2 = np.zeros((h, w)), np.zeros((h, w))
    xp, yp, yb = np.zeros(w), np.zeros(w), np.zeros(w)
    for yy in range(h):
        y1[yy] = a0 * X[yy] + a1 * xp - b1 * yp - b2 * yb
        xp, yb, yp = X[yy], yp, y1[yy]
    xn, xa, ya, yn = np.zeros(w), np.zeros(w), np.zeros(w), np.zeros(w)
    for yy in range(h - 1, -1, -1):
        y2[yy] = a0 * xn + a1 * xa - b1 * ya - b2 * yn
        xa, xn, yn, ya = xn, X[yy], ya, y2[yy]
    want = y1 + y2
    np.testing.assert_allclose(out, want, rtol=0, atol=2e-5 * np.abs(X).max())  # stable filter: gain < 20


def test_fdtd3d_register_queue_stencil(arch):
    nx, ny, nz = 45, 19, 11
    x = rng(nx).standard_normal((nz, ny, nx)).astype(F32)
    c = np.array([-2.5, 0.3, 0.05], F32)
    out = np.full((nz, ny, nx), -1.0, F32)
    emulate(corpus_ptx("vendor2", arch), "fdtd3d", (-(-nx // 32), -(-ny // 8)), (32, 8),
            [x, out, np.int32(nx), np.int32(ny), np.int32(nz)], symbols={"c_stencil": c})
    X = x.astype(np.float64)
    want = np.full(X.shape, -1.0)
    mag = np.zeros(X.shape)
    s = slice(2, -2)
    want[s, s, s] = c[0] * X[s, s, s]
    mag[s, s, s] = abs(c[0] * X[s, s, s])
    for k in (1, 2):
        nb = (X[2 + k:nz - 2 + k, s, s] + X[2 - k:nz - 2 - k, s, s] + X[s, 2 - k:ny - 2 - k, s] +
              X[s, 2 + k:ny - 2 + k, s] + X[s, s, 2 - k:nx - 2 - k] + X[s, s, 2 + k:nx - 2 + k])
        want[s, s, s] += c[k] * nb
        mag[s, s, s] += abs(c[k]) * (np.abs(X[2 + k:nz - 2 + k, s, s]) + np.abs(X[2 - k:nz - 2 - k, s, s]) +
                                     np.abs(X[s, 2 - k:ny - 2 - k, s]) + np.abs(X[s, 2 + k:ny - 2 + k, s]) +
                                     np.abs(X[s, s, 2 - k:nx - 2 - k]) + np.abs(X[s, s, 2 + k:nx - 2 + k]))
    assert (np.abs(out - want) <= 16 * 2.0 ** -24 * mag).all()


# ----------------------------------------------------------------------------- block compression


@pytest.mark.parametrize("w, h", [(37, 22), (4, 4), (64, 9)])
def test_dxt_like_block_compression_exact(arch, w, h):
    img = rng(w * h).integers(0, 256, (h, w)).astype(np.uint8)
    img[:4, :4] = 77  # a flat block: range 0
    bw, bh = (w + 3) // 4, (h + 3) // 4
    packed = np.full(2 * bw * bh + 2, 0xFFFFFFFF, np.uint32)
    emulate(corpus_ptx("vendor2", arch), "dxt_like_blocks", -(-bw * bh * 16 // 128), 128,
            [img.ravel(), np.int32(w), np.int32(h), packed])
    for by in range(bh):
        for bx in range(bw):
            ys = np.minimum(by * 4 + np.arange(4), h - 1)
            xs = np.minimum(bx * 4 + np.arange(4), w - 1)
            px = img[np.ix_(ys, xs)].astype(int).ravel()
            lo, hi = px.min(), px.max()
            rg = hi - lo
            idx = [0 if rg == 0 else (3 * (p - lo) + rg // 2) // rg for p in px]
            word = sum(i << (2 * k) for k, i in enumerate(idx))
            b = by * bw + bx
            assert packed[2 * b:2 * b + 2].tolist() == [lo | hi << 8, word], (bx, by)
    assert packed[-2:].tolist() == [M32, M32]


# ----------------------------------------------------------------------------------- reductions, CG


@pytest.mark.parametrize("vectors, length, grid, block", [(5, 1000, 3, 128), (2, 33, 2, 96), (1, 4096, 1, 256)])
def test_scalar_products_shuffle_down_tree(arch, vectors, length, grid, block):
    r = rng(length)
    a = (r.integers(-40, 41, (vectors, length)) * 0.25).astype(F32)
    b = (r.integers(-8, 9, (vectors, length)) * 0.5).astype(F32)
    out = np.full(vectors + 1, np.nan, F32)
    emulate(corpus_ptx("vendor2", arch), "scalar_prod", grid, block, [a, b, out, np.int32(vectors),
                                                                       np.int32(length)])
    np.testing.assert_array_equal(out[:vectors], (a.astype(np.float64) * b).sum(axis=1))  # exact in any order
    assert np.isnan(out[vectors])


@pytest.mark.no_wave_audit  # cooperative launch: one wave by definition; the dots' atomics order varies
def test_conjugate_gradient_with_grid_sync(arch):
    n, iters, grid, block = 300, 6, 3, 64
    b = rng(n).standard_normal(n)
    x, r, p = np.zeros(n), b.copy(), b.copy()
    Ap = np.full(n, np.nan)
    dots = np.zeros(1 + 3 * iters)
    emulate(corpus_ptx("vendor2", arch), "cg_solve_tridiag", grid, block,
            [x, r, p, Ap, dots, np.int32(n), np.int32(iters)], cooperative=True)
    A = 4 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    xr, rr, pr = np.zeros(n), b.copy(), b.copy()
    rs = rr @ rr
    for _ in range(iters):
        Apr = A @ pr
        al = rs / (pr @ Apr)
        xr, rr = xr + al * pr, rr - al * Apr
        rs, rs_old = rr @ rr, rs
        pr = rr + rs / rs_old * pr
    np.testing.assert_allclose(x, xr, rtol=0, atol=1e-12 * np.abs(xr).max())
    np.testing.assert_allclose(r, rr, rtol=0, atol=1e-12 * np.abs(b).max())
    assert abs(dots[0] - b @ b) <= 1e-12 * (b @ b)


def test_grid_sync_without_a_cooperative_launch_traps(arch):
    with pytest.raises(EmulatorError, match="trap executed") as e:
        emulate(corpus_ptx("vendor2", arch), "cg_solve_tridiag", 2, 32,
                [np.zeros(64), np.ones(64), np.ones(64), np.zeros(64), np.zeros(4), np.int32(64), np.int32(1)])
    assert "cooperative=True" in e.value.hint


def _relax(p, iters):
    for _ in range(iters):
        q = 0.5 * p
        q[1:] += 0.25 * p[:-1]
        q[:-1] += 0.25 * p[1:]
        p = q
    return p


@pytest.mark.parametrize("n, iters, grid", [(300, 3, 3), (128, 1, 2), (50, 2, 4)])
def test_grid_sync_orders_reads_before_later_writes_of_other_blocks(arch, n, iters, grid):
    """Block 0 reads p[64] (block 1's element) before a grid.sync() and block 1 writes it after: ordered by
    the barrier, no finding (was a false read/write race-global); the values match the sweeps exactly."""
    p0 = rng(n).integers(-64, 64, n) * 0.25
    p, q = p0.copy(), np.full(n, np.nan)
    emulate(corpus_ptx("vendor2", arch), "grid_relax", grid, 64, [p, q, np.int32(n), np.int32(iters), np.int32(1)],
            cooperative=True)
    np.testing.assert_array_equal(p, _relax(p0, iters))  # multiples of 2^-2k: exact in double


def test_grid_relax_without_the_middle_barrier_is_a_race(arch):
    n = 300
    p, q = np.ones(n), np.zeros(n)
    with pytest.raises(EmulatorCheckError) as e:
        emulate(corpus_ptx("vendor2", arch), "grid_relax", 3, 64, [p, q, np.int32(n), np.int32(2), np.int32(0)],
                cooperative=True)
    (f,) = e.value.findings
    assert f.kind == "race-global" and "read/write race on global 'grid_relax_param_0'" in f.message
    assert f.instruction.startswith("st.global.f64")


# -------------------------------------------------------------------------------------- cuda::barrier


@pytest.mark.parametrize("block, rounds, grid", [(128, 4, 2), (256, 3, 1), (96, 5, 1)])
def test_barrier_arrive_and_drop_rounds(arch, block, rounds, grid):
    x = rng(block).integers(-1000, 1000, grid * block).astype(np.int32)
    out = np.full(grid * block, -1, np.int32)
    emulate(corpus_ptx("vendor2", arch), "barrier_drop_rounds", grid, block, [x, out, np.int32(rounds)])
    for g in range(grid):
        buf = [x[g * block:(g + 1) * block].astype(np.int64).copy(), np.zeros(block, np.int64)]
        want = np.zeros(block, np.int64)
        alive = np.ones(block, bool)
        r = 0
        for r in range(rounds):
            cur = r & 1
            v = buf[cur] + np.roll(buf[cur], -1)
            nxt = buf[cur ^ 1]
            nxt[alive] = v[alive]
            done = alive & ((np.arange(block) >> 5) + 1 == r + 1)
            want[done] = v[done]
            alive &= ~done
        else:
            r = rounds
        want[alive] = buf[r & 1][alive]
        np.testing.assert_array_equal(out[g * block:(g + 1) * block], want.astype(np.int32))


# ------------------------------------------------------------------------------- wmma, sample style


@pytest.mark.parametrize("M, N, K", [(70, 45, 40), (32, 32, 32), (5, 33, 7)])
def test_wmma_gemm_skewed_shared_tiles_alpha_beta(arch, M, N, K):
    r = rng(M * N + K)
    A = r.uniform(-1, 1, (M, K)).astype(np.float16)
    B = r.uniform(-1, 1, (K, N)).astype(np.float16)
    C0 = r.standard_normal((M, N)).astype(F32)
    C = C0.copy()
    alpha, beta = F32(1.5), F32(-0.75)
    emulate(corpus_ptx("vendor2", arch), "wmma_gemm_skewed", (-(-N // 32), -(-M // 32)), 128,
            [A, B, C, np.int32(M), np.int32(N), np.int32(K), alpha, beta])
    a, b = A.astype(np.float64), B.astype(np.float64)
    want = 1.5 * (a @ b) - 0.75 * C0
    mag = 1.5 * (np.abs(a) @ np.abs(b)) + 0.75 * np.abs(C0)
    # half products are exact in f32; the f32 accumulation order is the hardware's: a rounding per k-step
    assert (np.abs(C - want) <= (K + 3) * 2.0 ** -24 * mag).all()


@pytest.mark.parametrize("M, N, K", [(16, 24, 12), (8, 8, 4)])
def test_dmma_f64_m8n8k4_accumulates_into_c(arch, M, N, K):
    r = rng(M + N + K)
    A = r.standard_normal((M, K))
    Bc = r.standard_normal((N, K))  # B column-major: column n is Bc[n]
    C0 = r.standard_normal((M, N))
    C = C0.copy()
    warps = (M // 8) * (N // 8)
    emulate(corpus_ptx("vendor2", arch), "dmma_gemm_f64", -(-warps * 32 // 64), 64,
            [A, Bc, C, np.int32(M), np.int32(N), np.int32(K)])
    want = C0 + A @ Bc.T
    mag = np.abs(C0) + np.abs(A) @ np.abs(Bc.T)
    assert (np.abs(C - want) <= (K + 1) * 2.0 ** -53 * mag).all()  # DMMA: fma chain, one rounding per k


def test_wmma_bf16_m32n8k16_col_and_row_major(arch):
    warps, K = 2, 48
    r = rng(K)
    a = (r.integers(-64, 64, (warps, K, 32)) / 16).astype(F32)  # column-major A: a[w, k] is column k
    b = (r.integers(-64, 64, (warps, K, 8)) / 16).astype(F32)
    bf = lambda x: (x.view(np.uint32) >> 16).astype(np.uint16)  # noqa: E731  (exact: 7-bit values)
    C = np.full((warps, 8, 32), np.nan, F32)  # column-major C: C[w, n] is column n
    emulate(corpus_ptx("vendor2", arch), "wmma_bf16_m32n8k16", 1, 32 * warps, [bf(a), bf(b), C, np.int32(K)])
    for w in range(warps):  # products of 4-bit-fraction values, sums below 2^24 / 256: exact in f32
        want = a[w].astype(np.float64).T @ b[w].astype(np.float64) - 1
        np.testing.assert_array_equal(C[w].T, want)


# ------------------------------------------------------------------------- publication between blocks


def _publish(arch, mode, check=True):
    data, flag, out = np.zeros(32, np.int32), np.zeros(1, np.int32), np.full(32, 99, np.int32)
    rep = emulate(corpus_ptx("vendor2", arch), "publish_then_fence", 2, 32, [data, flag, out, np.int32(mode)],
                  check=check)
    return rep, out


def test_a_writer_fencing_again_after_publishing_is_no_race(arch):
    """Block 0's first fence after its stores published them; its later fences (a look-back's spin) do not
    unorder block 1's read after acquiring. Block 1's thread 0 spins below the PC block 0 runs at while
    its other threads wait at __syncthreads(): the yield lets block 0 (a whole block) pass its own barrier
    (was a livelock: a yielded-to group always stopped before a block barrier)."""
    rep, out = _publish(arch, 1)
    assert rep.findings == () and out.tolist() == list(range(1, 33))


def test_a_store_after_publishing_without_a_fence_is_a_race(arch):
    """Data stored again after the writer's fence is not published by that fence (was missed: any earlier
    fence of the writer counted)."""
    with pytest.raises(EmulatorCheckError) as e:
        _publish(arch, 2)
    (f,) = e.value.findings
    assert f.kind == "race-global" and "publish_then_fence_param_0" in f.message and "block (1, 0, 0) reads it" in f.message
