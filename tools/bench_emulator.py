"""Emulator speed and check cost on every shipped kernel, and the first-call time of a small kernel.

Usage:
    python tools/bench_emulator.py                 # every kernels_asm/*.sasm, checks on and off
    python tools/bench_emulator.py saxpy sgemm     # some of them
    python tools/bench_emulator.py --memory        # + peak memory of the run with and without checks
    python tools/bench_emulator.py --first-call    # first emulate() of a small kernel: fast reader vs Lark
    python tools/bench_emulator.py gemm_bf16 --macs  # + useful multiply-adds per CPU second vs numpy's matmul

Throughput is thread-instructions per CPU second (``time.process_time``: the development machine is
shared, so wall time says more about the neighbours than about the emulator), best of ``--reps`` runs,
at a size per kernel that fills at least one 65,536-lane wave (``BENCH`` below). Each run's result is
checked against the kernel's own float64 reference (``rel.err`` column). BLAS runs on one thread: a
reference's matmul otherwise leaves OpenBLAS's worker threads spinning into the next ``emulate``, whose
process time then counted their spin (grouped_conv3x3 with checks: 0.22 s measured, 0.15 s its own). Memory (``--memory``, a
separate traced run): the peak of numpy/Python allocations during ``emulate`` with checks off (the
kernel's own: heap, registers, shared/local windows) and the extra the checks add, and their ratio.
``--macs`` (GEMM kernels: sizes with M, N, K) adds the useful multiply-adds per CPU second (M·N·K over the
emulate time, checks off and on) and the same for numpy's float64 ``matmul`` of an M×K by K×N pair, best of
``--reps`` in the same run: the peer for a tensor-core kernel, where one thread-instruction is a tile's
share of a whole warpgroup's product. ``--first-call`` times (wall and CPU) ``emulate()`` of a small kernel from a fresh process, once reading the PTX with
the fast reader and once with the Lark parser (the previous path), alternating, medians of ``--reps``.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads its BLAS
    os.environ.setdefault(_var, "1")
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sass_lab.lab.verify import output_values  # noqa: E402
from sass_lab.paths import KERNELS  # noqa: E402

BENCH = {  # .sasm stem -> size (at least one full wave of 65,536 lanes; the fused blocks and gemm_bf16: 28-50 k threads)
    "conv_direct": dict(N=8, C=8, H=64, W=64, K=64, stride=1, pad=1),
    "gemm_bf16": dict(M=2048, N=2048, K=64, sms=132),  # 128 CTAs of 384 threads, one 128x256 tile each
    "convfirst_block": dict(N=8, H=56, W=56, C=64),
    "grouped_conv3x3": dict(N=4, H=56, W=56, C=64),
    "mbconv_block": dict(N=8, H=56, W=56, C=64),
    "pointwise_bn": dict(N=8, H=28, W=28, C=64, K=256),
    "peak_copy": dict(n=1 << 22),
    "peak_ffma": dict(blocks=256, iters=4),
    "reduce": dict(n=1 << 20),
    "saxpy": dict(n=1 << 20),
    "sgemm": dict(M=2048, N=2048, K=32, beta=1),
    "sgemm_tiled": dict(M=1024, N=1024, K=32),
    "winograd_2x2_3x3": dict(N=8, C=8, H=64, W=64, K=32),
    "winograd_4x4_3x3": dict(N=8, C=8, H=64, W=64, K=32),
}


def load(stem: str):
    from sass_lab.api import assemble_file
    from sass_lab.lab.spec import load_spec

    path = Path(KERNELS) / f"{stem}.sasm"
    spec = load_spec(path)
    size = BENCH.get(stem, spec.test_sizes[-1])
    spec, _ = spec.for_size(size)  # a size may fix defines (the fused blocks' channel count)
    mod = assemble_file(path, defines=spec.defines)
    kern = mod[spec.kernel_name(list(mod.kernels))]
    return spec, kern, size


def run_once(spec, kern, size, check: bool, trace: bool = False):
    a = spec.inputs(size, np.random.default_rng(0))
    ref = spec.reference(copy.deepcopy(a), size)
    by_param = {f"{k}_param": v for k, v in a.items()}
    args = [by_param[p.name] for p in kern.params]
    if trace:
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    c0 = time.process_time()
    rep = kern.emulate(spec.grid(size), spec.block(size), *args, dynamic_shared=spec.shared(size), check=check,
                       max_steps=10**8)
    cpu = time.process_time() - c0
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    return rep, cpu, peak, (a, ref)


def error(spec, size, a_ref) -> float:
    a, ref = a_ref
    norm = spec.scale(a, size) or {}
    worst = 0.0
    for out, want in ref.items():
        got = np.asarray(output_values(a[out]), np.float64)  # a TensorMap output: its decoded tensor
        den = np.asarray(norm.get(out, np.max(np.abs(want)) or 1.0))
        worst = max(worst, float(np.max(np.abs(got - want) / den)))
    return worst


def numpy_macs(size: dict, reps: int) -> float:
    """Multiply-adds per CPU second of numpy's float64 matmul of the GEMM shape ``size`` (best of ``reps``)."""
    rng = np.random.default_rng(0)
    m, n, k = size["M"], size["N"], size["K"]
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    best = float("inf")
    for _ in range(reps):
        c0 = time.process_time()
        np.matmul(a, b)
        best = min(best, time.process_time() - c0)
    return m * n * k / best


def bench(stems: list[str], reps: int, memory: bool, macs: bool = False) -> None:
    head = f"{'kernel':<18} {'threads':>8} {'waves':>5} {'thread-instr':>13} {'cpu s off':>9} {'cpu s on':>9} " \
           f"{'rate off':>9} {'rate on':>9} {'on/off':>6}  rel.err"
    if memory:
        head += f"  {'own MB':>7} {'extra MB':>8} {'extra/own':>9}"
    print(head)
    for stem in stems:
        spec, kern, size = load(stem)
        best = {}
        for check in (False, True):
            for _ in range(reps):
                rep, cpu, _, a = run_once(spec, kern, size, check)
                if check not in best or cpu < best[check][1]:
                    best[check] = (rep, cpu, a)
        rep, _, a = best[True]
        s = rep.stats
        threads = int(np.prod(spec.grid(size))) * int(np.prod(spec.block(size)))
        off, on = best[False][1], best[True][1]
        line = (f"{stem:<18} {threads:>8} {s.waves:>5} {s.thread_instructions:>13,} {off:>9.3f} {on:>9.3f} "
                f"{s.thread_instructions / off:>9.3g} {s.thread_instructions / on:>9.3g} {on / off:>6.2f}  "
                f"{error(spec, size, a):.1e}")
        if memory:
            own = run_once(spec, kern, size, False, trace=True)[2]
            both = run_once(spec, kern, size, True, trace=True)[2]
            line += f"  {own / 2**20:>7.1f} {(both - own) / 2**20:>8.1f} {(both - own) / own:>9.2f}"
        print(line, flush=True)
        if macs and {"M", "N", "K"} <= set(size):
            mk = size["M"] * size["N"] * size["K"]
            peer = numpy_macs(size, reps)
            print(f"{'':<18} useful MAC/s off {mk / off:.3g}, on {mk / on:.3g}; numpy float64 matmul "
                  f"{size['M']}x{size['K']} @ {size['K']}x{size['N']}: {peer:.3g} MAC/s (emulator on / numpy "
                  f"{mk / on / peer:.2g})", flush=True)


# ---------------------------------------------------------------------------------- first call

FIRST = """
import sys, time
sys.path.insert(0, {root!r})
import numpy as np
from sass_lab.emulator import emulate, ptx as P
P.READER = {reader!r}
if {kernel!r} == "vecadd":
    ptx = open({ptx!r}).read()
    n = 1000
    x, y = np.ones(n, np.float32), np.zeros(n, np.float32)
    c0, p0 = time.perf_counter(), time.process_time()
    emulate(ptx, "vecadd", 4, 256, [x, x, y, np.int32(n)])
else:  # a shipped kernel through Kernel.emulate, right after assembling it (not timed)
    from sass_lab.api import assemble_file
    from sass_lab.lab.spec import load_spec
    path = {kernels!r} + "/" + {kernel!r} + ".sasm"
    spec = load_spec(path)
    mod = assemble_file(path, defines=spec.defines)
    kern = mod[spec.kernel_name(list(mod.kernels))]
    s = spec.test_sizes[1]
    a = spec.inputs(s, np.random.default_rng(0))
    args = [a[p.name[:-len("_param")]] for p in kern.params]
    c0, p0 = time.perf_counter(), time.process_time()
    kern.emulate(spec.grid(s), spec.block(s), *args, dynamic_shared=spec.shared(s))
print(time.perf_counter() - c0, time.process_time() - p0)
"""


def first_call(reps: int) -> None:
    ptx = ROOT / "tests" / "emulator" / "data" / "vecadd.sm_80.ptx"
    print(f"first emulate() in a fresh process (imports done, not timed), medians of {reps} (wall / CPU):")
    for kernel, what in (("vecadd", "nvcc's vecadd (sm_80, 4 x 256 threads)"),
                         ("saxpy", "saxpy.sasm through Kernel.emulate after assembling (n=1003)")):
        times: dict[str, list[tuple[float, float]]] = {"fast": [], "lark": []}
        for _ in range(reps):
            for reader in ("lark", "fast"):
                code = FIRST.format(root=str(ROOT), reader=reader, ptx=str(ptx), kernel=kernel, kernels=str(KERNELS))
                out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                wall, cpu = out.stdout.split()[-2:]
                times[reader].append((float(wall), float(cpu)))
        (lw, lc), (fw, fc) = ([statistics.median(t[i] for t in times[r]) for i in (0, 1)] for r in ("lark", "fast"))
        print(f"  {what}: Lark parser (previous path) {lw * 1e3:.1f} / {lc * 1e3:.1f} ms, fast reader "
              f"{fw * 1e3:.1f} / {fc * 1e3:.1f} ms, speed-up {lw / fw:.1f}x wall, {lc / fc:.1f}x CPU")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kernels", nargs="*", help=f"kernels_asm stems (default: all: {', '.join(BENCH)})")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--memory", action="store_true", help="also the peak memory with and without checks")
    ap.add_argument("--first-call", action="store_true", help="only the first-call comparison")
    ap.add_argument("--macs", action="store_true", help="GEMM kernels: useful MAC/s against numpy's matmul")
    args = ap.parse_args()
    if args.first_call:
        first_call(args.reps)
        return 0
    stems = args.kernels or sorted(p.stem for p in Path(KERNELS).glob("*.sasm"))
    bench(stems, args.reps, args.memory, args.macs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
