"""One way to run a kernel: the GPU and the CPU emulator answer the same call.

``device(emulate)`` gives an :class:`Emulator` or a :class:`GPU` (``NoGPUError``, one sentence, when
there is none); ``dev.launch(kernel, grid, block, args, dynamic_shared)`` runs an ``api.Kernel`` once,
writes numpy outputs back in place, and returns a :class:`Launch`: the emulator's findings (races,
out-of-bounds accesses, barrier divergence, ...; a GPU has no such checks), the kernel's printf
output, and the wall time. A thin adapter over ``emulator.emulate`` and ``runtime.launch``, so
``lab.verify`` and the console never branch on where a kernel runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Launch:
    """What one run told us besides the outputs (which are written back into the arguments)."""

    device: str  # "emulator" or "gpu"
    findings: tuple = ()  # emulator.Finding, merged over threads
    output: str = ""  # printf output
    seconds: float = 0.0  # wall time, copies included

    @property
    def ok(self) -> bool:
        return not self.findings


class Device(Protocol):
    """Where a kernel runs."""

    name: str  # "emulator" or "gpu"
    test_sizes: bool  # runs a lab block's small TEST_SIZES by default (else its SIZE)

    def launch(self, kernel: Any, grid: Any, block: Any, args: Sequence[Any], dynamic_shared: int = 0) -> Launch:
        ...


class Emulator:
    """The numpy PTX emulator: exact, checked, slow."""

    name = "emulator"
    test_sizes = True

    def launch(self, kernel: Any, grid: Any, block: Any, args: Sequence[Any], dynamic_shared: int = 0) -> Launch:
        from .emulator import EmulatorCheckError

        t0 = time.perf_counter()
        try:
            rep = kernel.emulate(grid, block, *args, dynamic_shared=dynamic_shared)
        except EmulatorCheckError as e:  # the outputs are written back all the same
            return Launch(self.name, e.findings, e.report.output if e.report else "", time.perf_counter() - t0)
        return Launch(self.name, rep.findings, rep.output, time.perf_counter() - t0)


class GPU:
    """The current CUDA device through the driver API."""

    name = "gpu"
    test_sizes = False

    def __init__(self) -> None:
        from . import runtime

        runtime.require_gpu()  # before any work: no GPU is one sentence (NoGPUError)

    def launch(self, kernel: Any, grid: Any, block: Any, args: Sequence[Any], dynamic_shared: int = 0) -> Launch:
        t0 = time.perf_counter()
        kernel.launch(grid, block, *args, dynamic_shared=dynamic_shared)
        return Launch(self.name, seconds=time.perf_counter() - t0)


def device(emulate: bool) -> Device:
    """The emulator, or the GPU (``NoGPUError`` when none can be used)."""
    return Emulator() if emulate else GPU()
