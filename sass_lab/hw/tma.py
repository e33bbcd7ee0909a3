"""TMA tile-mode copies as pure functions: which global element lands at which shared address.

A box starts at the tensor coordinates ``coords`` (signed, innermost first) and covers
``box_counts[i]`` elements per dimension, stepping ``element_strides[i]`` (dimension 0 steps 1).
Box elements outside ``[0, global_dim)`` in any dimension are out of bounds: a load fills them
(zero, or a NaN with ``oob_fill="nan"``), a store skips them (PTX ISA 5.5 "Tensor" bounding box and
out-of-bound access; CUDA driver API, oobFill). In shared memory the box is dense, innermost
dimension first, each row ``row_pitch`` bytes (the swizzle width when swizzled), and the 16-byte
chunks are then swizzled by absolute shared address (:func:`sass_lab.hopper.smem.swizzle`).
"""

from __future__ import annotations

import numpy as np

from .smem import swizzle
from .tensormap import NAN_BITS, TmaDesc


def box_map(d: TmaDesc, coords, smem_base: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(shared address, global byte offset from ``d.address``, in-bounds) of every box element,
    innermost dimension fastest."""
    counts = d.box_counts
    if len(coords) != d.rank:
        raise ValueError(f"a {d.rank}-d tensor map takes {d.rank} coordinates, not {len(coords)}")
    grids = np.meshgrid(*[np.arange(c, dtype=np.int64) for c in reversed(counts)], indexing="ij")
    idx = [g.ravel() for g in reversed(grids)]  # idx[i]: box index along dimension i
    es = (1, *d.element_strides[1:])
    inb = np.ones(idx[0].size, bool)
    goff = np.zeros(idx[0].size, np.int64)
    for i in range(d.rank):
        x = int(coords[i]) + idx[i] * es[i]
        inb &= (x >= 0) & (x < d.global_dim[i])
        goff += x * d.strides[i]
    row = np.zeros(idx[0].size, np.int64)
    for i in range(d.rank - 1, 0, -1):
        row = row * counts[i] + idx[i]
    addr = smem_base + row * d.row_pitch + idx[0] * d.elem_bytes
    return swizzle(addr, d.swizzle), goff, inb


def fill_bits(d: TmaDesc) -> int:
    """The bit pattern an out-of-bounds element loads as."""
    return NAN_BITS[d.elem_bytes] if d.oob_fill == "nan" else 0


def gather(d: TmaDesc, gmem: np.ndarray, gbase: int, goff: np.ndarray, inb: np.ndarray) -> np.ndarray:
    """Element bytes (n, e) a load delivers: the tensor's bytes in bounds, the fill elsewhere."""
    e = d.elem_bytes
    fill = np.frombuffer(int(fill_bits(d)).to_bytes(8, "little")[:e], np.uint8)
    out = np.broadcast_to(fill, (len(goff), e)).copy()
    sel = np.flatnonzero(inb)
    if len(sel):
        out[sel] = gmem[(gbase + goff[sel])[:, None] + np.arange(e)]
    return out
