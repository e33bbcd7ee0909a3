"""``sass_lab report [FILE...] [--arch] [--db] [--json]``: one table over all shipped kernels."""

from __future__ import annotations

import json

from ..api import ARCHS, DEFAULT_ARCH


def register(sub) -> None:
    p = sub.add_parser("report", help="resources, occupancy, static efficiency and best results per kernel")
    p.add_argument("files", nargs="*", metavar="FILE", help="default: every kernels_asm/*.sasm")
    p.add_argument("--arch", default=DEFAULT_ARCH, choices=ARCHS)
    p.add_argument("--db")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..lab.report import report

    rows = report([Path(f) for f in args.files] or None, args.arch, args.db)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return 0
    from ..ui.report import console, summary_table

    console().print(summary_table(rows, args.arch))
    return 1 if any(r.error for r in rows) else 0
