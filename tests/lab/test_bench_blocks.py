"""tools/bench_blocks.py: the fused/unfused/PyTorch report (no GPU needed) and its exit without one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "bench_blocks.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("bench_blocks", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def row(n=32, fused=0.05, torch=0.12):
    return {"block": "convfirst", "size": dict(N=n, H=56, W=56, C=64), "fused_ms": fused, "unfused_ms": 0.09,
            "torch_ms": torch, "compile_ms": None, "fused_tflops": 150.0, "fused_eff": 0.15, "fused_gbs": 500.0,
            "waterline_fused_us": 8.7, "waterline_unfused_us": 49.9, "max_rel_err": 1e-4}


def test_markdown_rows_and_goal(tool):
    md = tool.markdown([row(1), row(), {"block": "mbconv", "size": dict(N=8, H=28, W=28, C=128),
                                        "error": "boom"}], {"date": "d", "device": "GPU"})
    assert "| convfirst | 32×56×56×64 | 50.0 | 90.0 | 120.0 | - | 2.40× |" in md
    assert "error: boom" in md and "Goal" in md and "2.40× — met" in md
    assert "not met" in tool.markdown([row(torch=0.08)], {})


def test_no_gpu_exit_3(tool, capsys, monkeypatch):
    import sass_lab.runtime as rt
    from sass_lab.errors import NoGPUError

    def nogpu():
        raise NoGPUError("no CUDA driver")
    monkeypatch.setattr(rt, "require_gpu", nogpu)
    assert tool.main(["--out", "/nonexistent-never-written"]) == 3
    assert "no CUDA driver" in capsys.readouterr().err
