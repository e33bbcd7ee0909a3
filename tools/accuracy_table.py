"""Reproduce the FP32 accuracy table of Lavin & Gray (2015) in numpy float32 arithmetic.

    python tools/accuracy_table.py                      # the table in docs/ACCURACY.md
    python tools/accuracy_table.py --dist uniform --seeds 5
    python tools/accuracy_table.py --seeds 10 --summary
    python tools/accuracy_table.py --kernels            # the DSL kernels on the emulator too

Prints a markdown table (max abs error, max abs / max |y|, mean abs error) for direct convolution,
F(2x2,3x3) and F(4x4,3x3) with points 0,±1,±2 and 0,±5/8,±3/2, beside the paper's figures.
"""

from __future__ import annotations

import argparse
import sys

from sass_lab.studies.accuracy import Setup, kernel_markdown, kernel_study, markdown, study, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--c", type=int, default=64)
    ap.add_argument("--hw", type=int, default=32, help="height = width")
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--dist", default="normal", choices=["normal", "uniform", "positive"])
    ap.add_argument("--seeds", type=int, default=1, help="repeat with seeds 0..N-1 (one table each)")
    ap.add_argument("--summary", action="store_true", help="one table: median and range over the seeds")
    ap.add_argument("--kernels", action="store_true",
                    help="also run the DSL kernels on the emulator with the same inputs (seed 0; slow)")
    a = ap.parse_args(argv)
    if a.kernels:
        st = Setup(n=a.n, c=a.c, h=a.hw, w=a.hw, k=a.k, dist=a.dist)
        print(kernel_markdown(kernel_study(st), st))
        print()
    if a.summary:
        print(summary(Setup(n=a.n, c=a.c, h=a.hw, w=a.hw, k=a.k, dist=a.dist), a.seeds))
        print()
        a.seeds = 0
    for seed in range(a.seeds):
        st = Setup(n=a.n, c=a.c, h=a.hw, w=a.hw, k=a.k, dist=a.dist, seed=seed)
        print(markdown(study(st), st))
        print()
    print("Regenerate: python tools/accuracy_table.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
