"""Kernel-argument packing as a pure function: ``ir.Param`` list + Python values → an ``ArgPlan``.

The plan holds the parameter buffer laid out by PTX rules (each parameter at an offset aligned to its
``.align`` or natural size), the bytes of every scalar, and the numpy arrays that the runtime must
copy to the device before the launch and back after it. Device pointers are patched in later with
:meth:`ArgPlan.encode`, so everything here runs (and is tested) without a GPU.

Accepted values per parameter type:

- 64-bit integer params (``.u64``/``.s64``/``.b64``, the DSL's pointers): a numpy array (copied in and
  out), a device array (``__cuda_array_interface__`` or CUDA DLPack: passed without a copy), or an int;
- other scalars: Python/numpy numbers converted to the declared type, with range checks;
- byte arrays (``.param .align 64 .b8 p[128]``): exactly ``size`` bytes from any buffer, or a struct as
  ``{byte offset: numpy scalar or numpy array}`` (``hw.launch.pack_struct``; arrays are pointer members,
  copied in and out like array arguments, host key ``member_key(i, offset)``);
- a :class:`~sass_lab.hw.tensormap.TensorMap`, for a by-value ``.param .align 128 .b8 p[128]``
  (``__grid_constant__ CUtensorMap``) or a 64-bit pointer (``const CUtensorMap*``): its array is copied
  in and out like any numpy argument (host key ``tensor_key(i)``), and the runtime encodes the map
  with the driver once the array has a device address (:class:`MapArg`).
"""

from __future__ import annotations

import ctypes
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ir
from ..errors import UsageError
from ..hw.launch import pack_struct

PARAM_LIMIT = 32764  # bytes of kernel parameters on Volta and later (CUDA 12.1+)

_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_SINT = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}
_FLOAT = {"f16": np.float16, "f32": np.float32, "f64": np.float64}
_DL_CUDA = (2, 13)  # kDLCUDA, kDLCUDAManaged


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one parameter lives in the parameter buffer."""

    param: ir.Param
    offset: int
    size: int
    align: int


@dataclass(frozen=True, slots=True, eq=False)
class HostArray:
    """A numpy argument: ``staging`` (C-contiguous) goes to the device; ``target`` receives it back."""

    index: int  # parameter index
    staging: np.ndarray
    target: np.ndarray | None  # None for read-only arrays (copied in only)

    @property
    def nbytes(self) -> int:
        return int(self.staging.nbytes)


@dataclass(frozen=True, slots=True, eq=False)
class MapArg:
    """A TensorMap argument: parameter ``index`` gets the map by value, or a pointer to a device copy."""

    index: int
    map: Any  # hw.tensormap.TensorMap
    by_value: bool


def tensor_key(index: int) -> int:
    """Host-array key of the tensor of the TensorMap given for parameter ``index`` (never a param index)."""
    return -2 * index - 1


def member_key(index: int, offset: int) -> int:
    """Host-array key of the array behind the pointer member at ``offset`` of struct parameter ``index``."""
    return -(1 << 40) - index * (1 << 16) - offset


def map_key(index: int) -> int:
    """Device-buffer key of the encoded map of a by-pointer TensorMap parameter ``index``."""
    return -2 * index - 2


@dataclass(frozen=True, slots=True, eq=False)
class ArgPlan:
    """Packed arguments: buffer layout, scalar bytes, host arrays to copy, device pointers as given."""

    kernel: str
    slots: tuple[Slot, ...]
    size: int  # bytes up to the end of the last parameter
    values: tuple[bytes | None, ...]  # None where a host array's device pointer goes
    host: tuple[HostArray, ...]
    maps: tuple[MapArg, ...] = ()
    members: tuple[tuple[int, int], ...] = ()  # (param index, byte offset) of struct pointer members

    @property
    def copy_backs(self) -> tuple[HostArray, ...]:
        """The host arrays copied back after the launch (the writable ones)."""
        return tuple(h for h in self.host if h.target is not None)

    def encode(self, device_ptrs: Mapping[int, int] | None = None,
               blobs: Mapping[int, bytes] | None = None) -> bytes:
        """The parameter buffer, with ``device_ptrs[param index]`` for each host array and
        ``blobs[param index]`` (an encoded tensor map) for each by-value map."""
        device_ptrs = device_ptrs or {}
        blobs = blobs or {}
        buf = bytearray(self.size)
        for i, (slot, val) in enumerate(zip(self.slots, self.values)):
            if val is None and i in blobs:
                val = blobs[i]
            elif val is None:
                if i not in device_ptrs:
                    raise UsageError(f"no device pointer for parameter '{pname(slot.param)}' of {self.kernel}")
                val = struct.pack("<Q", device_ptrs[i])
            buf[slot.offset:slot.offset + slot.size] = val
        for i, off in self.members:
            key = member_key(i, off)
            if key not in device_ptrs:
                raise UsageError(f"no device pointer for member {off} of '{pname(self.slots[i].param)}' of {self.kernel}")
            at = self.slots[i].offset + off
            buf[at:at + 8] = struct.pack("<Q", device_ptrs[key])
        return bytes(buf)


def layout(params: Sequence[ir.Param], kernel: str = "kernel") -> tuple[tuple[Slot, ...], int]:
    """Offsets by PTX rules: each param aligned to ``.align`` (or its element size), in order."""
    slots, off = [], 0
    for p in params:
        if p.type == "pred" or not ir.is_type(p.type):
            raise UsageError(f"parameter '{pname(p)}' of {kernel} has type .{p.type}, which cannot be passed")
        align = p.align or ir.type_bytes(p.type)
        if align <= 0 or align & (align - 1):
            raise UsageError(f"parameter '{pname(p)}' of {kernel} has alignment {align}, not a power of two")
        off = -(-off // align) * align
        slots.append(Slot(p, off, p.size, align))
        off += p.size
    if off > PARAM_LIMIT:
        raise UsageError(f"the parameters of {kernel} take {off} bytes, over the {PARAM_LIMIT}-byte limit")
    return tuple(slots), off


def plan_args(params: Sequence[ir.Param], args: Sequence[Any], kernel: str = "kernel") -> ArgPlan:
    """Check and convert ``args`` against ``params``; raise UsageError naming the bad parameter."""
    if len(args) != len(params):
        names = ", ".join(pname(p) for p in params) or "none"
        raise UsageError(f"{kernel} takes {len(params)} argument(s) ({names}) but got {len(args)}")
    slots, size = layout(params, kernel)
    values: list[bytes | None] = []
    host: list[HostArray] = []
    maps: list[MapArg] = []
    members: list[tuple[int, int]] = []
    for i, (slot, arg) in enumerate(zip(slots, args)):
        p = slot.param
        if p.array and isinstance(arg, Mapping):
            try:
                raw, pointers = pack_struct(p.size, dict(arg))
            except ValueError as e:
                raise UsageError(f"parameter '{pname(p)}' ({p.size}-byte struct) of {kernel}: {e}") from None
            values.append(raw)
            for off, arr in pointers:
                host.append(_host_array(member_key(i, off), arr))
                members.append((i, off))
            continue
        if _is_tensor_map(arg):
            maps.append(_map_arg(i, p, arg, kernel))
            host.append(_host_array(tensor_key(i), arg.array))
            values.append(None)
            continue
        if p.array:
            values.append(_byte_array(p, arg, kernel))
            continue
        ptr = _pointer_like(p, arg, kernel)
        if isinstance(ptr, np.ndarray):
            host.append(_host_array(i, ptr))
            values.append(None)
        elif ptr is not None:
            values.append(struct.pack("<Q", ptr))
        else:
            values.append(encode_scalar(p, arg, kernel))
    return ArgPlan(kernel, slots, size, tuple(values), tuple(host), tuple(maps), tuple(members))


def _is_tensor_map(arg: Any) -> bool:
    from ..hw.tensormap import TensorMap

    return isinstance(arg, TensorMap)


def _map_arg(i: int, p: ir.Param, tm: Any, kernel: str) -> MapArg:
    if p.array and p.size == 128:
        return MapArg(i, tm, True)
    if not p.array and p.type in ("u64", "s64", "b64"):
        return MapArg(i, tm, False)
    raise UsageError(f"parameter '{pname(p)}' (.{p.type}) of {kernel} cannot take a TensorMap",
                     hint="a tensor map goes to a .param .align 128 .b8 p[128] (by value) or a 64-bit pointer")


def args_from_dict(params: Sequence[ir.Param], named: Mapping[str, Any], kernel: str = "kernel") -> tuple:
    """Positional arguments from a ``{param name: value}`` dict (the lab block's ``inputs``).

    A DSL parameter ``A`` is the PTX parameter ``A_param``; either name finds it.
    """
    keys = [p.name if p.name in named else pname(p) for p in params]
    missing = [pname(p) for p, k in zip(params, keys) if k not in named]
    extra = [n for n in named if n not in keys]
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
                ([f"unknown {', '.join(extra)}"] if extra else [])
        raise UsageError(f"arguments for {kernel} do not match its parameters: {'; '.join(parts)}",
                         hint=f"parameters: {', '.join(pname(p) for p in params)}")
    return tuple(named[k] for k in keys)


def pname(p: ir.Param) -> str:
    """The name a user wrote: the DSL's ``A`` for the PTX parameter ``A_param``."""
    return p.name.removesuffix("_param")


# --------------------------------------------------------------------------- scalars


def encode_scalar(p: ir.Param, value: Any, kernel: str = "kernel") -> bytes:
    """Little-endian bytes of ``value`` as PTX type ``p.type`` (range-checked)."""
    t, n = p.type, ir.type_bytes(p.type)
    kind = ir.type_kind(t)
    where = f"parameter '{pname(p)}' (.{t}) of {kernel}"
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.ndarray):
        raise UsageError(f"{where} is a scalar but got an array of shape {value.shape}")
    if kind == "b" and isinstance(value, np.generic) and value.dtype.itemsize == n:
        return value.tobytes()  # raw bits of a same-sized numpy scalar
    if isinstance(value, (bool, np.bool_)):
        value = int(value)
    if kind in ("u", "s", "b"):
        if not isinstance(value, (int, np.integer)):
            raise UsageError(f"{where} takes an integer but got {type(value).__name__} {value!r}")
        v = int(value)
        lo = 0 if kind == "u" else -(1 << (8 * n - 1))
        hi = (1 << (8 * n - 1)) - 1 if kind == "s" else (1 << (8 * n)) - 1
        if not lo <= v <= hi:
            raise UsageError(f"{where} must lie in [{lo}, {hi}], got {v}")
        return (v & ((1 << (8 * n)) - 1)).to_bytes(n, "little")
    if kind == "f":
        if not isinstance(value, (int, float, np.integer, np.floating)):
            raise UsageError(f"{where} takes a number but got {type(value).__name__} {value!r}")
        v = float(value)
        if t in _FLOAT:
            with np.errstate(over="ignore"):
                out = _FLOAT[t](v)
            if math.isfinite(v) and not np.isfinite(out):
                raise UsageError(f"{where}: {v} overflows .{t}")
            return out.tobytes()
        if t in ("bf16", "tf32"):
            bits = _bf16_bits(v) if t == "bf16" else int(np.float32(v).view(np.uint32))
            return bits.to_bytes(n, "little")
    raise UsageError(f"{where} has a type the runtime cannot pass as a scalar")


def _bf16_bits(v: float) -> int:
    """Round-to-nearest-even float32 → bfloat16 bits (NaN stays NaN)."""
    b = int(np.float32(v).view(np.uint32))
    if math.isnan(v):
        return 0x7FC0
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF


# --------------------------------------------------------------------------- pointers and arrays


def _pointer_like(p: ir.Param, arg: Any, kernel: str) -> np.ndarray | int | None:
    """A numpy array to copy, a device address, or None when ``arg`` is a plain scalar."""
    where = f"parameter '{pname(p)}' (.{p.type}) of {kernel}"
    is_ptr_param = p.type in ("u64", "s64", "b64")
    if isinstance(arg, np.ndarray) and arg.ndim > 0:
        if not is_ptr_param:
            raise UsageError(f"{where} is a {8 * p.size}-bit scalar but got an array",
                             hint="arrays go to 64-bit (.u64) pointer parameters")
        if arg.dtype.hasobject:
            raise UsageError(f"{where}: an array of Python objects cannot go to the GPU")
        return arg
    addr = device_pointer(arg)
    if addr is not None:
        if not is_ptr_param:
            raise UsageError(f"{where} is a {8 * p.size}-bit scalar but got a device array")
        return addr
    if _is_cpu_tensor(arg):
        raise UsageError(f"{where}: got a {type(arg).__name__} in host memory",
                         hint="pass a numpy array (copied for you) or move the tensor to the GPU")
    return None


def _host_array(index: int, arr: np.ndarray) -> HostArray:
    staging = np.ascontiguousarray(arr)
    target = arr if arr.flags.writeable else None
    return HostArray(index, staging, target)


def device_pointer(obj: Any) -> int | None:
    """The device address of a CUDA array (CuPy, PyTorch, Numba, ...), or None if it is not one."""
    try:
        cai = getattr(obj, "__cuda_array_interface__", None)
    except Exception:  # noqa: BLE001 - e.g. a torch tensor that requires grad refuses the interface
        cai = None
        if getattr(obj, "is_cuda", False) and callable(getattr(obj, "data_ptr", None)):
            return int(obj.data_ptr())
    if isinstance(cai, Mapping) and "data" in cai:
        return int(cai["data"][0] or 0)
    dev = getattr(obj, "__dlpack_device__", None)
    if callable(dev) and hasattr(obj, "__dlpack__"):
        try:
            dtype, _ = dev()
        except Exception:  # noqa: BLE001 - not a DLPack producer after all
            return None
        if int(dtype) in _DL_CUDA:
            return dlpack_data_pointer(obj.__dlpack__())
    return None


def _is_cpu_tensor(obj: Any) -> bool:
    dev = getattr(obj, "__dlpack_device__", None)
    if not callable(dev) or isinstance(obj, np.ndarray):
        return False
    try:
        return int(dev()[0]) == 1  # kDLCPU
    except Exception:  # noqa: BLE001
        return False


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32),
                ("ndim", ctypes.c_int32), ("dtype", ctypes.c_uint32), ("shape", ctypes.c_void_p),
                ("strides", ctypes.c_void_p), ("byte_offset", ctypes.c_uint64)]


def dlpack_data_pointer(capsule: Any) -> int:
    """``data + byte_offset`` of the DLTensor at the start of a ``dltensor`` capsule (not consumed)."""
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    addr = get(capsule, b"dltensor")
    t = _DLTensor.from_address(addr)
    return int(t.data or 0) + int(t.byte_offset)


def _byte_array(p: ir.Param, arg: Any, kernel: str) -> bytes:
    where = f"parameter '{pname(p)}' (.{p.type}[{p.array}], {p.size} bytes) of {kernel}"
    if callable(getattr(arg, "getPtr", None)):  # a cuda.bindings struct such as CUtensorMap
        data = ctypes.string_at(int(arg.getPtr()), p.size)
    elif isinstance(arg, ctypes.Structure | ctypes.Array):
        data = ctypes.string_at(ctypes.addressof(arg), ctypes.sizeof(arg))
    else:
        try:
            data = bytes(memoryview(arg).cast("B")) if not isinstance(arg, np.ndarray) else arg.tobytes()
        except TypeError:
            raise UsageError(f"{where} takes a buffer of bytes, got {type(arg).__name__}") from None
    if len(data) != p.size:
        raise UsageError(f"{where} takes exactly {p.size} bytes, got {len(data)}")
    return data
