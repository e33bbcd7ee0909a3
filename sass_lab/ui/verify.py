"""rich table of one verification run: each output's error against its tolerance, then what the
emulator's checks found."""

from __future__ import annotations

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text


def verify_table(r):
    """One rich table per run: each output's error against its tolerance; the emulator's findings
    (and the kernel's printf output) below it."""
    size = ",".join(f"{k}={v}" for k, v in r.size.items())
    defs = " ".join(f"{k}={v}" for k, v in r.defines.items())
    status = "[green]PASS[/green]" if r.ok else "[red]FAIL[/red]"
    t = Table(title=f"{status} {escape(f'{r.kernel} [{r.device}] {size}  {defs}')}  seed={r.seed}", title_justify="left",
              caption=r.tol_why or None, caption_justify="left")
    for c in ("output", "shape", "max err", "tol", "NaN", "worst", "got", "want", ""):
        t.add_column(c, justify="left" if c in ("output", "worst", "") else "right")
    for c in r.checks:
        t.add_row(c.name, "x".join(map(str, c.shape)), f"{c.max_rel_err:.2e}", f"{c.tol:.2e}",
                  f"[red]{c.nonfinite}[/red]" if c.nonfinite else "0",
                  "-" if c.worst is None else str(list(c.worst)),
                  "-" if c.got is None else f"{c.got:.6g}", "-" if c.want is None else f"{c.want:.6g}",
                  "[green]ok[/green]" if c.ok else "[red]FAIL[/red]")
    if not r.findings and not r.output:
        return t
    found = [Text(f.render(), style="red") for f in r.findings]
    printed = [Text("printf output:\n" + r.output.rstrip("\n"), style="dim")] if r.output else []
    return Group(t, *found, *printed)
