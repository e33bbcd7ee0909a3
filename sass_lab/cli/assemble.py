"""``sass_lab assemble FILE... [-D K=V]... [--arch ARCH] [-o DIR] [--json]``."""

from __future__ import annotations

import json
from pathlib import Path

from ..api import ARCHS, DEFAULT_ARCH, assemble_file
from ..errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("assemble", help="assemble .sasm/.ptx files to PTX + cubin and report resources")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="K=V",
                   help="override a .define (repeatable)")
    p.add_argument("--arch", default=DEFAULT_ARCH, choices=ARCHS)
    p.add_argument("-o", "--out", metavar="DIR", help="write <name>.ptx and <name>.cubin here")
    p.add_argument("--ptxas", action="store_true", help="compile with the ptxas CLI instead of nvJitLink")
    p.add_argument("--no-schedule", action="store_true", help="leave .schedule regions in source order")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of tables")
    p.set_defaults(func=run)


def parse_defines(items: list[str]) -> dict:
    """``["BM=64", "NAME=x"]`` -> ``{"BM": 64, "NAME": "x"}`` (Python literals where they parse)."""
    import ast

    out = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"bad -D '{item}'", hint="write -D NAME=VALUE")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = ast.literal_eval(v.strip())
        except (ValueError, SyntaxError):
            out[k.strip()] = v.strip()
    return out


def kernel_record(k) -> dict:
    """The JSON object for one kernel (keys fixed by the CLI contract)."""
    r = k.resources
    occ = k.occupancy()
    return {
        "name": k.name, "arch": k.arch, "registers": r.registers,
        "pressure_peak": getattr(k.pressure, "peak", None),
        "shared_bytes": r.shared_static, "spill_stores": r.spill_stores, "spill_loads": r.spill_loads,
        "stack_bytes": r.stack_bytes, "max_threads": r.max_threads, "occupancy": occ.to_dict(),
    }


def run(args) -> int:
    from ..ui.report import assemble_table

    defines = parse_defines(args.defines)
    records, modules = [], []
    for f in args.files:
        mod = assemble_file(f, args.arch, ptxas=args.ptxas, schedule=not args.no_schedule, **defines)
        modules.append(mod)
        records.extend(kernel_record(k) for k in mod)
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            stem = Path(f).stem
            (out / f"{stem}.ptx").write_text(mod.ptx)
            (out / f"{stem}.cubin").write_bytes(mod.cubin)
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        from ..ui.report import console

        con = console()
        for mod in modules:
            con.print(assemble_table(mod))
            for w in mod.warnings:
                con.print(f"[yellow]{w}[/yellow]", highlight=False)
                if w.span is not None and w.span.caret():
                    con.print(w.span.caret(), highlight=False, markup=False)
            for k in mod:
                if k.pressure is not None:
                    con.print(f"[dim]{k.name}: pressure {k.pressure.describe()}[/dim]", highlight=False)
                if k.schedule is not None:
                    for line in dict.fromkeys(k.schedule.lines()):  # unrolled regions repeat
                        con.print(f"[dim]{k.name}: {line}[/dim]", highlight=False)
                for msg in k.warnings:
                    con.print(f"[yellow]{k.name}: warning: {msg}[/yellow]", highlight=False)
        if args.out:
            con.print(f"[dim]wrote .ptx and .cubin files to {args.out}[/dim]")
    return 0
