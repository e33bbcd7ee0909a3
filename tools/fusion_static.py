#!/usr/bin/env python3
"""Static analysis of the block-fusion kernels, no GPU needed: resources, occupancy, tensor-op share.

    python tools/fusion_static.py                    # C = 32, 64, 128, 256 at the default tiles, sm_90
    python tools/fusion_static.py --c 64 --arch sm_80 --tile 8,8,4,32

Per kernel and C: ptxas registers (and the DSL's live peak), spills, dynamic shared memory, blocks and
warps per SM, the HMMA share of the hottest SASS loop and the issue-slot ceiling it implies on sm_90
and sm_80 (lab/efficiency.py), and the planner's waterline for the fused block against the unfused
layers at N = 32 on 56×56 (studies/planner.py). Prints markdown (docs/KERNELS.md holds the table).
"""

from __future__ import annotations

import argparse
import sys

from sass_lab.api import assemble_file
from sass_lab.lab.efficiency import static_efficiency
from sass_lab.lab.spec import load_spec
from sass_lab.paths import KERNELS
from sass_lab.studies.planner import Tile, kernel_plan


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--arch", default="sm_90", choices=["sm_80", "sm_90"])
    ap.add_argument("--tile", help="TH,TW,NW,CH (default: each kernel's own at that C)")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--hw", type=int, default=56)
    args = ap.parse_args(argv)
    tile = Tile(*(int(v) for v in args.tile.split(","))) if args.tile else None
    print(f"| kernel | C | tile TH×TW/warps/CH | regs (live) | spills | smem KiB | blocks/SM | warps/SM "
          f"| HMMA share (SASS loop) | ceiling sm_90 / sm_80 | waterline fused / unfused µs (N={args.n}, "
          f"{args.hw}²) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for kind in ("convfirst", "mbconv"):
        path = KERNELS / f"{kind}_block.sasm"
        for c in args.c:
            size = dict(N=args.n, H=args.hw, W=args.hw, C=c)
            defines = {} if tile is None else {"TH": tile.th, "TW": tile.tw, "NW": tile.nw, "CH": tile.ch}
            spec, built = load_spec(path, defines).for_size(size, defines)
            k = assemble_file(path, args.arch, defines=built)[spec.kernel]
            t = Tile.of(spec.defines)
            occ = k.occupancy(32 * t.nw, dynamic_shared=spec.shared(size))
            eff = static_efficiency(k)
            plan = kernel_plan(kind, args.n, args.hw, args.hw, c, args.arch, tile=t)
            r = k.resources
            print(f"| {kind}_block | {c} | {t.th}×{t.tw}/{t.nw}/{t.ch} | {r.registers} ({k.pressure.peak}) | "
                  f"{r.spill_stores + r.spill_loads} | {spec.shared(size) / 1024:.1f} | {occ.blocks_per_sm} | "
                  f"{occ.warps_per_sm} | {eff.tensor / eff.loop_instrs * 100:.1f} % ({eff.tensor}/{eff.loop_instrs} "
                  f"{eff.source}) | "
                  f"{eff.ceiling('sm_90') * 100:.0f} % / {eff.ceiling('sm_80') * 100:.0f} % | "
                  f"{plan.waterline_fused_s * 1e6:.1f} / {plan.waterline_unfused_s * 1e6:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
