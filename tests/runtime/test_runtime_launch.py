"""The launch path against a fake driver: probe, context, module cache, copies, shared opt-in, errors."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import cuda.bindings
import numpy as np
import pytest
from runtime_fakes import CUresult, FakeDriver, f32_view

import sass_lab.runtime as rt
from sass_lab import ir
from sass_lab.errors import CudaError, NoGPUError, ResourceError, UsageError
from sass_lab.hw.resources import Resources
from sass_lab.runtime import driver as drv_mod
from sass_lab.runtime.launch import block_registers, check_geometry, dim3

SAXPY = (ir.Param("y", "u64"), ir.Param("x", "u64"), ir.Param("a", "f32"), ir.Param("n", "u32"))


def saxpy_body(values, grid, block, shm):
    y, x = struct.unpack("<Q", values[0])[0], struct.unpack("<Q", values[1])[0]
    (a,), (n,) = struct.unpack("<f", values[2]), struct.unpack("<I", values[3])
    yv, xv = f32_view(y, n), f32_view(x, n)
    yv[:] = np.float32(a) * xv + yv
    return None


def faulting_body(values, grid, block, shm):
    return CUresult.CUDA_ERROR_ILLEGAL_ADDRESS


def kernel(name="saxpy", params=SAXPY, **res):
    return SimpleNamespace(name=name, cubin=b"CUBIN:" + name.encode(), params=params,
                           resources=Resources(registers=32, **res))


@pytest.fixture
def fake(monkeypatch):
    d = FakeDriver({"saxpy": ((8, 8, 4, 4), saxpy_body), "bad": ((), faulting_body)})
    monkeypatch.setattr(cuda.bindings, "driver", d, raising=False)
    monkeypatch.setattr(drv_mod, "_CONTEXTS", {})
    return d


def test_launch_copies_in_and_back(fake):
    x = np.arange(10, dtype=np.float32)
    y = np.ones(10, np.float32)
    rt.launch(kernel(), 1, (32, 1), y, x, 2.0, 10)
    np.testing.assert_allclose(y, 2 * x + 1)
    assert fake.mem == {}  # every device copy freed
    assert [c for c in fake.calls if c[0] == "launch"] == [("launch", "saxpy", (1, 1, 1), (32, 1, 1), 0, 0)]


def test_launch_writes_back_into_non_contiguous_views(fake):
    big = np.zeros((10, 2), np.float32)
    x = np.full(10, 3.0, np.float32)
    rt.launch(kernel(), 1, 32, big[:, 1], x, 1.0, 10)
    np.testing.assert_array_equal(big[:, 1], 3.0)
    np.testing.assert_array_equal(big[:, 0], 0.0)


def test_read_only_inputs_are_not_written_back(fake):
    x = np.arange(4, dtype=np.float32)
    y = np.zeros(4, np.float32)
    y.flags.writeable = False
    rt.launch(kernel(), 1, 32, y, x, 1.0, 4)
    np.testing.assert_array_equal(y, 0.0)


def test_device_buffers_pass_as_pointers(fake):
    x = rt.to_device(np.arange(6, dtype=np.float32))
    y = rt.to_device(np.zeros(6, np.float32))
    rt.launch(kernel(), 1, 32, y, x, 3.0, 6)
    out = np.empty(6, np.float32)
    rt.copy_out(out, y.ptr)
    np.testing.assert_array_equal(out, 3 * np.arange(6))
    assert y.__cuda_array_interface__["shape"] == (6,)
    x.free()
    y.free()
    assert fake.mem == {}


def test_module_loaded_once_and_context_cached(fake):
    k = kernel()
    for _ in range(3):
        rt.launch(k, 1, 32, np.zeros(1, np.float32), np.zeros(1, np.float32), 1.0, 1)
    assert sum(c[0] == "load" for c in fake.calls) == 1
    assert rt.context() is rt.context()
    info = rt.device_info()
    assert info["name"] == "NVIDIA H200" and info["driver"] == 13000 and info["arch"] == "sm_90"
    assert info["l2_bytes"] == 50 << 20


@pytest.mark.parametrize("dyn, expect_attr", [(0, False), (48 << 10, False), (100 << 10, True)])
def test_dynamic_shared_opt_in(fake, dyn, expect_attr):
    rt.launch(kernel(), 1, 32, np.zeros(1, np.float32), np.zeros(1, np.float32), 1.0, 1, dynamic_shared=dyn)
    attrs = [c for c in fake.calls if c[0] == "attr"]
    assert bool(attrs) == expect_attr
    if expect_attr:
        assert attrs[0][2:] == ("maxdyn", 100 << 10)


@pytest.mark.parametrize("threads, dyn, blocks", [(256, 0, 8), (1024, 0, 2), (32, 100 << 10, 32)])
def test_max_active_blocks_asks_the_driver(fake, threads, dyn, blocks):
    assert rt.max_active_blocks(kernel(), threads, dyn) == blocks
    assert ("occupancy", "saxpy", threads, dyn) in fake.calls
    assert any(c[0] == "attr" for c in fake.calls) == (dyn > 48 << 10)


def test_kernel_fault_raises_cuda_error_with_driver_name(fake):
    with pytest.raises(CudaError, match="CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access") as e:
        rt.launch(kernel("bad", ()), 1, 1)
    assert "'bad'" in e.value.message and fake.mem == {}


def test_missing_kernel_in_cubin(fake):
    with pytest.raises(CudaError, match="CUDA_ERROR_NOT_FOUND"):
        rt.launch(kernel("nope", ()), 1, 1)


def test_reqntid_shape_checked_before_launch(fake):
    k = kernel(reqntid=(128,), max_threads=128)
    k.arch = "sm_90"
    with pytest.raises(ResourceError, match="reqntid"):
        rt.launch(k, 1, 64, np.zeros(1, np.float32), np.zeros(1, np.float32), 1.0, 1)
    rt.launch(k, 1, 128, np.zeros(1, np.float32), np.zeros(1, np.float32), 1.0, 1)


def test_argument_errors_come_before_any_allocation(fake):
    with pytest.raises(UsageError, match="'n'"):
        rt.launch(kernel(), 1, 32, np.zeros(1, np.float32), np.zeros(1, np.float32), 1.0, -1)
    assert fake.mem == {}


def test_refused_optional_attributes_read_zero(fake, monkeypatch):
    real = fake.cuDeviceGetAttribute

    def refusing(attr, dev):
        return (CUresult.CUDA_ERROR_INVALID_VALUE, 0) if attr.endswith("CLOCK_RATE") else real(attr, dev)

    monkeypatch.setattr(fake, "cuDeviceGetAttribute", refusing)
    info = rt.context().info
    assert info.clock_khz == 0 and info.mem_clock_khz == 0 and info.sm_count == 132


@pytest.mark.parametrize("init, count, match", [(CUresult.CUDA_ERROR_NO_DEVICE, 1, "cuInit failed"),
                                                (CUresult.CUDA_SUCCESS, 0, "reports no device")])
def test_probe_failures_are_no_gpu_errors(monkeypatch, init, count, match):
    monkeypatch.setattr(cuda.bindings, "driver", FakeDriver(count=count, init_error=init), raising=False)
    monkeypatch.setattr(drv_mod, "_CONTEXTS", {})
    with pytest.raises(NoGPUError, match=match):
        rt.context()
    assert rt.available() is False


def test_real_driver_without_libcuda_is_one_sentence():
    if rt.available():
        pytest.skip("a GPU is present")
    with pytest.raises(NoGPUError) as e:
        rt.probe()
    assert e.value.message.startswith("No CUDA GPU can be used") and e.value.message.count(". ") == 0


@pytest.mark.parametrize("grid, block, kw, err, match", [
    ((0, 1, 1), (32, 1, 1), {}, UsageError, r"grid.x = 0"),
    ((1, 70000, 1), (32, 1, 1), {}, UsageError, r"grid.y = 70000"),
    ((1, 1, 1), (32, 1, 65), {}, UsageError, r"block.z = 65"),
    ((1, 1, 1), (64, 32, 1), {}, ResourceError, "2048 threads"),
    ((1, 1, 1), (512, 1, 1), {"max_threads": 256}, ResourceError, "limit of 256"),
])
def test_check_geometry(grid, block, kw, err, match):
    with pytest.raises(err, match=match):
        check_geometry("k", grid, block, 0, **kw)


@pytest.mark.parametrize("regs, threads, need", [(32, 1024, 32768), (64, 1024, 65536), (40, 96, 3840),
                                                (255, 256, 65536), (1, 1, 256)])
def test_block_registers(regs, threads, need):
    assert block_registers(regs, threads) == need


def test_check_geometry_register_limit():
    check_geometry("k", (1, 1, 1), (1024, 1, 1), 0, registers=64)
    with pytest.raises(ResourceError, match="needs 131072 registers") as e:
        check_geometry("k", (1, 1, 1), (1024, 1, 1), 0, registers=128)
    assert "at most 512 threads" in e.value.hint


def test_check_geometry_shared_limit(fake):
    info = rt.context().info
    check_geometry("k", (1, 1, 1), (32, 1, 1), 200 << 10, shared_static=4096, info=info)
    with pytest.raises(ResourceError, match="over the NVIDIA H200's limit"):
        check_geometry("k", (1, 1, 1), (32, 1, 1), 227 << 10, shared_static=4096, info=info)


@pytest.mark.parametrize("v, out", [(5, (5, 1, 1)), ((2, 3), (2, 3, 1)), ([1, 2, 3], (1, 2, 3)),
                                    (np.int64(7), (7, 1, 1))])
def test_dim3(v, out):
    assert dim3(v, "grid") == out


def test_dim3_rejects_four_dims():
    with pytest.raises(UsageError):
        dim3((1, 1, 1, 1), "block")


def test_symbols_set_before_and_read_after_the_launch(fake):
    import ctypes

    fake.globals_["coeffs"] = ctypes.create_string_buffer(16)
    seen = {}

    def body(values, grid, block, shm):  # the "kernel" reads the symbol, then writes it
        buf = fake.globals_["coeffs"]
        seen["in"] = np.frombuffer(bytes(buf), np.float32).copy()
        ctypes.memmove(buf, np.arange(4, dtype=np.float32).tobytes(), 16)

    fake.kernels["symk"] = ((), body)
    c = np.array([1.5, 2.5, 3.5, 4.5], np.float32)
    rt.launch(kernel("symk", params=()), 1, 32, symbols={"coeffs": c})
    np.testing.assert_array_equal(seen["in"], [1.5, 2.5, 3.5, 4.5])
    np.testing.assert_array_equal(c, [0, 1, 2, 3])
    with pytest.raises(UsageError, match="16 bytes; 32 bytes given"):
        rt.launch(kernel("symk", params=()), 1, 32, symbols={"coeffs": np.zeros(4)})
    with pytest.raises(CudaError, match="cuModuleGetGlobal"):
        rt.launch(kernel("symk", params=()), 1, 32, symbols={"nope": c})
