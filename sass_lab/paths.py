"""Where the project's non-Python files live (grammars, shipped kernels)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRAMMARS = ROOT / "grammars"
KERNELS = ROOT / "kernels_asm"


def grammar(name: str) -> str:
    """Text of ``grammars/<name>``."""
    return (GRAMMARS / name).read_text()
