"""What a compiled kernel costs the GPU (read from the ptxas log and the cubin ELF), and what that
buys at a block size (the occupancy model in ``hw.occupancy`` computes it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, slots=True)
class Resources:
    """Per-kernel resources. Shared memory excludes the 1 KB the driver reserves per block."""

    registers: int
    shared_static: int = 0  # bytes of .shared declared in the kernel/module
    shared_dynamic: int = 0  # bytes requested at launch (0 unless the caller says)
    local_bytes: int = 0  # lmem per thread
    stack_bytes: int = 0  # stack frame per thread
    spill_stores: int = 0
    spill_loads: int = 0
    const_bytes: dict[int, int] = field(default_factory=dict)  # cmem bank -> bytes
    barriers: int = 0
    max_threads: int = 1024  # from .maxntid/.reqntid, else the hardware limit
    reqntid: tuple[int, ...] = ()
    reserved_shared: int = 0  # bytes the driver adds per block (1 KB on sm_80+); not in shared_static
    maxnreg: int = 0  # register cap ptxas honoured (EIATTR_MAXREG_COUNT; 255 = none)
    param_bytes: int = 0  # kernel parameter block size in constant bank 0
    code_bytes: int = 0  # size of the kernel's SASS (.text.<kernel>)
    cluster: tuple[int, ...] = ()  # .reqnctapercluster dims (sm_90), () when not fixed

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Occupancy:
    block: int  # threads per block
    blocks_per_sm: int
    warps_per_sm: int
    percent: float  # active warps / max warps per SM, 0..100
    limiters: tuple[str, ...]  # subset of ("registers", "shared", "warps", "blocks", "threads")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["limiters"] = list(self.limiters)
        return d
