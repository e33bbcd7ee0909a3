"""tools/bench_frontend.py runs end to end on a small generated kernel (no GPU needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "bench_frontend.py"


def test_bench_frontend_prints_ratios(capsys):
    spec = importlib.util.spec_from_file_location("bench_frontend", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    saxpy = Path(__file__).resolve().parents[2] / "kernels_asm" / "saxpy.sasm"
    assert mod.main(["--n", "300", "--repeat", "1", "--file", str(saxpy)]) == 0
    out = capsys.readouterr().out
    assert out.count("ratio ours / nvJitLink") == 2
    assert "generated (300)" in out
