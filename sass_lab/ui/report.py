"""rich tables for command reports (no domain logic here: inputs are API objects)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from . import format as fmt


def assemble_table(mod) -> Table:
    """One row per kernel: registers, pressure, shared, spills, stack, threads, occupancy, limiter."""
    t = Table(title=escape(f"{mod.file}  [{mod.arch}, built by {mod.compiler}]"), title_justify="left")
    for col in ("kernel", "regs", "pressure", "shared B", "spills st/ld", "stack B", "threads",
                "blocks/SM", "occupancy", "limiter"):
        t.add_column(col, justify="left" if col in ("kernel", "limiter") else "right")
    for k in mod:
        r, occ = k.resources, k.occupancy()
        peak = getattr(k.pressure, "peak", None)
        spills = f"{r.spill_stores}/{r.spill_loads}"
        t.add_row(k.name, str(r.registers), "-" if peak is None else str(peak), str(r.shared_static),
                  f"[red]{spills}[/red]" if r.spill_stores or r.spill_loads else spills,
                  str(r.stack_bytes), str(occ.block), str(occ.blocks_per_sm), f"{occ.percent:.0f} %",
                  ", ".join(occ.limiters))
    return t


def summary_table(rows, arch: str) -> Table:
    """The `sass_lab report` table (rows are lab.report.KernelSummary)."""
    built = ", ".join(sorted({r.compiler for r in rows if r.compiler})) or "-"
    t = Table(title=escape(f"sass_lab report [{arch}, built by {built}]") + "  (static efficiency: math share of the main loop when compute-"
                    "bound, maxas SGEMM 98.8 %; global bytes per instruction when memory-bound)",
              title_justify="left")
    for c in ("kernel", "regs", "shared", "spills", "block", "occupancy", "limiter", "static eff",
              "best", "TFLOP/s", "measured", "vs peer"):
        t.add_column(c, justify="left" if c in ("kernel", "limiter") else "right")
    for r in rows:
        if r.error:
            t.add_row(r.kernel, f"[red]{r.error}[/red]", *[""] * 10)
            continue
        se = fmt.static_eff(r)
        t.add_row(r.kernel, str(r.registers), fmt.size_bytes(r.shared_bytes), str(r.spills), str(r.block),
                  f"{r.occupancy:.0f} %", fmt.limiter(r),
                  se if se == fmt.DASH else f"{se} ({r.static_eff_source})", fmt.seconds(r.best_median_s),
                  fmt.DASH if r.best_flop_s is None else f"{r.best_flop_s / 1e12:.2f}", fmt.measured(r),
                  fmt.ratio(r.peer_ratio))
    return t


def console(stderr: bool = False):
    """A rich Console; when output is not a terminal, wide enough that tables are not truncated."""
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)
