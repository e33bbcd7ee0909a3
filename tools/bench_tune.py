"""Benchmark: a cold ``--compile-only`` sweep of a kernel's whole tuning space, per compiler.

    python tools/bench_tune.py [kernels_asm/sgemm.sasm] [-j 2] [--repeat 3] [--warm]
                               [--compiler ptxas nvjitlink] [--baseline DIR]

Every sweep runs in a fresh Python process with a fresh results database and an empty cubin cache,
so every candidate is really expanded, parsed, scheduled, emitted and compiled; the time is the
``tune()`` call (imports excluded) and the whole process. The variants run interleaved, repetition by
repetition, so they share the machine's load (the last lines give this tree's cold wall as a ratio to
the baseline's run by run: this host's speed drifts by several per cent over minutes): ``--compiler`` names the compilers to time (the ptxas
command line in a subprocess, nvJitLink in the worker), ``--baseline DIR`` adds an older checkout of
sass_lab (e.g. ``git worktree add /tmp/base <commit>``) run the same way, with each compiler. ``--warm`` adds one more
sweep over the filled caches into a new results database (what a rerun costs: the cubins, and since
issue 17 the candidate summaries, are cached). Prints medians per variant, wall and CPU time, and the
cold sweep's CPU split per candidate: the workers' own (the Python, and nvJitLink when it is the
compiler), the ptxas processes they reaped, and the sweep process (read from ``/proc/PID/stat`` of each
worker just before the pool closes, so forks, result transport and the store are all included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
from sass_lab.lab.tune import tune
from sass_lab import workers
kw = {} if os.environ.get("BENCH_COMPILER") in (None, "") else {"compiler": os.environ["BENCH_COMPILER"]}
split = {"worker_s": 0.0, "reaped_s": 0.0}  # the workers' own CPU, and what they reaped (ptxas)
tick = os.sysconf("SC_CLK_TCK")
close = workers.Pool.close

def close_and_count(self):  # read each worker's CPU just before the pool kills it
    for w in self._all:
        try:
            with open(f"/proc/{w.proc.pid}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        split["worker_s"] += (int(st[11]) + int(st[12])) / tick
        split["reaped_s"] += (int(st[13]) + int(st[14])) / tick
    close(self)

workers.Pool.close = close_and_count
t1 = time.perf_counter()
c1 = time.process_time()
out = tune(sys.argv[1], compile_only=True, db=sys.argv[2], jobs=int(sys.argv[3]), **kw)
t2 = time.perf_counter()
print(json.dumps({"sweep_s": t2 - t1, "import_s": t1 - t0, "n": len(out), "driver_s": time.process_time() - c1,
                  "ok": sum(o.status == "ok" for o in out), **split}))
"""


def sweep(root: Path, path: str, jobs: int, cache: str, compiler: str | None) -> dict:
    env = {**os.environ, "SASS_LAB_CACHE": cache, "PYTHONPATH": str(root), "BENCH_COMPILER": compiler or ""}
    with tempfile.TemporaryDirectory() as db:
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, str(Path(path).resolve()), os.path.join(db, "r.db"),
                              str(jobs)], env=env, cwd=root, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["process_s"] = wall
    rec["cpu_s"] = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)  # the process and all it reaped
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", default="kernels_asm/sgemm.sasm")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warm", action="store_true")
    ap.add_argument("--compiler", nargs="+", default=["ptxas"], choices=["ptxas", "nvjitlink"])
    ap.add_argument("--baseline", metavar="DIR", help="an older sass_lab checkout to time side by side")
    a = ap.parse_args()
    variants = [(f"{c} (this tree)", ROOT, c) for c in a.compiler]
    if a.baseline:  # the older checkout, once per compiler
        variants += [(f"{c} (baseline)", Path(a.baseline).resolve(), c) for c in a.compiler]
    print(f"{a.file}: {a.jobs} compile processes, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    times: dict[str, list[float]] = {v[0]: [] for v in variants}
    cpus: dict[str, list[float]] = {v[0]: [] for v in variants}
    warms: dict[str, list[tuple[float, float]]] = {v[0]: [] for v in variants}
    work: dict[str, list[dict]] = {v[0]: [] for v in variants}
    for rep in range(a.repeat):
        for name, root, compiler in variants:
            with tempfile.TemporaryDirectory() as cache:
                r = sweep(root, a.file, a.jobs, cache, compiler)
                times[name].append(r["sweep_s"])
                cpus[name].append(r["cpu_s"])
                work[name].append(r)
                print(f"  #{rep + 1} {name:28s} cold {r['sweep_s']:6.2f} s (process {r['process_s']:5.2f} s, "
                      f"CPU {r['cpu_s']:6.2f} s: workers {r['worker_s']:5.2f}, their ptxas {r['reaped_s']:5.2f}, "
                      f"sweep process {r['driver_s']:4.2f}; {r['n']} candidates, {r['ok']} ranked)", flush=True)
                if a.warm:
                    w = sweep(root, a.file, a.jobs, cache, compiler)
                    warms[name].append((w["sweep_s"], w["cpu_s"]))
                    print(f"  #{rep + 1} {name:28s} warm {w['sweep_s']:6.2f} s (process {w['process_s']:5.2f} s, "
                          f"CPU {w['cpu_s']:6.2f} s; caches filled, new results database)", flush=True)
    for name, ts in times.items():
        print(f"median cold sweep, {name}: {statistics.median(ts):.2f} s wall, "
              f"{statistics.median(cpus[name]):.2f} s CPU (all processes)  (wall runs: "
              f"{', '.join(f'{t:.2f}' for t in ts)})")
        rs, n = work[name], max(1, work[name][0]["n"])
        print(f"    workers' own CPU (Python; nvJitLink included when it compiles) "
              f"{1000 * statistics.median(r['worker_s'] for r in rs) / n:.1f} ms per candidate, ptxas "
              f"{1000 * statistics.median(r['reaped_s'] for r in rs) / n:.1f} ms, sweep process "
              f"{1000 * statistics.median(r['driver_s'] for r in rs) / n:.1f} ms (imports excluded)")
        if warms[name]:
            print(f"median warm sweep, {name}: {statistics.median(w for w, _ in warms[name]):.2f} s wall, "
                  f"{statistics.median(c for _, c in warms[name]):.2f} s CPU")
    for c in a.compiler if a.baseline else ():  # the host's speed drifts: the ratio within a run is what compares
        ours, base = times[f"{c} (this tree)"], times[f"{c} (baseline)"]
        ratios = [x / y for x, y in zip(ours, base)]
        print(f"{c}: this tree / baseline, cold wall, run by run: {', '.join(f'{r:.2f}' for r in ratios)} "
              f"(median {statistics.median(ratios):.2f})")


if __name__ == "__main__":
    main()
