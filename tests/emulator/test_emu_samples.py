"""corpus/samples.cu (kernels in the style of vendor samples, tutorials and training code, our own) against
numpy: atomics of every kind, vote/match/reduce and sub-warp shuffles, cooperative-groups partitions, the
threadfence "last block" reduction, legacy warp-synchronous code, directed rounding against exact
rationals, nbody, Mandelbrot, bisection counting, clocks and special registers, templates.

Order-dependent atomics are checked order-free: the final value plus the multiset of returned old
values. Float sums whose order the code leaves open use values with exact sums (multiples of 1/4)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from ptxkit import round_exact

from sass_lab.emulator import EmulatorCheckError, emulate

CORPUS = Path(__file__).parent / "corpus"
WAVES = (32, 1000, 1 << 16)  # the conftest's wave sizes, for tests whose outputs depend on the order of atomics


@pytest.fixture(params=("sm_80", "sm_90"))
def ptx(request):
    return (CORPUS / f"samples.{request.param}.ptx").read_text()


def rng(seed):
    return np.random.default_rng(seed)


def quarters(r, n, lo=-40, hi=41):
    return (r.integers(lo, hi, n) * 0.25).astype(np.float32)


# ------------------------------------------------------------------------------------- atomics


def _inc(old, bound):  # atom.inc: ((old >= bound) ? 0 : old + 1)
    return 0 if old >= bound else old + 1


def _dec(old, bound):  # atom.dec: ((old == 0) || (old > bound)) ? bound : old - 1
    return bound if old == 0 or old > bound else old - 1


@pytest.mark.parametrize("n, grid, block, inc0, dec0, bound", [(1000, 3, 128, 3, 2, 17), (77, 1, 96, 40, 0, 9),
                                                                (513, 5, 64, 0, 100, 0xFFFFFFFF)])
@pytest.mark.no_wave_audit  # the order of the atomics (old values) depends on the wave size: run at each below
@pytest.mark.parametrize("wave", WAVES)
def test_atomic_zoo(ptx, n, grid, block, inc0, dec0, bound, wave):
    v = rng(n).integers(-(1 << 30), 1 << 30, n).astype(np.int32)
    u32 = lambda x: np.array([x], np.uint32)  # noqa: E731
    inc, dec = u32(inc0), u32(dec0)
    imin, imax = np.array([1 << 30], np.int32), np.array([-(1 << 30)], np.int32)
    umin, umax = u32(0xFFFFFFFF), u32(0)
    lmin, lmax = np.array([1 << 62], np.int64), np.array([-(1 << 62)], np.int64)
    ulmax = np.array([1], np.uint64)
    band, bor, bxor = u32(0xFFFFFFFF), u32(0), u32(0x5A5A5A5A)
    oldinc, olddec = np.full(n + 3, 0xDEAD, np.uint32), np.full(n + 3, 0xDEAD, np.uint32)
    emulate(ptx, "atomic_zoo", grid, block, [v, np.int32(n), inc, dec, imin, imax, umin, umax, lmin, lmax, ulmax,
                                             band, bor, bxor, oldinc, olddec, np.uint32(bound)], wave_lanes=wave)
    x = v.astype(np.int64)
    seq_i, seq_d, a, b = [], [], inc0, dec0
    for _ in range(n):
        seq_i.append(a)
        seq_d.append(b)
        a, b = _inc(a, bound), _dec(b, bound)
    assert (inc[0], dec[0]) == (a, b)
    assert sorted(oldinc[:n].tolist()) == sorted(seq_i) and sorted(olddec[:n].tolist()) == sorted(seq_d)
    assert (oldinc[n:] == 0xDEAD).all() and (olddec[n:] == 0xDEAD).all()
    assert imin[0] == min(x.min(), 1 << 30) and imax[0] == max(x.max(), -(1 << 30))
    ux = x & 0xFFFFFFFF
    assert umin[0] == ux.min() and umax[0] == ux.max()
    assert lmin[0] == min((x * 1000003).min(), 1 << 62) and lmax[0] == max((x * -999983).max(), -(1 << 62))
    assert ulmax[0] == max(int((ux << 20).max()), 1)
    want_and = 0xFFFFFFFF
    for k in set((x & 31).tolist()):
        want_and &= ~(1 << k) & 0xFFFFFFFF
    want_or = 0
    for k in set(((x >> 5) & 31).tolist()):
        want_or |= 1 << k
    want_xor = 0x5A5A5A5A
    for k in ux.tolist():
        want_xor ^= k
    assert (band[0], bor[0], bxor[0]) == (want_and, want_or, want_xor)


@pytest.mark.parametrize("n, grid, block", [(1000, 4, 256), (33, 2, 32)])
@pytest.mark.no_wave_audit
@pytest.mark.parametrize("wave", WAVES)
def test_atomic_cas_loops_exch_and_double_add(ptx, n, grid, block, wave):
    r = rng(n + 1)
    x = quarters(r, n, -4000, 4000)
    fmax, dcas, dsum = np.array([-1e30], np.float32), np.array([0.5]), np.array([-0.25])
    exch, exch_old = np.array([123.5], np.float32), np.full(n + 2, np.nan, np.float32)
    emulate(ptx, "atomic_cas_loops", grid, block, [x, np.int32(n), fmax, dcas, dsum, exch, exch_old],
            wave_lanes=wave)
    assert fmax[0] == x.max()
    assert dcas[0] == 0.5 + x.astype(np.float64).sum() and dsum[0] == -0.25 + x.astype(np.float64).sum()
    # atomicExch: the old values and the final value are the inputs and the initial value, each once
    assert sorted([*exch_old[:n].tolist(), float(exch[0])]) == sorted([*x.tolist(), 123.5])
    assert np.isnan(exch_old[n:]).all()


@pytest.mark.parametrize("n, grid, block", [(5000, 3, 256), (100, 4, 64)])
def test_shared_histogram_with_block_and_system_scope(ptx, n, grid, block):
    data = rng(n + 2).integers(0, 256, n).astype(np.uint8)
    hist, done = np.zeros(64, np.uint32), np.array([7], np.int32)
    emulate(ptx, "histogram_shared", grid, block, [data, np.int32(n), hist, done])
    np.testing.assert_array_equal(hist, np.bincount(data & 63, minlength=64))
    assert done[0] == 7 + grid
    assert "atom.shared.cta.add.u32" in ptx and "atom.global.sys.add.u32" in ptx


# ------------------------------------------------------------------------------------- warp intrinsics


def _lanes(mask):
    return [k for k in range(32) if mask >> k & 1]


@pytest.mark.parametrize("n, grid, block", [(200, 2, 128), (45, 1, 64)])
def test_vote_and_match_in_divergent_code(ptx, n, grid, block):
    v = rng(n + 3).integers(-20, 200, n).astype(np.int32)
    v[:5] = [42, 3, 8, 1, 0]
    out = np.full(n * 6 + 6, 0xABCDEF, np.uint32)
    emulate(ptx, "vote_divergent", grid, block, [v, np.int32(n), out])
    xs = np.zeros(grid * block, np.int64)
    xs[:n] = v
    for w in range(grid * block // 32):
        x = xs[w * 32:(w + 1) * 32].tolist()
        odd = sum(1 << k for k in range(32) if x[k] & 1)
        for k in range(32):
            i = w * 32 + k
            if i >= n:
                continue
            m = odd if x[k] & 1 else ~odd & 0xFFFFFFFF
            p = (lambda y: y > 10, lambda y: y > 0, lambda y: y > 50) if x[k] & 1 else \
                (lambda y: y < 5, lambda y: y >= 0, lambda y: y == 42)
            ls = _lanes(m)
            ballot = sum(1 << j for j in ls if p[0](x[j]))
            want = [m, ballot, int(all(p[1](x[j]) for j in ls)), int(any(p[2](x[j]) for j in ls))]
            key = int(np.fmod(x[k], 4))
            want.append(sum(1 << j for j in range(32) if int(np.fmod(x[j], 4)) == key))
            q = [int(y / 100) for y in x]
            want.append(0xFFFFFFFF if len(set(q)) == 1 else 1)
            assert out[i * 6:i * 6 + 6].tolist() == want, (i, x[k])
    assert (out[n * 6:] == 0xABCDEF).all()


@pytest.mark.parametrize("n, grid, block", [(300, 3, 128), (40, 1, 64)])
def test_reduce_sync_intrinsics(ptx, n, grid, block):
    v = rng(n + 4).integers(-(1 << 31), 1 << 31, n, dtype=np.int64).astype(np.int32)
    out = np.full(n * 6 + 6, -7, np.int32)
    emulate(ptx, "warp_reduce_intrinsics", grid, block, [v, np.int32(n), out])
    xs = np.zeros(grid * block, np.int64)
    xs[:n] = v
    for w in range(grid * block // 32):
        x = xs[w * 32:(w + 1) * 32]
        ux = (x * 2654435761) & 0xFFFFFFFF
        a, o, xr = 0xFFFFFFFF, 0, 0
        for y in ux.tolist():
            a, o, xr = a & y, o | y, xr ^ y
        want = np.array([x.sum(), x.min(), ux.max(), a, o, xr], np.int64).astype(np.uint32).view(np.int32)
        for k in range(32):
            if w * 32 + k < n:
                np.testing.assert_array_equal(out[(w * 32 + k) * 6:(w * 32 + k) * 6 + 6], want)
    assert (out[n * 6:] == -7).all()


def _shfl_ref(x, w):
    """Exactly what shfl_width<W> computes, step for step in float32 (lanes of a segment of w lanes)."""
    seg = x.reshape(-1, w)
    lane = np.arange(w)
    up, down, bfly = seg.copy(), seg.copy(), seg.copy()
    d = 1
    while d < w:
        t = np.where(lane >= d, up[:, (lane - d) % w], up)
        up = np.where(lane >= d, up + t, up)
        down = np.where(lane + d < w, down[:, np.minimum(lane + d, w - 1)], down)
        bfly = bfly + bfly[:, lane ^ d]
        d *= 2
    return [a.reshape(-1) for a in (up, down, bfly, np.repeat(seg[:, 3:4], w, axis=1))]


@pytest.mark.parametrize("n, grid, block", [(200, 2, 128), (31, 1, 32)])
def test_shuffles_with_sub_warp_widths(ptx, n, grid, block):
    x = rng(n + 5).standard_normal(n).astype(np.float32)
    out = np.full(n * 12 + 12, np.nan, np.float32)
    emulate(ptx, "shuffle_widths", grid, block, [x, out, np.int32(n)])
    xs = np.zeros(grid * block, np.float32)
    xs[:n] = x
    got = out[:n * 12].reshape(n, 3, 4)
    for j, w in enumerate((4, 8, 16)):
        for k, ref in enumerate(_shfl_ref(xs, w)):
            np.testing.assert_array_equal(got[:, j, k], ref[:n], err_msg=f"width {w} output {k}")
    assert np.isnan(out[n * 12:]).all()


@pytest.mark.parametrize("n, grid, block", [(300, 2, 160), (50, 1, 64)])
def test_syncwarp_with_half_warp_masks(ptx, n, grid, block):
    v = rng(n + 6).integers(-1000, 1000, n).astype(np.int32)
    out = np.full(n + 4, -1, np.int32)
    emulate(ptx, "syncwarp_halves", grid, block, [v, out, np.int32(n)])
    xs = np.zeros(grid * block, np.int64)
    xs[:n] = v
    t = np.arange(grid * block) % block
    base = np.arange(grid * block) - t
    r = xs[base + ((t & ~15) | ((t + 5) & 15))]
    want = 3 * r[base + ((t & ~15) | ((t + 1) & 15))] + r
    np.testing.assert_array_equal(out[:n], want[:n])
    assert (out[n:] == -1).all()


# ------------------------------------------------------------------------------------- cooperative groups


@pytest.mark.parametrize("n, grid, block", [(1000, 8, 128), (70, 2, 64)])
@pytest.mark.no_wave_audit  # where each warp's elements land depends on the order of the atomics
@pytest.mark.parametrize("wave", WAVES)
def test_coalesced_group_warp_aggregated_compaction(ptx, n, grid, block, wave):
    x = rng(n + 7).standard_normal(n).astype(np.float32)
    out, count = np.full(n + 5, np.nan, np.float32), np.array([0], np.int32)
    emulate(ptx, "filter_compact", grid, block, [x, np.int32(n), out, count], wave_lanes=wave)
    pos = np.sort(x[x > 0])
    assert count[0] == len(pos)
    np.testing.assert_array_equal(np.sort(out[:len(pos)]), pos)
    assert np.isnan(out[len(pos):]).all()


@pytest.mark.parametrize("n, grid, block", [(250, 2, 128), (37, 1, 64)])
def test_labeled_binary_and_tiled_partitions(ptx, n, grid, block):
    r = rng(n + 8)
    keys = r.integers(0, 9, n).astype(np.int32)
    x = quarters(r, n)
    seg, info = np.full(n + 1, np.nan, np.float32), np.full(n * 6 + 6, -9, np.int32)
    emulate(ptx, "cg_partitions", grid, block, [keys, x, np.int32(n), seg, info])
    ks, xs = np.full(grid * block, -1), np.zeros(grid * block)
    ks[:n], xs[:n] = keys, x
    for i in range(n):
        w = i - i % 32
        k, v = ks[w:w + 32], xs[w:w + 32]
        lane = i % 32
        same = k == ks[i]
        assert seg[i] == v[same].sum(), i
        neg = (v < 0) == (xs[i] < 0)
        t = i - i % 16
        k16, x16 = ks[t:t + 16], xs[t:t + 16]
        want = [same.sum(), int(neg[:lane].sum()) * 64 + int(neg.sum()), k16[15 - i % 16],
                int((k16 == 7).any()) * 2 + int((k16 >= 0).all()), sum(1 << j for j in range(16) if x16[j] > 0.5),
                int(same[:lane].sum())]
        assert info[i * 6:i * 6 + 6].tolist() == want, i
    assert np.isnan(seg[n:]).all() and (info[n * 6:] == -9).all()


@pytest.mark.parametrize("n, grid, block", [(10000, 4, 256), (300, 3, 256)])
def test_grid_sync_reduction(ptx, n, grid, block):
    x = quarters(rng(n + 9), n)
    partial, total = np.full(grid + 2, np.nan, np.float32), np.full(2, np.nan, np.float32)
    emulate(ptx, "grid_reduce", grid, block, [x, np.int32(n), partial, total], cooperative=True)
    assert total[0] == x.astype(np.float64).sum() and np.isnan(total[1])
    per = [x[np.arange(n) // 1 % (grid * block) // block == b].astype(np.float64).sum() for b in range(grid)]
    np.testing.assert_array_equal(partial[:grid], per)
    assert np.isnan(partial[grid:]).all()


# ------------------------------------------------------------------------------------- threadfence reduction


@pytest.mark.parametrize("n, grid", [(10000, 6), (129, 3), (5, 1)])
def test_threadfence_last_block_reduction(ptx, n, grid):
    x = quarters(rng(n + 10), n)
    partial, total = np.full(grid, np.nan, np.float32), np.full(1, np.nan, np.float32)
    counter = np.array([0], np.uint32)
    rep = emulate(ptx, "fence_reduce", grid, 128, [x, np.int32(n), partial, total], symbols={"retirement_count": counter})
    assert rep.findings == ()
    assert total[0] == x.astype(np.float64).sum() and counter[0] == 0  # the last block resets the counter


# ------------------------------------------------------------------------------------- legacy warp-synchronous


def _block_sums(x, grid):
    xs = np.zeros(grid * 512, np.int64)
    xs[:len(x)] = x
    return xs.reshape(grid, 512).sum(axis=1)


@pytest.mark.parametrize("n, grid", [(2000, 4), (300, 1)])
def test_legacy_warp_synchronous_reduction_is_a_race_with_the_fix_named(ptx, n, grid):
    """Tutorial code that relies on a warp running in lockstep (volatile shared memory, no __syncwarp):
    since Volta (sm_70) threads of a warp are scheduled independently, so the steps race. The emulator
    computes what lockstep execution gives (the right sums, check=False) and reports the race, naming the
    cause and the fix; the same reduction with __syncwarp between the steps is clean."""
    x = rng(n + 11).integers(-1000, 1000, n).astype(np.int32)
    out = np.full(grid, -1, np.int32)
    rep = emulate(ptx, "reduce_warp_legacy", grid, 256, [x, np.int32(n), out], check=False)
    assert rep.findings == ()
    np.testing.assert_array_equal(out, _block_sums(x, grid))
    with pytest.raises(EmulatorCheckError) as e:
        emulate(ptx, "reduce_warp_legacy", grid, 256, [x, np.int32(n), out])
    kinds = {f.kind for f in e.value.findings}
    assert kinds == {"race-shared"}
    assert all("in the same warp" in f.message and "__syncwarp()" in f.message for f in e.value.findings)
    out2 = np.full(grid, -1, np.int32)
    emulate(ptx, "reduce_warp_syncwarp", grid, 256, [x, np.int32(n), out2])
    np.testing.assert_array_equal(out2, _block_sums(x, grid))


# ------------------------------------------------------------------------------------- directed rounding

F32_EDGES = np.array([0.0, -0.0, 1.0, -1.0, 1e-45, -1e-45, 1.1754942e-38, 1.1754944e-38, 3.4028235e38, -3.4028235e38,
                      3.0e38, 1e38, 1e-38, 3.0, 7.0, 1e-20, 2.0 ** -75, 0.1, 2.0 ** 64], np.float32)


def _q(v):
    return Fraction(float(v))


def _div(a, b, bf):
    """a / b exactly, or IEEE's nan / signed infinity for a zero divisor (bf: the divisor as a float)."""
    if b == 0:
        return np.nan if a == 0 else np.inf * np.sign(a) * np.copysign(1.0, float(bf))
    return a / b


def _sqrt_up(a, fmt):
    """The smallest float of fmt whose square is >= a (sqrt rounded up), by correction from the f64 root."""
    dt = np.float32 if fmt == "f32" else np.float64
    s = dt(np.sqrt(np.float64(a)) if fmt == "f32" else np.sqrt(float(a)))
    while s > 0 and Fraction(float(np.nextafter(s, dt(0)))) ** 2 >= a:
        s = np.nextafter(s, dt(0))
    while Fraction(float(s)) ** 2 < a:
        s = np.nextafter(s, dt(np.inf))
    return float(s)


@pytest.mark.parametrize("n", [300, 57])
def test_directed_rounding_intrinsics_against_exact_rationals(ptx, n):
    r = rng(n + 12)
    a = (r.standard_normal(n) * 10.0 ** r.integers(-40, 39, n)).astype(np.float32)
    b = (r.standard_normal(n) * 10.0 ** r.integers(-40, 39, n)).astype(np.float32)
    k = len(F32_EDGES)
    a[:k], b[:k] = F32_EDGES, F32_EDGES[::-1]
    a[k:2 * k], b[k:2 * k] = F32_EDGES, np.roll(F32_EDGES, 3)
    da = r.standard_normal(n) * 10.0 ** r.integers(-300, 300, n)
    db = r.standard_normal(n) * 10.0 ** r.integers(-300, 300, n)
    da[:5], db[:5] = [1.7e308, 5e-324, 0.0, -1e-310, 3.0], [1.7e308, -5e-324, 2.0, 3e-10, 1e-320]
    f, d = np.full(n * 10 + 1, np.nan, np.float32), np.full(n * 6 + 1, np.nan)
    emulate(ptx, "interval_ops", (n + 63) // 64, 64, [a, b, da, db, f, d, np.int32(n)])
    for i in range(n):
        x, y = _q(a[i]), _q(b[i])
        want = [round_exact(x + y, "f32", "rm"), round_exact(x + y, "f32", "rp"), round_exact(x * y, "f32", "rm"),
                round_exact(x * y, "f32", "rp"), round_exact(_div(x, y, b[i]), "f32", "rm"),
                round_exact(_div(x, y, b[i]), "f32", "rp"), _sqrt_up(abs(x), "f32"),
                round_exact(x * y + x, "f32", "rz"), round_exact(x - y, "f32", "rm"), round_exact(_div(x, y, b[i]), "f32", "rz")]
        got = f[i * 10:i * 10 + 10].astype(np.float64)
        np.testing.assert_array_equal(got, np.array(want, np.float32).astype(np.float64), err_msg=f"{a[i]!r} {b[i]!r}")
        p, q = _q(da[i]), _q(db[i])
        want = [round_exact(p + q, "f64", "rn"), round_exact(p + q, "f64", "rm"), round_exact(p * q, "f64", "rp"),
                round_exact(_div(p, q, db[i]), "f64", "rm"), _sqrt_up(abs(p), "f64"), round_exact(p * q + p, "f64", "rz")]
        np.testing.assert_array_equal(d[i * 6:i * 6 + 6], want, err_msg=f"{da[i]!r} {db[i]!r}")
    assert np.isnan(f[-1]) and np.isnan(d[-1])


# ------------------------------------------------------------------------------------- sample-style loops


@pytest.mark.parametrize("n", [200, 64, 37])
def test_nbody_float4_tiles_rsqrt(ptx, n):
    r = rng(n + 13)
    pos = np.concatenate([r.standard_normal((n, 3)), r.random((n, 1)) + 0.5], axis=1).astype(np.float32)
    acc = np.full((n + 1) * 3, np.nan, np.float32)
    emulate(ptx, "nbody_step", (n + 63) // 64, 64, [pos, acc, np.int32(n), np.float32(0.01)])
    p = pos.astype(np.float64)
    dxyz = p[None, :, :3] - p[:, None, :3]
    r2 = (dxyz ** 2).sum(-1) + np.float64(np.float32(0.01))
    terms = dxyz * (p[None, :, 3] * r2 ** -1.5)[..., None]
    want = terms.sum(1)
    # rsqrt.approx.f32 (relative error <= 2^-22.9) cubed, and n float32 additions: bound each sum by
    # |terms| summed times (n + 8) * 2^-23
    bound = np.abs(terms).sum(1) * (n + 8) * 2.0 ** -23
    got = acc[:n * 3].reshape(n, 3).astype(np.float64)
    assert (np.abs(got - want) <= bound).all()
    assert np.isnan(acc[n * 3:]).all()


def _fma32(a, b, c):
    """float32 fma, rounded once: the product is exact in float64; the float64 sum is rounded twice only when
    it lands on a float32 midpoint, and there the exact rational decides."""
    s = a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)
    out = s.astype(np.float32)
    mid = (s.view(np.uint64) & 0x1FFFFFFF) == 0x10000000
    for i in np.flatnonzero(mid):
        out[i] = round_exact(_q(a[i]) * _q(b[i]) + _q(c[i]), "f32", "rn")
    return out


def _fma64(a, b, c):
    return np.array([float(_q(x) * _q(y) + _q(z)) for x, y, z in zip(a, b, c)])  # int/int division rounds once


def _mandel(cr, ci, max_iter, fma):
    """nvcc's contraction of the loop: zi = fma(zi, zr + zr, ci); zr = cr + (zr*zr - zi*zi); test zr² + zi² < 4."""
    dt = cr.dtype
    zr, zi, zr2, zi2 = (np.zeros_like(cr) for _ in range(4))
    it = np.zeros(cr.shape, np.int32)
    live = np.ones(cr.shape, bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(live)
        if not len(idx):
            break
        t = cr[idx] + (zr2[idx] - zi2[idx])
        zi[idx] = fma(zi[idx], zr[idx] + zr[idx], ci[idx])
        zr[idx] = t
        it[idx] += 1
        zr2[idx], zi2[idx] = t * t, zi[idx] * zi[idx]
        live[idx] = (zr2[idx] + zi2[idx]) < dt.type(4)
    return it


@pytest.mark.parametrize("w, h, max_iter", [(37, 13, 40), (16, 16, 64)])
def test_mandelbrot_iteration_counts_match_float_and_double_exactly(ptx, w, h, max_iter):
    x0, y0, step = np.float32(-2.1), np.float32(-1.2), np.float32(2.4 / max(w, h))
    itf, itd = np.full(w * h + 1, -1, np.int32), np.full(w * h + 1, -1, np.int32)
    emulate(ptx, "mandelbrot", ((w + 15) // 16, (h + 7) // 8), (16, 8),
            [itf, itd, np.int32(w), np.int32(h), x0, y0, step, np.int32(max_iter)])
    py, px = np.divmod(np.arange(w * h), w)
    full = lambda v, dt: np.full(w * h, v, dt)  # noqa: E731
    crf = _fma32(px.astype(np.float32), full(step, np.float32), full(x0, np.float32))
    cif = _fma32(py.astype(np.float32), full(step, np.float32), full(y0, np.float32))
    np.testing.assert_array_equal(itf[:-1], _mandel(crf, cif, max_iter, _fma32))
    crd = px * np.float64(step) + np.float64(x0)  # the product is exact (small integer times a float32)
    cid = py * np.float64(step) + np.float64(y0)
    np.testing.assert_array_equal(itd[:-1], _mandel(crd, cid, max_iter, _fma64))
    assert itf[-1] == -1 and itd[-1] == -1
    assert len(set(itf[:-1].tolist())) > 5  # a picture, not a constant


@pytest.mark.parametrize("m, nq", [(50, 300), (7, 33)])
def test_bisection_sturm_counts(ptx, m, nq):
    r = rng(m + nq)
    d, e = r.standard_normal(m).astype(np.float32), r.standard_normal(m).astype(np.float32)
    xs = (r.standard_normal(nq) * 2).astype(np.float32)
    counts = np.full(nq + 2, -1, np.int32)
    emulate(ptx, "bisect_count", (nq + 127) // 128, 128, [d, e, np.int32(m), xs, counts, np.int32(nq)],
            dynamic_shared=8 * m)
    se = np.concatenate([[0], e[1:] * e[1:]]).astype(np.float32)
    delta = np.ones(nq, np.float32)
    c = np.zeros(nq, np.int32)
    for k in range(m):  # the same float32 operations in the same order (no contraction: a division)
        delta = (d[k] - xs) - se[k] / delta
        delta = np.where(delta == 0, np.float32(-1e-30), delta).astype(np.float32)
        c += delta < 0
    np.testing.assert_array_equal(counts[:nq], c)
    assert (counts[nq:] == -1).all()
    # and the counts are eigenvalue counts: the matrix has that many eigenvalues below x
    ev = np.linalg.eigvalsh(np.diag(d.astype(np.float64)) + np.diag(e[1:].astype(np.float64), 1)
                            + np.diag(e[1:].astype(np.float64), -1))
    close = np.min(np.abs(xs[:, None] - ev[None, :]), axis=1) > 1e-3
    np.testing.assert_array_equal(counts[:nq][close], (ev[None, :] < xs[:, None]).sum(1)[close])


def test_clocks_are_monotonic_and_special_registers(ptx):
    n, grid, block = 200, 3, 96
    t, ids = np.zeros(n * 2, np.int64), np.full(n * 4, 0xFFFFFFFF, np.uint32)
    emulate(ptx, "clocks_and_ids", grid, block, [t, ids, np.int32(n)])
    assert (t[1::2] > 0).all() and (t[0::2] == 1).all()  # clock64() after − before, and before ≥ 0
    i = np.arange(n)
    lane, warp, sm, dl = ids[0::4], ids[1::4], ids[2::4], ids[3::4]
    np.testing.assert_array_equal(lane, i % block % 32)
    np.testing.assert_array_equal(warp, i % block // 32)
    nsm = 108 if ".target sm_80" in ptx else 132
    np.testing.assert_array_equal(sm, (i // block) % nsm)
    assert (dl > 0).all() and (dl < 1000).all()


@pytest.mark.parametrize("dt, name", [(np.float32, "f"), (np.float64, "d"), (np.int32, "i")])
def test_templates_over_float_double_int(ptx, dt, name):
    n = 1001
    r = rng(14)
    x = (r.integers(-1000, 1000, n) if dt == np.int32 else r.standard_normal(n)).astype(dt)
    y = np.full(n + 1, 77, dt)
    a, b = dt(3), dt(-5) if dt == np.int32 else dt(0.3)
    emulate(ptx, f"_Z9scale_addI{name}EvPKT_PS0_S0_S0_i", 3, 128, [x, y, a, b, np.int32(n)])
    if dt == np.int32:
        want = x * a + b
    elif dt == np.float32:
        want = _fma32(np.full(n, a), x, np.full(n, b))
    else:
        want = _fma64(np.full(n, a), x, np.full(n, b))
    np.testing.assert_array_equal(y[:n], want)
    assert y[n] == 77


def test_directed_rounding_signed_zeros(ptx):
    """IEEE 754 §6.3: an exact zero sum of opposite signs is +0, except −0 when rounding down; products and
    quotients take the xor of the signs. Compared bit for bit (−0 ≠ +0 here)."""
    a = np.array([1.5, 0.0, -0.0, 3.0], np.float32)
    b = np.array([-1.5, -0.0, -0.0, 0.0], np.float32)
    f, d = np.full(40, np.nan, np.float32), np.full(24, np.nan)
    emulate(ptx, "interval_ops", 1, 32, [a, b, a.astype(np.float64), b.astype(np.float64), f, d, np.int32(4)])
    z, m = 0.0, -0.0
    # f32: fadd_rd, fadd_ru, fmul_rd, fmul_ru, fmaf_rz(x, y, x), fsub_rd
    want_f = [[m, z, -2.25, -2.25, -0.75, 3.0], [m, z, m, m, z, z], [m, m, z, z, z, m], [3.0, 3.0, z, z, 3.0, 3.0]]
    # f64: dadd_rn, dadd_rd, dmul_ru, fma_rz(p, q, p)
    want_d = [[z, m, -2.25, -0.75], [z, m, m, z], [m, m, z, z], [3.0, 3.0, z, 3.0]]
    got_f = f.reshape(4, 10)[:, [0, 1, 2, 3, 7, 8]]
    got_d = d.reshape(4, 6)[:, [0, 1, 2, 5]]
    assert got_f.tobytes() == np.array(want_f, np.float32).tobytes()
    assert got_d.tobytes() == np.array(want_d).tobytes()


@pytest.mark.parametrize("n, grid, block, bound", [(700, 3, 256, 13), (45, 2, 32, 3), (64, 1, 64, 1000)])
def test_shared_memory_atomics_of_every_kind(ptx, n, grid, block, bound):
    v = rng(n + 15).integers(-(1 << 20), 1 << 20, n).astype(np.int32)
    res = np.full(grid * 18, -5, np.int32)
    olds = np.full(n * 3 + 3, 0xBAD, np.uint32)
    emulate(ptx, "shared_atomics", grid, block, [v, np.int32(n), np.uint32(bound), res, olds])
    for blk in range(grid):
        x = v[blk * block:(blk + 1) * block].astype(np.int64)
        if not len(x):
            continue
        r, o = res[blk * 16:(blk + 1) * 16], olds[blk * block * 3:(blk * block + len(x)) * 3].reshape(-1, 3)
        a, b, seq_i, seq_d = 1, 5, [], []
        for _ in x:
            seq_i.append(a)
            seq_d.append(b)
            a, b = _inc(a, bound), _dec(b, bound)
        assert (r[0], r[1]) == (a, b) and sorted(o[:, 0]) == sorted(seq_i) and sorted(o[:, 1]) == sorted(seq_d)
        ux = x & 0xFFFFFFFF
        want_and, want_or, want_xor = 0xFFFFFFFF, 0, 0
        for k in x.tolist():
            want_and &= ~(1 << (k & 31)) & 0xFFFFFFFF
            want_or |= 1 << ((k >> 7) & 31)
            want_xor ^= k & 0xFFFFFFFF
        assert r[2:5].view(np.uint32).tolist() == [want_and, want_or, want_xor]
        assert (r[5], r[6]) == (min(x.min(), 1 << 30), max(x.max(), -(1 << 30)))
        assert r[8:10].view(np.int64)[0] == min((x * -4000000007).min(), 1 << 60)
        assert r[10:12].view(np.uint64)[0] == (ux * 3).max()
        f = r[12:15].view(np.float32)
        assert f[0] == (np.fmod(x, 64) * 0.25).sum() and f[1] == max((x * 0.5).max(), -1e30)
        exch = sorted([*o[:, 2].view(np.float32).tolist(), float(f[2])])
        assert exch == sorted([*x.astype(np.float32).tolist(), -1.0])
        d = res[grid * 16 + blk * 2:grid * 16 + blk * 2 + 2].view(np.float64)[0]
        assert d == (x * 0.125).sum()
    assert (olds[n * 3:] == 0xBAD).all()


@pytest.mark.no_wave_audit  # atomicExch's old values depend on the order: run at each wave size below
@pytest.mark.parametrize("wave", WAVES)
@pytest.mark.parametrize("n, grid, block", [(600, 3, 256), (33, 2, 32)])
def test_atomic_widths_and_scopes(ptx, n, grid, block, wave):
    """16-bit CAS loop (atom.cas.b16), u64 add, 64-bit exch, atomicAdd_block on global float,
    atomicMax_system, atomicSub (a negated add); wrap-around of the 16-bit and 32-bit counters."""
    v = rng(n + 16).integers(-(1 << 30), 1 << 30, n).astype(np.int32)
    h = np.array([65000, 0x1234], np.uint16)  # the neighbouring half-word must survive
    u64, x64 = np.array([2 ** 64 - 5], np.uint64), np.array([7], np.uint64)
    x64_old, fsum = np.full(n + 1, 3, np.uint64), np.array([0.5], np.float32)
    mx, sub = np.array([-(1 << 31)], np.int32), np.array([100], np.uint32)
    emulate(ptx, "atomic_widths", grid, block, [v, np.int32(n), h, u64, x64, x64_old, fsum, mx, sub], wave_lanes=wave)
    x = v.astype(np.int64)
    assert h.tolist() == [(65000 + (x & 7).sum()) % 65536, 0x1234]
    assert int(u64[0]) == (2 ** 64 - 5 + int(((x & 0xFFFFFFFF) * 4294967311).sum())) % 2 ** 64
    assert sorted([*x64_old[:n].tolist(), int(x64[0])]) == sorted([7, *[i * 0x100000001 for i in range(n)]])
    assert x64_old[n] == 3
    assert fsum[0] == 0.5 + (x & 15).sum() and mx[0] == x.max()
    assert sub[0] == (100 - (x & 255).sum()) % 2 ** 32


@pytest.mark.no_wave_audit  # where each warp's elements land depends on the order of the atomics
@pytest.mark.parametrize("wave", WAVES)
@pytest.mark.parametrize("n, grid, block", [(1000, 3, 128), (77, 2, 32)])
def test_grid_stride_tail_with_active_mask_and_coalesced_groups(ptx, n, grid, block, wave):
    x = rng(n + 17).integers(-500, 500, n).astype(np.int32)
    out, count, tail = np.full(n + 2, -7777, np.int32), np.array([0], np.int32), np.array([0], np.int32)
    emulate(ptx, "compact_grid_stride", grid, block, [x, np.int32(n), out, count, tail], wave_lanes=wave)
    keep = np.sort(x[x % 3 == 0])  # C's % (x % 3 == 0 is the same for negative x)
    assert count[0] == len(keep)
    np.testing.assert_array_equal(np.sort(out[:len(keep)]), keep)
    assert (out[len(keep):] == -7777).all()
    # the partial warps of the last round: lanes i of round r with fewer than 32 lanes of their warp left
    stride = grid * block
    want = 0
    for start in range(0, n, stride):
        for w0 in range(start, min(start + stride, n), 32):
            lanes = range(w0, min(w0 + 32, n))
            if len(lanes) < 32:
                want += int(x[list(lanes)].sum())
    assert tail[0] == want
