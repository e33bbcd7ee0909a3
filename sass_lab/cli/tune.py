"""``sass_lab tune FILE [--size …] [--compile-only] [--db PATH] [--json]``."""

from __future__ import annotations

import json

from ..api import ARCHS, DEFAULT_ARCH
from .types import integer

# said after the one sentence of exit 3 (no GPU): the command's CPU alternative
NO_GPU = ("`sass_lab tune {file} --compile-only` sweeps on the CPU (ranked by the "
          "static model)")


def register(sub) -> None:
    p = sub.add_parser("tune", help="sweep a kernel's tuning space; every result goes to the store")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--size", help="problem size, comma-separated NAME=VALUE pairs")
    p.add_argument("--arch", default=DEFAULT_ARCH, choices=ARCHS)
    p.add_argument("--compile-only", action="store_true",
                   help="no GPU: compile, prune and rank by the static model")
    p.add_argument("--db", help="results database (default: $SASS_LAB_DB or ~/.local/share/sass_lab)")
    p.add_argument("-j", "--jobs", type=integer(1), default=None, help="compile processes (default: CPUs)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..lab.spec import parse_size
    from ..lab.tune import describe, tune
    from ..ui.report import console
    from ..ui.tune import tune_table

    con = console(stderr=args.json)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=con, transient=args.json) as prog:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(stage, total=total)
            prog.update(tasks[stage], completed=done)

        outcomes = tune(args.file, args.arch, parse_size(args.size), compile_only=args.compile_only,
                        db=args.db, jobs=args.jobs, progress=progress)
    if args.json:
        print(json.dumps([describe(o) for o in outcomes], indent=2))
        return 0
    con.print(tune_table(outcomes, args.file, args.compile_only))
    if args.compile_only:
        con.print("[yellow]ranked by the static model (no GPU run): FFMA share × latency-hiding factor; "
                  "see docs/LAB.md[/yellow]")
    return 0
