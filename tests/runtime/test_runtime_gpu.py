"""On the GPU: shipped kernels correct, timing sane, occupancy model equal to the driver's (skipped without one)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sass_lab.paths import KERNELS

pytestmark = pytest.mark.gpu

CORRECT = ["saxpy.sasm", "reduce.sasm", "sgemm_tiled.sasm"]
SHIPPED = sorted(p.name for p in KERNELS.glob("*.sasm"))
BLOCKS = (32, 64, 96, 128, 160, 192, 256, 320, 384, 512, 640, 768, 1024)


def _sizes(name: str) -> list[dict]:
    """TEST_SIZES only: the benchmark verifies every kernel at SIZE before timing it (tools/bench_all.py),
    and the kernels' own GPU tests check sizes of that order, so the float64 reference at SIZE is paid once."""
    from sass_lab.lab.spec import load_spec

    return [dict(s) for s in load_spec(KERNELS / name).test_sizes]


@pytest.mark.parametrize("name, size", [(n, s) for n in CORRECT for s in _sizes(n)],
                         ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={x}" for k, x in v.items()))
def test_shipped_kernel_correct_on_gpu(name, size):
    from sass_lab.lab.verify import verify

    r = verify(KERNELS / name, size, emulate=False, seed=1234)
    assert r.ok, [c.to_dict() for c in r.checks]


@pytest.mark.parametrize("name", ["peak_ffma.sasm", "peak_copy.sasm"])
def test_peak_kernels_correct_on_gpu(name):
    from sass_lab.lab.verify import verify_sizes

    assert all(r.ok for r in verify_sizes(KERNELS / name, emulate=False, seed=7))


def test_the_arch_table_matches_the_chip():
    """hw.arch's per-block and per-SM limits (the default 48 KB, the opt-in, shared per SM, registers,
    threads, blocks) are what the driver reports: the runtime reads the chip, the models read the table."""
    import sass_lab.runtime as rt
    from sass_lab.hw.arch import arch_info
    from sass_lab.runtime.driver import driver

    ctx = rt.context()
    info, a = ctx.info, arch_info(ctx.info.arch)
    drv = driver()

    def attr(name: str) -> int:
        return int(drv.cuDeviceGetAttribute(getattr(drv.CUdevice_attribute, name), ctx.device)[1])

    assert info.shared_per_block == a.default_shared_per_block
    assert info.shared_per_block_optin == a.max_shared_per_block
    assert attr("CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR") == a.shared_per_sm
    assert attr("CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK") == a.reserved_shared_per_block
    assert attr("CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR") == a.regs_per_sm
    assert attr("CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR") == a.max_threads_per_sm
    assert attr("CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR") == a.max_blocks_per_sm


def test_launch_with_numpy_copies_back():
    import sass_lab as sl

    k = sl.assemble_file(KERNELS / "saxpy.sasm")["saxpy"]
    n = 5000
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    y = np.ones(n, np.float32)
    k.launch((-(-n // 1024), 1, 1), (256, 1, 1), y, x, np.float32(2.0), np.uint32(n))
    np.testing.assert_allclose(y, 2 * x + 1, rtol=1e-6)


def test_struct_parameter_with_a_pointer_member_as_in_the_emulator():
    """The corpus kernel ``affine`` takes a struct with a pointer member: the same dict on the GPU."""
    import sass_lab as sl

    ptx = (Path(__file__).parents[1] / "emulator" / "corpus" / "numerics.sm_90.ptx").read_text()
    k = sl.assemble(ptx, "sm_90", file="numerics.sm_90.ptx")["affine"]
    n, block = 300, 128
    src = np.random.default_rng(3).standard_normal(n).astype(np.float32)
    out = np.full(n, np.nan, np.float32)
    offsets = np.array([3, -2, 7], np.int16)
    params = {0: np.float32(1.5), 4: np.int32(n), 8: np.float64(0.25), 16: offsets[0], 18: offsets[1],
              20: offsets[2], 24: src}
    k.launch((3, 1, 1), (block, 1, 1), params, {0: np.int8(-3), 4: np.float32(0.5)}, out, dynamic_shared=block * 4)
    i = np.arange(n)
    j = i // block * block + block - 1 - i % block
    tile = np.where(j < n, src[np.minimum(j, n - 1)], 0).astype(np.float64)
    np.testing.assert_allclose(out, tile * 1.5 + 0.25 + offsets[i % 3] - 1.5, rtol=1e-6, atol=1e-6)


def test_device_arrays_from_torch_or_cupy_pass_without_copy():
    import sass_lab as sl

    lib = next((m for m in ("torch", "cupy") if importlib.util.find_spec(m)), None)
    if lib is None:
        pytest.skip("neither torch nor cupy is installed")
    k = sl.assemble_file(KERNELS / "saxpy.sasm")["saxpy"]
    n = 4096
    if lib == "torch":
        import torch

        x = torch.arange(n, dtype=torch.float32, device="cuda")
        y = torch.ones(n, dtype=torch.float32, device="cuda")
        k.launch((n // 1024, 1, 1), (256, 1, 1), y, x, 3.0, n)
        got = y.cpu().numpy()
    else:
        import cupy

        x = cupy.arange(n, dtype=cupy.float32)
        y = cupy.ones(n, dtype=cupy.float32)
        k.launch((n // 1024, 1, 1), (256, 1, 1), y, x, 3.0, n)
        got = cupy.asnumpy(y)
    np.testing.assert_allclose(got, 3 * np.arange(n) + 1)


@pytest.mark.timing
def test_twice_the_work_takes_about_twice_the_time():
    from sass_lab.lab.bench import BenchConfig, time_spec

    cfg = BenchConfig(rep_ms=200, verify=False)
    t1 = time_spec(KERNELS / "saxpy.sasm", {"n": 1 << 25}, cfg=cfg, peaks=False).stats.median
    t2 = time_spec(KERNELS / "saxpy.sasm", {"n": 1 << 26}, cfg=cfg, peaks=False).stats.median
    assert 1.5 <= t2 / t1 <= 2.6, (t1, t2)


@pytest.mark.timing
def test_graph_replay_times_like_launches():
    from sass_lab.lab.bench import BenchConfig, time_spec

    base = BenchConfig(rep_ms=100)
    eager = time_spec(KERNELS / "saxpy.sasm", {"n": 1 << 24}, cfg=base, peaks=False)
    graph = time_spec(KERNELS / "saxpy.sasm", {"n": 1 << 24}, cfg=BenchConfig(rep_ms=100, graph=True),
                      peaks=False)
    assert graph.timing.graph and 0.5 <= graph.stats.median / eager.stats.median <= 2.0


@pytest.mark.timing
def test_sgemm_against_cublas_reports_a_ratio():
    from sass_lab.lab.bench import BenchConfig, time_spec

    if not (importlib.util.find_spec("torch") or importlib.util.find_spec("cupy")):
        pytest.skip("no peer library")
    r = time_spec(KERNELS / "sgemm_tiled.sasm", {"M": 1024, "N": 1024, "K": 1024}, cfg=BenchConfig(rep_ms=50),
                  vs="cublas", peaks=False)
    assert r.peer is not None and r.ratio is not None and 0.005 < r.ratio < 5


@pytest.mark.timing
def test_measured_peaks_are_plausible(tmp_path, monkeypatch):
    import sass_lab.runtime as rt
    from sass_lab.hw import peaks as pk
    from sass_lab.lab import bench as lb

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    info = rt.context().info
    p = lb.measured(info, refresh=True)
    sheet = pk.datasheet_for(info)
    assert 0.3 * sheet.fp32_flops < p.fp32_flops < 1.3 * sheet.fp32_flops, p
    assert 0.3 * sheet.bandwidth < p.bandwidth < 1.1 * sheet.bandwidth, p
    assert pk.load_cached(pk.device_key(info)) == p


def _occupancy_cases() -> list[tuple[str, str, int]]:
    import sass_lab as sl

    cases = []
    for name in SHIPPED:
        mod = sl.assemble_file(KERNELS / name)
        for k in mod:
            res = k.resources
            if res.reqntid:
                blocks = [int(np.prod(res.reqntid))]
            else:
                blocks = [b for b in BLOCKS if b <= res.max_threads]
            cases += [(name, k.name, b) for b in blocks]
    return cases


def test_occupancy_model_matches_driver():
    """Kernel.occupancy(block) == cuOccupancyMaxActiveBlocksPerMultiprocessor, every shipped kernel."""
    import sass_lab as sl
    import sass_lab.runtime as rt

    bad = []
    mods: dict[str, object] = {}
    for name, kname, block in _occupancy_cases():
        mod = mods.setdefault(name, sl.assemble_file(KERNELS / name))
        k = mod[kname]
        model = k.occupancy(block).blocks_per_sm
        driver = rt.max_active_blocks(k, block)
        if model != driver:
            bad.append(f"{Path(name).stem}:{kname} block={block} regs={k.resources.registers} "
                       f"smem={k.resources.shared_static}: model {model}, driver {driver}")
    assert not bad, "\n".join(bad)


def test_fp32_peers_do_full_fp32_arithmetic():
    """With the harness's switches, cuBLAS/cuDNN FP32 errors are FP32-sized (TF32 would be ~1e-3)."""
    torch = pytest.importorskip("torch")
    from sass_lab.lab.peers import fp32_strict

    fp32_strict(torch)
    rng = np.random.default_rng(3)
    a = rng.standard_normal((512, 1024)).astype(np.float32)
    b = rng.standard_normal((1024, 384)).astype(np.float32)
    got = torch.matmul(torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()).cpu().numpy()
    ref = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    assert np.max(np.abs(got - ref) / scale) < 1e-5
    x = rng.standard_normal((2, 64, 20, 20)).astype(np.float32)
    w = rng.standard_normal((32, 64, 3, 3)).astype(np.float32)
    f = torch.nn.functional.conv2d
    got = f(torch.from_numpy(x).cuda(), torch.from_numpy(w).cuda(), padding=1).cpu().numpy()
    ref = f(torch.from_numpy(x).double(), torch.from_numpy(w).double(), padding=1).numpy()
    sc = f(torch.from_numpy(np.abs(x)).double(), torch.from_numpy(np.abs(w)).double(), padding=1).numpy()
    assert np.max(np.abs(got - ref) / sc) < 1e-5
