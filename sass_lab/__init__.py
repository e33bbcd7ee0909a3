"""sass_lab: a Python-embedded GPU assembler and tuning lab for NVIDIA GPUs (Hopper first).

    import sass_lab as sl
    mod = sl.assemble_file("kernels_asm/saxpy.sasm", arch="sm_90", defines={"BLOCK": 128},
                           options=sl.CompileOptions(maxrregcount=64))
    k = mod["saxpy"]
    k.ptx, k.cubin, k.resources, k.occupancy(block=256)
"""

from .api import ARCHS, Kernel, Module, assemble, assemble_file
from .errors import (
    CudaError,
    EmulatorError,
    NoGPUError,
    ResourceError,
    SasmError,
    SourceError,
    Span,
    ToolchainError,
    UsageError,
)
from .toolchain.options import CompileOptions

__version__ = "0.1.0"

__all__ = [
    "ARCHS", "CompileOptions", "CudaError", "EmulatorError", "Kernel", "Module", "NoGPUError", "ResourceError",
    "SasmError", "SourceError", "Span", "ToolchainError", "UsageError", "assemble", "assemble_file",
]
