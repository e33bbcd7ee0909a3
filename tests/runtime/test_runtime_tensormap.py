"""TensorMaps and cluster launches on the runtime, against the stand-in driver: the map is encoded by
the driver with its tensor's device address (by value in the parameters, or by pointer in device
memory), the tensor is copied back, and cluster shapes go through cuLaunchKernelEx."""

from __future__ import annotations

import ctypes
import struct
from types import SimpleNamespace

import cuda.bindings
import numpy as np
import pytest
from runtime_fakes import FakeDriver

import sass_lab.runtime as rt
from sass_lab import ir
from sass_lab.errors import UsageError
from sass_lab.hw.resources import Resources
from sass_lab.hw.tensormap import TensorMap
from sass_lab.runtime import driver as drv_mod
from sass_lab.runtime.args import plan_args


def double_tensor(values, grid, block, shm):
    """The fake kernel: the by-value map (param 0) and the by-pointer map (param 1) name the tensors;
    double both in place."""
    for raw in (values[0], ctypes.string_at(struct.unpack("<Q", values[1])[0], 128)):
        assert raw[:4] == b"MAP!"
        addr, n = struct.unpack("<Q", raw[4:12])[0], struct.unpack("<Q", raw[12:20])[0]
        v = np.ctypeslib.as_array((ctypes.c_float * n).from_address(addr))
        v *= 2
    return None


PARAMS = (ir.Param("a_param", "b8", 128, 128), ir.Param("b", "u64"))


def kernel(cluster=()):
    return SimpleNamespace(name="k", cubin=b"CUBIN:k", params=PARAMS,
                           resources=Resources(registers=32, cluster=cluster))


@pytest.fixture
def fake(monkeypatch):
    d = FakeDriver({"k": ((128, 8), double_tensor)})
    monkeypatch.setattr(cuda.bindings, "driver", d, raising=False)
    monkeypatch.setattr(drv_mod, "_CONTEXTS", {})
    return d


def maps():
    a = np.arange(64, dtype=np.float32)
    b = np.full(32, 3.0, np.float32)
    return (TensorMap(a, "float32", (64,), (), (32,), swizzle="none"),
            TensorMap(b, "float32", (32,), (), (32,), oob_fill="nan"))


def test_tensor_maps_are_encoded_by_the_driver_and_their_tensors_written_back(fake):
    ma, mb = maps()
    rt.launch(kernel(), 1, 32, ma, mb)
    np.testing.assert_array_equal(ma.array, 2 * np.arange(64))
    np.testing.assert_array_equal(mb.array, np.full(32, 6.0))
    dt, rank, addr, dims, strides, box, es, il, sw, l2, oob = fake.encoded[0]
    assert (dt, rank, dims, strides, box, es, oob) == (7, 1, (64,), (), (32,), (1,), 0)  # FLOAT32 = 7
    assert fake.encoded[1][-1] == 1  # NAN_REQUEST_ZERO_FMA
    assert fake.mem == {}  # every device copy freed (the by-pointer map too)


def test_a_tensor_map_for_a_scalar_parameter_is_refused():
    ma, _ = maps()
    with pytest.raises(UsageError, match="cannot take a TensorMap"):
        plan_args((ir.Param("n", "u32"),), (ma,), "k")


def test_cluster_launches(fake):
    ma, mb = maps()
    rt.launch(kernel(), 4, 32, ma, mb, cluster=(2, 1, 1))
    assert ("launch_ex", (2, 1, 1)) in fake.calls
    fake.calls.clear()
    rt.launch(kernel(cluster=(2, 1, 1)), 4, 32, *maps())  # compile-time shape: a plain launch applies it
    assert not any(c[0] == "launch_ex" for c in fake.calls) and any(c[0] == "launch" for c in fake.calls)
    with pytest.raises(UsageError, match="reqnctapercluster 2,1,1"):
        rt.launch(kernel(cluster=(2, 1, 1)), 4, 32, *maps(), cluster=(4, 1, 1))
    with pytest.raises(UsageError, match="not a multiple of the cluster"):
        rt.launch(kernel(), 3, 32, *maps(), cluster=(2, 1, 1))


def test_cooperative_launches(fake):
    """cooperative=True goes through cuLaunchKernelEx with the cooperative attribute (with a cluster
    shape too when one is asked for); a plain launch stays cuLaunchKernel."""
    rt.launch(kernel(), 4, 32, *maps(), cooperative=True)
    assert ("launch_ex", "cooperative") in fake.calls and not any(c == ("launch_ex", (2, 1, 1)) for c in fake.calls)
    fake.calls.clear()
    rt.launch(kernel(), 4, 32, *maps(), cluster=(2, 1, 1), cooperative=True)
    assert ("launch_ex", "cooperative") in fake.calls and ("launch_ex", (2, 1, 1)) in fake.calls
    fake.calls.clear()
    rt.launch(kernel(), 4, 32, *maps())
    assert not any(c[0] == "launch_ex" for c in fake.calls)
