"""The .sasm front end: expansion → parsing → lowering to ``ir.Module`` (see docs/DSL.md).

``frontend(text, file, defines)`` is the one entry point the pipeline calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import ir
from . import expand, lower, parse  # the submodules stay reachable as sass_lab.dsl.expand, ...
from .expand import Expanded
from .spans import guard_span, operand_span


@dataclass(frozen=True, slots=True)
class FrontResult:
    """The lowered module, the resolved defines and the expansion (lines + source map)."""

    module: ir.Module
    defines: dict[str, Any]
    expanded: Expanded


def frontend(text: str, file: str = "<string>", defines: dict[str, Any] | None = None) -> FrontResult:
    """Expand, parse and lower ``text`` (DSL or PTX); raises ``SourceError`` on bad input."""
    ex, resolved = expand.expand(text, file, defines or {})
    module = lower.lower(parse.parse(ex), ex, file)
    return FrontResult(module, resolved, ex)


__all__ = ["Expanded", "FrontResult", "frontend", "guard_span", "operand_span"]
