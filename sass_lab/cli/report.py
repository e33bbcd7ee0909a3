"""`sass_lab report` (placeholder until its issue lands: it refuses to run)."""

from __future__ import annotations

from ..errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("report", help="(not yet available)")
    p.add_argument("rest", nargs="*")
    p.set_defaults(func=run)


def run(args) -> int:
    raise UsageError("'sass_lab report' is not implemented yet")
