"""The occupancy model: resident blocks per SM from threads, registers and shared memory.

Mirrors ``cuOccupancyMaxActiveBlocksPerMultiprocessor`` / the CUDA Occupancy Calculator:

- warps: ``floor(max_warps / ceil(threads / 32))``; blocks: the per-SM block cap;
- registers: per warp ``ceil(regs × 32 / 256) × 256``; warps that fit the register file are rounded
  down to the warp allocation granularity (4, one per sub-partition), then divided by warps/block;
- shared: per block ``ceil((static + dynamic + reserved) / unit) × unit`` against the *largest*
  carveout: with no preferred carveout (the default) the driver uses the maximum shared memory per
  SM (``cuda_occupancy.h``: ``SHAREDMEM_CARVEOUT_DEFAULT`` → ``sharedMemPerMultiprocessor``). Pass
  ``carveout`` (bytes) to evaluate a preference instead; like the driver, a preference smaller than
  one block is raised to the next carveout that fits it;
- barriers (sm_90+ only): a block using ``b`` named barriers allows ``2 × block cap // b`` blocks;
- the block must fit the per-block limits: ≤ 1024 threads, ``regs_per_warp × round_up(warps, 4)``
  ≤ 64 K registers, registers ≤ 256, shared ≤ the opt-in maximum (or ≤ 48 KB with ``opt_in=False``,
  i.e. without ``CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES``).

A block that cannot run at all yields 0 blocks with the offending factor as the limiter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UsageError
from .arch import ArchInfo, arch_info
from .resources import Occupancy

FACTORS = ("warps", "blocks", "registers", "shared", "threads", "barriers")


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _round_up(a: int, unit: int) -> int:
    return _ceil(a, unit) * unit


def shared_per_block(info: ArchInfo, shared_bytes: int) -> int:
    """Bytes one block takes out of the SM: request + reserved, rounded to the allocation unit."""
    return _round_up(shared_bytes + info.reserved_shared_per_block, info.shared_alloc_unit)


def regs_per_warp(info: ArchInfo, registers: int) -> int:
    return _round_up(registers * info.warp_size, info.reg_alloc_unit)


def _aligned_carveout(info: ArchInfo, size: int) -> int:
    """The smallest carveout ≥ ``size`` (the driver rounds a preference up to a real configuration)."""
    return next((c for c in info.carveouts if c >= size), info.shared_per_sm)


def limits(arch: str, threads: int, registers: int, shared_bytes: int, carveout: int | None = None,
           barriers: int = 0, opt_in: bool = True) -> dict[str, int]:
    """Blocks per SM allowed by each factor separately (``FACTORS`` keys)."""
    if threads <= 0 or registers < 0 or shared_bytes < 0 or barriers < 0:
        raise UsageError(f"bad occupancy query: threads={threads}, registers={registers}, "
                         f"shared={shared_bytes}, barriers={barriers}",
                         hint="threads > 0; registers, shared and barriers >= 0")
    info = arch_info(arch)
    big = 1 << 30
    warps_per_block = _ceil(threads, info.warp_size)
    out = {
        "threads": big if threads <= info.max_threads_per_block else 0,
        "warps": info.max_warps_per_sm // warps_per_block,
        "blocks": info.max_blocks_per_sm,
    }
    per_warp = regs_per_warp(info, registers)
    hw_block = per_warp * _round_up(warps_per_block, info.sub_partitions)  # the launch check's rounding
    if registers == 0:
        out["registers"] = big
    elif (registers > info.reg_alloc_max_per_thread or hw_block > info.max_regs_per_block
          or per_warp * warps_per_block > info.max_regs_per_block):
        out["registers"] = 0
    else:
        warps = (info.regs_per_sm // info.sub_partitions // per_warp) * info.sub_partitions
        out["registers"] = warps // warps_per_block
    per_block = shared_per_block(info, shared_bytes)
    limit = (info.max_shared_per_block if opt_in else info.default_shared_per_block)
    if per_block > limit + info.reserved_shared_per_block:
        out["shared"] = 0
    elif per_block == 0:
        out["shared"] = big
    else:
        sm_shared = info.shared_per_sm if carveout is None else carveout
        if sm_shared < per_block:
            sm_shared = _aligned_carveout(info, per_block)
        out["shared"] = sm_shared // per_block
    if info.capability >= (9, 0) and barriers:
        out["barriers"] = info.max_blocks_per_sm * info.barriers_per_block_slot // barriers
    else:
        out["barriers"] = big
    return out


def occupancy(arch: str, threads: int, registers: int, shared_bytes: int, carveout: int | None = None,
              barriers: int = 0, opt_in: bool = True) -> Occupancy:
    """Resident blocks/warps per SM, % of max warps, and every factor that sets the minimum."""
    info = arch_info(arch)
    lim = limits(arch, threads, registers, shared_bytes, carveout, barriers, opt_in)
    blocks = min(lim.values())
    limiters = tuple(f for f in FACTORS if lim[f] == blocks)
    warps = blocks * _ceil(threads, info.warp_size)
    return Occupancy(block=threads, blocks_per_sm=blocks, warps_per_sm=warps,
                     percent=100.0 * warps / info.max_warps_per_sm, limiters=limiters)


def best_carveout(arch: str, threads: int, registers: int, shared_bytes: int) -> int:
    """Smallest carveout (bytes) that still reaches the maximum occupancy."""
    info = arch_info(arch)
    target = occupancy(arch, threads, registers, shared_bytes).blocks_per_sm
    for c in info.carveouts:
        if occupancy(arch, threads, registers, shared_bytes, carveout=c).blocks_per_sm >= target:
            return c
    return info.shared_per_sm


@dataclass(frozen=True, slots=True)
class Curves:
    """Blocks/SM as one input varies, the others fixed: lists of (x, blocks_per_sm)."""

    arch: str
    threads: int
    registers: int
    shared: int
    vs_registers: tuple[tuple[int, int], ...]
    vs_shared: tuple[tuple[int, int], ...]
    vs_block: tuple[tuple[int, int], ...]
    max_blocks: int
    max_warps: int


def occupancy_curves(arch: str, threads: int, registers: int, shared: int,
                     shared_step: int | None = None, barriers: int = 0) -> Curves:
    """Series for the console: registers 1..255, shared 0..max per block, block size 32..1024."""
    info = arch_info(arch)
    step = shared_step or max(info.shared_alloc_unit, info.max_shared_per_block // 256)

    def blocks(t: int, r: int, s: int) -> int:
        return min(limits(arch, t, r, s, barriers=barriers).values())

    regs = tuple((r, blocks(threads, r, shared)) for r in range(1, info.max_regs_per_thread + 1))
    smem = tuple((s, blocks(threads, registers, s)) for s in range(0, info.max_shared_per_block + 1, step))
    block = tuple((t, blocks(t, registers, shared)) for t in range(32, info.max_threads_per_block + 1, 32))
    return Curves(arch, threads, registers, shared, regs, smem, block,
                  info.max_blocks_per_sm, info.max_warps_per_sm)


@dataclass(frozen=True, slots=True)
class BlockSuggestion:
    """The block size with the most resident threads (``cudaOccMaxPotentialOccupancyBlockSize``)."""

    block: int
    blocks_per_sm: int
    min_grid: int  # blocks for one full wave on ``sms`` SMs
    occupancy: Occupancy


def max_potential_block_size(arch: str, registers: int, shared_static: int = 0,
                             dynamic_shared: int | Callable[[int], int] = 0, max_threads: int = 1024,
                             barriers: int = 0, sms: int = 1) -> BlockSuggestion:
    """Try block sizes from the largest down in warp steps; keep the first with the most threads/SM.

    ``dynamic_shared`` may be a function of the block size (per-thread staging buffers).
    """
    info = arch_info(arch)
    limit = min(info.max_threads_per_block, max_threads)
    best: Occupancy | None = None
    for aligned in range(_round_up(limit, info.warp_size), 0, -info.warp_size):
        t = min(limit, aligned)
        dyn = dynamic_shared(t) if callable(dynamic_shared) else dynamic_shared
        occ = occupancy(arch, t, registers, shared_static + dyn, barriers=barriers)
        if best is None or occ.blocks_per_sm * t > best.blocks_per_sm * best.block:
            best = occ
        if best.blocks_per_sm * best.block == info.max_threads_per_sm:
            break
    assert best is not None
    if best.blocks_per_sm == 0:
        return BlockSuggestion(0, 0, 0, best)
    return BlockSuggestion(best.block, best.blocks_per_sm, best.blocks_per_sm * sms, best)
