"""Fixtures for the emulator tests: committed PTX, and the same kernels recompiled when nvcc exists."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from ptxkit import DATA, committed_ptx

NVCC = shutil.which("nvcc")
FAST_MATH = {"softmax"}


@functools.cache
def compile_ptx(name: str, arch: str) -> str:
    """nvcc -ptx of data/<name>.cu for ``arch`` (once per test session)."""
    tmp = Path(tempfile.mkdtemp(prefix="emu-ptx-"))
    out = tmp / f"{name}.{arch}.ptx"
    cmd = [NVCC, "-ptx", f"-arch={arch}", str(DATA / f"{name}.cu"), "-o", str(out)]
    if name in FAST_MATH:
        cmd.insert(1, "-use_fast_math")
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return out.read_text()


SOURCES = ["committed-sm_80", "committed-sm_90", "nvcc-sm_80", "nvcc-sm_90"]


@pytest.fixture(params=SOURCES)
def ptx_source(request):
    """A function name → PTX text, from the committed files or a fresh nvcc compile."""
    kind, arch = request.param.split("-")
    if kind == "nvcc":
        if NVCC is None:
            pytest.skip("nvcc not installed")
        return lambda name: compile_ptx(name, arch)
    return lambda name: committed_ptx(name, arch)
