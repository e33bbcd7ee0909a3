"""Front-end speed against nvJitLink: expand+parse+lower, passes and PTX emission vs compiling the PTX.

    python tools/bench_frontend.py [--repeat 5] [--n 20000] [--file kernels_asm/sgemm.sasm]

Runs on the largest shipped kernel (by instruction count) and on a generated kernel of about
``--n`` instructions (an unrolled FFMA/shared-load body written with %-loops, so expansion is
exercised too); ``--unique`` adds a worst case for the front end's caches, a kernel whose every line
is different. Prints median seconds per stage and the ratio (front end + passes + emission) /
nvJitLink; the target is <= 0.25. The front end's caches are cleared before every run and the
cubin cache is off (``SASS_LAB_CACHE=off``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sass_lab import ir, paths  # noqa: E402
from sass_lab.dsl import checks, fastparse, frontend  # noqa: E402

GENERATED = """\
.define N = {n}, TM = 8, TN = 8
.kernel unrolled(.u64 out, .f32 alpha)
.maxntid 256
.reg .f32 acc[${{TM}}][${{TN}}], a[2][${{TM}}], b[2][${{TN}}]
.reg .u32 i, sa
.reg .u64 p
.shared .align 16 .f32 sA[8192]
    mov.u32 i, %tid.x
    mul.wide.u32 p, i, 4
    add.u64 p, p, out
    mov.u32 sa, sA
    shl.b32 i, i, 4
    add.u32 sa, sa, i
% for i in range(TM):
%   for j in range(TN):
    mov.f32 acc[${{i}}][${{j}}], 0f00000000
%   end
% end
% for k in range(N // (TM * TN + TM // 4 + TN // 4)):
%   for x in range(0, TM, 4):
    ld.shared.v4.f32 {{a[${{k%2}}][${{x}}], a[${{k%2}}][${{x+1}}], a[${{k%2}}][${{x+2}}], a[${{k%2}}][${{x+3}}]}}, [sa+${{(k*64+x*4) % 16384}}]
%   end
%   for x in range(0, TN, 4):
    ld.shared.v4.f32 {{b[${{k%2}}][${{x}}], b[${{k%2}}][${{x+1}}], b[${{k%2}}][${{x+2}}], b[${{k%2}}][${{x+3}}]}}, [sa+${{(k*64+x*4+32) % 16384}}]
%   end
%   for x in range(TM):
%     for y in range(TN):
    fma.rn.f32 acc[${{x}}][${{y}}], a[${{k % 2}}][${{x}}], b[${{k % 2}}][${{y}}], acc[${{x}}][${{y}}]
%     end
%   end
% end
% for i in range(TM):
%   for j in range(TN):
    fma.rn.f32 acc[0][0], acc[${{i}}][${{j}}], alpha, acc[0][0]
%   end
% end
    st.global.f32 [p], acc[0][0]
    ret
"""


UNIQUE = """\
.kernel unique(.u64 out)
.reg .f32 acc[64][8], a[64]
.reg .u32 sa, t
.reg .u64 p
.shared .align 16 .f32 buf[8192]
    mov.u32 sa, buf
    mov.u64 p, out
    mov.u32 t, %tid.x
    shl.b32 t, t, 2
    add.u32 sa, sa, t
% for i in range(64):
%   for j in range(8):
    mov.f32 acc[${{i}}][${{j}}], 0f00000000
%   end
% end
% for k in range(({n} - 1024) // 8):
    ld.shared.f32 a[${{k % 64}}], [sa+${{(k * 4) % 32768}}]
%   for j in range(7):
    fma.rn.f32 acc[${{k % 64}}][${{j}}], a[${{k % 64}}], 0f${{"%08X" % (0x3F800000 + k * 8 + j)}}, acc[${{(k * 7 + j) % 64}}][${{(k + j) % 8}}]
%   end
% end
% for i in range(64):
%   for j in range(8):
    st.global.f32 [p+${{4 * (8 * i + j)}}], acc[${{i}}][${{j}}]
%   end
% end
    ret
"""


def _stages(text: str, file: str, arch: str):
    from sass_lab.backend.ptx import emit
    from sass_lab.passes import run_passes
    from sass_lab.toolchain.compile import compile_ptx

    for cache in (fastparse._cache, fastparse._op_cache, fastparse._name_cache, checks._passed):
        cache.clear()
    t0 = time.perf_counter()
    front = frontend(text, file, {})
    t1 = time.perf_counter()
    kernels = tuple(run_passes(k)[0] for k in front.module.kernels)
    t2 = time.perf_counter()
    mod = ir.Module(kernels, front.module.vars, front.module.raw, front.module.file)
    emitted = emit(mod, arch)
    t3 = time.perf_counter()
    compile_ptx(emitted.text, arch)
    t4 = time.perf_counter()
    n = sum(1 for k in front.module.kernels for s in k.body if isinstance(s, ir.Instr))
    return n, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)


def bench(name: str, text: str, file: str, arch: str, repeat: int) -> float:
    runs = [_stages(text, file, arch) for _ in range(repeat)]
    n = runs[0][0]
    med = [statistics.median(r[1][i] for r in runs) for i in range(4)]
    front, passes, emit, jit = med
    ours = front + passes + emit
    print(f"{name}: {n} instructions, median of {repeat}")
    print(f"  front end (expand+parse+lower) {front:8.3f} s   ({front / jit:5.2f} x nvJitLink)")
    print(f"  passes                         {passes:8.3f} s")
    print(f"  PTX emission                   {emit:8.3f} s")
    print(f"  all of ours                    {ours:8.3f} s")
    print(f"  nvJitLink compile              {jit:8.3f} s")
    print(f"  ratio ours / nvJitLink         {ours / jit:8.3f}   (target <= 0.25)")
    return ours / jit


def largest_shipped() -> Path | None:
    best, size = None, -1
    for p in sorted(paths.KERNELS.glob("*.sasm")):
        try:
            mod = frontend(p.read_text(), str(p), {}).module
        except Exception:  # noqa: BLE001 - a broken kernel is not this tool's business
            continue
        n = sum(1 for k in mod.kernels for s in k.body if isinstance(s, ir.Instr))
        if n > size:
            best, size = p, n
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n", type=int, default=20000, help="instructions in the generated kernel")
    ap.add_argument("--file", help="a .sasm file instead of the largest shipped kernel")
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--unique", action="store_true", help="also a kernel whose every line is distinct")
    args = ap.parse_args(argv)
    saved = os.environ.get("SASS_LAB_CACHE")
    os.environ["SASS_LAB_CACHE"] = "off"  # time real compiles, not the cubin cache
    try:
        path = Path(args.file) if args.file else largest_shipped()
        if path is not None:
            bench(path.name, path.read_text(), str(path), args.arch, args.repeat)
        bench(f"generated ({args.n})", GENERATED.format(n=args.n), "generated.sasm", args.arch, args.repeat)
        if args.unique:
            bench(f"every line unique ({args.n})", UNIQUE.format(n=args.n), "unique.sasm", args.arch,
                  args.repeat)
    finally:
        if saved is None:
            os.environ.pop("SASS_LAB_CACHE", None)
        else:
            os.environ["SASS_LAB_CACHE"] = saved
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
