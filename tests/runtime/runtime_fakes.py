"""A stand-in for ``cuda.bindings.driver`` whose "device memory" is host memory.

Device pointers are real host addresses of ctypes buffers, so a fake kernel (a Python function over
numpy views of those addresses) can run when ``cuLaunchKernel`` is called: the launch path, argument
pointer array, copies and error handling are all exercised without a GPU.
"""

from __future__ import annotations

import ctypes
import enum
import struct
from types import SimpleNamespace

import numpy as np

CUresult = enum.IntEnum("CUresult", {"CUDA_SUCCESS": 0, "CUDA_ERROR_INVALID_VALUE": 1,
                                     "CUDA_ERROR_NO_DEVICE": 100, "CUDA_ERROR_NOT_FOUND": 500,
                                     "CUDA_ERROR_ILLEGAL_ADDRESS": 700})
OK = CUresult.CUDA_SUCCESS

ATTRS = {
    "CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR": 9, "CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR": 0,
    "CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT": 132, "CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE": 50 << 20,
    "CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK": 48 << 10,
    "CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN": 227 << 10,
    "CU_DEVICE_ATTRIBUTE_CLOCK_RATE": 1_980_000, "CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE": 2_619_000,
    "CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH": 5120,
}


class FakeDriver:
    """Implements the driver calls sass_lab.runtime makes; ``kernels`` maps names to callables."""

    def __init__(self, kernels=None, count=1, init_error=OK):
        self.kernels = kernels or {}  # name -> (param sizes, fn(params: list[bytes], grid, block, shm))
        self.count, self.init_error = count, init_error
        self.mem: dict[int, ctypes.Array] = {}
        self.calls: list[tuple] = []
        self.sticky = OK  # error reported by the next synchronize (a kernel fault)
        self.CUdevice_attribute = SimpleNamespace(**{k: k for k in ATTRS})
        self.CUfunction_attribute = SimpleNamespace(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES="maxdyn")
        self.CUevent_flags = SimpleNamespace(CU_EVENT_DEFAULT=0)
        self.CUstream_flags = SimpleNamespace(CU_STREAM_NON_BLOCKING=1)
        self.CUstreamCaptureMode = SimpleNamespace(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL=1)
        self.capturing: dict[str, list] = {}  # stream -> launches recorded while capturing
        self.graphs_alive = 0
        self.globals_: dict[str, ctypes.Array] = {}  # module variables (cuModuleGetGlobal)
        ident = int  # the tensor-map enums: plain ints are enough here
        self.CUtensorMapDataType = self.CUtensorMapInterleave = self.CUtensorMapSwizzle = ident
        self.CUtensorMapL2promotion = self.CUtensorMapFloatOOBfill = ident
        self.CUlaunchAttributeID = SimpleNamespace(CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION="cluster",
                                                   CU_LAUNCH_ATTRIBUTE_COOPERATIVE="cooperative")
        self.encoded: list[tuple] = []  # cuTensorMapEncodeTiled calls
        self.maps: list[ctypes.Array] = []

    # ---- init, device, context
    def cuInit(self, flags):
        return (self.init_error,)

    def cuDeviceGetCount(self):
        return (OK, self.count)

    def cuDeviceGet(self, i):
        return (OK, f"dev{i}")

    def cuDevicePrimaryCtxRetain(self, dev):
        return (OK, f"ctx-{dev}")

    def cuCtxSetCurrent(self, ctx):
        return (OK,)

    def cuDeviceGetAttribute(self, attr, dev):
        return (OK, ATTRS[attr])

    def cuDeviceGetName(self, n, dev):
        return (OK, b"NVIDIA H200" + b"\0" * (n - 11))

    def cuDeviceTotalMem(self, dev):
        return (OK, 141 << 30)

    def cuDriverGetVersion(self):
        return (OK, 13000)

    def cuGetErrorString(self, err):
        return (OK, {700: b"an illegal memory access was encountered"}.get(int(err), b"some error"))

    # ---- modules
    def cuModuleLoadData(self, image):
        self.calls.append(("load", bytes(image)))
        return (OK, "module")

    def cuModuleGetFunction(self, mod, name):
        if name.decode() not in self.kernels:
            return (CUresult.CUDA_ERROR_NOT_FOUND, None)
        return (OK, name.decode())

    def cuModuleGetGlobal(self, mod, name):
        """Module variables: ``globals`` maps a name to its ctypes buffer (created on first use)."""
        name = name.decode()
        if name not in self.globals_:
            return (CUresult.CUDA_ERROR_NOT_FOUND, None, 0)
        buf = self.globals_[name]
        return (OK, ctypes.addressof(buf), len(buf))

    def cuOccupancyMaxActiveBlocksPerMultiprocessor(self, fn, threads, dynamic_shared):
        self.calls.append(("occupancy", fn, threads, dynamic_shared))
        return (OK, max(0, min(32, 2048 // threads)))

    def cuFuncSetAttribute(self, fn, attr, value):
        self.calls.append(("attr", fn, attr, value))
        return (OK,)

    # ---- memory
    def cuMemAlloc(self, n):
        buf = ctypes.create_string_buffer(n)
        addr = ctypes.addressof(buf)
        self.mem[addr] = buf
        return (OK, addr)

    def cuMemFree(self, ptr):
        self.mem.pop(int(ptr))
        return (OK,)

    def cuMemcpyHtoD(self, dst, src, n):
        ctypes.memmove(int(dst), int(src), n)
        return (OK,)

    def cuMemcpyDtoH(self, dst, src, n):
        ctypes.memmove(int(dst), int(src), n)
        return (OK,)

    def cuMemsetD8Async(self, ptr, value, n, stream):
        assert int(ptr) in self.mem and n <= len(self.mem[int(ptr)])
        self.calls.append(("memset", n))
        return (OK,)

    # ---- launch and sync
    def cuLaunchKernel(self, fn, gx, gy, gz, bx, by, bz, shm, stream, params, extra):
        sizes, body = self.kernels[fn]
        ptrs = (ctypes.c_uint64 * len(sizes)).from_address(params) if sizes else []
        values = [ctypes.string_at(int(p), n) for p, n in zip(ptrs, sizes)]  # copied now, as the driver does
        if stream in self.capturing:
            self.capturing[stream].append((fn, values, (gx, gy, gz), (bx, by, bz), shm))
            return (OK,)
        self._run(fn, values, (gx, gy, gz), (bx, by, bz), shm, stream)
        return (OK,)

    def _run(self, fn, values, grid, block, shm, stream):
        self.calls.append(("launch", fn, grid, block, shm, stream))
        err = self.kernels[fn][1](values, grid, block, shm)
        if err:
            self.sticky = err

    def CUlaunchConfig(self):  # noqa: N802 - the driver's names
        return SimpleNamespace()

    def CUlaunchAttribute(self):  # noqa: N802
        return SimpleNamespace(id=None, value=SimpleNamespace(clusterDim=SimpleNamespace(x=0, y=0, z=0), cooperative=0))

    def cuLaunchKernelEx(self, cfg, fn, params, extra):
        """Recorded with its cluster shape (and ``cooperative`` when asked), then run like cuLaunchKernel."""
        assert cfg.numAttrs == len(cfg.attrs)
        for a in cfg.attrs:
            if a.id == "cluster":
                self.calls.append(("launch_ex", (a.value.clusterDim.x, a.value.clusterDim.y, a.value.clusterDim.z)))
            elif a.id == "cooperative" and a.value.cooperative == 1:
                self.calls.append(("launch_ex", "cooperative"))
        return self.cuLaunchKernel(fn, cfg.gridDimX, cfg.gridDimY, cfg.gridDimZ, cfg.blockDimX, cfg.blockDimY,
                                   cfg.blockDimZ, cfg.sharedMemBytes, cfg.hStream, params, extra)

    # ---- tensor maps: a 128-byte blob b'MAP!' + the tensor's address + the global dims
    def cuTensorMapEncodeTiled(self, dtype, rank, addr, dims, strides, box, es, il, sw, l2, oob):
        self.encoded.append((dtype, rank, addr, tuple(dims), tuple(strides), tuple(box), tuple(es), il, sw, l2, oob))
        raw = b"MAP!" + struct.pack("<Q", addr) + struct.pack("<5Q", *dims, *[0] * (5 - rank))
        buf = ctypes.create_string_buffer(raw + bytes(128 - len(raw)), 128)
        self.maps.append(buf)  # kept alive; the runtime copies the bytes out
        return (OK, SimpleNamespace(getPtr=lambda: ctypes.addressof(buf)))

    # ---- streams and graphs
    def cuStreamCreate(self, flags):
        return (OK, f"stream{len(self.calls)}")

    def cuStreamDestroy(self, s):
        return (OK,)

    def cuStreamBeginCapture(self, s, mode):
        self.capturing[s] = []
        return (OK,)

    def cuStreamEndCapture(self, s):
        return (OK, self.capturing.pop(s))

    def cuGraphInstantiate(self, graph, flags):
        self.graphs_alive += 1
        return (OK, list(graph))

    def cuGraphLaunch(self, exe, stream):
        self.calls.append(("graph", len(exe)))
        for fn, values, grid, block, shm in exe:
            self._run(fn, values, grid, block, shm, stream)
        return (OK,)

    def cuGraphExecDestroy(self, exe):
        self.graphs_alive -= 1
        return (OK,)

    def cuGraphDestroy(self, graph):
        return (OK,)

    def cuCtxSynchronize(self):
        err, self.sticky = self.sticky, OK
        return (err,)

    def cuStreamSynchronize(self, stream):
        return self.cuCtxSynchronize()

    # ---- events (a clock that advances 1 ms per launch)
    def cuEventCreate(self, flags):
        return (OK, [None])

    def cuEventRecord(self, ev, stream):
        ev[0] = len([c for c in self.calls if c[0] == "launch"])
        return (OK,)

    def cuEventSynchronize(self, ev):
        return (OK,)

    def cuEventElapsedTime(self, a, b):
        return (OK, float(b[0] - a[0]))

    def cuEventDestroy(self, ev):
        return (OK,)


def f32_view(ptr: int, n: int) -> np.ndarray:
    return np.ctypeslib.as_array((ctypes.c_float * n).from_address(ptr))
