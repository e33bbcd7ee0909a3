"""rich table of a tuning sweep."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table


def tune_table(outcomes, file: str, compile_only: bool) -> Table:
    built = ", ".join(sorted({o.static.compiler for o in outcomes if o.static.compiler})) or "-"
    t = Table(title=escape(f"tune {file}  [built by {built}]" + ("  (static model, no GPU)" if compile_only else "")),
              title_justify="left")
    for c in ("#", "defines", "status", "regs", "shared B", "occ %", "limiter", "FFMA share",
              "score" if compile_only else "median µs", "note"):
        t.add_column(c, justify="left" if c in ("defines", "status", "limiter", "note") else "right")
    for i, o in enumerate(outcomes, 1):
        s = o.static
        d = " ".join(f"{k}={v}" for k, v in s.defines.items())
        colour = {"ok": "green", "pruned": "dim", "failed": "red", "verify_failed": "red"}.get(o.status, "")
        status = f"[{colour}]{o.status}[/{colour}]" if colour else o.status
        if compile_only:
            last = "-" if o.score is None else f"{o.score:.3f}"
        else:
            m = o.values.get("median_s")
            last = "-" if m is None else f"{m * 1e6:.1f}"
        share = "-" if s.ffma_share is None else f"{s.ffma_share * 100:.1f} %"
        t.add_row(str(i), d, status, str(s.registers or "-"), str(s.shared_bytes or "-"),
                  f"{s.occupancy:.0f}" if s.registers else "-", ", ".join(s.limiters), share, last,
                  (o.reason or "").splitlines()[0][:60] if o.reason else "")
    return t
