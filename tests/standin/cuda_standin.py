"""A stand-in for ``cuda.bindings.driver`` that behaves like the real driver where mistakes hide.

It is the real module's twin for the calls sass_lab and its tests make, built on the real module's own
enum and handle types (``CUresult``, ``CUdevice_attribute``, ``CUfunction``, ``CUdeviceptr``…), so:

- **argument types** are checked from the real functions' signatures (read off their docstrings): an
  enum where the binding wants that enum, ``bytes`` for ``char *``, non-negative ints for unsigned and
  ``size_t`` parameters, handles converted as the binding converts them (``int(CUfunction(x))``);
- **device memory is not host memory**: pointers live in a fake address range, copies are bounds
  checked, and a kernel reads only what was copied in;
- **kernels complete at synchronize**, not at launch: launches, memsets and event records queue per
  stream and run at ``cuCtxSynchronize``/``cuStreamSynchronize``/``cuEventSynchronize``, a synchronous
  copy on the legacy stream, ``cuMemFree`` or ``cuModuleUnload``; an event not yet reached is
  ``CUDA_ERROR_NOT_READY``;
- **a fault is sticky**: after an illegal address every call that needs the context returns it;
- **launch limits**: block ≤ 1024 threads (and the kernel's ``.maxntid``/``.reqntid``), grid limits,
  registers × threads ≤ 64 K, static + dynamic shared memory ≤ the function's limit, which is
  48 KB − static until ``CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES`` raises it (at most the
  227 KB opt-in − static); a cubin for another architecture does not load;
- **occupancy** is ``cuda_occupancy.h``'s answer (``occupancy_header``), with the function's attributes.

Kernels run on sass_lab's PTX emulator: :func:`install` hooks ``toolchain.compile.compile_ptx`` so every
cubin built in the process is known with its PTX (a SASS-patched cubin maps to its unpatched PTX). A
launch too large to emulate (over ``SASS_LAB_FAKE_GPU_MAX_THREADS``, default 65536 threads, or
``SASS_LAB_FAKE_GPU_WORK``, default 2e8 thread-instructions) or of an unknown cubin is timed but not executed (``not_executed`` counts them), and a launch identical to one
already executed (same function, geometry and parameter bytes, as in a benchmark's repetitions) is timed
without running again. Time is modelled: 3 µs per launch plus the emulated thread-instructions at the
FP32 issue rate (or 0.5 ns per thread when not emulated). ``SASS_LAB_FAKE_GPU_HANG=name`` makes that
kernel hang its synchronize, as a runaway kernel does. The device is an H100 SXM (sm_90, 132 SMs).
"""

from __future__ import annotations

import bisect
import ctypes
import os
import sys
import threading
import types
from typing import Any

import numpy as np
from cuda.bindings import driver as _real
from standin_base import (
    _ERR_TEXT,
    ALIGN,
    ATTRS,
    DEVICE,
    MAX_BLOCK,
    MAX_GRID,
    OK,
    F,
    Function,
    Launch,
    Op,
    R,
    State,
    _buffer_address,
    _convert,
    _dptr,
    _Err,
    _hook_compiler,
    _host_bytes,
    _parse_signature,
    _read_host,
    _write_host,
    ptx_for,
)
from standin_exec import Executor


class StandIn(Executor, types.ModuleType):
    """The module object that replaces ``cuda.bindings.driver`` (see the module docstring)."""

    def __init__(self, max_threads: int | None = None, hang: str | None = None):
        super().__init__("cuda.bindings.driver")
        self.__file__ = __file__
        self.max_threads = max_threads if max_threads is not None else int(
            os.environ.get("SASS_LAB_FAKE_GPU_MAX_THREADS", 1 << 16))
        self.work = float(os.environ.get("SASS_LAB_FAKE_GPU_WORK", 2e8))  # thread-instructions per launch
        self.hang = hang if hang is not None else os.environ.get("SASS_LAB_FAKE_GPU_HANG", "")
        self.st = State()
        self.kernels: dict[str, Any] = {}  # name -> python body(values, grid, block, shm, mem) for unit tests
        self.calls: list[tuple] = []
        self.not_executed: list[str] = []
        self.emulate_s = 0.0  # CPU seconds spent emulating kernels (work the real GPU does, not the host)
        self.lock = threading.RLock()
        for name in dir(type(self)):
            if name.startswith("cu") and callable(getattr(type(self), name, None)):
                setattr(self, name, self._wrap(name, getattr(self, name)))

    def __getattr__(self, name: str) -> Any:  # enums, handle types, structs: the real ones
        v = getattr(_real, name)
        if name.startswith("cu") and callable(v) and not isinstance(v, type):
            raise AttributeError(f"the stand-in driver does not implement {name} (add it to cuda_standin.py)")
        return v

    # ------------------------------------------------------------------ call wrapper

    def _wrap(self, name: str, impl):
        sig = _parse_signature(name)
        need = getattr(impl, "_need", "context")
        outputs = getattr(impl, "_outputs", 0)

        def call(*args):
            if len(args) != len(sig):
                raise TypeError(f"{name}() takes exactly {len(sig)} positional arguments ({len(args)} given)")
            conv = [_convert(name, p, k, t, a) for (p, k, t), a in zip(sig, args)]
            with self.lock:
                self.calls.append((name, *conv))
                err = self._precheck(need)
                if err is None:
                    try:
                        res = impl(*conv)
                    except _Err as e:
                        err = e.code
                if err is not None:
                    return (err, *([None] * outputs))
                res = () if res is None else res if isinstance(res, tuple) else (res,)
                return (OK, *res)

        call.__name__ = name
        call.__doc__ = getattr(_real, name).__doc__
        return call

    def _precheck(self, need: str):
        s = self.st
        if need == "none":
            return None
        if not s.initialized:
            return R.CUDA_ERROR_NOT_INITIALIZED
        if need == "init":
            return None
        if not s.current:
            return R.CUDA_ERROR_INVALID_CONTEXT
        return s.sticky

    # ------------------------------------------------------------------ helpers

    # ------------------------------------------------------------------ init, device, context

    def cuInit(self, flags):
        self.st.initialized = True
    cuInit._need = "none"

    def cuDriverGetVersion(self):
        return 13000
    cuDriverGetVersion._need, cuDriverGetVersion._outputs = "none", 1

    def cuGetErrorString(self, err):
        return _ERR_TEXT.get(err, err.name.lower().replace("_", " ")).encode()
    cuGetErrorString._need, cuGetErrorString._outputs = "none", 1

    def cuGetErrorName(self, err):
        return err.name.encode()
    cuGetErrorName._need, cuGetErrorName._outputs = "none", 1

    def cuDeviceGetCount(self):
        return 1
    cuDeviceGetCount._need, cuDeviceGetCount._outputs = "init", 1

    def cuDeviceGet(self, ordinal):
        if ordinal != 0:
            raise _Err(R.CUDA_ERROR_INVALID_DEVICE)
        return _real.CUdevice(0)
    cuDeviceGet._need, cuDeviceGet._outputs = "init", 1

    def _dev(self, dev: Any) -> None:
        if int(dev) != 0:
            raise _Err(R.CUDA_ERROR_INVALID_DEVICE)

    def cuDeviceGetAttribute(self, attrib, dev):
        self._dev(dev)
        if attrib not in ATTRS:
            raise _Err(R.CUDA_ERROR_NOT_SUPPORTED)
        return ATTRS[attrib]
    cuDeviceGetAttribute._need, cuDeviceGetAttribute._outputs = "init", 1

    def cuDeviceGetName(self, length, dev):
        self._dev(dev)
        return DEVICE["name"].encode()[:length - 1].ljust(length, b"\0")
    cuDeviceGetName._need, cuDeviceGetName._outputs = "init", 1

    def cuDeviceTotalMem(self, dev):
        self._dev(dev)
        return DEVICE["total_mem"]
    cuDeviceTotalMem._need, cuDeviceTotalMem._outputs = "init", 1

    def cuDevicePrimaryCtxRetain(self, dev):
        self._dev(dev)
        self.st.retained += 1
        return _real.CUcontext(0xC0FFEE00)
    cuDevicePrimaryCtxRetain._need, cuDevicePrimaryCtxRetain._outputs = "init", 1

    def cuDevicePrimaryCtxRelease(self, dev):
        self._dev(dev)
        self.st.retained = max(0, self.st.retained - 1)
    cuDevicePrimaryCtxRelease._need = "init"

    def cuCtxSetCurrent(self, ctx):
        if ctx not in (0, 0xC0FFEE00) or (ctx and not self.st.retained):
            raise _Err(R.CUDA_ERROR_INVALID_CONTEXT)
        self.st.current = bool(ctx)
    cuCtxSetCurrent._need = "init"

    def cuCtxGetCurrent(self):
        return _real.CUcontext(0xC0FFEE00 if self.st.current else 0)
    cuCtxGetCurrent._need, cuCtxGetCurrent._outputs = "init", 1

    def cuCtxSynchronize(self):
        if any(s.capturing is not None for k, s in self._streams()):
            raise _Err(R.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)
        self._drain()
        if self.st.sticky is not None:
            raise _Err(self.st.sticky)

    def _streams(self):
        return [(h, o) for h, (k, o) in self.st.handles.items() if k == "stream"]

    # ------------------------------------------------------------------ modules and functions

    def cuModuleLoadData(self, image):
        from sass_lab.toolchain.compile import build_resources
        from sass_lab.toolchain.cubin import elf_arch, read_cubin

        data = _host_bytes(image)
        try:
            arch = elf_arch(data)
            kernels = read_cubin(data)
        except Exception:  # noqa: BLE001 - not a cubin
            raise _Err(R.CUDA_ERROR_INVALID_IMAGE) from None
        if arch not in ("sm_90", "sm_90a"):  # SASS runs only on its own major version (and sm_90a here)
            raise _Err(R.CUDA_ERROR_NO_BINARY_FOR_GPU)
        res = build_resources(data, "", "sm_90")
        ptx = ptx_for(data)
        mod = {"functions": {}, "data": data}
        h = self._handle("module", mod)
        for name, r in res.items():
            mod["functions"][name] = Function(name, h, ptx, r, kernels[name].params,
                                              max(0, DEVICE["shared_per_block"] - r.shared_static))
        return _real.CUmodule(h)
    cuModuleLoadData._outputs = 1

    def cuModuleUnload(self, hmod):
        self._get("module", hmod)
        self._drain()
        del self.st.handles[hmod]

    def cuModuleGetFunction(self, hmod, name):
        mod = self._get("module", hmod)
        fn = mod["functions"].get(name.decode())
        if fn is None:
            raise _Err(R.CUDA_ERROR_NOT_FOUND)
        return _real.CUfunction(self._handle("function", fn))
    cuModuleGetFunction._outputs = 1

    def cuFuncGetAttribute(self, attrib, hfunc):
        fn: Function = self._get("function", hfunc)
        r = fn.resources
        vals = {F.CU_FUNC_ATTRIBUTE_NUM_REGS: r.registers, F.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: r.shared_static,
                F.CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: r.stack_bytes,
                F.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: self._max_threads(fn, r.registers),
                F.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: fn.max_dynamic,
                F.CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: 0, F.CU_FUNC_ATTRIBUTE_PTX_VERSION: 90,
                F.CU_FUNC_ATTRIBUTE_BINARY_VERSION: 90}
        if attrib not in vals:
            raise _Err(R.CUDA_ERROR_NOT_SUPPORTED)
        return vals[attrib]
    cuFuncGetAttribute._outputs = 1

    @staticmethod
    def _max_threads(fn: Function, regs: int) -> int:
        """The most threads a block may have: the kernel's limit and what the registers allow."""
        per_warp = -(-max(regs, 1) * 32 // 256) * 256
        return min(fn.resources.max_threads, 1024, DEVICE["regs_per_sm"] // per_warp * 32)

    def cuFuncSetAttribute(self, hfunc, attrib, value):
        fn: Function = self._get("function", hfunc)
        if attrib == F.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
            if not 0 <= value <= DEVICE["shared_optin"] - fn.resources.shared_static:
                raise _Err(R.CUDA_ERROR_INVALID_VALUE)
            fn.max_dynamic = value
        elif attrib != F.CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
            raise _Err(R.CUDA_ERROR_INVALID_VALUE)

    def cuOccupancyMaxActiveBlocksPerMultiprocessor(self, func, blockSize, dynamicSMemSize):
        from occupancy_header import Device, Func, missing, query

        fn: Function = self._get("function", func)
        if blockSize <= 0:
            raise _Err(R.CUDA_ERROR_INVALID_VALUE)
        r = fn.resources
        if missing():  # no compiler here: the limits the model uses are the documented ones anyway
            from sass_lab.hw.occupancy import occupancy

            if dynamicSMemSize > fn.max_dynamic or blockSize > self._max_threads(fn, r.registers):
                return 0
            return occupancy("sm_90", blockSize, r.registers, r.shared_static + dynamicSMemSize,
                             barriers=r.barriers).blocks_per_sm
        d = DEVICE
        dev = Device(d["cc"], d["threads_per_sm"], d["regs_per_sm"], d["shared_per_sm"], d["shared_per_block"],
                     d["shared_optin"], d["reserved"])
        f = Func(self._max_threads(fn, r.registers), r.registers, r.shared_static, fn.max_dynamic, r.barriers)
        err, blocks, _ = query(dev, [(f, blockSize, dynamicSMemSize)])[0]
        return 0 if err else blocks
    cuOccupancyMaxActiveBlocksPerMultiprocessor._outputs = 1

    # ------------------------------------------------------------------ memory

    def cuMemAlloc(self, bytesize):
        if bytesize == 0:
            raise _Err(R.CUDA_ERROR_INVALID_VALUE)
        addr = self.st.next_addr
        self.st.mem[addr] = np.zeros(bytesize, np.uint8)
        bisect.insort(self.st.starts, addr)
        self.st.next_addr += (bytesize + 2 * ALIGN - 1) // ALIGN * ALIGN
        return _real.CUdeviceptr(addr)
    cuMemAlloc._outputs = 1

    def cuMemFree(self, dptr):
        d = int(_real.CUdeviceptr(dptr)) if not isinstance(dptr, int) else dptr
        if d not in self.st.mem:
            raise _Err(R.CUDA_ERROR_INVALID_VALUE)
        self._drain()  # cuMemFree waits for the work that may use the memory
        if self.st.sticky is not None:
            raise _Err(self.st.sticky)
        self.st.fills.pop(id(self.st.mem.pop(d)), None)
        self.st.starts.remove(d)

    def cuMemGetInfo(self):
        used = sum(a.size for a in self.st.mem.values())
        return DEVICE["total_mem"] - used, DEVICE["total_mem"]
    cuMemGetInfo._outputs = 2

    def _sync_copy(self) -> None:
        """A synchronous copy waits for the legacy stream and every blocking stream."""
        self._drain(legacy=True)
        if self.st.sticky is not None:
            raise _Err(self.st.sticky)

    def cuMemcpyHtoD(self, dstDevice, srcHost, ByteCount):
        self._sync_copy()
        arr, off = self._find(_dptr(dstDevice), ByteCount)
        arr[off:off + ByteCount] = np.frombuffer(_read_host(srcHost, ByteCount), np.uint8)

    def cuMemcpyDtoH(self, dstHost, srcDevice, ByteCount):
        self._sync_copy()
        arr, off = self._find(_dptr(srcDevice), ByteCount)
        _write_host(dstHost, arr[off:off + ByteCount])

    def cuMemcpyDtoD(self, dstDevice, srcDevice, ByteCount):
        self._sync_copy()
        src, so = self._find(_dptr(srcDevice), ByteCount)
        dst, do = self._find(_dptr(dstDevice), ByteCount)
        dst[do:do + ByteCount] = src[so:so + ByteCount]

    def cuMemsetD8Async(self, dstDevice, uc, N, hStream):
        sid = self._stream(hStream)
        d = _dptr(dstDevice)
        arr = self.st.mem.get(d)
        if arr is not None and arr.size == N:
            off = 0
        else:
            arr, off = self._find(d, N)
        self._enqueue(Op(sid, "memset", (arr, off, N, uc)))

    # ------------------------------------------------------------------ launch

    def cuLaunchKernel(self, f, gx, gy, gz, bx, by, bz, shared, hStream, kernelParams, extra):
        fn: Function = self._get("function", f)
        sid = self._stream(hStream)
        grid, block = (gx, gy, gz), (bx, by, bz)
        r = fn.resources
        threads = bx * by * bz
        if any(not 1 <= v <= m for v, m in zip(grid, MAX_GRID)) or any(
                not 1 <= v <= m for v, m in zip(block, MAX_BLOCK)):
            raise _Err(R.CUDA_ERROR_INVALID_VALUE)
        if threads > min(1024, r.max_threads) or (r.reqntid and tuple(r.reqntid) != block[:len(r.reqntid)]):
            raise _Err(R.CUDA_ERROR_INVALID_VALUE)
        if shared > fn.max_dynamic:
            raise _Err(R.CUDA_ERROR_INVALID_VALUE)
        per_warp = -(-max(r.registers, 1) * 32 // 256) * 256
        if per_warp * -(-threads // 32) > DEVICE["regs_per_sm"]:
            raise _Err(R.CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES)
        if extra:
            raise _Err(R.CUDA_ERROR_INVALID_VALUE)
        values = self._param_bytes(fn, kernelParams)
        self._enqueue(Op(sid, "launch", Launch(fn, grid, block, shared, values)))

    def _param_bytes(self, fn: Function, kp: Any) -> list[bytes]:
        """Copy the parameters now, as the driver does (sizes from the cubin's KPARAM_INFO)."""
        sizes = [p.size for p in fn.params]
        if not sizes:
            return []
        if kp is None or kp == 0:
            raise _Err(R.CUDA_ERROR_INVALID_VALUE)
        if isinstance(kp, tuple):
            if not (len(kp) == 2 and all(isinstance(x, tuple) for x in kp)) or len(kp[0]) != len(kp[1]):
                raise TypeError("Argument 'kernelParams' is not a pair of tuples of equal length")
            if len(kp[0]) != len(sizes):
                raise _Err(R.CUDA_ERROR_INVALID_VALUE)
            out = []
            for v, t, n in zip(kp[0], kp[1], sizes):
                if t is None:
                    if not callable(getattr(v, "getPtr", None)):
                        raise TypeError(f"Provided argument is of type {type(v)} but expected a CUDA Binding "
                                        "structure with getPtr() attribute")
                    out.append(ctypes.string_at(v.getPtr(), n))
                else:
                    out.append(bytes(v if isinstance(v, t) else t(v))[:n].ljust(n, b"\0"))
            return out
        addr = kp if isinstance(kp, int) else _buffer_address(kp)
        ptrs = (ctypes.c_uint64 * len(sizes)).from_address(addr)
        return [ctypes.string_at(int(p), n) for p, n in zip(ptrs, sizes)]

    def _enqueue(self, op: Op) -> None:
        s = None if op.stream == 0 else self._get("stream", op.stream)
        if s is not None and s.capturing is not None:
            s.capturing.append(op)
            return
        self.st.queue.append(op)

def install(standin: StandIn | None = None) -> StandIn:
    """Put the stand-in in place of ``cuda.bindings.driver`` in this process (and learn compiled PTX).

    With ``SASS_LAB_FAKE_GPU_STATS=FILE`` the process appends, at exit, the CPU seconds it spent emulating
    kernels, so the rehearsal can tell the host's own work from the stand-in's.
    """
    import atexit

    import cuda.bindings

    d = standin or StandIn()
    stats = os.environ.get("SASS_LAB_FAKE_GPU_STATS")
    if stats and standin is None:
        def report() -> None:
            with open(stats, "a") as fh:
                fh.write(f"{os.getpid()} {d.emulate_s:.3f} {len(d.not_executed)}\n")

        atexit.register(report)
    sys.modules["cuda.bindings.driver"] = d
    cuda.bindings.driver = d
    _hook_compiler()
    return d

