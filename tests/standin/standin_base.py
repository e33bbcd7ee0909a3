"""The stand-in driver's parts that are not the API: the device's facts, the PTX registry, the real
binding's signatures and argument conversions, the state records, host-memory helpers, the compiler hook."""

from __future__ import annotations

import ctypes
import hashlib
import inspect
import re
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from cuda.bindings import driver as _real

from sass_lab.hw.arch import arch_info
from sass_lab.hw.devices import DEVICES

R = _real.CUresult
OK = R.CUDA_SUCCESS
A = _real.CUdevice_attribute
F = _real.CUfunction_attribute
KB = 1024
BASE = 0x2000_0000_0000  # device addresses: never a mapped host address
ALIGN = 512

# The device: an H100 SXM, its limits from sass_lab's facts tables (hw.arch for sm_90, hw.devices for the
# product), so the stand-in and the lab never disagree on a figure by a typo; the GPU tests check those
# tables against the real chip's attributes (tests/runtime/test_runtime_gpu.py).
_ARCH, _H100 = arch_info("sm_90"), DEVICES["H100-SXM"]
DEVICE = {
    "name": "NVIDIA H100 80GB HBM3 (stand-in)", "cc": _ARCH.capability, "sms": _H100.sms,
    "clock_khz": int(_H100.boost_clock_hz / 1e3), "mem_clock_khz": 2_619_000, "bus_width": 5120,
    "l2": _H100.l2_bytes, "total_mem": 80 << 30, "threads_per_sm": _ARCH.max_threads_per_sm,
    "regs_per_sm": _ARCH.regs_per_sm, "shared_per_sm": _ARCH.shared_per_sm,
    "shared_per_block": _ARCH.default_shared_per_block, "shared_optin": _ARCH.max_shared_per_block,
    "reserved": _ARCH.reserved_shared_per_block, "blocks_per_sm": _ARCH.max_blocks_per_sm,
}
ATTRS = {
    A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: DEVICE["cc"][0],
    A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: DEVICE["cc"][1],
    A.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: DEVICE["sms"], A.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: DEVICE["l2"],
    A.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: DEVICE["shared_per_block"],
    A.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: DEVICE["shared_optin"],
    A.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: DEVICE["shared_per_sm"],
    A.CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK: DEVICE["reserved"],
    A.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: _ARCH.max_threads_per_block,
    A.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: DEVICE["threads_per_sm"],
    A.CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: _ARCH.max_regs_per_block,
    A.CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: DEVICE["regs_per_sm"],
    A.CU_DEVICE_ATTRIBUTE_WARP_SIZE: _ARCH.warp_size, A.CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR:
        DEVICE["blocks_per_sm"],
    A.CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: 1024, A.CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: 1024,
    A.CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: 64, A.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: (1 << 31) - 1,
    A.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: 65535, A.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: 65535,
    A.CU_DEVICE_ATTRIBUTE_CLOCK_RATE: DEVICE["clock_khz"], A.CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: 2_619_000,
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
    too_much: set = field(default_factory=set)  # launches that ran out of the work budget: not tried again
    fills: dict[int, int] = field(default_factory=dict)  # id(allocation) -> pending memset value


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
