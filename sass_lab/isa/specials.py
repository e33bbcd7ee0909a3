"""PTX's special registers: one table of their names, types and whether they read a clock.

The front end accepts exactly these names, the back end refuses them as user names, the lowering
reads them into registers of their type, the scheduler never moves a clock read, and the emulator
types the ones it implements from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpecialReg:
    """One special register (or ``WARP_SZ``, the warp-size constant)."""

    name: str  # "%tid.x"
    type: str = "u32"  # what a mov reads it as
    clock: bool = False  # reads a clock or timer: its order among instructions is observable


_AXES = ("x", "y", "z")
_PER_AXIS = ("tid", "ntid", "ctaid", "nctaid", "clusterid", "nclusterid", "cluster_ctaid", "cluster_nctaid")
_SCALAR = ("laneid", "warpid", "nwarpid", "smid", "nsmid", "lanemask_eq", "lanemask_le", "lanemask_lt",
           "lanemask_ge", "lanemask_gt", "dynamic_smem_size", "total_smem_size", "aggr_smem_size",
           "is_explicit_cluster", "cluster_ctarank", "cluster_nctarank", "reserved_smem_offset_begin",
           "reserved_smem_offset_end", "reserved_smem_offset_cap", "reserved_smem_offset_0",
           "reserved_smem_offset_1")
_U64 = ("gridid", "current_graph_exec")
_CLOCKS = {"clock": "u32", "clock_hi": "u32", "clock64": "u64", "globaltimer": "u64", "globaltimer_lo": "u32",
           "globaltimer_hi": "u32"}

SPECIALS: dict[str, SpecialReg] = {r.name: r for r in (
    *(SpecialReg(f"%{r}.{a}") for r in _PER_AXIS for a in _AXES),
    *(SpecialReg(f"%{r}") for r in _SCALAR),
    *(SpecialReg(f"%{r}", "u64") for r in _U64),
    *(SpecialReg(f"%{r}", t, clock=True) for r, t in _CLOCKS.items()),
    *(SpecialReg(f"%pm{i}") for i in range(8)),
    *(SpecialReg(f"%pm{i}_64", "u64") for i in range(8)),
    *(SpecialReg(f"%envreg{i}") for i in range(32)),
    SpecialReg("WARP_SZ"),
)}

CLOCKS = frozenset(n for n, r in SPECIALS.items() if r.clock)


def special_type(name: str) -> str:
    """The type a ``mov`` reads special register ``name`` as."""
    return SPECIALS[name].type
