"""Kernel-aware occupancy and launch checks from Resources."""

from __future__ import annotations

import pytest

from sass_lab.hw.arch import arch_info
from sass_lab.hw.launch import default_threads, kernel_occupancy, launch_problems
from sass_lab.hw.resources import Resources

KB = 1024


def test_reqntid_fixes_block():
    r = Resources(registers=64, reqntid=(128, 2, 1), max_threads=256)
    assert default_threads(r) == 256
    assert kernel_occupancy("sm_90", r).blocks_per_sm == 4
    bad = kernel_occupancy("sm_90", r, threads=128)
    assert bad.blocks_per_sm == 0 and bad.limiters == ("threads",)
    assert launch_problems("sm_90", r, 128)[0].fatal


def test_maxntid_caps_block():
    r = Resources(registers=32, max_threads=256)
    assert kernel_occupancy("sm_90", r).block == 256
    assert kernel_occupancy("sm_90", r, threads=512).blocks_per_sm == 0
    assert any("exceeds" in p.what for p in launch_problems("sm_90", r, 512))


def test_static_plus_dynamic_shared():
    r = Resources(registers=32, shared_static=16 * KB)
    assert kernel_occupancy("sm_90", r, 128, dynamic_shared=32 * KB).blocks_per_sm == 4  # 49 KB each
    assert kernel_occupancy("sm_90", r, 128).blocks_per_sm == 13  # 17 KB each: 228 // 17


@pytest.mark.parametrize("res, threads, dyn, fatal, needle", [
    (Resources(registers=32), 256, 0, None, None),
    (Resources(registers=32), 256, 60 * KB, False, "opt-in"),
    (Resources(registers=32), 256, 300 * KB, True, "shrink"),
    (Resources(registers=128), 1024, 0, True, "cap registers"),
    (Resources(registers=32, spill_stores=8, spill_loads=8), 128, 0, False, "live values"),
])
def test_launch_problems(res, threads, dyn, fatal, needle):
    probs = launch_problems("sm_90", res, threads, dyn)
    if fatal is None:
        assert probs == ()
    else:
        assert probs[0].fatal is fatal and needle in probs[0].what + probs[0].hint


def test_peak_fp32():
    # H200: 132 SMs × 128 lanes × 2 × 1.98 GHz ≈ 66.9 TFLOP/s
    assert arch_info("sm_90").peak_fp32_flops(132, 1.98e9) == pytest.approx(66.9e12, rel=1e-3)
    assert arch_info("sm_80").fp32_lanes_per_sm == 64
