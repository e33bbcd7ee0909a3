"""nvcc's own sm_90a PTX of Hopper kernels (tests/emulator/hopper/hopper_kernels.cu: libcu++ cuda::ptx
TMA/mbarrier/fence wrappers, inline-PTX wgmma, setmaxnreg, elect.sync, stmatrix, griddepcontrol,
cooperative-groups clusters) on the emulator against numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sass_lab.emulator import EmulatorCheckError, TensorMap, emulate

PTX = (Path(__file__).parent / "hopper" / "hopper_kernels.sm_90a.ptx").read_text()
NAMES = {n: next(line.split()[2].rstrip("(") for line in PTX.splitlines() if line.startswith(".visible .entry")
                 and n in line) for n in ("tile_gemm", "cluster_sum", "ws_scale")}


def bf16(x):
    b = np.asarray(x, np.float32).view(np.uint32)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)


def f32(bits):
    return (np.asarray(bits).astype(np.uint32) << 16).view(np.float32)


@pytest.mark.parametrize("M,N,K", [(64, 64, 64), (100, 72, 136)])
def test_nvcc_tile_gemm_tma_wgmma(M, N, K):
    rng = np.random.default_rng(M)
    ld = -(-K // 8) * 8
    A = np.zeros((M, ld), np.uint16)
    A[:, :K] = bf16(rng.uniform(-1, 1, (M, K)))
    B = np.zeros((N, ld), np.uint16)
    B[:, :K] = bf16(rng.uniform(-1, 1, (N, K)))
    mA = TensorMap(A, "bfloat16", (K, M), (2 * ld,), (64, 64), swizzle="128B")
    mB = TensorMap(B, "bfloat16", (K, N), (2 * ld,), (64, 64), swizzle="128B")
    C = np.full((M, N), np.nan, np.float32)
    emulate(PTX, NAMES["tile_gemm"], (-(-N // 64), -(-M // 64)), 128, [mA, mB, C, np.int32(M), np.int32(N),
                                                                        np.int32(K)])
    a, b = f32(A[:, :K]).astype(np.float64), f32(B[:, :K]).astype(np.float64)
    want = a @ b.T
    scale = np.abs(a) @ np.abs(b).T
    assert np.all(np.abs(C - want) <= 1.01 * K * 2.0 ** -24 * scale + 1e-30)


def test_nvcc_cluster_multicast_dsmem_and_tma_reduce():
    rng = np.random.default_rng(7)
    boxes = 3
    X = rng.standard_normal((32 * boxes, 32)).astype(np.float32)
    Y = rng.standard_normal((32 * boxes, 32)).astype(np.float32)
    Y0 = Y.copy()
    mX = TensorMap(X, "float32", (32, 32 * boxes), (128,), (32, 32))
    mY = TensorMap(Y, "float32", (32, 32 * boxes), (128,), (32, 32))
    out = np.zeros(2 * boxes, np.float32)
    emulate(PTX, NAMES["cluster_sum"], 2 * boxes, 128, [mX, mY, out])  # .reqnctapercluster 2 from the PTX
    sums = X.reshape(boxes, 32 * 32).astype(np.float64).sum(1)
    np.testing.assert_allclose(out.reshape(boxes, 2), np.repeat(sums[:, None], 2, 1), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(Y, Y0 + X)


@pytest.mark.parametrize("tiles", [1, 5])
def test_nvcc_warp_specialised_setmaxnreg_elect_stmatrix(tiles):
    rng = np.random.default_rng(tiles)
    x = rng.uniform(0.5, 4, (64 * tiles, 64)) * rng.choice([-1, 1], (64 * tiles, 64))
    In = bf16(x)
    Out = np.zeros_like(In)
    mI = TensorMap(In, "bfloat16", (64, 64 * tiles), (128,), (64, 64))
    mO = TensorMap(Out, "bfloat16", (64, 64 * tiles), (128,), (64, 64))
    emulate(PTX, NAMES["ws_scale"], 1, 256, [mI, mO, np.int32(tiles)])
    np.testing.assert_array_equal(f32(Out), 2 * f32(In))


GUIDE = (Path(__file__).parent / "hopper" / "tma_guide.sm_90a.ptx").read_text()
GUIDE_K = next(line.split()[2].rstrip("(") for line in GUIDE.splitlines() if line.startswith(".visible .entry"))


def test_nvcc_programming_guide_tma_round_trip():
    """cuda::barrier + cde::cp_async_bulk_tensor_2d_* (the Programming Guide's TMA pattern): every block
    adds one to its 32x32 tile of a 70x100 tensor; the ragged edge tiles load zeros outside it and
    their stores are clipped to it. Without the fence before the TMA store it is a finding."""
    rng = np.random.default_rng(5)
    g = rng.integers(-1000, 1000, (70, 100), dtype=np.int32)
    g0 = g.copy()
    grid = (-(-100 // 32), -(-70 // 32))
    emulate(GUIDE, GUIDE_K, grid, 128, [TensorMap(g, "int32", (100, 70), (400,), (32, 32))])
    np.testing.assert_array_equal(g, g0 + 1)
    fence = "fence.proxy.async.shared::cta;"
    assert GUIDE.count(fence) == 2
    cut = GUIDE[::-1].replace(fence[::-1], "", 1)[::-1]  # the fence before the store
    with pytest.raises(EmulatorCheckError) as e:
        emulate(cut, GUIDE_K, grid, 128, [TensorMap(g, "int32", (100, 70), (400,), (32, 32))])
    assert any(f.kind == "fence-proxy-async" and "TMA store" in f.message for f in e.value.findings)
