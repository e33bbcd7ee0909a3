"""Tables of benchmark results: rich for the terminal, markdown for docs/BENCHMARKS.md (pure rows)."""

from __future__ import annotations

from rich.table import Table

COLUMNS = ("kernel", "size", "median µs", "p20–p80 µs", "min µs", "TFLOP/s", "GB/s",
           "FLOP/s of peak (meas / sheet)", "bytes/s of peak (meas / sheet)", "vs peer")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def rows(results: list[dict]) -> list[list[str]]:
    """Table rows from ``BenchResult.to_dict()`` records: one per kernel run, one per peer run (pure)."""
    out = []
    for r in results:
        size = ",".join(f"{k}={v}" for k, v in r["size"].items())
        entries = [(r["kernel"], r["time_ms"], r.get("figures"), r.get("ratio_vs_peer"))]
        if r.get("peer"):
            entries.append((r["peer"]["name"], r["peer"]["time_ms"], r["peer"].get("figures"), None))
        for name, t, f, ratio in entries:
            f = f or {}
            out.append([
                name, size, f"{t['median'] * 1e3:.1f}", f"{t['p20'] * 1e3:.1f}–{t['p80'] * 1e3:.1f}",
                f"{t['min'] * 1e3:.1f}",
                f"{f['flop_rate'] / 1e12:.2f}" if f and r["flops"] else "-",
                f"{f['byte_rate'] / 1e9:.0f}" if f and r["bytes"] else "-",
                f"{_pct(f.get('flops_vs_measured'))} / {_pct(f.get('flops_vs_datasheet'))}" if f and r["flops"]
                else "-",
                f"{_pct(f.get('bytes_vs_measured'))} / {_pct(f.get('bytes_vs_datasheet'))}" if f and r["bytes"]
                else "-",
                "peer failed" if ratio is None and name == r["kernel"] and r.get("peer_error")
                else "-" if ratio is None else f"{ratio:.2f}x",
            ])
    return out


def markdown_table(results: list[dict]) -> str:
    """The same rows as a markdown table (docs/BENCHMARKS.md)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---|" + "---:|" * (len(COLUMNS) - 2)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results)]
    return "\n".join(lines)


def bench_table(results):
    dev = results[0].device if results else ""
    t = Table(title=f"bench on {dev}", title_justify="left",
              caption="times in µs; efficiency against the measured / the datasheet peak; "
                      "vs peer = peer time / our time (above 1: faster than the peer)",
              caption_justify="left")
    for c in COLUMNS:
        t.add_column(c, justify="left" if c in ("kernel", "size") else "right")
    for row in rows([r.to_dict() for r in results]):
        t.add_row(*row)
    return t
