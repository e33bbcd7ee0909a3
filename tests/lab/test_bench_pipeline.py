"""time_spec / bench_file end to end on the fake driver (host memory as device memory, 1 ms per launch)."""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from types import SimpleNamespace

import cuda.bindings
import numpy as np
import pytest

import sass_lab.api
from sass_lab import ir
from sass_lab.hw.resources import Resources
from sass_lab.lab.bench import BenchConfig, VerifyFailed, bench_file, time_spec
from sass_lab.lab.spec import resolved_defines
from sass_lab.runtime import driver as drv_mod

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
from runtime_fakes import FakeDriver, f32_view  # noqa: E402

SAXPY_FILE = Path(__file__).resolve().parents[2] / "kernels_asm" / "saxpy.sasm"
PARAMS = (ir.Param("y", "u64"), ir.Param("x", "u64"), ir.Param("a", "f32"), ir.Param("n", "u32"))


def saxpy(values, grid, block, shm):
    y, x = struct.unpack("<Q", values[0])[0], struct.unpack("<Q", values[1])[0]
    (a,), (n,) = struct.unpack("<f", values[2]), struct.unpack("<I", values[3])
    f32_view(y, n)[:] = np.float32(a) * f32_view(x, n) + f32_view(y, n)


def broken(values, grid, block, shm):
    y = struct.unpack("<Q", values[0])[0]
    (n,) = struct.unpack("<I", values[3])
    f32_view(y, n)[n // 2] = 123.0


class Mod(dict):
    @property
    def kernels(self):
        return self


@pytest.fixture
def fake_gpu(monkeypatch, tmp_path):
    def setup(body):
        d = FakeDriver({"saxpy": ((8, 8, 4, 4), body)})
        monkeypatch.setattr(cuda.bindings, "driver", d, raising=False)
        monkeypatch.setattr(drv_mod, "_CONTEXTS", {})
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        k = SimpleNamespace(name="saxpy", cubin=b"x", params=PARAMS, resources=Resources(registers=16))

        def fake_assemble(path, arch, defines=None, **_):
            mod = Mod(saxpy=k)
            mod.defines = resolved_defines(Path(path).read_text(), str(path), defines or {})
            return mod

        monkeypatch.setattr(sass_lab.api, "assemble_file", fake_assemble)
        return d
    return setup


def test_time_spec_verifies_rotates_and_times(fake_gpu):
    d = fake_gpu(saxpy)
    r = time_spec(SAXPY_FILE, {"n": 1000}, cfg=BenchConfig(seed=1), peaks=False)
    assert r.kernel == "saxpy" and r.device == "NVIDIA H200" and r.size == {"n": 1000}
    assert r.max_rel_err is not None and r.max_rel_err < 1e-6
    t = r.timing
    assert t.sets == 8  # 8 KB of inputs against a 50 MB L2: rotate the most sets allowed
    assert t.stats.median == pytest.approx(1.0) and t.reps == 100 and t.warmup == 25
    flushes = [c[1] for c in d.calls if c[0] == "memset"]
    assert len(flushes) == 5 + t.reps and min(flushes) >= 2 * (50 << 20)  # estimate + each timed run
    assert r.figures is not None and r.figures.flops_vs_datasheet == pytest.approx(2000 / 1e-3 / 66.9e12)
    assert r.figures.flops_vs_measured is None  # nothing cached, nothing measured
    assert d.mem == {}  # inputs, flush buffer: all freed


def test_bench_file_columns_for_the_tuner(fake_gpu):
    fake_gpu(saxpy)
    cols = bench_file(SAXPY_FILE, size={"n": 4096}, cfg=BenchConfig(rotate=2, flush_l2=False))
    assert cols["verified"] == "pass" and cols["median_s"] == pytest.approx(1e-3)
    assert cols["flop_s"] == pytest.approx(2 * 4096 / 1e-3) and cols["extra"]["input_sets"] == 2


def test_wrong_kernel_is_not_timed(fake_gpu):
    d = fake_gpu(broken)
    with pytest.raises(VerifyFailed, match="output 'y'"):
        time_spec(SAXPY_FILE, {"n": 1000}, peaks=False)
    assert d.mem == {}
    cols = bench_file(SAXPY_FILE, size={"n": 1000})
    assert cols["verified"] == "fail" and cols["max_rel_err"] > 1e-3 and "not timed" in cols["error"]


def test_graph_replay_path(fake_gpu):
    d = fake_gpu(saxpy)
    r = time_spec(SAXPY_FILE, {"n": 512}, cfg=BenchConfig(graph=True, rotate=3, flush_l2=False), peaks=False)
    graphs = [c for c in d.calls if c[0] == "graph"]
    launches = [c for c in d.calls if c[0] == "launch"]
    assert r.timing.graph and r.timing.sets == 3
    assert len(graphs) == 1 + 5 + r.timing.warmup + r.timing.reps  # every run after verify is a replay
    assert len(launches) == 1 + len(graphs)  # the verify launch, then one kernel per replay
    assert r.stats.median == pytest.approx(1.0)
    assert d.graphs_alive == 0 and d.mem == {}


def test_bench_candidate_takes_the_tuners_argument_order(monkeypatch):
    """The tuner calls ``bench(path, arch, defines, size)``; bench_file's order is (path, arch, size,
    defines). Handing bench_file itself to the tuner swapped them ("unknown define 'n'" on every GPU);
    the tuner's GPU path end to end: tests/lab/test_tune_gpu.py, run by the rehearsal."""
    from sass_lab.lab import bench as lb

    seen = {}

    def fake_bench_file(path, arch=None, size=None, defines=None, *a, **k):
        seen.update(size=size, defines=defines)
        return {"verified": "pass"}

    monkeypatch.setattr(lb, "bench_file", fake_bench_file)
    lb.bench_candidate("k.sasm", "sm_90", {"BLOCK": 128}, {"n": 3000})
    assert seen == {"size": {"n": 3000}, "defines": {"BLOCK": 128}}
