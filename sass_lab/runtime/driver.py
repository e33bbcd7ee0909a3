"""The CUDA driver through ``cuda.bindings.driver``: probing, errors, device, primary context, modules.

Nothing here runs at import. :func:`context` probes ``cuInit``/``cuDeviceGetCount`` first (a missing
``libcuda.so.1`` raises RuntimeError inside cuda-python) and turns any failure into one
:class:`NoGPUError` sentence; then it retains the device's primary context (shared with PyTorch and
CuPy) and caches it, with loaded modules, for the life of the process.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

from ..errors import CudaError, NoGPUError

_LOCK = threading.Lock()
_CONTEXTS: dict[int, Context] = {}


def driver() -> Any:
    """The ``cuda.bindings.driver`` module (NoGPUError if cuda-bindings is not installed)."""
    try:
        from cuda.bindings import driver as drv
    except ImportError:
        raise NoGPUError("No CUDA GPU can be used: the cuda-bindings package is not installed.") from None
    return drv


def error_text(err: Any) -> str:
    """``CUDA_ERROR_X: description`` for a CUresult."""
    drv = driver()
    name = getattr(err, "name", None) or f"CUresult {int(err)}"
    try:
        e2, s = drv.cuGetErrorString(err)
        if int(e2) == 0 and s:
            return f"{name}: {s.decode() if isinstance(s, bytes) else s}"
    except Exception:  # noqa: BLE001 - the name alone will do
        pass
    return name


def check(result: Any, what: str) -> Any:
    """Unpack a cuda-python result tuple; raise CudaError naming ``what`` and the driver's error."""
    err, *rest = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise CudaError(f"{what} failed: {error_text(err)}")
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else tuple(rest)


def probe() -> int:
    """Number of CUDA devices; NoGPUError (one sentence) when there is no usable driver or GPU."""
    drv = driver()
    try:
        (err,) = drv.cuInit(0)
    except RuntimeError as e:  # cuda-python cannot dlopen libcuda.so.1
        lib = "libcuda.so.1" if "libcuda" in str(e) else f"library ({e})"
        raise NoGPUError(f"No CUDA GPU can be used: the NVIDIA driver {lib} could not be loaded.") from None
    if int(err) != 0:
        raise NoGPUError(f"No CUDA GPU can be used: cuInit failed with {getattr(err, 'name', int(err))}.")
    err, n = drv.cuDeviceGetCount()
    if int(err) != 0 or n == 0:
        raise NoGPUError("No CUDA GPU can be used: the driver loaded but reports no device.")
    return int(n)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the lab needs to know about a device, read from the driver."""

    ordinal: int
    name: str
    cc: tuple[int, int]
    sm_count: int
    l2_bytes: int
    shared_per_block: int  # default dynamic+static limit (hw.arch.STATIC_SHARED_MAX; the GPU tests compare)
    shared_per_block_optin: int  # limit after the opt-in attribute
    clock_khz: int  # peak SM clock
    mem_clock_khz: int
    bus_width: int  # bits
    total_mem: int
    driver_version: int  # 1000 * major + 10 * minor

    @property
    def arch(self) -> str:
        return f"sm_{self.cc[0]}{self.cc[1]}"

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(eq=False)
class Context:
    """A retained primary context with its device, modules and functions (one per device)."""

    device: Any  # CUdevice
    handle: Any  # CUcontext
    info: DeviceInfo
    modules: dict[bytes, Any] = field(default_factory=dict)
    functions: dict[tuple[bytes, str], Any] = field(default_factory=dict)
    shared_set: dict[tuple[bytes, str], int] = field(default_factory=dict)

    def make_current(self) -> None:
        check(driver().cuCtxSetCurrent(self.handle), "cuCtxSetCurrent")

    def _module(self, cubin: bytes) -> tuple[bytes, Any]:
        """(key, module) of ``cubin``, loaded once (cuModuleLoadData); call with _LOCK held."""
        key = hashlib.sha256(cubin).digest()
        mod = self.modules.get(key)
        if mod is None:
            mod = check(driver().cuModuleLoadData(cubin), "loading the cubin (cuModuleLoadData)")
            self.modules[key] = mod
        return key, mod

    def function(self, cubin: bytes, name: str) -> Any:
        """Load ``cubin`` once (cuModuleLoadData) and look up kernel ``name`` in it."""
        drv = driver()
        with _LOCK:
            key, mod = self._module(cubin)
            fn = self.functions.get((key, name))
            if fn is None:
                fn = check(drv.cuModuleGetFunction(mod, name.encode()),
                           f"finding kernel '{name}' in the cubin (cuModuleGetFunction)")
                self.functions[(key, name)] = fn
        return fn

    def symbol(self, cubin: bytes, name: str) -> tuple[int, int]:
        """(device address, bytes) of the module variable ``name`` (cuModuleGetGlobal)."""
        drv = driver()
        with _LOCK:
            _, mod = self._module(cubin)
        ptr, size = check(drv.cuModuleGetGlobal(mod, name.encode()),
                          f"finding the __constant__/__device__ variable '{name}' (cuModuleGetGlobal)")
        return int(ptr), int(size)

    def allow_shared(self, cubin: bytes, name: str, fn: Any, dynamic: int, static: int = 0) -> None:
        """Raise the function's dynamic shared-memory limit when static + dynamic exceed the default.

        The driver's default limit for dynamic shared memory is the device's per-block default
        (``CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK``, read into ``DeviceInfo``: 48 KB on every
        architecture of hw.arch, which the GPU tests check) minus the kernel's static shared memory; above it, ``CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES``
        must be raised (at most the opt-in limit minus static) or the launch fails.
        """
        key = (hashlib.sha256(cubin).digest(), name)
        if dynamic <= self.shared_set.get(key, self.info.shared_per_block - static):
            return
        drv = driver()
        attr = drv.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
        check(drv.cuFuncSetAttribute(fn, attr, int(dynamic)),
              f"allowing {dynamic} bytes of dynamic shared memory for '{name}' ({static} static)")
        self.shared_set[key] = dynamic


def context(ordinal: int = 0) -> Context:
    """The primary context of device ``ordinal``, retained once per process and made current."""
    ctx = _CONTEXTS.get(ordinal)
    if ctx is None:
        with _LOCK:
            ctx = _CONTEXTS.get(ordinal)
            if ctx is None:
                n = probe()
                if not 0 <= ordinal < n:
                    raise NoGPUError(f"No CUDA GPU can be used: device {ordinal} asked for, {n} present.")
                drv = driver()
                dev = check(drv.cuDeviceGet(ordinal), "cuDeviceGet")
                handle = check(drv.cuDevicePrimaryCtxRetain(dev), "cuDevicePrimaryCtxRetain")
                ctx = Context(dev, handle, read_info(ordinal, dev))
                _CONTEXTS[ordinal] = ctx
    ctx.make_current()
    return ctx


def read_info(ordinal: int, dev: Any) -> DeviceInfo:
    """Device attributes through cuDeviceGetAttribute and friends."""
    drv = driver()
    a = drv.CUdevice_attribute

    def attr(name: str, optional: bool = False) -> int:
        """An attribute; ``optional`` ones (clocks, bus width: deprecated in newer CUDA) read 0 if refused."""
        enum = getattr(a, name, None)
        if enum is None and optional:
            return 0
        try:
            return int(check(drv.cuDeviceGetAttribute(enum, dev), f"reading {name}"))
        except CudaError:
            if optional:
                return 0
            raise

    raw = check(drv.cuDeviceGetName(256, dev), "cuDeviceGetName")
    name = (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)).split("\0")[0].strip()
    return DeviceInfo(
        ordinal=ordinal, name=name,
        cc=(attr("CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR"),
            attr("CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR")),
        sm_count=attr("CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT"),
        l2_bytes=attr("CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE"),
        shared_per_block=attr("CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK"),
        shared_per_block_optin=attr("CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN"),
        clock_khz=attr("CU_DEVICE_ATTRIBUTE_CLOCK_RATE", True),
        mem_clock_khz=attr("CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE", True),
        bus_width=attr("CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH", True),
        total_mem=int(check(drv.cuDeviceTotalMem(dev), "cuDeviceTotalMem")),
        driver_version=int(check(drv.cuDriverGetVersion(), "cuDriverGetVersion")))


def synchronize(what: str = "the GPU work") -> None:
    """cuCtxSynchronize, raising CudaError for any failure of earlier asynchronous work."""
    check(driver().cuCtxSynchronize(), f"{what} (cuCtxSynchronize)")


def stream_handle(stream: Any) -> Any:
    """A CUstream (or 0) from None, an int, a CUstream, or a CuPy/PyTorch/cuda.core stream."""
    if stream is None:
        return 0
    if hasattr(stream, "__cuda_stream__"):
        return int(stream.__cuda_stream__()[1])
    for attr in ("cuda_stream", "ptr"):
        v = getattr(stream, attr, None)
        if isinstance(v, int):
            return v
    return stream
