"""TensorMap: the ``cuTensorMapEncodeTiled`` contract, checked as the driver checks it.

``TensorMap(array, dtype, global_dim, global_strides, box_dim, element_strides=None,
interleave="none", swizzle="none", l2_promotion="none", oob_fill="zero")`` mirrors the driver call:
``global_dim``/``box_dim``/``element_strides`` innermost first, ``global_strides`` in bytes for
dimensions 1..rank-1, ``dtype`` the ``CU_TENSOR_MAP_DATA_TYPE_*`` suffix in lower case. ``array``
holds the tensor's bytes (bf16/f16 as uint16 bit patterns, fp8 as uint8; any dtype of the element's
size); it is the global memory the map describes and is written back in place after a run.

Every rule of the CUDA driver API reference (cuTensorMapEncodeTiled, "The parameters passed are
bound to the following requirements") is checked here, so a map the driver would refuse is refused
before any launch, with the rule quoted. On the GPU the runtime encodes the same fields through the
driver; the emulator uses its own 128-byte encoding (:meth:`TensorMap.emulated_bytes`), since a
CUtensorMap is opaque.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from .smem import SWIZZLE_WIDTH

# CUtensorMapDataType, in enum order, with element sizes
DTYPES = {"uint8": 1, "uint16": 2, "uint32": 4, "int32": 4, "uint64": 8, "int64": 8, "float16": 2,
          "float32": 4, "float64": 8, "bfloat16": 2, "float32_ftz": 4, "tfloat32": 4, "tfloat32_ftz": 4}
DTYPE_ENUM = {name: i for i, name in enumerate(DTYPES)}
FLOAT_DTYPES = frozenset({"float16", "float32", "float64", "bfloat16", "float32_ftz", "tfloat32",
                          "tfloat32_ftz"})
INTERLEAVES = {"none": 0, "16B": 1, "32B": 2}
SWIZZLE_ENUM = {"none": 0, "32B": 1, "64B": 2, "128B": 3}
L2_PROMOTIONS = {"none": 0, "64B": 1, "128B": 2, "256B": 3}
OOB_FILLS = {"zero": 0, "nan": 1}
NAN_BITS = {2: 0x7FFF, 4: 0x7FFFFFFF, 8: 0x7FFFFFFFFFFFFFFF}
RULE = "cuTensorMapEncodeTiled"


def _rule(msg: str, hint: str) -> UsageError:
    return UsageError(f"invalid tensor map: {msg}", hint=f"{RULE}: {hint}")


def _ints(v, what: str) -> tuple[int, ...]:
    try:
        t = tuple(int(x) for x in v)
    except (TypeError, ValueError):
        raise UsageError(f"invalid tensor map: {what} must be a sequence of integers, not {v!r}") from None
    return t


class _Box:
    """What a tensor map's box geometry implies (shared by the user's map and the decoded one)."""

    __slots__ = ()

    @property
    def rank(self) -> int:
        return len(self.global_dim)

    @property
    def elem_bytes(self) -> int:
        return DTYPES[self.dtype]

    @property
    def box_counts(self) -> tuple[int, ...]:
        """Elements per box dimension: ``ceil(box / elementStride)`` (dimension 0 ignores its stride)."""
        es = self.element_strides
        return tuple(b if i == 0 else -(-b // es[i]) for i, b in enumerate(self.box_dim))

    @property
    def box_bytes(self) -> int:
        """Bytes one box moves (the transaction count a load completes)."""
        return int(np.prod(self.box_counts)) * self.elem_bytes

    @property
    def row_pitch(self) -> int:
        """Shared-memory bytes per innermost row: the swizzle width when swizzled (rows narrower than
        the swizzle are padded to it; CUDA Programming Guide, TMA swizzle), else the row itself."""
        inner = self.box_dim[0] * self.elem_bytes
        return inner if self.swizzle == "none" else SWIZZLE_WIDTH[self.swizzle]


@dataclass(frozen=True, eq=False)
class TensorMap(_Box):
    """A tiled TMA tensor map over ``array`` (see the module docstring)."""

    array: np.ndarray
    dtype: str
    global_dim: tuple[int, ...]
    global_strides: tuple[int, ...]
    box_dim: tuple[int, ...]
    element_strides: tuple[int, ...] | None = None
    interleave: str = "none"
    swizzle: str = "none"
    l2_promotion: str = "none"
    oob_fill: str = "zero"

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "global_dim", _ints(self.global_dim, "global_dim"))
        set_(self, "global_strides", _ints(self.global_strides, "global_strides"))
        set_(self, "box_dim", _ints(self.box_dim, "box_dim"))
        es = self.element_strides
        set_(self, "element_strides", _ints(es, "element_strides") if es is not None else (1,) * len(self.box_dim))
        validate(self)

    # ------------------------------------------------------------------ derived (and _Box's)
    @property
    def strides(self) -> tuple[int, ...]:
        """Byte strides of every dimension (the innermost is the element size)."""
        return (self.elem_bytes, *self.global_strides)

    @property
    def smem_bytes(self) -> int:
        """Shared-memory footprint of one box."""
        return self.row_pitch * int(np.prod(self.box_counts[1:]))

    def values(self) -> np.ndarray:
        """The tensor the map describes (``global_dim`` reversed: outermost first, read through
        ``global_strides``, so padding between rows is left out) as numbers: bf16 decoded from its bit
        patterns, other types read as themselves (what a lab block compares with its reference)."""
        e = self.elem_bytes
        raw = np.lib.stride_tricks.as_strided(self.array.reshape(-1).view(np.uint8),
                                              shape=(*reversed(self.global_dim), e),
                                              strides=(*reversed(self.strides), 1))
        bits = np.ascontiguousarray(raw).view(f"u{e}")[..., 0]
        if self.dtype == "bfloat16":
            return (bits.astype(np.uint32) << 16).view(np.float32)
        kind = {"float16": np.float16, "float32": np.float32, "float64": np.float64, "int32": np.int32,
                "int64": np.int64}.get(self.dtype)
        return bits.view(kind) if kind is not None else bits

    def driver_args(self) -> dict:
        """The enum values and arrays ``cuTensorMapEncodeTiled`` takes (without the address)."""
        return dict(dtype=DTYPE_ENUM[self.dtype], rank=self.rank, global_dim=self.global_dim,
                    global_strides=self.global_strides, box_dim=self.box_dim,
                    element_strides=self.element_strides, interleave=INTERLEAVES[self.interleave],
                    swizzle=SWIZZLE_ENUM[self.swizzle], l2_promotion=L2_PROMOTIONS[self.l2_promotion],
                    oob_fill=OOB_FILLS[self.oob_fill])

    def emulated_bytes(self, address: int) -> bytes:
        """The emulator's 128-byte encoding of this map with the tensor at ``address``."""
        return TmaDesc.of(self, address).encode()

    def __repr__(self) -> str:
        return (f"TensorMap({self.dtype}, dim={self.global_dim}, strides={self.global_strides}, "
                f"box={self.box_dim}, swizzle={self.swizzle})")


def validate(tm: TensorMap) -> None:
    """Refuse a map the driver would refuse, naming the rule; also the array must hold the tensor."""
    a = tm.array
    if not isinstance(a, np.ndarray):
        raise UsageError(f"invalid tensor map: array must be a numpy array, not {type(a).__name__}")
    if tm.dtype not in DTYPES:
        raise _rule(f"dtype {tm.dtype!r} is not a tensor map data type",
                    f"tensorDataType is one of {', '.join(DTYPES)} (CU_TENSOR_MAP_DATA_TYPE_* in lower case)")
    e = DTYPES[tm.dtype]
    if a.dtype.itemsize != e:
        raise UsageError(f"invalid tensor map: a {tm.dtype} element is {e} bytes but the array holds "
                         f"{a.dtype} ({a.dtype.itemsize} bytes)",
                         hint="pass bf16/f16 as numpy uint16 bit patterns (or float16), fp8 as uint8")
    if not a.flags.c_contiguous:
        raise UsageError("invalid tensor map: the array must be C-contiguous (it is the tensor's memory)",
                         hint="pass np.ascontiguousarray(a); strides go in global_strides")
    for name, table in (("interleave", INTERLEAVES), ("swizzle", SWIZZLE_ENUM),
                        ("l2_promotion", L2_PROMOTIONS), ("oob_fill", OOB_FILLS)):
        v = getattr(tm, name)
        if v not in table:
            raise UsageError(f"invalid tensor map: {name} {v!r} is not one of {', '.join(map(repr, table))}")
    r = tm.rank
    if not 1 <= r <= 5:
        raise _rule(f"rank {r}", "tensorRank must be non-zero and less than or equal to 5")
    if tm.interleave != "none" and r < 3:
        raise _rule(f"rank {r} with interleave {tm.interleave}",
                    "if interleave is not CU_TENSOR_MAP_INTERLEAVE_NONE, tensorRank must be >= 3")
    for name, n in (("global_strides", r - 1), ("box_dim", r), ("element_strides", r)):
        if len(getattr(tm, name)) != n:
            raise _rule(f"{name} has {len(getattr(tm, name))} entries for rank {r}",
                        f"{name} has {'tensorRank - 1' if n == r - 1 else 'tensorRank'} entries ({n})")
    for i, d in enumerate(tm.global_dim):
        if not 1 <= d <= 1 << 32:
            raise _rule(f"global_dim[{i}] = {d}", "globalDim must be non-zero and less than or equal to 2^32")
    for i, s in enumerate(tm.global_strides):
        if s % 16 or not 0 <= s < 1 << 40:
            raise _rule(f"global_strides[{i}] = {s} bytes",
                        "globalStrides must be a multiple of 16 and less than 2^40")
        if tm.interleave == "32B" and s % 32:
            raise _rule(f"global_strides[{i}] = {s} bytes with interleave 32B",
                        "when interleave is CU_TENSOR_MAP_INTERLEAVE_32B, the strides must be a multiple of 32")
    for i, b in enumerate(tm.box_dim):
        if not 1 <= b <= 256:
            raise _rule(f"box_dim[{i}] = {b}", "boxDim must be non-zero and less than or equal to 256")
    if tm.interleave == "none" and tm.box_dim[0] * e % 16:
        raise _rule(f"box_dim[0] × {e} bytes = {tm.box_dim[0] * e} bytes",
                    "when interleave is NONE, boxDim[0] * elementSizeInBytes must be a multiple of 16 bytes")
    for i, s in enumerate(tm.element_strides):
        if not 1 <= s <= 8:
            raise _rule(f"element_strides[{i}] = {s}", "elementStrides must be non-zero and less than or equal to 8")
    if tm.interleave == "none" and tm.swizzle != "none" and tm.box_dim[0] * e > SWIZZLE_WIDTH[tm.swizzle]:
        raise _rule(f"the box's inner dimension is {tm.box_dim[0] * e} bytes with swizzle {tm.swizzle}",
                    f"CU_TENSOR_MAP_SWIZZLE_{tm.swizzle} requires the bounding box inner dimension to be "
                    f"<= {SWIZZLE_WIDTH[tm.swizzle]}")
    if tm.interleave == "32B" and tm.swizzle != "32B":
        raise _rule(f"interleave 32B with swizzle {tm.swizzle}",
                    "when interleave is CU_TENSOR_MAP_INTERLEAVE_32B, swizzle must be CU_TENSOR_MAP_SWIZZLE_32B")
    if tm.oob_fill == "nan" and tm.dtype not in FLOAT_DTYPES:
        raise _rule(f"oob_fill 'nan' with {tm.dtype}",
                    "CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA can only be used with floating-point types")
    # not a driver rule, but the emulator and the GPU copy read the tensor from this array
    extent = e * tm.global_dim[0] + sum((d - 1) * s for d, s in zip(tm.global_dim[1:], tm.global_strides))
    if extent > a.nbytes:
        raise UsageError(f"invalid tensor map: the tensor spans {extent} bytes but the array holds {a.nbytes}",
                         hint="global_dim and global_strides must describe memory inside the array")


# ------------------------------------------------------------------------------ the emulator's encoding

MAGIC = b"SLTM"


@dataclass(frozen=True, slots=True)
class TmaDesc(_Box):
    """A decoded tensor map as the TMA unit uses it (no array: the tensor is at ``address``)."""

    dtype: str
    address: int
    global_dim: tuple[int, ...]
    strides: tuple[int, ...]  # bytes, every dimension (strides[0] = element size)
    box_dim: tuple[int, ...]
    element_strides: tuple[int, ...]
    interleave: str = "none"
    swizzle: str = "none"
    oob_fill: str = "zero"

    @classmethod
    def of(cls, tm: TensorMap, address: int) -> TmaDesc:
        return cls(tm.dtype, int(address), tm.global_dim, tm.strides, tm.box_dim, tm.element_strides,
                   tm.interleave, tm.swizzle, tm.oob_fill)

    def encode(self) -> bytes:
        r = self.rank
        head = MAGIC + bytes([DTYPE_ENUM[self.dtype], r, INTERLEAVES[self.interleave], SWIZZLE_ENUM[self.swizzle],
                              OOB_FILLS[self.oob_fill], 0, 0, 0]) + bytes(4)
        body = np.zeros(10, np.uint64)  # address, 5 dims, 4 strides
        body[0] = self.address
        body[1:1 + r] = self.global_dim
        body[6:6 + r - 1] = self.strides[1:]
        box = np.zeros(5, np.uint16)
        box[:r] = self.box_dim
        es = np.zeros(5, np.uint8)
        es[:r] = self.element_strides
        raw = head + body.tobytes() + box.tobytes() + es.tobytes()
        return raw + bytes(128 - len(raw))

    @classmethod
    def decode(cls, raw: bytes) -> TmaDesc | None:
        """The map encoded in ``raw`` (128 bytes), or None when they are not one of ours."""
        raw = bytes(raw)
        if len(raw) < 128 or raw[:4] != MAGIC:
            return None
        dt, r, il, sw, oob = raw[4], raw[5], raw[6], raw[7], raw[8]
        names = list(DTYPES)
        if dt >= len(names) or not 1 <= r <= 5:
            return None
        body = np.frombuffer(raw[16:96], np.uint64)
        box = np.frombuffer(raw[96:106], np.uint16)
        es = np.frombuffer(raw[106:111], np.uint8)
        e = DTYPES[names[dt]]
        inv = {v: k for k, v in INTERLEAVES.items()}, {v: k for k, v in SWIZZLE_ENUM.items()}, \
            {v: k for k, v in OOB_FILLS.items()}
        return cls(names[dt], int(body[0]), tuple(int(x) for x in body[1:1 + r]),
                   (e, *(int(x) for x in body[6:6 + r - 1])), tuple(int(x) for x in box[:r]),
                   tuple(int(x) for x in es[:r]), inv[0].get(il, "none"), inv[1].get(sw, "none"),
                   inv[2].get(oob, "zero"))
