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
import hashlib
import inspect
import os
import re
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from cuda.bindings import driver as _real

R = _real.CUresult
OK = R.CUDA_SUCCESS
A = _real.CUdevice_attribute
F = _real.CUfunction_attribute
KB = 1024
BASE = 0x2000_0000_0000  # device addresses: never a mapped host address
ALIGN = 512

DEVICE = {
    "name": "NVIDIA H100 80GB HBM3 (stand-in)", "cc": (9, 0), "sms": 132, "clock_khz": 1_980_000,
    "mem_clock_khz": 2_619_000, "bus_width": 5120, "l2": 50 << 20, "total_mem": 80 << 30,
    "threads_per_sm": 2048, "regs_per_sm": 65536, "shared_per_sm": 228 * KB, "shared_per_block": 48 * KB,
    "shared_optin": 227 * KB, "reserved": 1 * KB, "blocks_per_sm": 32,
}
ATTRS = {
    A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: 9, A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: 0,
    A.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: 132, A.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: 50 << 20,
    A.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: 48 * KB,
    A.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: 227 * KB,
    A.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: 228 * KB,
    A.CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK: 1 * KB,
    A.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: 1024, A.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: 2048,
    A.CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: 65536, A.CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: 65536,
    A.CU_DEVICE_ATTRIBUTE_WARP_SIZE: 32, A.CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: 32,
    A.CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: 1024, A.CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: 1024,
    A.CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: 64, A.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: (1 << 31) - 1,
    A.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: 65535, A.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: 65535,
    A.CU_DEVICE_ATTRIBUTE_CLOCK_RATE: 1_980_000, A.CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: 2_619_000,
    A.CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: 5120,
}
MAX_GRID = ((1 << 31) - 1, 65535, 65535)
MAX_BLOCK = (1024, 1024, 64)
FAULTS = {"oob-global": R.CUDA_ERROR_ILLEGAL_ADDRESS, "oob-local": R.CUDA_ERROR_ILLEGAL_ADDRESS,
          "oob-shared": R.CUDA_ERROR_ILLEGAL_ADDRESS, "oob-const": R.CUDA_ERROR_ILLEGAL_ADDRESS,
          "misaligned": R.CUDA_ERROR_MISALIGNED_ADDRESS}
STICKY = {R.CUDA_ERROR_ILLEGAL_ADDRESS, R.CUDA_ERROR_MISALIGNED_ADDRESS, R.CUDA_ERROR_LAUNCH_FAILED,
          R.CUDA_ERROR_ILLEGAL_INSTRUCTION, R.CUDA_ERROR_HARDWARE_STACK_ERROR}

# ---------------------------------------------------------------------------------------- PTX registry

PTX_BY_CUBIN: dict[str, str] = {}  # sha256 of the cubin (and of its .text-less form) -> PTX


def _stripped_key(cubin: bytes) -> str | None:
    """Hash of the cubin with every ``.text.*`` section zeroed: equal for a cubin and its SASS patches."""
    try:
        from sass_lab.toolchain.cubin import elf_file

        elf = elf_file(cubin)
        buf = bytearray(cubin)
        for s in elf.iter_sections():
            if s.name.startswith(".text."):
                off, size = s["sh_offset"], s["sh_size"]
                buf[off:off + size] = bytes(size)
        return "t:" + hashlib.sha256(bytes(buf)).hexdigest()
    except Exception:  # noqa: BLE001 - not an ELF: no fallback key
        return None


def register_ptx(cubin: bytes, ptx: str) -> None:
    """Remember ``ptx`` as the source of ``cubin`` (and of SASS patches of it)."""
    PTX_BY_CUBIN[hashlib.sha256(cubin).hexdigest()] = ptx
    k = _stripped_key(cubin)
    if k:
        PTX_BY_CUBIN[k] = ptx


def ptx_for(cubin: bytes) -> str | None:
    return PTX_BY_CUBIN.get(hashlib.sha256(cubin).hexdigest()) or PTX_BY_CUBIN.get(_stripped_key(cubin) or "")


# ---------------------------------------------------------------------------------------- signatures

_SIG = re.compile(r"^\w+\((.*)\)$")
_DOC_TYPE = re.compile(r"^\s*(\w+) : :py:obj:`~\.(\w+)`", re.M)
_INTS = {"unsigned int": (0, 32), "int": (1, 32), "size_t": (0, 64), "unsigned long long": (0, 64),
         "unsigned char": (0, 8), "void_ptr": (0, 64), "long long": (1, 64)}


def _parse_signature(name: str) -> list[tuple[str, str, Any]]:
    """(param, kind, type) from the real binding's embedded signature: kind 'int'/'enum'/'bytes'/'handle'/'any'."""
    fn = getattr(_real, name)
    doc = fn.__doc__ or ""
    m = _SIG.match(doc.splitlines()[0].strip()) if doc else None
    if not m:
        return []
    handles = {p: getattr(_real, t, None) for p, t in _DOC_TYPE.findall(doc)}
    out = []
    for part in [p.strip() for p in m.group(1).split(",") if p.strip()]:
        if ":" in part:  # "attrib: CUfunction_attribute" / "attrib not None : X"
            pname, tname = (s.strip() for s in part.split(":", 1))
            out.append((pname.split()[0], "enum", getattr(_real, tname.split()[-1])))
            continue
        words = part.replace("*", " * ").split()
        pname = words[-1]
        ctype = " ".join(w for w in words[:-1] if w != "*")
        if "*" in words and ctype == "char":
            out.append((pname, "bytes", None))
        elif ctype in _INTS:
            out.append((pname, "int", _INTS[ctype]))
        elif not ctype and isinstance(handles.get(pname), type) and hasattr(handles[pname], "getPtr"):
            out.append((pname, "handle", handles[pname]))
        else:
            out.append((pname, "any", None))
    return out


def _convert(fname: str, pname: str, kind: str, typ: Any, v: Any) -> Any:
    """What the real binding does with ``v`` (the same exceptions for the same mistakes)."""
    if kind == "enum":
        if not isinstance(v, typ):
            raise TypeError(f"{fname}(): argument '{pname}' has incorrect type (expected {typ.__name__}, "
                            f"got {type(v).__name__})")
        return v
    if kind == "int":
        signed, bits = typ
        if isinstance(v, float) or not hasattr(v, "__index__"):
            raise TypeError(f"{fname}(): an integer is required for '{pname}', got {type(v).__name__}")
        i = v.__index__()
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not lo <= i <= hi:
            raise OverflowError(f"{fname}(): '{pname}' = {i} does not fit the C type")
        return i
    if kind == "bytes":
        if not isinstance(v, bytes):
            raise TypeError(f"expected bytes, {type(v).__name__} found")
        return v
    if kind == "handle":
        if v is None:
            return 0
        if isinstance(v, typ):
            return int(v)
        return int(typ(v))  # the real binding's conversion: TypeError for a str, a float...
    return v


# ---------------------------------------------------------------------------------------- state


@dataclass(eq=False)
class Function:
    name: str
    module: int
    ptx: str | None
    resources: Any  # sass_lab Resources (from the cubin ELF, as the driver reads it)
    params: tuple  # cubin KParam list (offset, size)
    max_dynamic: int
    last_ms: float = 0.0


@dataclass(eq=False)
class Launch:
    fn: Function
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared: int
    params: list[bytes]


@dataclass(eq=False)
class Op:
    stream: int
    kind: str  # launch | memset | event | graph
    payload: Any
    done: bool = False


@dataclass(eq=False)
class Event:
    recorded: Op | None = None
    time_ms: float | None = None


@dataclass(eq=False)
class Stream:
    flags: int
    capturing: list | None = None


@dataclass
class State:
    initialized: bool = False
    retained: int = 0
    current: bool = False
    sticky: Any = None
    clock_ms: float = 0.0
    mem: dict[int, np.ndarray] = field(default_factory=dict)
    starts: list[int] = field(default_factory=list)
    next_addr: int = BASE
    handles: dict[int, tuple[str, Any]] = field(default_factory=dict)
    next_handle: int = 0x5A000000
    queue: list[Op] = field(default_factory=list)
    executed: set = field(default_factory=set)
    fills: dict[int, int] = field(default_factory=dict)  # id(allocation) -> pending memset value


class StandIn(types.ModuleType):
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

    def _handle(self, kind: str, obj: Any) -> int:
        self.st.next_handle += 0x100
        self.st.handles[self.st.next_handle] = (kind, obj)
        return self.st.next_handle

    def _get(self, kind: str, h: int) -> Any:
        got = self.st.handles.get(h)
        if got is None or got[0] != kind:
            raise _Err(R.CUDA_ERROR_INVALID_HANDLE)
        return got[1]

    def _stream(self, h: int) -> int:
        if h in (0, 1, 2):  # NULL, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD
            return 0
        self._get("stream", h)
        return h

    def _find(self, addr: int, n: int) -> tuple[np.ndarray, int]:
        """The allocation holding [addr, addr+n) and the offset of addr in it."""
        i = bisect.bisect_right(self.st.starts, addr) - 1
        if i >= 0:
            base = self.st.starts[i]
            arr = self.st.mem[base]
            if addr + n <= base + arr.size:
                self._materialize(arr)
                return arr, addr - base
        raise _Err(R.CUDA_ERROR_INVALID_VALUE)

    def _materialize(self, arr: np.ndarray) -> None:
        """Apply a pending whole-buffer memset before anything reads or writes part of the buffer."""
        v = self.st.fills.pop(id(arr), None)
        if v is not None:
            arr[...] = v

    def _blocking(self, sid: int) -> bool:
        return sid == 0 or (self._get("stream", sid).flags & 1) == 0

    # ------------------------------------------------------------------ execution

    def _drain(self, upto: Op | None = None, legacy: bool = False, stream: int | None = None) -> None:
        """Run queued work in order: all of it, up to ``upto``, the blocking streams, or one stream."""
        last = None
        if upto is not None:
            last = upto
        elif stream is not None:
            last = next((op for op in reversed(self.st.queue) if op.stream == stream), None)
            if last is None:
                return
        for op in list(self.st.queue):
            if self.st.sticky is not None:
                break
            if legacy and not self._blocking(op.stream):
                continue
            self._run_op(op)
            self.st.queue.remove(op)
            if op is last:
                break
        if self.st.sticky is not None:
            self.st.queue.clear()

    def _run_op(self, op: Op) -> None:
        if op.kind == "launch":
            self.st.clock_ms += self._execute(op.payload)
        elif op.kind == "memset":
            arr, off, n, value = op.payload
            if off == 0 and n == arr.size and n > (1 << 20):  # a whole large buffer (the L2 flush): lazily
                self.st.fills[id(arr)] = value
            else:
                self._materialize(arr)
                arr[off:off + n] = value
            self.st.clock_ms += 0.002 + n / 3e9
        elif op.kind == "event":
            op.payload.time_ms = self.st.clock_ms
        elif op.kind == "graph":
            for sub in op.payload:
                self._run_op(Op(op.stream, sub.kind, sub.payload))
        op.done = True

    def _execute(self, ln: Launch) -> float:
        """Run one launch (emulator or registered body); its modelled duration in ms."""
        fn = ln.fn
        threads = ln.grid[0] * ln.grid[1] * ln.grid[2] * ln.block[0] * ln.block[1] * ln.block[2]
        if self.hang and fn.name == self.hang:
            while True:  # a runaway kernel: the synchronize never returns (the GIL is free, as in the real one)
                time.sleep(0.05)
        key = (id(fn), ln.grid, ln.block, ln.shared, tuple(ln.params))
        if key in self.st.executed:
            return fn.last_ms
        if fn.name in self.kernels:
            err = self.kernels[fn.name](ln.params, ln.grid, ln.block, ln.shared, self)
            if err:
                self._fault(err)
            self.st.executed.add(key)
            return 0.003
        if fn.ptx is None or threads > self.max_threads:
            self.not_executed.append(f"{fn.name} grid={ln.grid} block={ln.block}"
                                     + (" (no PTX known)" if fn.ptx is None else " (too large to emulate)"))
            return 0.003 + threads * 5e-7
        from sass_lab.emulator import emulate
        from sass_lab.errors import EmulatorError

        args, views = self._emulator_args(fn, ln)
        steps = max(1000, int(self.work / min(threads, 1 << 16)))  # thread-instructions within the budget
        try:
            rep = emulate(fn.ptx, fn.name, ln.grid, ln.block, args, dynamic_shared=ln.shared, check=False,
                          max_steps=steps)
        except EmulatorError as e:
            if "max_steps" in e.message:  # nothing was written back: the launch simply did not run here
                self.not_executed.append(f"{fn.name} grid={ln.grid} block={ln.block} (too much work to emulate)")
                return 0.003 + threads * 5e-7
            self._fault(R.CUDA_ERROR_LAUNCH_FAILED, str(e))
            return 0.003
        for f in rep.findings:
            if f.kind in FAULTS:
                self._fault(FAULTS[f.kind], f.render())
                break
        self.st.executed.add(key)
        sms, lanes, hz = DEVICE["sms"], 128, DEVICE["clock_khz"] * 1e3
        fn.last_ms = 0.003 + 1e3 * rep.stats.thread_instructions / (sms * lanes * hz)
        return fn.last_ms

    def _emulator_args(self, fn: Function, ln: Launch) -> tuple[list, list]:
        """Emulator arguments: a pointer into an allocation is a view of it from that address on (the
        emulator writes it back in place); other pointers and scalars are numpy scalars of the PTX type."""
        from sass_lab import ir
        from sass_lab.emulator.program import program

        args, views, cache = [], [], {}
        for p, raw in zip(program(fn.ptx, fn.name).params, ln.params):
            if p.array:
                args.append(raw)
                continue
            kind, size = ir.type_kind(p.type), p.size
            if size == 8 and kind in ("u", "s", "b"):
                addr = int.from_bytes(raw, "little")
                try:
                    arr, off = self._find(addr, 1)
                    view = cache.setdefault(addr, arr[off:])  # the same pointer twice: one array
                    views.append(view)
                    args.append(view)
                    continue
                except _Err:
                    pass
            dt = {"f": {2: np.float16, 4: np.float32, 8: np.float64}}.get(kind, {}).get(size) or {
                1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[size]
            if kind == "s":
                dt = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}[size]
            args.append(np.frombuffer(raw, dtype=dt)[0])
        return args, views

    def _fault(self, code, why: str = "") -> None:
        self.st.sticky = code
        self.fault_reason = why

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

    # ------------------------------------------------------------------ streams, graphs, events

    def cuStreamCreate(self, Flags):
        return _real.CUstream(self._handle("stream", Stream(Flags)))
    cuStreamCreate._outputs = 1

    def cuStreamDestroy(self, hStream):
        self._get("stream", hStream)
        self._drain(stream=hStream)
        del self.st.handles[hStream]

    def cuStreamSynchronize(self, hStream):
        sid = self._stream(hStream)
        if sid and self._get("stream", sid).capturing is not None:
            raise _Err(R.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)
        if sid == 0:
            self._drain(legacy=True)
        else:
            self._drain(stream=sid)
        if self.st.sticky is not None:
            raise _Err(self.st.sticky)

    def cuStreamBeginCapture(self, hStream, mode):
        sid = self._stream(hStream)
        if sid == 0:
            raise _Err(R.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)
        s = self._get("stream", sid)
        if s.capturing is not None:
            raise _Err(R.CUDA_ERROR_ILLEGAL_STATE)
        s.capturing = []

    def cuStreamEndCapture(self, hStream):
        sid = self._stream(hStream)
        s = self._get("stream", sid) if sid else None
        if s is None or s.capturing is None:
            raise _Err(R.CUDA_ERROR_ILLEGAL_STATE)
        ops, s.capturing = s.capturing, None
        return _real.CUgraph(self._handle("graph", ops))
    cuStreamEndCapture._outputs = 1

    def cuGraphInstantiate(self, hGraph, flags):
        return _real.CUgraphExec(self._handle("graphexec", list(self._get("graph", hGraph))))
    cuGraphInstantiate._outputs = 1

    def cuGraphLaunch(self, hGraphExec, hStream):
        ops = self._get("graphexec", hGraphExec)
        self._enqueue(Op(self._stream(hStream), "graph", ops))

    def cuGraphExecDestroy(self, hGraphExec):
        self._get("graphexec", hGraphExec)
        del self.st.handles[hGraphExec]

    def cuGraphDestroy(self, hGraph):
        self._get("graph", hGraph)
        del self.st.handles[hGraph]

    def cuEventCreate(self, Flags):
        return _real.CUevent(self._handle("event", Event()))
    cuEventCreate._outputs = 1

    def cuEventRecord(self, hEvent, hStream):
        ev: Event = self._get("event", hEvent)
        op = Op(self._stream(hStream), "event", ev)
        ev.recorded, ev.time_ms = op, None
        self._enqueue(op)

    def cuEventQuery(self, hEvent):
        ev: Event = self._get("event", hEvent)
        if ev.recorded is not None and not ev.recorded.done:
            raise _Err(R.CUDA_ERROR_NOT_READY)

    def cuEventSynchronize(self, hEvent):
        ev: Event = self._get("event", hEvent)
        if ev.recorded is not None and not ev.recorded.done:
            self._drain(upto=ev.recorded)
        if self.st.sticky is not None:
            raise _Err(self.st.sticky)

    def cuEventElapsedTime(self, hStart, hEnd):
        a: Event = self._get("event", hStart)
        b: Event = self._get("event", hEnd)
        if a.recorded is None or b.recorded is None:
            raise _Err(R.CUDA_ERROR_INVALID_HANDLE)
        if not (a.recorded.done and b.recorded.done):
            raise _Err(R.CUDA_ERROR_NOT_READY)
        return float(b.time_ms - a.time_ms)
    cuEventElapsedTime._outputs = 1

    def cuEventDestroy(self, hEvent):
        self._get("event", hEvent)
        del self.st.handles[hEvent]

    # ------------------------------------------------------------------ for tests

    def device_array(self, ptr: int, n: int) -> np.ndarray:
        """A view of ``n`` bytes of device memory at ``ptr`` (tests only)."""
        arr, off = self._find(int(ptr), n)
        return arr[off:off + n]

    def pending(self) -> int:
        return len(self.st.queue)


class _Err(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


_ERR_TEXT = {R.CUDA_ERROR_ILLEGAL_ADDRESS: "an illegal memory access was encountered",
             R.CUDA_ERROR_INVALID_VALUE: "invalid argument", R.CUDA_ERROR_NOT_READY: "device not ready",
             R.CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: "too many resources requested for launch",
             R.CUDA_ERROR_INVALID_HANDLE: "invalid resource handle",
             R.CUDA_ERROR_NOT_INITIALIZED: "initialization error",
             R.CUDA_ERROR_INVALID_CONTEXT: "invalid device context",
             R.CUDA_ERROR_MISALIGNED_ADDRESS: "misaligned address",
             R.CUDA_ERROR_LAUNCH_FAILED: "unspecified launch failure",
             R.CUDA_ERROR_NO_BINARY_FOR_GPU: "no kernel image is available for execution on the device",
             R.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: "operation not permitted when stream is capturing"}


def _dptr(v: Any) -> int:
    return int(v)


def _buffer_address(obj: Any) -> int:
    if hasattr(obj, "ctypes"):
        return int(obj.ctypes.data)
    return ctypes.addressof(ctypes.c_char.from_buffer(obj))


def _host_bytes(image: Any) -> bytes:
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    if isinstance(image, np.ndarray):
        return image.tobytes()
    raise TypeError(f"cuModuleLoadData: expected a buffer, got {type(image).__name__}")


def _read_host(src: Any, n: int) -> bytes:
    if src is None:
        raise _Err(R.CUDA_ERROR_INVALID_VALUE)
    if isinstance(src, int):
        if BASE <= src < BASE + (1 << 44):  # a device pointer passed as host memory
            raise _Err(R.CUDA_ERROR_INVALID_VALUE)
        return ctypes.string_at(src, n)
    if isinstance(src, _real.CUdeviceptr):
        raise _Err(R.CUDA_ERROR_INVALID_VALUE)
    mv = memoryview(src).cast("B")
    if mv.nbytes < n:
        raise _Err(R.CUDA_ERROR_INVALID_VALUE)
    return bytes(mv[:n])


def _write_host(dst: Any, data: np.ndarray) -> None:
    n = data.size
    if isinstance(dst, int):
        if BASE <= dst < BASE + (1 << 44):
            raise _Err(R.CUDA_ERROR_INVALID_VALUE)
        ctypes.memmove(dst, data.ctypes.data, n)
        return
    if isinstance(dst, _real.CUdeviceptr) or dst is None:
        raise _Err(R.CUDA_ERROR_INVALID_VALUE)
    mv = memoryview(dst).cast("B")
    if mv.readonly or mv.nbytes < n:
        raise _Err(R.CUDA_ERROR_INVALID_VALUE)
    mv[:n] = data.tobytes()


# ---------------------------------------------------------------------------------------- install


def install(standin: StandIn | None = None) -> StandIn:
    """Put the stand-in in place of ``cuda.bindings.driver`` in this process (and learn compiled PTX)."""
    import cuda.bindings

    d = standin or StandIn()
    sys.modules["cuda.bindings.driver"] = d
    cuda.bindings.driver = d
    _hook_compiler()
    return d


def _hook_compiler() -> None:
    """Wrap ``sass_lab.toolchain.compile.compile_ptx`` (now or when it is first imported)."""
    mod = sys.modules.get("sass_lab.toolchain.compile")
    if mod is not None:
        _wrap_compile(mod)
        return
    if any(isinstance(f, _CompileHook) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _CompileHook())


def _wrap_compile(mod: types.ModuleType) -> None:
    orig = mod.compile_ptx
    if getattr(orig, "_standin", False):
        return

    def compile_ptx(ptx, arch, *a, **kw):
        out = orig(ptx, arch, *a, **kw)
        register_ptx(out.cubin, ptx)
        return out

    compile_ptx._standin = True  # type: ignore[attr-defined]
    compile_ptx.__wrapped__ = orig  # type: ignore[attr-defined]
    compile_ptx.__signature__ = inspect.signature(orig)  # type: ignore[attr-defined]
    mod.compile_ptx = compile_ptx


class _CompileHook:
    """A meta-path finder that wraps compile_ptx right after its module executes."""

    def find_spec(self, name, path=None, target=None):
        if name != "sass_lab.toolchain.compile":
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        orig_exec = loader.exec_module

        def exec_module(module):
            orig_exec(module)
            _wrap_compile(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
