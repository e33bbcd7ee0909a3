"""Warp-collective instructions against their CUDA-level meaning (two warps, some divergence)."""

from __future__ import annotations

import numpy as np
import pytest
from ptxkit import kernel
from test_emu_instructions import LOAD, STORE, run

N = 64
LANES = np.arange(N)
VALS = (LANES * 7 + 3).astype(np.uint32)


def shfl_ref(mode: str, d, width: int):
    out, ok = np.zeros(N, np.uint32), np.zeros(N, bool)
    for t in range(N):
        lane, base = t % 32, t - t % 32
        seg = lane - lane % width
        dd = d[t] if np.ndim(d) else d
        if mode == "up":
            src, valid = lane - dd, lane % width >= dd
        elif mode == "down":
            src, valid = lane + dd, lane % width + dd < width
        elif mode == "bfly":
            src = lane ^ dd
            valid = src < seg + width
        else:
            src, valid = seg + dd % width, True
        out[t] = VALS[base + src] if valid else VALS[t]
        ok[t] = valid
    return out, ok


@pytest.mark.parametrize("mode", ["up", "down", "bfly", "idx"])
@pytest.mark.parametrize("width", [32, 8])
@pytest.mark.parametrize("delta", [1, 5])
def test_shfl(mode, width, delta):
    c = (32 - width) << 8 if mode == "up" else ((32 - width) << 8) | 0x1F
    body = f"shfl.sync.{mode}.b32 %r6|%p1, %r5, {delta}, {c}, -1;"
    got = run(LOAD + body + STORE, VALS)
    want, ok = shfl_ref(mode, delta, width)
    np.testing.assert_array_equal(got, want)
    got_p = run(LOAD + body + "selp.u32 %r6, 1, 0, %p1;" + STORE, VALS)
    np.testing.assert_array_equal(got_p.astype(bool), ok)


def test_shfl_per_lane_source():
    body = "and.b32 %r7, %r0, 3; shfl.sync.idx.b32 %r6, %r5, %r7, 0x1f, -1;"
    got = run(LOAD + body + STORE, VALS)
    np.testing.assert_array_equal(got, VALS[(LANES // 32) * 32 + LANES % 4])


# odd lanes branch away; the even lanes vote
DIVERGE = "and.b32 %r9, %r0, 1; setp.ne.u32 %p3, %r9, 0; @%p3 bra SKIP;"


@pytest.mark.parametrize("mode", ["ballot", "all", "any", "uni"])
def test_vote_among_active_lanes(mode):
    cond = "setp.lt.u32 %p2, %r0, 40;"  # warp 0 all true, warp 1 lanes 32..39 true
    dst = "%r6" if mode == "ballot" else "%p4"
    vote = f"vote.sync.{mode}.{'b32' if mode == 'ballot' else 'pred'} {dst}, %p2, 0x55555555;"
    tail = "" if mode == "ballot" else "selp.u32 %r6, 1, 0, %p4;"
    body = "mov.u32 %r6, 99;" + cond + DIVERGE + vote + tail + "SKIP: " + STORE
    got = run(body, VALS)
    even = LANES % 2 == 0
    p = LANES < 40
    ball = np.array([sum(1 << (t % 32) for t in range(w * 32, w * 32 + 32) if even[t] and p[t]) for w in (0, 1)])
    full = [all(p[t] for t in range(w * 32, w * 32 + 32) if even[t]) for w in (0, 1)]
    none = [not any(p[t] for t in range(w * 32, w * 32 + 32) if even[t]) for w in (0, 1)]
    want = {"ballot": ball, "all": np.array(full), "any": ~np.array(none),
            "uni": np.array(full) | np.array(none)}[mode].astype(np.uint32)
    np.testing.assert_array_equal(got[even], want[LANES[even] // 32])
    assert (got[~even] == 99).all()


def test_activemask_after_divergence():
    body = "mov.u32 %r6, 0;" + DIVERGE + "activemask.b32 %r6; SKIP: " + STORE
    got = run(body, VALS, n=48)
    lanes = np.arange(48)
    want = np.where(lanes % 2 == 0, np.where(lanes < 32, 0x55555555, 0x5555), 0)
    np.testing.assert_array_equal(got, want)


def test_match_any_and_all():
    body = "rem.u32 %r7, %r0, 3; match.any.sync.b32 %r6, %r7, -1;"
    got = run(LOAD + body + STORE, VALS)
    want = [sum(1 << (s % 32) for s in range(t - t % 32, t - t % 32 + 32) if s % 3 == t % 3) for t in LANES]
    np.testing.assert_array_equal(got, np.array(want, np.uint32))
    body = "shr.u32 %r7, %r0, 5; setp.eq.u32 %p2, %r7, 1; @%p2 mov.u32 %r7, %r0; match.all.sync.b32 %r6|%p1, %r7, -1;" \
           "selp.u32 %r8, 1, 0, %p1; shl.b32 %r8, %r8, 31; or.b32 %r6, %r6, %r8;"
    got = run(LOAD + body + STORE, VALS)
    np.testing.assert_array_equal(got, np.where(LANES < 32, 0xFFFFFFFF | (1 << 31), 0).astype(np.uint32))


@pytest.mark.parametrize("op,ref", [("add", np.sum), ("min", np.min), ("max", np.max)])
def test_redux(op, ref):
    got = run(LOAD + f"redux.sync.{op}.u32 %r6, %r5, -1;" + STORE, VALS)
    want = np.repeat([ref(VALS[:32]), ref(VALS[32:])], 32).astype(np.uint32)
    np.testing.assert_array_equal(got, want)


def test_divergent_loop_reconverges():
    # lane t loops t % 5 times; afterwards every lane runs a full-warp shuffle again
    body = (LOAD + "rem.u32 %r7, %r0, 5; mov.u32 %r8, 0; L: setp.eq.u32 %p1, %r7, 0; @%p1 bra E;"
            "add.u32 %r8, %r8, 10; sub.u32 %r7, %r7, 1; bra L; E: shfl.sync.bfly.b32 %r9, %r8, 1, 0x1f, -1;"
            "add.u32 %r6, %r8, %r9;" + STORE)
    got = run(body, VALS)
    loops = (LANES % 5) * 10
    np.testing.assert_array_equal(got, loops + loops[LANES ^ 1])


def test_kernel_text_roundtrip():
    assert "shfl" in kernel("shfl.sync.up.b32 %r6, %r5, 1, 0, -1;")


@pytest.mark.parametrize("op", ["popc", "and", "or"])
def test_bar_red(op):
    # __syncthreads_count/_and/_or over a 64-thread block: predicate = value is odd
    cond = "and.b32 %r7, %r5, 1; setp.ne.u32 %p2, %r7, 0;"
    red = ("bar.red.popc.u32 %r6, 0, %p2;" if op == "popc" else
           f"bar.red.{op}.pred %p3, 0, %p2; selp.u32 %r6, 1, 0, %p3;")
    vals = VALS.copy() if op != "and" else (VALS | 1)
    got = run(LOAD + cond + red + STORE, vals)
    odd = vals & 1
    want = {"popc": odd.sum(), "and": int(odd.all()), "or": int(odd.any())}[op]
    assert (got == want).all()


def test_elect_sync_after_divergence():
    body = "mov.u32 %r6, 99;" + DIVERGE + "elect.sync %r6|%p4, -1; selp.u32 %r7, 256, 0, %p4; or.b32 %r6, %r6, %r7; SKIP: " + STORE
    got = run(body, VALS)
    lanes = np.arange(N)
    want = np.where(lanes % 2 == 0, np.where(lanes % 32 == 0, 256, 0), 99)
    np.testing.assert_array_equal(got, want)


# each lane names its own 8-lane tile (cooperative groups' thread_block_tile<8>): mask = 0xff << (lane & ~7)
TILE = "mov.u32 %r20, %laneid; and.b32 %r21, %r20, -8; mov.u32 %r22, 255; shl.b32 %r23, %r22, %r21;"


def _tiles(fn):
    return np.concatenate([[fn(t, VALS[t - t % 8:t - t % 8 + 8], t - t % 8) for t in LANES]]).astype(np.uint32)


@pytest.mark.parametrize("instr, ref", [
    ("redux.sync.max.u32 %r6, %r5, %r23;", lambda t, v, b: v.max()),
    ("redux.sync.add.u32 %r6, %r5, %r23;", lambda t, v, b: v.sum()),
    ("and.b32 %r7, %r5, 4; setp.ne.u32 %p2, %r7, 0; vote.sync.ballot.b32 %r6, %p2, %r23;",
     lambda t, v, b: sum(1 << ((b + j) % 32) for j in range(8) if v[j] & 4)),
    ("and.b32 %r7, %r5, 4; setp.ne.u32 %p2, %r7, 0; vote.sync.any.pred %p3, %p2, %r23; selp.u32 %r6, 1, 0, %p3;",
     lambda t, v, b: int(any(v & 4))),
    ("shr.u32 %r7, %r0, 4; match.any.sync.b32 %r6, %r7, %r23;",  # one value per 16 lanes: the tile is one group
     lambda t, v, b: 0xFF << (b % 32)),
    ("elect.sync %r6|%p3, %r23;", lambda t, v, b: b % 32),
])
def test_collectives_over_per_lane_tile_masks(instr, ref):
    got = run(LOAD + TILE + instr + STORE, VALS)
    np.testing.assert_array_equal(got, _tiles(ref))
