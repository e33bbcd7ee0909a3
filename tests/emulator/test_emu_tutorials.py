"""corpus/tutorials.cu (our own kernels in the idioms of CUDA tutorials, textbooks and blog posts) against
numpy, on sm_80, sm_90 and sm_90 -G: the SGEMM optimisation series, PMPP-style scans, merge, histogram,
3-D stencil, sparse and BFS kernels, "CUDA by Example" idioms, developer-blog snippets and course-style
image, layer-norm and attention kernels.

Integer and byte results are exact; float sums use quarter-valued inputs where their order is left open
(exact in every order) or are checked within a bound on their f32 roundings, cited at each check."""

from __future__ import annotations

import numpy as np
import pytest
from ptxkit import corpus_ptx
from ptxkit import run_mangled as run

from sass_lab.emulator import EmulatorCheckError
from sass_lab.errors import EmulatorError

BUILDS = ("sm_80", "sm_90", "sm_90.G")
U = 2.0 ** -24  # f32 unit roundoff
UMAX = np.uint32(0xFFFFFFFF)
WAVES = (32, 1000, 1 << 16)  # the conftest's wave sizes, for outputs that depend on the order of atomics


@pytest.fixture(params=BUILDS)
def build(request):
    return request.param


@pytest.fixture
def ptx(build):
    return corpus_ptx("tutorials", build)


def rng(seed):
    return np.random.default_rng(seed)


def quarters(r, shape, lo=-40, hi=41):
    return (r.integers(lo, hi, shape) * 0.25).astype(np.float32)


def blocks(n, b):
    return (n + b - 1) // b


# ===================================================================================== SGEMM series


def _gemm_inputs(M, N, K, seed):
    r = rng(seed)
    A = r.standard_normal((M, K)).astype(np.float32)
    B = r.standard_normal((K, N)).astype(np.float32)
    C = r.standard_normal((M, N)).astype(np.float32)
    return A, B, C


def _gemm_check(A, B, C0, C, alpha, beta):
    """|C - (alpha A B + beta C0)| <= (K + 3) u (|alpha| |A||B| + |beta| |C0|): a K-term dot product in any
    order and with any fma contraction has at most K roundings of partial sums, then the scale and the add."""
    K = A.shape[1]
    a64, b64, c64 = A.astype(np.float64), B.astype(np.float64), C0.astype(np.float64)
    want = alpha * (a64 @ b64) + beta * c64
    tol = (K + 3) * U * (abs(alpha) * (np.abs(a64) @ np.abs(b64)) + abs(beta) * np.abs(c64))
    assert np.isfinite(C).all()
    assert (np.abs(C - want) <= tol).all(), np.abs(C - want).max()


GEMM_ARGS = lambda M, N, K, alpha, A, B, beta, C: [np.int32(M), np.int32(N), np.int32(K), np.float32(alpha),  # noqa: E731
                                                   A, B, np.float32(beta), C]


@pytest.mark.parametrize("M, N, K", [(37, 29, 19), (8, 40, 5)])
def test_sgemm_naive_ragged(ptx, M, N, K):
    A, B, C0 = _gemm_inputs(M, N, K, M * N + K)
    C = C0.copy()
    run(ptx, "sgemm_naive", (blocks(M, 16), blocks(N, 8)), (16, 8), GEMM_ARGS(M, N, K, 1.5, A, B, -0.5, C))
    _gemm_check(A, B, C0, C, 1.5, -0.5)


@pytest.mark.parametrize("M, N, K", [(45, 33, 17), (32, 70, 9)])
def test_sgemm_coalesced_ragged(ptx, M, N, K):
    A, B, C0 = _gemm_inputs(M, N, K, M + N * K)
    C = C0.copy()
    run(ptx, "sgemm_coalesce", (blocks(M, 32), blocks(N, 32)), 32 * 32, GEMM_ARGS(M, N, K, 0.75, A, B, 2.0, C))
    _gemm_check(A, B, C0, C, 0.75, 2.0)


def test_sgemm_shared_memory_blocking(ptx):  # the style needs multiples of 32 (no guards)
    M, N, K = 64, 32, 96
    A, B, C0 = _gemm_inputs(M, N, K, 3)
    C = C0.copy()
    run(ptx, "sgemm_smem", (M // 32, N // 32), 1024, GEMM_ARGS(M, N, K, 1.0, A, B, 0.25, C))
    _gemm_check(A, B, C0, C, 1.0, 0.25)


def test_sgemm_1d_blocktiling(ptx):  # BM = BN = 64, BK = TM = 8: 512 threads, multiples only
    M, N, K = 128, 64, 24
    A, B, C0 = _gemm_inputs(M, N, K, 4)
    C = C0.copy()
    run(ptx, "sgemm_blocktile1d", (N // 64, M // 64), 512, GEMM_ARGS(M, N, K, -1.0, A, B, 1.0, C))
    _gemm_check(A, B, C0, C, -1.0, 1.0)


@pytest.mark.parametrize("M, N, K", [(64, 128, 16), (128, 64, 8)])
def test_sgemm_2d_blocktiling_float4_transposed_as(ptx, M, N, K):  # 64 threads, 8x8 results each
    A, B, C0 = _gemm_inputs(M, N, K, M + K)
    C = C0.copy()
    run(ptx, "sgemm_vec2d", (N // 64, M // 64), 64, GEMM_ARGS(M, N, K, 0.5, A, B, -1.0, C))
    _gemm_check(A, B, C0, C, 0.5, -1.0)


@pytest.mark.parametrize("M, N, K", [(33, 20, 41), (16, 16, 16), (5, 47, 3)])
def test_sgemm_double_buffered_ragged(ptx, M, N, K):
    A, B, C0 = _gemm_inputs(M, N, K, 7 * M + N + K)
    C = C0.copy()
    run(ptx, "sgemm_double_buffer", (blocks(N, 16), blocks(M, 16)), (16, 16), GEMM_ARGS(M, N, K, 1.25, A, B, 0.5, C))
    _gemm_check(A, B, C0, C, 1.25, 0.5)


def test_sgemm_unguarded_style_on_ragged_sizes_reads_out_of_bounds():
    """The cache-blocking kernel does not guard: on a ragged size it reads past A, and the emulator says so."""
    M, N, K = 40, 32, 32
    A, B, C0 = _gemm_inputs(M, N, K, 9)
    with pytest.raises(Exception, match="out-of-bounds global access: 4-byte load .* past the end"):
        run(corpus_ptx("tutorials", "sm_90"), "sgemm_smem", (2, 1), 1024, GEMM_ARGS(M, N, K, 1.0, A, B, 0.0, C0.copy()))


# ===================================================================================== scans


@pytest.mark.parametrize("n", [1000, 128, 77])
def test_kogge_stone_hierarchical_scan(ptx, n):
    x = quarters(rng(n), n)
    y = np.full(n, np.nan, np.float32)
    nb = blocks(n, 128)
    s = np.full(nb, np.nan, np.float32)
    run(ptx, "kogge_stone_scan", nb, 128, [x, y, s, np.uint32(n)])
    pad = np.zeros(nb * 128, np.float32)
    pad[:n] = x
    np.testing.assert_array_equal(s, pad.reshape(nb, 128).sum(1))  # quarters: every order is exact
    ss = np.full(nb, np.nan, np.float32)
    run(ptx, "kogge_stone_scan", 1, 128, [s, ss, np.uint64(0), np.uint32(nb)])  # S = nullptr
    run(ptx, "add_block_sums", nb, 128, [y, ss, np.uint32(n)])
    np.testing.assert_array_equal(y, np.cumsum(x.astype(np.float64)))


@pytest.mark.parametrize("n, block", [(1000, 64), (64, 32), (300, 128)])
def test_brent_kung_scan(ptx, n, block):
    x = rng(n).integers(-1000, 1000, n).astype(np.int32)
    y = np.full(n, 0x7F7F7F7F, np.int32)
    run(ptx, "brent_kung_scan", blocks(n, 2 * block), block, [x, y, np.uint32(n)], dynamic_shared=8 * block)
    sec = 2 * block
    want = np.concatenate([np.cumsum(x[i:i + sec]) for i in range(0, n, sec)])
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("n", [700, 256, 13])
def test_three_phase_coarsened_scan(ptx, n):
    x = quarters(rng(n + 5), n)
    y = np.full(n, np.nan, np.float32)
    run(ptx, "scan_three_phase", blocks(n, 256), 64, [x, y, np.uint32(n)])
    want = np.concatenate([np.cumsum(x[i:i + 256].astype(np.float64)) for i in range(0, n, 256)])
    np.testing.assert_array_equal(y, want)


# ===================================================================================== merge


@pytest.mark.parametrize("m, n, grid, block", [(300, 211, 2, 64), (0, 50, 1, 32), (97, 3, 3, 32)])
def test_merge_with_corank_search(ptx, m, n, grid, block):
    r = rng(m * 7 + n)
    A = np.sort(r.integers(0, 60, m)).astype(np.int32)
    B = np.sort(r.integers(0, 60, n)).astype(np.int32)
    C = np.full(m + n + 4, -7, np.int32)
    run(ptx, "merge_corank", grid, block, [A, np.int32(m), B, np.int32(n), C])
    np.testing.assert_array_equal(C[:m + n], np.sort(np.concatenate([A, B]), kind="stable"))
    assert (C[m + n:] == -7).all()


# ===================================================================================== histogram


@pytest.mark.parametrize("contiguous", [True, False])
@pytest.mark.parametrize("length, grid, block, cf", [(3000, 3, 64, 16), (100, 2, 32, 2)])
def test_privatized_coarsened_aggregated_histogram(ptx, contiguous, length, grid, block, cf):
    r = rng(length)
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz .,ABZ", np.uint8)
    data = alphabet[r.integers(0, len(alphabet), length)]
    data[:40] = ord("q")  # a long run: aggregated into one atomicAdd
    histo = np.full(7, 5, np.uint32)
    run(ptx, f"histo_aggregatedILb{int(contiguous)}E", grid, block,
        [data.view(np.int8), np.uint32(length), histo, np.uint32(cf)])
    if contiguous:  # threads cover grid * block * cf characters: the rest is not counted, as the code says
        data = data[:grid * block * cf]
    letters = data[(data >= ord("a")) & (data <= ord("z"))] - ord("a")
    np.testing.assert_array_equal(histo, 5 + np.bincount(letters // 4, minlength=7))


# ===================================================================================== 3-D stencil


@pytest.mark.parametrize("N", [14, 8])
def test_stencil3d_register_tiling_thread_coarsening(ptx, N):
    r = rng(N)
    x = r.standard_normal((N, N, N)).astype(np.float32)
    c = r.uniform(-1, 1, 7).astype(np.float32)
    out = np.full((N, N, N), np.nan, np.float32)
    g = blocks(N, 6)
    run(ptx, "stencil3d_coarse", (g, g, g), (8, 8, 1), [x, out, np.int32(N), *c])
    x64, c64 = x.astype(np.float64), c.astype(np.float64)
    s = np.s_[1:-1, 1:-1, 1:-1]
    terms = [x64[s], x64[1:-1, 1:-1, :-2], x64[1:-1, 1:-1, 2:], x64[1:-1, :-2, 1:-1], x64[1:-1, 2:, 1:-1],
             x64[:-2, 1:-1, 1:-1], x64[2:, 1:-1, 1:-1]]
    want = sum(ci * t for ci, t in zip(c64, terms, strict=True))
    mag = sum(abs(ci) * np.abs(t) for ci, t in zip(c64, terms, strict=True))
    assert (np.abs(out[s] - want) <= 8 * U * mag).all()  # 7 products and 6 adds (some fused): <= 7 roundings
    inner = np.zeros((N, N, N), bool)
    inner[s] = True
    assert np.isnan(out[~inner]).all()  # the boundary is never written


# ===================================================================================== sparse


def _sparse(rows, cols, seed, maxlen=9):
    r = rng(seed)
    lens = r.integers(0, maxlen, rows)
    lens[0] = maxlen  # one long row
    entries = [(i, int(j)) for i in range(rows) for j in np.sort(r.choice(cols, lens[i], replace=False))]
    ri = np.array([e[0] for e in entries], np.int32)
    ci = np.array([e[1] for e in entries], np.int32)
    val = quarters(r, len(entries), -20, 21)
    x = quarters(r, cols, -20, 21)
    dense = np.zeros((rows, cols))
    dense[ri, ci] = val
    return lens, ri, ci, val, x, dense @ x.astype(np.float64)  # multiples of 1/16 below 2^20: exact in f32


@pytest.mark.parametrize("rows, cols", [(70, 40), (5, 9)])
def test_spmv_coo_with_atomics(ptx, rows, cols):
    lens, ri, ci, val, x, want = _sparse(rows, cols, rows)
    perm = rng(1).permutation(len(ri))  # COO entries in no particular order
    y = np.zeros(rows, np.float32)
    run(ptx, "spmv_coo", blocks(len(ri), 64), 64, [ri[perm], ci[perm], val[perm], np.int32(len(ri)), x, y])
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("rows, cols", [(70, 40), (5, 9)])
def test_spmv_ell_column_major(ptx, rows, cols):
    lens, ri, ci, val, x, want = _sparse(rows, cols, rows + 1)
    width = lens.max()
    col = np.zeros((width, rows), np.int32)
    v = np.zeros((width, rows), np.float32)
    start = np.concatenate([[0], np.cumsum(lens)])
    for i in range(rows):
        col[:lens[i], i] = ci[start[i]:start[i + 1]]
        v[:lens[i], i] = val[start[i]:start[i + 1]]
    y = np.full(rows, np.nan, np.float32)
    run(ptx, "spmv_ell", blocks(rows, 32), 32, [col.ravel(), v.ravel(), lens.astype(np.int32), np.int32(rows), x, y])
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("rows, cols", [(70, 40), (5, 9)])
def test_spmv_jagged_diagonal(ptx, rows, cols):
    lens, ri, ci, val, x, want = _sparse(rows, cols, rows + 2)
    order = np.argsort(-lens, kind="stable")  # rows by decreasing length
    start = np.concatenate([[0], np.cumsum(lens)])
    width = int(lens.max())
    cols_j, vals_j, ptr = [], [], [0]
    for t in range(width):
        for rrow in order:
            if lens[rrow] > t:
                cols_j.append(ci[start[rrow] + t])
                vals_j.append(val[start[rrow] + t])
        ptr.append(len(cols_j))
    y = np.full(rows, np.nan, np.float32)
    run(ptx, "spmv_jds", blocks(rows, 32), 32, [np.array(cols_j, np.int32), np.array(vals_j, np.float32),
                                                  np.array(ptr, np.int32), np.int32(width), order.astype(np.int32),
                                                  np.int32(rows), x, y])
    np.testing.assert_array_equal(y, want)


# ===================================================================================== BFS


def _graph(nv, seed, hub=True):
    r = rng(seed)
    edges = {(int(a), int(b)) for a, b in r.integers(0, nv, (3 * nv, 2)) if a != b}
    if hub:
        edges |= {(0, int(b)) for b in range(1, nv, 2)}  # vertex 0 reaches half the graph at once
    src = np.array(sorted(edges), np.int32)
    ptrs = np.searchsorted(src[:, 0], np.arange(nv + 1)).astype(np.int32)
    return src[:, 0].copy(), src[:, 1].copy(), ptrs


def _levels(nv, src, dst, root):
    lvl = np.full(nv, 0xFFFFFFFF, np.uint32)
    lvl[root] = 0
    frontier = [root]
    while frontier:
        nxt = sorted({int(d) for s, d in zip(src, dst, strict=True) if s in set(frontier) and lvl[d] == 0xFFFFFFFF})
        for v in nxt:
            lvl[v] = lvl[frontier[0]] + 1
        frontier = nxt
    return lvl


def test_bfs_vertex_centric_push_is_a_benign_race():
    """The textbook push kernel writes level[] from several blocks (the same value each time): a data race
    by the memory model. With checks the emulator names it; without them the levels are right."""
    nv = 150
    src, dst, ptrs = _graph(nv, 5)
    ptx = corpus_ptx("tutorials", "sm_90")
    lvl = np.full(nv, UMAX, np.uint32)
    lvl[3] = 0
    with pytest.raises(EmulatorCheckError) as e:
        run(ptx, "bfs_vertex_push", blocks(nv, 32), 32, [ptrs, dst, np.int32(nv), lvl.copy(), np.zeros(1, np.uint32),
                                                         np.uint32(1)])
    assert {f.kind for f in e.value.findings} == {"race-global"}
    level = 1
    while True:
        flag = np.zeros(1, np.uint32)
        run(ptx, "bfs_vertex_push", blocks(nv, 32), 32, [ptrs, dst, np.int32(nv), lvl, flag, np.uint32(level)],
            check=False)
        if not flag[0]:
            break
        level += 1
    np.testing.assert_array_equal(lvl, _levels(nv, src, dst, 3))


@pytest.mark.parametrize("nv", [150, 40])
def test_bfs_edge_centric_atomic(ptx, nv):
    src, dst, _ = _graph(nv, nv)
    lvl = np.full(nv, UMAX, np.uint32)
    lvl[0] = 0
    level = 1
    while True:
        flag = np.zeros(1, np.uint32)
        run(ptx, "bfs_edge_atomic", blocks(len(src), 64), 64, [src, dst, np.int32(len(src)), lvl, flag,
                                                               np.uint32(level)])
        if not flag[0]:
            break
        level += 1
    np.testing.assert_array_equal(lvl, _levels(nv, src, dst, 0))


@pytest.mark.parametrize("nv, block, spills", [(200, 32, True), (60, 64, False)])
@pytest.mark.no_wave_audit  # the queue's order depends on the order of the atomics: run at each wave size
@pytest.mark.parametrize("wave", WAVES)
def test_bfs_frontier_with_shared_queue_overflow(ptx, nv, block, spills, wave):
    src, dst, ptrs = _graph(nv, nv + 1)
    want = _levels(nv, src, dst, 0)
    lvl = np.full(nv, UMAX, np.uint32)
    lvl[0] = 0
    prev, level, overflowed = np.array([0], np.uint32), 1, False
    while len(prev):
        curr = np.full(nv + 1, 0xEEEEEEEE, np.uint32)
        num = np.zeros(1, np.uint32)
        run(ptx, "bfs_frontier_queue", blocks(len(prev), block), block, [ptrs, dst, lvl, prev, curr,
                                                                         np.uint32(len(prev)), num, np.uint32(level)],
            wave_lanes=wave)
        got = curr[:num[0]]
        assert (curr[num[0]:] == 0xEEEEEEEE).all()
        assert sorted(got.tolist()) == np.flatnonzero(want == level).tolist()  # each new vertex once, any order
        overflowed |= len(got) > 32 and blocks(len(prev), block) == 1
        prev, level = got.copy(), level + 1
    np.testing.assert_array_equal(lvl, want)
    assert overflowed == spills  # the hub's level overflowed the 32-entry shared queue into the global one


# ===================================================================================== reductions


@pytest.mark.parametrize("n, block", [(1000, 128), (100, 64), (64, 32)])
def test_reduce_interleaved_and_first_add_atomic(ptx, n, block):
    x = quarters(rng(n), n)
    nb = blocks(n, block)
    part = np.full(nb, np.nan, np.float32)
    run(ptx, "reduce_interleaved", nb, block, [x, part, np.uint32(n)], dynamic_shared=4 * block)
    pad = np.zeros(nb * block, np.float32)
    pad[:n] = x
    np.testing.assert_array_equal(part, pad.reshape(nb, block).sum(1))
    total = np.array([0.5], np.float32)
    run(ptx, "reduce_first_add", blocks(n, 2 * block), block, [x, total, np.uint32(n)], dynamic_shared=4 * block)
    assert total[0] == 0.5 + x.astype(np.float64).sum()


# ===================================================================================== CUDA by Example


@pytest.mark.parametrize("n, grid", [(2000, 4), (33, 3)])
def test_dot_product_with_a_mutex_lock(ptx, n, grid):
    r = rng(n)
    a, b = quarters(r, n, -16, 17), quarters(r, n, -16, 17)
    mutex, c = np.zeros(1, np.int32), np.array([1.0], np.float32)
    run(ptx, "dot_lockI4LockE", grid, 128, [{0: mutex}, a, b, c, np.int32(n)])  # struct Lock { int *mutex; }
    assert c[0] == 1.0 + (a.astype(np.float64) * b).sum() and mutex[0] == 0


@pytest.mark.no_wave_audit  # the order in which blocks take the lock depends on the wave size: run at each
@pytest.mark.parametrize("wave", WAVES)
def test_dot_lock_handoff_is_no_race_at_any_wave(wave):
    """With __threadfence() after taking and before releasing the lock, the blocks' plain read-modify-write of
    *c is ordered (fence + atomicExch publish, atomicCAS + fence acquire): no race-global finding, whichever
    order the blocks take the lock in. (Was a false write/write finding.)"""
    a, b = quarters(rng(5), 600, -16, 17), quarters(rng(6), 600, -16, 17)
    c = np.zeros(1, np.float32)
    run(corpus_ptx("tutorials", "sm_90"), "dot_lockI4LockE", 5, 128, [{0: np.zeros(1, np.int32)}, a, b, c,
                                                                      np.int32(600)], wave_lanes=wave)
    assert c[0] == (a.astype(np.float64) * b).sum()


@pytest.mark.parametrize("wave", WAVES)
@pytest.mark.no_wave_audit
def test_dot_lock_without_fences_races(wave):
    """The book's lock as printed (no fences): relaxed atomics order nothing else, so the critical sections'
    plain accesses to *c race in the PTX memory model, at every wave size; the value is still the sum."""
    a, b = quarters(rng(5), 600, -16, 17), quarters(rng(6), 600, -16, 17)
    ptx = corpus_ptx("tutorials", "sm_90")
    args = lambda c: [{0: np.zeros(1, np.int32)}, a, b, c, np.int32(600)]  # noqa: E731
    with pytest.raises(EmulatorCheckError) as e:
        run(ptx, "dot_lockI11LockNoFenceE", 5, 128, args(np.zeros(1, np.float32)), wave_lanes=wave)
    assert {f.kind for f in e.value.findings} == {"race-global"}
    assert "race on global '_Z8dot_lockI11LockNoFenceEvT_PKfS3_Pfi_param_3' byte offset 0" in str(e.value)
    c = np.zeros(1, np.float32)
    run(ptx, "dot_lockI11LockNoFenceE", 5, 128, args(c), wave_lanes=wave, check=False)
    assert c[0] == (a.astype(np.float64) * b).sum()


def test_ripple_frame(ptx):
    dim, ticks = 37, 11
    img = np.full(dim * dim * 4, 7, np.uint8)
    run(ptx, "ripple", (blocks(dim, 16), blocks(dim, 16)), (16, 16), [img, np.int32(dim), np.int32(ticks)])
    y, x = np.mgrid[0:dim, 0:dim]
    d = np.sqrt(((x - dim // 2) ** 2 + (y - dim // 2) ** 2).astype(np.float64))
    v = 128.0 + 127.0 * np.cos(d / 10 - ticks / 7) / (d / 10 + 1)
    px = img.reshape(dim, dim, 4)
    assert (px[..., 3] == 255).all() and (px[..., 0] == px[..., 1]).all() and (px[..., 0] == px[..., 2]).all()
    # cosf within 2 ulp, a divide, a few f32 roundings: |error| < 1e-4 on values below 256, so the
    # truncation agrees except where the exact value is that close to an integer
    near = np.abs(v - np.round(v)) < 1e-4
    np.testing.assert_array_equal(px[..., 0][~near], np.floor(v[~near]).astype(np.uint8))
    assert (np.abs(px[..., 0][near].astype(int) - np.round(v[near])) <= 1).all()


def _julia_ref(dim, scale, cr, ci, fused):
    f = np.float32
    half = dim // 2
    xs, ys = np.meshgrid(np.arange(dim), np.arange(dim))
    r = (f(scale) * (half - xs).astype(f)) / f(half)
    i = (f(scale) * (half - ys).astype(f)) / f(half)
    out = np.full((dim, dim), 200, np.int64)
    live = np.ones((dim, dim), bool)
    for it in range(200):
        re = r * r - i * i
        if fused:  # fma(r, i, r*i): the exact product plus the rounded one, one rounding (exact in f64)
            im = (r.astype(np.float64) * i + (r * i)).astype(f)
        else:
            im = i * r + r * i
        r, i = re + f(cr), im + f(ci)
        hit = live & (r * r + i * i > f(1000))
        out[hit] = it
        live &= ~hit
    return out


def test_julia_set_with_a_complex_struct(ptx, build):
    dim = 8 if build == "sm_90.G" else 40  # one thread per block, as the book launches it: -G runs slowly
    img = np.full(dim * dim, 0xEE, np.uint8)
    with np.errstate(over="ignore", invalid="ignore"):
        run(ptx, "julia_kernel", (dim, dim), 1, [img, np.int32(dim), np.float32(1.5), np.float32(-0.8),
                                                 np.float32(0.156)])
        want = _julia_ref(dim, 1.5, -0.8, 0.156, fused=build != "sm_90.G")  # -G does not contract
    np.testing.assert_array_equal(img.reshape(dim, dim), want)
    assert len(np.unique(want)) > (5 if dim < 20 else 20)


# ===================================================================================== developer blog


def test_shared_memory_reverse_static_and_dynamic(ptx):
    d = rng(0).integers(-99, 99, 64).astype(np.int32)
    s, dd = d.copy(), d.copy()
    run(ptx, "static_reverse", 1, 64, [s, np.int32(64)])
    run(ptx, "dynamic_reverse", 1, 64, [dd, np.int32(64)], dynamic_shared=64 * 4)
    np.testing.assert_array_equal(s, d[::-1])
    np.testing.assert_array_equal(dd, d[::-1])


@pytest.mark.parametrize("N", [1003, 1000, 7])
def test_vectorized_copies_with_tail(ptx, N):
    x = rng(N).integers(-(1 << 31), 1 << 31, N).astype(np.int32)
    for name, width in (("copy_vec2", 2), ("copy_vec4", 4)):
        out = np.full(N, 0x55555555, np.int32)
        run(ptx, name, blocks(N // width + 1, 64), 64, [x, out, np.int32(N)])  # one thread past N / width
        np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("n, grid, block", [(4000, 3, 128), (4 * 37, 2, 64)])
def test_cg_thread_sum_int4_tile_reduce(ptx, n, grid, block):
    x = rng(n).integers(-1000, 1000, n).astype(np.int32)
    s = np.array([11], np.int32)
    run(ptx, "sum_tile_shfl", grid, block, [s, x, np.int32(n)])
    assert s[0] == 11 + x.sum()


@pytest.mark.parametrize("dtype, tag", [(np.float32, "f"), (np.float64, "d")])
def test_coalescing_offset_and_stride(ptx, dtype, tag):
    n, s = 256, 3
    a = rng(1).standard_normal(n * s + 8).astype(dtype)
    b = a.copy()
    run(ptx, f"offset_accessI{tag}E", 2, 64, [b, np.int32(s)])
    want = a.copy()
    want[s:s + 128] += 1
    np.testing.assert_array_equal(b, want)
    b = a.copy()
    run(ptx, f"stride_accessI{tag}E", 2, 64, [b, np.int32(s)])
    want = a.copy()
    want[0:128 * s:s] += 1
    np.testing.assert_array_equal(b, want)


@pytest.mark.parametrize("rows, cols", [(45, 70), (32, 32), (3, 100)])
def test_transpose_uchar4_tiles(ptx, rows, cols):
    x = rng(rows * cols).integers(0, 256, (rows, cols, 4)).astype(np.uint8)
    out = np.full((cols, rows, 4), 0xAB, np.uint8)
    run(ptx, "transpose_uchar4", (blocks(cols, 32), blocks(rows, 32)), (32, 8),
        [x.view(np.uint32).ravel(), out.view(np.uint32).ravel(), np.int32(rows), np.int32(cols)])
    np.testing.assert_array_equal(out, x.transpose(1, 0, 2))


# ===================================================================================== course style


@pytest.mark.parametrize("B, H, N, d, Bc", [(1, 2, 64, 16, 32), (1, 3, 32, 8, 16)])
def test_minimal_flash_attention(ptx, B, H, N, d, Bc):
    r = rng(N * d + H)
    Q, K, V = (r.standard_normal((B, H, N, d)).astype(np.float32) for _ in range(3))
    scale = np.float32(1 / np.sqrt(d))
    out = np.zeros((B, H, N, d), np.float32)
    lsum, m = np.zeros((B, H, N), np.float32), np.full((B, H, N), -np.inf, np.float32)
    Tc = Tr = N // Bc
    run(ptx, "flash_attn_min", (B, H), Bc, [Q, K, V, np.int32(N), np.int32(d), np.int32(Tc), np.int32(Tr),
                                            np.int32(Bc), np.int32(Bc), scale, lsum, m, out],
        dynamic_shared=4 * (3 * Bc * d + Bc * Bc))
    s = np.einsum("bhid,bhjd->bhij", Q.astype(np.float64), K.astype(np.float64)) * float(scale)
    p = np.exp(s - s.max(-1, keepdims=True))
    want = np.einsum("bhij,bhjd->bhid", p / p.sum(-1, keepdims=True), V.astype(np.float64))
    # Each score carries d roundings (|error| <= d u sum|q k| scale), which exp turns into a relative error;
    # expf (2 ulp), the sums over N and the rescalings add (N + 16) u relative: bound the error by max|V| times
    # that (the output is a convex combination of V's rows).
    qk = np.einsum("bhid,bhjd->bhij", np.abs(Q.astype(np.float64)), np.abs(K.astype(np.float64))).max() * float(scale)
    tol = np.abs(V).max() * (2 * (d + 2) * U * qk + (N + 16) * 2 * U) * 2
    assert np.abs(out - want).max() <= tol, (np.abs(out - want).max(), tol)
    assert (np.abs(m - s.max(-1)) <= (d + 2) * U * qk).all()  # the running max: the largest rounded score
    np.testing.assert_allclose(lsum * np.exp(m.astype(np.float64) - s.max(-1)), p.sum(-1), rtol=(N + 8) * 4 * U + 8 * d * U * qk)


@pytest.mark.parametrize("rows, cols, block", [(5, 300, 64), (3, 17, 32)])
def test_layernorm_one_block_per_row(ptx, rows, cols, block):
    r = rng(rows * cols)
    x = (r.standard_normal((rows, cols)) * 3 + 1).astype(np.float32)
    g, b = r.uniform(0.5, 1.5, cols).astype(np.float32), r.standard_normal(cols).astype(np.float32)
    y = np.full((rows, cols), np.nan, np.float32)
    run(ptx, "layernorm_rows", rows, block, [x, g, b, y, np.int32(cols), np.float32(1e-5)], dynamic_shared=4 * block)
    x64 = x.astype(np.float64)
    mu = x64.mean(1, keepdims=True)
    xhat = (x64 - mu) / np.sqrt(x64.var(1, keepdims=True) + 1e-5)
    want = xhat * g + b
    # the mean and the variance carry cols roundings each (relative to sum|x| and sum (x - mu)^2), rsqrtf
    # 2^-22.9 relative: |xhat| errs by ~ (cols + 8) u (|xhat| + sum|x| / (cols sigma))
    sig = np.sqrt(x64.var(1, keepdims=True))
    tol = (cols + 8) * 2 * U * (np.abs(xhat) + np.abs(x64).mean(1, keepdims=True) / sig + 1) * g + 2 * U * np.abs(b)
    assert (np.abs(y - want) <= tol).all(), np.abs(y - want).max()


@pytest.mark.parametrize("w, h", [(37, 21), (16, 16)])
def test_color_to_grayscale(ptx, w, h):
    rgb = rng(w * h).integers(0, 256, (h, w, 3)).astype(np.uint8)
    gray = np.full((h, w), 0xCD, np.uint8)
    run(ptx, "color_to_gray", (blocks(w, 16), blocks(h, 16)), (16, 16), [gray, rgb, np.int32(w), np.int32(h)])
    f = rgb.astype(np.float64)
    v = float(np.float32(0.21)) * f[..., 0] + float(np.float32(0.71)) * f[..., 1] + float(np.float32(0.07)) * f[..., 2]
    near = np.abs(v - np.round(v)) < 1e-4  # three f32 roundings below 256: < 1e-4 off the exact sum
    np.testing.assert_array_equal(gray[~near], np.floor(v[~near]).astype(np.uint8))
    assert (np.abs(gray[near].astype(int) - np.round(v[near])) <= 1).all()


@pytest.mark.parametrize("w, h", [(37, 21), (1, 5)])
def test_box_blur(ptx, w, h):
    img = rng(w + h).integers(0, 256, (h, w)).astype(np.uint8)
    out = np.full((h, w), 0xCD, np.uint8)
    run(ptx, "blur_box", (blocks(w, 16), blocks(h, 16)), (16, 16), [img, out, np.int32(w), np.int32(h)])
    p = np.pad(img.astype(np.int64), 1)
    cnt = np.pad(np.ones((h, w), np.int64), 1)
    s = sum(p[1 + a:1 + a + h, 1 + b:1 + b + w] for a in (-1, 0, 1) for b in (-1, 0, 1))
    c = sum(cnt[1 + a:1 + a + h, 1 + b:1 + b + w] for a in (-1, 0, 1) for b in (-1, 0, 1))
    np.testing.assert_array_equal(out, s // c)


@pytest.mark.parametrize("n, k, dim", [(500, 7, 3), (33, 2, 5)])
def test_kmeans_assignment_step(ptx, n, k, dim):
    r = rng(n * k)
    pts = r.integers(-20, 21, (n, dim)).astype(np.float32)  # small integers: distances exact, ties real
    cen = r.integers(-20, 21, (k, dim)).astype(np.float32)
    cen[-1] = cen[0]  # a duplicate centroid: exact ties, which the strict < gives to the first
    label = np.full(n, -1, np.int32)
    counts = np.zeros(k, np.int32)
    run(ptx, "kmeans_assign", blocks(n, 64), 64, [pts, cen, np.int32(n), np.int32(k), np.int32(dim), label, counts],
        dynamic_shared=4 * k * dim)
    dist = ((pts[:, None, :].astype(np.int64) - cen[None].astype(np.int64)) ** 2).sum(-1)
    want = dist.argmin(1)  # the first of equal distances, as the strict < keeps
    np.testing.assert_array_equal(label, want)
    np.testing.assert_array_equal(counts, np.bincount(want, minlength=k))


# ===================================================================================== second batch


def test_sgemm_warptiling(ptx):  # 64x64 block tile, four 32x32 warp tiles of 2 sub-tiles, 4x4 per thread
    M, N, K = 64, 128, 16
    A, B, C0 = _gemm_inputs(M, N, K, 11)
    C = C0.copy()
    run(ptx, "sgemm_warptile", (N // 64, M // 64), 128, GEMM_ARGS(M, N, K, 2.0, A, B, -0.5, C))
    _gemm_check(A, B, C0, C, 2.0, -0.5)


@pytest.mark.parametrize("n, block, bits", [(300, 64, 10), (64, 32, 6), (5, 32, 3)])
def test_radix_sort_local_scan_passes(ptx, n, block, bits):
    keys = rng(n).integers(0, 1 << bits, n).astype(np.uint32)
    nb = blocks(n, block)
    cur = keys.copy()
    for bit in range(bits):
        local = np.full(nb * block, 0xDEADBEEF, np.uint32)
        counts = np.full(2 * nb, 0xDEADBEEF, np.uint32)
        run(ptx, "radix_local", nb, block, [cur, local, counts, np.uint32(n), np.uint32(bit)], dynamic_shared=4 * block)
        b = (cur >> bit) & 1
        for k in range(nb):  # each block's keys split stably by the bit
            seg = cur[k * block:(k + 1) * block]
            sb = b[k * block:(k + 1) * block]
            np.testing.assert_array_equal(local[k * block:k * block + len(seg)], np.concatenate([seg[sb == 0],
                                                                                                 seg[sb == 1]]))
            assert (counts[k], counts[nb + k]) == ((sb == 0).sum(), (sb == 1).sum())
        offsets = (np.cumsum(counts) - counts).astype(np.uint32)  # the exclusive scan of the count table
        out = np.full(n, 0xDEADBEEF, np.uint32)
        run(ptx, "radix_scatter", nb, block, [local, out, offsets, counts, np.uint32(n), np.uint32(bit)])
        np.testing.assert_array_equal(out, np.concatenate([cur[b == 0], cur[b == 1]]))
        cur = out
    np.testing.assert_array_equal(cur, np.sort(keys))


def test_heat_transfer_without_textures(ptx):
    dim, steps, speed = 21, 6, np.float32(0.25)
    r = rng(dim)
    const = np.zeros((dim, dim), np.float32)
    const[r.integers(0, dim, 8), r.integers(0, dim, 8)] = r.uniform(0.5, 1, 8).astype(np.float32)
    a, b = r.uniform(0, 0.2, (dim, dim)).astype(np.float32), np.full((dim, dim), np.nan, np.float32)
    grid = (blocks(dim, 16), blocks(dim, 16))
    ref = a.astype(np.float64)
    for _ in range(steps):
        run(ptx, "heat_copy_const", grid, (16, 16), [a, const, np.int32(dim)])
        run(ptx, "heat_blend", grid, (16, 16), [b, a, np.int32(dim), speed])
        a, b = b, a
        ref = np.where(const != 0, const, ref)
        p = np.pad(ref, 1, mode="edge")  # a border cell's missing neighbour is itself
        ref = ref + float(speed) * (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * ref)
    # speed 1/4 keeps each step a convex combination (values stay in [0, 1]): each step adds at most
    # 8 roundings of magnitude <= 2, so |error| <= steps * 16 u
    assert np.abs(a - ref).max() <= steps * 16 * U


def _spheres(r, count, dim):
    s = np.zeros((count, 7), np.float32)  # r, b, g, radius, x, y, z (the struct's member order)
    s[:, :3] = r.uniform(0, 1, (count, 3))
    s[:, 3] = r.integers(3, dim // 3, count)
    s[:, 4:6] = r.integers(-dim // 2, dim // 2, (count, 2))
    s[:, 6] = r.integers(-dim // 2, dim // 2, count)
    return s


def test_ray_trace_spheres_in_constant_memory(ptx):
    dim = 40
    s = _spheres(rng(2), 12, dim)
    img = np.full(dim * dim * 4, 0x11, np.uint8)
    run(ptx, "ray_trace", (blocks(dim, 16), blocks(dim, 16)), (16, 16), [img, np.int32(dim)],
        symbols={"spheres": s.ravel()})
    f = np.float32
    y, x = np.mgrid[0:dim, 0:dim]
    ox, oy = (x - dim // 2).astype(f), (y - dim // 2).astype(f)
    col, maxz = np.zeros((dim, dim, 3), f), np.full((dim, dim), f(-2e10))
    for sp in s:  # integer centres and radii: the hit test, radius^2 - dx^2 - dy^2 and sqrtf(radius^2) are exact
        dx, dy = ox - sp[4], oy - sp[5]
        inside = dx * dx + dy * dy < sp[3] * sp[3]
        dz = np.sqrt(np.maximum(sp[3] * sp[3] - dx * dx - dy * dy, 0))
        t = np.where(inside, dz + sp[6], f(-2e10))
        take = t > maxz
        n = dz / np.sqrt(sp[3] * sp[3])
        col[take] = (sp[[0, 2, 1]][None, :] * n[take][:, None]).astype(f)
        maxz = np.where(take, t, maxz)
    want = (col * f(255)).astype(np.int32).astype(np.uint8)
    px = img.reshape(dim, dim, 4)
    np.testing.assert_array_equal(px[..., :3], want)
    assert (px[..., 3] == 255).all() and (want.sum(-1) > 0).mean() > 0.3


@pytest.mark.parametrize("rows, cols, block", [(4, 300, 64), (3, 7, 32)])
def test_softmax_one_block_per_row(ptx, rows, cols, block):
    x = (rng(cols).standard_normal((rows, cols)) * 4).astype(np.float32)
    y = np.full((rows, cols), np.nan, np.float32)
    run(ptx, "softmax_block_row", rows, block, [x, y, np.int32(cols)], dynamic_shared=4 * block)
    e = np.exp(x.astype(np.float64) - x.max(1, keepdims=True))  # the max is exact (a max of the inputs)
    want = e / e.sum(1, keepdims=True)
    # expf 2 ulp in each term and in the numerator, a sum of cols terms, one division: relative error
    # <= (cols + 6) u
    assert (np.abs(y - want) <= (cols + 6) * U * want).all()


def test_gelu_tanh_grid_stride(ptx):
    n = 1000
    x = np.concatenate([rng(3).standard_normal(n - 6) * 3, [0, -0.0, 10, -10, 1e-20, -40]]).astype(np.float32)
    y = np.full(n, np.nan, np.float32)
    run(ptx, "gelu_tanh", 3, 64, [x, y, np.int32(n)])  # 192 threads, several rounds each
    v = x.astype(np.float64)
    c, k = float(np.float32(0.7978845608)), float(np.float32(0.044715))
    inner = c * (v + k * v ** 3)
    want = 0.5 * v * (1 + np.tanh(inner))
    # tanhf within 2 ulp; the argument carries ~5 roundings, which move tanh by at most that much times
    # its slope (<= 1); then three roundings of the products
    tol = 0.5 * np.abs(v) * (2 * U + 6 * U * np.abs(inner) * (1 - np.tanh(inner) ** 2) + 8 * U) + 4 * U * np.abs(want)
    assert (np.abs(y - want) <= tol).all(), np.abs(y - want).max()


# ===================================================================================== third batch


def test_struct_of_weights_by_value_8kb(ptx):
    """An 8004-byte struct parameter (CUDA 12.1+ allows 32 KB): passed as its bytes, a float32 array whose
    last word is the int member."""
    m, taps = 100, 9
    r = rng(m)
    raw = np.zeros(2001, np.float32)
    raw[:2000] = quarters(r, 2000, -8, 9)
    raw.view(np.int32)[2000] = taps
    x = quarters(r, m, -8, 9)
    out = np.full(m, np.nan, np.float32)
    run(ptx, "big_param_fir", 2, 64, [raw, x, out, np.int32(m)])
    want = sum(raw[k].astype(np.float64) * np.roll(x, -k) for k in range(taps))  # multiples of 1/16: exact
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("w, h", [(37, 21), (12, 12), (5, 30)])
def test_conv2d_tiled_with_halo_cells(ptx, w, h):
    r = rng(w * h)
    img = r.standard_normal((h, w)).astype(np.float32)
    mask = r.standard_normal((5, 5)).astype(np.float32)
    out = np.full((h, w), np.nan, np.float32)
    run(ptx, "conv2d_tiled_halo", (blocks(w, 12), blocks(h, 12)), (16, 16), [img, out, np.int32(w), np.int32(h)],
        symbols={"F_c": mask.ravel()})
    p = np.pad(img.astype(np.float64), 2)
    terms = [mask[a, b] * p[a:a + h, b:b + w] for a in range(5) for b in range(5)]
    mag = sum(np.abs(t) for t in terms)
    assert (np.abs(out - sum(terms)) <= 26 * U * mag).all()  # 25 products summed (fused or not)


def test_clock64_busy_wait(ptx):
    done = np.zeros(3, np.int64)
    run(ptx, "clock_block", 3, 32, [done, np.int64(5000)])
    assert done.tolist() == [1, 1, 1]

# ===================================================================================== thrust::seq, dynamic parallelism


@pytest.mark.parametrize("n", [77, 8])
def test_thrust_seq_scan_reduce_count_in_a_kernel(ptx, n):
    x = rng(n).integers(-50, 50, n).astype(np.int32)
    out = np.full(n, -999, np.int32)
    nt = blocks(n, 8)
    stats = np.full(2 * nt + 2, -999, np.int32)
    run(ptx, "thrust_seq_scan", 1, 32, [x, out, stats, np.int32(n)])
    for t in range(nt):
        seg = x[t * 8:t * 8 + 8]
        np.testing.assert_array_equal(out[t * 8:t * 8 + 8], np.cumsum(seg))
        assert stats[2 * t:2 * t + 2].tolist() == [seg.max(), (seg < 0).sum()]
    assert (stats[2 * nt:] == -999).all()


def test_thrust_seq_sort_is_refused_for_the_device_heap(ptx):
    """thrust::sort(thrust::seq, ...) in a kernel is a merge sort with a temporary buffer from malloc: refused
    at decode time for the device heap, in the -G build too (there thrust's calls nest about 20 deep, which
    the inliner refused as "recursion")."""
    from sass_lab.emulator.program import program

    with pytest.raises(EmulatorError, match=r"'malloc' .*the device heap \(in-kernel malloc/new\) is not modelled"):
        program(ptx, "_Z15thrust_seq_sortPKiPii")


def test_calls_nested_too_deep_are_not_called_recursion():
    from sass_lab.emulator import inline
    from sass_lab.emulator.program import program

    ptx = corpus_ptx("tutorials", "sm_90.G")
    depth = inline.MAX_DEPTH
    try:
        inline.MAX_DEPTH = 4
        with pytest.raises(EmulatorError, match="calls nested more than 4 deep are not supported") as e:
            program(ptx, "_Z15thrust_seq_sortPKiPii")
        assert "recursion" not in str(e.value)
    finally:
        inline.MAX_DEPTH = depth


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_dynamic_parallelism_is_refused_with_its_reason(arch):
    """nvcc 12+ names the device runtime __cudaCDP2*: a kernel launch from a kernel and cudaGetDevice in a
    kernel are refused at decode time naming what they are (was "no .func with a body of that name")."""
    from sass_lab.emulator.program import program

    ptx = corpus_ptx("tutorials_cdp", arch)
    with pytest.raises(EmulatorError, match=r"'__cudaCDP2GetParameterBufferV2' .*: dynamic parallelism \(a kernel "
                                            r"launched from a kernel\) is not modelled by the emulator"):
        program(ptx, "_Z10cdp_parentPii")
    with pytest.raises(EmulatorError, match=r"'__cudaCDP2GetDevice' .*: the device runtime API \(cudaGetDevice in "
                                            r"a kernel\) is not modelled"):
        program(ptx, "_Z15cdp_runtime_apiPi")
    d = np.arange(64, dtype=np.int32)  # the child is an ordinary kernel: launched from the host it runs
    run(ptx, "cdp_child", 1, 32, [d, np.int32(16), np.int32(5)])
    np.testing.assert_array_equal(d, np.arange(64) + np.where((np.arange(64) >= 16) & (np.arange(64) < 48), 5, 0))
