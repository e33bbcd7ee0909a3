"""A lab block's PEAK = "bf16" rates a tensor-core kernel against the dense bf16 datasheet rate (no GPU)."""

from __future__ import annotations

from types import SimpleNamespace

from sass_lab.hw import peaks as pk
from sass_lab.lab import bench as lb
from sass_lab.lab.spec import load_spec
from sass_lab.paths import KERNELS


def result(ms: float, flops: float):
    return SimpleNamespace(stats=SimpleNamespace(median=ms), flops=flops, nbytes=0.0, peer=None, peaks={},
                           figures=None)


def test_bf16_kernels_are_rated_against_the_bf16_peak(monkeypatch):
    info = SimpleNamespace(name="NVIDIA H200", sm_count=132, cc=(9, 0), clock_khz=1_980_000,
                           mem_clock_khz=2_619_000, bus_width=5120, driver_version=13000)
    monkeypatch.setattr(lb, "load_cached", lambda key: pk.Peaks(60e12, 4e12, "measured", "NVIDIA H200"))
    sheet = pk.datasheet("NVIDIA H200")
    assert sheet.bf16_flops > 10 * sheet.fp32_flops
    r = result(1.0, 0.5 * sheet.bf16_flops * 1e-3)  # half the bf16 peak for 1 ms
    lb._add_figures(r, info, timer=None, measure=False, kind="bf16")
    assert abs(r.figures.flops_vs_datasheet - 0.5) < 1e-9 and r.figures.flops_vs_measured is None
    assert r.peaks["kind"] == "bf16"
    r = result(1.0, 0.5 * sheet.fp32_flops * 1e-3)
    lb._add_figures(r, info, timer=None, measure=False)
    assert abs(r.figures.flops_vs_datasheet - 0.5) < 1e-9 and r.figures.flops_vs_measured is not None


def test_the_gemm_declares_its_peak_and_peer():
    spec = load_spec(KERNELS / "gemm_bf16.sasm")
    assert spec.ns["PEAK"] == "bf16" and spec.peer_name == "cublas" and spec.peer() is not None
