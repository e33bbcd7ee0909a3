"""Datasheet figures of common GPUs, for estimates made without the GPU at hand.

Peaks from these figures are *datasheet* values (boost clock): efficiency against a measured run
should use the clock measured during that run. ``waves`` says how a grid fills the SMs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from .arch import arch_info


@dataclass(frozen=True, slots=True)
class Device:
    """One product: SM count, boost clock, memory bandwidth and L2 size."""

    name: str
    arch: str
    sms: int
    boost_clock_hz: float
    dram_bytes_per_s: float
    l2_bytes: int

    @property
    def peak_fp32_flops(self) -> float:
        """FFMA peak at the boost clock (2 FLOPs per lane per clock)."""
        return arch_info(self.arch).peak_fp32_flops(self.sms, self.boost_clock_hz)

    @property
    def ridge_flops_per_byte(self) -> float:
        """Arithmetic intensity where the FP32 roofline turns from memory- to compute-bound."""
        return self.peak_fp32_flops / self.dram_bytes_per_s


MB = 1024 * 1024

DEVICES: dict[str, Device] = {d.name: d for d in (
    Device("H200", "sm_90", 132, 1.98e9, 4.8e12, 60 * MB),
    Device("H100-SXM", "sm_90", 132, 1.98e9, 3.35e12, 50 * MB),
    Device("A100-SXM", "sm_80", 108, 1.41e9, 2.039e12, 40 * MB),
    Device("RTX4090", "sm_89", 128, 2.52e9, 1.008e12, 72 * MB),
    Device("RTX3090", "sm_86", 82, 1.695e9, 0.936e12, 6 * MB),
    Device("T4", "sm_75", 40, 1.59e9, 0.32e12, 4 * MB),
    Device("V100-SXM2", "sm_70", 80, 1.53e9, 0.9e12, 6 * MB),
)}


def device(name: str) -> Device:
    """Look a device up by name (case-insensitive)."""
    for key, d in DEVICES.items():
        if key.lower() == name.lower():
            return d
    raise UsageError(f"unknown device '{name}'", hint=f"known: {', '.join(DEVICES)}")


@dataclass(frozen=True, slots=True)
class Waves:
    """How ``blocks`` fill ``sms`` × ``blocks_per_sm`` slots."""

    blocks: int
    slots: int  # blocks resident at once on the whole GPU
    full_waves: int
    tail_blocks: int  # blocks in the last, partial wave (0 = none)

    @property
    def waves(self) -> float:
        return self.blocks / self.slots if self.slots else float("inf")

    @property
    def tail_efficiency(self) -> float:
        """Average fill of the waves actually run (1.0 = no partial wave)."""
        run = self.full_waves + (1 if self.tail_blocks else 0)
        return self.blocks / (run * self.slots) if run and self.slots else 0.0


def waves(blocks: int, blocks_per_sm: int, sms: int) -> Waves:
    """Full waves and the partial tail of a grid of ``blocks``."""
    if blocks < 0 or blocks_per_sm < 0 or sms <= 0:
        raise UsageError(f"bad wave query: blocks={blocks}, blocks_per_sm={blocks_per_sm}, sms={sms}")
    slots = blocks_per_sm * sms
    if slots == 0:
        return Waves(blocks, 0, 0, blocks)
    return Waves(blocks, slots, blocks // slots, blocks % slots)
