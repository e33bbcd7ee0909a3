"""``sass_lab assemble FILE... [-D K=V]... [--arch ARCH] [-o DIR] [--json]``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..api import ARCHS, DEFAULT_ARCH, assemble_file
from ..errors import UsageError
from ..files import check_output, output_folder, write_output
from ..toolchain.options import CompileOptions


def register(sub) -> None:
    p = sub.add_parser("assemble", help="assemble .sasm/.ptx files to PTX + cubin and report resources")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="K=V",
                   help="override a .define (repeatable)")
    p.add_argument("--arch", default=DEFAULT_ARCH, choices=ARCHS)
    p.add_argument("-o", "--out", metavar="DIR",
                   help="write <name>.ptx and <name>.cubin here (inputs that share a name from different "
                        "folders go to subfolders; an input is never overwritten)")
    p.add_argument("--no-schedule", action="store_true", help="leave .schedule regions in source order")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of tables")
    g = p.add_argument_group("editable SASS listings (.sass, from `sass FILE --edit`); -o is then the cubin")
    g.add_argument("--auto-control", action="store_true",
                   help="compute stall/yield/barriers/waits from the scoreboard model")
    g.add_argument("--no-check", action="store_true", help="report hazards as warnings instead of errors")
    g.add_argument("--banks", default="volta", metavar="MODEL", help="bank model for the report: volta, maxwell")
    p.set_defaults(func=run)


def parse_defines(items: list[str]) -> dict:
    """``["BM=64", "NAME=x"]`` -> ``{"BM": 64, "NAME": "x"}`` (Python literals where they parse)."""
    import ast

    out = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"bad -D '{item}'", hint="write -D NAME=VALUE")
        k, v = item.split("=", 1)
        if not k.strip().isidentifier():
            raise UsageError(f"bad -D '{item}': '{k.strip()}' is not a name", hint="write -D NAME=VALUE")
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
        "name": k.name, "arch": k.arch, "compiler": k.module.compiler, "registers": r.registers,
        "pressure_peak": getattr(k.pressure, "peak", None),
        "shared_bytes": r.shared_static, "spill_stores": r.spill_stores, "spill_loads": r.spill_loads,
        "stack_bytes": r.stack_bytes, "max_threads": r.max_threads, "occupancy": occ.to_dict(),
    }


def output_names(files: list[str]) -> dict[str, Path]:
    """Each input's output name (without suffix) inside the -o folder: its stem, or, when inputs in
    different folders share a stem, its path below their common folder (``a/k.sasm`` → ``a/k``).
    Two inputs that would still write the same files are refused."""
    by_stem: dict[str, list[str]] = {}
    for f in files:
        by_stem.setdefault(Path(f).stem, []).append(f)
    out: dict[str, Path] = {}
    for stem, group in by_stem.items():
        if len(group) == 1:
            out[group[0]] = Path(stem)
            continue
        full = [Path(os.path.abspath(f)) for f in group]
        common = Path(os.path.commonpath([str(p.parent) for p in full]))
        for f, p in zip(group, full):
            out[f] = p.parent.relative_to(common) / stem
    seen: dict[Path, str] = {}
    for f, name in out.items():
        if name in seen:
            raise UsageError(f"{seen[name]} and {f} would both write {name}.ptx and {name}.cubin",
                             hint="assemble them in separate runs with different -o folders")
        seen[name] = f
    return out


def _outputs(base: Path) -> tuple[Path, Path]:
    return base.with_name(base.name + ".ptx"), base.with_name(base.name + ".cubin")


def run(args) -> int:
    from ..ui.report import assemble_table

    listings = [f for f in args.files if f.endswith(".sass")]
    if listings:
        if len(args.files) != 1:
            raise UsageError("assemble one .sass listing at a time", hint="sass_lab assemble K.sass -o K.cubin")
        from .sassasm import run as run_listing

        return run_listing(args, listings[0])
    if args.auto_control or args.no_check:
        raise UsageError("--auto-control and --no-check apply to .sass listings",
                         hint="write one with `sass_lab sass FILE --edit -o K.sass`")
    defines = parse_defines(args.defines)
    files: list[str] = []
    for f in args.files:  # each file once, as first named
        if all(os.path.realpath(f) != os.path.realpath(g) for g in files):
            files.append(f)
    targets: dict[str, Path] = {}
    if args.out:  # refuse a bad output before any work; write only after all of it succeeded
        folder = output_folder(args.out, create=False)
        for f, name in output_names(files).items():
            targets[f] = folder / name
            for path in _outputs(targets[f]):
                if path.parent.is_dir():
                    check_output(path, files)
    options = CompileOptions(compiler=args.compiler, timeout=args.compile_timeout, schedule=not args.no_schedule)
    records, modules = [], []
    for f in files:
        mod = assemble_file(f, args.arch, defines=defines, options=options)
        modules.append(mod)
        records.extend(kernel_record(k) for k in mod)
    inputs = [*files, *(src for m in modules for src in m.sources if Path(src).exists())]
    for f, mod in zip(files, modules):
        if f in targets:
            ptx, cubin = _outputs(targets[f])
            output_folder(ptx.parent)
            write_output(ptx, mod.ptx, inputs)
            write_output(cubin, mod.cubin, inputs)
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
            subs = sorted({str(t.parent) for t in targets.values()})
            con.print(f"[dim]wrote .ptx and .cubin files to {', '.join(subs)}[/dim]", highlight=False)
    return 0
