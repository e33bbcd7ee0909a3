"""corpus/wild.cu (our own kernels where third-party code goes and the rest of the corpus does not) against
numpy: cooperative-groups tiles in debug builds and wider than a warp, shuffles in partial warps, vector and
half-precision atomics, __reduce_*_sync / __match_all_sync, 128-bit __ldg loads and a struct by value,
dynamically indexed local arrays, a switch, 64/128-bit integer arithmetic, __nanosleep, cub warp and block
primitives, sm_90 clusters with distributed shared memory; recursion and virtual calls are refused with
their reason. Integer results are exact; float sums use values whose sums are exact in every order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ptxkit import kernel

from sass_lab.emulator import emulate
from sass_lab.errors import EmulatorError

CORPUS = Path(__file__).parent / "corpus"
BUILDS = ("sm_80", "sm_90", "sm_90.G")


def _ptx(build: str) -> str:
    return (CORPUS / f"wild.{build}.ptx").read_text()


@pytest.fixture(params=BUILDS)
def ptx(request):
    return _ptx(request.param)


@pytest.fixture(params=BUILDS[:2])
def ptx_o3(request):  # the optimised builds only
    return _ptx(request.param)


def rng(seed):
    return np.random.default_rng(seed)


def _padded(x, total, fill=0):
    out = np.full(total, fill, x.dtype)
    out[:len(x)] = x
    return out


# ------------------------------------------------------------------------------ cooperative-groups tiles


@pytest.mark.parametrize("tile, n, grid, block", [(8, 200, 3, 96), (4, 61, 1, 64), (32, 128, 2, 64)])
def test_tile_ranks_dynamic_and_static_tiles(ptx, tile, n, grid, block):
    """-G builds read %reserved_smem_offset_1 (cg's scratch pointer) in every thread_block: it must run."""
    x = rng(n).integers(-1000, 1000, n).astype(np.int32)
    rank, sum16 = np.full(n, -7, np.int32), np.full(n, -7, np.int32)
    emulate(ptx, "tile_ranks", grid=grid, block=block, args=[x, rank, sum16, np.int32(tile), np.int32(n)])
    i = np.arange(n)
    np.testing.assert_array_equal(rank, (i % block) % tile + 100 * tile)
    xs = _padded(x, grid * block).reshape(-1, 16).sum(axis=1, dtype=np.int64).astype(np.int32)
    np.testing.assert_array_equal(sum16, xs[i // 16])


@pytest.mark.parametrize("n, grid, block", [(300, 3, 128), (64, 1, 64)])
def test_tile64_values_exact_without_checks_and_refused_with_them(ptx_o3, n, grid, block):
    """The optimised builds: the -G build's spin loop cannot be scheduled (the last test of this file)."""
    x = rng(n).integers(-1000, 1000, n).astype(np.int32)
    s, m = np.full(n, -7, np.int32), np.full(n, -7, np.int32)
    emulate(ptx_o3, "tile64_sum", grid=grid, block=block, args=[x, s, m, np.int32(n)], check=False)
    xp = _padded(x, grid * block).reshape(-1, 64)
    i = np.arange(n)
    np.testing.assert_array_equal(s, xp.sum(axis=1)[i // 64])
    np.testing.assert_array_equal(m, xp.max(axis=1)[i // 64])
    with pytest.raises(EmulatorError, match=r"cooperative groups' scratch in reserved shared memory "
                                            r"\(%reserved_smem_offset_1\).*race checker does not model"):
        emulate(ptx_o3, "tile64_sum", grid=grid, block=block, args=[x, s, m, np.int32(n)])


def test_per_index_reserved_offsets_other_than_cgs_are_refused_with_the_reason():
    ptx = _ptx("sm_90").replace("%reserved_smem_offset_1", "%reserved_smem_offset_0")
    with pytest.raises(EmulatorError, match=r"'%reserved_smem_offset_0' is not modelled") as e:
        emulate(ptx, "tile64_sum", grid=1, block=64, args=[np.zeros(64, np.int32)] * 3 + [np.int32(64)])
    assert "what the other per-index offsets of the system's reserved region hold is not documented" in e.value.hint


# ------------------------------------------------------------------------------ partial warps


def _warp_sums(x, grid, block):
    w = (block + 31) // 32
    xp = _padded(x, grid * block).astype(np.float64).reshape(grid, block)
    return np.array([xp[b, 32 * k:32 * k + 32].sum() for b in range(grid) for k in range(w)], np.float32)


@pytest.mark.parametrize("n, grid, block", [(250, 3, 96), (100, 2, 64)])
def test_full_mask_shuffle_reduction_in_whole_warps(ptx, n, grid, block):
    x = (rng(n).integers(-40, 41, n) * 0.25).astype(np.float32)
    out = np.full(grid * block // 32, np.nan, np.float32)
    emulate(ptx, "warp_sum_full_mask", grid=grid, block=block, args=[x, out, np.int32(n)])
    np.testing.assert_array_equal(out, _warp_sums(x, grid, block))


@pytest.mark.parametrize("block", [48, 100])
def test_full_mask_shuffle_from_a_missing_lane_is_a_finding(ptx, block):
    n, grid = 2 * block, 2
    x = np.ones(n, np.float32)
    out = np.zeros(grid * ((block + 31) // 32), np.float32)
    rep = emulate(ptx, "warp_sum_full_mask", grid=grid, block=block, args=[x, out, np.int32(n)], check=False)
    kinds = {f.kind for f in rep.findings}
    assert kinds == {"shfl-source"}, rep.findings
    f = rep.findings[0]
    last = block % 32
    assert f.block == (0, 0, 0) and f.thread[0] == block - last  # lane 0 of the partial warp reads lane 16
    assert f"reads lane 16 of its warp, which does not exist (a block of {block} threads" in f.message
    assert "undefined" in f.message and "shfl.sync" in f.instruction


@pytest.mark.parametrize("n, grid, block", [(130, 3, 48), (77, 1, 100), (64, 2, 64)])
def test_ballot_mask_reduction_in_partial_warps_is_clean(ptx, n, grid, block):
    x = (rng(n).integers(-40, 41, n) * 0.25).astype(np.float32)
    out = np.full(grid * ((block + 31) // 32), np.nan, np.float32)
    emulate(ptx, "warp_sum_ballot_mask", grid=grid, block=block, args=[x, out, np.int32(n)])
    np.testing.assert_array_equal(out, _warp_sums(x, grid, block))


@pytest.mark.parametrize("n, grid, block", [(140, 3, 48), (16, 1, 16)])
def test_half_warp_butterflies_in_partial_warps_are_clean(ptx, n, grid, block):
    x = rng(n).integers(-99, 100, n).astype(np.int32)
    out = np.full(n, -7, np.int32)
    emulate(ptx, "half_warp_xor", grid=grid, block=block, args=[x, out, np.int32(n)])
    ref = _padded(x, grid * block).reshape(-1, 16).max(axis=1)
    np.testing.assert_array_equal(out, ref[np.arange(n) // 16])


# ------------------------------------------------------------------------------ atomics


@pytest.mark.parametrize("n, grid, block, bins", [(600, 2, 128, 7), (90, 1, 64, 3)])
def test_vector_and_half_atomics(ptx, n, grid, block, bins):
    x = (rng(n).integers(-2, 3, n) * 0.5).astype(np.float32)  # sums exact in f32, f16 and bf16, any order
    acc2, acc4 = np.zeros((bins, 2), np.float32), np.zeros((bins, 4), np.float32)
    h, b = np.zeros(bins, np.float16), np.zeros(bins, np.uint16)
    emulate(ptx, "vector_atomics", grid=grid, block=block, args=[x, acc2, acc4, h, b, np.int32(n), np.int32(bins)])
    s = np.bincount(np.arange(n) % bins, weights=x.astype(np.float64), minlength=bins)
    c = np.bincount(np.arange(n) % bins, minlength=bins).astype(np.float64)
    np.testing.assert_array_equal(acc2, np.stack([s, 2 * s], 1).astype(np.float32))
    np.testing.assert_array_equal(acc4, np.stack([s, -s, 0.5 * s, c], 1).astype(np.float32))
    np.testing.assert_array_equal(h, s.astype(np.float16))
    bf = (b.astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(bf, s.astype(np.float32))


# ------------------------------------------------------------------------------ warp intrinsics


@pytest.mark.parametrize("n, grid, block", [(200, 2, 128), (45, 1, 64)])
def test_reduce_sync_and_match_all(ptx, n, grid, block):
    r = rng(n)
    x = r.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    same = (np.arange(n) // 32) % 2 == 0  # even warps: one key (the top nibble) for all lanes
    x[same] = (x[same] & 0x0FFFFFFF) | 0x30000000
    red = np.zeros(8 * ((n + 31) // 32), np.uint32)
    pred, amask = np.full(n, -7, np.int32), np.zeros(n, np.uint32)
    emulate(ptx, "reduce_match", grid=grid, block=block, args=[x, red, pred, amask, np.int32(n)])
    for w in range((n + 31) // 32):
        v = x[32 * w:32 * w + 32]
        m = np.uint32((1 << len(v)) - 1)
        ref = [int(v.astype(np.uint64).sum()) & 0xFFFFFFFF, v.min(), v.max(), np.bitwise_and.reduce(v),
               np.bitwise_or.reduce(v), np.bitwise_xor.reduce(v), v.view(np.int32).min(), v.view(np.int32).max()]
        np.testing.assert_array_equal(red[8 * w:8 * w + 8], np.array(ref, np.int64).astype(np.uint32), err_msg=f"warp {w}")
        keys = v >> 28
        ok = bool((keys == keys[0]).all())
        np.testing.assert_array_equal(pred[32 * w:32 * w + 32], int(ok))
        np.testing.assert_array_equal(amask[32 * w:32 * w + 32], m if ok else 0)


# ------------------------------------------------------------------------------ loads and structs


@pytest.mark.parametrize("rows, grid, block", [(300, 3, 128), (7, 1, 128)])
def test_affine4_ldg_int4_float4_and_struct_by_value(ptx, rows, grid, block):
    r = rng(rows)
    x = r.standard_normal((rows, 4)).astype(np.float32)
    keys = r.integers(-(1 << 31), 1 << 31, (rows, 4), dtype=np.int64).astype(np.int32)
    w = r.standard_normal((2, 4)).astype(np.float32)
    bias = r.standard_normal(4).astype(np.float32)
    scale = r.uniform(0.5, 2, rows).astype(np.float32)
    p = {4 * k: np.float32(w.flat[k]) for k in range(8)}
    p.update({32 + 4 * k: np.float32(bias[k]) for k in range(4)})
    p.update({48: np.int32(rows), 56: scale})
    y = np.full((rows, 4), np.nan, np.float32)
    ks = np.zeros(rows, np.int32)
    emulate(ptx, "affine4", grid=grid, block=block, args=[x, keys, y, ks, p])
    sign = np.array([1, -1, 1, -1], np.float64)[:, None]
    W = w.astype(np.float64)[[0, 0, 1, 1]] * sign
    ref = (x.astype(np.float64) @ W.T + bias) * scale[:, None]
    mag = (np.abs(x.astype(np.float64)) @ np.abs(W).T + np.abs(bias)) * scale[:, None]
    assert (np.abs(y - ref) <= 6 * 2.0 ** -24 * mag + 1e-30).all()  # 4 fmas + a multiply, each rounded once
    np.testing.assert_array_equal(ks, keys.astype(np.int64).sum(axis=1).astype(np.int32))


@pytest.mark.parametrize("n, grid, block", [(16 * 40 + 5, 2, 32), (16, 1, 32)])
def test_local_array_insertion_sort_and_histogram(ptx, n, grid, block):
    x = rng(n).integers(-50, 50, n).astype(np.int32)
    sorted_, hist = np.full(n, -7, np.int32), np.full(((n + 15) // 16) * 8, -7, np.int32)
    emulate(ptx, "local_sort16", grid=grid, block=block, args=[x, sorted_, hist, np.int32(n)])
    for t in range((n + 15) // 16):
        c = x[16 * t:16 * t + 16]
        np.testing.assert_array_equal(sorted_[16 * t:16 * t + 16], np.sort(c))
        np.testing.assert_array_equal(hist[8 * t:8 * t + 8], np.bincount(c & 7, minlength=8))


# ------------------------------------------------------------------------------ control flow, integers


def _vm(op, a, b):
    out = []
    for o, x, y in zip(op.tolist(), a.tolist(), b.tolist()):
        wrap = lambda v: (v + (1 << 31)) % (1 << 32) - (1 << 31)  # noqa: E731
        tq = int(x / y) if y else 0  # C truncating division (operands here are exact in float)
        r = {0: x + y, 1: x - y, 2: x * y, 3: tq, 4: x - tq * y if y else 0, 5: x & y, 6: x | y, 7: x ^ y,
             8: x << (y & 31), 9: x >> (y & 31), 10: min(x, y), 11: max(x, y)}.get(o, -1)
        out.append(wrap(r))
    return np.array(out, np.int32)


@pytest.mark.parametrize("n, grid, block", [(500, 2, 256), (13, 1, 32)])
def test_switch_vm(ptx, n, grid, block):
    r = rng(n)
    op = r.integers(-1, 14, n).astype(np.int32)
    a = r.integers(-(1 << 20), 1 << 20, n).astype(np.int32)
    b = r.integers(-300, 300, n).astype(np.int32)
    out = np.full(n, -7, np.int32)
    emulate(ptx, "switch_vm", grid=grid, block=block, args=[op, a, b, out, np.int32(n)])
    np.testing.assert_array_equal(out, _vm(op, a, b))


@pytest.mark.parametrize("n, grid, block", [(300, 2, 160), (5, 1, 32)])
def test_int64_division_modulo_and_int128_products(ptx, n, grid, block):
    r = rng(n)
    a = r.integers(-(1 << 63), (1 << 63) - 1, n, dtype=np.int64)
    b = r.integers(-(1 << 63), (1 << 63) - 1, n, dtype=np.int64)
    b[::3] = r.integers(-1000, 1000, len(b[::3]))  # small divisors too
    b[b == 0] = 7
    b[(a == -(1 << 63)) & (b == -1)] = 3
    q, rem = np.zeros(n, np.int64), np.zeros(n, np.int64)
    uq, ur, hi, mm = (np.zeros(n, np.uint64) for _ in range(4))
    emulate(ptx, "int64_math", grid=grid, block=block, args=[a, b, q, rem, uq, ur, hi, mm, np.int32(n)])
    for i, (x, y) in enumerate(zip(a.tolist(), b.tolist())):
        tq = abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)
        ux, uy = x % (1 << 64), y % (1 << 64)
        assert (int(q[i]), int(rem[i])) == (tq, x - tq * y), i
        assert (int(uq[i]), int(ur[i])) == (ux // uy, ux % uy), i
        assert (int(hi[i]), int(mm[i])) == ((ux * uy) >> 64, (ux * uy) % (uy | 1)), i


def test_nanosleep_backoff(ptx):
    n = 77
    rounds = np.full(n, -7, np.int32)
    emulate(ptx, "nanosleep_backoff", grid=2, block=64, args=[rounds, np.int32(n)])
    np.testing.assert_array_equal(rounds, np.arange(n) & 7)


# ------------------------------------------------------------------------------ cub


def _maxabs_scan(v):
    out, best = [], None
    for a in v.tolist():
        best = a if best is None or abs(a) > abs(best) else best
        out.append(best)
    return out


@pytest.mark.parametrize("n, grid, block", [(250, 2, 128), (40, 1, 128)])
def test_cub_warp_scan_and_reduce_with_a_custom_operator(ptx, n, grid, block):
    x = rng(n).integers(-60, 60, n).astype(np.int32)  # many ties in |x|: the leftmost wins
    scan, wmax = np.full(n, -7, np.int32), np.full((n + 31) // 32, -7, np.int32)
    emulate(ptx, "cub_warp_maxabs", grid=grid, block=block, args=[x, scan, wmax, np.int32(n)])
    xp = _padded(x, grid * block).reshape(-1, 32)
    ref_scan = np.array([s for w in xp for s in _maxabs_scan(w)], np.int32)[:n]
    np.testing.assert_array_equal(scan, ref_scan)
    np.testing.assert_array_equal(wmax, [_maxabs_scan(w)[-1] for w in xp][:len(wmax)])


@pytest.mark.parametrize("n", [256 * 3 - 37, 256])
def test_cub_block_load_store_transpose_and_histogram(ptx, n):
    grid = (n + 255) // 256
    x = rng(n).integers(-(1 << 20), 1 << 20, n).astype(np.int32)
    out, hist = np.full(n, -7, np.int32), np.zeros(64, np.uint32)
    emulate(ptx, "cub_load_store_hist", grid=grid, block=64, args=[x, out, hist, np.int32(n)])
    xp = _padded(x, grid * 256)
    np.testing.assert_array_equal(out, xp.reshape(-1, 4)[:, ::-1].reshape(-1)[:n])
    ref = np.bincount(x & 63, minlength=64)
    ref[0] += grid * 256 - n  # the tail's padding items count as byte 0
    np.testing.assert_array_equal(hist, ref)


# ------------------------------------------------------------------------------ refused


def test_recursion_and_virtual_calls_are_refused_with_their_reason(ptx):
    with pytest.raises(EmulatorError, match=r"call to '_Z5depthPKii' .*recursion is not supported"):
        emulate(ptx, "tree_depth", grid=1, block=4, args=[np.full(8, -1, np.int32), np.zeros(4, np.int32)])
    with pytest.raises(EmulatorError, match=r"'call' through the function pointer '%rd\d+': indirect calls"):
        emulate(ptx, "virtual_area", grid=1, block=4,
                args=[np.ones(4, np.float32), np.zeros(4, np.int32), np.zeros(4, np.float32), np.int32(4)])


def test_a_vtable_in_the_module_refuses_only_kernels_that_name_it():
    """nvcc initialises a vtable with function addresses (`{0, 0, _ZNK6Square4areaEf}`): the module's
    other kernels run; a kernel that reads the vtable is refused naming it."""
    ptx = _ptx("sm_90")
    assert "_ZTV6Square[3] = {0, 0, _ZNK6Square4areaEf}" in ptx
    rounds = np.zeros(8, np.int32)
    emulate(ptx, "nanosleep_backoff", grid=1, block=32, args=[rounds, np.int32(8)])
    body = ptx[ptx.index(".visible .entry nanosleep_backoff"):]
    patched = ptx.replace(body[:body.index("ret;")], body[:body.index("ret;")] + "mov.u64 %rd1, _ZTV6Square;\n", 1)
    with pytest.raises(EmulatorError, match=r"'_ZTV6Square' is initialised with the address of a function or "
                                            r"variable \(initialiser '_ZNK6Square4areaEf'"):
        emulate(patched, "nanosleep_backoff", grid=1, block=32, args=[rounds, np.int32(8)])


# ------------------------------------------------------------------------------ sm_90 clusters


@pytest.mark.parametrize("build", ["sm_90", "sm_90.G"])
@pytest.mark.parametrize("n, grid", [(1000, 8), (512, 4)])
def test_cluster_distributed_shared_memory_rotation(build, n, grid):
    x = rng(n).integers(-1000, 1000, n).astype(np.int32)
    out = np.full(n, -7, np.int32)
    emulate(_ptx(build), "cluster_rotate", grid=grid, block=128, args=[x, out, np.int32(n)])
    xp = _padded(x, grid * 128, -1).reshape(grid, 128)
    b = np.arange(grid)
    src = b // 4 * 4 + (b % 4 + 1) % 4
    np.testing.assert_array_equal(out, xp[src].reshape(-1)[:n])


# ------------------------------------------------------------------------------ the carry flag


def test_carry_flag_after_a_subtraction_is_one_minus_borrow():
    """sub.cc leaves CF = carry of a + ~b + 1 and subc adds CF back (a + ~b + CF): nvcc's 128-bit modulo
    (int64_math above) reads CF with addc after sub.cc and only gives exact remainders under this."""
    ptx = kernel("""
    ld.global.u32 %r5, [%rd4];
    sub.cc.u32 %r6, %r5, 1;
    addc.u32 %r7, 0, 0;
    add.cc.u32 %r8, %r5, 0xFFFFFFFF;
    subc.u32 %r9, 5, 2;
    shl.b32 %r9, %r9, 8;
    or.b32 %r7, %r7, %r9;
    st.global.u32 [%rd3], %r7;
""")
    x = np.array([0, 1, 7], np.uint32)
    out = np.zeros(3, np.uint32)
    emulate(ptx, "k", grid=1, block=3, args=[out, x, np.int32(3)])
    # 0 - 1 borrows (CF 0), 1 - 1 and 7 - 1 do not (CF 1); 0 + 0xFFFFFFFF leaves CF 0 (subc: 5 - 2 - 1),
    # 1 + 0xFFFFFFFF and 7 + 0xFFFFFFFF carry (subc: 5 - 2)
    np.testing.assert_array_equal(out, [0 | 2 << 8, 1 | 3 << 8, 1 | 3 << 8])


def test_a_wide_tile_barrier_that_cannot_be_scheduled_says_why():
    """In the -G build the 64-thread tile's spin loop lies before the code the other warp must run: the
    min-PC scheduler never leaves it, and the step limit's error names that instead of a silent hang."""
    x = np.arange(64, dtype=np.int32)
    with pytest.raises(EmulatorError, match=r"ran past max_steps=20000") as e:
        emulate(_ptx("sm_90.G"), "tile64_sum", grid=1, block=64, args=[x, x.copy(), x.copy(), np.int32(64)],
                check=False, max_steps=20_000)
    assert "barrier spins on a word in reserved shared memory" in e.value.hint
