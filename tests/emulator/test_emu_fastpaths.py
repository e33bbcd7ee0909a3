"""The emulator's fast paths against the general path they replace, on inputs where both apply (partial
warps, inactive and predicated-off lanes included)."""

from __future__ import annotations

import types

import numpy as np
import pytest
from test_emu_memory import MMA_PTX
from test_emu_mma import FORMS, kernel_ptx

from sass_lab.emulator import asyncs, emulate, hopper, ops_matrix, races, stamps
from sass_lab.emulator.report import EmulatorCheckError


def test_warps_of_is_the_unique_warps_of_the_group():
    rng = np.random.default_rng(1)
    st = types.SimpleNamespace(L=32 * 9)
    np.testing.assert_array_equal(ops_matrix.warps_of(st, None), np.arange(9))
    for p in (0.0, 0.02, 0.5, 1.0):
        gm = rng.random(st.L) < p
        gm[64:96] = True  # a whole warp, next to partial ones
        want = np.unique(np.flatnonzero(gm) >> 5)
        np.testing.assert_array_equal(ops_matrix.warps_of(st, gm), want)


def _layouts(shape: str, kind: str, ck: str):
    """An mma form's A/B layouts and elements per register, M, K, and C's layout and elements per register."""
    a_lay, b_lay, per = ops_matrix._ab(shape, kind)
    M, K = int(shape[1:shape.index("n")]), int(shape.split("k")[1])
    c_lay, cper = ops_matrix._c_layout(M, ck)
    return a_lay, b_lay, per, M, K, c_lay, cper


@pytest.mark.parametrize("form", [f for f in FORMS if f[2] in ops_matrix.RAW], ids=lambda f: ".".join(f))
def test_mma_register_major_gather_is_the_lane_major_one(form):
    """The raw-element gather from stacked registers (register-major) equals the lane-major gather."""
    shape, _, kind, _, ck = form
    a_lay, b_lay, per, M, K, c_lay, cper = _layouts(shape, kind, ck)
    rng = np.random.default_rng(2)
    L = 32 * 6
    warps = np.array([0, 2, 3, 5])  # a partial group of warps
    for lay, rows, cols, p, k in ((a_lay, M, K, per, kind), (b_lay, K, 8, per, kind), (c_lay, M, 8, cper, ck)):
        perm = ops_matrix._gather_order(lay, rows, cols)
        nregs = len(lay) // p
        dt = np.float64 if k == "f64" else np.uint32
        regs = [rng.standard_normal(L)
                if dt is np.float64 else rng.integers(0, 2**32, L, dtype=np.uint64).astype(np.uint32)
                for _ in range(nregs)]
        wl = (warps[:, None] * 32 + np.arange(32)).ravel()
        view = np.uint16 if k in ("f16", "bf16") else dt
        lane_major = np.stack([r[wl] for r in regs], axis=1).view(view).reshape(len(warps), -1)
        want = np.take(lane_major, perm, axis=1)
        reg_major = np.stack(regs).view(view).reshape(nregs, L >> 5, -1)[:, warps]
        got = np.take(reg_major.transpose(1, 0, 2).reshape(len(warps), -1), ops_matrix._reg_order(perm, nregs), axis=1)
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")  # NaN bit patterns
@pytest.mark.parametrize("form", [f for f in FORMS if f[2] in ops_matrix.RAW], ids=lambda f: ".".join(f))
def test_mma_strided_register_views_are_the_gathers(form):
    """Fragments filled register by register through strided views of the matrices (and D read back the
    same way) equal the gathers by layout order, bit for bit (NaN payloads, subnormals, partial groups)."""
    shape, dk, kind, _, ck = form
    a_lay, b_lay, per, M, K, c_lay, cper = _layouts(shape, kind, ck)
    rng = np.random.default_rng(5)
    L = 32 * 6
    warps = np.array([0, 2, 3, 5])
    wl = (warps[:, None] * 32 + np.arange(32)).ravel()
    acc = np.longdouble if kind == "f64" else np.float64
    for lay, rows, cols, p, k in ((a_lay, M, K, per, kind), (b_lay, K, 8, per, kind), (c_lay, M, 8, cper, ck)):
        views = ops_matrix._reg_views(lay, p, cols)
        assert views is not None  # every RAW layout is a strided pattern
        perm = ops_matrix._gather_order(lay, rows, cols)
        nregs = len(lay) // p
        regs = [rng.standard_normal(L) if k == "f64" else rng.integers(0, 2**32, L, dtype=np.uint64).astype(np.uint32)
                for _ in range(nregs)]
        view = np.uint16 if k in ("f16", "bf16") else regs[0].dtype
        lane_major = np.stack([r[wl] for r in regs], axis=1).view(view).reshape(len(warps), -1)
        want = ops_matrix.RAW[k](np.take(lane_major, perm, axis=1)).astype(acc)
        got = np.empty((len(warps), rows * cols), acc)
        for r, v in zip(regs, views):
            raw = r.view(view).reshape(L >> 5, -1)[warps]
            ops_matrix._strided(got, v)[...] = ops_matrix.RAW[k](raw).reshape((len(warps),) + v[1])
        if acc is np.longdouble:  # padding bytes are not the value
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
    if dk == "f32":
        d_lay, dper = ops_matrix._c_layout(M, dk)
        d32 = rng.integers(0, 2**32, (len(warps), M * 8), dtype=np.uint64).astype(np.uint32).view(np.float32)
        d_flat = np.stack([r * 8 + c for r, c in d_lay], axis=1).ravel()
        spread = np.take(d32, d_flat, axis=1).reshape(len(warps) * 32, -1)
        for j, v in enumerate(ops_matrix._reg_views(d_lay, dper, 8)):
            got = np.ascontiguousarray(ops_matrix._strided(d32, v)).reshape(-1)
            np.testing.assert_array_equal(got.view(np.uint32), spread[:, j].view(np.uint32))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # NaN bit patterns
@pytest.mark.parametrize("form", [f for f in FORMS if f[1] == f[4] == "f32"], ids=lambda f: ".".join(f))
def test_mma_d_added_off_each_c_register_is_the_tile_path(monkeypatch, form):
    """f32 D registers added and rounded straight off their C registers against C and D built as tiles:
    the same bits on random register bits (NaN payloads, infinities, subnormals, signed zeros)."""
    shape, _, kind, _, _ = form
    a_lay, b_lay, per, M, K, c_lay, _ = _layouts(shape, kind, "f32")
    rng = np.random.default_rng(13)
    na, nb, nc = len(a_lay) // per, len(b_lay) // per, len(c_lay)
    ptx = kernel_ptx(form, na, nb, nc, nc)
    for trial in range(4):
        regs = [rng.integers(0, 2**32, (n, 32), dtype=np.uint64).astype(np.uint32) for n in (na, nb, nc)]
        if trial % 2:  # mostly finite values of one sign and scale (sums that round), some specials
            for r in regs:
                r &= np.uint32(0x3FFFFFFF if kind != "f16" else 0x3BFF3BFF)
            regs[2][:, :3] = [0x80000000, 0x7F800000, 0x7FC00001]  # -0, inf, a NaN payload

        def run(fused, regs=regs):
            monkeypatch.setattr(ops_matrix, "FUSED_C", fused)
            out = np.zeros((nc, 32), np.uint32)
            emulate(ptx, "k", 1, 32, [*regs, out])
            return out

        np.testing.assert_array_equal(run(True), run(False))


MEMO_PTX = """.version 8.0
.target sm_80
.address_size 64
.visible .entry k(.param .u64 out_param, .param .u64 in_param)
{
    .reg .pred %p<4>;
    .reg .b32 %r<12>;
    .reg .b32 %a<4>;
    .reg .b32 %b<4>;
    .reg .f32 %d<4>;
    .reg .b64 %rd<8>;
    ld.param.u64 %rd0, [out_param];
    ld.param.u64 %rd1, [in_param];
    mov.u32 %r0, %tid.x;
    mov.u32 %r1, %ctaid.x;
    mov.u32 %r2, %ntid.x;
    mad.lo.u32 %r3, %r1, %r2, %r0;                // global thread
    mul.wide.u32 %rd2, %r3, 32;
    add.s64 %rd3, %rd1, %rd2;
    ld.global.v4.b32 {%a0, %a1, %a2, %a3}, [%rd3];
    ld.global.v4.b32 {%b0, %b1, %b2, %b3}, [%rd3+16];
    mul.lo.u32 %r4, %r2, 16;                      // one mma's outputs: 16 bytes per thread
    mul.lo.u32 %r4, %r4, %r1;
    mad.lo.u32 %r4, %r0, 16, %r4;
    mov.u32 %r5, %nctaid.x;
    mul.lo.u32 %r5, %r5, %r2;
    mul.lo.u32 %r5, %r5, 16;                      // bytes per mma in out
    cvt.u64.u32 %rd4, %r4;
    add.s64 %rd4, %rd0, %rd4;
    cvt.u64.u32 %rd5, %r5;
    mov.f32 %d0, 0f00000000; mov.f32 %d1, 0f00000000; mov.f32 %d2, 0f00000000; mov.f32 %d3, 0f00000000;
    MMA1
    st.global.v4.f32 [%rd4], {%d0, %d1, %d2, %d3};
    add.s64 %rd4, %rd4, %rd5;
    rem.u32 %r6, %r0, 3;
    setp.eq.u32 %p0, %r6, 0;
    @%p0 mov.b32 %a1, %b3;                        // some lanes change A, predicated-off lanes keep theirs
    MMA1
    st.global.v4.f32 [%rd4], {%d0, %d1, %d2, %d3};
    add.s64 %rd4, %rd4, %rd5;
    MMA2
    st.global.v4.f32 [%rd4], {%d0, %d1, %d2, %d3};
    add.s64 %rd4, %rd4, %rd5;
    shr.u32 %r7, %r0, 5;
    setp.eq.u32 %p1, %r7, 1;
    @%p1 bra SKIP;                                // warp 1 skips: a partial group of warps
    @%p0 mov.b32 %a2, %b2;
    MMA1
    st.global.v4.f32 [%rd4], {%d0, %d1, %d2, %d3};
SKIP:
    add.s64 %rd4, %rd4, %rd5;
    MMA1
    st.global.v4.f32 [%rd4], {%d0, %d1, %d2, %d3};
    add.s64 %rd4, %rd4, %rd5;
    MMA2
    st.global.v4.f32 [%rd4], {%d0, %d1, %d2, %d3};
    ret;
}
""".replace("MMA1", "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%d0, %d1, %d2, %d3}, {%a0, %a1, %a2, %a3}, "
            "{%b0, %b1}, {%d0, %d1, %d2, %d3};").replace(
    "MMA2", "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%d0, %d1, %d2, %d3}, {%a0, %a1, %a2, %a3}, "
    "{%b2, %b3}, {%d0, %d1, %d2, %d3};")


@pytest.mark.parametrize("threads", [64, 48])  # 48: the second warp has 16 inactive (pad) lanes
def test_mma_fragment_memo_is_the_unmemoised_result(monkeypatch, threads):
    """Reused A/B fragments (same registers, rewritten on some lanes, a warp branched away) give the same
    outputs as recomputing every fragment."""
    blocks = 3
    rng = np.random.default_rng(3)
    n = blocks * threads
    x = rng.standard_normal((n, 16)).astype(np.float16)

    def run(memo):
        monkeypatch.setattr(ops_matrix, "MEMO", memo)
        out = np.full(6 * n * 4, np.nan, np.float32)
        emulate(MEMO_PTX, "k", blocks, threads, [out, x])
        return out.reshape(6, n, 4)

    got, want = run(8), run(0)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    monkeypatch.setattr(ops_matrix, "VIEWS", False)  # the gathers by layout order, not the strided views
    np.testing.assert_array_equal(run(8).view(np.uint32), got.view(np.uint32))
    assert np.isnan(got[3, :, :][np.arange(n) % threads >= 32]).all()  # warp 1 never ran the 4th mma
    assert not np.isnan(got[[0, 1, 2, 4, 5]]).any()


# ------------------------------------------------------------------ shared race tracker: the fold


def _tracker(L=256, tp=64, units=512, gran=4):
    st = types.SimpleNamespace(L=L, tp=tp, nb=L // tp, gran=gran, sh_size=units * gran // (L // tp))
    st.all_lanes = np.arange(L)
    st.lane_blk = st.all_lanes // tp
    st.lane_tid = (st.all_lanes % tp).astype(np.int32)
    return races.RaceTracker(st, units)


def _old_fold(rt, only):
    """The unit-by-unit selection the fold used before (reference)."""
    rt.mark[only] = True
    keep = []
    for chunk in rt.log:
        u, lanes, n, stamp = chunk
        lane_of = races._lane_of(chunk, rt.st)
        m = rt.mark[u] if n == 1 else rt.mark[u[:, None] + np.arange(n)].any(axis=1)
        if not m.any():
            keep.append(chunk)
            continue
        sel, rest = np.flatnonzero(m), np.flatnonzero(~m)
        if len(rest):
            keep.append([u[rest], lane_of[rest], n, stamp])
        uu, me = u[sel].astype(np.int64), stamp[lane_of[sel]]
        if n > 1:
            uu, me = (uu[:, None] + np.arange(n)).ravel(), np.repeat(me, n)
        rt._merge_reads(uu, me)
    rt.mark[only] = False
    rt.log = keep


def test_fold_of_the_units_a_write_touches_matches_unit_by_unit_selection():
    rng = np.random.default_rng(4)
    for trial in range(20):
        trackers = [_tracker(), _tracker()]
        log = []
        for _ in range(6):
            n = int(rng.choice([1, 2, 4]))
            k = int(rng.integers(1, 200))
            lanes = np.sort(rng.choice(256, k, replace=False))
            u = rng.integers(0, 512 - n, k).astype(np.int32)
            if trial % 4 == 1:  # reads in the first page, some running into the next one (`only` there)
                u = rng.integers(0, 200, k).astype(np.int32)
                u[:3] = (1 << races.PAGE_SHIFT) - np.arange(1, 4)[:len(u)]
            elif trial % 3 == 0:
                u[:3] = 0  # reads at unit 0: the clamped marks
            log.append((u, lanes, n))
        only = np.unique(rng.integers(0, 512, int(rng.integers(1, 40))))
        if trial % 2:
            only = np.union1d(only, [0, 1])
        if trial % 4 == 1:
            only = np.array([1 << races.PAGE_SHIFT])  # the first unit of a page, alone
        bumps = rng.integers(0, 2, len(log))  # sometimes a new block epoch between reads
        for rt in trackers:
            for (u, lanes, n), bump in zip(log, bumps):
                rt.log.append([u.copy(), lanes, n, rt.stamp])
                rt.stamp = rt.stamp + (int(bump) << stamps.BEP_SHIFT)
        trackers[0].fold(only)
        _old_fold(trackers[1], only)
        np.testing.assert_array_equal(trackers[0].rd, trackers[1].rd)
        assert len(trackers[0].log) == len(trackers[1].log)
        for a, b in zip(trackers[0].log, trackers[1].log):
            np.testing.assert_array_equal(a[0], b[0])
            st = trackers[0].st
            np.testing.assert_array_equal(races._lane_of(a, st), races._lane_of(b, st))
            assert a[2] == b[2]


def test_read_merge_over_other_epochs_is_the_merge_formula(monkeypatch):
    """The reader-stamp merge's skip (no earlier stamp of the read's block epoch) against the formula, on
    random stamps: never read, single threads, warp groups, several warps, atomics, some epochs equal."""
    rng = np.random.default_rng(14)

    def random_stamps(k, beps):
        kind = rng.integers(0, 4, k)
        code = np.select([kind == 0, kind == 1, kind == 2], [rng.integers(0, 1024, k), 1024 + rng.integers(0, 32, k),
                                                              stamps.SEVERAL_WARPS], stamps.ATOMIC)
        s = (rng.choice(beps, k) << stamps.BEP_SHIFT) | (rng.integers(0, 4, k) << stamps.WEP_SHIFT) | (code + stamps.BIAS)
        return np.where(rng.random(k) < 0.1, 0, s)  # 0: never read

    for trial in range(40):
        k = int(rng.integers(1, 300))
        me = (rng.integers(2, 4, k) << stamps.BEP_SHIFT) | (rng.integers(0, 4, k) << stamps.WEP_SHIFT) | \
            (rng.integers(0, 1024, k) + stamps.BIAS)
        r = random_stamps(k, [0, 1] if trial % 2 else [0, 1, 2, 3])  # odd trials: every earlier stamp older
        got = {}
        for skip in (True, False):
            monkeypatch.setattr(stamps, "MERGE_SKIP", skip)
            got[skip] = stamps.merge(r, me)
        np.testing.assert_array_equal(got[True], got[False])


# ------------------------------------------------------------------ async copies: nothing in flight


class _Always(asyncs.AsyncCopies):
    def _settle(self) -> None:  # the general path: always look the units up
        self.open = True


class _Wide(_Always):
    def __init__(self, st, units):  # the general tag: lane << 32 | sequence from the start, never cleared
        super().__init__(st, units)
        self._widen()
        self.clear = False


@pytest.mark.parametrize("cross", [False, True])  # True: some copies land in another block's window
def test_async_tracker_fast_paths_find_what_the_general_path_finds(cross):
    """Skipped lookups while nothing is in flight, and narrow (block-relative) tags, against lookups
    every time with lane << 32 | sequence tags."""
    rng = np.random.default_rng(6)
    L, units, tp = 128, 256, 64

    def st_with(log):
        st = types.SimpleNamespace(L=L, gran=4, sh_size=units * 4 // (L // tp), tp=tp)
        st.lane_blk = np.arange(L) // tp
        st.lane_tid = (np.arange(L) % tp).astype(np.int32)
        st.shared_var = lambda o: (None, f"offset {o:#x}")
        st.lane_coords = lambda lane: ((0, 0, 0), (lane, 0, 0))
        st.report = lambda kind, lanes, msg, **kw: log.append((kind, tuple(np.asarray(lanes)), msg))
        return st

    for _ in range(10):
        logs = ([], [])
        trackers = [cls(st_with(log), units) for cls, log in zip((asyncs.AsyncCopies, _Wide), logs)]
        for _ in range(40):
            op = rng.integers(0, 5)
            lanes = np.sort(rng.choice(L, int(rng.integers(1, L)), replace=False))
            u = rng.integers(0, units, len(lanes))
            if not cross:  # each lane into its own block's window
                u = u % (units // 2) + (lanes // tp) * (units // 2)
            n = int(rng.integers(0, 3))
            for t in trackers:
                if op == 0:
                    t.write(u, lanes)
                elif op == 1:
                    t.commit(lanes)
                elif op == 2:
                    t.wait(lanes, None if n == 2 else n)
                else:
                    t.access(u, lanes, bool(op == 4))
        assert logs[0] == logs[1]
        assert trackers[0].tag.dtype == (np.int64 if cross else np.int32)
        assert any(k == "async-in-flight" for k, *_ in logs[0]) or not logs[1]


# ------------------------------------------------------------------ shared race tracker: aligned row reads


def _checked_tracker(log, rows: bool, with_async: bool):
    rt = _tracker()
    st = rt.st
    st.shared_var = lambda o: (None, f"offset {o:#x}")
    st.lane_coords = lambda lane: ((0, 0, 0), (lane, 0, 0))
    st.report = lambda kind, lanes, msg, **kw: log.append((kind, tuple(np.asarray(lanes).tolist()), msg))
    rt.rows = rows
    if with_async:
        rt.asyncs = asyncs.AsyncCopies(st, len(rt.wr))
        rt.asyncs.clear = rows
    return rt


@pytest.mark.parametrize("with_async", [False, True])
def test_row_accesses_find_and_log_what_unit_accesses_do(with_async):
    """Aligned 2/4/8-unit reads, writes and copies through the row paths (one gather of the rows'
    stamps, one store per row) against the unit-by-unit path: the same findings, stamps, logged reads,
    seen marks and copies in flight, with unwritten units, accesses in another's epoch, races, rows
    written by two lanes at once and copies in flight among them."""
    rng = np.random.default_rng(8)
    kinds = set()
    for _ in range(12):
        logs = ([], [])
        trackers = [_checked_tracker(log, rows, with_async) for log, rows in zip(logs, (True, False))]
        for rt in trackers:  # most units written once, in an old epoch
            rt.write(np.arange(0, 480 * 4, 4), 4, np.arange(480) % 256)
            rt.block_barrier(np.arange(4))
        for _ in range(60):
            op = int(rng.integers(0, 11))
            whole = rng.random() < 0.2  # every lane of the wave: the tracker's own lane array (its cached spreads)
            lanes = np.arange(256) if whole else np.sort(rng.choice(256, int(rng.integers(1, 60)), replace=False))
            n = int(rng.choice([1, 2, 4, 8]))
            size = 4 * n
            start = rng.integers(0, 512 // n, len(lanes)) * n
            if op == 9:
                start = start + int(rng.integers(0, 2))  # unaligned: the general path either way
            start = np.minimum(start, 512 - n)
            own = (lanes // 64) * 128 + rng.integers(0, 128 // n, len(lanes)) * n  # in the lane's block window
            some = np.unique(rng.integers(0, 4, 2)) if rng.random() < 0.5 else np.arange(4)
            group = None if rng.random() < 0.5 else 1
            warps = np.unique(rng.integers(0, 8, 2))
            rng_own = rng.random() < 0.9
            for rt in trackers:
                ln = rt.st.all_lanes if whole else lanes
                if op <= 4:
                    rt.read(start * 4, size, ln)
                elif op <= 6:
                    if with_async and op == 6:
                        rt.write((own if rng_own else start) * 4, size, ln, copy=True)
                    else:
                        rt.write(start * 4, size, ln)
                elif op == 7:
                    rt.block_barrier(some)
                    if with_async:
                        rt.asyncs.commit(np.arange(256))
                        rt.asyncs.wait(np.arange(256), group)
                elif op == 8:
                    rt.warp_sync(warps)
                elif op == 10:
                    rt.fold()  # every logged read into the reader stamps (a long log): later writes meet them there
                else:
                    rt.read(start * 4, size, ln)
        assert logs[0] == logs[1]
        a, b = trackers
        np.testing.assert_array_equal(a.wr, b.wr)
        if with_async:
            a.asyncs.clear = False
            for t in (a.asyncs, b.asyncs):  # the same copies in flight (cleared tags are complete ones)
                t.open = True
                src, seq = t._source(np.arange(len(t.tag)), t.tag)
                t.live = np.where(seq > t.waited[src], t.tag, 0)
            np.testing.assert_array_equal(a.asyncs.live, b.asyncs.live)
        np.testing.assert_array_equal(a.seen, b.seen)
        a.fold(), b.fold()
        np.testing.assert_array_equal(a.rd, b.rd)
        kinds |= {k for k, *_ in logs[0]}
    assert {"race-shared", "uninit-shared"} <= kinds


def test_row_write_after_folded_reads_is_checked_against_them():
    """Reads folded into the reader stamps (the log emptied) and then a row write of other threads in the
    same epoch: the row path still finds the race (the page's read-epoch bound sends it to the stamps)."""
    logs = ([], [])
    for log, rows in zip(logs, (True, False)):
        rt = _checked_tracker(log, rows, False)
        rt.write(np.arange(0, 512 * 4, 4), 4, np.arange(512) % 256)
        rt.block_barrier(np.arange(4))
        rt.read(np.arange(8) * 16, 16, np.arange(8))  # threads 0-7 read rows 0-7
        rt.fold()
        rt.write(np.arange(8) * 16, 16, np.arange(32, 40))  # threads 32-39 overwrite them
    assert logs[0] == logs[1] and [k for k, *_ in logs[0]] == ["race-shared"]


def test_row_read_of_a_copy_in_flight_after_a_barrier_is_found():
    """Row copies, a wait that completes everything (a new round), copies again, a barrier without a wait,
    then row reads of both: only the second copies are in flight, and the row path finds them too."""
    logs = ([], [])
    for log, rows in zip(logs, (True, False)):
        rt = _checked_tracker(log, rows, True)
        lanes = np.arange(0, 256, 4)  # one lane per row, each into its own block's window
        first, second = (lanes // 64) * 128 + (lanes % 64), (lanes // 64) * 128 + 64 + (lanes % 64)
        rt.write(first * 4, 16, lanes, copy=True)  # rows of 4 units
        rt.asyncs.commit(np.arange(256))
        rt.asyncs.wait(np.arange(256), None)  # everything complete: the next copies start a new round
        rt.write(second * 4, 16, lanes, copy=True)
        rt.asyncs.commit(np.arange(256))
        rt.block_barrier(np.arange(4))
        rt.read(first * 4, 16, lanes + 1)
        rt.read(second * 4, 16, lanes + 1)
    assert logs[0] == logs[1] and [k for k, *_ in logs[0]] == ["async-in-flight"]


# ------------------------------------------------------------------ proxy tracking: nothing marked


def test_unfenced_lookup_skips_find_what_the_full_lookup_finds():
    """The proxy tracker's skips (no chunk marked since the last fence; none of the read's chunks
    marked) against the sorted lookup every time."""
    rng = np.random.default_rng(9)
    st = types.SimpleNamespace(L=256, shared=np.zeros(4096, np.uint8))
    fast, full = hopper.HopperState(st), hopper.HopperState(st)
    seen = 0
    for _ in range(400):
        op = int(rng.integers(0, 4))
        flat = rng.integers(0, 4096 - 16, int(rng.integers(1, 40)))
        lanes = rng.integers(0, 8, len(flat))  # few writers: lane 0 among them, fences that clear all
        for h in (fast, full):
            if op == 0:
                h.generic_write(flat, 4, lanes)
            elif op == 1:
                h.async_write(flat)
            elif op == 2:
                h.fence(np.unique(lanes[:5]))
        full.marked = True  # the full lookup every time
        a, b = fast.unfenced(flat), full.unfenced(flat)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        seen += len(b[0]) > 0
    assert 0 < seen < 400
    fast.fence(np.arange(256))
    fast.generic_write(np.array([80]), 4, np.array([0]))  # thread 0's store, read without a fence
    np.testing.assert_array_equal(fast.unfenced(np.array([84, 200]))[0], [80])


# ------------------------------------------------------------------ ldmatrix.x4 over the whole wave


@pytest.mark.parametrize("variant", ["clean", "race", "uninit"])
def test_whole_wave_ldmatrix_is_the_per_warp_lane_list(monkeypatch, variant):
    """ldmatrix.x4 executed by every lane of the wave (the wave's own lane array) against the lane list
    built from the warps: the same outputs and findings (a race, an unwritten row)."""
    ptx = MMA_PTX.replace("KIND", "f16").replace("sA[256]", "sA[1024]")
    if variant == "race":
        ptx = ptx.replace("    bar.sync 0;\n", "")
    elif variant == "uninit":
        ptx = ptx.replace("setp.lt.u32 %p2, %r12, 384;", "setp.lt.u32 %p2, %r12, 200;")
    bits = np.random.default_rng(12).standard_normal(384).astype(np.float16).view(np.uint16)

    def run(whole):
        monkeypatch.setattr(ops_matrix, "WHOLE", whole)
        out = np.full((2, 16, 8), np.nan, np.float32)
        found = []
        for grid, o in ((1, out[0]), (3, out[1])):  # one block; three blocks of one wave (same output)
            try:
                found += [str(f) for f in emulate(ptx, "k", grid, 32, [o, bits, np.uint32(0)]).findings]
            except EmulatorCheckError as e:
                found += [str(f) for f in e.findings]
        return out, found

    (a, fa), (b, fb) = run(True), run(False)
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))
    assert fa == fb
    assert any("-shared" in f for f in fa) == (variant != "clean")  # (three blocks: a global race too)
