"""``sass_lab results [--kernel K] [--history] [--json|--csv] [--db PATH]``."""

from __future__ import annotations

import csv
import json
import sys


def register(sub) -> None:
    p = sub.add_parser("results", help="stored results: the best per kernel and size, and history")
    p.add_argument("--kernel")
    p.add_argument("--history", action="store_true", help="every stored row, newest first")
    p.add_argument("--db")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..lab.store import Store, default_db_path

    rows, where = [], default_db_path()
    if args.db is not None or where.exists():  # reading never creates a database
        with Store(args.db, write=False) as st:
            rows = st.rows(args.kernel) if args.history else st.best(args.kernel)
            where = st.path
    dicts = [r.to_dict() for r in rows]
    if args.json:
        print(json.dumps(dicts, indent=2, default=str))
        return 0
    if args.csv:
        cols = ["id", "created", "kernel", "kind", "status", "arch", "device", "driver", "size", "defines",
                "median_s", "p20_s", "p80_s", "min_s", "flop_s", "bytes_s", "efficiency", "score",
                "registers", "shared_bytes", "occupancy", "spills", "verified", "max_rel_err", "error"]
        w = csv.DictWriter(sys.stdout, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for d in dicts:
            w.writerow({k: json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for k, v in d.items()})
        return 0

    from ..ui.report import console
    from ..ui.results import results_table

    con = console()
    if not rows:
        con.print(f"no results stored in {where}")
        return 0
    con.print(results_table(rows, "history" if args.history else "best per kernel and size"))
    return 0
