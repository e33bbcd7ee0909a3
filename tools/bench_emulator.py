"""Emulator speed: thread-instructions per second on a tiled SGEMM (256³) and a reduction.

Usage: python tools/bench_emulator.py [--size 256] [--n 1048576] [--no-check] [--wave-lanes 65536]

Uses the committed nvcc PTX under tests/emulator/data (no nvcc or GPU needed). Prints one line per
run: kernel, checks on/off, steps, thread-instructions, wall and CPU seconds, rates per wall and per
CPU second (the CPU figure is steadier on a shared machine), and the result's error (SGEMM: max abs;
reduction: relative).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sass_lab.emulator import emulate  # noqa: E402

DATA = ROOT / "tests" / "emulator" / "data"


def bench_sgemm(size: int, check: bool, wave_lanes: int) -> tuple:
    rng = np.random.default_rng(0)
    A = rng.random((size, size), np.float32)
    B = rng.random((size, size), np.float32)
    C = np.full((size, size), np.nan, np.float32)
    ptx = (DATA / "sgemm.sm_80.ptx").read_text()
    grid = ((size + 15) // 16, (size + 15) // 16)
    t0, c0 = time.perf_counter(), time.process_time()
    rep = emulate(ptx, "sgemm", grid, (16, 16), [A, B, C, np.int32(size), np.int32(size), np.int32(size)],
                  check=check, wave_lanes=wave_lanes, max_steps=10**8)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    err = float(np.max(np.abs(C - A.astype(np.float64) @ B)))
    return rep, dt, cpu, err


def bench_reduce(n: int, check: bool, wave_lanes: int) -> tuple:
    rng = np.random.default_rng(0)
    x = rng.random(n, np.float32)
    out = np.zeros(1, np.float32)
    ptx = (DATA / "reduce.sm_80.ptx").read_text()
    t0, c0 = time.perf_counter(), time.process_time()
    rep = emulate(ptx, "reduce_sum", (n + 255) // 256, 256, [x, out, np.int32(n)], check=check,
                  wave_lanes=wave_lanes, max_steps=10**8)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return rep, dt, cpu, abs(float(out[0]) - float(x.astype(np.float64).sum())) / float(x.sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--n", type=int, default=1 << 20)
    ap.add_argument("--wave-lanes", type=int, default=1 << 16)
    ap.add_argument("--no-check", action="store_true", help="only the unchecked runs")
    args = ap.parse_args()
    checks = (False,) if args.no_check else (True, False)
    print(f"{'kernel':<22} {'checks':<7} {'steps':>8} {'thread-instr':>14} {'wall s':>7} {'cpu s':>7} "
          f"{'rate/s':>9} {'per cpu-s':>9}  rel.error")
    for check in checks:
        for name, fn, arg in ((f"sgemm {args.size}^3", bench_sgemm, args.size),
                              (f"reduce n={args.n}", bench_reduce, args.n)):
            rep, dt, cpu, err = fn(arg, check, args.wave_lanes)
            s = rep.stats
            print(f"{name:<22} {'on' if check else 'off':<7} {s.steps:>8} {s.thread_instructions:>14,} "
                  f"{dt:>7.2f} {cpu:>7.2f} {s.thread_instructions / dt:>9.3g} {s.thread_instructions / cpu:>9.3g}"
                  f"  {err:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
