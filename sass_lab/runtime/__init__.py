"""The CUDA driver API through cuda-python: probe, primary context, cubin loading, argument packing, launch.

Only this package (and the toolchain) imports ``cuda.bindings``, and only when called: importing
``sass_lab.runtime`` works on a machine without a GPU; the first call that needs one raises
:class:`~sass_lab.errors.NoGPUError` with one sentence saying why.
"""

from __future__ import annotations

from ..errors import CudaError, NoGPUError
from .args import ArgPlan, HostArray, Slot, args_from_dict, device_pointer, encode_scalar, layout, plan_args
from .driver import Context, DeviceInfo, context, probe, synchronize
from .launch import Prepared, check_geometry, dim3, launch, max_active_blocks, prepare
from .memory import DeviceBuffer, alloc, copy_out, to_device

__all__ = [
    "ArgPlan", "Context", "CudaError", "DeviceBuffer", "DeviceInfo", "HostArray", "NoGPUError", "Prepared",
    "Slot", "alloc", "args_from_dict", "check_geometry", "context", "copy_out", "device_pointer", "dim3",
    "encode_scalar", "launch", "max_active_blocks", "layout", "plan_args", "prepare", "probe", "synchronize", "to_device",
    "available", "device_info", "require_gpu",
]


def require_gpu() -> None:
    """Raise NoGPUError (one sentence) unless a CUDA driver and GPU can be used."""
    probe()


def device_info(ordinal: int = 0) -> dict:
    """The device's attributes as a dict (``name``, ``driver``, ``cc``, ``sm_count``, ``l2_bytes``, ...)."""
    info = context(ordinal).info
    d = info.to_dict()
    d["driver"] = info.driver_version
    d["arch"] = info.arch
    return d


def available() -> bool:
    """True when a CUDA driver and at least one GPU can be used."""
    try:
        probe()
    except NoGPUError:
        return False
    return True
