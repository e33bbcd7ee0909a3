"""The occupancy model against the CUDA toolkit's own calculator header (no GPU needed).

A tiny C++ program includes ``cuda_occupancy.h`` (host-only, shipped with the toolkit), fills its
device properties from ``hw.arch`` and prints ``cudaOccMaxActiveBlocksPerMultiprocessor`` for a grid
of queries; the header's internal tables (block caps, allocation units, sub-partitions, barrier
rule) then check the model's arithmetic independently.
"""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import numpy as np
import occupancy_header as oh
import pytest

from sass_lab.hw.arch import ARCHS, arch_info
from sass_lab.hw.occupancy import limits, occupancy
from sass_lab.paths import KERNELS

HEADER = oh.header()  # the nvidia-cuda-runtime wheel's include folder first, else a CUDA toolkit's
CXX = oh.compiler()

pytestmark = pytest.mark.skipif(oh.missing() is not None, reason=f"occupancy oracle: {oh.missing()}")

ORACLE = r"""
#include <cstdio>
#include <cuda_occupancy.h>
int main() {
    int major, minor, maxThreadsSM, threads, regs, barriers, optin;
    long smemSM, smemOptin, reserved, smem;
    while (scanf("%d %d %d %ld %ld %ld %d %d %ld %d %d", &major, &minor, &maxThreadsSM, &smemSM,
                 &smemOptin, &reserved, &threads, &regs, &smem, &barriers, &optin) == 11) {
        cudaOccDeviceProp p;
        p.computeMajor = major; p.computeMinor = minor; p.maxThreadsPerBlock = 1024;
        p.maxThreadsPerMultiprocessor = maxThreadsSM; p.regsPerBlock = 65536;
        p.regsPerMultiprocessor = 65536; p.warpSize = 32; p.sharedMemPerBlock = 48 * 1024;
        p.sharedMemPerMultiprocessor = smemSM; p.numSms = 1;
        p.sharedMemPerBlockOptin = smemOptin; p.reservedSharedMemPerBlock = reserved;
        cudaOccFuncAttributes a;
        a.maxThreadsPerBlock = 1024; a.numRegs = regs; a.sharedSizeBytes = 0;
        a.shmemLimitConfig = optin ? FUNC_SHMEM_LIMIT_OPTIN : FUNC_SHMEM_LIMIT_DEFAULT;
        a.maxDynamicSharedSizeBytes = optin ? smemOptin : 48 * 1024;
        a.numBlockBarriers = barriers;
        cudaOccDeviceState s;
        cudaOccResult r;
        cudaOccError e = cudaOccMaxActiveBlocksPerMultiprocessor(&r, &p, &a, &s, threads, smem);
        printf("%d %d %u\n", (int)e, r.activeBlocksPerMultiprocessor, r.limitingFactors);
    }
    return 0;
}
"""

BLOCK_ORACLE = r"""
#include <cstdio>
#include <cuda_occupancy.h>
int main() {
    int major, minor, maxThreadsSM, regs, barriers, maxThreads;
    long smemSM, smemOptin, reserved, staticSmem, dyn;
    while (scanf("%d %d %d %ld %ld %ld %d %ld %ld %d %d", &major, &minor, &maxThreadsSM, &smemSM,
                 &smemOptin, &reserved, &regs, &staticSmem, &dyn, &barriers, &maxThreads) == 11) {
        cudaOccDeviceProp p;
        p.computeMajor = major; p.computeMinor = minor; p.maxThreadsPerBlock = 1024;
        p.maxThreadsPerMultiprocessor = maxThreadsSM; p.regsPerBlock = 65536;
        p.regsPerMultiprocessor = 65536; p.warpSize = 32; p.sharedMemPerBlock = 48 * 1024;
        p.sharedMemPerMultiprocessor = smemSM; p.numSms = 1;
        p.sharedMemPerBlockOptin = smemOptin; p.reservedSharedMemPerBlock = reserved;
        cudaOccFuncAttributes a;
        a.maxThreadsPerBlock = maxThreads; a.numRegs = regs; a.sharedSizeBytes = staticSmem;
        a.shmemLimitConfig = FUNC_SHMEM_LIMIT_OPTIN; a.maxDynamicSharedSizeBytes = smemOptin;
        a.numBlockBarriers = barriers;
        cudaOccDeviceState s;
        int grid = 0, block = 0;
        cudaOccError e = cudaOccMaxPotentialOccupancyBlockSize(&grid, &block, &p, &a, &s, 0, dyn);
        printf("%d %d %d\n", (int)e, grid, block);
    }
    return 0;
}
"""

BITS = {"warps": 1, "registers": 2, "shared": 4, "blocks": 8, "barriers": 16}


def _build(d: Path, source: str, name: str) -> Path:
    (d / f"{name}.cpp").write_text(source)
    exe = d / name
    proc = subprocess.run([CXX, "-O1", "-w", f"-I{HEADER.parent}", str(d / f"{name}.cpp"), "-o", str(exe)],
                          capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"cannot build the oracle: {proc.stderr[-300:]}")
    return exe


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    exe = _build(tmp_path_factory.mktemp("occ"), ORACLE, "oracle")

    def run(queries):
        lines = []
        for arch, threads, regs, smem, bars, optin in queries:
            a = arch_info(arch)
            lines.append(f"{a.capability[0]} {a.capability[1]} {a.max_threads_per_sm} {a.shared_per_sm} "
                         f"{a.max_shared_per_block} {a.reserved_shared_per_block} {threads} {regs} {smem} "
                         f"{bars} {int(optin)}")
        out = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                             check=True).stdout.split("\n")
        return [tuple(int(x) for x in ln.split()) for ln in out if ln.strip()]

    return run


THREADS = (32, 64, 96, 128, 160, 256, 288, 384, 512, 640, 768, 1024)
REGS = (1, 16, 24, 32, 40, 48, 64, 72, 96, 128, 168, 200, 232, 255)
SMEM = (0, 1, 1000, 8 * 1024, 20 * 1024, 47 * 1024, 60 * 1024, 99 * 1024, 160 * 1024, 227 * 1024)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_matches_cuda_occupancy_header(oracle, arch):
    queries = [(arch, t, r, s, b, True)
               for t, r, s, b in itertools.product(THREADS, REGS, SMEM, (0, 1, 5))]
    queries += [(arch, t, 32, s, 0, False) for t, s in itertools.product((64, 256), SMEM)]
    results = oracle(queries)
    bad = []
    for q, (err, blocks, factors) in zip(queries, results, strict=True):
        _, t, r, s, b, optin = q
        occ = occupancy(arch, t, r, s, barriers=b, opt_in=optin)
        if err:  # the header refuses the query: the model must say "cannot run"
            if occ.blocks_per_sm:
                bad.append((q, "header error", err))
            continue
        if occ.blocks_per_sm != blocks:
            bad.append((q, occ.blocks_per_sm, blocks))
        elif blocks:
            mine = sum(BITS[f] for f in occ.limiters if f in BITS)
            if factors & BITS["barriers"]:
                # the header keeps the factors of the pre-barrier minimum and ORs in "barriers";
                # the model names only the factors that reach the final minimum
                factors = mine if "barriers" in occ.limiters else -1
            if mine != factors & 0x1F:
                bad.append((q, occ.limiters, factors, limits(arch, t, r, s, barriers=b, opt_in=optin)))
    assert not bad, f"{len(bad)} of {len(queries)} differ, e.g. {bad[:5]}"


@pytest.fixture(scope="module")
def block_oracle(tmp_path_factory):
    exe = _build(tmp_path_factory.mktemp("occbs"), BLOCK_ORACLE, "block_oracle")

    def run(queries):
        lines = []
        for arch, regs, static, dyn, bars, max_threads in queries:
            a = arch_info(arch)
            lines.append(f"{a.capability[0]} {a.capability[1]} {a.max_threads_per_sm} {a.shared_per_sm} "
                         f"{a.max_shared_per_block} {a.reserved_shared_per_block} {regs} {static} {dyn} "
                         f"{bars} {max_threads}")
        out = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                             check=True).stdout.split("\n")
        return [tuple(int(x) for x in ln.split()) for ln in out if ln.strip()]

    return run


@pytest.mark.parametrize("arch", list(ARCHS))
def test_block_size_suggestion_matches_header(block_oracle, arch):
    from sass_lab.hw.occupancy import max_potential_block_size

    queries = [(arch, r, st, dy, b, mt)
               for r, st, dy, b, mt in itertools.product((16, 32, 40, 64, 96, 128, 200, 255), (0, 8192),
                                                         (0, 20 * 1024), (0, 3), (1024, 200))]
    bad = []
    for q, (err, grid, block) in zip(queries, block_oracle(queries), strict=True):
        _, r, st, dy, b, mt = q
        got = max_potential_block_size(arch, r, st, dy, max_threads=mt, barriers=b)
        if err == 0 and (got.block, got.min_grid) != (block, grid):
            bad.append((q, (got.block, got.min_grid), (block, grid)))
    assert not bad, bad[:5]


# ------------------------------------------------------------------ every shipped kernel, four chips

SHIPPED_ARCHS = ("sm_80", "sm_86", "sm_89", "sm_90")
HOPPER_ONLY = {"gemm_bf16"}  # TMA, wgmma, clusters, setmaxnreg: compiled for sm_90 only
SWEEP_BLOCKS = (32, 64, 96, 128, 192, 256, 288, 384, 512, 640, 768, 1024)
SWEEP_DYNAMIC = (0, 1, 4 * 1024, 20 * 1024, 40 * 1024, 64 * 1024, 100 * 1024)


def _device(arch: str) -> oh.Device:
    a = arch_info(arch)
    return oh.Device(a.capability, a.max_threads_per_sm, a.regs_per_sm, a.shared_per_sm, 48 * 1024,
                     a.max_shared_per_block, a.reserved_shared_per_block)


@pytest.mark.parametrize("arch", SHIPPED_ARCHS)
def test_every_shipped_kernel_matches_the_header(arch):
    """Kernel.occupancy(block, dynamic) == cudaOccMaxActiveBlocksPerMultiprocessor for each shipped kernel
    compiled for ``arch`` (its registers, static shared memory, barriers and thread limit), over block sizes
    and dynamic shared sizes (opted in up to the chip's limit)."""
    import sass_lab as sl

    dev, a = _device(arch), arch_info(arch)
    items, cases = [], []
    for path in sorted(KERNELS.glob("*.sasm")):
        if path.stem in HOPPER_ONLY and arch != "sm_90":
            continue
        for k in sl.assemble_file(path, arch):
            r = k.resources
            blocks = [int(np.prod(r.reqntid))] if r.reqntid else [b for b in SWEEP_BLOCKS if b <= r.max_threads]
            f = oh.Func(r.max_threads, r.registers, r.shared_static,
                        max(0, a.max_shared_per_block - r.shared_static), r.barriers)
            for b, dyn in itertools.product(blocks, SWEEP_DYNAMIC):
                if r.shared_static + dyn <= a.max_shared_per_block:
                    items.append((f, b, dyn))
                    cases.append((path.stem, k, b, dyn))
    assert len({c[1].name for c in cases}) >= 9
    bad = []
    for (stem, k, b, dyn), (err, blocks, _) in zip(cases, oh.query(dev, items), strict=True):
        model = k.occupancy(b, dyn).blocks_per_sm
        if (0 if err else blocks) != model:
            bad.append(f"{stem}:{k.name} block={b} dyn={dyn} regs={k.resources.registers} "
                       f"static={k.resources.shared_static}: model {model}, header {blocks} (err {err})")
    assert not bad, f"{len(bad)} of {len(cases)} differ:\n" + "\n".join(bad[:10])


@pytest.mark.parametrize("arch", SHIPPED_ARCHS)
def test_register_and_shared_sweep_matches_the_header(arch):
    """A synthetic sweep of function attributes through the same shim (registers × static shared ×
    dynamic shared × block sizes)."""
    dev, a = _device(arch), arch_info(arch)
    items, qs = [], []
    for regs, static, dyn, t in itertools.product((16, 32, 48, 64, 80, 128, 168, 255), (0, 3000, 16 * 1024),
                                                  (0, 8 * 1024, 30 * 1024, 90 * 1024), (64, 128, 256, 512, 1024)):
        if static + dyn > a.max_shared_per_block:
            continue
        items.append((oh.Func(1024, regs, static, a.max_shared_per_block - static, 1), t, dyn))
        qs.append((regs, static, dyn, t))
    bad = [(q, occ, blocks) for q, (err, blocks, _) in zip(qs, oh.query(dev, items), strict=True)
           if (occ := occupancy(arch, q[3], q[0], q[1] + q[2], barriers=1).blocks_per_sm) != (0 if err else blocks)]
    assert not bad, bad[:5]


def test_oracle_skips_cleanly_without_a_compiler(monkeypatch):
    monkeypatch.setenv("CXX", "")
    assert oh.compiler() is None and "compiler" in oh.missing()
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    assert oh.missing() is not None
