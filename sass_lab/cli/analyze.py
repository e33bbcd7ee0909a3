"""``sass_lab analyze [NETWORK] [--results] [--fuse A:B] ...``: efficiency gap and waterline."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UsageError
from ..files import check_output, read_text, replacing
from .types import integer, real


def register(sub) -> None:
    p = sub.add_parser("analyze", help="efficiency gap plot and waterline analysis (Lavin 2024)")
    p.add_argument("network", nargs="?", default=None,
                   help="a shipped network (vgg16, convnext_block) or a JSON description")
    p.add_argument("--results", action="store_true", help="analyze the best stored results instead")
    p.add_argument("--db", help="results database (default: see docs/LAB.md)")
    p.add_argument("--batch", type=integer(1), default=1)
    p.add_argument("--peak-tflops", type=real(), default=67.0,
                   help="compute peak in TFLOP/s (default: H200 FP32 datasheet, 67)")
    p.add_argument("--bandwidth-tbs", type=real(), default=4.8,
                   help="memory bandwidth in TB/s (default: H200 HBM3e datasheet, 4.8)")
    p.add_argument("--times", help="JSON {layer name: milliseconds} of measured latencies")
    p.add_argument("--fuse", action="append", default=[], metavar="A:B",
                   help="what-if: fuse layers A..B (names or 0-based indices, inclusive)")
    p.add_argument("--png", help="also write the plots to this PNG (needs the [plot] extra)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _index(layers, tok: str) -> int:
    if tok.lstrip("-").isdigit():
        return int(tok)
    for i, ly in enumerate(layers):
        if ly.name == tok:
            return i
    raise UsageError(f"no layer '{tok}' to fuse", hint="layers: " + ", ".join(ly.name for ly in layers))


def layers_from_results(db: str | None):
    from ..lab.store import Store
    from ..studies.analyze import Layer

    with Store(db, write=False) as st:
        rows = [r for r in st.best() if r.kind == "bench" and r.values.get("median_s")]
    layers = []
    for r in rows:
        t = r.values["median_s"]
        nbytes = (r.values.get("bytes_s") or 0) * t
        size = ",".join(f"{k}={v}" for k, v in r.size.items())
        layers.append(Layer(f"{r.kernel}[{size}]", r.values.get("flops") or 0.0, nbytes, 0.0, 0.0, t,
                            "kernel"))
    return layers


def run(args) -> int:

    from ..studies.analyze import fuse, load_network, waterline, with_times
    from ..ui.analysis import gap_plot, save_png, waterline_table
    from ..ui.report import console

    inputs = [f for f in (args.times, args.network, args.db) if f and Path(f).is_file()]
    if args.png:
        check_output(args.png, inputs, "--png")  # before any work: no half-done run for a bad path
    if args.results:
        layers, title = layers_from_results(args.db), "stored results"
        if not layers:
            raise UsageError("no benchmark results are stored yet",
                             hint="run `sass_lab bench FILE` or `sass_lab tune FILE` on a GPU first")
    elif args.network:
        layers, title = load_network(args.network, args.batch), f"{args.network} (batch {args.batch})"
    else:
        raise UsageError("give a network (vgg16, convnext_block, or a .json) or --results")
    if args.times:
        text = read_text(args.times)
        try:
            times = {k: float(v) / 1e3 for k, v in json.loads(text).items()}
        except (ValueError, TypeError, AttributeError) as e:
            raise UsageError(f"--times {args.times} is not a JSON object of milliseconds: {e}",
                             hint='write {"layer name": 1.25, ...}') from None
        layers = with_times(layers, times)
    peak, bw = args.peak_tflops * 1e12, args.bandwidth_tbs * 1e12
    base = waterline(layers, peak, bw)
    whatifs = []
    for spec in args.fuse:
        if ":" not in spec:
            raise UsageError(f"bad --fuse '{spec}'", hint="write --fuse FIRST:LAST")
        a, b = (_index(layers, t) for t in spec.split(":", 1))
        whatifs.append((spec, waterline(fuse(layers, a, b), peak, bw)))
    if args.json:
        def dump(w):
            return {"waterline_s": w.waterline_s, "ideal_s": w.ideal_s, "actual_s": w.actual_s,
                    "memory_share": w.memory_share,
                    "layers": [{"name": f.layer.name, "flops": f.layer.flops, "bytes": f.layer.bytes,
                                "compute_s": f.compute_s, "memory_s": f.memory_s, "floor_s": f.floor_s,
                                "bound": f.bound, "time_s": f.layer.time_s} for f in w.floors]}
        print(json.dumps({"title": title, "peak_flops": peak, "bandwidth": bw, "base": dump(base),
                          "fusions": {s: dump(w) for s, w in whatifs}}, indent=2))
        return 0
    con = console()
    con.print(f"[bold]{title}[/bold]  peak {args.peak_tflops:g} TFLOP/s, bandwidth "
              f"{args.bandwidth_tbs:g} TB/s (datasheet unless given)")
    con.print(waterline_table(base))
    con.print(gap_plot(layers, peak))
    if base.actual_s is None:
        con.print("[dim]no measured latencies: pass --times or use --results to place actual times[/dim]")
    for spec, w in whatifs:
        con.print(waterline_table(w, title=f"what-if: fuse {spec}"))
        con.print(f"waterline {base.waterline_s * 1e3:.4f} ms -> {w.waterline_s * 1e3:.4f} ms "
                  f"({base.waterline_s / w.waterline_s:.2f}x lower)")
    if args.png:
        with replacing(args.png, inputs, "--png") as f:
            save_png(base, layers, f, title)
        con.print(f"wrote {args.png}")
    return 0
