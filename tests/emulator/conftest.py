"""Fixtures for the emulator tests: committed PTX, and the same kernels recompiled when nvcc exists."""

from __future__ import annotations

import dataclasses
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from ptxkit import DATA, committed_ptx

from sass_lab.hw.tensormap import TensorMap

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


# ------------------------------------------------------------------------- wave-size invariance
#
# Every emulate() call made by a test in this directory runs again at other wave sizes (one block per
# wave, a few blocks per wave, the default 65536 lanes), on copies of the original arguments: the
# outputs must be bit-identical and the findings (or the error) the same. Lanes of different blocks
# share one wave, so any block mix-up (e.g. reading another block's shared memory) shows up here.

WAVE_SIZES = (32, 1000, 1 << 16)
AUDIT = {"calls": 0, "tests": set(), "skipped": 0}  # summed up at the end of the run (pytest -rA shows it)


def _snapshot(args):
    memo: dict[int, np.ndarray] = {}  # the same array passed twice stays one array

    def cp(v):
        if isinstance(v, TensorMap):  # its array is memory the kernel may write: copy it too
            return dataclasses.replace(v, array=cp(v.array))
        if not isinstance(v, np.ndarray):
            return v
        if id(v) not in memo:
            memo[id(v)] = v.copy()
        return memo[id(v)]
    if isinstance(args, dict):
        return {k: cp(v) for k, v in args.items()}
    return [cp(a) for a in args]


def _arrays(args):
    vals = args.values() if isinstance(args, dict) else args
    return [a.array if isinstance(a, TensorMap) else a for a in vals if isinstance(a, np.ndarray | TensorMap)]


def _outcome(fn, args, **kw):
    from sass_lab.emulator import EmulatorCheckError
    from sass_lab.errors import EmulatorError
    try:
        rep = fn(args=args, **kw)
        return ("ok", _findings(rep.findings), sorted(rep.output.splitlines())), rep
    except EmulatorCheckError as e:
        return ("check", _findings(e.findings), sorted(e.report.output.splitlines()) if e.report else []), e
    except EmulatorError as e:
        return ("error", e.message), e


def _findings(fs):
    return sorted((f.kind, f.ptx_line, f.buffer or "", f.count, f.message) for f in fs)


@pytest.fixture(autouse=True)
def wave_size_audit(monkeypatch, request):
    from sass_lab.emulator import run

    if request.node.get_closest_marker("no_wave_audit"):
        yield
        return
    original = run._emulate

    def checked(ptx, kernel, grid, block, args, dynamic_shared, check, line_map, max_steps, wave_lanes, symbols=None,
                cluster=None, cooperative=False):
        kw = dict(ptx=ptx, kernel=kernel, grid=grid, block=block, dynamic_shared=dynamic_shared, check=check,
                  line_map=line_map, max_steps=max_steps, cluster=cluster, cooperative=cooperative)
        arrs = _arrays(args)
        if any(a is not b and np.shares_memory(a, b) for i, a in enumerate(arrs) for b in arrs[:i]):
            AUDIT["skipped"] += 1
            return original(args=args, wave_lanes=wave_lanes, symbols=symbols, **kw)
        AUDIT["calls"] += 1
        AUDIT["tests"].add(request.node.nodeid)
        before, sym_before = _snapshot(args), _snapshot(symbols or {})
        ref, result = _outcome(original, args, wave_lanes=wave_lanes, symbols=symbols, **kw)
        for w in WAVE_SIZES:
            if w == wave_lanes:
                continue
            mine, msym = _snapshot(before), _snapshot(sym_before)
            got, _ = _outcome(original, mine, wave_lanes=w, symbols=msym, **kw)
            assert got == ref, f"wave_lanes={w} vs {wave_lanes}: {got} != {ref}"
            for a, b in zip(_arrays(args) + _arrays(symbols or {}), _arrays(mine) + _arrays(msym)):
                assert a.tobytes() == b.tobytes(), f"wave_lanes={w} vs {wave_lanes}: outputs differ"
        if isinstance(result, Exception):
            raise result
        return result

    monkeypatch.setattr(run, "_emulate", checked)
    yield


def pytest_terminal_summary(terminalreporter):
    if AUDIT["calls"] or AUDIT["skipped"]:
        terminalreporter.write_line(
            f"wave-size audit: {AUDIT['calls']} emulate() calls in {len(AUDIT['tests'])} tests re-run at wave_lanes "
            f"{', '.join(map(str, WAVE_SIZES))}: outputs and findings identical; {AUDIT['skipped']} calls with "
            "overlapping argument arrays run once")
