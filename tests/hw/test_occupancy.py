"""The occupancy model against hand-computed cases (CUDA occupancy calculator arithmetic)."""

from __future__ import annotations

import pytest

from sass_lab.errors import UsageError
from sass_lab.hw.arch import ARCHS, arch_info
from sass_lab.hw.occupancy import best_carveout, limits, occupancy, occupancy_curves

KB = 1024


@pytest.mark.parametrize("arch, threads, regs, smem, blocks, pct, limiters", [
    # 64 regs × 32 = 2048/warp → 32 warps fit → 4 blocks of 8 warps
    ("sm_90", 256, 64, 0, 4, 50.0, ("registers",)),
    # 40 regs → 1280/warp → 51 warps, rounded to 48 (granularity 4) → 16 blocks of 3 warps
    ("sm_90", 96, 40, 0, 16, 75.0, ("registers",)),
    # 48 KB + 1 KB reserved per block → 228/49 = 4 blocks
    ("sm_90", 128, 32, 48 * KB, 4, 25.0, ("shared",)),
    # 1 warp per block: 32-block cap
    ("sm_90", 32, 16, 0, 32, 50.0, ("blocks",)),
    # 1024 threads: 2 blocks by warps and by registers (32 regs → 64 warps)
    ("sm_90", 1024, 32, 0, 2, 100.0, ("warps", "registers")),
    ("sm_90", 256, 32, 0, 8, 100.0, ("warps", "registers")),
    # too many regs / too much shared / too many threads → nothing runs
    ("sm_90", 256, 257, 0, 0, 0.0, ("registers",)),
    # cuda_occupancy.h allocates up to 256 registers/thread: 8192/warp × 8 warps = the whole file
    ("sm_90", 256, 256, 0, 1, 12.5, ("registers",)),
    # 255 regs × 288 threads: 9 warps round up to 12 for the per-block check → 98304 > 65536
    ("sm_90", 288, 255, 0, 0, 0.0, ("registers",)),
    ("sm_90", 1024, 128, 0, 0, 0.0, ("registers",)),
    ("sm_90", 256, 32, 228 * KB, 0, 0.0, ("shared",)),
    ("sm_90", 2048, 16, 0, 0, 0.0, ("threads",)),
    # sm_80: 164 KB; 40 KB + 1 KB = 41 KB → 4 blocks
    ("sm_80", 128, 32, 40 * KB, 4, 25.0, ("shared",)),
    # sm_86: 48 warps; 256 threads → 6 blocks by warps
    ("sm_86", 256, 32, 0, 6, 100.0, ("warps",)),
    # sm_89: 24 blocks cap; 64 threads → 24 blocks, 48 warps
    ("sm_89", 64, 16, 0, 24, 100.0, ("warps", "blocks")),
    # sm_75: 32 warps, 16 blocks, no reserved shared; 32 KB blocks → 2
    ("sm_75", 128, 32, 32 * KB, 2, 25.0, ("shared",)),
    ("sm_75", 32, 16, 0, 16, 50.0, ("blocks",)),
    # sm_70: 96 KB, no reserve: 24 KB → 4 blocks
    ("sm_70", 256, 32, 24 * KB, 4, 50.0, ("shared",)),
    # sm_90a uses sm_90's table
    ("sm_90a", 256, 64, 0, 4, 50.0, ("registers",)),
])
def test_cases(arch, threads, regs, smem, blocks, pct, limiters):
    occ = occupancy(arch, threads, regs, smem)
    assert (occ.blocks_per_sm, occ.percent, occ.limiters) == (blocks, pct, limiters)
    assert occ.warps_per_sm == blocks * -(-threads // 32)
    assert occ.to_dict()["limiters"] == list(limiters)


def test_partial_warp_counts_whole_warp():
    assert occupancy("sm_90", 33, 32, 0).warps_per_sm == occupancy("sm_90", 64, 32, 0).warps_per_sm


def test_shared_rounding_includes_reserved():
    # 1 byte + 1 KB reserved rounds to 1152 (unit 128) → 233472 // 1152 = 202 → capped at 32 blocks
    assert limits("sm_90", 32, 16, 1)["shared"] == 228 * KB // 1152
    # exactly 227 KB is allowed (opt-in max), one byte more is not
    assert occupancy("sm_90", 128, 32, 227 * KB).blocks_per_sm == 1
    assert occupancy("sm_90", 128, 32, 227 * KB + 1).blocks_per_sm == 0


def test_carveout_choice():
    # a 100 KB carveout fits 2 blocks of 48 KB + 1 KB; the smallest carveout giving 4 blocks is 196 KB
    assert occupancy("sm_90", 128, 32, 48 * KB, carveout=100 * KB).blocks_per_sm == 2
    assert best_carveout("sm_90", 128, 32, 48 * KB) == 196 * KB
    # 128 threads × 32 regs: 16 blocks by registers, each with 1 KB reserved → 16 KB
    assert best_carveout("sm_90", 128, 32, 0) == 16 * KB


@pytest.mark.parametrize("args", [(0, 32, 0), (128, -1, 0), (128, 32, -5)])
def test_bad_queries(args):
    with pytest.raises(UsageError):
        occupancy("sm_90", *args)


def test_unknown_arch():
    with pytest.raises(UsageError):
        occupancy("sm_61", 128, 32, 0)


def test_curves():
    c = occupancy_curves("sm_90", 256, 64, 0)
    regs = dict(c.vs_registers)
    assert len(regs) == 255 and regs[64] == 4 and regs[32] == 8 and regs[255] == 1
    assert all(a >= b for (_, a), (_, b) in zip(c.vs_registers, c.vs_registers[1:]))  # monotone
    block = dict(c.vs_block)
    assert list(block)[:2] == [32, 64] and list(block)[-1] == 1024 and block[256] == 4
    assert c.vs_shared[0] == (0, 4) and c.vs_shared[-1][1] <= 1
    assert all(a >= b for (_, a), (_, b) in zip(c.vs_shared, c.vs_shared[1:]))


@pytest.mark.parametrize("arch", list(ARCHS))
def test_arch_table_consistency(arch):
    a = arch_info(arch)
    assert a.max_threads_per_sm == 32 * a.max_warps_per_sm
    assert a.shared_per_sm == a.carveouts[-1]
    assert a.max_shared_per_block + a.reserved_shared_per_block <= a.shared_per_sm
    assert a.reserved_shared_per_block == (0 if a.capability < (8, 0) else KB)


@pytest.mark.parametrize("arch, barriers, blocks, limiters", [
    ("sm_90", 0, 32, ("blocks",)),
    ("sm_90", 2, 32, ("blocks", "barriers")),  # 64 // 2 = 32
    ("sm_90", 4, 16, ("barriers",)),
    ("sm_90", 16, 4, ("barriers",)),
    ("sm_80", 16, 32, ("blocks",)),  # the barrier limit applies from Hopper on
])
def test_barrier_limit(arch, barriers, blocks, limiters):
    occ = occupancy(arch, 32, 16, 0, barriers=barriers)
    assert (occ.blocks_per_sm, occ.limiters) == (blocks, limiters)


def test_opt_in_and_carveout_alignment():
    assert occupancy("sm_90", 128, 32, 60 * KB).blocks_per_sm == 3
    no = occupancy("sm_90", 128, 32, 60 * KB, opt_in=False)
    assert no.blocks_per_sm == 0 and no.limiters == ("shared",)
    assert occupancy("sm_90", 128, 32, 47 * KB, opt_in=False).blocks_per_sm == 4
    # a 8 KB preference cannot hold one 61 KB block: the driver moves to the 64 KB carveout
    assert occupancy("sm_90", 128, 32, 60 * KB, carveout=8 * KB).blocks_per_sm == 1


def test_curves_with_barriers():
    c = occupancy_curves("sm_90", 32, 16, 0, barriers=8)
    assert dict(c.vs_registers)[16] == 8  # 64 // 8 barrier-limited


def test_max_potential_block_size():
    from sass_lab.hw.occupancy import max_potential_block_size

    # 40 regs: 1280/warp → 48 warps/SM; 768 threads × 2 blocks = 1536 threads, the first (largest) best
    s = max_potential_block_size("sm_90", 40, sms=132)
    assert (s.block, s.blocks_per_sm, s.min_grid, s.occupancy.percent) == (768, 2, 264, 75.0)
    # per-thread dynamic shared memory: 256 B/thread → 1024 threads need 256 KB: too big
    per_thread = max_potential_block_size("sm_90", 32, dynamic_shared=lambda t: 256 * t)
    assert per_thread.block * 256 <= 227 * KB and per_thread.blocks_per_sm >= 1
    assert max_potential_block_size("sm_90", 300).block == 0  # nothing fits
