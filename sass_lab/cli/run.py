"""``sass_lab run FILE [--kernel K] [--size M=...,N=...] [-D K=V]... [--seed S] [--json]``.

Assembles the file, launches the kernel once on the GPU with fresh random inputs from its ``%% lab``
block, and checks every output against the float64 reference. Exit 0 when all outputs pass, 1 when
any fails, 3 (one sentence, no traceback) when there is no GPU.
"""

from __future__ import annotations

import json

from ..api import ARCHS, DEFAULT_ARCH
from .assemble import parse_defines
from .types import integer

# said after the one sentence of exit 3 (no GPU): the command's CPU alternative
NO_GPU = "`sass_lab verify {file} --emulate` runs the same check on the CPU emulator"


def register(sub) -> None:
    p = sub.add_parser("run", help="launch a kernel once on the GPU and check it against its reference")
    p.add_argument("file", metavar="FILE", help="a .sasm file with a %%%% lab block")
    p.add_argument("--kernel", help="kernel name (default: the lab block's KERNEL)")
    p.add_argument("--size", metavar="N=V,...", help="problem size, e.g. M=67,N=45,K=33 (default: SIZE)")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="K=V",
                   help="override a .define (repeatable)")
    p.add_argument("--seed", type=integer(0), default=None, help="random seed for the inputs")
    p.add_argument("--arch", default=None, choices=ARCHS, help="target (default: the GPU's own)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def device_arch(cc: tuple[int, int]) -> str:
    """The assembler target for a compute capability (the newest we know that the device runs)."""
    want = f"sm_{cc[0]}{cc[1]}"
    if want in ARCHS:
        return want
    older = [a for a in ARCHS if not a.endswith("a") and int(a[3:]) <= cc[0] * 10 + cc[1]]
    return older[-1] if older else DEFAULT_ARCH


def run(args) -> int:
    from .. import runtime as rt
    from ..lab.spec import parse_size
    from ..lab.verify import verify

    rt.require_gpu()  # before any work: no GPU → exit 3 with one sentence
    arch = args.arch or device_arch(rt.context().info.cc)
    defines = parse_defines(args.defines)
    r = verify(args.file, parse_size(args.size) or None, emulate=False, defines=defines, seed=args.seed,
               kernel=args.kernel, arch=arch)
    if args.json:
        d = r.to_dict()
        d["gpu"] = rt.context().info.name
        print(json.dumps(d, indent=2))
    else:
        from ..ui.report import console
        from ..ui.verify import verify_table

        con = console()
        con.print(verify_table(r))
        con.print(f"ran on {rt.context().info.name} ({arch}) in {r.times.get('run_s', 0.0) * 1e3:.2f} ms "
                  "including copies")
    return 0 if r.ok else 1
