"""The instruction-set table: operand roles, type rules, latency classes and FLOP counts."""

from .roles import defs_uses, is_barrier, is_branch, state_space, writes_register

__all__ = ["defs_uses", "is_barrier", "is_branch", "state_space", "writes_register"]
