"""tools/bench_all.py: the markdown report from JSON results (no GPU needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sass_lab.hw.peaks import Peaks
from sass_lab.lab.bench import BenchResult, PeerResult, Timing, figures, summarize

TOOL = Path(__file__).resolve().parents[2] / "tools" / "bench_all.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("bench_all", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def result(flops=2e9, peer=True) -> dict:
    t = Timing(summarize([0.1, 0.2, 0.3]), (0.1, 0.2, 0.3), 1, 3, 0.2, False, True, 1)
    sheet, meas = Peaks(100e12, 4e12, "datasheet"), Peaks(50e12, 2e12, "measured")
    r = BenchResult("k.sasm", "k", "GPU", {"M": 8}, {}, (1, 1, 1), (1, 1, 1), flops, 1e8, t, 0.0,
                    figures(0.2, flops, 1e8, sheet, meas))
    if peer:
        r.peer = PeerResult("cuBLAS SGEMM (torch)", Timing(summarize([0.4]), (0.4,), 1, 1, 0.4, False, True, 1),
                            figures(0.4, flops, 1e8, sheet, meas))
    return r.to_dict()


def test_markdown_header_rows_and_failures(tool):
    meta = {"date": "2026-11-24 06:00 UTC", "versions": {"python": "3.12.3", "torch": "2.11.0"},
            "peaks": {"device": {"name": "NVIDIA H200", "driver": 13000, "arch": "sm_90", "sm_count": 132,
                                 "l2_bytes": 60 << 20},
                      "datasheet": Peaks(66.9e12, 4.8e12, "datasheet").to_dict(),
                      "measured": Peaks(60e12, 4.3e12, "measured").to_dict()}}
    entries = [{"file": "k.sasm", "results": [result()]},
               {"file": "copy.sasm", "results": [result(flops=0.0, peer=False)]},
               {"file": "bad.sasm", "error": "exit 1: error: boom"},
               {"file": "p.sasm", "results": [result(peer=False)], "peer_error": "no torch"}]
    md = tool.markdown(meta, entries)
    assert "## 2026-11-24 06:00 UTC — NVIDIA H200" in md and "CUDA 13000" in md and "torch 2.11.0" in md
    assert "measured peaks: FP32 60.0 TFLOP/s, memory 4300 GB/s" in md
    assert "| k | M=8 | 200.0 | 140.0–260.0 | 100.0 | 10.00 | 500 | 20.0% / 10.0% | 25.0% / 12.5% | 2.00x |" in md
    assert "| cuBLAS SGEMM (torch) | M=8 | 400.0 |" in md
    assert "| k | M=8 | 200.0 | 140.0–260.0 | 100.0 | - | 500 | - | 25.0% / 12.5% | - |" in md  # a copy
    assert "- bad.sasm: exit 1: error: boom" in md and "- p.sasm: peer: no torch" in md


def test_versions_lists_python(tool):
    assert "python" in tool.versions()
