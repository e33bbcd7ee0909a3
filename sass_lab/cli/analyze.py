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
                   help="a shipped network (vgg16, convnext_block, convfirst, mbconv) or a JSON description")
    p.add_argument("--results", action="store_true", help="analyze the best stored results instead")
    p.add_argument("--db", help="results database (default: see docs/LAB.md)")
    p.add_argument("--batch", type=integer(1), default=1)
    p.add_argument("--peak-tflops", type=real(), default=None,
                   help="compute peak in TFLOP/s (default: H200 FP32 datasheet, 67; blocks: the device's "
                        "dense FP16 tensor peak)")
    p.add_argument("--bandwidth-tbs", type=real(), default=None,
                   help="memory bandwidth in TB/s (default: H200 HBM3e datasheet, 4.8; blocks: the device's)")
    p.add_argument("--arch", default="sm_90", choices=["sm_80", "sm_90"], help="blocks: the fused kernel's target")
    p.add_argument("--device", help="blocks: datasheet device (H100-SXM, H200, A100-SXM; default by --arch)")
    p.add_argument("--channels", type=integer(8), help="blocks: C instead of the network's")
    p.add_argument("--hw", type=integer(1), help="blocks: H = W instead of the network's")
    p.add_argument("--tile", metavar="TH,TW,NW,CH", help="blocks: the fused kernel's tile (default: its own)")
    p.add_argument("--tiles", action="store_true", help="blocks: rank every tile of the kernel's tuning space")
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


def _range(layers, first: str, last: str, what: str) -> tuple[int, int]:
    """``first``..``last`` (names or 0-based indices) as indices, in order and inside the network."""
    a, b = _index(layers, str(first)), _index(layers, str(last))
    if not 0 <= a <= b < len(layers):
        raise UsageError(f"{what}: layers {first}..{last} are not a range of the network's {len(layers)} layers",
                         hint=f"give FIRST:LAST in order, indices 0..{len(layers) - 1} or names: "
                              + ", ".join(ly.name for ly in layers))
    return a, b


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


def _block_plan(block: dict, args):
    from ..studies.planner import Tile, kernel_plan, valid_tile

    tile = None
    if args.tile:
        try:
            values = [int(v) for v in args.tile.split(",")]
        except ValueError:
            values = []
        if len(values) != 4 or min(values) < 1:
            raise UsageError(f"bad --tile '{args.tile}'",
                             hint="write four positive numbers: --tile TH,TW,NW,CH, e.g. 8,16,4,32")
        tile = Tile(*values)
        why = valid_tile(block["kind"], block["c"], block.get("exp", 4), tile, args.arch)
        if why:
            raise UsageError(f"--tile {args.tile}: the {block['kind']} kernel cannot take it ({why})",
                             hint="--tiles lists the tiles it can take, ranked")
    return kernel_plan(block["kind"], args.batch, block["h"], block["w"], block["c"], args.arch, args.device,
                       tile, block.get("exp", 4))


def run(args) -> int:

    from ..studies.analyze import fuse, load_network, network_spec, traffic_layer, waterline, with_times
    from ..ui.analysis import gap_plot, plan_table, save_fusion_png, save_png, tiles_table, waterline_table
    from ..ui.report import console

    inputs = [f for f in (args.times, args.network, args.db) if f and Path(f).is_file()]
    if args.png:
        check_output(args.png, inputs, "--png", ".png")  # before any work: no half-done run for a bad path
    plan, fused_layers, spec = None, None, {}
    if args.results:
        layers, title = layers_from_results(args.db), "stored results"
        if not layers:
            raise UsageError("no benchmark results are stored yet",
                             hint="run `sass_lab bench FILE` or `sass_lab tune FILE` on a GPU first")
    elif args.network:
        spec = network_spec(args.network)
        if "block" in spec:
            spec["block"] = {**spec["block"], **({"c": args.channels} if args.channels else {}),
                             **({"h": args.hw, "w": args.hw} if args.hw else {})}
        layers = load_network(args.network, args.batch, spec)
        title = f"{args.network} (batch {args.batch})"
        if "block" in spec:
            b = spec["block"]
            title = f"{b['kind']} block N={args.batch} {b['h']}×{b['w']} C={b['c']}"
    else:
        raise UsageError("give a network (vgg16, convnext_block, convfirst, mbconv, or a .json) or --results")
    if args.times:
        text = read_text(args.times)
        try:
            times = {k: float(v) / 1e3 for k, v in json.loads(text).items()}
        except (ValueError, TypeError, AttributeError) as e:
            raise UsageError(f"--times {args.times} is not a JSON object of milliseconds: {e}",
                             hint='write {"layer name": 1.25, ...}') from None
        layers = with_times(layers, times)
    peak_tf, bw_tb = 67.0, 4.8
    if "block" in spec:
        plan = _block_plan(spec["block"], args)
        peak_tf, bw_tb = plan.peak_flops / 1e12, plan.bandwidth / 1e12
        fused_layers = [traffic_layer(plan.fused, "fused")]
    elif "fusion" in spec:
        rng = spec["fusion"]
        fused_layers = fuse(layers, *_range(layers, rng["first"], rng["last"], f"the fusion of {args.network}"),
                            name="fused (what-if, no kernel)")
    peak_tf = args.peak_tflops if args.peak_tflops is not None else peak_tf
    bw_tb = args.bandwidth_tbs if args.bandwidth_tbs is not None else bw_tb
    if args.times and fused_layers:
        fused_layers = with_times(fused_layers, times)
    peak, bw = peak_tf * 1e12, bw_tb * 1e12
    base = waterline(layers, peak, bw)
    fused_w = waterline(fused_layers, peak, bw) if fused_layers else None
    whatifs = []
    for fs in args.fuse:
        if ":" not in fs:
            raise UsageError(f"bad --fuse '{fs}'", hint="write --fuse FIRST:LAST")
        a, b = _range(layers, *fs.split(":", 1), f"--fuse {fs}")
        if plan is not None and (a, b) == (0, len(layers) - 1):  # the block's range: the real kernel's row
            whatifs.append((fs, waterline(fused_layers, peak, bw)))
        else:
            whatifs.append((fs, waterline(fuse(layers, a, b), peak, bw)))
    if args.json:
        def dump(w):
            return {"waterline_s": w.waterline_s, "ideal_s": w.ideal_s, "actual_s": w.actual_s,
                    "memory_share": w.memory_share,
                    "layers": [{"name": f.layer.name, "flops": f.layer.flops, "bytes": f.layer.bytes,
                                "compute_s": f.compute_s, "memory_s": f.memory_s, "floor_s": f.floor_s,
                                "bound": f.bound, "time_s": f.layer.time_s} for f in w.floors]}
        out = {"title": title, "peak_flops": peak, "bandwidth": bw, "base": dump(base),
               "fusions": {s: dump(w) for s, w in whatifs}}
        if fused_w is not None:
            out["fused"] = dump(fused_w)
        if plan is not None:
            out["plan"] = plan.to_dict()
        print(json.dumps(out, indent=2, default=str))
        return 0
    con = console()
    con.print(f"[bold]{title}[/bold]  peak {peak_tf:g} TFLOP/s, bandwidth {bw_tb:g} TB/s "
              f"({'given' if args.peak_tflops or args.bandwidth_tbs else 'datasheet'})")
    con.print(waterline_table(base, title="waterline (unfused layers)" if fused_w else "waterline"))
    if fused_w is not None:
        label = "the fused kernel (planner: its tile and traffic)" if plan else "fused (what-if, no kernel)"
        con.print(waterline_table(fused_w, title=f"waterline: {label}"))
        con.print(f"waterline {base.waterline_s * 1e6:.1f} µs unfused -> {fused_w.waterline_s * 1e6:.1f} µs fused "
                  f"({base.waterline_s / fused_w.waterline_s:.2f}x lower)")
    if plan is not None:
        con.print(plan_table(plan))
        if args.tiles:
            from ..studies.planner import rank_tiles

            b = spec["block"]
            con.print(tiles_table(rank_tiles(b["kind"], args.batch, b["h"], b["w"], b["c"], args.arch, args.device,
                                             b.get("exp", 4))))
    con.print(gap_plot(layers + (fused_layers or []), peak))
    if base.actual_s is None:
        con.print("[dim]no measured latencies: pass --times or use --results to place actual times[/dim]")
    for fs, w in whatifs:
        con.print(waterline_table(w, title=f"what-if: fuse {fs}"))
        con.print(f"waterline {base.waterline_s * 1e3:.4f} ms -> {w.waterline_s * 1e3:.4f} ms "
                  f"({base.waterline_s / w.waterline_s:.2f}x lower)")
    if args.png:
        with replacing(args.png, inputs, "--png", ".png") as f:
            if fused_w is not None:
                save_fusion_png(base, fused_w, f, title)
            else:
                save_png(base, layers, f, title)
        con.print(f"wrote {args.png}")
    return 0
