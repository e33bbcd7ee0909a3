"""The occupancy result type (the model itself lives in ``hw.occupancy``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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
