"""Peak rates of a device: the datasheet's, derived ones, and the per-device cache of measured ones.

Datasheet figures (``hw.devices``) are leads (boost clock, dense rates). The measured peaks (``lab.bench`` times two
DSL kernels with the bench harness) are cached in ``~/.cache/sass_lab/peaks.json``
(``$XDG_CACHE_HOME`` respected), keyed by device.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .arch import ARCHS
from .devices import find


@dataclass(frozen=True, slots=True)
class Peaks:
    """FP32 FLOP/s and DRAM bytes/s of one device, with where they came from."""

    fp32_flops: float
    bandwidth: float
    source: str  # "datasheet", "derived" (attributes × clock), "measured"
    device: str = ""
    bf16_flops: float = 0.0
    when: str = ""  # UTC date of a measurement

    def to_dict(self) -> dict:
        return asdict(self)


def datasheet(name: str, sm_count: int = 0, cc: tuple[int, int] = (9, 0), clock_khz: int = 0,
              mem_clock_khz: int = 0, bus_width: int = 0) -> Peaks:
    """The datasheet row matching ``name`` (``hw.devices``); else rates derived from the attributes."""
    d = find(name)
    if d is not None:
        return Peaks(d.peak_fp32_flops, d.dram_bytes_per_s, "datasheet", name, d.bf16_flops)
    arch = f"sm_{cc[0]}{cc[1]}"
    lanes = ARCHS[arch].fp32_lanes_per_sm if arch in ARCHS else 128
    fp32 = sm_count * lanes * 2 * clock_khz * 1e3
    bw = mem_clock_khz * 1e3 * 2 * bus_width / 8
    return Peaks(fp32, bw, "derived", name)


def datasheet_for(info: Any) -> Peaks:
    """:func:`datasheet` for a ``runtime.DeviceInfo``."""
    return datasheet(info.name, info.sm_count, info.cc, info.clock_khz, info.mem_clock_khz, info.bus_width)


# --------------------------------------------------------------------------- cache


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sass_lab" / "peaks.json"


def device_key(info: Any) -> str:
    return f"{info.name}|sm{info.sm_count}|cc{info.cc[0]}.{info.cc[1]}|drv{info.driver_version}"


def load_cached(key: str, path: Path | None = None) -> Peaks | None:
    path = path or cache_path()
    try:
        entry = json.loads(path.read_text()).get(key)
        return Peaks(**entry) if entry else None
    except (OSError, ValueError, TypeError):
        return None


def save_cached(key: str, peaks: Peaks, path: Path | None = None) -> None:
    """Merge ``peaks`` into the cache file (written atomically)."""
    path = path or cache_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data[key] = peaks.to_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)
