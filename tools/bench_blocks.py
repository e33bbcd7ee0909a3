#!/usr/bin/env python3
"""Fused vs unfused vs PyTorch for the ConvFirst and MBConv blocks, on the GPU (tools/gpu_check.sh).

    python3 tools/bench_blocks.py --out out/                    # N = 1, 8, 32; C = 64, 128; 56², 28²
    python3 tools/bench_blocks.py --n 32 --c 64 --hw 56 --kinds convfirst

Per block and size, each timed by the lab harness (events, L2 flushed before every run, median):
- fused: kernels_asm/<block>_block.sasm (one launch);
- unfused DSL: grouped_conv3x3 + pointwise_bn ×2 enqueued back to back as one timed run, 16-bit
  intermediates through DRAM (as a network would run them);
- PyTorch unfused (channels_last 16-bit, cuDNN grouped conv, cuBLAS 1×1, BN folded) and torch.compile
  of it (skipped when it cannot build).
Correctness before timing: at N = 1 of each (C, H, W) the fused kernel is verified against the float64
block (the same build serves N = 8 and 32: C and the tile are its only compile-time inputs) and the
unfused chain's y is compared with the fused kernel's. Figures: median µs, TFLOP/s and share of the
dense FP16 peak, effective bandwidth (compulsory bytes / time), the planner's waterline, ratios.
Writes blocks.md and blocks.json into --out; the goal line is ConvFirst at N = 32, C = 64.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _chain(kind: str, size: dict, args: dict, dtype: str, timer, cfg):
    """(prepared launches of the unfused layers, the buffer holding their y, its host shape)."""
    from sass_lab import runtime as rt
    from sass_lab.api import assemble_file
    from sass_lab.lab.spec import load_spec
    from sass_lab.paths import KERNELS
    from sass_lab.studies.blocks import poisoned

    n, h, w, c = size["N"], size["H"], size["W"], size["C"]
    ce = args["we"].shape[0]
    bufs: dict[str, object] = {}

    def dev(name, arr):
        bufs[name] = rt.to_device(np.ascontiguousarray(arr))
        return bufs[name]

    x = dev("x", args["x"])
    preps = []

    def layer(file, defines, lsize, named):
        spec, d = load_spec(KERNELS / file, defines).for_size(lsize, defines)
        k = assemble_file(KERNELS / file, defines=d)[spec.kernel_name([])]
        preps.append(rt.prepare(k, spec.grid(lsize), spec.block(lsize), *rt.args_from_dict(k.params, named, k.name),
                                dynamic_shared=spec.shared(lsize), stream=timer.stream))

    def grouped(src, out, ch, act):
        layer("grouped_conv3x3.sasm", {"DTYPE": dtype, "ACT": act}, dict(N=n, H=h, W=w, C=ch),
              {"x": src, "wg": bufs["wg"], "bn": bufs["bng"], "y": out, "hin": np.uint32(h), "win": np.uint32(w),
               "cin": np.uint32(ch)})

    def pointwise(src, wt, bn, out, cin, cout, epi, r):
        layer("pointwise_bn.sasm", {"DTYPE": dtype, "EPI": epi}, dict(N=n, H=h, W=w, C=cin, K=cout),
              {"x": src, "w": wt, "bn": bn, "r": r, "y": out, "npix": np.uint32(n * h * w), "cin": np.uint32(cin),
               "cout": np.uint32(cout)})

    for name in ("wg", "bng", "we", "bne", "wp", "bnp"):
        dev(name, args[name])
    cg = c if kind == "convfirst" else ce
    t1 = dev("t1", poisoned((n, h, w, cg), dtype))
    t2 = dev("t2", poisoned((n, h, w, ce), dtype))
    y = dev("y", poisoned((n, h, w, c), dtype))
    if kind == "convfirst":
        grouped(x, t1, c, 0)
        pointwise(t1, bufs["we"], bufs["bne"], t2, c, ce, "silu", x)
    else:
        pointwise(x, bufs["we"], bufs["bne"], t1, c, ce, "silu", x)
        grouped(t1, t2, ce, 1)
    pointwise(t2, bufs["wp"], bufs["bnp"], y, ce, c, "residual", x)
    return preps, bufs, y


def bench_size(kind: str, size: dict, dtype: str, rep_ms: float, verify: bool, compiled: bool = True) -> dict:
    from sass_lab import runtime as rt
    from sass_lab.errors import SasmError
    from sass_lab.hw.devices import find
    from sass_lab.lab.bench import BenchConfig, do_bench, time_spec
    from sass_lab.lab.peers import make_peer
    from sass_lab.lab.spec import load_spec
    from sass_lab.paths import KERNELS
    from sass_lab.runtime.timing import CudaTimer
    from sass_lab.studies.blocks import load
    from sass_lab.studies.planner import kernel_plan

    path = KERNELS / f"{kind}_block.sasm"
    cfg = BenchConfig(rep_ms=rep_ms, verify=verify, seed=1)
    row: dict = {"block": kind, "size": size, "dtype": dtype, "verified": verify}
    fused = time_spec(path, size, {"DTYPE": dtype}, cfg=cfg, vs="torch", peaks=False)
    row["fused_ms"] = fused.stats.median
    row["max_rel_err"] = fused.max_rel_err
    row["torch_ms"] = fused.peer.timing.stats.median if fused.peer else None
    spec, _ = load_spec(path, {"DTYPE": dtype}).for_size(size, {"DTYPE": dtype})
    args = spec.inputs(size, np.random.default_rng(1))
    with CudaTimer.create() as timer:
        row["compile_ms"], row["compile_error"] = None, "left out (--no-compile)"
        if compiled:
            try:
                peer = make_peer("torch-compile", spec, size, args)
                row["compile_ms"] = do_bench([peer.run], timer, BenchConfig(rep_ms=rep_ms)).stats.median
                del row["compile_error"]
            except SasmError as e:
                row["compile_error"] = e.message
        preps, bufs, y = _chain(kind, size, args, dtype, timer, cfg)
        try:
            row["unfused_ms"] = do_bench([lambda s: [p.enqueue(s) for p in preps]], timer, cfg).stats.median
            if verify:  # the chain's y against the fused kernel's, on the same inputs
                got = np.empty_like(np.ascontiguousarray(args["y"]))
                rt.copy_out(got, y.ptr)
                mine = np.empty_like(got)
                fused_args = dict(args)
                k_file = KERNELS / f"{kind}_block.sasm"
                from sass_lab.api import assemble_file

                _, d = load_spec(k_file, {"DTYPE": dtype}).for_size(size, {"DTYPE": dtype})
                k = assemble_file(k_file, defines=d)[spec.kernel]
                rt.launch(k, spec.grid(size), spec.block(size), *rt.args_from_dict(k.params, fused_args, k.name),
                          dynamic_shared=spec.shared(size))
                mine[...] = fused_args["y"]
                a, b = load(got, dtype), load(mine, dtype)
                row["unfused_equal_share"] = float(np.mean(a == b))
                row["unfused_max_diff"] = float(np.nanmax(np.abs(a - b)))
        finally:
            for p in preps:
                p.free()
            for b in bufs.values():
                b.free()
    info = rt.context().info
    dev = find(info.name)
    peak = dev.bf16_flops if dev else 0.0
    plan = kernel_plan(kind, size["N"], size["H"], size["W"], size["C"], info.arch if info.arch in ("sm_80", "sm_90")
                       else "sm_90", dev.name if dev else None)
    flops, nbytes = spec.flops(size), spec.nbytes(size)
    row.update(flops=flops, nbytes=nbytes, waterline_fused_us=plan.waterline_fused_s * 1e6,
               waterline_unfused_us=plan.waterline_unfused_s * 1e6, peak_flops=peak,
               fused_tflops=flops / row["fused_ms"] / 1e9, fused_eff=(flops / row["fused_ms"] * 1e3 / peak) if peak else None,
               fused_gbs=nbytes / row["fused_ms"] / 1e6)
    return row


def markdown(rows: list[dict], meta: dict) -> str:
    out = [f"## block fusion — {meta.get('date')} — {meta.get('device')}", "",
           "| block | N×H×W×C | fused µs | unfused DSL µs | PyTorch µs | torch.compile µs | PyTorch / fused | "
           "TFLOP/s (eff) | GB/s | waterline fused / unfused µs | max err / tol |", "|" + "---|" * 11]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['block']} | {r['size']} | error: {r['error'][:120]} |" + " |" * 8)
            continue
        s = r["size"]

        def us(v):
            return "-" if v is None else f"{v * 1e3:.1f}"
        ratio = f"{r['torch_ms'] / r['fused_ms']:.2f}×" if r.get("torch_ms") else "-"
        eff = f"{r['fused_tflops']:.1f} ({r['fused_eff'] * 100:.0f} %)" if r.get("fused_eff") else f"{r['fused_tflops']:.1f}"
        err = "-" if r.get("max_rel_err") is None else f"{r['max_rel_err']:.2e}"
        out.append(f"| {r['block']} | {s['N']}×{s['H']}×{s['W']}×{s['C']} | {us(r['fused_ms'])} | "
                   f"{us(r.get('unfused_ms'))} | {us(r.get('torch_ms'))} | {us(r.get('compile_ms'))} | {ratio} | {eff} | "
                   f"{r['fused_gbs']:.0f} | {r['waterline_fused_us']:.1f} / {r['waterline_unfused_us']:.1f} | {err} |")
    goal = [r for r in rows if r.get("block") == "convfirst" and r["size"]["N"] == 32 and r["size"]["C"] == 64
            and r["size"]["H"] == 56 and r.get("torch_ms")]
    if goal:
        g = goal[0]
        out += ["", f"Goal (ConvFirst, N = 32, C = 64, 56×56: fused ≥ 2× PyTorch unfused): "
                    f"{g['torch_ms'] / g['fused_ms']:.2f}× — {'met' if g['torch_ms'] >= 2 * g['fused_ms'] else 'not met'}"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "out"))
    ap.add_argument("--kinds", nargs="+", default=["convfirst", "mbconv"])
    ap.add_argument("--n", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--c", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--hw", type=int, nargs="+", default=[56, 28])
    ap.add_argument("--dtype", default="f16", choices=["f16", "bf16"])
    ap.add_argument("--rep-ms", type=float, default=50.0)
    ap.add_argument("--budget-s", type=float, default=240.0,
                    help="no new size starts past this (tools/gpu_check.py passes 0.8 × its plan share)")
    ap.add_argument("--no-compile", action="store_true",
                    help="leave out the torch.compile column (its cold compile alone can pass the check's share)")
    args = ap.parse_args(argv)
    from sass_lab import runtime as rt
    from sass_lab.errors import NoGPUError, SasmError

    try:
        rt.require_gpu()
    except NoGPUError as e:
        print(e.message, file=sys.stderr)
        return 3
    t0 = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "device": rt.device_info().get("name")}
    rows: list[dict] = []
    for kind in args.kinds:
        for c in args.c:
            for hw in args.hw:
                for n in sorted(args.n):
                    size = dict(N=n, H=hw, W=hw, C=c)
                    if time.time() - t0 > args.budget_s:
                        rows.append({"block": kind, "size": size, "error": "skipped: time budget spent"})
                        continue
                    print(f"{kind} {size} ...", file=sys.stderr, flush=True)
                    try:
                        rows.append(bench_size(kind, size, args.dtype, args.rep_ms, verify=(n == min(args.n)),
                                               compiled=not args.no_compile))
                    except SasmError as e:
                        rows.append({"block": kind, "size": size, "error": e.message})
                    (out / "blocks.json").write_text(json.dumps({**meta, "rows": rows}, indent=2, default=str))
                    (out / "blocks.md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
