"""Datasheet figures of common GPUs: the one table of them (peaks, SM counts, clocks, bandwidth, L2).

Figures are the datasheet's (boost clock, dense rates): efficiency against a measured run should use
the measured peaks (``lab.bench``) or the clock measured during that run. ``match`` holds the name
fragments the driver reports; ``find`` takes the first row that matches, so the table runs from the
most specific name to the least. ``reference(arch)`` is the device a kernel is judged against (and
the emulator stands for) without one at hand. ``waves`` says how a grid fills the SMs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from .arch import arch_info

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Device:
    """One product: SM count, boost clock, memory bandwidth, L2 size and datasheet FLOP rates."""

    name: str
    arch: str
    sms: int
    boost_clock_hz: float
    dram_bytes_per_s: float
    l2_bytes: int  # 0: not in the table
    fp32_flops: float = 0.0  # the datasheet's FP32 rate; 0: derived from the SMs and the clock
    bf16_flops: float = 0.0  # dense BF16 tensor rate; 0: none
    match: tuple[str, ...] = ()  # name fragments the driver reports (default: the name)

    @property
    def peak_fp32_flops(self) -> float:
        """FFMA peak at the boost clock (2 FLOPs per lane per clock), as the datasheet prints it."""
        return self.fp32_flops or arch_info(self.arch).peak_fp32_flops(self.sms, self.boost_clock_hz)

    @property
    def ridge_flops_per_byte(self) -> float:
        """Arithmetic intensity where the FP32 roofline turns from memory- to compute-bound."""
        return self.peak_fp32_flops / self.dram_bytes_per_s


DEVICES: dict[str, Device] = {d.name: d for d in (
    Device("GH200", "sm_90", 132, 1.98e9, 4.0e12, 0, 66.9e12, 989e12),
    Device("H200", "sm_90", 132, 1.98e9, 4.8e12, 60 * MB, 66.9e12, 989e12),
    Device("H100-PCIe", "sm_90", 114, 1.755e9, 2.0e12, 50 * MB, 51.2e12, 756e12, ("H100 PCIe",)),
    Device("H100-NVL", "sm_90", 132, 1.785e9, 3.9e12, 50 * MB, 60.0e12, 835e12, ("H100 NVL",)),
    Device("H100-SXM", "sm_90", 132, 1.98e9, 3.35e12, 50 * MB, 66.9e12, 989e12, ("H100",)),
    Device("A100-SXM", "sm_80", 108, 1.41e9, 2.039e12, 40 * MB, 19.5e12, 312e12, ("A100-SXM4-80GB",)),
    Device("A100-PCIe-80GB", "sm_80", 108, 1.41e9, 1.935e12, 40 * MB, 19.5e12, 312e12, ("A100 80GB PCIe",)),
    Device("A100", "sm_80", 108, 1.41e9, 1.555e12, 40 * MB, 19.5e12, 312e12),
    Device("RTX4090", "sm_89", 128, 2.52e9, 1.008e12, 72 * MB, 82.6e12, 165e12, ("RTX 4090",)),
    Device("L40S", "sm_89", 142, 2.52e9, 0.864e12, 96 * MB, 91.6e12, 362e12),
    Device("L4", "sm_89", 58, 2.04e9, 0.3e12, 48 * MB, 30.3e12, 121e12),
    Device("RTX3090", "sm_86", 82, 1.695e9, 0.936e12, 6 * MB, match=("RTX 3090",)),
    Device("T4", "sm_75", 40, 1.59e9, 0.32e12, 4 * MB, match=("T4",)),
    Device("V100-SXM2", "sm_70", 80, 1.53e9, 0.9e12, 6 * MB, 15.7e12, match=("V100",)),
)}


# the device a kernel for each arch is judged against (and emulated as) when none is at hand
REFERENCE = {"sm_70": "V100-SXM2", "sm_75": "T4", "sm_80": "A100-SXM", "sm_86": "RTX3090", "sm_89": "RTX4090",
             "sm_90": "H200"}


def reference(arch: str) -> Device:
    """The reference device of ``arch`` (``sm_90a`` → ``sm_90``'s)."""
    return DEVICES[REFERENCE[arch_info(arch).name]]


def device(name: str) -> Device:
    """Look a device up by its table name (case-insensitive)."""
    for key, d in DEVICES.items():
        if key.lower() == name.lower():
            return d
    raise UsageError(f"unknown device '{name}'", hint=f"known: {', '.join(DEVICES)}")


def find(reported: str) -> Device | None:
    """The first row whose name fragments occur in the name the driver reports, or None."""
    low = reported.lower()
    for d in DEVICES.values():
        if any(frag.lower() in low for frag in d.match or (d.name,)):
            return d
    return None


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
