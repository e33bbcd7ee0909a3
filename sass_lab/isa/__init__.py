"""The instruction-set table: operand roles, type rules, latency classes and FLOP counts."""

from .roles import (
    arch_specific,
    async_registers,
    defs_uses,
    is_async_wait,
    is_barrier,
    is_branch,
    state_space,
    writes_register,
)
from .table import LATENCY_CLASSES, OPS, OpSpec, dest_type, flops, instr_type, latency_class, spec

__all__ = ["LATENCY_CLASSES", "OPS", "OpSpec", "arch_specific", "async_registers", "defs_uses", "is_async_wait", "dest_type", "flops", "instr_type", "is_barrier",
           "is_branch", "latency_class", "spec", "state_space", "writes_register"]
