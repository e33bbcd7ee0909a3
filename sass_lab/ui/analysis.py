"""Terminal (rich) and PNG (matplotlib, optional ``[plot]`` extra) renderings of the analysis tools."""

from __future__ import annotations

import math

from rich.table import Table
from rich.text import Text

from ..studies.analyze import Layer, Waterline, efficiency_gap
from ..studies.planner import Plan


def _us(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e6:.1f}"


def waterline_table(w: Waterline, title: str = "waterline") -> Table:
    t = Table(title=title, title_justify="left")
    for c in ("layer", "GFLOP", "MB", "compute µs", "memory µs", "floor µs", "bound", "actual µs",
              "above µs", "eff"):
        t.add_column(c, justify="left" if c in ("layer", "bound") else "right",
                     no_wrap=c in ("layer", "bound"))
    for f in w.floors:
        ly = f.layer
        eff = f.efficiency
        t.add_row(ly.name, f"{ly.flops / 1e9:.3f}", f"{ly.bytes / 1e6:.2f}", _us(f.compute_s),
                  _us(f.memory_s), _us(f.floor_s),
                  "[yellow]mem[/yellow]" if f.bound == "memory" else "flop",
                  _us(ly.time_s), _us(f.above_s), "-" if eff is None else f"{eff * 100:.1f} %")
    actual = w.actual_s
    t.add_section()
    t.add_row("total", f"{sum(f.layer.flops for f in w.floors) / 1e9:.3f}",
              f"{sum(f.layer.bytes for f in w.floors) / 1e6:.2f}", _us(w.ideal_s), "", _us(w.waterline_s),
              f"{w.memory_share * 100:.0f}% mem", _us(actual),
              _us(None if actual is None else actual - w.waterline_s),
              "-" if not actual else f"{w.ideal_s / actual * 100:.1f} %")
    return t


def gap_plot(layers: list[Layer], peak_flops: float, width: int = 64, height: int = 18) -> Text:
    """ASCII efficiency gap plot: log latency (x) against log FLOPs (y).

    ``o`` marks the ideal latency (FLOPs/peak), ``x`` the actual one; diagonals ``.`` are lines of
    constant efficiency 100 %, 10 %, 1 % (a line of slope one in log-log).
    """
    pts = []
    for ly, ideal, _gap in efficiency_gap(layers, peak_flops):
        if ly.flops <= 0:
            continue
        pts.append((ideal, ly.flops, "o"))
        if ly.time_s:
            pts.append((ly.time_s, ly.flops, "x"))
    if not pts:
        return Text("(nothing to plot: no layer has FLOPs)")
    return loglog(pts, peak_flops, "o ideal (FLOPs/peak)   x actual", width, height)


def loglog(pts: list[tuple[float, float, str]], peak_flops: float, legend: str, width: int = 64,
           height: int = 18, efficiencies: tuple[float, ...] = (1.0, 0.1, 0.01)) -> Text:
    """Points (latency s, FLOPs, marker) on log-log axes over lines ``.`` of constant efficiency."""
    xs = [math.log10(p[0]) for p in pts]
    ys = [math.log10(p[1]) for p in pts]
    x0, x1 = min(xs) - 0.2, max(xs) + 1.2
    y0, y1 = min(ys) - 0.2, max(ys) + 0.2
    grid = [[" "] * width for _ in range(height)]

    def put(x, y, ch):
        cx = int((x - x0) / (x1 - x0) * (width - 1))
        cy = height - 1 - int((y - y0) / (y1 - y0) * (height - 1))
        if 0 <= cx < width and 0 <= cy < height and (grid[cy][cx] == " " or ch != "."):
            grid[cy][cx] = ch

    for e in efficiencies:
        for i in range(width * 2):
            y = y0 + (y1 - y0) * i / (width * 2 - 1)
            put(y - math.log10(peak_flops * e), y, ".")
    for x, y, ch in zip(xs, ys, (p[2] for p in pts)):
        put(x, y, ch)
    lines = ["".join(r) for r in grid]
    lines.append(f"latency 1e{x0:.1f} .. 1e{x1:.1f} s (log)   FLOPs 1e{y0:.1f} .. 1e{y1:.1f} (log)")
    shown = " / ".join(f"{e * 100:g} %" for e in efficiencies)
    lines.append(f"{legend}   . constant efficiency {shown}")
    return Text("\n".join(lines))


def kernel_gap(gap, width: int = 64, height: int = 16):
    """One kernel's efficiency gap (``lab.report.Gap``): the plot over its BENCH_SIZES and a table."""
    from rich.console import Group

    from . import format as fmt

    head = Text(f"{gap.kernel} against {gap.device}: {fmt.flops(gap.peak_flops)} FP32, "
                f"{gap.bandwidth / 1e12:.2f} TB/s", style="bold")
    pts = [p for p in gap.points if p.flops > 0]
    if not pts:
        return Group(head, Text(gap.why_empty or "no problem size to plot"))
    marks = []
    for p in pts:
        marks += [(p.ideal_s, p.flops, "o"), (p.static_s, p.flops, "s")]
        marks += [(p.peer_s, p.flops, "p")] if p.peer_s else []
        marks += [(p.measured_s, p.flops, "x")] if p.measured_s else []  # drawn last: on top
    plot = loglog(marks, gap.peak_flops, "o ideal  s static ceiling  x measured  p peer", width, height,
                  (1.0, 0.5, 0.25, 0.1))
    floors = any(p.floor_s > p.ideal_s * 1.01 for p in pts)  # memory sets a floor above the ideal
    t = Table(title_justify="left", box=None, padding=(0, 1))
    for c in ("size", "GFLOP", "ideal", *(("floor",) if floors else ()), "static ceiling", "measured",
              "efficiency", "peer"):
        t.add_column(c, justify="left" if c == "size" else "right")
    for p in pts:
        t.add_row(fmt.size_dict(p.size), f"{p.flops / 1e9:.2f}", fmt.seconds(p.ideal_s),
                  *((fmt.seconds(p.floor_s),) if floors else ()), fmt.seconds(p.static_s),
                  fmt.seconds(p.measured_s), fmt.percent(p.efficiency), fmt.seconds(p.peer_s))
    note = [] if any(p.measured_s for p in pts) else [Text(
        "no measured runs stored yet: `sass_lab bench FILE --all-sizes` on a GPU stores them", style="dim")]
    return Group(head, plot, t, *note)


def save_png(w: Waterline, layers: list[Layer], path: str, title: str = "") -> None:
    """Efficiency gap plot and waterline bars as one PNG (needs matplotlib: pip install .[plot])."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from ..errors import UsageError

        raise UsageError("--png needs matplotlib", hint="pip install -e '.[plot]'") from None
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 5))
    flops = [ly.flops for ly in layers if ly.flops > 0]
    lo, hi = min(flops) / 2, max(flops) * 2
    for e in (1.0, 0.5, 0.1):
        a.plot([lo / (e * w.peak_flops), hi / (e * w.peak_flops)], [lo, hi], ":", lw=0.8,
               label=f"E = {e:.0%}")
    for ly in layers:
        if ly.flops <= 0:
            continue
        ideal = ly.flops / w.peak_flops
        a.scatter([ideal], [ly.flops], marker="o", facecolors="none", edgecolors="k")
        if ly.time_s:
            a.scatter([ly.time_s], [ly.flops], marker="x", c="r")
            a.plot([ideal, ly.time_s], [ly.flops, ly.flops], "r-", lw=0.5)
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("latency (s)")
    a.set_ylabel("FLOPs")
    a.set_title("efficiency gap")
    a.legend(fontsize=7)
    names = [f.layer.name for f in w.floors]
    b.bar(names, [f.compute_s * 1e3 for f in w.floors], label="compute floor")
    b.bar(names, [max(0.0, f.memory_s - f.compute_s) * 1e3 for f in w.floors],
          bottom=[f.compute_s * 1e3 for f in w.floors], label="memory above compute")
    timed = [(f.layer.name, f.layer.time_s * 1e3) for f in w.floors if f.layer.time_s]
    if timed:
        b.scatter([n for n, _ in timed], [t for _, t in timed], c="r", marker="_", s=200, label="actual")
    b.set_ylabel("ms")
    b.set_title(f"waterline {w.waterline_s * 1e3:.3f} ms")
    b.tick_params(axis="x", rotation=90, labelsize=6)
    b.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")  # a path or a binary file
    plt.close(fig)


def plan_table(p: Plan) -> Table:
    """The planner's view of one fused kernel: on-chip working set, fit, traffic and waterline."""
    t = Table(title=f"planner: {p.kind}_block at N={p.size['N']} {p.size['H']}×{p.size['W']} C={p.c}, tile "
                    f"{p.tile.th}×{p.tile.tw}, {p.tile.nw} warps, chunk {p.tile.ch}, {p.arch} ({p.device})",
              title_justify="left")
    t.add_column("", no_wrap=True)
    t.add_column("value", justify="right")
    t.add_column("limit / note")
    mib = 2.0 ** 20
    t.add_row("registers per thread", str(p.registers),
              f"255 ({p.registers_source}); live working set ≈ {p.live_registers}")
    t.add_row("shared memory per block", f"{p.shared_bytes / 1024:.1f} KiB",
              "x halo tile, intermediates, 2 chunk buffers")
    t.add_row("blocks / warps per SM", f"{p.blocks_per_sm} / {p.warps_per_sm}",
              "limited by " + (", ".join(p.occupancy_limiters) or "-"))
    t.add_row("L2 working set", f"{p.l2_working_set / mib:.2f} MiB",
              f"{p.l2_bytes_device / mib:.0f} MiB L2: filters + x rows in flight")
    t.add_row("fits", "[green]yes[/green]" if p.fits else "[red]no[/red]", "; ".join(p.why_not) or "-")
    t.add_section()
    unf = sum(x.dram_bytes for x in p.unfused)
    t.add_row("DRAM bytes fused", f"{p.fused.dram_bytes / 1e6:.2f} MB", "x + y + filters")
    t.add_row("DRAM bytes unfused", f"{unf / 1e6:.2f} MB", f"{p.dram_ratio:.2f}× the fused kernel's")
    t.add_row("L2 requests fused", f"{p.fused.l2_bytes / 1e6:.2f} MB", "halo tiles + filters per block")
    t.add_row("FLOPs executed / useful", f"{p.fused.flops / 1e9:.3f} / {p.fused.useful_flops / 1e9:.3f} G",
              "tile padding" + (" and E on the halo" if p.kind == "mbconv" else ""))
    t.add_section()
    t.add_row("waterline fused", f"{p.waterline_fused_s * 1e6:.1f} µs",
              f"max(FLOPs / {p.peak_flops / 1e12:.0f} TFLOP/s, bytes / {p.bandwidth / 1e12:.2f} TB/s)")
    t.add_row("waterline unfused", f"{p.waterline_unfused_s * 1e6:.1f} µs",
              f"{p.waterline_unfused_s / p.waterline_fused_s:.2f}× the fused kernel's")
    return t


def save_fusion_png(unfused: Waterline, fused: Waterline, path: str, title: str = "") -> None:
    """Efficiency gap of the unfused layers and the fused kernel (ideal o, floor ▲, measured x) and
    their waterlines side by side, as one PNG (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from ..errors import UsageError

        raise UsageError("--png needs matplotlib", hint="pip install -e '.[plot]'") from None
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 5))
    pts = [(f, "tab:blue") for f in unfused.floors] + [(f, "tab:red") for f in fused.floors]
    flops = [f.layer.flops for f, _ in pts if f.layer.flops > 0]
    lo, hi = min(flops) / 3, max(flops) * 3
    peak = unfused.peak_flops
    for e in (1.0, 0.5, 0.1):
        a.plot([lo / (e * peak), hi / (e * peak)], [lo, hi], ":", lw=0.8, c="grey")
        a.annotate(f"E = {e:.0%}", (hi / (e * peak), hi), fontsize=7, ha="right", va="top")
    for i, (f, col) in enumerate(pts):
        ly = f.layer
        if ly.flops <= 0:
            continue
        a.scatter([f.compute_s], [ly.flops], marker="o", facecolors="none", edgecolors=col)
        a.scatter([f.floor_s], [ly.flops], marker="^", c=col)
        a.plot([f.compute_s, f.floor_s], [ly.flops, ly.flops], "-", lw=0.6, c=col)
        a.annotate(ly.name, (f.floor_s, ly.flops), fontsize=6, xytext=(4, 2 + 8 * (i % 2)),
                   textcoords="offset points")
        if ly.time_s:
            a.scatter([ly.time_s], [ly.flops], marker="x", c=col)
    a.scatter([], [], marker="o", facecolors="none", edgecolors="k", label="ideal (FLOPs / peak)")
    a.scatter([], [], marker="^", c="k", label="floor (waterline share)")
    a.scatter([], [], marker="s", c="tab:blue", label="unfused layers")
    a.scatter([], [], marker="s", c="tab:red", label="fused kernel")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("latency (s)")
    a.set_ylabel("FLOPs")
    a.set_title("efficiency gap: fused vs unfused")
    a.legend(fontsize=7, loc="lower right")
    names = ["unfused", "fused"]
    comp = [unfused.ideal_s * 1e6, fused.ideal_s * 1e6]
    mem = [max(0.0, unfused.waterline_s - unfused.ideal_s) * 1e6, max(0.0, fused.waterline_s - fused.ideal_s) * 1e6]
    b.bar(names, comp, label="compute (FLOPs / peak)", color="tab:green")
    b.bar(names, mem, bottom=comp, label="memory-bound excess", color="tab:orange")
    for i, w in enumerate((unfused, fused)):
        b.annotate(f"{w.waterline_s * 1e6:.1f} µs", (i, w.waterline_s * 1e6), ha="center", va="bottom", fontsize=8)
        if w.actual_s:
            b.scatter([i], [w.actual_s * 1e6], c="r", marker="_", s=300)
    b.set_ylabel("µs")
    b.set_title(f"waterline: {unfused.waterline_s / fused.waterline_s:.2f}× lower fused")
    b.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)



def tiles_table(plans: list[Plan], top: int = 12) -> Table:
    """The planner's ranking of the fused kernel's tiles (estimated registers)."""
    t = Table(title="planner: tiles that fit, by predicted floor (registers estimated)", title_justify="left")
    for col in ("TH×TW", "warps", "CH", "regs", "smem KiB", "blocks/SM", "warps/SM", "FLOPs exec/useful",
                "floor µs"):
        t.add_column(col, justify="right")
    for p in plans[:top]:
        t.add_row(f"{p.tile.th}×{p.tile.tw}", str(p.tile.nw), str(p.tile.ch), str(p.registers),
                  f"{p.shared_bytes / 1024:.1f}", str(p.blocks_per_sm), str(p.warps_per_sm),
                  f"{p.fused.flops / p.fused.useful_flops:.2f}", f"{p.waterline_fused_s * 1e6:.1f}")
    return t
