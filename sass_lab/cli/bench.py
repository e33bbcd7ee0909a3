"""``sass_lab bench FILE [--size ...] [--all-sizes] [--vs cublas|cublas-hgemm|cudnn|auto] [--json]``.

Verifies the kernel once on the GPU, then times it with the harness of ``sass_lab.lab.bench`` (CUDA
events, warm-up and repetitions by time budget, L2 flush before each run, rotating inputs, optional
graph replay) and prints median, p20/p80, TFLOP/s, GB/s, efficiency against the datasheet and the
measured peaks, and the ratio against the library peer. No GPU: one sentence, exit 3.
"""

from __future__ import annotations

import json

from ..api import ARCHS
from .assemble import parse_defines
from .types import integer, real

VS = ("cublas", "cublas-hgemm", "cudnn", "auto")


# said after the one sentence of exit 3 (no GPU): the command's CPU alternative
NO_GPU = ("timing needs one, but `sass_lab tune {file} --compile-only` ranks the "
          "variants on the CPU")


def register(sub) -> None:
    p = sub.add_parser("bench", help="time a kernel on the GPU (and its cuBLAS/cuDNN peer)")
    p.add_argument("file", metavar="FILE", help="a .sasm file with a %%%% lab block")
    p.add_argument("--kernel", help="kernel name (default: the lab block's KERNEL)")
    p.add_argument("--size", metavar="N=V,...", help="problem size (default: SIZE of the lab block)")
    p.add_argument("--all-sizes", action="store_true", help="every BENCH_SIZES entry")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="K=V",
                   help="override a .define (repeatable)")
    p.add_argument("--vs", choices=VS, help="time a library peer too (auto: the lab block's PEER)")
    p.add_argument("--warmup-ms", type=real(low_open=False), default=25.0, help="warm-up budget (default 25)")
    p.add_argument("--rep-ms", type=real(), default=100.0, help="timed budget (default 100)")
    p.add_argument("--graph", action="store_true", help="replay a captured CUDA graph")
    p.add_argument("--no-flush", action="store_true", help="do not flush the L2 before each run")
    p.add_argument("--rotate", type=integer(0), default=0, help="input sets to rotate (default: auto)")
    p.add_argument("--no-verify", action="store_true", help="skip the correctness check")
    p.add_argument("--no-peaks", action="store_true",
                   help="do not measure device peaks (use cached ones if any)")
    p.add_argument("--seed", type=integer(0), default=None)
    p.add_argument("--arch", default=None, choices=ARCHS, help="target (default: the GPU's own)")
    p.add_argument("--json", action="store_true", help="print a JSON list of results")
    p.add_argument("--db", metavar="PATH", help="results database (default: the lab's store)")
    p.add_argument("--no-save", action="store_true", help="do not record the results in the store")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import runtime as rt
    from ..errors import UsageError
    from ..lab.bench import BenchConfig, save, time_spec
    from ..lab.spec import load_spec, parse_size
    from .run import device_arch

    rt.require_gpu()
    if args.all_sizes and args.size:
        raise UsageError("--all-sizes and --size exclude each other")
    defines = parse_defines(args.defines)
    spec = load_spec(args.file, defines)
    sizes = spec.bench_sizes if args.all_sizes else [spec.with_size(parse_size(args.size))]
    vs = args.vs
    if vs == "auto":
        vs = spec.peer_name
    cfg = BenchConfig(warmup_ms=args.warmup_ms, rep_ms=args.rep_ms, flush_l2=not args.no_flush,
                      graph=args.graph, rotate=args.rotate, verify=not args.no_verify, seed=args.seed)
    arch = args.arch or device_arch(rt.context().info.cc)
    results = [time_spec(args.file, s, defines, args.kernel, cfg, None, arch, vs, peaks=not args.no_peaks)
               for s in sizes]
    if not args.no_save:
        save(results, arch, str(rt.context().info.driver_version), args.db)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        from ..ui.bench import bench_table
        from ..ui.report import console

        console().print(bench_table(results))
    return 0

