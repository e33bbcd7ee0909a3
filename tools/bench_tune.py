"""Benchmark: a cold ``--compile-only`` sweep of a kernel's whole tuning space.

    python tools/bench_tune.py [kernels_asm/sgemm.sasm] [-j 2] [--repeat 3] [--warm]

Each repetition uses a fresh results database and a fresh (empty) cubin cache, so every candidate
is really expanded, parsed, scheduled, emitted and compiled by nvJitLink in the process pool.
``--warm`` adds one more sweep over the filled cache (what a rerun or a resumed sweep costs).
Prints the number of candidates, the median wall time and the time per candidate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from sass_lab.lab.spec import load_spec
from sass_lab.lab.tune import tune


def sweep(path: str, jobs: int, cache: str) -> tuple[float, int, int]:
    os.environ["SASS_LAB_CACHE"] = cache
    with tempfile.TemporaryDirectory() as db:
        t0 = time.perf_counter()
        out = tune(path, compile_only=True, db=os.path.join(db, "r.db"), jobs=jobs)
        dt = time.perf_counter() - t0
    return dt, len(out), sum(o.status == "ok" for o in out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", default="kernels_asm/sgemm.sasm")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warm", action="store_true")
    a = ap.parse_args()
    n = len(load_spec(a.file).combinations())
    print(f"{a.file}: {n} candidates, {a.jobs} compile processes, {os.cpu_count()} CPUs")
    times = []
    for _ in range(a.repeat):
        with tempfile.TemporaryDirectory() as cache:
            dt, count, ok = sweep(a.file, a.jobs, cache)
            times.append(dt)
            print(f"  cold sweep: {dt:6.2f} s  ({count} candidates, {ok} ranked, {dt / count:.3f} s each)")
            if a.warm:
                wt, _, _ = sweep(a.file, a.jobs, cache)
                print(f"  warm sweep: {wt:6.2f} s  (cubin cache filled)")
    print(f"median cold sweep: {statistics.median(times):.2f} s for {n} candidates")


if __name__ == "__main__":
    main()
