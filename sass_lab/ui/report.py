"""rich tables for command reports (no domain logic here: inputs are API objects)."""

from __future__ import annotations

from rich.table import Table


def assemble_table(mod) -> Table:
    """One row per kernel: registers, pressure, shared, spills, stack, threads, occupancy, limiter."""
    t = Table(title=f"{mod.file}  [{mod.arch}]", title_justify="left")
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
    t = Table(title=f"sass_lab report [{arch}]  (static efficiency anchor: maxas SGEMM 98.8 % FFMA)",
              title_justify="left")
    for c in ("kernel", "regs", "shared B", "spills", "block", "occupancy", "limiter", "static eff",
              "best µs", "TFLOP/s", "eff", "vs peer"):
        t.add_column(c, justify="left" if c in ("kernel", "limiter") else "right")

    def f(x, fmt):
        return "-" if x is None else fmt.format(x)

    for r in rows:
        if r.error:
            t.add_row(r.kernel, f"[red]{r.error}[/red]", *[""] * 10)
            continue
        se = "-" if r.static_eff is None else f"{r.static_eff * 100:.1f} % ({r.static_eff_source})"
        t.add_row(r.kernel, f(r.registers, "{}"), f(r.shared_bytes, "{}"), f(r.spills, "{}"),
                  f(r.block, "{}"), f(r.occupancy, "{:.0f} %"), ", ".join(r.limiters), se,
                  f(r.best_median_s and r.best_median_s * 1e6, "{:.1f}"),
                  f(r.best_flop_s and r.best_flop_s / 1e12, "{:.2f}"),
                  f(r.best_efficiency and r.best_efficiency * 100, "{:.1f} %"),
                  f(r.peer_ratio, "{:.2f}x"))
    return t


def console(stderr: bool = False):
    """A rich Console; when output is not a terminal, wide enough that tables are not truncated."""
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)
