#!/usr/bin/env python3
"""Fused vs unfused vs float64 for the ConvFirst and MBConv blocks, measured on the emulator.

    python tools/accuracy_blocks.py                 # the table in docs/ACCURACY.md (f16 and bf16)
    python tools/accuracy_blocks.py --c 64 128 --hw 12 --seeds 3

Each row runs the fused kernel (kernels_asm/<block>_block.sasm) and the unfused chain (grouped_conv3x3 +
pointwise_bn ×2, 16-bit intermediates) on the same random inputs and compares both with the float64
block. Errors are max |err| / error scale in units of u (the verification bound is 1.01) and
max |err| / max |y|; "bit-equal" is the share of outputs where fused and unfused agree exactly; the
last column is the float64 block rounding y only, what a kernel keeping its intermediates in fp32
would reach at best.
"""

from __future__ import annotations

import argparse
import sys

from sass_lab.studies.fusion_accuracy import accuracy_rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--hw", type=int, default=10, help="height = width")
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--dtypes", nargs="+", default=["f16", "bf16"])
    ap.add_argument("--seeds", type=int, default=1)
    args = ap.parse_args(argv)
    print("| block | storage | N×H×W×C | seed | fused: err/(u·s) | unfused: err/(u·s) | fused: err/max|y| "
          "| unfused: err/max|y| | bit-equal | fp32 intermediates (model): err/(u·s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind in ("convfirst", "mbconv"):
        for dt in args.dtypes:
            for c in args.c:
                for seed in range(args.seeds):
                    size = dict(N=args.n, H=args.hw, W=args.hw, C=c)
                    (r,) = accuracy_rows(kind, [size], dt, seed)
                    print(f"| {kind} | {dt} | {args.n}×{args.hw}×{args.hw}×{c} | {seed} | {r.fused:.3f} | "
                          f"{r.unfused:.3f} | {r.fused_rel:.2e} | {r.unfused_rel:.2e} | {r.equal * 100:.1f} % | "
                          f"{r.fp32_inter:.3f} |",
                          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
