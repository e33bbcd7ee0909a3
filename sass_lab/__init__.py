"""sass_lab: a Python-embedded GPU assembler and tuning lab for NVIDIA GPUs (Hopper first).

    import sass_lab as sl
    mod = sl.assemble_file("kernels_asm/saxpy.sasm", arch="sm_90", defines={"BLOCK": 128},
                           options=sl.CompileOptions(maxrregcount=64))
    k = mod["saxpy"]
    k.ptx, k.cubin, k.resources, k.occupancy(block=256)
"""

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
_API = ("ARCHS", "Kernel", "Module", "assemble", "assemble_file")


def __getattr__(name: str):
    """The pipeline (``sass_lab.api``) loads on first use, so ``import sass_lab`` (and the command
    line's start, where Ctrl-C must already be handled) stays light."""
    if name in _API:
        from . import api

        return getattr(api, name)
    if name == "TensorMap":  # the cuTensorMapEncodeTiled contract (numpy: loaded on first use too)
        from .hw.tensormap import TensorMap

        return TensorMap
    raise AttributeError(f"module 'sass_lab' has no attribute {name!r}")

__all__ = [
    "ARCHS", "CompileOptions", "CudaError", "EmulatorError", "Kernel", "Module", "NoGPUError", "ResourceError",
    "SasmError", "SourceError", "Span", "TensorMap", "ToolchainError", "UsageError", "assemble", "assemble_file",
]
