"""``sass_lab results [--kernel K] [--history] [--json|--csv] [--db PATH]``."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("results", help="stored results: the best per kernel and size, and history")
    p.add_argument("--kernel")
    p.add_argument("--history", action="store_true", help="every stored row, newest first")
    p.add_argument("--db")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--export", metavar="FILE",
                     help="write every stored row (or --kernel's) as JSON lines to FILE ('-': stdout)")
    fmt.add_argument("--import", dest="import_", metavar="FILE",
                     help="merge rows exported elsewhere into the store (new keys added, newer rows win)")
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..lab.store import Store, default_db_path

    if args.import_:
        return _import(args)
    if args.export:
        return _export(args)
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


def _import(args) -> int:
    from ..errors import UsageError
    from ..files import read_text
    from ..lab.exchange import load, merge
    from ..lab.store import Store

    path = Path(args.import_)
    if not path.is_file():
        raise UsageError(f"no file {path} to import", hint="name a file written by `sass_lab results --export`")
    entries = load(read_text(path), str(path))  # every line checked before anything is written
    with Store(args.db) as st:
        wrote, kept = merge(st, entries)
        where = st.path
    print(f"imported {wrote} row(s) into {where}; {kept} already stored (same key, as new or newer)",
          file=sys.stderr)
    return 0


def _export(args) -> int:
    from ..files import write_output
    from ..lab.exchange import export
    from ..lab.store import Store

    with Store(args.db, write=False) as st:
        text = "\n".join(export(st.rows(args.kernel))) + "\n"
        db = st.path
    if args.export == "-":
        sys.stdout.write(text)
    else:
        write_output(Path(args.export), text, [db], flag="--export", writes=".jsonl")
    return 0
