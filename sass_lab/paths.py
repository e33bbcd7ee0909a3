"""Where the package's non-Python files live: the grammars and the shipped kernels.

Both ship inside the package (pyproject's package data), so an installed wheel finds them. In a
checkout ``sass_lab/kernels_asm`` is a link to the top-level ``kernels_asm/``, resolved here so that
paths print as the user sees them; in a wheel it is a real folder.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
GRAMMARS = PACKAGE / "grammars"
KERNELS = (PACKAGE / "kernels_asm").resolve()


def grammar(name: str) -> str:
    """Text of ``sass_lab/grammars/<name>``."""
    return (GRAMMARS / name).read_text(encoding="utf-8")
