"""sass_lab.emulator: a numpy PTX emulator with memory, race and barrier checks.

``emulate(ptx, kernel, grid, block, args, dynamic_shared=0, check=True, line_map=None, max_steps=...)``
runs every lane of a wave of blocks as one numpy array; see docs/EMULATOR.md.
"""

from ..hw.tensormap import TensorMap
from .report import EmulatorCheckError, Finding, Report, Stats
from .run import emulate

__all__ = ["emulate", "EmulatorCheckError", "Finding", "Report", "Stats", "TensorMap"]
