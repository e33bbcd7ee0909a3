"""``sass_lab patch FILE -o OUT.cubin [--kernel K] [--set ADDR:field=value ...] [--interleave-ffma F]``.

Edits control fields (stall, yield, write_barrier, read_barrier, wait_mask, reuse) in place and
writes a new cubin; the result is checked with nvdisasm and a byte diff before it is written.
"""

from __future__ import annotations

import json

from ..api import ARCHS
from ..errors import UsageError
from ..files import check_output, write_output
from .types import integer, real


def register(sub) -> None:
    p = sub.add_parser("patch", help="edit SASS control fields (stall/yield/barriers/reuse) in a cubin")
    p.add_argument("file", metavar="FILE", help=".sasm, .ptx or .cubin")
    p.add_argument("-o", "--out", required=True, metavar="OUT.cubin")
    p.add_argument("--kernel", "-k", action="append", metavar="K", help="function(s) to patch")
    p.add_argument("--arch", choices=ARCHS)
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="ADDR:field=value",
                   help="e.g. 0x1a0:stall=4, 1b0:yield=Y, 1c0:write_barrier=-, 1d0:reuse=A (repeatable)")
    p.add_argument("--interleave-ffma", type=real(0.0, 1.0, low_open=False), metavar="FRACTION",
                   help="DeepGEMM-style: yield + drop B-reuse on this fraction of each FFMA run")
    p.add_argument("--min-run", type=integer(1), default=2, help="shortest FFMA run the interleave pass touches")
    p.add_argument("--json", action="store_true", help="print the changed words as JSON")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="K=V")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..load import load
    from ..sass.disasm import disassemble, entries
    from ..sass.patch import interleave_ffma, parse_set, patch_cubin
    from .assemble import parse_defines

    if not args.sets and args.interleave_ffma is None:
        raise UsageError("nothing to patch", hint="give --set ADDR:field=value or --interleave-ffma F")
    check_output(args.out, [args.file], writes=".cubin")  # before any work: not an input, a source, a link
    src = load(args.file, args.arch, parse_defines(args.defines))
    funcs = disassemble(src.cubin, src.arch)
    kernels = args.kernel or entries(src.cubin) or list(funcs)
    for k in kernels:
        if k not in funcs:
            raise UsageError(f"no function '{k}'", hint=f"functions: {', '.join(funcs)}")
    edits = []
    if args.sets:
        if len(kernels) != 1:
            raise UsageError("--set needs one function", hint=f"add --kernel (one of {', '.join(kernels)})")
        edits += [parse_set(s, kernels[0]) for s in args.sets]
    if args.interleave_ffma is not None:
        for k in kernels:
            edits += interleave_ffma(funcs[k], k, args.interleave_ffma, min_run=args.min_run)
    patched = patch_cubin(src.cubin, edits, src.arch)
    write_output(args.out, patched.cubin, [args.file, *src.sources], writes=".cubin")
    if args.json:
        print(json.dumps([c.to_dict() for c in patched.changes], indent=1))
    else:
        import sys

        from rich.console import Console

        con = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
        for c in patched.changes:
            d = c.to_dict()
            con.print(f"{c.kernel}+{c.address:04x}  {d['before_ctrl']} -> {d['after_ctrl']}  {d['text']}")
        con.print(f"[bold]{len(patched.changes)}[/bold] instruction(s) changed; verified with nvdisasm and "
                  f"a byte diff; wrote {args.out}")
    return 0
