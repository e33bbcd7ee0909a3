"""``sass_lab sass FILE [--kernel K] [--json] [--arch ARCH] [--banks MODEL] [--summary] [-D K=V]``.

FILE is a .sasm/.ptx (assembled first) or a .cubin. Prints each function's SASS with control codes
and its static statistics (docs/SASS.md), or with ``--json`` a list of kernel records.
"""

from __future__ import annotations

import json

from ..api import ARCHS
from ..errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("sass", help="SASS listing with control codes, bank conflicts, reuse, liveness")
    p.add_argument("file", metavar="FILE", help=".sasm, .ptx or .cubin")
    p.add_argument("--kernel", "-k", action="append", metavar="K", help="only this function (repeatable)")
    p.add_argument("--arch", choices=ARCHS, help="target for .sasm/.ptx (default sm_90); checked for .cubin")
    p.add_argument("--json", action="store_true", help="print a JSON list of kernel records")
    p.add_argument("--banks", default="volta", metavar="MODEL",
                   help="register bank model: volta (2 banks, 2 ports), maxwell (4, 1) or BANKS:PORTS")
    p.add_argument("--summary", action="store_true", help="statistics only, no listing")
    p.add_argument("--all", action="store_true", help="include device functions (default: kernels only)")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="K=V",
                   help="override a .define when assembling")
    p.add_argument("--edit", action="store_true",
                   help="write an editable listing (-o K.sass) and its skeleton cubin; assemble it back "
                        "with `sass_lab assemble K.sass -o K.cubin`")
    p.add_argument("-o", "--out", metavar="K.sass", help="with --edit: the listing to write")
    p.set_defaults(func=run)


def select(funcs: dict, entries: list[str], kernels: list[str] | None, include_all: bool) -> list[str]:
    """The function names to show: ``--kernel`` names, else kernels (all functions with --all)."""
    if kernels:
        missing = [k for k in kernels if k not in funcs]
        if missing:
            raise UsageError(f"no function {', '.join(missing)}", hint=f"functions: {', '.join(funcs)}")
        return list(kernels)
    names = list(funcs) if include_all or not entries else [n for n in funcs if n in entries]
    return names


def bank_model(text: str):
    """``volta``/``maxwell`` or ``BANKS:PORTS`` → a :class:`BankModel`."""
    from ..sass.stats import BANK_MODELS, BankModel

    if text in BANK_MODELS:
        return BANK_MODELS[text]
    try:
        banks, ports = (int(x) for x in text.split(":"))
    except ValueError:
        raise UsageError(f"bad bank model '{text}'", hint="volta, maxwell or BANKS:PORTS, e.g. 4:1") from None
    if banks < 1 or ports < 1:
        raise UsageError(f"bad bank model '{text}'", hint="banks and ports are at least 1")
    return BankModel(f"{banks}:{ports}", banks, ports)


def run(args) -> int:
    from ..load import load
    from ..sass import disassemble, kernel_stats
    from ..sass.disasm import entries
    from ..sass.listing import kernel_record, render
    from .assemble import parse_defines

    if args.out and not args.edit:
        raise UsageError("-o goes with --edit", hint="sass_lab sass FILE --edit -o K.sass")
    if args.edit and not args.out:
        raise UsageError("--edit needs -o K.sass", hint="sass_lab sass FILE --edit -o K.sass")
    src = load(args.file, args.arch, parse_defines(args.defines))
    funcs = disassemble(src.cubin, src.arch)
    ents = entries(src.cubin)
    names = select(funcs, ents, args.kernel, args.all or args.edit)
    if args.edit:
        from .sassasm import edit

        return edit(args, src, names if args.kernel else list(funcs))
    model = bank_model(args.banks)
    stats = {n: kernel_stats(funcs[n], model) for n in names}
    if args.json:
        print(json.dumps([kernel_record(n, funcs[n], stats[n], n in ents, src.arch) for n in names], indent=1))
        return 0
    import sys

    from rich.console import Console

    con = Console(highlight=False, width=None if sys.stdout.isatty() else 200)  # no cropped lines in pipes
    for n in names:
        con.print(render(n, funcs[n], stats[n], src.arch, n in ents, show_listing=not args.summary))
    return 0
