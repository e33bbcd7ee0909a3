"""The targets, and the per-architecture SM limits for sm_70 … sm_90 (sm_90a shares sm_90's table).

Figures follow the CUDA C++ Programming Guide's "Technical Specifications per Compute Capability"
table and the CUDA Occupancy Calculator (register allocation unit 256 per warp, warp allocation
granularity 4, i.e. registers are handed out per SM sub-partition). Shared memory per SM is the
largest carveout; ``carveouts_kb`` lists the unified L1/shared configurations the driver may pick.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError

KB = 1024
# static .shared per block, and the dynamic+static total without the opt-in attribute, on every arch
# (ptxas: "0xc000 max"; the Programming Guide: "48 KB ... above that requires dynamic shared memory")
STATIC_SHARED_MAX = 48 * KB


@dataclass(frozen=True, slots=True)
class ArchInfo:
    """Resource limits of one SM generation."""

    name: str  # "sm_90"
    capability: tuple[int, int]
    max_warps_per_sm: int
    max_blocks_per_sm: int
    regs_per_sm: int
    max_regs_per_block: int
    max_regs_per_thread: int
    shared_per_sm: int  # bytes, largest carveout
    carveouts_kb: tuple[int, ...]
    max_shared_per_block: int  # bytes with the opt-in attribute (cudaFuncAttributeMaxDynamicSharedMemorySize)
    reserved_shared_per_block: int  # bytes the driver reserves per block (1 KB on sm_80+)
    reg_alloc_unit: int = 256  # registers, allocated per warp
    warp_alloc_granularity: int = 4
    shared_alloc_unit: int = 128  # bytes
    max_threads_per_block: int = 1024
    max_threads_per_sm: int = 0  # derived
    default_shared_per_block: int = STATIC_SHARED_MAX  # without opt-in
    warp_size: int = 32
    sub_partitions: int = 4
    fp32_lanes_per_sm: int = 128  # FFMA lanes per SM per clock (64 on sm_70/75/80)
    reg_alloc_max_per_thread: int = 256  # the occupancy calculator's allocation bound (ISA: 255)
    barriers_per_block_slot: int = 2  # sm_90: named barriers per SM = 2 × block cap (cuda_occupancy.h)

    def __post_init__(self) -> None:
        if not self.max_threads_per_sm:
            object.__setattr__(self, "max_threads_per_sm", self.max_warps_per_sm * self.warp_size)

    def peak_fp32_flops(self, sms: int, clock_hz: float) -> float:
        """FP32 FLOP/s with every FFMA lane busy (2 FLOPs per FMA)."""
        return 2.0 * self.fp32_lanes_per_sm * sms * clock_hz

    @property
    def max_shared_per_block_optin(self) -> int:
        """Alias of ``max_shared_per_block`` (the opt-in maximum), the name lab.tune uses."""
        return self.max_shared_per_block

    @property
    def carveouts(self) -> tuple[int, ...]:
        """Carveout sizes in bytes."""
        return tuple(c * KB for c in self.carveouts_kb)


ARCHS: dict[str, ArchInfo] = {
    "sm_70": ArchInfo("sm_70", (7, 0), max_warps_per_sm=64, max_blocks_per_sm=32, regs_per_sm=65536,
                      max_regs_per_block=65536, max_regs_per_thread=255, shared_per_sm=96 * KB,
                      carveouts_kb=(0, 8, 16, 32, 64, 96), max_shared_per_block=96 * KB,
                      reserved_shared_per_block=0, shared_alloc_unit=256, fp32_lanes_per_sm=64),
    "sm_75": ArchInfo("sm_75", (7, 5), max_warps_per_sm=32, max_blocks_per_sm=16, regs_per_sm=65536,
                      max_regs_per_block=65536, max_regs_per_thread=255, shared_per_sm=64 * KB,
                      carveouts_kb=(32, 64), max_shared_per_block=64 * KB,
                      reserved_shared_per_block=0, shared_alloc_unit=256, fp32_lanes_per_sm=64),
    "sm_80": ArchInfo("sm_80", (8, 0), max_warps_per_sm=64, max_blocks_per_sm=32, regs_per_sm=65536,
                      max_regs_per_block=65536, max_regs_per_thread=255, shared_per_sm=164 * KB,
                      carveouts_kb=(0, 8, 16, 32, 64, 100, 132, 164), max_shared_per_block=163 * KB,
                      reserved_shared_per_block=1 * KB, fp32_lanes_per_sm=64),
    "sm_86": ArchInfo("sm_86", (8, 6), max_warps_per_sm=48, max_blocks_per_sm=16, regs_per_sm=65536,
                      max_regs_per_block=65536, max_regs_per_thread=255, shared_per_sm=100 * KB,
                      carveouts_kb=(0, 8, 16, 32, 64, 100), max_shared_per_block=99 * KB,
                      reserved_shared_per_block=1 * KB),
    "sm_89": ArchInfo("sm_89", (8, 9), max_warps_per_sm=48, max_blocks_per_sm=24, regs_per_sm=65536,
                      max_regs_per_block=65536, max_regs_per_thread=255, shared_per_sm=100 * KB,
                      carveouts_kb=(0, 8, 16, 32, 64, 100), max_shared_per_block=99 * KB,
                      reserved_shared_per_block=1 * KB),
    "sm_90": ArchInfo("sm_90", (9, 0), max_warps_per_sm=64, max_blocks_per_sm=32, regs_per_sm=65536,
                      max_regs_per_block=65536, max_regs_per_thread=255, shared_per_sm=228 * KB,
                      carveouts_kb=(0, 8, 16, 32, 64, 100, 132, 164, 196, 228),
                      max_shared_per_block=227 * KB, reserved_shared_per_block=1 * KB),
}


# every target the assembler compiles for: the tables above, and sm_90a (sm_90 with wgmma/setmaxnreg)
TARGETS: tuple[str, ...] = (*ARCHS, "sm_90a")


def arch_info(arch: str) -> ArchInfo:
    """The table for ``arch`` (``sm_90a`` → ``sm_90``); UsageError for an unknown name."""
    base = arch[:-1] if arch.endswith("a") else arch
    try:
        return ARCHS[base]
    except KeyError:
        raise UsageError(f"unknown arch '{arch}'",
                         hint=f"known: {', '.join(ARCHS)} (and sm_90a)") from None
