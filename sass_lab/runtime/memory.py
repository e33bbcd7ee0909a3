"""Device memory: plain ``cuMemAlloc`` buffers, host↔device copies, memsets, events and streams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .driver import check, context, driver, stream_handle


@dataclass(eq=False)
class DeviceBuffer:
    """``nbytes`` of device memory at ``ptr``; usable as a kernel argument (CUDA array interface)."""

    ptr: int
    nbytes: int
    dtype: str = "|u1"
    shape: tuple[int, ...] | None = None

    @property
    def __cuda_array_interface__(self) -> dict:
        shape = self.shape if self.shape is not None else (self.nbytes // np.dtype(self.dtype).itemsize,)
        return {"shape": shape, "typestr": np.dtype(self.dtype).str, "data": (self.ptr, False),
                "version": 3, "strides": None}

    def free(self, quiet: bool = False) -> None:
        """cuMemFree; ``quiet`` ignores its error (cleanup while another error propagates)."""
        if self.ptr:
            ptr, self.ptr = self.ptr, 0
            res = driver().cuMemFree(ptr)
            if not quiet:
                check(res, "cuMemFree")

    def __enter__(self) -> DeviceBuffer:
        return self

    def __exit__(self, *exc) -> None:
        self.free(quiet=exc[0] is not None)


def alloc(nbytes: int, ordinal: int = 0) -> DeviceBuffer:
    """Uninitialised device memory (at least 1 byte: cuMemAlloc rejects 0)."""
    context(ordinal)
    ptr = check(driver().cuMemAlloc(max(1, int(nbytes))), f"allocating {nbytes} bytes (cuMemAlloc)")
    return DeviceBuffer(int(ptr), int(nbytes))


def to_device(arr: np.ndarray, ordinal: int = 0) -> DeviceBuffer:
    """A device copy of ``arr`` (C-contiguous), with its dtype and shape recorded."""
    a = np.ascontiguousarray(arr)
    buf = alloc(a.nbytes, ordinal)
    buf.dtype, buf.shape = a.dtype.str, tuple(a.shape)
    copy_in(buf.ptr, a)
    return buf


def copy_in(ptr: int, a: np.ndarray) -> None:
    """Host → device, ``a`` C-contiguous."""
    if a.nbytes:
        check(driver().cuMemcpyHtoD(ptr, a.ctypes.data, a.nbytes), "copying to the device (cuMemcpyHtoD)")


def copy_out(out: np.ndarray, ptr: int) -> None:
    """Device → host into the C-contiguous ``out``."""
    if out.nbytes:
        check(driver().cuMemcpyDtoH(out.ctypes.data, ptr, out.nbytes), "copying to the host (cuMemcpyDtoH)")


def memset(ptr: int, nbytes: int, value: int = 0, stream: Any = None) -> None:
    """Asynchronous byte memset on ``stream`` (the L2 flush uses this)."""
    check(driver().cuMemsetD8Async(ptr, value & 0xFF, int(nbytes), stream_handle(stream)), "cuMemsetD8Async")


def event() -> Any:
    """A timing-capable CUDA event."""
    drv = driver()
    return check(drv.cuEventCreate(drv.CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate")


def record(ev: Any, stream: Any = None) -> None:
    check(driver().cuEventRecord(ev, stream_handle(stream)), "cuEventRecord")


def elapsed_ms(start: Any, end: Any) -> float:
    """Milliseconds between two recorded events (waits for ``end``)."""
    check(driver().cuEventSynchronize(end), "waiting for an event (cuEventSynchronize)")
    return float(check(driver().cuEventElapsedTime(start, end), "cuEventElapsedTime"))


def destroy_event(ev: Any) -> None:
    check(driver().cuEventDestroy(ev), "cuEventDestroy")


def new_stream() -> Any:
    """A non-blocking stream (graph capture cannot use the legacy default stream)."""
    drv = driver()
    return check(drv.cuStreamCreate(drv.CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate")


def stream_sync(stream: Any = None, what: str = "the stream") -> None:
    check(driver().cuStreamSynchronize(stream_handle(stream)), f"{what} (cuStreamSynchronize)")


def free_stream(stream: Any) -> None:
    check(driver().cuStreamDestroy(stream), "cuStreamDestroy")
