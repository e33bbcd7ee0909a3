"""Occupancy and launch checks for a compiled kernel (its Resources) at a given block size.

``kernel_occupancy`` applies what the plain model cannot know: ``.reqntid`` fixes the block size,
``.maxntid`` caps it, and the kernel's static shared memory adds to the dynamic request.
``launch_problems`` lists, in words, why a launch would fail or need an opt-in, so the runtime and
the console can say so before the driver does. ``pack_struct`` lays out a struct passed by value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arch import arch_info
from .occupancy import occupancy
from .resources import Occupancy, Resources


def _prod(dims: tuple[int, ...]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


MAX_BLOCK = (1024, 1024, 64)  # x, y, z extents of a block on every arch here (sm_70 … sm_90)
MAX_BLOCK_THREADS = 1024
MAX_GRID = ((1 << 31) - 1, 65535, 65535)


def extent_problem(dims: tuple[int, ...], what: str = "block") -> str | None:
    """Why no GPU has a ``what`` ("grid" or "block") extent like one of ``dims``, or None."""
    for axis, d, m in zip("xyz", dims, MAX_GRID if what == "grid" else MAX_BLOCK):
        if not 1 <= d <= m:
            return f"{what}.{axis} = {d} is outside 1..{m}"
    return None


def block_shape_problem(dims: tuple[int, ...]) -> str | None:
    """Why no GPU can run a block of shape ``dims`` (also a ``.maxntid``/``.reqntid`` list), or None."""
    n = _prod(dims)
    return extent_problem(dims) or (f"a block of {'x'.join(map(str, dims))} = {n} threads; a block has at "
                                    f"most {MAX_BLOCK_THREADS}" if n > MAX_BLOCK_THREADS else None)


def block_problem(block: tuple[int, ...], maxntid: tuple[int, ...] = (),
                  reqntid: tuple[int, ...] = ()) -> Problem | None:
    """Why launching ``block`` fails for a kernel declared with ``maxntid``/``reqntid`` (PTX: the
    product of ``.maxntid`` caps the threads; ``.reqntid`` fixes them), or None. One rule for the
    runtime and the emulator."""
    shape = block_shape_problem(block)
    if shape:
        return Problem(shape, True, "use a smaller block")
    threads = _prod(block)
    if reqntid and threads != _prod(reqntid):
        return Problem(f"a block of {threads} threads but .reqntid {','.join(map(str, reqntid))}", True,
                       "launch with exactly the .reqntid shape")
    if maxntid and threads > _prod(maxntid):
        return Problem(f"a block of {'x'.join(map(str, block))} = {threads} threads is over the kernel's "
                       f"limit of {_prod(maxntid)} (.maxntid {','.join(map(str, maxntid))})", True,
                       "use a smaller block or raise .maxntid")
    return None


def default_threads(res: Resources) -> int:
    """The block size a report should assume: ``.reqntid``, else ``.maxntid``/the hardware maximum."""
    return _prod(res.reqntid) if res.reqntid else res.max_threads


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a launch fails (``fatal``) or needs care (e.g. the shared-memory opt-in)."""

    what: str
    fatal: bool
    hint: str = ""


def launch_problems(arch: str, res: Resources, threads: int, dynamic_shared: int = 0) -> tuple[Problem, ...]:
    """Everything wrong with launching ``res`` with ``threads`` per block and ``dynamic_shared`` bytes."""
    info = arch_info(arch)
    out = []
    if res.reqntid and threads != _prod(res.reqntid):
        out.append(Problem(f"block of {threads} threads but .reqntid {'x'.join(map(str, res.reqntid))}",
                           True, "launch with exactly the .reqntid shape"))
    if threads > min(res.max_threads, info.max_threads_per_block):
        out.append(Problem(f"block of {threads} threads exceeds the kernel's limit of "
                           f"{min(res.max_threads, info.max_threads_per_block)}", True,
                           "use a smaller block or raise .maxntid"))
    regs_block = res.registers * 32 * -(-threads // 32)
    if regs_block > info.max_regs_per_block:
        out.append(Problem(f"{res.registers} registers × {threads} threads = {regs_block} > "
                           f"{info.max_regs_per_block} per block", True,
                           "cap registers (maxrregcount / .maxnreg / .maxntid) or use a smaller block"))
    shared = res.shared_static + dynamic_shared
    if shared > info.max_shared_per_block:
        out.append(Problem(f"{shared} bytes of shared memory > {info.max_shared_per_block} per block on "
                           f"{arch}", True, "shrink the shared buffers"))
    elif shared > info.default_shared_per_block:
        out.append(Problem(f"{shared} bytes of shared memory > {info.default_shared_per_block} needs the "
                           "opt-in", False, "cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)"))
    if res.spill_stores or res.spill_loads:
        out.append(Problem(f"spills: {res.spill_stores} B stored, {res.spill_loads} B loaded per thread",
                           False, "fewer live values or a higher register cap"))
    return tuple(out)


def kernel_occupancy(arch: str, res: Resources, threads: int | None = None,
                     dynamic_shared: int = 0) -> Occupancy:
    """Occupancy of a compiled kernel; 0 blocks (limiter ``threads``) when the shape is illegal."""
    t = default_threads(res) if threads is None else threads
    occ = occupancy(arch, t, res.registers, res.shared_static + dynamic_shared, barriers=res.barriers)
    bad_shape = (res.reqntid and t != _prod(res.reqntid)) or t > res.max_threads
    if bad_shape:
        return Occupancy(block=t, blocks_per_sm=0, warps_per_sm=0, percent=0.0, limiters=("threads",))
    return occ


def pack_struct(size: int, fields: dict) -> tuple[bytes, list[tuple[int, np.ndarray]]]:
    """A by-value struct parameter of ``size`` bytes given as ``{byte offset (offsetof): value}``:
    numpy scalars are stored at their offset; numpy arrays are pointer members, returned as
    ``[(offset, array)]`` for the caller to place and patch; bytes no member covers are zero.
    Raises ValueError (in words) for a bad key, a member outside the struct, misaligned or overlapping."""
    raw = bytearray(size)
    pointers: list[tuple[int, np.ndarray]] = []
    taken: list[tuple[int, int]] = []
    for k in fields:
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise ValueError(f"a member key {k!r}: keys are byte offsets into the struct (offsetof)")
    for k in sorted(fields):
        v = fields[k]
        if isinstance(v, np.ndarray):
            if v.dtype.hasobject or v.dtype.fields is not None:
                raise ValueError(f"a numpy array of {v.dtype} at offset {k}: buffers hold plain numbers")
            width, data = 8, b""
        elif isinstance(v, np.generic) and v.dtype.kind in "fiub":
            width, data = v.dtype.itemsize, np.asarray(v).tobytes()
        else:
            raise ValueError(f"{type(v).__name__} at offset {k}: give each member as a numpy scalar "
                             "(its width matters) or an array for a pointer")
        if k + width > size or k % width:
            raise ValueError(f"a {width}-byte member at offset {k}: the struct has {size} bytes and members "
                             "sit at multiples of their size")
        clash = next((o for o, w in taken if k < o + w and o < k + width), None)
        if clash is not None:
            raise ValueError(f"members at offsets {clash} and {k} overlap")
        taken.append((k, width))
        if data:
            raw[k:k + width] = data
        else:
            pointers.append((k, v))
    return bytes(raw), pointers
