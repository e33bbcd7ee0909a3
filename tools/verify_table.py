#!/usr/bin/env python3
"""A markdown table of emulator verifications over sizes and define combinations (no GPU needed).

    python tools/verify_table.py kernels_asm/convfirst_block.sasm kernels_asm/mbconv_block.sasm
    python tools/verify_table.py kernels_asm/mbconv_block.sasm --size N=1,H=3,W=5,C=256 --no-cover

Rows: every TEST_SIZES entry (plus each --size) at the default defines, then each combination of a
cover of the TUNE space (every value of every define at least once) at the first test size. Columns:
max error / tolerance (the verification passes at <= 1), the tolerance, NaN left, seconds.
"""

from __future__ import annotations

import argparse
import sys
import time

from sass_lab.lab.spec import load_spec, parse_size
from sass_lab.lab.verify import verify


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--size", action="append", default=[], help="extra size, e.g. N=1,H=3,W=5,C=256")
    ap.add_argument("--no-cover", action="store_true", help="only the default defines")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print("| kernel | size | defines (besides the defaults) | max err / tol | tol | NaN left | s |")
    print("|---|---|---|---|---|---|---|")
    bad = 0
    for f in args.files:
        spec = load_spec(f)
        runs = [(dict(s), {}) for s in spec.test_sizes] + [(parse_size(s), {}) for s in args.size]
        if not args.no_cover:
            runs += [(dict(spec.test_sizes[0]), d) for d in spec.cover()]
        for size, defines in runs:
            t0 = time.perf_counter()
            r = verify(f, size, emulate=True, defines=defines, seed=args.seed)
            c = r.checks[0]
            bad += not r.ok
            sz = ",".join(f"{k}={v}" for k, v in r.size.items())
            ds = " ".join(f"{k}={v}" for k, v in defines.items()) or "-"
            print(f"| {r.kernel} | {sz} | {ds} | {c.max_rel_err / c.tol:.2f}{'' if r.ok else ' FAIL'} | "
                  f"{c.tol:.2e} | {c.nonfinite} | {time.perf_counter() - t0:.1f} |", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
