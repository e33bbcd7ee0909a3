"""``sass_lab tune FILE [--size …] [--compile-only] [--db PATH] [--json]``."""

from __future__ import annotations

import json

from ..api import ARCHS, DEFAULT_ARCH
from ..lab.runners import RUNNERS
from ..lab.search import EXHAUSTIVE_MAX, SEARCHES
from .types import integer


def fraction(text: str) -> float:
    """A positive budget: a fraction of the space (≤ 1) or a number of evaluations."""
    import argparse

    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return v

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
    p.add_argument("--runner", choices=RUNNERS, default="local",
                   help="where tasks run: local (a process pool and this GPU), gpus (one worker per visible "
                        "GPU), ray (a Ray cluster: pip install 'sass-lab[ray]')")
    p.add_argument("--ray-address", help="join this Ray cluster ('auto', 'ray://head:10001'); default: a "
                                         "local one for this sweep")
    p.add_argument("--search", choices=SEARCHES, default="auto",
                   help="exhaustive, guided (budgeted, led by the static model), or auto (guided above "
                        f"{EXHAUSTIVE_MAX} candidates)")
    p.add_argument("--budget", type=fraction, default=0.25,
                   help="guided search: evaluations as a fraction of the space (≤ 1) or a count (default 0.25)")
    p.add_argument("--retime", type=integer(0), default=3, metavar="K",
                   help="re-time the K fastest interleaved and report the winner's confidence (0: off)")
    p.add_argument("--rounds", type=integer(2), default=15, help="rounds of interleaved re-timing")
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
                        db=args.db, jobs=args.jobs, progress=progress, runner=args.runner,
                        ray_address=args.ray_address, search=args.search, budget=args.budget,
                        retime=args.retime, rounds=args.rounds)
    s = outcomes.search
    if args.json:
        print(json.dumps({"outcomes": [describe(o) for o in outcomes], "search": s,
                          "verdict": outcomes.verdict.to_dict() if outcomes.verdict else None}, indent=2))
        return 0
    con.print(tune_table(outcomes, args.file, args.compile_only))
    if s.get("mode") == "guided":
        con.print(f"guided search: {s['evaluations']} of {s['space']} candidates evaluated (budget {s['budget']})")
    if outcomes.verdict is not None:
        con.print(outcomes.verdict.describe())
    if args.compile_only:
        con.print("[yellow]ranked by the static model (no GPU run): FFMA share × latency-hiding factor; "
                  "see docs/LAB.md[/yellow]")
    return 0
