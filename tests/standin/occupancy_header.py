"""NVIDIA's ``cuda_occupancy.h`` compiled into a tiny query program (no GPU needed).

The header ships in the ``nvidia-cuda-runtime`` wheel (``nvidia/cu13/include``, a dev dependency) and
in a CUDA toolkit. :func:`shim` compiles, once per header version into the temporary folder, a
program that reads one query per line and prints the header's answer
(``cudaOccMaxActiveBlocksPerMultiprocessor``): error code, blocks per SM, limiting-factor bits. The
occupancy oracle test and the stand-in driver's ``cuOccupancyMaxActiveBlocksPerMultiprocessor`` both
ask it, so the stand-in answers by NVIDIA's rules, not by the model it is meant to judge.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SOURCE = r"""
#include <cstdio>
#include <cuda_occupancy.h>
int main() {
    int major, minor, maxThreadsSM, regsSM, maxThreadsFunc, regs, barriers, optin, threads;
    long smemSM, smemBlock, smemOptin, reserved, staticSmem, maxDyn, dyn;
    while (scanf("%d %d %d %d %ld %ld %ld %ld %d %d %ld %ld %d %d %d %ld", &major, &minor, &maxThreadsSM,
                 &regsSM, &smemSM, &smemBlock, &smemOptin, &reserved, &maxThreadsFunc, &regs, &staticSmem,
                 &maxDyn, &barriers, &optin, &threads, &dyn) == 16) {
        cudaOccDeviceProp p;
        p.computeMajor = major; p.computeMinor = minor; p.maxThreadsPerBlock = 1024;
        p.maxThreadsPerMultiprocessor = maxThreadsSM; p.regsPerBlock = 65536;
        p.regsPerMultiprocessor = regsSM; p.warpSize = 32; p.sharedMemPerBlock = smemBlock;
        p.sharedMemPerMultiprocessor = smemSM; p.numSms = 1;
        p.sharedMemPerBlockOptin = smemOptin; p.reservedSharedMemPerBlock = reserved;
        cudaOccFuncAttributes a;
        a.maxThreadsPerBlock = maxThreadsFunc; a.numRegs = regs; a.sharedSizeBytes = staticSmem;
        a.shmemLimitConfig = optin ? FUNC_SHMEM_LIMIT_OPTIN : FUNC_SHMEM_LIMIT_DEFAULT;
        a.maxDynamicSharedSizeBytes = maxDyn;
        a.numBlockBarriers = barriers;
        cudaOccDeviceState s;
        cudaOccResult r;
        cudaOccError e = cudaOccMaxActiveBlocksPerMultiprocessor(&r, &p, &a, &s, threads, dyn);
        printf("%d %d %u\n", (int)e, e ? 0 : r.activeBlocksPerMultiprocessor, e ? 0u : r.limitingFactors);
    }
    return 0;
}
"""


@dataclass(frozen=True, slots=True)
class Device:
    """The device side of a query (what cudaGetDeviceProperties would say)."""

    cc: tuple[int, int]
    max_threads_per_sm: int
    regs_per_sm: int
    shared_per_sm: int
    shared_per_block: int
    shared_per_block_optin: int
    reserved_per_block: int


@dataclass(frozen=True, slots=True)
class Func:
    """The function side: cuFuncGetAttribute's answers."""

    max_threads: int
    registers: int
    shared_static: int
    max_dynamic: int  # CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    barriers: int = 1
    optin: bool = True  # the runtime's cudaOccFuncAttributes(cudaFuncAttributes) uses OPTIN


def header() -> Path | None:
    """``cuda_occupancy.h`` from the nvidia-cuda-runtime wheel, else a CUDA toolkit; None if neither."""
    dirs: list[Path] = []
    spec = importlib.util.find_spec("nvidia")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        dirs += [Path(loc) / "cu13" / "include", Path(loc) / "cuda_runtime" / "include"]
    for env in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(env):
            dirs.append(Path(os.environ[env]) / "include")
    dirs.append(Path("/usr/local/cuda/include"))
    return next((d / "cuda_occupancy.h" for d in dirs if (d / "cuda_occupancy.h").is_file()), None)


def compiler() -> str | None:
    """A C++ compiler: ``$CXX`` (empty or missing means none), else g++ or c++ on PATH."""
    if "CXX" in os.environ:
        cxx = os.environ["CXX"]
        return shutil.which(cxx) if cxx else None
    return shutil.which("g++") or shutil.which("c++")


def missing() -> str | None:
    """Why the shim cannot be built here (None when it can)."""
    if header() is None:
        return "cuda_occupancy.h not found (pip install nvidia-cuda-runtime, the dev extra has it)"
    if compiler() is None:
        return "no C++ compiler (g++/c++ or $CXX)"
    return None


def build(source: str = SOURCE, name: str = "occ_shim") -> Path:
    """Compile ``source`` against the header once (cached by content in the temp folder); the executable."""
    h, cxx = header(), compiler()
    if h is None or cxx is None:
        raise RuntimeError(missing())
    tag = hashlib.sha256(source.encode() + h.read_bytes() + cxx.encode()).hexdigest()[:16]
    exe = Path(tempfile.gettempdir()) / f"sass_lab_{name}_{tag}"
    if exe.exists():
        return exe
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / f"{name}.cpp"
        src.write_text(source)
        tmp = Path(d) / name
        proc = subprocess.run([cxx, "-O1", "-w", f"-I{h.parent}", str(src), "-o", str(tmp)],
                              capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"cannot build the occupancy shim: {proc.stderr[-400:]}")
        part = exe.with_name(exe.name + f".{os.getpid()}")
        shutil.copy2(tmp, part)
        os.replace(part, exe)
    return exe


def query(dev: Device, items: list[tuple[Func, int, int]]) -> list[tuple[int, int, int]]:
    """(error, blocks per SM, limiting-factor bits) for each (function, threads, dynamic shared)."""
    lines = [f"{dev.cc[0]} {dev.cc[1]} {dev.max_threads_per_sm} {dev.regs_per_sm} {dev.shared_per_sm} "
             f"{dev.shared_per_block} {dev.shared_per_block_optin} {dev.reserved_per_block} "
             f"{f.max_threads} {f.registers} {f.shared_static} {f.max_dynamic} {f.barriers} {int(f.optin)} "
             f"{threads} {dyn}" for f, threads, dyn in items]
    out = subprocess.run([str(build())], input="\n".join(lines) + "\n", capture_output=True, text=True,
                         check=True, timeout=60).stdout.split("\n")
    res = [tuple(int(x) for x in ln.split()) for ln in out if ln.strip()]
    if len(res) != len(items):
        raise RuntimeError(f"occupancy shim answered {len(res)} of {len(items)} queries")
    return res  # type: ignore[return-value]
