"""Datasheet lookup, derived peaks, and the per-device cache of measured peaks (no GPU)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sass_lab.hw import peaks as pk
from sass_lab.lab import bench as lb


@pytest.mark.parametrize("name, fp32, bw, source", [
    ("NVIDIA H200", 66.9e12, 4.8e12, "datasheet"),
    ("NVIDIA H100 80GB HBM3", 66.9e12, 3.35e12, "datasheet"),
    ("NVIDIA H100 PCIe", 51.2e12, 2.0e12, "datasheet"),
    ("NVIDIA A100-SXM4-80GB", 19.5e12, 2.039e12, "datasheet"),
    ("NVIDIA A100-SXM4-40GB", 19.5e12, 1.555e12, "datasheet"),
])
def test_datasheet_rows(name, fp32, bw, source):
    p = pk.datasheet(name)
    assert (p.fp32_flops, p.bandwidth, p.source) == (fp32, bw, source)


def test_unknown_device_derives_from_attributes():
    # 132 SMs × 128 lanes × 2 × 1.98 GHz; 2 × 2.619 GHz × 5120 bits / 8
    p = pk.datasheet("Future GPU", sm_count=132, cc=(9, 0), clock_khz=1_980_000, mem_clock_khz=2_619_000,
                     bus_width=5120)
    assert p.source == "derived"
    assert p.fp32_flops == pytest.approx(132 * 128 * 2 * 1.98e9)
    assert p.bandwidth == pytest.approx(2 * 2.619e9 * 640)
    assert pk.datasheet("Old GPU", 80, (7, 0), 1_530_000).fp32_flops == pytest.approx(80 * 64 * 2 * 1.53e9)


def info(name="NVIDIA H200", drv=13000):
    return SimpleNamespace(name=name, sm_count=132, cc=(9, 0), clock_khz=1_980_000, mem_clock_khz=2_619_000,
                           bus_width=5120, driver_version=drv)


def test_datasheet_for_info_and_key():
    assert pk.datasheet_for(info()).bandwidth == 4.8e12
    assert pk.device_key(info()) != pk.device_key(info(drv=13010))


def test_cache_round_trip_and_merge(tmp_path):
    path = tmp_path / "sub" / "peaks.json"
    a = pk.Peaks(60e12, 4.2e12, "measured", "GPU A", when="2026-11-24")
    b = pk.Peaks(30e12, 1.0e12, "measured", "GPU B")
    assert pk.load_cached("a", path) is None
    pk.save_cached("a", a, path)
    pk.save_cached("b", b, path)
    assert pk.load_cached("a", path) == a and pk.load_cached("b", path) == b
    path.write_text("{not json")
    assert pk.load_cached("a", path) is None


def test_cache_path_respects_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert pk.cache_path() == tmp_path / "sass_lab" / "peaks.json"


def test_measured_uses_cache_unless_refresh(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []

    def fake_measure(timer=None, rep_ms=200.0):
        calls.append(timer)
        return pk.Peaks(55e12, 4.0e12, "measured", "NVIDIA H200")

    monkeypatch.setattr(lb, "measure", fake_measure)
    first = lb.measured(info())
    again = lb.measured(info())
    assert first == again and len(calls) == 1
    lb.measured(info(), refresh=True)
    assert len(calls) == 2


def test_rates_from():
    flops, bw = lb.rates_from(2e12, 40.0, 8e9, 2.0)
    assert flops == pytest.approx(50e12) and bw == pytest.approx(4e12)



@pytest.mark.parametrize("path", [lb.PEAK_FFMA, lb.PEAK_COPY], ids=lambda p: p.stem)
def test_peak_kernels_pass_on_the_emulator(path):
    from sass_lab.lab.verify import verify_sizes

    results = verify_sizes(path, emulate=True, seed=11)
    assert results and all(r.ok for r in results), [c.to_dict() for r in results for c in r.checks]


def test_peak_kernel_counts():
    from sass_lab.lab.spec import load_spec

    ffma = load_spec(lb.PEAK_FFMA)
    s = ffma.size
    threads = s["blocks"] * ffma.defines["BLOCK"]
    assert ffma.flops(s) == 2.0 * threads * s["iters"] * ffma.defines["UNROLL"] * ffma.defines["CHAINS"]
    copy = load_spec(lb.PEAK_COPY)
    assert copy.nbytes(copy.size) == 8.0 * copy.size["n"] and copy.flops(copy.size) == 0.0
    assert copy.nbytes(copy.size) > 8 * (60 << 20)  # far past the H200's 60 MB L2


@pytest.mark.parametrize("sms, blocks", [(132, 4224), (108, 3456), (0, 32)])
def test_ffma_size_fills_whole_waves(sms, blocks):
    assert lb.ffma_size(sms) == {"blocks": blocks, "iters": 256}
