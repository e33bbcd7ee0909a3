"""Regenerate the emulator corpus PTX: nvcc -ptx of every tests/emulator/corpus/*.cu for sm_80 and sm_90.

Usage: python tools/build_corpus.py [NAME ...]   (needs nvcc on PATH or /usr/local/cuda/bin/nvcc)

The corpus is CUDA C written for sass_lab in the style of everyday code; each kernel is checked
against numpy in tests/emulator/test_emu_corpus.py. The PTX is committed so the tests need no nvcc.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "emulator" / "corpus"
ARCHS = ("sm_80", "sm_90")


def nvcc() -> str:
    found = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    if not Path(found).exists():
        raise SystemExit("nvcc not found (CUDA 13.0 toolkit)")
    return found


DEBUG = ("tensor", "numerics", "wild", "breadth", "asmstyle", "llm", "tutorials")  # also built with -G (debug code: local frames, calls, scoped .params) for sm_90
FAST_MATH = ("library", "training", "breadth", "llm")  # also built with --use_fast_math (.approx, .ftz everywhere) as <name>.<arch>.fast.ptx
LINEINFO = ("breadth",)  # also built with -lineinfo for sm_90 as <name>.sm_90.lineinfo.ptx (.loc/.file lines kept)
EXTRA = {"asmstyle": ["--extended-lambda"], "tutorials_cdp": ["-rdc=true"]}  # per-file nvcc flags (device lambdas; dynamic parallelism)


def strip_debug(ptx: str) -> str:
    """-G output without its DWARF: the ``.section`` blocks and ``.loc``/``.file`` lines (the code stays)."""
    out, depth, opened = [], 0, True
    for line in ptx.splitlines():
        s = line.strip()
        if s.startswith(".section"):
            depth, opened = 0, False
        if not opened or depth > 0:
            if "{" in line:
                opened = True
            depth += line.count("{") - line.count("}")
            continue
        if s.split(None, 1)[0] not in (".loc", ".file") if s else True:
            out.append(line)
    return "\n".join(out) + "\n"


def include_flags(cu: Path) -> list[str]:
    """-I for headers nvcc's wheel lacks: cuRAND's (CURAND_INCLUDE, or the nvidia-curand wheel's folder)."""
    if "curand_kernel.h" not in cu.read_text():
        return []
    found = os.environ.get("CURAND_INCLUDE")
    if not found:
        try:
            import nvidia.cu13  # the namespace the nvidia-curand wheel installs into
            found = next((str(Path(p) / "include") for p in nvidia.cu13.__path__
                          if (Path(p) / "include" / "curand_kernel.h").exists()), None)
        except ImportError:
            found = None
    if not found:
        raise SystemExit(f"{cu.name} needs cuRAND's headers: pip install nvidia-curand, or set CURAND_INCLUDE")
    return [f"-I{found}"]


def main(names: list[str]) -> int:
    sources = sorted(CORPUS.glob("*.cu")) if not names else [CORPUS / f"{n}.cu" for n in names]
    for cu in sources:
        for arch in ARCHS:
            out = cu.with_suffix(f".{arch}.ptx")
            cmd = [nvcc(), "-ptx", f"-arch={arch}", "-std=c++17", *EXTRA.get(cu.stem, []), *include_flags(cu), str(cu),
                   "-o", str(out)]
            subprocess.run(cmd, check=True)
            print(f"{out.relative_to(ROOT)}: {len(out.read_text().splitlines())} lines")
            if cu.stem in FAST_MATH:
                out = cu.with_suffix(f".{arch}.fast.ptx")
                subprocess.run([*cmd[:-1], str(out), "--use_fast_math"], check=True)
                print(f"{out.relative_to(ROOT)}: {len(out.read_text().splitlines())} lines (--use_fast_math)")
        if cu.stem in LINEINFO:
            out = cu.with_suffix(".sm_90.lineinfo.ptx")
            subprocess.run([nvcc(), "-ptx", "-arch=sm_90", "-std=c++17", "-lineinfo", *EXTRA.get(cu.stem, []), str(cu),
                            "-o", str(out)], check=True)
            print(f"{out.relative_to(ROOT)}: {len(out.read_text().splitlines())} lines (-lineinfo, .loc kept)")
        if cu.stem in DEBUG:
            out = cu.with_suffix(".sm_90.G.ptx")
            subprocess.run([nvcc(), "-ptx", "-arch=sm_90", "-std=c++17", "-G", *EXTRA.get(cu.stem, []), str(cu), "-o",
                            str(out)], check=True)
            out.write_text(strip_debug(out.read_text()))
            print(f"{out.relative_to(ROOT)}: {len(out.read_text().splitlines())} lines (-G, DWARF stripped)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
