"""TensorMaps on the GPU: ``cuTensorMapEncodeTiled`` of a :class:`~sass_lab.hw.tensormap.TensorMap` whose
tensor already lives at a device address, as the 128 opaque bytes a kernel receives.

The map was checked against the driver's rules when it was made (``hw.tensormap.validate``); the
driver checks again and any refusal it still has is a CudaError naming the call.
"""

from __future__ import annotations

import ctypes

from ..hw.tensormap import TensorMap
from .driver import check, driver


def encode(tm: TensorMap, address: int) -> bytes:
    """The driver's 128-byte CUtensorMap for ``tm`` with its tensor at device ``address``."""
    drv = driver()
    a = tm.driver_args()
    m = check(drv.cuTensorMapEncodeTiled(
        drv.CUtensorMapDataType(a["dtype"]), a["rank"], int(address), list(a["global_dim"]),
        list(a["global_strides"]), list(a["box_dim"]), list(a["element_strides"]),
        drv.CUtensorMapInterleave(a["interleave"]), drv.CUtensorMapSwizzle(a["swizzle"]),
        drv.CUtensorMapL2promotion(a["l2_promotion"]), drv.CUtensorMapFloatOOBfill(a["oob_fill"])),
        f"cuTensorMapEncodeTiled of {tm!r}")
    return ctypes.string_at(int(m.getPtr()), 128)
