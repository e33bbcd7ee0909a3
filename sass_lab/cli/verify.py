"""``sass_lab verify FILE [--emulate] [--size N=...] [-D K=V]... [--all-sizes] [--all-defines] [--json]``.

Checks a kernel against the float64 reference of its ``%% lab`` block. Without ``--emulate`` it runs on
the GPU (exit 3 when there is none) at SIZE; with ``--emulate`` and no ``--size`` it runs every
TEST_SIZES entry. Exit 1 when any output fails its tolerance.
"""

from __future__ import annotations

import json

from ..api import ARCHS, DEFAULT_ARCH
from .assemble import parse_defines
from .types import integer

# said after the one sentence of exit 3 (no GPU): the command's CPU alternative
NO_GPU = "`sass_lab verify {file} --emulate` runs the same check on the CPU emulator"


def register(sub) -> None:
    p = sub.add_parser("verify", help="check a kernel against its float64 numpy reference")
    p.add_argument("file", metavar="FILE", help="a .sasm file with a %%%% lab block")
    p.add_argument("--emulate", action="store_true", help="run on the CPU emulator instead of the GPU")
    p.add_argument("--size", metavar="N=V,...", help="problem size, e.g. M=67,N=45,K=33")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="K=V",
                   help="override a .define (repeatable)")
    p.add_argument("--all-sizes", action="store_true",
                   help="verify every TEST_SIZES entry (the default with --emulate and no --size)")
    p.add_argument("--all-defines", action="store_true",
                   help="repeat for every define combination of the lab block's TUNE space")
    p.add_argument("--seed", type=integer(0), default=None, help="random seed for the inputs")
    p.add_argument("--kernel", help="kernel name (default: the lab block's KERNEL)")
    p.add_argument("--arch", default=DEFAULT_ARCH, choices=ARCHS)
    p.add_argument("--json", action="store_true", help="print a JSON list of results")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import UsageError
    from ..lab.spec import parse_size
    from ..lab.verify import verify, verify_sizes

    base = parse_defines(args.defines)
    if args.all_sizes and args.size:
        raise UsageError("--all-sizes and --size exclude each other")
    combos = [base]
    if args.all_defines:
        from ..lab.spec import load_spec

        combos = [{**base, **c} for c in load_spec(args.file, base).combinations()] or [base]
    results = []
    every_size = args.all_sizes or (args.emulate and not args.size)
    for defines in combos:
        if every_size:
            results += verify_sizes(args.file, None, args.emulate, defines, args.seed, args.kernel, args.arch)
        else:
            results.append(verify(args.file, parse_size(args.size) or None, args.emulate, defines, args.seed,
                                  args.kernel, args.arch))
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        from ..ui.report import console
        from ..ui.verify import verify_table

        con = console()
        for r in results:
            con.print(verify_table(r))
        bad = sum(not r.ok for r in results)
        con.print(f"[red]{bad} of {len(results)} runs failed[/red]" if bad
                  else f"[green]all {len(results)} run(s) passed[/green]")
    return 0 if all(r.ok for r in results) else 1

