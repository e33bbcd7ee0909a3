"""The stand-in driver (tests/standin/cuda_standin.py) catches the real driver's mistakes; the old fake
(runtime_fakes.FakeDriver) let each of them pass. Every case is planted once and seen to fail."""

from __future__ import annotations

import ctypes
from types import SimpleNamespace

import cuda.bindings
import numpy as np
import pytest
from cuda.bindings import driver as real
from cuda_standin import StandIn, install
from runtime_fakes import FakeDriver

import sass_lab as sl
import sass_lab.runtime as rt
from sass_lab import ir
from sass_lab.errors import CudaError
from sass_lab.paths import KERNELS
from sass_lab.runtime import driver as drv_mod
from sass_lab.toolchain import compile as toolchain

KB = 1024


def compile_ptx(ptx: str, arch: str):
    return toolchain.compile_ptx(ptx, arch)  # looked up at call time: the stand-in's hook records the PTX


@pytest.fixture
def standin(monkeypatch):
    """The stand-in as cuda.bindings.driver for this test (the PTX of compiled cubins is known)."""
    import sys

    d = StandIn(max_threads=1 << 12)
    monkeypatch.setitem(sys.modules, "cuda.bindings.driver", d)
    monkeypatch.setattr(cuda.bindings, "driver", d, raising=False)
    monkeypatch.setattr(drv_mod, "_CONTEXTS", {})
    install(d)
    return d


def ready(d) -> tuple:
    """cuInit, device 0, its primary context made current."""
    d.cuInit(0)
    _, dev = d.cuDeviceGet(0)
    _, ctx = d.cuDevicePrimaryCtxRetain(dev)
    d.cuCtxSetCurrent(ctx)
    return dev, ctx


def ptx_kernel(body: str, params: str = ".param .u64 p", shared: int = 0, name: str = "k") -> str:
    decl = f"\t.shared .align 4 .b8 buf[{shared}];\n" if shared else ""
    use = "\tst.shared.u32 [buf], 1;\n" if shared else ""
    return (f".version 9.0\n.target sm_90\n.address_size 64\n.visible .entry {name}({params})\n{{\n"
            f"{decl}{body}{use}\tret;\n}}\n")


PTR = (ir.Param("p", "u64"),)


def kernel_of(ptx: str, name: str = "k", params=PTR):
    c = compile_ptx(ptx, "sm_90")
    return SimpleNamespace(name=name, cubin=c.cubin, params=params, resources=c.resources[name], arch="sm_90")


def load(d, ptx: str, name: str = "k"):
    c = compile_ptx(ptx, "sm_90")
    _, mod = d.cuModuleLoadData(c.cubin)
    err, fn = d.cuModuleGetFunction(mod, name.encode())
    assert err == d.CUresult.CUDA_SUCCESS
    return fn


# ---------------------------------------------------------------------------------- types


def test_enums_and_handles_are_the_real_types(standin):
    ready(standin)
    from cuda.bindings import driver as real  # noqa: F401 - the stand-in is what this import gives now

    assert standin.CUresult is drv_mod.driver().CUresult
    err, ptr = standin.cuMemAlloc(64)
    assert type(err).__name__ == "CUresult" and type(ptr).__name__ == "CUdeviceptr"


@pytest.mark.parametrize("call, exc", [
    (lambda d, fn: d.cuFuncSetAttribute(fn, 8, 1024), TypeError),            # an int for the enum
    (lambda d, fn: d.cuModuleGetFunction(real.CUmodule(), "k"), TypeError),      # str for char *
    (lambda d, fn: d.cuDeviceGetAttribute(real.CUdevice(0), 16), TypeError),     # arguments swapped
    (lambda d, fn: d.cuLaunchKernel(fn, 1.0, 1, 1, 32, 1, 1, 0, 0, 0, 0), TypeError),  # a float grid
    (lambda d, fn: d.cuLaunchKernel(fn, -1, 1, 1, 32, 1, 1, 0, 0, 0, 0), OverflowError),
    (lambda d, fn: d.cuLaunchKernel("k", 1, 1, 1, 32, 1, 1, 0, 0, 0, 0), TypeError),  # a name, not a handle
])
def test_wrong_argument_types_raise_like_the_binding(standin, call, exc):
    ready(standin)
    fn = load(standin, ptx_kernel(""))
    with pytest.raises(exc):
        call(standin, fn)
    old = FakeDriver({"k": ((), lambda *a: None)})
    try:
        call(old, "k")
    except exc:
        pytest.fail("the old fake caught this one too")
    except Exception:  # noqa: BLE001 - a Python slip of the fake (KeyError...), not the binding's answer
        pass


# ---------------------------------------------------------------------------------- state and order


def test_calls_need_init_and_a_current_context(standin):
    assert standin.cuMemAlloc(16)[0] == standin.CUresult.CUDA_ERROR_NOT_INITIALIZED
    standin.cuInit(0)
    assert standin.cuMemAlloc(16)[0] == standin.CUresult.CUDA_ERROR_INVALID_CONTEXT
    assert FakeDriver().cuMemAlloc(16)[0] == 0  # the old fake: fine without either


OOB = ptx_kernel("\t.reg .u64 a;\n\tld.param.u64 a, [p];\n\tst.global.u32 [a+4096], 7;\n")


def test_a_fault_is_sticky(standin):
    ready(standin)
    fn = load(standin, OOB)
    _, buf = standin.cuMemAlloc(16)
    arg = np.array([int(buf)], np.uint64)
    ptrs = np.array([arg.ctypes.data], np.uint64)
    assert standin.cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, 0, ptrs.ctypes.data, 0)[0] == 0  # launches fine
    bad = standin.CUresult.CUDA_ERROR_ILLEGAL_ADDRESS
    assert standin.cuCtxSynchronize()[0] == bad
    assert standin.cuCtxSynchronize()[0] == bad  # still: the context is lost
    assert standin.cuMemAlloc(16)[0] == bad and standin.cuMemFree(buf)[0] == bad
    old = FakeDriver({"k": ((), lambda *a: bad)})
    old.cuLaunchKernel("k", 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
    assert old.cuCtxSynchronize()[0] == bad and old.cuCtxSynchronize()[0] == 0  # the old fake forgot it


def test_kernels_complete_at_synchronize_not_at_launch(standin):
    ready(standin)
    fn = load(standin, ptx_kernel("\t.reg .u64 a;\n\tld.param.u64 a, [p];\n\tst.global.u32 [a], 7;\n"))
    _, buf = standin.cuMemAlloc(4)
    _, stream = standin.cuStreamCreate(1)  # non-blocking: a synchronous copy does not wait for it
    _, start = standin.cuEventCreate(0)
    _, end = standin.cuEventCreate(0)
    arg = np.array([int(buf)], np.uint64)
    ptrs = np.array([arg.ctypes.data], np.uint64)
    standin.cuEventRecord(start, stream)
    standin.cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, stream, ptrs.ctypes.data, 0)
    standin.cuEventRecord(end, stream)
    assert standin.pending() == 3
    assert standin.cuEventElapsedTime(start, end)[0] == standin.CUresult.CUDA_ERROR_NOT_READY  # no sync yet
    out = np.zeros(1, np.uint32)
    standin.cuMemcpyDtoH(out.ctypes.data, buf, 4)
    assert out[0] == 0  # the kernel has not run: a missing synchronize shows
    standin.cuStreamSynchronize(stream)
    standin.cuMemcpyDtoH(out.ctypes.data, buf, 4)
    assert out[0] == 7 and standin.cuEventElapsedTime(start, end)[1] > 0


def test_a_missing_event_synchronize_in_timing_shows(standin, monkeypatch):
    """Planted: elapsed_ms without cuEventSynchronize. The stand-in refuses; the old fake answered."""
    from sass_lab.runtime import memory

    rt.context()
    monkeypatch.setattr(memory, "elapsed_ms", lambda a, b: float(memory.check(
        memory.driver().cuEventElapsedTime(a, b), "cuEventElapsedTime")))
    a, b = memory.event(), memory.event()
    memory.record(a)
    memory.record(b)
    with pytest.raises(CudaError, match="NOT_READY"):
        memory.elapsed_ms(a, b)


# ---------------------------------------------------------------------------------- launch limits


@pytest.mark.parametrize("grid, block, code", [
    ((1, 1, 1), (1025, 1, 1), "CUDA_ERROR_INVALID_VALUE"),
    ((1, 1, 1), (32, 32, 2), "CUDA_ERROR_INVALID_VALUE"),
    ((1, 65536, 1), (32, 1, 1), "CUDA_ERROR_INVALID_VALUE"),
    ((0, 1, 1), (32, 1, 1), "CUDA_ERROR_INVALID_VALUE"),
])
def test_geometry_limits(standin, grid, block, code):
    ready(standin)
    fn = load(standin, ptx_kernel("", params=""))
    assert standin.cuLaunchKernel(fn, *grid, *block, 0, 0, 0, 0)[0].name == code
    old = FakeDriver({"k": ((), lambda *a: None)})
    assert old.cuLaunchKernel("k", *grid, *block, 0, 0, 0, 0)[0] == 0


def test_registers_times_threads(standin):
    ready(standin)
    live = 120
    regs = ", ".join(f"v{i}" for i in range(live))
    body = ("\t.reg .u64 a;\n\t.reg .f32 " + regs + ";\n\tld.param.u64 a, [p];\n"
            + "".join(f"\tld.volatile.global.f32 v{i}, [a+{4 * i}];\n" for i in range(live))
            + "".join(f"\tst.volatile.global.f32 [a+{4 * i}], v{live - 1 - i};\n" for i in range(live)))
    c = compile_ptx(ptx_kernel(body), "sm_90")
    r = c.resources["k"]
    assert r.registers > 64
    _, mod = standin.cuModuleLoadData(c.cubin)
    _, fn = standin.cuModuleGetFunction(mod, b"k")
    _, buf = standin.cuMemAlloc(4 * live)
    arg = np.array([int(buf)], np.uint64)
    ptrs = np.array([arg.ctypes.data], np.uint64)
    res = standin.cuLaunchKernel(fn, 1, 1, 1, 1024, 1, 1, 0, 0, ptrs.ctypes.data, 0)
    assert res[0] == standin.CUresult.CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES
    assert standin.cuFuncGetAttribute(standin.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, fn)[1] < 1024


def test_shared_memory_needs_the_opt_in_for_static_plus_dynamic(standin):
    ready(standin)
    fn = load(standin, ptx_kernel("", params="", shared=16 * KB))
    attr = standin.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    assert standin.cuFuncGetAttribute(attr, fn)[1] == 32 * KB  # 48 KB - static
    inval = standin.CUresult.CUDA_ERROR_INVALID_VALUE
    assert standin.cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 40 * KB, 0, 0, 0)[0] == inval  # 56 KB, no opt-in
    assert standin.cuFuncSetAttribute(fn, attr, 227 * KB - 16 * KB + 1)[0] == inval      # over the opt-in
    assert standin.cuFuncSetAttribute(fn, attr, 40 * KB)[0] == 0
    assert standin.cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 40 * KB, 0, 0, 0)[0] == 0
    old = FakeDriver({"k": ((), lambda *a: None)})
    assert old.cuLaunchKernel("k", 1, 1, 1, 32, 1, 1, 40 * KB, 0, 0, 0)[0] == 0


def test_runtime_opts_in_when_static_plus_dynamic_exceed_48k(standin):
    """The defect: the opt-in was asked only when the dynamic part alone passed 48 KB."""
    k = kernel_of(ptx_kernel("", params="", shared=16 * KB), params=())
    rt.launch(k, 1, 32, dynamic_shared=40 * KB)
    sets = [c for c in standin.calls if c[0] == "cuFuncSetAttribute"]
    assert sets and sets[-1][3] == 40 * KB
    assert rt.max_active_blocks(k, 32, 40 * KB) > 0


def test_cubin_for_another_arch_does_not_load(standin):
    ready(standin)
    c = compile_ptx(ptx_kernel("", params="").replace("sm_90", "sm_80"), "sm_80")
    assert standin.cuModuleLoadData(c.cubin)[0] == standin.CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU
    assert FakeDriver().cuModuleLoadData(c.cubin)[0] == 0


# ---------------------------------------------------------------------------------- memory


def test_device_pointers_are_not_host_memory(standin):
    ready(standin)
    _, a = standin.cuMemAlloc(64)
    _, b = standin.cuMemAlloc(64)
    inval = standin.CUresult.CUDA_ERROR_INVALID_VALUE
    assert standin.cuMemcpyHtoD(a, int(b), 64)[0] == inval  # a device pointer as the host source
    host = np.zeros(128, np.uint8)
    assert standin.cuMemcpyHtoD(a, host.ctypes.data, 128)[0] == inval  # past the allocation
    assert standin.cuMemFree(a)[0] == 0 and standin.cuMemFree(a)[0] == inval  # twice
    old = FakeDriver()
    _, p = old.cuMemAlloc(64)
    old.cuMemFree(p)
    with pytest.raises(KeyError):  # the old fake: a Python error, not the driver's answer
        old.cuMemFree(p)


def test_graph_capture_refuses_the_legacy_stream(standin):
    ready(standin)
    mode = standin.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL
    assert standin.cuStreamBeginCapture(0, mode)[0] == standin.CUresult.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED
    assert FakeDriver().cuStreamBeginCapture(0, mode)[0] == 0


def test_occupancy_is_the_headers_answer(standin):
    occupancy_header = pytest.importorskip("occupancy_header")
    if occupancy_header.missing():
        pytest.skip(occupancy_header.missing())
    k = sl.assemble_file(KERNELS / "sgemm_tiled.sasm")["sgemm_tiled"]
    for threads in (64, 128, 256):
        assert rt.max_active_blocks(k, threads) == k.occupancy(threads).blocks_per_sm
    old = FakeDriver({"sgemm_tiled": ((), None)})
    assert old.cuOccupancyMaxActiveBlocksPerMultiprocessor("sgemm_tiled", 1024, 0)[1] == 2  # regardless


# ---------------------------------------------------------------------------------- the runtime on it


def test_a_fault_is_reported_not_the_cleanup_after_it(standin):
    """The defect: cuMemFree in ``finally`` raised on the broken context and hid the illegal address."""
    k = kernel_of(OOB)
    with pytest.raises(CudaError) as e:
        rt.launch(k, 1, 1, np.zeros(4, np.float32))
    assert "CUDA_ERROR_ILLEGAL_ADDRESS" in e.value.message and "'k' failed" in e.value.message
    assert "cuMemFree" not in e.value.message


def test_shipped_kernel_runs_on_the_stand_in(standin):
    k = sl.assemble_file(KERNELS / "saxpy.sasm")["saxpy"]
    x = np.arange(300, dtype=np.float32)
    y = np.ones(300, np.float32)
    k.launch(2, 256, y, x, np.float32(3), np.uint32(300))
    np.testing.assert_allclose(y, 3 * x + 1)
    assert standin.not_executed == []


def test_launch_too_large_is_counted_not_run(standin):
    k = sl.assemble_file(KERNELS / "saxpy.sasm")["saxpy"]
    n = 1 << 15
    y = np.zeros(n, np.float32)
    k.launch(n // 1024, 256, y, np.ones(n, np.float32), np.float32(1), np.uint32(n))
    assert standin.not_executed and "too large" in standin.not_executed[0] and y[0] == 0


def test_kernel_params_tuple_form(standin):
    """cuLaunchKernel's ((values), (ctypes)) form, as tests/sass/test_sass_gpu.py uses it."""
    ready(standin)
    fn = load(standin, ptx_kernel("\t.reg .u64 a;\n\t.reg .u32 v;\n\tld.param.u64 a, [p];\n\tld.param.u32 v, [n];\n"
                              "\tst.global.u32 [a], v;\n", params=".param .u64 p, .param .u32 n"))
    _, buf = standin.cuMemAlloc(4)
    standin.cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, standin.CUstream(0), ((buf, 41), (None, ctypes.c_int)), 0)
    standin.cuCtxSynchronize()
    out = np.zeros(1, np.uint32)
    standin.cuMemcpyDtoH(out, buf, 4)
    assert out[0] == 41


def test_bench_keeps_our_timing_when_the_peer_fails(standin, monkeypatch):
    """A peer that cannot run (no torch/cupy with CUDA here) is reported in the result, not raised."""
    from sass_lab.errors import UsageError
    from sass_lab.lab import peers
    from sass_lab.lab.bench import BenchConfig, time_spec

    def no_lib(*a, **k):
        raise UsageError("no peer library: none of torch, cupy can be imported")

    monkeypatch.setattr(peers, "find_lib", no_lib)
    r = time_spec(KERNELS / "sgemm_tiled.sasm", {"M": 64, "N": 64, "K": 16}, cfg=BenchConfig(rep_ms=1, warmup_ms=1),
                  vs="cublas", peaks=False)
    assert r.stats.median > 0 and r.max_rel_err is not None and r.peer is None
    assert r.peer_error.startswith("no peer library") and r.to_dict()["peer_error"] == r.peer_error


def test_graph_timing_captures_on_its_own_stream(standin):
    """The harness's --graph path at a size the stand-in executes: captured on a stream of its own
    (the legacy stream cannot be captured), verified, replayed."""
    from sass_lab.lab.bench import BenchConfig, time_spec

    r = time_spec(KERNELS / "saxpy.sasm", {"n": 4096}, cfg=BenchConfig(rep_ms=1, warmup_ms=1, graph=True),
                  peaks=False)
    assert r.timing.graph and r.stats.median > 0 and r.max_rel_err is not None
    assert any(c[0] == "cuGraphLaunch" for c in standin.calls) and standin.not_executed == []
