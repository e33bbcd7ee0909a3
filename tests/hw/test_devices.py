"""Device datasheet table and wave arithmetic."""

from __future__ import annotations

import pytest

from sass_lab.errors import UsageError
from sass_lab.hw.arch import arch_info
from sass_lab.hw.devices import DEVICES, device, waves


def test_h200_peak_matches_references():
    h = device("h200")
    assert h.sms == 132 and h.arch == "sm_90"
    assert h.peak_fp32_flops == pytest.approx(66.9e12, rel=1e-3)  # 132 × 128 × 2 × 1.98 GHz
    assert 13 < h.ridge_flops_per_byte < 15


@pytest.mark.parametrize("name", list(DEVICES))
def test_every_device_has_a_known_arch(name):
    d = DEVICES[name]
    assert arch_info(d.arch).name == d.arch and d.sms > 0 and d.dram_bytes_per_s > 0


def test_unknown_device():
    with pytest.raises(UsageError):
        device("GTX480")


@pytest.mark.parametrize("blocks, per_sm, sms, full, tail, eff", [
    (264, 2, 132, 1, 0, 1.0),
    (265, 2, 132, 1, 1, 265 / 528),
    (100, 1, 132, 0, 100, 100 / 132),
    (0, 4, 132, 0, 0, 0.0),
])
def test_waves(blocks, per_sm, sms, full, tail, eff):
    w = waves(blocks, per_sm, sms)
    assert (w.full_waves, w.tail_blocks) == (full, tail)
    assert w.tail_efficiency == pytest.approx(eff)


def test_zero_slots_and_bad_input():
    assert waves(10, 0, 132).waves == float("inf")
    with pytest.raises(UsageError):
        waves(10, 1, 0)
