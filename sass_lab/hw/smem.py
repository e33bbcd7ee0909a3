"""Shared-memory swizzles and the wgmma matrix descriptor, as the hardware reads them.

Swizzle (PTX ISA 5.5.7 "Swizzling modes"; CUDA Programming Guide, TMA swizzle): 16-byte chunks are
permuted inside each 128-byte line by XOR-ing address bits 4.. with the line index, address bits 7..::

    none   addr
    32B    addr ^ ((addr >> 7) & 1) << 4        pattern repeats every 256 bytes
    64B    addr ^ ((addr >> 7) & 3) << 4        ... 512 bytes
    128B   addr ^ ((addr >> 7) & 7) << 4        ... 1024 bytes

TMA applies it to the absolute shared-memory address (the CUDA guide's offset formula
``(smem_ptr / 128) % 8`` is the line phase of an unaligned buffer).

Matrix descriptor (PTX ISA 9.7.15.5.1.2.2), 64 bits: 0–13 start address >> 4, 16–29 leading
dimension byte offset (LBO) >> 4, 32–45 stride dimension byte offset (SBO) >> 4, 49–51 base offset,
62–63 swizzle (0 none, 1 128B, 2 64B, 3 32B); every other bit is ignored. Each field is
``(x & 0x3FFFF) >> 4``. Canonical layouts (PTX ISA 9.7.15.5.1.2.1, in bytes, ``W`` the swizzle
width, one wgmma reads 32 bytes of K per row):

    K-major,  none      (r, k) at (r//8)*SBO + (r%8)*16 + (kbyte//16)*LBO + kbyte%16
    K-major,  swizzled  (r, k) at (r//8)*SBO + (r%8)*W  + kbyte                 (LBO unused)
    MN-major, none      (m, k) at (m//T)*SBO + (k%8)*16 + (k//8)*LBO + (m%T)*e   (T = 16/e)
    MN-major, swizzled  (m, k) at (m//(W/e))*LBO + (k%8)*W + (k//8)*SBO + (m%(W/e))*e

and the swizzle is then applied to each address. Its line phase is counted from the descriptor's
start address plus the base offset: ``phase = ((addr >> 7) - (start >> 7) + base_offset) & mask``.
With the base offset the ISA asks for (``(pattern start >> 7) & 7``, 0 on an aligned pattern) that
is exactly the absolute-address swizzle TMA wrote; a base offset that disagrees with the start
address reads the data with the wrong phase, as the ISA's "must be" implies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SWIZZLES = ("none", "32B", "64B", "128B")
SWIZZLE_WIDTH = {"none": 16, "32B": 32, "64B": 64, "128B": 128}
SWIZZLE_MASK = {"none": 0, "32B": 1, "64B": 3, "128B": 7}
SWIZZLE_REPEAT = {"none": 16, "32B": 256, "64B": 512, "128B": 1024}
DESC_CODE = {"none": 0, "128B": 1, "64B": 2, "32B": 3}
CODE_SWIZZLE = {v: k for k, v in DESC_CODE.items()}
FIELD_LIMIT = 1 << 18  # matrix-descriptor-encode keeps x & 0x3FFFF


def check_swizzle(mode: str) -> str:
    if mode not in SWIZZLE_WIDTH:
        raise ValueError(f"swizzle must be one of {', '.join(SWIZZLES)}, not {mode!r}")
    return mode


def swizzle(addr, mode: str, phase_shift=0):
    """Swizzled byte address(es) of ``addr`` (int or int array); ``phase_shift`` is subtracted from
    the line index before the XOR (0 for TMA's absolute swizzle)."""
    m = SWIZZLE_MASK[check_swizzle(mode)]
    if m == 0:
        return addr
    a = np.asarray(addr, dtype=np.int64)
    out = a ^ ((((a >> 7) - phase_shift) & m) << 4)
    return int(out) if np.ndim(addr) == 0 and not isinstance(addr, np.ndarray) else out


def encode_field(x: int) -> int:
    """``matrix-descriptor-encode(x) = (x & 0x3FFFF) >> 4``."""
    return (int(x) & 0x3FFFF) >> 4


@dataclass(frozen=True, slots=True)
class SmemDescriptor:
    """A wgmma shared-memory matrix descriptor: byte values, not encoded fields."""

    start: int  # shared-memory byte address of the matrix
    lbo: int = 16  # leading dimension byte offset
    sbo: int = 0  # stride dimension byte offset
    swizzle: str = "none"
    base_offset: int = 0

    def __post_init__(self):
        check_swizzle(self.swizzle)
        for name in ("start", "lbo", "sbo"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 0 or v >= FIELD_LIMIT or v % 16:
                raise ValueError(f"descriptor {name} {v!r} must be a multiple of 16 in [0, 2^18) bytes "
                                 "(PTX ISA: start address, LBO and SBO are 16-byte aligned, 14-bit fields of x >> 4)")
        if not 0 <= self.base_offset <= 7:
            raise ValueError(f"descriptor base_offset {self.base_offset} must be in 0..7 (a 3-bit field)")

    def encode(self) -> int:
        """The 64-bit descriptor value."""
        return (encode_field(self.start) | encode_field(self.lbo) << 16 | encode_field(self.sbo) << 32
                | (self.base_offset & 7) << 49 | DESC_CODE[self.swizzle] << 62)

    @classmethod
    def decode(cls, value: int) -> SmemDescriptor:
        """Fields as the hardware reads them (reserved bits ignored)."""
        v = int(value) & ((1 << 64) - 1)
        return cls(start=(v & 0x3FFF) << 4, lbo=((v >> 16) & 0x3FFF) << 4, sbo=((v >> 32) & 0x3FFF) << 4,
                   swizzle=CODE_SWIZZLE[(v >> 62) & 3], base_offset=(v >> 49) & 7)

    def hi_lo(self) -> tuple[int, int]:
        """(high 32 bits, low 32 bits) of the encoding."""
        e = self.encode()
        return e >> 32, e & 0xFFFFFFFF


def operand_addresses(desc: SmemDescriptor, rows: int, elem_bytes: int, k_major: bool) -> np.ndarray:
    """Byte addresses (``rows`` × K elements) a wgmma reads for one operand described by ``desc``.

    ``rows`` is M (64, operand A) or N (operand B); K covers 32 bytes of elements (16 bf16/f16,
    8 tf32, 32 fp8). MN-major (``k_major=False``) exists for 16-bit types only.
    """
    k_elems = 32 // elem_bytes
    r = np.arange(rows, dtype=np.int64)[:, None]
    k = np.arange(k_elems, dtype=np.int64)[None, :]
    W = SWIZZLE_WIDTH[desc.swizzle]
    if k_major:
        kb = k * elem_bytes
        if desc.swizzle == "none":
            off = (r // 8) * desc.sbo + (r % 8) * 16 + (kb // 16) * desc.lbo + kb % 16
        else:
            off = (r // 8) * desc.sbo + (r % 8) * W + kb
    else:
        per = W // elem_bytes  # MN elements per 16-byte chunk (none) or per swizzle line
        if desc.swizzle == "none":
            off = (r // per) * desc.sbo + (k % 8) * 16 + (k // 8) * desc.lbo + (r % per) * elem_bytes
        else:
            off = (r // per) * desc.lbo + (k % 8) * W + (k // 8) * desc.sbo + (r % per) * elem_bytes
    addr = desc.start + off
    if desc.swizzle == "none":
        return addr
    m = SWIZZLE_MASK[desc.swizzle]
    phase = ((addr >> 7) - (desc.start >> 7) + desc.base_offset) & m
    return addr ^ (phase << 4)


def expected_base_offset(start: int, mode: str) -> int:
    """The base offset the ISA asks for when a swizzle pattern starts at ``start``."""
    return (int(start) >> 7) & SWIZZLE_MASK[check_swizzle(mode)]


def canonical(rows: int, k_elems: int, elem_bytes: int, k_major: bool, mode: str) -> tuple[int, int]:
    """(LBO, SBO) in bytes of the densely packed canonical layout of a ``rows`` × ``k_elems`` tile.

    K-major: lines of ``W`` bytes of K (16 for ``none``), 8 rows per atom. Atoms follow each other
    along the rows first (SBO = 8 lines); with ``none`` the K chunks of 16 bytes are the outer
    dimension (LBO = rows × 16). MN-major swizzled: lines of ``W`` bytes of MN, one per K, panels of
    ``k_elems`` lines (SBO = 8 lines, LBO = one panel); MN-major none: 16-byte MN chunks of 8 K
    first (SBO = 128), then 8-K groups (LBO).
    """
    W = SWIZZLE_WIDTH[check_swizzle(mode)]
    if k_major:
        if mode == "none":
            return rows * 16, 128
        return 16, 8 * W
    per = W // elem_bytes
    if mode == "none":
        return -(-rows // per) * 128, 128
    return k_elems * W, 8 * W


def tile_offsets(rows: int, k_elems: int, elem_bytes: int, k_major: bool, mode: str) -> np.ndarray:
    """Unswizzled byte offsets of a dense canonical tile: ``rows`` × ``k_elems`` (K-major lines hold K).

    K-major swizzled: row r, K byte kb sits in K panel kb // W, line r, byte kb % W; panels of
    ``rows`` lines follow each other (what a TMA box of W bytes per row writes, box after box).
    """
    W = SWIZZLE_WIDTH[check_swizzle(mode)]
    lbo, sbo = canonical(rows, k_elems, elem_bytes, k_major, mode)
    r = np.arange(rows, dtype=np.int64)[:, None]
    k = np.arange(k_elems, dtype=np.int64)[None, :]
    if k_major:
        kb = k * elem_bytes
        if mode == "none":
            return (r // 8) * sbo + (r % 8) * 16 + (kb // 16) * lbo + kb % 16
        return (kb // W) * rows * W + r * W + kb % W
    per = W // elem_bytes
    if mode == "none":
        return (r // per) * sbo + (k % 8) * 16 + (k // 8) * lbo + (r % per) * elem_bytes
    return (r // per) * k_elems * W + k * W + (r % per) * elem_bytes
