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
