"""register_sweep: spills appear below the kernel's natural register count."""

from __future__ import annotations

import pytest
from ptx_fixtures import spill

from sass_lab.errors import UsageError
from sass_lab.toolchain.sweep import register_sweep, spill_free_minimum


def test_sweep_finds_the_spill_edge():
    pts = register_sweep(spill(48).replace("ARCH", "sm_90"), "sm_90", "spill", caps=(24, 40, 64, 255),
                         threads=256)
    assert [p.cap for p in pts] == [24, 40, 64, 255]
    assert all(p.registers <= p.cap for p in pts)
    assert pts[0].spill_stores > 0 and pts[-1].spill_stores == 0
    assert pts[0].blocks_per_sm >= pts[-1].blocks_per_sm  # fewer registers, at least as many blocks
    best = spill_free_minimum(pts)
    assert best is not None and best.spill_stores == 0 and best.cap in (64, 255)


def test_unknown_kernel():
    with pytest.raises(UsageError):
        register_sweep(spill(8).replace("ARCH", "sm_90"), "sm_90", "nope", caps=(255,))
