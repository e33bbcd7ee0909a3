"""GPU step of the SASS work: patched cubins load, compute the same bits, and the FFMA-interleave
benchmark (patched vs unpatched SGEMM fixture). Skipped without a CUDA driver and GPU.

Run: ``pytest -m gpu tests/sass -s``; set ``SASS_LAB_BENCH_OUT=file.json`` to keep the timings.
"""

from __future__ import annotations

import ctypes
import json
import os
import statistics

import numpy as np
import pytest
from sass_fixtures import compile_fixture

from sass_lab.sass import interleave_cubin

FRACTIONS = (0.0, 0.25, 0.5, 1.0)
TILE = 128


def _ok(res):
    from cuda.bindings import driver as cu

    err, *rest = res if isinstance(res, tuple) else (res,)
    assert err == cu.CUresult.CUDA_SUCCESS, err
    return rest[0] if len(rest) == 1 else rest


def _context():
    from cuda.bindings import driver as cu

    _ok(cu.cuInit(0))
    dev = _ok(cu.cuDeviceGet(0))
    ctx = _ok(cu.cuDevicePrimaryCtxRetain(dev))
    _ok(cu.cuCtxSetCurrent(ctx))
    major = _ok(cu.cuDeviceGetAttribute(cu.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev))
    minor = _ok(cu.cuDeviceGetAttribute(cu.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev))
    return f"sm_{major}{minor}"


def run_sgemm(cubin: bytes, a: np.ndarray, b: np.ndarray, reps: int = 20) -> tuple[np.ndarray, list[float]]:
    """C = A·B with the fixture kernel ``sgemm`` (128×128 tiles, 256 threads); times in ms."""
    from cuda.bindings import driver as cu

    m, k = a.shape
    n = b.shape[1]
    c = np.zeros((m, n), np.float32)
    mod = _ok(cu.cuModuleLoadData(cubin))
    fn = _ok(cu.cuModuleGetFunction(mod, b"sgemm"))
    bufs = [_ok(cu.cuMemAlloc(x.nbytes)) for x in (a, b, c)]
    stream = cu.CUstream(0)
    try:
        _ok(cu.cuMemcpyHtoD(bufs[0], a.ctypes.data, a.nbytes))
        _ok(cu.cuMemcpyHtoD(bufs[1], b.ctypes.data, b.nbytes))
        args = ((bufs[0], bufs[1], bufs[2], m, n, k), (None, None, None, ctypes.c_int, ctypes.c_int, ctypes.c_int))

        def launch():
            _ok(cu.cuLaunchKernel(fn, n // TILE, m // TILE, 1, 256, 1, 1, 0, stream, args, 0))

        launch()
        _ok(cu.cuCtxSynchronize())
        start, end = _ok(cu.cuEventCreate(0)), _ok(cu.cuEventCreate(0))
        times = []
        for _ in range(reps):
            _ok(cu.cuEventRecord(start, stream))
            launch()
            _ok(cu.cuEventRecord(end, stream))
            _ok(cu.cuEventSynchronize(end))
            times.append(_ok(cu.cuEventElapsedTime(start, end)))
        _ok(cu.cuMemcpyDtoH(c.ctypes.data, bufs[2], c.nbytes))
        return c, times
    finally:
        for p in bufs:
            cu.cuMemFree(p)
        cu.cuModuleUnload(mod)


@pytest.mark.gpu
@pytest.mark.timing  # its figures are timings: tools/gpu_check.sh runs it alone on the GPU
def test_interleave_benchmark():
    arch = _context()
    cubin = compile_fixture("sgemm", "sm_90" if arch.startswith("sm_9") else "sm_80")
    rng = np.random.default_rng(0)
    m = n = k = 2048
    a = np.ascontiguousarray(rng.standard_normal((m, k), dtype=np.float32))
    b = np.ascontiguousarray(rng.standard_normal((k, n), dtype=np.float32))
    ref = a.astype(np.float64) @ b.astype(np.float64)
    results, base = [], None
    for f in FRACTIONS:
        p = interleave_cubin(cubin, f)
        c, times = run_sgemm(p.cubin, a, b)
        np.testing.assert_allclose(c, ref, rtol=1e-3, atol=1e-2)
        if base is None:
            base = c
        else:
            assert np.array_equal(c, base)  # control bits change timing, never results
        ms = statistics.median(times)
        results.append({"fraction": f, "changed": len(p.changes), "median_ms": ms,
                        "tflops": 2 * m * n * k / ms / 1e9})
    for r in results:
        print(f"interleave {r['fraction']:.2f}: {r['changed']:4d} words, {r['median_ms']:.3f} ms, "
              f"{r['tflops']:.2f} TFLOP/s")
    out = os.environ.get("SASS_LAB_BENCH_OUT")
    if out:
        with open(out, "w") as fh:
            json.dump({"arch": arch, "shape": [m, n, k], "results": results}, fh, indent=1)
