"""SASS view: nvdisasm listing, control codes, static statistics and control-bit patching.

``disassemble(cubin, arch)`` → ``{function: [SassInstr]}``; ``kernel_stats(instrs)`` and
``hot_loop_ffma_share(instrs)`` for static efficiency; ``patch_cubin``/``interleave_cubin`` to
edit control fields. See docs/SASS.md.
"""

from .control import Control, decode, encode
from .disasm import disassemble, entries
from .model import Operand, SassInstr
from .patch import Edit, Patched, interleave_cubin, interleave_ffma, patch_cubin
from .stats import BANK_MODELS, BankModel, KernelStats, hot_loop_ffma_share, kernel_stats

__all__ = [
    "BANK_MODELS", "BankModel", "Control", "Edit", "KernelStats", "Operand", "Patched", "SassInstr",
    "decode", "disassemble", "encode", "entries", "hot_loop_ffma_share", "interleave_cubin",
    "interleave_ffma", "kernel_stats", "patch_cubin",
]
