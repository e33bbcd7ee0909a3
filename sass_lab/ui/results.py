"""rich table of stored results."""

from __future__ import annotations

import datetime as dt

from rich.table import Table


def results_table(rows, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for c in ("kernel", "size", "defines", "kind", "status", "device", "median µs", "TFLOP/s", "eff",
              "score", "when"):
        t.add_column(c, justify="right" if c in ("median µs", "TFLOP/s", "eff", "score") else "left")
    for r in rows:
        v = r.values
        med, fs, eff, sc = v.get("median_s"), v.get("flop_s"), v.get("efficiency"), v.get("score")
        t.add_row(r.kernel, " ".join(f"{k}={x}" for k, x in r.size.items()),
                  " ".join(f"{k}={x}" for k, x in r.defines.items()), r.kind, r.status, r.device,
                  "-" if med is None else f"{med * 1e6:.1f}", "-" if fs is None else f"{fs / 1e12:.2f}",
                  "-" if eff is None else f"{eff * 100:.1f} %", "-" if sc is None else f"{sc:.3f}",
                  dt.datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M"))
    return t
